//! `/cdrs`: CDR search with the API's filters (times in UTC), a page of results, and a link to
//! the same search as CSV (`/api/v1/cdrs.csv`).

use super::PageResult;
use crate::layout::{self, Nav, Notice, query_value};
use crate::session::Session;
use crate::time;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use tollswitch_api::ops::{self, CdrQuery};
use tollswitch_api::{ApiState, now_ms};
use tollswitch_model::cdr::Cdr;

/// The search form, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Search {
    from: Option<String>,
    until: Option<String>,
    account: Option<String>,
    mapping_gateway: Option<String>,
    routing_gateway: Option<String>,
    callee_prefix: Option<String>,
    final_code: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

const TEXT_FILTERS: &[(&str, &str)] = &[
    ("account", "Account"),
    ("mapping_gateway", "Mapping gateway"),
    ("routing_gateway", "Routing gateway"),
    ("callee_prefix", "Callee prefix"),
    ("final_code", "Final code"),
];

impl Search {
    fn value(&self, key: &str) -> &str {
        let v = match key {
            "from" => &self.from,
            "until" => &self.until,
            "account" => &self.account,
            "mapping_gateway" => &self.mapping_gateway,
            "routing_gateway" => &self.routing_gateway,
            "callee_prefix" => &self.callee_prefix,
            "final_code" => &self.final_code,
            "limit" => &self.limit,
            _ => &self.offset,
        };
        v.as_deref().map_or("", str::trim)
    }

    /// The API query this form asks for; errors by form field.
    fn query(&self, now: i64) -> Result<CdrQuery, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut when = |key: &'static str| match self.value(key) {
            "" => None,
            text => {
                let parsed = time::parse_input(text);
                if parsed.is_none() {
                    errors.insert(
                        key,
                        format!("{text:?} is not a date and time (YYYY-MM-DD HH:MM, UTC)"),
                    );
                }
                parsed
            }
        };
        let until = when("until").unwrap_or(now);
        let from = when("from").unwrap_or(until - 86_400_000);
        let mut number = |key: &'static str, max: u64| match self.value(key) {
            "" => None,
            text => match text.parse::<u64>() {
                Ok(n) if n <= max => Some(n),
                _ => {
                    errors.insert(key, format!("{text:?}: a whole number up to {max}"));
                    None
                }
            },
        };
        let final_code = number("final_code", 699).and_then(|c| u16::try_from(c).ok());
        let limit = number("limit", 1_000).and_then(|l| u32::try_from(l).ok());
        let offset = number("offset", u64::MAX);
        let text = |key: &str| Some(self.value(key).to_owned()).filter(|v| !v.is_empty());
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CdrQuery {
            from_ms: Some(from),
            until_ms: Some(until),
            account: text("account"),
            mapping_gateway: text("mapping_gateway"),
            routing_gateway: text("routing_gateway"),
            callee_prefix: text("callee_prefix"),
            final_code,
            limit: Some(limit.unwrap_or(100).max(1)),
            offset,
        })
    }
}

/// The query string of a search (for the CSV link and paging).
fn api_query(q: &CdrQuery) -> String {
    let mut parts = vec![
        format!("from_ms={}", q.from_ms.unwrap_or_default()),
        format!("until_ms={}", q.until_ms.unwrap_or_default()),
    ];
    push_filters(q, &mut parts);
    parts.join("&")
}

fn field(
    key: &'static str,
    label: &str,
    value: &str,
    kind: &str,
    error: Option<&String>,
) -> Markup {
    html! {
        div class=(if error.is_some() { "field has-error" } else { "field" }) data-field=(key) {
            label for=(key) { (label) }
            input type=(kind) id=(key) name=(key) value=(value) aria-invalid=[error.map(|_| "true")];
            @if let Some(e) = error { p.field-error role="alert" { (e) } }
        }
    }
}

fn form(search: &Search, q: Option<&CdrQuery>, errors: &BTreeMap<&'static str, String>) -> Markup {
    // Show the range actually searched when the fields were left empty.
    let shown = |key: &str, ms: Option<i64>| match search.value(key) {
        "" => ms.map(time::input_value).unwrap_or_default(),
        typed => typed.to_owned(),
    };
    html! {
        form.search method="get" action="/cdrs" {
            div.grid.wide {
                (field("from", "From (UTC)", &shown("from", q.and_then(|q| q.from_ms)), "datetime-local", errors.get("from")))
                (field("until", "Until (UTC)", &shown("until", q.and_then(|q| q.until_ms)), "datetime-local", errors.get("until")))
                @for (key, label) in TEXT_FILTERS {
                    (field(key, label, search.value(key), "text", errors.get(key)))
                }
                (field("limit", "Rows", match search.value("limit") { "" => "100", l => l }, "text", errors.get("limit")))
            }
            p.actions { button type="submit" { "Search" } " " a href="/cdrs" { "Reset" } }
        }
    }
}

fn results(rows: &[Cdr], q: &CdrQuery) -> Markup {
    let limit = u64::from(q.limit.unwrap_or(100));
    let offset = q.offset.unwrap_or(0);
    let page = |offset: u64| format!("/cdrs?{}&limit={limit}&offset={offset}", search_query(q));
    html! {
        p.actions {
            (rows.len()) " CDR(s)"
            @if offset > 0 { " from row " (offset + 1) }
            " · "
            a.button href=(format!("/api/v1/cdrs.csv?{}", api_query(q))) download="cdrs.csv" { "Export CSV" }
        }
        div.scroll {
            table.data.cdrs {
                thead {
                    tr {
                        th { "Start (UTC)" } th { "Account" } th { "Caller" } th { "Callee" }
                        th { "Routing gateway" } th.num { "Code" } th.num { "Hold" } th.num { "Billed s" }
                        th.num { "Charge" } th.num { "Cost" } th { "End" }
                    }
                }
                tbody {
                    @for c in rows {
                        tr title=(c.id) {
                            td.nowrap { (time::utc(c.start_ms)) }
                            td { (c.account) }
                            td { (c.caller_received) }
                            td { (c.callee_received) }
                            td { (c.routing_gateway.as_deref().unwrap_or("–")) }
                            td.num { (c.final_code.as_u16()) }
                            td.num { (time::duration(i64::try_from(c.hold_time_ms).unwrap_or(i64::MAX))) }
                            td.num { (c.billed_secs) }
                            td.num { (c.charge) }
                            td.num { (c.cost) }
                            td { (c.end_reason.as_str()) " by " (c.ended_by.as_str()) }
                        }
                    }
                    @if rows.is_empty() { tr.empty { td colspan="11" { "No CDRs match." } } }
                }
            }
        }
        p.actions {
            @if offset > 0 { a href=(page(offset.saturating_sub(limit))) { "← Previous" } " " }
            @if rows.len() as u64 == limit { a href=(page(offset + limit)) { "Next →" } }
        }
    }
}

/// The form fields of a search as a query string (times as typed inputs, UTC).
fn search_query(q: &CdrQuery) -> String {
    let mut parts = vec![
        format!(
            "from={}",
            query_value(&q.from_ms.map(time::input_value).unwrap_or_default())
        ),
        format!(
            "until={}",
            query_value(&q.until_ms.map(time::input_value).unwrap_or_default())
        ),
    ];
    push_filters(q, &mut parts);
    parts.join("&")
}

/// The filters both query strings share, in the same names.
fn push_filters(q: &CdrQuery, parts: &mut Vec<String>) {
    for (key, v) in [
        ("account", &q.account),
        ("mapping_gateway", &q.mapping_gateway),
        ("routing_gateway", &q.routing_gateway),
        ("callee_prefix", &q.callee_prefix),
    ] {
        if let Some(v) = v {
            parts.push(format!("{key}={}", query_value(v)));
        }
    }
    if let Some(c) = q.final_code {
        parts.push(format!("final_code={c}"));
    }
}

/// `GET /cdrs`.
pub async fn search(
    session: Session,
    State(s): State<ApiState>,
    Query(search): Query<Search>,
) -> PageResult {
    let (q, mut errors) = match search.query(now_ms()) {
        Ok(q) => (Some(q), BTreeMap::new()),
        Err(errors) => (None, errors),
    };
    let mut rows = None;
    if let Some(q) = &q {
        let (filter, max_days) = ops::cdr_filter(&s, &session.caller, q).await?;
        match ops::search_cdrs(&s, &filter, max_days).await {
            Ok(r) => rows = Some(r),
            Err(e) if e.status == StatusCode::BAD_REQUEST => {
                let key = if e.field.as_deref() == Some("final_code") {
                    "final_code"
                } else {
                    "from"
                };
                errors.insert(key, e.message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let content = html! {
        (form(&search, q.as_ref(), &errors))
        @if !errors.is_empty() { (layout::notice(Notice::Error, "Correct the marked fields.")) }
        @if let (Some(rows), Some(q)) = (&rows, &q) { (results(rows, q)) }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(layout::page_with_status(
        status,
        &session,
        Nav::Cdrs,
        "CDR search",
        content,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_api_query_and_back() {
        let s = Search {
            from: Some("2026-01-01T00:00".into()),
            until: Some("2026-01-02T00:00".into()),
            account: Some(" acme ".into()),
            callee_prefix: Some("44".into()),
            ..Search::default()
        };
        let q = s.query(0).expect("valid");
        assert_eq!(q.from_ms, Some(1_767_225_600_000));
        assert_eq!(q.until_ms, Some(1_767_312_000_000));
        assert_eq!(q.account.as_deref(), Some("acme"));
        assert_eq!(q.limit, Some(100));
        assert_eq!(
            api_query(&q),
            "from_ms=1767225600000&until_ms=1767312000000&account=acme&callee_prefix=44"
        );
    }

    #[test]
    fn unreadable_fields_are_named() {
        let s = Search {
            from: Some("last tuesday".into()),
            final_code: Some("9999".into()),
            limit: Some("-1".into()),
            ..Search::default()
        };
        let errors = s.query(0).expect_err("invalid");
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["final_code", "from", "limit"]
        );
    }
}
