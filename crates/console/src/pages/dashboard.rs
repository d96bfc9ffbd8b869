//! `/`: what the switch is doing now. The page is complete as served; `console.js` then
//! refreshes the figures every 2.5 s from `/api/v1/live` and `/api/v1/calls`.
//!
//! The gateways table marks what a NOC acts on: a gateway at its line limit, one disabled,
//! and one whose ASR over the last hour is below [`LOW_ASR_BP`] after at least
//! [`LOW_ASR_MIN_ATTEMPTS`] attempts. The script reads both thresholds from the table, so the
//! served page and its refreshes mark the same rows.

use super::{PageResult, per_second, percent};
use crate::layout::{self, Nav};
use crate::pages::calls::{CallColumns, call_rows};
use crate::session::Session;
use axum::extract::State;
use maud::{Markup, html};
use serde_json::Value;
use tollswitch_api::{ApiState, ops};

fn int(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A counter's kind as the operator says it (`RoutingGateway` → `routing gateway`).
pub fn kind_words(kind: &str) -> String {
    let mut out = String::new();
    for c in kind.chars() {
        if c.is_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn card(label: &str, key: &str, value: String, hint: &str) -> Markup {
    html! {
        div.figure {
            span.label { (label) }
            span.value data-live=(key) { (value) }
            span.hint { (hint) }
        }
    }
}

fn figures(live: &Value) -> Markup {
    let t = &live["traffic"];
    html! {
        div.figures {
            (card("Active calls", "calls", int(live, &["calls"]).to_string(), "in progress now"))
            (card("Calls / s", "cps", per_second(int(t, &["calls_started"]), int(t, &["rate_window_secs"])), "started, last 10 s"))
            (card("ASR", "asr", percent(int(t, &["asr_bp"])), "answered, last hour"))
            (card("ACD", "acd", format!("{} s", int(t, &["acd_secs"])), "average talk, last hour"))
            (card("CDR queue", "cdr_pending", int(live, &["cdr", "pending"]).to_string(), "journaled, not yet stored"))
            (card("CDRs stored", "cdr_stored", int(live, &["cdr", "stored"]).to_string(), "since start"))
        }
    }
}

fn lines(live: &Value) -> Markup {
    let empty = Vec::new();
    let lines = live["lines"].as_array().unwrap_or(&empty);
    html! {
        table.data {
            thead { tr { th { "Kind" } th { "Name" } th.num { "Calls" } } }
            tbody data-lines {
                @for l in lines {
                    tr {
                        td { (kind_words(l["kind"].as_str().unwrap_or_default())) }
                        td { (l["name"].as_str().unwrap_or_default()) }
                        td.num { (int(l, &["calls"])) }
                    }
                }
                @if lines.is_empty() { tr.empty { td colspan="3" { "No lines in use." } } }
            }
        }
    }
}

/// ASR below this (basis points) is marked…
pub const LOW_ASR_BP: u64 = 2_000;
/// …once a gateway has had at least this many attempts in the hour (fewer say little).
pub const LOW_ASR_MIN_ATTEMPTS: u64 = 10;

/// What is worth an operator's eye on one gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    full: bool,
    disabled: bool,
    low_asr: bool,
}

impl Marks {
    fn of(g: &Value) -> Marks {
        let calls = int(g, &["calls"]);
        let attempts = int(g, &["attempts"]);
        Marks {
            full: g["line_limit"].as_u64().is_some_and(|limit| calls >= limit),
            disabled: g["enabled"] == Value::Bool(false),
            low_asr: attempts >= LOW_ASR_MIN_ATTEMPTS && int(g, &["asr_bp"]) < LOW_ASR_BP,
        }
    }

    /// The row's classes (the script sets the same).
    fn class(self) -> String {
        [
            (self.full, "full"),
            (self.disabled, "disabled"),
            (self.low_asr, "low-asr"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect::<Vec<_>>()
        .join(" ")
    }
}

fn gateway_row(kind: &str, g: &Value) -> Markup {
    let marks = Marks::of(g);
    let limit = g["line_limit"].as_u64();
    html! {
        tr class=(marks.class()) {
            td { (g["name"].as_str().unwrap_or_default()) }
            td { (kind) }
            td {
                @if marks.disabled { span.badge.off { "disabled" } } @else { "enabled" }
                @if marks.full { " " span.badge.alert { "at line limit" } }
                @if marks.low_asr { " " span.badge.alert { "low ASR" } }
            }
            td.num { (int(g, &["calls"])) }
            td.num { @match limit { Some(l) => (l), None => span.muted { "none" } } }
            td.num { (int(g, &["attempts"])) }
            // No attempts: no ASR; no answer: no ACD (not 0).
            td.num.asr { @if int(g, &["attempts"]) > 0 { (percent(int(g, &["asr_bp"]))) } @else { "–" } }
            td.num { @if int(g, &["answered"]) > 0 { (int(g, &["acd_secs"])) " s" } @else { "–" } }
        }
    }
}

/// Every gateway: routing (vendors) first, then mapping (customers), each by name.
fn gateways(live: &Value) -> Markup {
    let empty = Vec::new();
    let routing = live["routing_gateways"].as_array().unwrap_or(&empty);
    let mapping = live["mapping_gateways"].as_array().unwrap_or(&empty);
    html! {
        div.scroll { table.data.gateways {
            thead { tr {
                th { "Gateway" } th { "Kind" } th { "State" } th.num { "Calls" } th.num { "Line limit" }
                th.num { "Attempts (1 h)" } th.num { "ASR (1 h)" } th.num { "ACD (1 h)" }
            } }
            tbody data-gateways data-low-asr-bp=(LOW_ASR_BP) data-low-asr-attempts=(LOW_ASR_MIN_ATTEMPTS) {
                @for g in routing { (gateway_row("routing", g)) }
                @for g in mapping { (gateway_row("mapping", g)) }
                @if routing.is_empty() && mapping.is_empty() {
                    tr.empty { td colspan="8" { "No gateways provisioned." } }
                }
            }
        } }
    }
}

/// `GET /`./// `GET /`.
pub async fn show(session: Session, State(s): State<ApiState>) -> PageResult {
    let live = ops::live(&s, &session.caller).await?;
    let calls = ops::calls(&s, &session.caller).await.ok();
    let content = html! {
        div data-refresh {
            (figures(&live))
            section {
                h2 { "Gateways" }
                (gateways(&live))
            }
            div.columns {
                section {
                    h2 { "Lines in use" }
                    (lines(&live))
                }
                section {
                    h2 { "Calls in progress " a.small href="/calls" { "all calls" } }
                    @match &calls {
                        Some(calls) => (call_rows(&session, calls, CallColumns::Brief)),
                        None => p.empty { "No running switch to ask." },
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, Nav::Dashboard, "Dashboard", content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gateways_at_their_limit_disabled_or_answering_little_are_marked() {
        let g = |v: Value| Marks::of(&v);
        let base = json!({"name": "gw", "enabled": true, "calls": 3, "line_limit": 5,
                          "attempts": 10, "answered": 2, "asr_bp": 2_000, "acd_secs": 30});
        assert_eq!(g(base.clone()), Marks::default());
        let with = |k: &str, v: Value| {
            let mut x = base.clone();
            x[k] = v;
            x
        };
        assert!(g(with("calls", json!(5))).full);
        assert!(!g(with("line_limit", Value::Null)).full, "unlimited");
        assert!(g(with("enabled", json!(false))).disabled);
        assert!(g(with("asr_bp", json!(1_999))).low_asr);
        let mut few = with("asr_bp", json!(0));
        assert!(g(few.clone()).low_asr);
        few["attempts"] = json!(9);
        assert!(!g(few).low_asr, "too few attempts to say");
        let mut all = with("enabled", json!(false));
        all["calls"] = json!(5);
        all["asr_bp"] = json!(0);
        assert_eq!(g(all).class(), "full disabled low-asr");
        let html = gateways(&json!({"routing_gateways": [with("calls", json!(5))],
                                    "mapping_gateways": [with("line_limit", Value::Null)]}))
        .into_string();
        assert!(
            html.contains("class=\"full\"") && html.contains("at line limit"),
            "{html}"
        );
        assert!(html.contains("data-low-asr-bp=\"2000\""), "{html}");
        assert!(html.contains("<td>mapping</td>"), "{html}");
        assert!(
            gateways(&json!({}))
                .into_string()
                .contains("No gateways provisioned.")
        );
    }

    #[test]
    fn counter_kinds_read_as_words() {
        assert_eq!(kind_words("RoutingGateway"), "routing gateway");
        assert_eq!(kind_words("Account"), "account");
    }
}
