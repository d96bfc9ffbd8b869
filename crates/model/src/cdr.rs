//! Call detail records and ledger entries (SPEC §4, §5): what a finished call attempt leaves
//! behind, and every change of an account's balance.
//!
//! ```text
//!   b2bua: call attempt ends ──► Cdr (one per attempt, answered or not)
//!   billing: settle           ──► LedgerEntry (charge, agent roll-up)
//!   operator / API: payment   ──► LedgerEntry (payment, adjustment)
//! ```
//!
//! Both carry a stable, unique string id chosen by whoever creates them, so that writing one
//! twice (a journal replayed after a crash) is recognised and does nothing the second time.
//! Times are unix milliseconds (`*_ms`), durations whole milliseconds or seconds as named, money
//! is [`Money`] (integer micro-units, written as decimal text in JSON, like the provisioning
//! file).

use crate::provisioning::money_text;
use crate::{Money, SipCode};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One call attempt, answered or not (SPEC §5).
///
/// Numbers are kept as text exactly as they were received and sent: a CDR records what happened,
/// including malformed input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Stable unique id, e.g. `"<node>-<unix ms>-<seq>"`; writing the same id twice is a no-op.
    pub id: String,
    /// Leg A's SIP Call-ID, to find the call in a signalling trace.
    #[serde(default)]
    pub call_id: String,
    /// The customer account billed for the call; empty when the source was not recognised
    /// (SPEC §2.1: the attempt is refused with 403 and still recorded).
    pub account: String,
    /// The agent the account's charges roll up to, if any.
    #[serde(default)]
    pub agent: Option<String>,
    /// The mapping gateway the call came in through; empty when the source was not recognised.
    pub mapping_gateway: String,
    /// Caller number as received on leg A.
    pub caller_received: String,
    /// Callee number as received on leg A.
    pub callee_received: String,
    /// Caller number as sent on leg B (after both number transformations); empty when no leg B
    /// was sent.
    pub caller_sent: String,
    /// Callee number as sent on leg B; empty when no leg B was sent.
    pub callee_sent: String,
    /// The caller's IP address (the source of the INVITE), as text.
    pub caller_ip: String,
    /// The routing gateway that carried the call or, for an unanswered call, the last one tried
    /// (whose answer is the final code); `None` when no routing gateway was tried.
    #[serde(default)]
    pub routing_gateway: Option<String>,
    /// Every routing gateway tried, in order, with its final answer.
    #[serde(default)]
    pub tried: Vec<GatewayAttempt>,
    /// When the INVITE arrived.
    pub start_ms: i64,
    /// When the first 18x arrived, if one did.
    #[serde(default)]
    pub ring_ms: Option<i64>,
    /// When the call was answered (2xx), if it was.
    #[serde(default)]
    pub connect_ms: Option<i64>,
    /// When the attempt ended (final failure, CANCEL or BYE).
    pub end_ms: i64,
    /// Post-dial delay: INVITE sent to the first 18x or 200; `None` when neither came.
    #[serde(default)]
    pub pdd_ms: Option<u64>,
    /// Talk time, answer to hangup; 0 when not answered.
    pub hold_time_ms: u64,
    /// Billed time: the hold time rounded by the customer rate's increments (SPEC §4).
    pub billed_secs: u64,
    /// The customer rate's prefix that matched the callee; `None` when the call was not rated.
    #[serde(default)]
    pub rate_prefix: Option<String>,
    /// The customer rate's area name.
    #[serde(default)]
    pub area: Option<String>,
    /// What the customer is charged (mapping side).
    #[serde(with = "money_text")]
    pub charge: Money,
    /// What the vendor charges us (routing side).
    #[serde(with = "money_text")]
    pub cost: Money,
    /// The vendor rate's prefix that matched on the routing gateway that carried the call.
    #[serde(default)]
    pub vendor_rate_prefix: Option<String>,
    /// The final SIP code of the call (200 for an answered call).
    pub final_code: SipCode,
    /// Which side ended the call.
    pub ended_by: EndedBy,
    /// Why the call ended.
    pub end_reason: EndReason,
}

impl Cdr {
    /// True when the call was answered.
    pub fn answered(&self) -> bool {
        self.connect_ms.is_some()
    }

    /// Charge − cost (SPEC §4; agent commission is not deducted here). Saturates instead of
    /// overflowing.
    pub fn profit(&self) -> Money {
        self.charge.saturating_sub(self.cost)
    }
}

/// One routing gateway tried for a call and how it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayAttempt {
    /// The routing gateway's name.
    pub gateway: String,
    /// Its final answer (or the code the switch recorded for it, e.g. 408 on timeout).
    pub code: SipCode,
    /// The reason phrase or the switch's explanation, when worth keeping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Spell a unit enum as snake_case text and back; the spelling is what the database and JSON
/// hold.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The snake_case spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<$name, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownValue {
                        what: stringify!($name),
                        value: s.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Which side ended a call (SPEC §1, termination reason).
    EndedBy {
        /// The customer: BYE or CANCEL on leg A.
        Caller = "caller",
        /// The vendor: BYE or a final failure on leg B.
        Callee = "callee",
        /// The switch: rejection, timeout, balance or duration limit, shutdown.
        Switch = "switch",
    }
);

text_enum!(
    /// Why a call ended, in the operator's words. The final SIP code says what was answered;
    /// this says what made the switch stop.
    EndReason {
        /// An answered call hung up normally by either side.
        NormalClearing = "normal_clearing",
        /// The caller cancelled before an answer (487).
        Cancelled = "cancelled",
        /// Ringing lasted longer than `SS_SIP_TIMEOUT_RINGING`.
        NoAnswer = "no_answer",
        /// Refused by the switch before routing: unknown source, locked account, limits,
        /// forbidden prefix, balance too low to start.
        Rejected = "rejected",
        /// No routing gateway could take the call, or every one tried failed.
        RoutingFailed = "routing_failed",
        /// Cut because the account's balance (plus credit limit) ran out.
        BalanceExhausted = "balance_exhausted",
        /// Cut at `SS_MAX_CALL_DURATION` or the mapping gateway's maximum duration.
        MaxDuration = "max_duration",
        /// A signalling timeout: no answer to the INVITE, or a session timer expired.
        Timeout = "timeout",
        /// No RTP for `SS_RTP_TIMEOUT` on a relayed call.
        MediaTimeout = "media_timeout",
        /// The switch was shutting down.
        Shutdown = "shutdown",
    }
);

text_enum!(
    /// What kind of balance change a [`LedgerEntry`] is.
    LedgerKind {
        /// A call's charge to the customer (negative amount).
        Charge = "charge",
        /// A payment or recharge (usually positive; negative reverses one).
        Payment = "payment",
        /// A sub-account's charge rolled up to its agent.
        AgentRollup = "agent_rollup",
        /// A manual correction by the operator.
        Adjustment = "adjustment",
    }
);

/// A text that is not one of an enumeration's spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enumeration.
    pub what: &'static str,
    /// The text.
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid {}", self.value, self.what)
    }
}

impl std::error::Error for UnknownValue {}

/// One change of an account's balance. The ledger is append-only; an account's balance is its
/// provisioned opening balance plus the sum of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Stable unique id; applying the same id twice changes the balance once.
    pub id: String,
    /// The account's name.
    pub account: String,
    /// What it is.
    pub kind: LedgerKind,
    /// Signed: negative debits the balance, positive credits it.
    #[serde(with = "money_text")]
    pub amount: Money,
    /// When it happened, unix milliseconds.
    pub at_ms: i64,
    /// The call it is for (charges and roll-ups).
    #[serde(default)]
    pub cdr_id: Option<String>,
    /// The operator's note (payments, adjustments).
    #[serde(default)]
    pub note: Option<String>,
}

/// The header row of a CDR CSV file (the CDR text files, `cdr export`, the API's CSV).
pub const CSV_HEADER: &[&str] = &[
    "id",
    "call_id",
    "account",
    "agent",
    "mapping_gateway",
    "caller_received",
    "callee_received",
    "caller_sent",
    "callee_sent",
    "caller_ip",
    "routing_gateway",
    "tried",
    "start_ms",
    "ring_ms",
    "connect_ms",
    "end_ms",
    "pdd_ms",
    "hold_time_ms",
    "billed_secs",
    "rate_prefix",
    "area",
    "charge",
    "cost",
    "vendor_rate_prefix",
    "final_code",
    "ended_by",
    "end_reason",
];

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, ToString::to_string)
}

/// One CSV row, in [`CSV_HEADER`] order.
pub fn csv_row(c: &Cdr) -> Vec<String> {
    let tried: Vec<String> = c
        .tried
        .iter()
        .map(|t| format!("{}:{}", t.gateway, t.code.as_u16()))
        .collect();
    vec![
        c.id.clone(),
        c.call_id.clone(),
        c.account.clone(),
        opt(&c.agent),
        c.mapping_gateway.clone(),
        c.caller_received.clone(),
        c.callee_received.clone(),
        c.caller_sent.clone(),
        c.callee_sent.clone(),
        c.caller_ip.clone(),
        opt(&c.routing_gateway),
        tried.join(";"),
        c.start_ms.to_string(),
        opt(&c.ring_ms),
        opt(&c.connect_ms),
        c.end_ms.to_string(),
        opt(&c.pdd_ms),
        c.hold_time_ms.to_string(),
        c.billed_secs.to_string(),
        opt(&c.rate_prefix),
        opt(&c.area),
        c.charge.to_string(),
        c.cost.to_string(),
        opt(&c.vendor_rate_prefix),
        c.final_code.as_u16().to_string(),
        c.ended_by.to_string(),
        c.end_reason.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr() -> Cdr {
        Cdr {
            id: "n1-1700000000000-1".into(),
            call_id: "a84b4c76e66710".into(),
            account: "acme".into(),
            agent: Some("zeta".into()),
            mapping_gateway: "acme-pbx".into(),
            caller_received: "15550001".into(),
            callee_received: "0044201234".into(),
            caller_sent: "15550001".into(),
            callee_sent: "44201234".into(),
            caller_ip: "192.0.2.10".into(),
            routing_gateway: Some("carrier-a-1".into()),
            tried: vec![
                GatewayAttempt {
                    gateway: "carrier-b-1".into(),
                    code: SipCode::SERVICE_UNAVAILABLE,
                    reason: Some("Service Unavailable".into()),
                },
                GatewayAttempt {
                    gateway: "carrier-a-1".into(),
                    code: SipCode::OK,
                    reason: None,
                },
            ],
            start_ms: 1_700_000_000_000,
            ring_ms: Some(1_700_000_001_500),
            connect_ms: Some(1_700_000_005_000),
            end_ms: 1_700_000_065_000,
            pdd_ms: Some(1_500),
            hold_time_ms: 60_000,
            billed_secs: 60,
            rate_prefix: Some("4420".into()),
            area: Some("London".into()),
            charge: Money::from_micros(12_000),
            cost: Money::from_micros(7_000),
            vendor_rate_prefix: Some("44".into()),
            final_code: SipCode::OK,
            ended_by: EndedBy::Caller,
            end_reason: EndReason::NormalClearing,
        }
    }

    #[test]
    fn answered_and_profit() {
        let mut c = cdr();
        assert!(c.answered());
        assert_eq!(c.profit(), Money::from_micros(5_000));
        c.connect_ms = None;
        c.cost = Money::from_micros(i64::MIN);
        assert!(!c.answered());
        assert_eq!(c.profit(), Money::from_micros(i64::MAX));
    }

    #[test]
    fn text_enums_round_trip() {
        for v in EndReason::ALL {
            assert_eq!(v.as_str().parse::<EndReason>(), Ok(*v));
        }
        for v in EndedBy::ALL {
            assert_eq!(v.as_str().parse::<EndedBy>(), Ok(*v));
        }
        for v in LedgerKind::ALL {
            assert_eq!(v.as_str().parse::<LedgerKind>(), Ok(*v));
        }
        let err = "hung_up".parse::<EndReason>().unwrap_err();
        assert_eq!(err.to_string(), "\"hung_up\" is not a valid EndReason");
    }
}
