//! `tollswitch serve`: the softswitch — SIP transports, the engine shards, the routing snapshot.

use crate::journal::{Journal, OnDurable};
use crate::transport::{
    Prefilter, ShardHandle, TransactionUser, TransportConfig, Transports, call_id_prefix,
};
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tollswitch_b2bua::{
    B2bua, Billing, CallEnd, CallEvent, Config as EngineConfig, Counters, Deferred,
};
use tollswitch_billing::BillingConfig;
use tollswitch_model::params::Parameters;
use tollswitch_model::provisioning::Provisioning;
use tollswitch_routing::{RejectReason, RoutingSnapshot};
use tollswitch_sip_core::{Config as SipConfig, Endpoint, Event};
use tollswitch_sip_msg::{Message, Method, response_to};

/// Commands to an engine shard.
pub enum Control {
    /// Route new calls over this snapshot (calls in progress keep their decision).
    Snapshot(Arc<RoutingSnapshot>),
    /// Refuse new calls with 503 + Retry-After; calls in progress go on.
    Drain,
    /// End every call in progress now.
    HangupAll,
    /// A call's record is durable: send the hang-up messages held for it.
    Release(Vec<Deferred>),
    /// The calls in progress on this shard.
    ListCalls(tokio::sync::oneshot::Sender<Vec<tollswitch_b2bua::CallInfo>>),
    /// Hang up the call with this leg A Call-ID, if this shard has it.
    Hangup(String, tokio::sync::oneshot::Sender<bool>),
    /// Addresses of target host names, newly resolved.
    Resolved(Arc<tollswitch_b2bua::Resolved>),
}

/// Where finished calls go.
#[derive(Clone)]
pub struct Records {
    /// The CDR journal (`None`: records are only printed).
    pub journal: Option<Journal>,
    /// Live balance control.
    pub billing: Option<Billing>,
    /// Rating rules for the records.
    pub cfg: Arc<BillingConfig>,
    /// One line per finished call on standard output.
    pub print: bool,
    /// Write no CDR for attempts with zero hold time (unanswered).
    pub skip_zero_hold: bool,
}

fn print_line(end: &CallEnd) {
    let tried: Vec<String> = end.tried.iter().map(|(g, c)| format!("{g}:{c}")).collect();
    println!(
        "call {} ended {} connected={} by={:?} hold={}ms tried=[{}] reason={} cdr={}",
        end.call_id,
        end.final_code,
        end.connected,
        end.ended_by,
        end.hold_time.as_millis(),
        tried.join(","),
        end.reason,
        end.cdr_id
    );
}

/// One engine shard's transaction user: every endpoint event goes to its B2BUA.
pub struct CallEngine {
    b2bua: B2bua,
    /// This shard's calls plus transactions, for monitors and the graceful shutdown.
    busy: Arc<[AtomicUsize]>,
    shard: usize,
    records: Records,
    handle: Option<ShardHandle<Control>>,
}

impl CallEngine {
    fn after(&mut self, endpoint: &mut Endpoint) {
        while let Some(CallEvent::Ended(mut end)) = self.b2bua.poll_call_event() {
            if self.records.print {
                print_line(&end);
            }
            let deferred = std::mem::take(&mut end.deferred);
            let Some(journal) = &self.records.journal else {
                self.b2bua.release(Instant::now(), deferred, endpoint);
                continue;
            };
            let record = {
                let ledger = self.records.billing.as_ref().map(Billing::lock);
                crate::records::record(
                    &end,
                    &self.records.cfg,
                    ledger.as_deref(),
                    self.records.skip_zero_hold,
                )
            };
            let done: Option<OnDurable> = match (&self.handle, deferred.is_empty()) {
                (_, true) | (None, _) => None,
                (Some(h), false) => {
                    let h = h.clone();
                    Some(Box::new(move || {
                        h.send(Control::Release(deferred));
                    }))
                }
            };
            if let Err(e) = journal.append(record, done) {
                eprintln!("call {}: {e}", end.call_id);
            }
        }
        // Two slots per shard: calls, then transactions.
        if let Some(slot) = self.busy.get(2 * self.shard) {
            slot.store(self.b2bua.active_calls(), Ordering::Relaxed);
        }
        if let Some(slot) = self.busy.get(2 * self.shard + 1) {
            slot.store(endpoint.transaction_count(), Ordering::Relaxed);
        }
    }
}

impl TransactionUser for CallEngine {
    type Control = Control;

    fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint) {
        self.b2bua.handle_event(now, event, endpoint);
        self.after(endpoint);
    }

    fn on_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        self.b2bua.handle_timeout(now, endpoint);
        self.after(endpoint);
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        self.b2bua.poll_timeout()
    }

    fn on_control(&mut self, now: Instant, control: Control, endpoint: &mut Endpoint) {
        match control {
            Control::Snapshot(s) => self.b2bua.set_snapshot(s),
            Control::Drain => self.b2bua.set_draining(true),
            Control::HangupAll => self.b2bua.hangup_all(now, endpoint),
            Control::Release(d) => self.b2bua.release(now, d, endpoint),
            Control::ListCalls(reply) => {
                let _ = reply.send(self.b2bua.calls());
            }
            Control::Hangup(call_id, reply) => {
                let _ = reply.send(self.b2bua.hangup(now, &call_id, endpoint));
            }
            Control::Resolved(r) => self.b2bua.set_resolved(r),
        }
        self.after(endpoint);
    }

    fn attach(&mut self, handle: ShardHandle<Control>) {
        self.handle = Some(handle);
    }
}

/// How to run the switch.
#[derive(Clone)]
pub struct SwitchOptions {
    /// SIP listen address (UDP and TCP).
    pub sip: SocketAddr,
    /// Engine shards (at least 1).
    pub shards: usize,
    /// Where finished calls go.
    pub records: Records,
    /// This node's name in CDR ids.
    pub node: String,
    /// Stored balances to start the live ones from (else the provisioned ones).
    pub balances: std::collections::HashMap<String, tollswitch_model::Money>,
}

/// A running switch.
pub struct Switch {
    /// The sockets and the engine shards.
    pub transports: Transports<Control>,
    /// Live balances (when billing runs).
    pub billing: Option<Billing>,
    snapshot: Arc<ArcSwap<RoutingSnapshot>>,
    busy: Arc<[AtomicUsize]>,
    /// Live line and CPS counters shared by the shards.
    pub counters: Counters,
    /// Woken when new provisioning may name new target hosts.
    pub resolve_now: Arc<tokio::sync::Notify>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The system parameters of a provisioning set, validated.
pub fn parameters(p: &Provisioning) -> anyhow::Result<Parameters> {
    let mut params = Parameters::new();
    for (name, value) in &p.parameters {
        params
            .set(name, value)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(params)
}

/// Answers an out-of-dialog INVITE from an address no mapping gateway knows with a stateless
/// 403, when no gateway authenticates by digest (scanner floods never reach a shard).
fn unknown_source_prefilter(snapshot: Arc<ArcSwap<RoutingSnapshot>>) -> Prefilter {
    Arc::new(move |msg: &Message, from: SocketAddr| {
        if msg.method() != Some(&Method::Invite) || msg.to_tag().is_some() {
            return None;
        }
        let snap = snapshot.load();
        if snap.has_digest_gateways() || snap.mapping_gateway_for_source(from).is_some() {
            return None;
        }
        let reason = RejectReason::UnknownSource;
        let code = reason.code();
        Some(
            response_to(
                msg,
                code.as_u16(),
                code.reason_phrase(),
                Some("ts-stateless"),
            )
            .header(
                "Reason",
                format!("SIP;cause={};text=\"{reason}\"", code.as_u16()),
            )
            .build(),
        )
    })
}

impl Switch {
    /// Compiles `provisioning`, binds the sockets and starts the shards.
    pub async fn start(provisioning: &Provisioning, opts: SwitchOptions) -> anyhow::Result<Switch> {
        let snapshot = Arc::new(
            RoutingSnapshot::compile(provisioning)
                .map_err(|e| anyhow::anyhow!("provisioning does not compile: {e}"))?,
        );
        let params = parameters(provisioning)?;
        let schedule: Vec<Duration> = params
            .sip_resend_interval_ms()
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let epoch = (Instant::now(), unix_now());
        let counters = Counters::default();
        let shards = opts.shards.max(1);
        let busy: Arc<[AtomicUsize]> = (0..2 * shards).map(|_| AtomicUsize::new(0)).collect();
        let mut engines = Vec::with_capacity(shards);
        for k in 0..shards {
            let mut sip_config = SipConfig::default();
            if !schedule.is_empty() {
                sip_config.resend_schedule = Some(schedule.clone());
            }
            sip_config.seed = seed
                .wrapping_add(k as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let engine = EngineConfig {
                local: opts.sip,
                epoch,
                invite_timeout: Duration::from_secs(u64::from(params.sip_timeout_invite_secs())),
                ringing_timeout: Duration::from_secs(u64::from(params.sip_timeout_ringing_secs())),
                max_call_duration: params
                    .max_call_duration_secs()
                    .map(|s| Duration::from_secs(u64::from(s))),
                realm: params.authentication_realm().to_owned(),
                call_id_prefix: call_id_prefix(k),
                defer_hangup: opts.records.journal.is_some(),
                cdr_id_prefix: format!("{}-{k}-", opts.node),
            };
            let mut b2bua = B2bua::with_counters(engine, snapshot.clone(), counters.clone());
            if let Some(billing) = &opts.records.billing {
                b2bua.set_billing(billing.clone());
            }
            let user = CallEngine {
                b2bua,
                busy: busy.clone(),
                shard: k,
                records: opts.records.clone(),
                handle: None,
            };
            engines.push((Endpoint::new(sip_config), user));
        }
        let shared_snapshot = Arc::new(ArcSwap::new(snapshot));
        let config = TransportConfig {
            udp: Some(opts.sip),
            tcp: Some(opts.sip),
            dscp: params.qos_signal(),
            ..TransportConfig::default()
        };
        if let Some(billing) = &opts.records.billing {
            billing
                .sync_accounts(
                    &provisioning.accounts,
                    |name| opts.balances.get(name).copied(),
                    None,
                )
                .map_err(|e| anyhow::anyhow!("billing: {e}"))?;
        }
        let prefilter = unknown_source_prefilter(shared_snapshot.clone());
        let transports = Transports::start(config, engines, Some(prefilter)).await?;
        Ok(Switch {
            transports,
            billing: opts.records.billing.clone(),
            snapshot: shared_snapshot,
            busy,
            counters,
            resolve_now: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The routing gateways' target host names (lower case) and their ports.
    pub fn target_host_names(&self) -> std::collections::BTreeSet<(String, u16)> {
        self.snapshot.load().target_host_names()
    }

    /// Hands newly resolved addresses to every shard.
    pub fn set_resolved(&self, resolved: Arc<tollswitch_b2bua::Resolved>) {
        for k in 0..self.transports.shards() {
            self.transports
                .control(k, Control::Resolved(resolved.clone()));
        }
    }

    /// Compiles new provisioning and swaps it in on every shard; calls in progress keep the
    /// decision they started with. On a compile error nothing changes.
    pub async fn reload(&self, provisioning: &Provisioning) -> anyhow::Result<()> {
        let snapshot = Arc::new(
            RoutingSnapshot::compile(provisioning)
                .map_err(|e| anyhow::anyhow!("provisioning does not compile: {e}"))?,
        );
        if let Some(billing) = &self.billing {
            let cfg = BillingConfig::from_parameters(&parameters(provisioning)?);
            billing
                .sync_accounts(&provisioning.accounts, |_| None, Some(cfg))
                .map_err(|e| anyhow::anyhow!("billing: {e}"))?;
        }
        self.snapshot.store(snapshot.clone());
        for k in 0..self.transports.shards() {
            self.transports
                .control(k, Control::Snapshot(snapshot.clone()));
        }
        self.resolve_now.notify_one();
        Ok(())
    }

    /// The decision the switch would take now for this call, with its live line counters.
    pub fn explain(
        &self,
        request: &tollswitch_routing::CallRequest<'_>,
        unix: i64,
    ) -> tollswitch_routing::RouteDecision {
        let snapshot = self.snapshot.load();
        let table = self.counters.lock();
        let ledger = self.billing.as_ref().map(Billing::lock);
        tollswitch_routing::route(
            &snapshot,
            request,
            &table.view(&snapshot, unix).with_ledger(ledger.as_deref()),
            unix,
        )
    }

    /// Every call in progress, oldest first.
    pub async fn calls_in_progress(&self) -> Vec<tollswitch_b2bua::CallInfo> {
        let mut all = Vec::new();
        for k in 0..self.transports.shards() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.transports.control(k, Control::ListCalls(tx));
            if let Ok(Ok(mut calls)) = tokio::time::timeout(Duration::from_secs(2), rx).await {
                all.append(&mut calls);
            }
        }
        all.sort_by_key(|c| c.start_ms);
        all
    }

    /// Hangs up a call by its leg A Call-ID; false when no shard has it.
    pub async fn hangup(&self, call_id: &str) -> bool {
        // A customer's Call-ID lives on the shard its hash names.
        let k = crate::transport::shard_of(call_id, self.transports.shards());
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.transports
            .control(k, Control::Hangup(call_id.to_owned(), tx));
        matches!(
            tokio::time::timeout(Duration::from_secs(2), rx).await,
            Ok(Ok(true))
        )
    }

    /// Calls and transactions in progress over all shards.
    pub fn busy(&self) -> usize {
        self.busy.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Calls in progress over all shards.
    pub fn calls(&self) -> usize {
        self.busy
            .iter()
            .step_by(2)
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Graceful stop: refuse new calls, let calls in progress finish for up to `timeout`, then
    /// hang up what is left; then give the last transactions (the BYEs) up to 2 s. Transactions
    /// only waiting out RFC 3261 timers (Timer J/K, RFC 6026 Accepted) are not waited for.
    pub async fn drain(&self, timeout: Duration) {
        for k in 0..self.transports.shards() {
            self.transports.control(k, Control::Drain);
        }
        self.wait(tokio::time::Instant::now() + timeout, || self.calls() == 0)
            .await;
        if self.calls() > 0 {
            for k in 0..self.transports.shards() {
                self.transports.control(k, Control::HangupAll);
            }
        }
        self.wait(tokio::time::Instant::now() + Duration::from_secs(2), || {
            self.busy() == 0
        })
        .await;
    }

    /// Waits until `done` or `deadline`, checking every 50 ms.
    async fn wait(&self, deadline: tokio::time::Instant, done: impl Fn() -> bool) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while !done() && tokio::time::Instant::now() < deadline {
            tick.tick().await;
        }
    }
}
