//! `tollswitch route explain`: the routing decision for one call, from the current database.

use crate::DbArgs;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use tollswitch_routing::{CallRequest, IdleCounters, RoutingSnapshot, route};

/// Arguments of `route explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The caller's source address: `IP` or `IP:PORT` (port 5060 when omitted).
    #[arg(long, value_name = "IP[:PORT]")]
    from_ip: String,
    /// The caller number as received.
    #[arg(long)]
    caller: String,
    /// The callee number as received.
    #[arg(long)]
    callee: String,
    /// Route as of this time (RFC 3339, e.g. 2026-11-28T10:00:00Z); default now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// A verified digest user, as if the caller had authenticated.
    #[arg(long)]
    digest_user: Option<String>,
    /// Print one JSON object (keys reject, mapping_gateway, account, callee_out, caller_out,
    /// customer_rate, candidates).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// Runs the command.
pub async fn run(args: ExplainArgs) -> ExitCode {
    let source = match parse_source(&args.from_ip) {
        Some(s) => s,
        None => {
            eprintln!(
                "--from-ip: {:?} is not an IP address or IP:PORT",
                args.from_ip
            );
            return ExitCode::from(2);
        }
    };
    let now = match &args.at {
        Some(text) => match parse_rfc3339(text) {
            Some(t) => t,
            None => {
                eprintln!("--at: {text:?} is not an RFC 3339 time such as 2026-11-28T10:00:00Z");
                return ExitCode::from(2);
            }
        },
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let storage = match args.db.connect().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let provisioning = match storage.load_provisioning().await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("loading provisioning: {e}");
            return ExitCode::FAILURE;
        }
    };
    storage.close().await;
    let snapshot = match RoutingSnapshot::compile(&provisioning) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("provisioning does not compile: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = CallRequest {
        source,
        digest_user: args.digest_user.as_deref(),
        caller: &args.caller,
        callee: &args.callee,
    };
    let decision = route(&snapshot, &request, &IdleCounters, now);
    if args.json {
        match serde_json::to_string_pretty(&decision.explain()) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("encoding JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!("{decision}");
    }
    ExitCode::SUCCESS
}

fn parse_source(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    text.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to unix seconds.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-28T10:00:00Z"), Some(1795860000));
        assert_eq!(parse_rfc3339("2026-11-28T12:00:00+02:00"), Some(1795860000));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00.5Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn sources() {
        assert_eq!(
            parse_source("127.0.0.1"),
            Some(SocketAddr::from(([127, 0, 0, 1], 5060)))
        );
        assert_eq!(
            parse_source("127.0.0.1:5099"),
            Some(SocketAddr::from(([127, 0, 0, 1], 5099)))
        );
        assert!(parse_source("[::1]").is_some());
        assert_eq!(parse_source("nonsense"), None);
    }
}
