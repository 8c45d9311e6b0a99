//! The edge server's HTTP API (DESIGN §6), driven in-process with `oneshot` against a real
//! SQLite database: logins, sessions, keys, admin, and every kind of bad input.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use common::edge::{ADMIN_TOKEN, TestEdge, token_from_mail};
use gatehouse::gate::{MasterSecret, Rule, derive_key};
use jiff::Timestamp;
use serde_json::json;

const GOLD: &str = "level=gold;bundles=-;drip=0";
const SILVER_DRIP_7D: &str = "level=silver;bundles=-;drip=604800";
const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
const PASSWORD: &str = "correct horse battery";

fn days_ago(days: i64) -> String {
    Timestamp::from_second(Timestamp::now().as_second() - days * 86_400)
        .unwrap()
        .to_string()
}

fn days_ahead(days: i64) -> String {
    days_ago(-days)
}

fn gate(rule: &str) -> String {
    Rule::parse(rule).unwrap().gate_id().as_str().to_owned()
}

async fn member_count(edge: &TestEdge) -> usize {
    edge.store.members().await.unwrap().len()
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let edge = TestEdge::sqlite().await;
    let answer = edge.get("/healthz", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "ok");
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
}

#[tokio::test]
async fn a_visitor_without_a_session_gets_every_gate_locked_for_login() {
    let edge = TestEdge::sqlite().await;
    let answer = edge.keys(&[GOLD, COURSE], None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["epoch"], 1);
    assert_eq!(body["keys"], json!({}));
    assert_eq!(body["locked"][gate(GOLD)]["reason"], "login");
    assert_eq!(body["locked"][gate(COURSE)]["reason"], "login");
}

#[tokio::test]
async fn a_forged_session_cookie_is_no_session() {
    let edge = TestEdge::sqlite().await;
    let forged = "gh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let answer = edge.keys(&[GOLD], Some(forged)).await;
    assert_eq!(answer.json()["locked"][gate(GOLD)]["reason"], "login");
    let me = edge.get("/me", Some(forged)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.json()["error"], "login_required");
}

#[tokio::test]
async fn a_gold_member_gets_exactly_the_keys_their_entitlement_opens() {
    let edge = TestEdge::sqlite().await;
    let since = days_ago(3);
    edge.add_member("alice@example.com", "gold", &since, Some(PASSWORD))
        .await;
    let cookie = edge.login("alice@example.com", PASSWORD).await;
    let body = edge
        .keys(&[GOLD, SILVER_DRIP_7D, COURSE], Some(&cookie))
        .await
        .json();

    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    let expected = derive_key(&secret, 1, &Rule::parse(GOLD).unwrap()).to_base64url();
    assert_eq!(body["keys"][gate(GOLD)], expected.as_str());
    assert_eq!(body["keys"].as_object().unwrap().len(), 1);
    assert_eq!(body["locked"][gate(SILVER_DRIP_7D)]["reason"], "drip");
    let unlocks_at: Timestamp = body["locked"][gate(SILVER_DRIP_7D)]["unlocks_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Seven days after gold was granted, to the second, however long the test took.
    let since: Timestamp = since.parse().unwrap();
    assert_eq!(unlocks_at.as_second(), since.as_second() + 7 * 86_400);
    assert_eq!(body["locked"][gate(COURSE)]["reason"], "bundle");
}

#[tokio::test]
async fn a_free_member_is_told_the_level_they_lack() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("bob@example.com", "free", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("bob@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(body["locked"][gate(GOLD)]["reason"], "level");
}

#[tokio::test]
async fn overdue_members_log_in_but_get_no_keys() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("carol@example.com", "gold", &days_ago(40), Some(PASSWORD))
        .await;
    edge.event(
        "carol@example.com",
        json!({ "type": "overdue", "at": days_ago(1) }),
    )
    .await;
    let cookie = edge.login("carol@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(body["locked"][gate(GOLD)]["reason"], "overdue");
    let me = edge.get("/me", Some(&cookie)).await.json();
    assert_eq!(me["standing"]["level"]["status"], "overdue");
}

#[tokio::test]
async fn cancelled_and_expired_members_still_log_in_and_are_told_why() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("dan@example.com", "gold", &days_ago(40), Some(PASSWORD))
        .await;
    edge.event(
        "dan@example.com",
        json!({ "type": "cancel", "at": days_ago(2) }),
    )
    .await;
    let cookie = edge.login("dan@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(body["locked"][gate(GOLD)]["reason"], "cancelled");
    assert_eq!(
        edge.get("/me", Some(&cookie)).await.json()["standing"]["level"]["status"],
        "cancelled"
    );

    edge.add_member("erin@example.com", "gold", &days_ago(40), Some(PASSWORD))
        .await;
    edge.event(
        "erin@example.com",
        json!({ "type": "expire", "at": days_ago(1) }),
    )
    .await;
    let cookie = edge.login("erin@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(body["locked"][gate(GOLD)]["reason"], "expired");
}

#[tokio::test]
async fn a_pending_cancel_keeps_access_until_its_date() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("fay@example.com", "gold", &days_ago(10), Some(PASSWORD))
        .await;
    edge.event(
        "fay@example.com",
        json!({ "type": "cancel", "until": days_ahead(5) }),
    )
    .await;
    let cookie = edge.login("fay@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert!(body["keys"][gate(GOLD)].is_string(), "{body}");
    let me = edge.get("/me", Some(&cookie)).await.json();
    assert_eq!(me["standing"]["level"]["status"], "pending-cancel");
}

#[tokio::test]
async fn a_bundle_opens_its_gate_through_the_admin_api() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("gus@example.com", "free", &days_ago(1), Some(PASSWORD))
        .await;
    edge.event(
        "gus@example.com",
        json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
    )
    .await;
    let cookie = edge.login("gus@example.com", PASSWORD).await;
    let body = edge.keys(&[COURSE], Some(&cookie)).await.json();
    assert!(body["keys"][gate(COURSE)].is_string(), "{body}");
}

#[tokio::test]
async fn unknown_ids_and_malformed_rules_are_refused_with_400() {
    let edge = TestEdge::sqlite().await;
    let cases = [
        ("level=platinum;bundles=-;drip=0", "unknown_level"),
        ("level=-;bundles=no-such-course;drip=0", "unknown_bundle"),
        ("level=gold;drip=0", "bad_rule"),
        ("level=gold;bundles=-;drip=-5", "bad_rule"),
    ];
    for (rule, code) in cases {
        let answer = edge.keys(&[rule], None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{rule}");
        assert_eq!(answer.json()["error"], code, "{rule}");
        assert!(!answer.json()["message"].as_str().unwrap().is_empty());
    }
    let many: Vec<&str> = std::iter::repeat_n(GOLD, 65).collect();
    assert_eq!(
        edge.keys(&many, None).await.json()["error"],
        "too_many_rules"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_what_is_wrong() {
    let edge = TestEdge::sqlite().await;
    let cases = [
        ("/keys", "application/json", "{\"rules\": [", "bad_json"),
        ("/keys", "application/json", "{\"rulez\": []}", "bad_json"),
        ("/keys", "text/plain", "{\"rules\": []}", "bad_json"),
        ("/login", "application/json", "{\"email\": 5}", "bad_json"),
    ];
    for (path, content_type, body, code) in cases {
        let answer = edge.post_raw(path, content_type, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["error"], code, "{body}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_a_session() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("hal@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    for (email, password) in [
        ("hal@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let answer = edge
            .post(
                "/login/password",
                &json!({ "email": email, "password": password }),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.json()["error"], "bad_credentials");
        assert!(answer.header("set-cookie").is_none());
    }
}

#[tokio::test]
async fn a_magic_link_logs_in_once_through_its_continue_page() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ivy@example.com", "gold", &days_ago(1), None)
        .await;
    let answer = edge
        .post(
            "/login",
            &json!({ "email": "Ivy@Example.com", "next": "/course/" }),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let mail = edge.wait_for_outbox(1).await.remove(0);
    assert!(mail.contains("To: ivy@example.com"), "{mail}");
    let token = token_from_mail(&mail);
    assert_eq!(token.len(), 43);

    // A scanner fetching the link twice burns nothing.
    for _ in 0..2 {
        let page = edge
            .get(&format!("/auth?token={token}&next=/course/"), None)
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Continue"));
        assert!(page.header("set-cookie").is_none());
        // The origin at most: never the URL, which holds the token.
        assert_eq!(
            page.header("referrer-policy").as_deref(),
            Some("strict-origin")
        );
    }

    let used = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}&next=%2Fcourse%2F"),
        )
        .await;
    assert_eq!(used.status, StatusCode::SEE_OTHER);
    assert_eq!(used.header("location").as_deref(), Some("/course/"));
    let cookie = used.session_cookie().unwrap();
    let me = edge.get("/me", Some(&cookie)).await;
    assert_eq!(me.json()["email"], "ivy@example.com");

    let again = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}"),
        )
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.header("set-cookie").is_none());
    let page = edge.get(&format!("/auth?token={token}"), None).await;
    assert_eq!(page.status, StatusCode::GONE);
}

#[tokio::test]
async fn an_expired_magic_link_is_refused() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("jay@example.com", "gold", &days_ago(1), None)
        .await;
    let member = edge
        .store
        .member_by_email("jay@example.com")
        .await
        .unwrap()
        .unwrap();
    let token = "expired-token-expired-token-expired-token-0";
    let sent = Timestamp::from_second(Timestamp::now().as_second() - 16 * 60).unwrap();
    let expired = Timestamp::from_second(sent.as_second() + 15 * 60).unwrap();
    edge.store
        .create_login_link(
            &gatehouse::server::token_hash(token),
            member.id,
            "/",
            sent,
            expired,
        )
        .await
        .unwrap();
    let answer = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::GONE);
    assert!(answer.header("set-cookie").is_none());
}

#[tokio::test]
async fn login_links_never_leave_the_site() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("kim@example.com", "gold", &days_ago(1), None)
        .await;
    edge.post(
        "/login",
        &json!({ "email": "kim@example.com", "next": "//evil.example/" }),
        None,
    )
    .await;
    let token = token_from_mail(&edge.wait_for_outbox(1).await[0]);
    let used = edge
        .post_raw(
            "/auth",
            "application/x-www-form-urlencoded",
            &format!("token={token}&next=https%3A%2F%2Fevil.example"),
        )
        .await;
    assert_eq!(used.header("location").as_deref(), Some("/"));
}

#[tokio::test]
async fn unknown_emails_get_the_same_answer_and_no_mail() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("lou@example.com", "gold", &days_ago(1), None)
        .await;
    let member = edge
        .post("/login", &json!({ "email": "lou@example.com" }), None)
        .await;
    let stranger = edge
        .post("/login", &json!({ "email": "stranger@example.com" }), None)
        .await;
    assert_eq!(member.status, stranger.status);
    assert_eq!(
        member.json()["message"]
            .as_str()
            .unwrap()
            .replace("lou", "X"),
        stranger.json()["message"]
            .as_str()
            .unwrap()
            .replace("stranger", "X")
    );
    edge.wait_for_outbox(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(edge.outbox().len(), 1);
}

#[tokio::test]
async fn login_requests_are_rate_limited_per_address_and_per_email() {
    let edge = TestEdge::sqlite().await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let answer = edge
            .post(
                "/login",
                &json!({ "email": format!("p{i}@example.com") }),
                None,
            )
            .await;
        statuses.push(answer.status);
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::ACCEPTED));
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);

    let edge = TestEdge::sqlite().await;
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            edge.post(
                "/login/password",
                &json!({ "email": "same@example.com", "password": "wrong password" }),
                None,
            )
            .await,
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last.json()["error"], "rate_limited");
    assert!(last.header("retry-after").is_some());
}

#[tokio::test]
async fn a_member_whose_links_are_at_the_limit_gets_no_more() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("max@example.com", "gold", &days_ago(1), None)
        .await;
    let member = edge
        .store
        .member_by_email("max@example.com")
        .await
        .unwrap()
        .unwrap();
    let now = Timestamp::now();
    // Eight links in the last 15 minutes: the limit for any address (tests/edge_security.rs
    // covers the lower limit for addresses the member has not used).
    for i in 0..8 {
        edge.store
            .create_login_link(&format!("hash-{i}"), member.id, "/", now, now)
            .await
            .unwrap();
    }
    let answer = edge
        .post("/login", &json!({ "email": "max@example.com" }), None)
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    // The background work ends with the link withheld, and nothing in the outbox.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !edge
        .admin_get("/metrics")
        .await
        .body
        .contains("gatehouse_login_links_withheld_total 1\n")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the link was never decided"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(edge.outbox().is_empty());
}

#[tokio::test]
async fn logout_ends_the_session() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("ned@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("ned@example.com", PASSWORD).await;
    assert_eq!(edge.get("/me", Some(&cookie)).await.status, StatusCode::OK);
    let out = edge.post("/logout", &json!({}), Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        edge.get("/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cors_allows_credentials_only_from_the_site_itself() {
    let edge = TestEdge::sqlite().await;
    let preflight = |origin: &str| {
        axum::http::Request::builder()
            .method(Method::OPTIONS)
            .uri("/_gate/keys")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let site = edge.send(preflight("https://academy.example.com")).await;
    assert_eq!(
        site.header("access-control-allow-origin").as_deref(),
        Some("https://academy.example.com")
    );
    assert_eq!(
        site.header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let evil = edge.send(preflight("https://evil.example")).await;
    assert!(evil.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn admin_routes_need_the_bearer_token_and_change_nothing_without_it() {
    let edge = TestEdge::sqlite().await;
    let body = json!({ "email": "x@example.com", "level": "gold" });
    for auth in [None, Some("Bearer wrong-token"), Some(ADMIN_TOKEN)] {
        let mut request = TestEdge::request(Method::POST, "/admin/members", None)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let answer = edge
            .send(request.body(Body::from(body.to_string())).unwrap())
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(answer.json()["error"], "admin_token");
    }
    assert_eq!(member_count(&edge).await, 0);
    let list = edge.get("/admin/members", None).await;
    assert_eq!(list.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_admin_input_is_refused_and_the_history_is_unchanged() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("pat@example.com", "gold", &days_ago(1), None)
        .await;
    let bad_members = [
        (
            json!({ "email": "not-an-email", "level": "gold" }),
            "bad_email",
        ),
        (
            json!({ "email": "q@example.com", "level": "platinum" }),
            "unknown_level",
        ),
        (
            json!({ "email": "q@example.com", "level": "gold", "since": "last week" }),
            "bad_time",
        ),
        (
            json!({ "email": "q@example.com", "level": "gold", "password": "short" }),
            "bad_password",
        ),
        (
            json!({ "email": "q@example.com", "level": "gold", "colour": "red" }),
            "bad_json",
        ),
    ];
    for (body, code) in bad_members {
        let answer = edge.admin_post("/admin/members", &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["error"], code, "{body}");
    }
    let duplicate = edge
        .admin_post(
            "/admin/members",
            &json!({ "email": "PAT@example.com", "level": "free" }),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(member_count(&edge).await, 1);

    let bad_events = [
        json!({ "type": "promote" }),
        json!({ "type": "level_set" }),
        json!({ "type": "level_set", "access": "level:platinum" }),
        json!({ "type": "bundle_add", "access": "level:gold" }),
        json!({ "type": "overdue", "until": days_ahead(3) }),
        json!({ "type": "cancel", "at": "yesterday-ish" }),
        json!({ "type": "level_set", "access": "level:gold", "basis": "barter" }),
        json!({ "type": "paid_in_full" }),
    ];
    for body in bad_events {
        let answer = edge
            .admin_post("/admin/members/pat@example.com/events", &body)
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.json()["message"].as_str().unwrap().len() > 10);
    }
    let unknown = edge
        .admin_post(
            "/admin/members/nobody@example.com/events",
            &json!({ "type": "cancel" }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let shown = edge
        .admin_get("/admin/members/pat@example.com")
        .await
        .json();
    assert_eq!(shown["history"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_admin_view_shows_history_standing_and_addresses() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("quinn@example.com", "silver", "2026-01-01", Some(PASSWORD))
        .await;
    edge.event(
        "quinn@example.com",
        json!({ "type": "complimentary", "access": "bundle:pricing-course", "at": "2026-02-01T10:00:00Z" }),
    )
    .await;
    let shown = edge
        .admin_get("/admin/members/quinn@example.com")
        .await
        .json();
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history[0]["type"], "level_set");
    assert_eq!(history[0]["at"], "2026-01-01T00:00:00Z");
    assert_eq!(history[1]["type"], "complimentary");
    assert_eq!(history[1]["basis"], "complimentary");
    assert_eq!(shown["standing"]["bundles"][0]["id"], "pricing-course");
    assert_eq!(shown["has_password"], true);
    assert!(!shown.to_string().contains(PASSWORD));
    assert!(!shown.to_string().contains("argon2"));
    let list = edge.admin_get("/admin/members").await.json();
    assert_eq!(list["members"][0]["email"], "quinn@example.com");
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let edge = TestEdge::sqlite().await;
    let answer = edge.get("/nope", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["error"], "not_found");
}

#[tokio::test]
async fn metrics_count_keys_and_locked_reasons() {
    let edge = TestEdge::sqlite().await;
    edge.keys(&[GOLD], None).await;
    let text = edge.admin_get("/metrics").await.body;
    assert!(
        text.contains("gatehouse_gates_locked_total{reason=\"login\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE gatehouse_keys_issued_total counter"));
}

#[tokio::test]
async fn tokens_and_passwords_are_stored_only_as_hashes() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("rae@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("rae@example.com", PASSWORD).await;
    edge.post("/login", &json!({ "email": "rae@example.com" }), None)
        .await;
    let link_token = token_from_mail(&edge.wait_for_outbox(1).await[0]);
    let session_token = cookie.split_once('=').unwrap().1.to_owned();
    assert!(session_token.len() >= 40, "{cookie}");
    edge.store.close().await;
    let mut bytes = Vec::new();
    for name in ["members.db", "members.db-wal"] {
        if let Ok(b) = std::fs::read(edge.site.path(&format!(".gatehouse/{name}"))) {
            bytes.extend(b);
        }
    }
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(
        haystack.contains("rae@example.com"),
        "the database was read"
    );
    for secret in [PASSWORD, link_token.as_str(), session_token.as_str()] {
        assert!(
            !haystack.contains(secret),
            "a secret is stored in plain text"
        );
    }
}

#[tokio::test]
async fn the_keys_follow_the_epoch_in_site_toml() {
    let site = common::Site::demo();
    site.edit("site.toml", "epoch = 1", "epoch = 3");
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    edge.add_member("sam@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let cookie = edge.login("sam@example.com", PASSWORD).await;
    let body = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(body["epoch"], 3);
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    let rule = Rule::parse(GOLD).unwrap();
    assert_eq!(
        body["keys"][gate(GOLD)],
        derive_key(&secret, 3, &rule).to_base64url().as_str()
    );
    assert_ne!(
        body["keys"][gate(GOLD)],
        derive_key(&secret, 1, &rule).to_base64url().as_str()
    );
}

#[tokio::test]
async fn on_a_real_socket_addresses_are_counted_and_shutdown_is_graceful() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("tia@example.com", "gold", &days_ago(1), Some(PASSWORD))
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatehouse::server::serve(
        listener,
        edge.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let base = format!("http://{address}/_gate");
    let login = client
        .post(format!("{base}/login/password"))
        .json(&json!({ "email": "tia@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    for _ in 0..3 {
        let keys: serde_json::Value = client
            .post(format!("{base}/keys"))
            .json(&json!({ "rules": [GOLD] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(keys["keys"].as_object().unwrap().len(), 1);
    }
    let shown = edge
        .admin_get("/admin/members/tia@example.com")
        .await
        .json();
    assert_eq!(shown["addresses_per_day"][0]["addresses"], 1, "{shown}");
    assert!(
        !shown.to_string().contains("127.0.0.1"),
        "addresses are stored hashed"
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test]
async fn an_admin_event_changes_the_next_keys_answer_at_once() {
    let edge = TestEdge::sqlite().await;
    edge.add_member("una@example.com", "gold", &days_ago(5), Some(PASSWORD))
        .await;
    let cookie = edge.login("una@example.com", PASSWORD).await;
    let before = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert!(before["keys"][gate(GOLD)].is_string());
    edge.event("una@example.com", json!({ "type": "overdue" }))
        .await;
    let after = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(after["locked"][gate(GOLD)]["reason"], "overdue", "{after}");
    let out = edge.post("/logout", &json!({}), Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::OK);
    let gone = edge.keys(&[GOLD], Some(&cookie)).await.json();
    assert_eq!(gone["locked"][gate(GOLD)]["reason"], "login", "{gone}");
}

#[tokio::test]
async fn behind_a_proxy_only_the_last_forwarded_hop_counts_for_rate_limits() {
    let site = common::Site::demo();
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start_with(site, &url, |o| o.behind_proxy = true).await;
    let login = |forwarded: String, i: usize| {
        TestEdge::request(Method::POST, "/login", None)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                json!({ "email": format!("q{i}@example.com") }).to_string(),
            ))
            .unwrap()
    };
    // A client choosing a new first entry each time is still one address to the limiter.
    let mut statuses = Vec::new();
    for i in 0..11 {
        statuses.push(
            edge.send(login(format!("10.9.9.{i}, 203.0.113.7"), i))
                .await
                .status,
        );
    }
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // An unreadable last hop falls back to the peer, not to what the client wrote before it
    // (which here names the exhausted address, so reading it would be refused).
    let spoofed = edge.send(login("203.0.113.7, garbage".into(), 99)).await;
    assert_eq!(spoofed.status, StatusCode::ACCEPTED);
    // Different proxies' last hops are different addresses.
    let other = edge.send(login("10.9.9.1, 203.0.113.8".into(), 100)).await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
}
