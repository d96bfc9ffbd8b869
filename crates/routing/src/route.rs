//! The routing decision for one call, and the failover decision after each attempt.

use crate::counters::LiveCounters;
use crate::decision::{
    Candidate, MAX_PREFIX_LEN, Named, Prefix, RejectReason, RouteDecision, SkipReason, Skipped,
    SmallStr,
};
use crate::rates::RateHit;
use crate::snapshot::{AccountEntry, RoutingEntry, RoutingSnapshot};
use crate::time;
use crate::transform::apply;
use crate::trie::{Match, NO_MATCHES};
use serde::Serialize;
use smallvec::SmallVec;
use std::net::SocketAddr;
use tollswitch_model::provisioning::{AccountStatus, RoutePolicy};
use tollswitch_model::{
    AccountId, GatewayGroupId, MappingGatewayId, Money, Number, RoutingGatewayId, SipCode,
    SipCodeClass,
};

/// An INVITE as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRequest<'a> {
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// The digest username, when the engine has verified the caller's credentials.
    pub digest_user: Option<&'a str>,
    /// The caller (From / P-Asserted-Identity user part) as received.
    pub caller: &'a str,
    /// The callee (Request-URI user part) as received; a leading `+` is dropped.
    pub callee: &'a str,
}

/// Longest agent chain walked (validation refuses loops; this bounds a hostile snapshot).
const MAX_AGENT_DEPTH: usize = 16;

fn account_named(snap: &RoutingSnapshot, i: u32) -> Option<(Named<AccountId>, &AccountEntry)> {
    let a = snap.accounts.get(i as usize)?;
    Some((
        Named {
            id: AccountId(i64::from(i)),
            name: a.name.clone(),
        },
        a,
    ))
}

fn inactive(a: &AccountEntry, now: i64) -> Option<RejectReason> {
    if a.status == AccountStatus::Locked {
        return Some(RejectReason::AccountLocked {
            account: a.name.clone(),
        });
    }
    if a.expiry.is_some_and(|e| now >= e) {
        return Some(RejectReason::AccountExpired {
            account: a.name.clone(),
        });
    }
    None
}

/// A matching gateway under evaluation.
struct Eval {
    gw: u32,
    /// Length of the matched routing prefix.
    prefix_len: u8,
    /// The vendor rate, as a handle; the full match is built only for the decision.
    vendor_rate: Option<RateHit>,
    asr: Option<u16>,
    load_permille: u32,
    skip: Option<SkipReason>,
}

/// The order of candidates as one integer array, compared lexicographically: longest matching
/// prefix first; then the route policy over priority (smaller first), vendor price (cheaper
/// first, unknown last) and ASR (higher first, unknown last); then the least loaded (VOS3000:
/// "the ratio of the number of current calls to the number of channels"); then file order.
fn sort_key(policy: RoutePolicy, priority: u32, e: &Eval) -> [u64; 6] {
    let prio = u64::from(priority);
    // Prices are validated non-negative; a negative one would sort as unknown.
    let price = e
        .vendor_rate
        .and_then(|r| u64::try_from(r.price.micros()).ok())
        .unwrap_or(u64::MAX);
    let asr = e
        .asr
        .map_or(u64::MAX, |a| 1000u64.saturating_sub(u64::from(a)));
    let (a, b, c) = match policy {
        RoutePolicy::PriorityThenLcr => (prio, price, asr),
        RoutePolicy::LcrThenPriority => (price, prio, asr),
        RoutePolicy::Quality => (asr, prio, price),
    };
    let longest_first = MAX_PREFIX_LEN.saturating_sub(usize::from(e.prefix_len)) as u64;
    [
        longest_first,
        a,
        b,
        c,
        u64::from(e.load_permille),
        u64::from(e.gw),
    ]
}

/// Packs a [`sort_key`] into one `u128` with the same order, when every field fits its bit
/// width (always, short of a vendor price above a million per minute, a gateway at 65 times
/// its line limit or 16 million gateways); `None` otherwise.
fn pack_key(key: &[u64; 6], policy: RoutePolicy) -> Option<u128> {
    // Unknown price / ASR are u64::MAX in the key: map them to the top of their field.
    let price = |v: u64| match v {
        u64::MAX => Some((1 << 40) - 1),
        v if v < (1 << 40) - 1 => Some(v),
        _ => None,
    };
    let asr = |v: u64| match v {
        u64::MAX => Some(1023),
        v if v <= 1000 => Some(v),
        _ => None,
    };
    let prio = |v: u64| (v <= u64::from(u32::MAX)).then_some(v);
    type Field = fn(u64) -> Option<u64>;
    let (fa, fb, fc): ((Field, u32), (Field, u32), (Field, u32)) = match policy {
        RoutePolicy::PriorityThenLcr => ((prio, 32), (price, 40), (asr, 10)),
        RoutePolicy::LcrThenPriority => ((price, 40), (prio, 32), (asr, 10)),
        RoutePolicy::Quality => ((asr, 10), (prio, 32), (price, 40)),
    };
    let fits = |bits: u32| move |v: u64| (v < (1u64 << bits)).then_some(v);
    let fields = [
        (fits(6)(key[0])?, 6),
        ((fa.0)(key[1])?, fa.1),
        ((fb.0)(key[2])?, fb.1),
        ((fc.0)(key[3])?, fc.1),
        (fits(16)(key[4])?, 16),
        (fits(24)(key[5])?, 24),
    ];
    Some(
        fields
            .iter()
            .fold(0u128, |acc, &(v, bits)| (acc << bits) | u128::from(v)),
    )
}

fn evaluate<C: LiveCounters + ?Sized>(
    snap: &RoutingSnapshot,
    g: &RoutingEntry,
    id: RoutingGatewayId,
    allowed_groups: Option<&[u32]>,
    counters: &C,
    now: i64,
) -> (Option<SkipReason>, u32) {
    if !g.enabled {
        return (Some(SkipReason::Disabled), 0);
    }
    if let Some(allowed) = allowed_groups
        && !g.groups.iter().any(|x| allowed.binary_search(x).is_ok())
    {
        return (Some(SkipReason::NotInAllowedGroups), 0);
    }
    if !time::allowed(&g.time_rules, now) {
        return (Some(SkipReason::OutOfHours), 0);
    }
    if snap
        .accounts
        .get(g.vendor_account as usize)
        .is_none_or(|v| inactive(v, now).is_some())
    {
        return (Some(SkipReason::VendorAccountInactive), 0);
    }
    if g.options_check && !counters.routing_gateway_up(id) {
        return (Some(SkipReason::Down), 0);
    }
    let calls = counters.routing_gateway_calls(id);
    let load = match g.line_limit {
        Some(limit) if limit > 0 => {
            u32::try_from(u64::from(calls) * 1000 / u64::from(limit)).unwrap_or(u32::MAX)
        }
        _ => 0,
    };
    if let Some(limit) = g.line_limit
        && calls >= limit
    {
        return (Some(SkipReason::GatewayFull { calls, limit }), load);
    }
    for &gi in &g.groups {
        let Some(group) = snap.groups.get(gi as usize) else {
            continue;
        };
        if let Some(limit) = group.line_limit {
            let gid = GatewayGroupId(i64::from(gi));
            let calls = counters.gateway_group_calls(gid);
            if calls >= limit {
                let group = Named {
                    id: gid,
                    name: group.name.clone(),
                };
                return (
                    Some(SkipReason::GroupFull {
                        group,
                        calls,
                        limit,
                    }),
                    load,
                );
            }
        }
    }
    if let Some(limit) = g.cps_limit {
        let cps = counters.routing_gateway_cps(id);
        if cps >= limit {
            return (Some(SkipReason::OverCps { cps, limit }), load);
        }
    }
    (None, load)
}

/// Routes one call at `now` (unix seconds). Pure: reads the snapshot and the counters, never
/// the clock, and changes nothing (the engine counts the call once it is sent).
///
/// Checks, in order (the first failure refuses the call, see [`RejectReason`] for the codes):
/// mapping gateway by digest user or source address → mapping gateway enabled → account and
/// agents active and not expired → mapping gateway caller/callee rules → forbidden then
/// allowed prefixes → mapping gateway line limit → account and agent line limits → mapping
/// gateway CPS → account and agent CPS → customer rate (longest prefix in force) → balance
/// (balance + credit limit must cover connect fee + first increment, prepaid or postpaid).
///
/// Then every routing gateway with a prefix of the callee is ordered — longest matching prefix
/// first, then the mapping gateway's [`RoutePolicy`], then the least loaded, then file order —
/// and each is kept or skipped (disabled, not in allowed groups, out of hours, vendor account
/// inactive, down, full, group full, over CPS, no vendor rate, invalid number after its own
/// rules). Prefixes and vendor rates are matched on the callee as the mapping gateway left it;
/// each candidate then gets its own rules applied for what is sent.
pub fn route<C: LiveCounters + ?Sized>(
    snap: &RoutingSnapshot,
    req: &CallRequest<'_>,
    counters: &C,
    now: i64,
) -> RouteDecision {
    let mut d = RouteDecision::new(req.caller, req.callee);

    // Who is calling.
    let mgw_index = match req.digest_user {
        Some(user) => match snap.digest_lookup(user) {
            Some(i) => i,
            None => return d.rejected(RejectReason::UnknownSource),
        },
        None => match snap.source_lookup(req.source) {
            Some(i) => i,
            None => return d.rejected(RejectReason::UnknownSource),
        },
    };
    let Some(mgw) = snap.mapping_gateways.get(mgw_index as usize) else {
        return d.rejected(RejectReason::UnknownSource);
    };
    let mgw_id = MappingGatewayId(i64::from(mgw_index));
    d.mapping_gateway = Some(Named {
        id: mgw_id,
        name: mgw.name.clone(),
    });
    d.route_policy = Some(mgw.route_policy);
    d.media_proxy = mgw.media_proxy;
    d.codecs = mgw.codecs.clone();
    d.max_call_duration_secs = mgw.max_call_duration_secs;
    d.replace_failed_reason = mgw.replace_failed_reason.clone();
    let Some((account_ref, account)) = account_named(snap, mgw.account) else {
        return d.rejected(RejectReason::UnknownSource);
    };
    let account_id = account_ref.id;
    d.account = Some(account_ref);

    if req.digest_user.is_some() {
        if !mgw.sources.is_empty() && !mgw.sources.iter().any(|s| s.matches(req.source)) {
            return d.rejected(RejectReason::SourceNotAllowed);
        }
    } else if mgw.digest.is_some() {
        return d.rejected(RejectReason::DigestRequired);
    }
    if !mgw.enabled {
        return d.rejected(RejectReason::MappingGatewayDisabled);
    }

    // The account and the agents above it.
    let mut chain = [0u32; MAX_AGENT_DEPTH];
    let mut chain_len = 0;
    let mut cur = Some(mgw.account);
    while let Some(ai) = cur
        && chain_len < MAX_AGENT_DEPTH
    {
        let Some(a) = snap.accounts.get(ai as usize) else {
            break;
        };
        if let Some(reason) = inactive(a, now) {
            return d.rejected(reason);
        }
        chain[chain_len] = ai;
        chain_len += 1;
        if chain_len > 1 {
            d.agents.push(Named {
                id: AccountId(i64::from(ai)),
                name: a.name.clone(),
            });
        }
        cur = a.parent;
    }
    let chain = &chain[..chain_len];

    // Numbers.
    let callee_raw = req.callee.strip_prefix('+').unwrap_or(req.callee);
    let caller_out = apply(&mgw.caller_rules, req.caller, &mut d.caller_steps);
    d.caller_out = Some(caller_out);
    // Without rules the callee is parsed as received (no copy before the number's own).
    let parsed = if mgw.callee_rules.is_empty() {
        callee_raw.parse()
    } else {
        apply(&mgw.callee_rules, callee_raw, &mut d.callee_steps).parse()
    };
    let callee: Number = match parsed {
        Ok(n) => n,
        Err(_) => return d.rejected(RejectReason::InvalidCallee),
    };
    // Held inline: what candidates send when their gateway has no callee rules.
    let callee_small = SmallStr::from(&callee);
    d.callee_out = Some(callee);
    let callee = callee_small;
    let digits = callee.as_str().as_bytes();

    if let Some(m) = mgw.forbidden_prefixes.longest(digits) {
        return d.rejected(RejectReason::ForbiddenPrefix {
            prefix: Prefix::of(digits, m.len),
        });
    }
    if let Some(allowed) = &mgw.allowed_prefixes
        && !allowed.has_match(digits)
    {
        return d.rejected(RejectReason::PrefixNotAllowed);
    }

    // Limits.
    if let Some(limit) = mgw.line_limit {
        let calls = counters.mapping_gateway_calls(mgw_id);
        if calls >= limit {
            return d.rejected(RejectReason::MappingGatewayLineLimit { calls, limit });
        }
    }
    for &ai in chain {
        if let Some(a) = snap.accounts.get(ai as usize)
            && let Some(limit) = a.line_limit
        {
            let calls = counters.account_calls(AccountId(i64::from(ai)));
            if calls >= limit {
                return d.rejected(RejectReason::AccountLineLimit {
                    account: a.name.clone(),
                    calls,
                    limit,
                });
            }
        }
    }
    if let Some(limit) = mgw.cps_limit {
        let cps = counters.mapping_gateway_cps(mgw_id);
        if cps >= limit {
            return d.rejected(RejectReason::MappingGatewayCpsLimit { cps, limit });
        }
    }
    for &ai in chain {
        if let Some(a) = snap.accounts.get(ai as usize)
            && let Some(limit) = a.cps_limit
        {
            let cps = counters.account_cps(AccountId(i64::from(ai)));
            if cps >= limit {
                return d.rejected(RejectReason::AccountCpsLimit {
                    account: a.name.clone(),
                    cps,
                    limit,
                });
            }
        }
    }

    // Price and balance.
    let mut rate_path = NO_MATCHES;
    let rate_path_len = snap.rates.path(digits, &mut rate_path);
    let rate_path = &rate_path[..rate_path_len];
    let Some(rate) = account
        .rate_table
        .and_then(|t| snap.rates.resolve(t, rate_path, digits, now))
    else {
        return d.rejected(RejectReason::NoCustomerRate);
    };
    let balance = counters
        .account_balance(account_id)
        .unwrap_or(account.balance);
    let available = balance.saturating_add(account.credit_limit);
    let required = rate
        .first_increment_charge()
        .unwrap_or(Money::from_micros(i64::MAX));
    d.customer_rate = Some(rate);
    if available < required {
        return d.rejected(RejectReason::InsufficientBalance {
            available,
            required,
        });
    }

    // Routing gateways.
    let mut matches = NO_MATCHES;
    let n = snap.route_trie.matches_longest_first(digits, &mut matches);
    let words = snap.routing_gateways.len().div_ceil(64);
    let mut seen: SmallVec<[u64; 8]> = crate::rates::filled(0u64, words);
    let mut evals: SmallVec<[Eval; 32]> = SmallVec::new();
    for m in &matches[..n] {
        let start = m.slot.value as usize;
        let end = start + usize::from(m.slot.count);
        let Some(list) = snap.route_lists.get(start..end) else {
            continue;
        };
        for &gw in list {
            let (w, bit) = (gw as usize / 64, 1u64 << (gw % 64));
            match seen.get_mut(w) {
                Some(word) if *word & bit == 0 => *word |= bit,
                _ => continue,
            }
            let Some(g) = snap.routing_gateways.get(gw as usize) else {
                continue;
            };
            let id = RoutingGatewayId(i64::from(gw));
            let (skip, load_permille) =
                evaluate(snap, g, id, mgw.allowed_groups.as_deref(), counters, now);
            evals.push(Eval {
                gw,
                prefix_len: m.len,
                vendor_rate: None,
                asr: counters.routing_gateway_asr_permille(id),
                load_permille,
                skip,
            });
        }
    }
    if evals.is_empty() {
        return d.rejected(RejectReason::NoRoute);
    }
    vendor_rates(snap, &mut evals, rate_path, now);
    // Sort small keys, not the evaluations themselves.
    let priority = |e: &Eval| {
        snap.routing_gateways
            .get(e.gw as usize)
            .map_or(u32::MAX, |g| g.profile.priority)
    };
    let mut packed = true;
    let mut order: SmallVec<[(u128, usize); 32]> = evals
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = pack_key(
                &sort_key(mgw.route_policy, priority(e), e),
                mgw.route_policy,
            );
            packed &= key.is_some();
            (key.unwrap_or(0), i)
        })
        .collect();
    if packed {
        order.sort_unstable();
    } else {
        // Some field too wide to pack: compare the full keys.
        order.sort_unstable_by_key(|&(_, i)| {
            evals
                .get(i)
                .map(|e| sort_key(mgw.route_policy, priority(e), e))
        });
    }

    // The numbers as the mapping gateway left them: built once, shared by every candidate
    // whose gateway has no rules of its own.
    let caller_mapped = SmallStr::from(d.caller_out.as_deref().unwrap_or_default());
    // All the callee's digits: every prefix a candidate reports is cut from it.
    let number_prefix = Prefix::of(digits, u8::MAX);
    // Exact: the decision lives as long as the call, and growth would round up to 4.
    d.candidates
        .reserve_exact(evals.iter().filter(|e| e.skip.is_none()).count());
    for &(_, i) in &order {
        let Some(e) = evals.get_mut(i) else {
            continue;
        };
        let Some(g) = snap.routing_gateways.get(e.gw as usize) else {
            continue;
        };
        let prefix = number_prefix.truncated(e.prefix_len);
        let vendor_rate = e
            .vendor_rate
            .and_then(|hit| snap.rates.rate_match_hit(hit, &number_prefix));
        if let Some(reason) = e.skip.take() {
            d.skipped.push(Skipped {
                gateway: g.profile.clone(),
                prefix,
                vendor_rate,
                reason,
            });
            continue;
        }
        let mut caller_steps = Vec::new();
        let mut callee_steps = Vec::new();
        let caller = if g.caller_rules.is_empty() {
            caller_mapped.clone()
        } else {
            SmallStr::from(apply(&g.caller_rules, &caller_mapped, &mut caller_steps))
        };
        let callee_out = if g.callee_rules.is_empty() {
            Some(callee.clone())
        } else {
            apply(&g.callee_rules, callee.as_str(), &mut callee_steps)
                .parse::<Number>()
                .ok()
                .map(|n| SmallStr::from(&n))
        };
        let Some(callee_out) = callee_out else {
            d.skipped.push(Skipped {
                gateway: g.profile.clone(),
                prefix,
                vendor_rate,
                reason: SkipReason::InvalidNumber,
            });
            continue;
        };
        d.candidates.push(Candidate {
            gateway: g.profile.clone(),
            prefix,
            vendor_rate,
            asr_permille: e.asr,
            caller,
            callee: callee_out,
            caller_steps,
            callee_steps,
        });
    }
    if d.candidates.is_empty() {
        let reason = if d.skipped.iter().any(|s| s.reason.is_capacity()) {
            RejectReason::AllRoutesBusy
        } else {
            RejectReason::NoRoutePermitted
        };
        return d.rejected(reason);
    }
    d
}

/// Fills every gateway's vendor rate from the rate path already walked for the callee; marks
/// gateways whose table has no rate in force as skipped.
fn vendor_rates(snap: &RoutingSnapshot, evals: &mut [Eval], path: &[Match], now: i64) {
    let wanted: SmallVec<[(u32, usize); 32]> = evals
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let table = snap.routing_gateways.get(e.gw as usize)?.rate_table?;
            Some((table, i))
        })
        .collect();
    snap.rates.resolve_each_hit(&wanted, path, now, |i, hit| {
        if let Some(e) = evals.get_mut(i) {
            e.vendor_rate = Some(hit);
        }
    });
    for &(_, i) in &wanted {
        if let Some(e) = evals.get_mut(i)
            && e.vendor_rate.is_none()
            && e.skip.is_none()
        {
            e.skip = Some(SkipReason::NoVendorRate);
        }
    }
}

/// What to do after an attempt ended with a final code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Try the candidate at this index.
    Continue(usize),
    /// Stop and answer leg A (and record) with this code.
    Stop(SipCode),
}

/// The failover decision after candidate `attempt_index` answered `final_code` (SPEC §2.5).
///
/// The mapping gateway's replace-failed-reason table rewrites the code first; the rewritten
/// code is what the rules see and what `Stop` carries. Then: any 6xx stops; 487 stops (the
/// caller cancelled); 486 stops when this gateway's busy stop switch is on; this gateway's
/// extra stop codes stop; otherwise the next candidate is tried, and when none is left the
/// (rewritten) code is final. Codes below 300 are not failures: they end the sequence
/// unchanged.
pub fn next_after(decision: &RouteDecision, attempt_index: usize, final_code: SipCode) -> Next {
    if final_code.as_u16() < 300 {
        return Next::Stop(final_code);
    }
    let code = decision
        .replace_failed_reason
        .iter()
        .find(|r| r.from == final_code)
        .map_or(final_code, |r| r.to);
    if code.class() == SipCodeClass::GlobalFailure || code == SipCode::REQUEST_TERMINATED {
        return Next::Stop(code);
    }
    let Some(candidate) = decision.candidates.get(attempt_index) else {
        return Next::Stop(code);
    };
    let gw = &candidate.gateway;
    if (code == SipCode::BUSY_HERE && gw.busy_stop) || gw.stop_codes.contains(&code) {
        return Next::Stop(code);
    }
    let next = attempt_index + 1;
    if next < decision.candidates.len() {
        Next::Continue(next)
    } else {
        Next::Stop(code)
    }
}

#[cfg(test)]
mod pack_tests {
    use super::*;
    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..40,
            0u64..=1000,
            Just(u64::MAX),
            Just((1 << 40) - 2),
            Just((1 << 40) - 1),
            Just(u64::from(u32::MAX)),
            Just(1 << 16),
            Just(1 << 24),
            any::<u64>(),
        ]
    }

    proptest! {
        #[test]
        fn packed_keys_order_like_full_keys(
            a in proptest::array::uniform6(field()),
            b in proptest::array::uniform6(field()),
            policy in prop_oneof![
                Just(RoutePolicy::PriorityThenLcr),
                Just(RoutePolicy::LcrThenPriority),
                Just(RoutePolicy::Quality),
            ],
        ) {
            if let (Some(pa), Some(pb)) = (pack_key(&a, policy), pack_key(&b, policy)) {
                prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
            }
        }
    }
}
