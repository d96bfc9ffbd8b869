//! `/calls`: the calls in progress, with a hang-up button for operators. `console.js` keeps the
//! table current.

use super::{Done, PageResult};
use crate::layout::{self, Nav, Notice};
use crate::session::{Fields, Session};
use crate::time;
use axum::Form;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde_json::Value;
use tollswitch_api::{ApiState, now_ms, ops};
use tollswitch_storage::Role;

/// Which columns a calls table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallColumns {
    /// The dashboard's few.
    Brief,
    /// Everything, and the hang-up button.
    Full,
}

fn text<'a>(c: &'a Value, key: &str) -> &'a str {
    c.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn since(c: &Value, now: i64) -> String {
    let from = c
        .get("connect_ms")
        .and_then(Value::as_i64)
        .or_else(|| c.get("start_ms").and_then(Value::as_i64))
        .unwrap_or(now);
    time::duration(now - from)
}

fn hangup_form(session: &Session, call_id: &str) -> Markup {
    html! {
        form.inline method="post" action="/calls/hangup" data-confirm="Hang this call up?" {
            (layout::csrf_field(session))
            input type="hidden" name="call_id" value=(call_id);
            button.danger.small type="submit" { "Hang up" }
        }
    }
}

/// The calls table (`calls`: the JSON array of `/api/v1/calls`).
pub fn call_rows(session: &Session, calls: &Value, columns: CallColumns) -> Markup {
    let empty = Vec::new();
    let list = calls.as_array().unwrap_or(&empty);
    let now = now_ms();
    let hangup = columns == CallColumns::Full && session.may(Role::Operator);
    let kind = match columns {
        CallColumns::Brief => "brief",
        CallColumns::Full => "full",
    };
    let width = match (columns, hangup) {
        (CallColumns::Brief, _) => 6,
        (CallColumns::Full, false) => 9,
        (CallColumns::Full, true) => 10,
    };
    html! {
        table.data.calls {
            thead {
                tr {
                    @if columns == CallColumns::Full { th { "Call-ID" } }
                    th { "Caller" } th { "Callee" } th { "Account" }
                    @if columns == CallColumns::Full { th { "Mapping gateway" } }
                    th { "Routing gateway" } th { "State" }
                    @if columns == CallColumns::Full { th { "Started (UTC)" } }
                    th.num { "Duration" }
                    @if hangup { th {} }
                }
            }
            tbody data-calls=(kind) data-hangup=[hangup.then_some("yes")] {
                @for c in list {
                    tr {
                        @if columns == CallColumns::Full { td.id { (text(c, "call_id")) } }
                        td { (text(c, "caller")) }
                        td { (text(c, "callee")) }
                        td { (text(c, "account")) }
                        @if columns == CallColumns::Full { td { (text(c, "mapping_gateway")) } }
                        td { (text(c, "routing_gateway")) }
                        td { (text(c, "state")) }
                        @if columns == CallColumns::Full {
                            td { (c.get("start_ms").and_then(Value::as_i64).map(time::utc).unwrap_or_default()) }
                        }
                        td.num { (since(c, now)) }
                        @if hangup { td { (hangup_form(session, text(c, "call_id"))) } }
                    }
                }
                @if list.is_empty() { tr.empty { td colspan=(width) { "No calls in progress." } } }
            }
        }
    }
}

fn calls_page(
    session: &Session,
    calls: Option<&Value>,
    notice: Option<Markup>,
) -> axum::response::Response {
    let content = html! {
        @if let Some(n) = notice { (n) }
        div data-refresh {
            @match calls {
                Some(calls) => (call_rows(session, calls, CallColumns::Full)),
                None => p.empty { "No running switch to ask." },
            }
        }
    };
    layout::page(session, Nav::Calls, "Current calls", content)
}

/// `GET /calls`.
pub async fn list(
    session: Session,
    State(s): State<ApiState>,
    Query(done): Query<Done>,
) -> PageResult {
    let calls = ops::calls(&s, &session.caller).await.ok();
    Ok(calls_page(&session, calls.as_ref(), done.notice()))
}

/// `POST /calls/hangup`: `call_id`.
pub async fn hangup(
    session: Session,
    State(s): State<ApiState>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Fields(form);
    session.check_csrf(&form)?;
    session.require(Role::Operator)?;
    let call_id = form.text("call_id").unwrap_or_default().to_owned();
    match ops::hangup(&s, &session.caller, &call_id).await {
        Ok(()) => Ok(super::done("/calls", "hung-up", &call_id)),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            let calls = ops::calls(&s, &session.caller).await.ok();
            let notice = layout::notice(Notice::Error, &e.message);
            Ok(calls_page(&session, calls.as_ref(), Some(notice)))
        }
        Err(e) => Err(e.into()),
    }
}
