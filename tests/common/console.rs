//! The operator console in tests: the demo site with operators listed in `[admin] emails`, an
//! operator logged in through the real magic-link path (the outbox), and the CSRF token read
//! from a page as a browser's form would carry it.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, header};

use super::Site;
use super::edge::{Answer, TestEdge, token_from_mail};

pub const OPERATOR: &str = "owner@example.com";
pub const SECOND_OPERATOR: &str = "helper@example.com";

/// The demo site with two operators (the demo lists the first).
pub fn site() -> Site {
    let site = Site::demo();
    let config = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let listed = format!("emails = [\"{OPERATOR}\"]");
    assert!(
        config.contains(&listed),
        "the demo's [admin] emails changed"
    );
    site.write(
        "site.toml",
        &config.replace(
            &listed,
            &format!("emails = [\"{OPERATOR}\", \"{SECOND_OPERATOR}\"]"),
        ),
    );
    site
}

/// An edge on the console site with a fresh SQLite database.
pub async fn sqlite_edge() -> TestEdge {
    let site = site();
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    TestEdge::start(site, &url).await
}

/// A form post as the console's own page sends it (same origin).
pub async fn post_form(edge: &TestEdge, path: &str, form: &str, cookie: Option<&str>) -> Answer {
    let origin =
        gatehouse::server::origin_of(&gatehouse::server::public_api_url(&edge.state.config))
            .unwrap();
    let request = TestEdge::request(Method::POST, path, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, origin)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(form.to_owned()))
        .unwrap();
    edge.send(request).await
}

/// `[__Secure-]gh_admin=<token>` from an answer's Set-Cookie.
pub fn console_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_owned())
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(name, value)| name.ends_with("gh_admin") && !value.is_empty())
        })
}

/// Logs `email` in by the link the console mails, as an operator would; the cookie to send.
pub async fn log_in(edge: &TestEdge, email: &str) -> String {
    let before = edge.outbox().len();
    let asked = post_form(edge, "/admin/login", &format!("email={email}"), None).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let mail = edge.wait_for_outbox(before + 1).await.pop().unwrap();
    let token = token_from_mail(&mail);
    let page = edge.get(&format!("/admin/auth?token={token}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let used = post_form(edge, "/admin/auth", &format!("token={token}"), None).await;
    assert_eq!(used.status, 303, "{}", used.body);
    console_cookie(&used).expect("a console cookie")
}

/// The CSRF token in a console page's forms.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Form-encodes `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
