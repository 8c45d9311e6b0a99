//! Regressions of the edge's security review (issue 15), each named after what broke: who may
//! read `/metrics`, what `/login` reveals, how the session cookie is scoped, what a flood of
//! password attempts costs, cross-site POSTs, lock-outs and inbox floods, what the log holds,
//! logging out everywhere, and admin cancels whose `until` cannot apply.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::edge::{ADMIN_TOKEN, Answer, TestEdge, token_from_mail};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const SITE: &str = "https://academy.example.com";

fn days_ago(days: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)).to_string()
}

/// An edge that takes the client's address from `X-Forwarded-For`, so a test can speak from
/// many addresses.
async fn proxied_edge(limiter_keys: Option<usize>) -> TestEdge {
    let site = common::Site::demo();
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    TestEdge::start_with(site, &url, |options| {
        options.behind_proxy = true;
        if let Some(keys) = limiter_keys {
            options.limiter_keys = keys;
        }
    })
    .await
}

/// A JSON POST with extra headers.
async fn post_with(
    edge: &TestEdge,
    path: &str,
    body: &Value,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = TestEdge::request(Method::POST, path, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    edge.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn password_login_from(edge: &TestEdge, email: &str, password: &str, from: &str) -> Answer {
    post_with(
        edge,
        "/login/password",
        &json!({ "email": email, "password": password }),
        None,
        &[("x-forwarded-for", from)],
    )
    .await
}

/// The value of one unlabelled metric.
async fn metric(edge: &TestEdge, name: &str) -> u64 {
    let text = edge.admin_get("/metrics").await.body;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits until the background work of `requests` magic-link requests for members is done:
/// each ends as a link sent or withheld.
async fn wait_for_link_work(edge: &TestEdge, requests: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let done = metric(edge, "gatehouse_login_links_sent_total").await
            + metric(edge, "gatehouse_login_links_withheld_total").await;
        if done >= requests {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{done} of {requests} done"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// --- /metrics and /login must not reveal who is a member ---------------------------------------

#[tokio::test]
async fn metrics_need_the_admin_token() {
    let edge = TestEdge::sqlite().await;
    let open = edge.get("/metrics", None).await;
    assert_eq!(open.status, StatusCode::UNAUTHORIZED, "{}", open.body);
    assert!(!open.body.contains("gatehouse_login"));
    let wrong = edge
        .send(
            TestEdge::request(Method::GET, "/metrics", None)
                .header(header::AUTHORIZATION, "Bearer not-the-token-not-the-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let admin = edge.admin_get("/metrics").await;
    assert_eq!(admin.status, StatusCode::OK);
    assert!(admin.body.contains("gatehouse_login_links_sent_total"));
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_alone_without_a_token() {
    use tower::ServiceExt;
    let edge = TestEdge::sqlite().await;
    let app = gatehouse::server::metrics_app(edge.state.clone());
    let metrics = app
        .clone()
        .oneshot(
            Request::get("/metrics")
                .header(header::HOST, "127.0.0.1:9187")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    // A page that rebinds its own name to the listener sends that name.
    let rebound = app
        .clone()
        .oneshot(
            Request::get("/metrics")
                .header(header::HOST, "evil.example:9187")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let keys = app
        .oneshot(
            Request::post("/keys")
                .header(header::HOST, "127.0.0.1:9187")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "rules": [] }).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        keys.status(),
        StatusCode::NOT_FOUND,
        "only /metrics is there"
    );
}

#[tokio::test]
async fn login_does_no_member_work_before_answering() {
    // With the member database gone, a member's and a stranger's request are answered alike:
    // nothing that depends on membership runs before the answer.
    let edge = TestEdge::sqlite().await;
    edge.add_member("mia@example.com", "gold", &days_ago(3), None)
        .await;
    edge.store.close().await;
    let member = edge
        .post("/login", &json!({ "email": "mia@example.com" }), None)
        .await;
    let stranger = edge
        .post("/login", &json!({ "email": "nobody@example.com" }), None)
        .await;
    assert_eq!(member.status, StatusCode::ACCEPTED, "{}", member.body);
    assert_eq!(stranger.status, member.status);
    let shape = |answer: &Answer| {
        answer
            .body
            .replace("mia@example.com", "EMAIL")
            .replace("nobody@example.com", "EMAIL")
    };
    assert_eq!(shape(&member), shape(&stranger));
}

#[tokio::test]
async fn login_counters_move_alike_for_members_and_strangers() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("mia@example.com", "gold", &days_ago(3), None)
        .await;
    let counters = |text: String| -> Vec<String> {
        // The counters a request moves before its answer; what the background did (links sent
        // or withheld) is the operator's to see, and the admin token guards it.
        text.lines()
            .filter(|l| l.starts_with("gatehouse_") && !l.starts_with("gatehouse_login_links"))
            .filter(|l| !l.starts_with("gatehouse_requests_total"))
            .map(str::to_owned)
            .collect()
    };
    let before = counters(edge.admin_get("/metrics").await.body);
    edge.post("/login", &json!({ "email": "mia@example.com" }), None)
        .await;
    let after_member = counters(edge.admin_get("/metrics").await.body);
    edge.post("/login", &json!({ "email": "nobody@example.com" }), None)
        .await;
    let after_stranger = counters(edge.admin_get("/metrics").await.body);
    let moved = |a: &[String], b: &[String]| -> Vec<(String, String)> {
        a.iter()
            .zip(b)
            .filter(|(x, y)| x != y)
            .map(|(x, y)| (x.clone(), y.clone()))
            .collect()
    };
    let by_member = moved(&before, &after_member);
    let by_stranger = moved(&after_member, &after_stranger);
    assert_eq!(
        by_member.len(),
        by_stranger.len(),
        "{by_member:?} {by_stranger:?}"
    );
    for ((name, _), (other, _)) in by_member.iter().zip(&by_stranger) {
        assert_eq!(name.split(' ').next(), other.split(' ').next());
    }
}

// --- The session cookie is decided by configuration ------------------------------------------

async fn password_cookie(edge: &TestEdge, host: &str) -> String {
    edge.add_member("oz@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let request = TestEdge::request(Method::POST, "/login/password", None)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({ "email": "oz@example.com", "password": PASSWORD }).to_string(),
        ))
        .unwrap();
    let answer = edge.send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.header("set-cookie").unwrap()
}

#[tokio::test]
async fn the_cookie_is_secure_behind_a_proxy_that_forwards_to_127_0_0_1() {
    // site.toml says https: the Host a plain `proxy_pass http://127.0.0.1:8787` sends must
    // not turn Secure off.
    let edge = TestEdge::sqlite().await;
    let cookie = password_cookie(&edge, "127.0.0.1:8787").await;
    assert!(cookie.starts_with("__Secure-gh_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(
        cookie.contains("; Path=/_gate;"),
        "scoped to the API, not sent with every page: {cookie}"
    );
    // And the cookie it set is the one it reads.
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(edge.get("/me", Some(pair)).await.status, StatusCode::OK);
    let renamed = pair.replacen("__Secure-gh_session", "gh_session", 1);
    assert_eq!(
        edge.get("/me", Some(&renamed)).await.status,
        StatusCode::UNAUTHORIZED,
        "a cookie without the prefix could be planted by a sibling host"
    );
}

#[tokio::test]
async fn an_edge_at_the_root_of_its_own_https_host_gets_a_host_prefixed_cookie() {
    let site = common::Site::demo();
    site.edit(
        "site.toml",
        "edge_url = \"/_gate\"",
        "edge_url = \"https://edge.academy.example.com\"",
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    let request = |body: Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/login/password")
            .header(header::HOST, "edge.academy.example.com")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let created = edge
        .admin_post(
            "/admin/members",
            &json!({ "email": "oz@example.com", "level": "gold", "password": PASSWORD }),
        )
        .await;
    // The admin helper speaks to `/_gate`; this edge lives at the root.
    if created.status != StatusCode::CREATED {
        let answer = edge
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri("/admin/members")
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "email": "oz@example.com", "level": "gold", "password": PASSWORD })
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let answer = edge
        .send(request(
            json!({ "email": "oz@example.com", "password": PASSWORD }),
        ))
        .await;
    let cookie = answer.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-gh_session="), "{cookie}");
    assert!(cookie.contains("; Path=/;") && cookie.contains("; Secure"));
}

#[tokio::test]
async fn a_plain_http_site_gets_a_plain_cookie_scoped_to_the_api() {
    let site = common::Site::demo();
    site.edit(
        "site.toml",
        "base_url = \"https://academy.example.com\"",
        "base_url = \"http://127.0.0.1:1111\"",
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    let cookie = password_cookie(&edge, "127.0.0.1:1111").await;
    assert!(cookie.starts_with("gh_session="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "browsers drop Secure cookies over http"
    );
    assert!(cookie.contains("; Path=/_gate;"));
}

// --- Password login costs -------------------------------------------------------------------

#[tokio::test]
async fn password_login_answers_404_when_it_is_off() {
    let site = common::Site::demo();
    site.edit(
        "site.toml",
        "password_login = true",
        "password_login = false",
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    edge.add_member("oz@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let answer = edge
        .post(
            "/login/password",
            &json!({ "email": "oz@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert!(answer.body.contains("password login is off"));
    assert!(answer.header("set-cookie").is_none());
}

#[tokio::test]
async fn a_flood_from_many_addresses_stays_bounded_and_members_still_get_in() {
    // 100k addresses ask for links and 600 try passwords at once. The limiters remember at most
    // their capacity, password checks never run more than their limit at once, and a member
    // still logs in and reads during and after the flood.
    let edge = Arc::new(proxied_edge(Some(4_000)).await);
    edge.add_member("ann@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    let member = edge.login("ann@example.com", PASSWORD).await;

    let mut waves = Vec::new();
    for wave in 0..4u32 {
        let edge = edge.clone();
        waves.push(tokio::spawn(async move {
            for n in 0..25_000u32 {
                let n = wave * 25_000 + n;
                // Each from a network of its own: the per-network limit is not what is tested.
                let from = format!("{}.{}.{}.1", 11 + (n >> 16), (n >> 8) & 255, n & 255);
                let answer = post_with(
                    &edge,
                    "/login",
                    &json!({ "email": format!("x{n}@example.com") }),
                    None,
                    &[("x-forwarded-for", from.as_str())],
                )
                .await;
                assert_eq!(answer.status, StatusCode::ACCEPTED);
            }
        }));
    }
    let mut guesses = Vec::new();
    for n in 0..600u32 {
        let edge = edge.clone();
        guesses.push(tokio::spawn(async move {
            let from = format!("2001:db8:{n:x}::1");
            password_login_from(&edge, "ann@example.com", "wrong password!", &from)
                .await
                .status
        }));
    }
    // The member's own reading goes on.
    let keys = edge
        .keys(&["level=gold;bundles=-;drip=0"], Some(&member))
        .await;
    assert_eq!(keys.status, StatusCode::OK);
    let mut statuses = std::collections::BTreeMap::new();
    for guess in guesses {
        *statuses.entry(guess.await.unwrap()).or_insert(0) += 1;
    }
    for wave in waves {
        wave.await.unwrap();
    }
    assert!(
        statuses
            .keys()
            .all(|s| [StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE].contains(s)),
        "{statuses:?}"
    );
    let remembered = metric(&edge, "gatehouse_limiter_keys").await;
    assert!(remembered <= 2 * 4_000, "{remembered} keys remembered");
    assert_eq!(
        metric(&edge, "gatehouse_server_errors_total").await,
        0,
        "a full password gate is a refusal, not a server failure"
    );
    let peak = metric(&edge, "gatehouse_password_checks_peak").await;
    let limit = metric(&edge, "gatehouse_password_checks_limit").await;
    assert!(peak >= 1 && peak <= limit, "peak {peak}, limit {limit}");
    let back = password_login_from(&edge, "ann@example.com", PASSWORD, "192.0.2.44").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
}

#[tokio::test]
async fn ipv6_addresses_in_one_64_share_a_limit() {
    let edge = proxied_edge(None).await;
    let mut last = StatusCode::OK;
    for n in 0..12u32 {
        let from = format!("2001:db8:7:7:{n:x}::1");
        last = post_with(
            &edge,
            "/login",
            &json!({ "email": format!("v6-{n}@example.com") }),
            None,
            &[("x-forwarded-for", from.as_str())],
        )
        .await
        .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "one /64, one bucket");
    let other = post_with(
        &edge,
        "/login",
        &json!({ "email": "v6-other@example.com" }),
        None,
        &[("x-forwarded-for", "2001:db8:7:8::1")],
    )
    .await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
}

// --- Lock-outs and inbox floods --------------------------------------------------------------

#[tokio::test]
async fn one_address_cannot_lock_a_member_out_of_password_login() {
    let edge = proxied_edge(None).await;
    edge.add_member("ann@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    let mut refused = false;
    for _ in 0..12 {
        let answer =
            password_login_from(&edge, "ann@example.com", "wrong guess 123", "198.51.100.9").await;
        refused |= answer.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the attacking address is limited");
    let own = password_login_from(&edge, "ann@example.com", PASSWORD, "203.0.113.5").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
}

#[tokio::test]
async fn strangers_cannot_flood_a_members_inbox_nor_spend_the_links_the_member_needs() {
    let edge = proxied_edge(None).await;
    edge.add_member("ann@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    // The member reads from home, which makes that address theirs.
    let home = "203.0.113.5";
    let session = password_login_from(&edge, "ann@example.com", PASSWORD, home)
        .await
        .session_cookie()
        .unwrap();
    let me = edge
        .send(
            TestEdge::request(Method::GET, "/me", Some(&session))
                .header("x-forwarded-for", home)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // 40 requests from 40 other addresses.
    for n in 0..40u32 {
        let from = format!("198.51.100.{n}");
        let answer = post_with(
            &edge,
            "/login",
            &json!({ "email": "ann@example.com" }),
            None,
            &[("x-forwarded-for", from.as_str())],
        )
        .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
    }
    wait_for_link_work(&edge, 40).await;
    let flooded = edge.outbox().len();
    assert_eq!(
        flooded, 3,
        "strangers get three links through per 15 minutes"
    );

    // The member's own request still gets a link at once.
    post_with(
        &edge,
        "/login",
        &json!({ "email": "ann@example.com" }),
        None,
        &[("x-forwarded-for", home)],
    )
    .await;
    let mails = edge.wait_for_outbox(4).await;
    let link = token_from_mail(&mails[3]);
    assert!(!link.is_empty());
}

/// Links sent to `email` earlier today (outside the last 15 minutes), asked for from `from`.
async fn earlier_links(edge: &TestEdge, email: &str, count: i64, from: Option<&str>) {
    let member = edge.store.member_by_email(email).await.unwrap().unwrap();
    let source = from.map(|ip| edge.state.network_hash(ip.parse().unwrap()));
    for n in 0..count {
        let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30 + 20 * n);
        let expires = at + jiff::SignedDuration::from_mins(15);
        edge.store
            .create_login_link_from(
                &format!("earlier-{n}"),
                member.id,
                "/",
                at,
                expires,
                source.as_deref(),
            )
            .await
            .unwrap();
    }
}

async fn ask_link(edge: &TestEdge, email: &str, from: &str) {
    let answer = post_with(
        edge,
        "/login",
        &json!({ "email": email }),
        None,
        &[("x-forwarded-for", from)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn one_network_gets_three_links_a_day_to_a_member_and_others_still_get_theirs() {
    let edge = proxied_edge(None).await;
    edge.add_member("ann@example.com", "gold", &days_ago(5), None)
        .await;
    earlier_links(&edge, "ann@example.com", 3, Some("198.51.100.7")).await;
    // Another address of the same /24: its network's share is spent.
    ask_link(&edge, "ann@example.com", "198.51.100.200").await;
    wait_for_link_work(&edge, 1).await;
    assert_eq!(edge.outbox().len(), 0);
    // The member, from a network of their own that the stranger does not hold.
    ask_link(&edge, "ann@example.com", "203.0.113.9").await;
    edge.wait_for_outbox(1).await;
}

#[tokio::test]
async fn no_member_gets_more_than_thirty_links_a_day() {
    let edge = proxied_edge(None).await;
    edge.add_member("ann@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    // Known from a login: even the member's own address is held to the daily total.
    let home = "203.0.113.5";
    password_login_from(&edge, "ann@example.com", PASSWORD, home).await;
    earlier_links(&edge, "ann@example.com", 29, None).await;
    ask_link(&edge, "ann@example.com", home).await;
    edge.wait_for_outbox(1).await;
    ask_link(&edge, "ann@example.com", home).await;
    wait_for_link_work(&edge, 2).await;
    assert_eq!(
        edge.outbox().len(),
        1,
        "the thirtieth of the day, and no more"
    );
}

#[tokio::test]
async fn logging_in_from_a_new_address_makes_it_the_members() {
    let edge = proxied_edge(None).await;
    edge.add_member("ann@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    let travel = "192.0.2.77";
    // Three links in the last 15 minutes: a stranger's budget is spent.
    let member = edge
        .store
        .member_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    for n in 0..3 {
        let now = jiff::Timestamp::now();
        edge.store
            .create_login_link(&format!("recent-{n}"), member.id, "/", now, now)
            .await
            .unwrap();
    }
    ask_link(&edge, "ann@example.com", travel).await;
    wait_for_link_work(&edge, 1).await;
    assert_eq!(edge.outbox().len(), 0, "an unknown address waits");
    let login = password_login_from(&edge, "ann@example.com", PASSWORD, travel).await;
    assert_eq!(login.status, StatusCode::OK);
    ask_link(&edge, "ann@example.com", travel).await;
    edge.wait_for_outbox(1).await;
}

#[tokio::test]
async fn a_cookie_planted_by_a_sibling_host_does_not_shadow_the_session() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("ned@example.com", PASSWORD).await;
    let (name, _) = cookie.split_once('=').unwrap();
    // A `Domain=` cookie with a longer path comes first in the header.
    let both = format!("{name}=planted-by-a-sibling; {cookie}");
    assert_eq!(edge.get("/me", Some(&both)).await.status, StatusCode::OK);
    let keys = edge
        .keys(&["level=gold;bundles=-;drip=0"], Some(&both))
        .await
        .json();
    assert_eq!(keys["keys"].as_object().unwrap().len(), 1, "{keys}");
}

#[tokio::test]
async fn logout_also_clears_the_cookie_older_releases_set_for_the_whole_site() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("ned@example.com", PASSWORD).await;
    let out = edge.post("/logout", &json!({}), Some(&cookie)).await;
    let cleared: Vec<&str> = out
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cleared.iter().any(|c| c.starts_with("gh_session=;")
            && c.contains("Path=/;")
            && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Secure-gh_session=;")),
        "{cleared:?}"
    );
}

// --- Cross-site requests ----------------------------------------------------------------------

#[tokio::test]
async fn a_cross_site_form_cannot_log_a_visitor_into_another_account() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("attacker@example.com", "gold", &days_ago(1), None)
        .await;
    edge.post("/login", &json!({ "email": "attacker@example.com" }), None)
        .await;
    let token = token_from_mail(&edge.wait_for_outbox(1).await[0]);
    let form = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = TestEdge::request(Method::POST, "/auth", None)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request
            .body(Body::from(format!("token={token}&next=%2F")))
            .unwrap()
    };
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("null"), None),
        (None, Some("cross-site")),
        (Some("https://academy.example.com.evil.example"), None),
    ] {
        let answer = edge.send(form(origin, site)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        assert_eq!(answer.json()["error"], "cross_site");
        assert!(answer.header("set-cookie").is_none());
    }
    // The refused posts did not use the link: the site's own page still can.
    let own = edge.send(form(Some(SITE), Some("same-origin"))).await;
    assert_eq!(own.status, StatusCode::SEE_OTHER);
    assert!(own.header("set-cookie").is_some());
}

#[tokio::test]
async fn a_cross_site_post_cannot_log_a_member_out() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("ned@example.com", PASSWORD).await;
    for path in ["/logout", "/logout/everywhere"] {
        let answer = post_with(
            &edge,
            path,
            &json!({}),
            Some(&cookie),
            &[("origin", "https://evil.example")],
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(edge.get("/me", Some(&cookie)).await.status, StatusCode::OK);
    let own = post_with(
        &edge,
        "/logout",
        &json!({}),
        Some(&cookie),
        &[("origin", SITE)],
    )
    .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(
        edge.get("/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_state_changing_post_checks_its_origin() {
    let edge = TestEdge::sqlite().await;
    for path in [
        "/login",
        "/login/password",
        "/keys",
        "/admin/members",
        "/admin/members/x@example.com/events",
    ] {
        let answer = post_with(
            &edge,
            path,
            &json!({}),
            None,
            &[("origin", "https://evil.example")],
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"], "cross_site", "{path}");
        // Refused in the same layer that marks every answer uncacheable.
        assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
    }
    // The Stripe webhook is outside the check (its signature authenticates it): a cross-site
    // header gets it as far as the signature check.
    let answer = post_with(
        &edge,
        "/webhooks/stripe",
        &json!({}),
        None,
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_ne!(answer.json()["error"], "cross_site", "{}", answer.body);
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
}

// --- Logs ------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_name_routes_not_the_emails_in_paths() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests' requests may have cached "nobody listens" for these call sites.
    tracing::callsite::rebuild_interest_cache();
    let edge = TestEdge::sqlite().await;
    let answer = edge
        .send(
            TestEdge::request(
                Method::GET,
                "/admin/members/secret.person@example.com",
                None,
            )
            .header(header::AUTHORIZATION, "Bearer wrong")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let missing = edge
        .admin_get("/admin/members/secret.person@example.com")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/admin/members/{email}"), "{log}");
    assert!(!log.contains("secret.person"), "{log}");
}

// --- Log out everywhere ----------------------------------------------------------------------

#[tokio::test]
async fn log_out_everywhere_ends_every_session_of_the_member_only() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    edge.add_member("other@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let laptop = edge.login("ned@example.com", PASSWORD).await;
    let phone = edge.login("ned@example.com", PASSWORD).await;
    let other = edge.login("other@example.com", PASSWORD).await;
    assert_eq!(
        edge.keys(&["level=gold;bundles=-;drip=0"], Some(&phone))
            .await
            .status,
        StatusCode::OK
    );
    let answer = edge
        .post("/logout/everywhere", &json!({}), Some(&laptop))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["sessions"], 2);
    assert!(answer.header("set-cookie").unwrap().contains("Max-Age=0"));
    for cookie in [&laptop, &phone] {
        assert_eq!(
            edge.get("/me", Some(cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );
        let keys = edge
            .keys(&["level=gold;bundles=-;drip=0"], Some(cookie))
            .await
            .json();
        assert_eq!(keys["locked"].as_object().unwrap().len(), 1, "{keys}");
    }
    assert_eq!(edge.get("/me", Some(&other)).await.status, StatusCode::OK);
    let anonymous = edge.post("/logout/everywhere", &json!({}), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn members_logout_ends_every_session_from_the_command_line() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let laptop = edge.login("ned@example.com", PASSWORD).await;
    let phone = edge.login("ned@example.com", PASSWORD).await;
    let out = common::gatehouse_ok(edge.site.root(), &["members", "logout", "NED@example.com"]);
    assert!(out.contains("2 sessions ended"), "{out}");
    // The edge's one-second cache is the only delay.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for cookie in [&laptop, &phone] {
        assert_eq!(
            edge.get("/me", Some(cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let unknown = common::gatehouse(&["members", "logout", "who@example.com"], edge.site.root());
    assert!(!unknown.status.success());
}

// --- Admin cancels whose `until` cannot apply ------------------------------------------------

#[tokio::test]
async fn an_admin_cancel_with_until_on_a_complimentary_right_is_refused_naming_its_basis() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("cy@example.com", "free", &days_ago(3), None)
        .await;
    edge.event(
        "cy@example.com",
        json!({ "type": "complimentary", "access": "bundle:pricing-course" }),
    )
    .await;
    let before = edge.admin_get("/admin/members/cy@example.com").await.json();
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 10)).to_string();
    let answer = edge
        .admin_post(
            "/admin/members/cy@example.com/events",
            &json!({ "type": "bundle_cancel", "access": "bundle:pricing-course", "until": until }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["error"], "until_not_applicable");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("complimentary") && message.contains("bundle:pricing-course"),
        "{message}"
    );
    let after = edge.admin_get("/admin/members/cy@example.com").await.json();
    assert_eq!(before["history"], after["history"], "nothing was recorded");
    // Without `until` the same cancel is taken, at once.
    let now = edge
        .admin_post(
            "/admin/members/cy@example.com/events",
            &json!({ "type": "bundle_cancel", "access": "bundle:pricing-course" }),
        )
        .await;
    assert_eq!(now.status, StatusCode::CREATED, "{}", now.body);
}
