//! `POST /_gate/webhooks/stripe` end to end (DESIGN §2, §5, §6): events in Stripe's real shapes
//! (before 2025 and "basil"), signed like Stripe signs them, posted raw to an in-process edge
//! over the demo site and a real database. What a member may open is checked after each step
//! through the real `POST /_gate/keys`, logged in with a magic link as a buyer would be.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Site;
use common::edge::{Answer, TestEdge, token_from_mail};
use common::servers::postgres_database;
use common::stripe::{
    Charge, Checkout, Dispute, Invoice, SECRET, Shape, Subscription, apply, body, deliver,
    deliver_ok, event, id, now, post, signature, stripe_id,
};
use gatehouse::gate::{MasterSecret, Rule, derive_key};
use gatehouse::server::Hidden;
use jiff::Timestamp;
use serde_json::{Value, json};

const GOLD: &str = "level=gold;bundles=-;drip=0";
const SILVER: &str = "level=silver;bundles=-;drip=0";
const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
const WORKSHOP: &str = "level=-;bundles=launch-workshop;drip=0";

const GOLD_PRICE: &str = "price_demo_gold_monthly";
const SILVER_PRICE: &str = "price_demo_silver_pass";
const COURSE_PRICE: &str = "price_demo_pricing_course";
const PLAN_PRICE: &str = "price_demo_launch_workshop";

/// Prices of the products some tests add to the demo site (see [`site_selling`]).
const GOLD_LIFETIME_PRICE: &str = "price_gold_lifetime";
const SILVER_MONTHLY_PRICE: &str = "price_silver_monthly";
const COURSE_MONTHLY_PRICE: &str = "price_course_monthly";

/// Gold for good, in one payment: beside a gold subscription, two payments pay for one right.
const GOLD_LIFETIME: &str = r#"
[[products]]
id = "gold-lifetime"
name = "Gold, lifetime"
grants = "level:gold"
billing = "single"
stripe_price = "price_gold_lifetime"
"#;

/// Silver by subscription, so that a subscription can switch between silver and gold.
const SILVER_MONTHLY: &str = r#"
[[products]]
id = "silver-monthly"
name = "Silver, monthly"
grants = "level:silver"
billing = "subscription"
stripe_price = "price_silver_monthly"
interval = "1 month"
"#;

/// The pricing course by subscription, so that a subscription can switch from a bundle to a
/// level.
const COURSE_MONTHLY: &str = r#"
[[products]]
id = "course-monthly"
name = "Pricing Course, monthly"
grants = "bundle:pricing-course"
billing = "subscription"
stripe_price = "price_course_monthly"
interval = "1 month"
"#;

/// The second secret of an endpoint whose secret is being rolled.
const ROLLED_SECRET: &str = "whsec_rolledGatehouseSecret9876543210zyxwvuTS";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sqlite_url(site: &Site) -> String {
    format!("sqlite://{}", site.path(".gatehouse/members.db").display())
}

/// The demo site, also selling `products` (`[[products]]` tables appended to its site.toml).
fn site_selling(products: &[&str]) -> Site {
    let site = Site::demo();
    let mut text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    for product in products {
        text.push_str(product);
    }
    site.write("site.toml", &text);
    site
}

/// The demo site's edge with Stripe webhooks on (signing secret [`SECRET`]).
async fn start() -> TestEdge {
    start_site(Site::demo()).await
}

async fn start_site(site: Site) -> TestEdge {
    let url = sqlite_url(&site);
    start_on(site, &url).await
}

async fn start_on(site: Site, url: &str) -> TestEdge {
    TestEdge::start_with(site, url, |o| {
        o.stripe_secrets = Hidden(vec![SECRET.into()]);
    })
    .await
}

fn shape_name(shape: Shape) -> &'static str {
    match shape {
        Shape::Old => "old",
        Shape::Basil => "basil",
    }
}

/// RFC 3339, as the API prints instants.
fn ts(secs: i64) -> String {
    Timestamp::from_second(secs).unwrap().to_string()
}

fn gate(rule: &str) -> String {
    Rule::parse(rule).unwrap().gate_id().as_str().to_owned()
}

/// Logs in as a buyer does: a magic link by email, then the link's POST. Returns the cookie.
async fn login(edge: &TestEdge, email: &str) -> String {
    let before = edge.outbox().len();
    let answer = edge.post("/login", &json!({ "email": email }), None).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let mails = edge.wait_for_outbox(before + 1).await;
    let mail = mails.last().unwrap();
    assert!(mail.contains(&format!("To: {email}")), "{mail}");
    let token = token_from_mail(mail);
    let used = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}"),
        )
        .await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "{}", used.body);
    used.session_cookie().expect("a session cookie")
}

/// What `POST /keys` says of `rule` for this session: `open` (with the right key), or the
/// locked reason.
async fn access(edge: &TestEdge, cookie: &str, rule: &str) -> String {
    let answer = edge.keys(&[rule], Some(cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    let gate = gate(rule);
    if let Some(key) = body["keys"][&gate].as_str() {
        let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
        let expected = derive_key(&secret, 1, &Rule::parse(rule).unwrap()).to_base64url();
        assert_eq!(key, expected, "{body}");
        assert!(body["locked"].get(&gate).is_none(), "{body}");
        "open".to_owned()
    } else {
        body["locked"][&gate]["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("neither a key nor a reason for {rule}: {body}"))
            .to_owned()
    }
}

/// The admin view of a member (`GET /admin/members/{email}`).
async fn admin_member(edge: &TestEdge, email: &str) -> Value {
    let answer = edge.admin_get(&format!("/admin/members/{email}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()
}

/// The member's history as `type access [until T] [(reason)]`, oldest first; every event is
/// Stripe's.
async fn history(edge: &TestEdge, email: &str) -> Vec<String> {
    let member = admin_member(edge, email).await;
    member["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {member}"))
        .iter()
        .map(|event| {
            assert_eq!(event["source"], "stripe", "{event}");
            let mut line = format!(
                "{} {}",
                event["type"].as_str().unwrap(),
                event["access"].as_str().unwrap_or("-")
            );
            if let Some(until) = event["until"].as_str() {
                line.push_str(&format!(" until {until}"));
            }
            if let Some(reason) = event["reason"].as_str() {
                line.push_str(&format!(" ({reason})"));
            }
            line
        })
        .collect()
}

/// `standing` from `GET /me`.
async fn me(edge: &TestEdge, cookie: &str) -> Value {
    let answer = edge.get("/me", Some(cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()["standing"].clone()
}

async fn member_exists(edge: &TestEdge, email: &str) -> bool {
    edge.store.member_by_email(email).await.unwrap().is_some()
}

async fn stored_events(edge: &TestEdge) -> usize {
    edge.store.recent_stripe_events(1000).await.unwrap().len()
}

/// A refusal: the status, `{"error","message"}` and nothing else, and no secret in it.
fn assert_refused(answer: &Answer, status: StatusCode, code: &str, case: &str) {
    assert_eq!(answer.status, status, "{case}: {}", answer.body);
    let body = answer.json();
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["error", "message"], "{case}: {body}");
    assert_eq!(body["error"], code, "{case}: {body}");
    assert!(
        !body["message"].as_str().unwrap().trim().is_empty(),
        "{case}: {body}"
    );
    for secret in [SECRET, ROLLED_SECRET] {
        assert!(!answer.body.contains(secret), "{case} reveals a secret");
        let core = secret.trim_start_matches("whsec_");
        assert!(!answer.body.contains(core), "{case} reveals a secret");
        assert!(
            !answer.body.contains(&core[..12]),
            "{case} reveals a secret"
        );
    }
}

/// A single purchase of the pricing course (product named in the session's metadata).
fn course_purchase(email: &str) -> Checkout {
    Checkout::payment(email, &stripe_id("cus")).with(|s| {
        s.metadata = json!({ "gatehouse_product": "pricing-course" });
    })
}

/// A gold subscription bought at `t`: `customer.subscription.created` then the completed
/// Checkout Session, as Stripe usually sends them. Returns the subscription.
async fn subscribe_gold(edge: &TestEdge, shape: Shape, email: &str, t: i64) -> Subscription {
    subscribe_to(edge, shape, email, GOLD_PRICE, t).await
}

/// The same for a subscription to `price`.
async fn subscribe_to(
    edge: &TestEdge,
    shape: Shape,
    email: &str,
    price: &str,
    t: i64,
) -> Subscription {
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, price);
    apply(edge, &sub.created_event(shape, t)).await;
    let outcome = apply(
        edge,
        &Checkout::subscription(email, &customer, &sub.id).completed(shape, t + 1),
    )
    .await;
    assert!(outcome.contains("granted"), "{outcome}");
    sub
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_forged_signature_is_refused_and_nothing_is_stored() {
    let edge = start().await;
    let event = course_purchase("forged@example.com").completed(Shape::Old, now() - 5);
    let payload = body(&event);

    let wrong_secret = signature("whsec_notTheEndpointSecret000000000000", now(), &payload);
    let answer = post(&edge, &payload, Some(&wrong_secret)).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "bad_signature",
        "wrong secret",
    );

    // A valid signature over another body does not cover this one.
    let other = body(&course_purchase("forged@example.com").completed(Shape::Old, now() - 5));
    let for_other = signature(SECRET, now(), &other);
    let answer = post(&edge, &payload, Some(&for_other)).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "bad_signature",
        "other body",
    );

    assert!(
        edge.store
            .stripe_event(&id(&event))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(stored_events(&edge).await, 0);
    assert!(!member_exists(&edge, "forged@example.com").await);

    // Nothing of the forged delivery was kept: the real one is new, and applied.
    let receipt = deliver_ok(&edge, &event).await;
    assert_eq!(receipt["duplicate"], false, "{receipt}");
    assert!(
        receipt["outcome"]
            .as_str()
            .unwrap()
            .contains("granted bundle:pricing-course"),
        "{receipt}"
    );
    let cookie = login(&edge, "forged@example.com").await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

#[tokio::test]
async fn stale_and_far_future_signatures_are_refused() {
    let edge = start().await;
    let event = course_purchase("late@example.com").completed(Shape::Basil, now() - 400);
    let payload = body(&event);
    // A minute past the tolerance either way, as the accepted case below is a minute inside
    // it: the test's own pace does not move a case across the line.
    for (case, t) in [("360 s old", now() - 360), ("360 s ahead", now() + 360)] {
        let header = signature(SECRET, t, &payload);
        let answer = post(&edge, &payload, Some(&header)).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_signature", case);
    }
    assert_eq!(stored_events(&edge).await, 0);

    // Within the tolerance, the same body is fine: only the signature's age was wrong.
    let header = signature(SECRET, now() - 240, &payload);
    let answer = post(&edge, &payload, Some(&header)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["duplicate"], false);
}

#[tokio::test]
async fn missing_and_malformed_signature_headers_are_refused() {
    let edge = start().await;
    let event = course_purchase("malformed@example.com").completed(Shape::Old, now());
    let payload = body(&event);
    let t = now();
    let good = signature(SECRET, t, &payload);
    let good_v1 = good.split_once(",v1=").unwrap().1.to_owned();

    let answer = post(&edge, &payload, None).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "bad_signature",
        "no header",
    );
    let cases = [
        ("empty", String::new()),
        ("garbage", "garbage".to_owned()),
        ("t not a number", format!("t=abc,v1={good_v1}")),
        ("no t", format!("v1={good_v1}")),
        ("t twice", format!("t={t},t={t},v1={good_v1}")),
        ("no v1", format!("t={t}")),
        ("v1 not hex", format!("t={t},v1=zz{}", &good_v1[2..])),
        ("v1 cut short", format!("t={t},v1={}", &good_v1[..32])),
        ("t of another time", format!("t={},v1={good_v1}", t - 1)),
    ];
    for (case, header) in &cases {
        let answer = post(&edge, &payload, Some(header)).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_signature", case);
    }
    assert_eq!(stored_events(&edge).await, 0);
    assert!(!member_exists(&edge, "malformed@example.com").await);
}

#[tokio::test]
async fn a_header_with_two_v1_signatures_is_accepted_when_the_second_matches() {
    let edge = start().await;
    let event = course_purchase("two@example.com").completed(Shape::Basil, now());
    let payload = body(&event);
    let t = now();
    let good = signature(SECRET, t, &payload);
    let good_v1 = good.split_once(",v1=").unwrap().1;
    let wrong_v1 = signature("whsec_someOtherSecret", t, &payload)
        .split_once(",v1=")
        .unwrap()
        .1
        .to_owned();
    let header = format!("t={t},v1={wrong_v1},v1={good_v1}");
    let answer = post(&edge, &payload, Some(&header)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["duplicate"], false);
    let cookie = login(&edge, "two@example.com").await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

#[tokio::test]
async fn a_v0_only_signature_is_refused() {
    let edge = start().await;
    let event = course_purchase("v0@example.com").completed(Shape::Old, now());
    let payload = body(&event);
    let t = now();
    let good = signature(SECRET, t, &payload);
    let good_v1 = good.split_once(",v1=").unwrap().1;
    // The right HMAC, but under the legacy scheme name: it must not count.
    let header = format!("t={t},v0={good_v1}");
    let answer = post(&edge, &payload, Some(&header)).await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_signature", "v0 only");
    assert_eq!(stored_events(&edge).await, 0);
    // Beside a matching v1, a v0 is simply ignored.
    let header = format!("t={t},v1={good_v1},v0={}", "00".repeat(32));
    let answer = post(&edge, &payload, Some(&header)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn an_edge_rolling_its_secret_accepts_either_secret() {
    let site = Site::demo();
    let url = sqlite_url(&site);
    let edge = TestEdge::start_with(site, &url, |o| {
        o.stripe_secrets = Hidden(vec![SECRET.into(), ROLLED_SECRET.into()]);
    })
    .await;
    for (n, secret) in [SECRET, ROLLED_SECRET].into_iter().enumerate() {
        let email = format!("roll{n}@example.com");
        let payload = body(&course_purchase(&email).completed(Shape::Old, now()));
        let header = signature(secret, now(), &payload);
        let answer = post(&edge, &payload, Some(&header)).await;
        assert_eq!(answer.status, StatusCode::OK, "secret {n}: {}", answer.body);
        assert!(member_exists(&edge, &email).await);
    }
    // While rolling, Stripe signs with both: one v1 per secret.
    let payload = body(&course_purchase("both@example.com").completed(Shape::Basil, now()));
    let t = now();
    let old_v1 = signature(SECRET, t, &payload)
        .split_once(",v1=")
        .unwrap()
        .1
        .to_owned();
    let new_v1 = signature(ROLLED_SECRET, t, &payload)
        .split_once(",v1=")
        .unwrap()
        .1
        .to_owned();
    let answer = post(
        &edge,
        &payload,
        Some(&format!("t={t},v1={new_v1},v1={old_v1}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let payload = body(&course_purchase("third@example.com").completed(Shape::Old, now()));
    let header = signature("whsec_aThirdSecretNobodyConfigured", now(), &payload);
    let answer = post(&edge, &payload, Some(&header)).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "bad_signature",
        "third secret",
    );
    assert!(!member_exists(&edge, "third@example.com").await);
}

#[tokio::test]
async fn without_a_secret_webhooks_are_off() {
    let edge = TestEdge::sqlite().await;
    let event = course_purchase("off@example.com").completed(Shape::Old, now());
    let answer = deliver(&edge, &event).await;
    assert_refused(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "webhooks_off",
        "no secret",
    );
    let unsigned = post(&edge, &body(&event), None).await;
    assert_refused(
        &unsigned,
        StatusCode::SERVICE_UNAVAILABLE,
        "webhooks_off",
        "no secret, no header",
    );
    assert_eq!(stored_events(&edge).await, 0);
    assert!(!member_exists(&edge, "off@example.com").await);
}

#[tokio::test]
async fn refusals_are_json_errors_that_never_reveal_the_secret_or_the_expected_signature() {
    let edge = start().await;
    let payload = body(&course_purchase("leak@example.com").completed(Shape::Old, now()));
    let t = now();
    let right = signature(SECRET, t, &payload);
    let right_v1 = right.split_once(",v1=").unwrap().1.to_owned();
    let wrong = signature(ROLLED_SECRET, t, &payload);
    let cases = [
        ("mismatch", Some(wrong)),
        ("stale", Some(signature(SECRET, t - 1000, &payload))),
        ("malformed", Some("t=;v1".to_owned())),
        ("missing", None),
    ];
    for (case, header) in cases {
        let answer = post(&edge, &payload, header.as_deref()).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_signature", case);
        assert!(
            !answer.body.contains(&right_v1) && !answer.body.contains(&right_v1[..16]),
            "{case}: the expected signature is revealed: {}",
            answer.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_body_that_is_not_a_stripe_event_is_a_bad_event() {
    let edge = start().await;
    let mut no_id = course_purchase("noid@example.com").completed(Shape::Old, now());
    no_id.as_object_mut().unwrap().remove("id");
    let mut no_object = course_purchase("noobj@example.com").completed(Shape::Basil, now());
    no_object["data"] = json!({});
    let cases = [
        ("no id", body(&no_id), "id"),
        ("no data.object", body(&no_object), "data.object"),
        ("not JSON", "checkout.session.completed".to_owned(), "JSON"),
        ("a JSON list", "[1, 2, 3]".to_owned(), "id"),
    ];
    for (case, payload, says) in &cases {
        let header = signature(SECRET, now(), payload);
        let answer = post(&edge, payload, Some(&header)).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_event", case);
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{case}: {message}");
    }
    assert_eq!(stored_events(&edge).await, 0);
    assert!(edge.store.members().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_acknowledged_and_changes_nothing() {
    let edge = start().await;
    let email = "taxid@example.com";
    let session = course_purchase(email);
    apply(&edge, &session.completed(Shape::Basil, now() - 10)).await;
    let before = history(&edge, email).await;

    let tax_id = json!({
        "id": stripe_id("txi"),
        "object": "tax_id",
        "country": "NL",
        "created": now(),
        "customer": session.customer,
        "livemode": false,
        "owner": { "customer": session.customer, "type": "customer" },
        "type": "eu_vat",
        "value": "NL123456789B01",
        "verification": { "status": "pending", "verified_address": null, "verified_name": null },
    });
    let unknown = event("customer.tax_id.created", Shape::Basil, now(), tax_id);
    let outcome = apply(&edge, &unknown).await;
    assert!(outcome.contains("customer.tax_id.created"), "{outcome}");

    let stored = edge
        .store
        .stripe_event(&id(&unknown))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.kind, "customer.tax_id.created");
    assert!(stored.applied_at.is_some(), "{stored:?}");
    assert_eq!(stored.outcome.as_deref(), Some(outcome.as_str()));
    assert_eq!(
        serde_json::from_str::<Value>(&stored.payload).unwrap(),
        unknown
    );
    assert_eq!(history(&edge, email).await, before);
    assert_eq!(edge.store.members().await.unwrap().len(), 1);
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

// ---------------------------------------------------------------------------------------------
// Checkout: subscriptions
// ---------------------------------------------------------------------------------------------

/// Buys gold monthly in `shape` with a session whose buyer is given by `buyer`, and checks the
/// member made from it opens gold at once.
async fn subscribe_and_check(edge: &TestEdge, shape: Shape, email: &str, buyer: fn(&mut Checkout)) {
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, GOLD_PRICE);
    let t = now() - 120;
    let outcome = apply(edge, &sub.created_event(shape, t)).await;
    assert!(outcome.contains("waiting"), "{outcome}");
    assert!(!member_exists(edge, email).await, "{email} before checkout");

    let session = Checkout::subscription(email, &customer, &sub.id).with(buyer);
    let outcome = apply(edge, &session.completed(shape, t + 1)).await;
    assert!(outcome.contains("level:gold: granted"), "{outcome}");
    assert!(member_exists(edge, email).await, "{email} after checkout");
    assert_eq!(history(edge, email).await, ["level_set level:gold"]);

    let cookie = login(edge, email).await;
    assert_eq!(access(edge, &cookie, GOLD).await, "open", "{email}");
    let standing = me(edge, &cookie).await;
    assert_eq!(standing["level"]["id"], "gold", "{standing}");
    assert_eq!(standing["level"]["status"], "active", "{standing}");
    assert_eq!(standing["level"]["basis"], "recurring", "{standing}");
}

#[tokio::test]
async fn a_subscription_checkout_finds_the_buyer_by_customer_details_email_in_both_shapes() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("details-{}@example.com", shape_name(shape));
        subscribe_and_check(&edge, shape, &email, |s| {
            s.customer_email = Some("someone-else@example.com".into());
            s.client_reference_id = Some("another@example.com".into());
        })
        .await;
        assert!(!member_exists(&edge, "someone-else@example.com").await);
    }
}

#[tokio::test]
async fn a_subscription_checkout_finds_the_buyer_by_customer_email_in_both_shapes() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("prefilled-{}@example.com", shape_name(shape));
        subscribe_and_check(&edge, shape, &email, |s| {
            s.customer_email = s.details_email.take();
        })
        .await;
    }
}

#[tokio::test]
async fn a_subscription_checkout_finds_the_buyer_by_client_reference_id_in_both_shapes() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("reference-{}@example.com", shape_name(shape));
        subscribe_and_check(&edge, shape, &email, |s| {
            s.client_reference_id = s.details_email.take();
        })
        .await;
    }
}

#[tokio::test]
async fn a_buyer_email_is_normalized_to_the_member_address() {
    let edge = start().await;
    subscribe_and_check(&edge, Shape::Basil, "mixed.case@example.com", |s| {
        s.details_email = Some("  Mixed.Case@EXAMPLE.com ".into());
    })
    .await;
    assert_eq!(edge.store.members().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_subscription_checkout_arriving_first_grants_once_the_subscription_names_its_price() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("early-{}@example.com", shape_name(shape));
        let customer = stripe_id("cus");
        let sub = Subscription::new(&customer, GOLD_PRICE);
        let t = now() - 60;
        apply(
            &edge,
            &Checkout::subscription(&email, &customer, &sub.id).completed(shape, t),
        )
        .await;
        // No member before the purchase is known to be one of this site's products: a Stripe
        // account may sell other things, and their buyers are not members.
        assert!(!member_exists(&edge, &email).await);
        let outcome = apply(&edge, &sub.created_event(shape, t + 1)).await;
        assert!(outcome.contains("level:gold: granted"), "{outcome}");
        assert_eq!(history(&edge, &email).await, ["level_set level:gold"]);
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
    }
}

/// Stripe creates the subscription before the Checkout Session completes, but may deliver the
/// session first: the subscription's older event is superseded for its state, yet its price
/// still tells which product was bought.
#[tokio::test]
async fn an_older_subscription_event_delivered_after_checkout_still_names_the_product() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("late-sub-{}@example.com", shape_name(shape));
        let customer = stripe_id("cus");
        let sub = Subscription::new(&customer, GOLD_PRICE);
        let t = now() - 60;
        apply(
            &edge,
            &Checkout::subscription(&email, &customer, &sub.id).completed(shape, t + 1),
        )
        .await;
        assert!(!member_exists(&edge, &email).await);
        let outcome = apply(&edge, &sub.created_event(shape, t)).await;
        assert!(outcome.contains("level:gold: granted"), "{outcome}");
        assert_eq!(history(&edge, &email).await, ["level_set level:gold"]);
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
    }
}

#[tokio::test]
async fn a_subscription_checkout_with_gatehouse_product_metadata_grants_at_once() {
    let edge = start().await;
    let email = "meta-sub@example.com";
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, GOLD_PRICE);
    let session = Checkout::subscription(email, &customer, &sub.id).with(|s| {
        s.metadata = json!({ "gatehouse_product": "gold-monthly" });
    });
    let outcome = apply(&edge, &session.completed(Shape::Basil, now() - 5)).await;
    assert!(outcome.contains("level:gold: granted"), "{outcome}");
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, GOLD).await, "open");
    // The subscription's own event then changes nothing.
    apply(&edge, &sub.created_event(Shape::Basil, now() - 4)).await;
    assert_eq!(history(&edge, email).await, ["level_set level:gold"]);
}

// ---------------------------------------------------------------------------------------------
// Checkout: single purchases
// ---------------------------------------------------------------------------------------------

/// Delivers a completed payment-mode session and checks the pricing course opens.
async fn buy_course_and_check(edge: &TestEdge, session: &Checkout, shape: Shape, email: &str) {
    let outcome = apply(edge, &session.completed(shape, now() - 5)).await;
    assert!(
        outcome.contains("granted bundle:pricing-course (pricing-course)"),
        "{outcome}"
    );
    assert_eq!(
        history(edge, email).await,
        ["bundle_add bundle:pricing-course"]
    );
    let cookie = login(edge, email).await;
    assert_eq!(access(edge, &cookie, COURSE).await, "open");
    assert_eq!(access(edge, &cookie, GOLD).await, "level");
    let standing = me(edge, &cookie).await;
    assert_eq!(standing["bundles"][0]["id"], "pricing-course", "{standing}");
    assert_eq!(standing["bundles"][0]["basis"], "single", "{standing}");
}

#[tokio::test]
async fn a_single_purchase_maps_by_gatehouse_product_metadata() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("meta-{}@example.com", shape_name(shape));
        buy_course_and_check(&edge, &course_purchase(&email), shape, &email).await;
    }
}

#[tokio::test]
async fn a_single_purchase_maps_by_its_expanded_line_item_price() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("lines-{}@example.com", shape_name(shape));
        let session = Checkout::payment(&email, &stripe_id("cus")).with(|s| {
            s.line_items = vec![COURSE_PRICE.to_owned()];
        });
        buy_course_and_check(&edge, &session, shape, &email).await;
    }
}

#[tokio::test]
async fn a_single_purchase_maps_by_its_payment_link() {
    let site = Site::demo();
    site.edit(
        "site.toml",
        "stripe_price = \"price_demo_pricing_course\"\n",
        "stripe_price = \"price_demo_pricing_course\"\nstripe_payment_link = \"plink_1DemoPricingCourse\"\n",
    );
    let edge = start_site(site).await;
    for shape in Shape::ALL {
        let email = format!("link-{}@example.com", shape_name(shape));
        let session = Checkout::payment(&email, &stripe_id("cus")).with(|s| {
            s.payment_link = Some("plink_1DemoPricingCourse".into());
            s.customer = None;
        });
        buy_course_and_check(&edge, &session, shape, &email).await;
    }
}

#[tokio::test]
async fn a_session_with_no_mappable_product_answers_200_and_grants_nothing() {
    let edge = start().await;
    let email = "nothing@example.com";
    let session = Checkout::payment(email, &stripe_id("cus")).with(|s| {
        s.line_items = vec!["price_not_in_site_toml".to_owned()];
        s.payment_link = Some("plink_notInSiteToml".into());
        s.metadata = json!({ "gatehouse_product": "no-such-product", "campaign": "spring" });
    });
    let outcome = apply(&edge, &session.completed(Shape::Old, now() - 5)).await;
    assert!(outcome.contains("no product"), "{outcome}");
    if member_exists(&edge, email).await {
        assert!(history(&edge, email).await.is_empty());
        let cookie = login(&edge, email).await;
        assert_eq!(access(&edge, &cookie, COURSE).await, "bundle");
        assert_eq!(access(&edge, &cookie, GOLD).await, "level");
    }
}

/// A Stripe account may sell more than this site: a single purchase of a price site.toml does
/// not map is acknowledged, and its buyer does not become a member.
#[tokio::test]
async fn a_payment_checkout_for_a_price_this_site_does_not_sell_makes_no_member() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("stranger-{}@example.com", shape_name(shape));
        let session = Checkout::payment(&email, &stripe_id("cus")).with(|s| {
            s.line_items = vec!["price_another_business_ebook".to_owned()];
        });
        // `apply` checks the 200 receipt.
        let outcome = apply(&edge, &session.completed(shape, now() - 5)).await;
        assert!(outcome.starts_with("failed: no product"), "{outcome}");
        assert!(!member_exists(&edge, &email).await, "{email}");
        // Nor does its refund find anyone.
        let refund = Charge::of_session(&session).with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &refund.refunded_event(shape, now() - 1)).await;
        assert!(outcome.contains("nothing to revoke"), "{outcome}");
        assert!(!member_exists(&edge, &email).await, "{email}");
    }
    assert!(edge.store.members().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_async_payment_waits_for_async_payment_succeeded() {
    let edge = start().await;
    let email = "sepa@example.com";
    let session = course_purchase(email).with(|s| s.payment_status = "unpaid");
    let outcome = apply(&edge, &session.completed(Shape::Basil, now() - 50)).await;
    assert!(outcome.contains("waiting"), "{outcome}");
    if member_exists(&edge, email).await {
        assert!(history(&edge, email).await.is_empty());
    }
    let paid = session.with(|s| s.payment_status = "paid");
    let outcome = apply(&edge, &paid.async_succeeded(Shape::Basil, now() - 10)).await;
    assert!(
        outcome.contains("granted bundle:pricing-course"),
        "{outcome}"
    );
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

// ---------------------------------------------------------------------------------------------
// Subscription lifecycle
// ---------------------------------------------------------------------------------------------

/// created → checkout → cancel at period end → past due → paid → deleted, checking `/keys`,
/// `/me`, the admin view and the history after each step.
async fn lifecycle(edge: &TestEdge, shape: Shape) {
    let email = format!("life-{}@example.com", shape_name(shape));
    let t0 = now() - 3600;
    let sub = subscribe_gold(edge, shape, &email, t0).await;
    let cookie = login(edge, &email).await;
    assert_eq!(access(edge, &cookie, GOLD).await, "open");

    // The member cancels: Stripe keeps the subscription until the period ends.
    let cancelling = sub.with(|s| {
        s.cancel_at_period_end = true;
        s.cancel_at = Some(s.period_end);
        s.canceled_at = Some(t0 + 100);
    });
    let previous = json!({ "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null });
    let outcome = apply(edge, &cancelling.updated_event(shape, t0 + 100, previous)).await;
    assert!(outcome.contains("pending-cancel"), "{outcome}");
    assert_eq!(access(edge, &cookie, GOLD).await, "open");
    let until = ts(sub.period_end);
    let standing = me(edge, &cookie).await;
    assert_eq!(standing["level"]["status"], "pending-cancel", "{standing}");
    assert_eq!(standing["level"]["until"], until.as_str(), "{standing}");
    let admin = admin_member(edge, &email).await;
    assert_eq!(admin["standing"]["level"]["status"], "pending-cancel");
    assert_eq!(admin["standing"]["level"]["until"], until.as_str());
    let mut expected = vec![
        "level_set level:gold".to_owned(),
        format!("cancel level:gold until {until}"),
    ];
    assert_eq!(history(edge, &email).await, expected);

    // A payment fails: no access at once, though login still works.
    let past_due = sub.with(|s| s.status = "past_due");
    let previous = json!({ "status": "active" });
    apply(edge, &past_due.updated_event(shape, t0 + 200, previous)).await;
    assert_eq!(access(edge, &cookie, GOLD).await, "overdue");
    assert_eq!(me(edge, &cookie).await["level"]["status"], "overdue");
    expected.push("overdue level:gold".to_owned());
    assert_eq!(history(edge, &email).await, expected);

    // The card is fixed: the invoice is paid, access is back.
    let invoice = Invoice::paid(&sub, &email, 1900).with(|i| i.created = t0 + 300);
    let outcome = apply(edge, &invoice.paid_event(shape, t0 + 300)).await;
    assert!(outcome.contains("recovered"), "{outcome}");
    assert_eq!(access(edge, &cookie, GOLD).await, "open");
    expected.push("recovered level:gold".to_owned());
    assert_eq!(history(edge, &email).await, expected);
    // …and the subscription's own update that follows changes nothing more.
    let previous = json!({ "status": "past_due" });
    apply(edge, &sub.updated_event(shape, t0 + 301, previous)).await;
    assert_eq!(history(edge, &email).await, expected);

    // The subscription ends.
    let outcome = apply(edge, &sub.deleted_event(shape, t0 + 400)).await;
    assert!(outcome.contains("cancelled"), "{outcome}");
    assert_eq!(access(edge, &cookie, GOLD).await, "cancelled");
    assert_eq!(me(edge, &cookie).await["level"]["status"], "cancelled");
    expected.push("cancel level:gold".to_owned());
    assert_eq!(history(edge, &email).await, expected);
}

#[tokio::test]
async fn the_subscription_lifecycle_in_the_old_shape() {
    let edge = start().await;
    lifecycle(&edge, Shape::Old).await;
}

#[tokio::test]
async fn the_subscription_lifecycle_in_the_basil_shape() {
    let edge = start().await;
    lifecycle(&edge, Shape::Basil).await;
}

#[tokio::test]
async fn the_subscription_lifecycle_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let edge = start_on(Site::demo(), &url).await;
    for shape in Shape::ALL {
        lifecycle(&edge, shape).await;
    }
}

#[tokio::test]
async fn a_failed_invoice_makes_a_member_overdue_at_once() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("failed-{}@example.com", shape_name(shape));
        let t0 = now() - 600;
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let failed = Invoice::failed(&sub, &email, 1900);
        let outcome = apply(&edge, &failed.failed_event(shape, t0 + 10)).await;
        assert!(outcome.contains("overdue"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD).await, "overdue");
        let paid = failed.with(|i| {
            i.status = "paid";
            i.amount_paid = 1900;
        });
        apply(&edge, &paid.paid_event(shape, t0 + 20)).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:gold",
                "overdue level:gold",
                "recovered level:gold"
            ]
        );
    }
}

#[tokio::test]
async fn a_trialing_subscription_gives_access() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("trial-{}@example.com", shape_name(shape));
        let customer = stripe_id("cus");
        let t = now() - 300;
        let sub = Subscription::new(&customer, GOLD_PRICE).with(|s| {
            s.status = "trialing";
            s.created = t;
            s.period_start = t;
            s.period_end = t + 14 * 86_400;
            s.trial_start = Some(t);
            s.trial_end = Some(t + 14 * 86_400);
        });
        apply(&edge, &sub.created_event(shape, t)).await;
        let session = Checkout::subscription(&email, &customer, &sub.id).with(|s| {
            s.payment_status = "no_payment_required";
            s.amount_total = 0;
        });
        let outcome = apply(&edge, &session.completed(shape, t + 1)).await;
        assert!(outcome.contains("level:gold: granted"), "{outcome}");
        // The trial's zero invoice is paid too; it is no payment and changes nothing.
        let zero =
            Invoice::paid(&sub, &email, 0).with(|i| i.billing_reason = "subscription_create");
        apply(&edge, &zero.paid_event(shape, t + 2)).await;

        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(me(&edge, &cookie).await["level"]["status"], "active");
        assert_eq!(history(&edge, &email).await, ["level_set level:gold"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Plan switches inside one subscription
// ---------------------------------------------------------------------------------------------

/// The demo site, also selling silver monthly. Silver is the demo's one-year pass, so it
/// expires; a level sold by plain subscription must not, so here it does not.
fn site_selling_silver_monthly() -> Site {
    let site = site_selling(&[SILVER_MONTHLY]);
    site.edit(
        "site.toml",
        "rank = 10\nexpires_after = \"365d\"\non_expire = \"free\"\n",
        "rank = 10\n",
    );
    site
}

/// The subscription's item now bills `price` (the Customer Portal changes a plan this way).
fn switched(sub: &Subscription, price: &str) -> Subscription {
    sub.with(|s| s.price = price.to_owned())
}

/// `previous_attributes` of a plan switch away from `price`.
fn previous_price(sub: &Subscription, price: &str) -> Value {
    json!({
        "items": {
            "object": "list",
            "data": [{ "id": sub.item_id, "object": "subscription_item", "price": { "id": price } }],
        },
        "plan": { "id": price },
    })
}

#[tokio::test]
async fn switching_a_subscription_between_silver_and_gold_follows_the_plan() {
    let edge = start_site(site_selling_silver_monthly()).await;
    for shape in Shape::ALL {
        let email = format!("plan-switch-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let silver = subscribe_to(&edge, shape, &email, SILVER_MONTHLY_PRICE, t0).await;
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, SILVER).await, "open");
        assert_eq!(access(&edge, &cookie, GOLD).await, "level");
        assert_eq!(history(&edge, &email).await, ["level_set level:silver"]);

        // Upgrade: the same subscription now bills gold.
        let gold = switched(&silver, GOLD_PRICE);
        let previous = previous_price(&silver, SILVER_MONTHLY_PRICE);
        let outcome = apply(&edge, &gold.updated_event(shape, t0 + 100, previous)).await;
        assert!(
            outcome.contains("switched from silver-monthly to gold-monthly"),
            "{outcome}"
        );
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(access(&edge, &cookie, SILVER).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            ["level_set level:silver", "level_set level:gold"]
        );

        // Downgrade, later: back to silver, and gold is locked by level again.
        let previous = previous_price(&gold, GOLD_PRICE);
        let outcome = apply(&edge, &silver.updated_event(shape, t0 + 200, previous)).await;
        assert!(
            outcome.contains("switched from gold-monthly to silver-monthly"),
            "{outcome}"
        );
        assert_eq!(access(&edge, &cookie, GOLD).await, "level");
        assert_eq!(access(&edge, &cookie, SILVER).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:silver",
                "level_set level:gold",
                "level_set level:silver"
            ]
        );
        let standing = me(&edge, &cookie).await;
        assert_eq!(standing["level"]["id"], "silver", "{standing}");
        assert_eq!(standing["level"]["status"], "active", "{standing}");
        assert_eq!(standing["level"]["basis"], "recurring", "{standing}");
    }
}

#[tokio::test]
async fn switching_a_subscription_from_a_bundle_to_a_level_cancels_the_bundle() {
    let edge = start_site(site_selling(&[COURSE_MONTHLY])).await;
    for shape in Shape::ALL {
        let email = format!("bundle-switch-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let course = subscribe_to(&edge, shape, &email, COURSE_MONTHLY_PRICE, t0).await;
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, COURSE).await, "open");
        assert_eq!(access(&edge, &cookie, GOLD).await, "level");

        let gold = switched(&course, GOLD_PRICE);
        let previous = previous_price(&course, COURSE_MONTHLY_PRICE);
        let outcome = apply(&edge, &gold.updated_event(shape, t0 + 100, previous)).await;
        assert!(
            outcome.contains("switched from course-monthly to gold-monthly"),
            "{outcome}"
        );
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:pricing-course",
                "bundle_cancel bundle:pricing-course",
                "level_set level:gold"
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Duplicates and ordering
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_applied_once() {
    let edge = start().await;
    let email = "twice@example.com";
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, GOLD_PRICE);
    let created = sub.created_event(Shape::Old, now() - 30);
    let completed =
        Checkout::subscription(email, &customer, &sub.id).completed(Shape::Old, now() - 29);
    for event in [&created, &completed] {
        let first = deliver_ok(&edge, event).await;
        assert_eq!(first["duplicate"], false, "{first}");
        let again = deliver_ok(&edge, event).await;
        assert_eq!(again["duplicate"], true, "{again}");
        assert_eq!(again["outcome"], "already applied", "{again}");
    }
    assert_eq!(history(&edge, email).await, ["level_set level:gold"]);

    // A single purchase, delivered twice, and then its async event about the same payment.
    let session = course_purchase(email).with(|s| s.customer = Some(customer.clone()));
    let paid = session.completed(Shape::Old, now() - 20);
    assert_eq!(deliver_ok(&edge, &paid).await["duplicate"], false);
    assert_eq!(deliver_ok(&edge, &paid).await["duplicate"], true);
    let outcome = apply(&edge, &session.async_succeeded(Shape::Old, now() - 19)).await;
    assert!(outcome.contains("already recorded"), "{outcome}");
    assert_eq!(
        history(&edge, email).await,
        ["level_set level:gold", "bundle_add bundle:pricing-course"]
    );
    assert_eq!(stored_events(&edge).await, 4);
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, GOLD).await, "open");
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

#[tokio::test]
async fn an_older_subscription_event_arriving_late_is_superseded() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("order-{}@example.com", shape_name(shape));
        let customer = stripe_id("cus");
        let t = now() - 600;
        let incomplete = Subscription::new(&customer, GOLD_PRICE).with(|s| s.status = "incomplete");
        let active = incomplete.with(|s| s.status = "active");

        // Stripe sent `created` (incomplete) at T and `updated` (active) at T+10; they arrive
        // the other way round.
        let previous = json!({ "status": "incomplete" });
        apply(&edge, &active.updated_event(shape, t + 10, previous)).await;
        let outcome = apply(&edge, &incomplete.created_event(shape, t)).await;
        assert!(outcome.contains("superseded"), "{outcome}");

        let session = Checkout::subscription(&email, &customer, &active.id);
        let outcome = apply(&edge, &session.completed(shape, t + 11)).await;
        assert!(outcome.contains("level:gold: granted"), "{outcome}");
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");

        // Another stale one, once the member has access: it changes nothing.
        let stale = active.with(|s| s.status = "past_due");
        let previous = json!({ "status": "active" });
        let outcome = apply(&edge, &stale.updated_event(shape, t + 5, previous)).await;
        assert!(outcome.contains("superseded"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(history(&edge, &email).await, ["level_set level:gold"]);
    }
}

#[tokio::test]
async fn a_failed_payment_older_than_a_paid_invoice_changes_nothing() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("late-fail-{}@example.com", shape_name(shape));
        let t0 = now() - 900;
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let t = t0 + 100;

        // The renewal failed at T, was retried and paid at T+20; the failure arrives last.
        let failed = Invoice::failed(&sub, &email, 1900).with(|i| i.created = t);
        let paid = failed.with(|i| {
            i.status = "paid";
            i.amount_paid = 1900;
        });
        apply(&edge, &paid.paid_event(shape, t + 20)).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        let outcome = apply(&edge, &failed.failed_event(shape, t)).await;
        assert!(outcome.contains("superseded"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(history(&edge, &email).await, ["level_set level:gold"]);
    }
}

#[tokio::test]
async fn subscription_events_before_checkout_wait_for_the_buyer_then_apply_their_stored_state() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("waiting-{}@example.com", shape_name(shape));
        let customer = stripe_id("cus");
        let t = now() - 600;
        let sub = Subscription::new(&customer, GOLD_PRICE);
        let outcome = apply(&edge, &sub.created_event(shape, t)).await;
        assert!(outcome.contains("waiting"), "{outcome}");
        let cancelling = sub.with(|s| {
            s.cancel_at_period_end = true;
            s.cancel_at = Some(s.period_end);
            s.canceled_at = Some(t + 10);
        });
        let previous =
            json!({ "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null });
        let outcome = apply(&edge, &cancelling.updated_event(shape, t + 10, previous)).await;
        assert!(outcome.contains("waiting"), "{outcome}");
        assert!(!member_exists(&edge, &email).await);

        let session = Checkout::subscription(&email, &customer, &sub.id);
        apply(&edge, &session.completed(shape, t + 20)).await;
        let until = ts(sub.period_end);
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:gold".to_owned(),
                format!("cancel level:gold until {until}")
            ]
        );
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        let standing = me(&edge, &cookie).await;
        assert_eq!(standing["level"]["status"], "pending-cancel", "{standing}");
        assert_eq!(standing["level"]["until"], until.as_str(), "{standing}");
    }
    assert_eq!(edge.store.members().await.unwrap().len(), 2);
}

/// When each history entry (by `id`, as written) takes effect.
async fn history_at(edge: &TestEdge, email: &str) -> Vec<Timestamp> {
    admin_member(edge, email).await["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["at"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// A gold lifetime purchase of `email`, paid through `customer`, the session created at `t`.
fn gold_lifetime(email: &str, customer: &str, t: i64) -> Checkout {
    Checkout::payment(email, customer).with(|s| {
        s.line_items = vec![GOLD_LIFETIME_PRICE.to_owned()];
        s.amount_total = 29_900;
        s.created = t;
    })
}

/// Stripe does not promise order: a lifetime purchase made at T+200 may be delivered after the
/// end of the monthly subscription at T+300. The purchase pays for gold; its grant must not be
/// dated before the cancel written first, which the replay (by time) would then let win.
#[tokio::test]
async fn a_late_single_purchase_is_not_undone_by_an_earlier_written_cancel() {
    let edge = start_site(site_selling(&[GOLD_LIFETIME])).await;
    for shape in Shape::ALL {
        let email = format!("late-lifetime-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let monthly = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let outcome = apply(&edge, &monthly.deleted_event(shape, t0 + 300)).await;
        assert!(outcome.contains("cancelled"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD).await, "cancelled");

        let lifetime = gold_lifetime(&email, &monthly.customer, t0 + 200);
        let outcome = apply(&edge, &lifetime.completed(shape, t0 + 200)).await;
        assert!(
            outcome.contains("granted level:gold (gold-lifetime)"),
            "{outcome}"
        );
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:gold",
                "cancel level:gold",
                "level_set level:gold"
            ]
        );
        let at = history_at(&edge, &email).await;
        assert!(
            at[2] >= at[1],
            "the lifetime grant ({}) is dated before the cancel ({})",
            at[2],
            at[1]
        );
        assert_eq!(
            access(&edge, &cookie, GOLD).await,
            "open",
            "{shape:?}: a lifetime purchase, yet {:?} at {at:?}",
            history(&edge, &email).await
        );
        let standing = me(&edge, &cookie).await;
        assert_eq!(standing["level"]["status"], "active", "{standing}");
        assert_eq!(standing["level"]["basis"], "single", "{standing}");
    }
}

// ---------------------------------------------------------------------------------------------
// Payment plans
// ---------------------------------------------------------------------------------------------

/// A payment plan for the launch workshop bought at `t0`: Stripe ends its subscription itself
/// (`cancel_at`) after the third month. Returns the subscription; the bundle is open.
async fn start_plan(edge: &TestEdge, shape: Shape, email: &str, t0: i64) -> Subscription {
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, PLAN_PRICE).with(|s| {
        s.amount = 3300;
        s.cancel_at = Some(s.period_start + 3 * 30 * 86_400);
    });
    apply(edge, &sub.created_event(shape, t0)).await;
    let session = Checkout::subscription(email, &customer, &sub.id).with(|s| s.amount_total = 3300);
    let outcome = apply(edge, &session.completed(shape, t0 + 1)).await;
    assert!(
        outcome.contains("bundle:launch-workshop: granted"),
        "{outcome}"
    );
    assert_eq!(
        history(edge, email).await,
        ["bundle_add bundle:launch-workshop"]
    );
    sub
}

fn plan_invoice(sub: &Subscription, email: &str, amount: i64, created: i64) -> Invoice {
    Invoice::paid(sub, email, amount).with(|i| {
        i.created = created;
        i.billing_reason = "subscription_cycle";
    })
}

#[tokio::test]
async fn a_payment_plan_paid_in_full_keeps_its_bundle_after_its_subscription_ends() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("plan-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = start_plan(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "open");

        let first = plan_invoice(&sub, &email, 3300, t0 + 2).with(|i| {
            i.billing_reason = "subscription_create";
        });
        let outcome = apply(&edge, &first.paid_event(shape, t0 + 2)).await;
        assert!(outcome.contains("payment 1 of 3"), "{outcome}");
        // Stripe sends both for one invoice: one payment.
        let outcome = apply(&edge, &first.succeeded_event(shape, t0 + 3)).await;
        assert!(outcome.contains("payment 1 of 3"), "{outcome}");
        // An invoice with nothing paid is no payment.
        let zero = plan_invoice(&sub, &email, 0, t0 + 50).with(|i| {
            i.billing_reason = "subscription_update";
        });
        let outcome = apply(&edge, &zero.paid_event(shape, t0 + 50)).await;
        assert!(outcome.contains("payment 1 of 3"), "{outcome}");
        let second = plan_invoice(&sub, &email, 3300, t0 + 100);
        let outcome = apply(&edge, &second.paid_event(shape, t0 + 100)).await;
        assert!(outcome.contains("payment 2 of 3"), "{outcome}");
        assert_eq!(
            history(&edge, &email).await,
            ["bundle_add bundle:launch-workshop"]
        );
        let third = plan_invoice(&sub, &email, 3300, t0 + 200);
        let outcome = apply(&edge, &third.paid_event(shape, t0 + 200)).await;
        assert!(outcome.contains("payment 3 of 3"), "{outcome}");
        let paid = [
            "bundle_add bundle:launch-workshop",
            "paid_in_full bundle:launch-workshop",
        ];
        assert_eq!(history(&edge, &email).await, paid);
        let outcome = apply(&edge, &third.succeeded_event(shape, t0 + 201)).await;
        assert!(outcome.contains("payment 3 of 3"), "{outcome}");

        // Stripe ends the plan's subscription (its cancel_at); the bundle stays.
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "open");
        assert_eq!(history(&edge, &email).await, paid);
        let standing = me(&edge, &cookie).await;
        assert_eq!(
            standing["bundles"][0]["id"], "launch-workshop",
            "{standing}"
        );
        assert_eq!(standing["bundles"][0]["status"], "active", "{standing}");
    }
}

#[tokio::test]
async fn a_payment_plan_ended_after_two_payments_is_cancelled() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("unpaid-plan-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = start_plan(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        for (n, at) in [(1, t0 + 2), (2, t0 + 100)] {
            let invoice = plan_invoice(&sub, &email, 3300, at);
            // Both events of each invoice: were they counted twice, the plan would be paid.
            let outcome = apply(&edge, &invoice.paid_event(shape, at)).await;
            assert!(outcome.contains(&format!("payment {n} of 3")), "{outcome}");
            let outcome = apply(&edge, &invoice.succeeded_event(shape, at + 1)).await;
            assert!(outcome.contains(&format!("payment {n} of 3")), "{outcome}");
        }
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "open");

        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "cancelled");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:launch-workshop",
                "bundle_cancel bundle:launch-workshop"
            ]
        );
    }
}

/// Stripe does not promise order: the last payment (T+200) may arrive after the end of the
/// subscription that Stripe recorded later (T+300). The plan was paid in full before it ended.
#[tokio::test]
async fn a_final_plan_payment_delivered_after_the_deletion_still_completes_the_plan() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("late-final-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = start_plan(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        for at in [t0 + 2, t0 + 100] {
            apply(
                &edge,
                &plan_invoice(&sub, &email, 3300, at).paid_event(shape, at),
            )
            .await;
        }
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "cancelled");

        let third = plan_invoice(&sub, &email, 3300, t0 + 200);
        let outcome = apply(&edge, &third.paid_event(shape, t0 + 200)).await;
        assert!(outcome.contains("payment 3 of 3"), "{outcome}");
        assert_eq!(
            access(&edge, &cookie, WORKSHOP).await,
            "open",
            "{shape:?}: paid in full, yet {:?}",
            history(&edge, &email).await
        );
    }
}

/// The first instalment is refunded in full: it no longer counts, so the two paid after it do
/// not complete the plan, and the end of its subscription ends the bundle.
#[tokio::test]
async fn a_refunded_plan_instalment_stops_counting_toward_paid_in_full() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("refunded-instalment-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = start_plan(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let mut outcomes = Vec::new();

        let first = plan_invoice(&sub, &email, 3300, t0 + 2).with(|i| {
            i.billing_reason = "subscription_create";
        });
        let outcome = apply(&edge, &first.paid_event(shape, t0 + 2)).await;
        assert!(outcome.contains("payment 1 of 3"), "{outcome}");
        if shape == Shape::Basil {
            // Basil's invoice and charge do not name each other: this links them.
            apply(&edge, &first.payment_paid_event(t0 + 3)).await;
        }
        let refund = Charge::of_invoice(&first).with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &refund.refunded_event(shape, t0 + 50)).await;
        assert!(
            outcome.contains(&format!("full refund on subscription {}", sub.id)),
            "{outcome}"
        );
        assert_eq!(access(&edge, &cookie, WORKSHOP).await, "cancelled");
        outcomes.push(outcome);

        // Stripe keeps billing the plan: two more instalments are paid, two kept in all.
        for (n, at) in [(1, t0 + 100), (2, t0 + 200)] {
            let invoice = plan_invoice(&sub, &email, 3300, at);
            let outcome = apply(&edge, &invoice.paid_event(shape, at)).await;
            assert!(outcome.contains(&format!("payment {n} of 3")), "{outcome}");
            outcomes.push(outcome);
        }
        let previous = json!({ "latest_invoice": sub.latest_invoice });
        let billed = sub.with(|s| s.latest_invoice = Some(stripe_id("in")));
        outcomes.push(apply(&edge, &billed.updated_event(shape, t0 + 250, previous)).await);

        // Stripe ends the plan's subscription (its cancel_at): the plan was not paid in full.
        outcomes.push(apply(&edge, &sub.deleted_event(shape, t0 + 300)).await);
        let written = history(&edge, &email).await;
        assert_eq!(
            access(&edge, &cookie, WORKSHOP).await,
            "cancelled",
            "{shape:?}: two of three payments kept, yet {written:?}"
        );
        assert_eq!(
            written.last().map(String::as_str),
            Some("bundle_cancel bundle:launch-workshop"),
            "{written:?}"
        );
        assert!(
            !written.iter().any(|line| line.starts_with("paid_in_full")),
            "{written:?}"
        );
        for outcome in &outcomes {
            assert!(!outcome.contains("paid in full"), "{outcome}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_partial_refund_keeps_a_single_purchase_and_a_full_refund_revokes_it() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("refund-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, now() - 100)).await;
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, COURSE).await, "open");

        let charge = Charge::of_session(&session);
        let partial = charge.with(|c| c.amount_refunded = 1000);
        let outcome = apply(&edge, &partial.refunded_event(shape, now() - 50)).await;
        assert!(outcome.contains("partial"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            ["bundle_add bundle:pricing-course"]
        );

        let full = charge.with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &full.refunded_event(shape, now() - 10)).await;
        assert!(outcome.contains("revoked"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:pricing-course",
                "revoke bundle:pricing-course (refunded)"
            ]
        );
    }
}

#[tokio::test]
async fn a_full_refund_of_a_single_level_purchase_revokes_the_level() {
    let edge = start().await;
    let email = "silver@example.com";
    let session = Checkout::payment(email, &stripe_id("cus")).with(|s| {
        s.line_items = vec![SILVER_PRICE.to_owned()];
        s.amount_total = 9900;
    });
    let outcome = apply(&edge, &session.completed(Shape::Basil, now() - 100)).await;
    assert!(outcome.contains("granted level:silver"), "{outcome}");
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, SILVER).await, "open");

    let refund = Charge::of_session(&session).with(|c| c.amount_refunded = c.amount);
    apply(&edge, &refund.refunded_event(Shape::Basil, now() - 10)).await;
    assert_eq!(access(&edge, &cookie, SILVER).await, "cancelled");
    let level = &me(&edge, &cookie).await["level"];
    assert_eq!(
        (&level["status"], &level["reason"]),
        (&json!("revoked"), &json!("refunded"))
    );
    assert_eq!(
        history(&edge, email).await,
        ["level_set level:silver", "revoke level:silver (refunded)"]
    );
}

/// A member who bought the course twice by mistake is refunded one purchase: the other still
/// pays for the bundle.
#[tokio::test]
async fn refunding_a_duplicate_purchase_keeps_the_purchase_still_paid_for() {
    let edge = start().await;
    let email = "double@example.com";
    let customer = stripe_id("cus");
    let first = course_purchase(email).with(|s| s.customer = Some(customer.clone()));
    let second = course_purchase(email).with(|s| s.customer = Some(customer.clone()));
    apply(&edge, &first.completed(Shape::Basil, now() - 300)).await;
    let outcome = apply(&edge, &second.completed(Shape::Basil, now() - 200)).await;
    assert!(
        outcome.contains("granted bundle:pricing-course"),
        "{outcome}"
    );
    let cookie = login(&edge, email).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");

    let refund = Charge::of_session(&second).with(|c| c.amount_refunded = c.amount);
    apply(&edge, &refund.refunded_event(Shape::Basil, now() - 100)).await;
    assert_eq!(
        access(&edge, &cookie, COURSE).await,
        "open",
        "one purchase is still paid for, yet {:?}",
        history(&edge, email).await
    );
    // Refunding the other one too ends it.
    let refund = Charge::of_session(&first).with(|c| c.amount_refunded = c.amount);
    apply(&edge, &refund.refunded_event(Shape::Basil, now() - 50)).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
}

/// Basil invoices carry no payment intent and basil charges no invoice: the refund of a
/// subscription payment is found through `invoice_payment.paid`, which links the two.
#[tokio::test]
async fn a_basil_refund_of_a_subscription_payment_is_found_through_its_invoice_payment() {
    let edge = start().await;
    let shape = Shape::Basil;
    let email = "basil-refund@example.com";
    let t0 = now() - 3600;
    let sub = subscribe_gold(&edge, shape, email, t0).await;
    let cookie = login(&edge, email).await;

    let invoice = Invoice::paid(&sub, email, 1900).with(|i| {
        i.created = t0 + 2;
        i.billing_reason = "subscription_create";
    });
    let paid = invoice.paid_event(shape, t0 + 2);
    assert!(paid["data"]["object"].get("payment_intent").is_none());
    assert!(paid["data"]["object"].get("charge").is_none());
    apply(&edge, &paid).await;
    let outcome = apply(&edge, &invoice.payment_paid_event(t0 + 3)).await;
    assert!(
        outcome.contains("payment of an invoice recorded"),
        "{outcome}"
    );

    let charge = Charge::of_invoice(&invoice);
    assert!(charge.object(shape).get("invoice").is_none());
    let partial = charge.with(|c| c.amount_refunded = 500);
    let outcome = apply(&edge, &partial.refunded_event(shape, t0 + 100)).await;
    assert!(
        outcome.contains(&format!("partial refund on subscription {}", sub.id)),
        "{outcome}"
    );
    assert_eq!(access(&edge, &cookie, GOLD).await, "open");
    assert_eq!(history(&edge, email).await, ["level_set level:gold"]);

    let full = charge.with(|c| c.amount_refunded = c.amount);
    let outcome = apply(&edge, &full.refunded_event(shape, t0 + 200)).await;
    assert!(
        outcome.contains(&format!("full refund on subscription {}", sub.id)),
        "{outcome}"
    );
    assert_eq!(access(&edge, &cookie, GOLD).await, "cancelled");
    assert_eq!(
        history(&edge, email).await,
        ["level_set level:gold", "revoke level:gold (refunded)"]
    );
}

/// A lifetime purchase beside a gold subscription: the monthly payment failing takes nothing
/// away while the lifetime pays. Once the lifetime is refunded, only an overdue subscription is
/// left, so gold is locked; it comes back when the monthly recovers.
#[tokio::test]
async fn refunding_a_lifetime_purchase_beside_an_overdue_subscription_locks_until_it_recovers() {
    let edge = start_site(site_selling(&[GOLD_LIFETIME])).await;
    for shape in Shape::ALL {
        let email = format!("suppressed-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let monthly = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let lifetime = gold_lifetime(&email, &monthly.customer, t0 + 50);
        let outcome = apply(&edge, &lifetime.completed(shape, t0 + 50)).await;
        assert!(
            outcome.contains("granted level:gold (gold-lifetime)"),
            "{outcome}"
        );

        let failed = Invoice::failed(&monthly, &email, 1900).with(|i| i.created = t0 + 100);
        let outcome = apply(&edge, &failed.failed_event(shape, t0 + 100)).await;
        assert!(outcome.contains("another payment still pays"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");

        let refund = Charge::of_session(&lifetime).with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &refund.refunded_event(shape, t0 + 150)).await;
        // Only the overdue monthly is left: the member is told to fix their card, not that
        // gold is cancelled, and recovers without a new drip stretch.
        let locked = access(&edge, &cookie, GOLD).await;
        assert_eq!(
            locked,
            "overdue",
            "{shape:?}: only an overdue subscription pays ({outcome}; {:?})",
            history(&edge, &email).await
        );

        let paid = failed.with(|i| {
            i.status = "paid";
            i.amount_paid = 1900;
        });
        let outcome = apply(&edge, &paid.paid_event(shape, t0 + 200)).await;
        assert_eq!(
            access(&edge, &cookie, GOLD).await,
            "open",
            "{shape:?}: the monthly recovered ({outcome}), yet {:?}",
            history(&edge, &email).await
        );
        assert_eq!(me(&edge, &cookie).await["level"]["status"], "active");
    }
}

/// Gold bought monthly, then yearly: the monthly subscription ending does not end gold.
#[tokio::test]
async fn switching_from_monthly_to_yearly_keeps_gold_when_the_monthly_ends() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("switch-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let monthly = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let yearly = Subscription::new(&monthly.customer, "price_demo_gold_yearly").with(|s| {
            s.interval = "year";
            s.amount = 19_000;
            s.period_end = s.period_start + 365 * 86_400;
        });
        apply(&edge, &yearly.created_event(shape, t0 + 100)).await;
        let outcome = apply(&edge, &monthly.deleted_event(shape, t0 + 200)).await;
        assert!(
            outcome.contains("level:gold stays: another payment still pays for it"),
            "{outcome}"
        );
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            ["level_set level:gold", "level_set level:gold"]
        );
    }
}

/// The same, but the monthly subscription's last renewal fails before Stripe ends it: the member
/// pays yearly and must not be locked out as overdue by the subscription they left.
#[tokio::test]
async fn a_failed_payment_on_a_replaced_subscription_does_not_lock_out_a_member_paying_yearly() {
    let edge = start().await;
    let shape = Shape::Basil;
    let email = "switch-overdue@example.com";
    let t0 = now() - 3600;
    let monthly = subscribe_gold(&edge, shape, email, t0).await;
    let cookie = login(&edge, email).await;
    let yearly = Subscription::new(&monthly.customer, "price_demo_gold_yearly").with(|s| {
        s.interval = "year";
        s.amount = 19_000;
        s.period_end = s.period_start + 365 * 86_400;
    });
    apply(&edge, &yearly.created_event(shape, t0 + 100)).await;
    assert_eq!(access(&edge, &cookie, GOLD).await, "open");

    let failed = Invoice::failed(&monthly, email, 1900).with(|i| i.created = t0 + 200);
    apply(&edge, &failed.failed_event(shape, t0 + 200)).await;
    let after_failure = access(&edge, &cookie, GOLD).await;
    apply(&edge, &monthly.deleted_event(shape, t0 + 300)).await;
    assert_eq!(
        access(&edge, &cookie, GOLD).await,
        "open",
        "the yearly subscription pays for gold, yet {:?}",
        history(&edge, email).await
    );
    assert_eq!(after_failure, "open", "while the monthly was past due");
}

/// An event with many invoice lines is far above the API's 64 KiB limit, and still accepted.
#[tokio::test]
async fn an_event_larger_than_64_kib_is_accepted() {
    let edge = start().await;
    let email = "big@example.com";
    let t0 = now() - 600;
    let sub = subscribe_gold(&edge, Shape::Old, email, t0).await;
    let mut event = Invoice::paid(&sub, email, 1900).paid_event(Shape::Old, t0 + 10);
    let line = event["data"]["object"]["lines"]["data"][0].clone();
    event["data"]["object"]["lines"]["data"] = Value::Array(vec![line; 150]);
    event["data"]["object"]["lines"]["total_count"] = json!(150);
    let payload = body(&event);
    assert!(payload.len() > 200 * 1024, "{} bytes", payload.len());
    let answer = post(&edge, &payload, Some(&signature(SECRET, now(), &payload))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["duplicate"], false);
}

// ---------------------------------------------------------------------------------------------
// Refunds and disputes revoke (issue 15): keep-unlocked honours a cancel, never a refund
// ---------------------------------------------------------------------------------------------

/// Gold and the course behind a one-minute drip, which every cancel below comes after.
const GOLD_DRIPPED: &str = "level=gold;bundles=-;drip=60";
const COURSE_DRIPPED: &str = "level=-;bundles=pricing-course;drip=60";

/// The demo site with `cancellation = "keep-unlocked"`.
fn keep_unlocked_site() -> Site {
    let site = Site::demo();
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let standard = "cancellation = \"standard\"";
    assert!(text.contains(standard), "the demo site.toml changed");
    site.write(
        "site.toml",
        &text.replace(standard, "cancellation = \"keep-unlocked\""),
    );
    site
}

/// The first invoice of `sub`, paid at `t` (linked to its payment in basil, as Stripe does).
async fn pay_first_invoice(
    edge: &TestEdge,
    shape: Shape,
    sub: &Subscription,
    email: &str,
    t: i64,
) -> Invoice {
    let invoice = Invoice::paid(sub, email, 1900).with(|i| {
        i.created = t;
        i.billing_reason = "subscription_create";
    });
    apply(edge, &invoice.paid_event(shape, t)).await;
    if shape == Shape::Basil {
        apply(edge, &invoice.payment_paid_event(t + 1)).await;
    }
    invoice
}

/// `status` and `reason` of the member's level (`None`) or first bundle in `GET /me`.
async fn me_status(edge: &TestEdge, cookie: &str, bundle: bool) -> (String, Option<String>) {
    let standing = me(edge, cookie).await;
    let right = if bundle {
        &standing["bundles"][0]
    } else {
        &standing["level"]
    };
    (
        right["status"].as_str().unwrap_or_default().to_owned(),
        right["reason"].as_str().map(str::to_owned),
    )
}

fn revoked(reason: &str) -> (String, Option<String>) {
    ("revoked".to_owned(), Some(reason.to_owned()))
}

#[tokio::test]
async fn a_full_refund_under_keep_unlocked_closes_what_had_dripped() {
    let edge = start_site(keep_unlocked_site()).await;
    for shape in Shape::ALL {
        let t0 = now() - 3600;

        // A single purchase refunded in full: the refund must not read as a cancel that keeps
        // what had dripped.
        let email = format!("refunded-kept-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "open");
        let refund = Charge::of_session(&session).with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &refund.refunded_event(shape, t0 + 300)).await;
        assert!(outcome.contains("revoked"), "{outcome}");
        assert_eq!(
            access(&edge, &cookie, COURSE_DRIPPED).await,
            "cancelled",
            "{shape:?}: refunded, yet kept open: {:?}",
            history(&edge, &email).await
        );
        assert_eq!(me_status(&edge, &cookie, true).await, revoked("refunded"));

        // A subscription the seller ends, then refunds: Stripe's usual order. The cancel kept
        // what had dripped; the refund takes it back.
        let email = format!("cancelled-then-refunded-{}@example.com", shape_name(shape));
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let invoice = pay_first_invoice(&edge, shape, &sub, &email, t0 + 2).await;
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");
        let refund = Charge::of_invoice(&invoice).with(|c| c.amount_refunded = c.amount);
        let outcome = apply(&edge, &refund.refunded_event(shape, t0 + 400)).await;
        assert!(
            outcome.contains(&format!("full refund on subscription {}", sub.id)),
            "{outcome}"
        );
        assert_eq!(
            access(&edge, &cookie, GOLD_DRIPPED).await,
            "cancelled",
            "{shape:?}: refunded after the cancel ({outcome}), yet kept open: {:?}",
            history(&edge, &email).await
        );
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:gold",
                "cancel level:gold",
                "revoke level:gold (refunded)"
            ]
        );
        let admin = admin_member(&edge, &email).await;
        assert_eq!(admin["standing"]["level"]["status"], "revoked", "{admin}");
        assert_eq!(admin["standing"]["level"]["reason"], "refunded", "{admin}");
    }
}

#[tokio::test]
async fn a_dispute_revokes_and_a_won_dispute_restores() {
    let edge = start().await;
    for shape in Shape::ALL {
        let email = format!("disputed-won-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;

        let dispute = Dispute::of(&Charge::of_session(&session), t0 + 100);
        let outcome = apply(&edge, &dispute.created_event(shape, t0 + 100)).await;
        assert!(outcome.contains("revoked (disputed)"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
        assert_eq!(me_status(&edge, &cookie, true).await, revoked("disputed"));

        let won = dispute.with(|d| d.status = "won".into());
        let outcome = apply(&edge, &won.closed_event(shape, t0 + 200)).await;
        assert!(outcome.contains("restored"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE).await, "open");
        assert_eq!(
            me_status(&edge, &cookie, true).await,
            ("active".into(), None)
        );
        // As it was: the drip still counts from the purchase, not from the win.
        let almost_an_hour = "level=-;bundles=pricing-course;drip=3500";
        assert_eq!(access(&edge, &cookie, almost_an_hour).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:pricing-course",
                "revoke bundle:pricing-course (disputed)",
                "restore bundle:pricing-course"
            ]
        );
    }
}

#[tokio::test]
async fn a_won_dispute_after_a_cancel_gives_back_what_keep_unlocked_kept() {
    let edge = start_site(keep_unlocked_site()).await;
    for shape in Shape::ALL {
        let email = format!("cancelled-disputed-won-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let invoice = pay_first_invoice(&edge, shape, &sub, &email, t0 + 2).await;
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");

        let dispute = Dispute::of(&Charge::of_invoice(&invoice), t0 + 400);
        let outcome = apply(&edge, &dispute.created_event(shape, t0 + 400)).await;
        assert!(outcome.contains("revoked (disputed)"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "cancelled");

        let won = dispute.with(|d| d.status = "won".into());
        apply(&edge, &won.closed_event(shape, t0 + 500)).await;
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");
        assert_eq!(access(&edge, &cookie, GOLD).await, "open");
        assert_eq!(
            me_status(&edge, &cookie, false).await,
            ("cancelled".into(), None)
        );
    }
}

#[tokio::test]
async fn a_lost_dispute_keeps_it_closed() {
    let edge = start_site(keep_unlocked_site()).await;
    for shape in Shape::ALL {
        let email = format!("disputed-lost-{}@example.com", shape_name(shape));
        let t0 = now() - 3600;
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let invoice = pay_first_invoice(&edge, shape, &sub, &email, t0 + 2).await;

        let dispute = Dispute::of(&Charge::of_invoice(&invoice), t0 + 200);
        apply(&edge, &dispute.created_event(shape, t0 + 200)).await;
        // The seller ends the subscription while the dispute is open, then loses it.
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "cancelled");
        let lost = dispute.with(|d| d.status = "lost".into());
        let outcome = apply(&edge, &lost.closed_event(shape, t0 + 400)).await;
        assert!(outcome.contains("revoked (dispute lost)"), "{outcome}");
        assert_eq!(
            access(&edge, &cookie, GOLD_DRIPPED).await,
            "cancelled",
            "{shape:?}: {:?}",
            history(&edge, &email).await
        );
        assert_eq!(
            me_status(&edge, &cookie, false).await,
            revoked("dispute_lost")
        );
        assert_eq!(
            history(&edge, &email).await,
            [
                "level_set level:gold",
                "revoke level:gold (disputed)",
                "cancel level:gold",
                "revoke level:gold (dispute_lost)"
            ]
        );
    }
}

#[tokio::test]
async fn a_partial_refund_changes_nothing() {
    let edge = start_site(keep_unlocked_site()).await;
    for shape in Shape::ALL {
        let t0 = now() - 3600;
        let email = format!("partial-purchase-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;
        let partial = Charge::of_session(&session).with(|c| c.amount_refunded = c.amount - 1);
        let outcome = apply(&edge, &partial.refunded_event(shape, t0 + 300)).await;
        assert!(outcome.contains("partial refund"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            ["bundle_add bundle:pricing-course"]
        );

        // Cancelled, then partly refunded: what the cancel kept stays kept.
        let email = format!("partial-subscription-{}@example.com", shape_name(shape));
        let sub = subscribe_gold(&edge, shape, &email, t0).await;
        let cookie = login(&edge, &email).await;
        let invoice = pay_first_invoice(&edge, shape, &sub, &email, t0 + 2).await;
        apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
        let partial = Charge::of_invoice(&invoice).with(|c| c.amount_refunded = 500);
        let outcome = apply(&edge, &partial.refunded_event(shape, t0 + 400)).await;
        assert!(outcome.contains("partial refund"), "{outcome}");
        assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");
        assert_eq!(
            me_status(&edge, &cookie, false).await,
            ("cancelled".into(), None)
        );
    }
}

#[tokio::test]
async fn a_full_refund_delivered_twice_or_after_its_partial_revokes_once() {
    let edge = start_site(keep_unlocked_site()).await;
    let shape = Shape::Basil;
    let email = "refund-twice@example.com";
    let t0 = now() - 3600;
    let session = course_purchase(email);
    apply(&edge, &session.completed(shape, t0)).await;
    let cookie = login(&edge, email).await;
    let charge = Charge::of_session(&session);

    let full = charge.with(|c| c.amount_refunded = c.amount);
    let event = full.refunded_event(shape, t0 + 300);
    apply(&edge, &event).await;
    let again = deliver_ok(&edge, &event).await;
    assert_eq!(again["duplicate"], true, "{again}");
    // The partial refund before it, delivered late, and a second event saying the same full
    // refund: nothing more is written.
    let partial = charge.with(|c| c.amount_refunded = 1000);
    let outcome = apply(&edge, &partial.refunded_event(shape, t0 + 200)).await;
    assert!(outcome.contains("access unchanged"), "{outcome}");
    let outcome = apply(&edge, &full.refunded_event(shape, t0 + 310)).await;
    assert!(outcome.contains("recorded already"), "{outcome}");
    assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "cancelled");
    assert_eq!(
        history(&edge, email).await,
        [
            "bundle_add bundle:pricing-course",
            "revoke bundle:pricing-course (refunded)"
        ]
    );

    // Bought again later: a new purchase opens the course afresh.
    let rebought = course_purchase(email);
    apply(&edge, &rebought.completed(shape, now() - 10)).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
    assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "drip");
}

#[tokio::test]
async fn dispute_events_out_of_order_and_twice_are_applied_once_and_never_reopen_it() {
    let edge = start_site(keep_unlocked_site()).await;
    for shape in Shape::ALL {
        let t0 = now() - 3600;

        // Won, heard before it was heard open: nothing is taken, and the late `created`
        // does not take it.
        let email = format!("won-first-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;
        let dispute = Dispute::of(&Charge::of_session(&session), t0 + 100);
        let won = dispute.with(|d| d.status = "won".into());
        let closed = won.closed_event(shape, t0 + 200);
        let outcome = apply(&edge, &closed).await;
        assert!(outcome.contains("unchanged"), "{outcome}");
        let outcome = apply(&edge, &dispute.created_event(shape, t0 + 100)).await;
        assert!(outcome.contains("superseded"), "{outcome}");
        assert_eq!(deliver_ok(&edge, &closed).await["duplicate"], true);
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            ["bundle_add bundle:pricing-course"]
        );

        // Lost, heard first: revoked for good; the late `created` (even one stamped the same
        // second) and a repeat of the `closed` change nothing.
        let email = format!("lost-first-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;
        let dispute = Dispute::of(&Charge::of_session(&session), t0 + 100);
        let lost = dispute.with(|d| d.status = "lost".into());
        let closed = lost.closed_event(shape, t0 + 200);
        let outcome = apply(&edge, &closed).await;
        assert!(outcome.contains("revoked (dispute lost)"), "{outcome}");
        for created in [t0 + 100, t0 + 200] {
            let outcome = apply(&edge, &dispute.created_event(shape, created)).await;
            assert!(outcome.contains("superseded"), "{outcome}");
        }
        assert_eq!(deliver_ok(&edge, &closed).await["duplicate"], true);
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "cancelled");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:pricing-course",
                "revoke bundle:pricing-course (dispute_lost)"
            ]
        );

        // Open, told twice (the same event, and an update), then won: one revoke, one restore.
        let email = format!("open-twice-{}@example.com", shape_name(shape));
        let session = course_purchase(&email);
        apply(&edge, &session.completed(shape, t0)).await;
        let cookie = login(&edge, &email).await;
        let dispute = Dispute::of(&Charge::of_session(&session), t0 + 100);
        let created = dispute.created_event(shape, t0 + 100);
        apply(&edge, &created).await;
        assert_eq!(deliver_ok(&edge, &created).await["duplicate"], true);
        let review = dispute.with(|d| d.status = "under_review".into());
        let updated = event(
            "charge.dispute.updated",
            shape,
            t0 + 150,
            review.object(shape),
        );
        let outcome = apply(&edge, &updated).await;
        assert!(outcome.contains("unchanged"), "{outcome}");
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "cancelled");
        let won = dispute.with(|d| d.status = "won".into());
        apply(&edge, &won.closed_event(shape, t0 + 200)).await;
        assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "open");
        assert_eq!(
            history(&edge, &email).await,
            [
                "bundle_add bundle:pricing-course",
                "revoke bundle:pricing-course (disputed)",
                "restore bundle:pricing-course"
            ]
        );
    }
}

/// The course bought twice by mistake; the first purchase is disputed and lost while the
/// second still pays, then the second is refunded: nothing pays any more, so the course goes.
#[tokio::test]
async fn a_purchase_lost_to_a_dispute_no_longer_pays_for_its_right() {
    let edge = start().await;
    let shape = Shape::Basil;
    let email = "lost-and-refunded@example.com";
    let t0 = now() - 3600;
    let customer = stripe_id("cus");
    let first = course_purchase(email).with(|s| s.customer = Some(customer.clone()));
    let second = course_purchase(email).with(|s| s.customer = Some(customer.clone()));
    apply(&edge, &first.completed(shape, t0)).await;
    apply(&edge, &second.completed(shape, t0 + 10)).await;
    let cookie = login(&edge, email).await;

    let dispute = Dispute::of(&Charge::of_session(&first), t0 + 100);
    let outcome = apply(&edge, &dispute.created_event(shape, t0 + 100)).await;
    assert!(outcome.contains("another payment still pays"), "{outcome}");
    let lost = dispute.with(|d| d.status = "lost".into());
    let outcome = apply(&edge, &lost.closed_event(shape, t0 + 200)).await;
    assert!(outcome.contains("another payment still pays"), "{outcome}");
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");

    let refund = Charge::of_session(&second).with(|c| c.amount_refunded = c.amount);
    let outcome = apply(&edge, &refund.refunded_event(shape, t0 + 300)).await;
    assert!(outcome.contains("revoked"), "{outcome}");
    assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
}

/// An inquiry (the card network's question before a chargeback) that closes without becoming
/// one gives access back, as a won dispute does.
#[tokio::test]
async fn an_inquiry_closed_without_a_chargeback_restores() {
    let edge = start().await;
    let shape = Shape::Old;
    let email = "inquiry@example.com";
    let t0 = now() - 3600;
    let session = course_purchase(email);
    apply(&edge, &session.completed(shape, t0)).await;
    let cookie = login(&edge, email).await;
    let inquiry = Dispute::of(&Charge::of_session(&session), t0 + 100)
        .with(|d| d.status = "warning_needs_response".into());
    apply(&edge, &inquiry.created_event(shape, t0 + 100)).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "cancelled");
    let closed = inquiry.with(|d| d.status = "warning_closed".into());
    apply(&edge, &closed.closed_event(shape, t0 + 200)).await;
    assert_eq!(access(&edge, &cookie, COURSE).await, "open");
}

/// A dispute on a payment gatehouse never recorded (the account sells other things) is stored
/// and changes nothing.
#[tokio::test]
async fn a_dispute_on_a_payment_gatehouse_did_not_record_changes_nothing() {
    let edge = start().await;
    let stranger = Charge::of_session(&course_purchase("stranger@example.com"));
    let dispute = Dispute::of(&stranger, now() - 10);
    let outcome = apply(&edge, &dispute.created_event(Shape::Basil, now() - 10)).await;
    assert!(outcome.contains("did not record"), "{outcome}");
    assert!(!member_exists(&edge, "stranger@example.com").await);
}

/// An operator refunds outside Stripe (a bank transfer back, another processor): the admin
/// API records it as a `revoke`, which keep-unlocked does not honour either.
#[tokio::test]
async fn an_operator_records_a_refund_outside_stripe_as_a_revoke() {
    let edge = start_site(keep_unlocked_site()).await;
    let email = "offline@example.com";
    let t0 = now() - 3600;
    edge.add_member(email, "gold", &ts(t0), Some("correct horse battery"))
        .await;
    let cookie = edge.login(email, "correct horse battery").await;
    edge.event(email, json!({"type": "cancel", "at": ts(t0 + 300)}))
        .await;
    assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");

    let path = format!("/admin/members/{email}/events");
    for (event, wrong) in [
        (json!({"type": "revoke"}), "needs a `reason`"),
        (
            json!({"type": "revoke", "reason": "chargeback"}),
            "unknown reason",
        ),
        (
            json!({"type": "cancel", "reason": "refunded"}),
            "only applies to `revoke`",
        ),
        (
            json!({"type": "revoke", "reason": "refunded", "until": ts(t0)}),
            "`until` only applies",
        ),
    ] {
        let answer = edge.admin_post(&path, &event).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_event", wrong);
        assert!(answer.body.contains(wrong), "{event}: {}", answer.body);
    }

    edge.event(
        email,
        json!({"type": "revoke", "access": "level:gold", "reason": "disputed"}),
    )
    .await;
    assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "cancelled");
    edge.event(email, json!({"type": "restore"})).await;
    assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "open");
    edge.event(email, json!({"type": "revoke", "reason": "refunded"}))
        .await;
    assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "cancelled");
    let member = admin_member(&edge, email).await;
    assert_eq!(member["standing"]["level"]["status"], "revoked", "{member}");
    assert_eq!(
        member["standing"]["level"]["reason"], "refunded",
        "{member}"
    );
    let last = member["history"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (&last["type"], &last["reason"]),
        (&json!("revoke"), &json!("refunded"))
    );
}

/// Revocations and disputes are stored in both databases: the same refund and won dispute,
/// on PostgreSQL.
#[tokio::test]
async fn refunds_and_disputes_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let edge = start_on(keep_unlocked_site(), &url).await;
    let shape = Shape::Basil;
    let t0 = now() - 3600;
    let email = "pg-refund@example.com";
    let sub = subscribe_gold(&edge, shape, email, t0).await;
    let cookie = login(&edge, email).await;
    let invoice = pay_first_invoice(&edge, shape, &sub, email, t0 + 2).await;
    apply(&edge, &sub.deleted_event(shape, t0 + 300)).await;
    let refund = Charge::of_invoice(&invoice).with(|c| c.amount_refunded = c.amount);
    apply(&edge, &refund.refunded_event(shape, t0 + 400)).await;
    assert_eq!(access(&edge, &cookie, GOLD_DRIPPED).await, "cancelled");
    assert_eq!(me_status(&edge, &cookie, false).await, revoked("refunded"));

    let email = "pg-dispute@example.com";
    let session = course_purchase(email);
    apply(&edge, &session.completed(shape, t0)).await;
    let cookie = login(&edge, email).await;
    let dispute = Dispute::of(&Charge::of_session(&session), t0 + 100);
    apply(&edge, &dispute.created_event(shape, t0 + 100)).await;
    assert_eq!(me_status(&edge, &cookie, true).await, revoked("disputed"));
    let won = dispute.with(|d| d.status = "won".into());
    let closed = won.closed_event(shape, t0 + 200);
    apply(&edge, &closed).await;
    assert_eq!(deliver_ok(&edge, &closed).await["duplicate"], true);
    assert_eq!(access(&edge, &cookie, COURSE_DRIPPED).await, "open");
    assert_eq!(
        history(&edge, email).await,
        [
            "bundle_add bundle:pricing-course",
            "revoke bundle:pricing-course (disputed)",
            "restore bundle:pricing-course"
        ]
    );
}
