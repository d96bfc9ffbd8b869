//! `/objects/{kind}`: accounts, mapping gateways, routing gateways and gateway groups — lists,
//! forms to create and edit them, delete with a confirmation. Saving goes through the API's
//! object `PUT` ([`ops::put_object`]): the same validation, the same audit entry.

use super::{Done, PageResult, cell, done};
use crate::fields::{self, Input, Kind, Values};
use crate::layout::{self, Notice, segment};
use crate::session::{Fields, PageError, Session};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tollswitch_api::error::ApiError;
use tollswitch_api::{ApiState, ops};
use tollswitch_storage::Role;

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn kind_of(url: &str) -> Result<&'static Kind, PageError> {
    fields::kind(url).ok_or_else(|| PageError::NotFound(format!("no object kind {url:?}")))
}

fn edit_url(k: &Kind, name: &str) -> String {
    format!("/objects/{}/edit/{}", k.url, segment(name))
}

fn name_link(k: &Kind, name: &str) -> String {
    if k.url == "accounts" {
        format!("/accounts/{}", segment(name))
    } else {
        edit_url(k, name)
    }
}

fn column_text(k: &Kind, key: &str, o: &Value) -> String {
    match k.field(key) {
        Some(f) if matches!(f.input, Input::Targets) => fields::text_of(f, o.get(key)),
        _ => cell(o.get(key)),
    }
}

fn delete_form(session: &Session, k: &Kind, name: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/objects/{}/delete/{}", k.url, segment(name)))
            data-confirm=(format!("Delete {} {name}?", k.singular)) {
            (layout::csrf_field(session))
            button.danger.small type="submit" { "Delete" }
        }
    }
}

fn list_page(session: &Session, k: &Kind, objects: &[Value], notice: Option<Markup>) -> Response {
    let write = session.may(Role::Operator);
    let labels: Vec<&str> = k
        .columns
        .iter()
        .map(|c| k.field(c).map_or(*c, |f| f.label))
        .collect();
    let content = html! {
        @if let Some(n) = notice { (n) }
        @if write {
            p.actions { a.button href=(format!("/objects/{}/new", k.url)) { "New " (k.singular) } }
        }
        table.data {
            thead {
                tr {
                    th { "Name" }
                    @for l in &labels { th { (l) } }
                    @if write { th {} }
                }
            }
            tbody {
                @for o in objects {
                    @let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                    tr {
                        td { a href=(name_link(k, name)) { (name) } }
                        @for c in k.columns { td { (column_text(k, c, o)) } }
                        @if write {
                            td.actions {
                                a.small href=(edit_url(k, name)) { "Edit" }
                                " "
                                (delete_form(session, k, name))
                            }
                        }
                    }
                }
                @if objects.is_empty() {
                    tr.empty { td colspan=(k.columns.len() + 2) { "None yet." } }
                }
            }
        }
    };
    layout::page(session, k.nav, k.title, content)
}

/// `GET /objects/{kind}`.
pub async fn list(
    session: Session,
    State(s): State<ApiState>,
    Path(kind): Path<String>,
    Query(done): Query<Done>,
) -> PageResult {
    let k = kind_of(&kind)?;
    let objects = ops::list_objects(&s, &session.caller, k.url).await?;
    Ok(list_page(&session, k, &objects, done.notice()))
}

fn input(f: &fields::Field, value: &str, locked: bool, error: bool) -> Markup {
    let described = error.then(|| format!("{}-error", f.key));
    html! {
        @match f.input {
            Input::Check => {
                input type="checkbox" id=(f.key) name=(f.key) checked[value == "on"];
            }
            Input::Select(options) => {
                select id=(f.key) name=(f.key) aria-describedby=[described.as_deref()] {
                    @for o in options { option value=(o) selected[*o == value] { (o) } }
                }
            }
            _ => {
                input type="text" id=(f.key) name=(f.key) value=(value) readonly[locked]
                    inputmode=[matches!(f.input, Input::Number).then_some("numeric")]
                    aria-invalid=[error.then_some("true")]
                    aria-describedby=[described.as_deref()];
            }
        }
    }
}

/// The object form: `editing` names the stored object, `errors` are by field key.
fn form_page(
    session: &Session,
    k: &Kind,
    editing: Option<&str>,
    values: &Values,
    errors: &BTreeMap<String, String>,
    banner: Option<&str>,
) -> Response {
    let action = match editing {
        Some(name) => edit_url(k, name),
        None => format!("/objects/{}/new", k.url),
    };
    let title = match editing {
        Some(name) => format!("{} {name}", capitalised(k.singular)),
        None => format!("New {}", k.singular),
    };
    let content = html! {
        @if let Some(b) = banner { (layout::notice(Notice::Error, b)) }
        form.object method="post" action=(action) novalidate {
            (layout::csrf_field(session))
            div.grid {
                @for f in k.fields {
                    @if !(f.new_only && editing.is_some()) {
                        @let value = values.get(f.key).map_or("", String::as_str);
                        @let error = errors.get(f.key);
                        div class=(if error.is_some() { "field has-error" } else { "field" }) data-field=(f.key) {
                            label for=(f.key) { (f.label) }
                            (input(f, value, f.key == "name" && editing.is_some(), error.is_some()))
                            @if let Some(e) = error {
                                p.field-error id=(format!("{}-error", f.key)) role="alert" { (e) }
                            }
                            @if !f.help.is_empty() { small.help { (f.help) } }
                        }
                    }
                }
            }
            p.actions {
                button type="submit" { "Save" }
                " "
                a href=(format!("/objects/{}", k.url)) { "Cancel" }
            }
        }
        @if let Some(name) = editing {
            section.danger-zone {
                h2 { "Delete" }
                p { "A " (k.singular) " that other objects refer to cannot be deleted." }
                (delete_form(session, k, name))
            }
        }
    };
    let status = if errors.is_empty() && banner.is_none() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    layout::page_with_status(status, session, k.nav, &title, content)
}

/// An API refusal as form errors: each problem next to its field; what fits no field above.
fn api_errors(k: &Kind, name: &str, e: &ApiError) -> (BTreeMap<String, String>, Option<String>) {
    let mut errors = BTreeMap::new();
    let mut elsewhere = Vec::new();
    for d in &e.details {
        let field = d.get("field").and_then(Value::as_str).unwrap_or_default();
        let message = d.get("message").and_then(Value::as_str).unwrap_or_default();
        let ours = d.get("name").and_then(Value::as_str) == Some(name);
        match k.field_of_error(field).filter(|_| ours) {
            Some(key) => {
                let text = if field == key {
                    message.to_owned()
                } else {
                    format!("{field}: {message}")
                };
                errors.entry(key.to_owned()).or_insert(text);
            }
            None => elsewhere.push(
                d.get("kind")
                    .and_then(Value::as_str)
                    .map(|kind| format!("{kind} {:?}: {field}: {message}", d["name"]))
                    .unwrap_or_else(|| message.to_owned()),
            ),
        }
    }
    if e.details.is_empty() {
        match e.field.as_deref().and_then(|f| k.field_of_error(f)) {
            Some(key) => {
                errors.insert(key.to_owned(), e.message.clone());
            }
            None => elsewhere.push(e.message.clone()),
        }
    }
    let banner = if elsewhere.is_empty() {
        Some("Not saved: correct the marked fields.".to_owned())
    } else {
        Some(format!("Not saved: {}", elsewhere.join("; ")))
    };
    (errors, banner)
}

/// Saves the form's object; the form again (400) when it is refused.
async fn save(
    s: &ApiState,
    session: &Session,
    k: &'static Kind,
    editing: Option<&str>,
    values: Values,
) -> PageResult {
    let name = values.get("name").cloned().unwrap_or_default();
    let base = match editing {
        Some(n) => ops::object(s, &session.caller, k.url, n).await?,
        None => {
            if ops::object(s, &session.caller, k.url, &name).await.is_ok() {
                let mut errors = BTreeMap::new();
                errors.insert(
                    "name".to_owned(),
                    format!("a {} named {name:?} already exists", k.singular),
                );
                return Ok(form_page(session, k, None, &values, &errors, None));
            }
            json!({})
        }
    };
    let object = match fields::object_from(k, &values, base, editing.is_none()) {
        Ok(o) => o,
        Err(errors) => {
            let errors = errors.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let banner = "Not saved: correct the marked fields.";
            return Ok(form_page(
                session,
                k,
                editing,
                &values,
                &errors,
                Some(banner),
            ));
        }
    };
    match ops::put_object(s, &session.caller, k.url, &name, object).await {
        Ok(_) => Ok(done(
            &format!("/objects/{}", k.url),
            if editing.is_some() {
                "saved"
            } else {
                "created"
            },
            &name,
        )),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let (errors, banner) = api_errors(k, &name, &e);
            Ok(form_page(
                session,
                k,
                editing,
                &values,
                &errors,
                banner.as_deref(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /objects/{kind}/new`.
pub async fn new_form(session: Session, Path(kind): Path<String>) -> PageResult {
    let k = kind_of(&kind)?;
    session.require(Role::Operator)?;
    Ok(form_page(
        &session,
        k,
        None,
        &fields::defaults(k),
        &BTreeMap::new(),
        None,
    ))
}

/// `POST /objects/{kind}/new`.
pub async fn create(
    session: Session,
    State(s): State<ApiState>,
    Path(kind): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let k = kind_of(&kind)?;
    let form = Fields(form);
    session.check_csrf(&form)?;
    session.require(Role::Operator)?;
    save(&s, &session, k, None, fields::values_from(k, &form)).await
}

/// `GET /objects/{kind}/edit/{name}`.
pub async fn edit_form(
    session: Session,
    State(s): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
) -> PageResult {
    let k = kind_of(&kind)?;
    session.require(Role::Operator)?;
    let object = ops::object(&s, &session.caller, k.url, &name).await?;
    let values = fields::values_of(k, &object);
    Ok(form_page(
        &session,
        k,
        Some(&name),
        &values,
        &BTreeMap::new(),
        None,
    ))
}

/// `POST /objects/{kind}/edit/{name}`.
pub async fn update(
    session: Session,
    State(s): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let k = kind_of(&kind)?;
    let form = Fields(form);
    session.check_csrf(&form)?;
    session.require(Role::Operator)?;
    let mut values = fields::values_from(k, &form);
    values.insert("name".into(), name.clone());
    save(&s, &session, k, Some(&name), values).await
}

/// `POST /objects/{kind}/delete/{name}`.
pub async fn delete(
    session: Session,
    State(s): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let k = kind_of(&kind)?;
    session.check_csrf(&Fields(form))?;
    session.require(Role::Operator)?;
    match ops::delete_object(&s, &session.caller, k.url, &name).await {
        Ok(_) => Ok(done(&format!("/objects/{}", k.url), "deleted", &name)),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let objects = ops::list_objects(&s, &session.caller, k.url).await?;
            let (_, banner) = api_errors(k, "", &e);
            let text = banner.unwrap_or_else(|| e.message.clone());
            let notice =
                layout::notice(Notice::Error, &text.replacen("Not saved", "Not deleted", 1));
            Ok(list_page(&session, k, &objects, Some(notice)))
        }
        Err(e) => Err(e.into()),
    }
}
