//! `/parameters`: every system parameter with its value, default, accepted range and
//! description, grouped as in the parameter catalogue; operators change one in place
//! ([`ops::set_parameter`]: validated against the range, audited).

use super::{Done, PageResult};
use crate::layout::{self, Nav, Notice, query_value};
use crate::pages::dashboard::kind_words;
use crate::session::{Fields, Session};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use tollswitch_api::{ApiState, ops};
use tollswitch_model::params::ParamSpec;
use tollswitch_storage::Role;

/// A value typed into one row and refused.
struct Refused<'a> {
    name: &'a str,
    value: &'a str,
    message: String,
}

fn value_cell(
    session: &Session,
    spec: &ParamSpec,
    current: &str,
    refused: Option<&Refused<'_>>,
) -> Markup {
    let shown = if spec.secret { "" } else { current };
    let editable = session.may(Role::Operator) && !spec.read_only;
    let error = refused.filter(|r| r.name == spec.name);
    html! {
        @if editable {
            form.inline-edit method="post" action=(format!("/parameters/{}", spec.name)) {
                (layout::csrf_field(session))
                input type="text" name="value" aria-label=(format!("value of {}", spec.name))
                    value=(error.map_or(shown, |r| r.value))
                    placeholder=[spec.secret.then_some("(set; hidden)")]
                    aria-invalid=[error.map(|_| "true")];
                button.small type="submit" { "Save" }
                @if let Some(r) = error { p.field-error role="alert" { (r.message) } }
            }
        } @else if spec.secret {
            span.muted { "(hidden)" }
        } @else {
            code { (current) }
        }
    }
}

fn group_title(spec: &ParamSpec) -> String {
    let words = kind_words(&format!("{:?}", spec.group));
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn render(
    s: &ApiState,
    session: &Session,
    notice: Option<Markup>,
    refused: Option<&Refused<'_>>,
) -> PageResult {
    let params = s.storage.parameters().await?;
    let mut groups: Vec<(String, Vec<(&ParamSpec, String)>)> = Vec::new();
    for (spec, value) in params.iter() {
        let title = group_title(spec);
        match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, rows)) => rows.push((spec, value.to_string())),
            None => groups.push((title, vec![(spec, value.to_string())])),
        }
    }
    let content = html! {
        @if let Some(n) = notice { (n) }
        p.help { "Changes take effect within the reload interval; those marked “restart” need a restart of the switch." }
        @for (title, rows) in &groups {
            h2 { (title) }
            table.data.params {
                thead { tr { th { "Name" } th { "Value" } th { "Default" } th { "Accepted" } th { "What it does" } } }
                tbody {
                    @for (spec, value) in rows {
                        tr id=(format!("p-{}", spec.name)) {
                            td.name { code { (spec.name) } }
                            td { (value_cell(session, spec, value, refused)) }
                            td { code { (if spec.secret { "" } else { spec.default }) } }
                            td { (spec.kind.expected()) }
                            td {
                                (spec.description)
                                @if spec.restart_required { " " span.badge { "restart" } }
                                @if spec.read_only { " " span.badge { "read-only" } }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(layout::page_with_status(
        status,
        session,
        Nav::Parameters,
        "Parameters",
        content,
    ))
}

/// `GET /parameters`.
pub async fn list(
    session: Session,
    State(s): State<ApiState>,
    Query(done): Query<Done>,
) -> PageResult {
    render(&s, &session, done.notice(), None).await
}

/// `POST /parameters/{name}`: `value`.
pub async fn set(
    session: Session,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Fields(form);
    session.check_csrf(&form)?;
    session.require(Role::Operator)?;
    let value = form.get("value").unwrap_or_default().trim();
    match ops::set_parameter(&s, &session.caller, &name, Some(value)).await {
        Ok(()) => Ok(Redirect::to(&format!(
            "/parameters?done=saved&name={}#p-{}",
            query_value(&name),
            query_value(&name)
        ))
        .into_response()),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let refused = Refused {
                name: &name,
                value,
                message: e.message.clone(),
            };
            let notice = layout::notice(Notice::Error, &format!("{name} not saved: {}", e.message));
            render(&s, &session, Some(notice), Some(&refused)).await
        }
        Err(e) => Err(e.into()),
    }
}
