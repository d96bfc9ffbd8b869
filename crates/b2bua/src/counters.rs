//! Live concurrency and calls-per-second counters, kept by name so that a snapshot swap never
//! resets or misattributes them, and read by the routing engine through [`LiveCounters`].

use std::collections::HashMap;
use std::sync::Arc;
use tollswitch_model::{AccountId, GatewayGroupId, MappingGatewayId, RoutingGatewayId};
use tollswitch_routing::{LiveCounters, RoutingSnapshot};

/// Calls in progress and calls started in the current second, per object name.
#[derive(Debug, Default)]
pub struct Counters {
    /// Indexed by [`Kind`]; keyed by name, looked up by `&str` without allocating.
    calls: [HashMap<Arc<str>, u32>; 3],
    cps: [HashMap<Arc<str>, (i64, u32)>; 3],
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A mapping gateway (customer side).
    MappingGateway,
    /// An account.
    Account,
    /// A routing gateway (vendor side).
    RoutingGateway,
}

impl Counters {
    /// One more call in progress (and one more started in `second`).
    pub fn hold(&mut self, kind: Kind, name: &Arc<str>, second: i64) {
        *self.calls[kind as usize].entry(name.clone()).or_insert(0) += 1;
        let e = self.cps[kind as usize]
            .entry(name.clone())
            .or_insert((second, 0));
        if e.0 != second {
            *e = (second, 0);
        }
        e.1 += 1;
    }

    /// One call fewer in progress. Never goes below zero; the entry is dropped at zero.
    pub fn release(&mut self, kind: Kind, name: &Arc<str>) {
        let map = &mut self.calls[kind as usize];
        if let Some(n) = map.get_mut(&**name) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&**name);
            }
        }
    }

    /// Calls in progress.
    pub fn calls(&self, kind: Kind, name: &str) -> u32 {
        self.calls[kind as usize].get(name).copied().unwrap_or(0)
    }

    /// Calls started in `second`.
    pub fn cps(&self, kind: Kind, name: &str, second: i64) -> u32 {
        match self.cps[kind as usize].get(name) {
            Some((s, n)) if *s == second => *n,
            _ => 0,
        }
    }

    /// True when nothing is held: every call and attempt has released what it took.
    pub fn is_idle(&self) -> bool {
        self.calls.iter().all(HashMap::is_empty)
    }

    /// A view for the routing engine over one snapshot at `second`.
    pub fn view<'a>(&'a self, snapshot: &'a RoutingSnapshot, second: i64) -> View<'a> {
        View {
            counters: self,
            snapshot,
            second,
        }
    }
}

/// [`Counters`] seen through one snapshot's ids.
pub struct View<'a> {
    counters: &'a Counters,
    snapshot: &'a RoutingSnapshot,
    second: i64,
}

impl LiveCounters for View<'_> {
    fn routing_gateway_calls(&self, id: RoutingGatewayId) -> u32 {
        self.snapshot
            .routing_gateway_name(id)
            .map_or(0, |n| self.counters.calls(Kind::RoutingGateway, n))
    }
    fn routing_gateway_cps(&self, id: RoutingGatewayId) -> u32 {
        self.snapshot.routing_gateway_name(id).map_or(0, |n| {
            self.counters.cps(Kind::RoutingGateway, n, self.second)
        })
    }
    fn routing_gateway_up(&self, _: RoutingGatewayId) -> bool {
        true
    }
    fn routing_gateway_asr_permille(&self, _: RoutingGatewayId) -> Option<u16> {
        None
    }
    fn gateway_group_calls(&self, _: GatewayGroupId) -> u32 {
        0
    }
    fn account_calls(&self, id: AccountId) -> u32 {
        self.snapshot
            .account_name(id)
            .map_or(0, |n| self.counters.calls(Kind::Account, n))
    }
    fn account_cps(&self, id: AccountId) -> u32 {
        self.snapshot
            .account_name(id)
            .map_or(0, |n| self.counters.cps(Kind::Account, n, self.second))
    }
    fn mapping_gateway_calls(&self, id: MappingGatewayId) -> u32 {
        self.snapshot
            .mapping_gateway_name(id)
            .map_or(0, |n| self.counters.calls(Kind::MappingGateway, n))
    }
    fn mapping_gateway_cps(&self, id: MappingGatewayId) -> u32 {
        self.snapshot.mapping_gateway_name(id).map_or(0, |n| {
            self.counters.cps(Kind::MappingGateway, n, self.second)
        })
    }
}
