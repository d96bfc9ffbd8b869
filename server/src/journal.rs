//! The CDR journal: a finished call's record is on disk before the call counts as finished.
//!
//! ```text
//!  engine shards ── append(record, on_durable) ──► bounded queue ──► journal thread
//!                                                                 write batch, fdatasync
//!        ◄── on_durable() (hang-up messages released) ────────────────┤
//!                                                                    ▼ committed, in order
//!                                   drainer task: DB batch (CDRs + ledger, idempotent),
//!                                   CDR text files, then deletes fully stored segments
//! ```
//!
//! Records are JSON lines in segment files `DIR/journal/<seq>.jsonl`. Group commit: the thread
//! writes every record that queued while the previous `fdatasync` ran, then syncs once, so a
//! busy switch pays one sync per batch and an idle one adds no waiting. A segment is deleted
//! only after every record in it is committed to the database; at start the segments left by a
//! crash are replayed into the database (CDR and ledger ids make that idempotent) before new
//! calls are taken. A torn last line (the process died mid-write) was never acknowledged and is
//! skipped.

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use tollswitch_model::cdr::{Cdr, LedgerEntry};

/// One finished call: its CDR and the balance changes it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// The call detail record (`None` when `SERVER_BILLING_NO_CDR_E164S` suppresses it).
    #[serde(default)]
    pub cdr: Option<Cdr>,
    /// Ledger entries (charge, agent roll-ups); empty for an unbilled attempt.
    #[serde(default)]
    pub ledger: Vec<LedgerEntry>,
}

/// Called once the record is durable (or, should the disk fail, once that is known).
pub type OnDurable = Box<dyn FnOnce() + Send>;

struct Job {
    record: JournalRecord,
    done: Option<OnDurable>,
}

/// What the drainer receives, in journal order.
pub enum Committed {
    /// A durable record.
    Record(Box<JournalRecord>),
    /// Every record before this one belongs to a segment that is now closed: once they are
    /// stored the file can go.
    SegmentClosed(PathBuf),
}

/// Where and how the journal writes.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// The journal directory.
    pub dir: PathBuf,
    /// Records waiting to be written (`SERVER_MAX_CDR_PENDING_LIST_LENGTH`); a full queue makes
    /// `append` wait rather than drop a record.
    pub capacity: usize,
    /// Records per segment file.
    pub segment_records: usize,
    /// Sync to disk after each batch (tests of the writer logic may turn it off).
    pub fsync: bool,
    /// How long the first record of a batch waits for company before the batch is synced.
    pub window: std::time::Duration,
}

/// The appending side of the journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: std_mpsc::SyncSender<Job>,
}

/// Segment files left in `dir` (oldest first) and their records; a torn or unreadable line ends
/// its file's replay and is reported in `skipped`.
pub struct Leftover {
    /// The files, to delete once their records are stored.
    pub files: Vec<PathBuf>,
    /// Their records, in order.
    pub records: Vec<JournalRecord>,
    /// Lines that could not be read (at most one per file: a torn tail).
    pub skipped: usize,
}

fn segment_seq(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if let Some(seq) = segment_seq(&path) {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads what a previous run left in the journal directory (creating it when missing).
pub fn leftover(dir: &Path) -> io::Result<Leftover> {
    fs::create_dir_all(dir)?;
    let mut left = Leftover {
        files: Vec::new(),
        records: Vec::new(),
        skipped: 0,
    };
    for (_, path) in segments(dir)? {
        let file = File::open(&path)?;
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else {
                left.skipped += 1;
                break;
            };
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<JournalRecord>(&line) {
                Ok(r) => left.records.push(r),
                Err(_) => {
                    left.skipped += 1;
                    break;
                }
            }
        }
        left.files.push(path);
    }
    Ok(left)
}

impl Journal {
    /// Starts the journal thread writing new segments after any in `opts.dir`; committed
    /// records come out of the returned receiver in order.
    pub fn start(
        opts: JournalOptions,
    ) -> io::Result<(Journal, tokio::sync::mpsc::UnboundedReceiver<Committed>)> {
        fs::create_dir_all(&opts.dir)?;
        let next = segments(&opts.dir)?
            .last()
            .map_or(1, |(seq, _)| seq.saturating_add(1));
        let (tx, rx) = std_mpsc::sync_channel::<Job>(opts.capacity.max(1));
        // Unbounded toward the drainer: it holds at most what the bounded queue let in while
        // the database was slow, and a record is never dropped.
        let (ctx, crx) = tokio::sync::mpsc::unbounded_channel();
        let segment = Segment::create(&opts.dir, next)?;
        std::thread::Builder::new()
            .name("cdr-journal".into())
            .spawn(move || writer(opts, segment, rx, ctx))?;
        Ok((Journal { tx }, crx))
    }

    /// Appends a record; `done` runs once it is durable. Waits while the queue is full. When
    /// the journal thread is gone the record cannot be kept: `done` runs at once (the call must
    /// still end) and the error says so.
    pub fn append(&self, record: JournalRecord, done: Option<OnDurable>) -> Result<(), String> {
        match self.tx.send(Job { record, done }) {
            Ok(()) => Ok(()),
            Err(std_mpsc::SendError(job)) => {
                if let Some(done) = job.done {
                    done();
                }
                Err("the CDR journal has stopped: record lost".to_owned())
            }
        }
    }
}

struct Segment {
    path: PathBuf,
    file: File,
    seq: u64,
    records: usize,
}

impl Segment {
    fn create(dir: &Path, seq: u64) -> io::Result<Segment> {
        let path = dir.join(format!("{seq:012}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        // The new name must survive a crash too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Segment {
            path,
            file,
            seq,
            records: 0,
        })
    }
}

fn writer(
    opts: JournalOptions,
    mut segment: Segment,
    rx: std_mpsc::Receiver<Job>,
    out: tokio::sync::mpsc::UnboundedSender<Committed>,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut batch: Vec<Job> = Vec::with_capacity(1024);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        // Group commit: gather what arrives within a short window, so a busy switch pays one
        // sync for many calls (each waits at most the window plus the sync).
        let until = std::time::Instant::now() + opts.window;
        while batch.len() < 4096 {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        buf.clear();
        for job in &batch {
            if serde_json::to_writer(&mut buf, &job.record).is_ok() {
                buf.push(b'\n');
            }
        }
        let written = segment.file.write_all(&buf).and_then(|()| {
            if opts.fsync {
                segment.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // The records still go to the database; only the crash-safety of this batch is lost.
            eprintln!(
                "cdr journal: write to {} failed: {e}",
                segment.path.display()
            );
        }
        segment.records += batch.len();
        for job in batch.drain(..) {
            if let Some(done) = job.done {
                done();
            }
            let _ = out.send(Committed::Record(Box::new(job.record)));
        }
        if segment.records >= opts.segment_records {
            match Segment::create(&opts.dir, segment.seq + 1) {
                Ok(next) => {
                    let closed = std::mem::replace(&mut segment, next);
                    let _ = out.send(Committed::SegmentClosed(closed.path));
                }
                Err(e) => eprintln!("cdr journal: cannot start a new segment: {e}"),
            }
        }
    }
    // Every sender is gone: the last segment is complete.
    let _ = out.send(Committed::SegmentClosed(segment.path));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollswitch_model::cdr::{EndReason, EndedBy};
    use tollswitch_model::{Money, SipCode};

    fn record(id: &str) -> JournalRecord {
        JournalRecord {
            cdr: Some(Cdr {
                id: id.to_owned(),
                call_id: format!("{id}@test"),
                account: "customer".into(),
                agent: None,
                mapping_gateway: "pbx".into(),
                caller_received: "100".into(),
                callee_received: "441234".into(),
                caller_sent: "100".into(),
                callee_sent: "441234".into(),
                caller_ip: "127.0.0.1".into(),
                routing_gateway: Some("gw1".into()),
                tried: Vec::new(),
                start_ms: 1_800_000_000_000,
                ring_ms: None,
                connect_ms: Some(1_800_000_000_500),
                end_ms: 1_800_000_060_500,
                pdd_ms: Some(400),
                hold_time_ms: 60_000,
                billed_secs: 60,
                rate_prefix: Some("44".into()),
                area: None,
                charge: Money::from_micros(50_000),
                cost: Money::from_micros(30_000),
                vendor_rate_prefix: Some("44".into()),
                final_code: SipCode::OK,
                ended_by: EndedBy::Caller,
                end_reason: EndReason::NormalClearing,
            }),
            ledger: Vec::new(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tollswitch-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn records_are_acknowledged_once_durable_and_come_out_in_order() {
        let dir = temp("order");
        let opts = JournalOptions {
            dir: dir.clone(),
            capacity: 16,
            segment_records: 3,
            fsync: true,
            window: std::time::Duration::from_millis(2),
        };
        let (journal, mut committed) = Journal::start(opts).expect("start");
        let (ack_tx, ack_rx) = std_mpsc::channel();
        for i in 0..7 {
            let ack = ack_tx.clone();
            journal
                .append(
                    record(&format!("r{i}")),
                    Some(Box::new(move || ack.send(i).unwrap_or(()))),
                )
                .expect("append");
        }
        drop(journal);
        let acks: Vec<i32> = ack_rx.iter().take(7).collect();
        assert_eq!(acks, (0..7).collect::<Vec<_>>());
        let mut ids = Vec::new();
        let mut closed = 0;
        while let Some(c) = committed.recv().await {
            match c {
                Committed::Record(r) => ids.extend(r.cdr.map(|c| c.id)),
                Committed::SegmentClosed(_) => closed += 1,
            }
        }
        assert_eq!(ids, (0..7).map(|i| format!("r{i}")).collect::<Vec<_>>());
        // A segment closes after the batch that fills it, and the last one when the journal
        // stops.
        let segments = segments(&dir).expect("segments").len();
        assert!(closed >= 2, "{closed} closed");
        assert_eq!(
            closed, segments,
            "every segment on disk was announced closed"
        );
        // Nothing was deleted (that is the drainer's job): everything is still on disk.
        let left = leftover(&dir).expect("leftover");
        assert_eq!(left.records.len(), 7);
        assert_eq!(left.skipped, 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_whole_records_are_replayed() {
        let dir = temp("torn");
        fs::create_dir_all(&dir).expect("dir");
        let mut text = String::new();
        for i in 0..3 {
            text.push_str(&serde_json::to_string(&record(&format!("t{i}"))).expect("json"));
            text.push('\n');
        }
        text.push_str("{\"cdr\":{\"id\":\"t3\",\"acc");
        fs::write(dir.join("000000000001.jsonl"), text).expect("write");
        let left = leftover(&dir).expect("leftover");
        assert_eq!(
            left.records
                .iter()
                .filter_map(|r| r.cdr.as_ref().map(|c| c.id.as_str()))
                .collect::<Vec<_>>(),
            ["t0", "t1", "t2"]
        );
        assert_eq!((left.skipped, left.files.len()), (1, 1));
        let _ = fs::remove_dir_all(&dir);
    }
}
