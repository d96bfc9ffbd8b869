//! Versioned schema migrations, embedded in the binary.
//!
//! Each migration has one SQL file per database (`migrations/sqlite/NNNN_*.sql`,
//! `migrations/postgres/NNNN_*.sql`): the tables and their meaning are the same, the dialect
//! (identity columns) is not. The pending ones run in one transaction together with their rows
//! in `schema_migration`, so a failed migration leaves the previous version intact. On
//! PostgreSQL the provisioning advisory lock keeps two nodes starting at once from migrating
//! twice; on SQLite `BEGIN IMMEDIATE` does the same.

use crate::{Backend, Storage, StorageError};
use sqlx::Row;

struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, oldest first. Append only: never edit one that has shipped.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "provisioning",
        sqlite: include_str!("../migrations/sqlite/0001_provisioning.sql"),
        postgres: include_str!("../migrations/postgres/0001_provisioning.sql"),
    },
    Migration {
        version: 2,
        description: "cdr and ledger",
        sqlite: include_str!("../migrations/sqlite/0002_cdr_ledger.sql"),
        postgres: include_str!("../migrations/postgres/0002_cdr_ledger.sql"),
    },
    Migration {
        version: 3,
        description: "change counters",
        sqlite: include_str!("../migrations/sqlite/0003_revision.sql"),
        postgres: include_str!("../migrations/postgres/0003_revision.sql"),
    },
    Migration {
        version: 4,
        description: "cdr push outbox",
        sqlite: include_str!("../migrations/sqlite/0004_cdr_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0004_cdr_outbox.sql"),
    },
    Migration {
        version: 5,
        description: "users, tokens, audit",
        sqlite: include_str!("../migrations/sqlite/0005_users.sql"),
        postgres: include_str!("../migrations/postgres/0005_users.sql"),
    },
    Migration {
        version: 6,
        description: "expiring sessions",
        sqlite: include_str!("../migrations/sqlite/0006_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0006_sessions.sql"),
    },
];

/// The newest schema version this binary knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub(crate) async fn run(storage: &Storage) -> Result<(), StorageError> {
    let backend = storage.backend();
    if backend == Backend::Sqlite {
        // WAL: readers never block the writer. Persistent in the file; set outside a transaction.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(storage.pool())
            .await?;
    }
    let mut tx = storage.begin_write().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migration (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migration")
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    if current > latest_version() {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: latest_version(),
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let failed = |source| StorageError::Migration {
            version: m.version,
            description: m.description,
            source,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO schema_migration (version, description, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.description)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    tx.commit().await?;
    Ok(())
}
