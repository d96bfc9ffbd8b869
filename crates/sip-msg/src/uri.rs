//! SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), parsed as borrowed views.
//!
//! Unknown schemes are accepted as opaque absolute URIs (RFC 4475 §3.3.2): the application
//! decides whether it serves them (416).

use crate::params::Params;
use crate::scan::{HEADER, HOST, PARAM, PASSWORD, USER, is, parse_u64, run_of, text};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The scheme of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:`
    Tel,
    /// Any other absolute URI scheme, kept opaque.
    Other,
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name.
    Name(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference (written in brackets).
    V6(Ipv6Addr),
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => a.fmt(f),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// What is wrong with a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme:`.
    #[error("missing or invalid URI scheme")]
    Scheme,
    /// The user or password part has a character the grammar forbids.
    #[error("invalid user part")]
    User,
    /// The host is not a hostname, IPv4 address or bracketed IPv6 reference.
    #[error("invalid host")]
    Host,
    /// The port is not a number up to 65535.
    #[error("invalid port")]
    Port,
    /// A `;param` is malformed.
    #[error("invalid URI parameter")]
    Param,
    /// A `?header` is malformed.
    #[error("invalid URI header")]
    Header,
    /// A `%` not followed by two hex digits, or a character not allowed in a URI.
    #[error("invalid escape or character")]
    Char,
}

/// A parsed URI, borrowing the message bytes: the URI as written and where its parts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a [u8],
    parts: UriParts,
}

/// Where a URI's parts are, as offsets into the URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UriParts {
    scheme: Scheme,
    user: Option<(u32, u32)>,
    password: Option<(u32, u32)>,
    host: Option<HostSpan>,
    port: Option<u16>,
    params: (u32, u32),
    headers: Option<(u32, u32)>,
}

/// A host as validated: names stay bytes (all ASCII) until read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawHost<'a> {
    Name(&'a [u8]),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl<'a> RawHost<'a> {
    pub(crate) fn host(self) -> Host<'a> {
        match self {
            RawHost::Name(n) => Host::Name(text(n)),
            RawHost::V4(a) => Host::V4(a),
            RawHost::V6(a) => Host::V6(a),
        }
    }
}

/// A parsed URI as offsets into the buffer it came from, so a message can keep it without
/// borrowing itself and hand out a [`Uri`] again without re-parsing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UriSpans {
    raw: (u32, u32),
    parts: UriParts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostSpan {
    Name(u32, u32),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// `(start, end)` as offsets.
fn span(start: usize, end: usize) -> (u32, u32) {
    // URIs sit inside messages capped far below 4 GiB.
    (start as u32, end as u32)
}

fn rel(base: &[u8], sub: &[u8]) -> Option<(u32, u32)> {
    let start = (sub.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start + sub.len();
    (end <= base.len()).then_some((start as u32, end as u32))
}

fn at(base: &[u8], (a, b): (u32, u32)) -> &[u8] {
    base.get(a as usize..b as usize).unwrap_or_default()
}

/// Checks that every byte passes `ok` or is a valid `%HH` escape.
fn check_escaped_with(s: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < s.len() {
        if ok(s[i]) {
            i += 1;
        } else if s[i] == b'%'
            && s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
        } else {
            return false;
        }
    }
    true
}

/// True when `s[at..at + 2]` are two hex digits.
#[inline]
fn hex2(s: &[u8], at: usize) -> bool {
    matches!(s.get(at..at + 2), Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
}

/// Scans from `i` over bytes of class `mask` and `%HH` escapes; returns where they end, or
/// `None` at a `%` that is not an escape.
#[inline]
fn scan_escaped(s: &[u8], mut i: usize, mask: u16) -> Option<usize> {
    while let Some(&b) = s.get(i) {
        if is(b, mask) {
            i += 1;
        } else if b == b'%' {
            if !hex2(s, i + 1) {
                return None;
            }
            i += 3;
        } else {
            break;
        }
    }
    Some(i)
}

/// A non-empty pname or pvalue from `i`: where it ends.
#[inline]
fn param_part(s: &[u8], i: usize) -> Result<usize, UriError> {
    match scan_escaped(s, i, PARAM) {
        Some(end) if end > i => Ok(end),
        _ => Err(UriError::Param),
    }
}

/// Checks that every byte is in class `mask` or is a valid `%HH` escape.
fn check_escaped(s: &[u8], mask: u16) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if is(b, mask) {
            i += 1;
        } else if b == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            return false;
        }
    }
    true
}

/// Parses `host[:port]` as in a SIP URI or a Via sent-by.
pub(crate) fn parse_hostport(s: &[u8]) -> Result<(RawHost<'_>, Option<u16>), UriError> {
    let (host, port) = if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']').ok_or(UriError::Host)?;
        let rest = &s[close + 1..];
        let port = match rest {
            [] => None,
            [b':', digits @ ..] => Some(digits),
            _ => return Err(UriError::Port),
        };
        (RawHost::V6(parse_ipv6(&s[1..close])?), port)
    } else {
        let (h, p) = match memchr::memchr(b':', s) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        (parse_host(h)?, p)
    };
    let port = match port {
        None => None,
        Some(d) => Some(parse_u64(d, 65535).ok_or(UriError::Port)? as u16),
    };
    Ok((host, port))
}

fn parse_ipv6(s: &[u8]) -> Result<Ipv6Addr, UriError> {
    text(s).parse::<Ipv6Addr>().map_err(|_| UriError::Host)
}

/// Dotted-quad IPv4 without leading-zero ambiguity checks beyond 0–255 per octet.
fn parse_ipv4(h: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut acc: u16 = 0;
    let mut digits = 0;
    for &b in h {
        if b.is_ascii_digit() {
            acc = acc * 10 + u16::from(b - b'0');
            digits += 1;
            if digits > 3 || acc > 255 {
                return None;
            }
        } else if b == b'.' && digits > 0 && n < 3 {
            octets[n] = acc as u8;
            n += 1;
            acc = 0;
            digits = 0;
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = acc as u8;
    Some(Ipv4Addr::from(octets))
}

fn parse_host(h: &[u8]) -> Result<RawHost<'_>, UriError> {
    if h.is_empty() {
        return Err(UriError::Host);
    }
    if h[0].is_ascii_digit()
        && let Some(a) = parse_ipv4(h)
    {
        return Ok(RawHost::V4(a));
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]; '_' tolerated as deployed networks use it.
    let ok = h.iter().all(|&b| is(b, HOST));
    if !ok || h[0] == b'.' || h[0] == b'-' {
        return Err(UriError::Host);
    }
    Ok(RawHost::Name(h))
}

impl<'a> Uri<'a> {
    /// Parses a URI; `s` must have no surrounding whitespace.
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let mut parts = UriParts {
            scheme: Scheme::Sip,
            user: None,
            password: None,
            host: None,
            port: None,
            params: (0, 0),
            headers: None,
        };
        // Nearly every URI a switch sees is `sip:`.
        if crate::scan::starts_with_sip(s) {
            parts.parse_sip(s, 4)?;
            return Ok(Uri { raw: s, parts });
        }
        let colon = memchr::memchr(b':', s).ok_or(UriError::Scheme)?;
        let scheme_raw = &s[..colon];
        let valid_scheme = scheme_raw.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme_raw
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(UriError::Scheme);
        }
        let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let base = colon + 1;
        let rest = &s[base..];
        parts.scheme = scheme;
        match scheme {
            Scheme::Sip | Scheme::Sips => parts.parse_sip(s, base)?,
            Scheme::Tel => {
                let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
                let number = &rest[..end];
                let ok = !number.is_empty()
                    && number.iter().all(|&b| {
                        b.is_ascii_hexdigit()
                            || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                    });
                if !ok {
                    return Err(UriError::User);
                }
                parts.user = Some(span(base, base + end));
                parse_uri_params(&rest[end..])?;
                parts.params = span(base + end, s.len());
            }
            Scheme::Other => {
                // absoluteURI (RFC 3261 §25.1): printable characters and valid %HH escapes.
                let printable =
                    |b: u8| b > b' ' && b < 0x7f && !matches!(b, b'<' | b'>' | b'"' | b'%');
                if rest.is_empty() || !check_escaped_with(rest, printable) {
                    return Err(UriError::Char);
                }
            }
        }
        Ok(Uri { raw: s, parts })
    }
}

impl UriParts {
    /// `[userinfo "@"] hostport *(";" uri-parameter) ["?" headers]`, each part checked as it
    /// is passed: one scan of the bytes.
    fn parse_sip(&mut self, uri: &[u8], base: usize) -> Result<(), UriError> {
        let rest = &uri[base..];
        // The user part may hold ';' '?' '/' ',' but never '@', while params and headers
        // never hold '@' unescaped: the first '@' ends the userinfo.
        let mut i = 0;
        if let Some(at) = memchr::memchr(b'@', rest) {
            let mut colon = None;
            while i < at {
                let b = rest[i];
                if colon.is_none() && is(b, USER) || colon.is_some() && is(b, PASSWORD) {
                    i += 1;
                } else if b == b':' && colon.is_none() {
                    colon = Some(i);
                    i += 1;
                } else if b == b'%' && hex2(rest, i + 1) {
                    i += 3;
                } else {
                    return Err(UriError::User);
                }
            }
            let user_end = colon.unwrap_or(at);
            if user_end == 0 {
                return Err(UriError::User);
            }
            self.user = Some(span(base, base + user_end));
            self.password = colon.map(|c| span(base + c + 1, base + at));
            i = at + 1;
        }
        // hostport
        let host_start = i;
        if rest.get(i) == Some(&b'[') {
            let close = memchr::memchr(b']', &rest[i..]).ok_or(UriError::Host)? + i;
            self.host = Some(HostSpan::V6(parse_ipv6(&rest[i + 1..close])?));
            i = close + 1;
            if !matches!(rest.get(i), None | Some(b':' | b';' | b'?')) {
                return Err(UriError::Port);
            }
        } else {
            i = run_of(rest, i, HOST);
            let h = &rest[host_start..i];
            if h.is_empty() || !matches!(rest.get(i), None | Some(b':' | b';' | b'?')) {
                return Err(UriError::Host);
            }
            self.host = Some(match parse_host(h)? {
                RawHost::Name(_) => HostSpan::Name((base + host_start) as u32, (base + i) as u32),
                RawHost::V4(a) => HostSpan::V4(a),
                RawHost::V6(a) => HostSpan::V6(a),
            });
        }
        if rest.get(i) == Some(&b':') {
            let p0 = i + 1;
            i = p0;
            while i < rest.len() && rest[i].is_ascii_digit() {
                i += 1;
            }
            let port = parse_u64(&rest[p0..i], 65535).ok_or(UriError::Port)?;
            if !matches!(rest.get(i), None | Some(b';' | b'?')) {
                return Err(UriError::Port);
            }
            self.port = Some(port as u16);
        }
        // *( ";" pname [ "=" pvalue ] )
        let params_start = i;
        while rest.get(i) == Some(&b';') {
            i = param_part(rest, i + 1)?;
            if rest.get(i) == Some(&b'=') {
                i = param_part(rest, i + 1)?;
            }
            if !matches!(rest.get(i), None | Some(b';' | b'?')) {
                return Err(UriError::Param);
            }
        }
        self.params = span(base + params_start, base + i);
        if i < rest.len() {
            // rest[i] is '?'
            let h = &rest[i + 1..];
            for item in h.split(|&b| b == b'&') {
                let (name, value) = match item.iter().position(|&b| b == b'=') {
                    Some(e) => (&item[..e], &item[e + 1..]),
                    None => return Err(UriError::Header),
                };
                if name.is_empty() || !check_escaped(name, HEADER) || !check_escaped(value, HEADER)
                {
                    return Err(UriError::Header);
                }
            }
            self.headers = Some(span(base + i + 1, uri.len()));
        }
        Ok(())
    }
}

impl<'a> Uri<'a> {
    /// This URI as offsets into `base`, which must be the buffer it was parsed from.
    pub(crate) fn spans(&self, base: &[u8]) -> Option<UriSpans> {
        Some(UriSpans {
            raw: rel(base, self.raw)?,
            parts: self.parts,
        })
    }

    /// Rebuilds a URI from [`Uri::spans`] over the same buffer, without parsing.
    pub(crate) fn from_spans(base: &'a [u8], s: &UriSpans) -> Uri<'a> {
        Uri {
            raw: at(base, s.raw),
            parts: s.parts,
        }
    }

    /// The URI as written.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The URI as text (empty if not UTF-8, which a valid URI always is).
    pub fn as_str(&self) -> &'a str {
        text(self.raw)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.parts.scheme
    }

    /// The user part as written (still %-escaped), or the number of a tel URI.
    pub fn user(&self) -> Option<&'a str> {
        self.parts.user.map(|r| text(at(self.raw, r)))
    }

    /// The password part, if any (deprecated by RFC 3261, still parsed).
    pub fn password(&self) -> Option<&'a str> {
        self.parts.password.map(|r| text(at(self.raw, r)))
    }

    /// The host of a SIP/SIPS URI.
    pub fn host(&self) -> Option<Host<'a>> {
        self.parts.host.map(|h| match h {
            HostSpan::Name(a, b) => Host::Name(text(at(self.raw, (a, b)))),
            HostSpan::V4(a) => Host::V4(a),
            HostSpan::V6(a) => Host::V6(a),
        })
    }

    /// The explicit port.
    pub fn port(&self) -> Option<u16> {
        self.parts.port
    }

    /// The URI parameters (`;transport=tcp;lr`).
    pub fn params(&self) -> Params<'a> {
        Params::new(at(self.raw, self.parts.params))
    }

    /// The raw `?headers` part, without the `?`.
    pub fn headers(&self) -> Option<&'a str> {
        self.parts.headers.map(|r| text(at(self.raw, r)))
    }
}

fn parse_uri_params(s: &[u8]) -> Result<Params<'_>, UriError> {
    if s.is_empty() {
        return Ok(Params::default());
    }
    for item in s[1..].split(|&b| b == b';') {
        let (name, value) = match item.iter().position(|&b| b == b'=') {
            Some(e) => (&item[..e], Some(&item[e + 1..])),
            None => (item, None),
        };
        if name.is_empty() || !check_escaped(name, PARAM) {
            return Err(UriError::Param);
        }
        if let Some(v) = value
            && (v.is_empty() || !check_escaped(v, PARAM))
        {
            return Err(UriError::Param);
        }
    }
    Ok(Params::new(s))
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u =
            Uri::parse(b"sip:alice:pw@[2001:db8::1]:5070;transport=tcp;lr?subject=x").expect("uri");
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), Some(Host::V6("2001:db8::1".parse().expect("v6"))));
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.params().get("TRANSPORT"), Some(Some("tcp")));
        assert_eq!(u.params().get("lr"), Some(None));
        assert_eq!(u.headers(), Some("subject=x"));
    }

    #[test]
    fn unusual_but_valid_user_parts_rfc4475_3_1_1_2() {
        let u = Uri::parse(
            b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        )
        .expect("uri");
        assert_eq!(u.host(), Some(Host::Name("example.com")));
        let semi = Uri::parse(b"sip:user;par=u%40example.net@example.com").expect("semiuri");
        assert_eq!(semi.user(), Some("user;par=u%40example.net"));
    }

    #[test]
    fn tel_and_other_schemes() {
        let t = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").expect("tel");
        assert_eq!(t.scheme(), Scheme::Tel);
        assert_eq!(t.user(), Some("+1-201-555-0123"));
        assert_eq!(
            Uri::parse(b"soap.beep://192.0.2.103:3002").map(|u| u.scheme()),
            Ok(Scheme::Other)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(Uri::parse(b"sip:user@exa mple.com"), Err(UriError::Host));
        assert_eq!(Uri::parse(b"sip:us%zzer@h"), Err(UriError::User));
        assert_eq!(Uri::parse(b"sip:h:99999"), Err(UriError::Port));
        assert_eq!(Uri::parse(b"sip:h;=x"), Err(UriError::Param));
        assert_eq!(Uri::parse(b"1sip:h"), Err(UriError::Scheme));
        assert_eq!(Uri::parse(b"sip:[::1"), Err(UriError::Host));
    }
}
