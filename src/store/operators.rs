//! The operator console's own records: operators' magic links and sessions (apart from
//! members': an operator is an email in site.toml, not a member) and the audit log of what
//! each operator did. Tokens are stored only as SHA-256 hashes, as members' are.

use jiff::Timestamp;
use sqlx::Row;

use super::{Store, StoreError};

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub operator: String,
    pub action: String,
    pub member_id: Option<i64>,
    /// The member's email, when the entry is about one.
    pub member_email: Option<String>,
    /// JSON: what the action changed.
    pub detail: String,
}

impl Store {
    pub async fn create_operator_link(
        &self,
        token_hash: &str,
        email: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_links (token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(email)
        .bind(now.as_second())
        .bind(expires_at.as_second())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many links were sent to an operator since `since`, across replicas.
    pub async fn operator_links_since(
        &self,
        email: &str,
        since: Timestamp,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM operator_links WHERE email = $1 AND created_at >= $2",
        )
        .bind(email)
        .bind(since.as_second())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Whether an operator link is unused and unexpired (the "Continue" page's check).
    pub async fn operator_link_is_valid(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS ok FROM operator_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Uses an operator link once, atomically; the operator's email if it was good.
    pub async fn consume_operator_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "UPDATE operator_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING email",
        )
        .bind(now.as_second())
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("email")?),
            None => None,
        })
    }

    pub async fn create_operator_session(
        &self,
        token_hash: &str,
        email: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_sessions (token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(email)
        .bind(now.as_second())
        .bind(expires_at.as_second())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The operator of a live session.
    pub async fn operator_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT email FROM operator_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.as_second())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("email")?),
            None => None,
        })
    }

    pub async fn delete_operator_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every preview an operator started ("view the site as this member"): logging out of
    /// the console ends them with it.
    pub async fn delete_operator_previews(&self, operator: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM preview_sessions WHERE operator = $1")
            .bind(operator)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Ends every session of operators no longer listed in site.toml, so that removing an
    /// email from `[admin] emails` and restarting locks that person out at once.
    pub async fn delete_operator_sessions_except(
        &self,
        operators: &[String],
    ) -> Result<u64, StoreError> {
        let mut ended = 0;
        let rows = sqlx::query("SELECT DISTINCT email FROM operator_sessions")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let email: String = row.try_get("email")?;
            if !operators.contains(&email) {
                ended += sqlx::query("DELETE FROM operator_sessions WHERE email = $1")
                    .bind(&email)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
        }
        Ok(ended)
    }

    /// Records what an operator did.
    pub async fn audit(
        &self,
        operator: &str,
        action: &str,
        member_id: Option<i64>,
        detail: &serde_json::Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, operator, action, member_id, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now.as_second())
        .bind(operator)
        .bind(action)
        .bind(member_id)
        .bind(detail.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest audit entries (of one member, or all), newest first, before id `before`.
    pub async fn audit_entries(
        &self,
        member_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.at, a.operator, a.action, a.member_id, m.email AS member_email, a.detail \
             FROM audit_log a LEFT JOIN members m ON m.id = a.member_id \
             WHERE ($1 IS NULL OR a.member_id = $1) AND a.id < $2 \
             ORDER BY a.id DESC LIMIT $3",
        )
        .bind(member_id)
        .bind(before.unwrap_or(i64::MAX))
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
                    member_id: row.try_get("member_id")?,
                    member_email: row.try_get("member_email")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
