//! SIP over UDP and TCP: the sockets around the engine shards.
//!
//! ```text
//!  UDP socket ──recv, parse──┐  stateless fast path (403/503 from the socket task)
//!  TCP readers ──frame───────┼─► hash(Call-ID) ─► bounded queue ─► engine shard k
//!                            │   (leg B Call-IDs name their shard)  (owns an Endpoint and
//!                            └─► malformed: shard 0 answers 400       its calls: no locks)
//!  engine shard ──Transmit──► UDP socket (shared) │ TCP writer of the peer (connects on demand)
//! ```
//!
//! Each shard is one task that alone owns its sans-IO [`Endpoint`] and its transaction user;
//! the runtime runs as many worker threads as there are shards. Every message of a Call-ID goes
//! to the same shard; leg B Call-IDs start with [`call_id_prefix`] so a vendor's responses and
//! requests reach the shard that owns the call without a lookup. Queues are bounded: when a
//! shard's queue is full a request is answered 503 with Retry-After straight from the socket
//! task and anything else is dropped and counted, so memory stays bounded under overload.
//! TCP connections are shared by the shards, reused in both directions and closed when idle.
//! Signalling sockets carry the DSCP mark of `SS_QOS_SIGNAL`.

use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tollswitch_sip_core::{Endpoint, Event, Output, Peer, Transmit, Transport, TxId};
use tollswitch_sip_msg::{Frame, Message, ParseOptions, StreamFramer, response_to};

/// What an engine shard's user (the call engine) sees.
pub trait TransactionUser: Send + 'static {
    /// Commands sent to the shard from outside (reload, drain, …).
    type Control: Send + 'static;

    /// One event from the transaction layer; the user may call the endpoint (respond, send).
    fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint);

    /// Called when the user's own timers are due (see [`TransactionUser::next_timeout`]).
    fn on_timeout(&mut self, _now: Instant, _endpoint: &mut Endpoint) {}

    /// The next instant the user wants [`TransactionUser::on_timeout`].
    fn next_timeout(&mut self) -> Option<Instant> {
        None
    }

    /// A command from [`Transports::control`] or a [`ShardHandle`].
    fn on_control(&mut self, _now: Instant, _control: Self::Control, _endpoint: &mut Endpoint) {}

    /// Called once before the shard starts, with a handle that reaches this shard.
    fn attach(&mut self, _handle: ShardHandle<Self::Control>) {}
}

/// Sends commands to one shard from anywhere (tasks or plain threads). Unbounded: commands are
/// few and each answers work the shard itself started (e.g. a journal acknowledgement).
pub struct ShardHandle<C> {
    tx: mpsc::UnboundedSender<C>,
}

impl<C> Clone for ShardHandle<C> {
    fn clone(&self) -> Self {
        ShardHandle {
            tx: self.tx.clone(),
        }
    }
}

impl<C> ShardHandle<C> {
    /// Queues `control`; false when the shard has stopped.
    pub fn send(&self, control: C) -> bool {
        self.tx.send(control).is_ok()
    }
}

/// A stateless answer decided in the socket task before any shard sees the request (scanner
/// floods from unknown addresses): `Some(response)` is sent at once and the request dropped.
pub type Prefilter = Arc<dyn Fn(&Message, SocketAddr) -> Option<Bytes> + Send + Sync>;

/// Listening addresses and limits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP listen address (`None`: no UDP).
    pub udp: Option<SocketAddr>,
    /// TCP listen address (`None`: no TCP).
    pub tcp: Option<SocketAddr>,
    /// Capacity of each shard's queue.
    pub queue: usize,
    /// TCP connections idle this long are closed.
    pub tcp_idle: Duration,
    /// Largest SIP message accepted.
    pub max_message_size: usize,
    /// DSCP of every signalling packet (`SS_QOS_SIGNAL`, 0–63).
    pub dscp: u8,
    /// UDP socket receive and send buffer, bytes (the kernel may cap it).
    pub udp_buffer: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            queue: 16_384,
            tcp_idle: Duration::from_secs(300),
            max_message_size: tollswitch_sip_msg::DEFAULT_MAX_MESSAGE_SIZE,
            dscp: 24,
            udp_buffer: 8 << 20,
        }
    }
}

/// Counters a monitor can read while the transports run.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Datagrams and frames received.
    pub received: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Inputs dropped because a shard queue was full.
    pub overload_dropped: AtomicU64,
    /// Requests answered 503 because a shard queue was full.
    pub overload_rejected: AtomicU64,
    /// Requests answered statelessly by the prefilter.
    pub stateless_rejected: AtomicU64,
    /// Sends that failed.
    pub send_errors: AtomicU64,
}

/// A new INVITE that waited longer than this in a shard's queue is answered 503 + Retry-After
/// instead of being processed: half of T1, before the caller's first retransmission.
pub const MAX_INVITE_QUEUE_DELAY: Duration = Duration::from_millis(250);

/// The prefix of leg B Call-IDs made by `shard`.
pub fn call_id_prefix(shard: usize) -> String {
    format!("ts{shard}-")
}

/// The shard that owns a Call-ID: the one named by a [`call_id_prefix`], else a hash.
pub fn shard_of(call_id: &str, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    if let Some(rest) = call_id.strip_prefix("ts")
        && let Some((num, _)) = rest.split_once('-')
        && let Ok(k) = num.parse::<usize>()
        && k < shards
    {
        return k;
    }
    // FNV-1a: stable across runs and processes, cheap on short strings.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in call_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

enum Input {
    /// A parsed message, and when it was queued.
    Message {
        at: Instant,
        from: Peer,
        msg: Box<Message>,
    },
    /// Bytes that did not parse: the endpoint answers 400 or drops them.
    Raw {
        from: Peer,
        data: Bytes,
    },
    /// A send of this shard's transaction failed after it left the shard (TCP).
    TransportError {
        tx: TxId,
    },
    Shutdown,
}

/// One queued TCP write; `tx` names the transaction to fail if it cannot be written.
struct Out {
    payload: Bytes,
    tx: Option<(usize, TxId)>,
}

/// What the socket tasks and the shards share.
struct Shared<C> {
    udp: Option<Arc<UdpSocket>>,
    tcp: Mutex<HashMap<SocketAddr, mpsc::Sender<Out>>>,
    shards: Vec<mpsc::Sender<Input>>,
    controls: Vec<ShardHandle<C>>,
    prefilter: Option<Prefilter>,
    config: TransportConfig,
    stats: Arc<TransportStats>,
}

/// A running set of transports and engine shards.
pub struct Transports<C> {
    /// Where UDP listens (resolved port when 0 was asked).
    pub udp_addr: Option<SocketAddr>,
    /// Where TCP listens.
    pub tcp_addr: Option<SocketAddr>,
    /// Live counters.
    pub stats: Arc<TransportStats>,
    shared: Arc<Shared<C>>,
    engines: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A UDP socket with large buffers and the DSCP mark.
fn udp_socket(addr: SocketAddr, config: &TransportConfig) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Buffers and marks are best effort: a kernel may refuse or cap them.
    let _ = s.set_recv_buffer_size(config.udp_buffer);
    let _ = s.set_send_buffer_size(config.udp_buffer);
    set_dscp(&s, addr, config.dscp);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

fn set_dscp(s: &socket2::Socket, addr: SocketAddr, dscp: u8) {
    let tos = u32::from(dscp & 0x3f) << 2;
    let _ = if addr.is_ipv4() {
        s.set_tos_v4(tos)
    } else {
        s.set_tclass_v6(tos)
    };
}

fn tcp_listener(addr: SocketAddr, config: &TransportConfig) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    let _ = s.set_reuse_address(true);
    // Accepted connections inherit the mark.
    set_dscp(&s, addr, config.dscp);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

async fn tcp_connect(addr: SocketAddr, dscp: u8) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    set_dscp(&s, addr, dscp);
    s.set_nonblocking(true)?;
    let socket = tokio::net::TcpSocket::from_std_stream(s.into());
    let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    Ok(stream)
}

impl<C: Send + 'static> Transports<C> {
    /// Binds the sockets and starts one engine shard per `(endpoint, user)` pair.
    pub async fn start<U: TransactionUser<Control = C>>(
        config: TransportConfig,
        shards: Vec<(Endpoint, U)>,
        prefilter: Option<Prefilter>,
    ) -> io::Result<Transports<C>> {
        if shards.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at least one engine shard",
            ));
        }
        let stats = Arc::new(TransportStats::default());
        let udp = match config.udp {
            Some(addr) => Some(Arc::new(udp_socket(addr, &config)?)),
            None => None,
        };
        let tcp = match config.tcp {
            Some(addr) => Some(tcp_listener(addr, &config)?),
            None => None,
        };
        let udp_addr = udp.as_ref().map(|s| s.local_addr()).transpose()?;
        let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
        let mut senders = Vec::with_capacity(shards.len());
        let mut receivers = Vec::with_capacity(shards.len());
        let mut controls = Vec::with_capacity(shards.len());
        for _ in 0..shards.len() {
            let (tx, rx) = mpsc::channel(config.queue.max(16));
            let (ctx, crx) = mpsc::unbounded_channel();
            senders.push(tx);
            controls.push(ShardHandle { tx: ctx });
            receivers.push((rx, crx));
        }
        let shared = Arc::new(Shared {
            udp: udp.clone(),
            tcp: Mutex::new(HashMap::new()),
            shards: senders,
            controls,
            prefilter,
            config: config.clone(),
            stats: stats.clone(),
        });
        let mut engines = Vec::with_capacity(shards.len());
        for (k, ((endpoint, mut user), (rx, crx))) in shards.into_iter().zip(receivers).enumerate()
        {
            user.attach(shared.controls[k].clone());
            engines.push(tokio::spawn(engine(
                k,
                rx,
                crx,
                shared.clone(),
                endpoint,
                user,
            )));
        }
        if let Some(sock) = udp {
            tokio::spawn(udp_reader(sock, shared.clone()));
        }
        if let Some(listener) = tcp {
            tokio::spawn(tcp_acceptor(listener, shared.clone()));
        }
        Ok(Transports {
            udp_addr,
            tcp_addr,
            stats,
            shared,
            engines: Mutex::new(engines),
        })
    }

    /// Number of engine shards.
    pub fn shards(&self) -> usize {
        self.shared.shards.len()
    }

    /// Sends a command to shard `k`.
    pub fn control(&self, k: usize, control: C) {
        if let Some(s) = self.shared.controls.get(k) {
            s.send(control);
        }
    }

    /// One line of counters for logs.
    pub fn stats_line(&self) -> String {
        let s = &self.stats;
        format!(
            "received={} sent={} send_errors={} stateless_rejected={} overload_rejected={} overload_dropped={}",
            s.received.load(Ordering::Relaxed),
            s.sent.load(Ordering::Relaxed),
            s.send_errors.load(Ordering::Relaxed),
            s.stateless_rejected.load(Ordering::Relaxed),
            s.overload_rejected.load(Ordering::Relaxed),
            s.overload_dropped.load(Ordering::Relaxed)
        )
    }

    /// Stops the engine shards (sockets close when their tasks see the queues gone).
    pub async fn shutdown(&self) {
        for s in &self.shared.shards {
            let _ = s.send(Input::Shutdown).await;
        }
        let engines =
            std::mem::take(&mut *self.engines.lock().unwrap_or_else(PoisonError::into_inner));
        for e in engines {
            let _ = e.await;
        }
    }
}

impl<C: Send + 'static> Shared<C> {
    /// Hands a parsed message to its shard, or answers it statelessly.
    fn dispatch(&self, from: Peer, msg: Message) {
        if let Some(pre) = &self.prefilter
            && let Some(resp) = pre(&msg, from.addr)
        {
            self.stats
                .stateless_rejected
                .fetch_add(1, Ordering::Relaxed);
            self.send_now(from, resp);
            return;
        }
        let k = shard_of(msg.call_id(), self.shards.len());
        match self.shards[k].try_send(Input::Message {
            at: Instant::now(),
            from,
            msg: Box::new(msg),
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Input::Message { msg, .. })) => {
                if let Some(resp) = overload_response(&msg) {
                    self.stats.overload_rejected.fetch_add(1, Ordering::Relaxed);
                    self.send_now(from, resp);
                } else {
                    self.stats.overload_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {}
        }
    }

    /// Bytes that did not parse go to shard 0, whose endpoint answers 400 or drops them.
    fn dispatch_raw(&self, from: Peer, data: Bytes) {
        if self.shards[0].try_send(Input::Raw { from, data }).is_err() {
            self.stats.overload_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A send outside any transaction (stateless answers, keep-alive pongs).
    fn send_now(&self, to: Peer, payload: Bytes) {
        let ok = match to.transport {
            Transport::Udp => self
                .udp
                .as_ref()
                .is_some_and(|s| s.try_send_to(&payload, to.addr).is_ok()),
            Transport::Tcp | Transport::Tls => self.tcp_send(to.addr, Out { payload, tx: None }),
        };
        self.count_send(ok);
    }

    fn count_send(&self, ok: bool) {
        if ok {
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a write on the peer's connection, connecting on demand; false when the
    /// connection's queue is full.
    fn tcp_send(self: &Shared<C>, addr: SocketAddr, out: Out) -> bool {
        let map = self.tcp.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = map.get(&addr)
            && !w.is_closed()
        {
            return w.try_send(out).is_ok();
        }
        false
    }
}

/// Sends on a TCP connection, opening one when none is up; writes queue behind the connect.
fn tcp_send_or_connect<C: Send + 'static>(
    shared: &Arc<Shared<C>>,
    addr: SocketAddr,
    out: Out,
) -> bool {
    let mut map = shared.tcp.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(w) = map.get(&addr)
        && !w.is_closed()
    {
        return w.try_send(out).is_ok();
    }
    let (wtx, wrx) = mpsc::channel::<Out>(1024);
    let queued = wtx.try_send(out).is_ok();
    map.insert(addr, wtx.clone());
    drop(map);
    let shared = shared.clone();
    tokio::spawn(async move {
        match tcp_connect(addr, shared.config.dscp).await {
            Ok(stream) => run_connection(stream, addr, wtx, wrx, shared).await,
            Err(_) => {
                unregister(&shared, addr, &wtx);
                fail_queued(&shared, wrx).await;
            }
        }
    });
    queued
}

fn unregister<C>(shared: &Shared<C>, addr: SocketAddr, mine: &mpsc::Sender<Out>) {
    let mut map = shared.tcp.lock().unwrap_or_else(PoisonError::into_inner);
    if map.get(&addr).is_some_and(|w| w.same_channel(mine)) {
        map.remove(&addr);
    }
}

/// Writes that can no longer be made: their transactions learn of it (RFC 3261 §18.4).
async fn fail_queued<C: Send + 'static>(shared: &Shared<C>, mut wrx: mpsc::Receiver<Out>) {
    wrx.close();
    while let Some(out) = wrx.recv().await {
        fail_out(shared, out).await;
    }
}

async fn fail_out<C: Send + 'static>(shared: &Shared<C>, out: Out) {
    shared.stats.send_errors.fetch_add(1, Ordering::Relaxed);
    if let Some((k, tx)) = out.tx
        && let Some(s) = shared.shards.get(k)
    {
        let _ = s.send(Input::TransportError { tx }).await;
    }
}

async fn udp_reader<C: Send + 'static>(sock: Arc<UdpSocket>, shared: Arc<Shared<C>>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP port unreachable surfaces as an error on some systems: keep reading.
            Err(_) => continue,
        };
        let data = &buf[..n];
        // RFC 5626 keep-alives and stray blank datagrams carry no message.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | 0)) {
            continue;
        }
        shared.stats.received.fetch_add(1, Ordering::Relaxed);
        let data = Bytes::copy_from_slice(data);
        let from = Peer {
            transport: Transport::Udp,
            addr: from,
        };
        match Message::parse(data.clone()) {
            Ok(msg) => shared.dispatch(from, msg),
            Err(_) => shared.dispatch_raw(from, data),
        }
    }
}

/// 503 + Retry-After for a request that cannot be queued (never for ACK or responses).
fn overload_response(msg: &Message) -> Option<Bytes> {
    match msg.method() {
        None | Some(tollswitch_sip_msg::Method::Ack) => None,
        Some(_) => Some(
            response_to(msg, 503, "Service Unavailable", Some("overload"))
                .header("Retry-After", "5")
                .build(),
        ),
    }
}

async fn tcp_acceptor<C: Send + 'static>(listener: TcpListener, shared: Arc<Shared<C>>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (wtx, wrx) = mpsc::channel::<Out>(1024);
        shared
            .tcp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, wtx.clone());
        tokio::spawn(run_connection(stream, peer, wtx, wrx, shared.clone()));
    }
}

/// Reads and writes one TCP connection until it closes, breaks or idles out.
async fn run_connection<C: Send + 'static>(
    stream: TcpStream,
    peer: SocketAddr,
    wtx: mpsc::Sender<Out>,
    mut wrx: mpsc::Receiver<Out>,
    shared: Arc<Shared<C>>,
) {
    let _ = stream.set_nodelay(true);
    let (mut read, mut write) = stream.into_split();
    let writer_shared = shared.clone();
    let writer = tokio::spawn(async move {
        while let Some(out) = wrx.recv().await {
            if write.write_all(&out.payload).await.is_err() {
                fail_out(&writer_shared, out).await;
                fail_queued(&writer_shared, wrx).await;
                return;
            }
        }
    });
    let opts = ParseOptions {
        max_message_size: shared.config.max_message_size,
    };
    let from = Peer {
        transport: Transport::Tcp,
        addr: peer,
    };
    let mut framer = StreamFramer::new(opts);
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match tokio::time::timeout(shared.config.tcp_idle, read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::KeepAlive)) => {
                    // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                    let _ = wtx.try_send(Out {
                        payload: Bytes::from_static(b"\r\n"),
                        tx: None,
                    });
                }
                Ok(Some(Frame::Message(msg))) => {
                    shared.stats.received.fetch_add(1, Ordering::Relaxed);
                    if let Some(pre) = &shared.prefilter
                        && let Some(resp) = pre(&msg, peer)
                    {
                        shared
                            .stats
                            .stateless_rejected
                            .fetch_add(1, Ordering::Relaxed);
                        let _ = wtx.try_send(Out {
                            payload: resp,
                            tx: None,
                        });
                        continue;
                    }
                    // A stream pushes back instead of shedding: wait for room in the queue.
                    let k = shard_of(msg.call_id(), shared.shards.len());
                    let input = Input::Message {
                        at: Instant::now(),
                        from,
                        msg: Box::new(msg),
                    };
                    if shared.shards[k].send(input).await.is_err() {
                        break 'read;
                    }
                }
                Ok(Some(Frame::Malformed { bytes, .. })) => {
                    // Framed but invalid: the endpoint answers it (400 and the like).
                    let input = Input::Raw { from, data: bytes };
                    if shared.shards[0].send(input).await.is_err() {
                        break 'read;
                    }
                }
                Err(_) => break 'read,
            }
        }
        if framer.is_broken() {
            break;
        }
    }
    unregister(&shared, peer, &wtx);
    drop(wtx);
    // Let queued writes (a final response) go out, then close.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// One engine shard: the only owner of its endpoint and user.
async fn engine<U: TransactionUser>(
    k: usize,
    mut rx: mpsc::Receiver<Input>,
    mut controls: mpsc::UnboundedReceiver<U::Control>,
    shared: Arc<Shared<U::Control>>,
    mut endpoint: Endpoint,
    mut user: U,
) {
    // One timer for the shard, moved only when the next deadline changes (registering a new
    // sleep for every message costs a lock in the runtime's timer driver).
    let far = || tokio::time::Instant::now() + Duration::from_secs(86_400);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = [endpoint.poll_timeout(), user.next_timeout()]
            .into_iter()
            .flatten()
            .min();
        if deadline != armed {
            armed = deadline;
            let at = deadline.map_or_else(far, tokio::time::Instant::from_std);
            sleep.as_mut().reset(at);
        }
        let input = tokio::select! {
            biased;
            Some(c) = controls.recv() => {
                user.on_control(Instant::now(), c, &mut endpoint);
                drain(k, &mut endpoint, &mut user, &shared).await;
                continue;
            }
            i = rx.recv() => i,
            () = &mut sleep => {
                armed = None;
                let now = Instant::now();
                endpoint.handle_timeout(now);
                user.on_timeout(now, &mut endpoint);
                drain(k, &mut endpoint, &mut user, &shared).await;
                continue;
            }
        };
        let Some(mut input) = input else { return };
        // Whatever else is already queued is handled before going back to the select (one
        // wake-up for a burst), each message with its own outputs drained in order.
        let mut taken = 1;
        loop {
            if !handle_input(&mut endpoint, &shared, input) {
                return;
            }
            drain(k, &mut endpoint, &mut user, &shared).await;
            if taken == BURST {
                break;
            }
            match rx.try_recv() {
                Ok(next) => {
                    input = next;
                    taken += 1;
                }
                Err(_) => break,
            }
        }
    }
}

/// Messages a shard takes from its queue in one go.
const BURST: usize = 64;

/// Feeds one queued input to the endpoint; false on shutdown.
fn handle_input<C: Send + 'static>(
    endpoint: &mut Endpoint,
    shared: &Arc<Shared<C>>,
    input: Input,
) -> bool {
    let now = Instant::now();
    match input {
        Input::Message { at, from, msg } => {
            // Overload by delay: a new call that waited longer than MAX_INVITE_QUEUE_DELAY
            // would meet a caller already retransmitting; refuse it cleanly instead.
            if now.saturating_duration_since(at) > MAX_INVITE_QUEUE_DELAY
                && msg.method() == Some(&tollswitch_sip_msg::Method::Invite)
                && msg.to_tag().is_none()
                && let Some(resp) = overload_response(&msg)
            {
                shared
                    .stats
                    .overload_rejected
                    .fetch_add(1, Ordering::Relaxed);
                shared.send_now(from, resp);
            } else {
                endpoint.handle_message(now, from, *msg);
            }
        }
        Input::Raw { from, data } => endpoint.handle_receive(now, from, data),
        Input::TransportError { tx } => endpoint.handle_transport_error(now, tx),
        Input::Shutdown => return false,
    }
    true
}

async fn drain<U: TransactionUser>(
    k: usize,
    endpoint: &mut Endpoint,
    user: &mut U,
    shared: &Arc<Shared<U::Control>>,
) {
    loop {
        match endpoint.poll_output() {
            Output::Timeout(_) => return,
            Output::Event(e) => user.on_event(Instant::now(), e, endpoint),
            Output::Transmit(t) => {
                let ok = transmit(k, shared, &t).await;
                shared.count_send(ok);
                if !ok && let Some(id) = t.tx {
                    endpoint.handle_transport_error(Instant::now(), id);
                }
            }
        }
    }
}

async fn transmit<C: Send + 'static>(k: usize, shared: &Arc<Shared<C>>, t: &Transmit) -> bool {
    match t.destination.transport {
        Transport::Udp => match &shared.udp {
            Some(sock) => match sock.try_send_to(&t.payload, t.destination.addr) {
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sock.send_to(&t.payload, t.destination.addr).await.is_ok()
                }
                Err(_) => false,
            },
            None => false,
        },
        Transport::Tcp | Transport::Tls => {
            let out = Out {
                payload: t.payload.clone(),
                tx: t.tx.map(|id| (k, id)),
            };
            tcp_send_or_connect(shared, t.destination.addr, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollswitch_sip_msg::MessageBuilder;

    /// A user that answers OPTIONS with 200 (keep-alive pings from peers) and every other request
    /// with `code`: what the switch does before a call engine is attached.
    struct AnswerAll {
        /// Status for requests other than OPTIONS.
        code: u16,
        /// Its reason phrase.
        reason: &'static str,
    }

    impl TransactionUser for AnswerAll {
        type Control = ();

        fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint) {
            if let Event::Request {
                tx: Some(tx), msg, ..
            } = event
            {
                let (code, reason) = match msg.method() {
                    Some(tollswitch_sip_msg::Method::Options) => (200, "OK"),
                    _ => (self.code, self.reason),
                };
                let tag = endpoint.new_tag();
                let resp = response_to(&msg, code, reason, Some(&tag))
                    .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE")
                    .build();
                let _ = endpoint.send_response(now, tx, resp);
            }
        }
    }

    /// A request line with headers, for tests and tools.
    fn options_request(branch: &str, via_host: &str, call_id: &str) -> Bytes {
        MessageBuilder::request(&tollswitch_sip_msg::Method::Options, "sip:ping@127.0.0.1")
            .header(
                "Via",
                format!("SIP/2.0/UDP {via_host};branch={branch};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", "<sip:monitor@127.0.0.1>;tag=m1")
            .header("To", "<sip:ping@127.0.0.1>")
            .header("Call-ID", call_id)
            .header("CSeq", "1 OPTIONS")
            .build()
    }

    use tollswitch_sip_core::Config;

    async fn start() -> Transports<()> {
        start_with(1, None).await
    }

    async fn start_with(shards: usize, prefilter: Option<Prefilter>) -> Transports<()> {
        let config = TransportConfig {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..TransportConfig::default()
        };
        let shards = (0..shards)
            .map(|k| {
                let user = AnswerAll {
                    code: 480,
                    reason: "Temporarily Unavailable",
                };
                let config = Config {
                    seed: k as u64 + 1,
                    ..Config::default()
                };
                (Endpoint::new(config), user)
            })
            .collect();
        Transports::start(config, shards, prefilter)
            .await
            .expect("bind")
    }

    async fn recv_udp(sock: &UdpSocket) -> Message {
        let mut buf = vec![0u8; 65_535];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("a response within 5 s")
            .expect("recv");
        Message::parse(Bytes::copy_from_slice(&buf[..n])).expect("response parses")
    }

    #[tokio::test]
    async fn udp_options_is_answered_with_rport_filled() {
        let t = start().await;
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        let req = options_request("z9hG4bKudp1", &me.to_string(), "udp-1");
        client
            .send_to(&req, t.udp_addr.expect("udp"))
            .await
            .expect("send");
        let resp = recv_udp(&client).await;
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.top_via().rport(), Some(Some(me.port())));
        t.shutdown().await;
    }

    #[tokio::test]
    async fn udp_malformed_request_gets_400() {
        let t = start().await;
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        let bad = format!(
            "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: bad\r\nCSeq: 1 INVITE\r\n\r\n"
        );
        client
            .send_to(bad.as_bytes(), t.udp_addr.expect("udp"))
            .await
            .expect("send");
        let resp = recv_udp(&client).await;
        assert_eq!(
            (resp.status(), resp.reason_phrase()),
            (Some(400), Some("CSeq Method Mismatch"))
        );
        t.shutdown().await;
    }

    #[tokio::test]
    async fn tcp_request_split_across_writes_is_framed_and_answered_on_the_same_connection() {
        let t = start().await;
        let mut conn = TcpStream::connect(t.tcp_addr.expect("tcp"))
            .await
            .expect("connect");
        let me = conn.local_addr().expect("addr");
        let req =
            String::from_utf8_lossy(&options_request("z9hG4bKtcp1", &me.to_string(), "tcp-1"))
                .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
        let invite =
            String::from_utf8_lossy(&options_request("z9hG4bKtcp2", &me.to_string(), "tcp-2"))
                .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
                .replace("OPTIONS", "INVITE");
        let (a, b) = req.as_bytes().split_at(40);
        conn.write_all(a).await.expect("write");
        conn.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut rest = b.to_vec();
        rest.extend_from_slice(invite.as_bytes());
        conn.write_all(&rest).await.expect("write");
        let mut got = Vec::new();
        let mut framer = StreamFramer::new(ParseOptions::default());
        let mut buf = vec![0u8; 8192];
        // 200 to OPTIONS, 100 Trying and 480 to the INVITE.
        while got.len() < 3 {
            let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .expect("responses within 5 s")
                .expect("read");
            assert!(n > 0, "connection closed early");
            framer.push(&buf[..n]);
            while let Ok(Some(Frame::Message(m))) = framer.next_frame() {
                got.push((m.status(), m.call_id().to_owned()));
            }
        }
        assert_eq!(
            got,
            vec![
                (Some(200), "tcp-1".to_owned()),
                (Some(100), "tcp-2".to_owned()),
                (Some(480), "tcp-2".to_owned())
            ]
        );
        t.shutdown().await;
    }

    #[tokio::test]
    async fn tcp_framed_but_malformed_request_gets_400_and_the_connection_goes_on() {
        let t = start().await;
        let mut conn = TcpStream::connect(t.tcp_addr.expect("tcp"))
            .await
            .expect("connect");
        let me = conn.local_addr().expect("addr");
        let good = String::from_utf8_lossy(&options_request("z9hG4bKm2", &me.to_string(), "m-2"))
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
        let bad = good
            .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
            .replace("m-2", "m-1");
        conn.write_all(format!("{bad}{good}").as_bytes())
            .await
            .expect("write");
        let mut framer = StreamFramer::new(ParseOptions::default());
        let mut buf = vec![0u8; 8192];
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .expect("responses within 5 s")
                .expect("read");
            assert!(n > 0, "connection closed early");
            framer.push(&buf[..n]);
            while let Ok(Some(Frame::Message(m))) = framer.next_frame() {
                got.push((m.status(), m.call_id().to_owned()));
            }
        }
        assert_eq!(
            got,
            vec![(Some(400), "m-1".to_owned()), (Some(200), "m-2".to_owned())]
        );
        t.shutdown().await;
    }

    #[tokio::test]
    async fn overload_answers_503_with_retry_after() {
        let data = options_request("z9hG4bKov", "127.0.0.1:5999", "ov-1");
        let req = Message::parse(data).expect("parses");
        let resp = overload_response(&req).expect("a request gets an answer");
        let m = Message::parse(resp).expect("parses");
        assert_eq!(m.status(), Some(503));
        assert_eq!(m.retry_after(), Some(5));
    }

    #[test]
    fn leg_b_call_ids_name_their_shard_and_others_hash_stably() {
        for k in 0..4 {
            let id = format!("{}abc@127.0.0.1", call_id_prefix(k));
            assert_eq!(shard_of(&id, 4), k);
        }
        assert_eq!(
            shard_of("ts9-x", 4),
            shard_of("ts9-x", 4),
            "out of range: hashed"
        );
        assert_eq!(shard_of("anything", 1), 0);
        let spread: std::collections::HashSet<usize> = (0..64)
            .map(|i| shard_of(&format!("call-{i}@pbx"), 4))
            .collect();
        assert_eq!(spread.len(), 4, "customer Call-IDs spread over every shard");
    }

    #[tokio::test]
    async fn every_shard_answers_its_call_ids() {
        let t = start_with(3, None).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        for i in 0..12 {
            let req = options_request(&format!("z9hG4bKs{i}"), &me.to_string(), &format!("s-{i}"));
            client
                .send_to(&req, t.udp_addr.expect("udp"))
                .await
                .expect("send");
            let resp = recv_udp(&client).await;
            assert_eq!(
                (resp.status(), resp.call_id()),
                (Some(200), format!("s-{i}").as_str())
            );
        }
        t.shutdown().await;
    }

    #[tokio::test]
    async fn a_burst_longer_than_one_wake_up_is_answered_in_full() {
        // More requests than a shard takes per wake-up, queued before it runs: none is lost
        // between bursts.
        let t = start_with(1, None).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        let n = 3 * BURST + 7;
        for i in 0..n {
            let req = options_request(&format!("z9hG4bKb{i}"), &me.to_string(), &format!("b-{i}"));
            client
                .send_to(&req, t.udp_addr.expect("udp"))
                .await
                .expect("send");
        }
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < n {
            let resp = recv_udp(&client).await;
            assert_eq!(resp.status(), Some(200));
            seen.insert(resp.call_id().to_owned());
        }
        assert_eq!(seen.len(), n);
        t.shutdown().await;
    }

    #[tokio::test]
    async fn the_prefilter_answers_statelessly_before_any_shard() {
        let pre: Prefilter = Arc::new(|msg: &Message, _from: SocketAddr| {
            Some(response_to(msg, 403, "Forbidden", Some("pre")).build())
        });
        let t = start_with(2, Some(pre)).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        let req = options_request("z9hG4bKpre", &me.to_string(), "pre-1");
        client
            .send_to(&req, t.udp_addr.expect("udp"))
            .await
            .expect("send");
        let resp = recv_udp(&client).await;
        assert_eq!(resp.status(), Some(403));
        assert_eq!(t.stats.stateless_rejected.load(Ordering::Relaxed), 1);
        t.shutdown().await;
    }

    /// Answers like [`AnswerAll`] but blocks its shard for 400 ms on the first request.
    struct Slow {
        inner: AnswerAll,
        slept: bool,
    }

    impl TransactionUser for Slow {
        type Control = ();

        fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint) {
            if !self.slept {
                self.slept = true;
                std::thread::sleep(Duration::from_millis(400));
            }
            self.inner.on_event(now, event, endpoint);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invite_that_waited_too_long_in_the_queue_gets_503() {
        let config = TransportConfig {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tcp: None,
            ..TransportConfig::default()
        };
        let user = Slow {
            inner: AnswerAll {
                code: 480,
                reason: "Temporarily Unavailable",
            },
            slept: false,
        };
        let t = Transports::start(config, vec![(Endpoint::new(Config::default()), user)], None)
            .await
            .expect("bind");
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        let me = client.local_addr().expect("addr");
        let invite = |n: u32| {
            String::from_utf8_lossy(&options_request(
                &format!("z9hG4bKq{n}"),
                &me.to_string(),
                &format!("q-{n}"),
            ))
            .replace("OPTIONS", "INVITE")
        };
        for n in 1..=2 {
            client
                .send_to(invite(n).as_bytes(), t.udp_addr.expect("udp"))
                .await
                .expect("send");
        }
        let mut finals = Vec::new();
        while finals.len() < 2 {
            let m = recv_udp(&client).await;
            if let Some(code) = m.status().filter(|c| *c >= 200) {
                finals.push((m.call_id().to_owned(), code, m.retry_after()));
            }
        }
        finals.sort();
        assert_eq!(
            finals,
            vec![
                ("q-1".to_owned(), 480, None),
                ("q-2".to_owned(), 503, Some(5))
            ],
            "the first call was handled; the second waited 400 ms and was refused"
        );
        assert_eq!(t.stats.overload_rejected.load(Ordering::Relaxed), 1);
        t.shutdown().await;
    }
}
