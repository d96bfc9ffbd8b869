//! The real-time CDR push outbox: CDR ids in the order they were queued, removed only once the
//! receiver acknowledged them.

use crate::cdr::{CDR_COLUMNS, decode_cdr};
use crate::{Storage, StorageError};
use sqlx::Row;
use tollswitch_model::cdr::Cdr;

impl Storage {
    /// Queues CDR ids for the push (ids already queued are skipped).
    pub async fn outbox_add(&self, ids: &[String]) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query(
                "INSERT INTO cdr_outbox (cdr_id) VALUES ($1) ON CONFLICT (cdr_id) DO NOTHING",
            )
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The oldest queued CDRs (at most `limit`) with their queue positions.
    pub async fn outbox_next(&self, limit: u32) -> Result<Vec<(i64, Cdr)>, StorageError> {
        let cols: Vec<String> = CDR_COLUMNS
            .split(',')
            .map(|c| format!("c.{}", c.trim()))
            .collect();
        let sql = format!(
            "SELECT o.seq AS outbox_seq, {} FROM cdr_outbox o JOIN cdr c ON c.id = o.cdr_id \
             ORDER BY o.seq LIMIT $1",
            cols.join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("outbox_seq")?, decode_cdr(r)?)))
            .collect()
    }

    /// Removes every queued CDR up to and including position `seq` (acknowledged).
    pub async fn outbox_done(&self, seq: i64) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM cdr_outbox WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// CDRs waiting to be pushed.
    pub async fn outbox_len(&self) -> Result<i64, StorageError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cdr_outbox")
            .fetch_one(&self.pool)
            .await?)
    }
}
