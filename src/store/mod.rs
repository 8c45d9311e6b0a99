//! The member database, and the only place with SQL. SQLite (the default, in WAL mode) and
//! PostgreSQL (for several edge replicas) run the same queries through sqlx's `Any` driver.
//! Times are stored as Unix seconds, which both backends hold as 64-bit integers.
//!
//! Events are append-only: nothing here updates or deletes a member's history, and the
//! current state is always derived from it by `entitle`.

mod auth;
mod console_member;
mod console_payments;
mod console_people;
mod console_stats;
mod disputes;
mod import;
mod member_billing;
mod members;
mod migrate;
mod notices;
mod operators;
mod stripe;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use console_payments::{DeliveryRow, EventFilter, StripeEventPage};
pub use console_people::{
    PageAt, PeopleCounts, PeopleFilter, PeopleOrder, PeoplePage, PeopleSort, PersonRow,
};
pub use console_stats::{
    MemberTotals, PayingCount, RightCount, RightKind, WEEK_ORIGIN, WEEK_SECONDS, WeekCount,
};
pub use disputes::DisputeRow;
pub use member_billing::{BilledPurchase, BilledSubscription, MemberBilling};
pub use members::{Member, NewMember, StoredEvent};
pub use notices::{Claim, Delivery, DeliveryCounts, MemberState, NewNotice};
pub use operators::AuditEntry;
pub use stripe::{Ledger, StripeEventRow, SubscriptionRow};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use `sqlite://PATH` or `postgres://USER@HOST/DB`")]
    UnsupportedUrl(String),
    #[error("could not open the member database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("could not create the folder for {0}: {1}")]
    Folder(String, std::io::Error),
    #[error("database migration {version} failed: {source}")]
    Migrate {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the member database is newer than this gatehouse (schema {found}, known up to {known}): upgrade gatehouse"
    )]
    TooNew { found: i64, known: i64 },
    #[error("a member with email {0} already exists")]
    MemberExists(String),
    #[error("no member with email {0}")]
    NoMember(String),
    #[error("an event could not be recorded: {0}")]
    Invalid(String),
    #[error("the member database failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// A pool of connections to the member database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl StoreError {
    /// What kind of failure this is, without the values in it (emails, ids): for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::UnsupportedUrl(_) => "unsupported database URL",
            StoreError::Open { .. } => "cannot open the database",
            StoreError::Folder(..) => "cannot create the database folder",
            StoreError::Migrate { .. } => "migration failed",
            StoreError::TooNew { .. } => "database newer than this gatehouse",
            StoreError::MemberExists(_) => "member already exists",
            StoreError::NoMember(_) => "no such member",
            StoreError::Invalid(_) => "invalid event",
            StoreError::Database(_) => "database error",
        }
    }
}

impl Store {
    /// Opens (creating a SQLite file and its folder if needed) and migrates the database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let shown = redact_url(url);
        if backend == Backend::Sqlite {
            create_sqlite_folder(url)?;
        }
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|source| StoreError::Open {
            url: shown.clone(),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            // A local file cannot drop a connection the way a network can; pinging before
            // each use cost about 15 µs per request (BENCHMARKS.md).
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // second writer wait instead of failing at once.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { url: shown, source })?;
        let store = Store { pool, backend };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// A transaction that will write. SQLite takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a transaction that reads first and writes later cannot wait for the lock once another
    /// writer has committed since its read, and fails with "database is locked" instead.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs: the password of the user
/// part (which may itself hold `@` or `:`), and the value of any query parameter whose name
/// speaks of a secret (`?password=`, `sslpassword=`, `token=`…).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // A file path may hold `@`; only server URLs carry a user part.
    let (main, query) = if scheme.starts_with("sqlite") {
        match rest.split_once('?') {
            Some((main, query)) => (main.to_owned(), Some(query)),
            None => (rest.to_owned(), None),
        }
    } else {
        // The user part ends at the last `@`, and everything between `user:` and it is the
        // password, whatever it holds (`@`, `/`, `?` unescaped).
        let (authority, tail) = match rest.rsplit_once('@') {
            Some((userinfo, after)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                let shown = if userinfo.contains(':') {
                    format!("{user}:***@")
                } else {
                    format!("{userinfo}@")
                };
                (shown, after)
            }
            None => (String::new(), rest),
        };
        match tail.split_once('?') {
            Some((host, query)) => (format!("{authority}{host}"), Some(query)),
            None => (format!("{authority}{tail}"), None),
        }
    };
    let query = query.map(|query| {
        query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if names_a_secret(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(query) => format!("{scheme}://{main}?{query}"),
        None => format!("{scheme}://{main}"),
    }
}

fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key"]
        .iter()
        .any(|word| name.contains(word))
}

fn create_sqlite_folder(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Folder(parent.display().to_string(), e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_shown_urls() {
        assert_eq!(
            redact_url("postgres://gh:s3cret@db:5432/members"),
            "postgres://gh:***@db:5432/members"
        );
        assert_eq!(
            redact_url("sqlite://.gatehouse/members.db"),
            "sqlite://.gatehouse/members.db"
        );
    }

    #[test]
    fn a_password_with_an_at_sign_or_in_the_query_is_redacted() {
        let shown = redact_url("postgres://gh:p@ss:w@rd@db:5432/members");
        assert_eq!(shown, "postgres://gh:***@db:5432/members");
        let shown = redact_url("postgres://db/members?user=gh&password=hunter2&sslmode=require");
        assert_eq!(
            shown,
            "postgres://db/members?user=gh&password=***&sslmode=require"
        );
        let shown = redact_url("postgres://gh@db/members?sslpassword=x&application_name=edge");
        assert_eq!(
            shown,
            "postgres://gh@db/members?sslpassword=***&application_name=edge"
        );
        assert_eq!(
            redact_url("sqlite:///srv/a@b/members.db"),
            "sqlite:///srv/a@b/members.db"
        );
        for url in [
            "postgres://gh:pa?ss@db/m",
            "postgres://gh:pa/ss@db/m",
            "postgres://gh:p@ss?x=1@db/m",
        ] {
            let shown = redact_url(url);
            assert!(shown.starts_with("postgres://gh:***@db"), "{url} → {shown}");
            assert!(!shown.contains("pa") && !shown.contains("ss"), "{shown}");
        }
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        assert!(
            matches!(backend_of("mysql://x:pw@h/db"), Err(StoreError::UnsupportedUrl(u)) if !u.contains("pw"))
        );
        assert_eq!(
            backend_of("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
    }
}
