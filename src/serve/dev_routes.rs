//! The routes only `gatehouse serve` has, under `/_gatehouse/`: the dev script, live-reload
//! events, one-click logins for members of the dev database, and "view as".

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::Dev;
use super::reload;
use crate::server::csrf::Origins;
use crate::server::preview::{VIEW_AS_COOKIE, ViewAs};
use crate::server::{secrets_equal, session};

const DEV_JS: &str = include_str!("dev.js");

pub fn router() -> Router<Dev> {
    Router::new()
        .route("/_gatehouse/dev.js", get(dev_js))
        .route("/_gatehouse/events", get(events))
        .route("/_gatehouse/login", get(login))
        .route("/_gatehouse/console", get(console_login))
        .route("/_gatehouse/view-as", post(view_as))
        .route("/_gatehouse/options", get(options))
        .route_layer(middleware::from_fn(same_origin_posts))
}

/// Refuses a POST made by another site's page: "view as" sets a cookie that opens every gate.
/// Serve's pages have one origin, the one a request is sent to (its `Host`, which
/// `host::only_allowed` has already checked is this machine's).
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST
        && !Origins::default().and_own_host().allows(request.headers())
    {
        let message = "this request came from another site's page: only pages of `gatehouse serve` itself may change what it previews";
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "cross_site", "message": message })),
        )
            .into_response();
    }
    next.run(request).await
}

/// `http://127.0.0.1:1111/_gatehouse/login?as=gold%40demo.test&key=…`
pub fn login_link(url: &str, email: &str, key: &str) -> String {
    format!("{url}/_gatehouse/login?as={}&key={key}", encode(email))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn dev_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DEV_JS,
    )
        .into_response()
}

#[derive(Deserialize)]
struct EventsQuery {
    /// The mark the page was served with (`data-build`).
    since: Option<String>,
}

async fn events(State(dev): State<Dev>, Query(query): Query<EventsQuery>) -> Response {
    reload::events(&dev.reloader, query.since.as_deref()).into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(rename = "as")]
    email: String,
    key: String,
    next: Option<String>,
}

/// Logs the browser in as a member of the dev database, without email: only with the key
/// printed at start-up, so another local program cannot do it unseen.
async fn login(State(dev): State<Dev>, Query(query): Query<LoginQuery>) -> Response {
    if !secrets_equal(&query.key, &dev.login_key) {
        return (
            StatusCode::FORBIDDEN,
            "This dev login link is from an earlier run of `gatehouse serve`: use a link it printed this time.",
        )
            .into_response();
    }
    let state = dev.state();
    let member = match state.store.member_by_email(&query.email).await {
        Ok(Some(member)) => member,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                format!("No member {} in the dev database.", query.email),
            )
                .into_response();
        }
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    let cookie = match session::start(&state, member.id).await {
        Ok(cookie) => cookie,
        Err(error) => return error.into_response(),
    };
    let next = query
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or_else(|| "/account/".to_owned());
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    // A preview would hide the member's own entitlement.
    if let Ok(clear) = HeaderValue::from_str(&format!("{VIEW_AS_COOKIE}=; Path=/; Max-Age=0")) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// `http://127.0.0.1:1111/_gatehouse/console?key=…`: the operator console, logged in as the
/// first of site.toml's `[admin] emails`.
pub fn console_link(url: &str, key: &str) -> String {
    format!("{url}/_gatehouse/console?key={key}")
}

#[derive(Deserialize)]
struct ConsoleQuery {
    key: String,
}

/// Logs the browser into the operator console as the first operator, without email: only with
/// the key printed at start-up.
async fn console_login(State(dev): State<Dev>, Query(query): Query<ConsoleQuery>) -> Response {
    if !secrets_equal(&query.key, &dev.login_key) {
        return (
            StatusCode::FORBIDDEN,
            "This dev console link is from an earlier run of `gatehouse serve`: use the link it printed this time.",
        )
            .into_response();
    }
    let state = dev.state();
    let Some(email) = state.config.admin.emails.first().cloned() else {
        return (
            StatusCode::NOT_FOUND,
            "No operator: list one in site.toml's [admin] emails.",
        )
            .into_response();
    };
    let cookie = match crate::server::console::Operator::start(&state, &email).await {
        Ok(cookie) => cookie,
        Err(error) => return error.into_response(),
    };
    let via = json!({ "via": "gatehouse serve" });
    if let Err(error) = state
        .store
        .audit(&email, "login", None, &via, jiff::Timestamp::now())
        .await
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
    }
    let mut response = Redirect::to(&format!("{}/admin/", state.base_path())).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

#[derive(Deserialize)]
struct ViewAsRequest {
    /// `visitor`, `level:gold@14`, `bundle:x@3`, or empty to stop previewing.
    #[serde(rename = "as")]
    view: String,
}

async fn view_as(State(dev): State<Dev>, Json(request): Json<ViewAsRequest>) -> Response {
    let state = dev.state();
    let text = request.view.trim();
    let cookie = if text.is_empty() {
        format!("{VIEW_AS_COOKIE}=; Path=/; SameSite=Lax; Max-Age=0")
    } else {
        match ViewAs::parse(text, &state.config) {
            Ok(view) => format!("{VIEW_AS_COOKIE}={}; Path=/; SameSite=Lax", view.text()),
            Err(message) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": "bad_view_as", "message": message })),
                )
                    .into_response();
            }
        }
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// What the dev toolbar offers: the site's levels and bundles and the current preview.
async fn options(State(dev): State<Dev>, headers: HeaderMap) -> Json<serde_json::Value> {
    let state = dev.state();
    let config = &state.config;
    let view = ViewAs::from_headers(&headers, config).map(|v| v.text());
    Json(json!({
        "levels": config.levels.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
        "bundles": config.bundles.iter().map(|b| json!({"id": b.id, "name": b.name})).collect::<Vec<_>>(),
        "view_as": view,
    }))
}
