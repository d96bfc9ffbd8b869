//! Building requests and responses straight into a send buffer.

use crate::error::{ParseError, Verdict};
use crate::header::HeaderName;
use crate::message::{Message, Method};
use crate::scan::trim;
use bytes::{BufMut, Bytes, BytesMut};

/// Writes a message line by line. Header values containing CR or LF are sanitised (folded to
/// spaces) so a value taken from one leg can never inject headers into the other.
#[derive(Debug)]
pub struct MessageBuilder {
    buf: BytesMut,
    body: Option<(String, Bytes)>,
}

impl MessageBuilder {
    /// Starts a request: `METHOD uri SIP/2.0`.
    pub fn request(method: &Method, uri: &str) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(1024);
        buf.put_slice(method.as_str().as_bytes());
        buf.put_u8(b' ');
        put_clean(&mut buf, uri.as_bytes());
        buf.put_slice(b" SIP/2.0\r\n");
        MessageBuilder { buf, body: None }
    }

    /// Starts a response: `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(1024);
        buf.put_slice(b"SIP/2.0 ");
        let mut digits = [0u8; 3];
        let c = code.clamp(100, 699);
        digits[0] = b'0' + (c / 100) as u8;
        digits[1] = b'0' + (c / 10 % 10) as u8;
        digits[2] = b'0' + (c % 10) as u8;
        buf.put_slice(&digits);
        buf.put_u8(b' ');
        put_clean(&mut buf, reason.as_bytes());
        buf.put_slice(b"\r\n");
        MessageBuilder { buf, body: None }
    }

    /// Appends a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> MessageBuilder {
        self.push_header(name, value);
        self
    }

    /// Appends a header (by reference).
    pub fn push_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        put_clean(&mut self.buf, name.as_bytes());
        self.buf.put_slice(b": ");
        put_clean(&mut self.buf, value.as_ref());
        self.buf.put_slice(b"\r\n");
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: Bytes) -> MessageBuilder {
        self.body = Some((content_type.to_owned(), body));
        self
    }

    /// Finishes with Content-Length (and Content-Type when there is a body).
    pub fn build(mut self) -> Bytes {
        match self.body.take() {
            Some((ct, body)) => {
                self.push_header("Content-Type", ct);
                self.push_header("Content-Length", body.len().to_string());
                self.buf.put_slice(b"\r\n");
                self.buf.put_slice(&body);
            }
            None => self.buf.put_slice(b"Content-Length: 0\r\n\r\n"),
        }
        // Messages are often kept (a transaction's request or last response, a 2xx's ACK):
        // hand back an exact-size buffer rather than the builder's spare capacity.
        if self.buf.capacity() - self.buf.len() > 64 {
            Bytes::copy_from_slice(&self.buf)
        } else {
            self.buf.freeze()
        }
    }
}

fn put_clean(buf: &mut BytesMut, v: &[u8]) {
    if v.iter().any(|&b| b == b'\r' || b == b'\n') {
        buf.extend(
            v.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        buf.put_slice(v);
    }
}

/// A response to `req` per RFC 3261 §8.2.6: Via (all, in order), From, Call-ID and CSeq copied;
/// To copied with `to_tag` added when the request had none and the code is above 100;
/// Timestamp echoed in 100 Trying (§8.2.6.1).
pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> MessageBuilder {
    let mut b = MessageBuilder::response(code, reason);
    for h in req.headers() {
        match h.name {
            HeaderName::Via => b.push_header("Via", h.value),
            HeaderName::From => b.push_header("From", h.value),
            HeaderName::CallId => b.push_header("Call-ID", h.value),
            HeaderName::CSeq => b.push_header("CSeq", h.value),
            HeaderName::To => {
                if let (Some(tag), None, true) = (to_tag, req.to_tag(), code > 100) {
                    let mut v = Vec::with_capacity(h.value.len() + tag.len() + 5);
                    v.extend_from_slice(h.value);
                    v.extend_from_slice(b";tag=");
                    v.extend_from_slice(tag.as_bytes());
                    b.push_header("To", v);
                } else {
                    b.push_header("To", h.value);
                }
            }
            HeaderName::Timestamp if code == 100 => b.push_header("Timestamp", h.value),
            _ => {}
        }
    }
    b
}

/// The stateless answer to a request that failed to parse, when one is possible: the status of
/// [`ParseError::verdict`] with Via, From, To, Call-ID and CSeq copied as written. `None` means
/// drop (a response, no readable Via/Call-ID/CSeq/From/To, or a fault that allows no answer).
pub fn reject_response(bytes: &[u8], err: &ParseError) -> Option<Bytes> {
    let is_request = Message::looks_like_request(bytes);
    let Verdict::Respond(code, reason) = err.verdict(is_request) else {
        return None;
    };
    let mut vias: Vec<&[u8]> = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let mut last: Option<HeaderName> = None;
    for line in bytes[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            // Folded continuation: a reject copies only single-line core headers.
            if last.is_some_and(|n| n != HeaderName::Other) {
                return None;
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = HeaderName::from_bytes(trim(&line[..colon]));
        let value = trim(&line[colon + 1..]);
        last = Some(name);
        match name {
            HeaderName::Via => vias.push(value),
            HeaderName::From => _ = from.get_or_insert(value),
            HeaderName::To => _ = to.get_or_insert(value),
            HeaderName::CallId => _ = call_id.get_or_insert(value),
            HeaderName::CSeq => _ = cseq.get_or_insert(value),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() || call_id.is_empty() {
        return None;
    }
    let mut b = MessageBuilder::response(code, reason);
    for v in vias {
        b.push_header("Via", v);
    }
    b.push_header("From", from);
    if to.windows(4).any(|w| w.eq_ignore_ascii_case(b"tag=")) {
        b.push_header("To", to);
    } else {
        let mut v = to.to_vec();
        v.extend_from_slice(format!(";tag=r{:08x}", fnv1a(call_id)).as_bytes());
        b.push_header("To", v);
    }
    b.push_header("Call-ID", call_id);
    b.push_header("CSeq", cseq);
    Some(b.build())
}

fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n\
Via: SIP/2.0/UDP h2;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=f\r\nTo: <sip:a@b>\r\n\
Call-ID: c1\r\nCSeq: 7 OPTIONS\r\nTimestamp: 54\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn response_copies_rfc3261_8_2_6() {
        let req = Message::parse(Bytes::from_static(REQ)).expect("req");
        let resp = Message::parse(response_to(&req, 200, "OK", Some("t9")).build()).expect("resp");
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.vias().count(), 2);
        assert_eq!(resp.to_tag(), Some("t9"));
        assert_eq!(resp.from_tag(), Some("f"));
        assert_eq!(resp.cseq().seq, 7);
        assert!(resp.header(HeaderName::Timestamp).is_none());
        let trying =
            Message::parse(response_to(&req, 100, "Trying", Some("t9")).build()).expect("100");
        assert_eq!(trying.to_tag(), None);
        assert_eq!(trying.header(HeaderName::Timestamp), Some(&b"54"[..]));
    }

    #[test]
    fn builder_sanitises_injection() {
        let m = MessageBuilder::request(&Method::Options, "sip:a@b")
            .header("Via", "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header("From", "<sip:x@y>;tag=1")
            .header("Subject", "hi\r\nX-Injected: yes")
            .header("To", "<sip:a@b>")
            .header("Call-ID", "c")
            .header("CSeq", "1 OPTIONS")
            .body("text/plain", Bytes::from_static(b"hi"))
            .build();
        let parsed = Message::parse(m).expect("parse");
        assert!(parsed.header_named("X-Injected").is_none());
        assert_eq!(parsed.body(), b"hi");
    }

    #[test]
    fn reject_copies_core_headers() {
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=f\r\n\
To: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 9 OPTIONS\r\nDate: yesterday\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse(Bytes::from_static(bad)).expect_err("bad date");
        let resp = Message::parse(reject_response(bad, &err).expect("answer")).expect("parse");
        assert_eq!(resp.status(), Some(400));
        assert_eq!(resp.reason_phrase(), Some("Bad Date"));
        assert!(resp.to_tag().is_some());
        let bad_resp = b"SIP/2.0 2000 OK\r\n\r\n";
        let err = Message::parse(Bytes::from_static(bad_resp)).expect_err("bad code");
        assert_eq!(reject_response(bad_resp, &err), None);
    }
}
