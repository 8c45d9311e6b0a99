//! The way to a gated page's text, in a real headless Chromium on the real `gatehouse serve`
//! of the demo site (issue 18): the page's head preloads its envelope (a public page's does
//! not), the browser downloads that envelope once (gate.js's fetch uses the preload rather
//! than asking again), it starts before the `/keys` request rather than after its answer, and
//! gate.js notes `gatehouse:unlocked` on the page's performance timeline. No timings are
//! asserted, only what happens in which order; `scripts/bench-unlock` measures the times.
//!
//! Run: `cargo test --test browser_unlock_speed -- --test-threads=1`

#![allow(clippy::unwrap_used)]

mod common;

use common::browser::{Browser, scenario};
use common::serve::Serve;
use serde_json::{Value, json};

/// A gold lesson (content/course/tiers-and-anchors/index.md), open to the demo gold member.
const PAGE: &str = "/course/tiers-and-anchors/";
/// A gated section page (content/course/_index.md).
const SECTION: &str = "/course/";
/// A public page (content/course/welcome.md).
const PUBLIC: &str = "/course/welcome/";
const SLOT: &str = ".gh-gate[data-gate]";

/// The `data-src` of the served page's slot.
fn slot_src(html: &str) -> String {
    let (_, rest) = html
        .split_once("data-src=\"")
        .unwrap_or_else(|| panic!("no slot in:\n{html}"));
    rest.split_once('"').unwrap().0.to_owned()
}

/// What the page's resource timing says about the envelope and `/_gate/keys`: how many
/// downloads of each, and when each first started.
async fn requests(browser: &Browser) -> Value {
    browser
        .js(
            "const src = document.querySelector(arguments[0]).dataset.src;
             const all = performance.getEntriesByType('resource');
             const of = (path) => all.filter((e) => new URL(e.name).pathname === path);
             const envelope = of(src);
             const keys = of('/_gate/keys');
             return {
               envelope: envelope.length,
               keys: keys.length,
               envelope_first: envelope.length > 0 && (keys.length === 0
                 || envelope[0].startTime <= keys[0].startTime),
             };",
            vec![json!(SLOT)],
        )
        .await
}

#[test]
fn a_gated_page_preloads_its_envelope_and_a_public_page_does_not() {
    scenario("unlock-preload", async |_browser, serve: &Serve| {
        for path in [PAGE, SECTION] {
            let html = serve.fetch_html(path).await;
            let src = slot_src(&html);
            let link = format!("<link rel=\"preload\" href=\"{src}\" as=\"fetch\" crossorigin>");
            let head = html.split_once("</head>").unwrap().0;
            assert!(
                head.contains(&link),
                "{path}: no {link} in its head:\n{head}"
            );
            assert_eq!(
                head.matches("rel=\"preload\"").count(),
                1,
                "{path}:\n{head}"
            );
        }
        let html = serve.fetch_html(PUBLIC).await;
        assert!(!html.contains("rel=\"preload\""), "{PUBLIC}:\n{html}");
        assert!(!html.contains("/_gated/"), "{PUBLIC}:\n{html}");
    });
}

#[test]
fn a_member_downloads_the_envelope_once_and_before_asking_for_keys() {
    scenario("unlock-order", async |browser, serve| {
        browser
            .goto(&serve.login_link("gold@demo.test", PAGE))
            .await;
        browser.wait_for_attr(SLOT, "data-gate-state", "open").await;

        // No key cached: /keys is asked, and the envelope is already on its way.
        browser.clear_session_storage().await;
        browser.refresh().await;
        browser.wait_for_attr(SLOT, "data-gate-state", "open").await;
        let seen = requests(browser).await;
        assert_eq!(
            seen,
            json!({ "envelope": 1, "keys": 1, "envelope_first": true }),
            "with no key cached"
        );

        // The key cached: no /keys, still one download.
        browser.refresh().await;
        browser.wait_for_attr(SLOT, "data-gate-state", "open").await;
        let seen = requests(browser).await;
        assert_eq!(
            seen,
            json!({ "envelope": 1, "keys": 0, "envelope_first": true }),
            "with the key cached"
        );

        // The opening is on the page's timeline, for the site's own measurements.
        let marks = browser
            .js(
                "return performance.getEntriesByName('gatehouse:unlocked')
                   .map((m) => [m.entryType, m.detail && m.detail.path]);",
                vec![],
            )
            .await;
        assert_eq!(marks, json!([["mark", PAGE]]));
    });
}

#[test]
fn a_visitor_still_gets_the_login_form_with_the_envelope_preloaded() {
    scenario("unlock-visitor", async |browser, serve| {
        browser.goto(&serve.at(PAGE)).await;
        browser
            .wait_for_attr(SLOT, "data-gate-state", "login")
            .await;
        browser.wait_for(&format!("{SLOT} form.gh-login")).await;
        let seen = requests(browser).await;
        // The preload was used, not downloaded a second time; no key, no body.
        assert_eq!(seen["envelope"], json!(1), "{seen}");
        assert_eq!(seen["keys"], json!(1), "{seen}");
        let marks = browser
            .js(
                "return performance.getEntriesByName('gatehouse:unlocked').length;",
                vec![],
            )
            .await;
        assert_eq!(marks, json!(0));
    });
}
