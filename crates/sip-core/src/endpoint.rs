//! The endpoint: demultiplexes messages to transactions and runs their state machines.

use crate::config::Config;
use crate::key::{KeyMethod, MergeKey, TxKey};
use crate::timer::{Deadlines, Timer, TimerTable};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tollswitch_sip_msg::{
    HeaderName, Host, Message, MessageBuilder, Method, ParseError, ParseOptions, reject_response,
    response_to,
};

/// The transport a message travels over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so requests and final responses are retransmitted.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// True for stream transports (no retransmissions, zero wait timers).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The name used in Via headers.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// A remote address and the transport to reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Remote socket address.
    pub addr: SocketAddr,
}

/// A transaction handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: Peer,
    /// The message.
    pub payload: Bytes,
    /// The transaction it belongs to; a send failure is reported back with
    /// [`Endpoint::handle_transport_error`].
    pub tx: Option<TxId>,
}

/// What the transaction layer tells its user (the call engine).
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request. `tx` is its server transaction; `None` for an ACK that matched no
    /// transaction (the ACK of a 2xx, which belongs to the dialog).
    Request {
        /// Server transaction, if any.
        tx: Option<TxId>,
        /// The request.
        msg: Message,
        /// Where it came from.
        source: Peer,
    },
    /// A response for one of our client transactions.
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response.
        msg: Message,
    },
    /// A response matching no transaction: typically a retransmitted 2xx after the client
    /// transaction ended; the dialog layer re-sends its ACK.
    StrayResponse {
        /// The response.
        msg: Message,
        /// Where it came from.
        source: Peer,
    },
    /// A CANCEL matched a pending INVITE server transaction. The CANCEL has been answered
    /// 200; the user should answer the INVITE (487) and stop its work (RFC 3261 §9.2).
    Cancelled {
        /// The INVITE server transaction.
        invite: TxId,
        /// The CANCEL request.
        msg: Message,
    },
    /// Timer B, F (no final response) or H (no ACK) fired.
    Timeout {
        /// The transaction that timed out.
        tx: TxId,
    },
    /// A send failed; the transaction is terminated (RFC 3261 §17.1.4, §17.2.4).
    TransportError {
        /// The transaction.
        tx: TxId,
    },
    /// A message could not be parsed. A 400 (or 505, 513) was sent back when a response was
    /// possible.
    Malformed {
        /// Where it came from.
        source: Peer,
        /// What was wrong.
        error: ParseError,
    },
}

/// The result of [`Endpoint::poll_output`].
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // events carry the parsed message by value, no allocation
pub enum Output {
    /// Send these bytes.
    Transmit(Transmit),
    /// Something happened.
    Event(Event),
    /// Nothing more to do until this instant (or until new input, if `None`).
    Timeout(Option<Instant>),
}

/// Why a user call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No such (live) transaction.
    #[error("unknown or terminated transaction")]
    Unknown,
    /// The request has no RFC 3261 branch in its top Via.
    #[error("request has no RFC 3261 branch in its top Via")]
    NoBranch,
    /// A transaction with the same key exists.
    #[error("a transaction with this branch already exists")]
    Duplicate,
    /// ACK is not sent through a transaction (RFC 3261 §17.1.1.3, §13.2.2.4).
    #[error("ACK is sent statelessly")]
    Ack,
    /// The message is not what this call expects (a response where a request is needed, a
    /// status line that does not parse …).
    #[error("wrong kind of message for this call")]
    WrongMessage,
    /// The transaction's state does not allow this (e.g. a second final response).
    #[error("transaction state does not allow this")]
    InvalidState,
}

/// Outcome of [`Endpoint::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// CANCEL sent in this client transaction.
    Sent(TxId),
    /// No provisional response yet: the CANCEL goes out when one arrives (RFC 3261 §9.1).
    Deferred,
    /// The INVITE already has a final response; nothing to cancel.
    TooLate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the RFC's own names for the four machines
enum Kind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// Transaction states (RFC 3261 Figures 5–8, RFC 6026 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Client INVITE sent, nothing heard.
    Calling,
    /// Non-INVITE sent or received, no response yet.
    Trying,
    /// A provisional response was sent or received.
    Proceeding,
    /// A final non-2xx (or any final for non-INVITE) was sent or received.
    Completed,
    /// Server INVITE: the ACK arrived.
    Confirmed,
    /// INVITE: a 2xx was sent or received (RFC 6026).
    Accepted,
}

/// One transaction. Kept small (it is boxed; thousands live at once): the request and the bytes
/// to resend are dropped as soon as the state no longer needs them.
#[derive(Debug)]
struct Tx {
    kind: Kind,
    state: TxState,
    provisional_seen: bool,
    pending_cancel: bool,
    retransmits: u16,
    /// Shared with the index (one allocation for both).
    key: Arc<str>,
    peer: Peer,
    /// The request, while a response (server) or a CANCEL or ACK (client) may still be built
    /// from it.
    request: Option<Box<Message>>,
    /// Client: the request bytes to retransmit, then the ACK of a non-2xx final response.
    /// Server: the last response sent, while a retransmitted request must be answered with it.
    last_sent: Option<Bytes>,
    timers: Deadlines,
    merge_key: Option<Arc<str>>,
    /// Server: received/rport to add to the top Via of responses (RFC 3261 §18.2.1, RFC 3581).
    via_patch: Option<ViaPatch>,
}

/// `received` address and filled `rport` for the top Via of responses.
type ViaPatch = (Option<IpAddr>, Option<u16>);

/// The sans-IO transaction layer. Feed it with `handle_*`, then drain [`Endpoint::poll_output`]
/// until it returns [`Output::Timeout`]; call [`Endpoint::handle_timeout`] at that instant.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    txs: HashMap<u64, Box<Tx>>,
    index: HashMap<Arc<str>, u64>,
    merged: HashMap<Arc<str>, u64>,
    timers: TimerTable,
    out: VecDeque<Output>,
    next_id: u64,
    rng: u64,
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(config: Config) -> Endpoint {
        let rng = config.seed;
        Endpoint {
            config,
            txs: HashMap::new(),
            index: HashMap::new(),
            merged: HashMap::new(),
            timers: TimerTable::default(),
            out: VecDeque::new(),
            next_id: 1,
            rng,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Live transactions.
    pub fn transaction_count(&self) -> usize {
        self.txs.len()
    }

    /// The state of a live transaction.
    pub fn state(&self, tx: TxId) -> Option<TxState> {
        self.txs.get(&tx.0).map(|t| t.state)
    }

    /// Where a live transaction sends (client) or answers (server).
    pub fn peer(&self, tx: TxId) -> Option<Peer> {
        self.txs.get(&tx.0).map(|t| t.peer)
    }

    /// The request of a live transaction.
    pub fn request(&self, tx: TxId) -> Option<&Message> {
        self.txs.get(&tx.0).and_then(|t| t.request.as_deref())
    }

    /// A fresh branch with the RFC 3261 magic cookie.
    pub fn new_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.next_random())
    }

    /// A fresh tag for From/To.
    pub fn new_tag(&mut self) -> String {
        format!("{:012x}", self.next_random() >> 16)
    }

    fn next_random(&mut self) -> u64 {
        // SplitMix64: deterministic from the configured seed.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next output. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Timeout(self.poll_timeout())
    }

    /// The next instant [`Endpoint::handle_timeout`] must be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some((at, id, timer)) = self.timers.peek() {
            if self.is_live_timer(at, id, timer) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    fn is_live_timer(&self, at: Instant, id: u64, timer: Timer) -> bool {
        self.txs
            .get(&id)
            .is_some_and(|t| t.timers.get(timer) == Some(at))
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, id, timer)) = self.timers.pop_due(now) {
            if !self.is_live_timer(at, id, timer) {
                continue;
            }
            if let Some(t) = self.txs.get_mut(&id) {
                t.timers.clear(timer);
            }
            self.fire(now, id, timer);
        }
    }

    /// Bytes received from `source`.
    pub fn handle_receive(&mut self, now: Instant, source: Peer, data: Bytes) {
        let opts = ParseOptions {
            max_message_size: self.config.max_message_size,
        };
        match Message::parse_with(data.clone(), &opts) {
            Ok(msg) => self.handle_message(now, source, msg),
            Err(ParseError::Empty) => {}
            Err(error) => {
                if let Some(payload) = reject_response(&data, &error) {
                    self.transmit(source, payload, None);
                }
                self.event(Event::Malformed { source, error });
            }
        }
    }

    /// A message already parsed (stream transports frame and parse before this).
    pub fn handle_message(&mut self, now: Instant, source: Peer, msg: Message) {
        if msg.is_request() {
            self.on_request(now, source, msg);
        } else {
            self.on_response(now, source, msg);
        }
    }

    /// A send for `tx` failed.
    pub fn handle_transport_error(&mut self, _now: Instant, tx: TxId) {
        if self.txs.contains_key(&tx.0) {
            self.terminate(tx.0);
            self.event(Event::TransportError { tx });
        }
    }

    /// Sends a request in a new client transaction. The request must carry a top Via with an
    /// RFC 3261 branch (see [`Endpoint::new_branch`]).
    pub fn send_request(
        &mut self,
        now: Instant,
        req: Message,
        dest: Peer,
    ) -> Result<TxId, TxError> {
        let method = req.method().ok_or(TxError::WrongMessage)?.clone();
        if method == Method::Ack {
            return Err(TxError::Ack);
        }
        if !req.top_via().has_rfc3261_branch() {
            return Err(TxError::NoBranch);
        }
        let key = TxKey::client(&req).ok_or(TxError::NoBranch)?;
        if self.index.contains_key(key.as_str()) {
            return Err(TxError::Duplicate);
        }
        let invite = method == Method::Invite;
        let id = self.insert(Tx {
            kind: if invite {
                Kind::ClientInvite
            } else {
                Kind::ClientNonInvite
            },
            state: if invite {
                TxState::Calling
            } else {
                TxState::Trying
            },
            key: key.into_arc(),
            peer: dest,
            last_sent: Some(req.as_bytes().clone()),
            request: {
                let mut req = req;
                req.shrink_to_fit();
                Some(Box::new(req))
            },
            timers: Deadlines::default(),
            retransmits: 0,
            provisional_seen: false,
            pending_cancel: false,
            merge_key: None,
            via_patch: None,
        });
        let payload = self
            .txs
            .get(&id)
            .and_then(|t| t.last_sent.clone())
            .unwrap_or_default();
        self.transmit(dest, payload, Some(TxId(id)));
        let first = self.config.resend_interval(0, invite);
        let timeout = self.config.timeout_64t1();
        if invite {
            if !dest.transport.is_reliable() {
                self.set_timer(id, Timer::A, now + first);
            }
            self.set_timer(id, Timer::B, now + timeout);
        } else {
            if !dest.transport.is_reliable() {
                self.set_timer(id, Timer::E, now + first);
            }
            self.set_timer(id, Timer::F, now + timeout);
        }
        Ok(TxId(id))
    }

    /// Sends a response in server transaction `tx`. Build it with
    /// [`tollswitch_sip_msg::response_to`]; the endpoint adds `received`/`rport` to the top
    /// Via when RFC 3261 §18.2.1 / RFC 3581 require it.
    pub fn send_response(
        &mut self,
        now: Instant,
        tx: TxId,
        response: Bytes,
    ) -> Result<(), TxError> {
        let code = status_of(&response).ok_or(TxError::WrongMessage)?;
        let t = self.txs.get_mut(&tx.0).ok_or(TxError::Unknown)?;
        let payload = match t.via_patch {
            Some((received, rport)) => patch_top_via(&response, received, rport),
            None => response,
        };
        let reliable = t.peer.transport.is_reliable();
        let peer = t.peer;
        match (t.kind, t.state) {
            (Kind::ServerInvite, TxState::Proceeding) => {
                t.last_sent = Some(payload.clone());
                if code >= 200 {
                    // No response is built from the request any more.
                    t.request = None;
                }
                if code >= 300 {
                    t.state = TxState::Completed;
                    self.transmit(peer, payload, Some(tx));
                    if !reliable {
                        let g = self.config.resend_interval(0, false);
                        self.set_timer(tx.0, Timer::G, now + g);
                    }
                    self.set_timer(tx.0, Timer::H, now + self.config.timeout_64t1());
                } else if code >= 200 {
                    // Retransmissions of the 2xx are the user's (RFC 6026 §7.1); INVITE
                    // retransmissions are absorbed.
                    t.state = TxState::Accepted;
                    t.last_sent = None;
                    self.transmit(peer, payload, Some(tx));
                    self.set_timer(tx.0, Timer::L, now + self.config.timeout_64t1());
                } else {
                    self.transmit(peer, payload, Some(tx));
                }
            }
            (Kind::ServerInvite, TxState::Accepted) if (200..300).contains(&code) => {
                // 2xx retransmissions are the user's (RFC 6026 §7.1).
                self.transmit(peer, payload, Some(tx));
            }
            (Kind::ServerNonInvite, TxState::Trying | TxState::Proceeding) => {
                t.last_sent = Some(payload.clone());
                if code >= 200 {
                    t.state = TxState::Completed;
                    t.request = None;
                    self.transmit(peer, payload, Some(tx));
                    let j = if reliable {
                        now
                    } else {
                        now + self.config.timeout_64t1()
                    };
                    self.set_timer(tx.0, Timer::J, j);
                } else {
                    t.state = TxState::Proceeding;
                    self.transmit(peer, payload, Some(tx));
                }
            }
            _ => return Err(TxError::InvalidState),
        }
        Ok(())
    }

    /// Sends bytes outside any transaction (the ACK of a 2xx, a stateless reply).
    pub fn send_stateless(&mut self, destination: Peer, payload: Bytes) {
        self.transmit(destination, payload, None);
    }

    /// Cancels a client INVITE transaction (RFC 3261 §9.1).
    pub fn cancel(&mut self, now: Instant, invite: TxId) -> Result<CancelOutcome, TxError> {
        let t = self.txs.get_mut(&invite.0).ok_or(TxError::Unknown)?;
        if t.kind != Kind::ClientInvite {
            return Err(TxError::WrongMessage);
        }
        match t.state {
            TxState::Calling if !t.provisional_seen => {
                t.pending_cancel = true;
                Ok(CancelOutcome::Deferred)
            }
            TxState::Calling | TxState::Proceeding => {
                let Some(request) = t.request.as_deref() else {
                    return Err(TxError::InvalidState);
                };
                let cancel = build_cancel(request);
                let peer = t.peer;
                match Message::parse(cancel) {
                    Ok(msg) => self.send_request(now, msg, peer).map(CancelOutcome::Sent),
                    Err(_) => Err(TxError::WrongMessage),
                }
            }
            _ => Ok(CancelOutcome::TooLate),
        }
    }

    fn on_request(&mut self, now: Instant, source: Peer, msg: Message) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let key = TxKey::server(&msg, KeyMethod::of(&method));
        if let Some(&id) = self.index.get(key.as_str()) {
            self.on_request_retransmission(now, id, &method, msg);
            return;
        }
        if method == Method::Ack {
            // Matches no transaction: the ACK of a 2xx, for the dialog.
            self.event(Event::Request {
                tx: None,
                msg,
                source,
            });
            return;
        }
        if let Some(mk) = MergeKey::of(&msg)
            && self.merged.contains_key(mk.as_str())
        {
            // Merged request (RFC 3261 §8.2.2.2): answer 482 in its own transaction.
            let id = self.new_server_tx(now, source, key, msg, None);
            self.respond_internal(now, id, 482, "Loop Detected");
            return;
        }
        let merge_key = MergeKey::of(&msg);
        if method == Method::Cancel {
            let invite_key = TxKey::server(&msg, KeyMethod::Invite);
            let invite = self.index.get(invite_key.as_str()).copied();
            let id = self.new_server_tx(now, source, key, msg.clone(), None);
            match invite.and_then(|i| self.txs.get(&i).map(|t| (i, t.state))) {
                Some((inv, TxState::Proceeding)) => {
                    self.respond_internal(now, id, 200, "OK");
                    self.event(Event::Cancelled {
                        invite: TxId(inv),
                        msg,
                    });
                }
                Some(_) => self.respond_internal(now, id, 200, "OK"),
                None => self.respond_internal(now, id, 481, "Call/Transaction Does Not Exist"),
            }
            return;
        }
        let id = self.new_server_tx(now, source, key, msg.clone(), merge_key);
        if method == Method::Invite && self.config.auto_trying {
            self.respond_internal(now, id, 100, "Trying");
        }
        self.event(Event::Request {
            tx: Some(TxId(id)),
            msg,
            source,
        });
    }

    fn on_request_retransmission(&mut self, now: Instant, id: u64, method: &Method, msg: Message) {
        let Some(t) = self.txs.get_mut(&id) else {
            return;
        };
        let peer = t.peer;
        match (t.kind, t.state, method) {
            (Kind::ServerInvite, TxState::Completed, Method::Ack) => {
                t.state = TxState::Confirmed;
                t.timers.clear(Timer::G);
                t.timers.clear(Timer::H);
                let i = if peer.transport.is_reliable() {
                    now
                } else {
                    now + self.config.t4
                };
                self.set_timer(id, Timer::I, i);
            }
            (Kind::ServerInvite, TxState::Accepted, Method::Ack) => {
                // ACK of a 2xx that reused the INVITE branch: the dialog's business.
                self.event(Event::Request {
                    tx: None,
                    msg,
                    source: peer,
                });
            }
            (_, _, Method::Ack) => {}
            (_, TxState::Proceeding | TxState::Completed, _) => {
                if let Some(last) = t.last_sent.clone() {
                    self.transmit(peer, last, Some(TxId(id)));
                }
            }
            _ => {} // Trying, Confirmed, Accepted: absorbed.
        }
    }

    fn on_response(&mut self, now: Instant, source: Peer, msg: Message) {
        let Some(code) = msg.status() else { return };
        let Some(key) = TxKey::client(&msg) else {
            self.event(Event::StrayResponse { msg, source });
            return;
        };
        let Some(&id) = self.index.get(key.as_str()) else {
            self.event(Event::StrayResponse { msg, source });
            return;
        };
        let Some(t) = self.txs.get_mut(&id) else {
            return;
        };
        let tx = TxId(id);
        let reliable = t.peer.transport.is_reliable();
        match (t.kind, t.state) {
            (Kind::ClientInvite, TxState::Calling | TxState::Proceeding) => {
                t.timers.clear(Timer::A);
                // Retransmissions of the INVITE stop with the first response.
                t.last_sent = None;
                if code < 200 {
                    t.state = TxState::Proceeding;
                    t.timers.clear(Timer::B);
                    let send_cancel = !t.provisional_seen && t.pending_cancel;
                    t.provisional_seen = true;
                    self.event(Event::Response { tx, msg });
                    if send_cancel {
                        let _ = self.cancel(now, tx);
                    }
                } else if code < 300 {
                    t.state = TxState::Accepted;
                    t.request = None;
                    t.timers.clear(Timer::B);
                    self.set_timer(id, Timer::M, now + self.config.timeout_64t1());
                    self.event(Event::Response { tx, msg });
                } else {
                    t.state = TxState::Completed;
                    t.timers.clear(Timer::B);
                    let Some(request) = t.request.take() else {
                        return;
                    };
                    let ack = build_ack(&request, &msg);
                    t.last_sent = Some(ack.clone());
                    let peer = t.peer;
                    self.transmit(peer, ack, Some(tx));
                    let d = if reliable {
                        now
                    } else {
                        now + self.config.t1 * 64
                    };
                    self.set_timer(id, Timer::D, d);
                    self.event(Event::Response { tx, msg });
                }
            }
            (Kind::ClientInvite, TxState::Completed) => {
                if code >= 300
                    && let Some(ack) = t.last_sent.clone()
                {
                    let peer = t.peer;
                    self.transmit(peer, ack, Some(tx));
                }
            }
            (Kind::ClientInvite, TxState::Accepted) if (200..300).contains(&code) => {
                self.event(Event::Response { tx, msg });
            }
            (Kind::ClientNonInvite, TxState::Trying | TxState::Proceeding) => {
                if code < 200 {
                    t.state = TxState::Proceeding;
                    self.event(Event::Response { tx, msg });
                } else {
                    t.state = TxState::Completed;
                    t.request = None;
                    t.last_sent = None;
                    t.timers.clear(Timer::E);
                    t.timers.clear(Timer::F);
                    let k = if reliable { now } else { now + self.config.t4 };
                    self.set_timer(id, Timer::K, k);
                    self.event(Event::Response { tx, msg });
                }
            }
            _ => {} // Completed non-INVITE: retransmissions absorbed.
        }
    }

    fn fire(&mut self, now: Instant, id: u64, timer: Timer) {
        let Some(t) = self.txs.get_mut(&id) else {
            return;
        };
        let tx = TxId(id);
        let timing_out = [Timer::B, Timer::F, Timer::H]
            .iter()
            .any(|k| t.timers.get(*k).is_some_and(|at| at <= now));
        if timing_out && matches!(timer, Timer::A | Timer::E | Timer::G) {
            // The transaction times out at this very instant: no last retransmission.
            return;
        }
        match timer {
            Timer::A | Timer::E => {
                let invite = timer == Timer::A;
                if let Some(bytes) = t.last_sent.clone() {
                    let peer = t.peer;
                    let proceeding = t.state == TxState::Proceeding;
                    t.retransmits = t.retransmits.saturating_add(1);
                    let n = u32::from(t.retransmits);
                    self.transmit(peer, bytes, Some(tx));
                    let next = if proceeding && self.config.resend_schedule.is_none() {
                        // Non-INVITE in Proceeding retransmits every T2 (§17.1.2.2).
                        self.config.t2
                    } else {
                        self.config.resend_interval(n, invite)
                    };
                    self.set_timer(id, timer, now + next);
                }
            }
            Timer::G => {
                if let Some(bytes) = t.last_sent.clone() {
                    let peer = t.peer;
                    t.retransmits = t.retransmits.saturating_add(1);
                    let n = u32::from(t.retransmits);
                    self.transmit(peer, bytes, Some(tx));
                    let next = self.config.resend_interval(n, false);
                    self.set_timer(id, Timer::G, now + next);
                }
            }
            Timer::B | Timer::F | Timer::H => {
                self.terminate(id);
                self.event(Event::Timeout { tx });
            }
            Timer::D | Timer::I | Timer::J | Timer::K | Timer::L | Timer::M => self.terminate(id),
        }
    }

    fn new_server_tx(
        &mut self,
        _now: Instant,
        source: Peer,
        key: TxKey,
        msg: Message,
        merge_key: Option<MergeKey>,
    ) -> u64 {
        let invite = msg.method() == Some(&Method::Invite);
        let (target, via_patch) = response_target(&msg, source);
        self.insert(Tx {
            kind: if invite {
                Kind::ServerInvite
            } else {
                Kind::ServerNonInvite
            },
            state: if invite {
                TxState::Proceeding
            } else {
                TxState::Trying
            },
            key: key.into_arc(),
            peer: target,
            request: {
                let mut msg = msg;
                msg.shrink_to_fit();
                Some(Box::new(msg))
            },
            last_sent: None,
            timers: Deadlines::default(),
            retransmits: 0,
            provisional_seen: false,
            pending_cancel: false,
            merge_key: merge_key.map(MergeKey::into_arc),
            via_patch,
        })
    }

    fn respond_internal(&mut self, now: Instant, id: u64, code: u16, reason: &str) {
        let Some(req) = self.txs.get(&id).and_then(|t| t.request.as_deref()) else {
            return;
        };
        let to_tag = format!("{:012x}", id.wrapping_mul(0x9e37_79b9) ^ self.config.seed);
        let resp = response_to(req, code, reason, Some(&to_tag)).build();
        let _ = self.send_response(now, TxId(id), resp);
    }

    fn insert(&mut self, tx: Tx) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.index.insert(tx.key.clone(), id);
        if let Some(mk) = &tx.merge_key {
            self.merged.insert(mk.clone(), id);
        }
        self.timers
            .compact_if_sparse(self.txs.len() + 1, |at, id, timer| {
                self.txs
                    .get(&id)
                    .is_some_and(|t| t.timers.get(timer) == Some(at))
            });
        self.txs.insert(id, Box::new(tx));
        id
    }

    fn terminate(&mut self, id: u64) {
        if let Some(t) = self.txs.remove(&id) {
            if self.index.get(&*t.key) == Some(&id) {
                self.index.remove(&*t.key);
            }
            if let Some(mk) = t.merge_key
                && self.merged.get(&*mk) == Some(&id)
            {
                self.merged.remove(&*mk);
            }
        }
    }

    fn set_timer(&mut self, id: u64, timer: Timer, at: Instant) {
        if let Some(t) = self.txs.get_mut(&id) {
            t.timers.set(timer, at);
            self.timers.push(at, id, timer);
        }
    }

    fn transmit(&mut self, destination: Peer, payload: Bytes, tx: Option<TxId>) {
        self.out.push_back(Output::Transmit(Transmit {
            destination,
            payload,
            tx,
        }));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// Heap entries, live and stale (for tests of timer bookkeeping).
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}

fn status_of(b: &[u8]) -> Option<u16> {
    let code = b.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    std::str::from_utf8(code)
        .ok()?
        .parse()
        .ok()
        .filter(|c| (100..700).contains(c))
}

/// Where responses go (RFC 3261 §18.2.2, RFC 3581) and what to add to the top Via.
fn response_target(req: &Message, source: Peer) -> (Peer, Option<ViaPatch>) {
    let via = req.top_via();
    let host_is_source = match via.host() {
        Host::V4(a) => IpAddr::V4(a) == source.addr.ip(),
        Host::V6(a) => IpAddr::V6(a) == source.addr.ip(),
        Host::Name(_) => false,
    };
    let wants_rport = via.rport() == Some(None);
    let received = (!host_is_source).then(|| source.addr.ip());
    let rport = wants_rport.then(|| source.addr.port());
    let patch = (received.is_some() || rport.is_some()).then_some((received, rport));
    if source.transport.is_reliable() || wants_rport {
        return (source, patch);
    }
    let port = via.port().unwrap_or(5060);
    (
        Peer {
            transport: source.transport,
            addr: SocketAddr::new(source.addr.ip(), port),
        },
        patch,
    )
}

/// Adds `;received=` and fills `;rport` in the first Via of a response we built.
fn patch_top_via(resp: &Bytes, received: Option<IpAddr>, rport: Option<u16>) -> Bytes {
    let Some(start) = find_via_value(resp) else {
        return resp.clone();
    };
    let rest = &resp[start..];
    let line_end = rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    let mut end = line_end;
    let mut in_quotes = false;
    for (i, &b) in rest[..line_end].iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let value = &rest[..end];
    let mut out = BytesMut::with_capacity(resp.len() + 48);
    out.extend_from_slice(&resp[..start]);
    let mut patched: Vec<u8> = Vec::with_capacity(value.len() + 48);
    // Fill a bare ";rport" (followed by ';', ',' or the end) with the source port.
    let mut i = 0;
    let mut filled = false;
    while i < value.len() {
        let tail = &value[i..];
        if rport.is_some()
            && !filled
            && tail.len() >= 6
            && tail[..6].eq_ignore_ascii_case(b";rport")
            && tail.get(6).is_none_or(|b| *b == b';' || *b == b' ')
        {
            patched.extend_from_slice(b";rport=");
            patched.extend_from_slice(rport.unwrap_or_default().to_string().as_bytes());
            i += 6;
            filled = true;
            continue;
        }
        patched.push(value[i]);
        i += 1;
    }
    if let Some(ip) = received {
        patched.extend_from_slice(format!(";received={ip}").as_bytes());
    }
    out.extend_from_slice(&patched);
    out.extend_from_slice(&rest[end..]);
    out.freeze()
}

fn find_via_value(resp: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while pos < resp.len() {
        let line_end = resp[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(resp.len(), |i| pos + i);
        let line = &resp[pos..line_end];
        if line.is_empty() || line == b"\r" {
            return None;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = line[..colon].trim_ascii();
            if HeaderName::from_bytes(name) == HeaderName::Via {
                let mut v = pos + colon + 1;
                while resp.get(v) == Some(&b' ') || resp.get(v) == Some(&b'\t') {
                    v += 1;
                }
                return Some(v);
            }
        }
        pos = line_end + 1;
    }
    None
}

fn copy_routes(req: &Message, b: &mut MessageBuilder) {
    for h in req.headers().filter(|h| h.name == HeaderName::Route) {
        b.push_header("Route", h.value);
    }
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3).
fn build_ack(invite: &Message, resp: &Message) -> Bytes {
    let mut b = MessageBuilder::request(&Method::Ack, invite.request_uri_str().unwrap_or_default());
    b.push_header("Via", invite.top_via_raw());
    copy_routes(invite, &mut b);
    b.push_header("From", invite.header(HeaderName::From).unwrap_or_default());
    b.push_header("To", resp.header(HeaderName::To).unwrap_or_default());
    b.push_header("Call-ID", invite.call_id());
    b.push_header("CSeq", format!("{} ACK", invite.cseq().seq));
    b.push_header("Max-Forwards", "70");
    b.build()
}

/// The CANCEL for an INVITE (RFC 3261 §9.1).
fn build_cancel(invite: &Message) -> Bytes {
    let mut b = MessageBuilder::request(
        &Method::Cancel,
        invite.request_uri_str().unwrap_or_default(),
    );
    b.push_header("Via", invite.top_via_raw());
    copy_routes(invite, &mut b);
    b.push_header("From", invite.header(HeaderName::From).unwrap_or_default());
    b.push_header("To", invite.header(HeaderName::To).unwrap_or_default());
    b.push_header("Call-ID", invite.call_id());
    b.push_header("CSeq", format!("{} CANCEL", invite.cseq().seq));
    b.push_header("Max-Forwards", "70");
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_patch_fills_rport_and_received() {
        let resp = Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP host.example;rport;branch=z9hG4bK1, SIP/2.0/UDP b\r\nCall-ID: x\r\n\r\n",
        );
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let out = patch_top_via(&resp, Some(ip), Some(5099));
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("Via: SIP/2.0/UDP host.example;rport=5099;branch=z9hG4bK1;received=192.0.2.7, SIP/2.0/UDP b"),
            "{text}"
        );
    }

    #[test]
    fn status_line_code() {
        assert_eq!(status_of(b"SIP/2.0 487 Request Terminated\r\n"), Some(487));
        assert_eq!(status_of(b"SIP/2.0 99 x"), None);
        assert_eq!(status_of(b"INVITE sip:x SIP/2.0"), None);
    }
}
