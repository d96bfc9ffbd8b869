//! Transaction-layer settings: RFC 3261 timer bases and the UDP retransmission schedule.

use std::time::Duration;

/// Timer values. Defaults are RFC 3261's (T1 500 ms, T2 4 s, T4 5 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RTT estimate; Timer B, F, H, J = 64·T1.
    pub t1: Duration,
    /// Cap on non-INVITE and response retransmission intervals.
    pub t2: Duration,
    /// Longest time a message stays in the network (Timers I, K).
    pub t4: Duration,
    /// Intervals between UDP retransmissions of a request or of a final response, as
    /// `SS_SIP_RESEND_INTERVAL` gives them (`0.5,1,2,4,4,4,4,4,4,4`); the last value repeats
    /// until the transaction times out. `None` uses RFC 3261's doubling from T1 (capped at T2
    /// except for INVITE requests).
    pub resend_schedule: Option<Vec<Duration>>,
    /// Seed for branch and tag generation (the endpoint never reads an RNG itself).
    pub seed: u64,
    /// Largest message accepted.
    pub max_message_size: usize,
    /// Send 100 Trying as soon as an INVITE server transaction is created (RFC 3261 §17.2.1
    /// lets the transaction do so; a B2BUA wants it at once to stop retransmissions).
    pub auto_trying: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            resend_schedule: None,
            seed: 0x5eed_7011_5717_c400,
            max_message_size: tollswitch_sip_msg::DEFAULT_MAX_MESSAGE_SIZE,
            auto_trying: true,
        }
    }
}

impl Config {
    /// Parses an `SS_SIP_RESEND_INTERVAL` value: comma-separated seconds with up to three
    /// decimals, each above zero.
    pub fn parse_resend_schedule(s: &str) -> Result<Vec<Duration>, String> {
        let mut out = Vec::new();
        for item in s.split(',') {
            let item = item.trim();
            let (whole, frac) = item.split_once('.').unwrap_or((item, ""));
            let digits_ok = !item.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && frac.len() <= 3;
            if !digits_ok {
                return Err(format!(
                    "resend interval {item:?} is not a number of seconds"
                ));
            }
            let w: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| "too large")?
            };
            let f: u64 = format!("{frac:0<3}").parse().map_err(|_| "bad fraction")?;
            let ms = w
                .checked_mul(1000)
                .and_then(|m| m.checked_add(f))
                .ok_or("too large")?;
            if ms == 0 {
                return Err(String::from("resend intervals must be above zero"));
            }
            out.push(Duration::from_millis(ms));
        }
        Ok(out)
    }

    /// 64·T1: Timers B, F, H, J, L, M.
    pub fn timeout_64t1(&self) -> Duration {
        self.t1 * 64
    }

    /// The interval before retransmission number `n` (0-based), for an INVITE request when
    /// `invite`, else for a non-INVITE request or a final response.
    pub(crate) fn resend_interval(&self, n: u32, invite: bool) -> Duration {
        if let Some(s) = &self.resend_schedule
            && let Some(last) = s.last()
        {
            return *s.get(n as usize).unwrap_or(last);
        }
        let doubled = self.t1.saturating_mul(1u32 << n.min(16));
        if invite {
            doubled
        } else {
            doubled.min(self.t2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resend_schedule_parses() {
        let s = Config::parse_resend_schedule("0.5,1,2,4,4,4,4,4,4,4").expect("default");
        assert_eq!(s.len(), 10);
        assert_eq!(s[0], Duration::from_millis(500));
        assert!(Config::parse_resend_schedule("0.5,,1").is_err());
        assert!(Config::parse_resend_schedule("-1").is_err());
        assert!(Config::parse_resend_schedule("0").is_err());
        assert!(Config::parse_resend_schedule("0.0001").is_err());
    }

    #[test]
    fn rfc_intervals() {
        let c = Config::default();
        let e: Vec<u64> = (0..6)
            .map(|n| c.resend_interval(n, false).as_millis() as u64)
            .collect();
        assert_eq!(e, [500, 1000, 2000, 4000, 4000, 4000]);
        let a: Vec<u64> = (0..6)
            .map(|n| c.resend_interval(n, true).as_millis() as u64)
            .collect();
        assert_eq!(a, [500, 1000, 2000, 4000, 8000, 16000]);
    }
}
