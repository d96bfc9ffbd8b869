//! What a running switch polls to follow changes made by other processes: the provisioning
//! revision, and balance changes it did not make itself (payments, adjustments).

use crate::ledger::decode_entry;
use crate::{Backend, Storage, StorageError};
use sqlx::{Any, Row, Transaction};
use std::collections::HashMap;
use tollswitch_model::Money;
use tollswitch_model::cdr::LedgerEntry;

/// Balances and the ledger position they include, read in one consistent snapshot.
#[derive(Debug, Clone, Default)]
pub struct LiveBalances {
    /// Account name → stored balance.
    pub balances: HashMap<String, Money>,
    /// The highest ledger sequence number included in `balances`.
    pub ledger_seq: i64,
    /// Payments and adjustments within `window` below `ledger_seq` that `balances` include, by
    /// id with their sequence numbers: on PostgreSQL a lower number may still commit later, so
    /// a follower re-reads that window and needs to know what it already has.
    pub recent_external: Vec<(i64, String)>,
}

/// Adds one to the provisioning revision inside a writing transaction.
pub(crate) async fn bump_revision(tx: &mut Transaction<'static, Any>) -> Result<(), StorageError> {
    sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'provisioning_revision'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Storage {
    /// The provisioning revision: it changes with every apply, rate import and parameter change.
    pub async fn provisioning_revision(&self) -> Result<i64, StorageError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'provisioning_revision'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("value"))
            .transpose()?
            .unwrap_or(0))
    }

    /// Every account's stored balance and the ledger position it reflects, in one snapshot,
    /// with the payments and adjustments of the last `window` sequence numbers it includes.
    pub async fn live_balances(&self, window: i64) -> Result<LiveBalances, StorageError> {
        let mut tx = match self.backend() {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM ledger")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT name, balance_micros FROM account")
            .fetch_all(&mut *tx)
            .await?;
        let seq = seq.unwrap_or(0);
        let recent = sqlx::query(
            "SELECT seq, id FROM ledger WHERE seq > $1 AND kind IN ('payment', 'adjustment') \
             ORDER BY seq",
        )
        .bind(seq.saturating_sub(window))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let recent_external = recent
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("id")?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        let mut balances = HashMap::with_capacity(rows.len());
        for r in rows {
            balances.insert(
                r.try_get::<String, _>("name")?,
                Money::from_micros(r.try_get::<i64, _>("balance_micros")?),
            );
        }
        Ok(LiveBalances {
            balances,
            ledger_seq: seq,
            recent_external,
        })
    }

    /// Payments and adjustments with a ledger sequence number above `after` (oldest first, at
    /// most `limit`), with their numbers: the balance changes a switch did not make itself.
    pub async fn external_ledger_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LedgerEntry)>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, id, account, kind, amount_micros, at_ms, cdr_id, note FROM ledger \
             WHERE seq > $1 AND kind IN ('payment', 'adjustment') ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, decode_entry(r)?)))
            .collect()
    }
}
