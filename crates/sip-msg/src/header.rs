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

impl HeaderName {
    /// Recognises a header name (full or compact form, any case).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let mut buf = [0u8; 24];
        if name.len() > buf.len() {
            return HeaderName::Other;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        match &buf[..name.len()] {
            b"v" | b"via" => HeaderName::Via,
            b"f" | b"from" => HeaderName::From,
            b"t" | b"to" => HeaderName::To,
            b"i" | b"call-id" => HeaderName::CallId,
            b"cseq" => HeaderName::CSeq,
            b"m" | b"contact" => HeaderName::Contact,
            b"l" | b"content-length" => HeaderName::ContentLength,
            b"c" | b"content-type" => HeaderName::ContentType,
            b"max-forwards" => HeaderName::MaxForwards,
            b"route" => HeaderName::Route,
            b"record-route" => HeaderName::RecordRoute,
            b"e" | b"content-encoding" => HeaderName::ContentEncoding,
            b"content-disposition" => HeaderName::ContentDisposition,
            b"k" | b"supported" => HeaderName::Supported,
            b"require" => HeaderName::Require,
            b"proxy-require" => HeaderName::ProxyRequire,
            b"unsupported" => HeaderName::Unsupported,
            b"allow" => HeaderName::Allow,
            b"u" | b"allow-events" => HeaderName::AllowEvents,
            b"accept" => HeaderName::Accept,
            b"a" | b"accept-contact" => HeaderName::AcceptContact,
            b"j" | b"reject-contact" => HeaderName::RejectContact,
            b"expires" => HeaderName::Expires,
            b"min-expires" => HeaderName::MinExpires,
            b"x" | b"session-expires" => HeaderName::SessionExpires,
            b"min-se" => HeaderName::MinSe,
            b"authorization" => HeaderName::Authorization,
            b"www-authenticate" => HeaderName::WwwAuthenticate,
            b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
            b"proxy-authorization" => HeaderName::ProxyAuthorization,
            b"p-asserted-identity" => HeaderName::PAssertedIdentity,
            b"p-preferred-identity" => HeaderName::PPreferredIdentity,
            b"privacy" => HeaderName::Privacy,
            b"remote-party-id" => HeaderName::RemotePartyId,
            b"diversion" => HeaderName::Diversion,
            b"reason" => HeaderName::Reason,
            b"retry-after" => HeaderName::RetryAfter,
            b"date" => HeaderName::Date,
            b"timestamp" => HeaderName::Timestamp,
            b"s" | b"subject" => HeaderName::Subject,
            b"o" | b"event" => HeaderName::Event,
            b"r" | b"refer-to" => HeaderName::ReferTo,
            b"b" | b"referred-by" => HeaderName::ReferredBy,
            b"y" | b"identity" => HeaderName::Identity,
            b"rseq" => HeaderName::RSeq,
            b"rack" => HeaderName::RAck,
            b"user-agent" => HeaderName::UserAgent,
            b"server" => HeaderName::Server,
            b"warning" => HeaderName::Warning,
            _ => HeaderName::Other,
        }
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
