//! Push notifications and the welcome email: member events reach a real HTTP receiver signed as
//! Stripe signs, in order, exactly once each; a receiver that is down gets them when it is back;
//! scheduled transitions (a pending cancel ending, an expiry) are announced by the background
//! sweep; the welcome email's link logs the member in.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::edge::{TestEdge, token_from_mail};
use common::receiver::{Answer, Received, Receiver};
use common::{Site, eventually};
use gatehouse::clock::Clock;
use gatehouse::payments::signature;
use gatehouse::server::{Hidden, WorkerTimes, spawn_workers};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "notify-secret-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(15);

/// Quick retries, never given up within a test (whose clock may be moved ahead hours).
fn fast(clock: &Clock) -> WorkerTimes {
    WorkerTimes {
        tick: Duration::from_millis(100),
        first_retry: Duration::from_millis(200),
        max_retry: Duration::from_secs(1),
        give_up_after: Duration::from_secs(30 * 24 * 3600),
        clock: clock.clone(),
        ..WorkerTimes::default()
    }
}

/// The demo site sending every member event (or only `events`) to `url`, and the clock its
/// workers go by, for scheduled transitions to come when the test moves it.
async fn edge_pushing_to(url: &str, events: Option<&str>, welcome: bool) -> (TestEdge, Clock) {
    edge_with_times(url, events, welcome, fast).await
}

async fn edge_with_times(
    url: &str,
    events: Option<&str>,
    welcome: bool,
    times: fn(&Clock) -> WorkerTimes,
) -> (TestEdge, Clock) {
    let site = Site::demo();
    let filter = events.map_or(String::new(), |e| format!("events = {e}\n"));
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{text}\n[[notify]]\nurl = \"{url}\"\n{filter}"),
    );
    let db = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let root = site.root().to_path_buf();
    let edge = TestEdge::start_with(site, &db, |options| {
        options.notify_secrets = Hidden(
            [("GATEHOUSE_NOTIFY_SECRET".to_owned(), SECRET.to_owned())]
                .into_iter()
                .collect(),
        );
        if welcome {
            let config = gatehouse::config::load(&root).unwrap();
            options.welcome = Some(std::sync::Arc::new(
                gatehouse::notify::welcome::Welcome::load(&config).unwrap(),
            ));
        }
    })
    .await;
    let clock = Clock::default();
    spawn_workers(edge.state.clone(), times(&clock));
    (edge, clock)
}

/// Waits until the member's changes so far are announced (`count` notices written).
async fn announced(edge: &TestEdge, email: &str, count: usize) {
    let member = edge.store.member_by_email(email).await.unwrap().unwrap();
    eventually(
        &format!("{count} notices about {email}"),
        WAIT,
        async || (edge.store.notices(member.id).await.unwrap().len() >= count).then_some(()),
    )
    .await;
}

/// Every delivery as (attempts, last error), read from the edge's database.
async fn deliveries(edge: &TestEdge) -> Vec<(i64, Option<String>)> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        edge.site.path(".gatehouse/members.db").display()
    );
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT attempts, last_error FROM deliveries ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows.iter()
        .map(|row| (row.get("attempts"), row.get("last_error")))
        .collect()
}

fn kinds(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect()
}

fn ago(duration: SignedDuration) -> String {
    Timestamp::now().checked_sub(duration).unwrap().to_string()
}

fn from_now(duration: SignedDuration) -> String {
    Timestamp::now().checked_add(duration).unwrap().to_string()
}

#[tokio::test]
async fn member_events_are_pushed_signed_in_order_and_once() {
    let receiver = Receiver::start().await;
    let (edge, _clock) = edge_pushing_to(&receiver.url(), None, false).await;
    edge.add_member(
        "ann@example.com",
        "free",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    receiver.wait_for(1, WAIT).await;
    edge.event(
        "ann@example.com",
        json!({ "type": "level_set", "access": "level:gold" }),
    )
    .await;
    receiver.wait_for(2, WAIT).await;
    edge.event(
        "ann@example.com",
        json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
    )
    .await;
    receiver.wait_for(3, WAIT).await;
    edge.event("ann@example.com", json!({ "type": "overdue" }))
        .await;
    receiver.wait_for(4, WAIT).await;
    edge.event(
        "ann@example.com",
        json!({ "type": "bundle_cancel", "access": "bundle:pricing-course" }),
    )
    .await;
    let got = receiver.wait_for(5, WAIT).await;
    assert_eq!(
        kinds(&got),
        [
            "member.joined",
            "member.level_changed",
            "member.bundle_added",
            "member.status_changed",
            "member.bundle_cancelled"
        ]
    );
    for received in &got {
        let header = received.header("gatehouse-signature").unwrap();
        let now = Timestamp::now().as_second();
        signature::verify(Some(&header), received.body.as_bytes(), &[SECRET], now)
            .unwrap_or_else(|e| panic!("the signature verifies: {e}"));
        assert!(
            signature::verify(
                Some(&header),
                received.body.as_bytes(),
                &["wrong-secret"],
                now
            )
            .is_err()
        );
        let body = received.json();
        assert_eq!(body["member"]["email"], "ann@example.com");
        assert_eq!(
            received.header("gatehouse-event").as_deref(),
            body["type"].as_str()
        );
        assert!(body["id"].as_str().unwrap().starts_with("ntc_"));
    }
    let level_change = got[1].json();
    assert_eq!(
        level_change["data"],
        json!({ "from": "free", "to": "gold" })
    );
    assert_eq!(got[1].json()["member"]["level"]["id"], "gold");
    assert_eq!(got[3].json()["data"]["to"], "overdue");
    assert_eq!(got[4].json()["data"]["bundle"], "pricing-course");
    // Nothing more arrives: each change is announced exactly once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 5);
    let ids: std::collections::BTreeSet<String> = got
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "every notice has its own id");
}

#[tokio::test]
async fn an_endpoint_gets_only_the_events_it_asks_for() {
    let receiver = Receiver::start().await;
    let (edge, _clock) = edge_pushing_to(&receiver.url(), Some("[\"level_changed\"]"), false).await;
    edge.add_member(
        "bo@example.com",
        "free",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    announced(&edge, "bo@example.com", 1).await;
    edge.event(
        "bo@example.com",
        json!({ "type": "level_set", "access": "level:silver" }),
    )
    .await;
    let got = receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(kinds(&receiver.received()), ["member.level_changed"]);
    assert_eq!(got[0].json()["data"]["to"], "silver");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_notice_once_it_is_back() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let down = receiver.stop().await;
    let (edge, _clock) = edge_pushing_to(&url, None, false).await;
    for name in ["a", "b", "c"] {
        edge.add_member(
            &format!("{name}@example.com"),
            "gold",
            &ago(SignedDuration::from_hours(1)),
            None,
        )
        .await;
    }
    // Down for a while: every notice fails at least once and is retried with backoff.
    eventually(
        "every notice tried while the receiver is down",
        WAIT,
        async || {
            let tried = deliveries(&edge).await.iter().filter(|d| d.0 >= 1).count();
            (tried == 3).then_some(())
        },
    )
    .await;
    let metrics = edge.admin_get("/metrics").await.body;
    assert!(
        !metrics.contains("gatehouse_notice_failures_total 0\n"),
        "{metrics}"
    );
    let back = down.start().await;
    let got = back.wait_for(3, WAIT).await;
    let mut emails: Vec<String> = got
        .iter()
        .map(|r| r.json()["member"]["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    assert_eq!(emails, ["a@example.com", "b@example.com", "c@example.com"]);
    assert!(kinds(&got).iter().all(|k| k == "member.joined"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(back.received().len(), 3, "delivered once each, not again");
}

#[tokio::test]
async fn a_pending_cancel_reaching_its_date_is_announced() {
    let receiver = Receiver::start().await;
    let (edge, clock) = edge_pushing_to(&receiver.url(), None, false).await;
    edge.add_member(
        "cy@example.com",
        "gold",
        &ago(SignedDuration::from_hours(24)),
        None,
    )
    .await;
    announced(&edge, "cy@example.com", 1).await;
    edge.event(
        "cy@example.com",
        json!({ "type": "cancel", "until": from_now(SignedDuration::from_hours(1)) }),
    )
    .await;
    announced(&edge, "cy@example.com", 2).await;
    clock.advance(SignedDuration::from_hours(2));
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        kinds(&got),
        [
            "member.joined",
            "member.status_changed",
            "member.status_changed"
        ]
    );
    assert_eq!(got[1].json()["data"]["to"], "pending-cancel");
    assert!(got[1].json()["data"]["until"].is_string());
    assert_eq!(got[2].json()["data"]["from"], "pending-cancel");
    assert_eq!(got[2].json()["data"]["to"], "cancelled");
}

#[tokio::test]
async fn an_expiry_with_on_expire_is_announced_as_expired_then_level_changed() {
    let receiver = Receiver::start().await;
    let (edge, clock) = edge_pushing_to(&receiver.url(), None, false).await;
    // Silver lasts 365 days and then becomes Free (the demo's site.toml): an hour left.
    let since = ago(SignedDuration::from_hours(365 * 24 - 1));
    edge.add_member("di@example.com", "silver", &since, None)
        .await;
    announced(&edge, "di@example.com", 1).await;
    clock.advance(SignedDuration::from_hours(2));
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        kinds(&got),
        ["member.joined", "member.expired", "member.level_changed"]
    );
    assert_eq!(got[1].json()["data"]["access"], "level:silver");
    assert_eq!(
        got[2].json()["data"],
        json!({ "from": "silver", "to": "free" })
    );
}

/// Two notices written in one transaction (an expiry and its downgrade) go out one after the
/// other: the second is not sent until the first is answered, however slowly.
#[tokio::test]
async fn a_members_next_notice_waits_until_the_previous_one_is_answered() {
    let receiver = Receiver::start_with(Arc::new(|body: &Value| {
        if body["type"] == "member.expired" {
            Answer::AcceptAfter(Duration::from_millis(1500))
        } else {
            Answer::Accept
        }
    }))
    .await;
    let (edge, clock) = edge_pushing_to(&receiver.url(), None, false).await;
    let since = ago(SignedDuration::from_hours(365 * 24 - 1));
    edge.add_member("hal@example.com", "silver", &since, None)
        .await;
    announced(&edge, "hal@example.com", 1).await;
    clock.advance(SignedDuration::from_hours(2));
    receiver.wait_for(3, WAIT).await;
    assert_eq!(
        receiver.timeline(),
        [
            "arrived member.joined hal@example.com",
            "accepted member.joined hal@example.com",
            "arrived member.expired hal@example.com",
            "accepted member.expired hal@example.com",
            "arrived member.level_changed hal@example.com",
            "accepted member.level_changed hal@example.com",
        ]
    );
}

/// A notice the endpoint keeps refusing holds back that member's later notices to it, and
/// nothing else: another member's notices go through meanwhile.
#[tokio::test]
async fn a_retrying_notice_holds_back_only_that_members_later_notices() {
    let open = Arc::new(AtomicBool::new(false));
    let opened = open.clone();
    let receiver = Receiver::start_with(Arc::new(move |body: &Value| {
        if body["member"]["email"] == "fay@example.com" && !opened.load(Ordering::SeqCst) {
            Answer::Refuse
        } else {
            Answer::Accept
        }
    }))
    .await;
    let refusals = |receiver: &Receiver| {
        receiver
            .timeline()
            .iter()
            .filter(|line| *line == "refused member.joined fay@example.com")
            .count()
    };
    let (edge, _clock) = edge_pushing_to(&receiver.url(), None, false).await;
    let hour_ago = ago(SignedDuration::from_hours(1));
    edge.add_member("fay@example.com", "free", &hour_ago, None)
        .await;
    announced(&edge, "fay@example.com", 1).await;
    edge.event(
        "fay@example.com",
        json!({ "type": "level_set", "access": "level:gold" }),
    )
    .await;
    announced(&edge, "fay@example.com", 2).await;
    // Fay's level change is now due. Three more refusals of her join span at least two whole
    // rounds that began after it was written: a sender that did not keep her queue in order
    // would have tried it by then.
    let before = refusals(&receiver);
    eventually("three more refusals of fay's join", WAIT, async || {
        (refusals(&receiver) >= before + 3).then_some(())
    })
    .await;
    edge.add_member("gil@example.com", "free", &hour_ago, None)
        .await;
    announced(&edge, "gil@example.com", 1).await;
    edge.event(
        "gil@example.com",
        json!({ "type": "level_set", "access": "level:silver" }),
    )
    .await;
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(kinds(&got), ["member.joined", "member.level_changed"]);
    assert!(
        got.iter()
            .all(|r| r.json()["member"]["email"] == "gil@example.com")
    );
    assert!(
        !receiver
            .timeline()
            .iter()
            .any(|line| line.contains("member.level_changed fay@")),
        "fay's level change waits behind her join: {:?}",
        receiver.timeline()
    );
    open.store(true, Ordering::SeqCst);
    let got = receiver.wait_for(4, WAIT).await;
    let fay: Vec<String> = got
        .iter()
        .filter(|r| r.json()["member"]["email"] == "fay@example.com")
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fay, ["member.joined", "member.level_changed"]);
}

/// A receiver that takes the notice and never answers does not hold the delivery (nor its
/// queue) for ever: the attempt fails when its time is up, and the notice is sent again.
#[tokio::test]
async fn an_attempt_that_never_ends_fails_in_time_and_is_retried() {
    let first = Arc::new(AtomicBool::new(true));
    let receiver = Receiver::start_with(Arc::new(move |_: &Value| {
        if first.swap(false, Ordering::SeqCst) {
            Answer::AcceptAfter(Duration::from_secs(24 * 3600))
        } else {
            Answer::Accept
        }
    }))
    .await;
    /// A retry only when the test moves the clock, so the failed attempt can be looked at.
    fn impatient(clock: &Clock) -> WorkerTimes {
        WorkerTimes {
            attempt_timeout: Duration::from_millis(300),
            first_retry: Duration::from_secs(3600),
            max_retry: Duration::from_secs(3600),
            ..fast(clock)
        }
    }
    let (edge, clock) = edge_with_times(&receiver.url(), None, false, impatient).await;
    edge.add_member(
        "ida@example.com",
        "gold",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    let failed = eventually(
        "the first attempt to fail",
        WAIT,
        async || match deliveries(&edge).await.first().cloned() {
            Some((1, Some(error))) => Some(error),
            _ => None,
        },
    )
    .await;
    assert_eq!(
        failed,
        gatehouse::server::TOO_LONG,
        "ended by the attempt's own time"
    );
    clock.advance(SignedDuration::from_hours(2));
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(kinds(&got), ["member.joined"]);
    assert_eq!(
        receiver.timeline(),
        [
            "arrived member.joined ida@example.com",
            "arrived member.joined ida@example.com",
            "accepted member.joined ida@example.com",
        ]
    );
    assert_eq!(deliveries(&edge).await, [(2, None)]);
}

#[tokio::test]
async fn a_new_member_gets_a_welcome_email_whose_link_logs_them_in() {
    let receiver = Receiver::start().await;
    let (edge, _clock) = edge_pushing_to(&receiver.url(), None, true).await;
    edge.add_member(
        "eve@example.com",
        "gold",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    let mail = edge.wait_for_outbox(1).await.remove(0);
    assert!(mail.contains("Subject: Welcome to Acme Academy"), "{mail}");
    assert!(mail.contains("Gold"), "names the level: {mail}");
    let token = token_from_mail(&mail);
    let answer = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}&next=/"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let cookie = answer.session_cookie().unwrap();
    let keys: Value = edge
        .keys(&["level=gold;bundles=-;drip=0"], Some(&cookie))
        .await
        .json();
    assert_eq!(keys["keys"].as_object().unwrap().len(), 1, "{keys}");
    // One welcome only: later changes send none.
    edge.event(
        "eve@example.com",
        json!({ "type": "level_set", "access": "level:silver" }),
    )
    .await;
    receiver.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(edge.outbox().len(), 1);
}
