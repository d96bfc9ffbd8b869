//! `;name=value` parameter lists, shared by URIs and headers, read without allocating.

use crate::scan::{eq_ic, text, trim};

/// A raw parameter list starting at its first `;` (or empty). Lookups are case-insensitive on
/// the name; LWS around `;` and `=` is tolerated (header parameters allow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a>(&'a [u8]);

impl<'a> Params<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Params(raw)
    }

    /// The list as written, including the leading `;`.
    pub fn as_str(&self) -> &'a str {
        text(self.0)
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Iterates `(name, value)` pairs; a quoted value keeps its quotes.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        let raw = self.0;
        split_semis(raw).filter_map(|item| {
            let item = trim(item);
            if item.is_empty() {
                return None;
            }
            Some(match item.iter().position(|&b| b == b'=') {
                Some(e) => (text(trim(&item[..e])), Some(text(trim(&item[e + 1..])))),
                None => (text(item), None),
            })
        })
    }

    /// `Some(Some(value))` for `name=value`, `Some(None)` for a bare `name`, `None` if absent.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| eq_ic(n.as_bytes(), name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// True when the parameter is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Splits at `;` outside quoted strings, skipping the text before the first `;`.
fn split_semis(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = s.iter().position(|&b| b == b';').map_or(s.len(), |p| p + 1);
    std::iter::from_fn(move || {
        if pos >= s.len() {
            return None;
        }
        let start = pos;
        let mut in_quotes = false;
        while pos < s.len() {
            match s[pos] {
                b'\\' if in_quotes => pos += 1,
                b'"' => in_quotes = !in_quotes,
                b';' if !in_quotes => break,
                _ => {}
            }
            pos += 1;
        }
        let item = &s[start..pos.min(s.len())];
        pos += 1;
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_and_quotes() {
        let p = Params::new(b" ;   tag    = 1918181833n ; q=\"a;b\";lr");
        assert_eq!(p.get("tag"), Some(Some("1918181833n")));
        assert_eq!(p.get("Q"), Some(Some("\"a;b\"")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("x"), None);
        assert!(Params::default().is_empty());
    }
}
