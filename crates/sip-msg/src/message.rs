//! The message: start line, headers in order, body — spans over one `Bytes`.

use crate::auth::{Challenge, Credentials, DigestError};
use crate::error::ParseError;
use crate::header::HeaderName;
use crate::scan::{
    eq_ic, find_lf, find_name_end, is_lws, is_token, parse_u64, split_commas, text, trim,
};
use crate::typed::{
    self, CSeq, ContactValue, NameAddr, Reason, SessionExpires, Via, check_call_id, check_date,
    check_media_type, delta_seconds,
};
use crate::uri::{Scheme, Uri, UriError, UriSpans};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Largest message accepted by default: the largest UDP payload.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65_535;

/// A byte range inside the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        // Messages are capped far below 4 GiB, so offsets fit in u32.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A SIP method. The common ones are variants; any other token is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// An extension method (case-sensitive token).
    Other(Box<str>),
}

impl Method {
    /// Reads a method token (method names are case-sensitive, RFC 3261 §7.1).
    pub fn from_bytes(b: &[u8]) -> Method {
        match b {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"INFO" => Method::Info,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"PUBLISH" => Method::Publish,
            other => Method::Other(text(other).into()),
        }
    }

    /// The method name.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
enum StartLine {
    Request {
        method: Method,
        uri: Span,
        parsed: Option<UriSpans>,
    },
    Response {
        code: u16,
        reason: Span,
    },
}

#[derive(Debug, Clone, Copy)]
struct Header {
    name: HeaderName,
    name_span: Span,
    value: Span,
}

/// One header as written: its recognised name, its name as written and its raw value.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'a> {
    /// The recognised name ([`HeaderName::Other`] for unknown ones).
    pub name: HeaderName,
    /// The name as written.
    pub raw_name: &'a str,
    /// The value as written, folds included, surrounding whitespace removed.
    pub value: &'a [u8],
}

impl<'a> HeaderRef<'a> {
    /// The value as text (empty if not UTF-8).
    pub fn value_str(&self) -> &'a str {
        text(self.value)
    }
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Largest message accepted, head and body together.
    pub max_message_size: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// A parsed SIP request or response. The core headers (Via, From, To, Call-ID, CSeq,
/// Max-Forwards, Content-Length, Contact, Route, Record-Route, Expires, Date, Content-Type) are
/// validated while parsing; the rest are read on demand. Unknown headers and the body stay
/// byte-exact.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    headers: Vec<Header>,
    body: Span,
    call_id: Span,
    cseq: CSeq,
    from_tag: Option<Span>,
    to_tag: Option<Span>,
    top_via: Span,
    branch: Option<Span>,
    max_forwards: Option<u8>,
}

/// What the head parser learned before the body is framed.
pub(crate) struct Head {
    msg: Message,
    pub(crate) content_length: Option<usize>,
    pub(crate) head_len: usize,
}

impl Message {
    /// Parses one UDP datagram (RFC 3261 §18.3): the body is what Content-Length says, extra
    /// bytes are discarded, and a Content-Length larger than the datagram is an error.
    pub fn parse(datagram: Bytes) -> Result<Message, ParseError> {
        Message::parse_with(datagram, &ParseOptions::default())
    }

    /// [`Message::parse`] with explicit limits.
    pub fn parse_with(datagram: Bytes, opts: &ParseOptions) -> Result<Message, ParseError> {
        if datagram.len() > opts.max_message_size {
            return Err(ParseError::TooLarge {
                limit: opts.max_message_size,
            });
        }
        let head = parse_head(&datagram)?;
        let available = datagram.len() - head.head_len;
        let body_len = match head.content_length {
            Some(n) if n > available => return Err(ParseError::BodyTruncated),
            Some(n) => n,
            None => available,
        };
        Ok(head.finish(datagram, body_len))
    }

    /// Whether the bytes start with a request line (used to decide whether a parse error can be
    /// answered).
    pub fn looks_like_request(bytes: &[u8]) -> bool {
        let b = trim_leading_crlf(bytes);
        !b.starts_with(b"SIP/") && b.first().is_some_and(|&c| is_token(c))
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, or `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason_phrase(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI of a request (validated while parsing).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        match self.start {
            StartLine::Request {
                parsed: Some(spans),
                ..
            } => Some(Uri::from_spans(&self.buf, &spans)),
            StartLine::Request {
                uri, parsed: None, ..
            } => Uri::parse(self.bytes(uri)).ok(),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// Releases the header index's spare capacity: for messages kept for a while (a
    /// transaction's request), not on the parse path.
    pub fn shrink_to_fit(&mut self) {
        self.headers.shrink_to_fit();
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        self.bytes(self.body)
    }

    /// The body as a shared slice of the message buffer (no copy).
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// Every header in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> {
        self.headers.iter().map(|h| self.header_ref(h))
    }

    /// The first value of a known header.
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| self.bytes(h.value))
    }

    /// Every value of a known header, in order (one per header line; split commas yourself or
    /// use the typed accessors).
    pub fn header_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.bytes(h.value))
    }

    /// The first value of a header by its name as written (case-insensitive; for extension
    /// headers such as `X-Account`).
    pub fn header_named(&self, name: &str) -> Option<&[u8]> {
        let known = HeaderName::from_bytes(name.as_bytes());
        self.headers
            .iter()
            .find(|h| {
                if known == HeaderName::Other {
                    h.name == HeaderName::Other && eq_ic(self.bytes(h.name_span), name.as_bytes())
                } else {
                    h.name == known
                }
            })
            .map(|h| self.bytes(h.value))
    }

    /// Call-ID.
    pub fn call_id(&self) -> &str {
        self.str(self.call_id)
    }

    /// CSeq.
    pub fn cseq(&self) -> &CSeq {
        &self.cseq
    }

    /// The From header; `None` when there is none or its URI does not parse (its structure and
    /// tag were validated while parsing, its URI is read here).
    pub fn from(&self) -> Option<NameAddr<'_>> {
        self.header(HeaderName::From)
            .and_then(|v| NameAddr::parse(v).ok())
    }

    /// The To header; `None` when its URI does not parse (see [`Message::from`]).
    pub fn to(&self) -> Option<NameAddr<'_>> {
        self.header(HeaderName::To)
            .and_then(|v| NameAddr::parse(v).ok())
    }

    /// Parses the From and To URIs (their structure and tags were checked while parsing): what
    /// a UAS does before it acts on a dialog-creating request. The error answers 400 Bad From /
    /// Bad To.
    pub fn check_addresses(&self) -> Result<(), ParseError> {
        for name in [HeaderName::From, HeaderName::To] {
            if let Some(v) = self.header(name) {
                NameAddr::parse(v).map_err(|f| bad(name, f))?;
            }
        }
        Ok(())
    }

    /// The From tag.
    pub fn from_tag(&self) -> Option<&str> {
        self.from_tag.map(|s| self.str(s))
    }

    /// The To tag.
    pub fn to_tag(&self) -> Option<&str> {
        self.to_tag.map(|s| self.str(s))
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Via<'_> {
        // Validated while parsing; the fallback is unreachable.
        Via::parse(self.bytes(self.top_via)).unwrap_or_else(|_| placeholder_via())
    }

    /// The topmost Via value as written.
    pub fn top_via_raw(&self) -> &[u8] {
        self.bytes(self.top_via)
    }

    /// The branch of the topmost Via.
    pub fn branch(&self) -> Option<&str> {
        self.branch.map(|s| self.str(s))
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Via<'_>> {
        self.header_all(HeaderName::Via)
            .flat_map(split_commas)
            .filter_map(|v| Via::parse(v).ok())
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Option<u8> {
        self.max_forwards
    }

    /// Contact values.
    pub fn contacts(&self) -> impl Iterator<Item = ContactValue<'_>> {
        self.header_all(HeaderName::Contact)
            .flat_map(split_commas)
            .filter_map(|v| ContactValue::parse(v).ok())
    }

    /// The first Contact address (not `*`).
    pub fn contact(&self) -> Option<NameAddr<'_>> {
        self.contacts().find_map(|c| match c {
            ContactValue::Address(a) => Some(a),
            ContactValue::Star => None,
        })
    }

    /// Route values, in order.
    pub fn routes(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.name_addr_list(HeaderName::Route)
    }

    /// Record-Route values, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.name_addr_list(HeaderName::RecordRoute)
    }

    /// P-Asserted-Identity values.
    pub fn p_asserted_identity(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.name_addr_list(HeaderName::PAssertedIdentity)
    }

    /// P-Preferred-Identity values.
    pub fn p_preferred_identity(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.name_addr_list(HeaderName::PPreferredIdentity)
    }

    /// Diversion values (RFC 5806), in order.
    pub fn diversion(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.name_addr_list(HeaderName::Diversion)
    }

    /// Content-Length as written (validated while parsing), if present.
    pub fn content_length(&self) -> Option<u32> {
        self.header(HeaderName::ContentLength)
            .and_then(|v| crate::scan::parse_u64(v, u64::from(u32::MAX)))
            .map(|n| n as u32)
    }

    /// Credentials in the Authorization header (digest only).
    pub fn authorization(&self) -> Option<Result<Credentials, DigestError>> {
        self.header(HeaderName::Authorization)
            .map(Credentials::parse)
    }

    /// Credentials in the Proxy-Authorization header (digest only).
    pub fn proxy_authorization(&self) -> Option<Result<Credentials, DigestError>> {
        self.header(HeaderName::ProxyAuthorization)
            .map(Credentials::parse)
    }

    /// The challenge in a WWW-Authenticate header (digest only).
    pub fn www_authenticate(&self) -> Option<Result<Challenge, DigestError>> {
        self.header(HeaderName::WwwAuthenticate)
            .map(Challenge::parse)
    }

    /// The challenge in a Proxy-Authenticate header (digest only).
    pub fn proxy_authenticate(&self) -> Option<Result<Challenge, DigestError>> {
        self.header(HeaderName::ProxyAuthenticate)
            .map(Challenge::parse)
    }

    /// Content-Type as written.
    pub fn content_type(&self) -> Option<&str> {
        self.header(HeaderName::ContentType).map(text)
    }

    /// Expires (seconds).
    pub fn expires(&self) -> Option<u32> {
        self.header(HeaderName::Expires).and_then(delta_seconds)
    }

    /// Retry-After (seconds).
    pub fn retry_after(&self) -> Option<u32> {
        self.header(HeaderName::RetryAfter).and_then(delta_seconds)
    }

    /// Min-SE (RFC 4028).
    pub fn min_se(&self) -> Option<u32> {
        self.header(HeaderName::MinSe).and_then(delta_seconds)
    }

    /// Session-Expires (RFC 4028).
    pub fn session_expires(&self) -> Option<SessionExpires<'_>> {
        self.header(HeaderName::SessionExpires)
            .and_then(SessionExpires::parse)
    }

    /// Tokens of every Allow header.
    pub fn allow(&self) -> impl Iterator<Item = &str> {
        self.header_all(HeaderName::Allow).flat_map(typed::tokens)
    }

    /// Tokens of every Supported header.
    pub fn supported(&self) -> impl Iterator<Item = &str> {
        self.header_all(HeaderName::Supported)
            .flat_map(typed::tokens)
    }

    /// Tokens of every Require header.
    pub fn require(&self) -> impl Iterator<Item = &str> {
        self.header_all(HeaderName::Require).flat_map(typed::tokens)
    }

    /// Reason values (RFC 3326).
    pub fn reasons(&self) -> impl Iterator<Item = Reason<'_>> {
        self.header_all(HeaderName::Reason)
            .flat_map(split_commas)
            .filter_map(Reason::parse)
    }

    /// Writes the message back out: start line, headers (names and values as written), body.
    pub fn write_to(&self, out: &mut BytesMut) {
        match &self.start {
            StartLine::Request { method, uri, .. } => {
                out.put_slice(method.as_str().as_bytes());
                out.put_u8(b' ');
                out.put_slice(self.bytes(*uri));
                out.put_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                out.put_slice(format!("SIP/2.0 {code} ").as_bytes());
                out.put_slice(self.bytes(*reason));
                out.put_slice(b"\r\n");
            }
        }
        for h in &self.headers {
            out.put_slice(self.bytes(h.name_span));
            out.put_slice(b": ");
            out.put_slice(self.bytes(h.value));
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
        out.put_slice(self.body());
    }

    /// [`Message::write_to`] into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.buf.len() + 16);
        self.write_to(&mut out);
        out.freeze()
    }

    fn name_addr_list(&self, name: HeaderName) -> impl Iterator<Item = NameAddr<'_>> {
        self.header_all(name)
            .flat_map(split_commas)
            .filter_map(|v| NameAddr::parse(v).ok())
    }

    fn header_ref(&self, h: &Header) -> HeaderRef<'_> {
        HeaderRef {
            name: h.name,
            raw_name: self.str(h.name_span),
            value: self.bytes(h.value),
        }
    }

    fn bytes(&self, s: Span) -> &[u8] {
        self.buf.get(s.range()).unwrap_or(&[])
    }

    fn str(&self, s: Span) -> &str {
        text(self.bytes(s))
    }
}

fn placeholder_via() -> Via<'static> {
    Via::placeholder()
}

fn trim_leading_crlf(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
    &b[n..]
}

fn offset(base: &[u8], sub: &[u8]) -> Option<Span> {
    let start = (sub.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start + sub.len();
    (end <= base.len()).then(|| Span::new(start, end))
}

impl Head {
    pub(crate) fn finish(mut self, buf: Bytes, body_len: usize) -> Message {
        let end = self.head_len + body_len;
        self.msg.body = Span::new(self.head_len, end);
        // Bytes past Content-Length in a datagram are discarded (RFC 3261 §18.3).
        self.msg.buf = if end < buf.len() {
            buf.slice(..end)
        } else {
            buf
        };
        self.msg
    }
}

/// Finds the end of the header section: the offset just past the empty line.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &buf[from..]) {
        let nl = from + i;
        let rest = &buf[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        if rest.first() == Some(&b'\n') {
            return Some(nl + 2);
        }
        from = nl + 1;
    }
    None
}

/// Parses the start line and headers of `buf` (leading CRLFs skipped).
pub(crate) fn parse_head(buf: &[u8]) -> Result<Head, ParseError> {
    let b: &[u8] = buf;
    let lead = b.len() - trim_leading_crlf(b).len();
    if b[lead..].iter().all(|c| c.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let first_end = find_lf(b, lead).unwrap_or(b.len());
    let first = &b[lead..first_end];
    let start = parse_start_line(b, first.strip_suffix(b"\r").unwrap_or(first))?;

    // One pass over the header lines: each is a token name, optional blanks, ':', and a value
    // running to the end of the line and over any fold (a line starting with SP or HT).
    let mut msg = Message {
        // The buffer is moved in by `Head::finish` (no reference count taken and dropped).
        buf: Bytes::new(),
        start,
        headers: Vec::with_capacity(24),
        body: Span::default(),
        call_id: Span::default(),
        cseq: CSeq {
            seq: 0,
            method: Method::Options,
        },
        from_tag: None,
        to_tag: None,
        top_via: Span::default(),
        branch: None,
        max_forwards: None,
    };
    let mut checks = Checks::default();
    let mut i = first_end + 1;
    let mut line_no = 1;
    let head_len = loop {
        line_no += 1;
        match b.get(i) {
            None if b.ends_with(b"\n") => break b.len(),
            None => return Err(ParseError::Unterminated),
            Some(b'\n') => break i + 1,
            Some(b'\r') if b.get(i + 1) == Some(&b'\n') => break i + 2,
            Some(b'\r') if i + 1 == b.len() => break b.len(),
            Some(_) => {}
        }
        // header-name: a token; a known name is recognised exactly, any other is checked.
        let name_start = i;
        i = find_name_end(b, i);
        let name_len = i - name_start;
        let name = HeaderName::from_buf(b, name_start, name_len);
        if name == HeaderName::Other && !b[name_start..i].iter().all(|&c| is_token(c)) {
            return Err(ParseError::HeaderLine { line: line_no });
        }
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if name_len == 0 || b.get(i) != Some(&b':') {
            return Err(ParseError::HeaderLine { line: line_no });
        }
        i += 1;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let value_start = i;
        let mut lf = find_lf(b, i).unwrap_or(b.len());
        while matches!(b.get(lf + 1), Some(b' ' | b'\t')) {
            line_no += 1;
            lf = find_lf(b, lf + 1).unwrap_or(b.len());
        }
        // The value ends before the line's CRLF; a fold that began right after the colon
        // leaves line-break whitespace at its start, trimmed here.
        let mut value_end = lf.min(b.len());
        if value_end > value_start && b[value_end - 1] == b'\r' {
            value_end -= 1;
        }
        while value_end > value_start && is_lws(b[value_end - 1]) {
            value_end -= 1;
        }
        let mut v0 = value_start;
        if v0 < value_end && matches!(b[v0], b'\r' | b'\n') {
            // Only a fold right after the colon leaves line-break whitespace here.
            while v0 < value_end && is_lws(b[v0]) {
                v0 += 1;
            }
        }
        let header = Header {
            name,
            name_span: Span::new(name_start, name_start + name_len),
            value: Span::new(v0, value_end),
        };
        if name != HeaderName::Other {
            checks.header(&mut msg, b, header)?;
        }
        msg.headers.push(header);
        i = lf + 1;
    };
    let content_length = checks.finish(&msg)?;
    Ok(Head {
        msg,
        content_length,
        head_len,
    })
}

fn parse_start_line(head: &[u8], line: &[u8]) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let mut parts = rest.splitn(3, |&b| b == b' ');
        let version = parts.next().unwrap_or_default();
        if version != b"2.0" {
            return Err(ParseError::StartLine(
                "unsupported SIP version in status line",
            ));
        }
        let code = parts.next().unwrap_or_default();
        if code.len() != 3 {
            return Err(ParseError::StatusCode);
        }
        let code = parse_u64(code, 699)
            .filter(|c| *c >= 100)
            .ok_or(ParseError::StatusCode)?;
        let reason = parts.next().unwrap_or(&line[line.len()..]);
        let reason = offset(head, reason).ok_or(ParseError::StartLine("reason phrase"))?;
        return Ok(StartLine::Response {
            code: code as u16,
            reason,
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly two single spaces.
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(if line.contains(&b' ') {
            ParseError::RequestUri("whitespace inside the request line")
        } else {
            ParseError::StartLine("not a request or status line")
        });
    };
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(ParseError::StartLine("invalid method"));
    }
    if uri.is_empty() {
        return Err(ParseError::RequestUri("whitespace inside the request line"));
    }
    if !version.get(..4).is_some_and(|v| eq_ic(v, b"SIP/")) {
        return Err(ParseError::StartLine("missing SIP version"));
    }
    if &version[4..] != b"2.0" {
        let v = &version[4..];
        let dotted = v.iter().filter(|&&b| b == b'.').count() == 1
            && v.iter().all(|&b| b.is_ascii_digit() || b == b'.');
        return Err(if dotted {
            ParseError::Version
        } else {
            ParseError::StartLine("bad version")
        });
    }
    if uri[0] == b'<' {
        return Err(ParseError::RequestUri("enclosed in angle brackets"));
    }
    let parsed = Uri::parse(uri).map_err(|e| ParseError::RequestUri(uri_fault(e)))?;
    if matches!(parsed.scheme(), Scheme::Sip | Scheme::Sips) && parsed.headers().is_some() {
        return Err(ParseError::RequestUri(
            "headers are not allowed in a Request-URI",
        ));
    }
    let spans = parsed.spans(head);
    let uri = offset(head, uri).ok_or(ParseError::RequestUri("span"))?;
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        uri,
        parsed: spans,
    })
}

fn uri_fault(e: UriError) -> &'static str {
    match e {
        UriError::Scheme => "missing or invalid scheme",
        UriError::User => "invalid user part",
        UriError::Host => "invalid host",
        UriError::Port => "invalid port",
        UriError::Param => "invalid parameter",
        UriError::Header => "invalid header part",
        UriError::Char => "invalid character",
    }
}

fn bad(name: HeaderName, fault: &'static str) -> ParseError {
    ParseError::Header {
        name: name.canonical().unwrap_or("extension"),
        fault,
    }
}

/// The checks of the core headers, run on each header as the lexer finds it; they fill the
/// message's cached fields.
#[derive(Default)]
struct Checks {
    seen: u64,
    content_length: Option<usize>,
    have: [bool; 5], // Via, From, To, Call-ID, CSeq
}

impl Checks {
    fn header(&mut self, msg: &mut Message, head: &[u8], h: Header) -> Result<(), ParseError> {
        let have = &mut self.have;
        let value = &head[h.value.range()];
        if h.name.is_single() {
            let bit = 1u64 << (h.name as u64 % 64);
            if self.seen & bit != 0 {
                return Err(ParseError::Duplicate(
                    h.name.canonical().unwrap_or("header"),
                ));
            }
            self.seen |= bit;
        }
        match h.name {
            // The top Via is validated (it routes responses and keys transactions); lower
            // ones are only relayed and are parsed when read.
            HeaderName::Via if !have[0] => {
                // One Via per line is the rule in practice: parse the value whole, and split
                // at commas only when that fails (a top-level comma always fails it).
                let (item, via) = match Via::parse(value) {
                    Ok(via) => (value, via),
                    Err(_) => {
                        let item = split_commas(value).next().unwrap_or(value);
                        (item, Via::parse(item).map_err(|f| bad(h.name, f))?)
                    }
                };
                have[0] = true;
                msg.top_via = offset(head, trim(item)).unwrap_or_default();
                msg.branch = via.branch_bytes().and_then(|b| offset(head, b));
            }
            // From and To: display name, brackets, parameters and tag are checked here; the URI
            // is parsed when read (as Contact's is), so `from()`/`to()` say when it is unreadable.
            HeaderName::From | HeaderName::To => {
                let (_, tag) = NameAddr::check_structure(value).map_err(|f| bad(h.name, f))?;
                let tag = tag.and_then(|t| offset(head, t));
                if h.name == HeaderName::From {
                    have[1] = true;
                    msg.from_tag = tag;
                } else {
                    have[2] = true;
                    msg.to_tag = tag;
                }
            }
            HeaderName::CallId => {
                check_call_id(value).map_err(|f| bad(h.name, f))?;
                have[3] = true;
                msg.call_id = h.value;
            }
            HeaderName::CSeq => {
                msg.cseq = CSeq::parse(value).map_err(|f| bad(h.name, f))?;
                have[4] = true;
            }
            HeaderName::MaxForwards => {
                let mf = parse_u64(value, 255).ok_or(bad(h.name, "must be 0 to 255"))?;
                msg.max_forwards = Some(mf as u8);
            }
            HeaderName::ContentLength => {
                let n = parse_u64(value, u64::from(u32::MAX))
                    .ok_or(bad(h.name, "must be a non-negative 32-bit integer"))?;
                self.content_length = Some(n as usize);
            }
            // Contact, Route and Record-Route are checked for structure here (brackets, display
            // name, parameters); their URIs are parsed when read.
            // A value that passes whole has no top-level comma, so it is one item; only a
            // value that fails is split and its items checked one by one.
            HeaderName::Contact if value != b"*" && NameAddr::check_structure(value).is_err() => {
                for item in split_commas(value) {
                    if trim(item) != b"*" {
                        NameAddr::check_structure(item).map_err(|f| bad(h.name, f))?;
                    }
                }
            }
            HeaderName::Route | HeaderName::RecordRoute
                if !matches!(NameAddr::check_structure(value), Ok((true, _))) =>
            {
                for item in split_commas(value) {
                    let (bracketed, _) =
                        NameAddr::check_structure(item).map_err(|f| bad(h.name, f))?;
                    if !bracketed {
                        return Err(bad(h.name, "value must be in angle brackets"));
                    }
                }
            }
            HeaderName::Expires => {
                delta_seconds(value).ok_or(bad(h.name, "must be 0 to 4294967295 seconds"))?;
            }
            HeaderName::RetryAfter => {
                delta_seconds(value).ok_or(bad(h.name, "must be 0 to 4294967295 seconds"))?;
            }
            HeaderName::Date => check_date(value).map_err(|f| bad(h.name, f))?,
            HeaderName::ContentType => check_media_type(value).map_err(|f| bad(h.name, f))?,
            _ => {}
        }
        Ok(())
    }

    /// The checks of the whole header section; returns Content-Length.
    fn finish(&self, msg: &Message) -> Result<Option<usize>, ParseError> {
        for (present, name) in self
            .have
            .iter()
            .zip(["Via", "From", "To", "Call-ID", "CSeq"])
        {
            if !present {
                return Err(ParseError::Missing(name));
            }
        }
        if let StartLine::Request { method, .. } = &msg.start
            && *method != msg.cseq.method
        {
            return Err(ParseError::CSeqMethod);
        }
        Ok(self.content_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Custom: kept   as  is\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn typed_access() {
        let m = Message::parse(Bytes::from_static(INVITE)).expect("parse");
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.call_id(), "a84b4c76e66710@pc33.atlanta.example.com");
        assert_eq!(m.cseq().seq, 314159);
        assert_eq!(m.from_tag(), Some("1928301774"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.content_length(), Some(4));
        assert!(m.authorization().is_none());
        assert_eq!(m.header_named("x-custom"), Some(&b"kept   as  is"[..]));
        assert_eq!(m.to().and_then(|t| t.display_name()), Some("Bob"));
        assert_eq!(
            m.contact().map(|c| c.uri().as_str()),
            Some("sip:alice@pc33.atlanta.example.com")
        );
        assert_eq!(m.to_bytes(), Bytes::from_static(INVITE));
    }

    #[test]
    fn datagram_framing_rfc3261_18_3() {
        let mut extra = INVITE.to_vec();
        extra.extend_from_slice(b"garbage");
        let m = Message::parse(Bytes::from(extra)).expect("extra bytes discarded");
        assert_eq!(m.body(), b"v=0\n");
        let short = &INVITE[..INVITE.len() - 1];
        assert_eq!(
            Message::parse(Bytes::copy_from_slice(short)).err(),
            Some(ParseError::BodyTruncated)
        );
        let big = Message::parse_with(
            Bytes::from_static(INVITE),
            &ParseOptions {
                max_message_size: 100,
            },
        );
        assert_eq!(big.err(), Some(ParseError::TooLarge { limit: 100 }));
    }

    #[test]
    fn placeholders_parse() {
        assert_eq!(placeholder_via().transport(), "UDP");
    }

    #[test]
    fn comma_lists_are_checked_item_by_item() {
        let with = |extra: &str| {
            let text = String::from_utf8_lossy(INVITE).replace(
                "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n",
                &format!(
                    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, \
                     SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKlower\r\n{extra}"
                ),
            );
            Message::parse(Bytes::from(text))
        };
        let m = with("Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n")
            .expect("lists");
        assert_eq!(m.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.top_via().transport(), "UDP");
        assert_eq!(m.vias().count(), 2);
        assert_eq!(m.record_routes().count(), 2);
        let bad_rr = with("Record-Route: <sip:p1.example.com;lr>, sip:p2.example.com\r\n");
        assert!(matches!(
            bad_rr.err(),
            Some(ParseError::Header {
                name: "Record-Route",
                ..
            })
        ));
        let bad_contact = with("Contact: <sip:a@example.com>, <sip:b@exa mple.com>\r\n");
        assert!(matches!(
            bad_contact.err(),
            Some(ParseError::Header {
                name: "Contact",
                ..
            })
        ));
        let two = with("Contact: <sip:a@example.com>, \"B\" <sip:b@example.com>;q=0.5\r\n")
            .expect("two contacts");
        assert_eq!(two.contacts().count(), 3);
    }

    #[test]
    fn keepalives_are_empty() {
        assert_eq!(
            Message::parse(Bytes::from_static(b"\r\n\r\n")).err(),
            Some(ParseError::Empty)
        );
        assert_eq!(Message::parse(Bytes::new()).err(), Some(ParseError::Empty));
    }
}
