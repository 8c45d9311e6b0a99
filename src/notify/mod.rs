//! Member events for the outside world (push notifications) and for the member (the welcome
//! email). A member is *checked* after anything may have changed them: a new event in their
//! history, or the moment a scheduled transition comes. A check compares their standing now with
//! the one last announced and writes one notice per change, with a delivery per target, in one
//! transaction; the edge's workers then deliver them with retries.

mod snapshot;
pub mod welcome;

use serde_json::json;

pub use snapshot::{Change, Snapshot, changes};

use crate::clock::Clock;
use crate::config::SiteConfig;
use crate::entitle::Timeline;
use crate::store::{NewNotice, Store, StoreError};

/// The delivery target of the welcome email; push targets are endpoint URLs.
pub const WELCOME_TARGET: &str = "mail:welcome";

/// How a check of one member ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub changes: Vec<Change>,
    /// False when the member was changed meanwhile; a later check picks it up.
    pub recorded: bool,
}

/// Checks one member at `clock`'s now: announces what changed since the last check, and
/// schedules the next check for when their standing next changes by itself.
pub async fn check_member(
    store: &Store,
    config: &SiteConfig,
    member_id: i64,
    clock: &Clock,
    welcome: bool,
) -> Result<Checked, StoreError> {
    let Some(state) = store.member_state(member_id).await? else {
        store.ensure_member_state(member_id).await?;
        return Ok(Checked {
            changes: Vec::new(),
            recorded: false,
        });
    };
    let Some(member) = store.member_by_id(member_id).await? else {
        return Ok(Checked {
            changes: Vec::new(),
            recorded: false,
        });
    };
    let history: Vec<_> = store
        .history(member_id)
        .await?
        .iter()
        .filter_map(|stored| stored.record.to_event())
        .collect();
    // The clock is read after the history: an event committed before this instant and dated
    // up to it is then replayed, not skipped and forgotten.
    let now = clock.now();
    let standing = Timeline::replay(&history, now, config).standing(config);
    let snapshot = Snapshot::of(&standing);
    let found = match state
        .standing
        .as_deref()
        .map(serde_json::from_str::<Snapshot>)
    {
        Some(Ok(before)) => changes(&before, &snapshot, config, now.as_second()),
        // First sight (an imported member, a database from before notices) or an unreadable
        // row: remember where they stand, announce nothing.
        _ => Vec::new(),
    };
    let member_json = {
        let mut value = snapshot.json();
        value["email"] = json!(member.email);
        value
    };
    let notices: Vec<NewNotice> = found
        .iter()
        .map(|change| {
            let mut targets: Vec<String> = config
                .notify
                .iter()
                .filter(|endpoint| endpoint.wants(change.kind))
                .map(|endpoint| endpoint.url.clone())
                .collect();
            if welcome && change.kind == "member.joined" {
                targets.push(WELCOME_TARGET.to_owned());
            }
            targets.dedup();
            NewNotice {
                kind: change.kind.to_owned(),
                body: json!({ "member": member_json, "data": change.data }).to_string(),
                targets,
            }
        })
        .collect();
    // Never sooner than the next second: a transition due now was already replayed.
    // Events dated in the future (an admin's scheduled `expire`) are a change to come too.
    let scheduled = history
        .iter()
        .map(|event| event.at.as_second())
        .filter(|at| *at > now.as_second())
        .min();
    let next = [snapshot.next_change(), scheduled]
        .into_iter()
        .flatten()
        .min()
        .map_or(i64::MAX, |at| at.max(now.as_second() + 1));
    let text = serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".to_owned());
    let recorded = store
        .record_standing(member_id, state.version, &text, next, &notices, now)
        .await?;
    Ok(Checked {
        changes: if recorded { found } else { Vec::new() },
        recorded,
    })
}

/// Checks every member that is due by `clock`'s now; returns how many notices were written.
pub async fn check_due(
    store: &Store,
    config: &SiteConfig,
    clock: &Clock,
    welcome: bool,
) -> Result<usize, StoreError> {
    let mut written = 0;
    let now = clock.now();
    loop {
        let due = store.members_due(now, 200).await?;
        let mut progressed = false;
        for member in &due {
            let checked = check_member(store, config, *member, clock, welcome).await?;
            progressed |= checked.recorded;
            written += checked.changes.len();
        }
        if due.len() < 200 || !progressed {
            return Ok(written);
        }
    }
}
