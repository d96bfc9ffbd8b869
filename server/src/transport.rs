//! SIP over UDP and TCP: the sockets around one sans-IO [`Endpoint`].
//!
//! ```text
//!  UDP socket ──recv──┐                         ┌──send_to──► UDP socket
//!  TCP readers ─frame─┼─► bounded queue ─► engine task ─┤
//!  (StreamFramer)     │   (Input)         (owns Endpoint └──► TCP writer of that peer
//!  TCP accept/connect ┘                    and the user)      (connects on demand)
//! ```
//!
//! The engine task is the only owner of the endpoint and of the transaction user: no locks.
//! Sockets talk to it through a bounded queue; when the queue is full a UDP request is answered
//! 503 with Retry-After straight from the socket task, and anything else is dropped and counted,
//! so memory stays bounded under overload. TCP connections are reused in both directions and
//! closed after an idle period.

use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tollswitch_sip_core::{Endpoint, Event, Output, Peer, Transmit, Transport};
use tollswitch_sip_msg::{Frame, Message, ParseOptions, StreamFramer, response_to};

/// What the engine's user (the call engine) sees.
pub trait TransactionUser: Send + 'static {
    /// One event from the transaction layer; the user may call the endpoint (respond, send).
    fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint);

    /// Called when the user's own timers are due (see [`TransactionUser::next_timeout`]).
    fn on_timeout(&mut self, _now: Instant, _endpoint: &mut Endpoint) {}

    /// The next instant the user wants [`TransactionUser::on_timeout`].
    fn next_timeout(&mut self) -> Option<Instant> {
        None
    }
}

/// Listening addresses and limits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP listen address (`None`: no UDP).
    pub udp: Option<SocketAddr>,
    /// TCP listen address (`None`: no TCP).
    pub tcp: Option<SocketAddr>,
    /// Capacity of the queue into the engine.
    pub queue: usize,
    /// TCP connections idle this long are closed.
    pub tcp_idle: Duration,
    /// Largest SIP message accepted.
    pub max_message_size: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            queue: 65_536,
            tcp_idle: Duration::from_secs(300),
            max_message_size: tollswitch_sip_msg::DEFAULT_MAX_MESSAGE_SIZE,
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
    /// Inputs dropped because the engine queue was full.
    pub overload_dropped: AtomicU64,
    /// Requests answered 503 because the engine queue was full.
    pub overload_rejected: AtomicU64,
    /// Sends that failed.
    pub send_errors: AtomicU64,
}

enum Input {
    Datagram {
        from: SocketAddr,
        data: Bytes,
    },
    Stream {
        from: SocketAddr,
        msg: Box<Message>,
    },
    StreamMalformed {
        from: SocketAddr,
        data: Bytes,
    },
    TcpOpened {
        peer: SocketAddr,
        writer: mpsc::Sender<Bytes>,
    },
    TcpClosed {
        peer: SocketAddr,
    },
    Shutdown,
}

/// A running set of transports.
pub struct Transports {
    /// Where UDP listens (resolved port when 0 was asked).
    pub udp_addr: Option<SocketAddr>,
    /// Where TCP listens.
    pub tcp_addr: Option<SocketAddr>,
    /// Live counters.
    pub stats: Arc<TransportStats>,
    input: mpsc::Sender<Input>,
    engine: tokio::task::JoinHandle<()>,
}

impl Transports {
    /// Binds the sockets and starts the engine task with `user`.
    pub async fn start<U: TransactionUser>(
        config: TransportConfig,
        endpoint: Endpoint,
        user: U,
    ) -> io::Result<Transports> {
        let (tx, rx) = mpsc::channel(config.queue.max(16));
        let stats = Arc::new(TransportStats::default());
        let udp = match config.udp {
            Some(addr) => Some(Arc::new(UdpSocket::bind(addr).await?)),
            None => None,
        };
        let tcp = match config.tcp {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let udp_addr = udp.as_ref().map(|s| s.local_addr()).transpose()?;
        let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
        if let Some(sock) = &udp {
            tokio::spawn(udp_reader(sock.clone(), tx.clone(), stats.clone()));
        }
        if let Some(listener) = tcp {
            tokio::spawn(tcp_acceptor(
                listener,
                tx.clone(),
                config.clone(),
                stats.clone(),
            ));
        }
        let engine = tokio::spawn(engine(
            rx,
            tx.clone(),
            udp,
            endpoint,
            user,
            config,
            stats.clone(),
        ));
        Ok(Transports {
            udp_addr,
            tcp_addr,
            stats,
            input: tx,
            engine,
        })
    }

    /// One line of counters for logs.
    pub fn stats_line(&self) -> String {
        let s = &self.stats;
        format!(
            "received={} sent={} send_errors={} overload_rejected={} overload_dropped={}",
            s.received.load(Ordering::Relaxed),
            s.sent.load(Ordering::Relaxed),
            s.send_errors.load(Ordering::Relaxed),
            s.overload_rejected.load(Ordering::Relaxed),
            s.overload_dropped.load(Ordering::Relaxed)
        )
    }

    /// Stops the engine task (sockets close when their tasks see the queue gone).
    pub async fn shutdown(self) {
        let _ = self.input.send(Input::Shutdown).await;
        let _ = self.engine.await;
    }
}

async fn udp_reader(sock: Arc<UdpSocket>, tx: mpsc::Sender<Input>, stats: Arc<TransportStats>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP port unreachable surfaces as an error on some systems: keep reading.
            Err(_) => continue,
        };
        stats.received.fetch_add(1, Ordering::Relaxed);
        let data = Bytes::copy_from_slice(&buf[..n]);
        match tx.try_send(Input::Datagram { from, data }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Input::Datagram { data, .. })) => {
                if let Some(resp) = overload_response(&data) {
                    stats.overload_rejected.fetch_add(1, Ordering::Relaxed);
                    let _ = sock.try_send_to(&resp, from);
                } else {
                    stats.overload_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => return,
        }
    }
}

/// 503 + Retry-After for a request that cannot be queued (never for ACK or responses).
fn overload_response(data: &Bytes) -> Option<Bytes> {
    let msg = Message::parse(data.clone()).ok()?;
    match msg.method() {
        None | Some(tollswitch_sip_msg::Method::Ack) => None,
        Some(_) => Some(
            response_to(&msg, 503, "Service Unavailable", Some("overload"))
                .header("Retry-After", "5")
                .build(),
        ),
    }
}

async fn tcp_acceptor(
    listener: TcpListener,
    tx: mpsc::Sender<Input>,
    config: TransportConfig,
    stats: Arc<TransportStats>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        spawn_connection(stream, peer, tx.clone(), config.clone(), stats.clone());
    }
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tx: mpsc::Sender<Input>,
    config: TransportConfig,
    stats: Arc<TransportStats>,
) {
    let (mut read, mut write) = stream.into_split();
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(1024);
    let opened = tx.clone();
    tokio::spawn(async move {
        if opened
            .send(Input::TcpOpened { peer, writer: wtx })
            .await
            .is_err()
        {
            return;
        }
        let writer = tokio::spawn(async move {
            while let Some(bytes) = wrx.recv().await {
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let opts = ParseOptions {
            max_message_size: config.max_message_size,
        };
        let mut framer = StreamFramer::new(opts);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::time::timeout(config.tcp_idle, read.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => n,
            };
            framer.push(&buf[..n]);
            loop {
                match framer.next_frame() {
                    Ok(None) => break,
                    Ok(Some(Frame::KeepAlive)) => {
                        // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                        let _ = opened.try_send(Input::Datagram {
                            from: peer,
                            data: Bytes::from_static(b"\r\n"),
                        });
                    }
                    Ok(Some(Frame::Message(msg))) => {
                        stats.received.fetch_add(1, Ordering::Relaxed);
                        if opened
                            .send(Input::Stream {
                                from: peer,
                                msg: Box::new(msg),
                            })
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(Some(Frame::Malformed { bytes, .. })) => {
                        // Framed but invalid: the endpoint answers it (400 and the like).
                        let malformed = Input::StreamMalformed {
                            from: peer,
                            data: bytes,
                        };
                        let _ = opened.send(malformed).await;
                    }
                    Err(_) => break,
                }
            }
            if framer.is_broken() {
                break;
            }
        }
        writer.abort();
        let _ = opened.send(Input::TcpClosed { peer }).await;
    });
}

#[allow(clippy::too_many_arguments)]
async fn engine<U: TransactionUser>(
    mut rx: mpsc::Receiver<Input>,
    tx: mpsc::Sender<Input>,
    udp: Option<Arc<UdpSocket>>,
    mut endpoint: Endpoint,
    mut user: U,
    config: TransportConfig,
    stats: Arc<TransportStats>,
) {
    let mut tcp: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
    let mut pending: HashMap<SocketAddr, Vec<Transmit>> = HashMap::new();
    loop {
        let deadline = [endpoint.poll_timeout(), user.next_timeout()]
            .into_iter()
            .flatten()
            .min();
        let input = match deadline {
            Some(at) => {
                tokio::select! {
                    i = rx.recv() => i,
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {
                        let now = Instant::now();
                        endpoint.handle_timeout(now);
                        user.on_timeout(now, &mut endpoint);
                        drain(&mut endpoint, &mut user, &udp, &mut tcp, &mut pending, &tx, &config, &stats).await;
                        continue;
                    }
                }
            }
            None => rx.recv().await,
        };
        let Some(input) = input else { return };
        let now = Instant::now();
        match input {
            Input::Datagram { from, data } if data.as_ref() == b"\r\n" => {
                // Keep-alive pong owed on a TCP connection.
                if let Some(w) = tcp.get(&from) {
                    let _ = w.try_send(data);
                }
            }
            Input::Datagram { from, data } => {
                endpoint.handle_receive(
                    now,
                    Peer {
                        transport: Transport::Udp,
                        addr: from,
                    },
                    data,
                );
            }
            Input::Stream { from, msg } => {
                endpoint.handle_message(
                    now,
                    Peer {
                        transport: Transport::Tcp,
                        addr: from,
                    },
                    *msg,
                );
            }
            Input::StreamMalformed { from, data } => {
                endpoint.handle_receive(
                    now,
                    Peer {
                        transport: Transport::Tcp,
                        addr: from,
                    },
                    data,
                );
            }
            Input::TcpOpened { peer, writer } => {
                if let Some(queued) = pending.remove(&peer) {
                    for t in queued {
                        let _ = writer.try_send(t.payload);
                    }
                }
                tcp.insert(peer, writer);
            }
            Input::TcpClosed { peer } => {
                tcp.remove(&peer);
            }
            Input::Shutdown => return,
        }
        drain(
            &mut endpoint,
            &mut user,
            &udp,
            &mut tcp,
            &mut pending,
            &tx,
            &config,
            &stats,
        )
        .await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn drain<U: TransactionUser>(
    endpoint: &mut Endpoint,
    user: &mut U,
    udp: &Option<Arc<UdpSocket>>,
    tcp: &mut HashMap<SocketAddr, mpsc::Sender<Bytes>>,
    pending: &mut HashMap<SocketAddr, Vec<Transmit>>,
    tx: &mpsc::Sender<Input>,
    config: &TransportConfig,
    stats: &Arc<TransportStats>,
) {
    loop {
        match endpoint.poll_output() {
            Output::Timeout(_) => return,
            Output::Event(e) => user.on_event(Instant::now(), e, endpoint),
            Output::Transmit(t) => {
                let ok = match t.destination.transport {
                    Transport::Udp => match udp {
                        Some(sock) => sock.send_to(&t.payload, t.destination.addr).await.is_ok(),
                        None => false,
                    },
                    Transport::Tcp | Transport::Tls => {
                        let addr = t.destination.addr;
                        match tcp.get(&addr) {
                            Some(w) => w.try_send(t.payload.clone()).is_ok(),
                            None => {
                                // Connect on demand; queue until the connection is up.
                                let first = !pending.contains_key(&addr);
                                pending.entry(addr).or_default().push(t.clone());
                                if first {
                                    let (tx, config, stats) =
                                        (tx.clone(), config.clone(), stats.clone());
                                    tokio::spawn(async move {
                                        match TcpStream::connect(addr).await {
                                            Ok(s) => spawn_connection(s, addr, tx, config, stats),
                                            Err(_) => {
                                                let _ =
                                                    tx.send(Input::TcpClosed { peer: addr }).await;
                                            }
                                        }
                                    });
                                }
                                true
                            }
                        }
                    }
                };
                if ok {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = t.tx {
                        endpoint.handle_transport_error(Instant::now(), id);
                    }
                }
            }
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

    async fn start() -> Transports {
        let config = TransportConfig {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..TransportConfig::default()
        };
        let user = AnswerAll {
            code: 480,
            reason: "Temporarily Unavailable",
        };
        Transports::start(config, Endpoint::new(Config::default()), user)
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
        let resp = overload_response(&data).expect("a request gets an answer");
        let m = Message::parse(resp).expect("parses");
        assert_eq!(m.status(), Some(503));
        assert_eq!(m.retry_after(), Some(5));
    }
}
