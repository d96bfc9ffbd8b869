//! Datagrams and timer ticks fed to the transaction layer in any order.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use tollswitch_sip_core::{Config, Endpoint, Event, Output, Peer, Transport};
use tollswitch_sip_msg::response_to;

fuzz_target!(|data: &[u8]| {
    let mut ep = Endpoint::new(Config::default());
    let start = Instant::now();
    let mut now = start;
    let peer = Peer {
        transport: Transport::Udp,
        addr: ([127, 0, 0, 1], 5061).into(),
    };
    // Records are separated by 0xFF: a record of one byte advances the clock.
    for record in data.split(|&b| b == 0xff) {
        if record.len() == 1 {
            now += Duration::from_millis(u64::from(record[0]) * 250);
            ep.handle_timeout(now);
        } else {
            ep.handle_receive(now, peer, Bytes::copy_from_slice(record));
        }
        drain(&mut ep, now);
    }
    let end = start + Duration::from_secs(3600);
    ep.handle_timeout(end);
    drain(&mut ep, end);
    ep.handle_timeout(end + Duration::from_secs(3600));
    drain(&mut ep, end);
    assert_eq!(
        ep.transaction_count(),
        0,
        "every transaction ends within an hour"
    );
});

/// The user answers every request it is handed, as the call engine always does.
fn drain(ep: &mut Endpoint, now: Instant) {
    loop {
        match ep.poll_output() {
            Output::Timeout(_) => return,
            Output::Event(Event::Request {
                tx: Some(tx), msg, ..
            }) => {
                let _ =
                    ep.send_response(now, tx, response_to(&msg, 500, "Fuzz", Some("f")).build());
            }
            _ => {}
        }
    }
}
