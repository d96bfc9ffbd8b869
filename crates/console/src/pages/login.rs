//! `/login` and `/logout`: the API's login (same lockout, same session) behind a form.

use super::PageResult;
use crate::layout;
use crate::session::{Fields, PageError, Session, check_origin, local_path};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tollswitch_api::{ApiState, auth, ops};

/// `?next=` after a redirect to the login page.
#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn login_page(status: StatusCode, next: &str, name: &str, error: Option<&str>) -> Response {
    layout::bare(
        status,
        "Log in",
        html! {
            @if let Some(e) = error { p.notice.error role="alert" { (e) } }
            form.stack method="post" action="/login" {
                input type="hidden" name="next" value=(local_path(next));
                label { "Name" input name="name" value=(name) autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// `GET /login`.
pub async fn form(Query(q): Query<Next>) -> Response {
    login_page(StatusCode::OK, q.next.as_deref().unwrap_or("/"), "", None)
}

/// `POST /login`: a session cookie and a redirect, or the form again with the reason.
pub async fn submit(
    State(s): State<ApiState>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    check_origin(&method, &headers)?;
    let form = Fields(form);
    let next = local_path(form.get("next").unwrap_or("/")).to_owned();
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    match ops::login(&s, Some(&name), form.get("password")).await {
        Ok(session) => Ok((
            [(SET_COOKIE, auth::session_cookie(&session.token))],
            Redirect::to(&next),
        )
            .into_response()),
        Err(e) if e.status.is_client_error() => {
            Ok(login_page(e.status, &next, &name, Some(&e.message)))
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// `POST /logout`: the session is deleted on the server and the cookie cleared.
pub async fn logout(
    session: Session,
    State(s): State<ApiState>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    session.check_csrf(&Fields(form))?;
    ops::logout(&s, &session.caller).await?;
    Ok((
        [(SET_COOKIE, auth::cleared_session_cookie())],
        Redirect::to("/login"),
    )
        .into_response())
}
