//! Typed views of the headers a B2BUA reads. Each is parsed from the raw value on demand and
//! borrows the message; nothing here allocates.

use crate::Method;
use crate::params::Params;
use crate::scan::{
    Cursor, DISPLAY_STOP, PVALUE, TOKEN, WORD, is, is_lws, is_token, parse_u64, run_of, text, trim,
};
use crate::uri::{Host, RawHost, Uri, parse_hostport};

/// A syntax fault inside one header value; the parser turns it into a 400 reason.
pub(crate) type Fault = &'static str;

/// `[display-name] <uri> ;params` or `uri ;params` (From, To, Contact, Route, P-Asserted-Identity…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<&'a [u8]>,
    uri: Uri<'a>,
    params: Params<'a>,
    tag: Option<&'a [u8]>,
}

impl<'a> NameAddr<'a> {
    /// Parses one name-addr or addr-spec with its header parameters.
    pub fn parse(value: &'a [u8]) -> Result<NameAddr<'a>, Fault> {
        let p = Self::split(value)?;
        let uri = Uri::parse(p.uri).map_err(|_| "invalid URI")?;
        Ok(NameAddr {
            display: p.display,
            uri,
            params: p.params,
            tag: p.tag,
        })
    }

    /// Checks the structure (display name, brackets, parameters) without parsing the URI
    /// beyond `scheme ":"` with no blanks or quotes; returns whether the URI was in angle brackets, and
    /// the tag.
    pub(crate) fn check_structure(value: &'a [u8]) -> Result<(bool, Option<&'a [u8]>), Fault> {
        let p = Self::split(value)?;
        if !p.uri_plausible {
            return Err("invalid URI");
        }
        Ok((p.bracketed, p.tag))
    }

    fn split(value: &'a [u8]) -> Result<Split<'a>, Fault> {
        let v = trim(value);
        let display;
        let uri;
        let mut bracketed = true;
        let i;
        let uri_plausible;
        if v.first() == Some(&b'"') {
            let end = quoted_end(v, 0).ok_or("unterminated quoted display name")?;
            display = Some(&v[1..end - 1]);
            (uri, i, uri_plausible) = angle(v, skip_lws(v, end))?;
        } else if let Some(lt) = top_level_lt(v) {
            let name = trim(&v[..lt]);
            // display-name = *(token LWS): tokens separated by whitespace only.
            if !name.iter().all(|&b| is_token(b) || is_lws(b)) {
                return Err("display name must be tokens or a quoted string");
            }
            display = if name.is_empty() { None } else { Some(name) };
            (uri, i, uri_plausible) = angle(v, lt)?;
        } else {
            display = None;
            bracketed = false;
            // addr-spec form: the URI ends at whitespace or ';' and may not carry headers.
            let end = v
                .iter()
                .position(|&b| b == b';' || is_lws(b))
                .unwrap_or(v.len());
            let u = &v[..end];
            if memchr::memchr2(b'?', b',', u).is_some() {
                return Err("URI with headers or commas must be in angle brackets");
            }
            uri = u;
            i = end;
            uri_plausible =
                has_scheme(u) && !crate::scan::has_space_or_ctl(u) && !u.contains(&b'"');
        }
        let mut picked = Picked::default();
        let params = header_params(v, i, &mut picked)?;
        Ok(Split {
            display,
            uri,
            params,
            tag: picked.tag,
            bracketed,
            uri_plausible,
        })
    }

    /// The display name as written (quotes removed, escapes kept), if any.
    pub fn display_name(&self) -> Option<&'a str> {
        self.display.map(text)
    }

    /// The URI.
    pub fn uri(&self) -> Uri<'a> {
        self.uri
    }

    /// The header parameters (after the URI).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag.map(text)
    }
}

/// A name-addr or addr-spec taken apart, its URI not yet parsed.
struct Split<'a> {
    display: Option<&'a [u8]>,
    uri: &'a [u8],
    params: Params<'a>,
    tag: Option<&'a [u8]>,
    bracketed: bool,
    /// `scheme ":" …` with the scheme non-empty and no blank, control character or quote.
    uri_plausible: bool,
}

/// Where the `<` of a name-addr is, if there is one before any parameter.
fn top_level_lt(v: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < v.len() && !is(v[i], DISPLAY_STOP) {
        i += 1;
    }
    match v.get(i) {
        Some(b'<') => Some(i),
        Some(b'"') => {
            // A quote after a token display name: walk it with quotes respected.
            let mut in_quotes = false;
            for (j, &b) in v.iter().enumerate().skip(i) {
                match b {
                    b'"' => in_quotes = !in_quotes,
                    b'<' if !in_quotes => return Some(j),
                    b';' if !in_quotes => return None,
                    _ => {}
                }
            }
            None
        }
        _ => None,
    }
}

/// `"<" addr-spec ">"` at `v[i]`: the URI, the index just past the `>`, and whether the URI
/// has a non-empty scheme and no blank, control character or quote.
fn angle(v: &[u8], i: usize) -> Result<(&[u8], usize, bool), Fault> {
    if v.get(i) != Some(&b'<') {
        return Err("expected '<'");
    }
    let start = i + 1;
    // A blank, a control character or a quote cannot be part of a URI (RFC 3261 §25.1).
    let mut j = crate::scan::find_pair_or_blank(v, start, b'>', b'"');
    let blank = v.get(j) != Some(&b'>');
    if blank {
        j = memchr::memchr(b'>', &v[start..]).ok_or("unterminated '<'")? + start;
    }
    let inner = &v[start..j];
    if inner.first().is_some_and(|b| b.is_ascii_whitespace())
        || inner.last().is_some_and(|b| b.is_ascii_whitespace())
    {
        return Err("whitespace inside angle brackets");
    }
    Ok((inner, j + 1, !blank && has_scheme(inner)))
}

/// True when `u` starts with `scheme ":"` (ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")).
fn has_scheme(u: &[u8]) -> bool {
    if crate::scan::starts_with_sip(u) {
        return true;
    }
    if !u.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut i = 1;
    while i < u.len() && (u[i].is_ascii_alphanumeric() || matches!(u[i], b'+' | b'-' | b'.')) {
        i += 1;
    }
    u.get(i) == Some(&b':')
}

/// Skips LWS from `i`.
#[inline]
fn skip_lws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_lws(s[i]) {
        i += 1;
    }
    i
}

/// The index just past the quoted-string that opens at `s[i]` (a `"`).
fn quoted_end(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = memchr::memchr2(b'"', b'\\', s.get(j..)?)? + j;
        if s[k] == b'"' {
            return Some(k + 1);
        }
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        let next = *s.get(k + 1)?;
        if next == b'\r' || next == b'\n' || next > 0x7f {
            return None;
        }
        j = k + 2;
    }
}

/// Parameters a caller wants picked out while the list is validated (one pass, no lookups).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Picked<'a> {
    pub(crate) tag: Option<&'a [u8]>,
    pub(crate) branch: Option<Option<&'a [u8]>>,
    pub(crate) received: Option<&'a [u8]>,
    pub(crate) rport: Option<Option<&'a [u8]>>,
    /// Whether the branch value (if any) is a token.
    pub(crate) branch_ok: bool,
    /// Whether the value being scanned holds a host character that is not a token one.
    non_token: bool,
}

/// `*( SEMI generic-param )` from `s[i]` to the end of the value; validated, then kept raw.
fn header_params<'a>(s: &'a [u8], i: usize, picked: &mut Picked<'a>) -> Result<Params<'a>, Fault> {
    let mut i = skip_lws(s, i);
    let start = i;
    while i < s.len() {
        if s[i] != b';' {
            return Err("unexpected text after value");
        }
        i = skip_lws(s, i + 1);
        let n0 = i;
        i = run_of(s, i, TOKEN);
        if i == n0 {
            return Err("empty or invalid parameter name");
        }
        let name = &s[n0..i];
        let mut value = None;
        picked.non_token = false;
        let j = skip_lws(s, i);
        if s.get(j) == Some(&b'=') {
            let v0 = skip_lws(s, j + 1);
            if s.get(v0) == Some(&b'"') {
                i = quoted_end(s, v0).ok_or("unterminated quoted parameter")?;
            } else {
                // token / host (IPv6 references included)
                i = v0;
                i = run_of(s, i, TOKEN);
                if i < s.len() && is(s[i], PVALUE) {
                    picked.non_token = true;
                    i = run_of(s, i, PVALUE);
                }
                if i == v0 {
                    return Err("empty parameter value");
                }
            }
            value = Some(&s[v0..i]);
        }
        match name.len() {
            3 if name.eq_ignore_ascii_case(b"tag") => picked.tag = value,
            6 if name.eq_ignore_ascii_case(b"branch") => {
                // branch = token: a quoted or host-like value is not one.
                let token = value.is_some_and(|v| v[0] != b'"') && !picked.non_token;
                picked.branch = Some(value.filter(|_| token));
                picked.branch_ok = token;
            }
            5 if name.eq_ignore_ascii_case(b"rport") => picked.rport = Some(value),
            8 if name.eq_ignore_ascii_case(b"received") => picked.received = value,
            _ => {}
        }
        i = skip_lws(s, i);
    }
    Ok(Params::new(&s[start..]))
}

/// `SIP/2.0/` with the protocol name in any case, compared as one word.
fn sip_2_0(p: &[u8]) -> bool {
    let mut w = [0u8; 8];
    w.copy_from_slice(p);
    // Bit 0x20 folds the three letters; no other byte of a match may differ.
    u64::from_le_bytes(w) | 0x20_2020 == u64::from_le_bytes(*b"sip/2.0/")
}

/// One Via value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    transport: &'a [u8],
    host: RawHost<'a>,
    port: Option<u16>,
    params: Params<'a>,
    sent_by: &'a [u8],
    branch: Option<&'a [u8]>,
    received: Option<&'a [u8]>,
    rport: Option<Option<u16>>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (`SIP/2.0/UDP host:port;branch=…`).
    pub fn parse(value: &'a [u8]) -> Result<Via<'a>, Fault> {
        let v = trim(value);
        // sent-protocol, written without LWS in nearly every Via; the general form is below.
        let (transport, mut i) = match v.get(..8) {
            Some(p) if sip_2_0(p) && v.get(8).is_some_and(|&b| is_token(b)) => {
                let i = run_of(v, 9, TOKEN);
                (&v[8..i], i)
            }
            _ => Self::sent_protocol(v)?,
        };
        if !v.get(i).is_some_and(|&b| is_lws(b)) {
            return Err("missing sent-by");
        }
        i = skip_lws(v, i);
        let sb0 = i;
        while i < v.len() && v[i] != b';' && !is_lws(v[i]) {
            i += 1;
        }
        let sent_by = &v[sb0..i];
        let (host, port) = parse_hostport(sent_by).map_err(|_| "invalid sent-by")?;
        let mut picked = Picked::default();
        let params = header_params(v, i, &mut picked)?;
        let branch = match picked.branch {
            None => None,
            Some(Some(b)) if picked.branch_ok => Some(b),
            Some(_) => return Err("invalid branch"),
        };
        let rport = match picked.rport {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => Some(Some(parse_u64(p, 65535).ok_or("invalid rport")? as u16)),
        };
        Ok(Via {
            transport,
            host,
            port,
            params,
            sent_by,
            branch,
            received: picked.received,
            rport,
        })
    }

    /// `protocol-name SLASH protocol-version SLASH transport` with LWS allowed around each
    /// slash: the transport and the index after it.
    fn sent_protocol(v: &'a [u8]) -> Result<(&'a [u8], usize), Fault> {
        let mut c = Cursor::new(v);
        let name = c.token().ok_or("missing protocol name")?;
        if !c.sep(b'/') {
            return Err("malformed sent-protocol");
        }
        let version = c.token().ok_or("missing protocol version")?;
        if !name.eq_ignore_ascii_case(b"SIP") || version != b"2.0" {
            return Err("unsupported protocol version");
        }
        if !c.sep(b'/') {
            return Err("malformed sent-protocol");
        }
        let transport = c.token().ok_or("missing transport")?;
        Ok((transport, c.pos))
    }

    /// `SIP/2.0/UDP invalid`: stands in where a validated Via is read back (never observed).
    pub(crate) fn placeholder() -> Via<'static> {
        Via {
            transport: b"UDP",
            host: RawHost::Name(b"invalid"),
            port: None,
            params: Params::default(),
            sent_by: b"invalid",
            branch: None,
            received: None,
            rport: None,
        }
    }

    /// The transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`…), as written.
    pub fn transport(&self) -> &'a str {
        text(self.transport)
    }

    /// The sent-by host.
    pub fn host(&self) -> Host<'a> {
        self.host.host()
    }

    /// The sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The sent-by as written (`host[:port]`).
    pub fn sent_by(&self) -> &'a str {
        text(self.sent_by)
    }

    /// The parameters.
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The branch parameter as written.
    pub(crate) fn branch_bytes(&self) -> Option<&'a [u8]> {
        self.branch
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch.map(text)
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.received.map(text)
    }

    /// `None` when absent, `Some(None)` for a bare `rport` (fill-in request), else the port.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > 7 && b.starts_with("z9hG4bK"))
    }
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (32-bit per RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &[u8]) -> Result<CSeq, Fault> {
        let v = trim(value);
        let mut i = 0;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        let seq = parse_u64(&v[..i], u64::from(u32::MAX)).ok_or("sequence number out of range")?;
        let m0 = skip_lws(v, i);
        if m0 == i {
            return Err("missing method");
        }
        let end = run_of(v, m0, TOKEN);
        if end == m0 {
            return Err("missing method");
        }
        if end != v.len() {
            return Err("text after method");
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::from_bytes(&v[m0..end]),
        })
    }
}

/// A Contact value: `*` or a list of name-addrs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactValue<'a> {
    /// `Contact: *` (REGISTER removal of all bindings).
    Star,
    /// A contact address.
    Address(NameAddr<'a>),
}

impl<'a> ContactValue<'a> {
    /// Parses one comma-separated Contact item.
    pub fn parse(value: &'a [u8]) -> Result<ContactValue<'a>, Fault> {
        if trim(value) == b"*" {
            Ok(ContactValue::Star)
        } else {
            NameAddr::parse(value).map(ContactValue::Address)
        }
    }
}

/// Validates a Call-ID: `word ["@" word]`.
pub(crate) fn check_call_id(v: &[u8]) -> Result<(), Fault> {
    let v = trim(v);
    let mut i = 0;
    let mut at = None;
    loop {
        let start = i;
        i = run_of(v, i, WORD);
        if i == start {
            return Err("invalid Call-ID");
        }
        match v.get(i) {
            None => return Ok(()),
            Some(b'@') if at.is_none() => {
                at = Some(i);
                i += 1;
            }
            Some(_) => return Err("invalid Call-ID"),
        }
    }
}

/// Validates an RFC 1123 date in GMT (`Sat, 13 Nov 2010 23:29:00 GMT`, RFC 3261 §20.17).
pub(crate) fn check_date(v: &[u8]) -> Result<(), Fault> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let v = trim(v);
    let fault = "invalid Date (RFC 1123 form in GMT required)";
    if v.len() != 29 {
        return Err(fault);
    }
    let digits = |r: std::ops::Range<usize>| v[r].iter().all(u8::is_ascii_digit);
    let ok = DAYS.contains(&&v[0..3])
        && &v[3..5] == b", "
        && digits(5..7)
        && v[7] == b' '
        && MONTHS.contains(&&v[8..11])
        && v[11] == b' '
        && digits(12..16)
        && v[16] == b' '
        && digits(17..19)
        && v[19] == b':'
        && digits(20..22)
        && v[22] == b':'
        && digits(23..25)
        && &v[25..] == b" GMT";
    if ok { Ok(()) } else { Err(fault) }
}

/// Validates `type/subtype *(;param)`.
pub(crate) fn check_media_type(v: &[u8]) -> Result<(), Fault> {
    let v = trim(v);
    let t = run_of(v, 0, TOKEN);
    if t == 0 {
        return Err("invalid media type");
    }
    let slash = skip_lws(v, t);
    if v.get(slash) != Some(&b'/') {
        return Err("invalid media type");
    }
    let s0 = skip_lws(v, slash + 1);
    let end = run_of(v, s0, TOKEN);
    if end == s0 {
        return Err("invalid media subtype");
    }
    header_params(v, end, &mut Picked::default()).map(|_| ())
}

/// A delta-seconds value (Expires, Retry-After, Min-SE…), at most 2³²−1.
pub fn delta_seconds(v: &[u8]) -> Option<u32> {
    let v = trim(v);
    let end = v
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(v.len());
    parse_u64(&v[..end], u64::from(u32::MAX)).map(|n| n as u32)
}

/// Iterates the tokens of a comma-separated token list (Allow, Supported, Require…).
pub fn tokens(v: &[u8]) -> impl Iterator<Item = &str> {
    crate::scan::split_commas(v)
        .map(|t| text(trim(t)))
        .filter(|t| !t.is_empty())
}

/// Session-Expires (RFC 4028): the interval and the refresher, if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// The session interval in seconds.
    pub interval: u32,
    /// `uac` or `uas`, if present.
    pub refresher: Option<&'a str>,
}

impl<'a> SessionExpires<'a> {
    /// Parses `delta-seconds *(;param)`.
    pub fn parse(v: &'a [u8]) -> Option<SessionExpires<'a>> {
        let v = trim(v);
        let interval = delta_seconds(v)?;
        let params = Params::new(v);
        Some(SessionExpires {
            interval,
            refresher: params.get("refresher").flatten(),
        })
    }
}

/// Reason (RFC 3326): protocol, cause and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason<'a> {
    /// `SIP` or `Q.850`.
    pub protocol: &'a str,
    /// The cause code.
    pub cause: Option<u16>,
    /// The text, quotes removed.
    pub text: Option<&'a str>,
}

impl<'a> Reason<'a> {
    /// Parses one Reason value.
    pub fn parse(v: &'a [u8]) -> Option<Reason<'a>> {
        let mut c = Cursor::new(trim(v));
        let protocol = text(c.token()?);
        let params = Params::new(c.rest());
        let cause = params.get("cause").flatten().and_then(|s| s.parse().ok());
        let text = params.get("text").flatten().map(|t| t.trim_matches('"'));
        Some(Reason {
            protocol,
            cause,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let n =
            NameAddr::parse(br#" "J Rosenberg \\\""  <sip:jdrosen@example.com>  ;  tag = 98asjd8"#)
                .expect("quoted");
        assert_eq!(n.display_name(), Some(r#"J Rosenberg \\\""#));
        assert_eq!(n.tag(), Some("98asjd8"));
        let a = NameAddr::parse(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
            .expect("addr-spec");
        assert_eq!(a.uri().user(), Some("vivekg"));
        assert_eq!(a.tag(), Some("1918181833n"));
        let t = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").expect("no space");
        assert_eq!(t.display_name(), Some("caller"));
        assert!(NameAddr::parse(b"Bell, Alexander <sip:a@b>").is_err());
        assert!(NameAddr::parse(b"\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse(b"< sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse(b"sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(NameAddr::parse(b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
        // Quotes and blanks are no part of a URI, bracketed or not.
        assert!(NameAddr::check_structure(br#"<sip:a"b@h>;p=">,""#).is_err());
        assert!(NameAddr::check_structure(b"sip:a\"b@h;tag=1").is_err());
        assert!(NameAddr::check_structure(b"<sip:a\tb@h>").is_err());
        assert_eq!(
            NameAddr::check_structure(b"\"A \\\"q\\\"\" <sip:a@h>;tag=9"),
            Ok((true, Some(&b"9"[..])))
        );
    }

    #[test]
    fn via_with_lws_everywhere() {
        let v =
            Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").expect("via");
        assert_eq!(v.transport(), "UDP");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9]:5061;rport;branch=z9hG4bKx").expect("v6");
        assert_eq!(v.port(), Some(5061));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
        assert!(Via::parse(b"SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse(b"SIP/7.0/UDP c.example.com").is_err());
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse(b"0009\r\n  INVITE").map(|c| c.seq), Ok(9));
        assert!(CSeq::parse(b"36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse(b"1INVITE").is_err());
    }

    #[test]
    fn dates() {
        assert!(check_date(b"Sat, 13 Nov 2010 23:29:00 GMT").is_ok());
        assert!(check_date(b"Fri, 01 Jan 2010 16:00:00 EST").is_err());
    }

    #[test]
    fn small_values() {
        assert_eq!(delta_seconds(b" 3600 "), Some(3600));
        assert_eq!(delta_seconds(b"10000000000"), None);
        assert_eq!(
            tokens(b"timer, 100rel ,replaces").collect::<Vec<_>>(),
            ["timer", "100rel", "replaces"]
        );
        let se = SessionExpires::parse(b"1800;refresher=uac").expect("se");
        assert_eq!((se.interval, se.refresher), (1800, Some("uac")));
        let r = Reason::parse(b"Q.850;cause=16;text=\"Normal call clearing\"").expect("reason");
        assert_eq!(
            (r.protocol, r.cause, r.text),
            ("Q.850", Some(16), Some("Normal call clearing"))
        );
    }
}
