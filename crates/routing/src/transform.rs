//! Number transformation: the four rule kinds of [`NumberRule`], compiled once, applied in order.

use crate::CompileError;
use regex::Regex;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use tollswitch_model::provisioning::NumberRule;

/// Longest regex program accepted, in bytes; keeps a hostile pattern from eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rule ready to run.
#[derive(Debug, Clone)]
pub(crate) enum CompiledRule {
    Strip(usize),
    AddPrefix(String),
    ReplacePrefix { from: String, to: String },
    Regex { re: Regex, replacement: String },
}

/// One rule with its description (shared, so recording a step costs no formatting).
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) rule: CompiledRule,
    pub(crate) text: Arc<str>,
}

/// What one rule did to a number, for explain output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransformStep {
    /// The rule, as the operator wrote it (`strip 2`, `add_prefix 44`, …).
    pub rule: Arc<str>,
    /// The number before the rule.
    pub before: String,
    /// The number after the rule.
    pub after: String,
}

impl fmt::Display for TransformStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.rule, self.before, self.after)
    }
}

pub(crate) fn compile_rules(
    rules: &[NumberRule],
    owner: &str,
    field: &str,
) -> Result<Vec<Rule>, CompileError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (rule, text) = match r {
                NumberRule::Strip(n) => {
                    (CompiledRule::Strip(usize::from(*n)), format!("strip {n}"))
                }
                NumberRule::AddPrefix(p) => (
                    CompiledRule::AddPrefix(p.clone()),
                    format!("add_prefix {p}"),
                ),
                NumberRule::ReplacePrefix { from, to } => (
                    CompiledRule::ReplacePrefix {
                        from: from.clone(),
                        to: to.clone(),
                    },
                    format!("replace_prefix {from} -> {to}"),
                ),
                NumberRule::Regex {
                    pattern,
                    replacement,
                } => {
                    let re = regex::RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| CompileError::Regex {
                            owner: owner.to_owned(),
                            field: format!("{field}[{i}]"),
                            message: e.to_string(),
                        })?;
                    (
                        CompiledRule::Regex {
                            re,
                            replacement: replacement.clone(),
                        },
                        format!("regex {pattern} -> {replacement}"),
                    )
                }
            };
            Ok(Rule {
                rule,
                text: text.into(),
            })
        })
        .collect()
}

fn apply_one(rule: &CompiledRule, input: &str) -> String {
    match rule {
        CompiledRule::Strip(n) => {
            // Numbers are ASCII here, but never split a multi-byte character of odd input.
            let cut = input
                .char_indices()
                .nth(*n)
                .map(|(i, _)| i)
                .unwrap_or(input.len());
            input[cut..].to_owned()
        }
        CompiledRule::AddPrefix(p) => {
            let mut s = String::with_capacity(p.len() + input.len());
            s.push_str(p);
            s.push_str(input);
            s
        }
        CompiledRule::ReplacePrefix { from, to } => match input.strip_prefix(from.as_str()) {
            Some(rest) => {
                let mut s = String::with_capacity(to.len() + rest.len());
                s.push_str(to);
                s.push_str(rest);
                s
            }
            None => input.to_owned(),
        },
        CompiledRule::Regex { re, replacement } => {
            re.replace(input, replacement.as_str()).into_owned()
        }
    }
}

/// Applies `rules` in order to `input`; records each step in `steps`.
pub(crate) fn apply(rules: &[Rule], input: &str, steps: &mut Vec<TransformStep>) -> String {
    let mut current = input.to_owned();
    for r in rules {
        let next = apply_one(&r.rule, &current);
        steps.push(TransformStep {
            rule: r.text.clone(),
            before: std::mem::replace(&mut current, next.clone()),
            after: next,
        });
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: Vec<NumberRule>) -> Vec<Rule> {
        compile_rules(&r, "test", "callee_rules").unwrap()
    }

    #[test]
    fn each_kind_and_order() {
        let cases: Vec<(Vec<NumberRule>, &str, &str)> = vec![
            (vec![NumberRule::Strip(2)], "0044207", "44207"),
            (vec![NumberRule::Strip(9)], "0044", ""),
            (vec![NumberRule::AddPrefix("00".into())], "44207", "0044207"),
            (
                vec![NumberRule::ReplacePrefix {
                    from: "0".into(),
                    to: "44".into(),
                }],
                "0207",
                "44207",
            ),
            (
                vec![NumberRule::ReplacePrefix {
                    from: "9".into(),
                    to: "".into(),
                }],
                "0207",
                "0207",
            ),
            (
                vec![NumberRule::Regex {
                    pattern: r"^1(\d{3})(\d{7})$".into(),
                    replacement: "001$1$2".into(),
                }],
                "12125551234",
                "0012125551234",
            ),
            (
                vec![NumberRule::Regex {
                    pattern: r"^9".into(),
                    replacement: "".into(),
                }],
                "12125551234",
                "12125551234",
            ),
            // Order matters: strip then add is not add then strip.
            (
                vec![NumberRule::Strip(1), NumberRule::AddPrefix("44".into())],
                "0207",
                "44207",
            ),
            (
                vec![NumberRule::AddPrefix("44".into()), NumberRule::Strip(1)],
                "0207",
                "40207",
            ),
            (
                vec![
                    NumberRule::Strip(2),
                    NumberRule::ReplacePrefix {
                        from: "44".into(),
                        to: "0".into(),
                    },
                    NumberRule::AddPrefix("9".into()),
                    NumberRule::Regex {
                        pattern: "^90".into(),
                        replacement: "8".into(),
                    },
                ],
                "0044207",
                "8207",
            ),
        ];
        for (r, input, want) in cases {
            let mut steps = Vec::new();
            let out = apply(&rules(r.clone()), input, &mut steps);
            assert_eq!(out, want, "{r:?} on {input}");
            assert_eq!(steps.len(), r.len());
            assert_eq!(steps.first().map(|s| s.before.as_str()), Some(input));
            assert_eq!(steps.last().map(|s| s.after.as_str()), Some(want));
            for w in steps.windows(2) {
                assert_eq!(w[0].after, w[1].before);
            }
        }
    }

    #[test]
    fn bad_regex_is_a_compile_error() {
        let err = compile_rules(
            &[NumberRule::Regex {
                pattern: "(".into(),
                replacement: "".into(),
            }],
            "gw",
            "callee_rules",
        )
        .unwrap_err();
        assert!(matches!(err, CompileError::Regex { ref field, .. } if field == "callee_rules[0]"));
    }
}
