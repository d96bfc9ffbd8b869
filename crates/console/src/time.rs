//! Times as the console shows and reads them: UTC, `YYYY-MM-DD HH:MM:SS` on pages and the
//! `YYYY-MM-DDTHH:MM` of `<input type="datetime-local">` in forms.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// `ms` (unix milliseconds) as `YYYY-MM-DD HH:MM:SS` UTC; the number itself when out of range.
pub fn utc(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// `ms` as the value of a `datetime-local` input (UTC, minutes).
pub fn input_value(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A `datetime-local` value (or `YYYY-MM-DD HH:MM[:SS]`, or a date) read as UTC, in unix
/// milliseconds; `None` when it is not a date and time.
pub fn parse_input(text: &str) -> Option<i64> {
    let text = text.trim();
    let dt: DateTime = text
        .parse()
        .ok()
        .or_else(|| text.replacen(' ', "T", 1).parse().ok())
        .or_else(|| format!("{text}T00:00").parse().ok())?;
    dt.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// A duration in milliseconds as `H:MM:SS` (or `M:SS` under an hour).
pub fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_form_inputs_in_utc() {
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(utc(t + 61_000), "2026-01-01 00:01:01");
        assert_eq!(input_value(t + 61_000), "2026-01-01T00:01");
        assert_eq!(parse_input("2026-01-01T00:01"), Some(t + 60_000));
        assert_eq!(parse_input("2026-01-01 00:01:01"), Some(t + 61_000));
        assert_eq!(parse_input("2026-01-01"), Some(t));
        assert_eq!(parse_input("yesterday"), None);
        assert_eq!(parse_input("2026-02-30T00:00"), None);
    }

    #[test]
    fn durations_read_as_clocks() {
        assert_eq!(duration(61_500), "1:01");
        assert_eq!(duration(3_600_000 + 5_000), "1:00:05");
        assert_eq!(duration(-5), "0:00");
    }
}
