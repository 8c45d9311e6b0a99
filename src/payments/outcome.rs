//! What applying a Stripe event came to, in the words its stored `outcome` starts with, so that
//! the operator console can sort events into applied, duplicate, waiting and failed (and offer
//! "apply again" on a failed one) without guessing from free text.
//!
//! An outcome is one or more notes joined by `; ` (a Checkout Session's note, then what its
//! subscription did). A note that could not be acted on starts with `failed: `, one that found
//! the same payment recorded already with `duplicate: `, one that waits for another event with
//! `waiting`; [`lead`] moves the note that matters most to the front before it is stored. No
//! note names a member's email: outcomes are logged and shown.

use serde::Serialize;

const FAILED: &str = "failed: ";
const DUPLICATE: &str = "duplicate: ";
const WAITING: &str = "waiting";

/// A note saying the event could not be acted on, and why.
pub fn failed(reason: impl std::fmt::Display) -> String {
    format!("{FAILED}{reason}")
}

/// A note saying the same payment was recorded by an earlier event.
pub fn duplicate(what: impl std::fmt::Display) -> String {
    format!("{DUPLICATE}{what}")
}

/// The outcome with its failed notes first, then those that wait, then the rest, each group in
/// its own order: a stored outcome starts with what decides how it is shown.
pub fn lead(outcome: &str) -> String {
    let notes: Vec<&str> = outcome.split("; ").collect();
    let rank = |note: &&str| {
        if note.starts_with(FAILED) {
            0
        } else if note.starts_with(WAITING) {
            1
        } else {
            2
        }
    };
    let mut ordered = notes.clone();
    ordered.sort_by_key(rank);
    ordered.join("; ")
}

/// How an event stands, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Applied,
    Duplicate,
    Waiting,
    Failed,
}

/// How an event stands, from whether it was applied and its stored outcome; the reason is the
/// outcome without its leading word.
pub fn verdict(applied: bool, outcome: Option<&str>) -> (Verdict, String) {
    let Some(outcome) = outcome.filter(|_| applied) else {
        return (
            Verdict::Waiting,
            "not applied yet: the edge's workers apply it shortly".to_owned(),
        );
    };
    if let Some(reason) = outcome.strip_prefix(FAILED) {
        (Verdict::Failed, reason.to_owned())
    } else if let Some(reason) = outcome.strip_prefix(DUPLICATE) {
        (Verdict::Duplicate, reason.to_owned())
    } else if outcome.starts_with(WAITING) {
        // "waiting: the payment is not complete yet" says it twice beside its verdict;
        // "waiting for the buyer's email" reads as it is.
        let reason = outcome.strip_prefix("waiting: ").unwrap_or(outcome);
        (Verdict::Waiting, reason.to_owned())
    } else {
        (Verdict::Applied, outcome.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_note_leads_the_outcome_and_decides_it() {
        let stored = lead(&format!(
            "subscription sub_1 is active; {}",
            failed("no product for subscription sub_1")
        ));
        assert_eq!(
            stored,
            "failed: no product for subscription sub_1; subscription sub_1 is active"
        );
        assert_eq!(
            verdict(true, Some(&stored)),
            (
                Verdict::Failed,
                "no product for subscription sub_1; subscription sub_1 is active".to_owned()
            )
        );
        // The store finds failed events by this beginning (store::console_payments).
        assert!(stored.starts_with("failed: "));
    }

    #[test]
    fn waiting_duplicate_and_applied_outcomes_read_apart() {
        let waiting = lead("subscription sub_1 is active; waiting for the buyer's email");
        assert_eq!(verdict(true, Some(&waiting)).0, Verdict::Waiting);
        assert_eq!(verdict(false, None).0, Verdict::Waiting);
        assert_eq!(
            verdict(true, Some("waiting: the payment is not complete yet")),
            (
                Verdict::Waiting,
                "the payment is not complete yet".to_owned()
            )
        );
        // Claimed but not finished: a crash between; still waiting for the workers.
        assert_eq!(verdict(false, Some("granted")).0, Verdict::Waiting);
        let again = duplicate("purchase of pricing-course already recorded");
        assert_eq!(
            verdict(true, Some(&again)),
            (
                Verdict::Duplicate,
                "purchase of pricing-course already recorded".to_owned()
            )
        );
        assert_eq!(
            verdict(true, Some("level:gold: granted")).0,
            Verdict::Applied
        );
        assert_eq!(lead("a; b; c"), "a; b; c");
    }
}
