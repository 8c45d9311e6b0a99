//! `POST /keys`: the keys of the gates a member's entitlement opens now, and for the others the
//! reason they stay locked (DESIGN §6). Keys are derived from each rule, so the server needs no
//! copy of the build.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};

use super::view;
use crate::config::SiteConfig;
use crate::entitle::{Decision, Reason};
use crate::gate::Rule;
use crate::server::console::preview::previewed_member_id;
use crate::server::error::ApiError;
use crate::server::extract::{ClientAddr, HeadersAndJson};
use crate::server::known_rules::Checked;
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

/// The answer, written straight to JSON: gates in order of their ids, as before.
#[derive(Serialize)]
struct KeysAnswer<'a> {
    epoch: u32,
    keys: BTreeMap<&'a str, Cow<'a, str>>,
    locked: BTreeMap<&'a str, Locked>,
}

/// Why a gate stays locked: `{"reason":"drip","unlocks_at":"<RFC 3339>"}` or `{"reason":…}`.
#[derive(Serialize)]
struct Locked {
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    unlocks_at: Option<Timestamp>,
}

impl From<Reason> for Locked {
    fn from(reason: Reason) -> Locked {
        let unlocks_at = match reason {
            Reason::Drip { unlocks_at } => Some(unlocks_at),
            _ => None,
        };
        Locked {
            reason: reason.code(),
            unlocks_at,
        }
    }
}

fn rfc3339<S: Serializer>(at: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.collect_str(at),
        None => serializer.serialize_none(),
    }
}

pub async fn keys(
    State(state): State<AppState>,
    addr: ClientAddr,
    HeadersAndJson(headers, request): HeadersAndJson<KeysRequest>,
) -> Result<Response, ApiError> {
    let checked = known_rules(&state, &request.rules)?;
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
    if timeline.is_some() {
        for (text, checked) in request.rules.iter().zip(&checked) {
            if checked.new {
                state.rules.remember(text, &checked.rule);
            }
        }
    }
    let rules = checked.iter().map(|checked| &checked.rule);
    let mut answer = KeysAnswer {
        epoch,
        keys: BTreeMap::new(),
        locked: BTreeMap::new(),
    };
    for known in rules {
        let decision = match &timeline {
            Some(timeline) => timeline.decide(known.rule(), now, &state.config),
            None => Decision::Locked(Reason::Login),
        };
        match decision {
            Decision::Open => {
                let key = known.key(epoch, state.config.epoch, &state.secret);
                answer.keys.insert(known.gate(), key);
            }
            Decision::Locked(reason) => {
                state.metrics.locked_for(reason);
                answer.locked.insert(known.gate(), Locked::from(reason));
            }
        }
    }
    Metrics::add(&state.metrics.keys_issued, answer.keys.len() as u64);
    // Sized for the answer up front (a key and its gate id take about 80 bytes), rather than
    // grown from axum's `Json`'s 128 bytes a few times per request.
    let mut body = Vec::with_capacity(64 + 80 * checked.len());
    serde_json::to_writer(&mut body, &answer)
        .map_err(|error| ApiError::Internal(format!("could not write the keys answer: {error}")))?;
    let json = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, json)], body).into_response())
}

/// The request's rules, each parsed and checked once per text (see `known_rules`).
fn known_rules(state: &AppState, texts: &[String]) -> Result<Vec<Checked>, ApiError> {
    if texts.len() > MAX_RULES {
        return Err(ApiError::bad_request(
            "too_many_rules",
            format!("at most {MAX_RULES} rules per request, not {}", texts.len()),
        ));
    }
    texts
        .iter()
        .map(|text| {
            state
                .rules
                .get_or_check(text, |text| check_rule(&state.config, text))
        })
        .collect()
}

/// Parses a rule, refusing non-canonical text and ids that site.toml does not define.
fn check_rule(config: &SiteConfig, text: &str) -> Result<Rule, ApiError> {
    let rule =
        Rule::parse(text).map_err(|error| ApiError::bad_request("bad_rule", error.to_string()))?;
    if let Some(level) = rule.level().filter(|id| config.level(id).is_none()) {
        return Err(ApiError::bad_request(
            "unknown_level",
            format!("rule `{text}` names level `{level}`, which site.toml does not define"),
        ));
    }
    if let Some(bundle) = rule.bundles().iter().find(|id| config.bundle(id).is_none()) {
        return Err(ApiError::bad_request(
            "unknown_bundle",
            format!("rule `{text}` names bundle `{bundle}`, which site.toml does not define"),
        ));
    }
    Ok(rule)
}
