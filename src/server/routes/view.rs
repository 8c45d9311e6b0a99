//! The JSON shapes of a member, their standing and their history, shared by `/me` and the
//! admin routes.

pub mod plan;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::config::SiteConfig;
use crate::entitle::{Event, Grant, RightView, Standing, Status, Timeline, grant_text};
use crate::store::{Member, StoredEvent};

pub fn events(history: &[StoredEvent]) -> Vec<Event> {
    history.iter().filter_map(|e| e.record.to_event()).collect()
}

pub fn timeline(history: &[StoredEvent], now: Timestamp, config: &SiteConfig) -> Timeline {
    Timeline::replay(&events(history), now, config)
}

pub fn right(view: &RightView, config: &SiteConfig) -> Value {
    let (id, name) = match &view.grant {
        Grant::Level(id) => (id, config.level_name(id)),
        Grant::Bundle(id) => (id, config.bundle_name(id)),
    };
    let until = match view.status {
        Status::PendingCancel { until } => Some(until.to_string()),
        _ => None,
    };
    // Why a `revoked` right was taken back: `refunded`, `disputed` or `dispute_lost`.
    let reason = match view.status {
        Status::Revoked(reason) => Some(reason.name()),
        _ => None,
    };
    json!({
        "id": id,
        "name": name,
        "status": view.status.name(),
        "reason": reason,
        "since": view.since.to_string(),
        "until": until,
        "expires_at": view.expires_at.map(|t| t.to_string()),
        "basis": view.basis.name(),
    })
}

pub fn standing(standing: &Standing, config: &SiteConfig) -> Value {
    json!({
        "level": standing.level.as_ref().map(|l| right(l, config)),
        "bundles": standing.bundles.iter().map(|b| right(b, config)).collect::<Vec<_>>(),
    })
}

pub fn history(history: &[StoredEvent]) -> Value {
    history
        .iter()
        .map(|event| {
            json!({
                "id": event.id,
                "type": event.record.kind.name(),
                "access": event.record.access.as_ref().map(grant_text),
                "basis": event.record.basis.map(|b| b.name()),
                "at": event.record.at.to_string(),
                "until": event.record.until.map(|t| t.to_string()),
                "reason": event.record.reason.map(|r| r.name()),
                "source": event.source,
                "recorded_at": event.recorded_at.to_string(),
            })
        })
        .collect()
}

pub fn member(member: &Member) -> Value {
    json!({
        "email": member.email,
        "created_at": member.created_at.to_string(),
        "has_password": member.password_hash.is_some(),
    })
}
