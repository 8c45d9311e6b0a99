//! The admin API (DESIGN §6): create members, read them with their history and standing, and
//! append events (with back-dated `at`). Every route needs
//! `Authorization: Bearer <GATEHOUSE_ADMIN_TOKEN>`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{normalize_email, view};
use crate::entitle::{
    Basis, EventRecord, EventType, Grant, Revocation, Status, Timeline, parse_grant,
};
use crate::instant::parse_instant;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;
use crate::server::{AppState, password, secrets_equal};
use crate::store::{Member, NewMember};

/// Days of the per-day address count shown for a member.
const ADDRESS_DAYS: i64 = 30;

pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.options.admin_token else {
        return Err(ApiError::AdminDisabled);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if secrets_equal(given.trim(), expected) {
        Ok(())
    } else {
        Err(ApiError::AdminToken)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    email: String,
    level: String,
    since: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) access: Option<String>,
    pub(crate) at: Option<String>,
    pub(crate) until: Option<String>,
    /// How a granted right is paid (`free`, `complimentary`, `single`, `recurring`); by default
    /// the basis that site.toml's products imply.
    pub(crate) basis: Option<String>,
    /// Why a `revoke` revokes: `refunded`, `disputed` or `dispute_lost` (docs/payments.md).
    pub(crate) reason: Option<String>,
}

fn instant(field: &str, text: Option<&str>, now: Timestamp) -> Result<Timestamp, ApiError> {
    match text {
        None => Ok(now),
        Some(text) => parse_instant(text)
            .map_err(|e| ApiError::bad_request("bad_time", format!("`{field}`: {e}"))),
    }
}

async fn find_member(state: &AppState, email: &str) -> Result<Member, ApiError> {
    let email = normalize_email(email)?;
    state
        .store
        .member_by_email(&email)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no member with email {email}")))
}

/// The member, their history and their standing now.
async fn member_json(state: &AppState, member: &Member) -> Result<Value, ApiError> {
    let now = Timestamp::now();
    let history = state.store.history(member.id).await?;
    let standing = view::timeline(&history, now, &state.config).standing(&state.config);
    let addresses: Vec<Value> = state
        .store
        .addresses_per_day(member.id, ADDRESS_DAYS)
        .await?
        .into_iter()
        .map(|(day, count)| {
            let date = Timestamp::from_second(day * 86_400)
                .map(|t| t.to_string()[..10].to_owned())
                .unwrap_or_default();
            json!({ "day": date, "addresses": count })
        })
        .collect();
    let mut body = view::member(member);
    body["standing"] = view::standing(&standing, &state.config);
    body["history"] = view::history(&history);
    body["addresses_per_day"] = Value::Array(addresses);
    Ok(body)
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateMember>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_admin(&state, &headers)?;
    let email = normalize_email(&request.email)?;
    let now = Timestamp::now();
    let since = instant("since", request.since.as_deref(), now)?;
    let grant = parse_grant(&format!("level:{}", request.level), &state.config)
        .map_err(|_| unknown_level(&state, &request.level))?;
    let record = EventRecord::new(
        EventType::LevelSet,
        Some(grant),
        since,
        None,
        None,
        &state.config,
    )
    .map_err(|e| ApiError::bad_request("bad_event", e.to_string()))?;
    let password_hash = match request.password {
        // Through the same gate as logins: hashing costs what a check costs.
        Some(plain) => Some(
            state
                .verifications
                .run(move || password::hash(&plain))
                .await
                .map_err(|password::Full| ApiError::Busy { retry_after: 5 })?
                .ok_or_else(|| ApiError::Internal("password hashing panicked".into()))?
                .map_err(|e| ApiError::bad_request("bad_password", e.to_string()))?,
        ),
        None => None,
    };
    let new = NewMember {
        email,
        password_hash,
        events: vec![record],
        source: "admin".to_owned(),
        announce: true,
    };
    let member = state.store.create_member(&new, now).await?;
    state.members_changed(&[member.id]);
    Ok((
        StatusCode::CREATED,
        Json(member_json(&state, &member).await?),
    ))
}

fn unknown_level(state: &AppState, id: &str) -> ApiError {
    let known: Vec<&str> = state.config.level_ids().collect();
    ApiError::bad_request(
        "unknown_level",
        format!(
            "unknown level `{id}` (site.toml defines: {})",
            known.join(", ")
        ),
    )
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let now = Timestamp::now();
    let mut members = Vec::new();
    for member in state.store.members().await? {
        let history = state.store.history(member.id).await?;
        let standing = view::timeline(&history, now, &state.config).standing(&state.config);
        let mut body = view::member(&member);
        body["standing"] = view::standing(&standing, &state.config);
        members.push(body);
    }
    Ok(Json(json!({ "members": members })))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let member = find_member(&state, &email).await?;
    Ok(Json(member_json(&state, &member).await?))
}

/// A `cancel` with `until` keeps access open only for recurring access (a subscription or an
/// unfinished payment plan) in good standing. On any other right the cancel is at once, and
/// the `until` would be dropped without a word: the request is refused instead, naming why.
async fn refuse_until_that_would_not_apply(
    state: &AppState,
    member: &Member,
    record: &EventRecord,
) -> Result<(), ApiError> {
    let history = state.store.history(member.id).await?;
    let before = view::timeline(&history, record.at, &state.config).standing(&state.config);
    let right = match &record.access {
        Some(grant) => before
            .level
            .iter()
            .chain(&before.bundles)
            .find(|view| &view.grant == grant),
        None => before.level.as_ref(),
    };
    let Some(right) = right else {
        return Ok(());
    };
    let mut events = view::events(&history);
    events.extend(record.to_event());
    let after = Timeline::replay(&events, record.at, &state.config).standing(&state.config);
    let cancelled_at_once = after
        .level
        .iter()
        .chain(&after.bundles)
        .any(|view| view.grant == right.grant && view.status == Status::Cancelled);
    if !cancelled_at_once {
        return Ok(());
    }
    let name = crate::entitle::grant_text(&right.grant);
    let why = if right.status == Status::Overdue {
        format!("`{name}` is overdue")
    } else {
        format!(
            "`{name}` is held on the `{}` basis, not as recurring access (a subscription or an unfinished payment plan)",
            right.basis.name()
        )
    };
    Err(ApiError::bad_request(
        "until_not_applicable",
        format!(
            "{why}, so a cancel ends it at once and `until` cannot keep it open; leave `until` out to cancel now, or send `cancel` without `until` at the time it should end (`at`)"
        ),
    ))
}

pub async fn add_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(email): Path<String>,
    ApiJson(request): ApiJson<NewEvent>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_admin(&state, &headers)?;
    let member = find_member(&state, &email).await?;
    let now = Timestamp::now();
    let record = event_record(&state, &request, now)?;
    record_event(&state, &member, &record, "admin", now).await?;
    Ok((
        StatusCode::CREATED,
        Json(member_json(&state, &member).await?),
    ))
}

/// The event a request describes, checked: its type, access, times, basis and reason. The
/// operator console builds its events through here too, so both refuse the same things.
pub(crate) fn event_record(
    state: &AppState,
    request: &NewEvent,
    now: Timestamp,
) -> Result<EventRecord, ApiError> {
    let bad = |e: crate::entitle::RecordError| ApiError::bad_request("bad_event", e.to_string());
    let kind: EventType = request.kind.parse().map_err(bad)?;
    if kind == EventType::PaidInFull {
        return Err(ApiError::bad_request(
            "bad_event",
            "`paid_in_full` is recorded by payments, not by the admin API",
        ));
    }
    let access: Option<Grant> = request
        .access
        .as_deref()
        .map(|text| parse_grant(text, &state.config))
        .transpose()
        .map_err(bad)?;
    let at = instant("at", request.at.as_deref(), now)?;
    let until = request
        .until
        .as_deref()
        .map(|text| instant("until", Some(text), now))
        .transpose()?;
    let basis = match request.basis.as_deref() {
        None => None,
        Some(name) => Some(Basis::from_name(name).ok_or_else(|| {
            ApiError::bad_request(
                "bad_event",
                format!("unknown basis `{name}` (known: free, complimentary, single, recurring)"),
            )
        })?),
    };
    let reason = request
        .reason
        .as_deref()
        .map(Revocation::from_name)
        .transpose()
        .map_err(bad)?;
    EventRecord::with_reason(kind, access, at, until, basis, reason, &state.config).map_err(bad)
}

/// Appends an operator's event to a member's history as `source` (`admin` for the API,
/// `admin:<email>` for the console), refusing an `until` that would not apply.
pub(crate) async fn record_event(
    state: &AppState,
    member: &Member,
    record: &EventRecord,
    source: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    if record.until.is_some() {
        refuse_until_that_would_not_apply(state, member, record).await?;
    }
    state
        .store
        .append_event(member.id, record, source, now)
        .await?;
    // The change must show in this member's very next keys request.
    state.members_changed(&[member.id]);
    Ok(())
}
