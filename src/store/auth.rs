//! Magic links, sessions and the per-day address log. Tokens are never stored: only their
//! SHA-256 hashes, so a copy of the database logs nobody in.

use jiff::Timestamp;
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Stores a new magic link for a member.
    pub async fn create_login_link(
        &self,
        token_hash: &str,
        member_id: i64,
        next_path: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.create_login_link_from(token_hash, member_id, next_path, now, expires_at, None)
            .await
    }

    /// Stores a new magic link, with the keyed hash of the network it was asked for from.
    pub async fn create_login_link_from(
        &self,
        token_hash: &str,
        member_id: i64,
        next_path: &str,
        now: Timestamp,
        expires_at: Timestamp,
        source_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_links (token_hash, member_id, next_path, created_at, expires_at, source_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(member_id)
        .bind(next_path)
        .bind(now.as_second())
        .bind(expires_at.as_second())
        .bind(source_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many magic links were asked for a member from one network since `since`.
    pub async fn login_links_from_since(
        &self,
        member_id: i64,
        source_hash: &str,
        since: Timestamp,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM login_links WHERE member_id = $1 AND source_hash = $2 AND created_at >= $3",
        )
        .bind(member_id)
        .bind(source_hash)
        .bind(since.as_second())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Uses a magic link once: one atomic update marks it used if it is unused and unexpired,
    /// so two requests racing with the same link cannot both succeed.
    pub async fn consume_login_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(
            "UPDATE login_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING member_id, next_path",
        )
        .bind(now.as_second())
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((row.try_get("member_id")?, row.try_get("next_path")?))),
            None => Ok(None),
        }
    }

    /// Whether a magic link exists, unused and unexpired (the "Continue" page checks this
    /// without consuming it).
    pub async fn login_link_is_valid(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS ok FROM login_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// How many magic links were sent to a member since `since` (shared by every replica, so
    /// the per-email limit holds behind a load balancer).
    pub async fn login_links_since(
        &self,
        member_id: i64,
        since: Timestamp,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM login_links WHERE member_id = $1 AND created_at >= $2",
        )
        .bind(member_id)
        .bind(since.as_second())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        member_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, member_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(member_id)
        .bind(now.as_second())
        .bind(expires_at.as_second())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The member a live session belongs to.
    pub async fn session_member(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT member_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now.as_second())
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok(Some(row.try_get("member_id")?)),
            None => Ok(None),
        }
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a member ("log out everywhere"); returns how many there were.
    pub async fn delete_member_sessions(&self, member_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE member_id = $1")
            .bind(member_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Removes expired sessions and magic links (they no longer let anyone in).
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.as_second())
            .execute(&self.pool)
            .await?;
        let links = sqlx::query("DELETE FROM login_links WHERE expires_at <= $1")
            .bind(now.as_second() - 86_400)
            .execute(&self.pool)
            .await?;
        Ok(sessions.rows_affected() + links.rows_affected())
    }

    /// Notes that a member used an address on a day (a keyed hash, never the address), and
    /// that they were seen that day (`member_state.last_seen`, for the member list). Only a
    /// new (member, day, address) writes the day: a repeat is one insert that finds its row.
    pub async fn record_address(
        &self,
        member_id: i64,
        day: i64,
        address_hash: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO member_ips (member_id, day, ip_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(member_id)
        .bind(day)
        .bind(address_hash)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            // Never backwards: a late write of an older day leaves a newer one.
            sqlx::query(
                "UPDATE member_state SET last_seen = $1 \
                 WHERE member_id = $2 AND (last_seen IS NULL OR last_seen < $1)",
            )
            .bind(day.saturating_mul(86_400))
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether a member used the address with this hash on day `since_day` or later.
    pub async fn address_known(
        &self,
        member_id: i64,
        address_hash: &str,
        since_day: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM member_ips WHERE member_id = $1 AND ip_hash = $2 AND day >= $3 LIMIT 1",
        )
        .bind(member_id)
        .bind(address_hash)
        .bind(since_day)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Distinct addresses per day for a member, newest day first.
    pub async fn addresses_per_day(
        &self,
        member_id: i64,
        days: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, COUNT(*) AS n FROM member_ips WHERE member_id = $1 GROUP BY day ORDER BY day DESC LIMIT $2",
        )
        .bind(member_id)
        .bind(days)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("day")?, row.try_get("n")?)))
            .collect()
    }
}
