//! Live concurrency and calls-per-second counters, kept by name so that a snapshot swap never
//! resets or misattributes them, and read by the routing engine through [`LiveCounters`].
//!
//! One [`Counters`] is shared (cheap clone) by every engine shard of a switch: a line limit is a
//! limit on the switch, not on a shard. Admission takes the lock once for the routing decision
//! and the holds it makes ([`Counters::lock`]), so two shards can never both take the last line.

use crate::billing::Ledger;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tollswitch_model::{AccountId, GatewayGroupId, MappingGatewayId, Money, RoutingGatewayId};
use tollswitch_routing::{LiveCounters, RoutingSnapshot};

/// Calls in progress and calls started in the current second, per object name; shared by the
/// engine shards of one switch.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    inner: Arc<Mutex<Table>>,
}

/// The counts behind [`Counters`]; reached through [`Counters::lock`].
#[derive(Debug, Default)]
pub struct Table {
    /// Indexed by [`Kind`]; keyed by name, looked up by `&str` without allocating.
    calls: [HashMap<Arc<str>, u32>; KINDS],
    cps: [HashMap<Arc<str>, (i64, u32)>; KINDS],
}

const KINDS: usize = 4;

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A mapping gateway (customer side).
    MappingGateway,
    /// An account, or an agent above it.
    Account,
    /// A routing gateway (vendor side).
    RoutingGateway,
    /// A gateway group (every call through one of its members).
    GatewayGroup,
}

impl Counters {
    /// The table, locked. A poisoned lock (a panic elsewhere while holding it) still yields the
    /// counts: they are plain integers and stay consistent.
    pub fn lock(&self) -> MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls in progress.
    pub fn calls(&self, kind: Kind, name: &str) -> u32 {
        self.lock().calls(kind, name)
    }

    /// True when nothing is held: every call and attempt has released what it took.
    pub fn is_idle(&self) -> bool {
        self.lock().is_idle()
    }

    /// Every name with calls in progress, by kind (for monitors).
    pub fn snapshot(&self) -> Vec<(Kind, Arc<str>, u32)> {
        let t = self.lock();
        let kinds = [
            Kind::MappingGateway,
            Kind::Account,
            Kind::RoutingGateway,
            Kind::GatewayGroup,
        ];
        let mut out = Vec::new();
        for kind in kinds {
            for (name, n) in &t.calls[kind as usize] {
                out.push((kind, name.clone(), *n));
            }
        }
        out.sort_by(|a, b| (a.0 as usize, &a.1).cmp(&(b.0 as usize, &b.1)));
        out
    }
}

impl Table {
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

    /// True when nothing is held.
    pub fn is_idle(&self) -> bool {
        self.calls.iter().all(HashMap::is_empty)
    }

    /// A view for the routing engine over one snapshot at `second`.
    pub fn view<'a>(&'a self, snapshot: &'a RoutingSnapshot, second: i64) -> View<'a> {
        View {
            counters: self,
            snapshot,
            second,
            ledger: None,
        }
    }
}

impl<'a> View<'a> {
    /// Live balances from the switch's book instead of the provisioned ones.
    pub fn with_ledger(mut self, ledger: Option<&'a Ledger>) -> View<'a> {
        self.ledger = ledger;
        self
    }
}

/// [`Table`] seen through one snapshot's ids.
pub struct View<'a> {
    counters: &'a Table,
    snapshot: &'a RoutingSnapshot,
    second: i64,
    ledger: Option<&'a Ledger>,
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
    fn gateway_group_calls(&self, id: GatewayGroupId) -> u32 {
        self.snapshot
            .gateway_group_name(id)
            .map_or(0, |n| self.counters.calls(Kind::GatewayGroup, n))
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
    fn account_balance(&self, id: AccountId) -> Option<Money> {
        let ledger = self.ledger?;
        let name = self.snapshot.account_name(id)?;
        ledger.book.account(ledger.id(name)?).map(|a| a.balance)
    }
}
