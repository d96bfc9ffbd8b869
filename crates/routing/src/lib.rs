//! Pure routing engine (SPEC §2 steps 1–5, §3, §4 rate lookup).
//!
//! How it is driven:
//!
//! ```text
//!  Provisioning (TOML / database rows)
//!        │ RoutingSnapshot::compile          off the hot path; validates, compiles regexes,
//!        ▼                                   builds digit tries and source indexes
//!  Arc<RoutingSnapshot>  ── swapped atomically on change; calls keep the one they started with
//!        │
//!        │ route(&snapshot, &CallRequest, &counters, now) ──► RouteDecision
//!        │      (mapping gateway, account, numbers, customer rate, ordered candidates,
//!        │       every skipped gateway with its reason — or a Reject with its SIP code)
//!        ▼
//!  b2bua tries candidates[0]; on a final failure code:
//!        next_after(&decision, attempt, code) ──► Next::Continue(i) | Next::Stop(code)
//! ```
//!
//! Nothing here does I/O, spawns threads, reads the clock or draws randomness: `now` (unix seconds)
//! and the live counters ([`LiveCounters`]) are parameters, so every decision is a pure
//! function of its inputs and is tested as a table.
//!
//! Prefix lookups use a compact digit trie ([`trie::DigitTrie`], 12-byte nodes, children by
//! bitmap + popcount). All rate tables share one such trie whose prefixes point at runs of
//! 24-byte rate entries sorted by table, so one walk of the callee yields the customer price
//! and every vendor's cost.
//!
//! Priority numbers follow VOS3000: **the smaller number is tried first** ("the gateway will be
//! chosen according to following numbers (the smallest comes first): priority number, the
//! ratio of current calls to channels, …"). Time rules use fixed UTC offsets (see
//! [`tollswitch_model::provisioning::UtcOffset`]).

mod counters;
mod decision;
mod rates;
mod route;
mod snapshot;
mod time;
mod transform;
pub mod trie;

pub use counters::{IdleCounters, LiveCounters, MemoryCounters};
pub use decision::{
    ADDRESS_INCOMPLETE, Candidate, Explain, ExplainCandidate, ExplainRate, ExplainReject,
    GatewayProfile, MAX_PREFIX_LEN, Named, PAYMENT_REQUIRED, Prefix, RateMatch, Reject,
    RejectReason, RouteDecision, SkipReason, Skipped, SmallStr,
};
pub use route::{CallRequest, Next, next_after, route};
pub use snapshot::{RoutingSnapshot, SnapshotStats};
pub use transform::TransformStep;

use tollswitch_model::provisioning::ProvisioningError;

/// Why a provisioning set could not be compiled into a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// Validation failed; every problem is listed.
    #[error("provisioning is invalid ({} problem(s)): {}", .0.len(), first_problems(.0))]
    Invalid(Vec<ProvisioningError>),
    /// A regular-expression rule does not compile.
    #[error("{owner}: {field}: regular expression does not compile: {message}")]
    Regex {
        /// The gateway.
        owner: String,
        /// The rule, e.g. `callee_rules[2]`.
        field: String,
        /// The regex crate's explanation.
        message: String,
    },
    /// A name could not be resolved (only possible if validation was bypassed).
    #[error("{owner}: refers to unknown {name:?}")]
    Dangling {
        /// The referring object.
        owner: String,
        /// The missing name.
        name: String,
    },
    /// A prefix holds something other than digits.
    #[error("{table}: prefix {prefix:?} is not digits")]
    BadPrefix {
        /// The table.
        table: String,
        /// The prefix.
        prefix: String,
    },
    /// A prefix appears twice where it must be unique (or the input was not sorted).
    #[error("{table}: prefix {prefix:?} appears twice")]
    DuplicatePrefix {
        /// The table.
        table: String,
        /// The prefix.
        prefix: String,
    },
    /// More entries than the compact indexes can address (2³² nodes, 65 535 versions of one
    /// prefix or gateways on one prefix).
    #[error("{what}: too large to index")]
    TooLarge {
        /// What overflowed.
        what: String,
    },
}

fn first_problems(errors: &[ProvisioningError]) -> String {
    let mut s = errors
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > 5 {
        s.push_str("; …");
    }
    s
}

#[cfg(test)]
mod tests;
