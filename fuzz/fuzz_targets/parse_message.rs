//! Any datagram: parse, read every typed view, print, re-parse.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tollswitch_sip_msg::{Message, reject_response};

fuzz_target!(|data: &[u8]| {
    match Message::parse(Bytes::copy_from_slice(data)) {
        Ok(m) => {
            let _ = (
                m.from().and_then(|f| f.tag()),
                m.to().map(|t| t.uri().host()),
                m.top_via().rport(),
            );
            let _ = m.check_addresses();
            let _ = (
                m.contacts().count(),
                m.routes().count(),
                m.session_expires(),
            );
            let again = Message::parse(m.to_bytes()).expect("printed message parses");
            assert_eq!(again.call_id(), m.call_id());
        }
        Err(e) => {
            let _ = reject_response(data, &e);
        }
    }
});
