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
use crate::decision::{Prefix, RateMatch};
use crate::trie::{DigitTrie, Match, NO_MATCHES, Slot};
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
    name: Arc<str>,
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
    pub(crate) fn build(tables: &[RateTable]) -> Result<RateIndex, CompileError> {
        let total: usize = tables.iter().map(|t| t.rates.len()).sum();
        // (prefix key, table, effective_from, rate index): sorting plain integers is several
        // times faster than sorting strings.
        let mut rows: Vec<(u128, u32, i64, u32)> = Vec::with_capacity(total);
        for (ti, t) in tables.iter().enumerate() {
            let table = u32::try_from(ti).map_err(|_| too_large("rate tables"))?;
            for (ri, r) in t.rates.iter().enumerate() {
                let key =
                    prefix_key(r.prefix.as_bytes()).ok_or_else(|| CompileError::BadPrefix {
                        table: t.name.clone(),
                        prefix: r.prefix.clone(),
                    })?;
                let ri = u32::try_from(ri).map_err(|_| too_large(&t.name))?;
                rows.push((key, table, r.effective_from.unwrap_or(i64::MIN), ri));
            }
        }
        rows.sort_unstable();

        let mut entries = Vec::with_capacity(rows.len());
        let mut terms: Vec<RateTerms> = Vec::new();
        let mut term_ids: HashMap<RateTerms, u32> = HashMap::new();
        let mut areas: Vec<Arc<str>> = vec![Arc::from("")];
        let mut area_ids: HashMap<&str, u32> = HashMap::new();
        let mut slots: Vec<(&[u8], Slot)> = Vec::new();
        let mut last_key = None;
        let mut last_pair = None;
        let mut table_prefixes = 0;
        for &(key, table, _, ri) in &rows {
            let Some(t) = tables.get(table as usize) else {
                continue;
            };
            let Some(r) = t.rates.get(ri as usize) else {
                continue;
            };
            let term = RateTerms {
                connect_fee: r.connect_fee,
                from: r.effective_from.unwrap_or(i64::MIN),
                until: r.effective_until.unwrap_or(i64::MAX),
                first: r.first_increment_secs,
                next: r.next_increment_secs,
            };
            let term_id = match terms.last() {
                // Neighbouring rows usually share terms: skip the hash.
                Some(last) if *last == term => (terms.len() - 1) as u32,
                _ => match term_ids.get(&term) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(terms.len()).map_err(|_| too_large("rate terms"))?;
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
            let at = u32::try_from(entries.len()).map_err(|_| too_large("rates"))?;
            entries.push(RateEntry {
                price: r.price,
                table,
                area,
                terms: term_id,
            });
            if last_pair != Some((key, table)) {
                table_prefixes += 1;
                last_pair = Some((key, table));
            }
            if last_key == Some(key) {
                if let Some((_, slot)) = slots.last_mut() {
                    slot.count = slot
                        .count
                        .checked_add(1)
                        .ok_or_else(|| too_large(&format!("rates for prefix {:?}", r.prefix)))?;
                }
            } else {
                slots.push((
                    r.prefix.as_bytes(),
                    Slot {
                        value: at,
                        count: 1,
                    },
                ));
                last_key = Some(key);
            }
        }
        let trie = DigitTrie::build(&slots, "rate tables")?;
        drop(slots);
        drop(rows);
        entries.shrink_to_fit();
        Ok(RateIndex {
            trie,
            entries,
            terms,
            areas,
            tables: tables
                .iter()
                .map(|t| TableMeta {
                    name: Arc::from(t.name.as_str()),
                    currency: t.currency,
                })
                .collect(),
            table_prefixes,
        })
    }

    /// Every rate prefix of `digits`, longest first; pass the result to [`RateIndex::resolve`]
    /// for as many tables as needed.
    pub(crate) fn path(&self, digits: &[u8], out: &mut [Match; crate::trie::MAX_MATCHES]) -> usize {
        self.trie.matches_longest_first(digits, out)
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
                    return self.rate_match(e, m.len, digits);
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
    pub(crate) fn resolve_each(
        &self,
        wanted: &[(u32, usize)],
        path: &[Match],
        digits: &[u8],
        now: i64,
        mut found: impl FnMut(usize, RateMatch),
    ) {
        let mut done = vec![false; wanted.len()];
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
            let (mut a, mut b) = (0, 0);
            while let (Some(e), Some(&(table, _))) = (run.get(a), wanted.get(b)) {
                match e.table.cmp(&table) {
                    std::cmp::Ordering::Less => a += 1,
                    std::cmp::Ordering::Greater => b += 1,
                    std::cmp::Ordering::Equal => {
                        let same = run[a..].iter().take_while(|x| x.table == table).count();
                        let in_force = run[a..a + same].iter().find(|x| {
                            self.terms
                                .get(x.terms as usize)
                                .is_some_and(|t| t.from <= now && now < t.until)
                        });
                        while let Some(&(t, index)) = wanted.get(b)
                            && t == table
                        {
                            if let (Some(e), Some(d)) = (in_force, done.get_mut(b))
                                && !*d
                                && let Some(rate) = self.rate_match(e, m.len, digits)
                            {
                                *d = true;
                                open -= 1;
                                found(index, rate);
                            }
                            b += 1;
                        }
                        a += same;
                    }
                }
            }
        }
    }

    fn rate_match(&self, e: &RateEntry, len: u8, digits: &[u8]) -> Option<RateMatch> {
        let terms = self.terms.get(e.terms as usize)?;
        let meta = self.tables.get(e.table as usize)?;
        Some(RateMatch {
            rate_table: meta.name.clone(),
            currency: meta.currency,
            prefix: Prefix::of(digits, len),
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
            + self.tables.iter().map(|t| arc_str(&t.name)).sum::<usize>()
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
