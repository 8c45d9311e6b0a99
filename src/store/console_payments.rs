//! The console's payments page: stored Stripe events and outgoing notice deliveries, newest
//! first a page at a time (keyset paging, so a deep page costs what the first does), and the
//! two repairs an operator may make: apply a failed event again, retry a delivery now.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// One stored Stripe event, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEventPage {
    pub id: String,
    pub kind: String,
    /// Stripe's clock.
    pub created: i64,
    /// Ours: when the webhook stored it.
    pub received_at: i64,
    pub applied_at: Option<i64>,
    pub outcome: Option<String>,
}

/// Which stored events to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    All,
    /// Applied, and the outcome starts with `failed: `: payments::outcome writes a failure so,
    /// first.
    Failed,
    /// Not applied yet, or waiting for another event.
    Waiting,
}

/// One delivery of a notice, with the notice's kind and member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub kind: String,
    pub member_id: i64,
    /// A push endpoint's URL, or `mail:welcome`.
    pub target: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub delivered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// The columns and order of an events page: `(received_at, id)` below the cursor, newest
/// first. (A macro, so that each filter's query is still one static string.)
macro_rules! events_page {
    ($filter:literal) => {
        concat!(
            "SELECT id, kind, created, received_at, applied_at, outcome FROM stripe_events \
             WHERE (received_at < $1 OR (received_at = $1 AND id < $2)) ",
            $filter,
            " ORDER BY received_at DESC, id DESC LIMIT $3"
        )
    };
}

macro_rules! deliveries_page {
    ($filter:literal) => {
        concat!(
            "SELECT d.id AS id, n.kind AS kind, n.member_id AS member_id, d.target AS target, \
             d.attempts AS attempts, d.next_attempt AS next_attempt, d.delivered_at AS delivered_at, \
             d.abandoned_at AS abandoned_at, d.last_error AS last_error, n.created_at AS created_at \
             FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE d.id < $1 ",
            $filter,
            " ORDER BY d.id DESC LIMIT $2"
        )
    };
}

impl Store {
    /// Stored events received before the cursor `(received_at, id)` (`None`: the newest).
    pub async fn stripe_events_page(
        &self,
        filter: EventFilter,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<StripeEventPage>, StoreError> {
        // No cursor: everything is before the end of time.
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let sql = match filter {
            EventFilter::All => events_page!(""),
            EventFilter::Failed => {
                events_page!("AND applied_at IS NOT NULL AND outcome LIKE 'failed: %'")
            }
            EventFilter::Waiting => {
                events_page!(
                    "AND (applied_at IS NULL OR outcome IS NULL OR outcome LIKE 'waiting%')"
                )
            }
        };
        let rows = sqlx::query(sql)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StripeEventPage {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    created: row.try_get("created")?,
                    received_at: row.try_get("received_at")?,
                    applied_at: row.try_get("applied_at")?,
                    outcome: row.try_get("outcome")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Makes a failed event pending again, so that it is applied anew (by the caller or the
    /// workers); its failed outcome, or `None` when it is unknown or did not fail.
    pub async fn reset_failed_stripe_event(&self, id: &str) -> Result<Option<String>, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT outcome FROM stripe_events \
             WHERE id = $1 AND applied_at IS NOT NULL AND outcome LIKE 'failed: %'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let outcome: String = row.try_get("outcome")?;
        let done = sqlx::query(
            "UPDATE stripe_events SET applied_at = NULL, outcome = NULL \
             WHERE id = $1 AND applied_at IS NOT NULL AND outcome = $2",
        )
        .bind(id)
        .bind(&outcome)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(outcome))
    }

    /// Deliveries with an id below `before` (`None`: the newest), newest first; only those not
    /// delivered yet (pending or abandoned) when `undelivered`.
    pub async fn deliveries_page(
        &self,
        undelivered: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let sql = if undelivered {
            deliveries_page!("AND d.delivered_at IS NULL")
        } else {
            deliveries_page!("")
        };
        let rows = sqlx::query(sql)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(delivery_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Makes a delivery not yet delivered due at `now`, taking it back from abandoned: the
    /// workers try it in their next round. The delivery as it was, or `None` when there is no
    /// such delivery, it was delivered already, or it may be in flight: a worker that takes a
    /// delivery moves its `next_attempt` a lease (60 s) ahead, and making it due again would
    /// send it twice. A retry that is due within that minute anyway is left alone too.
    pub async fn retry_delivery_now(
        &self,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(deliveries_page!(
            "AND d.id = $3 AND d.delivered_at IS NULL \
             AND (d.abandoned_at IS NOT NULL OR d.next_attempt <= $4 OR d.next_attempt > $5)"
        ))
        .bind(i64::MAX)
        .bind(1i64)
        .bind(id)
        .bind(now.as_second())
        .bind(now.as_second() + IN_FLIGHT_SECONDS)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let before = delivery_row(&row)?;
        // A delivery abandoned before queues had members (migration 3) gets its member back,
        // or it would be a queue of its own.
        sqlx::query(
            "UPDATE deliveries SET next_attempt = $1, abandoned_at = NULL, \
             member_id = COALESCE(member_id, (SELECT member_id FROM notices WHERE notices.id = deliveries.notice_id)) \
             WHERE id = $2 AND delivered_at IS NULL \
             AND (abandoned_at IS NOT NULL OR next_attempt <= $1 OR next_attempt > $3)",
        )
        .bind(now.as_second())
        .bind(id)
        .bind(now.as_second() + IN_FLIGHT_SECONDS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(before))
    }
}

fn delivery_row(row: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        member_id: row.try_get("member_id")?,
        target: row.try_get("target")?,
        attempts: row.try_get("attempts")?,
        next_attempt: row.try_get("next_attempt")?,
        delivered_at: row.try_get("delivered_at")?,
        abandoned_at: row.try_get("abandoned_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A worker's lease on a delivery it is sending (`server::workers`' `LEASE`).
const IN_FLIGHT_SECONDS: i64 = 60;
