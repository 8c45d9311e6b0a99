//! Attacks on the operator console (issue 17). Each test here fails on the code it was written
//! against and passes once the defect it names is fixed.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, header};
use common::console::{self, OPERATOR, csrf, form, log_in, post_form};
use common::edge::{Answer, TestEdge};
use jiff::Timestamp;

const GOLD: &str = "level=gold;bundles=-;drip=0";
const ANN: &str = "ann@example.com";

/// A console page read as a script on another origin would read it: `fetch` with
/// `credentials: "include"` from `origin`, which a same-site origin's page may send with the
/// `SameSite=Strict` console cookie.
async fn cross_origin_get(edge: &TestEdge, path: &str, cookie: &str, origin: &str) -> Answer {
    let request = TestEdge::request(Method::GET, path, Some(cookie))
        .header(header::ORIGIN, origin)
        .header("sec-fetch-site", "same-site")
        .header("sec-fetch-mode", "cors")
        .body(Body::empty())
        .unwrap();
    edge.send(request).await
}

/// The console must not be readable by the site's (or `--allow-origin`) pages through CORS:
/// its pages carry the session's CSRF token, the member list and its CSV export. With the edge
/// on a sibling origin (`https://api.academy.example.com`, same site as the site), the console
/// cookie (`SameSite=Strict`) rides along with a credentialed fetch from the site, and the
/// global `CorsLayer` answers `Access-Control-Allow-Origin: <site>` with
/// `Access-Control-Allow-Credentials: true`: any script on the site can read a console page,
/// take the CSRF token and post actions (the `Origin` check lets the site's origin post).
#[tokio::test]
async fn console_pages_are_not_readable_by_the_sites_pages_through_cors() {
    let site = console::site();
    site.edit(
        "site.toml",
        "edge_url = \"/_gate\"",
        "edge_url = \"https://api.academy.example.com/_gate\"",
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let id = edge.store.member_by_email(ANN).await.unwrap().unwrap().id;
    let cookie = log_in(&edge, OPERATOR).await;
    for path in [
        "/admin/".to_owned(),
        format!("/admin/people/{id}"),
        "/admin/people.csv".to_owned(),
        "/admin/audit".to_owned(),
    ] {
        let answer = cross_origin_get(&edge, &path, &cookie, "https://academy.example.com").await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(
            answer.header("access-control-allow-origin"),
            None,
            "{path} is readable by the site's scripts with the operator's cookie (CSRF token: {})",
            answer.body.contains("name=\"csrf\"")
        );
    }
}

/// Links per operator per link lifetime are 5 "across replicas" (login.rs), but the count and
/// the new link are not one step: concurrent requests (from several addresses, or one burst of
/// the per-address limiter) all read a count below 5 and all send. The members' path takes
/// the member's turn (`member_turn`) around the same two steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_link_budget_holds_under_concurrent_requests() {
    let edge = console::sqlite_edge().await;
    let origin =
        gatehouse::server::origin_of(&gatehouse::server::public_api_url(&edge.state.config))
            .unwrap();
    let body = format!("email={OPERATOR}");
    let requests = (0..30u8).map(|n| {
        let mut request = TestEdge::request(Method::POST, "/admin/login", None)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, origin.as_str())
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body.clone()))
            .unwrap();
        let peer: SocketAddr = format!("198.51.100.{}:4000", n + 1).parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        edge.send(request)
    });
    for answer in futures_util::future::join_all(requests).await {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // Links are sent in the background: wait until the outbox stops growing.
    let mut seen = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = edge.outbox().len();
        if now == seen && now > 0 {
            break;
        }
        seen = now;
    }
    let sent = edge.outbox().len();
    assert!(
        sent <= 5,
        "{sent} login links went to the operator within one link lifetime; the budget is 5"
    );
}

/// Anyone who knows an operator's address can have a link mailed to it 5 times every 15
/// minutes, all day (480 a day), from one address: the operator's budget has no daily cap.
/// Members' links are capped at 30 a day from anywhere (auth.rs `LINKS_PER_DAY`) for exactly
/// this reason.
#[tokio::test]
async fn an_operators_inbox_gets_a_bounded_number_of_links_a_day() {
    let edge = console::sqlite_edge().await;
    let now = Timestamp::now().as_second();
    // 40 links over the last day, each older than one link lifetime.
    for n in 0..40i64 {
        let at = Timestamp::from_second(now - 20 * 60 - n * 30 * 60).unwrap();
        let expires = Timestamp::from_second(at.as_second() + 15 * 60).unwrap();
        edge.store
            .create_operator_link(&format!("past-link-{n}"), OPERATOR, at, expires)
            .await
            .unwrap();
    }
    let asked = post_form(&edge, "/admin/login", &format!("email={OPERATOR}"), None).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        edge.outbox().is_empty(),
        "a 41st login link in 24 hours was mailed to the operator"
    );
}

/// "View the site as this member" is for the operator's console session: logging out ends it
/// (tests/console_login.rs), but a console session that simply ends (its `session_hours` run
/// out) leaves the preview opening the member's gates for up to 30 more minutes, in a browser
/// that no longer has any console session.
#[tokio::test]
async fn a_preview_ends_with_the_console_session_it_came_from() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let id = edge.store.member_by_email(ANN).await.unwrap().unwrap().id;
    let cookie = log_in(&edge, OPERATOR).await;
    let page = edge
        .get(&format!("/admin/people/{id}"), Some(&cookie))
        .await;
    let token = csrf(&page.body);
    let started = post_form(
        &edge,
        &format!("/admin/people/{id}/preview"),
        &form(&[("csrf", &token)]),
        Some(&cookie),
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let preview = started
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|pair| pair.contains("gh_preview=") && !pair.ends_with('='))
        .expect("a preview cookie");
    let open = edge.keys(&[GOLD], Some(&preview)).await.json();
    assert!(
        open["keys"].as_object().unwrap().len() == 1,
        "the preview answers as Ann: {open}"
    );

    // The console session runs out (moved back in the database: tests do not wait 8 hours).
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        edge.site.path(".gatehouse/members.db").display()
    );
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE operator_sessions SET expires_at = $1")
        .bind(Timestamp::now().as_second() - 1)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        edge.get("/admin/audit", Some(&cookie)).await.status,
        303,
        "the console session is over"
    );
    let after = edge.keys(&[GOLD], Some(&preview)).await.json();
    assert_eq!(
        after["locked"][common_gate(GOLD)]["reason"],
        "login",
        "the preview still opens Ann's gates without a console session: {after}"
    );
}

fn common_gate(rule: &str) -> String {
    gatehouse::gate::Rule::parse(rule)
        .unwrap()
        .gate_id()
        .as_str()
        .to_owned()
}
