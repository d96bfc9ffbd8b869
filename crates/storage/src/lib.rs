//! Storage: provisioning, system parameters, rate decks, CDRs and the ledger in SQLite (the
//! embedded default) or PostgreSQL (production), behind one async API.
//!
//! ```text
//!   Storage::connect(url) ── runs migrations (migrations/sqlite or migrations/postgres)
//!        │
//!        ├── apply / plan / load_provisioning / export ─┐
//!        ├── parameter / set_parameter / parameters  ───┤  one code path for both databases:
//!        ├── apply_ledger / pay / ledger_for / payments ┤  sqlx `Any` pool, `$1, $2…`
//!        ├── cdr_search / report_by_*                ───┘  placeholders
//!        │
//!        ├── insert_cdrs(&[Cdr]) ── per-database bulk insert, one transaction, idempotent by id
//!        │                          (SQLite multi-row `?` INSERT / PostgreSQL UNNEST)
//!        └── import_rates(table, csv) ── parser thread ──batches──► per-database bulk insert
//!                                            (SQLite `?` rows / PostgreSQL UNNEST into a staging
//!                                             table, then moved into `rate` in prefix order)
//! ```
//!
//! Provisioning is declarative: [`Storage::apply`] validates a whole [`Provisioning`] with
//! [`Provisioning::validate`] and then makes the database hold exactly that set, in one
//! transaction. Objects keep their database id across applies as long as their name stays the
//! same. [`Storage::export`] gives the set back in [`normalize`]d order; `export` after
//! `apply(x)` equals `normalize(x)` except for balances: an existing account's balance belongs
//! to the ledger ([`Storage::apply_ledger`], [`Storage::pay`]) and `apply` never changes it; the
//! file's balance is only the opening balance of a new account.
//!
//! CDRs and ledger rows name accounts and gateways instead of referring to ids: history
//! outlives the objects it mentions. Both are written idempotently by their own stable ids, so a
//! journal can be replayed after a crash.
//!
//! Money is stored as 64-bit integer micro-units and timestamps as 64-bit integers (unix
//! seconds in provisioning, milliseconds in CDRs and the ledger): SQLite's DECIMAL loses
//! digits, integers do not. Reports aggregate in SQL and compute ratios in integers.
//!
//! [`Provisioning`]: tollswitch_model::provisioning::Provisioning
//! [`Provisioning::validate`]: tollswitch_model::provisioning::Provisioning::validate

mod cdr;
mod error;
mod gateways;
mod ledger;
mod migrate;
mod outbox;
mod params;
mod provisioning;
mod rates;
mod report;
mod revision;
mod users;

pub use cdr::{CdrFilter, MAX_SEARCH_LIMIT, TimeRange};
pub use error::{ImportError, RowError, StorageError};
pub use gateways::{GatewayKind, GatewaySettings};
pub use ledger::LedgerSummary;
pub use provisioning::{ApplySummary, Counts, normalize};
pub use rates::{ImportOptions, ImportSummary, RATE_CSV_COLUMNS, RateTableSummary};
pub use report::{
    AccountReport, AreaReport, CodeCount, GatewayPoint, GatewaySeries, HourReport,
    MappingGatewayReport, RoutingGatewayReport, SeriesStep, TrafficStats, VendorReport,
};
pub use revision::LiveBalances;
pub use users::{AuditEntry, Role, SESSION_TOUCH_MS, User};

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AnyPool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The file name of the SQLite database inside a data directory.
pub const SQLITE_FILE_NAME: &str = "tollswitch.db";

/// Which database a [`Storage`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one file, embedded.
    Sqlite,
    /// PostgreSQL: shared by several nodes.
    Postgres,
}

impl Backend {
    /// From a database URL's scheme: `sqlite:`, `postgres:` or `postgresql:`.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The pool used where one database's own driver is worth it (bulk rate import).
#[derive(Debug, Clone)]
enum Native {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to the Tollswitch database, with the schema migrated.
///
/// Cheap to clone (pools are reference counted).
#[derive(Debug, Clone)]
pub struct Storage {
    pool: AnyPool,
    native: Native,
}

/// The SQLite URL of the database in data directory `dir`:
/// `sqlite:///abs/DIR/tollswitch.db?mode=rwc` (the directory and file are created on connect).
pub fn sqlite_url_for_data_dir(dir: &Path) -> Result<String, StorageError> {
    let abs = std::path::absolute(dir).map_err(|e| StorageError::DataDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let file = abs.join(SQLITE_FILE_NAME);
    let text = file.to_str().ok_or_else(|| StorageError::DataDir {
        path: dir.display().to_string(),
        message: "the path is not valid UTF-8".into(),
    })?;
    // sqlx percent-decodes the path: escape what would end it or be decoded.
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            ' ' => escaped.push_str("%20"),
            c => escaped.push(c),
        }
    }
    Ok(format!("sqlite://{escaped}?mode=rwc"))
}

/// Time to wait for a pooled connection (and for PostgreSQL to answer at all).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL advisory lock key held by every provisioning write transaction, so that two nodes
/// applying at once serialise instead of interleaving ("TSWPROV0" in ASCII).
const PG_PROVISIONING_LOCK: i64 = 0x5453_5750_524F_5630;

impl Storage {
    /// Connects to `url` (`sqlite:PATH`, `sqlite://PATH?mode=rwc`, `postgres://…`) and brings the
    /// schema up to date. A SQLite URL without `mode=` gets `mode=rwc`: the file and its
    /// directory are created. In-memory SQLite is refused (two pools would see two databases).
    pub async fn connect(url: &str) -> Result<Storage, StorageError> {
        sqlx::any::install_default_drivers();
        let bad = |message: &str| StorageError::BadUrl {
            url: redact(url),
            message: message.to_owned(),
        };
        let backend = Backend::of_url(url)
            .ok_or_else(|| bad("the scheme must be sqlite:, postgres: or postgresql:"))?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let native = match backend {
            Backend::Sqlite => {
                let opts =
                    SqliteConnectOptions::from_str(&url).map_err(|e| StorageError::BadUrl {
                        url: redact(&url),
                        message: e.to_string(),
                    })?;
                let file = opts.get_filename();
                if url.contains(":memory:")
                    || url.contains("mode=memory")
                    || file.as_os_str().is_empty()
                {
                    return Err(bad("in-memory SQLite is not supported; give a file path"));
                }
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StorageError::DataDir {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    })?;
                }
                Native::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_lazy_with(opts),
                )
            }
            Backend::Postgres => Native::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy(&url)
                    .map_err(|e| StorageError::BadUrl {
                        url: redact(&url),
                        message: e.to_string(),
                    })?,
            ),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(&url)
            .await
            .map_err(|e| StorageError::Connect {
                url: redact(&url),
                source: e,
            })?;
        let storage = Storage { pool, native };
        migrate::run(&storage).await?;
        Ok(storage)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.native {
            Native::Sqlite(_) => Backend::Sqlite,
            Native::Postgres(_) => Backend::Postgres,
        }
    }

    /// The `Any` pool (one code path for both databases; hand-number `$1, $2…` placeholders).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
        match &self.native {
            Native::Sqlite(p) => p.close().await,
            Native::Postgres(p) => p.close().await,
        }
    }

    /// Begins a write transaction on the `Any` pool that other writers wait for: `BEGIN
    /// IMMEDIATE` on SQLite (no lock upgrade that could fail half way), the provisioning
    /// advisory lock on PostgreSQL.
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, StorageError> {
        match self.backend() {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_PROVISIONING_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

/// `url` with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    // scheme://user:password@host…
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_url_is_absolute_and_escaped() {
        let url = sqlite_url_for_data_dir(Path::new("/tmp/a b/c%d?e")).unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b/c%25d%3Fe/tollswitch.db?mode=rwc");
        let opts = SqliteConnectOptions::from_str(&url).unwrap();
        assert_eq!(
            opts.get_filename(),
            Path::new("/tmp/a b/c%d?e/tollswitch.db")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@db/x"), "postgres://u:***@db/x");
        assert_eq!(redact("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact("sqlite:x.db"), "sqlite:x.db");
    }

    #[test]
    fn backends_by_scheme() {
        assert_eq!(Backend::of_url("sqlite:x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), None);
    }
}
