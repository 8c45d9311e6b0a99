//! Announcing member changes: each member's standing as last announced (`member_state`), the
//! notices written when it changes, and their deliveries (a push endpoint, or the welcome email)
//! retried until they succeed. A notice and its deliveries are written in the transaction that
//! records the new standing, so a change is announced once and a crash loses nothing.

use jiff::Timestamp;
use sqlx::Row;

use super::members::timestamp;
use super::{Store, StoreError};

/// A member's announcement state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// The standing last announced, as JSON; `None` until first seen (nothing is announced
    /// for a member seen for the first time, only remembered).
    pub standing: Option<String>,
    pub version: i64,
}

/// The columns of a standing that the member list reads: the level's id and status, and each
/// bundle's status. Read from the standing's JSON (`notify::Snapshot`), the one thing recorded,
/// so the two cannot disagree; a standing it cannot read projects as holding nothing.
#[derive(Debug, Default, serde::Deserialize)]
struct Projection {
    #[serde(default)]
    level: Option<ProjectedRight>,
    #[serde(default)]
    bundles: std::collections::BTreeMap<String, ProjectedRight>,
}

#[derive(Debug, serde::Deserialize)]
struct ProjectedRight {
    id: String,
    status: String,
}

impl Projection {
    fn of(standing: &str) -> Projection {
        serde_json::from_str(standing).unwrap_or_default()
    }
}

/// A notice to write, with the targets it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    pub kind: String,
    pub body: String,
    pub targets: Vec<String>,
}

/// A delivery that is due, with its notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub target: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub notice_id: i64,
    pub member_id: i64,
    pub kind: String,
    pub body: String,
    pub created_at: Timestamp,
}

/// A delivery taken for one attempt: its outcome is recorded only while the lease it was taken
/// with still stands, so an attempt that outlived its lease cannot undo a later one's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
    /// The lease's end, as written into `next_attempt` when the delivery was taken.
    lease: i64,
    target: String,
    member_id: i64,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub abandoned: i64,
}

/// `d` is pending and first in its queue: no earlier delivery to the same target about the same
/// member is still pending (the index `deliveries_queue` answers this). One text for listing
/// heads and for taking one, so the two can never disagree. (A macro, not a const, so that
/// `concat!` keeps every query a static string.)
macro_rules! pending_head {
    () => {
        "d.delivered_at IS NULL AND d.abandoned_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM deliveries e \
             WHERE e.target = d.target AND e.member_id = d.member_id AND e.id < d.id \
             AND e.delivered_at IS NULL AND e.abandoned_at IS NULL)"
    };
}

fn delivery_of(row: &sqlx::any::AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        attempts: row.try_get("attempts")?,
        next_attempt: row.try_get("next_attempt")?,
        notice_id: row.try_get("notice_id")?,
        member_id: row.try_get("member_id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        created_at: timestamp(row.try_get("created_at")?),
    })
}

impl Store {
    /// Members whose standing may have changed by `now`: a new event, or a scheduled
    /// transition (pending-cancel ending, expiry) that has come.
    pub async fn members_due(&self, now: Timestamp, limit: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT member_id FROM member_state WHERE next_check <= $1 ORDER BY next_check, member_id LIMIT $2",
        )
        .bind(now.as_second())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get("member_id"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn member_state(&self, member_id: i64) -> Result<Option<MemberState>, StoreError> {
        let row = sqlx::query("SELECT standing, version FROM member_state WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(MemberState {
                standing: row.try_get("standing")?,
                version: row.try_get("version")?,
            }),
            None => None,
        })
    }

    /// Records a member's new standing, its columns for the member list (`member_state.level`,
    /// `level_status`, `joined_at` and `member_bundles`) and its notices, if nobody changed the
    /// member since `version` was read; `false` (and nothing written) otherwise, to be checked
    /// again.
    pub async fn record_standing(
        &self,
        member_id: i64,
        version: i64,
        standing: &str,
        next_check: i64,
        notices: &[NewNotice],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let projection = Projection::of(standing);
        let mut tx = self.write_tx().await?;
        // The member list's columns are written with the standing they are read from, so the
        // list is never behind the newest check. Joined: the date of the first event.
        let updated = sqlx::query(
            "UPDATE member_state SET standing = $1, next_check = $2, version = version + 1, \
             level = $5, level_status = $6, joined_at = COALESCE(\
             (SELECT MIN(e.at) FROM events e WHERE e.member_id = $3), \
             (SELECT m.created_at FROM members m WHERE m.id = $3)) \
             WHERE member_id = $3 AND version = $4",
        )
        .bind(standing)
        .bind(next_check)
        .bind(member_id)
        .bind(version)
        .bind(projection.level.as_ref().map(|right| right.id.as_str()))
        .bind(projection.level.as_ref().map(|right| right.status.as_str()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM member_bundles WHERE member_id = $1")
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        for (bundle, right) in &projection.bundles {
            sqlx::query(
                "INSERT INTO member_bundles (member_id, bundle, status) VALUES ($1, $2, $3)",
            )
            .bind(member_id)
            .bind(bundle)
            .bind(&right.status)
            .execute(&mut *tx)
            .await?;
        }
        for notice in notices {
            let row = sqlx::query(
                "INSERT INTO notices (member_id, kind, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(member_id)
            .bind(&notice.kind)
            .bind(&notice.body)
            .bind(now.as_second())
            .fetch_one(&mut *tx)
            .await?;
            let notice_id: i64 = row.try_get("id")?;
            for target in &notice.targets {
                sqlx::query(
                    "INSERT INTO deliveries (notice_id, member_id, target, next_attempt) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(notice_id)
                .bind(member_id)
                .bind(target)
                .bind(now.as_second())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A member whose state row is missing (a database restored from before notices): create
    /// it, remembering nothing, so the next check records where they stand.
    pub async fn ensure_member_state(&self, member_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO member_state (member_id, standing, next_check) VALUES ($1, NULL, 0) \
             ON CONFLICT (member_id) DO NOTHING",
        )
        .bind(member_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The deliveries to send at `now`, oldest first: of each queue (a target and a member),
    /// only its head, the earliest not yet delivered or abandoned, and only once it is due.
    /// A notice is never sent before the one written before it to the same target about the
    /// same member has been delivered or given up; a retrying head holds back only its queue.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT d.id AS id, d.target AS target, d.attempts AS attempts, \
             d.next_attempt AS next_attempt, n.id AS notice_id, n.member_id AS member_id, \
             n.kind AS kind, n.body AS body, n.created_at AS created_at \
             FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE ",
            pending_head!(),
            " AND d.next_attempt <= $1 ORDER BY d.next_attempt, d.id LIMIT $2"
        ))
        .bind(now.as_second())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(delivery_of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Gives each pending delivery written without its member (by a replica of a release
    /// before delivery queues, still running after the upgrade) its member, so it joins its
    /// queue. Until then such a delivery is a queue of its own, sent but not kept in order.
    /// The index `deliveries_unqueued` holds only such rows: nothing to read once none are left.
    pub async fn queue_unqueued(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET member_id = \
             (SELECT member_id FROM notices WHERE notices.id = deliveries.notice_id) \
             WHERE member_id IS NULL AND delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Takes a due delivery until `lease_until`, so that another replica does not send it at the
    /// same time; `None` when someone else took it first, or when it is no longer the head of
    /// its queue. The queue is checked here, in the same statement, so that replicas working
    /// from lists read at different moments still never send a member's notices out of order.
    pub async fn claim_delivery(
        &self,
        delivery: &Delivery,
        lease_until: Timestamp,
    ) -> Result<Option<Claim>, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE deliveries AS d SET next_attempt = $1 \
             WHERE d.id = $2 AND d.next_attempt = $3 AND ",
            pending_head!()
        ))
        .bind(lease_until.as_second())
        .bind(delivery.id)
        .bind(delivery.next_attempt)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then(|| Claim {
            id: delivery.id,
            lease: lease_until.as_second(),
            target: delivery.target.clone(),
            member_id: delivery.member_id,
        }))
    }

    /// Records a delivered notice; `false` (and nothing written) when the claim had lapsed and
    /// another attempt took the delivery over, which then records its own outcome.
    pub async fn delivered(&self, claim: &Claim, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET delivered_at = $1, attempts = attempts + 1, last_error = NULL \
             WHERE id = $2 AND next_attempt = $3 AND delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .bind(now.as_second())
        .bind(claim.id)
        .bind(claim.lease)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: try again at `retry_at`, or give up (`None`). The notices
    /// waiting behind it in its queue are made due no sooner than it is, so that rounds spent
    /// waiting for a retry do not scan a long backlog (one written during the wait is caught
    /// up at the next failure). `false` (nothing written) when the claim had lapsed.
    pub async fn delivery_failed(
        &self,
        claim: &Claim,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let next = retry_at.map_or(now.as_second(), |t| t.as_second());
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, \
             next_attempt = $2, abandoned_at = $3 \
             WHERE id = $4 AND next_attempt = $5 AND delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .bind(error)
        .bind(next)
        .bind(retry_at.is_none().then_some(now.as_second()))
        .bind(claim.id)
        .bind(claim.lease)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if retry_at.is_some() {
            sqlx::query(
                "UPDATE deliveries SET next_attempt = $1 \
                 WHERE target = $2 AND member_id = $3 AND id > $4 AND next_attempt < $1 \
                 AND delivered_at IS NULL AND abandoned_at IS NULL",
            )
            .bind(next)
            .bind(&claim.target)
            .bind(claim.member_id)
            .bind(claim.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        let row = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN delivered_at IS NULL AND abandoned_at IS NULL THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN abandoned_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS abandoned \
             FROM deliveries",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(DeliveryCounts {
            pending: row.try_get("pending")?,
            abandoned: row.try_get("abandoned")?,
        })
    }

    /// A member's notices, oldest first: (kind, body, created_at).
    pub async fn notices(
        &self,
        member_id: i64,
    ) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, body, created_at FROM notices WHERE member_id = $1 ORDER BY id",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("kind")?,
                    row.try_get("body")?,
                    timestamp(row.try_get("created_at")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
