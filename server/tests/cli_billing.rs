//! The billing, CDR and report commands through the real binary, against a temporary data
//! directory: `provision apply`, then `rate`, `account`, `cdr` and `report`, with CDRs written
//! straight into the database through `tollswitch_storage`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tollswitch_model::cdr::{Cdr, EndReason, EndedBy, GatewayAttempt};
use tollswitch_model::{Money, SipCode};
use tollswitch_storage::Storage;

/// A small provisioning set: 60/60, 6/6 and connect-fee rates, a rate that is not in force
/// yet, a free number and a two-day CDR query limit.
const PROVISIONING: &str = r#"
[parameters]
SERVER_BILLING_FREE_E164S = "442000000000"
SERVER_QUERY_CDR_MAX_DAY_INTERVAL = "2"

[[account]]
name = "customer"
currency = "USD"
balance = "100.00"
credit_limit = "20"
rate_table = "retail"

[[account]]
name = "vendor-a"
kind = "vendor"
currency = "USD"

[[mapping_gateway]]
name = "customer-pbx"
account = "customer"
sources = ["127.0.0.1"]

[[routing_gateway]]
name = "vendor-a-gw"
vendor_account = "vendor-a"
targets = [{ host = "127.0.0.1", port = 5080 }]
prefixes = ["1", "44"]
rate_table = "cost-a"

[[rate_table]]
name = "retail"
currency = "USD"
rate = [
    { prefix = "44", area = "United Kingdom", price = "0.05" },
    { prefix = "447", area = "United Kingdom mobile", price = "0.08", connect_fee = "0.01" },
    { prefix = "1", price = "0.06", first_increment_secs = 6, next_increment_secs = 6 },
    { prefix = "33", area = "France", price = "0.04", effective_from = 1893456000 },
]

[[rate_table]]
name = "cost-a"
currency = "USD"
rate = [{ prefix = "44", price = "0.03" }]
"#;

/// A data directory removed when the test ends.
struct TempData(PathBuf);

impl TempData {
    fn new(name: &str) -> TempData {
        let dir = std::env::temp_dir().join(format!(
            "tollswitch-cli-billing-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempData(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempData {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tollswitch ARGS --data DIR`.
fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run tollswitch")
}

/// Runs a command that must succeed and returns its stdout.
fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs a command that must succeed and parses its JSON output.
fn json(data: &Path, args: &[&str]) -> Value {
    let text = ok(data, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// Runs a command that must fail with exit status 2 and returns its stderr.
fn refused(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

fn provisioned(name: &str) -> TempData {
    let data = TempData::new(name);
    let file = data.path().join("provisioning.toml");
    std::fs::write(&file, PROVISIONING).expect("write provisioning");
    let file = file.to_str().expect("UTF-8 path");
    ok(data.path(), &["provision", "apply", file]);
    data
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_millis()).expect("ms fit i64")
}

/// Writes CDRs into the data directory's database.
fn insert(data: &Path, cdrs: &[Cdr]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let url = tollswitch_storage::sqlite_url_for_data_dir(data).expect("url");
        let storage = Storage::connect(&url).await.expect("connect");
        storage.insert_cdrs(cdrs).await.expect("insert CDRs");
        storage.close().await;
    });
}

/// An answered call of `customer` through `vendor-a-gw` after a 503 from nowhere else.
fn answered(id: &str, start_ms: i64) -> Cdr {
    Cdr {
        id: id.into(),
        call_id: format!("{id}@test"),
        account: "customer".into(),
        agent: None,
        mapping_gateway: "customer-pbx".into(),
        caller_received: "15550001".into(),
        callee_received: "442071234567".into(),
        caller_sent: "15550001".into(),
        callee_sent: "442071234567".into(),
        caller_ip: "127.0.0.1".into(),
        routing_gateway: Some("vendor-a-gw".into()),
        tried: vec![GatewayAttempt {
            gateway: "vendor-a-gw".into(),
            code: SipCode::OK,
            reason: None,
        }],
        start_ms,
        ring_ms: Some(start_ms + 1_000),
        connect_ms: Some(start_ms + 3_000),
        end_ms: start_ms + 64_000,
        pdd_ms: Some(1_000),
        hold_time_ms: 61_000,
        billed_secs: 120,
        rate_prefix: Some("44".into()),
        area: Some("United Kingdom".into()),
        charge: Money::from_micros(100_000),
        cost: Money::from_micros(60_000),
        vendor_rate_prefix: Some("44".into()),
        final_code: SipCode::OK,
        ended_by: EndedBy::Caller,
        end_reason: EndReason::NormalClearing,
    }
}

/// A call the vendor refused with 503.
fn refused_call(id: &str, start_ms: i64) -> Cdr {
    Cdr {
        tried: vec![GatewayAttempt {
            gateway: "vendor-a-gw".into(),
            code: SipCode::SERVICE_UNAVAILABLE,
            reason: None,
        }],
        ring_ms: None,
        connect_ms: None,
        end_ms: start_ms + 500,
        pdd_ms: None,
        hold_time_ms: 0,
        billed_secs: 0,
        charge: Money::ZERO,
        cost: Money::ZERO,
        final_code: SipCode::SERVICE_UNAVAILABLE,
        ended_by: EndedBy::Callee,
        end_reason: EndReason::RoutingFailed,
        ..answered(id, start_ms)
    }
}

fn rate(data: &Path, callee: &str, seconds: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "rate",
        "--table",
        "retail",
        "--callee",
        callee,
        "--seconds",
        seconds,
        "--json",
    ];
    args.extend_from_slice(extra);
    json(data, &args)
}

#[test]
fn rate_applies_increments_connect_fees_and_free_numbers() {
    let data = provisioned("rate");
    let d = data.path();

    // 60/60: 61 s is two minutes.
    assert_eq!(
        rate(d, "+442071234567", "61", &[]),
        serde_json::json!({
            "prefix": "44",
            "area": "United Kingdom",
            "price_per_minute": "0.05",
            "billed_seconds": 120,
            "connect_fee": "0.00",
            "charge": "0.10",
        })
    );
    // 6/6: 7 s is 12 s; no area gives null.
    assert_eq!(
        rate(d, "12125551234", "7", &[]),
        serde_json::json!({
            "prefix": "1",
            "area": null,
            "price_per_minute": "0.06",
            "billed_seconds": 12,
            "connect_fee": "0.00",
            "charge": "0.012",
        })
    );
    // The longest prefix wins and its connect fee is charged once.
    let mobile = rate(d, "447700900123", "30", &[]);
    assert_eq!(mobile["prefix"], "447");
    assert_eq!(mobile["billed_seconds"], 60);
    assert_eq!(mobile["connect_fee"], "0.01");
    assert_eq!(mobile["charge"], "0.09");
    // An unanswered call costs nothing, not even the connect fee.
    let nothing = rate(d, "447700900123", "0", &[]);
    assert_eq!(nothing["charge"], "0.00");
    assert_eq!(nothing["connect_fee"], "0.00");
    // SERVER_BILLING_FREE_E164S from the database: the rate matches, the call is free.
    let free = rate(d, "442000000000", "600", &[]);
    assert_eq!(free["prefix"], "44");
    assert_eq!(free["billed_seconds"], 600);
    assert_eq!(free["charge"], "0.00");
    // A rate is found only while it is in force.
    let later = rate(d, "33142000000", "60", &["--at", "2030-06-01T00:00:00Z"]);
    assert_eq!(later["area"], "France");
    assert_eq!(later["charge"], "0.04");
    let early = refused(
        d,
        &[
            "rate",
            "--table",
            "retail",
            "--callee",
            "33142000000",
            "--seconds",
            "60",
            "--at",
            "2029-12-31T23:59:59Z",
        ],
    );
    assert!(early.contains("--callee"), "{early}");

    // The human form.
    let text = ok(
        d,
        &[
            "rate",
            "--table",
            "retail",
            "--callee",
            "447700900123",
            "--seconds",
            "61",
        ],
    );
    assert!(text.contains("rate table:  retail (USD)"), "{text}");
    assert!(
        text.contains("charge:      0.17 = connect fee 0.01 + time 0.16"),
        "{text}"
    );

    // Bad input: exit 2, naming what is wrong.
    let e = refused(
        d,
        &[
            "rate",
            "--table",
            "wholesale",
            "--callee",
            "44",
            "--seconds",
            "1",
        ],
    );
    assert!(e.contains("--table") && e.contains("wholesale"), "{e}");
    let e = refused(
        d,
        &[
            "rate",
            "--table",
            "retail",
            "--callee",
            "999",
            "--seconds",
            "1",
        ],
    );
    assert!(e.contains("--callee"), "{e}");
    let e = refused(
        d,
        &[
            "rate",
            "--table",
            "retail",
            "--callee",
            "44a",
            "--seconds",
            "1",
        ],
    );
    assert!(e.contains("--callee"), "{e}");
    let e = refused(
        d,
        &[
            "rate",
            "--table",
            "retail",
            "--callee",
            "44",
            "--seconds",
            "1",
            "--at",
            "noon",
        ],
    );
    assert!(e.contains("--at"), "{e}");
}

#[test]
fn account_pay_moves_the_balance_and_the_ledger_shows_it() {
    let data = provisioned("account");
    let d = data.path();

    let before = json(d, &["account", "show", "customer", "--json"]);
    assert_eq!(before["balance"], "100.00");
    assert_eq!(before["credit_limit"], "20.00");
    assert_eq!(before["available"], "120.00");
    assert_eq!(before["recent"], serde_json::json!([]));

    let paid = json(
        d,
        &[
            "account", "pay", "customer", "25.50", "--note", "wire 42", "--json",
        ],
    );
    assert_eq!(paid["account"], "customer");
    assert_eq!(paid["amount"], "25.50");
    assert_eq!(paid["balance"], "125.50");
    let id = paid["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("payment-"), "{id}");

    // A negative amount reverses; the text form prints the new balance.
    let text = ok(d, &["account", "pay", "customer", "-0.50"]);
    assert!(text.contains("balance 125.00"), "{text}");

    let after = json(d, &["account", "show", "customer", "--json"]);
    assert_eq!(after["balance"], "125.00");
    assert_eq!(after["recent"].as_array().map(Vec::len), Some(2));

    let ledger = json(d, &["account", "ledger", "customer", "--json"]);
    let entries = ledger.as_array().expect("array");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["id"], id.as_str());
    assert_eq!(entries[0]["note"], "wire 42");
    assert_eq!(entries[1]["amount"], "-0.50");

    // Zero, unknown accounts and bad amounts are refused with exit 2.
    let e = refused(d, &["account", "pay", "customer", "0"]);
    assert!(e.contains("zero"), "{e}");
    let e = refused(d, &["account", "pay", "nobody", "5"]);
    assert!(e.contains("nobody"), "{e}");
    let e = refused(d, &["account", "pay", "customer", "5.1234567"]);
    assert!(e.contains("AMOUNT"), "{e}");
    let e = refused(d, &["account", "show", "nobody"]);
    assert!(e.contains("nobody"), "{e}");
    let balance = json(d, &["account", "show", "customer", "--json"]);
    assert_eq!(balance["balance"], "125.00");
}

#[test]
fn cdr_list_and_reports_read_the_database() {
    let data = provisioned("cdr");
    let d = data.path();

    // An empty database.
    assert_eq!(json(d, &["cdr", "list", "--json"]), serde_json::json!([]));
    assert_eq!(
        json(d, &["report", "gateways", "--json"]),
        serde_json::json!([])
    );
    let e = refused(d, &["cdr", "list", "--from", "yesterday"]);
    assert!(e.contains("--from"), "{e}");
    let e = refused(d, &["report", "accounts", "--from", "2026-02-30T00:00:00Z"]);
    assert!(e.contains("--from"), "{e}");

    // Two answered calls and one refused, an hour ago.
    let hour_ago = now_ms() - 3_600_000;
    insert(
        d,
        &[
            answered("cdr-a", hour_ago),
            answered("cdr-b", hour_ago + 1_000),
            refused_call("cdr-c", hour_ago + 2_000),
        ],
    );

    let all = json(d, &["cdr", "list", "--json"]);
    let ids: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["cdr-a", "cdr-b", "cdr-c"]);
    assert_eq!(all[0]["charge"], "0.10");
    let failed = json(d, &["cdr", "list", "--code", "503", "--json"]);
    assert_eq!(failed.as_array().map(Vec::len), Some(1));
    let page = json(
        d,
        &["cdr", "list", "--limit", "1", "--offset", "1", "--json"],
    );
    assert_eq!(page[0]["id"], "cdr-b");
    let none = json(d, &["cdr", "list", "--account", "someone-else", "--json"]);
    assert_eq!(none, serde_json::json!([]));
    let table = ok(d, &["cdr", "list", "--callee-prefix", "44"]);
    assert!(table.starts_with("id "), "{table}");
    assert!(
        table.contains("cdr-c") && table.contains("routing_failed"),
        "{table}"
    );
    assert!(table.contains("3 CDRs from"), "{table}");

    let gateways = json(d, &["report", "gateways", "--json"]);
    assert_eq!(gateways[0]["routing_gateway"], "vendor-a-gw");
    assert_eq!(gateways[0]["attempts"], 3);
    assert_eq!(gateways[0]["answered"], 2);
    assert_eq!(gateways[0]["asr_bp"], 6_667);
    assert_eq!(gateways[0]["revenue"], "0.20");
    assert_eq!(gateways[0]["profit"], "0.08");
    let text = ok(d, &["report", "gateways"]);
    assert!(text.contains("66.67%"), "{text}");
    let accounts = json(d, &["report", "accounts", "--json"]);
    assert_eq!(accounts[0]["account"], "customer");
    let codes = json(d, &["report", "codes", "--json"]);
    let codes = codes.as_array().expect("array");
    assert!(
        codes
            .iter()
            .any(|c| c["code"] == 503 && c["count"] == 1 && c["class"] == "servererror")
    );
    let text = ok(d, &["report", "codes"]);
    assert!(text.contains("5xx server error"), "{text}");
    assert!(text.contains("route to an alternate gateway"), "{text}");
    for report in ["mapping-gateways", "areas", "hours"] {
        let rows = json(d, &["report", report, "--json"]);
        assert_eq!(rows.as_array().map(Vec::len), Some(1), "{report}: {rows}");
        assert_eq!(rows[0]["attempts"], 3, "{report}");
    }

    // SERVER_QUERY_CDR_MAX_DAY_INTERVAL is 2 here: three days is refused, naming --from.
    let three_days_ago = format_utc(now_ms() - 3 * 86_400_000);
    let e = refused(d, &["cdr", "list", "--from", &three_days_ago]);
    assert!(
        e.contains("--from") && e.contains("SERVER_QUERY_CDR_MAX_DAY_INTERVAL"),
        "{e}"
    );
}

#[test]
fn cdr_export_streams_every_row_across_pages() {
    let data = provisioned("export");
    let d = data.path();
    // More than one search page (10 000 rows), with a run of rows sharing one start time
    // across the page boundary.
    let base = now_ms() - 7_200_000;
    let cdrs: Vec<Cdr> = (0..10_050i64)
        .map(|i| {
            let start = if (9_990..10_020).contains(&i) {
                base + 9_990
            } else {
                base + i
            };
            answered(&format!("x{i:05}"), start)
        })
        .collect();
    insert(d, &cdrs);
    let from = format_utc(base - 1);
    let until = format_utc(base + 20_000);
    let csv = ok(d, &["cdr", "export", "--from", &from, "--until", &until]);
    let mut lines = csv.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("id,call_id,account,"), "{header}");
    let ids: Vec<&str> = lines.map(|l| l.split(',').next().unwrap_or("")).collect();
    assert_eq!(ids.len(), 10_050);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 10_050, "every CDR exactly once");

    // Filters apply; `--until` is required.
    let none = ok(
        d,
        &[
            "cdr", "export", "--from", &from, "--until", &until, "--code", "486",
        ],
    );
    assert_eq!(none.lines().count(), 1, "header only: {none}");
    let e = refused(d, &["cdr", "export", "--from", &from]);
    assert!(e.contains("--until"), "{e}");
}

/// Unix milliseconds as RFC 3339 UTC (days from civil, Howard Hinnant).
fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = rest / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rest % 1000
    )
}
