//! One call's state and the messages its legs send.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Instant;
use tollswitch_routing::RouteDecision;
use tollswitch_sip_core::{Peer, TxId};
use tollswitch_sip_msg::{HeaderName, Message, MessageBuilder, Method};

/// Where a call is.
/// Line counters an attempt holds (released when it ends): its routing gateway and usually at
/// most one group, inline. (A call's own lines are a `Vec`: inline they would push the boxed
/// call into the allocator's next size class.)
pub(crate) type Held = smallvec::SmallVec<[(crate::counters::Kind, std::sync::Arc<str>); 2]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Leg B sent, nothing but 100 heard.
    Trying,
    /// Leg B is ringing (18x relayed).
    Ringing,
    /// 200 relayed to leg A.
    Connected,
}

/// The customer's side: the INVITE server transaction and, once answered, the dialog.
#[derive(Debug)]
pub(crate) struct LegA {
    pub(crate) tx: TxId,
    /// The customer's INVITE, until it has a final response (new attempts and responses to it
    /// are built from it); dropped once answered.
    pub(crate) invite: Option<Box<Message>>,
    /// What requests toward the customer are built from, for the life of the call.
    pub(crate) dialog: ADialog,
    pub(crate) source: Peer,
    /// Our tag in the To header of every response.
    pub(crate) to_tag: String,
    pub(crate) call_id: std::sync::Arc<str>,
    /// Next CSeq for requests we send to the customer.
    pub(crate) cseq: u32,
}

/// One attempt toward a routing gateway.
/// Leg A's dialog as the customer's INVITE set it up: where requests to the customer go and
/// their From/To (we are the UAS, so our From is their To). One string for the three.
#[derive(Debug)]
pub(crate) struct ADialog {
    text: Box<str>,
    /// Where the INVITE's From and To start in `text` (the target comes first).
    from_at: u32,
    to_at: u32,
}

impl ADialog {
    pub(crate) fn of(inv: &Message) -> ADialog {
        let target: String = inv
            .contact()
            .map(|c| c.uri().as_str().to_owned())
            .or_else(|| inv.from().map(|f| f.uri().as_str().to_owned()))
            .unwrap_or_default();
        let from = String::from_utf8_lossy(inv.header(HeaderName::From).unwrap_or_default());
        let to = String::from_utf8_lossy(inv.header(HeaderName::To).unwrap_or_default());
        let mut text = String::with_capacity(target.len() + from.len() + to.len());
        text.push_str(&target);
        text.push_str(&from);
        text.push_str(&to);
        // Parsed messages are far below 4 GB; a longer text reads as empty parts.
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        ADialog {
            from_at: at(target.len()),
            to_at: at(target.len() + from.len()),
            text: text.into(),
        }
    }

    fn part(&self, from: u32, to: u32) -> &str {
        self.text
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }

    /// The INVITE's Contact URI (its From URI when it had none).
    pub(crate) fn target(&self) -> &str {
        self.part(0, self.from_at)
    }

    /// The INVITE's From, as written.
    pub(crate) fn from(&self) -> &str {
        self.part(self.from_at, self.to_at)
    }

    /// The INVITE's To, as written.
    pub(crate) fn to(&self) -> &str {
        self.text.get(self.to_at as usize..).unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct LegB {
    pub(crate) tx: TxId,
    pub(crate) candidate: usize,
    /// Which of the gateway's addresses.
    pub(crate) target: usize,
    pub(crate) call_id: std::sync::Arc<str>,
    pub(crate) from: Box<str>,
    pub(crate) ruri: Box<str>,
    pub(crate) dest: Peer,
    /// The vendor's To tag, once a response carried one.
    pub(crate) remote_tag: Option<Box<str>>,
    /// Where in-dialog requests go (the Contact of the 2xx).
    pub(crate) remote_target: Option<Box<str>>,
    pub(crate) cseq: u32,
    /// Any response (even 100) came back from this address.
    pub(crate) heard: bool,
    pub(crate) provisional: bool,
    /// Abandoned by failover or timeout: a late 2xx is ACKed and hung up.
    pub(crate) abandoned: bool,
    /// The routing gateway and group lines this attempt holds; drained (once) when released.
    pub(crate) held: Held,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) phase: Phase,
    pub(crate) decision: RouteDecision,
    pub(crate) a: LegA,
    /// Every attempt; the last is the live one unless abandoned.
    pub(crate) b: Vec<LegB>,
    pub(crate) started: Instant,
    /// `started` in unix milliseconds.
    pub(crate) start_ms: i64,
    /// Caller and callee as received.
    /// The first 18x.
    pub(crate) ringing: Option<Instant>,
    pub(crate) connected: Option<Instant>,
    /// Armed engine timers, by [`CallTimer::index`].
    /// Deadlines, as milliseconds after `started` plus one (0: not running); see
    /// [`Call::set_timer`].
    pub(crate) timers: [u32; CALL_TIMERS],
    /// The 2xx sent on leg A until its ACK arrives: bytes, next interval, first send.
    /// The 2xx sent on leg A, its next resend interval and when it was first sent (until ACK).
    pub(crate) ok_a: Option<Box<(Bytes, std::time::Duration, Instant)>>,
    /// Every gateway tried with its final code (or the code the engine assumed).
    pub(crate) tried: Vec<(String, u16)>,
    /// Money held for the call while billing runs; settled or cancelled when it ends.
    pub(crate) grant: Option<tollswitch_billing::Grant>,
    /// Mapping gateway and account lines this call holds, released when it ends.
    /// A call's lines (mapping gateway, account, agents) on the heap: inline they would push
    /// the boxed call into the allocator's next size class.
    pub(crate) held: Vec<(crate::counters::Kind, std::sync::Arc<str>)>,
}

/// Engine timers (the transaction layer keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CallTimer {
    /// No provisional from leg B within `SS_SIP_TIMEOUT_INVITE`.
    Invite,
    /// No answer within `SS_SIP_TIMEOUT_RINGING` after ringing started.
    Ringing,
    /// `SS_MAX_CALL_DURATION` / the mapping gateway's limit reached.
    MaxDuration,
    /// Retransmit the 2xx on leg A until the caller's ACK (RFC 3261 §13.3.1.4).
    Retransmit2xx,
    /// Reserve the next slice of the caller's money (a little before the reserved time ends).
    Billing,
    /// The caller's money has run out: release the call.
    BalanceEnd,
}

/// How many [`CallTimer`]s there are.
pub(crate) const CALL_TIMERS: usize = 6;

impl CallTimer {
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl Call {
    /// When `timer` is due, if it runs.
    pub(crate) fn timer(&self, timer: CallTimer) -> Option<Instant> {
        match self.timers[timer.index()] {
            0 => None,
            n => Some(self.started + std::time::Duration::from_millis(u64::from(n - 1))),
        }
    }

    /// Starts `timer` at `at` rounded up to the millisecond; returns the deadline as kept.
    pub(crate) fn set_timer(&mut self, timer: CallTimer, at: Instant) -> Instant {
        let after = at.saturating_duration_since(self.started);
        let ms = after.as_millis() + u128::from(!after.subsec_nanos().is_multiple_of(1_000_000));
        // Deadlines beyond 49 days are clamped (no call timer is that long).
        let ms = u32::try_from(ms).unwrap_or(u32::MAX - 1).min(u32::MAX - 1);
        self.timers[timer.index()] = ms + 1;
        self.started + std::time::Duration::from_millis(u64::from(ms))
    }

    /// Stops `timer`.
    pub(crate) fn clear_timer(&mut self, timer: CallTimer) {
        self.timers[timer.index()] = 0;
    }

    pub(crate) fn live_b_mut(&mut self) -> Option<&mut LegB> {
        self.b.last_mut().filter(|b| !b.abandoned)
    }
}

/// `sip:user@host:port` for a leg B Request-URI and To.
pub(crate) fn vendor_uri(user: &str, host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("sip:{user}@[{host}]:{port}")
    } else {
        format!("sip:{user}@{host}:{port}")
    }
}

pub(crate) fn host_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}

pub(crate) fn contact(local: SocketAddr) -> String {
    format!("<sip:tollswitch@{}:{}>", host_of(local), local.port())
}

/// The leg B INVITE: a new dialog carrying leg A's body.
#[allow(clippy::too_many_arguments)]
pub(crate) fn leg_b_invite(
    a: &Message,
    b: &LegB,
    branch: &str,
    local: SocketAddr,
    max_forwards: u8,
    pai: Option<&[u8]>,
) -> Bytes {
    let via_host = format!("{}:{}", host_of(local), local.port());
    let mut m = MessageBuilder::request(&Method::Invite, &b.ruri)
        .header(
            "Via",
            format!(
                "SIP/2.0/{} {via_host};branch={branch};rport",
                b.dest_transport()
            ),
        )
        .header("Max-Forwards", max_forwards.to_string())
        .header("From", &*b.from)
        .header("To", format!("<{}>", b.ruri))
        .header("Call-ID", &*b.call_id)
        .header("CSeq", format!("{} INVITE", b.cseq))
        .header("Contact", contact(local))
        .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE");
    if let Some(pai) = pai {
        m.push_header("P-Asserted-Identity", pai);
    }
    for h in a.headers() {
        if matches!(
            h.name,
            HeaderName::SessionExpires | HeaderName::MinSe | HeaderName::Supported
        ) {
            m.push_header(h.raw_name, h.value);
        }
    }
    match a.content_type() {
        Some(ct) if !a.body().is_empty() => m.body(ct, a.body_bytes()).build(),
        _ => m.build(),
    }
}

/// The ACK for a retransmitted 2xx from a vendor, built from the response itself (RFC 3261
/// §13.2.2.4): its dialog, its CSeq number, its Contact as Request-URI; `None` without a
/// Contact.
pub(crate) fn ack_for_2xx(
    resp: &Message,
    transport: &str,
    branch: &str,
    local: SocketAddr,
) -> Option<Bytes> {
    let target = resp.contact()?.uri().as_str().to_owned();
    let via_host = format!("{}:{}", host_of(local), local.port());
    Some(
        MessageBuilder::request(&Method::Ack, &target)
            .header(
                "Via",
                format!("SIP/2.0/{transport} {via_host};branch={branch};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", resp.header(HeaderName::From)?)
            .header("To", resp.header(HeaderName::To)?)
            .header("Call-ID", resp.call_id())
            .header("CSeq", format!("{} ACK", resp.cseq().seq))
            .header("Contact", contact(local))
            .build(),
    )
}

impl LegB {
    pub(crate) fn dest_transport(&self) -> &'static str {
        self.dest.transport.via_name()
    }

    /// `To` with the vendor's tag once known.
    pub(crate) fn to_with_tag(&self) -> String {
        match &self.remote_tag {
            Some(t) => format!("<{}>;tag={t}", self.ruri),
            None => format!("<{}>", self.ruri),
        }
    }

    /// An in-dialog request (ACK or BYE) toward the vendor.
    pub(crate) fn request(
        &self,
        method: &Method,
        cseq: u32,
        branch: &str,
        local: SocketAddr,
    ) -> Bytes {
        self.request_with(method, cseq, branch, local, None)
    }

    /// An in-dialog request toward the vendor, with an optional body (re-INVITE, UPDATE, INFO).
    pub(crate) fn request_with(
        &self,
        method: &Method,
        cseq: u32,
        branch: &str,
        local: SocketAddr,
        body: Option<(&str, Bytes)>,
    ) -> Bytes {
        let target = self.remote_target.as_deref().unwrap_or(&self.ruri);
        let via_host = format!("{}:{}", host_of(local), local.port());
        let b = MessageBuilder::request(method, target)
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {via_host};branch={branch};rport",
                    self.dest_transport()
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", &*self.from)
            .header("To", self.to_with_tag())
            .header("Call-ID", &*self.call_id)
            .header("CSeq", format!("{cseq} {method}"))
            .header("Contact", contact(local));
        match body {
            Some((ct, body)) => b.body(ct, body).build(),
            None => b.build(),
        }
    }
}

impl LegA {
    /// A request toward the customer inside the dialog (we are its UAS: From is their To).
    pub(crate) fn request(&self, method: &Method, branch: &str, local: SocketAddr) -> Bytes {
        self.request_with(method, branch, local, None)
    }

    /// The same with an optional body (re-INVITE, UPDATE, INFO).
    pub(crate) fn request_with(
        &self,
        method: &Method,
        branch: &str,
        local: SocketAddr,
        body: Option<(&str, Bytes)>,
    ) -> Bytes {
        let d = &self.dialog;
        let via_host = format!("{}:{}", host_of(local), local.port());
        let b = MessageBuilder::request(method, d.target())
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {via_host};branch={branch};rport",
                    self.source.transport.via_name()
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", format!("{};tag={}", d.to(), self.to_tag))
            .header("To", d.from())
            .header("Call-ID", &*self.call_id)
            .header("CSeq", format!("{} {method}", self.cseq))
            .header("Contact", contact(local));
        match body {
            Some((ct, body)) => b.body(ct, body).build(),
            None => b.build(),
        }
    }
}
