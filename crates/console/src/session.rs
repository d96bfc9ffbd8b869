//! Who is asking, and whether a form post is genuine.
//!
//! A page request needs the API's session cookie; without a valid one it is sent to `/login`.
//! A form post must also carry the session's CSRF token in the hidden field [`CSRF_FIELD`]: the
//! SHA-256 of the session token and a fixed label, so it needs no storage, differs per session,
//! and cannot be computed by a page that cannot read the HttpOnly cookie. The SameSite=Strict
//! cookie already keeps other sites' forms from arriving logged in; the token and a check of the
//! `Origin` header are the second and third locks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use tollswitch_api::ApiState;
use tollswitch_api::auth::{self, Caller};
use tollswitch_api::error::ApiError;
use tollswitch_storage::Role;

/// The hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The CSRF token of a session: hex SHA-256 of the session token and a fixed label.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(session_token.as_bytes())
        .chain_update(b"\0tollswitch-console-csrf")
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time independent of where the texts differ.
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A logged-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, with which role.
    pub caller: Caller,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// `Ok` when the operator's role is at least `role`, else the 403 page.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        self.caller.require(role).map_err(PageError::from)
    }

    /// True when the operator's role is at least `role` (to show or hide controls).
    pub fn may(&self, role: Role) -> bool {
        self.caller.role >= role
    }

    /// `Ok` when a posted form carries this session's CSRF token.
    pub fn check_csrf(&self, form: &Fields) -> Result<(), PageError> {
        match form.get(CSRF_FIELD) {
            Some(t) if same_text(t, &self.csrf) => Ok(()),
            _ => Err(PageError::Forbidden(
                "this form is out of date or did not come from this console: reload the page \
                 and try again"
                    .into(),
            )),
        }
    }
}

/// `Ok` unless the request is a POST whose `Origin` names another site than `Host`.
pub fn check_origin(method: &Method, headers: &HeaderMap) -> Result<(), PageError> {
    if method != Method::POST {
        return Ok(());
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(PageError::Forbidden(format!(
            "a form posted from {origin:?} is not accepted here"
        ))),
    }
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, PageError> {
        let next = parts.uri.path().to_owned();
        let token =
            auth::session_token(&parts.headers).ok_or(PageError::Login { next: next.clone() })?;
        let caller = match auth::authenticate(state, &token).await {
            Ok(c) => c,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                return Err(PageError::Login { next });
            }
            Err(e) => return Err(e.into()),
        };
        check_origin(&parts.method, &parts.headers)?;
        Ok(Session {
            caller,
            csrf: csrf_token(&token),
        })
    }
}

/// The fields of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// A page that cannot be shown: where to send the browser instead, or what to tell it.
#[derive(Debug)]
pub enum PageError {
    /// Not logged in (or the session is over): to `/login`, then back to `next`.
    Login {
        /// The path to return to after logging in.
        next: String,
    },
    /// 400.
    BadRequest(String),
    /// 403: the role does not allow it, or a forged form.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 500.
    Internal(String),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        match e.status {
            StatusCode::UNAUTHORIZED => PageError::Login { next: "/".into() },
            StatusCode::FORBIDDEN => PageError::Forbidden(e.message),
            StatusCode::NOT_FOUND => PageError::NotFound(e.message),
            s if s.is_client_error() => PageError::BadRequest(e.message),
            _ => PageError::Internal(e.message),
        }
    }
}

impl From<tollswitch_storage::StorageError> for PageError {
    fn from(e: tollswitch_storage::StorageError) -> PageError {
        PageError::Internal(e.to_string())
    }
}

/// A path that is safe to redirect to after login: on this site, not `//host`.
pub fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PageError::Login { next } => {
                let next = local_path(&next);
                let to = if next == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={}", crate::layout::query_value(next))
                };
                return Redirect::to(&to).into_response();
            }
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            PageError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, "Something failed", m),
        };
        crate::layout::bare_page(status, title, &message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_are_stable() {
        let a = csrf_token("ts_one");
        assert_eq!(a, csrf_token("ts_one"));
        assert_ne!(a, csrf_token("ts_two"));
        assert_eq!(a.len(), 64);
        assert!(same_text(&a, &csrf_token("ts_one")));
        assert!(!same_text(&a, &a[..63]));
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path("/cdrs"), "/cdrs");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().expect("header"));
        assert!(
            check_origin(&Method::POST, &h).is_ok(),
            "no Origin: old clients"
        );
        h.insert(
            header::ORIGIN,
            "http://127.0.0.1:8080".parse().expect("header"),
        );
        assert!(check_origin(&Method::POST, &h).is_ok());
        h.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("header"),
        );
        assert!(check_origin(&Method::POST, &h).is_err());
        assert!(check_origin(&Method::GET, &h).is_ok());
    }
}
