//! System parameters (SPEC §9): catalogue, defaults, ranges and validation.
//!
//! Every `SS_*`, `SERVER_*` and `IVR_*` parameter named in the VOS3000 operator guide has one
//! [`ParamSpec`] in [`catalogue`]: its default (as the guide gives it), a typed [`ParamKind`]
//! (integer range with unit, On/Off, enumeration, text, lists…), a one-line description and
//! whether a change only takes effect after a restart. Where the guide gives no range, Tollswitch
//! picked one and the description says "(range chosen by Tollswitch)".
//!
//! [`validate`] turns operator text into a typed [`ParamValue`] or a [`ParamError`] naming the
//! parameter and what it accepts. [`Parameters`] holds one value per catalogue entry (defaults
//! filled in) and offers typed getters for the values the SIP core and routing read.
//!
//! Durations given in decimal seconds (`SS_SIP_RESEND_INTERVAL`) are kept as integer
//! milliseconds; nothing here uses floats.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::ops::RangeInclusive;

// ---------------------------------------------------------------------------------------------
// Catalogue types
// ---------------------------------------------------------------------------------------------

/// The unit an integer parameter is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Days.
    Days,
    /// An hour of the day, 0–23.
    HourOfDay,
    /// Milliseconds.
    Milliseconds,
    /// A plain count (calls, files, packets, accounts…).
    Count,
    /// Kilobytes.
    Kilobytes,
    /// Characters of text.
    Characters,
    /// Decimal places.
    DecimalPlaces,
    /// Decibels.
    Decibels,
    /// A DSCP code point, 0–63.
    Dscp,
    /// An error code.
    Code,
}

impl Unit {
    /// The unit as shown to the operator.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
            Unit::Days => "days",
            Unit::HourOfDay => "hour of day",
            Unit::Milliseconds => "ms",
            Unit::Count => "count",
            Unit::Kilobytes => "KB",
            Unit::Characters => "characters",
            Unit::DecimalPlaces => "decimal places",
            Unit::Decibels => "dB",
            Unit::Dscp => "DSCP",
            Unit::Code => "code",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The section of the system-parameter screen a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamGroup {
    /// Alarm thresholds and notification.
    Alarm,
    /// Billing and rating.
    Billing,
    /// CDR files, queue and queries.
    Cdr,
    /// Automatic daily reports.
    Report,
    /// Logins and passwords.
    Security,
    /// Server housekeeping (time, DNS, cluster, query limits, traces).
    Server,
    /// H.323 signalling.
    H323,
    /// SIP signalling.
    Sip,
    /// Media relay and audio processing.
    Media,
    /// Call handling, registration and gateway statistics.
    Softswitch,
    /// Dynamic black list.
    BlackList,
    /// IVR, voicemail and other audio services.
    Ivr,
}

/// One allowed value of an enumeration.
///
/// Input matches `value`, `label` or any alias, ignoring case and every character that is not a
/// letter or digit (so `Must On`, `must_on` and `MUSTON` are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The canonical stored value (e.g. `"3"`, `"G.711A"`).
    pub value: &'static str,
    /// A human name shown next to the value (e.g. `"Must On"`), or empty.
    pub label: &'static str,
    /// Other spellings accepted on input.
    pub aliases: &'static [&'static str],
}

impl Choice {
    fn matches(&self, normalized_input: &str) -> bool {
        normalize(self.value) == normalized_input
            || (!self.label.is_empty() && normalize(self.label) == normalized_input)
            || self
                .aliases
                .iter()
                .any(|a| normalize(a) == normalized_input)
    }
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.label.is_empty() {
            f.write_str(self.value)
        } else {
            write!(f, "{} ({})", self.value, self.label)
        }
    }
}

/// What values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// An integer in `min..=max` counted in `unit`; if `keyword` is set, that word is accepted
    /// instead of a number (e.g. `None`, `Auto Negotiation`) and yields [`ParamValue::Keyword`].
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
        /// What the number counts.
        unit: Unit,
        /// A word accepted in place of a number.
        keyword: Option<&'static str>,
    },
    /// On/Off (also true/false, 1/0, any case).
    Bool,
    /// One of a fixed set of values.
    Choice {
        /// The allowed values.
        choices: &'static [Choice],
    },
    /// A comma-separated, ordered list of distinct values from a fixed set (at least one).
    ChoiceList {
        /// The allowed values.
        choices: &'static [Choice],
        /// Longest list accepted.
        max_items: usize,
    },
    /// Free text without control characters; may be empty.
    Text {
        /// Longest text accepted, in characters.
        max_len: usize,
        /// Characters refused on top of control characters.
        forbidden: &'static str,
    },
    /// A non-empty word of ASCII letters, digits, `-`, `_` or `.`.
    Word {
        /// Longest word accepted.
        max_len: usize,
    },
    /// A dial prefix of digits, `*` and `#`; may be empty.
    Digits {
        /// Longest prefix accepted.
        max_len: usize,
    },
    /// A comma-separated list of telephone numbers (digits only); may be empty.
    NumberList {
        /// Longest list accepted.
        max_items: usize,
        /// Longest number accepted.
        max_digits: usize,
    },
    /// A comma-separated list of integers in `min..=max`; may be empty.
    IntList {
        /// Smallest accepted item.
        min: i64,
        /// Largest accepted item.
        max: i64,
        /// What each item counts.
        unit: Unit,
        /// Longest list accepted.
        max_items: usize,
    },
    /// A comma-separated list of durations written in decimal seconds (at most three decimals),
    /// kept as milliseconds. At least one item.
    MillisList {
        /// Smallest accepted item, in milliseconds.
        min_ms: u64,
        /// Largest accepted item, in milliseconds.
        max_ms: u64,
        /// Longest list accepted.
        max_items: usize,
    },
    /// A port range written `low,high`, `1 <= low <= high <= 65535`.
    PortRange,
    /// A host name or IP address with an optional `:port` (`[v6]:port` for IPv6).
    Host {
        /// Whether empty text (feature off) is accepted.
        allow_empty: bool,
    },
    /// A comma-separated list of IP addresses; may be empty.
    IpList {
        /// Longest list accepted.
        max_items: usize,
    },
}

impl ParamKind {
    /// What this kind accepts, phrased to follow "must be".
    pub fn expected(&self) -> String {
        match *self {
            ParamKind::Int {
                min,
                max,
                unit,
                keyword,
            } => match keyword {
                Some(k) => format!("an integer from {min} to {max} ({unit}) or \"{k}\""),
                None => format!("an integer from {min} to {max} ({unit})"),
            },
            ParamKind::Bool => "On or Off (also true/false or 1/0)".to_string(),
            ParamKind::Choice { choices } => format!("one of {}", join_choices(choices)),
            ParamKind::ChoiceList { choices, max_items } => format!(
                "a comma-separated list of 1 to {max_items} distinct items from {}",
                join_choices(choices)
            ),
            ParamKind::Text { max_len, forbidden } => {
                if forbidden.is_empty() {
                    format!("text of at most {max_len} characters without control characters")
                } else {
                    let shown: Vec<String> = forbidden.chars().map(|c| format!("'{c}'")).collect();
                    format!(
                        "text of at most {max_len} characters without control characters or {}",
                        shown.join(" or ")
                    )
                }
            }
            ParamKind::Word { max_len } => {
                format!("a word of 1 to {max_len} ASCII letters, digits, '-', '_' or '.'")
            }
            ParamKind::Digits { max_len } => {
                format!("empty or a prefix of at most {max_len} characters from 0-9, '*' and '#'")
            }
            ParamKind::NumberList {
                max_items,
                max_digits,
            } => format!(
                "empty or a comma-separated list of at most {max_items} numbers of 1 to \
                 {max_digits} digits"
            ),
            ParamKind::IntList {
                min,
                max,
                unit,
                max_items,
            } => format!(
                "empty or a comma-separated list of at most {max_items} integers from {min} to \
                 {max} ({unit})"
            ),
            ParamKind::MillisList {
                min_ms,
                max_ms,
                max_items,
            } => format!(
                "a comma-separated list of 1 to {max_items} durations in seconds with at most 3 \
                 decimals, each from {} to {}",
                Millis(min_ms),
                Millis(max_ms)
            ),
            ParamKind::PortRange => {
                "a port range \"low,high\" with 1 <= low <= high <= 65535".to_string()
            }
            ParamKind::Host { allow_empty } => {
                let base = "a host name or IP address with an optional :port";
                if allow_empty {
                    format!("{base}, or empty")
                } else {
                    base.to_string()
                }
            }
            ParamKind::IpList { max_items } => {
                format!("empty or a comma-separated list of at most {max_items} IP addresses")
            }
        }
    }
}

fn join_choices(choices: &[Choice]) -> String {
    let shown: Vec<String> = choices.iter().map(Choice::to_string).collect();
    shown.join(", ")
}

/// One system parameter: name, default, accepted values and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// The exact VOS3000 name, e.g. `SS_SIP_TIMEOUT_INVITE`.
    pub name: &'static str,
    /// Screen section.
    pub group: ParamGroup,
    /// The default, as text in the form the operator would type it.
    pub default: &'static str,
    /// What values are accepted.
    pub kind: ParamKind,
    /// One line saying what the parameter does.
    pub description: &'static str,
    /// Whether a change only takes effect after the switch restarts.
    pub restart_required: bool,
    /// Shown but maintained by the system itself; the management API should refuse changes.
    pub read_only: bool,
    /// Holds a credential: the management API should mask the value.
    pub secret: bool,
    /// Other spellings of this name found in VOS3000 material, accepted by [`resolve`].
    pub aliases: &'static [&'static str],
}

// ---------------------------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------------------------

const fn int(min: i64, max: i64, unit: Unit) -> ParamKind {
    ParamKind::Int {
        min,
        max,
        unit,
        keyword: None,
    }
}

const fn int_or(min: i64, max: i64, unit: Unit, keyword: &'static str) -> ParamKind {
    ParamKind::Int {
        min,
        max,
        unit,
        keyword: Some(keyword),
    }
}

const fn secs(min: i64, max: i64) -> ParamKind {
    int(min, max, Unit::Seconds)
}

const fn text(max_len: usize) -> ParamKind {
    ParamKind::Text {
        max_len,
        forbidden: "",
    }
}

const fn choice(
    value: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
) -> Choice {
    Choice {
        value,
        label,
        aliases,
    }
}

/// A live (no restart) entry; callers override flags with struct update syntax.
const fn p(
    name: &'static str,
    group: ParamGroup,
    default: &'static str,
    kind: ParamKind,
    description: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        group,
        default,
        kind,
        description,
        restart_required: false,
        read_only: false,
        secret: false,
        aliases: &[],
    }
}

/// A restart-required entry.
const fn pr(
    name: &'static str,
    group: ParamGroup,
    default: &'static str,
    kind: ParamKind,
    description: &'static str,
) -> ParamSpec {
    ParamSpec {
        restart_required: true,
        ..p(name, group, default, kind, description)
    }
}

const MEDIA_PROXY_MODES: &[Choice] = &[
    choice("0", "Off", &["Disabled", "Direct"]),
    choice("1", "On", &["Enabled"]),
    choice("2", "Auto", &[]),
    choice("3", "Must On", &["Forced"]),
];

const JITTER_BUFFER_MODES: &[Choice] = &[choice("0", "Fixed", &[]), choice("1", "Adaptive", &[])];

const ECHO_TAILS: &[Choice] = &[
    choice("64", "", &[]),
    choice("128", "", &[]),
    choice("256", "", &[]),
];

const H323_DTMF_METHODS: &[Choice] = &[
    choice("H.245 alphanumeric", "", &[]),
    choice("H.245 signal", "", &[]),
    choice("RFC2833", "", &["RFC 2833"]),
    choice("Inband", "", &["In-band"]),
];

const H323_NUMBERING_PLANS: &[Choice] = &[
    choice("UnknownPlan(0)", "", &["0", "Unknown", "UnknownPlan"]),
    choice("ISDNPlan(1)", "", &["1", "ISDN", "ISDNPlan"]),
    choice("DataPlan(3)", "", &["3", "Data", "DataPlan"]),
    choice("TelexPlan(4)", "", &["4", "Telex", "TelexPlan"]),
    choice(
        "NationalStandardPlan(8)",
        "",
        &["8", "NationalStandard", "NationalStandardPlan"],
    ),
    choice("PrivatePlan(9)", "", &["9", "Private", "PrivatePlan"]),
];

const H323_NUMBER_TYPES: &[Choice] = &[
    choice("UnknownType(0)", "", &["0", "Unknown", "UnknownType"]),
    choice(
        "InternationalType(1)",
        "",
        &["1", "International", "InternationalType"],
    ),
    choice("NationalType(2)", "", &["2", "National", "NationalType"]),
    choice(
        "NetworkSpecificType(3)",
        "",
        &["3", "NetworkSpecific", "NetworkSpecificType"],
    ),
    choice(
        "SubscriberType(4)",
        "",
        &["4", "Subscriber", "SubscriberType"],
    ),
    choice(
        "AbbreviatedType(6)",
        "",
        &["6", "Abbreviated", "AbbreviatedType"],
    ),
];

const PROFIT_FORMULAS: &[Choice] = &[
    choice("Call charges – Sub – Call expense", "", &[]),
    choice("Call charges – Call expense", "", &[]),
];

const IVR_CODECS: &[Choice] = &[
    choice("G.711A", "", &["PCMA"]),
    choice("G.711U", "", &["PCMU"]),
    choice("G.729", "", &["G.729A", "G.729AB"]),
    choice("G.723", "", &["G.723.1"]),
    choice("G.722", "", &[]),
];

use ParamGroup as G;

#[rustfmt::skip]
static CATALOGUE: &[ParamSpec] = &[
    // --- Alarms -------------------------------------------------------------------------------
    p("SERVER_ALARM_CUSTOMER_BALANCE_MAX_SIZE", G::Alarm, "1000", int(1, 100_000, Unit::Count),
        "Most accounts listed in the balance-alarm settings (range chosen by Tollswitch)."),
    p("SERVER_ALARM_DATABASE_IGNORE_ERROR_CODE", G::Alarm, "",
        ParamKind::IntList { min: -1_000_000, max: 1_000_000, unit: Unit::Code, max_items: 64 },
        "Database error codes that never raise an alarm (range chosen by Tollswitch)."),
    p("SERVER_ALARM_DISABLE", G::Alarm, "Off", ParamKind::Bool,
        "On silences every alarm; Off keeps the alarm system running."),
    p("SERVER_ALARM_E164S", G::Alarm, "Default", text(1024),
        "Numbers phoned for voice alarms; the guide's default is the literal word Default."),
    p("SERVER_ALARM_EMAIL", G::Alarm, "Default", text(1024),
        "Addresses mailed for alarms; the guide's default is the literal word Default."),
    p("SERVER_ALARM_EMAIL_DELAY", G::Alarm, "300", secs(1, 86_400),
        "Least time between two alarm e-mails (range chosen by Tollswitch)."),
    p("SERVER_ALARM_ENABLE_EMAIL", G::Alarm, "Off", ParamKind::Bool,
        "Send alarms by e-mail."),
    p("SERVER_ALARM_ENABLE_VOICE", G::Alarm, "Off", ParamKind::Bool,
        "Send alarms as voice calls."),
    // --- Billing ------------------------------------------------------------------------------
    p("SERVER_BILLING_FEE_PRECISION", G::Billing, "4", int(0, 6, Unit::DecimalPlaces),
        "Decimals kept in computed charges, at most 6 (default and range chosen by Tollswitch)."),
    p("SERVER_BILLING_FEE_UNIT", G::Billing, "1", int(0, 1000, Unit::Count),
        "Money unit charges are calculated in, 0-1000 (default chosen by Tollswitch)."),
    p("SERVER_BILLING_FORWARD_PREFIX", G::Billing, "", ParamKind::Digits { max_len: 32 },
        "Prefix put on the number when billing a forwarded (transferred) call; empty adds none."),
    p("SERVER_BILLING_FREE_E164S", G::Billing, "",
        ParamKind::NumberList { max_items: 1000, max_digits: 32 },
        "Service numbers that are free to call with no time limit."),
    p("SERVER_BILLING_FREE_TIME", G::Billing, "0", secs(0, 3600),
        "Seconds taken off every charged duration; 0 charges all (range chosen by Tollswitch)."),
    p("SERVER_BILLING_GATEWAY_ROUTE_PREFIX", G::Billing, "", ParamKind::Digits { max_len: 32 },
        "Extra prefix added to the number when billing against a routing gateway."),
    p("SERVER_BILLING_HOLD_TIME_PRECISION", G::Billing, "1000", int(1, 60_000, Unit::Milliseconds),
        "Granularity of the billed duration (range chosen by Tollswitch)."),
    p("SERVER_BILLING_NO_CDR_E164S", G::Billing, "",
        ParamKind::NumberList { max_items: 1000, max_digits: 32 },
        "Numbers whose calls write no CDR."),
    p("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME", G::Billing, "1", int(1, 15, Unit::Minutes),
        "Minutes of margin kept on a balance so a running call cannot overdraw the account."),
    p("SERVER_BILLING_PROFIT_CALCULATE", G::Billing, "Call charges – Sub – Call expense",
        ParamKind::Choice { choices: PROFIT_FORMULAS },
        "Profit: charge - sub-agent commission - cost (charge - cost form chosen by Tollswitch)."),
    // --- CDR ----------------------------------------------------------------------------------
    p("SERVER_CDR_FILE_WRITE_INTERVAL", G::Cdr, "None", int_or(60, 86_400, Unit::Seconds, "None"),
        "How often a new CDR text file is started; None writes no CDR files."),
    p("SERVER_CDR_FILE_WRITE_MAX", G::Cdr, "2048", int(10, 4096, Unit::Count),
        "How many CDR files are kept before the oldest is removed."),
    p("SERVER_CDR_REAL_TIME_REPORT_SERVER", G::Cdr, "", ParamKind::Host { allow_empty: true },
        "Server each finished CDR is pushed to in real time; empty disables."),
    pr("SERVER_MAX_CDR_PENDING_LIST_LENGTH", G::Cdr, "100000", int(10_000, 100_000, Unit::Count),
        "Capacity of the queue of CDRs waiting to be stored; sized when the writer starts."),
    p("SERVER_QUERY_CDR_DENY_TIME", G::Cdr, "",
        ParamKind::IntList { min: 0, max: 23, unit: Unit::HourOfDay, max_items: 24 },
        "Hours of the day (e.g. 18,19,20,21) in which CDR queries are refused; empty allows all."),
    p("SERVER_QUERY_CDR_MAX_DAY_INTERVAL", G::Cdr, "31", int(1, 366, Unit::Days),
        "Longest period one CDR query may span (range chosen by Tollswitch)."),
    // --- Reports ------------------------------------------------------------------------------
    p("SERVER_REPORT_AGENT_INCOME", G::Report, "On", ParamKind::Bool,
        "Build the daily agent income report."),
    p("SERVER_REPORT_CLEARING_CUSTOMER_FEE", G::Report, "Off", ParamKind::Bool,
        "Build the daily clearing-account details report."),
    p("SERVER_REPORT_CUSTOMER_FEE", G::Report, "On", ParamKind::Bool,
        "Build the daily revenue details report."),
    p("SERVER_REPORT_GATEWAY_FEE", G::Report, "On", ParamKind::Bool,
        "Build the daily gateway bill report."),
    p("SERVER_REPORT_GATEWAY_ROUTING_LOCATION_ASR_ACD", G::Report, "On", ParamKind::Bool,
        "Build the daily ASR/ACD-per-area report for routing gateways."),
    p("SERVER_REPORT_PHONE_FEE", G::Report, "On", ParamKind::Bool,
        "Build the daily phone bill report."),
    // --- Security -----------------------------------------------------------------------------
    p("SERVER_LOGIN_FAILED_DISABLE_TIME", G::Security, "120", secs(30, 7200),
        "How long management logins stay locked after repeated failures."),
    p("SERVER_PASSWORD_LENGTH", G::Security, "8", int(4, 64, Unit::Characters),
        "Shortest password accepted (range chosen by Tollswitch)."),
    p("SERVER_PASSWORD_TERMINAL_ADDITIONAL_CHARACTERS", G::Security, "", text(64),
        "Extra characters mixed into random passwords generated for phones and gateways."),
    p("SERVER_VERIFY_CLEARING_CUSTOMER", G::Security, "Off", ParamKind::Bool,
        "Check clearing accounts against their minimum balance before a call."),
    // --- Server -------------------------------------------------------------------------------
    p("SERVER_DATABASE_VERSION", G::Server, "", text(64),
        "Version of the database schema, maintained by the system."),
    p("SERVER_DISPLAY_MONEY_PRECISION", G::Server, "3", int(0, 6, Unit::DecimalPlaces),
        "Decimal places shown for money (3 shows 1.000) (range chosen by Tollswitch)."),
    p("SERVER_DNS_UPDATE_INTERVAL", G::Server, "600", secs(10, 86_400),
        "How often domain names used by gateways are resolved again (range chosen by Tollswitch)."),
    p("SERVER_NTP_SERVER", G::Server, "time-a.nist.gov", ParamKind::Host { allow_empty: true },
        "SNTP server the system clock follows; empty disables time sync."),
    p("SERVER_QUERY_MAX_SIZE", G::Server, "30000000", int(1000, 100_000_000, Unit::Count),
        "Most rows one data query may return (range chosen by Tollswitch)."),
    p("SERVER_QUERY_ONE_PAGE_SIZE", G::Server, "10000", int(10, 100_000, Unit::Count),
        "Rows per page of a query result (range chosen by Tollswitch)."),
    pr("SERVER_SOFTSWITCH_CLUSTER", G::Server, "", ParamKind::IpList { max_items: 64 },
        "Addresses of the softswitch nodes forming the cluster; empty runs alone."),
    p("SERVER_TRACE_FILE_LENGTH", G::Server, "40960", int(1024, 1_048_576, Unit::Kilobytes),
        "Size at which a debug trace file is rotated (range chosen by Tollswitch)."),
    // --- H.323 --------------------------------------------------------------------------------
    pr("SS_H245_PORT_RANGE", G::H323, "10000,39999", ParamKind::PortRange,
        "Local ports used for H.245 media-control channels."),
    p("SS_H323_DTMF_METHOD", G::H323, "H.245 alphanumeric",
        ParamKind::Choice { choices: H323_DTMF_METHODS },
        "How DTMF digits travel on H.323 calls (non-default values chosen by Tollswitch)."),
    p("SS_H323_NUMBERING_PLAN", G::H323, "UnknownPlan(0)",
        ParamKind::Choice { choices: H323_NUMBERING_PLANS },
        "Numbering plan put on H.323 routing-gateway calls by default."),
    p("SS_H323_NUMBER_TYPE", G::H323, "UnknownType(0)",
        ParamKind::Choice { choices: H323_NUMBER_TYPES },
        "Number type put on H.323 routing-gateway calls by default."),
    p("SS_H323_TIMEOUT_ALERTING", G::H323, "120", secs(1, 600),
        "How long an H.323 call may alert before it is abandoned (range chosen by Tollswitch)."),
    p("SS_H323_TIMEOUT_SETUP", G::H323, "5", secs(1, 300),
        "How long an H.323 Setup may go unanswered (range chosen by Tollswitch)."),
    // --- SIP ----------------------------------------------------------------------------------
    ParamSpec {
        secret: true,
        ..p("SS_SIP_AUTHENTICATION_CODE", G::Sip, "", text(64),
            "Authentication code used when registering to gateways (a credential).")
    },
    p("SS_SIP_AUTHENTICATION_REALM", G::Sip, "",
        ParamKind::Text { max_len: 128, forbidden: "\"\\" },
        "Realm offered in digest challenges (401/407); empty lets the switch use its own address."),
    p("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", G::Sip, "HELLO", text(256),
        "Payload of the UDP packets that keep NAT bindings open; empty disables keep-alive."),
    p("SS_SIP_NAT_KEEP_ALIVE_PERIOD", G::Sip, "30", secs(10, 86_400),
        "Time between two rounds of NAT keep-alive packets."),
    p("SS_SIP_NAT_KEEP_ALIVE_SEND_INTERVAL", G::Sip, "500", int(1, 10_000, Unit::Milliseconds),
        "Pause between keep-alive packets within one batch."),
    p("SS_SIP_NAT_KEEP_ALIVE_SEND_ONE_TIME", G::Sip, "3000", int(1, 10_000, Unit::Count),
        "Keep-alive packets sent per batch."),
    p("SS_SIP_NO_TIMER_REINVITE_INTERVAL", G::Sip, "7200", secs(0, 86_400),
        "Longest a call may last with an endpoint that supports no session timer; 0 never cuts."),
    p("SS_SIP_PUBLISH_EXPIRE", G::Sip, "300", secs(30, 7200),
        "Lifetime of a routing gateway's PUBLISHed concurrency state unless refreshed."),
    p("SS_SIP_RESEND_INTERVAL", G::Sip, "0.5,1,2,4,4,4,4,4,4,4",
        ParamKind::MillisList { min_ms: 1, max_ms: 64_000, max_items: 32 },
        "UDP retransmission gaps in seconds, one per resend (item limits chosen by Tollswitch)."),
    p("SS_SIP_SESSION_MIN_SE", G::Sip, "90", secs(90, 3600),
        "Smallest session interval accepted (RFC 4028 Min-SE); shorter requests get 422."),
    p("SS_SIP_SESSION_TTL", G::Sip, "600", secs(60, 86_400),
        "Session-Expires offered by the RFC 4028 session timer (guide Table 4-3 says 90-7200)."),
    p("SS_SIP_SESSION_UPDATE_SEGMENT", G::Sip, "2", int(2, 10, Unit::Count),
        "The session is refreshed every TTL divided by this number."),
    p("SS_SIP_TIMEOUT_INVITE", G::Sip, "10", secs(1, 300),
        "Wait for a provisional response to INVITE before trying the next gateway."),
    p("SS_SIP_TIMEOUT_RINGING", G::Sip, "120", secs(1, 600),
        "How long a call may ring before it is abandoned."),
    p("SS_SIP_USER_AGENT_EXPIRE", G::Sip, "Auto Negotiation",
        int_or(20, 7200, Unit::Seconds, "Auto Negotiation"),
        "Expiry asked for when registering upstream; Auto Negotiation takes the server's."),
    // --- Media --------------------------------------------------------------------------------
    p("SS_COMFORTNOISE", G::Media, "1", ParamKind::Bool,
        "Generate comfort noise during silence."),
    p("SS_ECHOCANCEL", G::Media, "1", ParamKind::Bool,
        "Run the echo canceller on relayed audio."),
    p("SS_ECHOCANCELTAIL", G::Media, "128", ParamKind::Choice { choices: ECHO_TAILS },
        "Echo-canceller tail in ms; must exceed the echo delay."),
    p("SS_JITTERBUFFER_DEFAULT", G::Media, "60", int(0, 1000, Unit::Milliseconds),
        "Starting jitter-buffer depth (range chosen by Tollswitch)."),
    p("SS_JITTERBUFFER_MAX", G::Media, "200", int(20, 1000, Unit::Milliseconds),
        "Deepest the jitter buffer may grow (range chosen by Tollswitch)."),
    p("SS_JITTERBUFFER_MIN", G::Media, "20", int(0, 500, Unit::Milliseconds),
        "Shallowest the jitter buffer may shrink (range chosen by Tollswitch)."),
    p("SS_JITTERBUFFER_MODE", G::Media, "1", ParamKind::Choice { choices: JITTER_BUFFER_MODES },
        "Jitter buffer: 0 fixed depth, 1 adaptive."),
    ParamSpec {
        aliases: &["SS_MEDIAPROXYMODE"],
        ..p("SS_MEDIA_PROXY_MODE", G::Media, "0", ParamKind::Choice { choices: MEDIA_PROXY_MODES },
            "RTP relay: 0 off (end to end), 1 on, 2 auto (across NAT/networks), 3 must on.")
    },
    pr("SS_MEDIA_PROXY_PORT_RANGE", G::Media, "40000,59999", ParamKind::PortRange,
        "Local UDP ports the media relay allocates RTP/RTCP from."),
    p("SS_QOS_RTP", G::Media, "46", int(0, 63, Unit::Dscp),
        "DSCP mark on RTP packets (46 = EF); applies to relay sockets opened after the change."),
    pr("SS_QOS_SIGNAL", G::Media, "24", int(0, 63, Unit::Dscp),
        "DSCP mark on SIP packets (24 = CS3); set on the listening sockets at start."),
    p("SS_RTP_TIMEOUT", G::Media, "30", secs(5, 3600),
        "A call whose RTP stops for this long is cleared (range chosen by Tollswitch)."),
    p("SS_VOICEGAIN", G::Media, "0", int(-10, 10, Unit::Decibels),
        "Gain applied to relayed voice; 0 leaves it unchanged."),
    // --- Softswitch ---------------------------------------------------------------------------
    p("SS_ENDPOINT_EXPIRE", G::Softswitch, "3600", secs(60, 86_400),
        "Registration lifetime granted to phones (range chosen by Tollswitch)."),
    p("SS_GATEWAY_ACD_RESERVE_TIME", G::Softswitch, "600", secs(60, 86_400),
        "Window of recent calls a gateway's ACD is computed over (range chosen by Tollswitch)."),
    p("SS_GATEWAY_ASR_RESERVE_TIME", G::Softswitch, "600", secs(60, 86_400),
        "Window of recent calls a gateway's ASR is computed over (range chosen by Tollswitch)."),
    p("SS_MAX_CALL_DURATION", G::Softswitch, "0", secs(0, 86_400),
        "Longest any call may last; 0 is unlimited (range chosen by Tollswitch)."),
    // --- Black list ---------------------------------------------------------------------------
    p("SS_BLACK_LIST_CALLER_MALICIOUS_CALL_EXPIRE", G::BlackList, "3600", secs(60, 604_800),
        "How long a malicious caller stays blocked (range chosen by Tollswitch)."),
    p("SS_BLACK_LIST_CALLER_MALICIOUS_CALL_LIMIT", G::BlackList, "1000",
        int(1, 1_000_000, Unit::Count),
        "Calls from one caller beyond which it is blocked (range chosen by Tollswitch)."),
    p("SS_BLACK_LIST_NO_ANSWER_EXPIRE", G::BlackList, "3600", secs(60, 604_800),
        "How long a no-answer block lasts (range chosen by Tollswitch)."),
    p("SS_BLACK_LIST_NO_ANSWER_LIMIT", G::BlackList, "100", int(1, 100_000, Unit::Count),
        "Consecutive unanswered calls that get a caller blocked (range chosen by Tollswitch)."),
    // --- IVR and audio services ---------------------------------------------------------------
    p("IVR_CODEC_PRIORITY", G::Ivr, "G.711A,G.711U,G.729,G.723",
        ParamKind::ChoiceList { choices: IVR_CODECS, max_items: 5 },
        "Codecs offered for IVR media, most preferred first."),
    p("IVR_DEFAULT_LANGUAGE", G::Ivr, "en", ParamKind::Word { max_len: 16 },
        "Language of IVR prompts when the caller has none."),
    p("IVR_MEDIA_CHECK_TIME_OUT", G::Ivr, "3000", int(100, 60_000, Unit::Milliseconds),
        "How long the IVR waits for media before giving up (range chosen by Tollswitch)."),
    p("IVR_RINGING_TIMEOUT", G::Ivr, "60", secs(1, 600),
        "How long an IVR-placed call may ring (range chosen by Tollswitch)."),
    p("IVR_SIP_SESSION_TTL", G::Ivr, "600", secs(60, 86_400),
        "Session-Expires used on IVR calls (range chosen by Tollswitch, as SS_SIP_SESSION_TTL)."),
    p("IVR_VOICEMAIL_MAX_DURATION", G::Ivr, "120", secs(10, 3600),
        "Longest voicemail message recorded (range chosen by Tollswitch)."),
];

impl ParamSpec {
    /// Checks `value` against this parameter's kind.
    pub fn validate(&self, value: &str) -> Result<ParamValue, ParamError> {
        parse_kind(&self.kind, value).ok_or_else(|| ParamError::Invalid {
            name: self.name,
            expected: self.kind.expected(),
            got: value.to_string(),
        })
    }
}

/// Every known parameter, grouped by screen section.
pub fn catalogue() -> &'static [ParamSpec] {
    CATALOGUE
}

/// The parameter called exactly `name` (case-sensitive), if any.
pub fn spec(name: &str) -> Option<&'static ParamSpec> {
    CATALOGUE.iter().find(|s| s.name == name)
}

/// Like [`spec`], but also accepts alternative spellings seen in VOS3000 material
/// (e.g. `SS_MEDIAPROXYMODE` for `SS_MEDIA_PROXY_MODE`). For importing foreign configurations.
pub fn resolve(name: &str) -> Option<&'static ParamSpec> {
    spec(name).or_else(|| CATALOGUE.iter().find(|s| s.aliases.contains(&name)))
}

/// Checks `value` for the parameter `name` and returns it typed.
pub fn validate(name: &str, value: &str) -> Result<ParamValue, ParamError> {
    match spec(name) {
        Some(s) => s.validate(value),
        None => Err(ParamError::Unknown {
            name: name.to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Values and errors
// ---------------------------------------------------------------------------------------------

/// A validated parameter value. Its [`Display`](fmt::Display) is the canonical text form, which
/// validates back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ParamValue {
    /// An integer.
    Int(i64),
    /// The special word an integer parameter accepts instead of a number (e.g. `None`).
    Keyword(&'static str),
    /// On (`true`) or Off (`false`).
    Bool(bool),
    /// Text (also dial prefixes and host addresses).
    Text(String),
    /// One canonical value of an enumeration.
    Choice(&'static str),
    /// An ordered list of canonical enumeration values.
    Choices(Vec<&'static str>),
    /// A list of integers.
    IntList(Vec<i64>),
    /// A list of telephone numbers.
    TextList(Vec<String>),
    /// A list of durations in milliseconds.
    MillisList(Vec<u64>),
    /// An inclusive port range.
    Range(u16, u16),
    /// A list of IP addresses.
    IpList(Vec<IpAddr>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Keyword(k) | ParamValue::Choice(k) => f.write_str(k),
            ParamValue::Bool(b) => f.write_str(if *b { "On" } else { "Off" }),
            ParamValue::Text(t) => f.write_str(t),
            ParamValue::Choices(v) => list(f, v),
            ParamValue::IntList(v) => list(f, v),
            ParamValue::TextList(v) => list(f, v),
            ParamValue::MillisList(v) => {
                let m: Vec<Millis> = v.iter().copied().map(Millis).collect();
                list(f, &m)
            }
            ParamValue::Range(lo, hi) => write!(f, "{lo},{hi}"),
            ParamValue::IpList(v) => list(f, v),
        }
    }
}

/// Milliseconds shown as decimal seconds without trailing zeros (500 → `0.5`, 4000 → `4`).
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Why a parameter value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// No parameter has this name.
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The value does not fit the parameter's kind or range.
    Invalid {
        /// The parameter.
        name: &'static str,
        /// What it accepts (see [`ParamKind::expected`]).
        expected: String,
        /// The refused text.
        got: String,
    },
}

impl ParamError {
    /// The parameter name the error is about.
    pub fn name(&self) -> &str {
        match self {
            ParamError::Unknown { name } => name,
            ParamError::Invalid { name, .. } => name,
        }
    }
}

/// Longest refused value quoted back in an error message, in characters.
const QUOTE_MAX: usize = 64;

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Unknown { name } => write!(f, "unknown parameter {name:?}"),
            ParamError::Invalid {
                name,
                expected,
                got,
            } => {
                if got.chars().count() > QUOTE_MAX {
                    let head: String = got.chars().take(QUOTE_MAX).collect();
                    write!(f, "{name} must be {expected}, got {head:?}…")
                } else {
                    write!(f, "{name} must be {expected}, got {got:?}")
                }
            }
        }
    }
}

impl std::error::Error for ParamError {}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Lower-case letters and digits only: how enumeration values and keywords are compared.
fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Splits a comma-separated list; empty (or blank) text is the empty list. `None` if any item is
/// blank.
fn split_list(s: &str) -> Option<Vec<&str>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Vec::new());
    }
    let items: Vec<&str> = s.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        None
    } else {
        Some(items)
    }
}

fn parse_kind(kind: &ParamKind, raw: &str) -> Option<ParamValue> {
    let s = raw.trim();
    match *kind {
        ParamKind::Int {
            min, max, keyword, ..
        } => {
            if let Some(k) = keyword
                && normalize(s) == normalize(k)
            {
                return Some(ParamValue::Keyword(k));
            }
            let v: i64 = s.parse().ok()?;
            (min..=max).contains(&v).then_some(ParamValue::Int(v))
        }
        ParamKind::Bool => parse_bool(s).map(ParamValue::Bool),
        ParamKind::Choice { choices } => find_choice(choices, s).map(ParamValue::Choice),
        ParamKind::ChoiceList { choices, max_items } => {
            let items = split_list(s)?;
            if items.is_empty() || items.len() > max_items {
                return None;
            }
            let mut out: Vec<&'static str> = Vec::with_capacity(items.len());
            for item in items {
                let v = find_choice(choices, item)?;
                if out.contains(&v) {
                    return None;
                }
                out.push(v);
            }
            Some(ParamValue::Choices(out))
        }
        ParamKind::Text { max_len, forbidden } => {
            let ok = raw.chars().count() <= max_len
                && !raw.chars().any(|c| c.is_control() || forbidden.contains(c));
            ok.then(|| ParamValue::Text(raw.to_string()))
        }
        ParamKind::Word { max_len } => {
            let ok = !s.is_empty()
                && s.len() <= max_len
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            ok.then(|| ParamValue::Text(s.to_string()))
        }
        ParamKind::Digits { max_len } => {
            let ok =
                s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit() || b"*#".contains(&b));
            ok.then(|| ParamValue::Text(s.to_string()))
        }
        ParamKind::NumberList {
            max_items,
            max_digits,
        } => {
            let items = split_list(s)?;
            let ok = items.len() <= max_items
                && items
                    .iter()
                    .all(|i| i.len() <= max_digits && i.bytes().all(|b| b.is_ascii_digit()));
            ok.then(|| ParamValue::TextList(items.into_iter().map(str::to_string).collect()))
        }
        ParamKind::IntList {
            min,
            max,
            max_items,
            ..
        } => {
            let items = split_list(s)?;
            if items.len() > max_items {
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let v: i64 = item.parse().ok()?;
                if !(min..=max).contains(&v) {
                    return None;
                }
                out.push(v);
            }
            Some(ParamValue::IntList(out))
        }
        ParamKind::MillisList {
            min_ms,
            max_ms,
            max_items,
        } => {
            let items = split_list(s)?;
            if items.is_empty() || items.len() > max_items {
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let ms = parse_decimal_seconds_as_ms(item)?;
                if !(min_ms..=max_ms).contains(&ms) {
                    return None;
                }
                out.push(ms);
            }
            Some(ParamValue::MillisList(out))
        }
        ParamKind::PortRange => {
            let (lo, hi) = s.split_once(',')?;
            let lo = parse_port(lo.trim())?;
            let hi = parse_port(hi.trim())?;
            (lo <= hi).then_some(ParamValue::Range(lo, hi))
        }
        ParamKind::Host { allow_empty } => {
            let ok = if s.is_empty() {
                allow_empty
            } else {
                is_host_with_optional_port(s)
            };
            ok.then(|| ParamValue::Text(s.to_string()))
        }
        ParamKind::IpList { max_items } => {
            let items = split_list(s)?;
            if items.len() > max_items {
                return None;
            }
            let ips: Option<Vec<IpAddr>> = items.iter().map(|i| i.parse().ok()).collect();
            ips.map(ParamValue::IpList)
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn find_choice(choices: &'static [Choice], s: &str) -> Option<&'static str> {
    let n = normalize(s);
    if n.is_empty() {
        return None;
    }
    choices.iter().find(|c| c.matches(&n)).map(|c| c.value)
}

/// `"0.5"` → 500, `"4"` → 4000; digits, an optional point and one to three decimals.
fn parse_decimal_seconds_as_ms(s: &str) -> Option<u64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.contains('.') && (frac.is_empty() || frac.len() > 3) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let (mut frac_ms, mut scale) = (0u64, 100u64);
    for b in frac.bytes() {
        frac_ms += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    whole.checked_mul(1000)?.checked_add(frac_ms)
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p >= 1)
}

fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_host_with_optional_port(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        return after.is_empty() || after.strip_prefix(':').and_then(parse_port).is_some();
    }
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    let (host, port_ok) = match s.split_once(':') {
        Some((h, p)) => (h, parse_port(p).is_some()),
        None => (s, true),
    };
    port_ok && is_hostname(host)
}

// ---------------------------------------------------------------------------------------------
// Parameter set
// ---------------------------------------------------------------------------------------------

/// How RTP is relayed (`SS_MEDIA_PROXY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaProxyMode {
    /// 0: RTP flows end to end.
    Off,
    /// 1: relay.
    On,
    /// 2: relay only when NAT or different networks are detected.
    Auto,
    /// 3: always relay.
    MustOn,
}

const DEFAULT_RESEND_MS: [u64; 10] = [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000];

/// The current value of every catalogue parameter, defaults filled in.
///
/// Values only enter through [`Parameters::set`], so each is valid for its spec; the typed
/// getters rely on that and fall back to the catalogue default otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    values: BTreeMap<&'static str, ParamValue>,
}

impl Default for Parameters {
    fn default() -> Self {
        Self::new()
    }
}

impl Parameters {
    /// Every parameter at its default.
    pub fn new() -> Parameters {
        let values = CATALOGUE
            .iter()
            .filter_map(|s| s.validate(s.default).ok().map(|v| (s.name, v)))
            .collect();
        Parameters { values }
    }

    /// Validates and stores `value` for `name`. On error nothing changes. Whether the change
    /// needs a restart is [`ParamSpec::restart_required`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let spec = spec(name).ok_or_else(|| ParamError::Unknown {
            name: name.to_string(),
        })?;
        let v = spec.validate(value)?;
        self.values.insert(spec.name, v);
        Ok(())
    }

    /// Puts `name` back to its default.
    pub fn reset(&mut self, name: &str) -> Result<(), ParamError> {
        let spec = spec(name).ok_or_else(|| ParamError::Unknown {
            name: name.to_string(),
        })?;
        self.set(spec.name, spec.default)
    }

    /// The current value of `name`.
    pub fn value(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// Every parameter with its current value, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static ParamSpec, &ParamValue)> {
        CATALOGUE
            .iter()
            .filter_map(|s| self.values.get(s.name).map(|v| (s, v)))
    }

    fn int(&self, name: &str, fallback: i64) -> i64 {
        match self.values.get(name) {
            Some(ParamValue::Int(v)) => *v,
            _ => fallback,
        }
    }

    fn u32(&self, name: &str, fallback: u32) -> u32 {
        u32::try_from(self.int(name, i64::from(fallback))).unwrap_or(fallback)
    }

    fn text(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(ParamValue::Text(t)) => t,
            _ => "",
        }
    }

    fn range(&self, name: &str, fallback: (u16, u16)) -> RangeInclusive<u16> {
        match self.values.get(name) {
            Some(ParamValue::Range(lo, hi)) => *lo..=*hi,
            _ => fallback.0..=fallback.1,
        }
    }

    /// `SS_SIP_TIMEOUT_INVITE`: seconds without a provisional response before failover.
    pub fn sip_timeout_invite_secs(&self) -> u32 {
        self.u32("SS_SIP_TIMEOUT_INVITE", 10)
    }

    /// `SS_SIP_TIMEOUT_RINGING`: seconds a call may ring.
    pub fn sip_timeout_ringing_secs(&self) -> u32 {
        self.u32("SS_SIP_TIMEOUT_RINGING", 120)
    }

    /// `SS_SIP_RESEND_INTERVAL`: the UDP retransmission gaps in milliseconds.
    pub fn sip_resend_interval_ms(&self) -> &[u64] {
        match self.values.get("SS_SIP_RESEND_INTERVAL") {
            Some(ParamValue::MillisList(v)) => v,
            _ => &DEFAULT_RESEND_MS,
        }
    }

    /// `SS_SIP_SESSION_TTL`: Session-Expires offered, seconds.
    pub fn sip_session_ttl_secs(&self) -> u32 {
        self.u32("SS_SIP_SESSION_TTL", 600)
    }

    /// `SS_SIP_SESSION_MIN_SE`: smallest session interval accepted, seconds.
    pub fn sip_session_min_se_secs(&self) -> u32 {
        self.u32("SS_SIP_SESSION_MIN_SE", 90)
    }

    /// `SS_SIP_SESSION_UPDATE_SEGMENT`: the refresh happens every TTL / this.
    pub fn sip_session_update_segment(&self) -> u32 {
        self.u32("SS_SIP_SESSION_UPDATE_SEGMENT", 2)
    }

    /// `SS_SIP_NO_TIMER_REINVITE_INTERVAL`: longest call with a timer-less endpoint, seconds;
    /// `None` when 0 (no limit).
    pub fn sip_no_timer_reinvite_interval_secs(&self) -> Option<u32> {
        Some(self.u32("SS_SIP_NO_TIMER_REINVITE_INTERVAL", 7200)).filter(|v| *v > 0)
    }

    /// `SS_SIP_PUBLISH_EXPIRE`: lifetime of PUBLISHed gateway state, seconds.
    pub fn sip_publish_expire_secs(&self) -> u32 {
        self.u32("SS_SIP_PUBLISH_EXPIRE", 300)
    }

    /// `SS_SIP_USER_AGENT_EXPIRE`: expiry asked for when registering upstream, seconds; `None`
    /// for Auto Negotiation.
    pub fn sip_user_agent_expire_secs(&self) -> Option<u32> {
        match self.values.get("SS_SIP_USER_AGENT_EXPIRE") {
            Some(ParamValue::Int(v)) => u32::try_from(*v).ok(),
            _ => None,
        }
    }

    /// `SS_SIP_AUTHENTICATION_REALM`: digest realm; empty means "use the switch's address".
    pub fn authentication_realm(&self) -> &str {
        self.text("SS_SIP_AUTHENTICATION_REALM")
    }

    /// `SS_SIP_NAT_KEEP_ALIVE_MESSAGE`: keep-alive payload; `None` when empty (disabled).
    pub fn sip_nat_keep_alive_message(&self) -> Option<&str> {
        Some(self.text("SS_SIP_NAT_KEEP_ALIVE_MESSAGE")).filter(|m| !m.is_empty())
    }

    /// `SS_SIP_NAT_KEEP_ALIVE_PERIOD`: seconds between keep-alive rounds.
    pub fn sip_nat_keep_alive_period_secs(&self) -> u32 {
        self.u32("SS_SIP_NAT_KEEP_ALIVE_PERIOD", 30)
    }

    /// `SS_MAX_CALL_DURATION`: longest call in seconds; `None` when 0 (unlimited).
    pub fn max_call_duration_secs(&self) -> Option<u32> {
        Some(self.u32("SS_MAX_CALL_DURATION", 0)).filter(|v| *v > 0)
    }

    /// `SERVER_CDR_FILE_WRITE_INTERVAL`: seconds per CDR text file; `None` writes no files.
    pub fn cdr_file_write_interval_secs(&self) -> Option<u32> {
        match self.values.get("SERVER_CDR_FILE_WRITE_INTERVAL") {
            Some(ParamValue::Int(v)) => u32::try_from(*v).ok(),
            _ => None,
        }
    }

    /// `SERVER_CDR_FILE_WRITE_MAX`: CDR text files kept.
    pub fn cdr_file_write_max(&self) -> u32 {
        self.u32("SERVER_CDR_FILE_WRITE_MAX", 2048)
    }

    /// `SERVER_MAX_CDR_PENDING_LIST_LENGTH`: capacity of the queue of CDRs waiting to be stored.
    pub fn max_cdr_pending(&self) -> u32 {
        self.u32("SERVER_MAX_CDR_PENDING_LIST_LENGTH", 100_000)
    }

    /// `SERVER_CDR_REAL_TIME_REPORT_SERVER`: where finished CDRs are pushed; `None` when empty.
    pub fn cdr_real_time_report_server(&self) -> Option<&str> {
        Some(self.text("SERVER_CDR_REAL_TIME_REPORT_SERVER")).filter(|t| !t.is_empty())
    }

    /// `SS_ENDPOINT_EXPIRE`: registration lifetime granted to phones, seconds.
    pub fn endpoint_expire_secs(&self) -> u32 {
        self.u32("SS_ENDPOINT_EXPIRE", 3600)
    }

    /// `SS_GATEWAY_ASR_RESERVE_TIME`: ASR window per gateway, seconds.
    pub fn gateway_asr_reserve_time_secs(&self) -> u32 {
        self.u32("SS_GATEWAY_ASR_RESERVE_TIME", 600)
    }

    /// `SS_GATEWAY_ACD_RESERVE_TIME`: ACD window per gateway, seconds.
    pub fn gateway_acd_reserve_time_secs(&self) -> u32 {
        self.u32("SS_GATEWAY_ACD_RESERVE_TIME", 600)
    }

    /// `SS_MEDIA_PROXY_MODE`.
    pub fn media_proxy_mode(&self) -> MediaProxyMode {
        match self.values.get("SS_MEDIA_PROXY_MODE") {
            Some(ParamValue::Choice("1")) => MediaProxyMode::On,
            Some(ParamValue::Choice("2")) => MediaProxyMode::Auto,
            Some(ParamValue::Choice("3")) => MediaProxyMode::MustOn,
            _ => MediaProxyMode::Off,
        }
    }

    /// `SS_MEDIA_PROXY_PORT_RANGE`: ports the media relay may bind.
    pub fn media_proxy_port_range(&self) -> RangeInclusive<u16> {
        self.range("SS_MEDIA_PROXY_PORT_RANGE", (40000, 59999))
    }

    /// `SS_RTP_TIMEOUT`: seconds without RTP before a call is cleared.
    pub fn rtp_timeout_secs(&self) -> u32 {
        self.u32("SS_RTP_TIMEOUT", 30)
    }

    /// `SS_QOS_SIGNAL`: DSCP code point for SIP.
    pub fn qos_signal(&self) -> u8 {
        u8::try_from(self.int("SS_QOS_SIGNAL", 24)).unwrap_or(24)
    }

    /// `SS_QOS_RTP`: DSCP code point for RTP.
    pub fn qos_rtp(&self) -> u8 {
        u8::try_from(self.int("SS_QOS_RTP", 46)).unwrap_or(46)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Names the seed grep finds that are not catalogue entries, with the reason.
    const EXCLUDED: &[(&str, &str)] = &[
        (
            "SERVER_REPORT_",
            "fragment: the FAQ's 'SERVER_REPORT_ parameter' means the family",
        ),
        (
            "SS_JITTERBUFFER_",
            "fragment: 'SS_JITTERBUFFER_*' wildcard in a summary table",
        ),
        (
            "SS_MEDIAPROXYMODE",
            "variant spelling of SS_MEDIA_PROXY_MODE (kept as its alias)",
        ),
        (
            "SS_MEDIAPROXYPORT_START",
            "split form of SS_MEDIA_PROXY_PORT_RANGE (low end)",
        ),
        (
            "SS_MEDIAPROXYPORT_END",
            "split form of SS_MEDIA_PROXY_PORT_RANGE (high end)",
        ),
    ];

    fn err(name: &str, value: &str) -> String {
        match validate(name, value) {
            Ok(v) => panic!("{name}={value:?} should be refused, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(name: &str, value: &str) -> ParamValue {
        validate(name, value).unwrap_or_else(|e| panic!("{name}={value:?} refused: {e}"))
    }

    /// What `grep -oE '\b(SS|SERVER|IVR)_[A-Z0-9_]+'` prints, as a set.
    fn grep_names(text: &str) -> BTreeSet<String> {
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        let is_tail = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
        let mut out = BTreeSet::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if i > 0 && is_word(chars[i - 1]) {
                i += 1;
                continue;
            }
            let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
            let prefix_len = ["SERVER_", "SS_", "IVR_"]
                .iter()
                .find(|p| rest.starts_with(**p))
                .map(|p| p.len());
            if let Some(plen) = prefix_len {
                let mut end = i + plen;
                while end < chars.len() && is_tail(chars[end]) {
                    end += 1;
                }
                if end > i + plen {
                    out.insert(chars[i..end].iter().collect());
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    #[test]
    fn every_seed_name_is_catalogued_or_deliberately_excluded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seed");
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
            panic!(
                "seed directory {dir} is missing ({e}); the catalogue test needs the shared seed"
            )
        });
        let mut seen = BTreeSet::new();
        let mut files = 0;
        for entry in entries {
            let path = entry.expect("readable seed directory").path();
            if path.extension().is_some_and(|e| e == "txt") {
                let text = std::fs::read_to_string(&path).expect("readable seed file");
                seen.extend(grep_names(&text));
                files += 1;
            }
        }
        assert!(files > 0, "no .txt files in seed directory {dir}");
        assert!(
            seen.len() >= 90,
            "only {} names found in the seed",
            seen.len()
        );
        let excluded: BTreeSet<&str> = EXCLUDED.iter().map(|(n, _)| *n).collect();
        let missing: Vec<&String> = seen
            .iter()
            .filter(|n| spec(n).is_none() && !excluded.contains(n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "seed names missing from the catalogue: {missing:?}"
        );
        // Exclusions and catalogue entries must all come from the seed.
        for (name, why) in EXCLUDED {
            assert!(
                seen.contains(*name),
                "excluded {name} ({why}) is not in the seed"
            );
            assert!(spec(name).is_none(), "excluded {name} is also catalogued");
        }
        for s in catalogue() {
            assert!(
                seen.contains(s.name),
                "{} is catalogued but not named in the seed",
                s.name
            );
        }
        assert_eq!(catalogue().len() + EXCLUDED.len(), seen.len());
    }

    #[test]
    fn grep_emulation_matches_word_boundaries() {
        let got = grep_names("x SS_A, XSS_B (SERVER_REPORT_ IVR_C_1) SS_ lower_SS_D SS_E*");
        let want: BTreeSet<String> = ["SS_A", "SERVER_REPORT_", "IVR_C_1", "SS_E"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn every_default_validates_and_round_trips() {
        for s in catalogue() {
            let v = s
                .validate(s.default)
                .unwrap_or_else(|e| panic!("default of {} refused: {e}", s.name));
            let again = s
                .validate(&v.to_string())
                .unwrap_or_else(|e| panic!("canonical form of {} refused: {e}", s.name));
            assert_eq!(v, again, "{} does not round-trip", s.name);
        }
    }

    #[test]
    fn catalogue_is_well_formed() {
        let mut names = BTreeSet::new();
        for s in catalogue() {
            assert!(names.insert(s.name), "duplicate {}", s.name);
            assert!(
                !s.description.is_empty() && !s.description.contains('\n'),
                "{}",
                s.name
            );
            assert!(
                s.name.starts_with("SS_")
                    || s.name.starts_with("SERVER_")
                    || s.name.starts_with("IVR_")
            );
            if let ParamKind::Int { min, max, .. } = s.kind {
                assert!(min <= max, "{}", s.name);
            }
        }
        for s in catalogue() {
            for a in s.aliases {
                assert!(!names.contains(a), "alias {a} shadows a parameter");
            }
        }
        assert_eq!(catalogue().len(), 90);
        assert_eq!(Parameters::new().iter().count(), catalogue().len());
    }

    #[test]
    fn spec_is_exact_and_case_sensitive() {
        assert!(spec("SS_SIP_TIMEOUT_INVITE").is_some());
        assert!(spec("ss_sip_timeout_invite").is_none());
        assert!(spec("SS_SIP_TIMEOUT_INVITE ").is_none());
        assert!(spec("SS_MEDIAPROXYMODE").is_none());
        assert_eq!(
            resolve("SS_MEDIAPROXYMODE").map(|s| s.name),
            Some("SS_MEDIA_PROXY_MODE")
        );
        assert_eq!(resolve("SS_QOS_RTP").map(|s| s.name), Some("SS_QOS_RTP"));
    }

    #[test]
    fn unknown_parameter_is_named() {
        let e = validate("SS_NO_SUCH_THING", "1").unwrap_err();
        assert_eq!(e.name(), "SS_NO_SUCH_THING");
        assert_eq!(e.to_string(), "unknown parameter \"SS_NO_SUCH_THING\"");
        let mut p = Parameters::new();
        assert!(p.set("ss_sip_timeout_invite", "5").is_err());
        assert!(p.reset("NOPE").is_err());
    }

    #[test]
    fn spec_defaults_and_ranges_from_the_spec() {
        // (name, default, min, max) for every integer the SPEC pins down.
        let cases: &[(&str, &str, i64, i64)] = &[
            ("SS_SIP_TIMEOUT_INVITE", "10", 1, 300),
            ("SS_SIP_TIMEOUT_RINGING", "120", 1, 600),
            ("SS_SIP_PUBLISH_EXPIRE", "300", 30, 7200),
            ("SS_SIP_NAT_KEEP_ALIVE_PERIOD", "30", 10, 86_400),
            ("SERVER_CDR_FILE_WRITE_MAX", "2048", 10, 4096),
            (
                "SERVER_MAX_CDR_PENDING_LIST_LENGTH",
                "100000",
                10_000,
                100_000,
            ),
            ("SERVER_LOGIN_FAILED_DISABLE_TIME", "120", 30, 7200),
            ("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME", "1", 1, 15),
        ];
        for (name, default, min, max) in cases {
            let s = spec(name).expect("catalogued");
            assert_eq!(s.default, *default, "{name}");
            match s.kind {
                ParamKind::Int {
                    min: lo, max: hi, ..
                } => assert_eq!((lo, hi), (*min, *max), "{name}"),
                other => panic!("{name} is {other:?}"),
            }
        }
        let defaults: &[(&str, &str)] = &[
            ("SS_SIP_SESSION_TTL", "600"),
            ("SS_SIP_SESSION_MIN_SE", "90"),
            ("SS_SIP_SESSION_UPDATE_SEGMENT", "2"),
            ("SS_SIP_NO_TIMER_REINVITE_INTERVAL", "7200"),
            ("SS_MAX_CALL_DURATION", "0"),
            ("SS_GATEWAY_ASR_RESERVE_TIME", "600"),
            ("SS_GATEWAY_ACD_RESERVE_TIME", "600"),
            ("SS_ENDPOINT_EXPIRE", "3600"),
            ("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", "HELLO"),
            ("SS_BLACK_LIST_CALLER_MALICIOUS_CALL_LIMIT", "1000"),
            ("SS_BLACK_LIST_CALLER_MALICIOUS_CALL_EXPIRE", "3600"),
            ("SS_BLACK_LIST_NO_ANSWER_LIMIT", "100"),
            ("SS_BLACK_LIST_NO_ANSWER_EXPIRE", "3600"),
            ("SERVER_PASSWORD_LENGTH", "8"),
            ("SS_QOS_SIGNAL", "24"),
            ("SS_QOS_RTP", "46"),
            ("SS_MEDIA_PROXY_PORT_RANGE", "40000,59999"),
            ("SS_SIP_RESEND_INTERVAL", "0.5,1,2,4,4,4,4,4,4,4"),
        ];
        for (name, default) in defaults {
            assert_eq!(spec(name).map(|s| s.default), Some(*default), "{name}");
        }
        assert!(matches!(
            spec("SS_SIP_USER_AGENT_EXPIRE").map(|s| s.kind),
            Some(ParamKind::Int {
                min: 20,
                max: 7200,
                ..
            })
        ));
        assert!(matches!(
            spec("SERVER_CDR_FILE_WRITE_INTERVAL").map(|s| s.kind),
            Some(ParamKind::Int {
                min: 60,
                max: 86_400,
                ..
            })
        ));
    }

    #[test]
    fn ranges_reject_below_and_above_naming_parameter_and_range() {
        assert_eq!(
            err("SS_SIP_TIMEOUT_INVITE", "0"),
            "SS_SIP_TIMEOUT_INVITE must be an integer from 1 to 300 (seconds), got \"0\""
        );
        assert_eq!(
            err("SS_SIP_TIMEOUT_INVITE", "301"),
            "SS_SIP_TIMEOUT_INVITE must be an integer from 1 to 300 (seconds), got \"301\""
        );
        assert_eq!(ok("SS_SIP_TIMEOUT_INVITE", " 300 "), ParamValue::Int(300));
        assert_eq!(ok("SS_SIP_TIMEOUT_INVITE", "1"), ParamValue::Int(1));
        let m = err("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME", "16");
        assert!(m.contains("from 1 to 15 (minutes)"), "{m}");
        let m = err("SS_SIP_PUBLISH_EXPIRE", "29");
        assert!(
            m.starts_with("SS_SIP_PUBLISH_EXPIRE must be") && m.contains("30 to 7200"),
            "{m}"
        );
        for bad in ["", "ten", "1.5", "10s", "99999999999999999999"] {
            let m = err("SS_SIP_TIMEOUT_RINGING", bad);
            assert!(
                m.contains("SS_SIP_TIMEOUT_RINGING") && m.contains("1 to 600"),
                "{m}"
            );
        }
        assert_eq!(ok("SS_VOICEGAIN", "-10"), ParamValue::Int(-10));
        assert!(validate("SS_VOICEGAIN", "11").is_err());
    }

    #[test]
    fn integer_keywords() {
        assert_eq!(
            ok("SS_SIP_USER_AGENT_EXPIRE", "auto negotiation"),
            ParamValue::Keyword("Auto Negotiation")
        );
        assert_eq!(
            ok("SS_SIP_USER_AGENT_EXPIRE", "3600"),
            ParamValue::Int(3600)
        );
        let m = err("SS_SIP_USER_AGENT_EXPIRE", "19");
        assert!(
            m.contains("from 20 to 7200 (seconds) or \"Auto Negotiation\""),
            "{m}"
        );
        assert_eq!(
            ok("SERVER_CDR_FILE_WRITE_INTERVAL", "NONE"),
            ParamValue::Keyword("None")
        );
        assert_eq!(
            ok("SERVER_CDR_FILE_WRITE_INTERVAL", "60"),
            ParamValue::Int(60)
        );
        assert!(validate("SERVER_CDR_FILE_WRITE_INTERVAL", "59").is_err());
        assert!(validate("SERVER_CDR_FILE_WRITE_INTERVAL", "").is_err());
    }

    #[test]
    fn booleans_accept_on_off_true_false_1_0_any_case() {
        for t in ["On", "on", "ON", "true", "TRUE", "True", "1", " on "] {
            assert_eq!(ok("SERVER_ALARM_DISABLE", t), ParamValue::Bool(true), "{t}");
        }
        for f in ["Off", "off", "OFF", "false", "False", "0"] {
            assert_eq!(
                ok("SERVER_REPORT_AGENT_INCOME", f),
                ParamValue::Bool(false),
                "{f}"
            );
        }
        for bad in ["", "yes", "2", "onn", "-1"] {
            let m = err("SS_ECHOCANCEL", bad);
            assert!(m.starts_with("SS_ECHOCANCEL must be On or Off"), "{m}");
        }
        assert_eq!(ParamValue::Bool(true).to_string(), "On");
    }

    #[test]
    fn resend_interval_parses_to_millis() {
        assert_eq!(
            ok("SS_SIP_RESEND_INTERVAL", "0.5,1,2,4,4,4,4,4,4,4"),
            ParamValue::MillisList(vec![
                500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000
            ])
        );
        assert_eq!(
            ok("SS_SIP_RESEND_INTERVAL", " 0.25 , 1.5,0.001 "),
            ParamValue::MillisList(vec![250, 1500, 1])
        );
        assert_eq!(
            ParamValue::MillisList(vec![500, 1250, 4000, 1]).to_string(),
            "0.5,1.25,4,0.001"
        );
        for bad in [
            "", " ", "0.5,,1", "0.5,", ",1", "-1", "0.5,-2", "abc", "1,x", "1.", ".5", "0.0001",
            "0", "0.000", "65", "1e3", "+1", "1..2", "0x10",
        ] {
            let m = err("SS_SIP_RESEND_INTERVAL", bad);
            assert!(
                m.starts_with("SS_SIP_RESEND_INTERVAL must be a comma-separated list"),
                "{m}"
            );
        }
        let too_many = vec!["1"; 33].join(",");
        assert!(validate("SS_SIP_RESEND_INTERVAL", &too_many).is_err());
    }

    #[test]
    fn choices_match_values_labels_and_aliases() {
        assert_eq!(ok("SS_MEDIA_PROXY_MODE", "3"), ParamValue::Choice("3"));
        for s in ["Must On", "must_on", "MUSTON", "must-on"] {
            assert_eq!(ok("SS_MEDIA_PROXY_MODE", s), ParamValue::Choice("3"), "{s}");
        }
        assert_eq!(ok("SS_MEDIA_PROXY_MODE", "auto"), ParamValue::Choice("2"));
        let m = err("SS_MEDIA_PROXY_MODE", "4");
        assert_eq!(
            m,
            "SS_MEDIA_PROXY_MODE must be one of 0 (Off), 1 (On), 2 (Auto), 3 (Must On), got \"4\""
        );
        assert!(validate("SS_MEDIA_PROXY_MODE", "").is_err());
        assert_eq!(
            ok("SS_H323_NUMBERING_PLAN", "0"),
            ParamValue::Choice("UnknownPlan(0)")
        );
        assert_eq!(
            ok("SS_H323_DTMF_METHOD", "rfc 2833"),
            ParamValue::Choice("RFC2833")
        );
        assert_eq!(
            ok(
                "SERVER_BILLING_PROFIT_CALCULATE",
                "Call charges - Sub - Call expense"
            ),
            ParamValue::Choice("Call charges – Sub – Call expense")
        );
        assert!(validate("SS_ECHOCANCELTAIL", "100").is_err());
    }

    #[test]
    fn codec_list() {
        assert_eq!(
            ok("IVR_CODEC_PRIORITY", "pcmu, G729"),
            ParamValue::Choices(vec!["G.711U", "G.729"])
        );
        for bad in [
            "",
            "G.711A,G.711A",
            "G.711A,,G.729",
            "OPUS",
            "PCMA,PCMU,G729,G723,G722,PCMA",
        ] {
            assert!(validate("IVR_CODEC_PRIORITY", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            ok("SS_MEDIA_PROXY_PORT_RANGE", "10000, 20000"),
            ParamValue::Range(10000, 20000)
        );
        assert_eq!(
            ok("SS_H245_PORT_RANGE", "5000,5000"),
            ParamValue::Range(5000, 5000)
        );
        for bad in [
            "59999,40000",
            "0,10",
            "1,65536",
            "40000",
            "1,2,3",
            "a,b",
            "-1,5",
            "",
            "+1,5",
        ] {
            let m = err("SS_MEDIA_PROXY_PORT_RANGE", bad);
            assert!(m.contains("1 <= low <= high <= 65535"), "{m}");
        }
    }

    #[test]
    fn hosts_ips_and_lists() {
        for good in [
            "time-a.nist.gov",
            "10.0.0.1",
            "10.0.0.1:123",
            "ntp.example:123",
            "::1",
            "[::1]:9000",
            "",
        ] {
            assert!(validate("SERVER_NTP_SERVER", good).is_ok(), "{good}");
        }
        for bad in [
            "bad host",
            "host:0",
            "host:99999",
            "-a.example",
            "[::1",
            "[zz]:1",
            "a:b:c",
            "h:",
        ] {
            let m = err("SERVER_CDR_REAL_TIME_REPORT_SERVER", bad);
            assert!(m.contains("host name or IP address"), "{m}");
        }
        assert_eq!(
            ok("SERVER_SOFTSWITCH_CLUSTER", "10.0.0.1, 2001:db8::1"),
            ParamValue::IpList(vec![
                "10.0.0.1".parse().unwrap(),
                "2001:db8::1".parse().unwrap()
            ])
        );
        assert_eq!(
            ok("SERVER_SOFTSWITCH_CLUSTER", ""),
            ParamValue::IpList(vec![])
        );
        assert!(validate("SERVER_SOFTSWITCH_CLUSTER", "10.0.0.1,host").is_err());
        assert_eq!(
            ok("SERVER_QUERY_CDR_DENY_TIME", "18,19,20,21"),
            ParamValue::IntList(vec![18, 19, 20, 21])
        );
        assert!(validate("SERVER_QUERY_CDR_DENY_TIME", "24").is_err());
        assert!(validate("SERVER_QUERY_CDR_DENY_TIME", "1,,2").is_err());
        assert_eq!(
            ok("SERVER_BILLING_FREE_E164S", "110,119"),
            ParamValue::TextList(vec!["110".into(), "119".into()])
        );
        assert!(validate("SERVER_BILLING_NO_CDR_E164S", "12a").is_err());
        assert_eq!(
            ok("SERVER_BILLING_FORWARD_PREFIX", "*9#"),
            ParamValue::Text("*9#".into())
        );
        assert!(validate("SERVER_BILLING_GATEWAY_ROUTE_PREFIX", "9x").is_err());
    }

    #[test]
    fn text_limits() {
        assert_eq!(
            ok("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", ""),
            ParamValue::Text(String::new())
        );
        assert!(validate("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", "a\r\nb").is_err());
        assert!(validate("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", &"x".repeat(257)).is_err());
        assert!(validate("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", &"é".repeat(256)).is_ok());
        assert!(validate("SS_SIP_AUTHENTICATION_REALM", "tollswitch.example").is_ok());
        let m = err("SS_SIP_AUTHENTICATION_REALM", "a\"b");
        assert!(m.contains("'\"'"), "{m}");
        assert_eq!(
            ok("IVR_DEFAULT_LANGUAGE", "zh-CN"),
            ParamValue::Text("zh-CN".into())
        );
        assert!(validate("IVR_DEFAULT_LANGUAGE", "").is_err());
        assert!(validate("IVR_DEFAULT_LANGUAGE", "en us").is_err());
    }

    #[test]
    fn long_or_odd_values_are_quoted_safely() {
        let m = err("SS_SIP_TIMEOUT_INVITE", &"9".repeat(200));
        assert!(m.ends_with('…') && m.len() < 200, "{m}");
        let m = err("SS_SIP_TIMEOUT_INVITE", "1\n2");
        assert!(m.ends_with("got \"1\\n2\""), "{m}");
    }

    #[test]
    fn restart_flags() {
        for name in [
            "SS_MEDIA_PROXY_PORT_RANGE",
            "SS_H245_PORT_RANGE",
            "SS_QOS_SIGNAL",
            "SERVER_SOFTSWITCH_CLUSTER",
            "SERVER_MAX_CDR_PENDING_LIST_LENGTH",
        ] {
            assert!(spec(name).is_some_and(|s| s.restart_required), "{name}");
        }
        for name in [
            "SS_SIP_TIMEOUT_INVITE",
            "SS_SIP_RESEND_INTERVAL",
            "SS_MAX_CALL_DURATION",
            "SS_QOS_RTP",
            "SS_MEDIA_PROXY_MODE",
            "SERVER_BILLING_FREE_TIME",
            "SS_BLACK_LIST_NO_ANSWER_LIMIT",
        ] {
            assert!(spec(name).is_some_and(|s| !s.restart_required), "{name}");
        }
        assert!(spec("SS_SIP_AUTHENTICATION_CODE").is_some_and(|s| s.secret));
    }

    #[test]
    fn parameters_defaults_and_getters() {
        let p = Parameters::default();
        assert_eq!(p.sip_timeout_invite_secs(), 10);
        assert_eq!(p.sip_timeout_ringing_secs(), 120);
        assert_eq!(p.sip_resend_interval_ms(), &DEFAULT_RESEND_MS);
        assert_eq!(p.sip_session_ttl_secs(), 600);
        assert_eq!(p.sip_session_min_se_secs(), 90);
        assert_eq!(p.sip_session_update_segment(), 2);
        assert_eq!(p.sip_no_timer_reinvite_interval_secs(), Some(7200));
        assert_eq!(p.sip_publish_expire_secs(), 300);
        assert_eq!(p.sip_user_agent_expire_secs(), None);
        assert_eq!(p.authentication_realm(), "");
        assert_eq!(p.sip_nat_keep_alive_message(), Some("HELLO"));
        assert_eq!(p.sip_nat_keep_alive_period_secs(), 30);
        assert_eq!(p.max_call_duration_secs(), None);
        assert_eq!(p.endpoint_expire_secs(), 3600);
        assert_eq!(p.gateway_asr_reserve_time_secs(), 600);
        assert_eq!(p.gateway_acd_reserve_time_secs(), 600);
        assert_eq!(p.media_proxy_mode(), MediaProxyMode::Off);
        assert_eq!(p.media_proxy_port_range(), 40000..=59999);
        assert_eq!(p.rtp_timeout_secs(), 30);
        assert_eq!(p.qos_signal(), 24);
        assert_eq!(p.qos_rtp(), 46);
        for s in catalogue() {
            assert!(p.value(s.name).is_some(), "{} has no value", s.name);
        }
    }

    #[test]
    fn parameters_set_and_reset() {
        let mut p = Parameters::new();
        p.set("SS_SIP_TIMEOUT_INVITE", "5").unwrap();
        p.set("SS_MAX_CALL_DURATION", "3600").unwrap();
        p.set("SS_MEDIA_PROXY_MODE", "Must On").unwrap();
        p.set("SS_SIP_RESEND_INTERVAL", "1,2").unwrap();
        p.set("SS_SIP_AUTHENTICATION_REALM", "ts.example").unwrap();
        p.set("SS_SIP_NAT_KEEP_ALIVE_MESSAGE", "").unwrap();
        p.set("SS_SIP_USER_AGENT_EXPIRE", "120").unwrap();
        p.set("SS_MEDIA_PROXY_PORT_RANGE", "20000,20999").unwrap();
        assert_eq!(p.sip_timeout_invite_secs(), 5);
        assert_eq!(p.max_call_duration_secs(), Some(3600));
        assert_eq!(p.media_proxy_mode(), MediaProxyMode::MustOn);
        assert_eq!(p.sip_resend_interval_ms(), &[1000, 2000]);
        assert_eq!(p.authentication_realm(), "ts.example");
        assert_eq!(p.sip_nat_keep_alive_message(), None);
        assert_eq!(p.sip_user_agent_expire_secs(), Some(120));
        assert_eq!(p.media_proxy_port_range(), 20000..=20999);

        let before = p.clone();
        let e = p.set("SS_SIP_TIMEOUT_INVITE", "0").unwrap_err();
        assert_eq!(e.name(), "SS_SIP_TIMEOUT_INVITE");
        assert_eq!(p, before, "a refused value changes nothing");

        p.reset("SS_SIP_TIMEOUT_INVITE").unwrap();
        assert_eq!(p.sip_timeout_invite_secs(), 10);
        assert_eq!(p.value("SS_SIP_TIMEOUT_INVITE"), Some(&ParamValue::Int(10)));
    }

    #[test]
    fn expected_text_for_every_kind_is_nonempty() {
        for s in catalogue() {
            let e = s.kind.expected();
            assert!(!e.is_empty() && !e.contains('\n'), "{}: {e}", s.name);
        }
    }

    proptest! {
        #[test]
        fn integer_specs_accept_exactly_their_range(
            idx in 0usize..90,
            v in -200_000_000i64..200_000_000,
        ) {
            let s = &catalogue()[idx % catalogue().len()];
            if let ParamKind::Int { min, max, .. } = s.kind {
                let r = s.validate(&v.to_string());
                prop_assert_eq!(r.is_ok(), (min..=max).contains(&v));
                if let Err(e) = r {
                    let m = e.to_string();
                    prop_assert!(m.starts_with(s.name));
                    let range = format!("from {min} to {max}");
                    prop_assert!(m.contains(&range));
                }
            }
        }

        #[test]
        fn millis_lists_round_trip(items in proptest::collection::vec(1u64..=64_000, 1..=32)) {
            let v = ParamValue::MillisList(items.clone());
            prop_assert_eq!(validate("SS_SIP_RESEND_INTERVAL", &v.to_string()), Ok(v));
        }

        #[test]
        fn validate_never_panics(name_idx in 0usize..90, s in "\\PC{0,40}") {
            let spec = &catalogue()[name_idx % catalogue().len()];
            let _ = spec.validate(&s);
        }
    }
}
