//! From a finished call to what it leaves behind: the CDR, its ledger entries, the CDR text
//! files.

use crate::journal::JournalRecord;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tollswitch_b2bua::{CallEnd, EndedBy, Ledger};
use tollswitch_billing::{BillingConfig, LedgerOpKind, Tariff, rate_call};
use tollswitch_model::cdr::{self, Cdr, GatewayAttempt, LedgerEntry, LedgerKind};
use tollswitch_model::{Money, SipCode};
use tollswitch_routing::RateMatch;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn offset(start: i64, d: Duration) -> i64 {
    start.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn tariff(rate: &RateMatch) -> Option<Tariff> {
    Tariff::new(
        rate.price,
        rate.first_increment_secs,
        rate.next_increment_secs,
        rate.connect_fee,
    )
    .ok()
}

/// The CDR and ledger entries of a finished call. `ledger` names the accounts of the
/// settlement's operations; `None` when billing does not run. Returns `None` for the CDR when
/// `SERVER_BILLING_NO_CDR_E164S` lists the callee, or when `skip_zero_hold` and the call was
/// never answered (the ledger entries are kept regardless).
pub fn record(
    end: &CallEnd,
    cfg: &BillingConfig,
    ledger: Option<&Ledger>,
    skip_zero_hold: bool,
) -> JournalRecord {
    let d = end.decision.as_deref();
    let cand = end
        .carrier
        .and_then(|i| d.and_then(|d| d.candidates.get(i)));
    let hold_ms = ms(end.hold_time);
    let end_ms = offset(end.start_ms, end.duration);
    let customer = d.and_then(|d| d.customer_rate.as_ref());
    let (billed_secs, charge) = match &end.settlement {
        Some(st) => (st.charge.billed_secs, st.debited),
        // Not billed live (no billing, or a free call): rated for the record only.
        None => customer
            .and_then(tariff)
            .and_then(|t| rate_call(&t, hold_ms, cfg).ok())
            .map_or((0, Money::ZERO), |c| (c.billed_secs, c.charge)),
    };
    let cost = cand
        .and_then(|c| c.vendor_rate.as_ref())
        .filter(|_| end.connected)
        .and_then(tariff)
        .and_then(|t| rate_call(&t, hold_ms, cfg).ok())
        .map_or(Money::ZERO, |c| c.charge);
    let cdr = Cdr {
        id: end.cdr_id.clone(),
        call_id: end.call_id.clone(),
        account: d
            .and_then(|d| d.account.as_ref())
            .map_or_else(String::new, |a| a.name.to_string()),
        agent: d.and_then(|d| d.agents.first()).map(|a| a.name.to_string()),
        mapping_gateway: d
            .and_then(|d| d.mapping_gateway.as_ref())
            .map_or_else(String::new, |m| m.name.to_string()),
        caller_received: end.caller.clone(),
        callee_received: end.callee.clone(),
        caller_sent: cand.map_or_else(String::new, |c| c.caller.as_str().to_owned()),
        callee_sent: cand.map_or_else(String::new, |c| c.callee.as_str().to_owned()),
        caller_ip: end.source.ip().to_string(),
        routing_gateway: cand.map(|c| c.gateway.name.clone()),
        tried: end
            .tried
            .iter()
            .map(|(g, c)| GatewayAttempt {
                gateway: g.clone(),
                code: SipCode::new(*c).unwrap_or(SipCode::SERVER_INTERNAL_ERROR),
                reason: None,
            })
            .collect(),
        start_ms: end.start_ms,
        ring_ms: end.pdd.map(|p| offset(end.start_ms, p)),
        connect_ms: end.answer_after.map(|a| offset(end.start_ms, a)),
        end_ms,
        pdd_ms: end.pdd.map(ms),
        hold_time_ms: hold_ms,
        billed_secs,
        rate_prefix: customer.map(|r| r.prefix.as_str().to_owned()),
        area: customer.and_then(|r| r.area.as_deref().map(str::to_owned)),
        charge,
        cost,
        vendor_rate_prefix: cand
            .and_then(|c| c.vendor_rate.as_ref())
            .map(|r| r.prefix.as_str().to_owned()),
        final_code: SipCode::new(end.final_code).unwrap_or(SipCode::SERVER_INTERNAL_ERROR),
        ended_by: match end.ended_by {
            EndedBy::Caller => cdr::EndedBy::Caller,
            EndedBy::Callee => cdr::EndedBy::Callee,
            EndedBy::Switch => cdr::EndedBy::Switch,
        },
        end_reason: end.end_reason,
    };
    let mut entries = Vec::new();
    if let (Some(st), Some(l)) = (&end.settlement, ledger) {
        for op in &st.ops {
            let Some(account) = l.name(op.account) else {
                continue;
            };
            let kind = match op.kind {
                LedgerOpKind::CallCharge => LedgerKind::Charge,
                LedgerOpKind::AgentRollup { .. } => LedgerKind::AgentRollup,
                LedgerOpKind::Payment => LedgerKind::Payment,
            };
            entries.push(LedgerEntry {
                id: op.entry_id(),
                account: account.to_string(),
                kind,
                amount: Money::ZERO.saturating_sub(op.amount),
                at_ms: end_ms,
                cdr_id: Some(end.cdr_id.clone()),
                note: None,
            });
        }
    }
    let callee_out = d
        .and_then(|d| d.callee_out.as_ref())
        .map_or(end.callee.as_str(), |n| n.as_str());
    let keep = cfg.writes_cdr(callee_out) && !(skip_zero_hold && hold_ms == 0);
    JournalRecord {
        cdr: keep.then_some(cdr),
        ledger: entries,
    }
}

/// The CDR file columns and one row of them: shared with the API's CSV export.
pub use tollswitch_model::cdr::{CSV_HEADER, csv_row};

/// Rotating CDR text files (`SERVER_CDR_FILE_WRITE_INTERVAL`, `SERVER_CDR_FILE_WRITE_MAX`):
/// `DIR/cdr-<unix start of the period>.csv`, a header row in each.
pub struct CdrFiles {
    dir: PathBuf,
    interval_secs: i64,
    keep: usize,
    current: Option<(i64, csv::Writer<File>)>,
}

impl CdrFiles {
    /// Files in `dir`, a new one every `interval_secs`, the newest `keep` kept.
    pub fn new(dir: &Path, interval_secs: u32, keep: u32) -> io::Result<CdrFiles> {
        fs::create_dir_all(dir)?;
        Ok(CdrFiles {
            dir: dir.to_path_buf(),
            interval_secs: i64::from(interval_secs.max(1)),
            keep: usize::try_from(keep.max(1)).unwrap_or(usize::MAX),
            current: None,
        })
    }

    /// Appends CDRs ended at `now_secs`, starting a new file when the period changed; flushed
    /// before returning.
    pub fn write(&mut self, now_secs: i64, cdrs: &[&Cdr]) -> io::Result<()> {
        if cdrs.is_empty() {
            return Ok(());
        }
        let period = now_secs - now_secs.rem_euclid(self.interval_secs);
        if self.current.as_ref().is_none_or(|(p, _)| *p != period) {
            let path = self.dir.join(format!("cdr-{period}.csv"));
            let fresh = !path.exists();
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let mut w = csv::WriterBuilder::new().from_writer(file);
            if fresh {
                w.write_record(CSV_HEADER)?;
            }
            self.current = Some((period, w));
            self.prune()?;
        }
        if let Some((_, w)) = self.current.as_mut() {
            for c in cdrs {
                w.write_record(csv_row(c))?;
            }
            w.flush()?;
        }
        Ok(())
    }

    /// Removes the oldest files beyond `keep`.
    fn prune(&self) -> io::Result<()> {
        let mut files: Vec<(i64, PathBuf)> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let p = e.path();
                let n = p.file_name()?.to_str()?;
                let t = n.strip_prefix("cdr-")?.strip_suffix(".csv")?.parse().ok()?;
                Some((t, p))
            })
            .collect();
        files.sort();
        let excess = files.len().saturating_sub(self.keep);
        for (_, p) in files.into_iter().take(excess) {
            let _ = fs::remove_file(p);
        }
        Ok(())
    }
}

/// Keeps the file handle's writer type readable in signatures.
impl std::fmt::Debug for CdrFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrFiles")
            .field("dir", &self.dir)
            .field("interval_secs", &self.interval_secs)
            .field("keep", &self.keep)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tollswitch_model::cdr::EndReason;

    fn refused() -> CallEnd {
        CallEnd {
            call_id: "c1@pbx".into(),
            source: "127.0.0.1:5061".parse().expect("addr"),
            caller: "100".into(),
            callee: "441234".into(),
            decision: None,
            carrier: None,
            start_ms: 1_800_000_000_000,
            pdd: None,
            answer_after: None,
            final_code: 486,
            connected: false,
            ended_by: EndedBy::Callee,
            end_reason: EndReason::RoutingFailed,
            cdr_id: "n1-0-1".into(),
            settlement: None,
            deferred: Vec::new(),
            reason: "busy".into(),
            tried: vec![("gw1".into(), 486)],
            hold_time: Duration::ZERO,
            duration: Duration::from_millis(1_500),
        }
    }

    #[test]
    fn an_unanswered_attempt_is_recorded_unless_zero_hold_cdrs_are_skipped() {
        let cfg = BillingConfig::default();
        let kept = record(&refused(), &cfg, None, false);
        let cdr = kept.cdr.expect("recorded");
        assert_eq!(
            (cdr.final_code.as_u16(), cdr.end_ms),
            (486, 1_800_000_001_500)
        );
        assert_eq!(cdr.tried[0].gateway, "gw1");
        assert_eq!((cdr.charge, cdr.cost), (Money::ZERO, Money::ZERO));
        assert!(record(&refused(), &cfg, None, true).cdr.is_none());
    }

    #[test]
    fn csv_rows_match_the_header() {
        let cdr = record(&refused(), &BillingConfig::default(), None, false)
            .cdr
            .expect("recorded");
        assert_eq!(csv_row(&cdr).len(), CSV_HEADER.len());
    }
}
