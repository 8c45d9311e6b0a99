//! Crashes and restarts of the real `gatehouse edge` binary: a Stripe event stored just before a
//! crash is applied after the restart; a flood of webhooks interrupted by SIGKILL and redelivered
//! (as Stripe redelivers what it got no 2xx for) is applied exactly once per event; and push
//! notifications queued before a kill reach their receiver after the restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::edge::token_from_mail;
use common::edge_process::{ADMIN, Edge};
use common::receiver::Receiver;
use common::{Site, eml_files, eventually};
use gatehouse::mail::outbox_dir;
use gatehouse::payments::signature;
use gatehouse::store::Store;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "whsec_restart_test_0123456789";
const NOTIFY_SECRET: &str = "notify-restart-0123456789abcdef";
const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
/// How long a polled condition may take before the test calls it hung. Polled, so a condition
/// met at once costs nothing; long enough for a delivery an attempt held when the edge died
/// (its 60 s lease) to be tried again by the next one.
const WAIT: Duration = Duration::from_secs(90);

fn db_url(site: &Site) -> String {
    format!("sqlite://{}", site.path(".gatehouse/members.db").display())
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GATEHOUSE_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("GATEHOUSE_NOTIFY_SECRET", NOTIFY_SECRET),
    ]
}

/// A completed Checkout Session for one pricing-course purchase, in Stripe's shape.
fn purchase(n: usize, email: &str) -> String {
    json!({
        "id": format!("evt_restart_{n}"),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": Timestamp::now().as_second(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": format!("cs_test_restart_{n}"),
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": 4900,
            "currency": "usd",
            "customer": format!("cus_restart_{n}"),
            "customer_details": { "email": email, "name": "Buyer" },
            "customer_email": null,
            "client_reference_id": null,
            "payment_intent": format!("pi_restart_{n}"),
            "payment_link": null,
            "subscription": null,
            "metadata": { "gatehouse_product": "pricing-course" }
        }}
    })
    .to_string()
}

async fn deliver(
    client: &reqwest::Client,
    edge_api: &str,
    body: &str,
) -> reqwest::Result<reqwest::Response> {
    let header = signature::sign(
        WEBHOOK_SECRET,
        Timestamp::now().as_second(),
        body.as_bytes(),
    );
    client
        .post(format!("{edge_api}/webhooks/stripe"))
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

fn outbox(site: &Site) -> Vec<String> {
    eml_files(&outbox_dir(site.root()))
        .unwrap_or_default()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

async fn history(client: &reqwest::Client, edge: &Edge, email: &str) -> Vec<Value> {
    let answer: Value = client
        .get(edge.url(&format!("/admin/members/{email}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["history"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_event_stored_before_a_crash_is_applied_after_the_restart() {
    let site = Site::demo();
    let url = db_url(&site);
    // What the webhook handler does first, then the crash: stored, acknowledged, not applied.
    let store = Store::open(&url).await.unwrap();
    let body = purchase(1, "buyer@example.com");
    let created = Timestamp::now().as_second();
    assert!(
        store
            .record_stripe_event(
                "evt_restart_1",
                "checkout.session.completed",
                created,
                &body,
                Timestamp::now()
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .member_by_email("buyer@example.com")
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;

    let edge = Edge::start(site.root(), &url, &env());
    // The restarted edge applies it in the background and welcomes the buyer.
    let mail = eventually("the welcome email", WAIT, async || {
        outbox(&site).into_iter().find(|m| m.contains("Welcome to"))
    })
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = token_from_mail(&mail);
    let login = client
        .post(edge.url("/auth"))
        .form(&[("token", token.as_str()), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let keys: Value = client
        .post(edge.url("/keys"))
        .header("cookie", cookie)
        .json(&json!({ "rules": [COURSE] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"].as_object().unwrap().len(), 1, "{keys}");
    // Stripe redelivers it later: acknowledged, not applied again.
    let again: Value = deliver(&client, &edge.api, &body)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true);
    let events = history(&client, &edge, "buyer@example.com").await;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn a_webhook_flood_cut_by_sigkill_and_redelivered_is_applied_exactly_once() {
    let site = Site::demo();
    let url = db_url(&site);
    let bodies: Vec<String> = (0..40)
        .map(|n| purchase(n, &format!("buyer{n}@example.com")))
        .collect();
    let edge = Edge::start(site.root(), &url, &env());
    let client = reqwest::Client::new();
    let api = edge.api.clone();
    let sending: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|body| {
            let client = client.clone();
            let api = api.clone();
            tokio::spawn(async move { deliver(&client, &api, &body).await.map(|r| r.status()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    edge.kill();
    let mut acknowledged = 0;
    for task in sending {
        if matches!(task.await.unwrap(), Ok(status) if status.is_success()) {
            acknowledged += 1;
        }
    }
    // Stripe redelivers every event: the ones cut off, and (harmlessly) the others.
    let edge = Edge::start(site.root(), &url, &env());
    for body in &bodies {
        let answer = deliver(&client, &edge.api, body).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    for n in 0..40 {
        let events = history(&client, &edge, &format!("buyer{n}@example.com")).await;
        assert_eq!(
            events.len(),
            1,
            "buyer{n}: exactly one grant, got {events:?}"
        );
        assert_eq!(events[0]["type"], "bundle_add");
    }
    eprintln!("{acknowledged} of 40 deliveries were acknowledged before the kill");
}

#[tokio::test]
async fn notices_queued_before_a_kill_reach_their_receiver_after_the_restart() {
    let receiver = Receiver::start().await;
    let hook = receiver.url();
    let down = receiver.stop().await;
    let site = Site::demo();
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{text}\n[[notify]]\nurl = \"{hook}\"\n"),
    );
    let url = db_url(&site);
    let edge = Edge::start(site.root(), &url, &env());
    let client = reqwest::Client::new();
    let created = client
        .post(edge.url("/admin/members"))
        .bearer_auth(ADMIN)
        .json(&json!({ "email": "kim@example.com", "level": "gold" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let store = Store::open(&url).await.unwrap();
    let member = store
        .member_by_email("kim@example.com")
        .await
        .unwrap()
        .unwrap();
    eventually("the joined notice to be queued", WAIT, async || {
        (!store.notices(member.id).await.unwrap().is_empty()).then_some(())
    })
    .await;
    // Killed after a failed attempt, between retries: the notice waits in the database.
    eventually("a failed delivery attempt", WAIT, async || {
        let metrics = client
            .get(edge.url("/metrics"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let failures: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("gatehouse_notice_failures_total "))?
            .parse()
            .ok()?;
        (failures >= 1).then_some(())
    })
    .await;
    // Killed between retries, not during an attempt: an attempt holds the delivery for its
    // 60 s lease, which a restart does not cut short. The edge is frozen, and killed only once
    // its delivery is seen waiting for a retry (due within seconds) rather than held.
    let soon = || {
        Timestamp::now()
            .checked_add(SignedDuration::from_secs(30))
            .unwrap()
    };
    loop {
        edge.freeze();
        if !store.due_deliveries(soon(), 10).await.unwrap().is_empty() {
            break;
        }
        edge.thaw();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    edge.kill();
    let back = down.start().await;
    let _edge = Edge::start(site.root(), &url, &env());
    let got = back.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["type"], "member.joined");
    assert_eq!(got[0].json()["member"]["email"], "kim@example.com");
    let header = got[0].header("gatehouse-signature").unwrap();
    signature::verify(
        Some(&header),
        got[0].body.as_bytes(),
        &[NOTIFY_SECRET],
        Timestamp::now().as_second(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(back.received().len(), 1, "delivered once");
    store.close().await;
}
