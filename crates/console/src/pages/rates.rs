//! `/rates`: rate tables and the CSV import — a file upload or pasted text, all or nothing,
//! with the refused lines listed (the API's rate import, [`ops::import_rates`]).

use super::PageResult;
use crate::layout::{self, Nav, Notice, segment};
use crate::session::{Fields, PageError, Session};
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde_json::Value;
use tollswitch_api::error::ApiError;
use tollswitch_api::{ApiState, ops};
use tollswitch_storage::{RATE_CSV_COLUMNS, RateTableSummary, Role};

/// How many refused lines an import lists by default.
const DEFAULT_MAX_ERRORS: usize = 100;

/// `GET /rates`.
pub async fn list(session: Session, State(s): State<ApiState>) -> PageResult {
    let tables = s.storage.rate_tables().await?;
    let content = html! {
        table.data {
            thead { tr { th { "Name" } th { "Currency" } th.num { "Rates" } } }
            tbody {
                @for t in &tables {
                    tr {
                        td { a href=(format!("/rates/{}", segment(&t.name))) { (t.name) } }
                        td { (t.currency) }
                        td.num { (t.rates) }
                    }
                }
                @if tables.is_empty() { tr.empty { td colspan="3" { "No rate tables." } } }
            }
        }
        p.help { "Rate tables are created with the provisioning file (" code { "tollswitch provision apply" } "); their rates are replaced here from CSV." }
    };
    Ok(layout::page(&session, Nav::Rates, "Rate tables", content))
}

async fn table(s: &ApiState, name: &str) -> Result<RateTableSummary, PageError> {
    s.storage
        .rate_tables()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| PageError::NotFound(format!("no rate table named {name:?}")))
}

/// What the import did, to show under the form.
enum Outcome {
    Form,
    Imported { imported: u64, replaced: u64 },
    Refused(ApiError),
}

fn refused(e: &ApiError) -> Markup {
    html! {
        (layout::notice(Notice::Error, &e.message))
        @if !e.details.is_empty() {
            table.data.errors {
                thead { tr { th.num { "Line" } th { "Column" } th { "Problem" } } }
                tbody {
                    @for d in &e.details {
                        tr {
                            td.num { (d.get("line").and_then(Value::as_u64).unwrap_or(0)) }
                            td { (d.get("field").and_then(Value::as_str).unwrap_or_default()) }
                            td { (d.get("message").and_then(Value::as_str).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn table_page(
    session: &Session,
    t: &RateTableSummary,
    outcome: &Outcome,
    pasted: &str,
) -> axum::response::Response {
    let content = html! {
        @match outcome {
            Outcome::Form => {},
            Outcome::Imported { imported, replaced } => {
                (layout::notice(Notice::Done, &format!("Imported {imported} rate(s) into {}; {replaced} replaced.", t.name)))
            },
            Outcome::Refused(e) => (refused(e)),
        }
        p { (t.rates) " rate(s) in " (t.currency) "." }
        @if session.may(Role::Operator) {
            form.object method="post" action=(format!("/rates/{}/import", segment(&t.name))) enctype="multipart/form-data"
                data-confirm="Replace every rate of this table?" {
                (layout::csrf_field(session))
                div.field {
                    label for="file" { "CSV file" }
                    input type="file" id="file" name="file" accept=".csv,text/csv,text/plain";
                }
                div.field {
                    label for="csv" { "or paste the rates" }
                    textarea id="csv" name="csv" rows="8" spellcheck="false" placeholder="prefix,area,price\n44,United Kingdom,0.02" { (pasted) }
                    small.help {
                        "Columns (header row first; prefix and price required): "
                        code { (RATE_CSV_COLUMNS.join(",")) }
                        ". Every rate of the table is replaced; a file with any bad line changes nothing."
                    }
                }
                p.actions { button type="submit" { "Import" } }
            }
        }
    };
    let status = match outcome {
        Outcome::Refused(e) => e.status,
        _ => StatusCode::OK,
    };
    layout::page_with_status(
        status,
        session,
        Nav::Rates,
        &format!("Rate table {}", t.name),
        content,
    )
}

/// `GET /rates/{name}`.
pub async fn show(
    session: Session,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> PageResult {
    let t = table(&s, &name).await?;
    Ok(table_page(&session, &t, &Outcome::Form, ""))
}

/// The parts of the import form.
struct Upload {
    fields: Fields,
    file: Bytes,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, PageError> {
    let mut fields = Vec::new();
    let mut file = Bytes::new();
    let bad = |e: axum::extract::multipart::MultipartError| {
        PageError::BadRequest(format!("the upload could not be read: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file = field.bytes().await.map_err(bad)?;
        } else {
            let text = field.text().await.map_err(bad)?;
            fields.push((name, text));
        }
    }
    Ok(Upload {
        fields: Fields(fields),
        file,
    })
}

/// `POST /rates/{name}/import` (multipart): `file` or `csv`, and `max_errors`.
pub async fn import(
    session: Session,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let upload = read_upload(multipart).await?;
    session.check_csrf(&upload.fields)?;
    session.require(Role::Operator)?;
    let t = table(&s, &name).await?;
    let pasted = upload.fields.get("csv").unwrap_or_default();
    let csv = if upload.file.is_empty() {
        Bytes::from(pasted.to_owned())
    } else {
        upload.file
    };
    if csv.iter().all(u8::is_ascii_whitespace) {
        let e = ApiError::invalid("file", "choose a CSV file or paste the rates");
        return Ok(table_page(&session, &t, &Outcome::Refused(e), pasted));
    }
    let max_errors = upload
        .fields
        .text("max_errors")
        .and_then(|m| m.parse().ok())
        .unwrap_or(DEFAULT_MAX_ERRORS);
    let outcome = match ops::import_rates(&s, &session.caller, &name, csv, max_errors).await {
        Ok(summary) => Outcome::Imported {
            imported: summary.imported,
            replaced: summary.replaced,
        },
        Err(e) if e.status == StatusCode::BAD_REQUEST => Outcome::Refused(e),
        Err(e) => return Err(e.into()),
    };
    let t = table(&s, &name).await?;
    let keep = if matches!(outcome, Outcome::Refused(_)) {
        pasted
    } else {
        ""
    };
    Ok(table_page(&session, &t, &outcome, keep))
}
