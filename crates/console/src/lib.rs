//! The operator web console: server-rendered HTML pages over the same operations as the REST
//! API ([`tollswitch_api::ops`]), so a form and a script cannot disagree on validation, roles
//! or the audit log. No build step: the pages are [`maud`] templates (every value escaped), one
//! stylesheet and one small script are compiled in.
//!
//! ```text
//!  browser ──GET──► Session extractor ── cookie `tollswitch_session` (the API's session)
//!     │               │ none or expired: 303 to /login;  role too low: 403 page
//!     │               ▼
//!     │           page handler ── reads Storage / Live ──► layout::page (nav + content)
//!     │
//!     └──POST──► Session + CSRF field (SHA-256 of the session token + a label) + Origin check
//!                     ▼
//!                 tollswitch_api::ops::* (role, validation, audit) ──► 303 back, or the form
//!                 again with the message next to the field the error names
//!  console.js ── every 2.5 s: GET /api/v1/live and /api/v1/calls (cookie) → dashboard, calls
//! ```
//!
//! | path | role | what |
//! |---|---|---|
//! | `/login`, `/logout` | – | log in (the API's login and lockout), log out (POST) |
//! | `/` | viewer | dashboard: calls, call rate, ASR, CDR queue, every gateway (calls, limit, last-hour ASR/ACD, marked when full, disabled or answering little), lines in use |
//! | `/objects/{kind}` and below | viewer; operator to change | accounts, mapping and routing gateways, gateway groups |
//! | `/accounts/{name}` | viewer; operator to pay | an account, its balance and payments |
//! | `/rates`, `/rates/{name}` | viewer; operator to import | rate tables; CSV import with a per-line report |
//! | `/calls` | viewer; operator to hang up | calls in progress |
//! | `/cdrs` | viewer | CDR search and CSV export |
//! | `/reports` | viewer | ASR, ACD, final codes, calls per hour, ASR and ACD per gateway over time (inline SVG) |
//! | `/parameters` | viewer; operator to change | system parameters with ranges |
//! | `/audit`, `/users` | admin | the audit log; users |

mod assets;
mod chart;
mod fields;
mod layout;
mod pages;
mod session;
mod time;

use axum::Router;
use axum::routing::{get, post};
use tollswitch_api::ApiState;

pub use session::{CSRF_FIELD, csrf_token};

/// The console's routes, ready to merge with the API's into the node's HTTP server.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(pages::dashboard::show))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/objects/{kind}", get(pages::objects::list))
        .route(
            "/objects/{kind}/new",
            get(pages::objects::new_form).post(pages::objects::create),
        )
        .route(
            "/objects/{kind}/edit/{name}",
            get(pages::objects::edit_form).post(pages::objects::update),
        )
        .route(
            "/objects/{kind}/delete/{name}",
            post(pages::objects::delete),
        )
        .route("/accounts/{name}", get(pages::accounts::show))
        .route("/accounts/{name}/pay", post(pages::accounts::pay))
        .route("/rates", get(pages::rates::list))
        .route("/rates/{name}", get(pages::rates::show))
        .route(
            "/rates/{name}/import",
            post(pages::rates::import).layer(axum::extract::DefaultBodyLimit::max(1 << 30)),
        )
        .route("/calls", get(pages::calls::list))
        .route("/calls/hangup", post(pages::calls::hangup))
        .route("/cdrs", get(pages::cdrs::search))
        .route("/reports", get(pages::reports::show))
        .route("/parameters", get(pages::parameters::list))
        .route("/parameters/{name}", post(pages::parameters::set))
        .route("/audit", get(pages::admin::audit))
        .route("/users", get(pages::admin::users))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .with_state(state)
}
