//! What the console's page of one member reads beyond their history (addresses per day, their
//! audit entries), and the preview sessions of "view the site as this member". A preview token
//! is stored only as its SHA-256 hash, as every other token is.

use jiff::Timestamp;
use sqlx::Row;

use super::{AuditEntry, Store, StoreError};

/// A live preview: which operator looks at the site as which member, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewSession {
    pub operator: String,
    pub member_id: i64,
    pub expires_at: i64,
}

impl Store {
    /// Distinct addresses a member used per day, from day `since_day` on, newest day first.
    pub async fn addresses_per_day_since(
        &self,
        member_id: i64,
        since_day: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, COUNT(*) AS n FROM member_ips WHERE member_id = $1 AND day >= $2 \
             GROUP BY day ORDER BY day DESC",
        )
        .bind(member_id)
        .bind(since_day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("day")?, row.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// One member's newest audit entries, newest first. A query of its own (not
    /// `audit_entries(Some(id), ..)`) so that it walks the `(member_id, id)` index on both
    /// databases however long the log grows.
    pub async fn member_audit_entries(
        &self,
        member_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.at, a.operator, a.action, a.detail FROM audit_log a \
             WHERE a.member_id = $1 ORDER BY a.id DESC LIMIT $2",
        )
        .bind(member_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    operator: row.try_get("operator")?,
                    action: row.try_get("action")?,
                    member_id: Some(member_id),
                    member_email: None,
                    detail: row.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Starts a preview; expired previews are swept out on the way, so the table stays small.
    pub async fn create_preview_session(
        &self,
        token_hash: &str,
        operator: &str,
        session_hash: &str,
        member_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM preview_sessions WHERE expires_at <= $1")
            .bind(now.as_second())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO preview_sessions (token_hash, operator, session_hash, member_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(operator)
        .bind(session_hash)
        .bind(member_id)
        .bind(now.as_second())
        .bind(expires_at.as_second())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The preview of a token, if neither it nor the console session that started it has
    /// ended.
    pub async fn preview_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PreviewSession>, StoreError> {
        let row = sqlx::query(
            "SELECT p.operator, p.member_id, p.expires_at FROM preview_sessions p \
             JOIN operator_sessions s ON s.token_hash = p.session_hash \
             WHERE p.token_hash = $1 AND p.expires_at > $2 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(PreviewSession {
                operator: row.try_get("operator")?,
                member_id: row.try_get("member_id")?,
                expires_at: row.try_get("expires_at")?,
            }),
            None => None,
        })
    }

    /// Ends an operator's preview (a token of another operator's is left alone).
    pub async fn delete_preview_session(
        &self,
        token_hash: &str,
        operator: &str,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM preview_sessions WHERE token_hash = $1 AND operator = $2")
                .bind(token_hash)
                .bind(operator)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}
