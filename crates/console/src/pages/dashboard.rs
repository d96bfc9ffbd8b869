//! `/`: what the switch is doing now. The page is complete as served; `console.js` then
//! refreshes the figures every 2.5 s from `/api/v1/live` and `/api/v1/calls`.

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

/// `GET /`.
pub async fn show(session: Session, State(s): State<ApiState>) -> PageResult {
    let live = ops::live(&s, &session.caller).await?;
    let calls = ops::calls(&s, &session.caller).await.ok();
    let content = html! {
        div data-refresh {
            (figures(&live))
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

    #[test]
    fn counter_kinds_read_as_words() {
        assert_eq!(kind_words("RoutingGateway"), "routing gateway");
        assert_eq!(kind_words("Account"), "account");
    }
}
