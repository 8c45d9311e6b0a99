//! Requests to a running `gatehouse serve`, as a browser or gate.js would send them: pages with
//! their status and headers, raw requests (any path, any `Host`), one-click logins,
//! `POST /_gate/keys` and the admin API; and [`eventually`], for what the server catches up on
//! after it answers.

use std::time::Duration;

use gatehouse::gate::Rule;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::serve::{ADMIN_TOKEN, Serve};

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client builds")
}

/// A fresh [`client`] logged in through the one-click login `link`.
pub async fn login_as(link: &str) -> reqwest::Client {
    let browser = client();
    let answer = browser.get(link).send().await.unwrap();
    assert!(
        answer.status().is_redirection(),
        "{link}: {}",
        answer.status()
    );
    browser
}

/// What one GET answered.
pub struct Page {
    pub status: StatusCode,
    pub kind: String,
    pub location: Option<String>,
    pub body: String,
}

pub async fn get(browser: &reqwest::Client, serve: &Serve, path: &str) -> Page {
    let response = browser.get(serve.at(path)).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (kind, location) = (
        header("content-type").unwrap_or_default(),
        header("location"),
    );
    Page {
        status: response.status(),
        kind,
        location,
        body: response.text().await.unwrap(),
    }
}

/// `POST /keys` at `url` for `rules`, as `browser`'s session; panics unless it answers 200.
pub async fn keys(browser: &reqwest::Client, url: &str, rules: &[&str]) -> Value {
    ask_for_keys(browser.post(url), rules).await
}

/// The body of a `POST /keys` for `rules`; panics unless it answers 200.
async fn ask_for_keys(request: reqwest::RequestBuilder, rules: &[&str]) -> Value {
    let response = request
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .expect("the keys API answers");
    let url = response.url().to_string();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"))
}

/// `open` when the answer holds the rule's key, else the reason it stays locked.
pub fn outcome(answer: &Value, rule: &str) -> String {
    let gate = Rule::parse(rule).unwrap().gate_id().as_str().to_owned();
    if answer["keys"][&gate].is_string() {
        return "open".to_owned();
    }
    answer["locked"][&gate]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("{rule} is neither open nor locked in {answer}"))
        .to_owned()
}

impl Serve {
    /// `POST /_gate/keys` for `rules` as the holder of session cookie `session` (taken from a
    /// real browser, whose cookies a reqwest client cannot share).
    pub async fn keys_for_session(&self, session: &str, rules: &[&str]) -> Value {
        let request = reqwest::Client::new()
            .post(self.at("/_gate/keys"))
            .header("Cookie", format!("gh_session={session}"));
        ask_for_keys(request, rules).await
    }

    /// `POST /_gate/admin/members/{email}/events` with the admin token; panics unless 201.
    /// Needs a server from [`Serve::start_with_admin`].
    pub async fn admin_event(&self, email: &str, event: Value) -> Value {
        let response = reqwest::Client::new()
            .post(self.at(&format!("/_gate/admin/members/{email}/events")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&event)
            .send()
            .await
            .expect("the admin API answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 201, "admin event refused: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// The page's HTML exactly as the server sends it (the dev script included).
    pub async fn fetch_html(&self, path: &str) -> String {
        reqwest::get(self.at(path))
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .expect("an HTML body")
    }
}

/// GET with the request path sent exactly as written (no `..` clean-up): status and body.
pub async fn raw_get(serve: &Serve, path: &str) -> (u16, String) {
    let host = serve.url.trim_start_matches("http://");
    raw_request(
        serve,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// `request`, a whole HTTP/1.1 request with `Connection: close`, sent byte for byte (any
/// `Host`, as a page under DNS rebinding sends its own name): the status and the whole answer,
/// head and body.
pub async fn raw_request(serve: &Serve, request: &str) -> (u16, String) {
    let address = serve.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("serve accepts connections");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("the answer is read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    (status, answer)
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
