//! Member self-service on the account page (issue 17) in a real headless Chromium, on the real
//! `gatehouse serve` of the demo site and its demo members: the plan and status in words,
//! "Manage billing" (site.toml's `billing_url`), what an overdue member should do, and "Log out
//! everywhere" with its confirmation, which also ends the member's other sessions.
//!
//! Screenshots (desktop 1280×900 and phone 390×844) go to
//! `target/browser-artifacts/account-*.png`. Without Chromium and chromedriver the tests skip
//! loudly; under `CI=true` they fail instead.
//!
//! Run: `cargo test --test browser_account -- --test-threads=1`

#![allow(clippy::unwrap_used)]

mod common;

use common::browser::{Browser, scenario};
use common::serve::Serve;
use common::serve_http::{keys, login_as, outcome};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

const ACCOUNT: &str = "[data-gh-account-page]";
const GOLD: &str = "level=gold;bundles=-;drip=0";
/// The demo site's `[membership] billing_url`.
const BILLING: &str = "/pricing/#billing";

async fn wait_for_member(browser: &Browser) {
    browser
        .wait_for_attr(ACCOUNT, "data-account-state", "member")
        .await;
}

/// `GET /_gate/me` as the holder of `session` (a client logged in outside the browser).
async fn me(session: &reqwest::Client, serve: &Serve) -> Value {
    let answer = session.get(serve.at("/_gate/me")).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap()
}

/// "12 Jan 2027" (UTC, as the edge words dates) for an RFC 3339 instant.
fn day(rfc3339: &str) -> String {
    let at: Timestamp = rfc3339.parse().unwrap();
    at.to_zoned(TimeZone::UTC).strftime("%-d %b %Y").to_string()
}

#[test]
fn a_member_reads_plan_status_and_billing_then_logs_out_everywhere() {
    const EMAIL: &str = "pending-cancel@demo.test";
    scenario("account-1-member", async |browser, serve| {
        // Logs in on the account page itself, by the emailed link.
        browser.goto(&serve.at("/account/")).await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "login")
            .await;
        browser
            .type_into("form.gh-login input[name=email]", EMAIL)
            .await;
        browser.click("form.gh-login button[type=submit]").await;
        browser
            .wait_for_text("form.gh-login .gh-message", "Check your inbox")
            .await;
        let link = serve.wait_for_login_mail(EMAIL).await;
        browser.goto(&link).await;
        browser.click("form button[type=submit]").await;
        wait_for_member(browser).await;
        assert_eq!(browser.current_path().await, "/account/");

        // A second session of the same member, elsewhere.
        let elsewhere = login_as(&serve.login_link(EMAIL, "/")).await;
        let keys_url = serve.at("/_gate/keys");
        assert_eq!(
            outcome(&keys(&elsewhere, &keys_url, &[GOLD]).await, GOLD),
            "open"
        );
        let until = me(&elsewhere, serve).await["standing"]["level"]["until"]
            .as_str()
            .expect("a pending-cancel level has an end")
            .to_owned();

        // Plan, status with its end, and Manage billing.
        assert_eq!(
            browser.text(".gh-account-level .gh-account-name").await,
            "Gold"
        );
        assert_eq!(
            browser.text(".gh-account-level .gh-status").await,
            "Pending cancel"
        );
        // Granted without a Stripe product (a demo member): how gold is sold, no product.
        assert_eq!(
            browser.text(".gh-account-level .gh-account-plan").await,
            "Subscription"
        );
        assert_eq!(
            browser.text(".gh-account-level .gh-account-when").await,
            format!("Pending cancel: access until {}", day(&until))
        );
        let billing = browser
            .js(
                "const a = document.querySelector('a.gh-account-billing'); \
                 return a && [a.textContent, a.href];",
                vec![],
            )
            .await;
        assert_eq!(billing, json!(["Manage billing", serve.at(BILLING)]));
        assert_eq!(browser.text(".gh-account-alert").await, "");
        browser.shot("member", None).await;
        browser.shot_phone("member", None).await;

        // Log out everywhere asks first, in the page.
        let session = browser
            .cookie("gh_session")
            .await
            .expect("a session cookie");
        browser.click("button.gh-logout-everywhere").await;
        browser.wait_for(".gh-account-confirm:not([hidden])").await;
        browser.shot("confirm", Some(".gh-account-confirm")).await;
        browser.click("button.gh-logout-everywhere-confirm").await;
        browser
            .wait_for_attr(ACCOUNT, "data-account-state", "login")
            .await;
        browser
            .wait_for_text(ACCOUNT, "You are logged out on every device.")
            .await;
        browser.wait_for_text("#gh-account", "Log in").await;
        browser.shot("logged-out", None).await;

        // Both sessions are over on the server: this browser's and the other one.
        assert_eq!(
            outcome(&serve.keys_for_session(&session, &[GOLD]).await, GOLD),
            "login"
        );
        assert_eq!(
            outcome(&keys(&elsewhere, &keys_url, &[GOLD]).await, GOLD),
            "login"
        );
    });
}

#[test]
fn an_overdue_member_is_told_first_how_to_get_access_back() {
    const EMAIL: &str = "overdue@demo.test";
    scenario("account-2-overdue", async |browser, serve| {
        browser.goto(&serve.login_link(EMAIL, "/account/")).await;
        wait_for_member(browser).await;
        let first = browser
            .js(
                "return document.querySelector(arguments[0]).firstElementChild.className;",
                vec![json!(ACCOUNT)],
            )
            .await;
        assert_eq!(first, json!("gh-account-alert"), "the notice comes first");
        let notice = browser.text(".gh-account-alert").await;
        for needed in [
            "Your last payment failed",
            "Gold is paused until it is paid.",
            "Update your card on the billing page",
            "access comes back as soon as the payment goes through",
        ] {
            assert!(notice.contains(needed), "{needed:?} not in {notice:?}");
        }
        let fix = browser
            .js(
                "const a = document.querySelector('.gh-account-alert a.gh-account-fix-billing'); \
                 return a && [a.textContent, a.href];",
                vec![],
            )
            .await;
        assert_eq!(fix, json!(["Update billing details", serve.at(BILLING)]));
        let when = browser.text(".gh-account-level .gh-account-when").await;
        assert!(when.starts_with("Overdue since "), "{when}");
        browser.shot("overdue", None).await;
        browser.shot_phone("overdue", None).await;
    });
}
