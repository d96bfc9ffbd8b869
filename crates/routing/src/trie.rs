//! A compact, read-only digit trie for longest-prefix match.
//!
//! Each node is 12 bytes: a 10-bit child bitmap, the index of its first child, and a payload
//! (`value`, `count`) that the owner interprets (a range of rate versions, of gateways…). The
//! children of a node are stored next to each other, so the child for digit `d` is
//! `first_child + popcount(bitmap & ((1 << d) - 1))`: no 10-slot arrays (40 bytes a node, most
//! of them empty) and no pointers. Built once from a sorted list, never mutated; a new snapshot
//! builds a new trie.

use crate::CompileError;

/// One trie node. `count == 0` means no prefix ends here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    first_child: u32,
    value: u32,
    children: u16,
    count: u16,
}

impl Node {
    const EMPTY: Node = Node {
        first_child: 0,
        value: 0,
        children: 0,
        count: 0,
    };
}

/// What a prefix maps to: `count` items starting at `value` in the owner's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// First item.
    pub value: u32,
    /// Number of items (at least 1).
    pub count: u16,
}

/// A prefix that matched: how many digits, and its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Length of the matched prefix in digits.
    pub len: u8,
    /// What the prefix maps to.
    pub slot: Slot,
}

/// Longest-prefix-match table over digit strings (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitTrie {
    nodes: Vec<Node>,
    prefixes: usize,
}

impl Default for DigitTrie {
    fn default() -> Self {
        DigitTrie {
            nodes: vec![Node::EMPTY],
            prefixes: 0,
        }
    }
}

impl DigitTrie {
    /// A trie with no prefixes and no nodes (matches nothing).
    pub const EMPTY: DigitTrie = DigitTrie {
        nodes: Vec::new(),
        prefixes: 0,
    };

    /// Builds from `(prefix digits, slot)` pairs **sorted by prefix, without duplicates**.
    /// `what` names the table in errors.
    pub fn build(entries: &[(&[u8], Slot)], what: &str) -> Result<DigitTrie, CompileError> {
        let mut nodes = vec![Node::EMPTY];
        fill(&mut nodes, 0, 0, entries, what)?;
        Ok(DigitTrie {
            nodes,
            prefixes: entries.len(),
        })
    }

    /// Builds from `(prefix key, slot)` pairs, keys packed as `rates::prefix_key` does
    /// (digit `d` at depth `i` is the nibble `d + 1` at bits `124 - 4i`, zero after the end),
    /// **sorted by key, without duplicates**. Same trie as [`DigitTrie::build`] on the same
    /// prefixes, without reading any string.
    pub(crate) fn build_keyed(
        entries: &[(u128, Slot)],
        what: &str,
    ) -> Result<DigitTrie, CompileError> {
        let mut nodes = vec![Node::EMPTY];
        fill_keyed(&mut nodes, 0, 0, entries, what)?;
        Ok(DigitTrie {
            nodes,
            prefixes: entries.len(),
        })
    }

    /// Number of prefixes stored.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// True when no prefix is stored.
    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Number of nodes (root included).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes of heap held by the nodes.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
    }

    /// Calls `f` for every stored prefix of `digits`, shortest first. Stops at the first byte
    /// that is not a digit.
    #[inline]
    pub fn for_each_match(&self, digits: &[u8], mut f: impl FnMut(Match)) {
        let mut at = 0usize;
        let Some(root) = self.nodes.first() else {
            return;
        };
        if root.count > 0 {
            f(Match {
                len: 0,
                slot: Slot {
                    value: root.value,
                    count: root.count,
                },
            });
        }
        for (i, &b) in digits.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return;
            }
            let Some(node) = self.nodes.get(at) else {
                return;
            };
            let bit = 1u16 << d;
            if node.children & bit == 0 {
                return;
            }
            at = node.first_child as usize + (node.children & (bit - 1)).count_ones() as usize;
            if let Some(n) = self.nodes.get(at)
                && n.count > 0
            {
                f(Match {
                    // Depth is bounded by the longest stored prefix (≤ 32 digits).
                    len: u8::try_from(i + 1).unwrap_or(u8::MAX),
                    slot: Slot {
                        value: n.value,
                        count: n.count,
                    },
                });
            }
        }
    }

    /// The longest stored prefix of `digits`.
    #[inline]
    pub fn longest(&self, digits: &[u8]) -> Option<Match> {
        let mut best = None;
        self.for_each_match(digits, |m| best = Some(m));
        best
    }

    /// True when some stored prefix is a prefix of `digits`.
    pub fn has_match(&self, digits: &[u8]) -> bool {
        self.longest(digits).is_some()
    }

    /// Every stored prefix of `digits`, longest first, written into `out`; returns how many.
    #[inline]
    pub fn matches_longest_first(&self, digits: &[u8], out: &mut [Match; MAX_MATCHES]) -> usize {
        let mut n = 0;
        self.for_each_match(digits, |m| {
            if let Some(slot) = out.get_mut(n) {
                *slot = m;
                n += 1;
            }
        });
        out[..n].reverse();
        n
    }
}

/// Most prefixes one number can match: the empty prefix plus one per digit.
pub const MAX_MATCHES: usize = tollswitch_model::provisioning::MAX_PREFIX_DIGITS + 1;

/// An empty match array for [`DigitTrie::matches_longest_first`].
pub const NO_MATCHES: [Match; MAX_MATCHES] = [Match {
    len: 0,
    slot: Slot { value: 0, count: 0 },
}; MAX_MATCHES];

fn fill(
    nodes: &mut Vec<Node>,
    at: usize,
    depth: usize,
    mut entries: &[(&[u8], Slot)],
    what: &str,
) -> Result<(), CompileError> {
    if let Some((prefix, slot)) = entries.first()
        && prefix.len() == depth
    {
        if let Some(n) = nodes.get_mut(at) {
            n.value = slot.value;
            n.count = slot.count;
        }
        entries = &entries[1..];
    }
    if entries.is_empty() {
        return Ok(());
    }
    let digit_at = |p: &[u8]| -> Result<u8, CompileError> {
        match p.get(depth) {
            Some(b) if b.is_ascii_digit() => Ok(b - b'0'),
            Some(_) => Err(CompileError::BadPrefix {
                table: what.to_owned(),
                prefix: String::from_utf8_lossy(p).into_owned(),
            }),
            // Shorter than depth after the node's own entry: the input repeats a prefix or
            // is unsorted.
            None => Err(CompileError::DuplicatePrefix {
                table: what.to_owned(),
                prefix: String::from_utf8_lossy(p).into_owned(),
            }),
        }
    };
    let mut bitmap = 0u16;
    let mut last: Option<u8> = None;
    for (p, _) in entries {
        let d = digit_at(p)?;
        if last.is_some_and(|l| d < l) {
            return Err(CompileError::DuplicatePrefix {
                table: what.to_owned(),
                prefix: String::from_utf8_lossy(p).into_owned(),
            });
        }
        last = Some(d);
        bitmap |= 1 << d;
    }
    let first = nodes.len();
    let children = bitmap.count_ones() as usize;
    if first + children > u32::MAX as usize {
        return Err(CompileError::TooLarge {
            what: what.to_owned(),
        });
    }
    nodes.resize(first + children, Node::EMPTY);
    if let Some(n) = nodes.get_mut(at) {
        n.first_child = first as u32;
        n.children = bitmap;
    }
    let mut i = 0;
    let mut k = 0;
    while i < entries.len() {
        let d = digit_at(entries[i].0)?;
        let mut j = i + 1;
        while j < entries.len() && digit_at(entries[j].0)? == d {
            j += 1;
        }
        fill(nodes, first + k, depth + 1, &entries[i..j], what)?;
        k += 1;
        i = j;
    }
    Ok(())
}

/// The nibble of `key` at `depth` (0 past the end of the prefix).
fn nibble(key: u128, depth: usize) -> u8 {
    if depth >= tollswitch_model::provisioning::MAX_PREFIX_DIGITS {
        0
    } else {
        ((key >> (124 - 4 * depth)) & 0xF) as u8
    }
}

fn fill_keyed(
    nodes: &mut Vec<Node>,
    at: usize,
    depth: usize,
    mut entries: &[(u128, Slot)],
    what: &str,
) -> Result<(), CompileError> {
    if let Some((key, slot)) = entries.first()
        && nibble(*key, depth) == 0
    {
        if let Some(n) = nodes.get_mut(at) {
            n.value = slot.value;
            n.count = slot.count;
        }
        entries = &entries[1..];
    }
    if entries.is_empty() {
        return Ok(());
    }
    let duplicate = |key: u128| CompileError::DuplicatePrefix {
        table: what.to_owned(),
        prefix: crate::rates::key_digits(key),
    };
    let mut bitmap = 0u16;
    let mut last = 0u8;
    for &(key, _) in entries {
        // A prefix ending here after the node's own entry, a digit out of order or a
        // nibble that is no digit: the input repeats a prefix or is unsorted.
        let n = nibble(key, depth);
        if n == 0 || n > 10 || n < last {
            return Err(duplicate(key));
        }
        last = n;
        bitmap |= 1 << (n - 1);
    }
    let first = nodes.len();
    let children = bitmap.count_ones() as usize;
    if first + children > u32::MAX as usize {
        return Err(CompileError::TooLarge {
            what: what.to_owned(),
        });
    }
    nodes.resize(first + children, Node::EMPTY);
    if let Some(n) = nodes.get_mut(at) {
        n.first_child = first as u32;
        n.children = bitmap;
    }
    let mut i = 0;
    let mut k = 0;
    while i < entries.len() {
        let d = nibble(entries[i].0, depth);
        let mut j = i + 1;
        while j < entries.len() && nibble(entries[j].0, depth) == d {
            j += 1;
        }
        fill_keyed(nodes, first + k, depth + 1, &entries[i..j], what)?;
        k += 1;
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build(prefixes: &[&str]) -> DigitTrie {
        let mut sorted: Vec<&str> = prefixes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let entries: Vec<(&[u8], Slot)> = sorted
            .iter()
            .map(|p| {
                let idx = prefixes.iter().position(|q| q == p).unwrap() as u32;
                (
                    p.as_bytes(),
                    Slot {
                        value: idx,
                        count: 1,
                    },
                )
            })
            .collect();
        DigitTrie::build(&entries, "test").unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let t = build(&["4", "44", "4420", "1", "447"]);
        for (number, want) in [
            ("442071234567", Some("4420")),
            ("4470", Some("447")),
            ("4480", Some("44")),
            ("49", Some("4")),
            ("1212", Some("1")),
            ("33", None),
            ("", None),
            ("44x20", Some("44")),
        ] {
            let got = t
                .longest(number.as_bytes())
                .map(|m| &number[..m.len as usize]);
            assert_eq!(got, want, "{number}");
        }
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let t = build(&["", "44"]);
        assert_eq!(t.longest(b"33").map(|m| m.len), Some(0));
        assert_eq!(t.longest(b"449").map(|m| m.len), Some(2));
        let mut out = NO_MATCHES;
        let n = t.matches_longest_first(b"449", &mut out);
        assert_eq!(
            out[..n].iter().map(|m| m.len).collect::<Vec<_>>(),
            vec![2, 0]
        );
    }

    #[test]
    fn duplicates_and_bad_digits_are_errors() {
        let one = Slot { value: 0, count: 1 };
        assert!(matches!(
            DigitTrie::build(&[(b"44", one), (b"44", one)], "t"),
            Err(CompileError::DuplicatePrefix { .. })
        ));
        assert!(matches!(
            DigitTrie::build(&[(b"4a", one)], "t"),
            Err(CompileError::BadPrefix { .. })
        ));
        assert!(matches!(
            DigitTrie::build(&[(b"45", one), (b"44", one)], "t"),
            Err(CompileError::DuplicatePrefix { .. })
        ));
    }

    proptest! {
        #[test]
        fn keyed_build_equals_byte_build(
            prefixes in proptest::collection::btree_set("[0-9]{0,12}", 0..300),
        ) {
            let sorted: Vec<&str> = prefixes.iter().map(String::as_str).collect();
            let by_bytes: Vec<(&[u8], Slot)> = sorted
                .iter()
                .enumerate()
                .map(|(i, p)| (p.as_bytes(), Slot { value: i as u32, count: 1 }))
                .collect();
            let mut by_key: Vec<(u128, Slot)> = sorted
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let key = crate::rates::prefix_key(p.as_bytes()).unwrap();
                    (key, Slot { value: i as u32, count: 1 })
                })
                .collect();
            by_key.sort_unstable_by_key(|(k, _)| *k);
            prop_assert_eq!(
                DigitTrie::build_keyed(&by_key, "t").unwrap(),
                DigitTrie::build(&by_bytes, "t").unwrap()
            );
            if let Some(&dup) = by_key.last() {
                by_key.push(dup);
                prop_assert!(DigitTrie::build_keyed(&by_key, "t").is_err());
            }
        }

        #[test]
        fn lpm_equals_brute_force(
            prefixes in proptest::collection::vec("[0-9]{0,6}", 0..200),
            numbers in proptest::collection::vec("[0-9]{0,9}", 1..50),
        ) {
            let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
            let t = build(&refs);
            for n in &numbers {
                let brute = refs
                    .iter()
                    .filter(|p| n.starts_with(**p))
                    .max_by_key(|p| p.len())
                    .map(|p| p.len());
                let got = t.longest(n.as_bytes()).map(|m| m.len as usize);
                prop_assert_eq!(got, brute);
                if let Some(m) = t.longest(n.as_bytes()) {
                    // The slot is the one stored for exactly that prefix.
                    let p = &n[..m.len as usize];
                    let idx = refs.iter().position(|q| *q == p).unwrap() as u32;
                    prop_assert_eq!(m.slot.value, idx);
                }
                let mut all = Vec::new();
                t.for_each_match(n.as_bytes(), |m| all.push(m.len as usize));
                let mut brute_all: Vec<usize> = refs
                    .iter()
                    .filter(|p| n.starts_with(**p))
                    .map(|p| p.len())
                    .collect();
                brute_all.sort_unstable();
                brute_all.dedup();
                prop_assert_eq!(all, brute_all);
            }
        }
    }
}
