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
        let mut pos = first_item(raw);
        std::iter::from_fn(move || next_param(raw, &mut pos).map(|(n, v)| (text(n), v.map(text))))
    }

    /// `Some(Some(value))` for `name=value`, `Some(None)` for a bare `name`, `None` if absent.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        let raw = self.0;
        let mut pos = first_item(raw);
        while let Some((n, v)) = next_param(raw, &mut pos) {
            if eq_ic(n, name.as_bytes()) {
                return Some(v.map(text));
            }
        }
        None
    }

    /// True when the parameter is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn first_item(s: &[u8]) -> usize {
    memchr::memchr(b';', s).map_or(s.len(), |p| p + 1)
}

/// The next `name[=value]` from `pos` (just past a `;`), skipping empty items; LWS around the
/// name, `=` and value is dropped. Quoted values may hold `;`.
fn next_param<'a>(s: &'a [u8], pos: &mut usize) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    loop {
        if *pos >= s.len() {
            return None;
        }
        let start = *pos;
        let mut i = start;
        let mut in_quotes = false;
        let mut eq = None;
        while i < s.len() {
            match s[i] {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b'=' if !in_quotes && eq.is_none() => eq = Some(i),
                b';' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(s.len());
        *pos = end + 1;
        let (name, value) = match eq {
            Some(e) => (trim(&s[start..e]), Some(trim(&s[e + 1..end]))),
            None => (trim(&s[start..end]), None),
        };
        if name.is_empty() && value.is_none() {
            continue;
        }
        return Some((name, value));
    }
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
