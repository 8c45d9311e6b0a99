//! Members and their append-only event history.

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError};
use crate::entitle::{Basis, EventRecord, EventType, Grant, Revocation, grant_text};

/// A member as stored; their standing is derived from their history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
}

/// A member to create, with the first events of their history.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: String,
    pub password_hash: Option<String>,
    pub events: Vec<EventRecord>,
    pub source: String,
    /// Announce the member's rights as new (a `joined` push notification and a welcome email).
    /// Members brought over from another system are only remembered as they stand.
    pub announce: bool,
}

/// One event of a member's history, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub record: EventRecord,
    pub source: String,
    pub recorded_at: Timestamp,
}

impl Store {
    /// Creates a member and their first events in one transaction: either all are stored or
    /// nothing is.
    pub async fn create_member(
        &self,
        new: &NewMember,
        now: Timestamp,
    ) -> Result<Member, StoreError> {
        let mut tx = self.write_tx().await?;
        let member = insert_member(&mut tx, new, now).await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn member_by_email(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, created_at FROM members WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| member_from_row(&row)).transpose()
    }

    pub async fn member_by_id(&self, id: i64) -> Result<Option<Member>, StoreError> {
        let row =
            sqlx::query("SELECT id, email, password_hash, created_at FROM members WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| member_from_row(&row)).transpose()
    }

    /// Every member, oldest first.
    pub async fn members(&self) -> Result<Vec<Member>, StoreError> {
        let rows =
            sqlx::query("SELECT id, email, password_hash, created_at FROM members ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(member_from_row).collect()
    }

    pub async fn set_password(&self, member_id: i64, hash: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(member_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends one event to a member's history.
    pub async fn append_event(
        &self,
        member_id: i64,
        record: &EventRecord,
        source: &str,
        now: Timestamp,
    ) -> Result<StoredEvent, StoreError> {
        let mut tx = self.write_tx().await?;
        let event = insert_event(&mut tx, member_id, record, source, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// A member's history in the order it was recorded.
    pub async fn history(&self, member_id: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, access, basis, at, until, reason, source, recorded_at FROM events \
             WHERE member_id = $1 ORDER BY id",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?;
        // A row this gatehouse cannot read (written by a newer one) is skipped, not fatal:
        // one odd event must not lock a member out of everything else.
        Ok(rows
            .iter()
            .filter_map(|row| event_from_row(row).ok().flatten())
            .collect())
    }
}

impl Store {
    /// The member of a live session and their history, in one round trip: the keys endpoint's
    /// whole read.
    pub async fn session_history(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(i64, Vec<StoredEvent>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.member_id AS member_id, e.id AS id, e.kind AS kind, e.access AS access, \
             e.basis AS basis, e.at AS at, e.until AS until, e.reason AS reason, \
             e.source AS source, \
             e.recorded_at AS recorded_at \
             FROM sessions s LEFT JOIN events e ON e.member_id = s.member_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 ORDER BY e.id",
        )
        .bind(token_hash)
        .bind(now.as_second())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let member_id: i64 = first.try_get("member_id")?;
        // A member without events gives one row of NULLs, which reads as no event.
        let history = rows
            .iter()
            .filter_map(|row| event_from_row(row).ok().flatten())
            .collect();
        Ok(Some((member_id, history)))
    }
}

/// Inserts a member, their first events and their announcement state, inside `tx`.
pub(super) async fn insert_member(
    tx: &mut Transaction<'_, Any>,
    new: &NewMember,
    now: Timestamp,
) -> Result<Member, StoreError> {
    let existing = sqlx::query("SELECT id FROM members WHERE email = $1")
        .bind(&new.email)
        .fetch_optional(&mut **tx)
        .await?;
    if existing.is_some() {
        return Err(StoreError::MemberExists(new.email.clone()));
    }
    let row = sqlx::query(
        "INSERT INTO members (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&new.email)
    .bind(new.password_hash.as_deref())
    .bind(now.as_second())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, &new.email))?;
    let id: i64 = row.try_get("id")?;
    // An empty standing announces every right as new; NULL only records where they stand.
    sqlx::query("INSERT INTO member_state (member_id, standing, next_check) VALUES ($1, $2, 0)")
        .bind(id)
        .bind(new.announce.then_some("{}"))
        .execute(&mut **tx)
        .await?;
    for record in &new.events {
        insert_event(tx, id, record, &new.source, now).await?;
    }
    Ok(Member {
        id,
        email: new.email.clone(),
        password_hash: new.password_hash.clone(),
        created_at: timestamp(now.as_second()),
    })
}

pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    member_id: i64,
    record: &EventRecord,
    source: &str,
    now: Timestamp,
) -> Result<StoredEvent, StoreError> {
    let row = sqlx::query(
        "INSERT INTO events (member_id, kind, access, basis, at, until, source, recorded_at, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(member_id)
    .bind(record.kind.name())
    .bind(record.access.as_ref().map(grant_text))
    .bind(record.basis.map(Basis::name))
    .bind(record.at.as_second())
    .bind(record.until.map(|t| t.as_second()))
    .bind(source)
    .bind(now.as_second())
    .bind(record.reason.map(Revocation::name))
    .fetch_one(&mut **tx)
    .await?;
    // Whatever the event changed is announced by the next check of this member; the version
    // bump stops a check that read the older history from recording its result.
    sqlx::query(
        "UPDATE member_state SET next_check = 0, version = version + 1 WHERE member_id = $1",
    )
    .bind(member_id)
    .execute(&mut **tx)
    .await?;
    Ok(StoredEvent {
        id: row.try_get("id")?,
        record: record.clone(),
        source: source.to_owned(),
        recorded_at: timestamp(now.as_second()),
    })
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        created_at: timestamp(row.try_get("created_at")?),
    })
}

fn event_from_row(row: &AnyRow) -> Result<Option<StoredEvent>, StoreError> {
    let kind: String = row.try_get("kind")?;
    let Ok(kind) = kind.parse::<EventType>() else {
        return Ok(None);
    };
    let access: Option<String> = row.try_get("access")?;
    let access = match access {
        None => None,
        Some(text) => match text.split_once(':') {
            Some(("level", id)) => Some(Grant::Level(id.to_owned())),
            Some(("bundle", id)) => Some(Grant::Bundle(id.to_owned())),
            _ => return Ok(None),
        },
    };
    let basis: Option<String> = row.try_get("basis")?;
    let until: Option<i64> = row.try_get("until")?;
    let reason: Option<String> = row.try_get("reason")?;
    Ok(Some(StoredEvent {
        id: row.try_get("id")?,
        record: EventRecord {
            kind,
            access,
            basis: basis.as_deref().and_then(Basis::from_name),
            at: timestamp(row.try_get("at")?),
            until: until.map(timestamp),
            reason: reason.and_then(|r| Revocation::from_name(&r).ok()),
        },
        source: row.try_get("source")?,
        recorded_at: timestamp(row.try_get("recorded_at")?),
    }))
}

pub(super) fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Two requests creating one member at once: the database's unique index decides.
fn unique_violation(error: sqlx::Error, email: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::MemberExists(email.to_owned())
        }
        _ => StoreError::Database(error),
    }
}
