//! What Stripe taught gatehouse about how one member pays: the products of their subscriptions
//! (with the payments a payment plan has made) and of their single purchases. The account page
//! names a right's product from this (`GET /me`); nothing here changes anything.

use sqlx::Row;

use super::{Store, StoreError};

/// How one member pays, as far as Stripe's events said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberBilling {
    /// Newest first (by the newest Stripe event applied to each).
    pub subscriptions: Vec<BilledSubscription>,
    pub purchases: Vec<BilledPurchase>,
}

/// One of the member's subscriptions that maps to a product of this site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledSubscription {
    /// The gatehouse product id.
    pub product: String,
    /// `active`, `pending-cancel:<unix>`, `overdue`, `cancelled`, `paid-in-full` or empty.
    pub state: String,
    pub paid_in_full: bool,
    /// Its invoices paid and not refunded: the payments a payment plan has made.
    pub payments: i64,
}

/// One single purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledPurchase {
    /// The gatehouse product id.
    pub product: String,
    /// Refunded in full.
    pub refunded: bool,
}

impl Store {
    pub async fn member_billing(&self, member_id: i64) -> Result<MemberBilling, StoreError> {
        // Counted as `invoice_paid` counts a plan's payments (store::stripe::record_invoice).
        let rows = sqlx::query(
            "SELECT s.product AS product, s.state AS state, s.paid_in_full AS paid_in_full, \
             (SELECT COUNT(*) FROM stripe_invoices i \
              WHERE i.subscription = s.id AND i.amount_paid > 0 AND i.refunded = 0) AS payments \
             FROM stripe_subscriptions s WHERE s.member_id = $1 AND s.product IS NOT NULL \
             ORDER BY s.last_event_created DESC, s.id",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?;
        let subscriptions = rows
            .iter()
            .map(|row| {
                let paid: i64 = row.try_get("paid_in_full")?;
                Ok(BilledSubscription {
                    product: row.try_get("product")?,
                    state: row.try_get("state")?,
                    paid_in_full: paid != 0,
                    payments: row.try_get("payments")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let rows = sqlx::query(
            "SELECT product, amount, refunded FROM stripe_purchases WHERE member_id = $1 \
             ORDER BY payment_intent",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?;
        let purchases = rows
            .iter()
            .map(|row| {
                let amount: i64 = row.try_get("amount")?;
                let refunded: i64 = row.try_get("refunded")?;
                Ok(BilledPurchase {
                    product: row.try_get("product")?,
                    refunded: refunded > 0 && refunded >= amount,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(MemberBilling {
            subscriptions,
            purchases,
        })
    }
}
