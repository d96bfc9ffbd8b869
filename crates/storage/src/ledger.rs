//! The ledger: every change of an account's balance, append-only and idempotent (SPEC §4).
//!
//! An account's `balance_micros` changes only here, in the same transaction that inserts the
//! ledger row, and only for rows that were new: [`Storage::apply_ledger`] with entries it has
//! seen before changes nothing. Provisioning (`apply`) never touches an existing balance.
//!
//! Writers serialise per account: SQLite's `BEGIN IMMEDIATE` takes the database write lock, and
//! PostgreSQL locks the account rows (`SELECT … FOR UPDATE`, in name order so that two batches
//! cannot deadlock) before reading and writing a balance. New balances are computed with
//! checked arithmetic: SQLite would silently turn an overflowing integer into a float.

use crate::cdr::{Arg, Sql, TimeRange};
use crate::{Backend, Storage, StorageError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row, Transaction};
use std::collections::{BTreeMap, HashSet};
use tollswitch_model::Money;
use tollswitch_model::cdr::{LedgerEntry, LedgerKind};

/// Ledger rows per multi-row INSERT (8 parameters each).
const LEDGER_INSERT_ROWS: usize = 500;

/// What [`Storage::apply_ledger`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerSummary {
    /// Entries stored now (their amounts applied to balances).
    pub inserted: u64,
    /// Entries whose id was already stored (or repeated in the batch): skipped.
    pub duplicates: u64,
    /// Ids of new entries whose account does not exist (any more): recorded in the ledger, no
    /// balance changed. The switch must not lose a charge because an account was removed while
    /// its call was up.
    pub orphaned: Vec<String>,
}

fn invalid(id: &str, field: &'static str, message: &str) -> StorageError {
    StorageError::InvalidRecord {
        table: "ledger",
        id: id.to_owned(),
        field,
        message: message.to_owned(),
    }
}

fn corrupt(id: &str, field: &'static str, message: impl ToString) -> StorageError {
    StorageError::CorruptRecord {
        table: "ledger",
        id: id.to_owned(),
        field,
        message: message.to_string(),
    }
}

const LEDGER_COLUMNS: &str = "id, account, kind, amount_micros, at_ms, cdr_id, note";

pub(crate) fn decode_entry(row: &AnyRow) -> Result<LedgerEntry, StorageError> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        account: row.try_get("account")?,
        kind: kind.parse().map_err(|e| corrupt(&id, "kind", e))?,
        amount: Money::from_micros(row.try_get("amount_micros")?),
        at_ms: row.try_get("at_ms")?,
        cdr_id: row.try_get("cdr_id")?,
        note: row.try_get("note")?,
        id,
    })
}

impl Storage {
    /// A write transaction for balances: `BEGIN IMMEDIATE` on SQLite; on PostgreSQL row locks
    /// are taken by [`lock_balance`].
    async fn begin_ledger(&self) -> Result<Transaction<'static, Any>, StorageError> {
        match self.backend() {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => Ok(self.pool.begin().await?),
        }
    }

    /// Stores ledger entries and applies the amounts of the new ones to their accounts'
    /// balances, all in one transaction. Entries whose id is already stored are skipped, so
    /// applying a batch twice changes balances once. On any error nothing changes.
    pub async fn apply_ledger(
        &self,
        entries: &[LedgerEntry],
    ) -> Result<LedgerSummary, StorageError> {
        let mut seen = HashSet::new();
        let mut unique = Vec::with_capacity(entries.len());
        for e in entries {
            if e.id.is_empty() {
                return Err(invalid(&e.id, "id", "must not be empty"));
            }
            if e.account.is_empty() {
                return Err(invalid(&e.id, "account", "must not be empty"));
            }
            if seen.insert(e.id.as_str()) {
                unique.push(e);
            }
        }
        let mut summary = LedgerSummary::default();
        if unique.is_empty() {
            summary.duplicates = entries.len() as u64;
            return Ok(summary);
        }
        if let crate::Native::Sqlite(pool) = &self.native {
            // The native driver: the Any driver's per-value conversions cost more than the
            // write itself on large batches.
            let (inserted, orphaned) = sqlite_apply(pool, &unique).await?;
            summary.orphaned = orphaned;
            summary.inserted = inserted;
            summary.duplicates = entries.len() as u64 - summary.inserted;
            return Ok(summary);
        }
        let backend = self.backend();
        let mut tx = self.begin_ledger().await?;
        let mut new: HashSet<String> = HashSet::new();
        for chunk in unique.chunks(LEDGER_INSERT_ROWS) {
            let mut sql = format!("INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                let b = i * 7;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                ));
            }
            sql.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.id.as_str())
                    .bind(e.account.as_str())
                    .bind(e.kind.as_str())
                    .bind(e.amount.micros())
                    .bind(e.at_ms)
                    .bind(e.cdr_id.as_deref())
                    .bind(e.note.as_deref());
            }
            new.extend(q.fetch_all(&mut *tx).await?);
        }
        for (account, (amount, ids)) in deltas(&unique, &new)? {
            match lock_balance(&mut tx, backend, account).await? {
                Some((_, balance)) => set_balance(&mut tx, account, balance, amount).await?,
                None => summary.orphaned.extend(ids.into_iter().map(str::to_owned)),
            }
        }
        tx.commit().await?;
        summary.inserted = new.len() as u64;
        summary.duplicates = entries.len() as u64 - summary.inserted;
        Ok(summary)
    }

    /// Records a payment or recharge of `amount` (negative reverses one) to `account` at
    /// `at_ms`, and credits the balance, in one transaction. The entry's id is
    /// `payment-<account id>-<at_ms>-<n>`. An unknown account is
    /// [`StorageError::UnknownAccount`]; a zero amount is refused.
    pub async fn pay(
        &self,
        account: &str,
        amount: Money,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<LedgerEntry, StorageError> {
        if amount == Money::ZERO {
            return Err(invalid("", "amount", "a payment of zero changes nothing"));
        }
        let mut tx = self.begin_ledger().await?;
        let (account_id, balance) = lock_balance(&mut tx, self.backend(), account)
            .await?
            .ok_or_else(|| StorageError::UnknownAccount(account.to_owned()))?;
        // Serialised by the account's lock: no other payment of this account can take `n`.
        let same_ms: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ledger WHERE account = $1 AND kind = $2 AND at_ms = $3",
        )
        .bind(account)
        .bind(LedgerKind::Payment.as_str())
        .bind(at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let entry = LedgerEntry {
            id: format!("payment-{account_id}-{at_ms}-{}", same_ms + 1),
            account: account.to_owned(),
            kind: LedgerKind::Payment,
            amount,
            at_ms,
            cdr_id: None,
            note: note.map(str::to_owned),
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(entry.id.as_str())
        .bind(account)
        .bind(entry.kind.as_str())
        .bind(amount.micros())
        .bind(at_ms)
        .bind(None::<String>)
        .bind(entry.note.as_deref())
        .execute(&mut *tx)
        .await?;
        set_balance(&mut tx, account, balance, amount).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// The ledger entries of `account` in `range`, oldest first (then in insertion order).
    pub async fn ledger_for(
        &self,
        account: &str,
        range: TimeRange,
    ) -> Result<Vec<LedgerEntry>, StorageError> {
        let range = range.check()?;
        let mut sql = Sql::new(&format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE"));
        sql.arg(" account = ", Arg::Text(account.to_owned()));
        sql.arg(" AND at_ms >= ", Arg::I64(range.from_ms));
        sql.arg(" AND at_ms < ", Arg::I64(range.until_ms));
        sql.text.push_str(" ORDER BY at_ms, seq");
        sql.fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_entry)
            .collect()
    }

    /// Payments and recharges in `range` (the `payment` view), of one account or of all,
    /// oldest first.
    pub async fn payments(
        &self,
        account: Option<&str>,
        range: TimeRange,
    ) -> Result<Vec<LedgerEntry>, StorageError> {
        let range = range.check()?;
        let mut sql = Sql::new(&format!("SELECT {LEDGER_COLUMNS} FROM payment WHERE"));
        sql.arg(" at_ms >= ", Arg::I64(range.from_ms));
        sql.arg(" AND at_ms < ", Arg::I64(range.until_ms));
        if let Some(a) = account {
            sql.arg(" AND account = ", Arg::Text(a.to_owned()));
        }
        sql.text.push_str(" ORDER BY at_ms, seq");
        sql.fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_entry)
            .collect()
    }

    /// The current balance of account `name`, or `None` when there is no such account.
    pub async fn account_balance(&self, name: &str) -> Result<Option<Money>, StorageError> {
        let balance: Option<i64> =
            sqlx::query_scalar("SELECT balance_micros FROM account WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(balance.map(Money::from_micros))
    }
}

/// The account's id and balance, its row locked until the transaction ends (PostgreSQL; SQLite
/// holds the whole database). `None` when there is no such account.
async fn lock_balance(
    conn: &mut AnyConnection,
    backend: Backend,
    account: &str,
) -> Result<Option<(i64, Money)>, StorageError> {
    let sql = match backend {
        Backend::Sqlite => "SELECT id, balance_micros FROM account WHERE name = $1",
        Backend::Postgres => "SELECT id, balance_micros FROM account WHERE name = $1 FOR UPDATE",
    };
    let row = sqlx::query(sql)
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("id")?,
            Money::from_micros(r.try_get("balance_micros")?),
        ))
    })
    .transpose()
}

async fn set_balance(
    conn: &mut AnyConnection,
    account: &str,
    balance: Money,
    delta: Money,
) -> Result<(), StorageError> {
    let new = balance
        .checked_add(delta)
        .ok_or_else(|| StorageError::BalanceOverflow(account.to_owned()))?;
    sqlx::query("UPDATE account SET balance_micros = $1 WHERE name = $2")
        .bind(new.micros())
        .bind(account)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The balance change per account of the newly inserted entries, in name order (PostgreSQL row
/// locks are taken in it), with the ids behind each.
fn deltas<'a>(
    unique: &[&'a LedgerEntry],
    new: &HashSet<String>,
) -> Result<BTreeMap<&'a str, (Money, Vec<&'a str>)>, StorageError> {
    let mut delta: BTreeMap<&str, (Money, Vec<&str>)> = BTreeMap::new();
    // An agent roll-up records a sub-account's charge on the agent's books; the money was paid
    // once, by the sub-account, so the agent's balance does not move.
    for e in unique
        .iter()
        .filter(|e| new.contains(&e.id) && e.kind != LedgerKind::AgentRollup)
    {
        let slot = delta
            .entry(e.account.as_str())
            .or_insert((Money::ZERO, Vec::new()));
        slot.0 = slot
            .0
            .checked_add(e.amount)
            .ok_or_else(|| StorageError::BalanceOverflow(e.account.clone()))?;
        slot.1.push(e.id.as_str());
    }
    Ok(delta)
}

/// [`Storage::apply_ledger`] on SQLite's native driver: one `BEGIN IMMEDIATE` transaction.
async fn sqlite_apply(
    pool: &sqlx::SqlitePool,
    unique: &[&LedgerEntry],
) -> Result<(u64, Vec<String>), StorageError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut new: HashSet<String> = HashSet::new();
    for chunk in unique.chunks(LEDGER_INSERT_ROWS) {
        let one = "(?,?,?,?,?,?,?)";
        let sql = format!(
            "INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
            vec![one; chunk.len()].join(",")
        );
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.id.as_str())
                .bind(e.account.as_str())
                .bind(e.kind.as_str())
                .bind(e.amount.micros())
                .bind(e.at_ms)
                .bind(e.cdr_id.as_deref())
                .bind(e.note.as_deref());
        }
        new.extend(q.fetch_all(&mut *tx).await?);
    }
    let mut orphaned = Vec::new();
    for (account, (amount, ids)) in deltas(unique, &new)? {
        let balance: Option<i64> =
            sqlx::query_scalar("SELECT balance_micros FROM account WHERE name = ?")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
        match balance {
            Some(b) => {
                let next = Money::from_micros(b)
                    .checked_add(amount)
                    .ok_or_else(|| StorageError::BalanceOverflow(account.to_owned()))?;
                sqlx::query("UPDATE account SET balance_micros = ? WHERE name = ?")
                    .bind(next.micros())
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
            }
            None => orphaned.extend(ids.into_iter().map(str::to_owned)),
        }
    }
    tx.commit().await?;
    Ok((new.len() as u64, orphaned))
}
