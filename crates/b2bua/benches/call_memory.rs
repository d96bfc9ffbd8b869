//! Heap bytes per established call in the switch: the transaction layer and the call engine
//! (with live billing) driven directly, with scripted SIPp-like peers that keep nothing per
//! call. A counting allocator measures live heap bytes after N calls are up, after they have
//! been held 30 s, after they hung up, and once every timer has run out (which must return to
//! the start: nothing leaks).
//!
//! Run: `cargo bench -p tollswitch-b2bua --bench call_memory [-- CALLS]`

// The counting allocator is bench-only measurement code.
#![allow(unsafe_code)]

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use tollswitch_b2bua::{B2bua, Billing, CallEvent, Config as EngineConfig};
use tollswitch_routing::RoutingSnapshot;
use tollswitch_sip_core::{Config, Endpoint, Output, Peer, Transport};
use tollswitch_sip_msg::{HeaderName, Message, MessageBuilder, Method, response_to};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

// Forwards to the system allocator and tracks live bytes and blocks.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
    )
}

const UAC: &str = "127.0.0.1:5061";
const SWITCH: &str = "127.0.0.1:5060";
const VENDOR: &str = "127.0.0.1:5080";

const PROVISIONING: &str = r#"
[[account]]
name = "customer"
kind = "customer"
currency = "USD"
balance = "1000000.00"
rate_table = "retail"

[[account]]
name = "vendor"
kind = "vendor"
currency = "USD"

[[mapping_gateway]]
name = "pbx"
account = "customer"
sources = ["127.0.0.1:5061"]

[[routing_gateway]]
name = "gw1"
vendor_account = "vendor"
targets = [{ host = "127.0.0.1", port = 5080 }]
prefixes = ["44"]
rate_table = "cost"

[[rate_table]]
name = "retail"
currency = "USD"
rate = [{ prefix = "44", price = "0.05" }]

[[rate_table]]
name = "cost"
currency = "USD"
rate = [{ prefix = "44", price = "0.03" }]
"#;

const SDP: &[u8] = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 5060)))
}

fn udp(s: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr(s),
    }
}

/// The switch under measurement and the clock.
struct Switch {
    ep: Endpoint,
    engine: B2bua,
    now: Instant,
    answered: usize,
    ended: usize,
    /// Bytes the switch sent that the scripted peers answer, processed in order.
    queue: Vec<(Peer, Bytes)>,
    /// The To tag the switch gave each call's leg A (allocated before measuring).
    tags: Vec<[u8; 32]>,
}

impl Switch {
    fn receive(&mut self, from: Peer, bytes: Bytes) {
        self.ep.handle_receive(self.now, from, bytes);
        self.pump();
    }

    /// Drains the endpoint and answers what the peers answer, until quiet.
    fn pump(&mut self) {
        loop {
            match self.ep.poll_output() {
                Output::Timeout(_) => {}
                Output::Transmit(t) => {
                    self.queue.push((t.destination, t.payload));
                    continue;
                }
                Output::Event(e) => {
                    self.engine.handle_event(self.now, e, &mut self.ep);
                    continue;
                }
            }
            while let Some(CallEvent::Ended(_)) = self.engine.poll_call_event() {
                self.ended += 1;
            }
            let Some((to, bytes)) = self.queue.pop() else {
                return;
            };
            self.peer(to, bytes);
        }
    }

    /// The scripted peers: the vendor answers INVITE 100/180/200 and other requests 200; the
    /// customer ACKs a 200 to its INVITE and answers requests 200.
    fn peer(&mut self, to: Peer, bytes: Bytes) {
        let Ok(msg) = Message::parse(bytes) else {
            return;
        };
        let from_vendor = to.addr == addr(VENDOR);
        let source = if from_vendor { udp(VENDOR) } else { udp(UAC) };
        match msg.method() {
            Some(Method::Invite) if from_vendor => {
                for code in [100, 180, 200] {
                    let tag = (code != 100).then_some("vendor");
                    let mut b = response_to(&msg, code, "Scripted", tag);
                    if code == 200 {
                        b.push_header("Contact", "<sip:vendor@127.0.0.1:5080>");
                        b = b.body("application/sdp", Bytes::from_static(SDP));
                    }
                    self.ep.handle_receive(self.now, source, b.build());
                }
            }
            Some(Method::Ack) => {}
            Some(_) => {
                let r = response_to(&msg, 200, "OK", None).build();
                self.ep.handle_receive(self.now, source, r);
            }
            None if msg.status() == Some(200) && msg.cseq().method == Method::Invite => {
                self.answered += 1;
                let call: Option<usize> =
                    msg.call_id().split('-').next().and_then(|n| n.parse().ok());
                if let (Some(slot), Some(tag)) =
                    (call.and_then(|c| self.tags.get_mut(c)), msg.to_tag())
                {
                    let n = tag.len().min(32);
                    slot[..n].copy_from_slice(&tag.as_bytes()[..n]);
                }
                let branch = format!("z9hG4bK-{}-ack", call.unwrap_or(0));
                let ack = in_dialog(&msg, &Method::Ack, 1, &branch);
                self.ep.handle_receive(self.now, source, ack);
            }
            None => {}
        }
    }

    /// Runs every timer up to `until`.
    fn advance(&mut self, until: Instant) {
        loop {
            let next = [self.ep.poll_timeout(), self.engine.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.ep.handle_timeout(self.now);
                    self.engine.handle_timeout(self.now, &mut self.ep);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }
}

fn invite(i: usize) -> Bytes {
    MessageBuilder::request(&Method::Invite, &format!("sip:4420{i:07}@{SWITCH}"))
        .header(
            "Via",
            format!("SIP/2.0/UDP {UAC};branch=z9hG4bK-{i}-1-0;rport"),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            format!("\"sipp\" <sip:sipp@{UAC}>;tag={i}SIPpTag001"),
        )
        .header("To", format!("<sip:4420{i:07}@{SWITCH}>"))
        .header("Call-ID", format!("{i}-1@127.0.0.1"))
        .header("CSeq", "1 INVITE")
        .header("Contact", format!("<sip:sipp@{UAC}>"))
        .header("Subject", "Performance Test")
        .body("application/sdp", Bytes::from_static(SDP))
        .build()
}

/// A request from the caller inside the dialog the 200 established.
fn in_dialog(ok: &Message, method: &Method, cseq: u32, branch: &str) -> Bytes {
    let target = ok
        .contact()
        .map(|c| c.uri().as_str().to_owned())
        .unwrap_or_default();
    let text = |h| String::from_utf8_lossy(ok.header(h).unwrap_or_default()).into_owned();
    MessageBuilder::request(method, &target)
        .header("Via", format!("SIP/2.0/UDP {UAC};branch={branch};rport"))
        .header("Max-Forwards", "70")
        .header("From", text(HeaderName::From))
        .header("To", text(HeaderName::To))
        .header("Call-ID", ok.call_id())
        .header("CSeq", format!("{cseq} {method}"))
        .build()
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let prov = match toml::from_str(PROVISIONING) {
        Ok(p) => p,
        Err(e) => panic!("provisioning: {e}"),
    };
    let snapshot = match RoutingSnapshot::compile(&prov) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("snapshot: {e:?}"),
    };
    let start = Instant::now();
    let config = EngineConfig {
        local: addr(SWITCH),
        epoch: (start, 1_800_000_000),
        invite_timeout: Duration::from_secs(10),
        ringing_timeout: Duration::from_secs(120),
        max_call_duration: None,
        realm: "tollswitch".to_owned(),
        call_id_prefix: "ts0-".to_owned(),
        defer_hangup: false,
        cdr_id_prefix: "t0-".to_owned(),
    };
    let mut engine = B2bua::new(config, snapshot);
    let billing = Billing::new(tollswitch_billing::BillingConfig::default());
    if let Err(e) = billing.sync_accounts(&prov.accounts, |_| None, None) {
        panic!("accounts: {e:?}");
    }
    engine.set_billing(billing);
    let mut s = Switch {
        ep: Endpoint::new(Config::default()),
        engine,
        now: start,
        answered: 0,
        ended: 0,
        queue: Vec::with_capacity(64),
        tags: vec![[0u8; 32]; calls],
    };
    // Warm-up: one call through and out, so lazily built tables exist before measuring.
    s.receive(udp(UAC), invite(usize::MAX / 2));
    let (b0, n0) = live();

    for i in 0..calls {
        s.receive(udp(UAC), invite(i));
    }
    let up = live();
    assert_eq!(s.engine.active_calls(), calls + 1, "every call is up");
    s.advance(start + Duration::from_secs(30));
    let held = live();
    for i in 0..calls {
        // The caller hangs up: a BYE inside the dialog, as the switch's 200 described it.
        let bye = MessageBuilder::request(&Method::Bye, "sip:tollswitch@127.0.0.1:5060")
            .header(
                "Via",
                format!("SIP/2.0/UDP {UAC};branch=z9hG4bK-{i}-2-0;rport"),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                format!("\"sipp\" <sip:sipp@{UAC}>;tag={i}SIPpTag001"),
            )
            .header(
                "To",
                format!("<sip:4420{i:07}@{SWITCH}>;tag={}", tag(&s.tags[i])),
            )
            .header("Call-ID", format!("{i}-1@127.0.0.1"))
            .header("CSeq", "2 BYE")
            .build();
        s.receive(udp(UAC), bye);
    }
    let bye = live();
    s.advance(start + Duration::from_secs(120));
    let end = live();

    let per = |x: (isize, isize)| {
        (
            (x.0 - b0) as f64 / calls as f64,
            (x.1 - n0) as f64 / calls as f64,
        )
    };
    println!("{calls} calls through the switch (transaction layer + call engine + live billing)");
    for (what, x) in [
        ("established", up),
        ("held 30 s", held),
        ("after BYE", bye),
        ("all timers run out", end),
    ] {
        let (b, n) = per(x);
        println!("  {what:<20} {b:>8.0} heap bytes per call  {n:>6.1} blocks per call");
    }
    println!(
        "  answered {}, ended {}, live calls at the end {}, transactions {}",
        s.answered,
        s.ended,
        s.engine.active_calls(),
        s.ep.transaction_count()
    );
}

fn tag(slot: &[u8; 32]) -> String {
    let n = slot.iter().position(|&b| b == 0).unwrap_or(32);
    String::from_utf8_lossy(&slot[..n]).into_owned()
}
