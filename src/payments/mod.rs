//! Payments (DESIGN §6 `POST /webhooks/stripe`): Stripe events that move members between the
//! states of DESIGN §5. An event is verified, stored, then applied exactly once; events stored
//! but not applied (a crash in between, a database hiccup) are applied by the edge's background
//! loop.

mod apply;
pub mod dispute;
pub mod object;
pub mod outcome;
pub mod projection;
pub mod signature;

use jiff::Timestamp;

pub use apply::subscription_state;
pub use object::{EventError, StripeEvent};

use crate::config::SiteConfig;
use crate::store::{Store, StoreError};

/// How long an event's own request has to apply it before the background workers do.
const SETTLE: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// What applying one stored event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: String,
    /// The members whose history changed.
    pub members: Vec<i64>,
}

/// Applies the stored event `id` unless it was applied already (`None`).
pub async fn apply_stored(
    store: &Store,
    config: &SiteConfig,
    id: &str,
    now: Timestamp,
) -> Result<Option<Applied>, StoreError> {
    let Some((mut ledger, row)) = store.begin_apply(id, now).await? else {
        return Ok(None);
    };
    let outcome = match StripeEvent::parse(row.payload.as_bytes()) {
        Ok(event) => apply::apply(&mut ledger, config, &event, now).await?,
        Err(error) => outcome::failed(format_args!("unreadable: {error}")),
    };
    let outcome = outcome::lead(&outcome);
    let members = ledger.finish(&outcome).await?;
    Ok(Some(Applied { outcome, members }))
}

/// Applies every stored event not yet applied, oldest first; returns the members changed.
pub async fn apply_pending(
    store: &Store,
    config: &SiteConfig,
    now: Timestamp,
) -> Result<Vec<i64>, StoreError> {
    let mut changed = Vec::new();
    loop {
        // The request that stored an event applies it itself; only those it could not (a
        // crash, a database error) are left here after a moment.
        let settled = now.checked_sub(SETTLE).unwrap_or(now);
        let pending = store.pending_stripe_events(settled, 100).await?;
        if pending.is_empty() {
            break;
        }
        let mut progressed = false;
        for id in &pending {
            match apply_stored(store, config, id, now).await {
                Ok(Some(applied)) => {
                    tracing::info!(event = %id, outcome = %applied.outcome, "applied a stored Stripe event");
                    changed.extend(applied.members);
                    progressed = true;
                }
                Ok(None) => {}
                // One event that keeps failing must not hold up the others behind it; it stays
                // stored and is tried again next round.
                Err(error) => {
                    tracing::error!(event = %id, error = %error.kind(), "a stored Stripe event could not be applied; will retry");
                }
            }
        }
        if !progressed || pending.len() < 100 {
            break;
        }
    }
    changed.sort_unstable();
    changed.dedup();
    Ok(changed)
}
