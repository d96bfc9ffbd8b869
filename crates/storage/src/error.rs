//! What can go wrong, naming the object and field where there is one.

use std::fmt;
use tollswitch_model::provisioning::{ObjectKind, ProvisioningError};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database URL cannot be used.
    #[error("database URL {url:?}: {message}")]
    BadUrl {
        /// The URL, password redacted.
        url: String,
        /// Why.
        message: String,
    },
    /// The data directory cannot be used.
    #[error("data directory {path:?}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        message: String,
    },
    /// The database did not accept a connection.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A schema migration failed; the database is left at the previous version.
    #[error("schema migration {version} ({description}) failed: {source}")]
    Migration {
        /// The migration's version number.
        version: i64,
        /// What it does.
        description: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The database was migrated by a newer Tollswitch.
    #[error(
        "the database schema is at version {found}, newer than this binary knows ({known}); \
         upgrade tollswitch"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this binary has.
        known: i64,
    },
    /// A provisioning set failed validation; nothing was written. Holds every problem.
    #[error("{}", InvalidList(.0))]
    Invalid(Vec<ProvisioningError>),
    /// A system parameter name or value was refused.
    #[error("parameter {name}: {message}")]
    Parameter {
        /// The parameter name.
        name: String,
        /// Why, with the accepted values.
        message: String,
    },
    /// A stored value cannot be read back into the model (edited by hand, or a bug).
    #[error("stored {kind} {name:?}: field {field}: {message}")]
    Corrupt {
        /// The kind of object.
        kind: ObjectKind,
        /// The object's name.
        name: String,
        /// The field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No account has this name.
    #[error("no account named {0:?}")]
    UnknownAccount(String),
    /// A CDR or report query's time range is empty or longer than allowed
    /// (`SERVER_QUERY_CDR_MAX_DAY_INTERVAL`).
    #[error("time range: {0}")]
    QueryRange(String),
    /// A record handed to storage cannot be written as it is; nothing was written.
    #[error("{table} {id:?}: field {field}: {message}; nothing was written")]
    InvalidRecord {
        /// The table it was meant for (`cdr`, `ledger`).
        table: &'static str,
        /// The record's id.
        id: String,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A stored CDR or ledger row cannot be read back into the model.
    #[error("stored {table} {id:?}: field {field}: {message}")]
    CorruptRecord {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: String,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Applying ledger entries would take an account's balance out of the representable range;
    /// nothing was written.
    #[error("account {0:?}: the balance would overflow; nothing was written")]
    BalanceOverflow(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

struct InvalidList<'a>(&'a [ProvisioningError]);

impl fmt::Display for InvalidList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "provisioning is invalid ({n} error{}); nothing was written",
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// One refused row of a rate CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The column (its canonical name, see [`crate::RATE_CSV_COLUMNS`]), or `row`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// Why a rate import failed. Whatever the reason, the table's rates are unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No rate table has this name.
    #[error("no rate table named {0:?} (create it with `tollswitch provision apply` first)")]
    UnknownTable(String),
    /// The header row is missing, names an unknown column or lacks a required one.
    #[error("rate table {table:?}: CSV header: {message}; nothing was imported")]
    Header {
        /// The rate table.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// Rows were refused. `errors` holds the first ones (up to
    /// [`crate::ImportOptions::max_errors`]); `truncated` says whether reading stopped there.
    #[error("{}", RowList { table, errors, truncated: *truncated })]
    Rows {
        /// The rate table.
        table: String,
        /// The refused rows, in file order (overlap errors last).
        errors: Vec<RowError>,
        /// True when more errors may follow the ones listed.
        truncated: bool,
    },
    /// The file could not be read.
    #[error("rate table {table:?}: reading the CSV: {message}; nothing was imported")]
    Read {
        /// The rate table.
        table: String,
        /// The I/O or CSV error.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> ImportError {
        ImportError::Storage(StorageError::Database(e))
    }
}

struct RowList<'a> {
    table: &'a str,
    errors: &'a [RowError],
    truncated: bool,
}

impl fmt::Display for RowList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "rate table {:?}: {n}{} error{} in the file; nothing was imported",
            self.table,
            if self.truncated { "+" } else { "" },
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.errors {
            write!(f, "\n  {e}")?;
        }
        if self.truncated {
            write!(f, "\n  (stopped after {n} errors)")?;
        }
        Ok(())
    }
}
