//! Time rules: when a routing gateway may be used, evaluated at an injected `now`.

use tollswitch_model::provisioning::TimeRule;

const SECS_PER_DAY: i64 = 86_400;

/// A [`TimeRule`] reduced to integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompiledTimeRule {
    /// Bit `i` set: the window may start on weekday `i` (0 = Monday).
    days: u8,
    from: u16,
    to: u16,
    offset_secs: i64,
}

impl CompiledTimeRule {
    pub(crate) fn new(rule: &TimeRule) -> CompiledTimeRule {
        let days = if rule.days.is_empty() {
            0x7f
        } else {
            rule.days.iter().fold(0u8, |acc, d| acc | (1 << d.index()))
        };
        CompiledTimeRule {
            days,
            from: rule.from.minutes(),
            to: rule.to.minutes(),
            offset_secs: i64::from(rule.utc_offset.minutes()) * 60,
        }
    }

    fn starts_on(&self, weekday: i64) -> bool {
        self.days & (1 << weekday.rem_euclid(7)) != 0
    }

    /// True when `now` (unix seconds) falls in the window.
    pub(crate) fn allows(&self, now: i64) -> bool {
        let local = now.saturating_add(self.offset_secs);
        let day = local.div_euclid(SECS_PER_DAY);
        let minute = local.rem_euclid(SECS_PER_DAY) / 60;
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = (day + 3).rem_euclid(7);
        let (from, to) = (i64::from(self.from), i64::from(self.to));
        if from < to {
            self.starts_on(weekday) && minute >= from && minute < to
        } else {
            // Crosses midnight: the evening belongs to today, the morning to yesterday's window.
            (self.starts_on(weekday) && minute >= from)
                || (self.starts_on(weekday - 1) && minute < to)
        }
    }
}

/// True when the gateway may be used at `now`: no rules, or any rule allows it.
pub(crate) fn allowed(rules: &[CompiledTimeRule], now: i64) -> bool {
    rules.is_empty() || rules.iter().any(|r| r.allows(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollswitch_model::provisioning::{UtcOffset, Weekday};

    fn rule(days: &[Weekday], from: &str, to: &str, offset: &str) -> CompiledTimeRule {
        CompiledTimeRule::new(&TimeRule {
            days: days.to_vec(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            utc_offset: offset.parse::<UtcOffset>().unwrap(),
        })
    }

    /// 2026-01-02 is a Friday; this is 00:00 UTC on it.
    const FRI: i64 = 1_767_312_000;
    const H: i64 = 3600;

    #[test]
    fn weekday_of_known_date() {
        let r = rule(&[Weekday::Fri], "00:00", "24:00", "Z");
        assert!(r.allows(FRI));
        assert!(r.allows(FRI + 24 * H - 1));
        assert!(!r.allows(FRI - 1));
        assert!(!r.allows(FRI + 24 * H));
    }

    #[test]
    fn table() {
        use Weekday::*;
        let cases: Vec<(CompiledTimeRule, i64, bool, &str)> = vec![
            (
                rule(&[], "09:00", "17:00", "Z"),
                FRI + 9 * H,
                true,
                "start inclusive",
            ),
            (
                rule(&[], "09:00", "17:00", "Z"),
                FRI + 17 * H,
                false,
                "end exclusive",
            ),
            (
                rule(&[], "09:00", "17:00", "Z"),
                FRI + 17 * H - 60,
                true,
                "last minute",
            ),
            (
                rule(&[Sat], "09:00", "17:00", "Z"),
                FRI + 10 * H,
                false,
                "wrong day",
            ),
            (
                rule(&[Fri], "22:00", "06:00", "Z"),
                FRI + 23 * H,
                true,
                "friday night",
            ),
            (
                rule(&[Fri], "22:00", "06:00", "Z"),
                FRI + 29 * H,
                true,
                "saturday morning",
            ),
            (
                rule(&[Fri], "22:00", "06:00", "Z"),
                FRI + 30 * H,
                false,
                "saturday 06:00",
            ),
            (
                rule(&[Fri], "22:00", "06:00", "Z"),
                FRI + 5 * H,
                false,
                "friday morning",
            ),
            (
                rule(&[Thu], "22:00", "06:00", "Z"),
                FRI + 5 * H,
                true,
                "thursday's window",
            ),
            (
                rule(&[Sun], "22:00", "02:00", "Z"),
                FRI + 3 * 24 * H + H,
                true,
                "sunday into monday",
            ),
            // 09:00–17:00 at +08:00 is 01:00–09:00 UTC.
            (
                rule(&[Fri], "09:00", "17:00", "+08:00"),
                FRI + H,
                true,
                "offset start",
            ),
            (
                rule(&[Fri], "09:00", "17:00", "+08:00"),
                FRI + 9 * H,
                false,
                "offset end",
            ),
            // Friday 04:00 UTC is Thursday 23:00 at -05:00.
            (
                rule(&[Thu], "20:00", "24:00", "-05:00"),
                FRI + 4 * H,
                true,
                "negative offset",
            ),
            (
                rule(&[], "00:00", "24:00", "Z"),
                -1,
                true,
                "before the epoch",
            ),
        ];
        for (r, now, want, what) in cases {
            assert_eq!(r.allows(now), want, "{what}");
        }
        assert!(allowed(&[], FRI));
    }
}
