//! The operator console's door (issue 17): operators log in by a mailed link into a session of
//! their own; members, strangers and forms without the session's CSRF token get nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::console::{self, OPERATOR, csrf, log_in, post_form};

#[tokio::test]
async fn an_operator_logs_in_by_the_mailed_link_and_sees_the_dashboard() {
    let edge = console::sqlite_edge().await;
    let cookie = log_in(&edge, OPERATOR).await;
    let home = edge.get("/admin/", Some(&cookie)).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Dashboard"), "{}", home.body);
    assert!(
        home.body.contains(OPERATOR),
        "the page names who is logged in"
    );
    let audit = edge.get("/admin/audit", Some(&cookie)).await;
    assert!(audit.body.contains(">login<"), "{}", audit.body);
    let set = edge.outbox();
    assert!(set[0].contains("console"), "the mail says what it is for");
}

#[tokio::test]
async fn a_link_works_once() {
    let edge = console::sqlite_edge().await;
    post_form(&edge, "/admin/login", &format!("email={OPERATOR}"), None).await;
    let mail = edge.wait_for_outbox(1).await.pop().unwrap();
    let token = common::edge::token_from_mail(&mail);
    let first = post_form(&edge, "/admin/auth", &format!("token={token}"), None).await;
    assert_eq!(first.status, 303);
    let again = post_form(&edge, "/admin/auth", &format!("token={token}"), None).await;
    assert_eq!(again.status, 410);
    assert!(console::console_cookie(&again).is_none());
    let page = edge.get(&format!("/admin/auth?token={token}"), None).await;
    assert_eq!(page.status, 410, "a used link's page says so");
}

#[tokio::test]
async fn an_email_not_listed_gets_the_same_answer_and_no_link() {
    let edge = console::sqlite_edge().await;
    edge.add_member("member@example.com", "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let stranger = post_form(&edge, "/admin/login", "email=member%40example.com", None).await;
    let operator = post_form(&edge, "/admin/login", &format!("email={OPERATOR}"), None).await;
    assert_eq!(stranger.status, operator.status);
    assert_eq!(
        stranger.body.replace("member@example.com", "X"),
        operator.body.replace(OPERATOR, "X"),
        "the answer does not tell an operator from anyone else"
    );
    let mails = edge.wait_for_outbox(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails_after = edge.outbox();
    assert_eq!(mails_after.len(), 1, "only the operator got a link");
    assert!(
        mails[0].contains(&format!("To: {OPERATOR}")),
        "{}",
        mails[0]
    );
}

#[tokio::test]
async fn a_members_session_opens_no_console_page_and_no_action() {
    let edge = console::sqlite_edge().await;
    edge.add_member(
        OPERATOR,
        "gold",
        "2026-01-01T00:00:00Z",
        Some("correct horse battery"),
    )
    .await;
    // The operator's own member session (same email) is still not a console session.
    let member = edge.login(OPERATOR, "correct horse battery").await;
    for path in ["/admin/", "/admin/audit"] {
        let page = edge.get(path, Some(&member)).await;
        assert!(
            page.status == 200 && page.body.contains("Send me a login link") || page.status == 303,
            "{path}: {} {}",
            page.status,
            page.body
        );
        assert!(!page.body.contains("Audit log</h1>"));
    }
    let audit = edge.get("/admin/audit", Some(&member)).await;
    assert_eq!(audit.status, 303, "to the login form");
    let out = post_form(&edge, "/admin/logout", "csrf=x", Some(&member)).await;
    assert_eq!(out.status, 401);
    let none = edge.get("/admin/audit", None).await;
    assert_eq!(none.status, 303);
}

#[tokio::test]
async fn a_console_form_without_the_sessions_csrf_token_is_refused() {
    let edge = console::sqlite_edge().await;
    let cookie = log_in(&edge, OPERATOR).await;
    let home = edge.get("/admin/", Some(&cookie)).await;
    let token = csrf(&home.body);
    let missing = post_form(&edge, "/admin/logout", "", Some(&cookie)).await;
    assert_eq!(missing.status, 400, "a form without the field");
    let wrong = post_form(&edge, "/admin/logout", "csrf=0000", Some(&cookie)).await;
    assert_eq!(wrong.status, 403);
    // Another operator's token is not this session's.
    let other = log_in(&edge, console::SECOND_OPERATOR).await;
    let other_token = csrf(&edge.get("/admin/", Some(&other)).await.body);
    assert_ne!(other_token, token);
    let crossed = post_form(
        &edge,
        "/admin/logout",
        &format!("csrf={other_token}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(crossed.status, 403);
    assert_eq!(
        edge.get("/admin/audit", Some(&cookie)).await.status,
        200,
        "still logged in"
    );
    let out = post_form(
        &edge,
        "/admin/logout",
        &format!("csrf={token}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        edge.get("/admin/audit", Some(&cookie)).await.status,
        303,
        "logged out"
    );
}

#[tokio::test]
async fn a_form_from_another_site_is_refused_before_anything() {
    let edge = console::sqlite_edge().await;
    let request = common::edge::TestEdge::request(axum::http::Method::POST, "/admin/login", None)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(axum::body::Body::from(format!("email={OPERATOR}")))
        .unwrap();
    let answer = edge.send(request).await;
    assert_eq!(answer.status, 403);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(edge.outbox().is_empty());
}

#[tokio::test]
async fn the_console_cookie_is_its_own_strict_and_scoped_to_the_console() {
    let edge = console::sqlite_edge().await;
    post_form(&edge, "/admin/login", &format!("email={OPERATOR}"), None).await;
    let mail = edge.wait_for_outbox(1).await.pop().unwrap();
    let token = common::edge::token_from_mail(&mail);
    let used = post_form(&edge, "/admin/auth", &format!("token={token}"), None).await;
    let set = used.header("set-cookie").unwrap();
    assert!(
        set.starts_with("__Secure-gh_admin=") && set.contains("; Secure"),
        "the demo's base_url is https: {set}"
    );
    assert!(set.contains("Path=/_gate/admin"), "{set}");
    assert!(
        set.contains("SameSite=Strict") && set.contains("HttpOnly"),
        "{set}"
    );
    assert!(set.contains(&format!("Max-Age={}", 8 * 3600)), "{set}");
    // A console cookie is no member session.
    let cookie = console::console_cookie(&used).unwrap();
    let me = edge.get("/me", Some(&cookie)).await;
    assert_eq!(me.status, 401, "{}", me.body);
}

#[tokio::test]
async fn without_admin_emails_the_console_is_off() {
    let site = common::Site::demo();
    site.edit(
        "site.toml",
        "emails = [\"owner@example.com\"]",
        "emails = []",
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = common::edge::TestEdge::start(site, &url).await;
    assert_eq!(edge.get("/admin/", None).await.status, 404);
    let asked = post_form(&edge, "/admin/login", "email=owner%40example.com", None).await;
    assert_eq!(asked.status, 404);
}

#[tokio::test]
async fn logging_out_of_the_console_ends_the_operators_previews() {
    let edge = console::sqlite_edge().await;
    edge.add_member("ann@example.com", "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let id = edge
        .store
        .member_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let cookie = log_in(&edge, OPERATOR).await;
    let page = edge
        .get(&format!("/admin/people/{id}"), Some(&cookie))
        .await;
    let token = csrf(&page.body);
    let started = post_form(
        &edge,
        &format!("/admin/people/{id}/preview"),
        &format!("csrf={token}"),
        Some(&cookie),
    )
    .await;
    let preview = started
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|pair| pair.contains("gh_preview="))
        .expect("a preview cookie");
    let keys = |cookie: String| {
        let edge = &edge;
        async move {
            edge.keys(&["level=gold;bundles=-;drip=0"], Some(&cookie))
                .await
                .json()["keys"]
                .as_object()
                .unwrap()
                .len()
        }
    };
    assert_eq!(keys(preview.clone()).await, 1, "the preview answers as Ann");
    let out = post_form(
        &edge,
        "/admin/logout",
        &format!("csrf={token}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        keys(preview).await,
        0,
        "the preview ended with the console session"
    );
}

#[tokio::test]
async fn console_errors_are_the_themes_page_with_a_way_back() {
    let edge = console::sqlite_edge().await;
    let cookie = log_in(&edge, OPERATOR).await;
    let missing = edge.get("/admin/people/999999", Some(&cookie)).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("console.css"),
        "themed: {}",
        missing.body
    );
    assert!(
        missing.body.contains("href=\"/_gate/admin/\""),
        "a link back to the console: {}",
        missing.body
    );
}
