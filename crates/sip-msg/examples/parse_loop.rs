//! Parses the benchmark INVITE N times with one parser, for instruction counting under
//! callgrind (`benches/instructions.sh`): `parse_loop tollswitch|rsip|rsipstack [N]`.

use bytes::Bytes;
use std::hint::black_box;
use tollswitch_sip_msg::Message;

include!("../benches/invite.rs");

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let bytes = Bytes::from_static(INVITE);
    let mut sum = 0usize;
    for _ in 0..n {
        sum += match which.as_str() {
            "rsip" => rsip_typed(black_box(INVITE)),
            "rsipstack" => rsipstack_typed(black_box(INVITE)),
            _ => tollswitch_typed(black_box(&bytes)),
        };
    }
    println!("{which}: {n} parses, checksum {sum}");
}

fn tollswitch_typed(b: &Bytes) -> usize {
    let Ok(m) = Message::parse(b.clone()) else {
        return 0;
    };
    m.branch().map_or(0, str::len)
        + m.call_id().len()
        + m.from_tag().map_or(0, str::len)
        + m.cseq().seq as usize
        + m.request_uri().and_then(|u| u.user()).map_or(0, str::len)
}

fn rsip_typed(b: &[u8]) -> usize {
    use rsip::prelude::*;
    let Ok(m) = rsip::SipMessage::try_from(b) else {
        return 0;
    };
    let branch = m
        .via_header()
        .and_then(|v| v.typed())
        .map(|v| v.branch().map(|b| b.to_string().len()));
    let call_id = m.call_id_header().map(|c| c.value().len());
    let tag = m
        .from_header()
        .and_then(|f| f.tag())
        .map(|t| t.map(|t| t.to_string().len()));
    let cseq = m
        .cseq_header()
        .and_then(|c| c.typed())
        .map(|c| c.seq as usize);
    branch.ok().flatten().unwrap_or(0)
        + call_id.unwrap_or(0)
        + tag.ok().flatten().unwrap_or(0)
        + cseq.unwrap_or(0)
}

fn rsipstack_typed(b: &[u8]) -> usize {
    use rsipstack::sip::prelude::*;
    let Ok(m) = rsipstack::sip::SipMessage::try_from(b) else {
        return 0;
    };
    let branch = m
        .via_header()
        .and_then(|v| v.typed())
        .map(|v| v.branch().map(|b| b.to_string().len()));
    let call_id = m.call_id_header().map(|c| c.value().len());
    let tag = m
        .from_header()
        .and_then(|f| f.tag())
        .map(|t| t.map(|t| t.to_string().len()));
    let cseq = m
        .cseq_header()
        .and_then(|c| c.typed())
        .map(|c| c.seq as usize);
    branch.ok().flatten().unwrap_or(0)
        + call_id.unwrap_or(0)
        + tag.ok().flatten().unwrap_or(0)
        + cseq.unwrap_or(0)
}
