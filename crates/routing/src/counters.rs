//! Live state the routing decision reads but does not own: concurrency, calls per second,
//! OPTIONS status, ASR, live balance.
//!
//! The ids passed here are the dense ids of the [`RoutingSnapshot`](crate::RoutingSnapshot) the
//! decision runs on (`RoutingGatewayId(3)` is the fourth routing gateway of that snapshot). They
//! are only meaningful within one snapshot: the engine keeps its counters keyed by **name** and,
//! when it swaps in a new snapshot, builds id-indexed views of them with
//! [`RoutingSnapshot::routing_gateway_id`](crate::RoutingSnapshot::routing_gateway_id) and
//! friends, so a reload never resets or misattributes a counter.

use std::collections::HashMap;
use tollswitch_model::{AccountId, GatewayGroupId, MappingGatewayId, Money, RoutingGatewayId};

/// Read access to live counters. Every count is the value *before* the call being routed.
pub trait LiveCounters {
    /// Calls in progress through a routing gateway.
    fn routing_gateway_calls(&self, id: RoutingGatewayId) -> u32;
    /// Calls started through a routing gateway in the current second.
    fn routing_gateway_cps(&self, id: RoutingGatewayId) -> u32;
    /// OPTIONS status; only consulted for gateways with `options_check` on.
    fn routing_gateway_up(&self, id: RoutingGatewayId) -> bool;
    /// Answer-seizure ratio over `SS_GATEWAY_ASR_RESERVE_TIME`, in per mille (0..=1000);
    /// `None` when there were no attempts yet.
    fn routing_gateway_asr_permille(&self, id: RoutingGatewayId) -> Option<u16>;
    /// Calls in progress through all members of a gateway group.
    fn gateway_group_calls(&self, id: GatewayGroupId) -> u32;
    /// Calls in progress for an account (for an agent: including its sub-accounts).
    fn account_calls(&self, id: AccountId) -> u32;
    /// Calls started by an account in the current second.
    fn account_cps(&self, id: AccountId) -> u32;
    /// Calls in progress from a mapping gateway.
    fn mapping_gateway_calls(&self, id: MappingGatewayId) -> u32;
    /// Calls started from a mapping gateway in the current second.
    fn mapping_gateway_cps(&self, id: MappingGatewayId) -> u32;
    /// The account's current balance, when billing tracks it live; `None` uses the
    /// provisioned balance.
    fn account_balance(&self, id: AccountId) -> Option<Money> {
        let _ = id;
        None
    }
}

/// A plain in-memory [`LiveCounters`] for tests, benchmarks and the `route explain` CLI.
/// Anything not set is zero, up, unknown ASR, provisioned balance.
#[derive(Debug, Clone, Default)]
pub struct MemoryCounters {
    /// Calls per routing gateway.
    pub routing_gateway_calls: HashMap<RoutingGatewayId, u32>,
    /// CPS per routing gateway.
    pub routing_gateway_cps: HashMap<RoutingGatewayId, u32>,
    /// Routing gateways whose OPTIONS probe failed.
    pub routing_gateway_down: HashMap<RoutingGatewayId, bool>,
    /// ASR per routing gateway, per mille.
    pub routing_gateway_asr: HashMap<RoutingGatewayId, u16>,
    /// Calls per gateway group.
    pub gateway_group_calls: HashMap<GatewayGroupId, u32>,
    /// Calls per account.
    pub account_calls: HashMap<AccountId, u32>,
    /// CPS per account.
    pub account_cps: HashMap<AccountId, u32>,
    /// Calls per mapping gateway.
    pub mapping_gateway_calls: HashMap<MappingGatewayId, u32>,
    /// CPS per mapping gateway.
    pub mapping_gateway_cps: HashMap<MappingGatewayId, u32>,
    /// Live balances.
    pub account_balance: HashMap<AccountId, Money>,
}

impl LiveCounters for MemoryCounters {
    fn routing_gateway_calls(&self, id: RoutingGatewayId) -> u32 {
        self.routing_gateway_calls.get(&id).copied().unwrap_or(0)
    }
    fn routing_gateway_cps(&self, id: RoutingGatewayId) -> u32 {
        self.routing_gateway_cps.get(&id).copied().unwrap_or(0)
    }
    fn routing_gateway_up(&self, id: RoutingGatewayId) -> bool {
        !self.routing_gateway_down.get(&id).copied().unwrap_or(false)
    }
    fn routing_gateway_asr_permille(&self, id: RoutingGatewayId) -> Option<u16> {
        self.routing_gateway_asr.get(&id).copied()
    }
    fn gateway_group_calls(&self, id: GatewayGroupId) -> u32 {
        self.gateway_group_calls.get(&id).copied().unwrap_or(0)
    }
    fn account_calls(&self, id: AccountId) -> u32 {
        self.account_calls.get(&id).copied().unwrap_or(0)
    }
    fn account_cps(&self, id: AccountId) -> u32 {
        self.account_cps.get(&id).copied().unwrap_or(0)
    }
    fn mapping_gateway_calls(&self, id: MappingGatewayId) -> u32 {
        self.mapping_gateway_calls.get(&id).copied().unwrap_or(0)
    }
    fn mapping_gateway_cps(&self, id: MappingGatewayId) -> u32 {
        self.mapping_gateway_cps.get(&id).copied().unwrap_or(0)
    }
    fn account_balance(&self, id: AccountId) -> Option<Money> {
        self.account_balance.get(&id).copied()
    }
}

/// Nothing in progress, everything up, no ASR known: the state of a freshly started switch.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleCounters;

impl LiveCounters for IdleCounters {
    fn routing_gateway_calls(&self, _: RoutingGatewayId) -> u32 {
        0
    }
    fn routing_gateway_cps(&self, _: RoutingGatewayId) -> u32 {
        0
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
    fn account_calls(&self, _: AccountId) -> u32 {
        0
    }
    fn account_cps(&self, _: AccountId) -> u32 {
        0
    }
    fn mapping_gateway_calls(&self, _: MappingGatewayId) -> u32 {
        0
    }
    fn mapping_gateway_cps(&self, _: MappingGatewayId) -> u32 {
        0
    }
}
