//! The call engine: a B2BUA over the sans-IO transaction layer.
//!
//! ```text
//!  customer ──INVITE──► leg A (server INVITE tx) ─┐            ┌─► leg B attempt 1 ──► vendor 1
//!                                                 ├─► Call ────┤      (fails: next_after)
//!  ◄── 100/18x/200/final ──────────────────────────┘  (routing   └─► leg B attempt 2 ──► vendor 2
//!                                                      decision)
//! ```
//!
//! [`B2bua`] is the transaction user of an [`Endpoint`]: feed it every endpoint event with
//! [`B2bua::handle_event`], call [`B2bua::handle_timeout`] at [`B2bua::poll_timeout`], and read
//! finished calls from [`B2bua::poll_call_event`]. It never reads a clock: `now` comes in, and
//! wall-clock seconds (for rate effective dates and time rules) are derived from the epoch in
//! [`Config`]. Each leg B is a new dialog (own Call-ID, tags, CSeq, Via and Contact): nothing of
//! one side's Via, Contact or Record-Route reaches the other.

mod billing;
mod call;
mod counters;
mod engine;

pub use billing::{Billing, Ledger};
pub use counters::{Counters, Kind as CounterKind};
pub use engine::{B2bua, CallEnd, CallEvent, CallInfo, Config, Deferred, EndedBy, Resolved};
