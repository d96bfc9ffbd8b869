//! Bulk rate import from CSV: replaces every rate of one rate table, all or nothing.
//!
//! ```text
//!   reader ─► parser thread (spawn_blocking): CSV → validated rows, errors with line numbers,
//!             │                               overlap check at the end
//!             └─ batches over a bounded channel ─► async inserter, one write transaction:
//!                                                  rows staged in a temporary table (SQLite:
//!                                                  multi-row `?` INSERTs; PostgreSQL: UNNEST);
//!                                                  if the parser found no error: DELETE the
//!                                                  table's rates, INSERT … SELECT the staged
//!                                                  rows in prefix order, COMMIT.
//! ```
//!
//! Parsing and inserting overlap, so a million-row deck costs little more than the inserts. The
//! hot path uses each database's own driver (sqlx `Any` with `$n` placeholders is an order of
//! magnitude slower on SQLite); provisioning proper stays on the one `Any` code path.
//!
//! Columns (header row required, names case-insensitive, spaces and `-` read as `_`):
//!
//! | column | aliases | required | meaning |
//! |---|---|---|---|
//! | `prefix` | `code` | yes | 0–32 digits |
//! | `area` | `area_name`, `destination` | no | area name, may be empty |
//! | `price` | `rate`, `price_per_minute`, `rate_per_minute` | yes | per minute, decimal, ≥ 0, ≤ 6 decimals |
//! | `first_increment` | `first_increment_secs` | no | seconds ≥ 1; empty = 60 |
//! | `next_increment` | `next_increment_secs` | no | seconds ≥ 1; empty = 60 |
//! | `connect_fee` | `connection_fee` | no | decimal ≥ 0; empty = 0 |
//! | `effective_from` | | no | RFC 3339 or unix seconds; empty = always |
//! | `effective_until` | `effective_to` | no | RFC 3339 or unix seconds, exclusive; empty = open |

use crate::error::{ImportError, RowError};
use crate::{Native, PG_PROVISIONING_LOCK, Storage};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Row};
use std::io::BufRead;
use tokio::sync::mpsc;
use tollswitch_model::Money;
use tollswitch_model::provisioning::MAX_PREFIX_DIGITS;

/// The canonical CSV column names, in the usual order.
pub const RATE_CSV_COLUMNS: [&str; 8] = [
    "prefix",
    "area",
    "price",
    "first_increment",
    "next_increment",
    "connect_fee",
    "effective_from",
    "effective_until",
];

/// Accepted spellings of each column, same order as [`RATE_CSV_COLUMNS`].
const ALIASES: [&[&str]; 8] = [
    &["prefix", "code"],
    &["area", "area_name", "destination"],
    &["price", "rate", "price_per_minute", "rate_per_minute"],
    &["first_increment", "first_increment_secs"],
    &["next_increment", "next_increment_secs"],
    &["connect_fee", "connection_fee"],
    &["effective_from"],
    &["effective_until", "effective_to"],
];

const PREFIX: usize = 0;
const AREA: usize = 1;
const PRICE: usize = 2;
const FIRST: usize = 3;
const NEXT: usize = 4;
const FEE: usize = 5;
const FROM: usize = 6;
const UNTIL: usize = 7;

/// Billing increment used when the column is absent or empty (seconds).
const DEFAULT_INCREMENT: i64 = 60;

/// Rows per multi-row INSERT on SQLite (8 parameters each; SQLite allows 32 766).
const SQLITE_BATCH: usize = 500;
/// Rows per UNNEST INSERT on PostgreSQL.
const PG_BATCH: usize = 5_000;
/// Batches in flight between the parser and the inserter.
const CHANNEL_DEPTH: usize = 8;

/// How [`Storage::import_rates`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Stop reading after this many row errors (at least 1).
    pub max_errors: usize,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions { max_errors: 100 }
    }
}

/// What a successful import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The rate table.
    pub table: String,
    /// Rates now in the table (rows of the file).
    pub imported: u64,
    /// Rates the table held before (all removed).
    pub replaced: u64,
}

/// A rate table as lists show it: its name, currency and how many rates it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RateTableSummary {
    /// The rate table.
    pub name: String,
    /// The currency of its prices.
    pub currency: String,
    /// Rates it holds (every version).
    pub rates: u64,
}

/// One validated row, ready to insert.
#[derive(Debug)]
struct RateRow {
    prefix: String,
    area: String,
    price: i64,
    first: i64,
    next: i64,
    fee: i64,
    from: Option<i64>,
    until: Option<i64>,
}

/// What the parser thread found.
struct Parsed {
    rows: u64,
    errors: Vec<RowError>,
    truncated: bool,
}

enum ParseFail {
    Header(String),
    Read(String),
}

/// Canonical form of a header cell: lower case, trimmed, spaces and `-` as `_`.
fn header_key(h: &str) -> String {
    h.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Column index in the file for each of [`RATE_CSV_COLUMNS`].
fn map_header(header: &csv::ByteRecord) -> Result<[Option<usize>; 8], String> {
    let mut at: [Option<usize>; 8] = [None; 8];
    for (i, cell) in header.iter().enumerate() {
        let text = std::str::from_utf8(cell).map_err(|_| "header is not UTF-8".to_owned())?;
        let key = header_key(text);
        let Some(col) = ALIASES
            .iter()
            .position(|names| names.contains(&key.as_str()))
        else {
            return Err(format!(
                "unknown column {text:?} (columns: {})",
                RATE_CSV_COLUMNS.join(", ")
            ));
        };
        if at[col].is_some() {
            return Err(format!("column {} appears twice", RATE_CSV_COLUMNS[col]));
        }
        at[col] = Some(i);
    }
    for required in [PREFIX, PRICE] {
        if at[required].is_none() {
            return Err(format!(
                "required column {} is missing",
                RATE_CSV_COLUMNS[required]
            ));
        }
    }
    Ok(at)
}

/// A prefix packed so that integer order is prefix order, for the overlap check: digit `d` →
/// nibble `d + 1`, most significant first (32 digits fill 128 bits; end of prefix is nibble 0).
fn prefix_key(p: &str) -> u128 {
    p.bytes()
        .take(MAX_PREFIX_DIGITS)
        .enumerate()
        .fold(0u128, |k, (i, b)| {
            k | (u128::from(b.wrapping_sub(b'0').min(9) + 1) << (124 - 4 * i))
        })
}

fn key_prefix(mut k: u128) -> String {
    let mut s = String::new();
    while k != 0 {
        let nibble = (k >> 124) as u8;
        s.push(char::from(b'0' + nibble - 1));
        k <<= 4;
    }
    s
}

fn parse_money(text: &str, what: &str) -> Result<i64, String> {
    let m: Money = text.parse().map_err(|e| format!("{what} {text:?}: {e}"))?;
    if m.is_negative() {
        return Err(format!("{what} must not be negative"));
    }
    Ok(m.micros())
}

fn parse_increment(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(DEFAULT_INCREMENT);
    }
    match text.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(i64::from(n)),
        _ => Err(format!("{text:?} is not a whole number of seconds ≥ 1")),
    }
}

/// Unix seconds, or RFC 3339 (`2026-01-01T00:00:00Z`, `2026-01-01T08:00:00+08:00`).
fn parse_time(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{text:?} is out of range"));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| Some(t.as_second()))
        .map_err(|_| {
            format!("{text:?} is neither RFC 3339 (2026-01-01T00:00:00Z) nor unix seconds")
        })
}

/// Reads one data row; every bad field is pushed to `errors`.
fn parse_row(
    rec: &csv::ByteRecord,
    at: &[Option<usize>; 8],
    line: u64,
    errors: &mut Vec<RowError>,
) -> Option<RateRow> {
    let before = errors.len();
    let mut err = |col: usize, message: String| {
        errors.push(RowError {
            line,
            field: RATE_CSV_COLUMNS[col].to_owned(),
            message,
        });
    };
    let mut text = [""; 8];
    for (col, slot) in text.iter_mut().enumerate() {
        if let Some(i) = at[col] {
            match std::str::from_utf8(rec.get(i).unwrap_or_default()) {
                Ok(s) => *slot = s,
                Err(_) => err(col, "not UTF-8".to_owned()),
            }
        }
    }
    let prefix = text[PREFIX];
    let price_text = text[PRICE];
    let fee_text = text[FEE];

    if prefix.len() > MAX_PREFIX_DIGITS || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        err(
            PREFIX,
            format!("{prefix:?} must be 0..={MAX_PREFIX_DIGITS} digits"),
        );
    }
    let price = if price_text.is_empty() {
        err(PRICE, "a price is required".to_owned());
        0
    } else {
        parse_money(price_text, "price").unwrap_or_else(|m| {
            err(PRICE, m);
            0
        })
    };
    let first = parse_increment(text[FIRST]).unwrap_or_else(|m| {
        err(FIRST, m);
        0
    });
    let next = parse_increment(text[NEXT]).unwrap_or_else(|m| {
        err(NEXT, m);
        0
    });
    let fee = if fee_text.is_empty() {
        0
    } else {
        parse_money(fee_text, "connect fee").unwrap_or_else(|m| {
            err(FEE, m);
            0
        })
    };
    let from = parse_time(text[FROM]).unwrap_or_else(|m| {
        err(FROM, m);
        None
    });
    let until = parse_time(text[UNTIL]).unwrap_or_else(|m| {
        err(UNTIL, m);
        None
    });
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        err(UNTIL, "must be later than effective_from".to_owned());
    }
    (errors.len() == before).then(|| RateRow {
        prefix: prefix.to_owned(),
        area: text[AREA].to_owned(),
        price,
        first,
        next,
        fee,
        from,
        until,
    })
}

/// The parser thread: reads `reader`, sends batches of valid rows while no error has been
/// seen, and returns what it found. Stops early when the receiver is gone.
fn parse<R: BufRead>(
    reader: R,
    max_errors: usize,
    batch_rows: usize,
    tx: &mpsc::Sender<Vec<RateRow>>,
) -> Result<Parsed, ParseFail> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = csv
        .byte_headers()
        .map_err(|e| ParseFail::Read(e.to_string()))?
        .clone();
    if header.is_empty() || header.iter().all(<[u8]>::is_empty) {
        return Err(ParseFail::Header(format!(
            "the file is empty; the first line must name the columns ({})",
            RATE_CSV_COLUMNS.join(", ")
        )));
    }
    let at = map_header(&header).map_err(ParseFail::Header)?;

    let mut errors = Vec::new();
    let mut rows = 0u64;
    let mut batch = Vec::with_capacity(batch_rows);
    // (prefix key, from, until, line) of every valid row, for the overlap check.
    let mut versions: Vec<(u128, i64, i64, u64)> = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut truncated = false;
    loop {
        match csv.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // Unclosed quotes and the like: the rest of the file cannot be trusted.
                let line = e.position().map_or(0, csv::Position::line);
                match e.into_kind() {
                    csv::ErrorKind::Io(io) => return Err(ParseFail::Read(io.to_string())),
                    kind => errors.push(RowError {
                        line,
                        field: "row".into(),
                        message: format!("{kind:?}"),
                    }),
                }
                truncated = true;
                break;
            }
        }
        let line = rec.position().map_or(0, csv::Position::line);
        if rec.len() != header.len() {
            errors.push(RowError {
                line,
                field: "row".into(),
                message: format!(
                    "{} fields, but the header names {}",
                    rec.len(),
                    header.len()
                ),
            });
        } else if let Some(row) = parse_row(&rec, &at, line, &mut errors) {
            rows += 1;
            versions.push((
                prefix_key(&row.prefix),
                row.from.unwrap_or(i64::MIN),
                row.until.unwrap_or(i64::MAX),
                line,
            ));
            if errors.is_empty() {
                batch.push(row);
                if batch.len() == batch_rows {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                    if tx.blocking_send(full).is_err() {
                        // The inserter stopped (its error is the one reported).
                        return Ok(Parsed {
                            rows,
                            errors,
                            truncated,
                        });
                    }
                }
            }
        }
        if errors.len() >= max_errors {
            errors.truncate(max_errors);
            truncated = true;
            break;
        }
    }

    // Two versions of one prefix must not be in force at the same moment.
    if !truncated {
        versions.sort_unstable();
        for w in versions.windows(2) {
            let ((ka, _, until_a, line_a), (kb, from_b, _, line_b)) = (w[0], w[1]);
            if ka == kb && until_a > from_b {
                errors.push(RowError {
                    line: line_b,
                    field: "effective_from".into(),
                    message: format!(
                        "prefix {:?} has another rate (line {line_a}) in force at the same time",
                        key_prefix(kb)
                    ),
                });
                if errors.len() >= max_errors {
                    truncated = true;
                    break;
                }
            }
        }
    }
    if errors.is_empty() && !batch.is_empty() && tx.blocking_send(batch).is_err() {
        return Ok(Parsed {
            rows,
            errors,
            truncated,
        });
    }
    Ok(Parsed {
        rows,
        errors,
        truncated,
    })
}

impl Storage {
    /// Every rate table with its number of rates, by name (without reading the rates).
    pub async fn rate_tables(&self) -> Result<Vec<RateTableSummary>, crate::StorageError> {
        let rows = sqlx::query(
            "SELECT t.name, t.currency, COUNT(r.id) AS rates FROM rate_table t \
             LEFT JOIN rate r ON r.rate_table_id = t.id GROUP BY t.id, t.name, t.currency \
             ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("rates")?;
                Ok(RateTableSummary {
                    name: r.try_get("name")?,
                    currency: r.try_get("currency")?,
                    rates: u64::try_from(n).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Replaces every rate of rate table `table` with the rows of a CSV file (see the module
    /// documentation for the columns), in one transaction. Each row is validated; on any error
    /// (up to `options.max_errors` are collected, with line numbers) nothing changes.
    ///
    /// The file is parsed on a blocking thread while the rows are inserted.
    pub async fn import_rates<R>(
        &self,
        table: &str,
        reader: R,
        options: ImportOptions,
    ) -> Result<ImportSummary, ImportError>
    where
        R: BufRead + Send + 'static,
    {
        let batch_rows = match self.native {
            Native::Sqlite(_) => SQLITE_BATCH,
            Native::Postgres(_) => PG_BATCH,
        };
        let max_errors = options.max_errors.max(1);
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let parser =
            tokio::task::spawn_blocking(move || parse(reader, max_errors, batch_rows, &tx));
        let inserted = match &self.native {
            Native::Sqlite(pool) => sqlite_import(pool, table, rx).await,
            Native::Postgres(pool) => pg_import(pool, table, rx).await,
        };
        // On an insert error the receiver is gone, so the parser stops at its next batch.
        let (tx_db, table_id, imported) = inserted?;
        let parsed = parser
            .await
            .map_err(|e| ImportError::Read {
                table: table.to_owned(),
                message: format!("the CSV parser failed: {e}"),
            })?
            .map_err(|f| match f {
                ParseFail::Header(message) => ImportError::Header {
                    table: table.to_owned(),
                    message,
                },
                ParseFail::Read(message) => ImportError::Read {
                    table: table.to_owned(),
                    message,
                },
            })?;
        if !parsed.errors.is_empty() {
            // Dropping the transaction rolls it back.
            drop(tx_db);
            return Err(ImportError::Rows {
                table: table.to_owned(),
                errors: parsed.errors,
                truncated: parsed.truncated,
            });
        }
        debug_assert_eq!(parsed.rows, imported);
        let replaced = tx_db.finish(table_id).await?;
        Ok(ImportSummary {
            table: table.to_owned(),
            imported,
            replaced,
        })
    }
}

/// The open transaction of an import, the file's rows staged in the temporary table
/// `rate_import`; committed only when the whole file was valid.
/// A running switch notices the new rates by this counter.
const BUMP_REVISION: &str = "UPDATE meta SET value = value + 1 WHERE key = 'provisioning_revision'";

enum ImportTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Staging table for one import: no index, and no WAL on PostgreSQL (temporary tables are not
/// logged). `COLLATE "C"` on PostgreSQL sorts prefixes byte-wise, as SQLite does.
const CREATE_STAGING_SQLITE: &str = "CREATE TEMP TABLE rate_import (prefix TEXT NOT NULL, \
    area TEXT NOT NULL, price_micros BIGINT NOT NULL, first_increment BIGINT NOT NULL, \
    next_increment BIGINT NOT NULL, connect_fee_micros BIGINT NOT NULL, effective_from BIGINT, \
    effective_until BIGINT)";
const CREATE_STAGING_POSTGRES: &str = "CREATE TEMP TABLE rate_import (prefix TEXT COLLATE \"C\" \
    NOT NULL, area TEXT NOT NULL, price_micros BIGINT NOT NULL, first_increment BIGINT NOT NULL, \
    next_increment BIGINT NOT NULL, connect_fee_micros BIGINT NOT NULL, effective_from BIGINT, \
    effective_until BIGINT) ON COMMIT DROP";

/// Moves the staged rows into `rate` in (prefix, effective_from) order, so the
/// (rate_table_id, prefix) index grows at one end instead of being written all over: on SQLite a
/// million rows in random order take about 5 s this way and over 20 s inserted directly.
const MOVE_STAGED: &str = "INSERT INTO rate (rate_table_id, prefix, area, price_micros, \
    first_increment, next_increment, connect_fee_micros, effective_from, effective_until) \
    SELECT $1, prefix, area, price_micros, first_increment, next_increment, connect_fee_micros, \
    effective_from, effective_until FROM rate_import ORDER BY prefix, effective_from";

impl ImportTx {
    /// Replaces the table's rates with the staged rows and commits; returns how many rates were
    /// replaced.
    async fn finish(self, table_id: i64) -> Result<u64, sqlx::Error> {
        match self {
            ImportTx::Sqlite(mut tx) => {
                let replaced = sqlx::query("DELETE FROM rate WHERE rate_table_id = ?")
                    .bind(table_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(MOVE_STAGED)
                    .bind(table_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DROP TABLE temp.rate_import")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(BUMP_REVISION).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(replaced)
            }
            ImportTx::Postgres(mut tx) => {
                let replaced = sqlx::query("DELETE FROM rate WHERE rate_table_id = $1")
                    .bind(table_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(MOVE_STAGED)
                    .bind(table_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(BUMP_REVISION).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(replaced)
            }
        }
    }
}

fn unknown(table: &str) -> ImportError {
    ImportError::UnknownTable(table.to_owned())
}

/// SQLite: `BEGIN IMMEDIATE`, then one prepared multi-row `?` INSERT per batch into the staging
/// table. Returns the open transaction, the table id and the rows staged.
async fn sqlite_import(
    pool: &SqlitePool,
    table: &str,
    mut rx: mpsc::Receiver<Vec<RateRow>>,
) -> Result<(ImportTx, i64, u64), ImportError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let table_id: i64 = sqlx::query("SELECT id FROM rate_table WHERE name = ?")
        .bind(table)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| unknown(table))?
        .try_get("id")?;
    sqlx::query("DROP TABLE IF EXISTS temp.rate_import")
        .execute(&mut *tx)
        .await?;
    sqlx::query(CREATE_STAGING_SQLITE).execute(&mut *tx).await?;
    let values = |n: usize| {
        let mut sql = String::with_capacity(160 + n * 18);
        sql.push_str(
            "INSERT INTO temp.rate_import (prefix, area, price_micros, first_increment, \
             next_increment, connect_fee_micros, effective_from, effective_until) VALUES ",
        );
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?,?,?,?,?)");
        }
        sql
    };
    let full = values(SQLITE_BATCH);
    let mut imported = 0u64;
    while let Some(batch) = rx.recv().await {
        let sql = if batch.len() == SQLITE_BATCH {
            full.clone()
        } else {
            values(batch.len())
        };
        imported += batch.len() as u64;
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in batch {
            q = q
                .bind(r.prefix)
                .bind(r.area)
                .bind(r.price)
                .bind(r.first)
                .bind(r.next)
                .bind(r.fee)
                .bind(r.from)
                .bind(r.until);
        }
        q.execute(&mut *tx).await?;
    }
    Ok((ImportTx::Sqlite(tx), table_id, imported))
}

/// PostgreSQL: the provisioning lock, then one `INSERT … SELECT FROM UNNEST(arrays)` per batch
/// into the staging table (one statement, eight array parameters, any number of rows).
async fn pg_import(
    pool: &PgPool,
    table: &str,
    mut rx: mpsc::Receiver<Vec<RateRow>>,
) -> Result<(ImportTx, i64, u64), ImportError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_PROVISIONING_LOCK)
        .execute(&mut *tx)
        .await?;
    let table_id: i64 = sqlx::query("SELECT id FROM rate_table WHERE name = $1")
        .bind(table)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| unknown(table))?
        .try_get("id")?;
    sqlx::query("DROP TABLE IF EXISTS pg_temp.rate_import")
        .execute(&mut *tx)
        .await?;
    sqlx::query(CREATE_STAGING_POSTGRES)
        .execute(&mut *tx)
        .await?;
    let mut imported = 0u64;
    while let Some(batch) = rx.recv().await {
        let n = batch.len();
        imported += n as u64;
        let mut prefix = Vec::with_capacity(n);
        let mut area = Vec::with_capacity(n);
        let mut price = Vec::with_capacity(n);
        let mut first = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        let mut fee = Vec::with_capacity(n);
        let mut from = Vec::with_capacity(n);
        let mut until = Vec::with_capacity(n);
        for r in batch {
            prefix.push(r.prefix);
            area.push(r.area);
            price.push(r.price);
            first.push(r.first);
            next.push(r.next);
            fee.push(r.fee);
            from.push(r.from);
            until.push(r.until);
        }
        sqlx::query(
            "INSERT INTO rate_import SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], \
             $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[])",
        )
        .bind(prefix)
        .bind(area)
        .bind(price)
        .bind(first)
        .bind(next)
        .bind(fee)
        .bind(from)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    }
    Ok((ImportTx::Postgres(tx), table_id, imported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_keys_order_like_prefixes_and_round_trip() {
        let mut ps = [
            "",
            "0",
            "1",
            "10",
            "19",
            "2",
            "99999999999999999999999999999999",
        ];
        ps.sort_by_key(|p| prefix_key(p));
        assert_eq!(
            ps,
            [
                "",
                "0",
                "1",
                "10",
                "19",
                "2",
                "99999999999999999999999999999999"
            ]
        );
        for p in ps {
            assert_eq!(key_prefix(prefix_key(p)), p);
        }
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time(""), Ok(None));
        assert_eq!(parse_time("1767225600"), Ok(Some(1_767_225_600)));
        assert_eq!(parse_time("-5"), Ok(Some(-5)));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(Some(1_767_225_600)));
        assert_eq!(
            parse_time("2026-01-01T08:00:00+08:00"),
            Ok(Some(1_767_225_600))
        );
        assert!(parse_time("2026-01-01").is_err());
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn header_aliases_and_mistakes() {
        let h = csv::ByteRecord::from(vec!["Prefix", "Area Name", "Rate per minute"]);
        let at = map_header(&h).unwrap();
        assert_eq!(at[PREFIX], Some(0));
        assert_eq!(at[AREA], Some(1));
        assert_eq!(at[PRICE], Some(2));
        assert_eq!(at[FEE], None);
        let h = csv::ByteRecord::from(vec!["prefix", "prize"]);
        assert!(
            map_header(&h)
                .unwrap_err()
                .contains("unknown column \"prize\"")
        );
        let h = csv::ByteRecord::from(vec!["prefix", "area"]);
        assert!(map_header(&h).unwrap_err().contains("price is missing"));
        let h = csv::ByteRecord::from(vec!["prefix", "price", "rate"]);
        assert!(map_header(&h).unwrap_err().contains("appears twice"));
    }
}
