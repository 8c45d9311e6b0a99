//! Entitlement (DESIGN §5), pure: a member's event history, a rule, `now` and the site config
//! give a decision. No I/O and no clock, so every rule is tested at exact instants.
//!
//! The history is replayed into a [`Timeline`] per slot (the level, each bundle). Scheduled
//! transitions are not stored events: pending-cancel reaching its date, `expires_after` and
//! `on_expire` are written in during the replay at their own instant, so a decision at `now` is
//! right whether or not anything has run since.

mod decide;
mod event;
mod record;
mod standing;
mod timeline;

#[cfg(test)]
mod tests;

pub use decide::{Decision, Reason};
pub use event::{Basis, Event, EventKind, Grant, Revocation};
pub use record::{EVENT_TYPES, EventRecord, EventType, RecordError, grant_text, parse_grant};
pub use standing::{RightView, Standing};
pub use timeline::{Revoked, Segment, Status, Timeline};

use jiff::Timestamp;

use crate::config::SiteConfig;
use crate::gate::Rule;

/// Decides one rule for one member at `now`.
pub fn decide(history: &[Event], rule: &Rule, now: Timestamp, config: &SiteConfig) -> Decision {
    Timeline::replay(history, now, config).decide(rule, now, config)
}
