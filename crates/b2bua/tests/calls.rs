//! Call flows through the B2BUA on the simulated network: customer UAC → switch → vendor UASes.

use bytes::Bytes;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollswitch_b2bua::{B2bua, CallEnd, CallEvent, Config as EngineConfig, EndedBy};
use tollswitch_routing::RoutingSnapshot;
use tollswitch_sip_core::{Config, Endpoint, Event, Peer, Transport};
use tollswitch_sip_msg::{HeaderName, Message, MessageBuilder, Method, response_to};
use tollswitch_testkit::{NetConfig, NodeId, User, World};

const UAC: &str = "127.0.0.1:5061";
const SWITCH: &str = "127.0.0.1:5060";
const VENDOR1: &str = "127.0.0.1:5080";
const VENDOR2: &str = "127.0.0.1:5082";

const PROVISIONING: &str = r#"
[[account]]
name = "customer"
kind = "customer"
currency = "USD"
balance = "100.00"
rate_table = "retail"

[[account]]
name = "vendor-a"
kind = "vendor"
currency = "USD"

[[account]]
name = "vendor-b"
kind = "vendor"
currency = "USD"

[[mapping_gateway]]
name = "pbx"
account = "customer"
sources = ["127.0.0.1:5061"]

[[routing_gateway]]
name = "gw1"
vendor_account = "vendor-a"
targets = [{ host = "127.0.0.1", port = 5080 }]
prefixes = ["44"]
priority = 1
rate_table = "cost"

[[routing_gateway]]
name = "gw2"
vendor_account = "vendor-b"
targets = [{ host = "127.0.0.1", port = 5082 }]
prefixes = ["44"]
priority = 2
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

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

struct Engine {
    b2bua: Rc<RefCell<B2bua>>,
    ended: Rc<RefCell<Vec<CallEnd>>>,
}

impl User for Engine {
    fn on_event(&mut self, now: Instant, event: &Event, ep: &mut Endpoint) {
        self.b2bua.borrow_mut().handle_event(now, event.clone(), ep);
        self.collect();
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.b2bua.borrow_mut().poll_timeout()
    }
    fn on_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        self.b2bua.borrow_mut().handle_timeout(now, ep);
        self.collect();
    }
}

impl Engine {
    fn collect(&mut self) {
        while let Some(CallEvent::Ended(e)) = self.b2bua.borrow_mut().poll_call_event() {
            self.ended.borrow_mut().push(e);
        }
    }
}

/// A vendor UAS: answers each INVITE with a script of codes (the last is final), answers
/// other requests 200 and CANCEL with 487, and retransmits its 2xx until the ACK (RFC 3261
/// §13.3.1.4), as SIPp's UAS does.
struct Vendor {
    script: Vec<u16>,
    resend: Vec<(tollswitch_sip_core::TxId, Bytes, Instant, Duration)>,
}

impl User for Vendor {
    fn on_event(&mut self, now: Instant, ev: &Event, ep: &mut Endpoint) {
        match ev {
            Event::Request {
                tx: Some(tx), msg, ..
            } => match msg.method() {
                Some(Method::Invite) => {
                    for &code in &self.script {
                        let mut b = response_to(msg, code, "Scripted", Some("vendor"));
                        if (200..300).contains(&code) {
                            b.push_header("Contact", "<sip:vendor@127.0.0.1>");
                            let r = b
                                .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
                                .build();
                            let _ = ep.send_response(now, *tx, r.clone());
                            self.resend.push((
                                *tx,
                                r,
                                now + Duration::from_millis(500),
                                Duration::from_millis(500),
                            ));
                        } else if code == 183 {
                            let early = Bytes::from_static(b"v=0\r\ns=early\r\n");
                            let _ = ep.send_response(
                                now,
                                *tx,
                                b.body("application/sdp", early).build(),
                            );
                        } else {
                            let _ = ep.send_response(now, *tx, b.build());
                        }
                    }
                }
                _ => {
                    let _ = ep.send_response(
                        now,
                        *tx,
                        response_to(msg, 200, "OK", Some("vendor")).build(),
                    );
                }
            },
            Event::Request { tx: None, msg, .. } if msg.method() == Some(&Method::Ack) => {
                self.resend.clear();
            }
            Event::Cancelled { invite, .. } => {
                if let Some(req) = ep.request(*invite).cloned() {
                    let r = response_to(&req, 487, "Terminated", Some("vendor")).build();
                    let _ = ep.send_response(now, *invite, r);
                }
            }
            _ => {}
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.resend.iter().map(|r| r.2).min()
    }

    fn on_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        for (tx, bytes, at, interval) in &mut self.resend {
            if *at <= now {
                let _ = ep.send_response(now, *tx, bytes.clone());
                *interval = (*interval * 2).min(Duration::from_secs(4));
                *at = now + *interval;
            }
        }
    }
}

fn vendor(w: &mut World, node: NodeId, script: Vec<u16>) {
    w.set_user(
        node,
        Box::new(Vendor {
            script,
            resend: Vec::new(),
        }),
    );
}

struct Setup {
    w: World,
    uac: NodeId,
    switch: NodeId,
    v1: NodeId,
    v2: NodeId,
    ended: Rc<RefCell<Vec<CallEnd>>>,
    uac_seen: Rc<RefCell<Vec<Message>>>,
    engine: Rc<RefCell<B2bua>>,
}

fn setup(seed: u64, loss: u32, provisioning: &str) -> Setup {
    let mut w = World::new(
        seed,
        NetConfig {
            loss_percent: loss,
            ..NetConfig::default()
        },
    );
    let mut node = |at: &str, salt: u64| {
        w.add_node(
            addr(at),
            Config {
                seed: seed ^ salt,
                ..Config::default()
            },
        )
    };
    let (uac, switch, v1, v2) = (
        node(UAC, 1),
        node(SWITCH, 2),
        node(VENDOR1, 3),
        node(VENDOR2, 4),
    );
    let prov = toml::from_str(provisioning).expect("provisioning");
    let snapshot = Arc::new(RoutingSnapshot::compile(&prov).expect("compile"));
    let config = EngineConfig {
        local: addr(SWITCH),
        epoch: (w.now(), 1_800_000_000),
        invite_timeout: Duration::from_secs(10),
        ringing_timeout: Duration::from_secs(120),
        max_call_duration: None,
        realm: "tollswitch".to_owned(),
        call_id_prefix: String::new(),
        defer_hangup: false,
        cdr_id_prefix: "t0-".to_owned(),
    };
    let ended = Rc::new(RefCell::new(Vec::new()));
    let engine = Rc::new(RefCell::new(B2bua::new(config, snapshot)));
    w.set_user(
        switch,
        Box::new(Engine {
            b2bua: engine.clone(),
            ended: ended.clone(),
        }),
    );
    let uac_seen = Rc::new(RefCell::new(Vec::new()));
    let seen = uac_seen.clone();
    w.set_handler(
        uac,
        Box::new(move |now, ev, ep| match ev {
            Event::Response { msg, .. } => {
                if msg.status() == Some(200) && msg.cseq().method == Method::Invite {
                    let ack = dialog_request(msg, &Method::Ack, 1, &ep.new_branch());
                    ep.send_stateless(udp(SWITCH), ack);
                }
                seen.borrow_mut().push(msg.clone());
            }
            Event::Request {
                tx: Some(tx), msg, ..
            } => {
                seen.borrow_mut().push(msg.clone());
                let _ = ep.send_response(now, *tx, response_to(msg, 200, "OK", None).build());
            }
            _ => {}
        }),
    );
    Setup {
        w,
        uac,
        switch,
        v1,
        v2,
        ended,
        uac_seen,
        engine,
    }
}

fn udp(s: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr(s),
    }
}

fn invite(ep: &mut Endpoint, callee: &str, call_id: &str) -> Message {
    let bytes = MessageBuilder::request(&Method::Invite, &format!("sip:{callee}@{SWITCH}"))
        .header(
            "Via",
            format!("SIP/2.0/UDP {UAC};branch={};rport", ep.new_branch()),
        )
        .header("Max-Forwards", "70")
        .header("From", format!("<sip:100@{UAC}>;tag=caller"))
        .header("To", format!("<sip:{callee}@{SWITCH}>"))
        .header("Call-ID", call_id)
        .header("CSeq", "1 INVITE")
        .header("Contact", format!("<sip:100@{UAC}>"))
        .body(
            "application/sdp",
            Bytes::from_static(b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"),
        )
        .build();
    Message::parse(bytes).expect("invite")
}

/// ACK or BYE from the caller inside the dialog the 200 established.
fn dialog_request(ok: &Message, method: &Method, cseq: u32, branch: &str) -> Bytes {
    let target = ok
        .contact()
        .map(|c| c.uri().as_str().to_owned())
        .unwrap_or_default();
    MessageBuilder::request(method, &target)
        .header("Via", format!("SIP/2.0/UDP {UAC};branch={branch};rport"))
        .header("Max-Forwards", "70")
        .header(
            "From",
            String::from_utf8_lossy(ok.header(HeaderName::From).unwrap_or_default()).as_ref(),
        )
        .header(
            "To",
            String::from_utf8_lossy(ok.header(HeaderName::To).unwrap_or_default()).as_ref(),
        )
        .header("Call-ID", ok.call_id())
        .header("CSeq", format!("{cseq} {method}"))
        .build()
}

/// Final responses the caller got for its INVITE (2xx retransmissions counted once).
fn finals(s: &Setup) -> Vec<u16> {
    let mut v: Vec<u16> = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.cseq().method == Method::Invite)
        .filter_map(|m| m.status().filter(|c| *c >= 200))
        .collect();
    v.dedup();
    v
}

fn start_call(s: &mut Setup, callee: &str, call_id: &str) {
    s.w.with_endpoint(s.uac, |now, ep| {
        let m = invite(ep, callee, call_id);
        ep.send_request(now, m, udp(SWITCH)).expect("send INVITE")
    });
}

fn caller_bye(s: &mut Setup) {
    let ok = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.status() == Some(200) && m.cseq().method == Method::Invite)
        .cloned()
        .expect("answered");
    s.w.with_endpoint(s.uac, |now, ep| {
        let bye =
            Message::parse(dialog_request(&ok, &Method::Bye, 2, &ep.new_branch())).expect("bye");
        ep.send_request(now, bye, udp(SWITCH)).expect("send BYE")
    });
}

fn requests_seen(w: &World, node: NodeId, method: &str) -> usize {
    w.events(node)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Request { msg, .. } if msg.method().map(Method::as_str) == Some(method)))
        .count()
}

#[test]
fn basic_call_with_caller_bye() {
    let mut s = setup(1, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    start_call(&mut s, "441234", "basic");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![200]);
    assert_eq!(
        requests_seen(&s.w, s.v1, "ACK"),
        1,
        "the switch ACKed the vendor's 200"
    );
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(2));
    assert_eq!(
        requests_seen(&s.w, s.v1, "BYE"),
        1,
        "BYE relayed to the vendor"
    );
    let ended = s.ended.borrow();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (ended[0].final_code, ended[0].connected, ended[0].ended_by),
        (200, true, EndedBy::Caller)
    );
    assert_eq!(ended[0].tried, vec![("gw1".to_owned(), 200)]);
    drop(ended);
    s.w.drive(Duration::from_secs(60));
    assert_eq!(
        s.w.with_endpoint(s.switch, |_, ep| ep.transaction_count()),
        0
    );
}

#[test]
fn a_vendor_2xx_retransmitted_after_the_call_ended_is_acked_again() {
    let mut s = setup(52, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![200]);
    // The switch's ACKs to the vendor are lost: the vendor keeps retransmitting its 200.
    s.w.set_drop_filter(Box::new(|t| {
        t.destination.addr.port() == 5080 && t.payload.starts_with(b"ACK ")
    }));
    start_call(&mut s, "441234", "late-2xx");
    s.w.drive(Duration::from_millis(300));
    assert_eq!(finals(&s), vec![200]);
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(2));
    assert_eq!(s.ended.borrow().len(), 1, "the call is over");
    assert_eq!(requests_seen(&s.w, s.v1, "ACK"), 0);
    // The next retransmission finds no call: the switch ACKs it from the 2xx itself.
    s.w.clear_drop_filter();
    s.w.drive(Duration::from_secs(5));
    assert!(
        requests_seen(&s.w, s.v1, "ACK") >= 1,
        "the retransmitted 2xx was ACKed"
    );
    let acked = requests_seen(&s.w, s.v1, "ACK");
    s.w.drive(Duration::from_secs(10));
    assert_eq!(
        requests_seen(&s.w, s.v1, "ACK"),
        acked,
        "the vendor stopped retransmitting once ACKed"
    );
}

#[test]
fn leg_b_is_a_new_dialog_and_hides_the_customer_topology() {
    let mut s = setup(2, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "hidden");
    s.w.drive(Duration::from_secs(2));
    let inv =
        s.w.events(s.v1)
            .iter()
            .find_map(|(_, e)| match e {
                Event::Request { msg, .. } if msg.method() == Some(&Method::Invite) => {
                    Some(msg.clone())
                }
                _ => None,
            })
            .expect("vendor saw the INVITE");
    assert_ne!(inv.call_id(), "hidden");
    assert_eq!(inv.vias().count(), 1);
    let raw = String::from_utf8_lossy(inv.as_bytes()).into_owned();
    assert!(
        !raw.contains(UAC),
        "nothing of the customer's addresses reaches the vendor: {raw}"
    );
    assert_eq!(inv.request_uri().and_then(|u| u.user()), Some("441234"));
    assert_eq!(inv.max_forwards(), Some(69));
    assert_eq!(inv.body(), b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n");
}

#[test]
fn callee_bye_is_relayed_to_the_caller() {
    let mut s = setup(3, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "callee-bye");
    s.w.drive(Duration::from_secs(2));
    let inv =
        s.w.events(s.v1)
            .iter()
            .find_map(|(_, e)| match e {
                Event::Request { msg, .. } if msg.method() == Some(&Method::Invite) => {
                    Some(msg.clone())
                }
                _ => None,
            })
            .expect("vendor INVITE");
    s.w.with_endpoint(s.v1, |now, ep| {
        let bye = MessageBuilder::request(&Method::Bye, &format!("sip:tollswitch@{SWITCH}"))
            .header(
                "Via",
                format!("SIP/2.0/UDP {VENDOR1};branch={}", ep.new_branch()),
            )
            .header(
                "From",
                format!(
                    "{};tag=vendor",
                    String::from_utf8_lossy(inv.header(HeaderName::To).unwrap_or_default())
                ),
            )
            .header(
                "To",
                String::from_utf8_lossy(inv.header(HeaderName::From).unwrap_or_default()).as_ref(),
            )
            .header("Call-ID", inv.call_id())
            .header("CSeq", "1 BYE")
            .build();
        ep.send_request(now, Message::parse(bye).expect("bye"), udp(SWITCH))
            .expect("send")
    });
    s.w.drive(Duration::from_secs(2));
    let byes = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.method() == Some(&Method::Bye))
        .count();
    assert_eq!(byes, 1);
    assert_eq!(s.ended.borrow()[0].ended_by, EndedBy::Callee);
}

#[test]
fn busy_from_the_only_candidate_is_relayed() {
    let one_gateway = PROVISIONING.replace(
        "prefixes = [\"44\"]\npriority = 2",
        "prefixes = [\"45\"]\npriority = 2",
    );
    let mut s = setup(4, 0, &one_gateway);
    vendor(&mut s.w, s.v1, vec![486]);
    start_call(&mut s, "441234", "busy");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![486]);
    assert_eq!(s.ended.borrow()[0].tried, vec![("gw1".to_owned(), 486)]);
}

#[test]
fn failover_503_from_vendor_1_then_200_from_vendor_2() {
    let mut s = setup(5, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![503]);
    vendor(&mut s.w, s.v2, vec![180, 200]);
    start_call(&mut s, "441234", "failover");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![200]);
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(2));
    let ended = s.ended.borrow();
    assert_eq!(
        ended[0].tried,
        vec![("gw1".to_owned(), 503), ("gw2".to_owned(), 200)]
    );
}

#[test]
fn a_host_name_target_is_reached_at_its_resolved_address_and_fails_over_until_resolved() {
    let prov = PROVISIONING.replacen(
        r#"targets = [{ host = "127.0.0.1", port = 5080 }]"#,
        r#"targets = [{ host = "Vendor-A.Example", port = 5080 }]"#,
        1,
    );
    let mut s = setup(51, 0, &prov);
    vendor(&mut s.w, s.v1, vec![200]);
    vendor(&mut s.w, s.v2, vec![200]);
    // Not resolved (yet): gw1 cannot be reached and the call fails over to gw2 at once.
    start_call(&mut s, "441234", "unresolved");
    s.w.drive(Duration::from_secs(2));
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(2));
    assert_eq!(
        s.ended.borrow()[0].tried,
        vec![("gw1".to_owned(), 503), ("gw2".to_owned(), 200)]
    );
    assert_eq!(requests_seen(&s.w, s.v1, "INVITE"), 0);
    // Resolved by the node (an IPv6 address first: the engine picks its socket's family).
    let mut resolved = tollswitch_b2bua::Resolved::new();
    resolved.insert(
        "vendor-a.example".to_owned(),
        vec!["::1".parse().expect("ip"), "127.0.0.1".parse().expect("ip")],
    );
    s.engine.borrow_mut().set_resolved(Arc::new(resolved));
    s.uac_seen.borrow_mut().clear();
    start_call(&mut s, "441234", "resolved");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![200]);
    assert_eq!(requests_seen(&s.w, s.v1, "INVITE"), 1);
    let invite =
        s.w.events(s.v1)
            .iter()
            .find_map(|(_, e)| match e {
                Event::Request { msg, .. } if msg.method() == Some(&Method::Invite) => {
                    Some(msg.request_uri_str().unwrap_or_default().to_owned())
                }
                _ => None,
            })
            .unwrap_or_default();
    assert_eq!(
        invite, "sip:441234@Vendor-A.Example:5080",
        "the name stays in the R-URI"
    );
}

#[test]
fn decline_603_from_vendor_1_stops_failover() {
    let mut s = setup(6, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![603]);
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "decline");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![603]);
    assert_eq!(requests_seen(&s.w, s.v2, "INVITE"), 0);
}

#[test]
fn no_answer_from_vendor_1_within_invite_timeout_then_vendor_2() {
    let mut s = setup(7, 0, PROVISIONING);
    // Vendor 1 is silent (no node handler answers, and its endpoint sends no 100 for a dropped INVITE).
    s.w.set_drop_filter(Box::new(|t| t.destination.addr.port() == 5080));
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "timeout");
    s.w.drive(Duration::from_secs(15));
    assert_eq!(finals(&s), vec![200]);
    let answered_at = s
        .w
        .events(s.v2)
        .iter()
        .find(|(_, e)| matches!(e, Event::Request { msg, .. } if msg.method() == Some(&Method::Invite)))
        .map(|(t, _)| *t)
        .expect("vendor 2 got the INVITE");
    assert!(
        answered_at >= Duration::from_secs(10) && answered_at < Duration::from_secs(11),
        "{answered_at:?}"
    );
}

#[test]
fn cancel_during_ringing_gets_487_and_cancels_leg_b() {
    let mut s = setup(8, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180]);
    start_call(&mut s, "441234", "cancel");
    s.w.drive(Duration::from_secs(1));
    let tx =
        s.w.events(s.uac)
            .iter()
            .find_map(|(_, e)| match e {
                Event::Response { tx, msg } if msg.status() == Some(180) => Some(*tx),
                _ => None,
            })
            .expect("ringing relayed");
    s.w.with_endpoint(s.uac, |now, ep| ep.cancel(now, tx))
        .expect("cancel");
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals(&s), vec![487]);
    let cancels =
        s.w.events(s.v1)
            .iter()
            .filter(|(_, e)| matches!(e, Event::Cancelled { .. }))
            .count();
    assert_eq!(cancels, 1, "the vendor's INVITE was cancelled");
    assert_eq!(s.ended.borrow()[0].ended_by, EndedBy::Caller);
}

#[test]
fn an_invite_whose_from_uri_does_not_parse_gets_400_bad_from() {
    let mut s = setup(12, 0, PROVISIONING);
    s.w.with_endpoint(s.uac, |now, ep| {
        let good = invite(ep, "441234", "bad-from");
        let raw = String::from_utf8_lossy(good.as_bytes()).replace(
            &format!("<sip:100@{UAC}>;tag=caller"),
            "<sip:100@exa=mple.com>;tag=caller",
        );
        let m = Message::parse(Bytes::from(raw)).expect("structure is valid");
        ep.send_request(now, m, udp(SWITCH)).expect("send INVITE")
    });
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![400]);
    let phrase = s
        .uac_seen
        .borrow()
        .iter()
        .find_map(|m| (m.status() == Some(400)).then(|| m.reason_phrase().map(str::to_owned)))
        .flatten();
    assert_eq!(phrase.as_deref(), Some("Bad From"));
    assert_eq!(requests_seen(&s.w, s.v1, "INVITE"), 0);
    assert_eq!(s.ended.borrow().len(), 1, "the refused attempt has its CDR");
}

#[test]
fn unknown_source_gets_403_and_unroutable_number_gets_404() {
    let mut s = setup(9, 0, &PROVISIONING.replace("127.0.0.1:5061", "192.0.2.99"));
    start_call(&mut s, "441234", "stranger");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![403]);
    let reason = s
        .uac_seen
        .borrow()
        .iter()
        .find_map(|m| m.reasons().next().map(|r| r.cause));
    assert_eq!(reason, Some(Some(403)));

    let mut s = setup(10, 0, PROVISIONING);
    start_call(&mut s, "33123", "nowhere");
    s.w.drive(Duration::from_secs(1));
    // No customer rate for 33 is refused before routing (403); a rated but unrouted prefix is 404.
    let rated = PROVISIONING.replace(
        "rate = [{ prefix = \"44\", price = \"0.05\" }]",
        "rate = [{ prefix = \"44\", price = \"0.05\" }, { prefix = \"33\", price = \"0.05\" }]",
    );
    let mut s2 = setup(11, 0, &rated);
    start_call(&mut s2, "33123", "nowhere-2");
    s2.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![403]);
    assert_eq!(finals(&s2), vec![404]);
}

#[test]
fn ringing_longer_than_the_invite_timeout_is_not_failed_over() {
    let mut s = setup(12, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180]);
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "long-ring");
    s.w.drive(Duration::from_secs(30));
    assert_eq!(
        requests_seen(&s.w, s.v2, "INVITE"),
        0,
        "still ringing on vendor 1 after 30 s"
    );
    assert!(finals(&s).is_empty());
}

#[test]
fn ringing_timeout_moves_to_the_next_vendor() {
    let mut s = setup(
        13,
        0,
        &PROVISIONING.replace(
            "priority = 1\n",
            "priority = 1\nringing_timeout_secs = 20\n",
        ),
    );
    vendor(&mut s.w, s.v1, vec![180]);
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "ring-timeout");
    s.w.drive(Duration::from_secs(25));
    assert_eq!(finals(&s), vec![200]);
    let ended_tried = {
        caller_bye(&mut s);
        s.w.drive(Duration::from_secs(2));
        s.ended.borrow()[0].tried.clone()
    };
    assert_eq!(
        ended_tried,
        vec![("gw1".to_owned(), 408), ("gw2".to_owned(), 200)]
    );
}

#[test]
fn reinvite_mid_call_is_relayed_with_its_body_both_ways() {
    let mut s = setup(14, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "reinvite");
    s.w.drive(Duration::from_secs(2));
    let ok = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.status() == Some(200))
        .cloned()
        .expect("answered");
    s.w.with_endpoint(s.uac, |now, ep| {
        let target = ok
            .contact()
            .map(|c| c.uri().as_str().to_owned())
            .unwrap_or_default();
        let reinvite = MessageBuilder::request(&Method::Invite, &target)
            .header(
                "Via",
                format!("SIP/2.0/UDP {UAC};branch={};rport", ep.new_branch()),
            )
            .header(
                "From",
                String::from_utf8_lossy(ok.header(HeaderName::From).unwrap_or_default()).as_ref(),
            )
            .header(
                "To",
                String::from_utf8_lossy(ok.header(HeaderName::To).unwrap_or_default()).as_ref(),
            )
            .header("Call-ID", ok.call_id())
            .header("CSeq", "2 INVITE")
            .header("Contact", format!("<sip:100@{UAC}>"))
            .body("application/sdp", Bytes::from_static(b"v=0\r\ns=hold\r\n"))
            .build();
        ep.send_request(
            now,
            Message::parse(reinvite).expect("re-INVITE"),
            udp(SWITCH),
        )
        .expect("send")
    });
    s.w.drive(Duration::from_secs(2));
    let at_vendor: Vec<Message> =
        s.w.events(s.v1)
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Request { msg, .. } if msg.method() == Some(&Method::Invite) => {
                    Some(msg.clone())
                }
                _ => None,
            })
            .collect();
    assert_eq!(at_vendor.len(), 2, "initial INVITE and the re-INVITE");
    assert_eq!(at_vendor[1].body(), b"v=0\r\ns=hold\r\n");
    assert_eq!(
        at_vendor[1].call_id(),
        at_vendor[0].call_id(),
        "same leg B dialog"
    );
    assert!(at_vendor[1].to_tag().is_some());
    assert_eq!(at_vendor[1].cseq().seq, 2);
    let answers = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.status() == Some(200) && m.cseq().seq == 2)
        .count();
    assert!(
        answers >= 1,
        "the caller got the vendor's answer to its re-INVITE"
    );
    assert_eq!(
        requests_seen(&s.w, s.v1, "ACK"),
        2,
        "both 2xx were ACKed on leg B"
    );
}

#[test]
fn early_media_183_with_sdp_is_relayed() {
    let mut s = setup(15, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![183]);
    start_call(&mut s, "441234", "early");
    s.w.drive(Duration::from_secs(1));
    let progress = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.status() == Some(183))
        .cloned();
    let progress = progress.expect("183 relayed");
    assert_eq!(progress.content_type(), Some("application/sdp"));
    assert_eq!(progress.body(), b"v=0\r\ns=early\r\n");
}

#[test]
fn calls_complete_under_10_percent_loss() {
    for seed in 20..30 {
        let mut s = setup(seed, 10, PROVISIONING);
        vendor(&mut s.w, s.v1, vec![180, 200]);
        start_call(&mut s, "441234", &format!("lossy-{seed}"));
        s.w.drive(Duration::from_secs(40));
        assert_eq!(finals(&s), vec![200], "seed {seed}");
    }
}

#[test]
fn line_limit_reached_gets_503_and_frees_when_the_call_ends() {
    let limited = PROVISIONING.replace(
        "sources = [\"127.0.0.1:5061\"]",
        "sources = [\"127.0.0.1:5061\"]\nline_limit = 1",
    );
    let mut s = setup(16, 0, &limited);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "first");
    s.w.drive(Duration::from_secs(1));
    start_call(&mut s, "441234", "second");
    s.w.drive(Duration::from_secs(1));
    let second: Vec<u16> = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.call_id() == "second")
        .filter_map(|m| m.status().filter(|c| *c >= 200))
        .collect();
    assert_eq!(
        second.first(),
        Some(&503),
        "the mapping gateway's one line is busy"
    );
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(1));
    assert!(
        s.engine.borrow().counters().is_idle(),
        "the line is free again"
    );
    start_call(&mut s, "441234", "third");
    s.w.drive(Duration::from_secs(1));
    let third = s
        .uac_seen
        .borrow()
        .iter()
        .any(|m| m.call_id() == "third" && m.status() == Some(200));
    assert!(third, "a new call is admitted once the line is free");
}

/// A vendor whose answer depends on the last digit of the callee: answer, busy, overloaded,
/// decline, or ring until the switch gives up.
struct RandomVendor {
    resend: Vec<(tollswitch_sip_core::TxId, Bytes, Instant, Duration)>,
}

impl User for RandomVendor {
    fn on_event(&mut self, now: Instant, ev: &Event, ep: &mut Endpoint) {
        match ev {
            Event::Request {
                tx: Some(tx), msg, ..
            } if msg.method() == Some(&Method::Invite) => {
                let digit = msg
                    .request_uri()
                    .and_then(|u| u.user())
                    .and_then(|u| u.bytes().last())
                    .map_or(0, |b| b.wrapping_sub(b'0'));
                let code = match digit {
                    0..=3 => 200,
                    4 => 486,
                    5 => 503,
                    6 => 603,
                    _ => 180,
                };
                let mut b = response_to(msg, code, "Random", Some("rv"));
                if code == 200 {
                    b.push_header("Contact", "<sip:rv@127.0.0.1>");
                    let r = b.build();
                    let _ = ep.send_response(now, *tx, r.clone());
                    self.resend.push((
                        *tx,
                        r,
                        now + Duration::from_millis(500),
                        Duration::from_millis(500),
                    ));
                } else {
                    let _ = ep.send_response(now, *tx, b.build());
                }
            }
            Event::Request {
                tx: Some(tx), msg, ..
            } => {
                let _ = ep.send_response(now, *tx, response_to(msg, 200, "OK", Some("rv")).build());
            }
            Event::Request { tx: None, msg, .. } if msg.method() == Some(&Method::Ack) => {
                self.resend.retain(|(tx, ..)| {
                    ep.request(*tx)
                        .is_some_and(|r| r.call_id() != msg.call_id())
                });
            }
            Event::Cancelled { invite, .. } => {
                if let Some(req) = ep.request(*invite).cloned() {
                    let _ = ep.send_response(
                        now,
                        *invite,
                        response_to(&req, 487, "Terminated", Some("rv")).build(),
                    );
                }
            }
            _ => {}
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.resend.iter().map(|r| r.2).min()
    }
    fn on_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        self.resend.retain(|(tx, ..)| ep.request(*tx).is_some());
        for (tx, bytes, at, interval) in &mut self.resend {
            if *at <= now {
                let _ = ep.send_response(now, *tx, bytes.clone());
                *interval = (*interval * 2).min(Duration::from_secs(4));
                *at = now + *interval;
            }
        }
    }
}

/// A caller that hangs up answered calls after a random hold and cancels some rings.
struct RandomCaller {
    rng: tollswitch_testkit::Rng,
    byes: Vec<(Instant, Message)>,
    cancels: Vec<(Instant, tollswitch_sip_core::TxId)>,
}

impl User for RandomCaller {
    fn on_event(&mut self, now: Instant, ev: &Event, ep: &mut Endpoint) {
        if let Event::Response { tx, msg } = ev {
            match msg.status() {
                Some(200) if msg.cseq().method == Method::Invite => {
                    let ack = dialog_request(msg, &Method::Ack, 1, &ep.new_branch());
                    ep.send_stateless(udp(SWITCH), ack);
                    if !self.byes.iter().any(|(_, m)| m.call_id() == msg.call_id()) {
                        let hold = Duration::from_millis(self.rng.below(5_000));
                        self.byes.push((now + hold, msg.clone()));
                    }
                }
                Some(180) if self.rng.chance(50) => {
                    let wait = Duration::from_millis(self.rng.below(3_000));
                    self.cancels.push((now + wait, *tx));
                }
                _ => {}
            }
        }
        if let Event::Request {
            tx: Some(tx), msg, ..
        } = ev
        {
            let _ = ep.send_response(now, *tx, response_to(msg, 200, "OK", None).build());
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.byes
            .iter()
            .map(|b| b.0)
            .chain(self.cancels.iter().map(|c| c.0))
            .min()
    }
    fn on_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        let (due, rest): (Vec<_>, Vec<_>) = self.byes.drain(..).partition(|(at, _)| *at <= now);
        self.byes = rest;
        for (_, ok) in due {
            if let Ok(bye) = Message::parse(dialog_request(&ok, &Method::Bye, 2, &ep.new_branch()))
            {
                let _ = ep.send_request(now, bye, udp(SWITCH));
            }
        }
        let (due, rest): (Vec<_>, Vec<_>) = self.cancels.drain(..).partition(|(at, _)| *at <= now);
        self.cancels = rest;
        for (_, tx) in due {
            let _ = ep.cancel(now, tx);
        }
    }
}

#[test]
fn counters_return_to_zero_after_thousands_of_calls_with_random_endings() {
    let limited = PROVISIONING.replace(
        "sources = [\"127.0.0.1:5061\"]",
        "sources = [\"127.0.0.1:5061\"]\nline_limit = 400",
    );
    let mut s = setup(17, 5, &limited);
    s.w.set_user(s.v1, Box::new(RandomVendor { resend: Vec::new() }));
    s.w.set_user(s.v2, Box::new(RandomVendor { resend: Vec::new() }));
    s.w.set_user(
        s.uac,
        Box::new(RandomCaller {
            rng: tollswitch_testkit::Rng::new(99),
            byes: Vec::new(),
            cancels: Vec::new(),
        }),
    );
    let calls = 3000;
    let mut rng = tollswitch_testkit::Rng::new(7);
    for i in 0..calls {
        let callee = format!("44{:06}{}", i, rng.below(10));
        s.w.with_endpoint(s.uac, |now, ep| {
            let m = invite(ep, &callee, &format!("rand-{i}"));
            ep.send_request(now, m, udp(SWITCH)).expect("send INVITE")
        });
        s.w.drive(Duration::from_millis(5));
    }
    // Let every call end: rings time out after 120 s, holds last at most 5 s.
    s.w.drive(Duration::from_secs(400));
    let ended = s.ended.borrow();
    assert_eq!(
        ended.len(),
        calls,
        "every call reported its end exactly once"
    );
    let mut ids: Vec<&str> = ended.iter().map(|e| e.call_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), calls);
    let engine = s.engine.borrow();
    assert_eq!(engine.active_calls(), 0);
    assert!(
        engine.counters().is_idle(),
        "every line taken was released exactly once"
    );
    // Every kind of ending happened, including refusals at the line limit.
    let count = |f: &dyn Fn(&CallEnd) -> bool| ended.iter().filter(|e| f(e)).count();
    let answered = count(&|e| e.connected);
    let at_limit = count(&|e| e.final_code == 503 && e.tried.is_empty());
    let cancelled = count(&|e| e.final_code == 487);
    let failed_over = count(&|e| e.tried.len() > 1);
    let declined = count(&|e| e.final_code == 603);
    for (what, n) in [
        ("answered", answered),
        ("line limit", at_limit),
        ("cancelled", cancelled),
        ("failed over", failed_over),
        ("declined", declined),
    ] {
        assert!(n > 0, "no call ended as {what}");
    }
}

#[test]
fn digest_authenticated_customer_is_challenged_407_then_routed() {
    let digest = PROVISIONING.replace(
        "sources = [\"127.0.0.1:5061\"]",
        "digest = { username = \"alice\", password = \"s3cret\" }",
    );
    let mut s = setup(18, 0, &digest);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "auth");
    s.w.drive(Duration::from_secs(1));
    let challenge = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.status() == Some(407))
        .and_then(|m| m.proxy_authenticate())
        .expect("407 with a challenge")
        .expect("digest challenge");
    assert_eq!(challenge.realm, "tollswitch");
    let answer_with = |password: &str, call_id: &str, s: &mut Setup| {
        let creds = challenge.answer(
            "alice",
            password,
            "INVITE",
            &format!("sip:441234@{SWITCH}"),
            "c0ffee",
            1,
        );
        s.w.with_endpoint(s.uac, |now, ep| {
            let m = invite(ep, "441234", call_id);
            let raw = String::from_utf8_lossy(m.as_bytes()).replacen(
                "CSeq: 1 INVITE",
                &format!(
                    "CSeq: 2 INVITE\r\nProxy-Authorization: {}",
                    creds.to_header_value()
                ),
                1,
            );
            ep.send_request(
                now,
                Message::parse(Bytes::from(raw)).expect("invite"),
                udp(SWITCH),
            )
            .expect("send")
        });
    };
    answer_with("wrong", "auth-bad", &mut s);
    s.w.drive(Duration::from_secs(1));
    let bad: Vec<u16> = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.call_id() == "auth-bad")
        .filter_map(|m| m.status().filter(|c| *c >= 200))
        .collect();
    assert_eq!(
        bad.first(),
        Some(&407),
        "a wrong password is challenged again"
    );
    answer_with("s3cret", "auth-good", &mut s);
    s.w.drive(Duration::from_secs(1));
    let good = s
        .uac_seen
        .borrow()
        .iter()
        .any(|m| m.call_id() == "auth-good" && m.status() == Some(200));
    assert!(good, "the right password is routed and answered");
}

/// The final codes the caller got for one Call-ID.
fn finals_of(s: &Setup, call_id: &str) -> Vec<u16> {
    let mut v: Vec<u16> = s
        .uac_seen
        .borrow()
        .iter()
        .filter(|m| m.call_id() == call_id && m.cseq().method == Method::Invite)
        .filter_map(|m| m.status().filter(|c| *c >= 200))
        .collect();
    v.dedup();
    v
}

#[test]
fn a_silent_first_address_moves_to_the_gateways_second_address() {
    let two = PROVISIONING.replace(
        "targets = [{ host = \"127.0.0.1\", port = 5080 }]",
        "targets = [{ host = \"127.0.0.1\", port = 5099 }, { host = \"127.0.0.1\", port = 5080 }]",
    );
    let mut s = setup(21, 0, &two);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "two-addresses");
    s.w.drive(Duration::from_secs(15));
    assert_eq!(finals(&s), vec![200]);
    assert_eq!(requests_seen(&s.w, s.v2, "INVITE"), 0, "gw2 was not needed");
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(2));
    let ended = s.ended.borrow();
    assert_eq!(
        ended[0].tried,
        vec![("gw1".to_owned(), 408), ("gw1".to_owned(), 200)],
        "the silent address timed out after SS_SIP_TIMEOUT_INVITE, then the second answered"
    );
    assert_eq!(ended[0].carrier, Some(0));
}

#[test]
fn a_gateway_group_line_limit_counts_calls_of_every_member() {
    let grouped = format!(
        "{PROVISIONING}\n[[gateway_group]]\nname = \"uk\"\nline_limit = 1\nmembers = [\"gw1\", \"gw2\"]\n"
    );
    let mut s = setup(22, 0, &grouped);
    vendor(&mut s.w, s.v1, vec![200]);
    vendor(&mut s.w, s.v2, vec![200]);
    start_call(&mut s, "441234", "g1");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(
        s.engine
            .borrow()
            .counters()
            .calls(tollswitch_b2bua::CounterKind::GatewayGroup, "uk"),
        1
    );
    start_call(&mut s, "441234", "g2");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals_of(&s, "g1"), vec![200]);
    assert_eq!(
        finals_of(&s, "g2"),
        vec![503],
        "both members are in the full group"
    );
    assert_eq!(requests_seen(&s.w, s.v2, "INVITE"), 0);
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(1));
    assert!(s.engine.borrow().counters().is_idle());
}

#[test]
fn an_agent_line_limit_counts_the_calls_of_its_sub_accounts() {
    let agent = PROVISIONING
        .replace(
            "name = \"customer\"\nkind = \"customer\"",
            "name = \"customer\"\nkind = \"customer\"\nparent_agent = \"reseller\"",
        )
        .replace(
            "[[account]]\nname = \"vendor-a\"",
            "[[account]]\nname = \"reseller\"\nkind = \"agent\"\ncurrency = \"USD\"\nline_limit = 1\n\n[[account]]\nname = \"vendor-a\"",
        );
    let mut s = setup(23, 0, &agent);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "a1");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(
        s.engine
            .borrow()
            .counters()
            .calls(tollswitch_b2bua::CounterKind::Account, "reseller"),
        1
    );
    start_call(&mut s, "441234", "a2");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals_of(&s, "a1"), vec![200]);
    assert_eq!(
        finals_of(&s, "a2"),
        vec![503],
        "the agent's one line is busy"
    );
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(1));
    assert!(s.engine.borrow().counters().is_idle());
}

#[test]
fn draining_refuses_new_calls_with_503_retry_after_and_lets_calls_finish() {
    let mut s = setup(24, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    start_call(&mut s, "441234", "before");
    s.w.drive(Duration::from_secs(1));
    s.engine.borrow_mut().set_draining(true);
    start_call(&mut s, "441234", "during");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals_of(&s, "during"), vec![503]);
    let retry = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.call_id() == "during" && m.status() == Some(503))
        .and_then(Message::retry_after);
    assert_eq!(retry, Some(30));
    assert_eq!(
        s.engine.borrow().active_calls(),
        1,
        "the answered call goes on"
    );
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(1));
    let ended = s.ended.borrow();
    let before = ended
        .iter()
        .find(|e| e.call_id == "before")
        .expect("the first call ended");
    assert_eq!((before.final_code, before.ended_by), (200, EndedBy::Caller));
    let during = ended
        .iter()
        .find(|e| e.call_id == "during")
        .expect("the refused attempt is recorded");
    assert_eq!((during.final_code, during.connected), (503, false));
    assert_eq!(s.engine.borrow().active_calls(), 0);
}

#[test]
fn hangup_all_ends_answered_calls_with_bye_and_ringing_calls_with_503() {
    let mut s = setup(25, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    vendor(&mut s.w, s.v2, vec![180]);
    start_call(&mut s, "441234", "answered");
    s.w.drive(Duration::from_secs(1));
    // The next call rings at gw1 forever: gw1 now only rings.
    vendor(&mut s.w, s.v1, vec![180]);
    start_call(&mut s, "441234", "ringing");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(s.engine.borrow().active_calls(), 2);
    s.w.with_endpoint(s.switch, |now, ep| {
        s.engine.borrow_mut().hangup_all(now, ep);
    });
    s.w.drive(Duration::from_secs(2));
    assert_eq!(finals_of(&s, "ringing"), vec![503]);
    let bye_to_caller = s
        .uac_seen
        .borrow()
        .iter()
        .any(|m| m.method() == Some(&Method::Bye));
    assert!(bye_to_caller, "the answered call's caller got a BYE");
    assert_eq!(requests_seen(&s.w, s.v1, "BYE"), 1, "and its vendor too");
    let cancelled =
        s.w.events(s.v1)
            .iter()
            .filter(|(_, e)| matches!(e, Event::Cancelled { .. }))
            .count();
    assert_eq!(cancelled, 1, "the ringing attempt was cancelled");
    let ended = s.ended.borrow();
    assert_eq!(ended.len(), 2);
    assert!(ended.iter().all(|e| e.ended_by == EndedBy::Switch));
    assert!(s.engine.borrow().counters().is_idle());
}

#[test]
fn call_end_carries_what_a_cdr_needs() {
    let mut s = setup(26, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![503]);
    vendor(&mut s.w, s.v2, vec![180, 200]);
    start_call(&mut s, "441234", "cdr");
    s.w.drive(Duration::from_secs(1));
    s.w.drive(Duration::from_secs(5));
    caller_bye(&mut s);
    s.w.drive(Duration::from_secs(1));
    let ended = s.ended.borrow();
    let e = &ended[0];
    assert_eq!((e.caller.as_str(), e.callee.as_str()), ("100", "441234"));
    assert_eq!(e.source, addr(UAC));
    assert_eq!(e.carrier, Some(1), "the second candidate carried it");
    assert!(
        (1_800_000_000_000..1_800_000_000_100).contains(&e.start_ms),
        "{}",
        e.start_ms
    );
    assert!(e.pdd.is_some() && e.answer_after >= e.pdd);
    assert!(e.hold_time >= Duration::from_secs(5));
    let d = e.decision.as_ref().expect("routed");
    assert_eq!(d.account.as_ref().map(|a| &*a.name), Some("customer"));
    assert_eq!(
        d.customer_rate.as_ref().map(|r| r.prefix.as_str()),
        Some("44")
    );
    assert_eq!(d.candidates[1].gateway.name, "gw2");
}

#[test]
fn deferred_hangup_holds_the_bye_answer_and_the_relayed_bye_until_released() {
    let mut s = setup(27, 0, PROVISIONING);
    let config = EngineConfig {
        local: addr(SWITCH),
        epoch: (s.w.now(), 1_800_000_000),
        invite_timeout: Duration::from_secs(10),
        ringing_timeout: Duration::from_secs(120),
        max_call_duration: None,
        realm: "tollswitch".to_owned(),
        call_id_prefix: String::new(),
        defer_hangup: true,
        cdr_id_prefix: "t0-".to_owned(),
    };
    let prov = toml::from_str(PROVISIONING).expect("provisioning");
    let snapshot = Arc::new(RoutingSnapshot::compile(&prov).expect("compile"));
    *s.engine.borrow_mut() = B2bua::new(config, snapshot);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    start_call(&mut s, "441234", "deferred");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![200]);
    caller_bye(&mut s);
    s.w.drive(Duration::from_millis(200));
    let bye_answered = |s: &Setup| {
        s.uac_seen
            .borrow()
            .iter()
            .any(|m| m.cseq().method == Method::Bye && m.status() == Some(200))
    };
    assert!(
        !bye_answered(&s),
        "no 200 for the BYE before the record is safe"
    );
    assert_eq!(
        requests_seen(&s.w, s.v1, "BYE"),
        0,
        "nor a BYE to the vendor"
    );
    let deferred = {
        let mut ended = s.ended.borrow_mut();
        assert_eq!(ended.len(), 1, "the call has ended in the engine");
        std::mem::take(&mut ended[0].deferred)
    };
    assert_eq!(
        deferred.len(),
        2,
        "the 200 for the BYE and the BYE to the vendor"
    );
    let engine = s.engine.clone();
    s.w.with_endpoint(s.switch, |now, ep| {
        engine.borrow_mut().release(now, deferred, ep)
    });
    s.w.drive(Duration::from_secs(1));
    assert!(bye_answered(&s), "released: the caller's BYE is answered");
    assert_eq!(
        requests_seen(&s.w, s.v1, "BYE"),
        1,
        "and the vendor gets its BYE"
    );
    s.w.drive(Duration::from_secs(40));
    assert_eq!(
        s.w.with_endpoint(s.switch, |_, ep| ep.transaction_count()),
        0
    );
}

/// Billing over `provisioning` with no anti-overdraft margin, attached to the setup's engine.
fn with_billing(s: &Setup, provisioning: &str) -> tollswitch_b2bua::Billing {
    let prov: tollswitch_model::provisioning::Provisioning =
        toml::from_str(provisioning).expect("provisioning");
    let cfg = tollswitch_billing::BillingConfig {
        overdraft_advance_minutes: 0,
        ..tollswitch_billing::BillingConfig::default()
    };
    let billing = tollswitch_b2bua::Billing::new(cfg);
    billing
        .sync_accounts(&prov.accounts, |_| None, None)
        .expect("accounts");
    s.engine.borrow_mut().set_billing(billing.clone());
    billing
}

fn money(s: &str) -> tollswitch_model::Money {
    s.parse().expect("money")
}

#[test]
fn a_call_is_released_exactly_when_the_balance_runs_out() {
    // 0.10 at 0.05 a minute, 60/60: two minutes.
    let prov = PROVISIONING.replace("balance = \"100.00\"", "balance = \"0.10\"");
    let mut s = setup(30, 0, &prov);
    let billing = with_billing(&s, &prov);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "runs-out");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![200]);
    s.w.drive(Duration::from_secs(119));
    assert!(
        s.ended.borrow().is_empty(),
        "still talking before two minutes"
    );
    s.w.drive(Duration::from_secs(5));
    let ended = s.ended.borrow();
    assert_eq!(ended.len(), 1, "released at two minutes");
    let e = &ended[0];
    assert_eq!(
        e.end_reason,
        tollswitch_model::cdr::EndReason::BalanceExhausted
    );
    assert_eq!(e.ended_by, EndedBy::Switch);
    let hold = e.hold_time.as_millis();
    assert!((120_000..120_100).contains(&hold), "hold {hold} ms");
    let st = e.settlement.as_ref().expect("settled");
    assert_eq!(st.debited, money("0.10"));
    assert_eq!(st.charge.billed_secs, 120);
    drop(ended);
    let after = billing.account("customer").expect("account");
    assert_eq!(after.balance, money("0"));
    assert_eq!((after.reserved, after.open_grants), (money("0"), 0));
    assert_eq!(requests_seen(&s.w, s.v1, "BYE"), 1, "the vendor got a BYE");
    let caller_bye = s
        .uac_seen
        .borrow()
        .iter()
        .any(|m| m.method() == Some(&Method::Bye));
    assert!(caller_bye, "and the caller");
}

#[test]
fn a_call_the_balance_cannot_start_is_refused_with_402_and_a_reason() {
    let prov = PROVISIONING.replace("balance = \"100.00\"", "balance = \"0.01\"");
    let mut s = setup(31, 0, &prov);
    let _billing = with_billing(&s, &prov);
    vendor(&mut s.w, s.v1, vec![200]);
    start_call(&mut s, "441234", "poor");
    s.w.drive(Duration::from_secs(1));
    assert_eq!(finals(&s), vec![402]);
    let reason = s
        .uac_seen
        .borrow()
        .iter()
        .find(|m| m.status() == Some(402))
        .and_then(|m| {
            m.header(HeaderName::Reason)
                .map(|r| String::from_utf8_lossy(r).into_owned())
        });
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("insufficient balance")),
        "{reason:?}"
    );
    assert_eq!(requests_seen(&s.w, s.v1, "INVITE"), 0, "no vendor leg");
    assert_eq!(
        s.ended.borrow()[0].end_reason,
        tollswitch_model::cdr::EndReason::Rejected
    );
}

#[test]
fn two_hundred_concurrent_calls_never_overdraw_a_shared_balance() {
    // 0.40 balance + 0.10 credit at 0.05 a minute, 6/6 increments: ten minutes in total.
    let prov = PROVISIONING
        .replace(
            "balance = \"100.00\"",
            "balance = \"0.40\"\ncredit_limit = \"0.10\"",
        )
        .replace(
            "rate = [{ prefix = \"44\", price = \"0.05\" }]\n\n[[rate_table]]\nname = \"cost\"",
            "rate = [{ prefix = \"44\", price = \"0.05\", first_increment_secs = 6, next_increment_secs = 6 }]\n\n[[rate_table]]\nname = \"cost\"",
        );
    assert_ne!(prov, PROVISIONING);
    let mut s = setup(32, 0, &prov);
    let billing = with_billing(&s, &prov);
    vendor(&mut s.w, s.v1, vec![200]);
    vendor(&mut s.w, s.v2, vec![200]);
    for i in 0..200 {
        start_call(&mut s, "441234", &format!("c{i}"));
    }
    // Callers who still hold a line hang up at random moments over the next ten minutes.
    let mut rng = tollswitch_testkit::Rng::new(32);
    for step in 0..60 {
        s.w.drive(Duration::from_secs(10));
        let answered: Vec<Message> = s
            .uac_seen
            .borrow()
            .iter()
            .filter(|m| m.status() == Some(200) && m.cseq().method == Method::Invite)
            .cloned()
            .collect();
        for ok in answered {
            if rng.chance(3) && !s.ended.borrow().iter().any(|e| e.call_id == ok.call_id()) {
                s.w.with_endpoint(s.uac, |now, ep| {
                    let bye = Message::parse(dialog_request(
                        &ok,
                        &Method::Bye,
                        2 + step,
                        &ep.new_branch(),
                    ))
                    .expect("bye");
                    ep.send_request(now, bye, udp(SWITCH)).expect("send BYE")
                });
            }
        }
    }
    s.w.drive(Duration::from_secs(60));
    let ended = s.ended.borrow();
    assert_eq!(ended.len(), 200, "every attempt ended");
    let debited: i64 = ended
        .iter()
        .filter_map(|e| e.settlement.as_ref())
        .map(|st| st.debited.micros())
        .sum();
    let view = billing.account("customer").expect("account");
    assert!(
        view.balance.micros() >= -100_000,
        "never below the credit limit: {}",
        view.balance
    );
    assert_eq!(
        money("0.40").micros() - view.balance.micros(),
        debited,
        "the sum of the charges is the balance change"
    );
    assert!(debited <= 500_000, "at most ten minutes were sold");
    assert_eq!((view.reserved, view.open_grants), (money("0"), 0));
    let cut = ended
        .iter()
        .filter(|e| e.end_reason == tollswitch_model::cdr::EndReason::BalanceExhausted)
        .count();
    let refused = ended.iter().filter(|e| e.final_code == 402).count();
    assert!(
        cut > 0 && refused > 0,
        "money ran out: {cut} cut, {refused} refused"
    );
    drop(ended);
    assert!(s.engine.borrow().counters().is_idle());
}

#[test]
fn the_operator_sees_calls_in_progress_and_hangs_one_up() {
    let mut s = setup(28, 0, PROVISIONING);
    vendor(&mut s.w, s.v1, vec![180, 200]);
    start_call(&mut s, "441234", "watched");
    s.w.drive(Duration::from_secs(1));
    let calls = s.engine.borrow().calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(
        (c.call_id.as_str(), c.state, c.routing_gateway.as_deref()),
        ("watched", "connected", Some("gw1"))
    );
    assert_eq!(c.account.as_deref(), Some("customer"));
    assert!(c.connect_ms >= Some(c.start_ms));
    let engine = s.engine.clone();
    let found = s.w.with_endpoint(s.switch, |now, ep| {
        engine.borrow_mut().hangup(now, "nonexistent", ep)
    });
    assert!(!found);
    let found = s.w.with_endpoint(s.switch, |now, ep| {
        engine.borrow_mut().hangup(now, "watched", ep)
    });
    assert!(found);
    s.w.drive(Duration::from_secs(1));
    assert!(s.engine.borrow().calls().is_empty());
    assert_eq!(requests_seen(&s.w, s.v1, "BYE"), 1);
    let ended = s.ended.borrow();
    assert_eq!(
        (ended[0].ended_by, ended[0].reason.as_str()),
        (EndedBy::Switch, "hung up by the operator")
    );
}
