//! The decision for one rule: open, or locked with the reason of the closest right (DESIGN §5).

use jiff::Timestamp;

use super::timeline::{Segment, Status, Timeline, add_secs};
use crate::config::{Cancellation, SiteConfig};
use crate::gate::Rule;

/// Whether a gate opens for a member now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Open,
    Locked(Reason),
}

/// Why a gate stays locked, as the keys endpoint reports it (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// A right the rule names is held and active; the drip delay has not passed.
    Drip {
        unlocks_at: Timestamp,
    },
    Overdue,
    Cancelled,
    Expired,
    /// The rule names a level above the member's.
    Level,
    /// The rule names only bundles the member lacks.
    Bundle,
    /// No valid session.
    Login,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Drip { .. } => "drip",
            Reason::Overdue => "overdue",
            Reason::Cancelled => "cancelled",
            Reason::Expired => "expired",
            Reason::Level => "level",
            Reason::Bundle => "bundle",
            Reason::Login => "login",
        }
    }

    /// Closeness: the lower, the nearer the member is to opening the gate.
    fn closeness(self) -> u8 {
        match self {
            Reason::Drip { .. } => 0,
            Reason::Overdue => 1,
            Reason::Cancelled => 2,
            Reason::Expired => 3,
            Reason::Level => 4,
            Reason::Bundle => 5,
            Reason::Login => 6,
        }
    }
}

impl Timeline {
    /// Decides one rule at `now`, the instant this timeline was replayed to.
    pub fn decide(&self, rule: &Rule, now: Timestamp, config: &SiteConfig) -> Decision {
        let drip = rule.drip_seconds();
        let keep_unlocked = config.cancellation == Cancellation::KeepUnlocked;
        let mut reasons: Vec<Reason> = Vec::new();

        if let Some(level) = rule.level() {
            let required = config.level(level).map(|l| l.rank);
            let qualifies = |segment: &Segment| {
                let rank = config.level(&segment.id).map(|l| l.rank);
                matches!((rank, required), (Some(have), Some(need)) if have >= need)
            };
            match right_decision(&self.level_segments, qualifies, drip, now, keep_unlocked) {
                Some(Decision::Open) => return Decision::Open,
                Some(Decision::Locked(reason)) => reasons.push(reason),
                None => reasons.push(Reason::Level),
            }
        }
        for bundle in rule.bundles() {
            let segments = self
                .bundle_segments
                .get(bundle)
                .map_or(&[][..], Vec::as_slice);
            match right_decision(segments, |_| true, drip, now, keep_unlocked) {
                Some(Decision::Open) => return Decision::Open,
                Some(Decision::Locked(reason)) => reasons.push(reason),
                None => reasons.push(Reason::Bundle),
            }
        }
        let closest = reasons
            .into_iter()
            .min_by(|a, b| a.closeness().cmp(&b.closeness()).then_with(|| a.cmp(b)));
        Decision::Locked(closest.unwrap_or(Reason::Bundle))
    }
}

/// The decision for one right of a rule, from its slot's segments; `None` when the member's
/// current right in that slot does not qualify at all.
fn right_decision(
    segments: &[Segment],
    qualifies: impl Fn(&Segment) -> bool,
    drip: u64,
    now: Timestamp,
    keep_unlocked: bool,
) -> Option<Decision> {
    // keep-unlocked: what had dripped by a cancel stays open for good, also after a rejoin
    // or a later overdue (DESIGN §5: "gates whose unlock time ≤ C stay open").
    if keep_unlocked && kept_by_a_cancel(segments, &qualifies, drip) {
        return Some(Decision::Open);
    }
    let current = segments.last()?;
    if !qualifies(current) {
        return None;
    }
    // A refund or a dispute reads as `cancelled`, DESIGN §5's reason for a right taken away:
    // the page has nothing more useful to say, and the status says why.
    if current.revoked.is_some() {
        return Some(Decision::Locked(Reason::Cancelled));
    }
    let decision = match current.status {
        status if status.opens() => {
            let unlocks_at = add_secs(stretch_start(segments, &qualifies), drip);
            if now >= unlocks_at {
                Decision::Open
            } else {
                Decision::Locked(Reason::Drip { unlocks_at })
            }
        }
        Status::Overdue => Decision::Locked(Reason::Overdue),
        Status::Cancelled => Decision::Locked(Reason::Cancelled),
        _ => Decision::Locked(Reason::Expired),
    };
    Some(decision)
}

/// Whether some stretch ended in a cancel at C after running long enough: start + drip ≤ C.
/// A revocation of a qualifying right that no `restore` lifted (a refund, a lost dispute, a
/// dispute still open) takes back what every cancel before it, or under it, kept: a refund
/// is not a cancel, and must not leave open what the money paid for.
fn kept_by_a_cancel(
    segments: &[Segment],
    qualifies: &impl Fn(&Segment) -> bool,
    drip: u64,
) -> bool {
    let after = segments
        .iter()
        .rposition(|s| qualifies(s) && s.revoked.is_some_and(|r| !r.lifted))
        .map_or(1, |i| i + 1);
    (after..segments.len()).any(|i| {
        let (earlier, cancel) = (&segments[..i], &segments[i]);
        cancel.status == Status::Cancelled
            && qualifies(cancel)
            && earlier
                .last()
                .is_some_and(|last| last.status.holds() && qualifies(last))
            && add_secs(stretch_start(earlier, qualifies), drip) <= cancel.from
    })
}

/// The start of the unbroken run of held, qualifying segments that ends with the last one.
fn stretch_start(segments: &[Segment], qualifies: impl Fn(&Segment) -> bool) -> Timestamp {
    let mut start = Timestamp::MAX;
    for segment in segments.iter().rev() {
        if !(segment.status.holds() && qualifies(segment)) {
            break;
        }
        start = segment.from;
    }
    start
}
