//! Compiling a [`Provisioning`] into an immutable [`RoutingSnapshot`].

use crate::CompileError;
use crate::decision::{GatewayProfile, Named, RateMatch};
use crate::rates::RateIndex;
use crate::time::CompiledTimeRule;
use crate::transform::{Rule, compile_rules};
use crate::trie::{DigitTrie, Slot};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tollswitch_model::provisioning::{
    AccountStatus, CodeReplacement, DigestCredentials, MediaProxy, Provisioning, RoutePolicy,
    SourceMatch, mask_ip,
};
use tollswitch_model::{
    AccountId, GatewayGroupId, MappingGatewayId, Money, RateTableId, RoutingGatewayId,
};

/// An account as routing needs it.
#[derive(Debug, Clone)]
pub(crate) struct AccountEntry {
    pub(crate) name: Arc<str>,
    pub(crate) status: AccountStatus,
    pub(crate) expiry: Option<i64>,
    pub(crate) balance: Money,
    pub(crate) credit_limit: Money,
    pub(crate) rate_table: Option<u32>,
    pub(crate) line_limit: Option<u32>,
    pub(crate) cps_limit: Option<u32>,
    pub(crate) parent: Option<u32>,
}

/// A mapping gateway as routing needs it.
#[derive(Debug, Clone)]
pub(crate) struct MappingEntry {
    pub(crate) name: Arc<str>,
    pub(crate) account: u32,
    pub(crate) sources: Vec<SourceMatch>,
    pub(crate) digest: Option<DigestCredentials>,
    pub(crate) line_limit: Option<u32>,
    pub(crate) cps_limit: Option<u32>,
    pub(crate) caller_rules: Vec<Rule>,
    pub(crate) callee_rules: Vec<Rule>,
    pub(crate) allowed_prefixes: Option<DigitTrie>,
    pub(crate) forbidden_prefixes: DigitTrie,
    /// Sorted group indices; `None` allows every gateway.
    pub(crate) allowed_groups: Option<Vec<u32>>,
    pub(crate) route_policy: RoutePolicy,
    pub(crate) replace_failed_reason: Arc<[CodeReplacement]>,
    pub(crate) max_call_duration_secs: Option<u32>,
    pub(crate) media_proxy: MediaProxy,
    pub(crate) codecs: Arc<[String]>,
    pub(crate) enabled: bool,
}

/// A routing gateway as routing needs it.
#[derive(Debug, Clone)]
pub(crate) struct RoutingEntry {
    /// What candidates share.
    pub(crate) profile: Arc<GatewayProfile>,
    pub(crate) vendor_account: u32,
    pub(crate) line_limit: Option<u32>,
    pub(crate) cps_limit: Option<u32>,
    /// Sorted group indices (the gateway's own list and groups naming it as a member).
    pub(crate) groups: Vec<u32>,
    pub(crate) rate_table: Option<u32>,
    pub(crate) caller_rules: Vec<Rule>,
    pub(crate) callee_rules: Vec<Rule>,
    pub(crate) options_check: bool,
    pub(crate) time_rules: Vec<CompiledTimeRule>,
    pub(crate) enabled: bool,
}

/// A gateway group.
#[derive(Debug, Clone)]
pub(crate) struct GroupEntry {
    pub(crate) name: Arc<str>,
    pub(crate) line_limit: Option<u32>,
}

fn too_large(what: &str) -> CompileError {
    CompileError::TooLarge {
        what: what.to_owned(),
    }
}

/// Source address → mapping gateway: one hash map per prefix length, longest first.
#[derive(Debug, Clone, Default)]
struct SourceIndex {
    levels: Vec<SourceLevel>,
}

#[derive(Debug, Clone)]
struct SourceLevel {
    v4: bool,
    len: u8,
    /// Network address → (port or any, mapping gateway), port-specific entries first.
    map: HashMap<IpAddr, Vec<(Option<u16>, u32)>>,
}

impl SourceIndex {
    fn insert(&mut self, m: &SourceMatch, gw: u32) {
        let v4 = m.net.addr().is_ipv4();
        let len = m.net.prefix_len();
        let level = match self
            .levels
            .iter_mut()
            .position(|l| l.v4 == v4 && l.len == len)
        {
            Some(i) => &mut self.levels[i],
            None => {
                self.levels.push(SourceLevel {
                    v4,
                    len,
                    map: HashMap::new(),
                });
                let last = self.levels.len() - 1;
                &mut self.levels[last]
            }
        };
        let list = level.map.entry(m.net.addr()).or_default();
        list.push((m.port, gw));
        list.sort_by_key(|(port, _)| port.is_none());
    }

    fn finish(&mut self) {
        self.levels.sort_by_key(|l| std::cmp::Reverse(l.len));
    }

    /// Most specific match: longest network first; at one length, a port match before "any".
    fn lookup(&self, src: SocketAddr) -> Option<u32> {
        let ip = src.ip();
        for level in &self.levels {
            if level.v4 != ip.is_ipv4() {
                continue;
            }
            if let Some(list) = level.map.get(&mask_ip(ip, level.len))
                && let Some((_, gw)) = list.iter().find(|(p, _)| p.is_none_or(|p| p == src.port()))
            {
                return Some(*gw);
            }
        }
        None
    }
}

/// Sizes of a compiled snapshot, for capacity planning and the benchmark report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotStats {
    /// Rate prefixes summed over all rate tables (a prefix in two tables counts twice).
    pub rate_prefixes: usize,
    /// Rate entries (prefix × table × effective period).
    pub rate_versions: usize,
    /// Nodes of the one trie indexing every rate table.
    pub rate_trie_nodes: usize,
    /// Heap bytes held by the rate index (trie, entries, shared terms, area names).
    pub rate_bytes: usize,
    /// Distinct routing prefixes.
    pub route_prefixes: usize,
    /// Heap bytes of the routing-prefix trie and its gateway lists.
    pub route_bytes: usize,
}

/// Everything routing needs, compiled from a [`Provisioning`] and never changed afterwards.
///
/// Build it off the hot path with [`RoutingSnapshot::compile`], share it as
/// `Arc<RoutingSnapshot>` and swap it atomically when provisioning changes; calls in progress
/// keep the snapshot they started with.
#[derive(Debug, Clone)]
pub struct RoutingSnapshot {
    pub(crate) accounts: Vec<AccountEntry>,
    pub(crate) mapping_gateways: Vec<MappingEntry>,
    pub(crate) routing_gateways: Vec<RoutingEntry>,
    pub(crate) groups: Vec<GroupEntry>,
    /// Every rate table, one index.
    pub(crate) rates: RateIndex,
    /// Routing prefix → slot into `route_lists`.
    pub(crate) route_trie: DigitTrie,
    /// Routing gateway indices, grouped by prefix.
    pub(crate) route_lists: Vec<u32>,
    sources: SourceIndex,
    digest_users: HashMap<Box<str>, u32>,
    account_names: HashMap<Arc<str>, u32>,
    mapping_names: HashMap<Arc<str>, u32>,
    routing_names: HashMap<Arc<str>, u32>,
    group_names: HashMap<Arc<str>, u32>,
    rate_table_names: HashMap<Arc<str>, u32>,
    parameters: BTreeMap<String, String>,
}

fn index(i: usize, what: &str) -> Result<u32, CompileError> {
    u32::try_from(i).map_err(|_| too_large(what))
}

fn prefix_set(list: &[String], what: &str) -> Result<DigitTrie, CompileError> {
    let mut sorted: Vec<&str> = list.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let entries: Vec<(&[u8], Slot)> = sorted
        .iter()
        .map(|p| (p.as_bytes(), Slot { value: 0, count: 1 }))
        .collect();
    DigitTrie::build(&entries, what)
}

impl RoutingSnapshot {
    /// Validates `p` (every problem is reported, see [`Provisioning::validate`]), compiles the
    /// number rules and regular expressions, and builds the prefix tries and source indexes.
    pub fn compile(p: &Provisioning) -> Result<RoutingSnapshot, CompileError> {
        p.validate().map_err(CompileError::Invalid)?;

        let names =
            |it: &mut dyn Iterator<Item = &str>| -> Result<HashMap<Arc<str>, u32>, CompileError> {
                it.enumerate()
                    .map(|(i, n)| Ok((Arc::from(n), index(i, n)?)))
                    .collect()
            };
        let account_names = names(&mut p.accounts.iter().map(|a| a.name.as_str()))?;
        let mapping_names = names(&mut p.mapping_gateways.iter().map(|g| g.name.as_str()))?;
        let routing_names = names(&mut p.routing_gateways.iter().map(|g| g.name.as_str()))?;
        let group_names = names(&mut p.gateway_groups.iter().map(|g| g.name.as_str()))?;
        let rate_table_names = names(&mut p.rate_tables.iter().map(|t| t.name.as_str()))?;

        // Validation guarantees every reference resolves; a miss here is reported, not unwrapped.
        let find =
            |map: &HashMap<Arc<str>, u32>, name: &str, owner: &str| -> Result<u32, CompileError> {
                map.get(name)
                    .copied()
                    .ok_or_else(|| CompileError::Dangling {
                        owner: owner.to_owned(),
                        name: name.to_owned(),
                    })
            };

        let rates = RateIndex::build(&p.rate_tables)?;

        let accounts = p
            .accounts
            .iter()
            .map(|a| {
                Ok(AccountEntry {
                    name: Arc::from(a.name.as_str()),
                    status: a.status,
                    expiry: a.expiry,
                    balance: a.balance,
                    credit_limit: a.credit_limit,
                    rate_table: a
                        .rate_table
                        .as_deref()
                        .map(|t| find(&rate_table_names, t, &a.name))
                        .transpose()?,
                    line_limit: a.line_limit,
                    cps_limit: a.cps_limit,
                    parent: a
                        .parent_agent
                        .as_deref()
                        .map(|n| find(&account_names, n, &a.name))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;

        let groups: Vec<GroupEntry> = p
            .gateway_groups
            .iter()
            .map(|g| GroupEntry {
                name: Arc::from(g.name.as_str()),
                line_limit: g.line_limit,
            })
            .collect();
        let mut member_of: Vec<Vec<u32>> = vec![Vec::new(); p.routing_gateways.len()];
        for (gi, g) in p.gateway_groups.iter().enumerate() {
            for m in &g.members {
                let r = find(&routing_names, m, &g.name)?;
                if let Some(list) = member_of.get_mut(r as usize) {
                    list.push(index(gi, &g.name)?);
                }
            }
        }

        let mut mapping_gateways = Vec::with_capacity(p.mapping_gateways.len());
        let mut sources = SourceIndex::default();
        let mut digest_users = HashMap::new();
        for (i, g) in p.mapping_gateways.iter().enumerate() {
            let idx = index(i, &g.name)?;
            for s in &g.sources {
                sources.insert(s, idx);
            }
            if let Some(d) = &g.digest {
                digest_users.insert(Box::from(d.username.as_str()), idx);
            }
            let allowed_groups = if g.allowed_groups.is_empty() {
                None
            } else {
                let mut v = g
                    .allowed_groups
                    .iter()
                    .map(|n| find(&group_names, n, &g.name))
                    .collect::<Result<Vec<_>, _>>()?;
                v.sort_unstable();
                v.dedup();
                Some(v)
            };
            mapping_gateways.push(MappingEntry {
                name: Arc::from(g.name.as_str()),
                account: find(&account_names, &g.account, &g.name)?,
                sources: g.sources.clone(),
                digest: g.digest.clone(),
                line_limit: g.line_limit,
                cps_limit: g.cps_limit,
                caller_rules: compile_rules(&g.caller_rules, &g.name, "caller_rules")?,
                callee_rules: compile_rules(&g.callee_rules, &g.name, "callee_rules")?,
                allowed_prefixes: if g.allowed_prefixes.is_empty() {
                    None
                } else {
                    Some(prefix_set(&g.allowed_prefixes, &g.name)?)
                },
                forbidden_prefixes: prefix_set(&g.forbidden_prefixes, &g.name)?,
                allowed_groups,
                route_policy: g.route_policy,
                replace_failed_reason: g.replace_failed_reason.clone().into(),
                max_call_duration_secs: (g.max_call_duration_secs > 0)
                    .then_some(g.max_call_duration_secs),
                media_proxy: g.media_proxy,
                codecs: g.codecs.clone().into(),
                enabled: g.enabled,
            });
        }
        sources.finish();

        let mut routing_gateways = Vec::with_capacity(p.routing_gateways.len());
        let mut route_pairs: Vec<(&[u8], u32)> = Vec::new();
        for (i, g) in p.routing_gateways.iter().enumerate() {
            let idx = index(i, &g.name)?;
            for prefix in &g.prefixes {
                route_pairs.push((prefix.as_bytes(), idx));
            }
            let mut groups_of = std::mem::take(&mut member_of[i]);
            for n in &g.groups {
                groups_of.push(find(&group_names, n, &g.name)?);
            }
            groups_of.sort_unstable();
            groups_of.dedup();
            let vendor_account = find(&account_names, &g.vendor_account, &g.name)?;
            let vendor_name = accounts
                .get(vendor_account as usize)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let profile = Arc::new(GatewayProfile {
                id: RoutingGatewayId(i64::from(idx)),
                name: g.name.clone(),
                vendor_account: Named {
                    id: AccountId(i64::from(vendor_account)),
                    name: vendor_name,
                },
                priority: g.priority,
                targets: g.targets.clone(),
                invite_timeout_secs: g.invite_timeout_secs,
                ringing_timeout_secs: g.ringing_timeout_secs,
                busy_stop: g.busy_stop,
                stop_codes: g.stop_codes.clone(),
                media_proxy: g.media_proxy,
                codecs: g.codecs.clone(),
                p_asserted_identity: g.p_asserted_identity,
                allow_publish: g.allow_publish,
                groups: groups_of
                    .iter()
                    .filter_map(|&gi| {
                        Some(Named {
                            id: GatewayGroupId(i64::from(gi)),
                            name: groups.get(gi as usize)?.name.clone(),
                        })
                    })
                    .collect(),
            });
            routing_gateways.push(RoutingEntry {
                profile,
                vendor_account,
                line_limit: g.line_limit,
                cps_limit: g.cps_limit,
                groups: groups_of,
                rate_table: g
                    .rate_table
                    .as_deref()
                    .map(|t| find(&rate_table_names, t, &g.name))
                    .transpose()?,
                caller_rules: compile_rules(&g.caller_rules, &g.name, "caller_rules")?,
                callee_rules: compile_rules(&g.callee_rules, &g.name, "callee_rules")?,
                options_check: g.options_check,
                time_rules: g.time_rules.iter().map(CompiledTimeRule::new).collect(),
                enabled: g.enabled,
            });
        }
        route_pairs.sort_unstable();
        route_pairs.dedup();
        let mut route_lists = Vec::with_capacity(route_pairs.len());
        let mut entries: Vec<(&[u8], Slot)> = Vec::new();
        for (prefix, gw) in route_pairs {
            let at = index(route_lists.len(), "routing prefixes")?;
            route_lists.push(gw);
            match entries.last_mut() {
                Some((p, slot)) if *p == prefix => {
                    slot.count = slot
                        .count
                        .checked_add(1)
                        .ok_or_else(|| too_large("routing prefixes"))?;
                }
                _ => entries.push((
                    prefix,
                    Slot {
                        value: at,
                        count: 1,
                    },
                )),
            }
        }
        let route_trie = DigitTrie::build(&entries, "routing prefixes")?;

        Ok(RoutingSnapshot {
            accounts,
            mapping_gateways,
            routing_gateways,
            groups,
            rates,
            route_trie,
            route_lists,
            sources,
            digest_users,
            account_names,
            mapping_names,
            routing_names,
            group_names,
            rate_table_names,
            parameters: p.parameters.clone(),
        })
    }

    /// The mapping gateway a packet from `source` belongs to, by address (see
    /// [`SourceMatch`]); the most specific source wins.
    pub fn mapping_gateway_for_source(&self, source: SocketAddr) -> Option<MappingGatewayId> {
        self.sources
            .lookup(source)
            .map(|i| MappingGatewayId(i64::from(i)))
    }

    /// The mapping gateway and password for a digest username, so the engine can verify a
    /// digest response before routing.
    pub fn digest_credentials(&self, username: &str) -> Option<(MappingGatewayId, &str)> {
        let i = *self.digest_users.get(username)?;
        let g = self.mapping_gateways.get(i as usize)?;
        let d = g.digest.as_ref()?;
        Some((MappingGatewayId(i64::from(i)), d.password.as_str()))
    }

    /// True when some mapping gateway authenticates by digest (the engine then challenges
    /// INVITEs from unknown sources instead of refusing them).
    pub fn has_digest_gateways(&self) -> bool {
        !self.digest_users.is_empty()
    }

    pub(crate) fn source_lookup(&self, source: SocketAddr) -> Option<u32> {
        self.sources.lookup(source)
    }

    pub(crate) fn digest_lookup(&self, username: &str) -> Option<u32> {
        self.digest_users.get(username).copied()
    }

    /// This snapshot's id of the account `name`.
    pub fn account_id(&self, name: &str) -> Option<AccountId> {
        self.account_names
            .get(name)
            .map(|&i| AccountId(i64::from(i)))
    }

    /// This snapshot's id of the mapping gateway `name`.
    pub fn mapping_gateway_id(&self, name: &str) -> Option<MappingGatewayId> {
        self.mapping_names
            .get(name)
            .map(|&i| MappingGatewayId(i64::from(i)))
    }

    /// This snapshot's id of the routing gateway `name`.
    pub fn routing_gateway_id(&self, name: &str) -> Option<RoutingGatewayId> {
        self.routing_names
            .get(name)
            .map(|&i| RoutingGatewayId(i64::from(i)))
    }

    /// This snapshot's id of the gateway group `name`.
    pub fn gateway_group_id(&self, name: &str) -> Option<GatewayGroupId> {
        self.group_names
            .get(name)
            .map(|&i| GatewayGroupId(i64::from(i)))
    }

    /// This snapshot's id of the rate table `name`.
    pub fn rate_table_id(&self, name: &str) -> Option<RateTableId> {
        self.rate_table_names
            .get(name)
            .map(|&i| RateTableId(i64::from(i)))
    }

    /// The name behind a routing gateway id of this snapshot.
    pub fn routing_gateway_name(&self, id: RoutingGatewayId) -> Option<&str> {
        let i = usize::try_from(id.0).ok()?;
        self.routing_gateways
            .get(i)
            .map(|g| g.profile.name.as_str())
    }

    /// The name behind a mapping gateway id of this snapshot.
    pub fn mapping_gateway_name(&self, id: MappingGatewayId) -> Option<&str> {
        let i = usize::try_from(id.0).ok()?;
        self.mapping_gateways.get(i).map(|g| &*g.name)
    }

    /// The name behind an account id of this snapshot.
    pub fn account_name(&self, id: AccountId) -> Option<&str> {
        let i = usize::try_from(id.0).ok()?;
        self.accounts.get(i).map(|a| &*a.name)
    }

    /// The name behind a gateway group id of this snapshot.
    pub fn gateway_group_name(&self, id: GatewayGroupId) -> Option<&str> {
        let i = usize::try_from(id.0).ok()?;
        self.groups.get(i).map(|g| &*g.name)
    }

    /// Rate lookup in one rate table (customer or vendor) at `now`, longest prefix in force.
    pub fn rate(&self, table: RateTableId, callee: &str, now: i64) -> Option<RateMatch> {
        let i = u32::try_from(table.0).ok()?;
        self.rates.lookup(i, callee.as_bytes(), now)
    }

    /// Target hosts given as names rather than IP addresses, lower-cased, with the ports
    /// they are used with: what the node must resolve before calls can reach them.
    pub fn target_host_names(&self) -> std::collections::BTreeSet<(String, u16)> {
        self.routing_gateways
            .iter()
            .flat_map(|g| g.profile.targets.iter())
            .filter(|t| t.host.parse::<std::net::IpAddr>().is_err())
            .map(|t| (t.host.to_ascii_lowercase(), t.port))
            .collect()
    }

    /// The routing gateway's static settings, shared by candidates.
    pub fn gateway_profile(&self, id: RoutingGatewayId) -> Option<&Arc<GatewayProfile>> {
        let i = usize::try_from(id.0).ok()?;
        self.routing_gateways.get(i).map(|g| &g.profile)
    }

    /// The system parameters as provisioned (name → text, validated).
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.parameters
    }

    /// Sizes, for the benchmark and capacity planning.
    pub fn stats(&self) -> SnapshotStats {
        SnapshotStats {
            rate_prefixes: self.rates.table_prefixes(),
            rate_versions: self.rates.entry_count(),
            rate_trie_nodes: self.rates.node_count(),
            rate_bytes: self.rates.heap_bytes(),
            route_prefixes: self.route_trie.len(),
            route_bytes: self.route_trie.heap_bytes()
                + self.route_lists.capacity() * std::mem::size_of::<u32>(),
        }
    }
}
