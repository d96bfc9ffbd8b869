//! Deterministic test harness for the sans-IO SIP cores.
//!
//! ```text
//!   World ── virtual clock (Instant that only moves when drive() says so)
//!     ├─ node 0: Endpoint + handler ─┐
//!     ├─ node 1: Endpoint + handler ─┼─► Net: seeded loss, latency, jitter (reordering)
//!     └─ …                           ┘
//! ```
//!
//! `World::drive` repeatedly takes the earliest thing that can happen — a datagram arriving or
//! an endpoint timer — moves the clock there, and feeds it in. Nothing sleeps: a 32-second
//! Timer B takes microseconds, and the same seed replays the same losses.

use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tollswitch_sip_core::{Config, Endpoint, Event, Output, Peer, Transmit, Transport};

/// A seeded SplitMix64 generator: the only randomness tests use.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < u64::from(percent)
    }
}

/// Network behaviour between nodes.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Percentage of datagrams dropped (UDP only; stream transports are lossless).
    pub loss_percent: u32,
    /// One-way delay.
    pub latency: Duration,
    /// Extra random delay up to this much (reorders datagrams).
    pub jitter: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            loss_percent: 0,
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
        }
    }
}

/// Index of a node in the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub usize);

/// What a node's user does with each event: it may call the endpoint (respond, send).
pub type Handler = Box<dyn FnMut(Instant, &Event, &mut Endpoint)>;

/// The user of an endpoint with timers of its own (a call engine).
pub trait User {
    /// One event from the endpoint.
    fn on_event(&mut self, now: Instant, event: &Event, endpoint: &mut Endpoint);
    /// The user's next deadline.
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    /// The deadline arrived.
    fn on_timeout(&mut self, _now: Instant, _endpoint: &mut Endpoint) {}
}

impl<F: FnMut(Instant, &Event, &mut Endpoint)> User for F {
    fn on_event(&mut self, now: Instant, event: &Event, endpoint: &mut Endpoint) {
        self(now, event, endpoint);
    }
}

/// Decides which datagrams the network drops on purpose.
pub type DropFilter = Box<dyn FnMut(&Transmit) -> bool>;

/// A transmit seen on the wire, with its time, for assertions on timer values.
#[derive(Debug, Clone)]
pub struct WireRecord {
    /// When it was sent (virtual time since the world started).
    pub at: Duration,
    /// Sender.
    pub from: NodeId,
    /// The datagram.
    pub transmit: Transmit,
    /// Whether the network dropped it.
    pub dropped: bool,
}

struct Node {
    addr: SocketAddr,
    endpoint: Endpoint,
    handler: Option<Box<dyn User>>,
    events: Vec<(Duration, Event)>,
}

/// Endpoints joined by a simulated network under a virtual clock.
pub struct World {
    start: Instant,
    now: Instant,
    nodes: Vec<Node>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    packets: Vec<Option<(Peer, SocketAddr, Bytes)>>,
    seq: u64,
    rng: Rng,
    net: NetConfig,
    wire: Vec<WireRecord>,
    drop_filter: Option<DropFilter>,
}

impl World {
    /// An empty world; `seed` drives every random choice of the network.
    pub fn new(seed: u64, net: NetConfig) -> World {
        // The only clock read in the harness: a base instant; everything after is arithmetic.
        let start = Instant::now();
        World {
            start,
            now: start,
            nodes: Vec::new(),
            in_flight: BinaryHeap::new(),
            packets: Vec::new(),
            seq: 0,
            rng: Rng::new(seed),
            net,
            wire: Vec::new(),
            drop_filter: None,
        }
    }

    /// Adds an endpoint listening at `addr`.
    pub fn add_node(&mut self, addr: SocketAddr, config: Config) -> NodeId {
        self.nodes.push(Node {
            addr,
            endpoint: Endpoint::new(config),
            handler: None,
            events: Vec::new(),
        });
        NodeId(self.nodes.len() - 1)
    }

    /// Sets the user of a node.
    pub fn set_handler(&mut self, node: NodeId, handler: Handler) {
        self.nodes[node.0].handler = Some(Box::new(handler));
    }

    /// Sets a user with timers of its own.
    pub fn set_user(&mut self, node: NodeId, user: Box<dyn User>) {
        self.nodes[node.0].handler = Some(user);
    }

    /// Drops every datagram for which `filter` returns true (in addition to random loss).
    pub fn set_drop_filter(&mut self, filter: DropFilter) {
        self.drop_filter = Some(filter);
    }

    /// Removes the drop filter.
    pub fn clear_drop_filter(&mut self) {
        self.drop_filter = None;
    }

    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// A node's address.
    pub fn addr(&self, node: NodeId) -> SocketAddr {
        self.nodes[node.0].addr
    }

    /// Calls `f` on a node's endpoint at the current time, then routes what it produced.
    pub fn with_endpoint<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(Instant, &mut Endpoint) -> R,
    ) -> R {
        let now = self.now;
        let r = f(now, &mut self.nodes[node.0].endpoint);
        self.flush(node);
        r
    }

    /// Events a node's endpoint produced so far, with their virtual times.
    pub fn events(&self, node: NodeId) -> &[(Duration, Event)] {
        &self.nodes[node.0].events
    }

    /// Every datagram sent so far.
    pub fn wire(&self) -> &[WireRecord] {
        &self.wire
    }

    /// Runs everything due within `limit` of virtual time; the clock then stands at the end of
    /// that period, so consecutive drives add up to their total.
    pub fn drive(&mut self, limit: Duration) {
        let deadline = self.now + limit;
        while self.step(deadline) {}
        self.now = self.now.max(deadline);
    }

    /// Runs until `cond` holds or `limit` passes; returns whether it held.
    pub fn drive_until(&mut self, limit: Duration, mut cond: impl FnMut(&World) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            if cond(self) {
                return true;
            }
            if !self.step(deadline) {
                return cond(self);
            }
        }
    }

    /// Performs the earliest pending action not after `deadline`; false when there is none.
    pub fn step(&mut self, deadline: Instant) -> bool {
        let next_packet = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
        let next_timer = self
            .nodes
            .iter_mut()
            .enumerate()
            .filter_map(|(i, n)| {
                let user = n.handler.as_mut().and_then(|h| h.poll_timeout());
                let ep = n.endpoint.poll_timeout();
                [ep, user].into_iter().flatten().min().map(|t| (t, i))
            })
            .min();
        let packet_first = match (next_packet, next_timer) {
            (Some(p), Some((t, _))) => p <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        if packet_first {
            let Some(&Reverse((at, _, idx))) = self.in_flight.peek() else {
                return false;
            };
            if at > deadline {
                return false;
            }
            self.in_flight.pop();
            self.now = self.now.max(at);
            if let Some((source, to, data)) = self.packets.get_mut(idx).and_then(Option::take) {
                let dest = self.nodes.iter().position(|n| n.addr == to);
                if let Some(d) = dest {
                    let now = self.now;
                    self.nodes[d].endpoint.handle_receive(now, source, data);
                    self.flush(NodeId(d));
                }
            }
        } else if let Some((at, i)) = next_timer {
            if at > deadline {
                return false;
            }
            self.now = self.now.max(at);
            let now = self.now;
            let n = &mut self.nodes[i];
            n.endpoint.handle_timeout(now);
            if let Some(h) = n.handler.as_mut() {
                h.on_timeout(now, &mut n.endpoint);
            }
            self.flush(NodeId(i));
        }
        true
    }

    /// Routes a node's pending output: datagrams to the network, events to the handler.
    fn flush(&mut self, node: NodeId) {
        loop {
            let out = self.nodes[node.0].endpoint.poll_output();
            match out {
                Output::Timeout(_) => break,
                Output::Transmit(t) => self.send(node, t),
                Output::Event(e) => {
                    let at = self.elapsed();
                    let now = self.now;
                    let n = &mut self.nodes[node.0];
                    if let Some(h) = n.handler.as_mut() {
                        h.on_event(now, &e, &mut n.endpoint);
                    }
                    n.events.push((at, e));
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, t: Transmit) {
        let filtered = self.drop_filter.as_mut().is_some_and(|f| f(&t));
        let lossy = t.destination.transport == Transport::Udp;
        let dropped = filtered || (lossy && self.rng.chance(self.net.loss_percent));
        self.wire.push(WireRecord {
            at: self.elapsed(),
            from,
            transmit: t.clone(),
            dropped,
        });
        if dropped {
            return;
        }
        let jitter = if self.net.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.below(self.net.jitter.as_micros() as u64 + 1))
        };
        let at = self.now + self.net.latency + jitter;
        let source = Peer {
            transport: t.destination.transport,
            addr: self.nodes[from.0].addr,
        };
        self.packets
            .push(Some((source, t.destination.addr, t.payload)));
        self.seq += 1;
        self.in_flight
            .push(Reverse((at, self.seq, self.packets.len() - 1)));
    }
}
