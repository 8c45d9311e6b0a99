//! The actions on a member's page: set the level, grant or cancel a bundle, cancel now or at a
//! date, complimentary access, recovered, a login link, log out everywhere. Each is a
//! CSRF-checked form; each event goes through the admin API's own checks
//! (`routes::event_record`, `routes::record_event`) with the source `admin:<operator>`, and
//! every action is written to the audit log with what changed.
//!
//! A refused action answers the member's page again with the reason, as a 400, and changes
//! nothing; a done one redirects to the page with a flash.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::member::{find_member, grant_name, member_path, show, status_words};
use super::{ConsoleError, ConsoleForm, CsrfField, Operator, redirect};
use crate::entitle::{Grant, RightView, Standing, grant_text, parse_grant};
use crate::server::AppState;
use crate::server::routes::{NewEvent, event_record, record_event, send_login_link, view};
use crate::store::Member;

/// Every action's form: the CSRF token and what the action needs of the rest.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: String,
    /// A level id (set level).
    #[serde(default)]
    level: String,
    /// A bundle id (grant a bundle).
    #[serde(default)]
    bundle: String,
    /// `level:<id>` or `bundle:<id>` (cancel, complimentary, recovered).
    #[serde(default)]
    access: String,
    /// A date (or RFC 3339 time) to cancel at; empty: now.
    #[serde(default)]
    until: String,
}

impl CsrfField for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

type Action = ConsoleForm<ActionForm>;

pub async fn set_level(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Action,
) -> Result<Response, ConsoleError> {
    let access = format!("level:{}", required(&form.form.level, "a level")?);
    event(&state, &id, &headers, form, "level_set", access, None).await
}

pub async fn add_bundle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Action,
) -> Result<Response, ConsoleError> {
    let access = format!("bundle:{}", required(&form.form.bundle, "a bundle")?);
    event(&state, &id, &headers, form, "bundle_add", access, None).await
}

/// Cancels a level or a bundle, now or (recurring access only) at the form's date.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Action,
) -> Result<Response, ConsoleError> {
    let access = required(&form.form.access, "the level or bundle to cancel")?.to_owned();
    let kind = if access.starts_with("bundle:") {
        "bundle_cancel"
    } else {
        "cancel"
    };
    let until = Some(form.form.until.trim().to_owned()).filter(|u| !u.is_empty());
    event(&state, &id, &headers, form, kind, access, until).await
}

pub async fn complimentary(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Action,
) -> Result<Response, ConsoleError> {
    let access = required(&form.form.access, "a level or bundle")?.to_owned();
    event(&state, &id, &headers, form, "complimentary", access, None).await
}

pub async fn recovered(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Action,
) -> Result<Response, ConsoleError> {
    let access = required(&form.form.access, "the overdue level or bundle")?.to_owned();
    event(&state, &id, &headers, form, "recovered", access, None).await
}

/// Mails the member a login link, through the members' own link path.
pub async fn login_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm { operator, .. }: Action,
) -> Result<Response, ConsoleError> {
    let member = find_member(&state, &id).await?;
    if !send_login_link(&state, member.id, &member.email).await? {
        return Err(ConsoleError::Internal(
            "the login link's mail could not be sent".into(),
        ));
    }
    audit(
        &state,
        &operator,
        &member,
        "login_link",
        json!({ "sent": true }),
    )
    .await?;
    done(&state, &member, "login_link")
}

/// Ends every session of the member, on every device.
pub async fn log_out_everywhere(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm { operator, .. }: Action,
) -> Result<Response, ConsoleError> {
    let member = find_member(&state, &id).await?;
    let ended = state.store.delete_member_sessions(member.id).await?;
    state.sessions.forget_member(member.id);
    let detail = json!({ "sessions_ended": ended });
    audit(&state, &operator, &member, "logout_everywhere", detail).await?;
    done(&state, &member, "logout")
}

/// A non-empty form field, or a refusal naming what is missing.
fn required<'a>(value: &'a str, what: &str) -> Result<&'a str, ConsoleError> {
    let value = value.trim();
    if value.is_empty() {
        Err(ConsoleError::BadForm(format!("choose {what} first")))
    } else {
        Ok(value)
    }
}

/// Records one event as the operator: checks it as the admin API does, and the console's own
/// refusals (a cancel date in the past, cancelling or recovering what is not held), appends it,
/// audits before and after.
async fn event(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    ConsoleForm { operator, .. }: Action,
    kind: &str,
    access: String,
    until: Option<String>,
) -> Result<Response, ConsoleError> {
    let member = find_member(state, id).await?;
    let now = Timestamp::now();
    let before = standing(state, &member, now).await?;
    let checked = check(state, &before, kind, &access, until, now);
    let record = match checked {
        Ok(record) => record,
        Err(reason) => return refuse(state, &operator, &member, headers, &reason).await,
    };
    let source = format!("admin:{}", operator.email);
    if let Err(error) = record_event(state, &member, &record, &source, now).await {
        return match ConsoleError::from(error) {
            ConsoleError::Refused(reason) | ConsoleError::BadForm(reason) => {
                refuse(state, &operator, &member, headers, &reason).await
            }
            other => Err(other),
        };
    }
    let after = standing(state, &member, Timestamp::now()).await?;
    let grant = record.access.clone();
    let detail = json!({
        "event": kind,
        "access": grant.as_ref().map(grant_text),
        "until": record.until.map(|t| t.to_string()),
        "before": right_state(&before, grant.as_ref()),
        "after": right_state(&after, grant.as_ref()),
    });
    audit(state, &operator, &member, kind, detail).await?;
    done(state, &member, kind)
}

/// The event an action asks for, or why it is refused.
fn check(
    state: &AppState,
    before: &Standing,
    kind: &str,
    access: &str,
    until: Option<String>,
    now: Timestamp,
) -> Result<crate::entitle::EventRecord, String> {
    let grant = parse_grant(access, &state.config).map_err(|e| e.to_string())?;
    let request = NewEvent {
        kind: kind.to_owned(),
        access: Some(access.to_owned()),
        at: None,
        until,
        basis: None,
        reason: None,
    };
    let record = event_record(state, &request, now).map_err(|e| e.to_string())?;
    if record.until.is_some_and(|until| until <= now) {
        return Err("the date to cancel at has passed: choose a later one, or cancel now".into());
    }
    let held = find(before, &grant);
    let name = grant_name(&grant, state);
    match kind {
        "cancel" | "bundle_cancel" if !held.is_some_and(|r| r.status.holds()) => Err(format!(
            "this member does not hold {name} now: there is nothing to cancel"
        )),
        "recovered" if held.is_none_or(|r| r.status != crate::entitle::Status::Overdue) => Err(
            format!("{name} is not overdue: there is nothing to recover"),
        ),
        _ => Ok(record),
    }
}

fn find<'a>(standing: &'a Standing, grant: &Grant) -> Option<&'a RightView> {
    standing
        .level
        .iter()
        .chain(&standing.bundles)
        .find(|right| &right.grant == grant)
}

/// A right's status for the audit log: `"pending-cancel until 2027-01-12T00:00:00Z"`, or
/// for a level the level held (setting one replaces another).
fn right_state(standing: &Standing, grant: Option<&Grant>) -> Value {
    let right = match grant {
        Some(Grant::Level(_)) | None => standing.level.as_ref(),
        Some(grant) => find(standing, grant),
    };
    match right {
        Some(right) => json!({
            "access": grant_text(&right.grant),
            "status": right.status.name(),
            "basis": right.basis.name(),
            "words": status_words(right),
        }),
        None => Value::Null,
    }
}

async fn standing(
    state: &AppState,
    member: &Member,
    now: Timestamp,
) -> Result<Standing, ConsoleError> {
    let history = state.store.history(member.id).await?;
    Ok(view::timeline(&history, now, &state.config).standing(&state.config))
}

async fn audit(
    state: &AppState,
    operator: &Operator,
    member: &Member,
    action: &str,
    detail: Value,
) -> Result<(), ConsoleError> {
    state
        .store
        .audit(
            &operator.email,
            action,
            Some(member.id),
            &detail,
            Timestamp::now(),
        )
        .await?;
    Ok(())
}

/// After a change: the member's next `/keys` sees it, and the operator is sent back to the
/// member's page to read the flash.
fn done(state: &AppState, member: &Member, code: &str) -> Result<Response, ConsoleError> {
    state.members_changed(&[member.id]);
    Ok(redirect(&format!(
        "{}?done={code}",
        member_path(state, member.id)
    )))
}

/// The member's page again, saying why nothing changed.
async fn refuse(
    state: &AppState,
    operator: &Operator,
    member: &Member,
    headers: &HeaderMap,
    reason: &str,
) -> Result<Response, ConsoleError> {
    show(state, operator, member, headers, None, Some(reason)).await
}
