//! The engine: admission, leg B attempts, failover, relay, teardown.

use crate::billing::Billing;
use crate::call::{Call, CallTimer, LegA, LegB, Phase, contact, vendor_uri};
use crate::counters::{Counters, Kind};
use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollswitch_billing::{OpId, Settlement, Tariff};
use tollswitch_model::SipCode;
use tollswitch_model::cdr::EndReason as R;
use tollswitch_model::provisioning::Transport as GwTransport;
use tollswitch_routing::{
    CallRequest, Next, RejectReason, RouteDecision, RoutingSnapshot, next_after, route,
};
use tollswitch_sip_core::{Endpoint, Event, Peer, Transport, TxId};
use tollswitch_sip_msg::{
    Algorithm, Challenge, Credentials, Message, Method, Verdict, response_to, verify_digest,
};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our SIP address: Via and Contact of everything we send.
    pub local: SocketAddr,
    /// An instant and the unix time (seconds) it corresponds to; wall-clock seconds for rate
    /// dates and time rules are derived from it.
    pub epoch: (Instant, i64),
    /// `SS_SIP_TIMEOUT_INVITE`: no provisional within this → next gateway.
    pub invite_timeout: Duration,
    /// `SS_SIP_TIMEOUT_RINGING`: no answer within this after ringing → next gateway.
    pub ringing_timeout: Duration,
    /// `SS_MAX_CALL_DURATION` (`None` = unlimited).
    pub max_call_duration: Option<Duration>,
    /// `SS_SIP_AUTHENTICATION_REALM`: the realm of the 407 challenges.
    pub realm: String,
    /// Prefix of every leg B Call-ID this engine makes (a switch with several engine shards
    /// gives each its own, so a vendor's messages reach the shard that owns the call).
    pub call_id_prefix: String,
    /// Hold back the messages that end an answered call (the 200 to a BYE, the BYEs the switch
    /// sends) in [`CallEnd::deferred`] until the caller of [`B2bua::release`] says the call's
    /// record is safe: no side sees a call finished before its CDR is on disk.
    pub defer_hangup: bool,
    /// Prefix of the CDR ids this engine makes (node and shard): ids are unique across the
    /// shards and nodes of a cluster and across restarts.
    pub cdr_id_prefix: String,
}

/// One call in progress, as the current-call monitor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// Leg A's Call-ID (what `hangup` takes).
    pub call_id: String,
    /// Caller as received.
    pub caller: String,
    /// Callee as received.
    pub callee: String,
    /// The mapping gateway it came through.
    pub mapping_gateway: Option<String>,
    /// The account billed.
    pub account: Option<String>,
    /// The routing gateway of the live attempt.
    pub routing_gateway: Option<String>,
    /// `trying`, `ringing` or `connected`.
    pub state: &'static str,
    /// When it started, unix milliseconds.
    pub start_ms: i64,
    /// When it was answered, unix milliseconds.
    pub connect_ms: Option<i64>,
}

/// A message held back until the call's record is durable (see [`Config::defer_hangup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// A response on a server transaction (the 200 to a BYE).
    Response {
        /// The transaction.
        tx: TxId,
        /// The response.
        response: Bytes,
    },
    /// A request in a new client transaction (a BYE).
    Request {
        /// The request.
        request: Bytes,
        /// Where it goes.
        dest: Peer,
    },
}

/// How long a nonce we issued stays valid.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The customer (BYE or CANCEL on leg A).
    Caller,
    /// The vendor (BYE or a final failure on leg B).
    Callee,
    /// The switch (rejection, timeout, duration limit).
    Switch,
}

/// A finished call attempt, for CDRs and statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// Leg A's Call-ID.
    pub call_id: String,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// Caller as received (From user).
    pub caller: String,
    /// Callee as received (Request-URI user).
    pub callee: String,
    /// The routing decision, when the call got that far: mapping gateway, account, agents,
    /// numbers as sent, customer rate and every candidate with its vendor rate.
    pub decision: Option<Box<RouteDecision>>,
    /// The candidate (index into the decision's candidates) that answered, or the last tried.
    pub carrier: Option<usize>,
    /// When the INVITE arrived, unix milliseconds.
    pub start_ms: i64,
    /// INVITE to the first 18x (post-dial delay).
    pub pdd: Option<Duration>,
    /// INVITE to the answer.
    pub answer_after: Option<Duration>,
    /// The final code of the call (200 for an answered call).
    pub final_code: u16,
    /// Whether it was answered.
    pub connected: bool,
    /// Who ended it.
    pub ended_by: EndedBy,
    /// Why, as a CDR records it.
    pub end_reason: tollswitch_model::cdr::EndReason,
    /// The CDR id (also the id of the call's ledger entries).
    pub cdr_id: String,
    /// The customer's charge, settled against the live balance, when billing runs.
    pub settlement: Option<Settlement>,
    /// Messages to send with [`B2bua::release`] once the record is durable (empty unless
    /// [`Config::defer_hangup`]).
    pub deferred: Vec<Deferred>,
    /// Why, in the operator's words.
    pub reason: String,
    /// Every routing gateway tried, with its final code.
    pub tried: Vec<(String, u16)>,
    /// Answer to hangup.
    pub hold_time: Duration,
    /// INVITE received to the end of the attempt.
    pub duration: Duration,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A call attempt finished.
    Ended(CallEnd),
}

/// The B2BUA. See the crate documentation for how it is driven.
pub struct B2bua {
    config: Config,
    snapshot: Arc<RoutingSnapshot>,
    calls: HashMap<u64, Box<Call>>,
    by_a_tx: HashMap<TxId, u64>,
    by_b_tx: HashMap<TxId, u64>,
    /// Both legs' Call-IDs (shared with the legs: one allocation each).
    by_call_id: HashMap<Arc<str>, u64>,
    timers: BinaryHeap<Reverse<(Instant, u64, CallTimer)>>,
    /// Length at which stale timer entries are next dropped: twice what the last pass kept.
    timers_compact_at: usize,
    events: VecDeque<CallEvent>,
    next_id: u64,
    /// In-dialog requests forwarded to the other leg, by the forwarded client transaction.
    relays: HashMap<TxId, Relay>,
    counters: Counters,
    /// Nonces issued in 407 challenges and when.
    nonces: HashMap<String, Instant>,
    /// Refusing new calls (graceful shutdown): INVITEs get 503 with Retry-After.
    draining: bool,
    /// Hang-up messages held for the call being ended (moved into its [`CallEnd`]).
    deferred: Vec<Deferred>,
    /// Live balance control (`None`: calls are not billed here).
    billing: Option<Billing>,
    /// CDR ids made so far.
    cdr_seq: u64,
    /// Addresses of target host names, resolved by the node (the engine does no I/O).
    resolved: Arc<Resolved>,
}

/// Target host names (lower case) and their addresses, as the node last resolved them.
pub type Resolved = HashMap<String, Vec<IpAddr>>;

/// A re-INVITE, UPDATE or INFO received on one leg and forwarded on the other.
struct Relay {
    server_tx: TxId,
    request: Message,
    /// Where the forwarded request went, and its ACK once a re-INVITE is answered.
    dest: Peer,
    ack: Option<Bytes>,
}

impl B2bua {
    /// An engine routing over `snapshot`, with counters of its own.
    pub fn new(config: Config, snapshot: Arc<RoutingSnapshot>) -> B2bua {
        B2bua::with_counters(config, snapshot, Counters::default())
    }

    /// An engine sharing `counters` with the other engine shards of the switch.
    pub fn with_counters(
        config: Config,
        snapshot: Arc<RoutingSnapshot>,
        counters: Counters,
    ) -> B2bua {
        B2bua {
            config,
            snapshot,
            calls: HashMap::new(),
            by_a_tx: HashMap::new(),
            by_b_tx: HashMap::new(),
            by_call_id: HashMap::new(),
            timers: BinaryHeap::new(),
            timers_compact_at: 0,
            events: VecDeque::new(),
            next_id: 1,
            relays: HashMap::new(),
            counters,
            nonces: HashMap::new(),
            draining: false,
            deferred: Vec::new(),
            billing: None,
            cdr_seq: 0,
            resolved: Arc::default(),
        }
    }

    /// Bills calls against `billing`'s live balances (shared by the shards of the switch):
    /// a call is authorised at admission, reserves money in slices while it runs, is released
    /// when the money runs out, and settles at hangup.
    pub fn set_billing(&mut self, billing: Billing) {
        self.billing = Some(billing);
    }

    fn cdr_id(&mut self, now: Instant) -> String {
        self.cdr_seq += 1;
        format!(
            "{}{:x}-{:x}",
            self.config.cdr_id_prefix,
            self.unix_ms(now),
            self.cdr_seq
        )
    }

    /// The instant of a unix time in milliseconds (clamped to the engine's epoch).
    fn instant_of(&self, ms: i64) -> Instant {
        let (at, unix) = self.config.epoch;
        let delta = ms.saturating_sub(unix.saturating_mul(1000));
        at + Duration::from_millis(u64::try_from(delta).unwrap_or(0))
    }

    /// Swaps in the addresses of target host names (RFC 3263 §4.2 A/AAAA lookups, done by the
    /// node): a name with no address fails over as 503, as an unreachable gateway does.
    pub fn set_resolved(&mut self, resolved: Arc<Resolved>) {
        self.resolved = resolved;
    }

    /// Swaps in a new routing snapshot; calls in progress keep the decision they have.
    pub fn set_snapshot(&mut self, snapshot: Arc<RoutingSnapshot>) {
        self.snapshot = snapshot;
    }

    /// Live line and CPS counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops (or resumes) taking new calls: while draining, every new INVITE is answered 503
    /// with Retry-After and calls in progress go on.
    pub fn set_draining(&mut self, on: bool) {
        self.draining = on;
    }

    /// The calls in progress, for the current-call monitor.
    pub fn calls(&self) -> Vec<CallInfo> {
        let mut out: Vec<CallInfo> = self
            .calls
            .values()
            .map(|c| {
                let live = c.b.iter().rev().find(|b| !b.abandoned);
                let gateway = live
                    .and_then(|b| c.decision.candidates.get(b.candidate))
                    .map(|cand| cand.gateway.name.clone());
                CallInfo {
                    call_id: c.a.call_id.to_string(),
                    caller: c.decision.caller_in.clone(),
                    callee: c.decision.callee_in.clone(),
                    mapping_gateway: c
                        .decision
                        .mapping_gateway
                        .as_ref()
                        .map(|m| m.name.to_string()),
                    account: c.decision.account.as_ref().map(|a| a.name.to_string()),
                    routing_gateway: gateway,
                    state: match c.phase {
                        Phase::Trying => "trying",
                        Phase::Ringing => "ringing",
                        Phase::Connected => "connected",
                    },
                    start_ms: c.start_ms,
                    connect_ms: c.connected.map(|at| {
                        c.start_ms.saturating_add(
                            i64::try_from(at.saturating_duration_since(c.started).as_millis())
                                .unwrap_or(i64::MAX),
                        )
                    }),
                }
            })
            .collect();
        out.sort_by_key(|c| c.start_ms);
        out
    }

    /// Ends the call whose leg A Call-ID is `call_id` (an operator's hang-up): BYE both ways
    /// when answered, else 503 to the caller and CANCEL to the vendor. False when no such call.
    pub fn hangup(&mut self, now: Instant, call_id: &str, ep: &mut Endpoint) -> bool {
        let Some(&id) = self.by_call_id.get(call_id) else {
            return false;
        };
        self.hangup_ids(
            now,
            vec![id],
            "hung up by the operator",
            R::NormalClearing,
            ep,
        );
        true
    }

    /// Ends every call in progress now (shutdown after the drain period): answered calls get
    /// BYE on both legs, unanswered ones 503 on leg A and CANCEL on leg B.
    pub fn hangup_all(&mut self, now: Instant, ep: &mut Endpoint) {
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        self.hangup_ids(now, ids, "switch shutting down", R::Shutdown, ep);
    }

    fn hangup_ids(&mut self, now: Instant, ids: Vec<u64>, why: &str, reason: R, ep: &mut Endpoint) {
        for id in ids {
            let connected = self.calls.get(&id).is_some_and(|c| c.connected.is_some());
            if connected {
                self.bye_both(now, id, ep);
                self.end(now, id, 200, EndedBy::Switch, why, reason);
            } else {
                if let Some(call) = self.calls.get_mut(&id)
                    && let Some(leg) = call.live_b_mut()
                {
                    leg.abandoned = true;
                    let tx = leg.tx;
                    let _ = ep.cancel(now, tx);
                }
                self.fail_call_by(now, id, 503, EndedBy::Switch, why, reason, ep);
            }
        }
    }

    /// Sends messages held back by [`Config::defer_hangup`], once the call's record is safe.
    pub fn release(&mut self, now: Instant, deferred: Vec<Deferred>, ep: &mut Endpoint) {
        for d in deferred {
            match d {
                Deferred::Response { tx, response } => {
                    let _ = ep.send_response(now, tx, response);
                }
                Deferred::Request { request, dest } => {
                    if let Ok(msg) = Message::parse(request) {
                        let _ = ep.send_request(now, msg, dest);
                    }
                }
            }
        }
    }

    /// Sends a hang-up request now, or holds it for [`B2bua::release`].
    fn hangup_request(&mut self, now: Instant, ep: &mut Endpoint, request: Bytes, dest: Peer) {
        if self.config.defer_hangup {
            self.deferred.push(Deferred::Request { request, dest });
        } else if let Ok(msg) = Message::parse(request) {
            let _ = ep.send_request(now, msg, dest);
        }
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// The next finished call.
    pub fn poll_call_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// When [`B2bua::handle_timeout`] must next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, id, kind))) = self.timers.peek().copied() {
            if self
                .calls
                .get(&id)
                .is_some_and(|c| c.timer(kind) == Some(at))
            {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Fires the engine timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        while let Some(Reverse((at, id, kind))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let live = self
                .calls
                .get(&id)
                .is_some_and(|c| c.timer(kind) == Some(at));
            if !live {
                continue;
            }
            if let Some(c) = self.calls.get_mut(&id) {
                c.clear_timer(kind);
            }
            match kind {
                CallTimer::Invite | CallTimer::Ringing => {
                    match self.abandon_live_b(now, id, ep) {
                        // Not a single response from this address: the gateway's next one.
                        Some((idx, target, false))
                            if kind == CallTimer::Invite
                                && self.has_target_after(id, idx, target) =>
                        {
                            self.try_candidate(now, id, idx, target + 1, ep);
                        }
                        _ => self.failover(now, id, SipCode::REQUEST_TIMEOUT, ep),
                    }
                }
                CallTimer::MaxDuration => {
                    self.bye_both(now, id, ep);
                    self.end(
                        now,
                        id,
                        200,
                        EndedBy::Switch,
                        "maximum call duration reached",
                        R::MaxDuration,
                    );
                }
                CallTimer::Retransmit2xx => self.retransmit_2xx(now, id, ep),
                CallTimer::Billing => self.extend_grant(now, id),
                CallTimer::BalanceEnd => {
                    self.bye_both(now, id, ep);
                    self.end(
                        now,
                        id,
                        200,
                        EndedBy::Switch,
                        "balance exhausted",
                        R::BalanceExhausted,
                    );
                }
            }
        }
    }

    /// One event from the transaction layer.
    pub fn handle_event(&mut self, now: Instant, event: Event, ep: &mut Endpoint) {
        match event {
            Event::Request {
                tx: Some(tx),
                msg,
                source,
            } => match msg.method() {
                Some(Method::Invite) if msg.to_tag().is_none() => {
                    self.new_call(now, tx, msg, source, ep)
                }
                Some(Method::Bye) => self.on_bye(now, tx, &msg, ep),
                Some(Method::Options) => answer(now, ep, tx, &msg, 200, "OK", None),
                Some(Method::Invite | Method::Update | Method::Info) => {
                    self.relay_in_dialog(now, tx, msg, ep)
                }
                _ => answer(now, ep, tx, &msg, 405, "Method Not Allowed", None),
            },
            // ACK for our 2xx on leg A (leg B was ACKed when it answered).
            Event::Request { tx: None, msg, .. } => {
                if msg.method() == Some(&Method::Ack)
                    && let Some(call) = self
                        .by_call_id
                        .get(msg.call_id())
                        .and_then(|id| self.calls.get_mut(id))
                    && *call.a.call_id == *msg.call_id()
                {
                    call.ok_a = None;
                    call.clear_timer(CallTimer::Retransmit2xx);
                }
            }
            Event::Response { tx, msg } => {
                if let Some(&id) = self.by_b_tx.get(&tx) {
                    self.on_b_response(now, id, tx, &msg, ep);
                } else if self.relays.contains_key(&tx) {
                    self.on_relay_response(now, tx, &msg, ep);
                } else if msg.status().is_some_and(|c| (200..300).contains(&c))
                    && msg.cseq().method == Method::Invite
                    && let Some(peer) = ep.peer(tx)
                {
                    // A retransmitted 2xx of an INVITE whose call or relay is over (the
                    // transaction keeps it for 64·T1, RFC 6026): ACK it again, built from
                    // the 2xx itself, to where the INVITE went.
                    let branch = ep.new_branch();
                    let transport = peer.transport.via_name();
                    if let Some(ack) =
                        crate::call::ack_for_2xx(&msg, transport, &branch, self.config.local)
                    {
                        ep.send_stateless(peer, ack);
                    }
                }
            }
            Event::Cancelled { invite, .. } => self.on_cancel(now, invite, ep),
            Event::Timeout { tx } => self.no_answer(now, tx, SipCode::REQUEST_TIMEOUT, ep),
            Event::TransportError { tx } => {
                self.no_answer(now, tx, SipCode::SERVICE_UNAVAILABLE, ep)
            }
            Event::StrayResponse { .. } | Event::Malformed { .. } => {}
        }
    }

    /// Client transaction `tx` got no answer at all (Timer B/F or a transport error): a leg B
    /// attempt fails over; a relayed in-dialog request is answered `code` on its other leg.
    fn no_answer(&mut self, now: Instant, tx: TxId, code: SipCode, ep: &mut Endpoint) {
        if let Some(&id) = self.by_b_tx.get(&tx) {
            self.b_failed(now, id, tx, code, true, ep);
        } else if let Some(r) = self.relays.remove(&tx) {
            let phrase = code.reason_phrase();
            answer(
                now,
                ep,
                r.server_tx,
                &r.request,
                code.as_u16(),
                phrase,
                None,
            );
        }
    }

    fn unix(&self, now: Instant) -> i64 {
        let (at, unix) = self.config.epoch;
        let delta = now.saturating_duration_since(at).as_secs();
        unix.saturating_add(i64::try_from(delta).unwrap_or(i64::MAX))
    }

    fn new_call(&mut self, now: Instant, tx: TxId, msg: Message, source: Peer, ep: &mut Endpoint) {
        let callee = msg
            .request_uri()
            .and_then(|u| u.user())
            .unwrap_or_default()
            .to_owned();
        let caller = msg
            .from()
            .and_then(|f| f.uri().user())
            .unwrap_or_default()
            .to_owned();
        if self.draining {
            let tag = ep.new_tag();
            let resp = response_to(&msg, 503, "Service Unavailable", Some(&tag))
                .header("Retry-After", "30")
                .header("Reason", "SIP;cause=503;text=\"switch shutting down\"")
                .build();
            let _ = ep.send_response(now, tx, resp);
            self.rejected(
                now,
                &msg,
                source,
                caller,
                callee,
                503,
                "switch shutting down",
                None,
            );
            return;
        }
        // From and To are parsed lazily by the message layer; a call needs both readable
        // (RFC 3261 §25.1): 400 Bad From / Bad To.
        if let Err(e) = msg.check_addresses() {
            let reason = match e.verdict(true) {
                Verdict::Respond(_, reason) => reason,
                Verdict::Drop => "Bad Request",
            };
            answer(now, ep, tx, &msg, 400, reason, None);
            let why = e.to_string();
            self.rejected(now, &msg, source, caller, callee, 400, &why, None);
            return;
        }
        if msg.max_forwards() == Some(0) {
            answer(now, ep, tx, &msg, 483, "Too Many Hops", None);
            self.rejected(
                now,
                &msg,
                source,
                caller,
                callee,
                483,
                "too many hops",
                None,
            );
            return;
        }
        // Digest authentication (RFC 3261 §22.3): verify credentials when present.
        let mut digest_user = None;
        if let Some(creds) = msg.proxy_authorization() {
            match creds {
                Ok(c) => match self.check_credentials(now, &c) {
                    Ok(()) => digest_user = Some(c.username.clone()),
                    Err(stale) => {
                        self.challenge(now, tx, &msg, stale, ep);
                        return;
                    }
                },
                Err(_) => {
                    answer(now, ep, tx, &msg, 400, "Bad Proxy-Authorization", None);
                    self.rejected(
                        now,
                        &msg,
                        source,
                        caller,
                        callee,
                        400,
                        "malformed Proxy-Authorization",
                        None,
                    );
                    return;
                }
            }
        }
        let request = CallRequest {
            source: source.addr,
            digest_user: digest_user.as_deref(),
            caller: &caller,
            callee: &callee,
        };
        let unix = self.unix(now);
        let now_ms = self.unix_ms(now);
        // One lock for the decision and the lines and money it takes: no other shard can take
        // the last line or the last cent in between (order: counters, then billing).
        let counters = self.counters.clone();
        let billing = self.billing.clone();
        let mut table = counters.lock();
        let mut ledger = billing.as_ref().map(Billing::lock);
        let decision = route(
            &self.snapshot,
            &request,
            &table
                .view(&self.snapshot, unix)
                .with_ledger(ledger.as_deref()),
            unix,
        );
        if let Some(reject) = &decision.reject {
            drop(ledger);
            drop(table);
            let wants_digest = matches!(reject.reason, RejectReason::DigestRequired)
                || (digest_user.is_none()
                    && matches!(reject.reason, RejectReason::UnknownSource)
                    && self.snapshot.has_digest_gateways());
            if wants_digest {
                self.challenge(now, tx, &msg, false, ep);
                return;
            }
            let code = reject.code.as_u16();
            let reason_text = reject.reason.to_string();
            self.refuse(
                now,
                tx,
                &msg,
                code,
                reject.code.reason_phrase(),
                &reason_text,
                ep,
            );
            self.rejected(
                now,
                &msg,
                source,
                caller,
                callee,
                code,
                &reason_text,
                Some(decision),
            );
            return;
        }
        let grant = match ledger.as_deref_mut() {
            Some(l) => match authorise(l, &decision, now_ms) {
                Ok(g) => g,
                Err((code, text)) => {
                    drop(ledger);
                    drop(table);
                    let phrase = SipCode::new(code).map_or("Forbidden", SipCode::reason_phrase);
                    self.refuse(now, tx, &msg, code, phrase, &text, ep);
                    self.rejected(
                        now,
                        &msg,
                        source,
                        caller,
                        callee,
                        code,
                        &text,
                        Some(decision),
                    );
                    return;
                }
            },
            None => None,
        };
        drop(ledger);
        let mut held = Vec::new();
        if let Some(m) = &decision.mapping_gateway {
            held.push((Kind::MappingGateway, m.name.clone()));
        }
        if let Some(a) = &decision.account {
            held.push((Kind::Account, a.name.clone()));
        }
        for agent in &decision.agents {
            held.push((Kind::Account, agent.name.clone()));
        }
        for (kind, name) in &held {
            table.hold(*kind, name, unix);
        }
        drop(table);
        held.shrink_to_fit();
        let id = self.next_id;
        self.next_id += 1;
        let call_id: Arc<str> = msg.call_id().into();
        let call = Call {
            phase: Phase::Trying,
            decision,
            a: LegA {
                tx,
                dialog: crate::call::ADialog::of(&msg),
                invite: {
                    let mut msg = msg;
                    msg.shrink_to_fit();
                    Some(Box::new(msg))
                },
                source,
                to_tag: ep.new_tag(),
                call_id: call_id.clone(),
                cseq: 1,
            },
            // One attempt unless it fails over.
            b: Vec::with_capacity(1),
            started: now,
            start_ms: self.unix_ms(now),
            ringing: None,
            connected: None,
            timers: [0; crate::call::CALL_TIMERS],
            grant,
            ok_a: None,
            tried: Vec::new(),
            held,
        };
        self.calls.insert(id, Box::new(call));
        self.by_a_tx.insert(tx, id);
        self.by_call_id.insert(call_id, id);
        self.try_candidate(now, id, 0, 0, ep);
    }

    /// Answers a refused INVITE with `code` and a Reason header (RFC 3326) naming the cause.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        now: Instant,
        tx: TxId,
        msg: &Message,
        code: u16,
        phrase: &str,
        text: &str,
        ep: &mut Endpoint,
    ) {
        let reason = format!("SIP;cause={code};text=\"{}\"", text.replace('"', "'"));
        answer(now, ep, tx, msg, code, phrase, Some(&reason));
    }

    /// Reserves the next slice of a running call's money and re-arms its billing timers.
    fn extend_grant(&mut self, now: Instant, id: u64) {
        let now_ms = self.unix_ms(now);
        let Some(billing) = self.billing.clone() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(grant) = call.grant.as_mut() else {
            return;
        };
        let _ = billing.lock().book.extend(grant, now_ms);
        let (ext, hard) = (grant.extend_at(), grant.hard_end_at());
        self.arm_billing(id, now_ms, ext, hard);
    }

    /// Arms the slice (`extend_at`) and release (`hard_end_at`) timers of a billed call.
    fn arm_billing(&mut self, id: u64, now_ms: i64, ext: Option<i64>, hard: Option<i64>) {
        match ext {
            // Never sooner than 250 ms: an extension that was not due yet is retried later.
            Some(ms) => self.arm(
                id,
                self.instant_of(ms.max(now_ms.saturating_add(250))),
                CallTimer::Billing,
            ),
            None => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.clear_timer(CallTimer::Billing);
                }
            }
        }
        if let Some(ms) = hard {
            self.arm(id, self.instant_of(ms), CallTimer::BalanceEnd);
        }
    }

    /// Records a call refused before it had legs (every attempt gets a CDR).
    #[allow(clippy::too_many_arguments)]
    fn rejected(
        &mut self,
        now: Instant,
        msg: &Message,
        source: Peer,
        caller: String,
        callee: String,
        code: u16,
        why: &str,
        decision: Option<RouteDecision>,
    ) {
        let end_reason = if self.draining {
            R::Shutdown
        } else {
            R::Rejected
        };
        let cdr_id = self.cdr_id(now);
        self.events.push_back(CallEvent::Ended(CallEnd {
            end_reason,
            cdr_id,
            settlement: None,
            call_id: msg.call_id().to_owned(),
            source: source.addr,
            caller,
            callee,
            decision: decision.map(Box::new),
            carrier: None,
            start_ms: self.unix_ms(now),
            pdd: None,
            answer_after: None,
            final_code: code,
            connected: false,
            ended_by: EndedBy::Switch,
            deferred: Vec::new(),
            reason: why.to_owned(),
            tried: Vec::new(),
            hold_time: Duration::ZERO,
            duration: Duration::ZERO,
        }));
    }

    fn unix_ms(&self, now: Instant) -> i64 {
        let (at, unix) = self.config.epoch;
        let delta = now.saturating_duration_since(at).as_millis();
        unix.saturating_mul(1000)
            .saturating_add(i64::try_from(delta).unwrap_or(i64::MAX))
    }

    /// `Ok` when the credentials answer a fresh nonce of ours for a known user with the right
    /// password; `Err(stale)` otherwise (`stale` when only the nonce has expired).
    fn check_credentials(&mut self, now: Instant, c: &Credentials) -> Result<(), bool> {
        let issued = self.nonces.get(&c.nonce).copied();
        let Some(issued) = issued else {
            return Err(false);
        };
        if now.saturating_duration_since(issued) > NONCE_LIFETIME {
            self.nonces.remove(&c.nonce);
            return Err(true);
        }
        if c.realm != self.config.realm {
            return Err(false);
        }
        let Some((_, password)) = self.snapshot.digest_credentials(&c.username) else {
            return Err(false);
        };
        if verify_digest(c, "INVITE", password) {
            Ok(())
        } else {
            Err(false)
        }
    }

    /// Answers 407 with a fresh nonce (RFC 3261 §22.3, RFC 7616 qop=auth).
    fn challenge(&mut self, now: Instant, tx: TxId, msg: &Message, stale: bool, ep: &mut Endpoint) {
        self.nonces
            .retain(|_, at| now.saturating_duration_since(*at) <= NONCE_LIFETIME);
        let nonce = format!("{}{}", ep.new_tag(), ep.new_tag());
        self.nonces.insert(nonce.clone(), now);
        let mut ch = Challenge::new(&self.config.realm, &nonce, Algorithm::Md5);
        ch.stale = stale;
        let tag = ep.new_tag();
        let resp = response_to(msg, 407, "Proxy Authentication Required", Some(&tag))
            .header("Proxy-Authenticate", ch.to_header_value())
            .build();
        let _ = ep.send_response(now, tx, resp);
    }

    /// Sends leg B to candidate `idx` at its first usable target from `target` on; a candidate
    /// that cannot be reached is failed over at once.
    fn try_candidate(
        &mut self,
        now: Instant,
        id: u64,
        idx: usize,
        target: usize,
        ep: &mut Endpoint,
    ) {
        let local = self.config.local;
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(cand) = call.decision.candidates.get(idx) else {
            self.fail_call(now, id, 404, "no routing gateway left", ep);
            return;
        };
        let gw = cand.gateway.clone();
        let resolved = &self.resolved;
        let dest = gw
            .targets
            .iter()
            .enumerate()
            .skip(target)
            .find_map(|(i, t)| {
                let ip: IpAddr = match t.host.parse() {
                    Ok(ip) => ip,
                    // A name: its first address of our socket's family.
                    Err(_) => resolved
                        .get(&t.host.to_ascii_lowercase())?
                        .iter()
                        .find(|a| a.is_ipv4() == local.is_ipv4())
                        .copied()?,
                };
                let transport = match t.transport {
                    GwTransport::Udp => Transport::Udp,
                    GwTransport::Tcp => Transport::Tcp,
                };
                Some((
                    Peer {
                        transport,
                        addr: SocketAddr::new(ip, t.port),
                    },
                    t.host.clone(),
                    t.port,
                    i,
                ))
            });
        let Some((dest, host, port, target)) = dest else {
            // No usable target left (a host name with no address of our family, say).
            if let Some(c) = self.calls.get_mut(&id) {
                push_exact(&mut c.tried, (gw.name.clone(), 503));
            }
            self.next_or_stop(now, id, idx, SipCode::SERVICE_UNAVAILABLE, ep);
            return;
        };
        let tag = ep.new_tag();
        let branch = ep.new_branch();
        let b_call_id: Arc<str> = format!(
            "{}{}@{}",
            self.config.call_id_prefix,
            ep.new_tag(),
            crate::call::host_of(local)
        )
        .into();
        let ruri = vendor_uri(cand.callee.as_str(), &host, port);
        let leg = LegB {
            tx: TxId(0),
            candidate: idx,
            target,
            call_id: b_call_id.clone(),
            from: format!(
                "<sip:{}@{}>;tag={tag}",
                cand.caller,
                crate::call::host_of(local)
            )
            .into(),
            ruri: ruri.into(),
            dest,
            remote_tag: None,
            remote_target: None,
            cseq: 1,
            heard: false,
            provisional: false,
            abandoned: false,
            held: crate::call::Held::new(),
        };
        let Some(a_invite) = &call.a.invite else {
            // Leg A was answered already: there is nothing left to try.
            return;
        };
        let mf = a_invite.max_forwards().map_or(70, |m| m.saturating_sub(1));
        let pai = match gw.p_asserted_identity {
            tollswitch_model::provisioning::PaiMode::Pass => {
                a_invite.header(tollswitch_sip_msg::HeaderName::PAssertedIdentity)
            }
            _ => None,
        };
        let bytes = crate::call::leg_b_invite(a_invite, &leg, &branch, local, mf, pai);
        let Ok(invite) = Message::parse(bytes) else {
            self.fail_call(now, id, 500, "could not build the leg B INVITE", ep);
            return;
        };
        match ep.send_request(now, invite, dest) {
            Ok(tx) => {
                let timeout = gw
                    .invite_timeout_secs
                    .map_or(self.config.invite_timeout, |s| {
                        Duration::from_secs(u64::from(s))
                    });
                let mut held = crate::call::Held::new();
                held.push((Kind::RoutingGateway, Arc::from(gw.name.as_str())));
                for g in &gw.groups {
                    held.push((Kind::GatewayGroup, g.name.clone()));
                }
                held.shrink_to_fit();
                {
                    let unix = self.unix(now);
                    let mut table = self.counters.lock();
                    for (kind, name) in &held {
                        table.hold(*kind, name, unix);
                    }
                }
                if let Some(c) = self.calls.get_mut(&id) {
                    c.b.push(LegB { tx, held, ..leg });
                    c.phase = Phase::Trying;
                }
                self.by_b_tx.insert(tx, id);
                self.by_call_id.insert(b_call_id, id);
                self.arm(id, now + timeout, CallTimer::Invite);
            }
            Err(_) => self.fail_call(
                now,
                id,
                500,
                "transaction layer refused the leg B INVITE",
                ep,
            ),
        }
    }

    fn on_b_response(&mut self, now: Instant, id: u64, tx: TxId, msg: &Message, ep: &mut Endpoint) {
        let Some(code) = msg.status() else { return };
        let now_ms = self.unix_ms(now);
        let local = self.config.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(leg_idx) = call.b.iter().position(|b| b.tx == tx) else {
            return;
        };
        if call.b[leg_idx].abandoned {
            if (200..300).contains(&code) {
                // A late answer from an attempt we gave up on: ACK it and hang up at once.
                let leg = &mut call.b[leg_idx];
                leg.remote_tag = msg.to_tag().map(Box::from);
                leg.remote_target = msg.contact().map(|c| Box::from(c.uri().as_str()));
                let ack = leg.request(&Method::Ack, leg.cseq, &ep.new_branch(), local);
                let bye = leg.request(&Method::Bye, leg.cseq + 1, &ep.new_branch(), local);
                let dest = leg.dest;
                ep.send_stateless(dest, ack);
                if let Ok(bye) = Message::parse(bye) {
                    let _ = ep.send_request(now, bye, dest);
                }
            }
            return;
        }
        call.b[leg_idx].heard = true;
        if code == 100 {
            return;
        }
        let leg = &mut call.b[leg_idx];
        if let Some(t) = msg.to_tag() {
            leg.remote_tag = Some(t.into());
        }
        if code < 200 {
            leg.provisional = true;
            if call.ringing.is_none() {
                call.ringing = Some(now);
            }
            let was_trying = call.phase == Phase::Trying;
            call.phase = Phase::Ringing;
            call.clear_timer(CallTimer::Invite);
            relay_to_a(now, ep, &call.a, msg, code, local);
            if was_trying {
                let ringing = call
                    .decision
                    .candidates
                    .get(leg_idx_candidate(call, leg_idx))
                    .and_then(|c| {
                        c.gateway
                            .ringing_timeout_secs
                            .map(|s| Duration::from_secs(u64::from(s)))
                    });
                let at = now + ringing.unwrap_or(self.config.ringing_timeout);
                self.arm(id, at, CallTimer::Ringing);
            }
            return;
        }
        if code < 300 {
            leg.remote_target = msg.contact().map(|c| Box::from(c.uri().as_str()));
            let ack = leg.request(&Method::Ack, leg.cseq, &ep.new_branch(), local);
            let dest = leg.dest;
            ep.send_stateless(dest, ack);
            if call.phase != Phase::Connected {
                call.phase = Phase::Connected;
                call.connected = Some(now);
                let billing = call.grant.as_mut().map(|g| {
                    g.answer(now_ms);
                    (g.extend_at(), g.hard_end_at())
                });
                let gw = call
                    .decision
                    .candidates
                    .get(leg.candidate)
                    .map(|c| c.gateway.name.clone())
                    .unwrap_or_default();
                push_exact(&mut call.tried, (gw, code));
                let ok = relay_to_a(now, ep, &call.a, msg, code, local);
                // Leg A has its final response: the INVITE is no longer needed, and neither
                // are the candidates after the one that answered.
                call.a.invite = None;
                call.decision.candidates.truncate(leg.candidate + 1);
                call.decision.candidates.shrink_to_fit();
                call.decision.skipped = Vec::new();
                let t1 = ep.config().t1;
                call.ok_a = Some(Box::new((ok, t1, now)));
                call.clear_timer(CallTimer::Invite);
                call.clear_timer(CallTimer::Ringing);
                let limit = call
                    .decision
                    .max_call_duration_secs
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s)))
                    .or(self.config.max_call_duration);
                if a_is_unreliable(call) {
                    self.arm(id, now + t1, CallTimer::Retransmit2xx);
                }
                if let Some(limit) = limit {
                    self.arm(id, now + limit, CallTimer::MaxDuration);
                }
                if let Some((ext, hard)) = billing {
                    self.arm_billing(id, now_ms, ext, hard);
                }
            }
            return;
        }
        self.b_failed(
            now,
            id,
            tx,
            SipCode::new(code).unwrap_or(SipCode::SERVER_INTERNAL_ERROR),
            false,
            ep,
        );
    }

    /// Leg B `tx` ended without an answer: record it and fail over. `silent`: the address
    /// never answered at all (Timer B, transport error), so the gateway's next address is tried
    /// before the next gateway.
    fn b_failed(
        &mut self,
        now: Instant,
        id: u64,
        tx: TxId,
        code: SipCode,
        silent: bool,
        ep: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(leg) = call.b.iter_mut().find(|b| b.tx == tx && !b.abandoned) else {
            return;
        };
        leg.abandoned = true;
        release_leg(&self.counters, leg);
        let gw = call
            .decision
            .candidates
            .get(leg.candidate)
            .map(|c| c.gateway.name.clone())
            .unwrap_or_default();
        let (idx, target, heard) = (leg.candidate, leg.target, leg.heard);
        push_exact(&mut call.tried, (gw, code.as_u16()));
        call.clear_timer(CallTimer::Invite);
        call.clear_timer(CallTimer::Ringing);
        if silent && !heard && self.has_target_after(id, idx, target) {
            self.try_candidate(now, id, idx, target + 1, ep);
            return;
        }
        self.next_or_stop(now, id, idx, code, ep);
    }

    /// True when candidate `idx` of call `id` has an address after `target`.
    fn has_target_after(&self, id: u64, idx: usize, target: usize) -> bool {
        self.calls
            .get(&id)
            .and_then(|c| c.decision.candidates.get(idx))
            .is_some_and(|c| c.gateway.targets.len() > target + 1)
    }

    /// Gives up on the live leg B (timeout): CANCEL it (deferred until a provisional, RFC 3261
    /// §9.1) and record the assumed code. Returns its candidate, address index and whether it
    /// ever answered anything.
    fn abandon_live_b(
        &mut self,
        now: Instant,
        id: u64,
        ep: &mut Endpoint,
    ) -> Option<(usize, usize, bool)> {
        let call = self.calls.get_mut(&id)?;
        let leg = call.live_b_mut()?;
        leg.abandoned = true;
        release_leg(&self.counters, leg);
        let tx = leg.tx;
        let (idx, target, heard) = (leg.candidate, leg.target, leg.heard);
        let _ = ep.cancel(now, tx);
        let gw = call
            .decision
            .candidates
            .get(idx)
            .map(|c| c.gateway.name.clone())
            .unwrap_or_default();
        push_exact(&mut call.tried, (gw, 408));
        Some((idx, target, heard))
    }

    /// After a timeout: the next candidate or the end of the call.
    fn failover(&mut self, now: Instant, id: u64, code: SipCode, ep: &mut Endpoint) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let idx = call.b.last().map_or(0, |b| b.candidate);
        self.next_or_stop(now, id, idx, code, ep);
    }

    fn next_or_stop(
        &mut self,
        now: Instant,
        id: u64,
        idx: usize,
        code: SipCode,
        ep: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        match next_after(&call.decision, idx, code) {
            Next::Continue(next) => self.try_candidate(now, id, next, 0, ep),
            Next::Stop(final_code) => {
                let c = final_code.as_u16();
                self.fail_call(now, id, c, "failover stopped", ep);
            }
        }
    }

    /// Answers leg A with a final failure and ends the call.
    fn fail_call(&mut self, now: Instant, id: u64, code: u16, why: &str, ep: &mut Endpoint) {
        let ringing = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Ringing);
        let (ended_by, reason) = match code {
            487 => (EndedBy::Caller, R::Cancelled),
            408 if ringing => (EndedBy::Switch, R::NoAnswer),
            408 => (EndedBy::Switch, R::Timeout),
            _ => (EndedBy::Callee, R::RoutingFailed),
        };
        self.fail_call_by(now, id, code, ended_by, why, reason, ep);
    }

    #[allow(clippy::too_many_arguments)]
    fn fail_call_by(
        &mut self,
        now: Instant,
        id: u64,
        code: u16,
        ended_by: EndedBy,
        why: &str,
        reason: R,
        ep: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let phrase = SipCode::new(code).map_or("Failure", SipCode::reason_phrase);
        let Some(invite) = &call.a.invite else {
            // Already answered: nothing more to say on leg A's INVITE.
            self.end(now, id, code, ended_by, why, reason);
            return;
        };
        let mut resp = response_to(invite, code, phrase, Some(&call.a.to_tag));
        if ended_by == EndedBy::Switch && code == 503 {
            resp.push_header("Retry-After", "30");
        }
        let _ = ep.send_response(now, call.a.tx, resp.build());
        self.end(now, id, code, ended_by, why, reason);
    }

    fn on_cancel(&mut self, now: Instant, invite: TxId, ep: &mut Endpoint) {
        let Some(&id) = self.by_a_tx.get(&invite) else {
            return;
        };
        if let Some(call) = self.calls.get_mut(&id)
            && let Some(leg) = call.live_b_mut()
        {
            leg.abandoned = true;
            let tx = leg.tx;
            // If leg B has already answered, the CANCEL is too late and its 2xx, arriving on an
            // abandoned attempt, is ACKed and hung up.
            let _ = ep.cancel(now, tx);
        }
        self.fail_call(now, id, 487, "cancelled by the caller", ep);
    }

    fn on_bye(&mut self, now: Instant, tx: TxId, msg: &Message, ep: &mut Endpoint) {
        let Some(&id) = self.by_call_id.get(msg.call_id()) else {
            answer(
                now,
                ep,
                tx,
                msg,
                481,
                "Call/Transaction Does Not Exist",
                None,
            );
            return;
        };
        if self.config.defer_hangup {
            let tag = ep.new_tag();
            let response = response_to(msg, 200, "OK", Some(&tag)).build();
            self.deferred.push(Deferred::Response { tx, response });
        } else {
            answer(now, ep, tx, msg, 200, "OK", None);
        }
        let local = self.config.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if *call.a.call_id == *msg.call_id() {
            let bye = call.b.iter_mut().rev().find(|b| !b.abandoned).map(|leg| {
                leg.cseq += 1;
                (
                    leg.request(&Method::Bye, leg.cseq, &ep.new_branch(), local),
                    leg.dest,
                )
            });
            if let Some((bye, dest)) = bye {
                self.hangup_request(now, ep, bye, dest);
            }
            self.end(
                now,
                id,
                200,
                EndedBy::Caller,
                "caller hung up",
                R::NormalClearing,
            );
        } else {
            call.a.cseq += 1;
            let bye = call.a.request(&Method::Bye, &ep.new_branch(), local);
            let dest = call.a.source;
            self.hangup_request(now, ep, bye, dest);
            self.end(
                now,
                id,
                200,
                EndedBy::Callee,
                "callee hung up",
                R::NormalClearing,
            );
        }
    }

    /// Forwards a re-INVITE, UPDATE or INFO to the other leg of its call (topology hidden: the
    /// other leg's own dialog identifiers, CSeq and Contact; the body carried).
    fn relay_in_dialog(&mut self, now: Instant, tx: TxId, msg: Message, ep: &mut Endpoint) {
        let Some(&id) = self.by_call_id.get(msg.call_id()) else {
            answer(
                now,
                ep,
                tx,
                &msg,
                481,
                "Call/Transaction Does Not Exist",
                None,
            );
            return;
        };
        let local = self.config.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let body = msg
            .content_type()
            .filter(|_| !msg.body().is_empty())
            .map(|ct| (ct, msg.body_bytes()));
        let branch = ep.new_branch();
        let (bytes, dest, ack) = if *call.a.call_id == *msg.call_id() {
            let Some(leg) = call
                .b
                .iter_mut()
                .rev()
                .find(|b| !b.abandoned && b.remote_tag.is_some())
            else {
                answer(now, ep, tx, &msg, 491, "Request Pending", None);
                return;
            };
            leg.cseq += 1;
            let bytes = leg.request_with(&method, leg.cseq, &branch, local, body);
            let ack = (method == Method::Invite)
                .then(|| leg.request(&Method::Ack, leg.cseq, &ep.new_branch(), local));
            (bytes, leg.dest, ack)
        } else {
            call.a.cseq += 1;
            let bytes = call.a.request_with(&method, &branch, local, body);
            let ack = (method == Method::Invite)
                .then(|| call.a.request(&Method::Ack, &ep.new_branch(), local));
            (bytes, call.a.source, ack)
        };
        let Ok(forward) = Message::parse(bytes) else {
            answer(now, ep, tx, &msg, 500, "Server Internal Error", None);
            return;
        };
        match ep.send_request(now, forward, dest) {
            Ok(ctx) => {
                self.relays.insert(
                    ctx,
                    Relay {
                        server_tx: tx,
                        request: msg,
                        dest,
                        ack,
                    },
                );
            }
            Err(_) => answer(now, ep, tx, &msg, 500, "Server Internal Error", None),
        }
    }

    fn on_relay_response(&mut self, now: Instant, tx: TxId, msg: &Message, ep: &mut Endpoint) {
        let Some(code) = msg.status() else { return };
        if code < 200 {
            return;
        }
        let Some(relay) = self.relays.remove(&tx) else {
            return;
        };
        if (200..300).contains(&code)
            && let Some(ack) = &relay.ack
        {
            ep.send_stateless(relay.dest, ack.clone());
        }
        let phrase = msg
            .reason_phrase()
            .filter(|p| !p.is_empty())
            .unwrap_or("OK");
        let mut b = response_to(&relay.request, code, phrase, None);
        b.push_header("Contact", contact(self.config.local));
        let resp = match msg.content_type() {
            Some(ct) if !msg.body().is_empty() => b.body(ct, msg.body_bytes()).build(),
            _ => b.build(),
        };
        let _ = ep.send_response(now, relay.server_tx, resp);
    }

    fn bye_both(&mut self, now: Instant, id: u64, ep: &mut Endpoint) {
        let local = self.config.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let to_b = call.b.iter_mut().rev().find(|b| !b.abandoned).map(|leg| {
            leg.cseq += 1;
            (
                leg.request(&Method::Bye, leg.cseq, &ep.new_branch(), local),
                leg.dest,
            )
        });
        call.a.cseq += 1;
        let to_a = (
            call.a.request(&Method::Bye, &ep.new_branch(), local),
            call.a.source,
        );
        if let Some((bye, dest)) = to_b {
            self.hangup_request(now, ep, bye, dest);
        }
        self.hangup_request(now, ep, to_a.0, to_a.1);
    }

    fn arm(&mut self, id: u64, at: Instant, kind: CallTimer) {
        if let Some(c) = self.calls.get_mut(&id) {
            let at = c.set_timer(kind, at);
            self.timers.push(Reverse((at, id, kind)));
        }
        // Timers stopped early (the ringing timeout of an answered call, say) stay in the heap
        // until their deadline; drop them when they outnumber the live ones. Each pass keeps
        // at most half the entries (O(1) per arm); the live bound caps how far apart passes
        // may be.
        let bound = 2 * crate::call::CALL_TIMERS * self.calls.len() + 1024;
        if self.timers.len() > self.timers_compact_at.max(1024).min(bound) {
            let calls = &self.calls;
            self.timers.retain(|Reverse((at, id, kind))| {
                calls.get(id).is_some_and(|c| c.timer(*kind) == Some(*at))
            });
            self.timers_compact_at = 2 * self.timers.len();
        }
    }

    /// RFC 3261 §13.3.1.4: re-send the 2xx on leg A (T1 doubling to T2) until the ACK; with no
    /// ACK after 64·T1 the call is torn down.
    fn retransmit_2xx(&mut self, now: Instant, id: u64, ep: &mut Endpoint) {
        let (t2, limit) = (ep.config().t2, ep.config().timeout_64t1());
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some((bytes, interval, first)) = call.ok_a.as_deref().cloned() else {
            return;
        };
        if now.saturating_duration_since(first) >= limit {
            call.ok_a = None;
            self.bye_both(now, id, ep);
            self.end(
                now,
                id,
                408,
                EndedBy::Switch,
                "no ACK for the 2xx on leg A",
                R::Timeout,
            );
            return;
        }
        let _ = ep.send_response(now, call.a.tx, bytes.clone());
        let next = (interval * 2).min(t2);
        call.ok_a = Some(Box::new((bytes, next, first)));
        self.arm(id, now + next, CallTimer::Retransmit2xx);
    }

    fn end(
        &mut self,
        now: Instant,
        id: u64,
        code: u16,
        ended_by: EndedBy,
        why: &str,
        end_reason: R,
    ) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        let hold = call
            .connected
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        let cdr_id = self.cdr_id(now);
        let settlement = match (call.grant.take(), &self.billing) {
            (Some(grant), Some(billing)) => {
                let mut l = billing.lock();
                if call.connected.is_some() {
                    let hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
                    l.book.settle(grant, hold_ms, OpId(cdr_id.clone())).ok()
                } else {
                    let _ = l.book.cancel(grant);
                    None
                }
            }
            _ => None,
        };
        {
            let mut table = self.counters.lock();
            for (kind, name) in &call.held {
                table.release(*kind, name);
            }
        }
        for leg in &mut call.b {
            release_leg(&self.counters, leg);
        }
        self.by_a_tx.remove(&call.a.tx);
        self.by_call_id.remove(&call.a.call_id);
        for b in &call.b {
            self.by_b_tx.remove(&b.tx);
            self.by_call_id.remove(&b.call_id);
        }
        let hold_time = call
            .connected
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        let carrier = if call.connected.is_some() {
            call.b
                .iter()
                .rev()
                .find(|b| !b.abandoned)
                .map(|b| b.candidate)
        } else {
            call.b.last().map(|b| b.candidate)
        };
        let since = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(call.started));
        self.events.push_back(CallEvent::Ended(CallEnd {
            call_id: call.a.call_id.to_string(),
            source: call.a.source.addr,
            caller: call.decision.caller_in.clone(),
            callee: call.decision.callee_in.clone(),
            carrier,
            start_ms: call.start_ms,
            pdd: since(call.ringing),
            answer_after: since(call.connected),
            decision: Some(Box::new(call.decision)),
            final_code: code,
            connected: call.connected.is_some(),
            ended_by,
            end_reason,
            cdr_id,
            settlement,
            deferred: std::mem::take(&mut self.deferred),
            reason: why.to_owned(),
            tried: call.tried,
            hold_time,
            duration: now.saturating_duration_since(call.started),
        }));
    }
}

/// Pushes without the growth that would round a one-element list of a long-lived call up to
/// four elements.
fn push_exact<T>(v: &mut Vec<T>, item: T) {
    v.reserve_exact(1);
    v.push(item);
}

/// Releases the routing gateway and group lines an attempt holds, at most once.
fn release_leg(counters: &Counters, leg: &mut LegB) {
    if leg.held.is_empty() {
        return;
    }
    let mut table = counters.lock();
    for (kind, name) in leg.held.drain(..) {
        table.release(kind, &name);
    }
}

fn leg_idx_candidate(call: &Call, leg_idx: usize) -> usize {
    call.b.get(leg_idx).map_or(0, |b| b.candidate)
}

/// Answers a server transaction, optionally with a Reason header (RFC 3326).
fn answer(
    now: Instant,
    ep: &mut Endpoint,
    tx: TxId,
    req: &Message,
    code: u16,
    phrase: &str,
    reason: Option<&str>,
) {
    let tag = ep.new_tag();
    let mut b = response_to(req, code, phrase, Some(&tag));
    if let Some(r) = reason {
        b.push_header("Reason", r);
    }
    let _ = ep.send_response(now, tx, b.build());
}

fn a_is_unreliable(call: &Call) -> bool {
    !call.a.source.transport.is_reliable()
}

/// Relays a provisional or 2xx from leg B to leg A, with our Contact and B's body; returns
/// what was sent.
fn relay_to_a(
    now: Instant,
    ep: &mut Endpoint,
    a: &LegA,
    msg: &Message,
    code: u16,
    local: SocketAddr,
) -> Bytes {
    let phrase = msg
        .reason_phrase()
        .filter(|p| !p.is_empty())
        .unwrap_or("OK");
    let Some(invite) = &a.invite else {
        return Bytes::new();
    };
    let mut b = response_to(invite, code, phrase, Some(&a.to_tag));
    b.push_header("Contact", contact(local));
    let resp = match msg.content_type() {
        Some(ct) if !msg.body().is_empty() => b.body(ct, msg.body_bytes()).build(),
        _ => b.build(),
    };
    let _ = ep.send_response(now, a.tx, resp.clone());
    resp
}

/// Authorises a routed call against the live balance: `Ok(None)` when there is nothing to bill
/// (no customer rate), `Err((code, text))` when the call must be refused.
fn authorise(
    l: &mut crate::billing::Ledger,
    d: &RouteDecision,
    now_ms: i64,
) -> Result<Option<tollswitch_billing::Grant>, (u16, String)> {
    let (Some(rate), Some(account)) = (&d.customer_rate, &d.account) else {
        return Ok(None);
    };
    let tariff = Tariff::new(
        rate.price,
        rate.first_increment_secs,
        rate.next_increment_secs,
        rate.connect_fee,
    )
    .map_err(|e| {
        (
            500,
            format!("customer rate {} unusable: {e}", rate.prefix.as_str()),
        )
    })?
    .with_prefix(rate.prefix.as_str());
    let tariff = match &rate.area {
        Some(a) => tariff.with_area(a.as_ref()),
        None => tariff,
    };
    let callee = d.callee_out.as_ref().map_or("", |n| n.as_str());
    let tariff = l.book.config().tariff_for(callee, tariff);
    let Some(id) = l.id(&account.name) else {
        return Err((
            403,
            format!("account {} is unknown to billing", account.name),
        ));
    };
    l.book
        .authorise(id, &tariff, now_ms)
        .map(Some)
        .map_err(|r| (r.code().as_u16(), r.to_string()))
}
