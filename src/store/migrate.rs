//! Schema migrations, embedded in the binary: one SQL file per version and backend, applied in
//! order inside a transaction and recorded in `gatehouse_migrations`.

use sqlx::Row;

use super::{Backend, Store, StoreError};

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("migrations/sqlite/0001_members.sql"),
        postgres: include_str!("migrations/postgres/0001_members.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("migrations/sqlite/0002_payments.sql"),
        postgres: include_str!("migrations/postgres/0002_payments.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("migrations/sqlite/0003_delivery_queues.sql"),
        postgres: include_str!("migrations/postgres/0003_delivery_queues.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("migrations/sqlite/0004_revocations.sql"),
        postgres: include_str!("migrations/postgres/0004_revocations.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("migrations/sqlite/0005_console.sql"),
        postgres: include_str!("migrations/postgres/0005_console.sql"),
    },
];

pub(super) async fn run(store: &Store) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS gatehouse_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&store.pool)
    .await?;
    let mut tx = store.pool.begin().await?;
    if store.backend == Backend::Postgres {
        // Replicas starting together: the second waits here, then finds the work done.
        sqlx::query("LOCK TABLE gatehouse_migrations IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM gatehouse_migrations")
        .fetch_one(&mut *tx)
        .await?;
    let current: i64 = row.try_get("v")?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match store.backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        let failed = |source| StoreError::Migrate {
            version: migration.version,
            source,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(failed)?;
        sqlx::query("INSERT INTO gatehouse_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(jiff::Timestamp::now().as_second())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    tx.commit().await?;
    Ok(())
}
