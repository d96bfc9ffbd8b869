//! One table of deadlines for every transaction timer (RFC 3261 §17, Table 4; RFC 6026 L, M).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The RFC 3261 transaction timers, plus RFC 6026's L and M.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// INVITE request retransmit (client, UDP).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client, UDP).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmit (server, UDP).
    G,
    /// Wait time for ACK receipt (server INVITE).
    H,
    /// Wait time for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait time for request retransmits (server non-INVITE).
    J,
    /// Wait time for response retransmits (client non-INVITE).
    K,
    /// Wait time for INVITE retransmits after a 2xx (server, RFC 6026).
    L,
    /// Wait time for 2xx retransmits (client, RFC 6026).
    M,
}

pub(crate) const TIMER_COUNT: usize = 12;

impl Timer {
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Deadlines ordered by time. Entries are not removed when a timer is reset or cancelled: each
/// transaction keeps its live deadlines and stale heap entries are skipped when popped.
#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
}

impl TimerTable {
    pub(crate) fn push(&mut self, at: Instant, tx: u64, timer: Timer) {
        self.heap.push(Reverse((at, tx, timer)));
    }

    /// The earliest entry (possibly stale).
    pub(crate) fn peek(&self) -> Option<(Instant, u64, Timer)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    /// Removes and returns the earliest entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops the earliest entry (used to discard a stale one).
    pub(crate) fn pop(&mut self) {
        self.heap.pop();
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
