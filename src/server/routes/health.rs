//! `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
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

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
