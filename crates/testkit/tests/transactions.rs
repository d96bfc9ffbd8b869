//! RFC 3261 §17 transactions driven through the simulated network with a virtual clock.

use bytes::Bytes;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tollswitch_sip_core::{CancelOutcome, Config, Endpoint, Event, Peer, Transport, TxId, TxState};
use tollswitch_sip_msg::{Message, MessageBuilder, Method, response_to};
use tollswitch_testkit::{NetConfig, NodeId, World};

const UAC: &str = "127.0.0.1:5061";
const UAS: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn udp(s: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr(s),
    }
}

fn request(ep: &mut Endpoint, method: Method, transport: Transport, call_id: &str) -> Message {
    request_with_branch(&ep.new_branch(), method, transport, call_id, 1)
}

fn request_with_branch(
    branch: &str,
    method: Method,
    transport: Transport,
    call_id: &str,
    cseq: u32,
) -> Message {
    let bytes = MessageBuilder::request(&method, "sip:100@127.0.0.1:5080")
        .header(
            "Via",
            format!(
                "SIP/2.0/{} 127.0.0.1:5061;branch={branch}",
                transport.via_name()
            ),
        )
        .header("Max-Forwards", "70")
        .header("From", "<sip:200@127.0.0.1:5061>;tag=uac1")
        .header("To", "<sip:100@127.0.0.1:5080>")
        .header("Call-ID", call_id)
        .header("CSeq", format!("{cseq} {method}"))
        .header("Contact", "<sip:200@127.0.0.1:5061>")
        .build();
    Message::parse(bytes).expect("test request parses")
}

/// A UAS that answers INVITE with `provisional` (if any) then `final_code`, and any other
/// request with 200.
fn uas(world: &mut World, node: NodeId, provisional: Option<u16>, final_code: Option<u16>) {
    world.set_handler(
        node,
        Box::new(move |now, ev, ep| {
            if let Event::Request {
                tx: Some(tx), msg, ..
            } = ev
            {
                if msg.method() == Some(&Method::Invite) {
                    if let Some(p) = provisional {
                        let r = response_to(msg, p, "Ringing", Some("uas1")).build();
                        ep.send_response(now, *tx, r).expect("provisional");
                    }
                    if let Some(f) = final_code {
                        let r = response_to(msg, f, "Final", Some("uas1")).build();
                        ep.send_response(now, *tx, r).expect("final");
                    }
                } else {
                    let r = response_to(msg, 200, "OK", Some("uas1")).build();
                    ep.send_response(now, *tx, r).expect("200");
                }
            }
            if let Event::Cancelled { invite, .. } = ev
                && let Some(req) = ep.request(*invite).cloned()
            {
                let r = response_to(&req, 487, "Request Terminated", Some("uas1")).build();
                ep.send_response(now, *invite, r).expect("487");
            }
        }),
    );
}

fn world(seed: u64, loss: u32, config: Config) -> (World, NodeId, NodeId) {
    let mut w = World::new(
        seed,
        NetConfig {
            loss_percent: loss,
            ..NetConfig::default()
        },
    );
    let a = w.add_node(
        addr(UAC),
        Config {
            seed: seed ^ 1,
            ..config.clone()
        },
    );
    let b = w.add_node(
        addr(UAS),
        Config {
            seed: seed ^ 2,
            ..config
        },
    );
    (w, a, b)
}

fn finals(w: &World, node: NodeId) -> Vec<u16> {
    w.events(node)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Response { msg, .. } => msg.status().filter(|c| *c >= 200),
            _ => None,
        })
        .collect()
}

fn count_requests(w: &World, node: NodeId) -> usize {
    w.events(node)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Request { tx: Some(_), .. }))
        .count()
}

fn sends(w: &World, from: NodeId, starts: &str) -> Vec<Duration> {
    w.wire()
        .iter()
        .filter(|r| r.from == from && r.transmit.payload.starts_with(starts.as_bytes()))
        .map(|r| r.at)
        .collect()
}

fn secs(v: &[Duration]) -> Vec<f64> {
    v.iter().map(|d| d.as_secs_f64()).collect()
}

#[test]
fn every_transaction_kind_completes_without_loss_and_with_30_percent_loss_rfc3261_17() {
    for loss in [0, 30] {
        for seed in 1..=25u64 {
            // INVITE with a non-2xx final exercises both INVITE machines to their end (ACK).
            let (mut w, a, b) = world(seed, loss, Config::default());
            uas(&mut w, b, Some(180), Some(486));
            let inv = w.with_endpoint(a, |now, ep| {
                let m = request(ep, Method::Invite, Transport::Udp, &format!("inv-{seed}"));
                ep.send_request(now, m, udp(UAS)).expect("send")
            });
            w.drive(Duration::from_secs(70));
            assert_eq!(finals(&w, a), vec![486], "loss {loss} seed {seed}");
            assert_eq!(
                count_requests(&w, b),
                1,
                "INVITE passed up once (loss {loss} seed {seed})"
            );
            let got_ack = w
                .wire()
                .iter()
                .any(|r| r.from == a && r.transmit.payload.starts_with(b"ACK") && !r.dropped);
            assert!(got_ack, "an ACK reached the UAS (loss {loss} seed {seed})");
            assert!(
                w.events(b)
                    .iter()
                    .all(|(_, e)| !matches!(e, Event::Timeout { .. })),
                "server INVITE got its ACK before Timer H (loss {loss} seed {seed})"
            );
            assert_eq!(
                w.with_endpoint(a, |_, ep| ep.state(inv)),
                None,
                "client tx ended"
            );
            assert_eq!(
                w.with_endpoint(b, |_, ep| ep.transaction_count()),
                0,
                "server tx ended"
            );

            // Non-INVITE.
            let (mut w, a, b) = world(seed, loss, Config::default());
            uas(&mut w, b, None, None);
            w.with_endpoint(a, |now, ep| {
                let m = request(ep, Method::Options, Transport::Udp, &format!("opt-{seed}"));
                ep.send_request(now, m, udp(UAS)).expect("send")
            });
            w.drive(Duration::from_secs(70));
            assert_eq!(finals(&w, a), vec![200], "loss {loss} seed {seed}");
            assert_eq!(
                count_requests(&w, b),
                1,
                "retransmissions absorbed (loss {loss} seed {seed})"
            );
            assert_eq!(w.with_endpoint(a, |_, ep| ep.transaction_count()), 0);
            assert_eq!(w.with_endpoint(b, |_, ep| ep.transaction_count()), 0);
        }
    }
}

#[test]
fn timer_b_fires_at_64_t1_and_timer_a_doubles_rfc3261_17_1_1_2() {
    let (mut w, a, _b) = world(7, 0, Config::default());
    let tx = w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Udp, "timer-b");
        ep.send_request(now, m, udp("127.0.0.1:5999"))
            .expect("send")
    });
    w.drive(Duration::from_secs(100));
    assert_eq!(
        secs(&sends(&w, a, "INVITE")),
        [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    let timeouts: Vec<_> = w
        .events(a)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Timeout { tx: t } if *t == tx))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(timeouts, [Duration::from_secs(32)]);
}

#[test]
fn non_invite_retransmits_at_half_1_2_4_4_seconds_then_timer_f_rfc3261_17_1_2_2() {
    let (mut w, a, _b) = world(8, 0, Config::default());
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Options, Transport::Udp, "timer-e");
        ep.send_request(now, m, udp("127.0.0.1:5999"))
            .expect("send")
    });
    w.drive(Duration::from_secs(100));
    let at = sends(&w, a, "OPTIONS");
    let gaps: Vec<f64> = at.windows(2).map(|p| (p[1] - p[0]).as_secs_f64()).collect();
    assert_eq!(gaps, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]);
    let timeout = w
        .events(a)
        .iter()
        .find(|(_, e)| matches!(e, Event::Timeout { .. }))
        .map(|(t, _)| *t);
    assert_eq!(timeout, Some(Duration::from_secs(32)));
}

#[test]
fn resend_schedule_from_ss_sip_resend_interval_is_followed() {
    let schedule = Config::parse_resend_schedule("1,1,2").expect("schedule");
    let (mut w, a, _b) = world(
        9,
        0,
        Config {
            resend_schedule: Some(schedule),
            ..Config::default()
        },
    );
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Udp, "sched");
        ep.send_request(now, m, udp("127.0.0.1:5999"))
            .expect("send")
    });
    w.drive(Duration::from_secs(100));
    let at = sends(&w, a, "INVITE");
    let gaps: Vec<f64> = at.windows(2).map(|p| (p[1] - p[0]).as_secs_f64()).collect();
    assert_eq!(&gaps[..5], [1.0, 1.0, 2.0, 2.0, 2.0]);
    assert!(at.last().is_some_and(|t| *t < Duration::from_secs(32)));
}

#[test]
fn tcp_has_no_retransmissions_and_zero_wait_timers_rfc3261_17_1_1_2() {
    let (mut w, a, b) = world(10, 0, Config::default());
    uas(&mut w, b, None, Some(503));
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Tcp, "tcp");
        ep.send_request(
            now,
            m,
            Peer {
                transport: Transport::Tcp,
                addr: addr(UAS),
            },
        )
        .expect("send")
    });
    w.drive(Duration::from_secs(1));
    assert_eq!(finals(&w, a), vec![503]);
    assert_eq!(sends(&w, a, "INVITE").len(), 1);
    assert_eq!(sends(&w, b, "SIP/2.0 503").len(), 1);
    // Timers D and I are zero on reliable transports: both sides are clean within the latency.
    assert_eq!(w.with_endpoint(a, |_, ep| ep.transaction_count()), 0);
    assert_eq!(w.with_endpoint(b, |_, ep| ep.transaction_count()), 0);
}

#[test]
fn timer_g_retransmits_final_and_timer_h_fires_without_ack_rfc3261_17_2_1() {
    let (mut w, a, b) = world(11, 0, Config::default());
    uas(&mut w, b, None, Some(486));
    w.set_drop_filter(Box::new(|t| t.payload.starts_with(b"ACK")));
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Udp, "timer-h");
        ep.send_request(now, m, udp(UAS)).expect("send")
    });
    w.drive(Duration::from_secs(100));
    let at = sends(&w, b, "SIP/2.0 486");
    let gaps: Vec<f64> = at.windows(2).map(|p| (p[1] - p[0]).as_secs_f64()).collect();
    assert_eq!(&gaps[..5], [0.5, 1.0, 2.0, 4.0, 4.0]);
    let h = w
        .events(b)
        .iter()
        .find(|(_, e)| matches!(e, Event::Timeout { .. }))
        .map(|(t, _)| *t);
    // The INVITE arrived after 10 ms of latency; H = 64·T1 later.
    assert_eq!(h, Some(Duration::from_millis(32_010)));
    // Every retransmitted 486 was ACKed again by the client (absorbed there, not passed up).
    assert_eq!(finals(&w, a), vec![486]);
    assert!(sends(&w, a, "ACK").len() >= at.len() - 1);
}

#[test]
fn retransmitted_invite_resends_last_provisional_and_is_not_passed_up_rfc3261_17_2_1() {
    let (mut w, a, b) = world(12, 0, Config::default());
    uas(&mut w, b, None, None); // the UAS never answers beyond the automatic 100
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Udp, "retrans");
        ep.send_request(now, m.clone(), udp(UAS)).expect("send");
        ep.send_stateless(udp(UAS), m.as_bytes().clone());
    });
    w.drive(Duration::from_secs(1));
    assert_eq!(count_requests(&w, b), 1);
    assert_eq!(sends(&w, b, "SIP/2.0 100").len(), 2);
}

#[test]
fn merged_request_is_answered_482_rfc3261_8_2_2_2() {
    let (mut w, a, b) = world(13, 0, Config::default());
    uas(&mut w, b, Some(180), None);
    w.with_endpoint(a, |now, ep| {
        let m1 = request_with_branch("z9hG4bKfirst", Method::Invite, Transport::Udp, "merged", 5);
        let m2 = request_with_branch("z9hG4bKsecond", Method::Invite, Transport::Udp, "merged", 5);
        ep.send_request(now, m1, udp(UAS)).expect("first");
        ep.send_request(now, m2, udp(UAS)).expect("second");
    });
    w.drive(Duration::from_secs(1));
    assert_eq!(count_requests(&w, b), 1);
    assert_eq!(sends(&w, b, "SIP/2.0 482").len(), 1);
    assert_eq!(finals(&w, a), vec![482]);
}

#[test]
fn ack_for_2xx_is_passed_up_without_transaction_rfc3261_17_2_1() {
    let (mut w, a, b) = world(14, 0, Config::default());
    uas(&mut w, b, None, Some(200));
    w.set_handler(
        a,
        Box::new(|_now, ev, ep| {
            if let Event::Response { msg, .. } = ev
                && msg.status() == Some(200)
            {
                let branch = ep.new_branch();
                let mut ack =
                    request_with_branch(&branch, Method::Ack, Transport::Udp, msg.call_id(), 1);
                ack = Message::parse(ack.to_bytes()).expect("ack");
                ep.send_stateless(udp(UAS), ack.as_bytes().clone());
            }
        }),
    );
    let inv = w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Invite, Transport::Udp, "ack2xx");
        ep.send_request(now, m, udp(UAS)).expect("send")
    });
    w.drive(Duration::from_millis(100));
    assert_eq!(
        w.with_endpoint(a, |_, ep| ep.state(inv)),
        Some(TxState::Accepted)
    );
    let acks = w.events(b).iter().filter(|(_, e)| matches!(e, Event::Request { tx: None, msg, .. } if msg.method() == Some(&Method::Ack))).count();
    assert_eq!(acks, 1);
    w.drive(Duration::from_secs(40));
    assert_eq!(
        w.with_endpoint(a, |_, ep| ep.transaction_count()),
        0,
        "Timer M ended it"
    );
    assert_eq!(
        w.with_endpoint(b, |_, ep| ep.transaction_count()),
        0,
        "Timer L ended it"
    );
}

fn cancel_scenario(seed: u64) -> (World, NodeId, NodeId, TxId) {
    let (mut w, a, b) = world(seed, 0, Config::default());
    let inv = w.with_endpoint(a, |now, ep| {
        let m = request(
            ep,
            Method::Invite,
            Transport::Udp,
            &format!("cancel-{seed}"),
        );
        ep.send_request(now, m, udp(UAS)).expect("send")
    });
    (w, a, b, inv)
}

#[test]
fn cancel_during_ringing_gets_487_rfc3261_9_2() {
    let (mut w, a, b, inv) = cancel_scenario(15);
    uas(&mut w, b, Some(180), None);
    w.drive(Duration::from_millis(100));
    let outcome = w
        .with_endpoint(a, |now, ep| ep.cancel(now, inv))
        .expect("cancel");
    assert!(matches!(outcome, CancelOutcome::Sent(_)));
    w.drive(Duration::from_secs(40));
    assert!(
        w.events(b)
            .iter()
            .any(|(_, e)| matches!(e, Event::Cancelled { .. }))
    );
    let mut codes = finals(&w, a);
    codes.sort_unstable();
    assert_eq!(
        codes,
        vec![200, 487],
        "200 for the CANCEL, 487 for the INVITE"
    );
    assert_eq!(w.with_endpoint(b, |_, ep| ep.transaction_count()), 0);
}

#[test]
fn cancel_before_any_provisional_is_deferred_until_one_arrives_rfc3261_9_1() {
    let (mut w, a, b, inv) = cancel_scenario(16);
    uas(&mut w, b, Some(180), None);
    w.set_drop_filter(Box::new(|t| t.payload.starts_with(b"SIP/2.0 1")));
    let outcome = w
        .with_endpoint(a, |now, ep| ep.cancel(now, inv))
        .expect("cancel");
    assert_eq!(outcome, CancelOutcome::Deferred);
    w.drive(Duration::from_millis(700));
    assert!(
        sends(&w, a, "CANCEL").is_empty(),
        "no CANCEL before a provisional"
    );
    w.clear_drop_filter();
    w.drive(Duration::from_secs(5));
    assert_eq!(sends(&w, a, "CANCEL").len(), 1);
    assert!(finals(&w, a).contains(&487));
}

#[test]
fn cancel_crossing_200_ok_leaves_the_call_answered_rfc3261_9_2() {
    let (mut w, a, b, inv) = cancel_scenario(17);
    // The UAS rings, then answers at the very moment the CANCEL leaves the UAC.
    uas(&mut w, b, Some(180), None);
    w.drive(Duration::from_millis(100));
    let invite_tx = w.events(b).iter().find_map(|(_, e)| match e {
        Event::Request { tx: Some(tx), .. } => Some(*tx),
        _ => None,
    });
    let invite_tx = invite_tx.expect("uas saw the INVITE");
    w.with_endpoint(b, |now, ep| {
        let req = ep.request(invite_tx).cloned().expect("request");
        ep.send_response(
            now,
            invite_tx,
            response_to(&req, 200, "OK", Some("uas1")).build(),
        )
    })
    .expect("200");
    let outcome = w
        .with_endpoint(a, |now, ep| ep.cancel(now, inv))
        .expect("cancel");
    assert!(
        matches!(outcome, CancelOutcome::Sent(_)),
        "the 200 is still in flight"
    );
    w.drive(Duration::from_secs(1));
    assert!(
        !w.events(b)
            .iter()
            .any(|(_, e)| matches!(e, Event::Cancelled { .. })),
        "too late to cancel"
    );
    let codes = finals(&w, a);
    assert_eq!(
        codes.iter().filter(|c| **c == 200).count(),
        2,
        "200 for INVITE and for CANCEL"
    );
    assert_eq!(
        w.with_endpoint(a, |_, ep| ep.state(inv)),
        Some(TxState::Accepted)
    );
}

#[test]
fn cancel_after_final_response_is_too_late_rfc3261_9_1() {
    let (mut w, a, b, inv) = cancel_scenario(18);
    uas(&mut w, b, None, Some(486));
    w.drive(Duration::from_millis(100));
    let outcome = w
        .with_endpoint(a, |now, ep| ep.cancel(now, inv))
        .expect("cancel");
    assert_eq!(outcome, CancelOutcome::TooLate);
}

#[test]
fn cancel_without_matching_invite_gets_481_rfc3261_9_2() {
    let (mut w, a, b) = world(19, 0, Config::default());
    uas(&mut w, b, None, None);
    w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Cancel, Transport::Udp, "nothing-to-cancel");
        ep.send_request(now, m, udp(UAS)).expect("send")
    });
    w.drive(Duration::from_secs(1));
    assert_eq!(finals(&w, a), vec![481]);
}

#[test]
fn rfc2543_peer_without_branch_is_matched_by_fallback_rfc3261_17_2_3() {
    let (mut w, a, b) = world(20, 0, Config::default());
    uas(&mut w, b, None, Some(404));
    let inv = request_with_branch("none", Method::Invite, Transport::Udp, "old", 1);
    let raw = String::from_utf8_lossy(inv.as_bytes()).replace(";branch=none", "");
    let raw = Bytes::from(raw);
    w.with_endpoint(a, |_, ep| {
        ep.send_stateless(udp(UAS), raw.clone());
        ep.send_stateless(udp(UAS), raw.clone());
    });
    w.drive(Duration::from_millis(100));
    assert_eq!(
        count_requests(&w, b),
        1,
        "retransmission matched without a branch"
    );
    assert_eq!(
        sends(&w, b, "SIP/2.0 404").len(),
        2,
        "final re-sent for the retransmission"
    );
}

#[test]
fn malformed_request_gets_400_naming_the_fault() {
    let (mut w, a, b) = world(21, 0, Config::default());
    let bad = Bytes::from_static(
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKm\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: m1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    );
    w.with_endpoint(a, |_, ep| ep.send_stateless(udp(UAS), bad));
    w.drive(Duration::from_secs(1));
    assert!(
        w.events(b)
            .iter()
            .any(|(_, e)| matches!(e, Event::Malformed { .. }))
    );
    assert_eq!(sends(&w, b, "SIP/2.0 400 CSeq Method Mismatch").len(), 1);
}

#[test]
fn transport_error_terminates_and_reports_rfc3261_17_1_4() {
    let (mut w, a, _b) = world(22, 0, Config::default());
    let tx = w.with_endpoint(a, |now, ep| {
        let m = request(ep, Method::Options, Transport::Tcp, "terr");
        ep.send_request(
            now,
            m,
            Peer {
                transport: Transport::Tcp,
                addr: addr("127.0.0.1:5999"),
            },
        )
        .expect("send")
    });
    w.with_endpoint(a, |now, ep| ep.handle_transport_error(now, tx));
    assert!(
        w.events(a)
            .iter()
            .any(|(_, e)| matches!(e, Event::TransportError { tx: t } if *t == tx))
    );
    assert_eq!(w.with_endpoint(a, |_, ep| ep.transaction_count()), 0);
}

#[test]
fn responses_carry_received_and_rport_rfc3581() {
    let (mut w, a, b) = world(23, 0, Config::default());
    uas(&mut w, b, None, None);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    w.set_handler(
        a,
        Box::new(move |_, ev, _| {
            if let Event::Response { msg, .. } = ev {
                s2.borrow_mut()
                    .push(String::from_utf8_lossy(msg.top_via_raw()).into_owned());
            }
        }),
    );
    w.with_endpoint(a, |now, ep| {
        let bytes = MessageBuilder::request(&Method::Options, "sip:100@127.0.0.1:5080")
            .header(
                "Via",
                "SIP/2.0/UDP uac.invalid:7777;rport;branch=z9hG4bKrport",
            )
            .header("From", "<sip:a@b>;tag=1")
            .header("To", "<sip:100@127.0.0.1>")
            .header("Call-ID", "rport")
            .header("CSeq", "1 OPTIONS")
            .build();
        ep.send_request(now, Message::parse(bytes).expect("req"), udp(UAS))
            .expect("send")
    });
    w.drive(Duration::from_secs(1));
    assert_eq!(
        seen.borrow().as_slice(),
        ["SIP/2.0/UDP uac.invalid:7777;rport=5061;branch=z9hG4bKrport;received=127.0.0.1"]
    );
}
