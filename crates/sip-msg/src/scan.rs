//! Byte-level scanning shared by every grammar rule (RFC 3261 §25.1).
//!
//! Header values handed to these functions have already been split into logical lines, so any CR
//! or LF inside them belongs to a fold (CRLF followed by whitespace) and counts as LWS.

/// Character classes of RFC 3261 §25.1, one bit each, looked up in one table.
pub(crate) const TOKEN: u16 = 1;
pub(crate) const WORD: u16 = 2;
pub(crate) const UNRESERVED: u16 = 4;
pub(crate) const USER: u16 = 8;
pub(crate) const PASSWORD: u16 = 16;
pub(crate) const PARAM: u16 = 32;
pub(crate) const HEADER: u16 = 64;
pub(crate) const HOST: u16 = 128;
/// A header parameter value without quotes: token or host (IPv6 references included).
pub(crate) const PVALUE: u16 = 256;
/// Where a scan for the start of a name-addr's URI stops: `<`, `;`, `"`.
pub(crate) const DISPLAY_STOP: u16 = 512;

const fn build_classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let mut c = 0;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            c |= TOKEN | WORD;
        }
        if matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        ) {
            c |= WORD;
        }
        if alnum || mark {
            c |= UNRESERVED | USER | PASSWORD | PARAM | HEADER;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            c |= USER;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            c |= PASSWORD;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            c |= PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            c |= HEADER;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            c |= HOST;
        }
        if c & TOKEN != 0 || matches!(b, b'[' | b']' | b':') {
            c |= PVALUE;
        }
        if matches!(b, b'<' | b';' | b'"') {
            c |= DISPLAY_STOP;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASSES: [u16; 256] = build_classes();

/// True when `b` is in every class of `mask`.
#[inline]
pub(crate) fn is(b: u8, mask: u16) -> bool {
    CLASSES[b as usize] & mask == mask
}

/// The end of the run of bytes in class `mask` that starts at `i`: eight bytes per step while
/// a whole chunk is in the class (names, tags, branches and hosts are mostly long runs).
#[inline]
pub(crate) fn run_of(s: &[u8], mut i: usize, mask: u16) -> usize {
    while let Some(c) = s.get(i..i + 8) {
        let all = CLASSES[c[0] as usize]
            & CLASSES[c[1] as usize]
            & CLASSES[c[2] as usize]
            & CLASSES[c[3] as usize]
            & CLASSES[c[4] as usize]
            & CLASSES[c[5] as usize]
            & CLASSES[c[6] as usize]
            & CLASSES[c[7] as usize];
        if all & mask != mask {
            break;
        }
        i += 8;
    }
    while i < s.len() && is(s[i], mask) {
        i += 1;
    }
    i
}

/// RFC 3261 `token` characters.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    is(b, TOKEN)
}

/// Whitespace inside a logical header value (folds included).
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A cursor over one header value or grammar element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }

    /// Skips LWS; returns true when anything was skipped.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !is_lws(b) {
                break;
            }
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `b` (after optional LWS on both sides, as SWS around separators allows).
    pub(crate) fn sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes exactly `b` with no whitespace.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Takes bytes while `f` holds.
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !f(b) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// A non-empty token.
    pub(crate) fn token(&mut self) -> Option<&'a [u8]> {
        let t = self.take_while(is_token);
        if t.is_empty() { None } else { Some(t) }
    }

    /// A quoted-string; returns the content between the quotes (escapes kept as written).
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            match self.peek()? {
                b'"' => {
                    let inner = &self.s[start..self.pos];
                    self.pos += 1;
                    return Some(inner);
                }
                b'\\' => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    let next = *self.s.get(self.pos + 1)?;
                    if next == b'\r' || next == b'\n' || next > 0x7f {
                        return None;
                    }
                    self.pos += 2;
                }
                _ => self.pos += 1,
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero. The lowest flagged byte is always a true one
/// (a borrow only runs upward from a zero byte), which is all the searches below use.
#[inline(always)]
fn zeros(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bit set in each byte of `x` below 0x21 (space and controls); bytes of 0x80 and above
/// never flag. The lowest flagged byte is a true one.
#[inline(always)]
fn blanks(x: u64) -> u64 {
    x.wrapping_sub(ONES * 0x21) & !x & HIGHS
}

/// The first byte at or after `from` whose flag `hit` sets (`hit` maps eight bytes, as a
/// little-endian word, to their high-bit flags), eight bytes per step; the last partial step
/// re-reads the final eight bytes, so no byte is tested one at a time unless `s` is shorter
/// than eight.
#[inline(always)]
fn swar_find(s: &[u8], from: usize, hit: impl Fn(u64) -> u64) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let found = hit(u64::from_le_bytes(w));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = s.len().checked_sub(i).filter(|&r| r > 0)?;
    if s.len() >= 8 {
        // The last eight bytes, shifted so that byte 0 is s[i]; the bytes shifted in are
        // zero and their flags are masked off (borrows never run downward).
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[s.len() - 8..]);
        let x = u64::from_le_bytes(w) >> (8 * (8 - rest));
        let found = hit(x) & (HIGHS >> (8 * (8 - rest)));
        return (found != 0).then(|| i + (found.trailing_zeros() / 8) as usize);
    }
    let mut w = [0u8; 8];
    w[..rest].copy_from_slice(&s[i..]);
    let found = hit(u64::from_le_bytes(w)) & (HIGHS >> (8 * (8 - rest)));
    (found != 0).then(|| i + (found.trailing_zeros() / 8) as usize)
}

/// The first `\n` at or after `from` (header lines are short, so eight bytes per step beats a
/// vector search's set-up cost).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn find_lf(s: &[u8], from: usize) -> Option<usize> {
    // SSE2 is part of x86-64: sixteen bytes per step with no run-time dispatch.
    let tail = s.get(from..)?;
    match memchr::arch::x86_64::sse2::memchr::One::new(b'\n') {
        Some(one) => one.find(tail).map(|p| p + from),
        None => find_lf_swar(s, from),
    }
}

/// [`find_lf`] elsewhere.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn find_lf(s: &[u8], from: usize) -> Option<usize> {
    find_lf_swar(s, from)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn find_lf_swar(s: &[u8], from: usize) -> Option<usize> {
    swar_find(s, from, |x| zeros(x ^ (ONES * u64::from(b'\n'))))
}

/// The first byte at or after `from` that is `:`, a space or a control character (where a
/// header name ends), or `s.len()`.
#[inline]
pub(crate) fn find_name_end(s: &[u8], from: usize) -> usize {
    swar_find(s, from, |x| zeros(x ^ (ONES * u64::from(b':'))) | blanks(x)).unwrap_or(s.len())
}

/// The first byte at or after `from` that is `a`, `b`, a space or a control character, or
/// `s.len()`.
#[inline]
pub(crate) fn find_pair_or_blank(s: &[u8], from: usize, a: u8, b: u8) -> usize {
    swar_find(s, from, |x| {
        zeros(x ^ (ONES * u64::from(a))) | zeros(x ^ (ONES * u64::from(b))) | blanks(x)
    })
    .unwrap_or(s.len())
}

/// True when a byte of `s` is a space or a control character (`<= 0x20`).
#[inline]
pub(crate) fn has_space_or_ctl(s: &[u8]) -> bool {
    swar_find(s, 0, blanks).is_some()
}

/// True when `s` starts with `sip:` in any case, compared as one word.
#[inline]
pub(crate) fn starts_with_sip(s: &[u8]) -> bool {
    let Some(p) = s.get(..4) else {
        return false;
    };
    let mut w = [0u8; 4];
    w.copy_from_slice(p);
    // Bit 0x20 folds the three letters; ':' must match exactly.
    u32::from_le_bytes(w) | 0x20_2020 == u32::from_le_bytes(*b"sip:")
}

/// Parses an unsigned decimal that must fit in `max` (leading zeros allowed, as RFC 3261 does).
pub(crate) fn parse_u64(digits: &[u8], max: u64) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// Trims LWS at both ends.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    // Values come trimmed from the header lexer; only list items and folds need the scans.
    if let (Some(&f), Some(&l)) = (s.first(), s.last())
        && !is_lws(f)
        && !is_lws(l)
    {
        return s;
    }
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Bytes as text; non-UTF-8 text (legal only in display names and phrases) reads as empty.
pub(crate) fn text(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

/// ASCII case-insensitive equality.
pub(crate) fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Splits a header value at top-level commas (outside quotes and angle brackets).
pub(crate) fn split_commas(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    // Most values hold no comma at all: one item, found with one vector search.
    let mut done = false;
    let mut single = memchr::memchr(b',', s).is_none().then_some(s);
    std::iter::from_fn(move || {
        if let Some(one) = single.take() {
            done = true;
            return Some(one);
        }
        if done {
            return None;
        }
        let start = pos;
        let mut in_quotes = false;
        let mut in_angle = false;
        while pos < s.len() {
            match s[pos] {
                b'\\' if in_quotes => pos += 1,
                // Inside <…> is a URI, where a quote is just a (bad) character: the name-addr
                // check reads it the same way.
                b'"' if !in_angle => in_quotes = !in_quotes,
                b'<' if !in_quotes => in_angle = true,
                b'>' if !in_quotes => in_angle = false,
                b',' if !in_quotes && !in_angle => {
                    let item = &s[start..pos];
                    pos += 1;
                    return Some(item);
                }
                _ => {}
            }
            pos += 1;
        }
        done = true;
        Some(&s[start..s.len().min(pos)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_string_with_escapes() {
        let mut c = Cursor::new(br#""J Rosenberg \\\"" <sip:x>"#);
        assert_eq!(c.quoted(), Some(&br#"J Rosenberg \\\""#[..]));
        assert_eq!(c.rest(), b" <sip:x>");
        assert_eq!(Cursor::new(b"\"unterminated").quoted(), None);
    }

    #[test]
    fn commas_respect_quotes_and_brackets() {
        let parts: Vec<_> = split_commas(br#""a,b" <sip:x;p=1,2>, <sip:y>"#).collect();
        assert_eq!(
            parts,
            vec![&br#""a,b" <sip:x;p=1,2>"#[..], &b" <sip:y>"[..]]
        );
        // A quote inside <…> opens nothing.
        let parts: Vec<_> = split_commas(br#"<sip:a"b@h>;p=">,", <sip:c>"#).collect();
        assert_eq!(parts, vec![&br#"<sip:a"b@h>;p=">,""#[..], &b" <sip:c>"[..]]);
    }

    #[test]
    fn line_feeds_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut s = vec![b'a'; len];
                s[at] = b'\n';
                if at + 3 < len {
                    s[at + 3] = b'\n';
                }
                for from in 0..=at {
                    assert_eq!(find_lf(&s, from), Some(at), "len {len} at {at} from {from}");
                    assert_eq!(find_lf_swar(&s, from), Some(at));
                }
                assert_eq!(find_lf(&s, at + 1), (at + 3 < len).then_some(at + 3));
            }
            assert_eq!(find_lf(&vec![0x8a; len], 0), None);
        }
    }

    #[test]
    fn name_ends_found_at_every_offset() {
        for len in 0..30 {
            for at in 0..len {
                for stop in [b':', b' ', b'\t', b'\r', b'\n', 0] {
                    let mut s = vec![b'a'; len];
                    s[at] = stop;
                    if at + 2 < len {
                        s[at + 2] = b':';
                    }
                    assert_eq!(find_name_end(&s, 0), at, "{stop:#x} at {at} of {len}");
                }
            }
            assert_eq!(find_name_end(&vec![0xc3; len], 0), len);
        }
    }

    #[test]
    fn either_byte_or_a_blank_found_at_every_offset() {
        for len in 0..30 {
            for at in 0..len {
                for stop in [b'>', b'"', b' ', b'\n', 0] {
                    let mut s = vec![b'a'; len];
                    s[at] = stop;
                    for from in 0..=at {
                        assert_eq!(find_pair_or_blank(&s, from, b'>', b'"'), at);
                    }
                    assert_eq!(find_pair_or_blank(&s, at + 1, b'>', b'"'), len);
                }
            }
            assert_eq!(find_pair_or_blank(&vec![0x9e; len], 0, b'>', b'"'), len);
        }
    }

    #[test]
    fn spaces_and_controls_found_anywhere() {
        for len in 1..30 {
            for at in 0..len {
                for bad in [0u8, b'\t', b'\r', b' ', 0x1f] {
                    let mut s = vec![b'a'; len];
                    s[at] = bad;
                    assert!(has_space_or_ctl(&s), "{bad:#x} at {at} of {len}");
                }
                let mut s = vec![0xffu8; len];
                s[at] = b'!';
                assert!(!has_space_or_ctl(&s));
            }
        }
    }

    #[test]
    fn runs_end_at_the_first_byte_outside_the_class() {
        for len in 0..40 {
            for at in 0..=len {
                let mut s = vec![b'a'; len];
                if at < len {
                    s[at] = b' ';
                }
                for from in 0..=at {
                    assert_eq!(run_of(&s, from, TOKEN), at, "len {len} at {at} from {from}");
                }
            }
        }
        assert_eq!(run_of(b"abc", 5, TOKEN), 5);
    }

    #[test]
    fn numbers_bounded() {
        assert_eq!(parse_u64(b"0068", 255), Some(68));
        assert_eq!(parse_u64(b"300", 255), None);
        assert_eq!(
            parse_u64(b"36893488147419103232", u64::from(u32::MAX)),
            None
        );
        assert_eq!(parse_u64(b"", 9), None);
    }
}
