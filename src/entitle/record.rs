//! The stored form of an event: the contract's vocabulary (DESIGN §6, `type` and `access`),
//! checked once when it is recorded and turned into an [`Event`] for replay.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use super::event::{Basis, Event, EventKind, Grant, Revocation};
use crate::config::SiteConfig;

/// The event types of `POST /admin/members/{email}/events`, plus `paid_in_full`, which only
/// payments record. `revoke` and `restore` are this repo's addition to DESIGN §6's list: refunds
/// and disputes (docs/payments.md), which an operator may also record by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    LevelSet,
    BundleAdd,
    BundleCancel,
    Cancel,
    Overdue,
    Recovered,
    Expire,
    Complimentary,
    PaidInFull,
    Revoke,
    Restore,
}

pub const EVENT_TYPES: &[EventType] = &[
    EventType::LevelSet,
    EventType::BundleAdd,
    EventType::BundleCancel,
    EventType::Cancel,
    EventType::Overdue,
    EventType::Recovered,
    EventType::Expire,
    EventType::Complimentary,
    EventType::PaidInFull,
    EventType::Revoke,
    EventType::Restore,
];

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::LevelSet => "level_set",
            EventType::BundleAdd => "bundle_add",
            EventType::BundleCancel => "bundle_cancel",
            EventType::Cancel => "cancel",
            EventType::Overdue => "overdue",
            EventType::Recovered => "recovered",
            EventType::Expire => "expire",
            EventType::Complimentary => "complimentary",
            EventType::PaidInFull => "paid_in_full",
            EventType::Revoke => "revoke",
            EventType::Restore => "restore",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventType {
    type Err = RecordError;

    fn from_str(text: &str) -> Result<EventType, RecordError> {
        EVENT_TYPES
            .iter()
            .copied()
            .find(|t| t.name() == text)
            .ok_or_else(|| RecordError::UnknownType(text.to_owned()))
    }
}

impl Basis {
    pub fn name(self) -> &'static str {
        match self {
            Basis::Free => "free",
            Basis::Complimentary => "complimentary",
            Basis::Single => "single",
            Basis::Recurring => "recurring",
        }
    }

    pub fn from_name(text: &str) -> Option<Basis> {
        [
            Basis::Free,
            Basis::Complimentary,
            Basis::Single,
            Basis::Recurring,
        ]
        .into_iter()
        .find(|b| b.name() == text)
    }
}

impl Revocation {
    pub const ALL: [Revocation; 3] = [
        Revocation::Refunded,
        Revocation::Disputed,
        Revocation::DisputeLost,
    ];

    /// The `reason` of a `revoke`, as the API, the store and `/me` write it.
    pub fn name(self) -> &'static str {
        match self {
            Revocation::Refunded => "refunded",
            Revocation::Disputed => "disputed",
            Revocation::DisputeLost => "dispute_lost",
        }
    }

    pub fn from_name(text: &str) -> Result<Revocation, RecordError> {
        Revocation::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| RecordError::UnknownReason(text.to_owned()))
    }
}

/// `level:<id>` or `bundle:<id>`, as the API and the store write an access right.
pub fn grant_text(grant: &Grant) -> String {
    match grant {
        Grant::Level(id) => format!("level:{id}"),
        Grant::Bundle(id) => format!("bundle:{id}"),
    }
}

/// Parses `level:<id>` or `bundle:<id>` against the site's levels and bundles.
pub fn parse_grant(text: &str, config: &SiteConfig) -> Result<Grant, RecordError> {
    let unknown = || RecordError::UnknownAccess(text.to_owned());
    match text.split_once(':') {
        Some(("level", id)) if config.level(id).is_some() => Ok(Grant::Level(id.to_owned())),
        Some(("bundle", id)) if config.bundle(id).is_some() => Ok(Grant::Bundle(id.to_owned())),
        Some(("level" | "bundle", _)) => Err(unknown()),
        _ => Err(RecordError::BadAccess(text.to_owned())),
    }
}

/// One recorded event of a member's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub kind: EventType,
    pub access: Option<Grant>,
    /// How a granted right is paid; `None` for events that grant nothing.
    pub basis: Option<Basis>,
    pub at: Timestamp,
    pub until: Option<Timestamp>,
    /// Why access was revoked: on `revoke` only.
    pub reason: Option<Revocation>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error(
        "unknown event type `{0}` (known: level_set, bundle_add, bundle_cancel, cancel, overdue, recovered, expire, complimentary, revoke, restore)"
    )]
    UnknownType(String),
    #[error("`{0}` is not an access right: write `level:<id>` or `bundle:<id>`")]
    BadAccess(String),
    #[error("unknown access `{0}`: no such level or bundle in site.toml")]
    UnknownAccess(String),
    #[error("`{kind}` needs `access` naming a {wants}")]
    NeedsAccess {
        kind: EventType,
        wants: &'static str,
    },
    #[error("`until` only applies to `cancel` and `bundle_cancel`")]
    UntilNotAllowed,
    #[error("`revoke` needs a `reason`: refunded, disputed or dispute_lost")]
    NeedsReason,
    #[error("unknown reason `{0}` (known: refunded, disputed, dispute_lost)")]
    UnknownReason(String),
    #[error("`reason` only applies to `revoke`")]
    ReasonNotAllowed,
}

impl EventRecord {
    /// Checks the shape of an event: which types need which access, and where `until` fits.
    /// A grant without an explicit basis takes the one site.toml implies. A `revoke` has a
    /// reason, so it is made by [`EventRecord::revoke`].
    pub fn new(
        kind: EventType,
        access: Option<Grant>,
        at: Timestamp,
        until: Option<Timestamp>,
        basis: Option<Basis>,
        config: &SiteConfig,
    ) -> Result<EventRecord, RecordError> {
        let needs = |wants| RecordError::NeedsAccess { kind, wants };
        match (kind, &access) {
            (EventType::LevelSet, Some(Grant::Level(_))) => {}
            (EventType::LevelSet, _) => return Err(needs("level (`level:<id>`)")),
            (EventType::BundleAdd | EventType::BundleCancel, Some(Grant::Bundle(_))) => {}
            (EventType::BundleAdd | EventType::BundleCancel, _) => {
                return Err(needs("bundle (`bundle:<id>`)"));
            }
            (EventType::Complimentary, None) => return Err(needs("level or bundle")),
            (EventType::Revoke, _) => return Err(RecordError::NeedsReason),
            _ => {}
        }
        if until.is_some() && !matches!(kind, EventType::Cancel | EventType::BundleCancel) {
            return Err(RecordError::UntilNotAllowed);
        }
        let basis = match (kind, &access) {
            (EventType::Complimentary, _) => Some(Basis::Complimentary),
            (EventType::LevelSet | EventType::BundleAdd, Some(grant)) => {
                Some(basis.unwrap_or_else(|| Basis::implied(config, grant)))
            }
            _ => None,
        };
        Ok(EventRecord {
            kind,
            access,
            basis,
            at,
            until,
            reason: None,
        })
    }

    /// An event as the admin API gives it: with a `reason`, which a `revoke` needs and no
    /// other type takes, or as [`EventRecord::new`] checks it.
    pub fn with_reason(
        kind: EventType,
        access: Option<Grant>,
        at: Timestamp,
        until: Option<Timestamp>,
        basis: Option<Basis>,
        reason: Option<Revocation>,
        config: &SiteConfig,
    ) -> Result<EventRecord, RecordError> {
        match (kind, reason) {
            (EventType::Revoke, Some(_)) if until.is_some() => Err(RecordError::UntilNotAllowed),
            (EventType::Revoke, Some(reason)) => Ok(EventRecord::revoke(access, reason, at)),
            (_, Some(_)) => Err(RecordError::ReasonNotAllowed),
            (_, None) => EventRecord::new(kind, access, at, until, basis, config),
        }
    }

    /// A `revoke` of `access` (`None`: the member's level) for `reason`.
    pub fn revoke(access: Option<Grant>, reason: Revocation, at: Timestamp) -> EventRecord {
        EventRecord {
            kind: EventType::Revoke,
            access,
            basis: None,
            at,
            until: None,
            reason: Some(reason),
        }
    }

    /// The event that the replay applies; `None` for a grant with nothing to grant, which
    /// only a row edited by hand can hold.
    pub fn to_event(&self) -> Option<Event> {
        let grant = self.access.clone();
        let kind = match self.kind {
            EventType::LevelSet | EventType::BundleAdd | EventType::Complimentary => {
                EventKind::Grant {
                    grant: grant?,
                    basis: self.basis.unwrap_or(Basis::Free),
                }
            }
            EventType::Cancel | EventType::BundleCancel => EventKind::Cancel {
                grant,
                until: self.until,
            },
            EventType::Overdue => EventKind::Overdue { grant },
            EventType::Recovered => EventKind::Recovered { grant },
            EventType::Expire => EventKind::Expire { grant },
            EventType::PaidInFull => EventKind::PaidInFull { grant },
            // A reason this version cannot read (a newer one wrote it) still revokes, for
            // good: reading it as nothing would hand back what a refund took.
            EventType::Revoke => EventKind::Revoke {
                grant,
                reason: self.reason.unwrap_or(Revocation::Refunded),
            },
            EventType::Restore => EventKind::Restore { grant },
        };
        Some(Event::new(self.at, kind))
    }
}
