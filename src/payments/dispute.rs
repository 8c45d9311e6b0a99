//! From a dispute's status to a member's history (issue 15). A disputed payment takes back
//! what it paid for until the dispute is decided; decided for the seller, the right is given
//! back as it was; decided for the buyer, it stays taken, for good. As with subscriptions,
//! gatehouse keeps per dispute what it last wrote, and writes only the step between that and
//! what Stripe says now, so a repeated or late event writes nothing.

use super::projection::Step;
use crate::entitle::Revocation;

/// Where a dispute stands, from Stripe's `status`, as far as access goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeState {
    /// Not decided: `needs_response`, `under_review`, and the inquiries before a chargeback
    /// (`warning_needs_response`, `warning_under_review`). Also any status this code does not
    /// know: access stays revoked until Stripe says how the dispute ended.
    Open,
    /// Decided for the seller, who keeps the money: `won`, an inquiry closed without becoming
    /// a chargeback (`warning_closed`), or a chargeback `prevented`.
    Won,
    /// Decided for the buyer: `lost`, and the legacy `charge_refunded` (the dispute ended in a
    /// refund).
    Lost,
}

impl DisputeState {
    pub fn of(status: &str) -> DisputeState {
        match status {
            "won" | "warning_closed" | "prevented" => DisputeState::Won,
            "lost" | "charge_refunded" => DisputeState::Lost,
            _ => DisputeState::Open,
        }
    }

    /// A dispute is decided once: nothing said of it while it was open reopens it.
    pub fn decided(self) -> bool {
        self != DisputeState::Open
    }
}

/// What a dispute last wrote into the member's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeWritten {
    /// Nothing, or a `restore` that undid its revocation.
    Nothing,
    /// `revoke` (disputed).
    Revoked,
    /// `revoke` (dispute lost).
    Lost,
}

impl DisputeWritten {
    pub fn to_text(self) -> &'static str {
        match self {
            DisputeWritten::Nothing => "",
            DisputeWritten::Revoked => "revoked",
            DisputeWritten::Lost => "lost",
        }
    }

    pub fn from_text(text: &str) -> DisputeWritten {
        match text {
            "revoked" => DisputeWritten::Revoked,
            "lost" => DisputeWritten::Lost,
            _ => DisputeWritten::Nothing,
        }
    }
}

/// The step that takes the member's history from `written` to `target`, and what is written
/// afterwards.
pub fn dispute_step(
    written: DisputeWritten,
    target: DisputeState,
) -> (Option<Step>, DisputeWritten) {
    use DisputeState as S;
    use DisputeWritten as W;
    match (written, target) {
        (W::Lost, _) => (None, W::Lost),
        (W::Nothing, S::Open) => (Some(Step::Revoke(Revocation::Disputed)), W::Revoked),
        (W::Revoked, S::Open) => (None, W::Revoked),
        // Never revoked (decided before gatehouse heard it was open): nothing to give back.
        (W::Nothing, S::Won) => (None, W::Nothing),
        (W::Revoked, S::Won) => (Some(Step::Restore), W::Nothing),
        (W::Nothing | W::Revoked, S::Lost) => {
            (Some(Step::Revoke(Revocation::DisputeLost)), W::Lost)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_statuses_read_as_open_won_or_lost() {
        for status in [
            "needs_response",
            "under_review",
            "warning_needs_response",
            "warning_under_review",
            "something_new",
        ] {
            assert_eq!(DisputeState::of(status), DisputeState::Open, "{status}");
        }
        for status in ["won", "warning_closed", "prevented"] {
            assert_eq!(DisputeState::of(status), DisputeState::Won, "{status}");
        }
        for status in ["lost", "charge_refunded"] {
            assert_eq!(DisputeState::of(status), DisputeState::Lost, "{status}");
        }
    }

    #[test]
    fn a_dispute_revokes_once_and_a_win_restores_once() {
        let (step, written) = dispute_step(DisputeWritten::Nothing, DisputeState::Open);
        assert_eq!(step, Some(Step::Revoke(Revocation::Disputed)));
        assert_eq!(dispute_step(written, DisputeState::Open), (None, written));
        let (step, written) = dispute_step(written, DisputeState::Won);
        assert_eq!(
            (step, written),
            (Some(Step::Restore), DisputeWritten::Nothing)
        );
        assert_eq!(dispute_step(written, DisputeState::Won), (None, written));
    }

    #[test]
    fn a_lost_dispute_revokes_for_good_whether_or_not_it_was_seen_open() {
        for written in [DisputeWritten::Nothing, DisputeWritten::Revoked] {
            assert_eq!(
                dispute_step(written, DisputeState::Lost),
                (
                    Some(Step::Revoke(Revocation::DisputeLost)),
                    DisputeWritten::Lost
                )
            );
        }
        for target in [DisputeState::Open, DisputeState::Won, DisputeState::Lost] {
            assert_eq!(
                dispute_step(DisputeWritten::Lost, target),
                (None, DisputeWritten::Lost)
            );
        }
    }

    #[test]
    fn written_states_round_trip_through_their_stored_text() {
        for written in [
            DisputeWritten::Nothing,
            DisputeWritten::Revoked,
            DisputeWritten::Lost,
        ] {
            assert_eq!(DisputeWritten::from_text(written.to_text()), written);
        }
    }
}
