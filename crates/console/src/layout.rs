//! The page shell every console page shares: the left navigation, the header with the user and
//! the logout button, notices, and the response headers (no caching, a strict content policy:
//! only this site's stylesheet and script run).

use crate::assets;
use crate::session::{CSRF_FIELD, Session};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use tollswitch_storage::Role;

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`.
    Dashboard,
    /// `/calls`.
    Calls,
    /// `/cdrs`.
    Cdrs,
    /// `/reports`.
    Reports,
    /// `/objects/accounts`, `/accounts/…`.
    Accounts,
    /// `/objects/mapping-gateways`.
    MappingGateways,
    /// `/objects/routing-gateways`.
    RoutingGateways,
    /// `/objects/gateway-groups`.
    GatewayGroups,
    /// `/rates`.
    Rates,
    /// `/parameters`.
    Parameters,
    /// `/audit`.
    Audit,
    /// `/users`.
    Users,
}

/// One navigation link: its entry, path, label and the least role that sees it.
type Link = (Nav, &'static str, &'static str, Role);

/// Navigation, in sections.
const NAV: &[(&str, &[Link])] = &[
    (
        "Traffic",
        &[
            (Nav::Dashboard, "/", "Dashboard", Role::Viewer),
            (Nav::Calls, "/calls", "Current calls", Role::Viewer),
            (Nav::Cdrs, "/cdrs", "CDR search", Role::Viewer),
            (Nav::Reports, "/reports", "Reports", Role::Viewer),
        ],
    ),
    (
        "Provisioning",
        &[
            (Nav::Accounts, "/objects/accounts", "Accounts", Role::Viewer),
            (
                Nav::MappingGateways,
                "/objects/mapping-gateways",
                "Mapping gateways",
                Role::Viewer,
            ),
            (
                Nav::RoutingGateways,
                "/objects/routing-gateways",
                "Routing gateways",
                Role::Viewer,
            ),
            (
                Nav::GatewayGroups,
                "/objects/gateway-groups",
                "Gateway groups",
                Role::Viewer,
            ),
            (Nav::Rates, "/rates", "Rate tables", Role::Viewer),
        ],
    ),
    (
        "System",
        &[
            (Nav::Parameters, "/parameters", "Parameters", Role::Viewer),
            (Nav::Audit, "/audit", "Audit log", Role::Admin),
            (Nav::Users, "/users", "Users", Role::Admin),
        ],
    ),
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn with_headers(status: StatusCode, body: Markup) -> Response {
    let mut resp = (status, Html(body.into_string())).into_response();
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · Tollswitch" }
        link rel="stylesheet" href=(assets::css_url());
    }
}

fn nav(session: &Session, active: Nav) -> Markup {
    html! {
        nav.side aria-label="Sections" {
            a.brand href="/" { "Tollswitch" }
            @for (section, entries) in NAV {
                h2 { (section) }
                ul {
                    @for (entry, path, label, role) in *entries {
                        @if session.may(*role) {
                            li {
                                a href=(path) aria-current=[(*entry == active).then_some("page")] {
                                    (label)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A hidden CSRF field for a form of this session.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A full page: navigation, header, `content`; status 200.
pub fn page(session: &Session, active: Nav, title: &str, content: Markup) -> Response {
    page_with_status(StatusCode::OK, session, active, title, content)
}

/// A full page with another status (a form shown again with its errors is a 400).
pub fn page_with_status(
    status: StatusCode,
    session: &Session,
    active: Nav,
    title: &str,
    content: Markup,
) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head(title))
                meta name="csrf-token" content=(session.csrf);
                script src=(assets::js_url()) defer {}
            }
            body data-role=(session.caller.role.as_str()) {
                (nav(session, active))
                div.main {
                    header.top {
                        h1 { (title) }
                        div.who {
                            span { (session.caller.name) " · " (session.caller.role.as_str()) }
                            form method="post" action="/logout" {
                                (csrf_field(session))
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                    main { (content) }
                }
            }
        }
    };
    with_headers(status, body)
}

/// A page without navigation (login, errors).
pub fn bare(status: StatusCode, title: &str, content: Markup) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body.bare {
                div.card.narrow {
                    p.brand { "Tollswitch" }
                    h1 { (title) }
                    (content)
                }
            }
        }
    };
    with_headers(status, body)
}

/// An error page: what went wrong and the way back.
pub fn bare_page(status: StatusCode, title: &str, message: &str) -> Response {
    bare(
        status,
        title,
        html! {
            p.error { (message) }
            p { a href="/" { "Back to the dashboard" } }
        },
    )
}

/// A notice above a page's content: what was just done, or what went wrong.
pub fn notice(kind: Notice, text: &str) -> Markup {
    let class = match kind {
        Notice::Done => "notice done",
        Notice::Error => "notice error",
    };
    html! { p class=(class) role=(if kind == Notice::Error { "alert" } else { "status" }) { (text) } }
}

/// The kind of a [`notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Something was done.
    Done,
    /// Something failed.
    Error,
}

/// `text` percent-encoded for a query value or a path segment (RFC 3986 unreserved kept).
pub fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment for a name (same encoding as [`query_value`]).
pub fn segment(name: &str) -> String {
    query_value(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_for_urls() {
        assert_eq!(query_value("vendor-a_gw.1~"), "vendor-a_gw.1~");
        assert_eq!(query_value("a b/c?d&é"), "a%20b%2Fc%3Fd%26%C3%A9");
    }
}
