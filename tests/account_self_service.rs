//! The account page's self-service fields of `GET /_gate/me` (issue 17): each right's plan and
//! status in words (`words`), the product that pays for it (`product`), and the site's
//! `billing_url`. Members are made the real ways: Stripe webhooks signed as Stripe signs them,
//! and the admin API; they log in by magic link or password. SQLite, and PostgreSQL for the
//! billing query.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Site;
use common::edge::{TestEdge, token_from_mail};
use common::servers::postgres_database;
use common::stripe::{Checkout, Invoice, SECRET, Shape, Subscription, apply, now, stripe_id};
use gatehouse::server::Hidden;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

const GOLD_MONTHLY_PRICE: &str = "price_demo_gold_monthly";
const PLAN_PRICE: &str = "price_demo_launch_workshop";
/// 2026-01-05T09:00:00Z: when the Stripe members below subscribe.
const T0: i64 = 1_767_603_600;
/// 2031-01-12T00:00:00Z: the end of the paid period of a cancelled subscription.
const PERIOD_END: i64 = 1_925_942_400;
const PASSWORD: &str = "correct horse battery staple";

async fn edge_on(site: Site, url: Option<String>) -> TestEdge {
    let url =
        url.unwrap_or_else(|| format!("sqlite://{}", site.path(".gatehouse/members.db").display()));
    TestEdge::start_with(site, &url, |o| {
        o.stripe_secrets = Hidden(vec![SECRET.into()])
    })
    .await
}

/// The demo site's edge (billing_url = "/pricing/#billing") with Stripe webhooks on.
async fn demo_edge() -> TestEdge {
    edge_on(Site::demo(), None).await
}

/// Logs in by the emailed link, as a buyer without a password does; the session cookie.
async fn login_by_link(edge: &TestEdge, email: &str) -> String {
    let before = edge.outbox().len();
    let answer = edge.post("/login", &json!({ "email": email }), None).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let token = token_from_mail(edge.wait_for_outbox(before + 1).await.last().unwrap());
    let form = format!("token={token}");
    let used = edge
        .post_raw("/auth", "application/x-www-form-urlencoded", &form)
        .await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "{}", used.body);
    used.session_cookie().expect("a session cookie")
}

async fn me(edge: &TestEdge, cookie: &str) -> Value {
    let answer = edge.get("/me", Some(cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()
}

/// A gold monthly subscription bought by `email` at `t` (subscription, then Checkout).
async fn subscribe_gold(edge: &TestEdge, email: &str, t: i64) -> Subscription {
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, GOLD_MONTHLY_PRICE).with(|s| s.period_end = PERIOD_END);
    apply(edge, &sub.created_event(Shape::Basil, t)).await;
    let session = Checkout::subscription(email, &customer, &sub.id);
    let outcome = apply(edge, &session.completed(Shape::Basil, t + 1)).await;
    assert!(outcome.contains("granted"), "{outcome}");
    sub
}

/// A member made through the admin API at `since` with a password; their session cookie.
async fn admin_member(edge: &TestEdge, email: &str, level: &str, since: &str) -> String {
    edge.add_member(email, level, since, Some(PASSWORD)).await;
    edge.login(email, PASSWORD).await
}

/// "12 Jan 2027", in UTC (the console's dates), for instants only known at run time.
fn day(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .unwrap()
        .to_zoned(TimeZone::UTC)
        .strftime("%-d %b %Y")
        .to_string()
}

#[tokio::test]
async fn an_active_monthly_subscriber_reads_gold_monthly_subscription_and_no_invented_renewal() {
    let edge = demo_edge().await;
    let email = "monthly@example.com";
    subscribe_gold(&edge, email, T0).await;
    let cookie = login_by_link(&edge, email).await;
    let body = me(&edge, &cookie).await;
    let level = &body["standing"]["level"];
    assert_eq!(
        level["words"],
        json!({
            "plan": "Gold, monthly subscription",
            "billing": "monthly subscription",
            // Stripe's period end is not kept: no renewal date is made up.
            "status": "Active",
        }),
        "{body}"
    );
    assert_eq!(
        level["product"],
        json!({ "id": "gold-monthly", "name": "Gold, monthly", "billing": "subscription" })
    );
    // Every field /me had keeps its meaning.
    assert_eq!(level["id"], "gold");
    assert_eq!(level["name"], "Gold");
    assert_eq!(level["status"], "active");
    assert_eq!(level["basis"], "recurring");
    assert_eq!(level["until"], Value::Null);
    assert_eq!(body["email"], email);
    assert_eq!(body["epoch"], 1);
    assert!(body["unlocks"].is_array(), "{body}");
    assert_eq!(body["billing_url"], "/pricing/#billing");

    // A course bought once beside it names its own product.
    let purchase = Checkout::payment(email, &stripe_id("cus"))
        .with(|s| s.metadata = json!({ "gatehouse_product": "pricing-course" }));
    apply(&edge, &purchase.completed(Shape::Basil, T0 + 100)).await;
    let body = me(&edge, &cookie).await;
    let course = &body["standing"]["bundles"][0];
    assert_eq!(course["id"], "pricing-course", "{body}");
    assert_eq!(course["words"]["plan"], "Pricing Course, one-time purchase");
    assert_eq!(
        course["product"]["name"],
        "Pricing Course (lifetime access)"
    );
    assert_eq!(course["product"]["billing"], "single");
}

#[tokio::test]
async fn a_pending_cancel_member_reads_until_when_access_lasts() {
    let edge = demo_edge().await;
    let email = "leaving@example.com";
    let sub = subscribe_gold(&edge, email, T0).await;
    let cancelling = sub.with(|s| {
        s.cancel_at_period_end = true;
        s.cancel_at = Some(PERIOD_END);
        s.canceled_at = Some(T0 + 100);
    });
    let previous = json!({ "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null });
    let outcome = apply(
        &edge,
        &cancelling.updated_event(Shape::Basil, T0 + 100, previous),
    )
    .await;
    assert!(outcome.contains("pending-cancel"), "{outcome}");
    let cookie = login_by_link(&edge, email).await;
    let level = me(&edge, &cookie).await["standing"]["level"].clone();
    assert_eq!(level["status"], "pending-cancel", "{level}");
    assert_eq!(level["until"], "2031-01-12T00:00:00Z");
    assert_eq!(
        level["words"]["status"],
        "Pending cancel: access until 12 Jan 2031"
    );
    assert_eq!(level["words"]["plan"], "Gold, monthly subscription");
    assert_eq!(level["product"]["id"], "gold-monthly");
}

#[tokio::test]
async fn an_overdue_member_reads_since_when_and_still_gets_the_billing_link() {
    let edge = demo_edge().await;
    let email = "late@example.com";
    let sub = subscribe_gold(&edge, email, T0).await;
    let failed = Invoice::failed(&sub, email, 1900);
    // 2026-01-08T12:00:00Z
    let outcome = apply(&edge, &failed.failed_event(Shape::Basil, 1_767_873_600)).await;
    assert!(outcome.contains("overdue"), "{outcome}");
    let cookie = login_by_link(&edge, email).await;
    let body = me(&edge, &cookie).await;
    let level = &body["standing"]["level"];
    assert_eq!(level["status"], "overdue", "{body}");
    assert_eq!(level["words"]["status"], "Overdue since 8 Jan 2026");
    assert_eq!(level["words"]["plan"], "Gold, monthly subscription");
    assert_eq!(body["billing_url"], "/pricing/#billing");
}

#[tokio::test]
async fn a_complimentary_member_reads_complimentary_and_no_product() {
    let edge = demo_edge().await;
    let email = "guest@example.com";
    let cookie = admin_member(&edge, email, "free", "2026-02-01T00:00:00Z").await;
    edge.event(
        email,
        json!({ "type": "complimentary", "access": "level:gold", "at": "2026-02-02T00:00:00Z" }),
    )
    .await;
    let level = me(&edge, &cookie).await["standing"]["level"].clone();
    assert_eq!(level["basis"], "complimentary", "{level}");
    assert_eq!(
        level["words"],
        json!({ "plan": "Gold, complimentary", "billing": "complimentary", "status": "Active" })
    );
    assert_eq!(level["product"], Value::Null);
}

#[tokio::test]
async fn expired_rights_read_expired_on_their_day() {
    let edge = demo_edge().await;
    // Gold ended by an operator's `expire`: gold has no `on_expire`, so it stays, expired.
    let email = "ended@example.com";
    let cookie = admin_member(&edge, email, "gold", "2025-03-01T10:00:00Z").await;
    edge.event(
        email,
        json!({ "type": "expire", "access": "level:gold", "at": "2025-06-15T08:30:00Z" }),
    )
    .await;
    // The workshop runs out by itself 120 days after it was granted (2026-01-05 + 120 d).
    edge.event(
        email,
        json!({ "type": "bundle_add", "access": "bundle:launch-workshop", "at": "2026-01-05T09:00:00Z" }),
    )
    .await;
    let body = me(&edge, &cookie).await;
    let level = &body["standing"]["level"];
    assert_eq!(level["status"], "expired", "{body}");
    assert_eq!(level["words"]["status"], "Expired on 15 Jun 2025");
    // Granted without a product: the basis gold's products imply, and no product named.
    assert_eq!(level["words"]["plan"], "Gold, subscription");
    assert_eq!(level["product"], Value::Null);
    let workshop = &body["standing"]["bundles"][0];
    assert_eq!(workshop["status"], "expired", "{body}");
    assert_eq!(workshop["words"]["status"], "Expired on 5 May 2026");
    assert_eq!(workshop["words"]["plan"], "Launch Workshop, payment plan");
}

#[tokio::test]
async fn an_expiring_pass_reads_active_until_its_end() {
    let edge = demo_edge().await;
    let email = "pass@example.com";
    // Silver expires 365 days after it is granted.
    let cookie = admin_member(&edge, email, "silver", "2026-11-01T00:00:00Z").await;
    let level = me(&edge, &cookie).await["standing"]["level"].clone();
    assert_eq!(level["expires_at"], "2027-11-01T00:00:00Z", "{level}");
    assert_eq!(level["words"]["status"], "Active until 1 Nov 2027");
    assert_eq!(level["words"]["plan"], "Silver, one-time purchase");
}

/// A payment plan with two of its three payments made: the plan says so.
async fn plan_two_of_three(edge: &TestEdge) {
    let email = "plan@example.com";
    let t0 = now() - 3600;
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, PLAN_PRICE).with(|s| s.amount = 3300);
    apply(edge, &sub.created_event(Shape::Basil, t0)).await;
    let session = Checkout::subscription(email, &customer, &sub.id).with(|s| s.amount_total = 3300);
    apply(edge, &session.completed(Shape::Basil, t0 + 1)).await;
    for (n, t) in [(1, t0 + 2), (2, t0 + 100)] {
        let invoice = Invoice::paid(&sub, email, 3300).with(|i| i.created = t);
        let outcome = apply(edge, &invoice.paid_event(Shape::Basil, t)).await;
        assert!(outcome.contains(&format!("payment {n} of 3")), "{outcome}");
    }
    let cookie = login_by_link(edge, email).await;
    let workshop = me(edge, &cookie).await["standing"]["bundles"][0].clone();
    assert_eq!(workshop["id"], "launch-workshop", "{workshop}");
    assert_eq!(
        workshop["words"]["plan"],
        "Launch Workshop, payment plan, 2 of 3 paid"
    );
    assert_eq!(
        workshop["product"],
        json!({
            "id": "launch-workshop-3-payments",
            "name": "Launch Workshop, 3 monthly payments",
            "billing": "payment-plan",
        })
    );
    // The workshop expires 120 days after it was granted (the Checkout, at t0 + 1).
    let ends = day(t0 + 1 + 120 * 86_400);
    assert_eq!(workshop["words"]["status"], format!("Active until {ends}"));
}

#[tokio::test]
async fn a_payment_plan_reads_how_many_payments_are_made() {
    plan_two_of_three(&demo_edge().await).await;
}

#[tokio::test]
async fn on_postgresql_the_plan_and_its_payments_read_the_same() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let edge = edge_on(Site::demo(), Some(url)).await;
    plan_two_of_three(&edge).await;
    subscribe_gold(&edge, "pg-monthly@example.com", T0).await;
    let cookie = login_by_link(&edge, "pg-monthly@example.com").await;
    let level = me(&edge, &cookie).await["standing"]["level"].clone();
    assert_eq!(
        level["words"]["plan"], "Gold, monthly subscription",
        "{level}"
    );
}

#[tokio::test]
async fn billing_url_is_in_me_only_when_the_site_sets_one() {
    let site = Site::demo();
    site.edit("site.toml", "billing_url = \"/pricing/#billing\"\n", "");
    let edge = edge_on(site, None).await;
    let cookie = admin_member(&edge, "nolink@example.com", "gold", "2026-01-01T00:00:00Z").await;
    let body = me(&edge, &cookie).await;
    assert!(body.get("billing_url").is_none(), "{body}");
    // The words are there all the same.
    assert_eq!(
        body["standing"]["level"]["words"]["status"], "Active",
        "{body}"
    );
}
