//! Stripe's side of the member database: received events, and what they taught gatehouse about
//! subscriptions, customers, invoices and purchases. An event is stored before Stripe is
//! answered; applying it happens in one transaction ([`Ledger`]) that first claims the event, so
//! it is applied exactly once even with several replicas or a crash in between.

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::members::{Member, NewMember, insert_event, insert_member, timestamp};
use super::{Store, StoreError};
use crate::entitle::EventRecord;

/// The PostgreSQL advisory lock key that serialises applying Stripe events.
const APPLY_LOCK: i64 = 0x6761_7465_5f73_7470; // "gate_stp"

/// One received Stripe event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEventRow {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub payload: String,
    pub applied_at: Option<Timestamp>,
    pub outcome: Option<String>,
}

/// What gatehouse knows of one Stripe subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer: Option<String>,
    /// The gatehouse product id.
    pub product: Option<String>,
    pub member_id: Option<i64>,
    /// The buyer's address, kept until the subscription maps to a product and a member is made.
    pub email: Option<String>,
    /// `none`, `active`, `pending-cancel`, `overdue` or `cancelled`.
    pub state: String,
    pub until: Option<Timestamp>,
    pub paid_in_full: bool,
    /// Stripe's `created` of the newest event applied to it: older ones must not undo it.
    pub last_event_created: i64,
    /// The state last written into the member's history.
    pub projected: String,
}

impl Store {
    /// Stores an event unless one with its id is stored already; `true` when it is new.
    pub async fn record_stripe_event(
        &self,
        id: &str,
        kind: &str,
        created: i64,
        payload: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sqlite = self.backend == super::Backend::Sqlite;
        if sqlite {
            // Stripe stops retrying once answered, so this one commit must survive a power
            // cut too: in WAL mode, NORMAL (the pool's setting) syncs only at checkpoints.
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut *conn)
                .await?;
        }
        let done = sqlx::query(
            "INSERT INTO stripe_events (id, kind, created, payload, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(created)
        .bind(payload)
        .bind(now.as_second())
        .execute(&mut *conn)
        .await;
        if sqlite {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
        }
        Ok(done?.rows_affected() == 1)
    }

    /// Events received before `received_before` but not yet applied, oldest (by Stripe's
    /// clock) first.
    pub async fn pending_stripe_events(
        &self,
        received_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM stripe_events WHERE applied_at IS NULL AND received_at < $1 \
             ORDER BY created, received_at, id LIMIT $2",
        )
        .bind(received_before.as_second())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn stripe_event(&self, id: &str) -> Result<Option<StripeEventRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, created, payload, applied_at, outcome FROM stripe_events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| event_row(&row)).transpose()
    }

    /// The most recent events, newest first, for operators.
    pub async fn recent_stripe_events(
        &self,
        limit: i64,
    ) -> Result<Vec<StripeEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, created, payload, applied_at, outcome FROM stripe_events \
             ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Starts applying a stored event: `None` when it is already applied (here, by another
    /// replica, or by a delivery that raced this one).
    pub async fn begin_apply(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<(Ledger, StripeEventRow)>, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.backend == super::Backend::Postgres {
            // Two events about one subscription or member, applied at once by two replicas,
            // would each read the other's rows before they commit. Stripe's volume is small
            // enough to apply one event at a time everywhere (SQLite's IMMEDIATE already does).
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(APPLY_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        // The claim comes first: on PostgreSQL a second replica's identical update waits for
        // this transaction, then finds the row applied and matches nothing.
        let claimed = sqlx::query(
            "UPDATE stripe_events SET applied_at = $1 WHERE id = $2 AND applied_at IS NULL",
        )
        .bind(now.as_second())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT id, kind, created, payload, applied_at, outcome FROM stripe_events WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let event = event_row(&row)?;
        Ok(Some((
            Ledger {
                tx,
                id: id.to_owned(),
                touched: Vec::new(),
            },
            event,
        )))
    }
}

/// The transaction that applies one Stripe event; nothing of it is kept unless it is
/// [finished](Ledger::finish).
pub struct Ledger {
    pub(super) tx: Transaction<'static, Any>,
    id: String,
    touched: Vec<i64>,
}

impl Ledger {
    /// Records what applying did and commits; returns the members whose history changed.
    pub async fn finish(mut self, outcome: &str) -> Result<Vec<i64>, StoreError> {
        sqlx::query("UPDATE stripe_events SET outcome = $1 WHERE id = $2")
            .bind(outcome)
            .bind(&self.id)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        self.touched.sort_unstable();
        self.touched.dedup();
        Ok(self.touched)
    }

    pub async fn member_by_email(&mut self, email: &str) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, created_at FROM members WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match row {
            Some(row) => Some(Member {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                password_hash: row.try_get("password_hash")?,
                created_at: timestamp(row.try_get("created_at")?),
            }),
            None => None,
        })
    }

    /// The member with this email, created (without rights yet) if there is none.
    pub async fn member_for_email(
        &mut self,
        email: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        if let Some(member) = self.member_by_email(email).await? {
            return Ok(member.id);
        }
        let new = NewMember {
            email: email.to_owned(),
            password_hash: None,
            events: Vec::new(),
            source: "stripe".to_owned(),
            announce: true,
        };
        let member = insert_member(&mut self.tx, &new, now).await?;
        self.touched.push(member.id);
        Ok(member.id)
    }

    pub async fn append(
        &mut self,
        member_id: i64,
        record: &EventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        insert_event(&mut self.tx, member_id, record, "stripe", now).await?;
        self.touched.push(member_id);
        Ok(())
    }

    pub async fn customer_member(&mut self, customer: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT member_id FROM stripe_customers WHERE id = $1")
            .bind(customer)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("member_id")?),
            None => None,
        })
    }

    pub async fn link_customer(
        &mut self,
        customer: &str,
        member_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_customers (id, member_id) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id",
        )
        .bind(customer)
        .bind(member_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn subscription(&mut self, id: &str) -> Result<Option<SubscriptionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, customer, product, member_id, email, state, until, paid_in_full, \
             last_event_created, projected FROM stripe_subscriptions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|row| subscription_row(&row)).transpose()
    }

    /// The subscriptions of a Stripe customer that no member is linked to yet.
    pub async fn unlinked_subscriptions(
        &mut self,
        customer: &str,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer, product, member_id, email, state, until, paid_in_full, \
             last_event_created, projected FROM stripe_subscriptions \
             WHERE customer = $1 AND member_id IS NULL ORDER BY id",
        )
        .bind(customer)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(subscription_row).collect()
    }

    /// A member's other subscriptions, to see whether another still pays for the same right.
    pub async fn member_subscriptions(
        &mut self,
        member_id: i64,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer, product, member_id, email, state, until, paid_in_full, \
             last_event_created, projected FROM stripe_subscriptions WHERE member_id = $1 ORDER BY id",
        )
        .bind(member_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(subscription_row).collect()
    }

    pub async fn save_subscription(&mut self, sub: &SubscriptionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_subscriptions (id, customer, product, member_id, email, state, until, \
             paid_in_full, last_event_created, projected) VALUES ($1, $2, $3, $4, $10, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET customer = excluded.customer, product = excluded.product, \
             member_id = excluded.member_id, email = excluded.email, state = excluded.state, until = excluded.until, \
             paid_in_full = excluded.paid_in_full, last_event_created = excluded.last_event_created, \
             projected = excluded.projected",
        )
        .bind(&sub.id)
        .bind(sub.customer.as_deref())
        .bind(sub.product.as_deref())
        .bind(sub.member_id)
        .bind(&sub.state)
        .bind(sub.until.map(|t| t.as_second()))
        .bind(i64::from(sub.paid_in_full))
        .bind(sub.last_event_created)
        .bind(&sub.projected)
        .bind(sub.email.as_deref())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a paid invoice once; returns how many paid invoices with money in them the
    /// subscription now has.
    pub async fn record_invoice(
        &mut self,
        id: &str,
        subscription: &str,
        amount_paid: i64,
        payment_intent: Option<&str>,
        charge: Option<&str>,
    ) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO stripe_invoices (id, subscription, amount_paid, payment_intent, charge) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(subscription)
        .bind(amount_paid)
        .bind(payment_intent)
        .bind(charge)
        .execute(&mut *self.tx)
        .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM stripe_invoices \
             WHERE subscription = $1 AND amount_paid > 0 AND refunded = 0",
        )
        .bind(subscription)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The subscription an invoice paid, found by its invoice id, payment intent or charge,
    /// directly or through `invoice_payment.paid`'s link (basil), with that invoice's id.
    pub async fn invoice_subscription(
        &mut self,
        invoice: Option<&str>,
        payment_intent: Option<&str>,
        charge: Option<&str>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT i.id AS id, i.subscription AS subscription FROM stripe_invoices i \
             LEFT JOIN stripe_invoice_payments p ON p.invoice = i.id \
             WHERE i.id = $1 OR i.payment_intent = $2 OR i.charge = $3 OR p.payment_intent = $2 \
             LIMIT 1",
        )
        .bind(invoice.unwrap_or(""))
        .bind(payment_intent.unwrap_or(""))
        .bind(charge.unwrap_or(""))
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match row {
            Some(row) => Some((row.try_get("subscription")?, row.try_get("id")?)),
            None => None,
        })
    }

    /// Remembers which payment intent paid an invoice (`invoice_payment.paid`).
    pub async fn link_invoice_payment(
        &mut self,
        payment_intent: &str,
        invoice: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stripe_invoice_payments (payment_intent, invoice) VALUES ($1, $2) \
             ON CONFLICT (payment_intent) DO NOTHING",
        )
        .bind(payment_intent)
        .bind(invoice)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A refunded invoice no longer counts as a payment of its plan. `false` when it was
    /// refunded already.
    pub async fn invoice_refunded(&mut self, invoice: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE stripe_invoices SET refunded = 1 WHERE id = $1 AND refunded = 0")
                .bind(invoice)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The latest `at` in a member's history that is not after `now`: a right granted late
    /// must not be dated before what was written since.
    pub async fn newest_event_at(
        &mut self,
        member_id: i64,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT MAX(at) AS at FROM events WHERE member_id = $1 AND at <= $2")
            .bind(member_id)
            .bind(now.as_second())
            .fetch_one(&mut *self.tx)
            .await?;
        let at: Option<i64> = row.try_get("at")?;
        Ok(at.map(timestamp))
    }

    pub async fn record_purchase(
        &mut self,
        payment_intent: &str,
        member_id: i64,
        product: &str,
        amount: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO stripe_purchases (payment_intent, member_id, product, amount) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (payment_intent) DO NOTHING",
        )
        .bind(payment_intent)
        .bind(member_id)
        .bind(product)
        .bind(amount)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The single purchase a payment intent paid for: (member, product).
    pub async fn purchase(
        &mut self,
        payment_intent: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT member_id, product FROM stripe_purchases WHERE payment_intent = $1",
        )
        .bind(payment_intent)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match row {
            Some(row) => Some((row.try_get("member_id")?, row.try_get("product")?)),
            None => None,
        })
    }

    /// A member's single purchases: (payment intent, product, amount, refunded).
    pub async fn member_purchases(
        &mut self,
        member_id: i64,
    ) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT payment_intent, product, amount, refunded FROM stripe_purchases \
             WHERE member_id = $1 ORDER BY payment_intent",
        )
        .bind(member_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("payment_intent")?,
                    row.try_get("product")?,
                    row.try_get("amount")?,
                    row.try_get("refunded")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn record_refund(
        &mut self,
        payment_intent: &str,
        refunded: i64,
    ) -> Result<(), StoreError> {
        // Refund events may arrive out of order; the amount refunded only grows.
        sqlx::query(
            "UPDATE stripe_purchases SET refunded = $1 WHERE payment_intent = $2 AND refunded < $1",
        )
        .bind(refunded)
        .bind(payment_intent)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

fn event_row(row: &AnyRow) -> Result<StripeEventRow, StoreError> {
    let applied: Option<i64> = row.try_get("applied_at")?;
    Ok(StripeEventRow {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        created: row.try_get("created")?,
        payload: row.try_get("payload")?,
        applied_at: applied.map(timestamp),
        outcome: row.try_get("outcome")?,
    })
}

fn subscription_row(row: &AnyRow) -> Result<SubscriptionRow, StoreError> {
    let until: Option<i64> = row.try_get("until")?;
    let paid: i64 = row.try_get("paid_in_full")?;
    Ok(SubscriptionRow {
        id: row.try_get("id")?,
        customer: row.try_get("customer")?,
        product: row.try_get("product")?,
        member_id: row.try_get("member_id")?,
        email: row.try_get("email")?,
        state: row.try_get("state")?,
        until: until.map(timestamp),
        paid_in_full: paid != 0,
        last_event_created: row.try_get("last_event_created")?,
        projected: row.try_get("projected")?,
    })
}
