//! `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::server::AppState;
use crate::server::error::ApiError;

/// 200 when the member database answers; 503 otherwise, so a load balancer stops routing here.
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok((
            StatusCode::OK,
            Json(json!({ "status": "ok", "epoch": state.config.epoch })),
        )),
        Err(error) => {
            tracing::error!(%error, "health check: the member database does not answer");
            Err(ApiError::Unavailable)
        }
    }
}

/// `/metrics` on the API: only with the admin token. Its counters describe members (logins,
/// links, locked gates), which is not for anyone who can reach the edge.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    super::admin::require_admin(&state, &headers)?;
    Ok(open_metrics(State(state)).await)
}

/// `/metrics` on the `--metrics-bind` listener, which only the monitoring system reaches.
pub async fn open_metrics(State(state): State<AppState>) -> impl IntoResponse {
    use std::sync::atomic::Ordering;
    let gauges = [
        (
            "gatehouse_limiter_keys",
            "Networks, addresses and (address, email) pairs the login limits remember.",
            (state.ip_limit.len() + state.pair_limit.len() + state.net_limit.len()) as u64,
        ),
        (
            "gatehouse_password_checks_limit",
            "Password verifications allowed to run at once.",
            state.verifications.limit() as u64,
        ),
        (
            "gatehouse_password_checks_peak",
            "The most password verifications seen running at once.",
            state.verifications.peak.load(Ordering::Relaxed) as u64,
        ),
    ];
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
}
