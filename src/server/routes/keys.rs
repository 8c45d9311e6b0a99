//! `POST /keys`: the keys of the gates a member's entitlement opens now, and for the others the
//! reason they stay locked (DESIGN §6). Keys are derived from each rule, so the server needs no
//! copy of the build.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view;
use crate::entitle::{Decision, Reason};
use crate::gate::Rule;
use crate::server::console::preview::previewed_member_id;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ClientAddr};
use crate::server::metrics::Metrics;
use crate::server::preview::ViewAs;
use crate::server::{AppState, session};

/// More rules than any page carries; a bound on the work one request can ask for.
const MAX_RULES: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    rules: Vec<String>,
    epoch: Option<u32>,
}

pub async fn keys(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    ApiJson(request): ApiJson<KeysRequest>,
) -> Result<Json<Value>, ApiError> {
    let rules = parse_rules(&state, &request.rules)?;
    let now = Timestamp::now();
    // The current epoch, or the previous one while its grace window after a rotation lasts
    // (pages still cached at a CDN ask for it). The answer names the epoch; a page sealed
    // under another one sees the difference and says so.
    let epoch = state.config.epoch_served(request.epoch, now);
    if request.epoch.is_some_and(|asked| asked != epoch) {
        tracing::debug!(
            asked = request.epoch,
            serving = epoch,
            "keys asked for an epoch no longer served"
        );
    }
    let mut keys = BTreeMap::new();
    let mut locked = BTreeMap::new();
    let preview = state
        .options
        .dev_preview
        .then(|| ViewAs::from_headers(&headers, &state.config))
        .flatten();
    let timeline = if let Some(preview) = preview {
        preview.timeline(now, &state.config)
    } else if let Some(member_id) = previewed_member_id(&state, &headers).await? {
        // An operator's "view the site as this member": the member's own decisions and keys,
        // with nothing noted for them.
        let history = state.store.history(member_id).await?;
        Some(view::timeline(&history, now, &state.config))
    } else {
        match session::current_history(&state, &headers).await? {
            Some((member_id, history)) => {
                state.note_address(member_id, addr.0).await;
                Some(view::timeline(&history, now, &state.config))
            }
            None => None,
        }
    };
    for rule in &rules {
        let decision = match &timeline {
            Some(timeline) => timeline.decide(rule, now, &state.config),
            None => Decision::Locked(Reason::Login),
        };
        let gate = rule.gate_id().as_str().to_owned();
        match decision {
            Decision::Open => {
                keys.insert(gate, state.gate_key(epoch, rule));
            }
            Decision::Locked(reason) => {
                state.metrics.locked_for(reason);
                locked.insert(gate, locked_json(reason));
            }
        }
    }
    Metrics::add(&state.metrics.keys_issued, keys.len() as u64);
    Ok(Json(
        json!({ "epoch": epoch, "keys": keys, "locked": locked }),
    ))
}

fn locked_json(reason: Reason) -> Value {
    match reason {
        Reason::Drip { unlocks_at } => {
            json!({ "reason": reason.code(), "unlocks_at": unlocks_at.to_string() })
        }
        _ => json!({ "reason": reason.code() }),
    }
}

/// Parses every rule, refusing non-canonical text and ids that site.toml does not define.
fn parse_rules(state: &AppState, texts: &[String]) -> Result<Vec<Rule>, ApiError> {
    if texts.len() > MAX_RULES {
        return Err(ApiError::bad_request(
            "too_many_rules",
            format!("at most {MAX_RULES} rules per request, not {}", texts.len()),
        ));
    }
    texts
        .iter()
        .map(|text| {
            let rule = Rule::parse(text)
                .map_err(|error| ApiError::bad_request("bad_rule", error.to_string()))?;
            if let Some(level) = rule.level().filter(|id| state.config.level(id).is_none()) {
                return Err(ApiError::bad_request(
                    "unknown_level",
                    format!("rule `{text}` names level `{level}`, which site.toml does not define"),
                ));
            }
            if let Some(bundle) = rule
                .bundles()
                .iter()
                .find(|id| state.config.bundle(id).is_none())
            {
                return Err(ApiError::bad_request(
                    "unknown_bundle",
                    format!(
                        "rule `{text}` names bundle `{bundle}`, which site.toml does not define"
                    ),
                ));
            }
            Ok(rule)
        })
        .collect()
}
