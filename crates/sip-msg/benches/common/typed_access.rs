// Parse + typed access with each parser, shared by benches/parse.rs and examples/parse_loop.rs:
// the transaction and dialog keys a B2BUA reads from every INVITE.

pub fn tollswitch_typed(b: &Bytes) -> usize {
    let Ok(m) = Message::parse(b.clone()) else {
        return 0;
    };
    m.branch().map_or(0, str::len)
        + m.call_id().len()
        + m.from_tag().map_or(0, str::len)
        + m.cseq().seq as usize
        + m.request_uri().and_then(|u| u.user()).map_or(0, str::len)
}

pub fn rsip_typed(b: &[u8]) -> usize {
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

pub fn rsipstack_typed(b: &[u8]) -> usize {
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
