//! CDRs: batched, idempotent append and search (SPEC §5).
//!
//! ```text
//!   insert_cdrs(&[Cdr]) ── encode + check every record (nothing written on a bad one)
//!        │                 one transaction, per-database bulk statements:
//!        ├─ SQLite:     multi-row `?` INSERT … ON CONFLICT (id) DO NOTHING RETURNING id
//!        └─ PostgreSQL: INSERT … SELECT FROM UNNEST(arrays) ON CONFLICT (id) DO NOTHING
//!                       RETURNING id
//!        then the `cdr_attempt` rows of the CDRs that were new, and COMMIT.
//!
//!   cdr_search(&CdrFilter, max_days) ── `Any` pool, `$n` placeholders
//! ```
//!
//! The write path uses each database's own driver: through `Any` with `$n` placeholders SQLite
//! is an order of magnitude slower (docs: DEPENDENCIES.md). A CDR id that is already stored is
//! skipped, together with its attempts, so replaying a journal after a crash writes nothing
//! twice.

use crate::{Native, Storage, StorageError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashSet;
use tollswitch_model::cdr::{Cdr, GatewayAttempt};
use tollswitch_model::{Money, SipCode};

/// Milliseconds in a day, for `SERVER_QUERY_CDR_MAX_DAY_INTERVAL`.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The most rows one [`Storage::cdr_search`] returns; larger limits are reduced to it.
pub const MAX_SEARCH_LIMIT: u32 = 10_000;

/// CDRs per multi-row INSERT on SQLite (27 parameters each; SQLite allows 32 766).
const SQLITE_CDR_ROWS: usize = 500;
/// Attempts per multi-row INSERT on SQLite (6 parameters each).
const SQLITE_ATTEMPT_ROWS: usize = 2_000;
/// CDRs per UNNEST INSERT on PostgreSQL.
const PG_CDR_ROWS: usize = 5_000;

/// The `cdr` columns, in the order every statement here binds them.
pub(crate) const CDR_COLUMNS: &str = "id, call_id, account, agent, mapping_gateway, caller_received, \
    callee_received, caller_sent, callee_sent, caller_ip, routing_gateway, tried, start_ms, \
    ring_ms, connect_ms, end_ms, pdd_ms, hold_time_ms, billed_secs, rate_prefix, area, \
    charge_micros, cost_micros, vendor_rate_prefix, final_code, ended_by, end_reason";
const CDR_COLUMN_COUNT: usize = 27;

/// A half-open time range `[from_ms, until_ms)` in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// First millisecond included.
    pub from_ms: i64,
    /// First millisecond no longer included.
    pub until_ms: i64,
}

impl TimeRange {
    /// `[from_ms, until_ms)`.
    pub const fn new(from_ms: i64, until_ms: i64) -> TimeRange {
        TimeRange { from_ms, until_ms }
    }

    /// Refuses an empty or reversed range.
    pub(crate) fn check(self) -> Result<TimeRange, StorageError> {
        if self.from_ms < self.until_ms {
            Ok(self)
        } else {
            Err(StorageError::QueryRange(format!(
                "the range must end after it starts (from {} ms, until {} ms)",
                self.from_ms, self.until_ms
            )))
        }
    }

    /// Refuses an empty range and one longer than `max_days` days.
    pub(crate) fn check_days(self, max_days: u32) -> Result<TimeRange, StorageError> {
        let r = self.check()?;
        let span = i128::from(r.until_ms) - i128::from(r.from_ms);
        if span > i128::from(max_days) * i128::from(DAY_MS) {
            return Err(StorageError::QueryRange(format!(
                "CDR queries may span at most {max_days} day{} \
                 (SERVER_QUERY_CDR_MAX_DAY_INTERVAL); this one spans {} ms",
                if max_days == 1 { "" } else { "s" },
                span
            )));
        }
        Ok(r)
    }
}

/// What [`Storage::cdr_search`] looks for. Only the time range is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrFilter {
    /// Start times to include.
    pub range: TimeRange,
    /// Only this account.
    pub account: Option<String>,
    /// Only calls that came in through this mapping gateway.
    pub mapping_gateway: Option<String>,
    /// Only calls carried (or last tried) by this routing gateway.
    pub routing_gateway: Option<String>,
    /// Only callees (as received) starting with these characters.
    pub callee_prefix: Option<String>,
    /// Only calls with this final code.
    pub final_code: Option<SipCode>,
    /// At most this many rows (reduced to [`MAX_SEARCH_LIMIT`]).
    pub limit: u32,
    /// Skip this many rows first (paging).
    pub offset: u64,
}

impl CdrFilter {
    /// Everything in `range`, first 100 rows.
    pub fn new(range: TimeRange) -> CdrFilter {
        CdrFilter {
            range,
            account: None,
            mapping_gateway: None,
            routing_gateway: None,
            callee_prefix: None,
            final_code: None,
            limit: 100,
            offset: 0,
        }
    }
}

impl CdrFilter {
    /// The filter for the page after `page`, the rows this filter returned in search order;
    /// `None` when `page` was the last one (shorter than the limit). The next page starts at
    /// the last start time seen and skips the rows of that millisecond already returned, so an
    /// export of any length reads each CDR once without a growing OFFSET.
    pub fn next_page(&self, page: &[Cdr]) -> Option<CdrFilter> {
        let last = page.last()?;
        if page.len() < self.limit.min(MAX_SEARCH_LIMIT) as usize {
            return None;
        }
        let same = page
            .iter()
            .rev()
            .take_while(|c| c.start_ms == last.start_ms)
            .count() as u64;
        let offset = if last.start_ms == self.range.from_ms {
            // The whole page is in the millisecond this one started at.
            self.offset + same
        } else {
            same
        };
        Some(CdrFilter {
            range: TimeRange::new(last.start_ms, self.range.until_ms),
            offset,
            ..self.clone()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// A CDR as the columns hold it, borrowed from the record.
struct CdrRow<'a> {
    cdr: &'a Cdr,
    tried: String,
    pdd_ms: Option<i64>,
    hold_time_ms: i64,
    billed_secs: i64,
}

fn invalid(id: &str, field: &'static str, message: impl Into<String>) -> StorageError {
    StorageError::InvalidRecord {
        table: "cdr",
        id: id.to_owned(),
        field,
        message: message.into(),
    }
}

fn to_i64(id: &str, field: &'static str, v: u64) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| invalid(id, field, format!("{v} is out of range")))
}

impl<'a> CdrRow<'a> {
    fn encode(cdr: &'a Cdr) -> Result<CdrRow<'a>, StorageError> {
        let id = cdr.id.as_str();
        if id.is_empty() {
            return Err(invalid(id, "id", "must not be empty"));
        }
        if cdr.end_ms < cdr.start_ms {
            return Err(invalid(id, "end_ms", "ends before it starts"));
        }
        let tried = serde_json::to_string(&cdr.tried)
            .map_err(|e| invalid(id, "tried", format!("cannot encode: {e}")))?;
        Ok(CdrRow {
            cdr,
            tried,
            pdd_ms: cdr.pdd_ms.map(|v| to_i64(id, "pdd_ms", v)).transpose()?,
            hold_time_ms: to_i64(id, "hold_time_ms", cdr.hold_time_ms)?,
            billed_secs: to_i64(id, "billed_secs", cdr.billed_secs)?,
        })
    }
}

/// `(?,?,…),(?,?,…)…`: `rows` groups of `cols` SQLite placeholders.
fn sqlite_values(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(","));
    vec![one; rows].join(",")
}

// ---------------------------------------------------------------------------------------------
// Insert
// ---------------------------------------------------------------------------------------------

impl Storage {
    /// Stores CDRs in one transaction and returns how many were new. A CDR whose id is already
    /// stored (or appears earlier in `cdrs`) is skipped, so writing the same batch twice is a
    /// no-op. Every record is checked before anything is written; on any error nothing is.
    pub async fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<u64, StorageError> {
        let rows = cdrs
            .iter()
            .map(CdrRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        match &self.native {
            Native::Sqlite(pool) => sqlite_insert(pool, &rows).await,
            Native::Postgres(pool) => pg_insert(pool, &rows).await,
        }
    }
}

/// The CDRs of `chunk` whose id `inserted` names, first occurrence of each.
fn newly_inserted<'r, 'a>(chunk: &'r [CdrRow<'a>], inserted: Vec<String>) -> Vec<&'r CdrRow<'a>> {
    let mut ids: HashSet<String> = inserted.into_iter().collect();
    chunk.iter().filter(|r| ids.remove(&r.cdr.id)).collect()
}

async fn sqlite_insert(pool: &sqlx::SqlitePool, rows: &[CdrRow<'_>]) -> Result<u64, StorageError> {
    let insert = |n: usize| {
        format!(
            "INSERT INTO cdr ({CDR_COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
            sqlite_values(n, CDR_COLUMN_COUNT)
        )
    };
    let full = insert(SQLITE_CDR_ROWS);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut total = 0u64;
    for chunk in rows.chunks(SQLITE_CDR_ROWS) {
        let sql = if chunk.len() == SQLITE_CDR_ROWS {
            full.clone()
        } else {
            insert(chunk.len())
        };
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for r in chunk {
            let c = r.cdr;
            q = q
                .bind(c.id.as_str())
                .bind(c.call_id.as_str())
                .bind(c.account.as_str())
                .bind(c.agent.as_deref())
                .bind(c.mapping_gateway.as_str())
                .bind(c.caller_received.as_str())
                .bind(c.callee_received.as_str())
                .bind(c.caller_sent.as_str())
                .bind(c.callee_sent.as_str())
                .bind(c.caller_ip.as_str())
                .bind(c.routing_gateway.as_deref())
                .bind(r.tried.as_str())
                .bind(c.start_ms)
                .bind(c.ring_ms)
                .bind(c.connect_ms)
                .bind(c.end_ms)
                .bind(r.pdd_ms)
                .bind(r.hold_time_ms)
                .bind(r.billed_secs)
                .bind(c.rate_prefix.as_deref())
                .bind(c.area.as_deref())
                .bind(c.charge.micros())
                .bind(c.cost.micros())
                .bind(c.vendor_rate_prefix.as_deref())
                .bind(i64::from(c.final_code.as_u16()))
                .bind(c.ended_by.as_str())
                .bind(c.end_reason.as_str());
        }
        let new = newly_inserted(chunk, q.fetch_all(&mut *tx).await?);
        total += new.len() as u64;
        let attempts: Vec<(&CdrRow<'_>, usize, &GatewayAttempt)> = new
            .iter()
            .flat_map(|r| r.cdr.tried.iter().enumerate().map(move |(i, a)| (*r, i, a)))
            .collect();
        for part in attempts.chunks(SQLITE_ATTEMPT_ROWS) {
            let sql = format!(
                "INSERT INTO cdr_attempt (cdr_id, position, gateway, code, reason, start_ms) \
                 VALUES {}",
                sqlite_values(part.len(), 6)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (r, i, a) in part {
                q = q
                    .bind(r.cdr.id.as_str())
                    .bind(*i as i64)
                    .bind(a.gateway.as_str())
                    .bind(i64::from(a.code.as_u16()))
                    .bind(a.reason.as_deref())
                    .bind(r.cdr.start_ms);
            }
            q.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(total)
}

async fn pg_insert(pool: &sqlx::PgPool, rows: &[CdrRow<'_>]) -> Result<u64, StorageError> {
    let insert = format!(
        "INSERT INTO cdr ({CDR_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
         $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
         $10::text[], $11::text[], $12::text[], $13::int8[], $14::int8[], $15::int8[], \
         $16::int8[], $17::int8[], $18::int8[], $19::int8[], $20::text[], $21::text[], \
         $22::int8[], $23::int8[], $24::text[], $25::int8[], $26::text[], $27::text[]) \
         ON CONFLICT (id) DO NOTHING RETURNING id"
    );
    let mut tx = pool.begin().await?;
    let mut total = 0u64;
    for chunk in rows.chunks(PG_CDR_ROWS) {
        let col = |f: fn(&CdrRow<'_>) -> i64| chunk.iter().map(f).collect::<Vec<i64>>();
        let opt =
            |f: fn(&CdrRow<'_>) -> Option<i64>| chunk.iter().map(f).collect::<Vec<Option<i64>>>();
        let text =
            |f: for<'r> fn(&'r CdrRow<'_>) -> &'r str| chunk.iter().map(f).collect::<Vec<&str>>();
        let opt_text = |f: for<'r> fn(&'r CdrRow<'_>) -> Option<&'r str>| {
            chunk.iter().map(f).collect::<Vec<Option<&str>>>()
        };
        let inserted: Vec<String> = sqlx::query_scalar(AssertSqlSafe(insert.as_str()))
            .bind(text(|r| &r.cdr.id))
            .bind(text(|r| &r.cdr.call_id))
            .bind(text(|r| &r.cdr.account))
            .bind(opt_text(|r| r.cdr.agent.as_deref()))
            .bind(text(|r| &r.cdr.mapping_gateway))
            .bind(text(|r| &r.cdr.caller_received))
            .bind(text(|r| &r.cdr.callee_received))
            .bind(text(|r| &r.cdr.caller_sent))
            .bind(text(|r| &r.cdr.callee_sent))
            .bind(text(|r| &r.cdr.caller_ip))
            .bind(opt_text(|r| r.cdr.routing_gateway.as_deref()))
            .bind(text(|r| &r.tried))
            .bind(col(|r| r.cdr.start_ms))
            .bind(opt(|r| r.cdr.ring_ms))
            .bind(opt(|r| r.cdr.connect_ms))
            .bind(col(|r| r.cdr.end_ms))
            .bind(opt(|r| r.pdd_ms))
            .bind(col(|r| r.hold_time_ms))
            .bind(col(|r| r.billed_secs))
            .bind(opt_text(|r| r.cdr.rate_prefix.as_deref()))
            .bind(opt_text(|r| r.cdr.area.as_deref()))
            .bind(col(|r| r.cdr.charge.micros()))
            .bind(col(|r| r.cdr.cost.micros()))
            .bind(opt_text(|r| r.cdr.vendor_rate_prefix.as_deref()))
            .bind(col(|r| i64::from(r.cdr.final_code.as_u16())))
            .bind(text(|r| r.cdr.ended_by.as_str()))
            .bind(text(|r| r.cdr.end_reason.as_str()))
            .fetch_all(&mut *tx)
            .await?;
        let new = newly_inserted(chunk, inserted);
        total += new.len() as u64;
        let mut cdr_id = Vec::new();
        let mut position = Vec::new();
        let mut gateway = Vec::new();
        let mut code = Vec::new();
        let mut reason = Vec::new();
        let mut start = Vec::new();
        for r in &new {
            for (i, a) in r.cdr.tried.iter().enumerate() {
                cdr_id.push(r.cdr.id.as_str());
                position.push(i as i64);
                gateway.push(a.gateway.as_str());
                code.push(i64::from(a.code.as_u16()));
                reason.push(a.reason.as_deref());
                start.push(r.cdr.start_ms);
            }
        }
        if !cdr_id.is_empty() {
            sqlx::query(
                "INSERT INTO cdr_attempt (cdr_id, position, gateway, code, reason, start_ms) \
                 SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], \
                 $5::text[], $6::int8[])",
            )
            .bind(cdr_id)
            .bind(position)
            .bind(gateway)
            .bind(code)
            .bind(reason)
            .bind(start)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// A value bound to a `$n` placeholder.
pub(crate) enum Arg {
    I64(i64),
    Text(String),
}

/// SQL text with `$n` placeholders numbered as they are added.
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `before` + `$n` and binds `arg` to it.
    pub(crate) fn arg(&mut self, before: &str, arg: Arg) {
        self.args.push(arg);
        self.text.push_str(before);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
    }

    pub(crate) async fn fetch_all(self, pool: &sqlx::AnyPool) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut q = sqlx::query(AssertSqlSafe(self.text));
        for a in self.args {
            q = match a {
                Arg::I64(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        q.fetch_all(pool).await
    }
}

/// `text` as a LIKE pattern matching itself followed by anything (`\` escapes).
fn like_prefix(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn corrupt(id: &str, field: &'static str, message: impl ToString) -> StorageError {
    StorageError::CorruptRecord {
        table: "cdr",
        id: id.to_owned(),
        field,
        message: message.to_string(),
    }
}

pub(crate) fn decode_cdr(row: &AnyRow) -> Result<Cdr, StorageError> {
    let id: String = row.try_get("id")?;
    let u64_of = |field: &'static str, v: i64| {
        u64::try_from(v).map_err(|_| corrupt(&id, field, format!("{v} is negative")))
    };
    let code_of = |field: &'static str, v: i64| {
        u16::try_from(v)
            .ok()
            .and_then(SipCode::new)
            .ok_or_else(|| corrupt(&id, field, format!("{v} is not a SIP code")))
    };
    let tried_text: String = row.try_get("tried")?;
    let tried: Vec<GatewayAttempt> =
        serde_json::from_str(&tried_text).map_err(|e| corrupt(&id, "tried", e))?;
    let pdd: Option<i64> = row.try_get("pdd_ms")?;
    Ok(Cdr {
        call_id: row.try_get("call_id")?,
        account: row.try_get("account")?,
        agent: row.try_get("agent")?,
        mapping_gateway: row.try_get("mapping_gateway")?,
        caller_received: row.try_get("caller_received")?,
        callee_received: row.try_get("callee_received")?,
        caller_sent: row.try_get("caller_sent")?,
        callee_sent: row.try_get("callee_sent")?,
        caller_ip: row.try_get("caller_ip")?,
        routing_gateway: row.try_get("routing_gateway")?,
        tried,
        start_ms: row.try_get("start_ms")?,
        ring_ms: row.try_get("ring_ms")?,
        connect_ms: row.try_get("connect_ms")?,
        end_ms: row.try_get("end_ms")?,
        pdd_ms: pdd.map(|v| u64_of("pdd_ms", v)).transpose()?,
        hold_time_ms: u64_of("hold_time_ms", row.try_get("hold_time_ms")?)?,
        billed_secs: u64_of("billed_secs", row.try_get("billed_secs")?)?,
        rate_prefix: row.try_get("rate_prefix")?,
        area: row.try_get("area")?,
        charge: Money::from_micros(row.try_get("charge_micros")?),
        cost: Money::from_micros(row.try_get("cost_micros")?),
        vendor_rate_prefix: row.try_get("vendor_rate_prefix")?,
        final_code: code_of("final_code", row.try_get("final_code")?)?,
        ended_by: row
            .try_get::<String, _>("ended_by")?
            .parse()
            .map_err(|e| corrupt(&id, "ended_by", e))?,
        end_reason: row
            .try_get::<String, _>("end_reason")?
            .parse()
            .map_err(|e| corrupt(&id, "end_reason", e))?,
        id,
    })
}

impl Storage {
    /// CDRs matching `filter`, oldest first (then by id). The time range is required and may
    /// span at most `max_days` days (`SERVER_QUERY_CDR_MAX_DAY_INTERVAL`): a longer or empty
    /// one is [`StorageError::QueryRange`].
    pub async fn cdr_search(
        &self,
        filter: &CdrFilter,
        max_days: u32,
    ) -> Result<Vec<Cdr>, StorageError> {
        let range = filter.range.check_days(max_days)?;
        let mut sql = Sql::new(&format!("SELECT {CDR_COLUMNS} FROM cdr WHERE"));
        sql.arg(" start_ms >= ", Arg::I64(range.from_ms));
        sql.arg(" AND start_ms < ", Arg::I64(range.until_ms));
        for (column, value) in [
            ("account", &filter.account),
            ("mapping_gateway", &filter.mapping_gateway),
            ("routing_gateway", &filter.routing_gateway),
        ] {
            if let Some(v) = value {
                sql.arg(&format!(" AND {column} = "), Arg::Text(v.clone()));
            }
        }
        if let Some(prefix) = filter.callee_prefix.as_deref().filter(|p| !p.is_empty()) {
            sql.arg(" AND callee_received LIKE ", Arg::Text(like_prefix(prefix)));
            sql.text.push_str(" ESCAPE '\\'");
        }
        if let Some(code) = filter.final_code {
            sql.arg(" AND final_code = ", Arg::I64(i64::from(code.as_u16())));
        }
        sql.text.push_str(" ORDER BY start_ms, id");
        sql.arg(
            " LIMIT ",
            Arg::I64(i64::from(filter.limit.min(MAX_SEARCH_LIMIT))),
        );
        sql.arg(
            " OFFSET ",
            Arg::I64(i64::try_from(filter.offset).unwrap_or(i64::MAX)),
        );
        sql.fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_cdr)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_prefix("44"), "44%");
        assert_eq!(like_prefix("4_%\\"), "4\\_\\%\\\\%");
    }

    #[test]
    fn day_cap() {
        let r = TimeRange::new(0, 2 * DAY_MS);
        assert!(r.check_days(2).is_ok());
        assert!(matches!(r.check_days(1), Err(StorageError::QueryRange(_))));
        assert!(TimeRange::new(5, 5).check().is_err());
        assert!(TimeRange::new(i64::MIN, i64::MAX).check_days(366).is_err());
    }

    fn cdr(id: &str, start_ms: i64) -> Cdr {
        use tollswitch_model::cdr::{EndReason, EndedBy};
        Cdr {
            id: id.into(),
            call_id: String::new(),
            account: "acme".into(),
            agent: None,
            mapping_gateway: "acme-pbx".into(),
            caller_received: "15550001".into(),
            callee_received: "442071234567".into(),
            caller_sent: String::new(),
            callee_sent: String::new(),
            caller_ip: "192.0.2.10".into(),
            routing_gateway: None,
            tried: Vec::new(),
            start_ms,
            ring_ms: None,
            connect_ms: None,
            end_ms: start_ms,
            pdd_ms: None,
            hold_time_ms: 0,
            billed_secs: 0,
            rate_prefix: None,
            area: None,
            charge: Money::ZERO,
            cost: Money::ZERO,
            vendor_rate_prefix: None,
            final_code: SipCode::OK,
            ended_by: EndedBy::Caller,
            end_reason: EndReason::NormalClearing,
        }
    }

    #[test]
    fn next_page_starts_at_the_last_millisecond_and_skips_what_was_read() {
        let mut first = CdrFilter::new(TimeRange::new(0, 100));
        first.limit = 4;
        let page = [cdr("a", 1), cdr("b", 5), cdr("c", 7), cdr("d", 7)];
        let next = first.next_page(&page).expect("a full page has a next one");
        assert_eq!((next.range, next.offset), (TimeRange::new(7, 100), 2));
        // A full page entirely in that millisecond adds to the skip.
        let same = [cdr("e", 7), cdr("f", 7), cdr("g", 7), cdr("h", 7)];
        let after = next.next_page(&same).expect("full");
        assert_eq!((after.range, after.offset), (TimeRange::new(7, 100), 6));
        // A short or empty page is the last.
        assert!(after.next_page(&same[..3]).is_none());
        assert!(after.next_page(&[]).is_none());
    }

    #[test]
    fn sqlite_placeholders() {
        assert_eq!(sqlite_values(2, 3), "(?,?,?),(?,?,?)");
    }
}
