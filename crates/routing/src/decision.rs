//! What [`route`](crate::route) returns, and its explain views.

use crate::transform::TransformStep;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;
use tollswitch_model::provisioning::{
    CodeReplacement, MediaProxy, PaiMode, RoutePolicy, Target, money_text,
};
use tollswitch_model::{
    AccountId, Currency, GatewayGroupId, MappingGatewayId, Money, Number, RoutingGatewayId, SipCode,
};

/// Most digits a [`Prefix`] holds.
pub const MAX_PREFIX_LEN: usize = tollswitch_model::provisioning::MAX_PREFIX_DIGITS;

/// A matched prefix, held inline (no allocation per candidate). Prints and serializes as its
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    len: u8,
    digits: [u8; MAX_PREFIX_LEN],
}

impl Prefix {
    /// The first `len` bytes of `digits` (clamped to what fits).
    pub fn of(digits: &[u8], len: u8) -> Prefix {
        let n = usize::from(len).min(MAX_PREFIX_LEN).min(digits.len());
        let mut out = [0u8; MAX_PREFIX_LEN];
        out[..n].copy_from_slice(&digits[..n]);
        Prefix {
            len: n as u8,
            digits: out,
        }
    }

    /// The first `len` digits of this prefix, without copying byte by byte: two 16-byte
    /// words masked in registers (a byte-wise copy followed by wide reads of the result stalls
    /// store forwarding, and a decision builds two prefixes per candidate).
    #[inline]
    pub(crate) fn truncated(&self, len: u8) -> Prefix {
        let n = u32::from(len.min(self.len));
        let word = |half: &[u8]| {
            let mut w = [0u8; 16];
            w.copy_from_slice(half);
            u128::from_le_bytes(w)
        };
        let mask = |bytes: u32| match bytes {
            0 => 0,
            16.. => u128::MAX,
            b => (1u128 << (8 * b)) - 1,
        };
        let lo = word(&self.digits[..16]) & mask(n);
        let hi = word(&self.digits[16..]) & mask(n.saturating_sub(16));
        let mut digits = [0u8; MAX_PREFIX_LEN];
        digits[..16].copy_from_slice(&lo.to_le_bytes());
        digits[16..].copy_from_slice(&hi.to_le_bytes());
        Prefix {
            len: n as u8,
            digits,
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        // Built from ASCII digits by the trie walk; fall back to empty on anything else.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or("")
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the empty (catch-all) prefix.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({:?})", self.as_str())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Longest text a [`SmallStr`] holds inline: `MAX_NUMBER_DIGITS`, so every [`Number`] fits.
const SMALL_STR_INLINE: usize = 32;

/// An immutable string whose clones never allocate: up to 32 bytes (every number, most names)
/// are held inline and copied, longer text is shared by reference count. Used for the numbers
/// each candidate sends and for rate table names, so a decision with many candidates copies a
/// few bytes per candidate instead of allocating or touching a shared counter. Derefs to `str`,
/// compares with `&str` and `String`, prints and serializes as the plain string.
#[derive(Clone)]
pub struct SmallStr {
    /// The text when it fits (`shared` is `None`), zero-padded.
    inline: [u8; SMALL_STR_INLINE],
    /// The text when it does not fit.
    shared: Option<Arc<str>>,
    /// Length of the inline text.
    len: u8,
}

impl SmallStr {
    /// Holds `s` (inline when it fits).
    pub fn new(s: &str) -> SmallStr {
        let bytes = s.as_bytes();
        let mut inline = [0u8; SMALL_STR_INLINE];
        if let Some(dst) = inline.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            SmallStr {
                inline,
                shared: None,
                len: bytes.len() as u8,
            }
        } else {
            SmallStr {
                inline,
                shared: Some(Arc::from(s)),
                len: 0,
            }
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.shared {
            Some(s) => s,
            // Always a whole `&str` copied in `new`, so always UTF-8.
            None => std::str::from_utf8(&self.inline[..usize::from(self.len)]).unwrap_or(""),
        }
    }
}

impl Default for SmallStr {
    fn default() -> SmallStr {
        SmallStr::new("")
    }
}

impl std::ops::Deref for SmallStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SmallStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for SmallStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SmallStr {
    fn from(s: &str) -> SmallStr {
        SmallStr::new(s)
    }
}

impl From<String> for SmallStr {
    fn from(s: String) -> SmallStr {
        SmallStr::new(&s)
    }
}

impl From<&Number> for SmallStr {
    fn from(n: &Number) -> SmallStr {
        SmallStr::new(n.as_str())
    }
}

impl From<SmallStr> for String {
    fn from(s: SmallStr) -> String {
        s.as_str().to_owned()
    }
}

impl PartialEq for SmallStr {
    fn eq(&self, other: &SmallStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SmallStr {}

impl PartialOrd for SmallStr {
    fn partial_cmp(&self, other: &SmallStr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallStr {
    fn cmp(&self, other: &SmallStr) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for SmallStr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialEq<str> for SmallStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SmallStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SmallStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SmallStr> for &str {
    fn eq(&self, other: &SmallStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<SmallStr> for String {
    fn eq(&self, other: &SmallStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SmallStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A rate found by longest-prefix match (customer price or vendor cost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateMatch {
    /// The rate table.
    pub rate_table: SmallStr,
    /// Its currency.
    pub currency: Currency,
    /// The matched prefix.
    pub prefix: Prefix,
    /// The area name (`None` when the rate has none).
    pub area: Option<Arc<str>>,
    /// Price per minute.
    #[serde(serialize_with = "money_text::serialize")]
    pub price: Money,
    /// First billing increment, seconds.
    pub first_increment_secs: u32,
    /// Next billing increments, seconds.
    pub next_increment_secs: u32,
    /// Connect fee.
    #[serde(serialize_with = "money_text::serialize")]
    pub connect_fee: Money,
    /// In force from (unix seconds), if limited.
    pub effective_from: Option<i64>,
    /// In force until (unix seconds, exclusive), if limited.
    pub effective_until: Option<i64>,
}

impl RateMatch {
    /// What the first increment costs: connect fee + price × first increment (rounded up to
    /// the micro-unit). `None` on overflow.
    pub fn first_increment_charge(&self) -> Option<Money> {
        self.price
            .per_minute_for_seconds(u64::from(self.first_increment_secs))?
            .checked_add(self.connect_fee)
    }
}

/// A named object with this snapshot's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named<Id> {
    /// Dense id within the snapshot (see [`crate::LiveCounters`]).
    pub id: Id,
    /// The operator's name.
    pub name: Arc<str>,
}

/// Why a call was refused, with the SIP code it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The SIP code sent back ([`RejectReason::code`]).
    pub code: SipCode,
    /// Why.
    pub reason: RejectReason,
}

/// Why a call was refused before any routing gateway was tried.
///
/// | reason | code | why this code |
/// |---|---|---|
/// | `unknown_source` | 403 | VOS3000: "IP not authorised" |
/// | `source_not_allowed` (digest user from an address outside its sources) | 403 | |
/// | `digest_required` | 407 | the engine challenges and routes again with the user |
/// | `mapping_gateway_disabled` | 403 | |
/// | `account_locked`, `account_expired` (the account or an agent above it) | 403 | VOS3000: "account blocked" |
/// | `invalid_callee` (not 1..=32 digits after transformation) | 484 | Address Incomplete |
/// | `forbidden_prefix`, `prefix_not_allowed` | 403 | a policy refusal, not a routing gap |
/// | `mapping_gateway_line_limit`, `account_line_limit` | 503 | VOS3000 answers capacity limits with 503 |
/// | `mapping_gateway_cps_limit`, `account_cps_limit` | 503 | as above; lets the customer retry elsewhere |
/// | `no_customer_rate` (no rate table, or no prefix in force) | 403 | the customer may not call there |
/// | `insufficient_balance` | 402 | Payment Required: says exactly what to fix |
/// | `no_route` (no routing gateway prefix matches) | 404 | SPEC §3: "add prefix to routing" |
/// | `no_route_permitted` (all matches skipped for disabled / groups / hours / no vendor rate / inactive vendor / invalid number) | 404 | nothing may carry it now |
/// | `all_routes_busy` (some match skipped as down, full or over CPS) | 503 | capacity: retry later or elsewhere |
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectReason {
    /// No mapping gateway recognises the source address (or the digest user is unknown).
    UnknownSource,
    /// The digest user's mapping gateway lists sources and the packet came from elsewhere.
    SourceNotAllowed,
    /// The source's mapping gateway also requires digest authentication.
    DigestRequired,
    /// The mapping gateway is disabled.
    MappingGatewayDisabled,
    /// The account (or an agent above it) is locked.
    AccountLocked {
        /// The locked account.
        account: Arc<str>,
    },
    /// The account (or an agent above it) is past its expiry.
    AccountExpired {
        /// The expired account.
        account: Arc<str>,
    },
    /// The callee is not a routable number after transformation.
    InvalidCallee,
    /// The callee starts with a forbidden prefix.
    ForbiddenPrefix {
        /// The forbidden prefix that matched.
        prefix: Prefix,
    },
    /// Allowed prefixes are set and the callee starts with none of them.
    PrefixNotAllowed,
    /// The mapping gateway's line limit is reached.
    MappingGatewayLineLimit {
        /// Calls in progress.
        calls: u32,
        /// The limit.
        limit: u32,
    },
    /// The account's (or an agent's) line limit is reached.
    AccountLineLimit {
        /// The account at its limit.
        account: Arc<str>,
        /// Calls in progress.
        calls: u32,
        /// The limit.
        limit: u32,
    },
    /// The mapping gateway's CPS limit is reached.
    MappingGatewayCpsLimit {
        /// Calls this second.
        cps: u32,
        /// The limit.
        limit: u32,
    },
    /// The account's (or an agent's) CPS limit is reached.
    AccountCpsLimit {
        /// The account at its limit.
        account: Arc<str>,
        /// Calls this second.
        cps: u32,
        /// The limit.
        limit: u32,
    },
    /// The account has no rate table, or no rate in force for the callee.
    NoCustomerRate,
    /// Balance + credit limit does not cover the first increment.
    InsufficientBalance {
        /// Balance + credit limit.
        #[serde(serialize_with = "money_text::serialize")]
        available: Money,
        /// Connect fee + first increment.
        #[serde(serialize_with = "money_text::serialize")]
        required: Money,
    },
    /// No routing gateway has a prefix of the callee.
    NoRoute,
    /// Gateways match, but every one was skipped for an administrative reason.
    NoRoutePermitted,
    /// Gateways match, but at least one was skipped as down, full or over CPS, and none is
    /// usable.
    AllRoutesBusy,
}

/// 402 Payment Required.
pub const PAYMENT_REQUIRED: SipCode = match SipCode::new(402) {
    Some(c) => c,
    None => SipCode::FORBIDDEN,
};

/// 484 Address Incomplete.
pub const ADDRESS_INCOMPLETE: SipCode = match SipCode::new(484) {
    Some(c) => c,
    None => SipCode::NOT_FOUND,
};

impl RejectReason {
    /// The SIP code for this reason (the table on [`RejectReason`]).
    pub const fn code(&self) -> SipCode {
        use RejectReason as R;
        match self {
            R::UnknownSource
            | R::SourceNotAllowed
            | R::MappingGatewayDisabled
            | R::AccountLocked { .. }
            | R::AccountExpired { .. }
            | R::ForbiddenPrefix { .. }
            | R::PrefixNotAllowed
            | R::NoCustomerRate => SipCode::FORBIDDEN,
            R::DigestRequired => SipCode::PROXY_AUTH_REQUIRED,
            R::InvalidCallee => ADDRESS_INCOMPLETE,
            R::MappingGatewayLineLimit { .. }
            | R::AccountLineLimit { .. }
            | R::MappingGatewayCpsLimit { .. }
            | R::AccountCpsLimit { .. }
            | R::AllRoutesBusy => SipCode::SERVICE_UNAVAILABLE,
            R::InsufficientBalance { .. } => PAYMENT_REQUIRED,
            R::NoRoute | R::NoRoutePermitted => SipCode::NOT_FOUND,
        }
    }

    /// A stable snake_case name (the `kind` in JSON).
    pub const fn as_str(&self) -> &'static str {
        use RejectReason as R;
        match self {
            R::UnknownSource => "unknown_source",
            R::SourceNotAllowed => "source_not_allowed",
            R::DigestRequired => "digest_required",
            R::MappingGatewayDisabled => "mapping_gateway_disabled",
            R::AccountLocked { .. } => "account_locked",
            R::AccountExpired { .. } => "account_expired",
            R::InvalidCallee => "invalid_callee",
            R::ForbiddenPrefix { .. } => "forbidden_prefix",
            R::PrefixNotAllowed => "prefix_not_allowed",
            R::MappingGatewayLineLimit { .. } => "mapping_gateway_line_limit",
            R::AccountLineLimit { .. } => "account_line_limit",
            R::MappingGatewayCpsLimit { .. } => "mapping_gateway_cps_limit",
            R::AccountCpsLimit { .. } => "account_cps_limit",
            R::NoCustomerRate => "no_customer_rate",
            R::InsufficientBalance { .. } => "insufficient_balance",
            R::NoRoute => "no_route",
            R::NoRoutePermitted => "no_route_permitted",
            R::AllRoutesBusy => "all_routes_busy",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RejectReason as R;
        match self {
            R::AccountLocked { account } => write!(f, "account {account} is locked"),
            R::AccountExpired { account } => write!(f, "account {account} has expired"),
            R::ForbiddenPrefix { prefix } => write!(f, "prefix {prefix} is forbidden"),
            R::MappingGatewayLineLimit { calls, limit } => {
                write!(f, "mapping gateway line limit reached ({calls}/{limit})")
            }
            R::AccountLineLimit {
                account,
                calls,
                limit,
            } => write!(f, "account {account} line limit reached ({calls}/{limit})"),
            R::MappingGatewayCpsLimit { cps, limit } => {
                write!(f, "mapping gateway CPS limit reached ({cps}/{limit})")
            }
            R::AccountCpsLimit {
                account,
                cps,
                limit,
            } => write!(f, "account {account} CPS limit reached ({cps}/{limit})"),
            R::InsufficientBalance {
                available,
                required,
            } => write!(
                f,
                "insufficient balance ({available} available, {required} required)"
            ),
            other => f.write_str(&other.as_str().replace('_', " ")),
        }
    }
}

/// Why a matching routing gateway is not a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// The gateway is disabled.
    Disabled,
    /// The mapping gateway restricts routing to groups this gateway is not in.
    NotInAllowedGroups,
    /// Outside every time rule.
    OutOfHours,
    /// The vendor account is locked or expired.
    VendorAccountInactive,
    /// OPTIONS check says the gateway is down.
    Down,
    /// The gateway's line limit is reached.
    GatewayFull {
        /// Calls in progress.
        calls: u32,
        /// The limit.
        limit: u32,
    },
    /// A group the gateway belongs to is at its line limit.
    GroupFull {
        /// The group.
        group: Named<GatewayGroupId>,
        /// Calls in progress over the group.
        calls: u32,
        /// The limit.
        limit: u32,
    },
    /// The gateway's CPS limit is reached.
    OverCps {
        /// Calls this second.
        cps: u32,
        /// The limit.
        limit: u32,
    },
    /// The gateway has a vendor rate table without a rate in force for the callee.
    NoVendorRate,
    /// The gateway's own number rules produced something that is not a number.
    InvalidNumber,
}

impl SkipReason {
    /// A stable snake_case name.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SkipReason::Disabled => "disabled",
            SkipReason::NotInAllowedGroups => "not_in_allowed_groups",
            SkipReason::OutOfHours => "out_of_hours",
            SkipReason::VendorAccountInactive => "vendor_account_inactive",
            SkipReason::Down => "down",
            SkipReason::GatewayFull { .. } => "gateway_full",
            SkipReason::GroupFull { .. } => "group_full",
            SkipReason::OverCps { .. } => "over_cps",
            SkipReason::NoVendorRate => "no_vendor_rate",
            SkipReason::InvalidNumber => "invalid_number",
        }
    }

    /// True for transient capacity reasons (down, full, over CPS): if only these stand in the
    /// way the call is refused with 503, otherwise 404.
    pub const fn is_capacity(&self) -> bool {
        matches!(
            self,
            SkipReason::Down
                | SkipReason::GatewayFull { .. }
                | SkipReason::GroupFull { .. }
                | SkipReason::OverCps { .. }
        )
    }
}

/// A routing gateway's static settings as leg B needs them. Built once per snapshot and shared
/// (`Arc`) by every decision that lists the gateway, so a candidate costs one reference count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayProfile {
    /// This snapshot's id.
    pub id: RoutingGatewayId,
    /// The operator's name.
    pub name: String,
    /// The vendor account.
    pub vendor_account: Named<AccountId>,
    /// Priority number (smaller first).
    pub priority: u32,
    /// Addresses, in order of preference.
    pub targets: Vec<Target>,
    /// INVITE timeout override, seconds (else `SS_SIP_TIMEOUT_INVITE`).
    pub invite_timeout_secs: Option<u32>,
    /// Ringing timeout override, seconds (else `SS_SIP_TIMEOUT_RINGING`).
    pub ringing_timeout_secs: Option<u32>,
    /// 486 from this gateway stops failover.
    pub busy_stop: bool,
    /// Further codes from this gateway that stop failover.
    pub stop_codes: Vec<SipCode>,
    /// Media relay setting.
    pub media_proxy: MediaProxy,
    /// Codecs.
    pub codecs: Vec<String>,
    /// P-Asserted-Identity handling.
    pub p_asserted_identity: PaiMode,
    /// Share concurrency with the cluster by SIP PUBLISH.
    pub allow_publish: bool,
    /// The gateway groups it belongs to (their line limits count its calls).
    pub groups: Vec<Named<GatewayGroupId>>,
}

/// A routing gateway to try, in order, with the numbers to send and the price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The routing gateway and its settings (targets, timeouts, stop rules…).
    pub gateway: Arc<GatewayProfile>,
    /// The routing prefix that matched.
    pub prefix: Prefix,
    /// Our cost, when the gateway has a vendor rate table.
    pub vendor_rate: Option<RateMatch>,
    /// ASR per mille at decision time.
    pub asr_permille: Option<u16>,
    /// Caller as sent to this gateway.
    pub caller: SmallStr,
    /// Callee as sent to this gateway: a valid [`Number`] (digits only).
    pub callee: SmallStr,
    /// The gateway's caller rules, step by step.
    pub caller_steps: Vec<TransformStep>,
    /// The gateway's callee rules, step by step.
    pub callee_steps: Vec<TransformStep>,
}

/// A matching routing gateway that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The routing gateway.
    pub gateway: Arc<GatewayProfile>,
    /// The routing prefix that matched.
    pub prefix: Prefix,
    /// Our cost, when known.
    pub vendor_rate: Option<RateMatch>,
    /// Why it is not a candidate.
    pub reason: SkipReason,
}

/// The full outcome of routing one call: a refusal or an ordered candidate list, plus every
/// fact an operator needs to understand it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    /// `Some` when the call is refused; the other fields then say how far it got.
    pub reject: Option<Reject>,
    /// The mapping gateway the call came from.
    pub mapping_gateway: Option<Named<MappingGatewayId>>,
    /// Its account.
    pub account: Option<Named<AccountId>>,
    /// The agents above the account, nearest first (their line limits count the call too).
    pub agents: Vec<Named<AccountId>>,
    /// Caller as received.
    pub caller_in: String,
    /// Callee as received.
    pub callee_in: String,
    /// The mapping gateway's caller rules, step by step.
    pub caller_steps: Vec<TransformStep>,
    /// The mapping gateway's callee rules, step by step.
    pub callee_steps: Vec<TransformStep>,
    /// Caller after the mapping gateway's rules.
    pub caller_out: Option<String>,
    /// Callee after the mapping gateway's rules (what is rated and routed).
    pub callee_out: Option<Number>,
    /// The customer's price.
    pub customer_rate: Option<RateMatch>,
    /// Longest call allowed by the mapping gateway, seconds.
    pub max_call_duration_secs: Option<u32>,
    /// The mapping gateway's media relay setting.
    pub media_proxy: MediaProxy,
    /// The mapping gateway's codecs.
    pub codecs: Arc<[String]>,
    /// The order applied to candidates.
    pub route_policy: Option<RoutePolicy>,
    /// Gateways to try, in order (`next_after` indexes this list).
    pub candidates: Vec<Candidate>,
    /// Matching gateways not kept, in the order they would have had.
    pub skipped: Vec<Skipped>,
    /// The mapping gateway's replace-failed-reason table, applied by
    /// [`next_after`](crate::next_after).
    pub replace_failed_reason: Arc<[CodeReplacement]>,
}

impl RouteDecision {
    pub(crate) fn new(caller: &str, callee: &str) -> RouteDecision {
        RouteDecision {
            reject: None,
            mapping_gateway: None,
            account: None,
            agents: Vec::new(),
            caller_in: caller.to_owned(),
            callee_in: callee.to_owned(),
            caller_steps: Vec::new(),
            callee_steps: Vec::new(),
            caller_out: None,
            callee_out: None,
            customer_rate: None,
            max_call_duration_secs: None,
            media_proxy: MediaProxy::Inherit,
            codecs: Arc::from(Vec::new()),
            route_policy: None,
            candidates: Vec::new(),
            skipped: Vec::new(),
            replace_failed_reason: Arc::from(Vec::new()),
        }
    }

    pub(crate) fn rejected(mut self, reason: RejectReason) -> RouteDecision {
        self.reject = Some(Reject {
            code: reason.code(),
            reason,
        });
        self
    }

    /// True when the call may be sent to at least one candidate.
    pub fn is_routed(&self) -> bool {
        self.reject.is_none()
    }

    /// The compact explain view (JSON keys `reject`, `mapping_gateway`, `account`,
    /// `callee_out`, `caller_out`, `customer_rate`, `candidates`).
    pub fn explain(&self) -> Explain<'_> {
        Explain::new(self)
    }
}

/// `reject` in the explain view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainReject {
    /// SIP code.
    pub code: SipCode,
    /// Stable snake_case reason.
    pub reason: &'static str,
}

/// `customer_rate` in the explain view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainRate<'a> {
    /// Matched prefix.
    pub prefix: &'a str,
    /// Area name.
    pub area: &'a str,
    /// Price per minute, decimal text.
    pub price: String,
    /// Currency.
    pub currency: Currency,
}

/// One entry of `candidates` in the explain view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainCandidate<'a> {
    /// Routing gateway name.
    pub gateway: &'a str,
    /// Matched routing prefix.
    pub prefix: &'a str,
    /// Priority number.
    pub priority: u32,
    /// Vendor price per minute, decimal text.
    pub vendor_rate: Option<String>,
    /// Kept as a candidate.
    pub selected: bool,
    /// Why not kept.
    pub skip_reason: Option<&'static str>,
}

/// The explain view of a [`RouteDecision`]: serialize it for `tollswitch route explain --json`.
/// Candidates come first in try order, then skipped gateways in the order they would have had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explain<'a> {
    /// `null` or `{code, reason}`.
    pub reject: Option<ExplainReject>,
    /// Mapping gateway name.
    pub mapping_gateway: Option<&'a str>,
    /// Account name.
    pub account: Option<&'a str>,
    /// Callee after the mapping gateway's rules.
    pub callee_out: Option<&'a str>,
    /// Caller after the mapping gateway's rules.
    pub caller_out: Option<&'a str>,
    /// Customer rate.
    pub customer_rate: Option<ExplainRate<'a>>,
    /// Kept and skipped gateways.
    pub candidates: Vec<ExplainCandidate<'a>>,
}

impl<'a> Explain<'a> {
    fn new(d: &'a RouteDecision) -> Explain<'a> {
        let kept = d.candidates.iter().map(|c| ExplainCandidate {
            gateway: &c.gateway.name,
            prefix: c.prefix.as_str(),
            priority: c.gateway.priority,
            vendor_rate: c.vendor_rate.as_ref().map(|r| r.price.to_string()),
            selected: true,
            skip_reason: None,
        });
        let skipped = d.skipped.iter().map(|s| ExplainCandidate {
            gateway: &s.gateway.name,
            prefix: s.prefix.as_str(),
            priority: s.gateway.priority,
            vendor_rate: s.vendor_rate.as_ref().map(|r| r.price.to_string()),
            selected: false,
            skip_reason: Some(s.reason.as_str()),
        });
        Explain {
            reject: d.reject.as_ref().map(|r| ExplainReject {
                code: r.code,
                reason: r.reason.as_str(),
            }),
            mapping_gateway: d.mapping_gateway.as_ref().map(|m| &*m.name),
            account: d.account.as_ref().map(|a| &*a.name),
            callee_out: d.callee_out.as_ref().map(Number::as_str),
            caller_out: d.caller_out.as_deref(),
            customer_rate: d.customer_rate.as_ref().map(|r| ExplainRate {
                prefix: r.prefix.as_str(),
                area: r.area.as_deref().unwrap_or(""),
                price: r.price.to_string(),
                currency: r.currency,
            }),
            candidates: kept.chain(skipped).collect(),
        }
    }
}

fn write_steps(f: &mut fmt::Formatter<'_>, what: &str, steps: &[TransformStep]) -> fmt::Result {
    for s in steps {
        writeln!(f, "  {what}: {s}")?;
    }
    Ok(())
}

fn rate_text(r: &Option<RateMatch>) -> String {
    match r {
        Some(r) => format!(
            "{} {}/min ({} {})",
            r.price, r.currency, r.rate_table, r.prefix
        ),
        None => "-".to_owned(),
    }
}

/// Human explain: the mapping side, every transformation step, the customer rate, then each
/// gateway kept or skipped with prefix, priority and vendor rate.
impl fmt::Display for RouteDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reject {
            Some(r) => writeln!(
                f,
                "rejected: {} {} ({})",
                r.code,
                r.code.reason_phrase(),
                r.reason
            )?,
            None => writeln!(f, "routed: {} candidate(s)", self.candidates.len())?,
        }
        let name = |n: Option<&str>| n.unwrap_or("-").to_owned();
        writeln!(
            f,
            "mapping gateway: {}  account: {}",
            name(self.mapping_gateway.as_ref().map(|m| &*m.name)),
            name(self.account.as_ref().map(|a| &*a.name)),
        )?;
        writeln!(
            f,
            "caller: {} -> {}",
            self.caller_in,
            name(self.caller_out.as_deref())
        )?;
        write_steps(f, "caller", &self.caller_steps)?;
        writeln!(
            f,
            "callee: {} -> {}",
            self.callee_in,
            name(self.callee_out.as_ref().map(Number::as_str))
        )?;
        write_steps(f, "callee", &self.callee_steps)?;
        if let Some(r) = &self.customer_rate {
            writeln!(
                f,
                "customer rate: {} {} {}/min {}/{} s, connect {} ({})",
                r.prefix,
                r.area.as_deref().unwrap_or("-"),
                r.price,
                r.first_increment_secs,
                r.next_increment_secs,
                r.connect_fee,
                r.rate_table
            )?;
        }
        for (i, c) in self.candidates.iter().enumerate() {
            writeln!(
                f,
                "#{} {} prefix {} priority {} vendor rate {} -> callee {} caller {}",
                i + 1,
                c.gateway.name,
                c.prefix,
                c.gateway.priority,
                rate_text(&c.vendor_rate),
                c.callee,
                c.caller
            )?;
            write_steps(f, "  caller", &c.caller_steps)?;
            write_steps(f, "  callee", &c.callee_steps)?;
        }
        for s in &self.skipped {
            writeln!(
                f,
                "skipped {} prefix {} priority {} vendor rate {}: {}",
                s.gateway.name,
                s.prefix,
                s.gateway.priority,
                rate_text(&s.vendor_rate),
                s.reason.as_str()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod small_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn truncated_equals_of(digits in "[0-9]{0,32}", len in 0u8..40) {
            let full = Prefix::of(digits.as_bytes(), u8::MAX);
            prop_assert_eq!(full.truncated(len), Prefix::of(digits.as_bytes(), len));
        }

        #[test]
        fn small_str_round_trips(text in ".{0,40}") {
            let s = SmallStr::new(&text);
            prop_assert_eq!(s.as_str(), text.as_str());
            prop_assert_eq!(s.clone(), SmallStr::from(text.clone()));
            prop_assert_eq!(
                serde_json::to_string(&s).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
        }
    }
}
