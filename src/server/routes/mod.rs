//! The routes of DESIGN §6, one file per concern.

mod admin;
mod auth;
mod health;
mod keys;
mod me;
pub(crate) mod unlocks;
pub(crate) mod view;
mod webhooks;

pub(crate) use admin::{NewEvent, event_record, record_event};
pub(crate) use auth::{send_login_link, welcome_link};

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use super::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(auth::login))
        .route("/login/password", post(auth::login_password))
        .route("/auth", get(auth::continue_page).post(auth::consume_link))
        .route("/logout", post(auth::logout))
        .route("/logout/everywhere", post(auth::logout_everywhere))
        .route("/me", get(me::me))
        .route("/keys", post(keys::keys))
        .route("/admin/members", get(admin::list).post(admin::create))
        .route("/admin/members/{email}", get(admin::show))
        .route("/admin/members/{email}/events", post(admin::add_event))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
}

/// `/metrics` without the admin token, for a listener of its own (`--metrics-bind`).
pub fn metrics_only() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(health::open_metrics))
        .fallback(not_found)
}

/// The Stripe webhook, apart: its bodies may be larger than the API's other requests.
pub fn webhooks() -> Router<AppState> {
    Router::new().route("/webhooks/stripe", post(webhooks::stripe))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint: see DESIGN.md §6 for the API".into())
}

/// The shared email check, as a 400 `bad_email` that says what is wrong.
pub(crate) fn normalize_email(email: &str) -> Result<String, ApiError> {
    crate::email::normalize_email(email)
        .map_err(|error| ApiError::bad_request("bad_email", error.to_string()))
}
