//! The SIP transaction layer (RFC 3261 §17 with RFC 6026), sans-IO.
//!
//! ```text
//!   handle_receive(now, peer, bytes) ─┐                     ┌─► Output::Transmit  (send these bytes)
//!   handle_timeout(now)               ├─► Endpoint ──────────┼─► Output::Event     (request, response, timeout…)
//!   send_request / send_response ─────┘   4 state machines   └─► Output::Timeout   (call handle_timeout then)
//!                                          one TimerTable
//! ```
//!
//! The endpoint never reads a clock or a socket: time comes in as `now`, bytes in and out as
//! values. After any `handle_*` or `send_*` call, drain [`Endpoint::poll_output`] until it
//! returns [`Output::Timeout`], then call [`Endpoint::handle_timeout`] at that instant. The
//! same code therefore runs under tokio in the server and under a virtual clock in tests.
//!
//! Transactions are matched by the RFC 3261 branch (with sent-by and method) or, for RFC 2543
//! peers, by Request-URI, tags, Call-ID, CSeq and top Via. ACKs for non-2xx finals are absorbed;
//! ACKs for 2xx and 2xx retransmissions after the client transaction ended are passed up for
//! the dialog layer. Retransmitted requests re-send the last response. A request merged back to
//! us (same From tag, Call-ID, CSeq, no To tag) is answered 482.

mod config;
mod endpoint;
mod key;
mod timer;

pub use config::Config;
pub use endpoint::{
    CancelOutcome, Endpoint, Event, Output, Peer, Transmit, Transport, TxError, TxId, TxState,
};
pub use timer::Timer;
