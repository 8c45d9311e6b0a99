//! More attacks on the operator console (issue 17): the payments page. Each test fails on the
//! code it was written against and passes once the defect it names is fixed.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::console::{self, OPERATOR, csrf, form, log_in, post_form};
use common::edge::TestEdge;
use common::eventually;
use common::receiver::{Answer, Receiver};
use gatehouse::clock::Clock;
use gatehouse::server::{Hidden, WorkerTimes, spawn_workers};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// The console site pushing every notice to `url`, with the edge's workers running.
async fn console_edge_pushing_to(url: &str) -> TestEdge {
    let site = console::site();
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{text}\n[[notify]]\nurl = \"{url}\"\n"),
    );
    let db = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start_with(site, &db, |options| {
        options.notify_secrets = Hidden(
            [(
                "GATEHOUSE_NOTIFY_SECRET".to_owned(),
                "notify-secret-0123456789abcdef".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
    })
    .await;
    let clock = Clock::default();
    spawn_workers(
        edge.state.clone(),
        WorkerTimes {
            tick: Duration::from_millis(100),
            first_retry: Duration::from_secs(3600),
            max_retry: Duration::from_secs(3600),
            clock,
            ..WorkerTimes::default()
        },
    );
    edge
}

fn ago(duration: SignedDuration) -> String {
    Timestamp::now().checked_sub(duration).unwrap().to_string()
}

/// The id of the first delivery row on the payments page.
fn first_delivery(html: &str) -> Option<i64> {
    let marker = "data-delivery=\"";
    let start = html.find(marker)? + marker.len();
    html[start..].split('"').next()?.parse().ok()
}

/// A push endpoint's secret often sits in its path (Slack `hooks.slack.com/services/T/B/<token>`,
/// Discord `/api/webhooks/<id>/<token>`, Zapier `/hooks/catch/<id>/<token>/`). The workers' own
/// `shown_target` names an endpoint by its origin only for that reason ("a URL's path or query
/// may hold a token"), but the payments page (and the retry-now audit entry) shows the path.
#[tokio::test]
async fn payments_page_does_not_show_a_push_urls_path_token() {
    const TOKEN: &str = "Zk3SecretPathToken9qX";
    let url = format!("http://127.0.0.1:9/services/T000/B000/{TOKEN}");
    let edge = console_edge_pushing_to(&url).await;
    edge.add_member(
        "ann@example.com",
        "gold",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    let cookie = log_in(&edge, OPERATOR).await;
    let page = eventually("a delivery on the payments page", WAIT, async || {
        let page = edge.get("/admin/payments", Some(&cookie)).await;
        first_delivery(&page.body).map(|_| page)
    })
    .await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains(TOKEN),
        "the push URL's secret path is on the payments page"
    );
}

/// "Retry now" on a delivery whose attempt is in flight (claimed: its `next_attempt` is the
/// lease, and the page shows it as pending with a Retry button) makes it due at once: another
/// worker round pushes it a second time, and the first attempt's success is then not recorded
/// (its lease no longer matches). The endpoint gets the same notice twice.
#[tokio::test]
async fn retry_now_on_a_delivery_in_flight_does_not_push_it_twice() {
    let first = Arc::new(AtomicBool::new(true));
    let receiver = Receiver::start_with(Arc::new(move |_: &Value| {
        if first.swap(false, Ordering::SeqCst) {
            Answer::AcceptAfter(Duration::from_secs(3))
        } else {
            Answer::Accept
        }
    }))
    .await;
    let edge = console_edge_pushing_to(&receiver.url()).await;
    let cookie = log_in(&edge, OPERATOR).await;
    edge.add_member(
        "bea@example.com",
        "gold",
        &ago(SignedDuration::from_hours(1)),
        None,
    )
    .await;
    // The first attempt is in flight: the receiver holds it for 3 s.
    let (page, id) = eventually("a delivery in flight", WAIT, async || {
        let page = edge.get("/admin/payments", Some(&cookie)).await;
        let id = first_delivery(&page.body)?;
        page.body
            .contains("data-state=\"pending\"")
            .then_some((page.body.clone(), id))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let retried = post_form(
        &edge,
        "/admin/payments/retry-now",
        &form(&[("csrf", &csrf(&page)), ("id", &id.to_string())]),
        Some(&cookie),
    )
    .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = receiver.received();
    let joined = got
        .iter()
        .filter(|r| r.json()["type"] == "member.joined")
        .count();
    assert_eq!(joined, 1, "the endpoint got member.joined {joined} times");
}
