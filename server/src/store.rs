//! Moving journal records into the database and the CDR text files.

use crate::journal::{Committed, JournalRecord, leftover};
use crate::records::CdrFiles;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tollswitch_model::cdr::{Cdr, LedgerEntry};
use tollswitch_storage::Storage;

/// Drainer counters, for `/metrics` and logs.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// CDRs stored in the database.
    pub cdrs_stored: AtomicU64,
    /// Ledger entries stored.
    pub ledger_stored: AtomicU64,
    /// Records committed to the journal and not yet stored (the CDR queue depth; updated as
    /// the drainer takes and stores batches).
    pub pending: AtomicU64,
    /// Database write failures (each retried until it succeeds).
    pub store_errors: AtomicU64,
    /// CDRs acknowledged by SERVER_CDR_REAL_TIME_REPORT_SERVER.
    pub pushed: AtomicU64,
    /// Push attempts that failed (retried with back-off).
    pub push_errors: AtomicU64,
}

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Stores one batch: CDRs then ledger entries, each idempotent by id; with `push`, the CDRs are
/// also queued for the real-time push.
async fn store(
    storage: &Storage,
    cdrs: &[Cdr],
    ledger: &[LedgerEntry],
    push: bool,
) -> anyhow::Result<u64> {
    let new = if cdrs.is_empty() {
        0
    } else {
        storage.insert_cdrs(cdrs).await?
    };
    if !ledger.is_empty() {
        storage.apply_ledger(ledger).await?;
    }
    if push {
        let ids: Vec<String> = cdrs.iter().map(|c| c.id.clone()).collect();
        storage.outbox_add(&ids).await?;
    }
    Ok(new)
}

/// Replays what a previous run left in the journal into the database (idempotently) and the
/// CDR files (only the CDRs the database did not have yet), then removes the segments.
/// Returns how many records were replayed.
pub async fn replay(
    dir: &Path,
    storage: &Storage,
    files: &mut Option<CdrFiles>,
    push: bool,
) -> anyhow::Result<usize> {
    let left = leftover(dir)?;
    if left.skipped > 0 {
        eprintln!(
            "cdr journal: {} torn line(s) skipped (written when the process died, never acknowledged)",
            left.skipped
        );
    }
    for r in &left.records {
        let cdrs: Vec<Cdr> = r.cdr.iter().cloned().collect();
        let new = store(storage, &cdrs, &r.ledger, push).await?;
        if new > 0
            && let Some(f) = files.as_mut()
        {
            let refs: Vec<&Cdr> = cdrs.iter().collect();
            f.write(unix_secs(), &refs)?;
        }
    }
    for f in &left.files {
        std::fs::remove_file(f)?;
    }
    Ok(left.records.len())
}

/// Most records in one database batch.
const BATCH_MAX: usize = 8192;

/// How long the drainer gathers records into one database batch.
const BATCH_WINDOW: Duration = Duration::from_millis(250);

/// Drains committed journal records into the database in batches, retrying until stored (a
/// record is never dropped), writes the CDR files, and deletes segments once stored.
pub async fn drainer(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Committed>,
    storage: Storage,
    mut files: Option<CdrFiles>,
    stats: Arc<StoreStats>,
    push: bool,
) {
    let mut items: Vec<Committed> = Vec::with_capacity(BATCH_MAX);
    while let Some(first) = rx.recv().await {
        items.push(first);
        // The journal already made the records durable: batching for up to BATCH_WINDOW costs
        // nothing but a moment's delay in reports, and saves a database transaction per call.
        let until = tokio::time::Instant::now() + BATCH_WINDOW;
        while items.len() < BATCH_MAX {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(i)) => items.push(i),
                Ok(None) | Err(_) => break,
            }
        }
        let mut cdrs = Vec::new();
        let mut ledger = Vec::new();
        let mut records = 0u64;
        let queued = |taken: u64| taken + rx.len() as u64;
        for i in &items {
            if let Committed::Record(r) = i {
                let JournalRecord { cdr, ledger: l } = r.as_ref();
                cdrs.extend(cdr.iter().cloned());
                ledger.extend(l.iter().cloned());
                records += 1;
            }
        }
        stats.pending.store(queued(records), Ordering::Relaxed);
        let mut backoff = Duration::from_millis(100);
        loop {
            match store(&storage, &cdrs, &ledger, push).await {
                Ok(_) => break,
                Err(e) => {
                    stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "cdr store: {e:#}; {} CDRs kept in the journal, retrying",
                        cdrs.len()
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        stats
            .cdrs_stored
            .fetch_add(cdrs.len() as u64, Ordering::Relaxed);
        stats
            .ledger_stored
            .fetch_add(ledger.len() as u64, Ordering::Relaxed);
        stats.pending.store(queued(0), Ordering::Relaxed);
        if let Some(f) = files.as_mut() {
            let refs: Vec<&Cdr> = cdrs.iter().collect();
            if let Err(e) = f.write(unix_secs(), &refs) {
                eprintln!("cdr files: {e}");
            }
        }
        for i in items.drain(..) {
            if let Committed::SegmentClosed(path) = i
                && let Err(e) = std::fs::remove_file(&path)
            {
                eprintln!("cdr journal: cannot remove {}: {e}", path.display());
            }
        }
    }
}
