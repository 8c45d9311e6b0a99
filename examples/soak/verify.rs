//! The soak's durability check, read straight from the member database: every webhook that
//! was answered 2xx is in `stripe_events`, applied (it has `applied_at` and an outcome), and
//! every single purchase made its buyer exactly one grant, however often it was delivered.

use std::time::{Duration, Instant};

use gatehouse::entitle::{EventType, Grant};
use gatehouse::store::Store;

use crate::stripe::{COURSE_PRODUCT, Delivery, Subject};

/// What the database holds of the acknowledged webhooks.
#[derive(Debug, Default)]
pub struct Check {
    pub checked: usize,
    /// Acknowledged, yet not stored.
    pub lost: Vec<String>,
    /// Stored, but still not applied when the wait ran out.
    pub unapplied: Vec<String>,
    pub purchases: usize,
    /// Buyers whose Stripe grants are not exactly one `bundle_add` of the course.
    pub wrong_grants: Vec<String>,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.unapplied.is_empty() && self.wrong_grants.is_empty()
    }
}

/// Checks `deliveries` (each acknowledged at least once) against the database at `db`. Stored
/// events not yet applied are waited for up to `wait`: the background workers apply what a
/// crash left stored but unapplied.
pub async fn check(db: &str, deliveries: &[&Delivery], wait: Duration) -> anyhow::Result<Check> {
    let store = Store::open(db).await?;
    let mut check = Check {
        checked: deliveries.len(),
        ..Check::default()
    };
    let deadline = Instant::now() + wait;
    let mut pending: Vec<&Delivery> = deliveries.to_vec();
    loop {
        let mut still = Vec::new();
        for delivery in pending {
            match store.stripe_event(&delivery.id).await? {
                None => check.lost.push(delivery.id.clone()),
                Some(row) if row.applied_at.is_none() || row.outcome.is_none() => {
                    still.push(delivery)
                }
                Some(_) => {}
            }
        }
        if still.is_empty() || Instant::now() > deadline {
            check.unapplied = still.iter().map(|d| d.id.clone()).collect();
            break;
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for delivery in deliveries {
        let Subject::Purchase { email } = &delivery.subject else {
            continue;
        };
        check.purchases += 1;
        let grants = match store.member_by_email(email).await? {
            Some(member) => store
                .history(member.id)
                .await?
                .into_iter()
                .filter(|event| event.source == "stripe")
                .collect(),
            None => Vec::new(),
        };
        let one_course = grants.len() == 1
            && grants[0].record.kind == EventType::BundleAdd
            && grants[0].record.access == Some(Grant::Bundle(COURSE_PRODUCT.to_owned()));
        if !one_course {
            check
                .wrong_grants
                .push(format!("{email}: {} Stripe events", grants.len()));
        }
    }
    store.close().await;
    Ok(check)
}
