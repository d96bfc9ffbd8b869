//! Framing SIP over a byte stream (TCP, TLS): RFC 3261 §18.3, messages delimited by
//! Content-Length, keep-alive pings of RFC 5626 §3.5.1.

use crate::error::ParseError;
use crate::header::HeaderName;
use crate::message::{Message, ParseOptions, head_end};
use crate::scan::{parse_u64, trim};
use bytes::{Buf, BytesMut};

/// What the stream yielded.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing would allocate per message for a rare keep-alive
pub enum Frame {
    /// A complete message.
    Message(Message),
    /// A CRLFCRLF keep-alive ping; answer with a single CRLF (RFC 5626 §3.5.1).
    KeepAlive,
    /// A message that was framed (its Content-Length is readable) but is invalid; the stream
    /// continues after it. The bytes are kept so a server can answer it (400 and the like).
    Malformed {
        /// The framed bytes.
        bytes: bytes::Bytes,
        /// What is wrong with them.
        error: ParseError,
    },
}

/// Accumulates bytes read from a connection and cuts them into messages. Partial reads and
/// several messages in one read are both handled.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    opts: ParseOptions,
    broken: bool,
    /// How far the search for the empty line has got, so slow senders cost linear time.
    scanned: usize,
}

impl StreamFramer {
    /// A framer enforcing `opts.max_message_size` per message.
    pub fn new(opts: ParseOptions) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            opts,
            broken: false,
            scanned: 0,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True once framing has failed (oversized message or unreadable Content-Length): the
    /// connection cannot be resynchronised and must be closed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The next frame, `Ok(None)` when more bytes are needed. A message that is framed but
    /// invalid comes back as [`Frame::Malformed`] and the stream continues after it; an error
    /// that breaks framing (oversized, unreadable Content-Length) is returned as `Err` and sets
    /// [`StreamFramer::is_broken`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ParseError> {
        if self.broken {
            return Err(ParseError::TooLarge {
                limit: self.opts.max_message_size,
            });
        }
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                self.scanned = 0;
                return Ok(Some(Frame::KeepAlive));
            }
            if self.buf.len() < 4 && self.buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                // Possibly the start of a ping: wait for more.
                return Ok(None);
            }
            if !self.buf.starts_with(b"\r\n") {
                break;
            }
            // Stray CRLFs between messages are ignored (RFC 3261 §7.5).
            self.buf.advance(2);
            self.scanned = 0;
        }
        // Resume the search a few bytes back: the terminator may straddle two reads.
        let from = self.scanned.saturating_sub(3);
        let found = head_end(&self.buf[from..]).map(|n| n + from);
        let Some(head_len) = found else {
            self.scanned = self.buf.len();
            if self.buf.len() > self.opts.max_message_size {
                self.broken = true;
                return Err(ParseError::TooLarge {
                    limit: self.opts.max_message_size,
                });
            }
            return Ok(None);
        };
        let body_len = match scan_content_length(&self.buf[..head_len]) {
            Ok(n) => n,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        let total = head_len.saturating_add(body_len);
        if total > self.opts.max_message_size {
            self.broken = true;
            return Err(ParseError::TooLarge {
                limit: self.opts.max_message_size,
            });
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        self.scanned = 0;
        Ok(Some(match Message::parse_with(frame.clone(), &self.opts) {
            Ok(m) => Frame::Message(m),
            Err(error) => Frame::Malformed {
                bytes: frame,
                error,
            },
        }))
    }
}

/// Reads Content-Length from a header section without a full parse; absent means 0 on a
/// stream.
fn scan_content_length(head: &[u8]) -> Result<usize, ParseError> {
    let mut found = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        if HeaderName::from_bytes(trim(&line[..colon])) != HeaderName::ContentLength {
            continue;
        }
        if found.is_some() {
            return Err(ParseError::Duplicate("Content-Length"));
        }
        let n =
            parse_u64(trim(&line[colon + 1..]), u64::from(u32::MAX)).ok_or(ParseError::Header {
                name: "Content-Length",
                fault: "must be a non-negative 32-bit integer",
            })?;
        found = Some(n as usize);
    }
    Ok(found.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(cseq: u32, body: &str) -> Vec<u8> {
        format!(
            "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK{cseq}\r\nFrom: <sip:x@y>;tag=1\r\n\
             To: <sip:a@b>\r\nCall-ID: c{cseq}\r\nCSeq: {cseq} MESSAGE\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn take(f: &mut StreamFramer) -> Vec<u32> {
        let mut out = vec![];
        while let Ok(Some(Frame::Message(m))) = f.next_frame() {
            out.push(m.cseq().seq);
        }
        out
    }

    #[test]
    fn byte_by_byte_and_batched() {
        let mut all = msg(1, "hello");
        all.extend(msg(2, ""));
        all.extend(b"\r\n\r\n");
        all.extend(msg(3, "x"));
        let mut f = StreamFramer::new(ParseOptions::default());
        let mut seen = vec![];
        let mut pings = 0;
        for b in &all {
            f.push(std::slice::from_ref(b));
            loop {
                match f.next_frame() {
                    Ok(Some(Frame::Message(m))) => seen.push(m.cseq().seq),
                    Ok(Some(Frame::KeepAlive)) => pings += 1,
                    Ok(None) => break,
                    Ok(Some(Frame::Malformed { error, .. })) => panic!("{error}"),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!((seen, pings), (vec![1, 2, 3], 1));
        let mut f = StreamFramer::new(ParseOptions::default());
        f.push(&all);
        assert_eq!(take(&mut f), vec![1, 2]);
    }

    #[test]
    fn malformed_but_framed_message_is_returned_and_the_stream_goes_on() {
        let mut bad = msg(1, "x");
        let pos = bad.windows(4).position(|w| w == b"CSeq").expect("cseq");
        bad[pos + 6] = b'Q'; // CSeq: Q MESSAGE
        bad.extend(msg(2, ""));
        let mut f = StreamFramer::new(ParseOptions::default());
        f.push(&bad);
        assert!(matches!(f.next_frame(), Ok(Some(Frame::Malformed { .. }))));
        assert_eq!(take(&mut f), vec![2]);
        assert!(!f.is_broken());
    }

    #[test]
    fn oversize_breaks_the_stream() {
        let mut f = StreamFramer::new(ParseOptions {
            max_message_size: 64,
        });
        f.push(&msg(1, "hello"));
        assert_eq!(
            f.next_frame().err(),
            Some(ParseError::TooLarge { limit: 64 })
        );
        assert!(f.is_broken());
        let mut f = StreamFramer::new(ParseOptions {
            max_message_size: 64,
        });
        f.push(&[b'A'; 65]);
        assert!(f.next_frame().is_err());
    }
}
