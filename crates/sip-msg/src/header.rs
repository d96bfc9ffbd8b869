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

impl HeaderName {
    /// Recognises a header name (full or compact form, any case).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        // Dispatch on length and first letter, then compare ignoring ASCII case in place.
        // (Lengths are equal within a dispatch arm.)
        let Some(&first) = name.first() else {
            return HeaderName::Other;
        };
        let candidates: &[(&[u8], HeaderName)] = match (name.len(), first | 0x20) {
            (1, _) => return compact(first | 0x20),
            (2, b't') => &[(b"to", HeaderName::To)],
            (3, b'v') => &[(b"via", HeaderName::Via)],
            (4, b'f') => &[(b"from", HeaderName::From)],
            (4, b'c') => &[(b"cseq", HeaderName::CSeq)],
            (4, b'd') => &[(b"date", HeaderName::Date)],
            (4, b'r') => &[(b"rseq", HeaderName::RSeq), (b"rack", HeaderName::RAck)],
            (5, b'r') => &[(b"route", HeaderName::Route)],
            (5, b'a') => &[(b"allow", HeaderName::Allow)],
            (5, b'e') => &[(b"event", HeaderName::Event)],
            (6, b'a') => &[(b"accept", HeaderName::Accept)],
            (6, b'm') => &[(b"min-se", HeaderName::MinSe)],
            (6, b'r') => &[(b"reason", HeaderName::Reason)],
            (6, b's') => &[(b"server", HeaderName::Server)],
            (7, b'c') => &[
                (b"call-id", HeaderName::CallId),
                (b"contact", HeaderName::Contact),
            ],
            (7, b'e') => &[(b"expires", HeaderName::Expires)],
            (7, b'p') => &[(b"privacy", HeaderName::Privacy)],
            (7, b'r') => &[(b"require", HeaderName::Require)],
            (7, b's') => &[(b"subject", HeaderName::Subject)],
            (7, b'w') => &[(b"warning", HeaderName::Warning)],
            (8, b'i') => &[(b"identity", HeaderName::Identity)],
            (8, b'r') => &[(b"refer-to", HeaderName::ReferTo)],
            (9, b'd') => &[(b"diversion", HeaderName::Diversion)],
            (9, b's') => &[(b"supported", HeaderName::Supported)],
            (9, b't') => &[(b"timestamp", HeaderName::Timestamp)],
            (10, b'u') => &[(b"user-agent", HeaderName::UserAgent)],
            (11, b'm') => &[(b"min-expires", HeaderName::MinExpires)],
            (11, b'r') => &[
                (b"referred-by", HeaderName::ReferredBy),
                (b"retry-after", HeaderName::RetryAfter),
            ],
            (11, b'u') => &[(b"unsupported", HeaderName::Unsupported)],
            (12, b'a') => &[(b"allow-events", HeaderName::AllowEvents)],
            (12, b'c') => &[(b"content-type", HeaderName::ContentType)],
            (12, b'm') => &[(b"max-forwards", HeaderName::MaxForwards)],
            (12, b'r') => &[(b"record-route", HeaderName::RecordRoute)],
            (13, b'a') => &[(b"authorization", HeaderName::Authorization)],
            (13, b'p') => &[(b"proxy-require", HeaderName::ProxyRequire)],
            (14, b'a') => &[(b"accept-contact", HeaderName::AcceptContact)],
            (14, b'c') => &[(b"content-length", HeaderName::ContentLength)],
            (14, b'r') => &[(b"reject-contact", HeaderName::RejectContact)],
            (15, b'r') => &[(b"remote-party-id", HeaderName::RemotePartyId)],
            (15, b's') => &[(b"session-expires", HeaderName::SessionExpires)],
            (16, b'c') => &[(b"content-encoding", HeaderName::ContentEncoding)],
            (16, b'w') => &[(b"www-authenticate", HeaderName::WwwAuthenticate)],
            (18, b'p') => &[(b"proxy-authenticate", HeaderName::ProxyAuthenticate)],
            (19, b'c') => &[(b"content-disposition", HeaderName::ContentDisposition)],
            (19, b'p') => &[
                (b"proxy-authorization", HeaderName::ProxyAuthorization),
                (b"p-asserted-identity", HeaderName::PAssertedIdentity),
            ],
            (20, b'p') => &[(b"p-preferred-identity", HeaderName::PPreferredIdentity)],
            _ => return HeaderName::Other,
        };
        for (n, h) in candidates {
            // Candidates are lower-case letters and '-', which all have bit 0x20 set: setting
            // it in the name folds upper-case letters, and no other token character becomes a
            // letter or '-' that way.
            if name.iter().zip(n.iter()).all(|(a, b)| a | 0x20 == *b) {
                return *h;
            }
        }
        HeaderName::Other
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
