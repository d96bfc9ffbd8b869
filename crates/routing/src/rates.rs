//! Every rate table of a snapshot in one index.
//!
//! One digit trie holds the union of all prefixes of all rate tables (customer and vendor);
//! each prefix's slot is a run of [`RateEntry`] sorted by table, then by `effective_from`. A
//! call walks the trie **once** for its callee and then reads the customer price and every
//! candidate's vendor cost from the entries found on that one path: least-cost routing over
//! 200 vendor decks costs one trie walk, not 200. An entry is 24 bytes and carries the price
//! itself; the billing terms (increments, connect fee, effective period), area names and table
//! names are shared.

use crate::CompileError;
use crate::decision::{Prefix, RateMatch, SmallStr};
use crate::trie::{DigitTrie, Match, NO_MATCHES, Slot};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::Arc;
use tollswitch_model::provisioning::{MAX_PREFIX_DIGITS, RateTable};
use tollswitch_model::{Currency, Money};

/// A prefix packed into one integer whose order is the prefix's lexicographic order: digit
/// `d` is the nibble `d + 1`, most significant first, shorter prefixes padded with zero
/// nibbles (so `"4" < "40" < "41" < "5"`). 32 digits fill the 128 bits exactly.
pub(crate) fn prefix_key(p: &[u8]) -> Option<u128> {
    if p.len() > MAX_PREFIX_DIGITS {
        return None;
    }
    let mut key = 0u128;
    for (i, &b) in p.iter().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        key |= u128::from(b - b'0' + 1) << (124 - 4 * i);
    }
    Some(key)
}

/// A rate found for one table, before it is turned into a [`RateMatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHit {
    /// Index into the entries.
    entry: u32,
    /// Length of the matched prefix.
    len: u8,
    /// The price (what candidate ordering needs).
    pub(crate) price: Money,
}

/// `len` copies of `value`: filled as one array while they fit inline (`smallvec!` pushes them
/// one by one).
#[inline]
pub(crate) fn filled<T: Copy, const N: usize>(value: T, len: usize) -> SmallVec<[T; N]>
where
    [T; N]: smallvec::Array<Item = T>,
{
    if len <= N {
        let mut v = SmallVec::from_buf([value; N]);
        v.truncate(len);
        v
    } else {
        SmallVec::from_vec(vec![value; len])
    }
}

/// One rate while the index is built.
struct Row {
    key: u128,
    table: u32,
    from: i64,
    ri: u32,
    entry: RateEntry,
}

/// The digits behind a [`prefix_key`].
pub(crate) fn key_digits(key: u128) -> String {
    (0..MAX_PREFIX_DIGITS)
        .map(|i| ((key >> (124 - 4 * i)) & 0xF) as u8)
        .take_while(|&n| n != 0)
        .map(|n| char::from(b'0' + n - 1))
        .collect()
}

/// FxHash (rustc's hasher): the build hashes a million short area names and a few terms;
/// SipHash's flooding protection buys nothing for operator-provisioned data.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// Most rate entries of one prefix's run that [`RateIndex::path`] reads ahead.
const TOUCH_MAX: usize = 16;

/// One price of one table for one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RateEntry {
    price: Money,
    table: u32,
    area: u32,
    terms: u32,
}

/// Billing terms shared by many rates (most decks have a handful of distinct combinations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RateTerms {
    connect_fee: Money,
    from: i64,
    until: i64,
    first: u32,
    next: u32,
}

#[derive(Debug, Clone)]
struct TableMeta {
    name: SmallStr,
    currency: Currency,
}

/// All rate tables, indexed together (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct RateIndex {
    trie: DigitTrie,
    entries: Vec<RateEntry>,
    terms: Vec<RateTerms>,
    areas: Vec<Arc<str>>,
    tables: Vec<TableMeta>,
    table_prefixes: usize,
}

fn too_large(what: &str) -> CompileError {
    CompileError::TooLarge {
        what: what.to_owned(),
    }
}

impl RateIndex {
    /// Indexes `tables`; table `i` of the slice is table id `i`.
    ///
    /// One sequential pass reads every rate once and keeps what the index needs in a small
    /// row (terms and area names deduplicated on the way); the rows are then sorted and the
    /// trie is built from the packed keys, so nothing after the first pass goes back to the
    /// provisioning's strings (random reads over hundreds of megabytes on a big deck).
    pub(crate) fn build(tables: &[RateTable]) -> Result<RateIndex, CompileError> {
        let total: usize = tables.iter().map(|t| t.rates.len()).sum();
        let mut rows: Vec<Row> = Vec::with_capacity(total);
        let mut terms: Vec<RateTerms> = Vec::new();
        let mut term_ids: HashMap<RateTerms, u32, FxBuild> = HashMap::default();
        let mut areas: Vec<Arc<str>> = vec![Arc::from("")];
        let mut area_ids: HashMap<&str, u32, FxBuild> = HashMap::default();
        for (ti, t) in tables.iter().enumerate() {
            let table = u32::try_from(ti).map_err(|_| too_large("rate tables"))?;
            for (ri, r) in t.rates.iter().enumerate() {
                let key =
                    prefix_key(r.prefix.as_bytes()).ok_or_else(|| CompileError::BadPrefix {
                        table: t.name.clone(),
                        prefix: r.prefix.clone(),
                    })?;
                let ri = u32::try_from(ri).map_err(|_| too_large(&t.name))?;
                let term = RateTerms {
                    connect_fee: r.connect_fee,
                    from: r.effective_from.unwrap_or(i64::MIN),
                    until: r.effective_until.unwrap_or(i64::MAX),
                    first: r.first_increment_secs,
                    next: r.next_increment_secs,
                };
                let term_id = match terms.last() {
                    // Neighbouring rates usually share terms: skip the hash.
                    Some(last) if *last == term => (terms.len() - 1) as u32,
                    _ => match term_ids.get(&term) {
                        Some(&id) => id,
                        None => {
                            let id =
                                u32::try_from(terms.len()).map_err(|_| too_large("rate terms"))?;
                            terms.push(term);
                            term_ids.insert(term, id);
                            id
                        }
                    },
                };
                // Vendor decks rarely name areas: the empty name is area 0, without hashing.
                let area = if r.area.is_empty() {
                    0
                } else if let Some(&id) = area_ids.get(r.area.as_str()) {
                    id
                } else {
                    let id = u32::try_from(areas.len()).map_err(|_| too_large("area names"))?;
                    areas.push(Arc::from(r.area.as_str()));
                    area_ids.insert(r.area.as_str(), id);
                    id
                };
                rows.push(Row {
                    key,
                    table,
                    from: term.from,
                    ri,
                    entry: RateEntry {
                        price: r.price,
                        table,
                        area,
                        terms: term_id,
                    },
                });
            }
        }
        drop(term_ids);
        drop(area_ids);
        // (prefix key, table, effective_from, position in the table): plain integers sort
        // several times faster than strings.
        rows.sort_unstable_by(|a, b| {
            (a.key, a.table, a.from, a.ri).cmp(&(b.key, b.table, b.from, b.ri))
        });

        let mut entries = Vec::with_capacity(rows.len());
        let mut slots: Vec<(u128, Slot)> = Vec::new();
        let mut last_pair = None;
        let mut table_prefixes = 0;
        for row in &rows {
            let at = u32::try_from(entries.len()).map_err(|_| too_large("rates"))?;
            entries.push(row.entry);
            if last_pair != Some((row.key, row.table)) {
                table_prefixes += 1;
                last_pair = Some((row.key, row.table));
            }
            match slots.last_mut() {
                Some((key, slot)) if *key == row.key => {
                    slot.count = slot.count.checked_add(1).ok_or_else(|| {
                        too_large(&format!("rates for prefix {:?}", key_digits(row.key)))
                    })?;
                }
                _ => slots.push((
                    row.key,
                    Slot {
                        value: at,
                        count: 1,
                    },
                )),
            }
        }
        drop(rows);
        let trie = DigitTrie::build_keyed(&slots, "rate tables")?;
        drop(slots);
        entries.shrink_to_fit();
        Ok(RateIndex {
            trie,
            entries,
            terms,
            areas,
            tables: tables
                .iter()
                .map(|t| TableMeta {
                    name: SmallStr::new(&t.name),
                    currency: t.currency,
                })
                .collect(),
            table_prefixes,
        })
    }

    /// Every rate prefix of `digits`, longest first; pass the result to [`RateIndex::resolve`]
    /// for as many tables as needed.
    ///
    /// The trie walk is a chain of dependent loads; the cache lines of each prefix's run
    /// (the first [`TOUCH_MAX`] entries) are read as soon as the prefix is found, so those
    /// (independent) cache misses overlap the rest of the walk instead of adding up one by one
    /// in the resolves that follow.
    pub(crate) fn path(&self, digits: &[u8], out: &mut [Match; crate::trie::MAX_MATCHES]) -> usize {
        let mut n = 0;
        let mut touched = 0u32;
        self.trie.for_each_match(digits, |m| {
            // Every second 24-byte entry is 48 bytes on, so these reads reach each 64-byte
            // line of the run (bar, at most, the one holding only its last entry); bounded,
            // for the short prefixes that many decks share (long runs, and hot in cache).
            let start = m.slot.value as usize;
            let end = start + usize::from(m.slot.count).min(TOUCH_MAX);
            for e in self
                .entries
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .step_by(2)
            {
                touched ^= e.table;
            }
            if let Some(slot) = out.get_mut(n) {
                *slot = m;
                n += 1;
            }
        });
        std::hint::black_box(touched);
        out[..n].reverse();
        n
    }

    /// The rate of `table` for `digits` at `now`: the longest prefix on `path` (from
    /// [`RateIndex::path`] for the same digits) with a version of that table in force.
    pub(crate) fn resolve(
        &self,
        table: u32,
        path: &[Match],
        digits: &[u8],
        now: i64,
    ) -> Option<RateMatch> {
        for m in path {
            let start = m.slot.value as usize;
            let end = start + usize::from(m.slot.count);
            let Some(run) = self.entries.get(start..end) else {
                continue;
            };
            let first = run.partition_point(|e| e.table < table);
            for e in run.get(first..).unwrap_or_default() {
                if e.table != table {
                    break;
                }
                let Some(terms) = self.terms.get(e.terms as usize) else {
                    continue;
                };
                if terms.from <= now && now < terms.until {
                    return self.rate_match(e, Prefix::of(digits, m.len));
                }
            }
        }
        None
    }

    fn area(&self, id: u32) -> Option<Arc<str>> {
        // Area 0 is the empty name: no reference count to take.
        if id == 0 {
            None
        } else {
            self.areas.get(id as usize).cloned()
        }
    }

    /// Resolves many tables over one `path` at once. `wanted` is `(table, caller's index)`
    /// **sorted by table**; `found(index, rate)` is called at most once per index, with the
    /// longest prefix of that table in force. Each node's entries are sorted by table too, so
    /// every node costs one merge of two short sorted lists.
    #[cfg(test)]
    pub(crate) fn resolve_each(
        &self,
        wanted: &[(u32, usize)],
        path: &[Match],
        digits: &[u8],
        now: i64,
        mut found: impl FnMut(usize, RateMatch),
    ) {
        self.resolve_each_hit(wanted, path, now, |i, hit| {
            if let Some(rate) = self.rate_match_hit(hit, &Prefix::of(digits, u8::MAX)) {
                found(i, rate);
            }
        });
    }

    /// [`RateIndex::resolve_each`] without building the [`RateMatch`]es, and with `wanted` in
    /// any order: `found(index, hit)`
    /// gets a small handle (entry, prefix length, price) that
    /// [`RateIndex::rate_match_hit`] turns into the full match when it is needed. Every hit
    /// handed out resolves.
    pub(crate) fn resolve_each_hit(
        &self,
        wanted: &[(u32, usize)],
        path: &[Match],
        now: i64,
        mut found: impl FnMut(usize, RateHit),
    ) {
        const NONE: u32 = u32::MAX;
        // Table → first position in `wanted`, and position → next position with the same
        // table (a list per table), so each entry on the path costs one lookup instead of a
        // merge, and `wanted` need not be sorted.
        let mut first: SmallVec<[u32; 256]> = filled(NONE, self.tables.len());
        let mut next: SmallVec<[u32; 64]> = filled(NONE, wanted.len());
        for (k, &(table, _)) in wanted.iter().enumerate().rev() {
            if let (Some(f), Some(n)) = (first.get_mut(table as usize), next.get_mut(k)) {
                *n = *f;
                *f = k as u32;
            }
        }
        let mut done: SmallVec<[bool; 64]> = filled(false, wanted.len());
        let mut open = wanted.len();
        for m in path {
            if open == 0 {
                break;
            }
            let start = m.slot.value as usize;
            let end = start + usize::from(m.slot.count);
            let Some(run) = self.entries.get(start..end) else {
                continue;
            };
            // Entries of one table are sorted by `effective_from`: the first in force wins,
            // and the tables it serves are done for every shorter prefix.
            for (k, e) in run.iter().enumerate() {
                let Some(&f) = first.get(e.table as usize) else {
                    continue;
                };
                if f == NONE || done.get(f as usize).is_none_or(|d| *d) {
                    continue;
                }
                if !self
                    .terms
                    .get(e.terms as usize)
                    .is_some_and(|t| t.from <= now && now < t.until)
                {
                    continue;
                }
                let mut b = f;
                while let Some(&(_, index)) = wanted.get(b as usize) {
                    if let Some(d) = done.get_mut(b as usize) {
                        *d = true;
                    }
                    open -= 1;
                    found(
                        index,
                        RateHit {
                            entry: (start + k) as u32,
                            len: m.len,
                            price: e.price,
                        },
                    );
                    b = next.get(b as usize).copied().unwrap_or(NONE);
                }
            }
        }
    }

    /// The full match behind a hit from [`RateIndex::resolve_each_hit`]; `number` holds the
    /// digits looked up (as a [`Prefix`] of all of them).
    #[inline]
    pub(crate) fn rate_match_hit(&self, hit: RateHit, number: &Prefix) -> Option<RateMatch> {
        let e = self.entries.get(hit.entry as usize)?;
        self.rate_match(e, number.truncated(hit.len))
    }

    #[inline]
    fn rate_match(&self, e: &RateEntry, prefix: Prefix) -> Option<RateMatch> {
        let terms = self.terms.get(e.terms as usize)?;
        let meta = self.tables.get(e.table as usize)?;
        Some(RateMatch {
            rate_table: meta.name.clone(),
            currency: meta.currency,
            prefix,
            area: self.area(e.area),
            price: e.price,
            first_increment_secs: terms.first,
            next_increment_secs: terms.next,
            connect_fee: terms.connect_fee,
            effective_from: (terms.from != i64::MIN).then_some(terms.from),
            effective_until: (terms.until != i64::MAX).then_some(terms.until),
        })
    }

    /// One lookup: walk and resolve.
    pub(crate) fn lookup(&self, table: u32, digits: &[u8], now: i64) -> Option<RateMatch> {
        let mut path = NO_MATCHES;
        let n = self.path(digits, &mut path);
        self.resolve(table, &path[..n], digits, now)
    }

    /// Distinct (table, prefix) pairs.
    pub(crate) fn table_prefixes(&self) -> usize {
        self.table_prefixes
    }

    /// Rate entries (a prefix with two effective periods counts twice).
    pub(crate) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Nodes of the union trie.
    pub(crate) fn node_count(&self) -> usize {
        self.trie.node_count()
    }

    /// Heap bytes: trie, entries, shared terms, area and table names.
    pub(crate) fn heap_bytes(&self) -> usize {
        let arc_str = |s: &Arc<str>| s.len() + 2 * std::mem::size_of::<usize>();
        self.trie.heap_bytes()
            + self.entries.capacity() * std::mem::size_of::<RateEntry>()
            + self.terms.capacity() * std::mem::size_of::<RateTerms>()
            + self.areas.capacity() * std::mem::size_of::<Arc<str>>()
            + self.areas.iter().map(arc_str).sum::<usize>()
            + self.tables.capacity() * std::mem::size_of::<TableMeta>()
            + self
                .tables
                .iter()
                .map(|t| {
                    if t.name.len() > 32 {
                        t.name.len() + 16
                    } else {
                        0
                    }
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tollswitch_model::provisioning::Rate;

    #[test]
    fn key_order_is_prefix_order() {
        let mut v = ["5", "41", "4", "", "40", "409", "0", "00"];
        let mut by_key = v;
        v.sort_unstable();
        by_key.sort_unstable_by_key(|p| prefix_key(p.as_bytes()).unwrap());
        assert_eq!(v, by_key);
        assert_eq!(prefix_key(b"4x"), None);
        assert!(prefix_key("9".repeat(32).as_bytes()).is_some());
        assert_eq!(prefix_key("9".repeat(33).as_bytes()), None);
    }

    fn table(name: &str, rates: &[(&str, i64)]) -> RateTable {
        RateTable {
            name: name.into(),
            currency: Currency::USD,
            rates: rates
                .iter()
                .map(|(p, price)| Rate {
                    prefix: (*p).into(),
                    area: String::new(),
                    price: Money::from_micros(*price),
                    first_increment_secs: 60,
                    next_increment_secs: 60,
                    connect_fee: Money::ZERO,
                    effective_from: None,
                    effective_until: None,
                })
                .collect(),
        }
    }

    proptest! {
        #[test]
        fn each_table_resolves_like_a_scan(
            decks in proptest::collection::vec(
                proptest::collection::btree_map("[0-9]{0,5}", 1i64..1000, 0..30), 1..8),
            numbers in proptest::collection::vec("[0-9]{0,8}", 1..20),
        ) {
            let tables: Vec<RateTable> = decks
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let rates: Vec<(&str, i64)> = d.iter().map(|(p, v)| (p.as_str(), *v)).collect();
                    table(&format!("t{i}"), &rates)
                })
                .collect();
            let index = RateIndex::build(&tables).unwrap();
            for n in &numbers {
                let wanted: Vec<(u32, usize)> = (0..decks.len()).map(|t| (t as u32, t)).collect();
                let mut path = NO_MATCHES;
                let len = index.path(n.as_bytes(), &mut path);
                let mut each = vec![None; decks.len()];
                index.resolve_each(&wanted, &path[..len], n.as_bytes(), 0, |i, r| each[i] = Some(r));
                for (ti, deck) in decks.iter().enumerate() {
                    prop_assert_eq!(&each[ti], &index.lookup(ti as u32, n.as_bytes(), 0));
                    let want = deck
                        .iter()
                        .filter(|(p, _)| n.starts_with(p.as_str()))
                        .max_by_key(|(p, _)| p.len())
                        .map(|(p, v)| (p.clone(), *v));
                    let got = index
                        .lookup(ti as u32, n.as_bytes(), 0)
                        .map(|r| (r.prefix.to_string(), r.price.micros()));
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
