//! A subscription's access state from Stripe's object.

use jiff::Timestamp;
use serde_json::Value;

use super::super::object::{period_end, text};
use super::super::projection::SubState;

/// A subscription's state from its object (DESIGN §5 via the table): `active` and
/// `trialing` give access; `cancel_at_period_end` or `cancel_at` make it pending-cancel until
/// then; `past_due`, `unpaid` and `paused` are overdue; `canceled` (or a deletion) cancels.
/// A payment plan's `cancel_at` is how Stripe ends the plan after its last payment, so only
/// `cancel_at_period_end` (the member cancelling) counts there.
pub fn subscription_state(sub: &Value, kind: &str, plan: bool) -> SubState {
    let status = text(sub, "status").unwrap_or_default();
    if kind == "customer.subscription.deleted"
        || matches!(status, "canceled" | "incomplete_expired")
    {
        return SubState::Cancelled;
    }
    match status {
        "active" | "trialing" => {
            let at_period_end = sub["cancel_at_period_end"].as_bool() == Some(true);
            let cancel_at = sub["cancel_at"].as_i64();
            let until = if at_period_end {
                cancel_at.or_else(|| period_end(sub))
            } else if plan {
                None
            } else {
                cancel_at
            };
            match until.and_then(|secs| Timestamp::from_second(secs).ok()) {
                Some(until) => SubState::PendingCancel(until),
                None => SubState::Active,
            }
        }
        "past_due" | "unpaid" | "paused" => SubState::Overdue,
        _ => SubState::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    const UPDATED: &str = "customer.subscription.updated";

    #[test]
    fn active_and_trialing_give_access() {
        for status in ["active", "trialing"] {
            let sub = json!({"status": status, "cancel_at_period_end": false, "cancel_at": null});
            assert_eq!(subscription_state(&sub, UPDATED, false), SubState::Active);
        }
    }

    #[test]
    fn cancel_at_period_end_is_pending_until_the_period_ends_in_either_shape() {
        let old = json!({"status": "active", "cancel_at_period_end": true, "current_period_end": 1_800_000_000});
        let basil = json!({"status": "active", "cancel_at_period_end": true,
            "items": {"data": [{"current_period_end": 1_800_000_000}]}});
        let until = Timestamp::from_second(1_800_000_000).ok();
        for sub in [old, basil] {
            assert_eq!(
                Some(subscription_state(&sub, UPDATED, false)),
                until.map(SubState::PendingCancel)
            );
        }
    }

    #[test]
    fn cancel_at_is_pending_cancel_except_on_payment_plans() {
        let sub =
            json!({"status": "active", "cancel_at_period_end": false, "cancel_at": 1_800_000_000});
        assert!(matches!(
            subscription_state(&sub, UPDATED, false),
            SubState::PendingCancel(_)
        ));
        assert_eq!(subscription_state(&sub, UPDATED, true), SubState::Active);
    }

    #[test]
    fn unpaid_statuses_are_overdue_and_canceled_is_cancelled() {
        for status in ["past_due", "unpaid", "paused"] {
            assert_eq!(
                subscription_state(&json!({ "status": status }), UPDATED, false),
                SubState::Overdue
            );
        }
        assert_eq!(
            subscription_state(&json!({"status": "canceled"}), UPDATED, false),
            SubState::Cancelled
        );
        assert_eq!(
            subscription_state(
                &json!({"status": "active"}),
                "customer.subscription.deleted",
                false
            ),
            SubState::Cancelled
        );
        assert_eq!(
            subscription_state(&json!({"status": "incomplete"}), UPDATED, false),
            SubState::None
        );
    }
}
