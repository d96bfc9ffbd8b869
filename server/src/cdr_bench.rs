//! `tollswitch cdr bench`: CDR throughput through the real path — the fsynced journal (group
//! commit) and the drainer into the database — with synthetic records from several threads,
//! as engine shards produce them.

use crate::DbArgs;
use crate::journal::{Journal, JournalOptions, JournalRecord};
use crate::store::{StoreStats, drainer};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tollswitch_model::cdr::{Cdr, EndReason, EndedBy, GatewayAttempt, LedgerEntry, LedgerKind};
use tollswitch_model::{Money, SipCode};

/// Arguments of `cdr bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Records to write.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Threads appending (like engine shards).
    #[arg(long, default_value_t = 2)]
    threads: u64,
    /// Skip fdatasync (shows what the disk sync costs; not how the switch runs).
    #[arg(long)]
    no_fsync: bool,
    #[command(flatten)]
    db: DbArgs,
}

fn record(n: u64, now_ms: i64) -> JournalRecord {
    let id = format!("bench-{now_ms:x}-{n}");
    let start = now_ms - 60_000;
    JournalRecord {
        cdr: Some(Cdr {
            id: id.clone(),
            call_id: format!("{n}-bench@127.0.0.1"),
            account: "bench-customer".into(),
            agent: None,
            mapping_gateway: "bench-uac".into(),
            caller_received: "15550001".into(),
            callee_received: format!("1212555{:04}", n % 10_000),
            caller_sent: "15550001".into(),
            callee_sent: format!("1212555{:04}", n % 10_000),
            caller_ip: "127.0.0.1".into(),
            routing_gateway: Some("bench-uas".into()),
            tried: vec![GatewayAttempt {
                gateway: "bench-uas".into(),
                code: SipCode::OK,
                reason: None,
            }],
            start_ms: start,
            ring_ms: Some(start + 300),
            connect_ms: Some(start + 2_000),
            end_ms: now_ms,
            pdd_ms: Some(300),
            hold_time_ms: 58_000,
            billed_secs: 60,
            rate_prefix: Some("1212".into()),
            area: Some("USA New York".into()),
            charge: Money::from_micros(12_000),
            cost: Money::from_micros(8_000),
            vendor_rate_prefix: Some("1".into()),
            final_code: SipCode::OK,
            ended_by: EndedBy::Caller,
            end_reason: EndReason::NormalClearing,
        }),
        ledger: vec![LedgerEntry {
            id,
            account: "bench-customer".into(),
            kind: LedgerKind::Charge,
            amount: Money::from_micros(-12_000),
            at_ms: now_ms,
            cdr_id: None,
            note: None,
        }],
    }
}

/// Runs the benchmark and prints journal and database rates.
pub async fn run(args: BenchArgs) -> ExitCode {
    match bench(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollswitch cdr bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let storage = args.db.connect().await?;
    // The account the ledger entries charge (created with a large balance when missing).
    let mut p = storage.load_provisioning().await?;
    if !p.accounts.iter().any(|a| a.name == "bench-customer") {
        let a: tollswitch_model::provisioning::Provisioning = toml::from_str(
            "[[account]]\nname = \"bench-customer\"\ncurrency = \"USD\"\nbalance = \"100000000\"\n",
        )?;
        p.accounts.extend(a.accounts);
        storage.apply(&p).await?;
    }
    let dir = args.db.data.join("journal-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let (journal, committed) = Journal::start(JournalOptions {
        dir: dir.clone(),
        capacity: 100_000,
        segment_records: 10_000,
        fsync: !args.no_fsync,
        window: Duration::from_millis(4),
    })?;
    let stats = Arc::new(StoreStats::default());
    let drain = tokio::spawn(drainer(
        committed,
        storage.clone(),
        None,
        stats.clone(),
        false,
    ));
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let durable = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads = args.threads.max(1);
    let mut handles = Vec::new();
    for t in 0..threads {
        let journal = journal.clone();
        let durable = durable.clone();
        let records = args.records;
        handles.push(std::thread::spawn(move || {
            let mut n = t;
            while n < records {
                let d = durable.clone();
                let done = Box::new(move || {
                    d.fetch_add(1, Ordering::Relaxed);
                });
                if journal.append(record(n, now_ms), Some(done)).is_err() {
                    break;
                }
                n += threads;
            }
        }));
    }
    drop(journal);
    for h in handles {
        let _ = h.join();
    }
    while durable.load(Ordering::Relaxed) < args.records
        && started.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let journal_secs = started.elapsed().as_secs_f64();
    let _ = tokio::time::timeout(Duration::from_secs(600), drain).await;
    let stored_secs = started.elapsed().as_secs_f64();
    let stored = stats.cdrs_stored.load(Ordering::Relaxed);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{} records, {} threads, fsync {}: durable in the journal at {:.0} CDR/s ({:.2} s), stored in the database at {:.0} CDR/s ({:.2} s, {} CDRs)",
        args.records,
        threads,
        if args.no_fsync { "off" } else { "on" },
        args.records as f64 / journal_secs,
        journal_secs,
        stored as f64 / stored_secs,
        stored_secs,
        stored
    );
    storage.close().await;
    Ok(())
}
