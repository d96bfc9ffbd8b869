//! `/accounts/{name}`: one account, its balance and its payments, and the payment form.

use super::{Done, PageResult, cell, done};
use crate::fields;
use crate::layout::{self, Nav, Notice, segment};
use crate::session::{Fields, Session};
use crate::time;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use tollswitch_api::{ApiState, now_ms, ops};
use tollswitch_storage::{Role, TimeRange};

/// How far back the payment history on the page goes (a year).
const HISTORY_MS: i64 = 366 * 86_400_000;

/// What the payment form shows again after a refusal.
#[derive(Debug, Default)]
struct PayForm {
    amount: String,
    note: String,
    error: Option<String>,
}

fn pay_form(session: &Session, name: &str, f: &PayForm) -> Markup {
    html! {
        form.object method="post" action=(format!("/accounts/{}/pay", segment(name))) {
            (layout::csrf_field(session))
            div.grid {
                div class=(if f.error.is_some() { "field has-error" } else { "field" }) data-field="amount" {
                    label for="amount" { "Amount" }
                    input type="text" id="amount" name="amount" value=(f.amount) inputmode="decimal"
                        aria-invalid=[f.error.is_some().then_some("true")];
                    @if let Some(e) = &f.error { p.field-error id="amount-error" role="alert" { (e) } }
                    small.help { "a negative amount reverses a payment" }
                }
                div.field {
                    label for="note" { "Note" }
                    input type="text" id="note" name="note" value=(f.note);
                }
            }
            p.actions { button type="submit" { "Record payment" } }
        }
    }
}

async fn render(
    s: &ApiState,
    session: &Session,
    name: &str,
    notice: Option<Markup>,
    form: &PayForm,
) -> PageResult {
    let account = ops::object(s, &session.caller, "accounts", name).await?;
    let balance = s.storage.account_balance(name).await?;
    let now = now_ms();
    let mut payments = s
        .storage
        .payments(Some(name), TimeRange::new(now - HISTORY_MS, now + 1))
        .await?;
    payments.reverse();
    let kind = fields::kind("accounts");
    let content = html! {
        @if let Some(n) = notice { (n) }
        div.columns {
            section {
                h2 { "Account" }
                dl.details {
                    dt { "Balance" } dd.big { (balance.map(|b| b.to_string()).unwrap_or_default()) " " (cell(account.get("currency"))) }
                    @for f in kind.map_or(&[][..], |k| k.fields) {
                        @if f.key != "balance" && f.key != "name" {
                            dt { (f.label) } dd { (cell(account.get(f.key))) }
                        }
                    }
                }
                @if session.may(Role::Operator) {
                    p.actions { a.button href=(format!("/objects/accounts/edit/{}", segment(name))) { "Edit account" } }
                }
            }
            section {
                h2 { "Payments" }
                @if session.may(Role::Operator) { (pay_form(session, name, form)) }
                table.data {
                    thead { tr { th { "When (UTC)" } th.num { "Amount" } th { "Note" } } }
                    tbody {
                        @for p in &payments {
                            tr { td { (time::utc(p.at_ms)) } td.num { (p.amount) } td { (p.note.as_deref().unwrap_or_default()) } }
                        }
                        @if payments.is_empty() { tr.empty { td colspan="3" { "No payments in the last year." } } }
                    }
                }
            }
        }
    };
    let status = if form.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(layout::page_with_status(
        status,
        session,
        Nav::Accounts,
        &format!("Account {name}"),
        content,
    ))
}

/// `GET /accounts/{name}`.
pub async fn show(
    session: Session,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> PageResult {
    render(&s, &session, &name, done.notice(), &PayForm::default()).await
}

/// `POST /accounts/{name}/pay`: `amount`, `note`.
pub async fn pay(
    session: Session,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Fields(form);
    session.check_csrf(&form)?;
    session.require(Role::Operator)?;
    let (amount, note) = (form.get("amount"), form.get("note"));
    match ops::pay(&s, &session.caller, &name, amount, note).await {
        Ok(_) => Ok(done(
            &format!("/accounts/{}", segment(&name)),
            "paid",
            &name,
        )),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let again = PayForm {
                amount: amount.unwrap_or_default().to_owned(),
                note: note.unwrap_or_default().to_owned(),
                error: Some(e.message),
            };
            let notice = layout::notice(Notice::Error, "Not recorded: correct the amount.");
            render(&s, &session, &name, Some(notice), &again).await
        }
        Err(e) => Err(e.into()),
    }
}
