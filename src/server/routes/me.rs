//! `GET /me`: the member's level, bundles, statuses (with the plan and status in words for the
//! account page, and the site's billing link) and upcoming unlocks. A cancelled or
//! expired member gets this too: login never depends on status (DESIGN §5).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::unlocks::upcoming_unlocks;
use super::view;
use crate::server::console::preview;
use crate::server::error::ApiError;
use crate::server::extract::ClientAddr;
use crate::server::{AppState, session};

pub async fn me(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    // An operator's "view the site as this member" answers as that member, and writes
    // nothing: the operator's address is not the member's.
    let previewed = preview::previewed_member(&state, &headers).await?;
    let previewing = previewed.is_some();
    let member = match previewed {
        Some(member) => member,
        None => {
            let member = session::current_member(&state, &headers)
                .await?
                .ok_or(ApiError::LoginRequired)?;
            state.note_address(member.id, addr.0).await;
            member
        }
    };
    let now = Timestamp::now();
    let history = state.store.history(member.id).await?;
    let timeline = view::timeline(&history, now, &state.config);
    let standing = timeline.standing(&state.config);
    let mut body = view::member(&member);
    if previewing {
        body["preview"] = json!(true);
    }
    body["standing"] = view::standing(&standing, &state.config);
    // The account page's plan, status and billing link in words (additive to DESIGN §6).
    let billing = state.store.member_billing(member.id).await?;
    view::plan::describe(&mut body, &standing, &billing, &state.config);
    body["unlocks"] = Value::Array(upcoming_unlocks(&state, &timeline, now).await);
    body["epoch"] = json!(state.config.epoch);
    Ok(Json(body))
}
