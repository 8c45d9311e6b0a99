//! The operator console in a real Chromium (issue 17), on `gatehouse serve` with the demo's
//! members: an operator logs in by the link from the outbox, filters the member list, opens a
//! member, grants a bundle, and that member's very next `/keys` opens the bundle's gate. The
//! grant shows in the member's timeline and in the audit log with the operator's email. Each
//! console page is pictured on desktop and phone in `target/browser-artifacts/`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, scenario};
use common::console::OPERATOR;
use common::serve::Serve;
use serde_json::json;

const MEMBER: &str = "gold@demo.test";
const BUNDLE_RULE: &str = "level=-;bundles=pricing-course;drip=0";

/// The console link mailed to `email`, from serve's outbox.
async fn console_link(serve: &Serve, email: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = serve.outbox().into_iter().find_map(|mail| {
            let mail = mail
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=");
            if !mail.contains(&format!("To: {email}")) {
                return None;
            }
            let start = mail.find("/_gate/admin/auth?token=")?;
            let token: String = mail[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            Some(token)
        });
        if let Some(path) = found {
            return serve.at(&path);
        }
        assert!(Instant::now() < deadline, "no console mail for {email}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `/keys` answers this browser for the bundle's rule: the number of keys handed out.
async fn bundle_keys(browser: &Browser) -> usize {
    browser
        .js(
            "window.__keys = null; \
             fetch('/_gate/keys', {method: 'POST', credentials: 'same-origin', \
               headers: {'content-type': 'application/json'}, \
               body: JSON.stringify({rules: [arguments[0]]})}) \
             .then(r => r.json()).then(j => { window.__keys = Object.keys(j.keys || {}).length; }, \
                   e => { window.__keys = String(e); }); \
             return true;",
            vec![json!(BUNDLE_RULE)],
        )
        .await;
    let value = browser
        .wait_until("the keys answer", "return window.__keys;", vec![], |v| {
            !v.is_null()
        })
        .await;
    value
        .as_u64()
        .unwrap_or_else(|| panic!("/keys failed: {value}")) as usize
}

async fn both_shots(browser: &Browser, name: &str) {
    browser.shot(name, None).await;
    browser.shot_phone(name, None).await;
}

#[test]
fn an_operator_grants_a_bundle_from_the_console_and_the_member_reads_it_at_once() {
    scenario("console", async |browser, serve| {
        // The member, before: no key for the bundle's pages.
        browser.goto(&serve.login_link(MEMBER, "/account/")).await;
        assert_eq!(
            bundle_keys(browser).await,
            0,
            "gold holds no Pricing Course yet"
        );

        browser.goto(&serve.at("/_gate/admin/")).await;
        browser.wait_for_text("h1", "Operator console").await;
        both_shots(browser, "login").await;
        browser.type_into("#email", OPERATOR).await;
        browser.click("form button[type=submit]").await;
        browser.wait_for_text("h1", "Check your inbox").await;
        browser.goto(&console_link(serve, OPERATOR).await).await;
        browser.click("form button[type=submit]").await;
        browser.wait_for_text("h1", "Dashboard").await;
        both_shots(browser, "dashboard").await;

        browser.goto(&serve.at("/_gate/admin/people")).await;
        browser.wait_for_text("h1", "Members").await;
        browser
            .js(
                "document.querySelector('select[name=level]').value = 'gold'; \
                 document.querySelector('form.filters').submit();",
                vec![],
            )
            .await;
        browser.wait_for_text("table.data", MEMBER).await;
        let listed = browser.texts("table.data tbody tr td:first-child").await;
        assert!(
            listed.iter().all(|email| !email.starts_with("silver@")),
            "the level filter keeps gold members only: {listed:?}"
        );
        both_shots(browser, "members").await;

        browser
            .js(
                "[...document.querySelectorAll('table.data a')].find(a => a.textContent.trim() === arguments[0]).click();",
                vec![json!(MEMBER)],
            )
            .await;
        browser.wait_for_text("h1", MEMBER).await;
        browser
            .js(
                "document.querySelector('select[name=bundle]').value = 'pricing-course'; \
                 document.querySelector('select[name=bundle]').form.submit();",
                vec![],
            )
            .await;
        browser.wait_for_text(".flash", "Bundle granted").await;
        let timeline = browser
            .wait_for_text("body", &format!("admin:{OPERATOR}"))
            .await;
        assert!(timeline.contains("Pricing Course"), "{timeline}");
        both_shots(browser, "member").await;

        browser.goto(&serve.at("/_gate/admin/audit")).await;
        let audit = browser.wait_for_text("table.data", MEMBER).await;
        assert!(audit.contains(OPERATOR), "{audit}");
        both_shots(browser, "audit").await;

        browser.goto(&serve.at("/_gate/admin/payments")).await;
        browser.wait_for_text("h1", "Payments").await;
        both_shots(browser, "payments").await;

        // The member, after: the very next /keys opens the bundle's gate.
        browser.goto(&serve.login_link(MEMBER, "/account/")).await;
        assert_eq!(
            bundle_keys(browser).await,
            1,
            "the grant opens the gate at once"
        );
    });
}
