//! `GET /me`: the member's level, bundles, statuses and upcoming unlocks. A cancelled or
//! expired member gets this too: login never depends on status (DESIGN §5).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view;
use crate::entitle::{Decision, Reason, Timeline};
use crate::gate::Rule;
use crate::server::error::ApiError;
use crate::server::extract::ClientAddr;
use crate::server::{AppState, session};

/// How many upcoming unlocks `/me` lists.
const UNLOCKS_SHOWN: usize = 20;

pub async fn me(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let member = session::current_member(&state, &headers)
        .await?
        .ok_or(ApiError::LoginRequired)?;
    state.note_address(member.id, addr.0).await;
    let now = Timestamp::now();
    let history = state.store.history(member.id).await?;
    let timeline = view::timeline(&history, now, &state.config);
    let standing = timeline.standing(&state.config);
    let mut body = view::member(&member);
    body["standing"] = view::standing(&standing, &state.config);
    body["unlocks"] = Value::Array(upcoming_unlocks(&state, &timeline, now).await);
    body["epoch"] = json!(state.config.epoch);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
struct Manifest {
    pages: Vec<ManifestPage>,
}

#[derive(Debug, Deserialize)]
struct ManifestPage {
    path: String,
    rule: String,
}

/// Pages of the built site (its `_gated/manifest.json`) that will drip open for this member,
/// soonest first. Without a manifest the list is empty.
async fn upcoming_unlocks(state: &AppState, timeline: &Timeline, now: Timestamp) -> Vec<Value> {
    let Some(path) = &state.options.manifest else {
        return Vec::new();
    };
    let Ok(text) = tokio::fs::read_to_string(path).await else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_str::<Manifest>(&text) else {
        tracing::warn!(path = %path.display(), "the site's manifest could not be read");
        return Vec::new();
    };
    let mut decisions: BTreeMap<String, Decision> = BTreeMap::new();
    let mut upcoming: Vec<(Timestamp, String)> = Vec::new();
    for page in &manifest.pages {
        let decision =
            *decisions
                .entry(page.rule.clone())
                .or_insert_with(|| match Rule::parse(&page.rule) {
                    Ok(rule) => timeline.decide(&rule, now, &state.config),
                    Err(_) => Decision::Locked(Reason::Level),
                });
        if let Decision::Locked(Reason::Drip { unlocks_at }) = decision {
            upcoming.push((unlocks_at, page.path.clone()));
        }
    }
    upcoming.sort();
    upcoming
        .into_iter()
        .take(UNLOCKS_SHOWN)
        .map(|(at, path)| json!({ "path": path, "unlocks_at": at.to_string() }))
        .collect()
}
