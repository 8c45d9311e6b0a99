//! Replays a member's history into timelines: for the level slot and for each bundle, the
//! sequence of (right, status, revocation) segments up to `now`, with the scheduled transitions
//! (pending-cancel reaching its date, `expires_after`, `on_expire`) written in at their time.
//!
//! A revocation (a refund, a dispute) lies over the status rather than replacing it: the
//! status goes on moving underneath (a subscription cancelled while disputed is cancelled), so
//! that a dispute won gives back the right as it would stand without it.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::event::{Basis, Event, EventKind, Grant, Revocation};
use crate::config::SiteConfig;

/// The status of one access right (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    PendingCancel {
        until: Timestamp,
    },
    Overdue,
    Cancelled,
    Expired,
    /// A refund or a dispute took the right back. Only a [`RightView`](super::RightView)
    /// shows it: in a [`Segment`] the revocation is kept beside the status it lies over.
    Revoked(Revocation),
}

impl Status {
    /// Whether the right is still held: it opens gates now (active, pending-cancel) or will
    /// again once paid (overdue). Drip stretches run while a right is held.
    pub fn holds(self) -> bool {
        matches!(
            self,
            Status::Active | Status::PendingCancel { .. } | Status::Overdue
        )
    }

    /// Whether the right opens gates.
    pub fn opens(self) -> bool {
        matches!(self, Status::Active | Status::PendingCancel { .. })
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::PendingCancel { .. } => "pending-cancel",
            Status::Overdue => "overdue",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Revoked(_) => "revoked",
        }
    }
}

/// From `from` until the next segment, the slot held right `id` with `status`, and the
/// revocation lying over it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub from: Timestamp,
    pub id: String,
    pub status: Status,
    pub revoked: Option<Revoked>,
}

/// A revocation in force during a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    pub reason: Revocation,
    /// A `restore` lifted it later (a dispute won): it closed gates while it stood, and takes
    /// nothing back after.
    pub lifted: bool,
}

/// A right as it stands: which one, how it is paid, and when it was last granted (the start
/// of its `expires_after` clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub id: String,
    pub basis: Basis,
    pub status: Status,
    pub granted_at: Timestamp,
    /// The revocation lying over `status`, if any.
    pub revoked: Option<Revocation>,
}

/// A member's level slot and bundles, replayed up to one instant.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub(crate) level: Option<Held>,
    pub(crate) bundles: BTreeMap<String, Held>,
    pub(crate) level_segments: Vec<Segment>,
    pub(crate) bundle_segments: BTreeMap<String, Vec<Segment>>,
}

#[derive(Clone, Copy)]
enum Slot<'a> {
    Level,
    Bundle(&'a str),
}

impl Timeline {
    /// Replays `history` (in time order; events at one instant keep their stored order) up to
    /// `now`. Events after `now` are ignored: a back-dated history and a live one agree.
    pub fn replay(history: &[Event], now: Timestamp, config: &SiteConfig) -> Timeline {
        let mut events: Vec<&Event> = history.iter().filter(|e| e.at <= now).collect();
        events.sort_by_key(|e| e.at);
        let mut timeline = Timeline::default();
        for event in events {
            timeline.advance(event.at, config);
            timeline.apply(event, config);
        }
        timeline.advance(now, config);
        timeline
    }

    /// Writes in every scheduled transition due by `t`, earliest first.
    fn advance(&mut self, t: Timestamp, config: &SiteConfig) {
        loop {
            let mut due: Option<(Timestamp, Option<String>)> = None;
            if let Some(held) = &self.level
                && let Some(at) =
                    next_transition(held, config.level(&held.id).and_then(|l| l.expires_after))
            {
                due = Some((at, None));
            }
            for (id, held) in &self.bundles {
                let expires = config.bundle(id).and_then(|b| b.expires_after);
                if let Some(at) = next_transition(held, expires)
                    && due.as_ref().is_none_or(|(best, _)| at < *best)
                {
                    due = Some((at, Some(id.clone())));
                }
            }
            match due {
                Some((at, slot)) if at <= t => match slot {
                    None => self.transition(Slot::Level, at, config),
                    Some(id) => self.transition(Slot::Bundle(&id), at, config),
                },
                _ => return,
            }
        }
    }

    /// The scheduled transition of one slot at `at`: a pending cancel ends, or the right expires.
    fn transition(&mut self, slot: Slot<'_>, at: Timestamp, config: &SiteConfig) {
        let Some(held) = self.held(slot) else { return };
        if let Status::PendingCancel { until } = held.status
            && until <= at
        {
            self.set_status(slot, Status::Cancelled, at);
            return;
        }
        self.expire(slot, at, config);
    }

    fn expire(&mut self, slot: Slot<'_>, at: Timestamp, config: &SiteConfig) {
        let Some(held) = self.held(slot) else { return };
        if !held.status.holds() {
            return;
        }
        let on_expire = match slot {
            Slot::Level => config.level(&held.id).and_then(|l| l.on_expire.clone()),
            Slot::Bundle(_) => None,
        };
        match on_expire {
            // `on_expire` is a level change, not an end: a stretch within qualifying ranks
            // goes on (DESIGN §5).
            Some(next) => self.set_level(next, Basis::Free, at),
            None => self.set_status(slot, Status::Expired, at),
        }
    }

    fn apply(&mut self, event: &Event, config: &SiteConfig) {
        let at = event.at;
        match &event.kind {
            EventKind::Grant {
                grant: Grant::Level(id),
                basis,
            } => {
                self.set_level(id.clone(), *basis, at);
            }
            EventKind::Grant {
                grant: Grant::Bundle(id),
                basis,
            } => {
                if self.level.is_none()
                    && let Some(base) = base_level(config)
                {
                    self.set_level(base, Basis::Free, at);
                }
                let held = Held {
                    id: id.clone(),
                    basis: *basis,
                    status: Status::Active,
                    granted_at: at,
                    revoked: None,
                };
                self.bundles.insert(id.clone(), held);
                self.push_segment(Slot::Bundle(id), at);
            }
            EventKind::Cancel { grant, until } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                let Some(held) = self.held(slot) else { return };
                let pending = until.filter(|u| {
                    *u > at
                        && held.basis == Basis::Recurring
                        && matches!(held.status, Status::Active | Status::PendingCancel { .. })
                });
                match (held.status.holds(), pending) {
                    (false, _) => {}
                    (true, Some(until)) => {
                        self.set_status(slot, Status::PendingCancel { until }, at)
                    }
                    (true, None) => self.set_status(slot, Status::Cancelled, at),
                }
            }
            EventKind::Overdue { grant } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                if self.held(slot).is_some_and(|h| h.status.opens()) {
                    self.set_status(slot, Status::Overdue, at);
                }
            }
            EventKind::Recovered { grant } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                if self.held(slot).is_some_and(|h| h.status == Status::Overdue) {
                    self.set_status(slot, Status::Active, at);
                }
            }
            EventKind::Expire { grant } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                self.expire(slot, at, config);
            }
            EventKind::PaidInFull { grant } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                let Some(held) = self.held_mut(slot) else {
                    return;
                };
                if held.basis == Basis::Recurring {
                    held.basis = Basis::Single;
                }
                if matches!(held.status, Status::PendingCancel { .. }) {
                    self.set_status(slot, Status::Active, at);
                }
            }
            EventKind::Revoke { grant, reason } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                let Some(held) = self.held_mut(slot) else {
                    return;
                };
                // The money is gone: the right ends at once, pending-cancel or not. A right
                // already ended is revoked too, which is what keeps it from staying open
                // under keep-unlocked.
                if reason.is_final() && held.status.holds() {
                    held.status = Status::Cancelled;
                }
                // A dispute opened on a right already refunded does not make it restorable.
                let refunded = held.revoked.is_some_and(Revocation::is_final);
                if reason.is_final() || !refunded {
                    held.revoked = Some(*reason);
                }
                self.push_segment(slot, at);
            }
            EventKind::Restore { grant } => {
                let Some(slot) = self.target(grant.as_ref()) else {
                    return;
                };
                let Some(held) = self.held_mut(slot) else {
                    return;
                };
                if held.revoked == Some(Revocation::Disputed) {
                    held.revoked = None;
                    self.lift(slot);
                    self.push_segment(slot, at);
                }
            }
        }
    }

    /// Marks the revocation the slot's latest segments lie under as lifted.
    fn lift(&mut self, slot: Slot<'_>) {
        let segments = match slot {
            Slot::Level => &mut self.level_segments,
            Slot::Bundle(id) => self.bundle_segments.entry(id.to_owned()).or_default(),
        };
        let under = segments
            .iter_mut()
            .rev()
            .map_while(|segment| segment.revoked.as_mut().filter(|r| !r.lifted));
        for revoked in under {
            revoked.lifted = true;
        }
    }

    /// The slot an event speaks of; `None` as the grant means the current level, and a level
    /// the member no longer holds is not theirs to change.
    fn target<'a>(&self, grant: Option<&'a Grant>) -> Option<Slot<'a>> {
        match grant {
            None => self.level.as_ref().map(|_| Slot::Level),
            Some(Grant::Level(id)) => self
                .level
                .as_ref()
                .filter(|held| &held.id == id)
                .map(|_| Slot::Level),
            Some(Grant::Bundle(id)) => self.bundles.contains_key(id).then_some(Slot::Bundle(id)),
        }
    }

    fn held(&self, slot: Slot<'_>) -> Option<&Held> {
        match slot {
            Slot::Level => self.level.as_ref(),
            Slot::Bundle(id) => self.bundles.get(id),
        }
    }

    fn held_mut(&mut self, slot: Slot<'_>) -> Option<&mut Held> {
        match slot {
            Slot::Level => self.level.as_mut(),
            Slot::Bundle(id) => self.bundles.get_mut(id),
        }
    }

    /// Sets the level: a renewal when the same level is still held, otherwise a change.
    fn set_level(&mut self, id: String, basis: Basis, at: Timestamp) {
        self.level = Some(Held {
            id,
            basis,
            status: Status::Active,
            granted_at: at,
            revoked: None,
        });
        self.push_segment(Slot::Level, at);
    }

    fn set_status(&mut self, slot: Slot<'_>, status: Status, at: Timestamp) {
        if let Some(held) = self.held_mut(slot) {
            held.status = status;
        }
        self.push_segment(slot, at);
    }

    /// Records the slot's right and status from `at`, unless nothing visible changed.
    fn push_segment(&mut self, slot: Slot<'_>, at: Timestamp) {
        let Some(held) = self.held(slot) else { return };
        let segment = Segment {
            from: at,
            id: held.id.clone(),
            status: held.status,
            revoked: held.revoked.map(|reason| Revoked {
                reason,
                lifted: false,
            }),
        };
        let segments = match slot {
            Slot::Level => &mut self.level_segments,
            Slot::Bundle(id) => self.bundle_segments.entry(id.to_owned()).or_default(),
        };
        let same = segments.last().is_some_and(|last| {
            last.id == segment.id
                && last.status == segment.status
                && last.revoked == segment.revoked
        });
        if !same {
            segments.push(segment);
        }
    }
}

/// When a held right next changes by itself: its pending cancel ends or it expires.
fn next_transition(held: &Held, expires_after: Option<u64>) -> Option<Timestamp> {
    let cancel = match held.status {
        Status::PendingCancel { until } => Some(until),
        _ => None,
    };
    let expiry = expires_after
        .filter(|_| held.status.holds())
        .map(|secs| add_secs(held.granted_at, secs));
    match (cancel, expiry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The level a member holds when they have only bundles: the lowest rank (DESIGN §5).
pub(crate) fn base_level(config: &SiteConfig) -> Option<String> {
    config
        .levels
        .iter()
        .min_by_key(|level| level.rank)
        .map(|level| level.id.clone())
}

/// `t + secs`, saturating at the end of representable time.
pub(crate) fn add_secs(t: Timestamp, secs: u64) -> Timestamp {
    let total = t
        .as_second()
        .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
    Timestamp::from_second(total).unwrap_or(Timestamp::MAX)
}
