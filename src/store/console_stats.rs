//! The dashboard's numbers, each from one aggregate query: members per level and bundle from
//! the member projection (`member_state`, `member_bundles`), weekly activity and churn from the
//! history (`events`), and the subscriptions that pay for a right from `stripe_subscriptions`.
//! What each number counts is defined here, once, and for operators in docs/payments.md.

use sqlx::Row;

use super::{Store, StoreError};

/// Weeks start on Monday 00:00 UTC: 1970-01-05, the first Monday after the Unix epoch, in
/// seconds. A week's number is `(t - WEEK_ORIGIN) / WEEK_SECONDS`.
pub const WEEK_ORIGIN: i64 = 345_600;
pub const WEEK_SECONDS: i64 = 604_800;

/// How many members hold one level or bundle with one status (`active`, `pending-cancel`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightCount {
    pub id: String,
    pub status: String,
    pub members: i64,
}

/// One bar of a weekly chart: `series` is `joins`, `cancels`, `overdue` or `recoveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekCount {
    pub series: String,
    pub week: i64,
    pub members: i64,
}

/// Subscriptions of one product that pay for a right their member holds now, active or
/// pending-cancel (`right`: the level or bundle id held; the caller keeps only the rows where
/// it is the one the product grants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayingCount {
    pub product: String,
    pub right: String,
    pub subscriptions: i64,
}

/// Members now and over the last 30 days (see [`Store::member_totals`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberTotals {
    pub members: i64,
    /// Members whose level holds no access but a bundle does (those whose level does are
    /// counted by [`Store::level_counts`]).
    pub bundle_only: i64,
    /// Members who hold access now and joined after the window's start.
    pub recent: i64,
    /// Members who hold no access now and whose access ended inside the window.
    pub lost: i64,
}

/// A member holds access when their level, or any of their bundles, is active or
/// pending-cancel. `level_status` may be NULL (a member not checked yet): COALESCE keeps
/// `NOT holds` true for them rather than NULL. (A macro, so that queries stay static strings.)
macro_rules! holds_access {
    () => {
        "(COALESCE(m.level_status, '') IN ('active', 'pending-cancel') OR EXISTS \
         (SELECT 1 FROM member_bundles b WHERE b.member_id = m.member_id \
         AND b.status IN ('active', 'pending-cancel')))"
    };
}

/// When an event takes effect: a cancel at a date ends access at its `until`, every other
/// event at its `at`.
macro_rules! takes_effect {
    ($e:literal) => {
        concat!("COALESCE(", $e, ".until, ", $e, ".at)")
    };
}

/// Subscriptions Stripe still bills, per product, whose member is in the list that follows.
macro_rules! paying {
    () => {
        "SELECT s.product AS product, COUNT(*) AS n FROM stripe_subscriptions s \
         WHERE (s.state = 'active' OR s.state LIKE 'pending-cancel:%') AND s.paid_in_full = 0 \
         AND s.product IS NOT NULL AND s.member_id IN "
    };
}

impl Store {
    /// Members per level and status, from the projection.
    pub async fn level_counts(&self) -> Result<Vec<RightCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT level AS id, level_status AS status, COUNT(*) AS n FROM member_state \
             WHERE level IS NOT NULL GROUP BY level, level_status ORDER BY level, level_status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(right_count).collect()
    }

    /// Members per bundle and status, from the projection.
    pub async fn bundle_counts(&self) -> Result<Vec<RightCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT bundle AS id, status, COUNT(*) AS n FROM member_bundles \
             GROUP BY bundle, status ORDER BY bundle, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(right_count).collect()
    }

    /// Per week from `from` (a week's start) to `now`, distinct members who:
    /// - `joins`: joined in that week (`member_state.joined_at`: their first event ever);
    /// - `cancels`: had a `cancel` or `bundle_cancel` take effect in that week (at its `until`
    ///   for a cancel at a date, so Stripe's "cancel at period end" and the cancel it sends
    ///   when the period ends count once, in the week access ended);
    /// - `overdue`: had an `overdue` event;
    /// - `recoveries`: had a `recovered` event.
    pub async fn weekly_activity(&self, from: i64, now: i64) -> Result<Vec<WeekCount>, StoreError> {
        // `joined_at` is the member's first event (or, with none, their creation), written by
        // each check with the standing (store::notices).
        let joins = sqlx::query(
            "SELECT 'joins' AS series, (joined_at - 345600) / 604800 AS week, COUNT(*) AS n \
             FROM member_state WHERE joined_at >= $1 AND joined_at <= $2 \
             GROUP BY (joined_at - 345600) / 604800",
        )
        .bind(from)
        .bind(now)
        .fetch_all(&self.pool);
        let others = sqlx::query(concat!(
            "SELECT CASE WHEN e.kind = 'overdue' THEN 'overdue' \
                         WHEN e.kind = 'recovered' THEN 'recoveries' ELSE 'cancels' END AS series, \
                    (",
            takes_effect!("e"),
            " - 345600) / 604800 AS week, COUNT(DISTINCT e.member_id) AS n \
             FROM events e \
             WHERE e.kind IN ('cancel', 'bundle_cancel', 'overdue', 'recovered') AND e.at <= $2 \
             AND ",
            takes_effect!("e"),
            " >= $1 AND ",
            takes_effect!("e"),
            " <= $2 GROUP BY 1, 2"
        ))
        .bind(from)
        .bind(now)
        .fetch_all(&self.pool);
        let (joins, others) = tokio::try_join!(joins, others)?;
        joins
            .iter()
            .chain(&others)
            .map(|row| {
                Ok(WeekCount {
                    series: row.try_get("series")?,
                    week: row.try_get("week")?,
                    members: row.try_get("n")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Members, and what churn over (`since`, `now`] needs beyond [`Store::level_counts`]:
    /// those who hold access through a bundle alone, those who hold access and joined after
    /// `since`, and `lost`: those who hold no access now and had an access-ending event
    /// (`cancel`, `bundle_cancel`, `overdue`, `expire`, `revoke`) take effect inside the window.
    /// Four queries, run at once: SQLite's readers (WAL) and PostgreSQL run them side by side.
    pub async fn member_totals(&self, since: i64, now: i64) -> Result<MemberTotals, StoreError> {
        let members = sqlx::query("SELECT COUNT(*) AS n FROM member_state").fetch_one(&self.pool);
        // Few members hold a bundle: counting them beats testing every member for one.
        let bundle_only = sqlx::query(
            "SELECT COUNT(DISTINCT b.member_id) AS n FROM member_bundles b \
             WHERE b.status IN ('active', 'pending-cancel') AND NOT EXISTS \
             (SELECT 1 FROM member_state m WHERE m.member_id = b.member_id \
              AND m.level_status IN ('active', 'pending-cancel'))",
        )
        .fetch_one(&self.pool);
        // Those who joined since `since` are few, found by `joined_at`.
        let recent = sqlx::query(concat!(
            "SELECT COUNT(*) AS n FROM member_state m WHERE m.joined_at > $1 AND ",
            holds_access!()
        ))
        .bind(since)
        .fetch_one(&self.pool);
        let lost = sqlx::query(concat!(
            "SELECT COUNT(*) AS n FROM member_state m WHERE m.member_id IN \
             (SELECT e.member_id FROM events e \
              WHERE e.kind IN ('cancel', 'bundle_cancel', 'overdue', 'expire', 'revoke') \
              AND e.at <= $2 AND ",
            takes_effect!("e"),
            " > $1 AND ",
            takes_effect!("e"),
            " <= $2) AND NOT ",
            holds_access!()
        ))
        .bind(since)
        .bind(now)
        .fetch_one(&self.pool);
        let (members, bundle_only, recent, lost) =
            tokio::try_join!(members, bundle_only, recent, lost)?;
        let count = |row: &sqlx::any::AnyRow| row.try_get::<i64, _>("n");
        Ok(MemberTotals {
            members: count(&members)?,
            bundle_only: count(&bundle_only)?,
            recent: count(&recent)?,
            lost: count(&lost)?,
        })
    }

    /// Stripe subscriptions still paying (active or pending-cancel with Stripe, and not a
    /// payment plan paid in full) whose member holds `right` (`level` or `bundle` and its id)
    /// active or pending-cancel now, per product. The holders come from the projection's
    /// covering index, once, rather than a lookup of each subscription's member.
    pub async fn paying_subscriptions(
        &self,
        kind: RightKind,
        right: &str,
    ) -> Result<Vec<PayingCount>, StoreError> {
        let sql = match kind {
            RightKind::Level => concat!(
                paying!(),
                "(SELECT member_id FROM member_state WHERE level = $1 \
                 AND level_status IN ('active', 'pending-cancel')) GROUP BY s.product"
            ),
            RightKind::Bundle => concat!(
                paying!(),
                "(SELECT member_id FROM member_bundles WHERE bundle = $1 \
                 AND status IN ('active', 'pending-cancel')) GROUP BY s.product"
            ),
        };
        let rows = sqlx::query(sql).bind(right).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(PayingCount {
                    product: row.try_get("product")?,
                    right: right.to_owned(),
                    subscriptions: row.try_get("n")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// Whether a right is a level or a bundle, for [`Store::paying_subscriptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightKind {
    Level,
    Bundle,
}

fn right_count(row: &sqlx::any::AnyRow) -> Result<RightCount, StoreError> {
    let status: Option<String> = row.try_get("status")?;
    Ok(RightCount {
        id: row.try_get("id")?,
        status: status.unwrap_or_else(|| "unknown".to_owned()),
        members: row.try_get("n")?,
    })
}
