//! `/audit` and `/users`: for admins only.

use super::PageResult;
use crate::layout::{self, Nav};
use crate::session::Session;
use crate::time;
use axum::extract::State;
use maud::html;
use tollswitch_api::ApiState;
use tollswitch_storage::Role;

/// Audit entries on the page, newest first.
const AUDIT_ROWS: u32 = 500;

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX - 1).collect();
        s.push('…');
        s
    }
}

/// `GET /audit`.
pub async fn audit(session: Session, State(s): State<ApiState>) -> PageResult {
    session.require(Role::Admin)?;
    let log = s.storage.audit_log(AUDIT_ROWS).await?;
    let content = html! {
        p.help { "Every change made through the API, the console or the command line; the newest " (AUDIT_ROWS) "." }
        div.scroll { table.data.audit {
            thead { tr { th.num { "#" } th { "When (UTC)" } th { "Who" } th { "Action" } th { "Object" } th { "Before" } th { "After" } } }
            tbody {
                @for e in &log {
                    tr {
                        td.num { (e.seq) }
                        td.nowrap { (time::utc(e.at_ms)) }
                        td { (e.actor) }
                        td { code { (e.action) } }
                        td { (e.object) }
                        td.json title=[e.before.as_deref()] { (shorten(e.before.as_deref().unwrap_or_default())) }
                        td.json title=[e.after.as_deref()] { (shorten(e.after.as_deref().unwrap_or_default())) }
                    }
                }
                @if log.is_empty() { tr.empty { td colspan="7" { "Nothing changed yet." } } }
            }
        } }
    };
    Ok(layout::page(&session, Nav::Audit, "Audit log", content))
}

/// `GET /users`.
pub async fn users(session: Session, State(s): State<ApiState>) -> PageResult {
    session.require(Role::Admin)?;
    let users = s.storage.users().await?;
    let now = tollswitch_api::now_ms();
    let content = html! {
        table.data {
            thead { tr { th { "Name" } th { "Role" } th.num { "Failed logins" } th { "Locked until (UTC)" } } }
            tbody {
                @for u in &users {
                    tr {
                        td { (u.name) }
                        td { (u.role.as_str()) }
                        td.num { (u.failed_logins) }
                        td { @if u.locked_until_ms > now { (time::utc(u.locked_until_ms)) } @else { "–" } }
                    }
                }
            }
        }
        p.help {
            "Add a user, or set a user's password and role (which ends their sessions): "
            code { "tollswitch user add NAME --role admin|operator|viewer" }
            " (the password is read from TOLLSWITCH_PASSWORD or standard input)."
        }
    };
    Ok(layout::page(&session, Nav::Users, "Users", content))
}
