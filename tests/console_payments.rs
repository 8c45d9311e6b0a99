//! The console's payments page, against the real edge and database: a Stripe event that fails
//! on purpose (a price site.toml does not sell yet) shows why; once site.toml sells it and the
//! edge restarts on the same database, "apply again" applies it and the buyer gets access. A
//! notice delivery that was given up is made due again by "retry now". Both are audited, and
//! refused without the console session and its CSRF token. SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Site;
use common::console::{self, OPERATOR, csrf, form, log_in, post_form};
use common::edge::{TestEdge, token_from_mail};
use common::servers::postgres_database;
use common::stripe::{Checkout, SECRET, apply, id, now, stripe_id};
use gatehouse::clock::Clock;
use gatehouse::server::Hidden;
use jiff::Timestamp;
use serde_json::json;

/// A price no product of the demo sells: its purchase fails until one does.
const EBOOK_PRICE: &str = "price_pricing_ebook";
const EBOOK: &str = r#"
[[products]]
id = "pricing-ebook"
name = "Pricing Course, as an ebook"
grants = "bundle:pricing-course"
billing = "single"
stripe_price = "price_pricing_ebook"
price = "29.00"
currency = "USD"
"#;
const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
/// A push endpoint nothing listens on, with a token in its query string.
const HOOK: &str = "http://127.0.0.1:9/gatehouse-hook?token=query-s3cret";

async fn start(site: Site, url: &str) -> TestEdge {
    TestEdge::start_with(site, url, |o| {
        o.stripe_secrets = Hidden(vec![SECRET.into()]);
    })
    .await
}

fn sqlite_url(site: &Site) -> String {
    format!("sqlite://{}", site.path(".gatehouse/members.db").display())
}

/// The payments page as `cookie`'s operator sees it; asserts it is served.
async fn payments_page(edge: &TestEdge, cookie: &str, query: &str) -> String {
    let page = edge
        .get(&format!("/admin/payments{query}"), Some(cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
}

/// The table row of the event or delivery `marker` (`data-event="evt_…"`).
fn row<'a>(page: &'a str, marker: &str) -> &'a str {
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} on the page"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}

/// A member's session through the magic link, as a buyer would log in.
async fn member_login(edge: &TestEdge, email: &str) -> String {
    let before = edge.outbox().len();
    let asked = edge.post("/login", &json!({ "email": email }), None).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let mail = edge.wait_for_outbox(before + 1).await.pop().unwrap();
    let token = token_from_mail(&mail);
    let used = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}"),
        )
        .await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "{}", used.body);
    used.session_cookie().unwrap()
}

/// Whether `cookie`'s member gets the pricing course's key.
async fn opens_course(edge: &TestEdge, cookie: &str) -> bool {
    let answer = edge.keys(&[COURSE], Some(cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()["keys"].as_object().unwrap().len() == 1
}

async fn audit_page(edge: &TestEdge, cookie: &str) -> String {
    let page = edge.get("/admin/audit", Some(cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
}

async fn a_failed_event_shows_why_and_applies_again_after_the_fix(site: Site, url: &str) {
    let edge = start(site, url).await;
    let email = "ebook-buyer@example.com";
    let session = Checkout::payment(email, &stripe_id("cus")).with(|s| {
        s.line_items = vec![EBOOK_PRICE.to_owned()];
    });
    let event = session.completed(common::stripe::Shape::Basil, now() - 30);
    let event_id = id(&event);
    let outcome = apply(&edge, &event).await;
    assert!(outcome.starts_with("failed: no product"), "{outcome}");
    // Something that went well, for contrast.
    let course = Checkout::payment("course-buyer@example.com", &stripe_id("cus")).with(|s| {
        s.metadata = json!({ "gatehouse_product": "pricing-course" });
    });
    let fine = course.completed(common::stripe::Shape::Basil, now() - 20);
    apply(&edge, &fine).await;

    let cookie = log_in(&edge, OPERATOR).await;
    let page = payments_page(&edge, &cookie, "").await;
    let failed = row(&page, &format!("data-event=\"{event_id}\""));
    assert!(failed.contains("data-verdict=\"failed\""), "{failed}");
    assert!(
        failed.contains("no product: the session has no line item price"),
        "{failed}"
    );
    assert!(failed.contains("Apply again"), "{failed}");
    let applied = row(&page, &format!("data-event=\"{}\"", id(&fine)));
    assert!(applied.contains("data-verdict=\"applied\""), "{applied}");
    assert!(
        applied.contains("granted bundle:pricing-course"),
        "{applied}"
    );
    assert!(!applied.contains("Apply again"), "{applied}");
    assert!(!page.contains(email), "the buyer's address is on the page");
    let only_failed = payments_page(&edge, &cookie, "?show=failed").await;
    assert!(only_failed.contains(&event_id) && !only_failed.contains(&id(&fine)));

    // Refused: another operator's form (a wrong token), no token, a member's session, none.
    let token = csrf(&page);
    let body = form(&[
        ("csrf", "0123456789abcdef0123456789abcdef"),
        ("id", &event_id),
    ]);
    let wrong = post_form(&edge, "/admin/payments/apply-again", &body, Some(&cookie)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let body = form(&[("id", &event_id)]);
    let missing = post_form(&edge, "/admin/payments/apply-again", &body, Some(&cookie)).await;
    assert!(missing.status.is_client_error(), "{}", missing.body);
    let member = member_login(&edge, "course-buyer@example.com").await;
    let body = form(&[("csrf", &token), ("id", &event_id)]);
    let as_member = post_form(&edge, "/admin/payments/apply-again", &body, Some(&member)).await;
    assert_eq!(
        as_member.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        as_member.body
    );
    let nobody = post_form(&edge, "/admin/payments/apply-again", &body, None).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED, "{}", nobody.body);
    let member_page = edge.get("/admin/payments", Some(&member)).await;
    assert_eq!(member_page.status, StatusCode::SEE_OTHER);
    assert!(!member_page.body.contains(&event_id));
    // Still failed: nothing was applied.
    let stored = edge.store.stripe_event(&event_id).await.unwrap().unwrap();
    assert!(stored.outcome.unwrap().starts_with("failed: "));

    // Applied again before the fix, it fails again, for the same reason.
    let again = post_form(&edge, "/admin/payments/apply-again", &body, Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert!(
        again
            .header("location")
            .unwrap()
            .ends_with("done=failed_again")
    );
    assert!(edge.store.member_by_email(email).await.unwrap().is_none());

    // The fix: site.toml sells the price, and the edge restarts on the same database.
    let TestEdge { site, .. } = edge;
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write("site.toml", &format!("{text}{EBOOK}"));
    let edge = start(site, url).await;
    let page = payments_page(&edge, &cookie, "").await;
    assert!(row(&page, &event_id).contains("data-verdict=\"failed\""));
    let token = csrf(&page);
    let body = form(&[("csrf", &token), ("id", &event_id)]);
    let done = post_form(&edge, "/admin/payments/apply-again", &body, Some(&cookie)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.header("location").unwrap();
    assert_eq!(location, "/_gate/admin/payments?done=applied");
    let page = payments_page(&edge, &cookie, "?done=applied").await;
    assert!(page.contains("The event was applied again"), "no flash");
    let applied = row(&page, &format!("data-event=\"{event_id}\""));
    assert!(applied.contains("data-verdict=\"applied\""), "{applied}");
    assert!(
        applied.contains("granted bundle:pricing-course (pricing-ebook)"),
        "{applied}"
    );
    assert!(!applied.contains("Apply again"), "{applied}");
    let buyer = member_login(&edge, email).await;
    assert!(opens_course(&edge, &buyer).await, "the buyer has no access");

    // Once applied, it cannot be applied again.
    let twice = post_form(&edge, "/admin/payments/apply-again", &body, Some(&cookie)).await;
    assert!(
        twice
            .header("location")
            .unwrap()
            .ends_with("done=not_failed")
    );
    let audit = audit_page(&edge, &cookie).await;
    assert_eq!(
        audit.matches("stripe_event_apply_again").count(),
        2,
        "{audit}"
    );
    assert!(
        audit.contains(OPERATOR) && audit.contains(&event_id),
        "{audit}"
    );
    assert!(
        audit.contains(email),
        "the audit names the member the event changed"
    );
}

#[tokio::test]
async fn a_failed_event_shows_why_and_applies_again_after_the_fix_on_sqlite() {
    let site = console::site();
    let url = sqlite_url(&site);
    a_failed_event_shows_why_and_applies_again_after_the_fix(site, &url).await;
}

#[tokio::test]
async fn a_failed_event_shows_why_and_applies_again_after_the_fix_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    a_failed_event_shows_why_and_applies_again_after_the_fix(console::site(), &url).await;
}

async fn retry_now_makes_a_given_up_delivery_due_now(url: Option<String>) {
    let site = console::site();
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{text}\n[[notify]]\nurl = \"{HOOK}\"\n"),
    );
    let url = url.unwrap_or_else(|| sqlite_url(&site));
    let edge = start(site, &url).await;
    edge.add_member(
        "joined@example.com",
        "gold",
        &Timestamp::now().to_string(),
        None,
    )
    .await;
    // The edge's workers are not running here: the check writes the notice, and one failed
    // attempt that gives up is recorded as the workers would.
    let clock = Clock::default();
    gatehouse::notify::check_due(&edge.store, &edge.state.config, &clock, false)
        .await
        .unwrap();
    let due = edge.store.due_deliveries(clock.now(), 10).await.unwrap();
    let [delivery] = &due[..] else {
        panic!("one delivery: {due:?}")
    };
    assert_eq!(delivery.target, HOOK);
    let lease = Timestamp::from_second(now() + 60).unwrap();
    let claim = edge
        .store
        .claim_delivery(delivery, lease)
        .await
        .unwrap()
        .unwrap();
    assert!(
        edge.store
            .delivery_failed(&claim, "could not connect", None, Timestamp::now())
            .await
            .unwrap()
    );
    assert!(
        edge.store
            .due_deliveries(clock.now(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let cookie = log_in(&edge, OPERATOR).await;
    let page = payments_page(&edge, &cookie, "?deliveries=undelivered").await;
    let marker = format!("data-delivery=\"{}\"", delivery.id);
    let given_up = row(&page, &marker);
    assert!(given_up.contains("data-state=\"abandoned\""), "{given_up}");
    assert!(
        given_up.contains("http://127.0.0.1:9 (endpoint 1 in site.toml)<")
            && !given_up.contains("gatehouse-hook"),
        "the endpoint by origin and place, never its path: {given_up}"
    );
    assert!(given_up.contains("could not connect"), "{given_up}");
    assert!(given_up.contains("member.joined"), "{given_up}");
    assert!(
        !page.contains("query-s3cret"),
        "the endpoint's query string is shown"
    );
    assert!(
        !page.contains("joined@example.com"),
        "the member's address is shown"
    );

    // Refused without the token, and with a member's session.
    let body = form(&[("id", &delivery.id.to_string()), ("csrf", "nope")]);
    let refused = post_form(&edge, "/admin/payments/retry-now", &body, Some(&cookie)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let body = form(&[("id", &delivery.id.to_string()), ("csrf", &csrf(&page))]);
    let nobody = post_form(&edge, "/admin/payments/retry-now", &body, None).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED, "{}", nobody.body);
    assert!(
        edge.store
            .due_deliveries(clock.now(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let done = post_form(&edge, "/admin/payments/retry-now", &body, Some(&cookie)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.header("location").unwrap().ends_with("done=retried"));
    let due = edge.store.due_deliveries(clock.now(), 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [delivery.id]);
    assert!(due[0].next_attempt <= now());
    let page = payments_page(&edge, &cookie, "").await;
    let pending = row(&page, &marker);
    assert!(pending.contains("data-state=\"pending\""), "{pending}");
    assert!(pending.contains("next attempt"), "{pending}");
    let audit = audit_page(&edge, &cookie).await;
    assert!(audit.contains("delivery_retry_now"), "{audit}");
    assert!(
        audit.contains("joined@example.com"),
        "the audit names the member"
    );

    // Delivered, there is nothing to retry.
    let claim = edge
        .store
        .claim_delivery(&due[0], Timestamp::from_second(now() + 60).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        edge.store
            .delivered(&claim, Timestamp::now())
            .await
            .unwrap()
    );
    let again = post_form(&edge, "/admin/payments/retry-now", &body, Some(&cookie)).await;
    assert!(
        again
            .header("location")
            .unwrap()
            .ends_with("done=not_pending")
    );
    let page = payments_page(&edge, &cookie, "").await;
    assert!(row(&page, &marker).contains("data-state=\"delivered\""));
    assert!(!row(&page, &marker).contains("Retry now"));
}

#[tokio::test]
async fn retry_now_makes_a_given_up_delivery_due_now_on_sqlite() {
    retry_now_makes_a_given_up_delivery_due_now(None).await;
}

#[tokio::test]
async fn retry_now_makes_a_given_up_delivery_due_now_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    retry_now_makes_a_given_up_delivery_due_now(Some(url)).await;
}

/// Pages of 50, newest first by when they were received, each page starting where the last
/// ended; received in the same second, by id.
#[tokio::test]
async fn events_page_by_a_cursor_newest_first() {
    let site = console::site();
    let url = sqlite_url(&site);
    let edge = start(site, &url).await;
    let t0 = now() - 1000;
    let mut ids = Vec::new();
    for i in 0..55 {
        let event = common::stripe::event(
            "customer.tax_id.created",
            common::stripe::Shape::Basil,
            t0,
            json!({ "id": stripe_id("txi"), "object": "tax_id" }),
        );
        let event_id = id(&event);
        // Received in pairs: two events in each second.
        let received = Timestamp::from_second(t0 + i / 2).unwrap();
        let body = common::stripe::body(&event);
        let kind = "customer.tax_id.created";
        assert!(
            edge.store
                .record_stripe_event(&event_id, kind, t0, &body, received)
                .await
                .unwrap()
        );
        ids.push((t0 + i / 2, event_id));
    }
    ids.sort_by(|a, b| b.cmp(a));
    let cookie = log_in(&edge, OPERATOR).await;
    let first = payments_page(&edge, &cookie, "").await;
    let order = |page: &str| {
        let mut shown: Vec<(usize, &str)> = ids
            .iter()
            .filter_map(|(_, id)| {
                page.find(&format!("data-event=\"{id}\""))
                    .map(|at| (at, id.as_str()))
            })
            .collect();
        shown.sort();
        shown
            .into_iter()
            .map(|(_, id)| id.to_owned())
            .collect::<Vec<_>>()
    };
    let newest: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(order(&first), newest[..50]);
    // Not applied yet: waiting for the workers.
    assert!(row(&first, &newest[0]).contains("data-verdict=\"waiting\""));
    let marker = "href=\"/_gate/admin/payments?";
    let older = first
        .match_indices(marker)
        .map(|(at, _)| {
            let rest = &first[at + marker.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .find(|link| link.contains("before_at"))
        .unwrap()
        .replace("&amp;", "&");
    let second = payments_page(&edge, &cookie, &format!("?{older}")).await;
    assert_eq!(order(&second), newest[50..]);
    assert!(!second.contains("Older events"));
    let waiting = payments_page(&edge, &cookie, "?show=waiting").await;
    assert_eq!(order(&waiting), newest[..50]);
}
