//! Header names: the ones the switch reads are an enum (compact forms folded in), the rest are
//! kept as written.

/// A header name. Known names are recognised case-insensitively, compact forms included
/// (RFC 3261 §7.3.3); everything else is [`HeaderName::Other`] and kept byte-exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the header of the same name
pub enum HeaderName {
    Accept,
    AcceptContact,
    Allow,
    AllowEvents,
    Authorization,
    CallId,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Diversion,
    Event,
    Expires,
    From,
    Identity,
    MaxForwards,
    MinExpires,
    MinSe,
    PAssertedIdentity,
    PPreferredIdentity,
    Privacy,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RAck,
    Reason,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    RemotePartyId,
    Require,
    RetryAfter,
    Route,
    RSeq,
    SessionExpires,
    Subject,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Server,
    Via,
    Warning,
    WwwAuthenticate,
    /// Any other header; its name is kept as written.
    Other,
}

/// Compact forms (RFC 3261 §7.3.3 and later RFCs).
fn compact(c: u8) -> HeaderName {
    match c {
        b'v' => HeaderName::Via,
        b'f' => HeaderName::From,
        b't' => HeaderName::To,
        b'i' => HeaderName::CallId,
        b'm' => HeaderName::Contact,
        b'l' => HeaderName::ContentLength,
        b'c' => HeaderName::ContentType,
        b'e' => HeaderName::ContentEncoding,
        b'k' => HeaderName::Supported,
        b'u' => HeaderName::AllowEvents,
        b'a' => HeaderName::AcceptContact,
        b'j' => HeaderName::RejectContact,
        b'x' => HeaderName::SessionExpires,
        b's' => HeaderName::Subject,
        b'o' => HeaderName::Event,
        b'r' => HeaderName::ReferTo,
        b'b' => HeaderName::ReferredBy,
        b'y' => HeaderName::Identity,
        _ => HeaderName::Other,
    }
}

/// Long forms, lower case (letters and '-' only: see [`fold`]).
const LONG: [(&[u8], HeaderName); 49] = [
    (b"accept", HeaderName::Accept),
    (b"accept-contact", HeaderName::AcceptContact),
    (b"allow", HeaderName::Allow),
    (b"allow-events", HeaderName::AllowEvents),
    (b"authorization", HeaderName::Authorization),
    (b"call-id", HeaderName::CallId),
    (b"contact", HeaderName::Contact),
    (b"content-disposition", HeaderName::ContentDisposition),
    (b"content-encoding", HeaderName::ContentEncoding),
    (b"content-length", HeaderName::ContentLength),
    (b"content-type", HeaderName::ContentType),
    (b"cseq", HeaderName::CSeq),
    (b"date", HeaderName::Date),
    (b"diversion", HeaderName::Diversion),
    (b"event", HeaderName::Event),
    (b"expires", HeaderName::Expires),
    (b"from", HeaderName::From),
    (b"identity", HeaderName::Identity),
    (b"max-forwards", HeaderName::MaxForwards),
    (b"min-expires", HeaderName::MinExpires),
    (b"min-se", HeaderName::MinSe),
    (b"p-asserted-identity", HeaderName::PAssertedIdentity),
    (b"p-preferred-identity", HeaderName::PPreferredIdentity),
    (b"privacy", HeaderName::Privacy),
    (b"proxy-authenticate", HeaderName::ProxyAuthenticate),
    (b"proxy-authorization", HeaderName::ProxyAuthorization),
    (b"proxy-require", HeaderName::ProxyRequire),
    (b"rack", HeaderName::RAck),
    (b"reason", HeaderName::Reason),
    (b"record-route", HeaderName::RecordRoute),
    (b"refer-to", HeaderName::ReferTo),
    (b"referred-by", HeaderName::ReferredBy),
    (b"reject-contact", HeaderName::RejectContact),
    (b"remote-party-id", HeaderName::RemotePartyId),
    (b"require", HeaderName::Require),
    (b"retry-after", HeaderName::RetryAfter),
    (b"route", HeaderName::Route),
    (b"rseq", HeaderName::RSeq),
    (b"session-expires", HeaderName::SessionExpires),
    (b"subject", HeaderName::Subject),
    (b"supported", HeaderName::Supported),
    (b"timestamp", HeaderName::Timestamp),
    (b"to", HeaderName::To),
    (b"unsupported", HeaderName::Unsupported),
    (b"user-agent", HeaderName::UserAgent),
    (b"server", HeaderName::Server),
    (b"via", HeaderName::Via),
    (b"warning", HeaderName::Warning),
    (b"www-authenticate", HeaderName::WwwAuthenticate),
];

/// Longest known name.
const MAX_LEN: usize = 20;
const SLOTS: usize = 128;

/// One slot of the lookup table: the lower-case first and last eight bytes, which bits of
/// them a byte may differ in (0x20 where the name has a letter), the length (`len == 0`: empty
/// slot) and the name itself (the two words miss the middle of a name longer than sixteen).
#[derive(Clone, Copy)]
struct Slot {
    head: u64,
    tail: u64,
    case_head: u64,
    case_tail: u64,
    len: u8,
    name: HeaderName,
    text: &'static [u8],
}

/// Reads up to eight bytes of `s` from `at` as a little-endian word, zero-padded.
const fn word(s: &[u8], at: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < 8 && at + i < s.len() {
        w |= (s[at + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// Masks keeping the low `n` bytes of a word, `n` = 0..=8.
const LOW: [u64; 9] = {
    let mut m = [u64::MAX; 9];
    let mut n = 0;
    while n < 8 {
        m[n] = (1u64 << (8 * n)) - 1;
        n += 1;
    }
    m
};

/// The low `n` bytes of a word (all eight when `n >= 8`).
const fn low_bytes(w: u64, n: usize) -> u64 {
    w & LOW[if n < 8 { n } else { 8 }]
}

/// Sets bit 0x20 of every byte: the hash input, equal for words equal ignoring case.
const fn fold(w: u64) -> u64 {
    w | 0x2020_2020_2020_2020
}

/// 0x20 in every byte of `w` that is a lower-case letter.
const fn letters(w: u64) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < 8 {
        let b = (w >> (8 * i)) as u8;
        if b.is_ascii_lowercase() {
            m |= 0x20 << (8 * i);
        }
        i += 1;
    }
    m
}

/// The raw words a name is compared by: its first eight bytes and its last eight (0 when
/// eight or fewer).
const fn raw_key(s: &[u8]) -> (u64, u64) {
    let n = s.len();
    let head = low_bytes(word(s, 0), n);
    let tail = if n > 8 { word(s, n - 8) } else { 0 };
    (head, tail)
}

const fn slot_of(head: u64, tail: u64, len: usize) -> usize {
    let h =
        (fold(head) ^ fold(tail).rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 57) as usize % SLOTS
}

const fn build_table() -> [Slot; SLOTS] {
    let empty = Slot {
        head: 0,
        tail: 0,
        case_head: 0,
        case_tail: 0,
        len: 0,
        name: HeaderName::Other,
        text: b"",
    };
    let mut t = [empty; SLOTS];
    let mut i = 0;
    while i < LONG.len() {
        let (n, name) = LONG[i];
        let (head, tail) = raw_key(n);
        let mut s = slot_of(head, tail, n.len());
        while t[s].len != 0 {
            s = (s + 1) % SLOTS;
        }
        t[s] = Slot {
            head,
            tail,
            case_head: letters(head),
            case_tail: letters(tail),
            len: n.len() as u8,
            name,
            text: n,
        };
        i += 1;
    }
    t
}

static TABLE: [Slot; SLOTS] = build_table();

/// Looks `name` up by its raw head and tail words: a hit is a case-insensitive match of every
/// byte (a letter may differ in bit 0x20 only, and every other byte must be equal), whatever
/// the bytes are. The words cover a name of up to sixteen bytes; a longer one is compared whole.
#[inline]
fn lookup(name: &[u8], head: u64, tail: u64) -> HeaderName {
    let len = name.len();
    let mut s = slot_of(head, tail, len);
    loop {
        let e = &TABLE[s];
        if e.len == 0 {
            return HeaderName::Other;
        }
        if usize::from(e.len) == len
            && head | e.case_head == e.head
            && tail | e.case_tail == e.tail
            && (len <= 16 || name.eq_ignore_ascii_case(e.text))
        {
            return e.name;
        }
        s = (s + 1) % SLOTS;
    }
}

/// The compact form `c` (any byte): a known name only for a letter.
fn compact_any(c: u8) -> HeaderName {
    if c.is_ascii_alphabetic() {
        compact(c | 0x20)
    } else {
        HeaderName::Other
    }
}

impl HeaderName {
    /// Recognises a header name (full or compact form, any case).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name.len() {
            0 => HeaderName::Other,
            1 => compact_any(name[0]),
            n if n > MAX_LEN => HeaderName::Other,
            _ => {
                let (head, tail) = raw_key(name);
                lookup(name, head, tail)
            }
        }
    }

    /// [`HeaderName::from_bytes`] for the name at `buf[at..at + len]`: when eight bytes can be
    /// read from `at`, the head word is one load.
    #[inline]
    pub(crate) fn from_buf(buf: &[u8], at: usize, len: usize) -> HeaderName {
        if len == 1 {
            return compact_any(buf[at]);
        }
        if len > MAX_LEN || len == 0 {
            return HeaderName::Other;
        }
        let Some(head) = buf.get(at..at + 8) else {
            return HeaderName::from_bytes(&buf[at..at + len]);
        };
        let mut w = [0u8; 8];
        w.copy_from_slice(head);
        let head = low_bytes(u64::from_le_bytes(w), len);
        let tail = if len > 8 {
            w.copy_from_slice(&buf[at + len - 8..at + len]);
            u64::from_le_bytes(w)
        } else {
            0
        };
        lookup(&buf[at..at + len], head, tail)
    }

    /// The canonical (long) form, as printed by builders; `None` for [`HeaderName::Other`].
    pub fn canonical(self) -> Option<&'static str> {
        Some(match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptContact => "Accept-Contact",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::Diversion => "Diversion",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::Identity => "Identity",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::MinSe => "Min-SE",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::PPreferredIdentity => "P-Preferred-Identity",
            HeaderName::Privacy => "Privacy",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::RAck => "RAck",
            HeaderName::Reason => "Reason",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::RejectContact => "Reject-Contact",
            HeaderName::RemotePartyId => "Remote-Party-ID",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::RSeq => "RSeq",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::Subject => "Subject",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Server => "Server",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::Other => return None,
        })
    }

    /// Headers that may appear once only (a second copy makes the message invalid, RFC 4475
    /// §3.3.9 / §3.3.11).
    pub(crate) fn is_single(self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::From
                | HeaderName::To
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::Expires
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_name_round_trips() {
        let all = [
            HeaderName::Accept,
            HeaderName::AcceptContact,
            HeaderName::Allow,
            HeaderName::AllowEvents,
            HeaderName::Authorization,
            HeaderName::CallId,
            HeaderName::Contact,
            HeaderName::ContentDisposition,
            HeaderName::ContentEncoding,
            HeaderName::ContentLength,
            HeaderName::ContentType,
            HeaderName::CSeq,
            HeaderName::Date,
            HeaderName::Diversion,
            HeaderName::Event,
            HeaderName::Expires,
            HeaderName::From,
            HeaderName::Identity,
            HeaderName::MaxForwards,
            HeaderName::MinExpires,
            HeaderName::MinSe,
            HeaderName::PAssertedIdentity,
            HeaderName::PPreferredIdentity,
            HeaderName::Privacy,
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
            HeaderName::ProxyRequire,
            HeaderName::RAck,
            HeaderName::Reason,
            HeaderName::RecordRoute,
            HeaderName::ReferTo,
            HeaderName::ReferredBy,
            HeaderName::RejectContact,
            HeaderName::RemotePartyId,
            HeaderName::Require,
            HeaderName::RetryAfter,
            HeaderName::Route,
            HeaderName::RSeq,
            HeaderName::SessionExpires,
            HeaderName::Subject,
            HeaderName::Supported,
            HeaderName::Timestamp,
            HeaderName::To,
            HeaderName::Unsupported,
            HeaderName::UserAgent,
            HeaderName::Server,
            HeaderName::Via,
            HeaderName::Warning,
            HeaderName::WwwAuthenticate,
        ];
        for h in all {
            let name = h.canonical().expect("canonical");
            assert_eq!(HeaderName::from_bytes(name.as_bytes()), h, "{name}");
            assert_eq!(
                HeaderName::from_bytes(name.to_uppercase().as_bytes()),
                h,
                "{name}"
            );
        }
    }

    #[test]
    fn every_byte_of_every_name_counts() {
        for (name, h) in LONG {
            for at in 0..name.len() {
                for b in [b'x', b'@', b'-', b'a', 0x80, b'\r', name[at] ^ 0x20] {
                    let mut n = name.to_vec();
                    n[at] = b;
                    let expected = if n.eq_ignore_ascii_case(name) {
                        h
                    } else {
                        HeaderName::Other
                    };
                    assert_eq!(HeaderName::from_bytes(&n), expected, "{n:?}");
                    n.extend_from_slice(b": v");
                    assert_eq!(HeaderName::from_buf(&n, 0, name.len()), expected, "{n:?}");
                }
            }
        }
    }

    #[test]
    fn near_misses_are_other() {
        // A byte that folds onto '-' or a letter without being one is not a match.
        assert_eq!(HeaderName::from_bytes(b"call\rid"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"call-i\x04"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"co\x0etact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"\x16ia"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"\x06"), HeaderName::Other);
        assert_eq!(
            HeaderName::from_bytes(b"content-lengtH"),
            HeaderName::ContentLength
        );
        assert_eq!(HeaderName::from_bytes(b"content-lengt"), HeaderName::Other);
        let buf = b"Record-Route: <sip:x>";
        assert_eq!(HeaderName::from_buf(buf, 0, 12), HeaderName::RecordRoute);
        assert_eq!(HeaderName::from_buf(b"Via", 0, 3), HeaderName::Via);
    }

    #[test]
    fn compact_and_case_insensitive() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(&[b'x'; 40]), HeaderName::Other);
        assert_eq!(HeaderName::CallId.canonical(), Some("Call-ID"));
    }
}
