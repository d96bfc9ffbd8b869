//! What the operator commands over billing, CDRs and reports share: how a failure becomes an
//! exit status, RFC 3339 times, `--from`/`--until` ranges, aligned tables and JSON on stdout.
//!
//! ```text
//!   argv ──clap value parsers──► typed args (UtcMs, Money, SipCode)   bad text: clap, exit 2
//!        ──resolve / check_span──► TimeRange                          bad range: Fail, exit 2
//!        ──Storage──► rows ──► Table::render | emit_json ──► stdout   database: Fail, exit 1
//! ```
//!
//! Times are unix milliseconds, UTC, converted with integer civil-date arithmetic (Howard
//! Hinnant's algorithms); ratios and money are integers throughout, never floats.

use crate::DbArgs;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use tollswitch_model::params::{ParamValue, Parameters};
use tollswitch_storage::{Storage, StorageError, TimeRange};

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Why a command stopped: bad input (exit status 2) or a failure of the database or the
/// output (exit status 1). The message names the argument at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    code: u8,
    message: String,
}

impl Fail {
    /// The operator's input is wrong: exit status 2.
    pub fn input(message: impl Into<String>) -> Fail {
        Fail {
            code: 2,
            message: message.into(),
        }
    }

    /// Something else went wrong (database, output): exit status 1.
    pub fn runtime(message: impl Into<String>) -> Fail {
        Fail {
            code: 1,
            message: message.into(),
        }
    }

    /// Prints `error: <message>` on stderr and gives the exit status.
    pub fn exit(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        ExitCode::from(self.code)
    }

    /// The exit status this failure ends the process with.
    #[cfg(test)]
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The message.
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<StorageError> for Fail {
    /// Errors caused by what the operator asked for (an unknown account, a refused range or
    /// amount, a payment that would overflow the balance) are input errors; the rest are
    /// database failures.
    fn from(e: StorageError) -> Fail {
        match e {
            StorageError::UnknownAccount(_)
            | StorageError::QueryRange(_)
            | StorageError::InvalidRecord { .. }
            | StorageError::BalanceOverflow(_) => Fail::input(e.to_string()),
            e => Fail::runtime(e.to_string()),
        }
    }
}

/// Ends a command: success, or the failure's message and exit status.
pub fn finish(result: Result<(), Fail>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}

/// Connects to the database the `--data`/`--database` arguments name.
pub async fn connect(db: &DbArgs) -> Result<Storage, Fail> {
    db.connect()
        .await
        .map_err(|e| Fail::runtime(format!("database: {e:#}")))
}

/// The wall clock, unix milliseconds (0 before 1970, which no real clock reports).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `SERVER_QUERY_CDR_MAX_DAY_INTERVAL`: how many days one CDR query may span.
pub fn max_query_days(p: &Parameters) -> u32 {
    match p.value("SERVER_QUERY_CDR_MAX_DAY_INTERVAL") {
        Some(ParamValue::Int(v)) => u32::try_from(*v).unwrap_or(31),
        _ => 31,
    }
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// A point in time, unix milliseconds, read from and written as RFC 3339
/// (`2026-11-28T10:00:00Z`, `2026-11-28T12:00:00.250+02:00`); always written in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcMs(pub i64);

/// Why a text is not an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRfc3339;

impl fmt::Display for NotRfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not an RFC 3339 time such as 2026-11-28T10:00:00Z or 2026-11-28T12:00:00+02:00",
        )
    }
}

impl std::error::Error for NotRfc3339 {}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for UtcMs {
    type Err = NotRfc3339;

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t` or a space may stand for `T`, `z` for
    /// `Z`. Fractions below the millisecond are dropped; a leap second (`:60`) is read as
    /// `:59`.
    fn from_str(text: &str) -> Result<UtcMs, NotRfc3339> {
        let b = text.as_bytes();
        let num = |at: usize, len: usize| -> Result<i64, NotRfc3339> {
            let digits = b.get(at..at + len).ok_or(NotRfc3339)?;
            digits.iter().try_fold(0i64, |n, &c| {
                if c.is_ascii_digit() {
                    Ok(n * 10 + i64::from(c - b'0'))
                } else {
                    Err(NotRfc3339)
                }
            })
        };
        let at = |i: usize, expected: &[u8]| -> Result<(), NotRfc3339> {
            match b.get(i) {
                Some(c) if expected.contains(c) => Ok(()),
                _ => Err(NotRfc3339),
            }
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        at(4, b"-")?;
        at(7, b"-")?;
        at(10, b"Tt ")?;
        let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        at(13, b":")?;
        at(16, b":")?;
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return Err(NotRfc3339);
        }
        if h > 23 || mi > 59 || s > 60 {
            return Err(NotRfc3339);
        }
        let mut i = 19;
        let mut ms = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(NotRfc3339);
            }
            for k in 0..3 {
                ms = ms * 10 + if k < digits { num(i + k, 1)? } else { 0 };
            }
            i += digits;
        }
        let offset_secs = match &b[i..] {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
                if oh > 23 || om > 59 {
                    return Err(NotRfc3339);
                }
                let secs = oh * 3600 + om * 60;
                if *sign == b'-' { -secs } else { secs }
            }
            _ => return Err(NotRfc3339),
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59);
        Ok(UtcMs((secs - offset_secs) * 1000 + ms))
    }
}

impl fmt::Display for UtcMs {
    /// `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` before the `Z` when the milliseconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS);
        let in_day = self.0.rem_euclid(DAY_MS);
        let (y, mo, d) = civil_from_days(days);
        let secs = in_day / 1000;
        let ms = in_day % 1000;
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

/// `--from` / `--until`: a half-open range of start times.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RangeArgs {
    /// First time included (RFC 3339, e.g. 2026-11-28T00:00:00Z) [default: 24 hours before
    /// --until; 30 days for `account ledger`].
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<UtcMs>,
    /// First time no longer included (RFC 3339) [default: now].
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<UtcMs>,
}

impl RangeArgs {
    /// The range asked for: `until` defaults to `now_ms`, `from` to `until − default_span_ms`.
    /// A range that does not end after it starts is refused, naming the flag.
    pub fn resolve(&self, now_ms: i64, default_span_ms: i64) -> Result<TimeRange, Fail> {
        let until = self.until.map_or(now_ms, |u| u.0);
        let from = self
            .from
            .map_or_else(|| until.saturating_sub(default_span_ms), |f| f.0);
        if from < until {
            return Ok(TimeRange::new(from, until));
        }
        Err(match (self.from, self.until) {
            (Some(f), Some(u)) => Fail::input(format!("--until: {u} is not after --from {f}")),
            (Some(f), None) => Fail::input(format!(
                "--from: {f} is not in the past (without --until the range ends now, {})",
                UtcMs(now_ms)
            )),
            // `from` was derived from `until` and a positive span.
            _ => Fail::input("--until: the range is empty"),
        })
    }

    /// Refuses a range longer than `max_days` days (`SERVER_QUERY_CDR_MAX_DAY_INTERVAL`),
    /// naming `--from` (only an explicit `--from` can make the default range that long).
    pub fn check_span(&self, range: TimeRange, max_days: u32) -> Result<(), Fail> {
        let span = i128::from(range.until_ms) - i128::from(range.from_ms);
        if span <= i128::from(max_days) * i128::from(DAY_MS) {
            return Ok(());
        }
        let flag = match (self.from, self.until) {
            (Some(_), Some(_)) => "--from/--until",
            (None, Some(_)) => "--until",
            _ => "--from",
        };
        let tenths = span * 10 / i128::from(DAY_MS);
        Err(Fail::input(format!(
            "{flag}: {} until {} spans {}.{} days; CDR queries may span at most {max_days} \
             day{} (SERVER_QUERY_CDR_MAX_DAY_INTERVAL)",
            UtcMs(range.from_ms),
            UtcMs(range.until_ms),
            tenths / 10,
            tenths % 10,
            if max_days == 1 { "" } else { "s" },
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers as the operator reads them
// ---------------------------------------------------------------------------------------------

/// Basis points as a percentage with two decimals: 6667 → `66.67%`.
pub fn percent(bp: u64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// Seconds as minutes with two decimals, rounded half up: 90 → `1.50`.
pub fn minutes(secs: u64) -> String {
    let hundredths = (u128::from(secs) * 200 + 60) / 120;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Milliseconds as seconds, trailing zero decimals trimmed: 61 500 → `61.5`, 60 000 → `60`.
pub fn seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return whole.to_string();
    }
    let mut text = format!("{whole}.{frac:03}");
    while text.ends_with('0') {
        text.pop();
    }
    text
}

/// A unit enum's serde spelling (`prepaid`, `client_error`…), for tables.
pub fn spelling<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// How a table column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: left.
    Left,
    /// Numbers and money: right.
    Right,
}

/// A table printed with aligned columns, two spaces apart.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra ones are dropped.
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
    }

    /// The title row and every row, each line ending in `\n`, no trailing spaces.
    pub fn render(&self) -> String {
        self.render_lines(true)
    }

    /// Every row without the title row (for key/value listings).
    pub fn render_rows(&self) -> String {
        self.render_lines(false)
    }

    fn render_lines(&self, with_titles: bool) -> String {
        let titles: Vec<String> = self.columns.iter().map(|(t, _)| (*t).to_owned()).collect();
        let lines: Vec<&Vec<String>> = with_titles
            .then_some(&titles)
            .into_iter()
            .chain(&self.rows)
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                lines
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for cells in lines {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                match self.columns[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes `text` to stdout. A closed pipe (`| head`) ends the output quietly instead of
/// panicking as `println!` would.
pub fn emit(text: &str) -> Result<(), Fail> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Fail::runtime(format!("writing to stdout: {e}"))),
    }
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn emit_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Fail> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Fail::runtime(format!("encoding JSON: {e}")))?;
    text.push('\n');
    emit(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Option<i64> {
        text.parse::<UtcMs>().ok().map(|u| u.0)
    }

    #[test]
    fn rfc3339_reads_offsets_fractions_and_refuses_nonsense() {
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2026-11-28T10:00:00Z"), Some(1_795_860_000_000));
        assert_eq!(t("2026-11-28T12:00:00+02:00"), Some(1_795_860_000_000));
        assert_eq!(t("2026-11-28T05:30:00-04:30"), Some(1_795_860_000_000));
        assert_eq!(t("2026-11-28t10:00:00.25z"), Some(1_795_860_000_250));
        assert_eq!(t("2026-11-28 10:00:00.123456789Z"), Some(1_795_860_000_123));
        assert_eq!(t("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(t("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in [
            "yesterday",
            "",
            "2026-11-28",
            "2026-11-28T10:00:00",
            "2026-11-28T10:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T10:00:00.Z",
            "2026-11-28T10:00:00+0200",
            "2026-11-28T10:00:00+02:00 ",
            "2026-11-28T10:00:00Zjunk",
            "２026-11-28T10:00:00Z",
            "+026-11-28T10:00:00Z",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_writes_utc_and_round_trips() {
        assert_eq!(UtcMs(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            UtcMs(1_795_860_000_250).to_string(),
            "2026-11-28T10:00:00.250Z"
        );
        assert_eq!(UtcMs(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(UtcMs(951_782_400_000).to_string(), "2000-02-29T00:00:00Z");
        // Every day for 800 years either side of 1970, at an odd time of day.
        let mut days = -292_000;
        while days < 292_000 {
            let ms = days * DAY_MS + 45_296_789;
            assert_eq!(t(&UtcMs(ms).to_string()), Some(ms), "{ms}");
            days += 37;
        }
    }

    #[test]
    fn ranges_default_to_the_span_before_until() {
        let now = 10 * DAY_MS;
        let none = RangeArgs::default();
        assert_eq!(
            none.resolve(now, DAY_MS),
            Ok(TimeRange::new(9 * DAY_MS, now))
        );
        let until = RangeArgs {
            from: None,
            until: Some(UtcMs(5 * DAY_MS)),
        };
        assert_eq!(
            until.resolve(now, DAY_MS),
            Ok(TimeRange::new(4 * DAY_MS, 5 * DAY_MS))
        );
        let from = RangeArgs {
            from: Some(UtcMs(DAY_MS)),
            until: None,
        };
        assert_eq!(from.resolve(now, DAY_MS), Ok(TimeRange::new(DAY_MS, now)));
    }

    #[test]
    fn bad_ranges_name_the_flag() {
        let now = 10 * DAY_MS;
        let future = RangeArgs {
            from: Some(UtcMs(11 * DAY_MS)),
            until: None,
        };
        let e = future.resolve(now, DAY_MS).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.message().starts_with("--from:"), "{}", e.message());
        let reversed = RangeArgs {
            from: Some(UtcMs(3 * DAY_MS)),
            until: Some(UtcMs(2 * DAY_MS)),
        };
        let e = reversed.resolve(now, DAY_MS).unwrap_err();
        assert!(e.message().starts_with("--until:"), "{}", e.message());

        let long = RangeArgs {
            from: Some(UtcMs(0)),
            until: None,
        };
        let range = long.resolve(now, DAY_MS).expect("a valid range");
        assert_eq!(long.check_span(range, 10), Ok(()));
        let e = long.check_span(range, 9).unwrap_err();
        assert_eq!(e.code(), 2);
        assert_eq!(
            e.message(),
            "--from: 1970-01-01T00:00:00Z until 1970-01-11T00:00:00Z spans 10.0 days; CDR \
             queries may span at most 9 days (SERVER_QUERY_CDR_MAX_DAY_INTERVAL)"
        );
    }

    #[test]
    fn operator_numbers_use_integer_maths() {
        assert_eq!(percent(6667), "66.67%");
        assert_eq!(percent(10_000), "100.00%");
        assert_eq!(percent(5), "0.05%");
        assert_eq!(minutes(90), "1.50");
        assert_eq!(minutes(1), "0.02");
        assert_eq!(minutes(0), "0.00");
        assert_eq!(minutes(u64::MAX), "307445734561825860.25");
        assert_eq!(seconds(61_500), "61.5");
        assert_eq!(seconds(60_000), "60");
        assert_eq!(seconds(1), "0.001");
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut t = Table::new(&[("name", Align::Left), ("count", Align::Right)]);
        t.row(vec!["vendor-a-gw".into(), "7".into()]);
        t.row(vec!["b".into(), "1234".into()]);
        t.row(vec!["short".into()]);
        assert_eq!(
            t.render(),
            "name         count\nvendor-a-gw      7\nb             1234\nshort\n"
        );
        assert_eq!(
            t.render_rows(),
            "vendor-a-gw     7\nb            1234\nshort\n"
        );
    }

    #[test]
    fn storage_errors_caused_by_input_exit_2() {
        assert_eq!(
            Fail::from(StorageError::UnknownAccount("x".into())).code(),
            2
        );
        assert_eq!(Fail::from(StorageError::QueryRange("x".into())).code(), 2);
        assert_eq!(
            Fail::from(StorageError::SchemaTooNew { found: 9, known: 1 }).code(),
            1
        );
    }
}
