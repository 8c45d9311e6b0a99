//! Members blocks (DESIGN §3, `{% members(…) %}…{% else %}…{% end %}`) in a real headless
//! Chromium, on the real `gatehouse serve` of a small site of their own
//! (tests/fixtures/browser_blocks/): a public post with three blocks (gold; the toolkit bundle;
//! silver with a 3-day drip), each with an `else` part, and a silver lesson holding a gold
//! block. What each reader sees of each block, that one `POST /_gate/keys` serves the three
//! blocks of a page, that a block inside an opened lesson opens (or says why not) afterwards,
//! and the `gatehouse:unlocked` / `gatehouse:locked` events with the blocks' `#n` paths.
//!
//! Screenshots go to `target/browser-artifacts/blocks-*.png`. Without Chromium and
//! chromedriver the tests skip loudly; under `CI=true` they fail instead.
//!
//! Run: `cargo test --test browser_blocks -- --test-threads=1`

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::Site;
use common::browser::{Browser, scenario_on};
use common::serve::Serve;
use serde_json::{Value, json};

/// The public post with three members blocks (content/blog/three-tiers.md).
const POST: &str = "/blog/three-tiers/";
/// The silver lesson with a gold block (content/course/lesson-1.md).
const LESSON: &str = "/course/lesson-1/";

/// Text of the post that everyone reads.
const PUBLIC: [&str; 3] = [
    "Public opening: every reader sees this paragraph about pricing pages.",
    "Public middle: this paragraph sits between the first and second blocks.",
    "Public closing: thanks for reading to the end.",
];
/// Each block of the post: (n, the text only its envelope holds, its public `else` part).
const BLOCKS: [(u32, &str, &str); 3] = [
    (
        1,
        "Gold block secret: the anchor tier exists to sell the middle one.",
        "Gold members read how the anchor tier works. Upgrade to Gold to read it.",
    ),
    (
        2,
        "Toolkit block secret: download the tier calculator from the toolkit page.",
        "The tier calculator comes with the Pricing Toolkit.",
    ),
    (
        3,
        "Silver drip block secret: raise prices for new customers first.",
        "Silver members read this three days after joining.",
    ),
];
/// The lesson's body (sealed for silver), its gold block, and that block's `else` part.
const LESSON_BODY: &str = "Silver lesson body: write to existing customers a month ahead.";
const LESSON_TEASER: &str = "Public teaser of lesson one: how to raise prices.";
const LESSON_GOLD: &str = "Gold part of the lesson: grandfather annual plans for one renewal.";
const LESSON_ELSE: &str = "Gold members get the grandfathering playbook here.";

/// Runs `body` on a fresh copy of the fixture site, with the page instrumented (see
/// [`INSTRUMENT`]) from the first page load on.
fn blocks_scenario<F>(name: &str, body: F)
where
    F: AsyncFnOnce(&Browser, &Serve),
{
    scenario_on(
        &format!("blocks-{name}"),
        || Site::fixture("browser_blocks"),
        async |browser, serve| {
            browser
                .cdp(
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({ "source": INSTRUMENT }),
                )
                .await;
            body(browser, serve).await;
        },
    );
}

/// Runs in every document before its own scripts (gate.js included): records each request
/// to `/_gate/keys` (method and rules) as gate.js makes it, and every `gatehouse:unlocked` and
/// `gatehouse:locked` event with its detail.
const INSTRUMENT: &str = r#"
(() => {
  window.__keysPosts = [];
  window.__gateEvents = [];
  const original = window.fetch;
  window.fetch = function (input, init) {
    try {
      const url = new URL(typeof input === "string" ? input : input.url, location.href);
      if (url.pathname === "/_gate/keys") {
        const body = init && typeof init.body === "string" ? JSON.parse(init.body) : null;
        window.__keysPosts.push({
          method: (init && init.method) || "GET",
          rules: body && body.rules,
        });
      }
    } catch (e) { /* not ours to break */ }
    return original.apply(this, arguments);
  };
  for (const type of ["gatehouse:unlocked", "gatehouse:locked"]) {
    document.addEventListener(type, (e) => {
      window.__gateEvents.push(Object.assign({ type }, e.detail));
    }, true);
  }
})();
"#;

/// The slot of block `n` of the page at `page`.
fn block(page: &str, n: u32) -> String {
    format!(".gh-gate.gh-block[data-path=\"{page}#{n}\"]")
}

/// The slot of the gated page at `page`.
fn page_slot(page: &str) -> String {
    format!(".gh-gate[data-gate][data-path=\"{page}\"]")
}

/// Logs the browser in as a demo member with their one-click link, landing on `next`. What an
/// earlier member's visit left in this tab's key cache is forgotten first.
async fn log_in_as(browser: &Browser, serve: &Serve, email: &str, next: &str) {
    browser
        .js(
            "try { sessionStorage.clear(); } catch (e) { /* not a page of the site yet */ }",
            vec![],
        )
        .await;
    browser.goto(&serve.login_link(email, next)).await;
    assert_eq!(
        browser.current_path().await,
        next,
        "the one-click login of {email} did not land on {next}"
    );
}

/// Waits until every slot on the page has settled (a state, and not `loading`) and there are
/// `count` of them; returns data-path → data-gate-state.
async fn settled(browser: &Browser, count: usize) -> BTreeMap<String, String> {
    let states = browser
        .wait_until(
            &format!("{count} slots to settle"),
            "return Array.from(document.querySelectorAll('.gh-gate[data-gate]'),
               (s) => [s.dataset.path, s.getAttribute('data-gate-state')]);",
            vec![],
            |v| {
                let list = v.as_array().cloned().unwrap_or_default();
                list.len() == count
                    && list.iter().all(|pair| {
                        pair[1]
                            .as_str()
                            .is_some_and(|state| !state.is_empty() && state != "loading")
                    })
            },
        )
        .await;
    states
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The post's three blocks' states, in order.
async fn post_states(browser: &Browser) -> Vec<String> {
    let states = settled(browser, 3).await;
    BLOCKS
        .iter()
        .map(|(n, _, _)| {
            states
                .get(&format!("{POST}#{n}"))
                .cloned()
                .unwrap_or_else(|| panic!("no slot for block {n}: {states:?}"))
        })
        .collect()
}

/// `needle` is nowhere: not in the HTML the server sends for `page`, not in the DOM.
async fn assert_absent(browser: &Browser, serve: &Serve, page: &str, needle: &str) {
    let served = serve.fetch_html(page).await;
    assert!(
        !served.contains(needle),
        "the served HTML of {page} holds {needle:?}"
    );
    let dom = browser.dom().await;
    assert!(!dom.contains(needle), "the page's DOM holds {needle:?}");
}

/// How many requests went to `/_gate/keys` since this document loaded: (as gate.js made them,
/// as the browser's resource timing saw them).
async fn keys_requests(browser: &Browser) -> (Vec<Value>, usize) {
    let posts = browser.js("return window.__keysPosts;", vec![]).await;
    let timed = browser
        .js(
            "return performance.getEntriesByType('resource')
               .filter((e) => new URL(e.name).pathname === '/_gate/keys').length;",
            vec![],
        )
        .await;
    (
        posts.as_array().cloned().unwrap_or_default(),
        usize::try_from(timed.as_u64().unwrap()).unwrap(),
    )
}

/// The `gatehouse:*` events this document heard so far.
async fn events(browser: &Browser) -> Vec<Value> {
    let list = browser.js("return window.__gateEvents;", vec![]).await;
    list.as_array().cloned().unwrap_or_default()
}

/// The slot's `data-gate` and `data-rule`.
async fn gate_and_rule(browser: &Browser, css: &str) -> (String, String) {
    let both = browser
        .js(
            "const s = document.querySelector(arguments[0]); return [s.dataset.gate, s.dataset.rule];",
            vec![json!(css)],
        )
        .await;
    (
        both[0].as_str().unwrap().to_owned(),
        both[1].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_visitor_sees_public_text_else_parts_and_a_login_link_per_block() {
    blocks_scenario("1-visitor", async |browser, serve| {
        browser.goto(&serve.at(POST)).await;
        assert_eq!(post_states(browser).await, ["login", "login", "login"]);

        let shown = browser.body_text().await;
        for text in PUBLIC {
            assert!(shown.contains(text), "the post lacks public {text:?}");
        }
        let next = "/account/?next=%2Fblog%2Fthree-tiers%2F";
        for (n, secret, public) in BLOCKS {
            let slot = block(POST, n);
            let text = browser.text(&slot).await;
            assert!(
                text.contains(public),
                "block {n} lacks its else part: {text}"
            );
            assert!(
                text.contains("Log in to read this part."),
                "block {n}: {text}"
            );
            let link = browser
                .js(
                    "return Array.from(document.querySelectorAll(arguments[0] + ' .gh-locked a'),
                       (a) => [a.textContent, a.getAttribute('href')]);",
                    vec![json!(slot)],
                )
                .await;
            assert!(
                link.as_array().unwrap().contains(&json!(["Log in", next])),
                "block {n} has no `Log in` link to {next}: {link}"
            );
            let forms = browser
                .js(
                    "return document.querySelectorAll(arguments[0] + ' form').length;",
                    vec![json!(slot)],
                )
                .await;
            assert_eq!(forms, json!(0), "block {n} repeats the login form");
            assert_absent(browser, serve, POST, secret).await;
        }
        // The offers show to a visitor, under each block.
        let offers = browser
            .texts(&format!("{} .gh-offers:not([hidden]) li", block(POST, 2)))
            .await;
        assert_eq!(offers, ["Pricing Toolkit (lifetime)"]);
        browser.shot("locked", Some(&block(POST, 1))).await;

        // "Log in" leads to the account page's login form, coming back here afterwards.
        browser
            .click(&format!("{} .gh-locked a.gh-button", block(POST, 2)))
            .await;
        browser
            .wait_for_attr("[data-gh-account-page]", "data-account-state", "login")
            .await;
        let search = browser.js("return location.search;", vec![]).await;
        assert_eq!(search, json!("?next=%2Fblog%2Fthree-tiers%2F"));
        browser.wait_for("form.gh-login input[name=email]").await;
    });
}

#[test]
fn a_free_member_sees_each_else_part_and_what_each_block_requires() {
    blocks_scenario("2-free", async |browser, serve| {
        log_in_as(browser, serve, "free@demo.test", POST).await;
        assert_eq!(post_states(browser).await, ["level", "bundle", "level"]);

        let gold = browser.text(&block(POST, 1)).await;
        assert!(
            gold.contains(BLOCKS[0].2),
            "the gold block's else part: {gold}"
        );
        assert!(gold.contains("This part requires Gold."), "{gold}");
        assert!(
            !gold.contains("Log in"),
            "a member is asked to log in: {gold}"
        );
        let offers = browser
            .texts(&format!("{} .gh-offers:not([hidden]) li", block(POST, 1)))
            .await;
        assert_eq!(offers, ["Gold, monthly"]);
        let toolkit = browser.text(&block(POST, 2)).await;
        assert!(toolkit.contains(BLOCKS[1].2), "{toolkit}");
        assert!(
            toolkit.contains("This part requires Pricing Toolkit."),
            "{toolkit}"
        );
        let silver = browser.text(&block(POST, 3)).await;
        assert!(silver.contains(BLOCKS[2].2), "{silver}");
        assert!(silver.contains("This part requires Silver."), "{silver}");
        for (_, secret, _) in BLOCKS {
            assert_absent(browser, serve, POST, secret).await;
        }
        for text in PUBLIC {
            assert!(browser.body_text().await.contains(text), "{text:?}");
        }
        browser.shot("level", Some(&block(POST, 1))).await;

        // A gold member halfway through the silver block's drip: the gold block opens, the
        // drip block says when it will.
        log_in_as(browser, serve, "mid-drip@demo.test", POST).await;
        assert_eq!(post_states(browser).await, ["open", "bundle", "drip"]);
        let drip = browser.text(&block(POST, 3)).await;
        assert!(drip.contains("Unlocks on"), "{drip}");
        assert!(
            drip.contains(BLOCKS[2].2),
            "the drip block's else part: {drip}"
        );
        assert_absent(browser, serve, POST, BLOCKS[2].1).await;
        browser.shot("drip", Some(&block(POST, 3))).await;
    });
}

#[test]
fn a_gold_member_reads_the_gold_block_and_a_bundle_member_the_bundle_block() {
    blocks_scenario("3-gold-and-bundle", async |browser, serve| {
        log_in_as(browser, serve, "gold@demo.test", POST).await;
        assert_eq!(post_states(browser).await, ["open", "bundle", "open"]);

        let gold = browser.text(&block(POST, 1)).await;
        assert!(
            gold.contains(BLOCKS[0].1),
            "the gold block did not open: {gold}"
        );
        assert!(!gold.contains(BLOCKS[0].2), "the else part stayed: {gold}");
        let leftovers = browser
            .js(
                "return document.querySelectorAll(arguments[0] + ' .gh-else, '
                   + arguments[0] + ' .gh-locked').length;",
                vec![json!(block(POST, 1))],
            )
            .await;
        assert_eq!(
            leftovers,
            json!(0),
            "the opened block kept its public parts"
        );
        let drip = browser.text(&block(POST, 3)).await;
        assert!(drip.contains(BLOCKS[2].1), "{drip}");
        assert!(!drip.contains(BLOCKS[2].2), "{drip}");
        // Gold holds no toolkit: that block's else part stays, its text is nowhere.
        let toolkit = browser.text(&block(POST, 2)).await;
        assert!(toolkit.contains(BLOCKS[1].2), "{toolkit}");
        assert!(
            toolkit.contains("This part requires Pricing Toolkit."),
            "{toolkit}"
        );
        assert_absent(browser, serve, POST, BLOCKS[1].1).await;
        // The public text is still there, in order around the opened blocks.
        let article = browser.text(".entry-body").await;
        let at = |needle: &str| {
            article
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in {article}"))
        };
        assert!(at(PUBLIC[0]) < at(BLOCKS[0].1));
        assert!(at(BLOCKS[0].1) < at(PUBLIC[1]));
        assert!(at(PUBLIC[1]) < at(BLOCKS[1].2));
        assert!(at(BLOCKS[2].1) < at(PUBLIC[2]));
        browser.shot("open", Some(&block(POST, 1))).await;

        // A free member with the toolkit: the other way round.
        log_in_as(browser, serve, "toolkit@demo.test", POST).await;
        assert_eq!(post_states(browser).await, ["level", "open", "level"]);
        let toolkit = browser.text(&block(POST, 2)).await;
        assert!(toolkit.contains(BLOCKS[1].1), "{toolkit}");
        assert!(!toolkit.contains(BLOCKS[1].2), "{toolkit}");
        let gold = browser.text(&block(POST, 1)).await;
        assert!(gold.contains(BLOCKS[0].2), "{gold}");
        assert_absent(browser, serve, POST, BLOCKS[0].1).await;
        browser.shot("bundle-open", Some(&block(POST, 2))).await;
    });
}

#[test]
fn one_keys_request_serves_the_three_blocks_of_a_page() {
    blocks_scenario("4-one-request", async |browser, serve| {
        // A visitor: "log in first" is never cached, so each load asks once.
        browser.goto(&serve.at(POST)).await;
        post_states(browser).await;
        let (posts, timed) = keys_requests(browser).await;
        assert_eq!(
            posts.len(),
            1,
            "a visitor's page load asked /keys: {posts:?}"
        );
        assert_eq!(timed, 1, "resource timing of /_gate/keys");

        log_in_as(browser, serve, "gold@demo.test", POST).await;
        post_states(browser).await;
        // An empty key cache, then a fresh page load.
        browser.clear_session_storage().await;
        browser.refresh().await;
        assert_eq!(post_states(browser).await, ["open", "bundle", "open"]);
        let (posts, timed) = keys_requests(browser).await;
        assert_eq!(posts.len(), 1, "one page load asked /keys: {posts:?}");
        assert_eq!(timed, 1, "resource timing of /_gate/keys");
        assert_eq!(posts[0]["method"], json!("POST"), "{posts:?}");
        let mut sent: Vec<String> =
            serde_json::from_value(posts[0]["rules"].clone()).unwrap_or_default();
        sent.sort();
        let mut rules = Vec::new();
        for (n, _, _) in BLOCKS {
            rules.push(gate_and_rule(browser, &block(POST, n)).await.1);
        }
        rules.sort();
        assert_eq!(sent, rules, "the one request holds every block's rule");

        // Loaded again within the cache's lifetime: the answers come from this tab's cache,
        // the locked one ("bundle") included.
        browser.refresh().await;
        assert_eq!(post_states(browser).await, ["open", "bundle", "open"]);
        let (posts, timed) = keys_requests(browser).await;
        assert_eq!(
            (posts.len(), timed),
            (0, 0),
            "a cached page asked /keys: {posts:?}"
        );
    });
}

#[test]
fn a_block_inside_a_gated_lesson_opens_after_the_lesson_for_gold_only() {
    blocks_scenario("5-lesson", async |browser, serve| {
        let inner = block(LESSON, 1);

        browser.goto(&serve.at(LESSON)).await;
        let states = settled(browser, 1).await;
        assert_eq!(states[LESSON], "login", "{states:?}");
        assert_absent(browser, serve, LESSON, LESSON_ELSE).await;
        assert_absent(browser, serve, LESSON, LESSON_GOLD).await;

        log_in_as(browser, serve, "silver@demo.test", LESSON).await;
        let states = settled(browser, 2).await;
        assert_eq!(states[LESSON], "open", "{states:?}");
        assert_eq!(states[&format!("{LESSON}#1")], "level", "{states:?}");
        let lesson = browser.text(&page_slot(LESSON)).await;
        assert!(lesson.contains(LESSON_BODY), "{lesson}");
        let part = browser.text(&inner).await;
        assert!(part.contains("This part requires Gold."), "{part}");
        assert!(part.contains(LESSON_ELSE), "{part}");
        let inside = browser
            .js(
                "return document.querySelector(arguments[0]).contains(
                   document.querySelector(arguments[1]));",
                vec![json!(page_slot(LESSON)), json!(inner)],
            )
            .await;
        assert_eq!(inside, json!(true), "the block is in the lesson's body");
        assert_absent(browser, serve, LESSON, LESSON_GOLD).await;
        // Two requests: the lesson's key, then (once its body is in) the block's.
        let (posts, _) = keys_requests(browser).await;
        assert_eq!(posts.len(), 2, "{posts:?}");
        browser.shot("silver", Some(&inner)).await;

        log_in_as(browser, serve, "gold@demo.test", LESSON).await;
        let states = settled(browser, 2).await;
        assert_eq!(states[LESSON], "open", "{states:?}");
        assert_eq!(states[&format!("{LESSON}#1")], "open", "{states:?}");
        let lesson = browser.text(&page_slot(LESSON)).await;
        assert!(lesson.contains(LESSON_BODY), "{lesson}");
        assert!(lesson.contains(LESSON_GOLD), "{lesson}");
        assert!(!lesson.contains(LESSON_ELSE), "{lesson}");
        // The teaser is the `summary`, not the body's top: it stays, once.
        let article = browser.text("article").await;
        assert_eq!(article.matches(LESSON_TEASER).count(), 1, "{article}");
        browser.shot("gold", Some(&inner)).await;
    });
}

#[test]
fn unlocked_and_locked_events_name_each_block_by_its_path() {
    blocks_scenario("6-events", async |browser, serve| {
        log_in_as(browser, serve, "gold@demo.test", POST).await;
        post_states(browser).await;
        let heard = events(browser).await;
        let mut expected = Vec::new();
        for (n, state) in [(1, None), (2, Some("bundle")), (3, None)] {
            let (gate, _) = gate_and_rule(browser, &block(POST, n)).await;
            let path = format!("{POST}#{n}");
            expected.push(match state {
                None => json!({ "type": "gatehouse:unlocked", "gate": gate, "path": path }),
                Some(state) => json!({
                    "type": "gatehouse:locked", "gate": gate, "path": path, "state": state
                }),
            });
        }
        let mut got = heard.clone();
        got.sort_by_key(|e| e["path"].as_str().unwrap_or_default().to_owned());
        assert_eq!(got, expected, "events heard: {heard:?}");

        // In the lesson: the page opens first, then its block, and each says so once.
        browser.goto(&serve.at(LESSON)).await;
        settled(browser, 2).await;
        let heard = events(browser).await;
        let paths: Vec<(&str, &str)> = heard
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default(),
                    e["path"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        let block_path = format!("{LESSON}#1");
        assert_eq!(
            paths,
            [
                ("gatehouse:unlocked", LESSON),
                ("gatehouse:unlocked", block_path.as_str())
            ],
            "events heard: {heard:?}"
        );
        assert!(
            heard[1]["path"].as_str().unwrap().ends_with("#1"),
            "{heard:?}"
        );
        assert_eq!(
            heard[1]["gate"].as_str().map(str::len),
            Some(16),
            "{heard:?}"
        );
    });
}
