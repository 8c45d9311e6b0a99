//! From a subscription's state to a member's history. gatehouse keeps, per subscription, the
//! state Stripe last reported and the state it last wrote into the member's history; the events
//! to append are the steps between the two. Replaying an event, or one that changes nothing,
//! therefore writes nothing.

use jiff::Timestamp;

use crate::entitle::Revocation;

/// A subscription's state as far as access goes (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// Not paid for yet (`incomplete`): no access, nothing to undo.
    None,
    Active,
    PendingCancel(Timestamp),
    Overdue,
    Cancelled,
    /// A payment plan whose last payment is made: access for good.
    PaidInFull,
}

/// One event to append to the member's history, for the right a payment paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Grant,
    CancelUntil(Timestamp),
    Cancel,
    Overdue,
    Recovered,
    PaidInFull,
    /// A refund or a dispute takes the right back (never a step between subscription states).
    Revoke(Revocation),
    /// A dispute decided for the seller gives it back.
    Restore,
}

impl SubState {
    pub fn name(self) -> &'static str {
        match self {
            SubState::None => "none",
            SubState::Active => "active",
            SubState::PendingCancel(_) => "pending-cancel",
            SubState::Overdue => "overdue",
            SubState::Cancelled => "cancelled",
            SubState::PaidInFull => "paid-in-full",
        }
    }

    /// The stored text: the name, and for pending-cancel its end (`pending-cancel:<unix>`).
    pub fn to_text(self) -> String {
        match self {
            SubState::PendingCancel(until) => format!("pending-cancel:{}", until.as_second()),
            SubState::None => String::new(),
            other => other.name().to_owned(),
        }
    }

    pub fn from_text(text: &str) -> SubState {
        match text {
            "active" => SubState::Active,
            "overdue" => SubState::Overdue,
            "cancelled" => SubState::Cancelled,
            "paid-in-full" => SubState::PaidInFull,
            _ => text
                .strip_prefix("pending-cancel:")
                .and_then(|secs| secs.parse::<i64>().ok())
                .and_then(|secs| Timestamp::from_second(secs).ok())
                .map_or(SubState::None, SubState::PendingCancel),
        }
    }

    /// Whether a member in this state has access paid for by the subscription.
    pub fn pays(self) -> bool {
        matches!(
            self,
            SubState::Active | SubState::PendingCancel(_) | SubState::PaidInFull
        )
    }
}

/// The events that take the member's history from `written` to `target`, and what is written
/// afterwards. `target` is never `PaidInFull` unless the plan is paid; once it is, later
/// cancellations of the Stripe subscription (which ends a plan) change nothing.
pub fn steps(written: SubState, target: SubState) -> (Vec<Step>, SubState) {
    use SubState as S;
    let steps = match (written, target) {
        (S::PaidInFull, _) => return (Vec::new(), S::PaidInFull),
        (from, to) if from == to => Vec::new(),
        (S::None | S::Cancelled, S::PaidInFull) => vec![Step::Grant, Step::PaidInFull],
        (S::Overdue, S::PaidInFull) => vec![Step::Recovered, Step::PaidInFull],
        (_, S::PaidInFull) => vec![Step::PaidInFull],
        (S::None | S::Cancelled | S::PendingCancel(_), S::Active) => vec![Step::Grant],
        (S::Overdue, S::Active) => vec![Step::Recovered],
        (S::None | S::Cancelled, S::PendingCancel(until)) => {
            vec![Step::Grant, Step::CancelUntil(until)]
        }
        (S::Overdue, S::PendingCancel(until)) => vec![Step::Recovered, Step::CancelUntil(until)],
        (_, S::PendingCancel(until)) => vec![Step::CancelUntil(until)],
        (S::Active | S::PendingCancel(_), S::Overdue) => vec![Step::Overdue],
        // Never granted, or already ended: an unpaid invoice has nothing to take away.
        (S::None | S::Cancelled, S::Overdue) => return (Vec::new(), written),
        (S::Active | S::PendingCancel(_) | S::Overdue, S::Cancelled) => vec![Step::Cancel],
        (_, S::Cancelled | S::None) => return (Vec::new(), written),
        (_, S::Active | S::Overdue) => Vec::new(),
    };
    (steps, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn states_round_trip_through_their_stored_text() {
        for state in [
            SubState::None,
            SubState::Active,
            SubState::PendingCancel(t(1_800_000_000)),
            SubState::Overdue,
            SubState::Cancelled,
            SubState::PaidInFull,
        ] {
            assert_eq!(SubState::from_text(&state.to_text()), state);
        }
    }

    #[test]
    fn a_first_payment_grants_and_a_repeat_writes_nothing() {
        assert_eq!(
            steps(SubState::None, SubState::Active),
            (vec![Step::Grant], SubState::Active)
        );
        assert_eq!(
            steps(SubState::Active, SubState::Active),
            (vec![], SubState::Active)
        );
    }

    #[test]
    fn overdue_then_paid_is_recovered_not_granted_again() {
        assert_eq!(
            steps(SubState::Active, SubState::Overdue),
            (vec![Step::Overdue], SubState::Overdue)
        );
        assert_eq!(
            steps(SubState::Overdue, SubState::Active),
            (vec![Step::Recovered], SubState::Active)
        );
    }

    #[test]
    fn a_failed_first_payment_takes_nothing_and_remembers_nothing() {
        assert_eq!(
            steps(SubState::None, SubState::Overdue),
            (vec![], SubState::None)
        );
    }

    #[test]
    fn resuming_a_cancelled_subscription_renews_the_right() {
        let until = t(1_800_000_000);
        assert_eq!(
            steps(SubState::Active, SubState::PendingCancel(until)),
            (
                vec![Step::CancelUntil(until)],
                SubState::PendingCancel(until)
            )
        );
        assert_eq!(
            steps(SubState::PendingCancel(until), SubState::Active),
            (vec![Step::Grant], SubState::Active)
        );
    }

    #[test]
    fn a_paid_plan_ignores_the_end_of_its_subscription() {
        assert_eq!(
            steps(SubState::Active, SubState::PaidInFull),
            (vec![Step::PaidInFull], SubState::PaidInFull)
        );
        assert_eq!(
            steps(SubState::PaidInFull, SubState::Cancelled),
            (vec![], SubState::PaidInFull)
        );
    }
}
