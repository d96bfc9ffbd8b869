//! What can be wrong with a message, and what a server does about it.

use thiserror::Error;

/// Why a message was rejected. Each variant says exactly what is malformed; [`ParseError::verdict`]
/// says what a server answers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing but whitespace (a keep-alive), or no bytes.
    #[error("empty message")]
    Empty,
    /// Larger than the configured maximum.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The configured maximum.
        limit: usize,
    },
    /// The header section has no terminating empty line.
    #[error("header section not terminated by an empty line")]
    Unterminated,
    /// The first line is neither a request line nor a status line.
    #[error("start line: {0}")]
    StartLine(&'static str),
    /// A request with a SIP version other than 2.0 (answered with 505).
    #[error("unsupported SIP version")]
    Version,
    /// The status code is not three digits from 100 to 699.
    #[error("invalid status code")]
    StatusCode,
    /// The Request-URI is malformed.
    #[error("Request-URI: {0}")]
    RequestUri(&'static str),
    /// A header line without a valid name and colon.
    #[error("malformed header line {line}")]
    HeaderLine {
        /// 1-based line number within the message.
        line: usize,
    },
    /// A required header is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header that may appear once appears more than once.
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    /// A header's value is malformed.
    #[error("{name} header: {fault}")]
    Header {
        /// The header's canonical name.
        name: &'static str,
        /// What is wrong.
        fault: &'static str,
    },
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethod,
    /// Content-Length promises more bytes than the datagram holds.
    #[error("Content-Length larger than the message body")]
    BodyTruncated,
}

/// What a server does with a message it could not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer with this status code and reason phrase (requests only).
    Respond(u16, &'static str),
    /// Discard silently: no response is possible or allowed (responses, garbage, keep-alives).
    Drop,
}

impl ParseError {
    /// What a server must do with a message that failed with this error, given whether the start
    /// line was a request line. Responses are never answered (RFC 3261 §18.1.2).
    pub fn verdict(&self, is_request: bool) -> Verdict {
        if !is_request {
            return Verdict::Drop;
        }
        match self {
            ParseError::Empty | ParseError::StartLine(_) | ParseError::StatusCode => Verdict::Drop,
            ParseError::TooLarge { .. } => Verdict::Respond(513, "Message Too Large"),
            ParseError::Version => Verdict::Respond(505, "Version Not Supported"),
            ParseError::Unterminated => Verdict::Respond(400, "Unterminated Header Section"),
            ParseError::RequestUri(_) => Verdict::Respond(400, "Bad Request-URI"),
            ParseError::HeaderLine { .. } => Verdict::Respond(400, "Malformed Header Line"),
            ParseError::Missing(name) => Verdict::Respond(400, missing_reason(name)),
            ParseError::Duplicate(name) => Verdict::Respond(400, duplicate_reason(name)),
            ParseError::Header { name, .. } => Verdict::Respond(400, invalid_reason(name)),
            ParseError::CSeqMethod => Verdict::Respond(400, "CSeq Method Mismatch"),
            ParseError::BodyTruncated => Verdict::Respond(400, "Bad Content-Length"),
        }
    }
}

fn missing_reason(name: &str) -> &'static str {
    match name {
        "Via" => "Missing Via",
        "From" => "Missing From",
        "To" => "Missing To",
        "Call-ID" => "Missing Call-ID",
        "CSeq" => "Missing CSeq",
        _ => "Missing Required Header",
    }
}

fn duplicate_reason(name: &str) -> &'static str {
    match name {
        "Content-Length" => "Multiple Content-Length",
        "Call-ID" => "Multiple Call-ID",
        "CSeq" => "Multiple CSeq",
        "From" => "Multiple From",
        "To" => "Multiple To",
        "Max-Forwards" => "Multiple Max-Forwards",
        _ => "Duplicate Header",
    }
}

fn invalid_reason(name: &str) -> &'static str {
    match name {
        "Via" => "Bad Via",
        "From" => "Bad From",
        "To" => "Bad To",
        "Call-ID" => "Bad Call-ID",
        "CSeq" => "Bad CSeq",
        "Max-Forwards" => "Bad Max-Forwards",
        "Content-Length" => "Bad Content-Length",
        "Contact" => "Bad Contact",
        "Expires" => "Bad Expires",
        "Date" => "Bad Date",
        "Content-Type" => "Bad Content-Type",
        "Route" => "Bad Route",
        "Record-Route" => "Bad Record-Route",
        _ => "Bad Header",
    }
}
