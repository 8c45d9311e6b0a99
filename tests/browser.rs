//! End to end in a real headless Chromium: the real `gatehouse serve` binary on a copy of the
//! demo site, and the theme's gate.js doing what members see — the login form, magic links,
//! level, drip and overdue locks, a tampered envelope, a malformed URL fragment, live reload,
//! the account page and the members' search.
//!
//! Each test is one scenario with its own server and its own browser profile. Screenshots of
//! every state go to `target/browser-artifacts/` (docs/testing.md). Without Chromium and
//! chromedriver the tests skip loudly; under `CI=true` they fail instead.
//!
//! Run: `cargo test --test browser -- --test-threads=1`

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::browser::{Browser, INSECURE_HOST, scenario};
use common::serve::Serve;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

/// A gold course lesson with a 14-day drip (content/course/tiers-and-anchors/index.md).
const PAGE: &str = "/course/tiers-and-anchors/";
/// From its public teaser (the `summary` in its front matter).
const TEASER: &str = "How customers actually read a pricing page";
/// From its body, below the teaser: only the envelope holds these.
const BODY: [&str; 2] = [
    "Our rule: every tier on the page must be one you would be happy to sell.",
    "Eye-tracking studies and our own session recordings agree on the order",
];
/// gate.js's slot on a gated page.
const SLOT: &str = ".gh-gate[data-gate]";
const STATE: &str = "data-gate-state";
const ACCOUNT: &str = "[data-gh-account-page]";
/// A rebuild and reload take longer than one page load; this is what live reload may take.
const RELOAD_WAIT: Duration = Duration::from_secs(20);

/// Waits for the slot to reach `state`, then returns the slot's text.
async fn gate_state(browser: &Browser, state: &str) -> String {
    browser.wait_for_attr(SLOT, STATE, state).await;
    browser.text(SLOT).await
}

/// None of the body sentences is anywhere: not in the HTML the server sends, not in the DOM,
/// not on screen.
async fn assert_no_body(browser: &Browser, serve: &Serve, path: &str) {
    let served = serve.fetch_html(path).await;
    let dom = browser.dom().await;
    let shown = browser.body_text().await;
    for sentence in BODY {
        assert!(
            !served.contains(sentence),
            "the served HTML of {path} holds body text {sentence:?}"
        );
        assert!(
            !dom.contains(sentence),
            "the page's DOM holds body text {sentence:?}"
        );
        assert!(
            !shown.contains(sentence),
            "the page shows body text {sentence:?}"
        );
    }
}

/// Every body sentence is shown in the opened slot.
async fn assert_body_shown(browser: &Browser) {
    let text = browser.text(SLOT).await;
    for sentence in BODY {
        assert!(
            text.contains(sentence),
            "the opened page lacks {sentence:?}"
        );
    }
}

/// Logs the browser in as a demo member with their one-click link, landing on `next`.
async fn log_in_as(browser: &Browser, serve: &Serve, email: &str, next: &str) {
    browser.goto(&serve.login_link(email, next)).await;
    assert_eq!(
        browser.current_path().await,
        next,
        "the one-click login of {email} did not land on {next}"
    );
}

/// The access rule of the page's slot, as gate.js sends it to `POST /_gate/keys`.
async fn slot_rule(browser: &Browser) -> String {
    let rule = browser
        .js(
            "return document.querySelector(arguments[0]).dataset.rule;",
            vec![json!(SLOT)],
        )
        .await;
    rule.as_str().expect("the slot's data-rule").to_owned()
}

fn days_ago(days: i64) -> String {
    (Timestamp::now() - SignedDuration::from_hours(24 * days)).to_string()
}

/// A sentence no file holds yet, for the live-reload checks.
fn unique_sentence(label: &str) -> String {
    let nanos = Timestamp::now().as_nanosecond();
    format!("Live reload check {label} {nanos}.")
}

#[test]
fn anonymous_visitor_sees_the_teaser_and_login_form_but_no_body() {
    scenario("1-anonymous", async |browser, serve| {
        browser.goto(&serve.at(PAGE)).await;
        let text = gate_state(browser, "login").await;
        assert!(text.contains("Log in to read this page"), "{text}");
        browser.wait_for("form.gh-login input[name=email]").await;
        browser.wait_for("form.gh-login button[type=submit]").await;
        let teaser = browser.text(".entry-teaser").await;
        assert!(teaser.contains(TEASER), "teaser: {teaser}");
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("login", Some(SLOT)).await;
        browser.shot_phone("login", Some("form.gh-login")).await;
    });
}

#[test]
fn gold_member_logs_in_with_a_magic_link_and_reads_the_page() {
    scenario("2-magic-link", async |browser, serve| {
        browser.goto(&serve.at(PAGE)).await;
        gate_state(browser, "login").await;
        browser
            .type_into("form.gh-login input[name=email]", "gold@demo.test")
            .await;
        browser.click("form.gh-login button[type=submit]").await;
        browser
            .wait_for_text("form.gh-login .gh-message", "Check your inbox")
            .await;
        browser.shot("link-sent", Some("form.gh-login")).await;

        let link = serve.wait_for_login_mail("gold@demo.test").await;
        assert!(
            link.starts_with(&serve.url),
            "the link leaves the site: {link}"
        );
        browser.goto(&link).await;
        browser.wait_for_text("body", "Log in to").await;
        browser.shot("continue", None).await;
        browser.click("form button[type=submit]").await;

        // The link's POST sets the session and sends the member back to the page.
        browser
            .wait_until(
                &format!("to land back on {PAGE}"),
                "return location.pathname;",
                vec![],
                |v| v == &json!(PAGE),
            )
            .await;
        gate_state(browser, "open").await;
        assert_body_shown(browser).await;
        // This lesson's teaser is its `summary:`, which the body does not repeat: it stays,
        // shown once (a teaser from `<!-- more -->` is removed instead, being the body's top).
        let article = browser.text("article").await;
        assert_eq!(
            article.matches(TEASER).count(),
            1,
            "the summary shows once: {article}"
        );
        let header = browser.text("#gh-account").await;
        assert!(header.contains("Account"), "header link: {header}");
        browser.shot("open", None).await;
        browser.shot_phone("open", None).await;
        assert_unlocked_event(browser).await;
    });
}

/// Other scripts (highlighting, math) hear `gatehouse:unlocked` when a body opens: put the
/// page's locked slot back as served, listen, and let gate.js open it again.
async fn assert_unlocked_event(browser: &Browser) {
    browser
        .js(
            "document.addEventListener('gatehouse:unlocked', (e) => { window.__unlocked = e.detail; });
             fetch(location.pathname).then((r) => r.text()).then((html) => {
               const served = new DOMParser().parseFromString(html, 'text/html');
               document.querySelector(arguments[0]).replaceWith(served.querySelector(arguments[0]));
               window.gatehouse.refresh();
             });
             return true;",
            vec![json!(SLOT)],
        )
        .await;
    let detail = browser
        .wait_until(
            "the gatehouse:unlocked event",
            "return window.__unlocked || null;",
            vec![],
            |v| !v.is_null(),
        )
        .await;
    assert_eq!(detail["path"], json!(PAGE), "event detail: {detail}");
    assert_eq!(
        detail["gate"].as_str().map(str::len),
        Some(16),
        "event detail: {detail}"
    );
}

/// A fragment that is not percent-encoded UTF-8 names no heading, and nothing more: the body
/// opens as usual (issue 15: gate.js decoded the fragment with a `decodeURIComponent` that
/// threw once the body was in, and the slot never reached `open`).
#[test]
fn a_malformed_fragment_does_not_break_an_opened_page() {
    scenario("2b-malformed-fragment", async |browser, serve| {
        // lands elsewhere, so that the lesson below is a fresh page load, not a fragment change
        log_in_as(browser, serve, "gold@demo.test", "/about/").await;
        browser.goto(&serve.at(&format!("{PAGE}#%E0"))).await;
        let text = gate_state(browser, "open").await;
        assert!(!text.contains("could not be verified"), "{text}");
        assert_body_shown(browser).await;
        let hash = browser.js("return location.hash;", vec![]).await;
        assert_eq!(
            hash,
            json!("#%E0"),
            "the fragment reached the page as written"
        );
    });
}

#[test]
fn free_member_is_told_the_page_requires_gold_and_shown_the_offers() {
    scenario("3-free-level", async |browser, serve| {
        log_in_as(browser, serve, "free@demo.test", PAGE).await;
        let text = gate_state(browser, "level").await;
        assert!(text.contains("This page requires Gold"), "{text}");
        let offers = browser.wait_for(".gh-offers").await;
        assert!(
            offers.is_displayed().await.unwrap(),
            "the offers list is hidden"
        );
        let products = browser.texts(".gh-offers li").await;
        assert!(!products.is_empty(), "no offers listed");
        assert!(
            products.iter().any(|p| p.contains("Gold")),
            "no Gold offer among {products:?}"
        );
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("level", Some(SLOT)).await;
    });
}

#[test]
fn mid_drip_member_waits_then_reads_once_their_start_is_back_dated() {
    scenario("4-drip", async |browser, serve| {
        let member = "mid-drip@demo.test";
        log_in_as(browser, serve, member, PAGE).await;
        let text = gate_state(browser, "drip").await;
        assert!(text.contains("Unlocks on"), "{text}");
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("drip", Some(SLOT)).await;

        // The account page lists the lesson among the coming unlocks.
        browser.goto(&serve.at("/account/")).await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "member")
            .await;
        let unlocks = browser.texts(".gh-account-unlocks li").await;
        assert!(
            unlocks.iter().any(|u| u.contains(PAGE)),
            "{PAGE} is not among the coming unlocks {unlocks:?}"
        );
        browser
            .shot("account-unlocks", Some(".gh-account-unlocks"))
            .await;

        // Back-date the start of their gold stretch by 40 days (a `level_set` of the level
        // they already hold is a renewal, so the stretch now starts at the earlier event).
        browser.goto(&serve.at(PAGE)).await;
        gate_state(browser, "drip").await;
        let rule = slot_rule(browser).await;
        let session = browser
            .cookie("gh_session")
            .await
            .expect("a session cookie");
        let before = serve.keys_for_session(&session, &[&rule]).await;
        assert_eq!(
            before["keys"].as_object().map(|k| k.len()),
            Some(0),
            "a key before the back-dating: {before}"
        );
        serve
            .admin_event(
                member,
                json!({ "type": "level_set", "access": "level:gold", "at": days_ago(40) }),
            )
            .await;
        // The server side first, so a failure says which half is wrong.
        let after = serve.keys_for_session(&session, &[&rule]).await;
        assert_eq!(
            after["keys"].as_object().map(|k| k.len()),
            Some(1),
            "POST /_gate/keys still refuses after the start moved 40 days back: {after}"
        );

        // gate.js remembers the drip answer for this tab: forget it, then reload.
        browser.clear_session_storage().await;
        browser.refresh().await;
        gate_state(browser, "open").await;
        assert_body_shown(browser).await;
        browser.shot("open", None).await;
    });
}

#[test]
fn overdue_member_is_told_their_payment_failed() {
    scenario("5-overdue", async |browser, serve| {
        log_in_as(browser, serve, "overdue@demo.test", PAGE).await;
        let text = gate_state(browser, "overdue").await;
        assert!(text.contains("payment failed"), "{text}");
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("overdue", Some(SLOT)).await;
    });
}

#[test]
fn tampered_envelope_is_refused_and_shows_no_body() {
    scenario("6-tampered", async |browser, serve| {
        // One byte of the ciphertext, well past the 19-byte header, in the file the dev
        // server serves from disk.
        let envelope = serve.envelope_of(PAGE);
        let mut bytes = std::fs::read(&envelope).unwrap();
        let middle = 19 + (bytes.len() - 19) / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&envelope, bytes).unwrap();

        log_in_as(browser, serve, "gold@demo.test", PAGE).await;
        let text = gate_state(browser, "error").await;
        assert!(
            text.contains("This content could not be verified."),
            "{text}"
        );
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("error", Some(SLOT)).await;
    });
}

#[test]
fn saving_a_page_reloads_it_in_the_browser_by_itself() {
    scenario("7-live-reload", async |browser, serve| {
        log_in_as(browser, serve, "gold@demo.test", "/about/").await;
        browser.shot("public-before", None).await;
        let sentence = watch_reload(browser, serve, "about.md", "body").await;
        browser.scroll_to_text(&sentence).await;
        browser.shot("public-reloaded", None).await;

        browser.goto(&serve.at(PAGE)).await;
        gate_state(browser, "open").await;
        browser.shot("gated-before", Some(SLOT)).await;
        let sentence =
            watch_reload(browser, serve, "course/tiers-and-anchors/index.md", SLOT).await;
        // Reloaded and opened again: the new text came out of the new envelope.
        gate_state(browser, "open").await;
        let served = serve.fetch_html(PAGE).await;
        assert!(
            !served.contains(&sentence),
            "the new body text is in the served HTML, unencrypted"
        );
        browser.scroll_to_text(&sentence).await;
        browser.shot("gated-reloaded", None).await;
    });
}

/// The dev script connects once the browser is idle, so a rebuild can end first: here its start
/// is held (the page's `requestIdleCallback` keeps the callback) until serve has rebuilt, and
/// the page must still reload by itself when the script connects.
#[test]
fn a_page_whose_dev_script_connects_after_a_rebuild_still_reloads() {
    scenario("7-live-reload-late", async |browser, serve| {
        let hold =
            "window.requestIdleCallback = (start) => { window.ghStartDev = start; return 1; };";
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": hold }),
            )
            .await;
        browser.goto(&serve.at("/about/")).await;
        browser
            .wait_until(
                "the dev script to wait for an idle moment",
                "return typeof window.ghStartDev === 'function';",
                vec![],
                |v| v == &json!(true),
            )
            .await;
        browser.js("window.ghBeforeSave = true;", vec![]).await;
        let sentence = unique_sentence("about.md");
        serve.append_to_content("about.md", &format!("\n\n{sentence}\n"));
        let deadline = std::time::Instant::now() + RELOAD_WAIT;
        while !serve.fetch_html("/about/").await.contains(&sentence) {
            assert!(
                std::time::Instant::now() < deadline,
                "serve never rebuilt /about/"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Rebuilt and announced to nobody: now the page's script connects.
        browser.js("window.ghStartDev();", vec![]).await;
        browser
            .wait_for_text_for(RELOAD_WAIT, "body", &sentence)
            .await;
        let reloaded = browser
            .js("return window.ghBeforeSave === undefined;", vec![])
            .await;
        assert_eq!(reloaded, json!(true), "the page changed without a reload");
    });
}

/// Appends a new sentence to `content/<file>` and waits until the open page shows it inside
/// `css`, reloaded by the dev script alone (the test never reloads). Returns the sentence.
async fn watch_reload(browser: &Browser, serve: &Serve, file: &str, css: &str) -> String {
    // The dev script marks the page once its event stream is open, and the server subscribes
    // the stream before answering: from then on no announcement can be missed.
    browser.wait_for("html[data-gh-live='open']").await;
    // A mark that only a real page load removes.
    browser.js("window.ghBeforeSave = true;", vec![]).await;
    let sentence = unique_sentence(file);
    serve.append_to_content(file, &format!("\n\n{sentence}\n"));
    browser.wait_for_text_for(RELOAD_WAIT, css, &sentence).await;
    let reloaded = browser
        .js("return window.ghBeforeSave === undefined;", vec![])
        .await;
    assert_eq!(reloaded, json!(true), "the page changed without a reload");
    sentence
}

#[test]
fn account_page_lists_level_and_bundles_and_logs_out() {
    scenario("8-account", async |browser, serve| {
        let member = "pricing-course@demo.test";
        log_in_as(browser, serve, member, "/account/").await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "member")
            .await;
        let email = browser.text(".gh-account-email").await;
        assert_eq!(email, member);
        let level = browser.text(".gh-account-level").await;
        assert!(level.contains("Free"), "level: {level}");
        let bundles = browser.texts(".gh-account-bundles li").await;
        assert_eq!(bundles.len(), 1, "bundles: {bundles:?}");
        assert!(
            bundles[0].contains("Pricing Course"),
            "bundles: {bundles:?}"
        );
        browser.shot("member", None).await;
        browser.shot_phone("member", None).await;

        // The bundle opens its pages.
        browser.goto(&serve.at("/library/pricing-templates/")).await;
        gate_state(browser, "open").await;
        browser.shot("bundle-page-open", None).await;
        let rule = slot_rule(browser).await;
        browser.goto(&serve.at("/account/")).await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "member")
            .await;
        let session = browser
            .cookie("gh_session")
            .await
            .expect("a session cookie");

        browser.click("button.gh-logout").await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "login")
            .await;
        browser.wait_for_text(ACCOUNT, "You are logged out.").await;
        browser.wait_for_text("#gh-account", "Log in").await;
        browser.shot("logged-out", None).await;

        // The session is over on the server too, not just forgotten by the page.
        let answer = serve.keys_for_session(&session, &[&rule]).await;
        let reasons: Vec<&str> = answer["locked"]
            .as_object()
            .into_iter()
            .flat_map(|locked| locked.values())
            .filter_map(|l| l["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["login"], "keys after logout: {answer}");
        browser.goto(&serve.at("/library/pricing-templates/")).await;
        gate_state(browser, "login").await;
        browser.shot("bundle-page-logged-out", Some(SLOT)).await;
    });
}

#[test]
fn a_member_finds_gated_pages_in_the_search_and_a_visitor_does_not() {
    // A word only the sealed body of the gold lesson holds: the public index cannot know it.
    const QUERY: &str = "happy to sell";
    const RESULT: &str = ".search-results a.search-result";
    scenario("9-search", async |browser, serve| {
        browser.goto(&serve.at("/about/")).await;
        browser.type_into("#gh-search-input", QUERY).await;
        browser.wait_for(".search-results .search-status").await;
        let found = browser.texts(RESULT).await;
        assert!(
            found.iter().all(|r| !r.contains("Tiers, anchors")),
            "a visitor's search found the gated lesson: {found:?}"
        );
        browser.shot("visitor", None).await;

        log_in_as(browser, serve, "gold@demo.test", "/about/").await;
        browser.type_into("#gh-search-input", QUERY).await;
        let result = browser
            .wait_for_text(RESULT, "Tiers, anchors and the decoy")
            .await;
        assert!(result.contains("Members"), "the result is marked: {result}");
        browser.shot("member", Some(".search-results")).await;
    });
}

#[test]
fn without_a_secure_context_the_page_says_so_instead_of_failing_silently() {
    scenario("10-insecure", async |browser, serve| {
        // The same server under a plain-http name: WebCrypto is missing there.
        let url = serve.at(PAGE).replace("127.0.0.1", INSECURE_HOST);
        browser.goto(&url).await;
        let text = gate_state(browser, "insecure").await;
        assert!(text.contains("needs a secure connection"), "{text}");
        assert_no_body(browser, serve, PAGE).await;
        browser.shot("insecure", Some(SLOT)).await;
    });
}
