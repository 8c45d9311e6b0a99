//! One member's page: their rights in words, their history as a timeline with each event's
//! source, upcoming drip unlocks, distinct addresses per day (a sharing signal), what
//! operators did to them, and the forms of `member_actions` and `preview`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::format::date;
use super::{ConsoleError, Operator, member_actions as act, preview, render};
use crate::entitle::{Basis, EventType, Grant, Revocation, RightView, Status, grant_text};
use crate::server::AppState;
use crate::server::routes::{unlocks, view};
use crate::store::{Member, StoredEvent};

/// Days of addresses shown.
const ADDRESS_DAYS: i64 = 30;
/// Audit entries shown.
const AUDIT_SHOWN: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people/{id}", get(page))
        .route("/admin/people/{id}/level", post(act::set_level))
        .route("/admin/people/{id}/bundle", post(act::add_bundle))
        .route("/admin/people/{id}/cancel", post(act::cancel))
        .route("/admin/people/{id}/complimentary", post(act::complimentary))
        .route("/admin/people/{id}/recovered", post(act::recovered))
        .route("/admin/people/{id}/login-link", post(act::login_link))
        .route("/admin/people/{id}/logout", post(act::log_out_everywhere))
        .route("/admin/people/{id}/preview", post(preview::start))
        .route("/admin/people/{id}/preview/end", post(preview::end))
}

/// The member of a path's `{id}`; anything else is a 404 page.
pub async fn find_member(state: &AppState, id: &str) -> Result<Member, ConsoleError> {
    let missing = || ConsoleError::NotFound(format!("no member with id {id}"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    state.store.member_by_id(id).await?.ok_or_else(missing)
}

/// `/_gate/admin/people/<id>`.
pub fn member_path(state: &AppState, id: i64) -> String {
    format!("{}/admin/people/{id}", state.base_path())
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// The action just done, from a fixed list: its flash message.
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let member = find_member(&state, &id).await?;
    let flash = query.done.as_deref().and_then(done_message);
    show(&state, &operator, &member, &headers, flash, None).await
}

/// What an operator reads after an action (`?done=`); unknown codes show nothing, so a link
/// cannot put words on the page.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "level_set" => "Level set. The member's next page load sees it.",
        "bundle_add" => "Bundle granted. The member's next page load opens it.",
        "cancel" | "bundle_cancel" => "Cancel recorded.",
        "complimentary" => "Complimentary access given.",
        "recovered" => "Marked as recovered: access is back.",
        "login_link" => "Login link sent to the member.",
        "logout" => "The member is logged out on every device.",
        "preview" => "Preview ready for 30 minutes: open the site in a new tab.",
        "preview_end" => "Preview ended.",
        _ => return None,
    })
}

/// The member's page, with a flash message or an error (then answered as 400: nothing
/// changed).
pub async fn show(
    state: &AppState,
    operator: &Operator,
    member: &Member,
    headers: &HeaderMap,
    flash: Option<&str>,
    error: Option<&str>,
) -> Result<Response, ConsoleError> {
    let now = Timestamp::now();
    let history = state.store.history(member.id).await?;
    let timeline = view::timeline(&history, now, &state.config);
    let standing = timeline.standing(&state.config);
    let rights: Vec<Value> = standing
        .level
        .iter()
        .chain(&standing.bundles)
        .map(|right| right_json(right, state))
        .collect();
    let unlocks: Vec<Value> = unlocks::upcoming_unlocks(state, &timeline, now)
        .await
        .into_iter()
        .map(|mut unlock| {
            let at = unlock["unlocks_at"].as_str().and_then(|t| t.parse().ok());
            unlock["unlocks_at"] = json!(at.map(|t: Timestamp| t.as_second()));
            unlock
        })
        .collect();
    let today = now.as_second().div_euclid(86_400);
    let threshold = state.config.admin.sharing_threshold;
    let addresses: Vec<Value> = state
        .store
        .addresses_per_day_since(member.id, today - (ADDRESS_DAYS - 1))
        .await?
        .into_iter()
        .map(|(day, count)| json!({ "day": day * 86_400, "count": count, "flagged": count > threshold }))
        .collect();
    let shared_days = addresses.iter().filter(|a| a["flagged"] == true).count();
    let audit = state
        .store
        .member_audit_entries(member.id, AUDIT_SHOWN)
        .await?;
    let preview = preview::current(state, headers)
        .await?
        .filter(|live| live.operator == operator.email)
        .map(|live| json!({ "member_id": live.member_id, "expires_at": live.expires_at }));
    let values = json!({
        "section": "people",
        "member": {
            "id": member.id,
            "email": member.email,
            "joined": joined(member, &history),
            "has_password": member.password_hash.is_some(),
        },
        "rights": rights,
        "history": timeline_json(&history, state),
        "unlocks": unlocks,
        "addresses": addresses,
        "address_days": ADDRESS_DAYS,
        "threshold": threshold,
        "shared_days": shared_days,
        "audit": audit,
        "levels": state.config.levels.iter().map(|l| json!({ "id": l.id, "name": l.name })).collect::<Vec<_>>(),
        "bundles": state.config.bundles.iter().map(|b| json!({ "id": b.id, "name": b.name })).collect::<Vec<_>>(),
        "current_level": standing.level.as_ref().map(|l| grant_id(&l.grant)),
        "flash": flash,
        "error": error,
        "preview": preview,
    });
    let page = render(state, Some(operator), "admin/member.html", &values)?;
    Ok(if error.is_some() {
        (StatusCode::BAD_REQUEST, page).into_response()
    } else {
        page
    })
}

/// When the member joined: their first event, or when they were created if that is earlier
/// (an imported member's history starts before the import).
fn joined(member: &Member, history: &[StoredEvent]) -> i64 {
    history
        .iter()
        .map(|event| event.record.at)
        .chain([member.created_at])
        .min()
        .unwrap_or(member.created_at)
        .as_second()
}

fn grant_id(grant: &Grant) -> &str {
    match grant {
        Grant::Level(id) | Grant::Bundle(id) => id,
    }
}

/// The name site.toml gives a level or bundle.
pub fn grant_name<'a>(grant: &'a Grant, state: &'a AppState) -> &'a str {
    match grant {
        Grant::Level(id) => state.config.level_name(id),
        Grant::Bundle(id) => state.config.bundle_name(id),
    }
}

fn right_json(right: &RightView, state: &AppState) -> Value {
    let until = match right.status {
        Status::PendingCancel { until } => Some(until.as_second()),
        _ => None,
    };
    json!({
        "kind": match right.grant { Grant::Level(_) => "level", Grant::Bundle(_) => "bundle" },
        "access": grant_text(&right.grant),
        "name": grant_name(&right.grant, state),
        "status": right.status.name(),
        "basis": basis_words(right.basis),
        "since": right.since.as_second(),
        "until": until,
        "expires_at": right.expires_at.map(|t| t.as_second()),
        "words": status_words(right),
        "expiry": right.expires_at.map(|t| format!("Expires {}", date(t.as_second()))),
        "held": right.status.holds(),
        // Only recurring access in good standing can stay open until a date (DESIGN §5).
        "can_schedule": right.basis == Basis::Recurring
            && matches!(right.status, Status::Active | Status::PendingCancel { .. }),
        "overdue": right.status == Status::Overdue,
    })
}

/// How a right is paid, for people.
pub fn basis_words(basis: Basis) -> &'static str {
    match basis {
        Basis::Free => "free",
        Basis::Complimentary => "complimentary",
        Basis::Single => "single payment",
        Basis::Recurring => "subscription or payment plan",
    }
}

/// A right's status in words, to follow its name: "pending cancel until 12 Jan 2027".
pub fn status_words(right: &RightView) -> String {
    let since = date(right.since.as_second());
    match right.status {
        Status::Active if right.basis == Basis::Complimentary => {
            format!("complimentary, active since {since}")
        }
        Status::Active => format!("active since {since}"),
        Status::PendingCancel { until } => {
            format!("pending cancel until {}", date(until.as_second()))
        }
        Status::Overdue => {
            format!("overdue since {since}: access paused until payment recovers")
        }
        Status::Cancelled => format!("cancelled on {since}"),
        Status::Expired => format!("expired on {since}"),
        Status::Revoked(Revocation::Refunded) => format!("refunded on {since}: access taken back"),
        Status::Revoked(Revocation::Disputed) => {
            format!("payment disputed since {since}: access paused until the dispute is decided")
        }
        Status::Revoked(Revocation::DisputeLost) => {
            format!("dispute lost on {since}: access taken back")
        }
    }
}

/// The history, newest first (by when each event took effect, then by when it was recorded).
fn timeline_json(history: &[StoredEvent], state: &AppState) -> Vec<Value> {
    let mut events: Vec<&StoredEvent> = history.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.record.at, e.id)));
    events
        .into_iter()
        .map(|event| {
            let record = &event.record;
            json!({
                "type": record.kind.name(),
                "label": event_label(record.kind),
                "access": record.access.as_ref().map(grant_text),
                "access_name": record.access.as_ref().map(|g| grant_name(g, state)),
                "basis": record.basis.map(basis_words),
                "at": record.at.as_second(),
                "until": record.until.map(|t| t.as_second()),
                "reason": record.reason.map(|r| r.name()),
                "source": event.source,
                "recorded_at": event.recorded_at.as_second(),
            })
        })
        .collect()
}

fn event_label(kind: EventType) -> &'static str {
    match kind {
        EventType::LevelSet => "Level set",
        EventType::BundleAdd => "Bundle added",
        EventType::BundleCancel => "Bundle cancelled",
        EventType::Cancel => "Cancelled",
        EventType::Overdue => "Payment overdue",
        EventType::Recovered => "Payment recovered",
        EventType::Expire => "Expired",
        EventType::Complimentary => "Complimentary access",
        EventType::PaidInFull => "Paid in full",
        EventType::Revoke => "Revoked",
        EventType::Restore => "Restored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn right(status: Status, basis: Basis) -> RightView {
        let at = Timestamp::from_second(1_796_256_000).unwrap(); // 3 Dec 2026
        RightView {
            grant: Grant::Level("gold".into()),
            status,
            basis,
            since: at,
            granted_at: at,
            expires_at: None,
        }
    }

    #[test]
    fn statuses_read_in_words() {
        let until = Timestamp::from_second(1_799_712_000).unwrap(); // 12 Jan 2027
        let cases = [
            (
                right(Status::PendingCancel { until }, Basis::Recurring),
                "pending cancel until 12 Jan 2027",
            ),
            (
                right(Status::Overdue, Basis::Recurring),
                "overdue since 3 Dec 2026: access paused until payment recovers",
            ),
            (
                right(Status::Active, Basis::Complimentary),
                "complimentary, active since 3 Dec 2026",
            ),
            (
                right(Status::Active, Basis::Recurring),
                "active since 3 Dec 2026",
            ),
            (
                right(Status::Cancelled, Basis::Single),
                "cancelled on 3 Dec 2026",
            ),
        ];
        for (view, words) in cases {
            assert_eq!(status_words(&view), words);
        }
    }

    #[test]
    fn only_known_actions_have_a_flash() {
        assert!(done_message("bundle_add").is_some());
        assert_eq!(done_message("<script>"), None);
    }
}
