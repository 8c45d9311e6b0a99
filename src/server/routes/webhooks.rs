//! `POST /webhooks/stripe` (DESIGN §6): verify the `Stripe-Signature` over the raw body, store
//! the event, answer 2xx only once it is stored, and apply it (exactly once, by its id). An event
//! that cannot be applied now stays stored and is applied by the background workers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::payments::{self, StripeEvent, signature};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::metrics::Metrics;

pub async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let secrets: Vec<&str> = state
        .options
        .stripe_secrets
        .0
        .iter()
        .map(String::as_str)
        .collect();
    if secrets.is_empty() {
        return Err(ApiError::WebhooksOff);
    }
    let now = Timestamp::now();
    let refused = |code, message: String| {
        Metrics::add(&state.metrics.webhooks_refused, 1);
        tracing::warn!(%message, "Stripe webhook refused");
        ApiError::bad_request(code, message)
    };
    let header = headers
        .get("stripe-signature")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    signature::verify(header, &body, &secrets, now.as_second())
        .map_err(|e| refused("bad_signature", e.to_string()))?;
    let event = StripeEvent::parse(&body).map_err(|e| refused("bad_event", e.to_string()))?;
    let payload = std::str::from_utf8(&body)
        .map_err(|_| refused("bad_event", "the body is not UTF-8".into()))?;
    let new = state
        .store
        .record_stripe_event(&event.id, &event.kind, event.created, payload, now)
        .await?;
    if new {
        Metrics::add(&state.metrics.webhooks_received, 1);
    } else {
        Metrics::add(&state.metrics.webhooks_duplicate, 1);
    }
    // Stored: from here on Stripe gets a 2xx whatever happens, and nothing is lost.
    let outcome = match payments::apply_stored(&state.store, &state.config, &event.id, now).await {
        Ok(Some(applied)) => {
            tracing::info!(event = %event.id, kind = %event.kind, outcome = %applied.outcome, "applied a Stripe event");
            state.members_changed(&applied.members);
            applied.outcome
        }
        Ok(None) => "already applied".to_owned(),
        Err(error) => {
            tracing::error!(event = %event.id, error = %error.kind(), "a stored Stripe event could not be applied yet; it will be retried");
            state.wake.notify_one();
            "stored; it will be applied shortly".to_owned()
        }
    };
    Ok(Json(json!({
        "received": true,
        "id": event.id,
        "duplicate": !new,
        "outcome": outcome,
    })))
}
