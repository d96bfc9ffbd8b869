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

/// The live deadlines of one transaction. No machine runs more than two timers at once (A and
/// B, E and F, G and H; a state change stops the old ones before it starts new ones).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deadlines([Option<(Timer, Instant)>; 2]);

impl Deadlines {
    /// The deadline of `timer`, when it runs.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0
            .iter()
            .flatten()
            .find(|(t, _)| *t == timer)
            .map(|(_, at)| *at)
    }

    /// Starts (or restarts) `timer`.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        let slot = self
            .0
            .iter()
            .position(|s| s.is_some_and(|(t, _)| t == timer))
            .or_else(|| self.0.iter().position(Option::is_none));
        debug_assert!(slot.is_some(), "more than two timers at once: {self:?}");
        self.0[slot.unwrap_or(0)] = Some((timer, at));
    }

    /// Stops `timer`.
    pub(crate) fn clear(&mut self, timer: Timer) {
        for s in &mut self.0 {
            if s.is_some_and(|(t, _)| t == timer) {
                *s = None;
            }
        }
    }
}

/// Deadlines ordered by time. Entries are not removed when a timer is reset or cancelled: each
/// transaction keeps its live deadlines and stale heap entries are skipped when popped.
#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    /// Length at which stale entries are next dropped: twice what the last pass kept.
    compact_at: usize,
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

    /// Drops stale entries when they outnumber the live ones (`live` of them at most) by far:
    /// timers stopped early (Timer B after an answer, say) would otherwise stay until their
    /// deadline.
    pub(crate) fn compact_if_sparse(
        &mut self,
        live: usize,
        mut is_live: impl FnMut(Instant, u64, Timer) -> bool,
    ) {
        // Each pass keeps at most half the entries, so passes cost O(1) per push; `live`
        // bounds how far apart they may be.
        if self.heap.len() <= self.compact_at.max(1024).min(4 * live + 1024) {
            return;
        }
        let entries = std::mem::take(&mut self.heap).into_vec();
        let kept: Vec<_> = entries
            .into_iter()
            .filter(|Reverse((at, id, t))| is_live(*at, *id, *t))
            .collect();
        self.compact_at = 2 * kept.len();
        self.heap = BinaryHeap::from(kept);
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
