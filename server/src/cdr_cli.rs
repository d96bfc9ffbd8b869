//! `tollswitch cdr list|export` and `tollswitch report …`: CDR search and traffic reports
//! from the database (SPEC §3, §5).
//!
//! ```text
//!   cdr list   [--from --until] [filters] ─► check_span(SERVER_QUERY_CDR_MAX_DAY_INTERVAL)
//!                                          ─► Storage::cdr_search (one page) ─► table | JSON
//!   cdr export --from --until  [filters]   ─► pages of MAX_SEARCH_LIMIT ─► CSV on stdout
//!   report gateways|mapping-gateways|accounts|areas|hours|codes ─► Storage::report_* ─► …
//! ```
//!
//! `cdr export` pages by start time rather than by a growing offset: each page starts at the
//! last start time seen and skips only the rows of that millisecond already written, so the
//! database never walks past millions of rows to find a page. The rows come out in the search
//! order (start time, then id), exactly once each, as long as no CDR is inserted inside the
//! range while the export runs.
//!
//! Ratios come from the storage crate in basis points and are printed with integer maths.

use crate::DbArgs;
use crate::cli_support::{
    Align, DAY_MS, Fail, RangeArgs, Table, UtcMs, connect, emit, emit_json, finish, max_query_days,
    minutes, now_ms, percent, seconds,
};
use crate::records::{CSV_HEADER, csv_row};
use std::process::ExitCode;
use tollswitch_model::cdr::Cdr;
use tollswitch_model::{SipCode, SipCodeClass};
use tollswitch_storage::{CdrFilter, MAX_SEARCH_LIMIT, Storage, TimeRange, TrafficStats};

/// The default range of `cdr list` and the reports: the last 24 hours.
const DEFAULT_SPAN_MS: i64 = DAY_MS;

/// `cdr` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CdrCommand {
    /// Search CDRs (oldest first), one page at a time; without --from and --until, the last
    /// 24 hours. The range may span at most SERVER_QUERY_CDR_MAX_DAY_INTERVAL days.
    List(ListArgs),
    /// Write every CDR of a range as CSV (header row first; the CDR file columns) to stdout.
    /// The range may span at most SERVER_QUERY_CDR_MAX_DAY_INTERVAL days.
    Export(ExportArgs),
    /// Measure CDR throughput through the fsynced journal and into the database with synthetic
    /// records (writes them to the database: use a scratch --data directory).
    Bench(crate::cdr_bench::BenchArgs),
}

/// Which CDRs, besides the time range.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only this account.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Only calls that came in through this mapping gateway.
    #[arg(long, value_name = "NAME")]
    mapping_gateway: Option<String>,
    /// Only calls carried (or last tried) by this routing gateway.
    #[arg(long, value_name = "NAME")]
    routing_gateway: Option<String>,
    /// Only callees (as received) starting with this prefix.
    #[arg(long, value_name = "DIGITS")]
    callee_prefix: Option<String>,
    /// Only calls with this final SIP code (100–699).
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    code: Option<SipCode>,
}

impl FilterArgs {
    fn filter(&self, range: TimeRange, limit: u32, offset: u64) -> CdrFilter {
        CdrFilter {
            range,
            account: self.account.clone(),
            mapping_gateway: self.mapping_gateway.clone(),
            routing_gateway: self.routing_gateway.clone(),
            callee_prefix: self.callee_prefix.clone(),
            final_code: self.code,
            limit,
            offset,
        }
    }
}

/// Arguments of `cdr list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    range: RangeArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// At most this many CDRs (1–10000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = parse_limit)]
    limit: u32,
    /// Skip this many CDRs first (paging).
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: u64,
    /// Print a JSON array of CDRs.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// Arguments of `cdr export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// First start time included (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    from: UtcMs,
    /// First start time no longer included (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    until: UtcMs,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    db: DbArgs,
}

/// `report` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Traffic per routing gateway (attempts count every time a gateway was tried).
    Gateways(ReportArgs),
    /// Traffic per mapping gateway.
    MappingGateways(ReportArgs),
    /// Traffic per account.
    Accounts(ReportArgs),
    /// Traffic, cost and profit per vendor account (the calls its routing gateways carried).
    Vendors(ReportArgs),
    /// Traffic per area (customer rate prefix and area name).
    Areas(ReportArgs),
    /// Traffic per UTC hour.
    Hours(ReportArgs),
    /// Final SIP codes per routing gateway, with each code's class and troubleshooting hint.
    Codes(ReportArgs),
}

/// Arguments of every report.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The range of start times; without --from and --until, the last 24 hours.
    #[command(flatten)]
    range: RangeArgs,
    /// Print a JSON array of report rows.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// `--code`: a SIP status code, 100–699.
fn parse_code(text: &str) -> Result<SipCode, String> {
    text.parse::<u16>()
        .ok()
        .and_then(SipCode::new)
        .ok_or_else(|| format!("{text:?} is not a SIP code (100–699)"))
}

/// `--limit`: 1 to [`MAX_SEARCH_LIMIT`] (more would be cut silently by the search).
fn parse_limit(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_SEARCH_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: give 1 to {MAX_SEARCH_LIMIT} (use `cdr export` for more)"
        )),
    }
}

/// Runs a `cdr` subcommand.
pub async fn run_cdr(command: CdrCommand) -> ExitCode {
    finish(match command {
        CdrCommand::List(args) => list(args).await,
        CdrCommand::Export(args) => export(args).await,
        CdrCommand::Bench(args) => return crate::cdr_bench::run(args).await,
    })
}

/// The stored `SERVER_QUERY_CDR_MAX_DAY_INTERVAL`, after refusing `range` (from `args`) when
/// it spans more days than that.
async fn capped(storage: &Storage, args: &RangeArgs, range: TimeRange) -> Result<u32, Fail> {
    let max_days = max_query_days(&storage.parameters().await?);
    args.check_span(range, max_days)?;
    Ok(max_days)
}

async fn list(args: ListArgs) -> Result<(), Fail> {
    let range = args.range.resolve(now_ms(), DEFAULT_SPAN_MS)?;
    let storage = connect(&args.db).await?;
    let found = async {
        let max_days = capped(&storage, &args.range, range).await?;
        let filter = args.filter.filter(range, args.limit, args.offset);
        Ok::<_, Fail>(storage.cdr_search(&filter, max_days).await?)
    }
    .await;
    storage.close().await;
    let cdrs = found?;
    if args.json {
        return emit_json(&cdrs);
    }
    let mut out = cdr_table(&cdrs).render();
    out.push_str(&format!(
        "{} CDR{} from {} until {}{}\n",
        cdrs.len(),
        if cdrs.len() == 1 { "" } else { "s" },
        UtcMs(range.from_ms),
        UtcMs(range.until_ms),
        if cdrs.len() == args.limit as usize {
            format!(
                " (limit reached: --offset {} for the next page)",
                args.offset.saturating_add(u64::from(args.limit))
            )
        } else {
            String::new()
        }
    ));
    emit(&out)
}

/// The `cdr list` table.
fn cdr_table(cdrs: &[Cdr]) -> Table {
    let mut t = Table::new(&[
        ("id", Align::Left),
        ("start", Align::Left),
        ("account", Align::Left),
        ("caller", Align::Left),
        ("callee", Align::Left),
        ("routing gateway", Align::Left),
        ("code", Align::Right),
        ("hold s", Align::Right),
        ("billed s", Align::Right),
        ("charge", Align::Right),
        ("cost", Align::Right),
        ("end reason", Align::Left),
    ]);
    for c in cdrs {
        t.row(vec![
            c.id.clone(),
            UtcMs(c.start_ms).to_string(),
            c.account.clone(),
            c.caller_received.clone(),
            c.callee_received.clone(),
            c.routing_gateway.clone().unwrap_or_else(|| "-".into()),
            c.final_code.as_u16().to_string(),
            seconds(c.hold_time_ms),
            c.billed_secs.to_string(),
            c.charge.to_string(),
            c.cost.to_string(),
            c.end_reason.to_string(),
        ]);
    }
    t
}

async fn export(args: ExportArgs) -> Result<(), Fail> {
    let given = RangeArgs {
        from: Some(args.from),
        until: Some(args.until),
    };
    let range = given.resolve(now_ms(), DEFAULT_SPAN_MS)?;
    let storage = connect(&args.db).await?;
    let written: Result<u64, Fail> = async {
        let max_days = capped(&storage, &given, range).await?;
        let stdout = std::io::stdout();
        let mut out =
            csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 16, stdout.lock()));
        let mut rows = 0u64;
        // Pages by start time (CdrFilter::next_page), never by a growing offset.
        let mut filter = args.filter.filter(range, MAX_SEARCH_LIMIT, 0);
        let write = |r: Result<(), csv::Error>| match r {
            Ok(()) => Ok(true),
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
                _ => Err(Fail::runtime(format!("writing CSV to stdout: {e}"))),
            },
        };
        if !write(out.write_record(CSV_HEADER))? {
            return Ok(rows);
        }
        loop {
            let page = storage.cdr_search(&filter, max_days).await?;
            for c in &page {
                if !write(out.write_record(csv_row(c)))? {
                    return Ok(rows);
                }
                rows += 1;
            }
            let flushed = out.flush().map_err(csv::Error::from);
            if !write(flushed)? {
                return Ok(rows);
            }
            match filter.next_page(&page) {
                Some(next) => filter = next,
                None => return Ok(rows),
            }
        }
    }
    .await;
    storage.close().await;
    let rows = written?;
    eprintln!(
        "exported {rows} CDR{} from {} until {}",
        if rows == 1 { "" } else { "s" },
        UtcMs(range.from_ms),
        UtcMs(range.until_ms)
    );
    Ok(())
}

/// Runs a `report` subcommand.
pub async fn run_report(command: ReportCommand) -> ExitCode {
    finish(report(command).await)
}

/// The traffic columns every report but `codes` shares, after its key columns.
const TRAFFIC_COLUMNS: [(&str, Align); 9] = [
    ("attempts", Align::Right),
    ("answered", Align::Right),
    ("ASR", Align::Right),
    ("ACD s", Align::Right),
    ("PDD ms", Align::Right),
    ("minutes", Align::Right),
    ("revenue", Align::Right),
    ("cost", Align::Right),
    ("profit", Align::Right),
];

/// A traffic report table: `keys` columns, then [`TRAFFIC_COLUMNS`].
fn traffic_table<'a>(
    keys: &[(&'static str, Align)],
    rows: impl IntoIterator<Item = (Vec<String>, &'a TrafficStats)>,
) -> Table {
    let columns: Vec<(&'static str, Align)> =
        keys.iter().chain(TRAFFIC_COLUMNS.iter()).copied().collect();
    let mut t = Table::new(&columns);
    for (mut cells, s) in rows {
        cells.extend([
            s.attempts.to_string(),
            s.answered.to_string(),
            percent(s.asr_bp),
            s.acd_secs.to_string(),
            s.avg_pdd_ms.to_string(),
            minutes(s.billed_secs),
            s.revenue.to_string(),
            s.cost.to_string(),
            s.profit.to_string(),
        ]);
        t.row(cells);
    }
    t
}

/// A name, or a word saying there is none (unrecognised sources have no account).
fn or_unknown(name: &str) -> String {
    if name.is_empty() {
        String::from("(unrecognised)")
    } else {
        name.to_owned()
    }
}

/// How a code class reads in a table.
fn class_text(class: SipCodeClass) -> &'static str {
    match class {
        SipCodeClass::Provisional => "1xx provisional",
        SipCodeClass::Success => "2xx success",
        SipCodeClass::Redirect => "3xx redirect",
        SipCodeClass::ClientError => "4xx client error",
        SipCodeClass::ServerError => "5xx server error",
        SipCodeClass::GlobalFailure => "6xx global failure",
    }
}

async fn report(command: ReportCommand) -> Result<(), Fail> {
    let args = match &command {
        ReportCommand::Gateways(a)
        | ReportCommand::MappingGateways(a)
        | ReportCommand::Accounts(a)
        | ReportCommand::Vendors(a)
        | ReportCommand::Areas(a)
        | ReportCommand::Hours(a)
        | ReportCommand::Codes(a) => a,
    };
    let range = args.range.resolve(now_ms(), DEFAULT_SPAN_MS)?;
    let storage = connect(&args.db).await?;
    let result = report_output(&storage, &command, range, args.json).await;
    storage.close().await;
    let mut text = result?;
    if !args.json {
        text.push_str(&format!(
            "from {} until {}\n",
            UtcMs(range.from_ms),
            UtcMs(range.until_ms)
        ));
    }
    emit(&text)
}

/// The report as text: pretty JSON or a table.
async fn report_output(
    s: &Storage,
    command: &ReportCommand,
    range: TimeRange,
    json: bool,
) -> Result<String, Fail> {
    fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Fail> {
        serde_json::to_string_pretty(v)
            .map(|mut t| {
                t.push('\n');
                t
            })
            .map_err(|e| Fail::runtime(format!("encoding JSON: {e}")))
    }
    let table = match command {
        ReportCommand::Gateways(_) => {
            let rows = s.report_by_routing_gateway(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("routing gateway", Align::Left)],
                rows.iter()
                    .map(|r| (vec![r.routing_gateway.clone()], &r.stats)),
            )
        }
        ReportCommand::MappingGateways(_) => {
            let rows = s.report_by_mapping_gateway(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("mapping gateway", Align::Left)],
                rows.iter()
                    .map(|r| (vec![or_unknown(&r.mapping_gateway)], &r.stats)),
            )
        }
        ReportCommand::Accounts(_) => {
            let rows = s.report_by_account(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("account", Align::Left)],
                rows.iter()
                    .map(|r| (vec![or_unknown(&r.account)], &r.stats)),
            )
        }
        ReportCommand::Vendors(_) => {
            let rows = s.report_by_vendor(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("vendor", Align::Left)],
                rows.iter().map(|r| (vec![or_unknown(&r.vendor)], &r.stats)),
            )
        }
        ReportCommand::Areas(_) => {
            let rows = s.report_by_area(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("prefix", Align::Left), ("area", Align::Left)],
                rows.iter().map(|r| {
                    (
                        vec![
                            r.rate_prefix.clone().unwrap_or_else(|| "(unrated)".into()),
                            r.area.clone().unwrap_or_default(),
                        ],
                        &r.stats,
                    )
                }),
            )
        }
        ReportCommand::Hours(_) => {
            let rows = s.report_by_hour(range).await?;
            if json {
                return to_json(&rows);
            }
            traffic_table(
                &[("hour (UTC)", Align::Left)],
                rows.iter()
                    .map(|r| (vec![UtcMs(r.hour_start_ms).to_string()], &r.stats)),
            )
        }
        ReportCommand::Codes(_) => {
            let rows = s.report_codes_by_gateway(range).await?;
            if json {
                return to_json(&rows);
            }
            let mut t = Table::new(&[
                ("routing gateway", Align::Left),
                ("code", Align::Right),
                ("reason", Align::Left),
                ("class", Align::Left),
                ("count", Align::Right),
                ("hint", Align::Left),
            ]);
            for r in &rows {
                t.row(vec![
                    r.gateway
                        .clone()
                        .unwrap_or_else(|| "(switch: no gateway tried)".into()),
                    r.code.as_u16().to_string(),
                    r.reason_phrase.clone(),
                    class_text(r.class).to_owned(),
                    r.count.to_string(),
                    r.hint.clone(),
                ]);
            }
            t
        }
    };
    Ok(table.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use tollswitch_model::Money;
    use tollswitch_model::cdr::{EndReason, EndedBy};

    #[derive(Debug, Parser)]
    enum Cli {
        Cdr {
            #[command(subcommand)]
            command: CdrCommand,
        },
        Report {
            #[command(subcommand)]
            command: ReportCommand,
        },
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tollswitch").chain(args.iter().copied()))
    }

    fn cdr(id: &str, start_ms: i64) -> Cdr {
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
            hold_time_ms: 61_500,
            billed_secs: 120,
            rate_prefix: None,
            area: None,
            charge: Money::from_micros(100_000),
            cost: Money::ZERO,
            vendor_rate_prefix: None,
            final_code: SipCode::OK,
            ended_by: EndedBy::Caller,
            end_reason: EndReason::NormalClearing,
        }
    }

    #[test]
    fn list_arguments_parse_with_every_filter() {
        let Ok(Cli::Cdr {
            command: CdrCommand::List(a),
        }) = parse(&[
            "cdr",
            "list",
            "--from",
            "2026-11-28T00:00:00Z",
            "--until",
            "2026-11-29T00:00:00Z",
            "--account",
            "acme",
            "--mapping-gateway",
            "acme-pbx",
            "--routing-gateway",
            "vendor-a-gw",
            "--callee-prefix",
            "44",
            "--code",
            "503",
            "--limit",
            "10",
            "--offset",
            "20",
            "--json",
        ])
        else {
            panic!("list arguments refused");
        };
        let range = a.range.resolve(0, DAY_MS).expect("range");
        assert_eq!(range, TimeRange::new(1_795_824_000_000, 1_795_910_400_000));
        let f = a.filter.filter(range, a.limit, a.offset);
        assert_eq!(f.account.as_deref(), Some("acme"));
        assert_eq!(f.mapping_gateway.as_deref(), Some("acme-pbx"));
        assert_eq!(f.routing_gateway.as_deref(), Some("vendor-a-gw"));
        assert_eq!(f.callee_prefix.as_deref(), Some("44"));
        assert_eq!(f.final_code, Some(SipCode::SERVICE_UNAVAILABLE));
        assert_eq!((f.limit, f.offset), (10, 20));
        assert!(a.json);
    }

    #[test]
    fn bad_list_arguments_name_the_flag_and_exit_2() {
        for (args, flag) in [
            (&["--from", "yesterday"][..], "--from"),
            (&["--until", "2026-11-28"][..], "--until"),
            (&["--code", "99"][..], "--code"),
            (&["--code", "abc"][..], "--code"),
            (&["--limit", "0"][..], "--limit"),
            (&["--limit", "10001"][..], "--limit"),
            (&["--offset=-1"][..], "--offset"),
        ] {
            let mut all = vec!["cdr", "list"];
            all.extend_from_slice(args);
            let e = parse(&all).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains(flag), "{e}");
        }
    }

    #[test]
    fn export_needs_both_ends_of_the_range() {
        let e = parse(&["cdr", "export", "--from", "2026-11-28T00:00:00Z"]).expect_err("refused");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--until"), "{e}");
        assert!(
            parse(&[
                "cdr",
                "export",
                "--from",
                "2026-11-28T00:00:00Z",
                "--until",
                "2026-11-28T01:00:00Z",
                "--code",
                "200",
            ])
            .is_ok()
        );
    }

    #[test]
    fn every_report_parses() {
        for name in [
            "gateways",
            "mapping-gateways",
            "accounts",
            "vendors",
            "areas",
            "hours",
            "codes",
        ] {
            assert!(parse(&["report", name, "--json"]).is_ok(), "{name}");
        }
        assert!(parse(&["report", "carriers"]).is_err());
    }

    #[test]
    fn cdr_tables_show_times_in_utc_and_money_as_text() {
        let text = cdr_table(&[cdr("n1-1", 1_795_860_000_000)]).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id    start"), "{text}");
        for cell in [
            "2026-11-28T10:00:00Z",
            "acme",
            "442071234567",
            "200",
            "61.5",
            "120",
            "0.10",
            "0.00",
            "normal_clearing",
        ] {
            assert!(lines[1].contains(cell), "{cell} missing: {text}");
        }
    }

    #[test]
    fn traffic_tables_derive_percentages_from_basis_points() {
        let stats = TrafficStats {
            attempts: 3,
            answered: 2,
            asr_bp: 6_667,
            acd_secs: 45,
            avg_pdd_ms: 1_500,
            hold_time_ms: 90_000,
            billed_secs: 120,
            revenue: Money::from_micros(110_000),
            cost: Money::from_micros(60_000),
            profit: Money::from_micros(50_000),
        };
        let text = traffic_table(
            &[("routing gateway", Align::Left)],
            [(vec!["vendor-a-gw".into()], &stats)],
        )
        .render();
        assert_eq!(
            text,
            "routing gateway  attempts  answered     ASR  ACD s  PDD ms  minutes  revenue  cost  \
             profit\n\
             vendor-a-gw             3         2  66.67%     45    1500     2.00     0.11  0.06    \
             0.05\n"
        );
    }

    #[test]
    fn code_classes_read_as_the_operator_says_them() {
        assert_eq!(
            class_text(SipCode::SERVICE_UNAVAILABLE.class()),
            "5xx server error"
        );
        assert_eq!(class_text(SipCode::DECLINE.class()), "6xx global failure");
        assert_eq!(or_unknown(""), "(unrecognised)");
    }
}
