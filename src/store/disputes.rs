//! Stripe disputes (issue 15): which payment each is about, what it paid for, and what the
//! dispute last wrote into the member's history, so that its events, in any order and
//! delivered twice, write each step once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::stripe::Ledger;

/// What gatehouse knows of one Stripe dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRow {
    pub id: String,
    pub member_id: i64,
    /// The gatehouse product the disputed payment paid for.
    pub product: String,
    /// The disputed single purchase, by its payment intent.
    pub payment_intent: Option<String>,
    /// The subscription whose invoice was disputed.
    pub subscription: Option<String>,
    /// Stripe's `status` as of the newest event applied.
    pub status: String,
    /// Stripe's `created` of the newest event applied to it.
    pub last_event_created: i64,
    /// What was last written into the member's history (see `payments::dispute`).
    pub projected: String,
}

impl Ledger {
    pub async fn dispute(&mut self, id: &str) -> Result<Option<DisputeRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, member_id, product, payment_intent, subscription, status, \
             last_event_created, projected FROM stripe_disputes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|row| dispute_row(&row)).transpose()
    }

    pub async fn save_dispute(&mut self, dispute: &DisputeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_disputes (id, member_id, product, payment_intent, subscription, \
             status, last_event_created, projected) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             last_event_created = excluded.last_event_created, projected = excluded.projected",
        )
        .bind(&dispute.id)
        .bind(dispute.member_id)
        .bind(&dispute.product)
        .bind(dispute.payment_intent.as_deref())
        .bind(dispute.subscription.as_deref())
        .bind(&dispute.status)
        .bind(dispute.last_event_created)
        .bind(&dispute.projected)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The payment intents of a member's single purchases whose dispute was lost: the money
    /// went back, so they pay for nothing any more.
    pub async fn lost_purchases(&mut self, member_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT payment_intent FROM stripe_disputes \
             WHERE member_id = $1 AND projected = 'lost' AND payment_intent IS NOT NULL \
             ORDER BY payment_intent",
        )
        .bind(member_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| row.try_get("payment_intent"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

fn dispute_row(row: &AnyRow) -> Result<DisputeRow, StoreError> {
    Ok(DisputeRow {
        id: row.try_get("id")?,
        member_id: row.try_get("member_id")?,
        product: row.try_get("product")?,
        payment_intent: row.try_get("payment_intent")?,
        subscription: row.try_get("subscription")?,
        status: row.try_get("status")?,
        last_event_created: row.try_get("last_event_created")?,
        projected: row.try_get("projected")?,
    })
}
