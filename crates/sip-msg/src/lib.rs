//! SIP messages: parse, read, build and print (RFC 3261 §7, §20, §25).
//!
//! ```text
//!  datagram ──► Message::parse ──► Message { start line, [Header spans], body span } over Bytes
//!  TCP bytes ─► StreamFramer::push / next ──┘            │ typed views parsed on demand:
//!                                                         │ Via, NameAddr, Uri, CSeq, Params …
//!  MessageBuilder / response_to ──► Bytes (ready to send)  ◄┘
//! ```
//!
//! Parsing is zero-copy: a [`Message`] keeps the received `Bytes` and a vector of spans, one per
//! header, so unknown headers and the body stay byte-exact and no header is allocated. The core
//! headers a transaction layer depends on (the top Via, Call-ID, CSeq, Max-Forwards,
//! Content-Length, the structure and tags of From and To) and the ones RFC 4475 shows must be
//! checked (the structure of Contact and Route, Expires, Date, Content-Type) are validated while
//! parsing; everything else, URIs in From/To/Contact/Route included, is parsed when read.
//!
//! A malformed message yields a [`ParseError`] naming the fault; [`ParseError::verdict`] says
//! whether a server answers it (400 with a reason phrase naming the fault, 505, 513) or drops it,
//! and [`reject_response`] builds that answer from whatever could be read.

mod auth;
mod builder;
mod error;
mod header;
mod message;
mod params;
mod scan;
mod stream;
mod typed;
mod uri;

pub use auth::{
    Algorithm, Challenge, Credentials, DigestError, compute_response, verify as verify_digest,
};
pub use builder::{MessageBuilder, reject_response, response_to};
pub use error::{ParseError, Verdict};
pub use header::HeaderName;
pub use message::{DEFAULT_MAX_MESSAGE_SIZE, HeaderRef, Message, Method, ParseOptions};
pub use params::Params;
pub use stream::{Frame, StreamFramer};
pub use typed::{CSeq, ContactValue, NameAddr, Reason, SessionExpires, Via, delta_seconds, tokens};
pub use uri::{Host, Scheme, Uri, UriError};
