//! Provisioning objects (SPEC §1): accounts, mapping gateways, routing gateways, gateway groups,
//! rate tables and system parameters, as an operator writes them in a TOML provisioning file.
//!
//! Objects refer to each other **by name** (`account = "acme"`); the storage layer assigns ids
//! later. [`Provisioning::validate`] checks the whole set at once and reports every problem with
//! the object kind, the object name and the field, so an operator fixes a file in one pass.
//!
//! ```toml
//! [parameters]
//! SS_SIP_TIMEOUT_INVITE = "10"
//!
//! [[account]]
//! name = "acme"
//! kind = "customer"
//! currency = "USD"
//! balance = "100.00"
//! rate_table = "retail"
//!
//! [[mapping_gateway]]
//! name = "acme-pbx"
//! account = "acme"
//! sources = ["192.0.2.10", "198.51.100.0/24:5060"]
//! callee_rules = [{ strip = 2 }, { add_prefix = "44" }]
//!
//! [[rate_table]]
//! name = "retail"
//! currency = "USD"
//! [[rate_table.rate]]
//! prefix = "4420"
//! area = "London"
//! price = "0.012"
//! ```
//!
//! Money is written as a decimal string (`"0.012"`) and held as integer micro-units; whole
//! numbers (`balance = 100`) are accepted too, floats never (they cannot hold 0.012 exactly).

use crate::{Currency, Money, SipCode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Longest prefix in digits; the same bound as the longest [`crate::Number`].
pub const MAX_PREFIX_DIGITS: usize = 32;

// ---------------------------------------------------------------------------------------------
// Money as decimal text
// ---------------------------------------------------------------------------------------------

/// Serde helpers writing [`Money`] as a decimal string (`"0.012"`) and reading a decimal string
/// or a whole integer. Use with `#[serde(with = "money_text")]`.
pub mod money_text {
    use crate::Money;
    use crate::money::MICROS_PER_UNIT;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    /// Writes the amount as its canonical decimal text.
    pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(m)
    }

    /// Reads `"0.012"`, `"-3.5"` or a whole number `100`; refuses floats.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        d.deserialize_any(MoneyVisitor)
    }

    struct MoneyVisitor;

    impl Visitor<'_> for MoneyVisitor {
        type Value = Money;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount as a decimal string such as \"0.012\", or a whole number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
            v.parse::<Money>().map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
            v.checked_mul(MICROS_PER_UNIT)
                .map(Money::from_micros)
                .ok_or_else(|| E::custom("amount is out of range"))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
            i64::try_from(v)
                .map_err(|_| E::custom("amount is out of range"))
                .and_then(|v| self.visit_i64(v))
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Money, E> {
            Err(E::custom(
                "write money as a decimal string (e.g. \"0.012\"): a float cannot hold it exactly",
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small enums
// ---------------------------------------------------------------------------------------------

/// What an account is to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Sends traffic to us through mapping gateways and pays for it.
    #[default]
    Customer,
    /// Receives traffic from us through routing gateways and bills us for it.
    Vendor,
    /// Owns sub-accounts whose charges roll up to it.
    Agent,
}

/// How an account pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMode {
    /// Pays in advance; calls are limited by balance + credit limit (SPEC §4).
    #[default]
    Prepaid,
    /// Invoiced afterwards; the credit limit still caps the debt.
    Postpaid,
}

/// Whether an account may place calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Calls are admitted.
    #[default]
    Active,
    /// Every call is refused (403).
    Locked,
}

/// How a mapping gateway orders the routing gateways that match a callee, after the longest
/// matching prefix (which always comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutePolicy {
    /// Priority number (smaller first), then vendor rate (cheaper first), then ASR.
    #[default]
    PriorityThenLcr,
    /// Vendor rate (cheaper first), then priority, then ASR.
    LcrThenPriority,
    /// ASR (higher first), then priority, then vendor rate.
    Quality,
}

/// Media relay setting of a gateway (`SS_MEDIA_PROXY_MODE`, SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaProxy {
    /// Use the system parameter `SS_MEDIA_PROXY_MODE`.
    #[default]
    Inherit,
    /// 0: RTP flows end to end.
    Off,
    /// 1: relay.
    On,
    /// 2: relay only when NAT or different networks are detected.
    Auto,
    /// 3: always relay.
    MustOn,
}

impl MediaProxy {
    /// This setting, or `system` when it inherits.
    pub fn resolve(self, system: MediaProxy) -> MediaProxy {
        match self {
            MediaProxy::Inherit => system,
            other => other,
        }
    }
}

/// SIP transport toward a routing gateway target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP (the default).
    #[default]
    Udp,
    /// TCP.
    Tcp,
}

/// What a routing gateway does with the P-Asserted-Identity header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaiMode {
    /// Relay it unchanged.
    #[default]
    Pass,
    /// Remove it before sending to the vendor.
    Strip,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// All seven days, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// 0 for Monday … 6 for Sunday.
    pub const fn index(self) -> u8 {
        self as u8
    }
}

// ---------------------------------------------------------------------------------------------
// Time of day and UTC offset
// ---------------------------------------------------------------------------------------------

/// A wall-clock time `HH:MM`, `00:00`..=`24:00` (`24:00` only makes sense as an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    /// Midnight at the end of the day.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(24 * 60);

    /// From minutes since midnight, `0..=1440`.
    pub const fn from_minutes(m: u16) -> Option<TimeOfDay> {
        if m <= 24 * 60 {
            Some(TimeOfDay(m))
        } else {
            None
        }
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<TimeOfDay, String> {
        let bad = || format!("time of day must be HH:MM between 00:00 and 24:00, got {s:?}");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(TimeOfDay(h * 60 + m))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(s: String) -> Result<TimeOfDay, String> {
        s.parse()
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

/// A fixed offset from UTC, written `+08:00` / `-05:30` / `Z`, within ±14:00.
///
/// A fixed offset, not an IANA zone: the model stays dependency-free and a time rule is exact
/// and reproducible. Operators in zones with daylight saving time change the offset twice a
/// year (or write two rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcOffset(i16);

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// From minutes east of UTC, within ±840.
    pub const fn from_minutes(m: i16) -> Option<UtcOffset> {
        if m >= -840 && m <= 840 {
            Some(UtcOffset(m))
        } else {
            None
        }
    }

    /// Minutes east of UTC.
    pub const fn minutes(self) -> i16 {
        self.0
    }
}

impl FromStr for UtcOffset {
    type Err = String;
    fn from_str(s: &str) -> Result<UtcOffset, String> {
        if s == "Z" || s == "UTC" {
            return Ok(UtcOffset::UTC);
        }
        let bad = || format!("UTC offset must be +HH:MM or -HH:MM within ±14:00, got {s:?}");
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1i16, &s[1..]),
            Some(b'-') => (-1i16, &s[1..]),
            _ => return Err(bad()),
        };
        let t: TimeOfDay = rest.parse().map_err(|_| bad())?;
        let m = i16::try_from(t.minutes()).map_err(|_| bad())?;
        UtcOffset::from_minutes(sign * m).ok_or_else(bad)
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = String;
    fn try_from(s: String) -> Result<UtcOffset, String> {
        s.parse()
    }
}

impl From<UtcOffset> for String {
    fn from(o: UtcOffset) -> String {
        o.to_string()
    }
}

/// When a routing gateway may be used: on `days`, from `from` (inclusive) to `to` (exclusive)
/// local time at `utc_offset`. When `to` is earlier than `from` the window crosses midnight and
/// belongs to the day it starts on (`fri 22:00–06:00` covers Friday night into Saturday
/// morning). A gateway with no time rules is always usable; with several, any one suffices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRule {
    /// Days on which the window starts; empty means every day.
    #[serde(default)]
    pub days: Vec<Weekday>,
    /// Start of the window (inclusive).
    #[serde(default = "default_from")]
    pub from: TimeOfDay,
    /// End of the window (exclusive); `24:00` for end of day.
    #[serde(default = "default_to")]
    pub to: TimeOfDay,
    /// The local time zone, as a fixed offset.
    #[serde(default)]
    pub utc_offset: UtcOffset,
}

fn default_from() -> TimeOfDay {
    TimeOfDay::MIDNIGHT
}

fn default_to() -> TimeOfDay {
    TimeOfDay::END_OF_DAY
}

// ---------------------------------------------------------------------------------------------
// Source addresses
// ---------------------------------------------------------------------------------------------

/// An IP network: an address and a prefix length (`/32` or `/128` is one host). Host bits must
/// be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    addr: IpAddr,
    len: u8,
}

/// Why a text is not an [`IpNet`] or a [`SourceMatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMatchError {
    /// Not an IPv4 or IPv6 address.
    BadAddress(String),
    /// The prefix length is not a number or is longer than the address.
    BadPrefixLength(String),
    /// Bits beyond the prefix length are set (`192.0.2.1/24`).
    HostBitsSet(String),
    /// The port is not 1..=65535.
    BadPort(String),
}

impl fmt::Display for SourceMatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceMatchError::BadAddress(s) => write!(f, "not an IPv4 or IPv6 address: {s:?}"),
            SourceMatchError::BadPrefixLength(s) => write!(f, "bad prefix length in {s:?}"),
            SourceMatchError::HostBitsSet(s) => {
                write!(f, "host bits are set beyond the prefix length in {s:?}")
            }
            SourceMatchError::BadPort(s) => write!(f, "port must be 1..=65535 in {s:?}"),
        }
    }
}

impl std::error::Error for SourceMatchError {}

impl IpNet {
    /// A network; `None` when `len` is too long or host bits are set.
    pub fn new(addr: IpAddr, len: u8) -> Option<IpNet> {
        let net = IpNet { addr, len };
        (len <= net.max_len() && net.mask(addr) == addr).then_some(net)
    }

    /// One host.
    pub fn host(addr: IpAddr) -> IpNet {
        let len = if addr.is_ipv4() { 32 } else { 128 };
        IpNet { addr, len }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// True when this network is a single host.
    pub fn is_host(&self) -> bool {
        self.len == self.max_len()
    }

    fn max_len(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// `ip` with the bits beyond this network's prefix length cleared (same family assumed).
    pub fn mask(&self, ip: IpAddr) -> IpAddr {
        mask_ip(ip, self.len)
    }

    /// True when `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask_ip(ip, self.len) == self.addr
    }
}

/// `ip` with every bit beyond `len` cleared.
pub fn mask_ip(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

impl FromStr for IpNet {
    type Err = SourceMatchError;
    fn from_str(s: &str) -> Result<IpNet, SourceMatchError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| SourceMatchError::BadAddress(s.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(SourceMatchError::BadPrefixLength(s.to_owned())),
            },
        };
        IpNet::new(addr, len).ok_or_else(|| SourceMatchError::HostBitsSet(s.to_owned()))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

/// Where a mapping gateway's traffic comes from: an address or network, optionally one port.
///
/// Text forms: `192.0.2.10`, `192.0.2.10:5060`, `192.0.2.0/24`, `192.0.2.0/24:5060`,
/// `2001:db8::1`, `[2001:db8::1]:5060`, `2001:db8::/32`, `[2001:db8::/32]:5060`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceMatch {
    /// The address or network.
    pub net: IpNet,
    /// The only source port accepted, or any port.
    pub port: Option<u16>,
}

impl SourceMatch {
    /// True when a packet from `source` matches.
    pub fn matches(&self, source: SocketAddr) -> bool {
        self.net.contains(source.ip()) && self.port.is_none_or(|p| p == source.port())
    }
}

fn parse_port(whole: &str, p: &str) -> Result<u16, SourceMatchError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SourceMatchError::BadPort(whole.to_owned()));
    }
    match p.parse::<u16>() {
        Ok(port) if port >= 1 => Ok(port),
        _ => Err(SourceMatchError::BadPort(whole.to_owned())),
    }
}

impl FromStr for SourceMatch {
    type Err = SourceMatchError;
    fn from_str(s: &str) -> Result<SourceMatch, SourceMatchError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('[') {
            // [v6 or v6/len]:port
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| SourceMatchError::BadAddress(s.to_owned()))?;
            let net: IpNet = inner.parse()?;
            if net.addr.is_ipv4() {
                return Err(SourceMatchError::BadAddress(s.to_owned()));
            }
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(s, p)?),
                None if after.is_empty() => None,
                None => return Err(SourceMatchError::BadAddress(s.to_owned())),
            };
            return Ok(SourceMatch { net, port });
        }
        if s.matches(':').count() >= 2 {
            // A bare IPv6 address or network: no port possible without brackets.
            return Ok(SourceMatch {
                net: s.parse()?,
                port: None,
            });
        }
        let (net, port) = match s.rsplit_once(':') {
            Some((n, p)) => (n, Some(parse_port(s, p)?)),
            None => (s, None),
        };
        let net: IpNet = net.parse()?;
        Ok(SourceMatch { net, port })
    }
}

impl fmt::Display for SourceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.port, self.net.addr) {
            (None, _) => write!(f, "{}", self.net),
            (Some(p), IpAddr::V4(_)) => write!(f, "{}:{p}", self.net),
            (Some(p), IpAddr::V6(_)) => write!(f, "[{}]:{p}", self.net),
        }
    }
}

impl TryFrom<String> for SourceMatch {
    type Error = SourceMatchError;
    fn try_from(s: String) -> Result<SourceMatch, SourceMatchError> {
        s.parse()
    }
}

impl From<SourceMatch> for String {
    fn from(m: SourceMatch) -> String {
        m.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Number transformation
// ---------------------------------------------------------------------------------------------

/// One step of a number transformation; a gateway's rules are applied in order.
///
/// In TOML: `callee_rules = [{ strip = 2 }, { add_prefix = "0044" },
/// { replace_prefix = { from = "00", to = "" } }, { regex = { pattern = "^1(\\d{10})$",
/// replacement = "001$1" } }]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NumberRule {
    /// Remove this many leading digits (all of them if the number is shorter).
    Strip(u8),
    /// Put these digits in front.
    AddPrefix(String),
    /// When the number starts with `from`, replace that part with `to`; otherwise leave it.
    ReplacePrefix {
        /// The prefix to look for (non-empty digits).
        from: String,
        /// What replaces it (digits, may be empty).
        to: String,
    },
    /// Rewrite with a regular expression (first match); `replacement` may use `$1`, `${name}`.
    /// Compiled by the routing crate.
    Regex {
        /// The pattern.
        pattern: String,
        /// The replacement text.
        replacement: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// A customer, vendor or agent (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Unique account name.
    pub name: String,
    /// Customer, vendor or agent.
    #[serde(default)]
    pub kind: AccountKind,
    /// The agent account this one belongs to (its charges roll up there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_agent: Option<String>,
    /// The currency of balance, limits and the rate table.
    pub currency: Currency,
    /// Current balance.
    #[serde(with = "money_text", default)]
    pub balance: Money,
    /// How far below zero the balance may go (non-negative).
    #[serde(with = "money_text", default)]
    pub credit_limit: Money,
    /// Prepaid or postpaid.
    #[serde(default)]
    pub payment_mode: PaymentMode,
    /// Active or locked.
    #[serde(default)]
    pub status: AccountStatus,
    /// Unix seconds after which the account may no longer call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<i64>,
    /// The customer rate table (its prices are what this account is charged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_table: Option<String>,
    /// Maximum concurrent calls; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_limit: Option<u32>,
    /// Maximum new calls per second; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cps_limit: Option<u32>,
}

/// Digest credentials a mapping gateway authenticates with (realm `SS_SIP_AUTHENTICATION_REALM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestCredentials {
    /// The digest username, unique across mapping gateways.
    pub username: String,
    /// The password.
    pub password: String,
}

/// One row of a replace-failed-reason table: a final code from a vendor is replaced before the
/// failover decision and in what is sent back and recorded (SPEC §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeReplacement {
    /// The code received (300..=699).
    pub from: SipCode,
    /// The code it becomes (300..=699).
    pub to: SipCode,
}

/// An inbound source of traffic bound to an account (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingGateway {
    /// Unique name.
    pub name: String,
    /// The customer (or agent) account charged for its calls.
    pub account: String,
    /// Source addresses recognised as this gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceMatch>,
    /// Digest credentials; when `sources` is also set, both must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestCredentials>,
    /// Maximum concurrent calls; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_limit: Option<u32>,
    /// Maximum new calls per second; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cps_limit: Option<u32>,
    /// Caller number rules, applied in order on the way in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caller_rules: Vec<NumberRule>,
    /// Callee number rules, applied in order on the way in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callee_rules: Vec<NumberRule>,
    /// When non-empty, the (transformed) callee must start with one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_prefixes: Vec<String>,
    /// Callees starting with one of these are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_prefixes: Vec<String>,
    /// When non-empty, only routing gateways in one of these groups are used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_groups: Vec<String>,
    /// How matching routing gateways are ordered.
    #[serde(default)]
    pub route_policy: RoutePolicy,
    /// Final codes rewritten before the failover decision and in the reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_failed_reason: Vec<CodeReplacement>,
    /// Longest call in seconds; 0 is unlimited.
    #[serde(default)]
    pub max_call_duration_secs: u32,
    /// Media relay setting.
    #[serde(default)]
    pub media_proxy: MediaProxy,
    /// Codec names offered, in preference order (empty: whatever the peers offer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<String>,
    /// A disabled gateway's calls are refused.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// One address of a routing gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// IP address or host name.
    pub host: String,
    /// Port, 5060 unless told.
    #[serde(default = "default_sip_port")]
    pub port: u16,
    /// UDP or TCP.
    #[serde(default)]
    pub transport: Transport,
}

fn default_sip_port() -> u16 {
    5060
}

fn yes() -> bool {
    true
}

fn default_options_period() -> u32 {
    60
}

/// An outbound destination: a vendor trunk (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingGateway {
    /// Unique name.
    pub name: String,
    /// The vendor account that bills us for this trunk.
    pub vendor_account: String,
    /// Addresses, used in order of availability.
    pub targets: Vec<Target>,
    /// Callee prefixes this gateway serves (empty string: every number).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Priority number: **smaller is tried first** (VOS3000: "the smallest comes first").
    #[serde(default)]
    pub priority: u32,
    /// Maximum concurrent calls; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_limit: Option<u32>,
    /// Maximum new calls per second; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cps_limit: Option<u32>,
    /// Gateway groups this gateway belongs to (in addition to groups listing it as a member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The vendor rate table (our cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_table: Option<String>,
    /// Caller rules applied after the mapping gateway's, for this vendor only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caller_rules: Vec<NumberRule>,
    /// Callee rules applied after the mapping gateway's, for this vendor only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callee_rules: Vec<NumberRule>,
    /// When on, a 486 from this gateway stops failover.
    #[serde(default)]
    pub busy_stop: bool,
    /// Further final codes from this gateway that stop failover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_codes: Vec<SipCode>,
    /// Share this gateway's concurrency with the cluster by SIP PUBLISH.
    #[serde(default)]
    pub allow_publish: bool,
    /// Probe the gateway with SIP OPTIONS and skip it while it does not answer.
    #[serde(default)]
    pub options_check: bool,
    /// Seconds between OPTIONS probes.
    #[serde(default = "default_options_period")]
    pub options_period_secs: u32,
    /// Overrides `SS_SIP_TIMEOUT_INVITE` for this gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_timeout_secs: Option<u32>,
    /// Overrides `SS_SIP_TIMEOUT_RINGING` for this gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ringing_timeout_secs: Option<u32>,
    /// When the gateway may be used; empty is always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_rules: Vec<TimeRule>,
    /// Media relay setting.
    #[serde(default)]
    pub media_proxy: MediaProxy,
    /// Codec names offered, in preference order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<String>,
    /// A disabled gateway is skipped.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Pass or strip P-Asserted-Identity toward this vendor.
    #[serde(default)]
    pub p_asserted_identity: PaiMode,
}

/// A named set of routing gateways sharing a line limit; also a routing restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayGroup {
    /// Unique name.
    pub name: String,
    /// Maximum concurrent calls over all members; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_limit: Option<u32>,
    /// Routing gateway names.
    #[serde(default)]
    pub members: Vec<String>,
}

/// One price of a rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Callee prefix (digits; empty matches every number).
    pub prefix: String,
    /// Area name shown in CDRs and reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub area: String,
    /// Price per minute.
    #[serde(with = "money_text")]
    pub price: Money,
    /// First billing increment in seconds.
    #[serde(default = "default_increment")]
    pub first_increment_secs: u32,
    /// Next billing increments in seconds.
    #[serde(default = "default_increment")]
    pub next_increment_secs: u32,
    /// Charged once per answered call.
    #[serde(with = "money_text", default)]
    pub connect_fee: Money,
    /// Unix seconds from which the rate applies (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<i64>,
    /// Unix seconds from which the rate no longer applies (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_until: Option<i64>,
}

fn default_increment() -> u32 {
    60
}

/// Prefix → price (SPEC §1, §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTable {
    /// Unique name.
    pub name: String,
    /// The currency of every price.
    pub currency: Currency,
    /// The prices (`[[rate_table.rate]]`).
    #[serde(default, rename = "rate")]
    pub rates: Vec<Rate>,
}

/// Everything an operator provisions, as one TOML document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    /// System parameters, name → text (validated against the catalogue in [`crate::params`]).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// `[[account]]`.
    #[serde(default, rename = "account")]
    pub accounts: Vec<Account>,
    /// `[[mapping_gateway]]`.
    #[serde(default, rename = "mapping_gateway")]
    pub mapping_gateways: Vec<MappingGateway>,
    /// `[[routing_gateway]]`.
    #[serde(default, rename = "routing_gateway")]
    pub routing_gateways: Vec<RoutingGateway>,
    /// `[[gateway_group]]`.
    #[serde(default, rename = "gateway_group")]
    pub gateway_groups: Vec<GatewayGroup>,
    /// `[[rate_table]]`.
    #[serde(default, rename = "rate_table")]
    pub rate_tables: Vec<RateTable>,
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// The kind of object a [`ProvisioningError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// `[[account]]`.
    Account,
    /// `[[mapping_gateway]]`.
    MappingGateway,
    /// `[[routing_gateway]]`.
    RoutingGateway,
    /// `[[gateway_group]]`.
    GatewayGroup,
    /// `[[rate_table]]`.
    RateTable,
    /// `[parameters]`.
    Parameter,
}

impl ObjectKind {
    /// The TOML table name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Account => "account",
            ObjectKind::MappingGateway => "mapping_gateway",
            ObjectKind::RoutingGateway => "routing_gateway",
            ObjectKind::GatewayGroup => "gateway_group",
            ObjectKind::RateTable => "rate_table",
            ObjectKind::Parameter => "parameter",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a provisioning set: which object, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningError {
    /// The kind of object.
    pub kind: ObjectKind,
    /// The object's name (or the parameter's).
    pub name: String,
    /// The field, with an index for list items (`rates[12].price`).
    pub field: String,
    /// What is wrong, in the operator's words.
    pub message: String,
}

impl fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?}: {}: {}",
            self.kind, self.name, self.field, self.message
        )
    }
}

impl std::error::Error for ProvisioningError {}

/// A valid prefix packed so that integer order is prefix order (digit `d` → nibble `d + 1`,
/// most significant first; 32 digits fill 128 bits).
fn prefix_key(p: &str) -> u128 {
    p.bytes()
        .take(MAX_PREFIX_DIGITS)
        .enumerate()
        .fold(0u128, |k, (i, b)| {
            k | (u128::from(b.wrapping_sub(b'0').min(9) + 1) << (124 - 4 * i))
        })
}

/// True when `s` is a valid prefix: 0..=32 ASCII digits.
pub fn is_prefix(s: &str) -> bool {
    s.len() <= MAX_PREFIX_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
}

struct Errors(Vec<ProvisioningError>);

impl Errors {
    fn push(
        &mut self,
        kind: ObjectKind,
        name: &str,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) {
        self.0.push(ProvisioningError {
            kind,
            name: name.to_owned(),
            field: field.into(),
            message: msg.into(),
        });
    }
}

fn check_names<'a>(
    errs: &mut Errors,
    kind: ObjectKind,
    names: impl Iterator<Item = &'a str>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for name in names {
        if name.trim().is_empty() {
            errs.push(kind, name, "name", "name must not be empty");
        } else if !seen.insert(name) {
            errs.push(kind, name, "name", format!("duplicate {kind} name"));
        }
    }
    seen
}

fn check_rules(errs: &mut Errors, kind: ObjectKind, name: &str, field: &str, rules: &[NumberRule]) {
    for (i, rule) in rules.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match rule {
            NumberRule::Strip(n) => {
                if *n == 0 || usize::from(*n) > MAX_PREFIX_DIGITS {
                    errs.push(kind, name, f, "strip must remove 1..=32 digits");
                }
            }
            NumberRule::AddPrefix(p) => {
                if p.is_empty() || !is_prefix(p) {
                    errs.push(kind, name, f, "add_prefix must be 1..=32 digits");
                }
            }
            NumberRule::ReplacePrefix { from, to } => {
                if from.is_empty() || !is_prefix(from) {
                    errs.push(kind, name, format!("{f}.from"), "must be 1..=32 digits");
                }
                if !is_prefix(to) {
                    errs.push(kind, name, format!("{f}.to"), "must be 0..=32 digits");
                }
            }
            NumberRule::Regex { pattern, .. } => {
                if pattern.is_empty() {
                    errs.push(
                        kind,
                        name,
                        format!("{f}.pattern"),
                        "pattern must not be empty",
                    );
                }
            }
        }
    }
}

fn check_prefixes(errs: &mut Errors, kind: ObjectKind, name: &str, field: &str, list: &[String]) {
    let mut seen = HashSet::new();
    for (i, p) in list.iter().enumerate() {
        if !is_prefix(p) {
            errs.push(
                kind,
                name,
                format!("{field}[{i}]"),
                format!("prefix {p:?} must be 0..=32 digits"),
            );
        } else if !seen.insert(p.as_str()) {
            errs.push(
                kind,
                name,
                format!("{field}[{i}]"),
                format!("prefix {p:?} is listed twice"),
            );
        }
    }
}

fn check_failure_code(
    errs: &mut Errors,
    kind: ObjectKind,
    name: &str,
    field: String,
    code: SipCode,
) {
    if code.as_u16() < 300 {
        errs.push(
            kind,
            name,
            field,
            format!("{code} is not a failure code (300..=699)"),
        );
    }
}

fn check_codecs(errs: &mut Errors, kind: ObjectKind, name: &str, codecs: &[String]) {
    for (i, c) in codecs.iter().enumerate() {
        if c.trim().is_empty() {
            errs.push(
                kind,
                name,
                format!("codecs[{i}]"),
                "codec name must not be empty",
            );
        }
    }
}

/// True for an IP address or a DNS host name. A name whose last label is all digits
/// (`10.0.0.300`) is a mistyped address, not a name (RFC 3696 §2: top-level labels are not
/// all-numeric).
fn is_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    let last = s.rsplit('.').next().unwrap_or_default();
    !s.is_empty()
        && !last.bytes().all(|b| b.is_ascii_digit())
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

impl Provisioning {
    /// Checks the whole set and returns **every** problem found: duplicate names, references to
    /// objects that do not exist (or are of the wrong kind), values out of range, gateways
    /// without targets or authentication, overlapping rate versions, unknown or invalid system
    /// parameters. Regular expressions are compiled (and checked) by the routing crate.
    pub fn validate(&self) -> Result<(), Vec<ProvisioningError>> {
        use ObjectKind as K;
        let mut errs = Errors(Vec::new());

        check_names(
            &mut errs,
            K::Account,
            self.accounts.iter().map(|a| a.name.as_str()),
        );
        check_names(
            &mut errs,
            K::MappingGateway,
            self.mapping_gateways.iter().map(|g| g.name.as_str()),
        );
        let routing_names = check_names(
            &mut errs,
            K::RoutingGateway,
            self.routing_gateways.iter().map(|g| g.name.as_str()),
        );
        let group_names = check_names(
            &mut errs,
            K::GatewayGroup,
            self.gateway_groups.iter().map(|g| g.name.as_str()),
        );
        check_names(
            &mut errs,
            K::RateTable,
            self.rate_tables.iter().map(|t| t.name.as_str()),
        );

        let accounts: HashMap<&str, &Account> =
            self.accounts.iter().map(|a| (a.name.as_str(), a)).collect();
        let rate_tables: HashMap<&str, &RateTable> = self
            .rate_tables
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();

        let check_rate_ref = |errs: &mut Errors,
                              kind: ObjectKind,
                              name: &str,
                              table: &Option<String>,
                              currency: Option<Currency>| {
            if let Some(t) = table {
                match rate_tables.get(t.as_str()) {
                    None => errs.push(
                        kind,
                        name,
                        "rate_table",
                        format!("no rate table named {t:?}"),
                    ),
                    Some(rt) => {
                        if let Some(c) = currency
                            && c != rt.currency
                        {
                            errs.push(
                                kind,
                                name,
                                "rate_table",
                                format!(
                                    "rate table {t:?} is in {} but the account is in {c}",
                                    rt.currency
                                ),
                            );
                        }
                    }
                }
            }
        };

        // Accounts.
        for a in &self.accounts {
            let n = a.name.as_str();
            if a.credit_limit.is_negative() {
                errs.push(
                    K::Account,
                    n,
                    "credit_limit",
                    "credit limit must not be negative",
                );
            }
            if let Some(p) = &a.parent_agent {
                match accounts.get(p.as_str()) {
                    None => errs.push(
                        K::Account,
                        n,
                        "parent_agent",
                        format!("no account named {p:?}"),
                    ),
                    Some(parent) if parent.kind != AccountKind::Agent => errs.push(
                        K::Account,
                        n,
                        "parent_agent",
                        format!("account {p:?} is not an agent"),
                    ),
                    Some(_) => {
                        // Walk the chain; a cycle would make roll-ups loop forever.
                        let mut seen = HashSet::from([n]);
                        let mut cur = Some(p.as_str());
                        while let Some(c) = cur {
                            if !seen.insert(c) {
                                errs.push(
                                    K::Account,
                                    n,
                                    "parent_agent",
                                    "agent chain loops back on itself",
                                );
                                break;
                            }
                            cur = accounts.get(c).and_then(|x| x.parent_agent.as_deref());
                        }
                    }
                }
            }
            check_rate_ref(&mut errs, K::Account, n, &a.rate_table, Some(a.currency));
        }

        // Mapping gateways.
        let mut digest_users: HashMap<&str, &str> = HashMap::new();
        let mut sources: HashMap<SourceMatch, &str> = HashMap::new();
        for g in &self.mapping_gateways {
            let n = g.name.as_str();
            match accounts.get(g.account.as_str()) {
                None => errs.push(
                    K::MappingGateway,
                    n,
                    "account",
                    format!("no account named {:?}", g.account),
                ),
                Some(a) if a.kind == AccountKind::Vendor => errs.push(
                    K::MappingGateway,
                    n,
                    "account",
                    format!(
                        "account {:?} is a vendor; a mapping gateway needs a customer or agent",
                        g.account
                    ),
                ),
                Some(_) => {}
            }
            if g.sources.is_empty() && g.digest.is_none() {
                errs.push(
                    K::MappingGateway,
                    n,
                    "sources",
                    "needs at least one source address or digest credentials",
                );
            }
            for (i, s) in g.sources.iter().enumerate() {
                if let Some(other) = sources.insert(*s, n)
                    && other != n
                {
                    errs.push(
                        K::MappingGateway,
                        n,
                        format!("sources[{i}]"),
                        format!("source {s} is also claimed by mapping gateway {other:?}"),
                    );
                }
            }
            if let Some(d) = &g.digest {
                if d.username.is_empty() {
                    errs.push(
                        K::MappingGateway,
                        n,
                        "digest.username",
                        "username must not be empty",
                    );
                } else if let Some(other) = digest_users.insert(d.username.as_str(), n) {
                    errs.push(
                        K::MappingGateway,
                        n,
                        "digest.username",
                        format!(
                            "username {:?} is also used by mapping gateway {other:?}",
                            d.username
                        ),
                    );
                }
                if d.password.is_empty() {
                    errs.push(
                        K::MappingGateway,
                        n,
                        "digest.password",
                        "password must not be empty",
                    );
                }
            }
            check_rules(
                &mut errs,
                K::MappingGateway,
                n,
                "caller_rules",
                &g.caller_rules,
            );
            check_rules(
                &mut errs,
                K::MappingGateway,
                n,
                "callee_rules",
                &g.callee_rules,
            );
            check_prefixes(
                &mut errs,
                K::MappingGateway,
                n,
                "allowed_prefixes",
                &g.allowed_prefixes,
            );
            check_prefixes(
                &mut errs,
                K::MappingGateway,
                n,
                "forbidden_prefixes",
                &g.forbidden_prefixes,
            );
            for (i, grp) in g.allowed_groups.iter().enumerate() {
                if !group_names.contains(grp.as_str()) {
                    errs.push(
                        K::MappingGateway,
                        n,
                        format!("allowed_groups[{i}]"),
                        format!("no gateway group named {grp:?}"),
                    );
                }
            }
            let mut froms = HashSet::new();
            for (i, r) in g.replace_failed_reason.iter().enumerate() {
                check_failure_code(
                    &mut errs,
                    K::MappingGateway,
                    n,
                    format!("replace_failed_reason[{i}].from"),
                    r.from,
                );
                check_failure_code(
                    &mut errs,
                    K::MappingGateway,
                    n,
                    format!("replace_failed_reason[{i}].to"),
                    r.to,
                );
                if !froms.insert(r.from) {
                    errs.push(
                        K::MappingGateway,
                        n,
                        format!("replace_failed_reason[{i}].from"),
                        format!("{} is replaced twice", r.from),
                    );
                }
            }
            check_codecs(&mut errs, K::MappingGateway, n, &g.codecs);
        }

        // Routing gateways.
        for g in &self.routing_gateways {
            let n = g.name.as_str();
            let vendor_currency = match accounts.get(g.vendor_account.as_str()) {
                None => {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        "vendor_account",
                        format!("no account named {:?}", g.vendor_account),
                    );
                    None
                }
                Some(a) if a.kind != AccountKind::Vendor => {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        "vendor_account",
                        format!("account {:?} is not a vendor", g.vendor_account),
                    );
                    None
                }
                Some(a) => Some(a.currency),
            };
            if g.targets.is_empty() {
                errs.push(
                    K::RoutingGateway,
                    n,
                    "targets",
                    "at least one target is required",
                );
            }
            for (i, t) in g.targets.iter().enumerate() {
                if !is_host(&t.host) {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        format!("targets[{i}].host"),
                        format!("{:?} is not an IP address or host name", t.host),
                    );
                }
                if t.port == 0 {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        format!("targets[{i}].port"),
                        "port must be 1..=65535",
                    );
                }
            }
            check_prefixes(&mut errs, K::RoutingGateway, n, "prefixes", &g.prefixes);
            for (i, grp) in g.groups.iter().enumerate() {
                if !group_names.contains(grp.as_str()) {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        format!("groups[{i}]"),
                        format!("no gateway group named {grp:?}"),
                    );
                }
            }
            check_rate_ref(
                &mut errs,
                K::RoutingGateway,
                n,
                &g.rate_table,
                vendor_currency,
            );
            check_rules(
                &mut errs,
                K::RoutingGateway,
                n,
                "caller_rules",
                &g.caller_rules,
            );
            check_rules(
                &mut errs,
                K::RoutingGateway,
                n,
                "callee_rules",
                &g.callee_rules,
            );
            for (i, c) in g.stop_codes.iter().enumerate() {
                check_failure_code(
                    &mut errs,
                    K::RoutingGateway,
                    n,
                    format!("stop_codes[{i}]"),
                    *c,
                );
            }
            if g.options_check && !(1..=86_400).contains(&g.options_period_secs) {
                errs.push(
                    K::RoutingGateway,
                    n,
                    "options_period_secs",
                    "must be 1..=86400 seconds",
                );
            }
            if let Some(t) = g.invite_timeout_secs
                && !(1..=300).contains(&t)
            {
                errs.push(
                    K::RoutingGateway,
                    n,
                    "invite_timeout_secs",
                    "must be 1..=300 seconds (SS_SIP_TIMEOUT_INVITE)",
                );
            }
            if let Some(t) = g.ringing_timeout_secs
                && !(1..=600).contains(&t)
            {
                errs.push(
                    K::RoutingGateway,
                    n,
                    "ringing_timeout_secs",
                    "must be 1..=600 seconds (SS_SIP_TIMEOUT_RINGING)",
                );
            }
            for (i, r) in g.time_rules.iter().enumerate() {
                if r.from == r.to {
                    errs.push(K::RoutingGateway, n, format!("time_rules[{i}]"), "from and to are equal: the window is empty (use 00:00 to 24:00 for a whole day)");
                }
                if r.from == TimeOfDay::END_OF_DAY {
                    errs.push(
                        K::RoutingGateway,
                        n,
                        format!("time_rules[{i}].from"),
                        "a window cannot start at 24:00",
                    );
                }
            }
            check_codecs(&mut errs, K::RoutingGateway, n, &g.codecs);
        }

        // Gateway groups.
        for grp in &self.gateway_groups {
            let n = grp.name.as_str();
            let mut seen = HashSet::new();
            for (i, m) in grp.members.iter().enumerate() {
                if !routing_names.contains(m.as_str()) {
                    errs.push(
                        K::GatewayGroup,
                        n,
                        format!("members[{i}]"),
                        format!("no routing gateway named {m:?}"),
                    );
                } else if !seen.insert(m.as_str()) {
                    errs.push(
                        K::GatewayGroup,
                        n,
                        format!("members[{i}]"),
                        format!("{m:?} is listed twice"),
                    );
                }
            }
        }

        // Rate tables.
        for t in &self.rate_tables {
            let n = t.name.as_str();
            let mut by_prefix: Vec<usize> = Vec::with_capacity(t.rates.len());
            for (i, r) in t.rates.iter().enumerate() {
                let mut ok = true;
                if !is_prefix(&r.prefix) {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].prefix"),
                        format!("prefix {:?} must be 0..=32 digits", r.prefix),
                    );
                    ok = false;
                }
                if r.price.is_negative() {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].price"),
                        "price must not be negative",
                    );
                }
                if r.connect_fee.is_negative() {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].connect_fee"),
                        "connect fee must not be negative",
                    );
                }
                if r.first_increment_secs == 0 {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].first_increment_secs"),
                        "must be at least 1 second",
                    );
                }
                if r.next_increment_secs == 0 {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].next_increment_secs"),
                        "must be at least 1 second",
                    );
                }
                if let (Some(from), Some(until)) = (r.effective_from, r.effective_until)
                    && from >= until
                {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{i}].effective_until"),
                        "must be later than effective_from",
                    );
                    ok = false;
                }
                if ok {
                    by_prefix.push(i);
                }
            }
            // Two versions of one prefix must not be in force at the same moment. Sorting packed
            // integer keys keeps this fast on million-row decks.
            let mut keyed: Vec<(u128, i64, usize)> = by_prefix
                .iter()
                .map(|&i| {
                    let r = &t.rates[i];
                    (
                        prefix_key(&r.prefix),
                        r.effective_from.unwrap_or(i64::MIN),
                        i,
                    )
                })
                .collect();
            keyed.sort_unstable();
            let by_prefix: Vec<usize> = keyed.into_iter().map(|(_, _, i)| i).collect();
            for w in by_prefix.windows(2) {
                let (a, b) = (&t.rates[w[0]], &t.rates[w[1]]);
                if a.prefix == b.prefix
                    && a.effective_until.unwrap_or(i64::MAX) > b.effective_from.unwrap_or(i64::MIN)
                {
                    errs.push(
                        K::RateTable,
                        n,
                        format!("rates[{}].effective_from", w[1]),
                        format!(
                            "prefix {:?} has another rate (rates[{}]) in force at the same time",
                            b.prefix, w[0]
                        ),
                    );
                }
            }
        }

        // Parameters.
        for (name, value) in &self.parameters {
            if let Err(e) = crate::params::validate(name, value) {
                errs.push(K::Parameter, name, "value", e.to_string());
            }
        }

        if errs.0.is_empty() {
            Ok(())
        } else {
            Err(errs.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_match_text_round_trips() {
        for (text, ok) in [
            ("192.0.2.10", true),
            ("192.0.2.10:5060", true),
            ("192.0.2.0/24", true),
            ("192.0.2.0/24:5060", true),
            ("2001:db8::1", true),
            ("[2001:db8::1]:5060", true),
            ("2001:db8::/32", true),
            ("[2001:db8::/32]:5070", true),
            ("0.0.0.0/0", true),
            ("192.0.2.1/24", false),
            ("192.0.2.0/33", false),
            ("192.0.2.10:0", false),
            ("192.0.2.10:70000", false),
            ("[192.0.2.10]:5060", false),
            ("example.com", false),
            ("", false),
        ] {
            let parsed = text.parse::<SourceMatch>();
            assert_eq!(parsed.is_ok(), ok, "{text}: {parsed:?}");
            if let Ok(m) = parsed {
                assert_eq!(m.to_string(), text);
            }
        }
    }

    #[test]
    fn targets_are_addresses_or_host_names() {
        for (host, ok) in [
            ("192.0.2.10", true),
            ("2001:db8::1", true),
            ("sbc.example.net", true),
            ("sbc-1.example.net.", true),
            ("localhost", true),
            ("10.0.0.300", false),
            ("999.1.1.1", false),
            ("10.0.0", false),
            ("sbc_1.example.net", false),
            ("-sbc.example.net", false),
            ("", false),
        ] {
            assert_eq!(is_host(host), ok, "{host}");
        }
    }

    #[test]
    fn source_match_matches() {
        let m: SourceMatch = "192.0.2.0/24:5060".parse().unwrap();
        assert!(m.matches("192.0.2.77:5060".parse().unwrap()));
        assert!(!m.matches("192.0.2.77:5061".parse().unwrap()));
        assert!(!m.matches("192.0.3.77:5060".parse().unwrap()));
        let v6: SourceMatch = "2001:db8::/32".parse().unwrap();
        assert!(v6.matches("[2001:db8:1::9]:1".parse().unwrap()));
        assert!(!v6.matches("192.0.2.77:5060".parse().unwrap()));
    }

    #[test]
    fn times_and_offsets_parse() {
        assert_eq!("06:30".parse::<TimeOfDay>().map(|t| t.minutes()), Ok(390));
        assert_eq!("24:00".parse::<TimeOfDay>(), Ok(TimeOfDay::END_OF_DAY));
        assert!("24:01".parse::<TimeOfDay>().is_err());
        assert!("6:3".parse::<TimeOfDay>().is_err());
        assert_eq!("+08:00".parse::<UtcOffset>().map(|o| o.minutes()), Ok(480));
        assert_eq!(
            "-05:30".parse::<UtcOffset>().map(|o| o.to_string()),
            Ok("-05:30".into())
        );
        assert!("+15:00".parse::<UtcOffset>().is_err());
    }

    fn account(name: &str, kind: AccountKind) -> Account {
        Account {
            name: name.into(),
            kind,
            parent_agent: None,
            currency: Currency::USD,
            balance: Money::ZERO,
            credit_limit: Money::ZERO,
            payment_mode: PaymentMode::Prepaid,
            status: AccountStatus::Active,
            expiry: None,
            rate_table: None,
            line_limit: None,
            cps_limit: None,
        }
    }

    #[test]
    fn validate_reports_every_error_with_kind_name_and_field() {
        let mut p = Provisioning::default();
        p.accounts.push(account("a", AccountKind::Customer));
        p.accounts.push(account("a", AccountKind::Customer));
        let mut c = account("c", AccountKind::Customer);
        c.rate_table = Some("missing".into());
        c.parent_agent = Some("a".into());
        p.accounts.push(c);
        p.routing_gateways.push(RoutingGateway {
            name: "gw".into(),
            vendor_account: "a".into(),
            targets: vec![],
            prefixes: vec!["44".into(), "4x".into()],
            priority: 0,
            line_limit: None,
            cps_limit: None,
            groups: vec!["nogroup".into()],
            rate_table: None,
            caller_rules: vec![],
            callee_rules: vec![NumberRule::Strip(0)],
            busy_stop: false,
            stop_codes: vec![SipCode::OK],
            allow_publish: false,
            options_check: false,
            options_period_secs: 60,
            invite_timeout_secs: Some(0),
            ringing_timeout_secs: None,
            time_rules: vec![],
            media_proxy: MediaProxy::Inherit,
            codecs: vec![],
            enabled: true,
            p_asserted_identity: PaiMode::Pass,
        });
        p.parameters.insert("SS_NOT_A_PARAMETER".into(), "1".into());
        let errs = p.validate().unwrap_err();
        let has = |kind: ObjectKind, name: &str, field: &str| {
            errs.iter()
                .any(|e| e.kind == kind && e.name == name && e.field == field)
        };
        assert!(has(ObjectKind::Account, "a", "name"), "{errs:#?}");
        assert!(has(ObjectKind::Account, "c", "rate_table"));
        assert!(has(ObjectKind::Account, "c", "parent_agent"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "vendor_account"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "targets"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "prefixes[1]"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "groups[0]"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "callee_rules[0]"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "stop_codes[0]"));
        assert!(has(ObjectKind::RoutingGateway, "gw", "invite_timeout_secs"));
        assert!(has(ObjectKind::Parameter, "SS_NOT_A_PARAMETER", "value"));
        assert_eq!(errs.len(), 11, "{errs:#?}");
    }

    #[test]
    fn overlapping_rate_versions_are_refused() {
        let rate = |from: Option<i64>, until: Option<i64>| Rate {
            prefix: "44".into(),
            area: String::new(),
            price: Money::from_micros(10),
            first_increment_secs: 60,
            next_increment_secs: 60,
            connect_fee: Money::ZERO,
            effective_from: from,
            effective_until: until,
        };
        let mut p = Provisioning::default();
        p.rate_tables.push(RateTable {
            name: "t".into(),
            currency: Currency::USD,
            rates: vec![rate(None, Some(100)), rate(Some(100), None)],
        });
        assert_eq!(p.validate(), Ok(()));
        p.rate_tables[0].rates.push(rate(Some(150), Some(200)));
        let errs = p.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "rates[2].effective_from");
    }
}
