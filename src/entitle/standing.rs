//! A member's rights as they stand at one instant: what `/me` and the admin API show.

use jiff::Timestamp;

use super::event::{Basis, Grant};
use super::timeline::{Held, Segment, Timeline, add_secs};
use crate::config::SiteConfig;

/// One right and its status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightView {
    pub grant: Grant,
    pub status: super::Status,
    pub basis: Basis,
    /// When the current status began.
    pub since: Timestamp,
    /// When the right was last granted (its `expires_after` clock starts here).
    pub granted_at: Timestamp,
    /// When it will expire by itself, if it is held and its level or bundle expires.
    pub expires_at: Option<Timestamp>,
}

/// The member's level and bundles now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    pub level: Option<RightView>,
    pub bundles: Vec<RightView>,
}

impl Timeline {
    pub fn standing(&self, config: &SiteConfig) -> Standing {
        let level = self.level.as_ref().map(|held| {
            let expires = config.level(&held.id).and_then(|l| l.expires_after);
            view(
                Grant::Level(held.id.clone()),
                held,
                &self.level_segments,
                expires,
            )
        });
        let bundles = self
            .bundles
            .values()
            .map(|held| {
                let expires = config.bundle(&held.id).and_then(|b| b.expires_after);
                let segments = self
                    .bundle_segments
                    .get(&held.id)
                    .map_or(&[][..], Vec::as_slice);
                view(Grant::Bundle(held.id.clone()), held, segments, expires)
            })
            .collect();
        Standing { level, bundles }
    }
}

fn view(grant: Grant, held: &Held, segments: &[Segment], expires_after: Option<u64>) -> RightView {
    // A revocation is what the member and the operator need to know first: it says why
    // nothing opens, whatever the status beneath it.
    let status = held.revoked.map_or(held.status, super::Status::Revoked);
    RightView {
        grant,
        status,
        basis: held.basis,
        since: segments.last().map_or(held.granted_at, |s| s.from),
        granted_at: held.granted_at,
        expires_at: expires_after
            .filter(|_| status.holds())
            .map(|secs| add_secs(held.granted_at, secs)),
    }
}
