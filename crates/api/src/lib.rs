//! The management REST API under `/api/v1`: JSON in and out, bearer tokens for scripts and a
//! session cookie for the console, roles admin / operator / viewer, every change audited.
//!
//! | method and path | role | what |
//! |---|---|---|
//! | `POST /api/v1/login` | – | `{name, password}` → a session (cookie + token, 12 h idle); locks after 5 failures |
//! | `POST /api/v1/logout` | viewer | ends the session (or revokes the token) the request came with |
//! | `GET /api/v1/me` | viewer | who the caller is |
//! | `GET /api/v1/accounts` | viewer | accounts with live stored balances |
//! | `POST /api/v1/accounts/{name}/payments` | operator | `{amount, note?}` → ledger entry |
//! | `GET /api/v1/parameters` | viewer | every system parameter, its value and range |
//! | `PUT /api/v1/parameters/{name}` | operator | `{value}`, validated against the range |
//! | `GET /api/v1/cdrs?from_ms&until_ms&account&…` | viewer | CDR search (day cap applies) |
//! | `GET /api/v1/cdrs.csv?from_ms&until_ms&account&…` | viewer | every matching CDR as CSV, streamed |
//! | `GET /api/v1/reports/{kind}?from_ms&until_ms` | viewer | gateways, vendors, mapping-gateways, accounts, areas, hours, codes |
//! | `GET /api/v1/provisioning` | viewer | the whole provisioning set (the `provision export` format, as JSON) |
//! | `POST /api/v1/provisioning?dry_run=true` | operator | validate a set and show what applying it would change |
//! | `POST /api/v1/provisioning` | operator | apply it (one transaction); the running switch reloads |
//! | `GET /api/v1/objects/{kind}?offset&limit&name_prefix` | viewer | accounts, mapping-gateways, routing-gateways, gateway-groups (paged) |
//! | `GET /api/v1/objects/{kind}/{name}` | viewer | one object |
//! | `PUT /api/v1/objects/{kind}/{name}` | operator | create or replace it (validated like a provisioning set; audited) |
//! | `DELETE /api/v1/objects/{kind}/{name}` | operator | remove it (refused while others refer to it) |
//! | `POST /api/v1/rate-tables/{name}/import` | operator | replace a table's rates from a CSV body (all or nothing; per-line errors) |
//! | `GET /api/v1/live` | viewer | the running switch's counters; every gateway with its calls, limit and last-hour ASR/ACD |
//! | `GET /api/v1/calls` | viewer | calls in progress: numbers, gateways, state, start and answer times |
//! | `DELETE /api/v1/calls/{call_id}` | operator | hang a call up (audited) |
//! | `GET /api/v1/route/explain?from_ip&caller&callee[&digest_user][&at]` | viewer | the running switch's decision, explained |
//! | `GET /api/v1/users`, `GET /api/v1/audit` | admin | users; the audit log |
//!
//! Errors: [`error::ApiError`] (one table of status, code, message, field). The API sees the
//! running switch only through [`Live`]. The work behind each route is in [`ops`], shared with
//! the web console (`tollswitch-console`).

pub mod auth;
pub mod error;
pub mod openapi;
pub mod ops;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::ops::CdrQuery;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;
use tollswitch_model::cdr::{CSV_HEADER, Cdr, csv_row};
use tollswitch_storage::{CdrFilter, Role, Storage};

/// What the API may read of the running switch.
pub trait Live: Send + Sync + 'static {
    /// Counters of the running switch (calls, lines per gateway, queues), as JSON.
    fn stats(&self) -> Value;

    /// The running switch's routing decision for a call, explained (the `route explain --json`
    /// form), with its live line counters; `None` without a running switch.
    fn explain(&self, _query: &ExplainQuery) -> Option<Value> {
        None
    }

    /// The calls in progress (JSON array); `None` without a running switch.
    fn calls(&self) -> BoxFuture<'_, Option<Value>> {
        Box::pin(async { None })
    }

    /// Hangs up a call by its leg A Call-ID: `Some(found)`, `None` without a running switch.
    fn hangup<'a>(&'a self, _call_id: &'a str) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async { None })
    }
}

/// A boxed future, for the asynchronous methods of [`Live`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A call to explain.
#[derive(Debug, Clone, Deserialize)]
pub struct ExplainQuery {
    /// Source address: `IP` or `IP:PORT` (port 5060 when omitted).
    pub from_ip: Option<String>,
    /// Caller as received.
    pub caller: Option<String>,
    /// Callee as received.
    pub callee: Option<String>,
    /// A verified digest user, as if the caller had authenticated.
    pub digest_user: Option<String>,
    /// Route as of this unix time in seconds (default now).
    pub at: Option<i64>,
    /// Parsed `from_ip`, filled by the API.
    #[serde(skip)]
    pub source: Option<std::net::SocketAddr>,
}

/// No running switch (tests, tools).
pub struct NoLive;

impl Live for NoLive {
    fn stats(&self) -> Value {
        json!({})
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub storage: Storage,
    /// The running switch.
    pub live: Arc<dyn Live>,
    /// Serialises the read-modify-apply of object edits on this node.
    pub edits: Arc<tokio::sync::Mutex<()>>,
    /// The last-hour figures of `/api/v1/live`, reused for a few seconds (see [`ops::live`]).
    hour_figures: Arc<tokio::sync::Mutex<Option<Arc<ops::HourFigures>>>>,
}

impl ApiState {
    /// State over `storage` and `live`.
    pub fn new(storage: Storage, live: Arc<dyn Live>) -> ApiState {
        ApiState {
            storage,
            live,
            edits: Arc::new(tokio::sync::Mutex::new(())),
            hour_figures: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// JSON of a serialisable value, or a 500.
fn to_json<T: serde::Serialize>(v: &T) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The API routes, ready to merge into the node's HTTP server.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs))
        .route("/api/v1/accounts", get(accounts))
        .route("/api/v1/accounts/{name}/payments", post(pay))
        .route("/api/v1/parameters", get(parameters))
        .route("/api/v1/parameters/{name}", put(set_parameter))
        .route("/api/v1/cdrs", get(cdrs))
        .route("/api/v1/cdrs.csv", get(cdrs_csv))
        .route("/api/v1/reports/{kind}", get(report))
        .route("/api/v1/provisioning", get(provisioning).post(apply))
        .route("/api/v1/objects/{kind}", get(list_objects))
        .route(
            "/api/v1/objects/{kind}/{name}",
            get(get_object).put(put_object).delete(delete_object),
        )
        .route(
            "/api/v1/rate-tables/{name}/import",
            post(import_rates).layer(axum::extract::DefaultBodyLimit::max(1 << 30)),
        )
        .route("/api/v1/live", get(live))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/calls/{call_id}", axum::routing::delete(hangup))
        .route("/api/v1/route/explain", get(explain))
        .route("/api/v1/users", get(users))
        .route("/api/v1/audit", get(audit))
        .with_state(state)
}

#[derive(Deserialize)]
struct Login {
    name: Option<String>,
    password: Option<String>,
}

async fn login(
    State(s): State<ApiState>,
    Json(body): Json<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let session = ops::login(&s, body.name.as_deref(), body.password.as_deref()).await?;
    Ok((
        [(SET_COOKIE, auth::session_cookie(&session.token))],
        Json(json!({"name": session.name, "role": session.role, "token": session.token})),
    ))
}

async fn logout(State(s): State<ApiState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    ops::logout(&s, &caller).await?;
    Ok((
        [(SET_COOKIE, auth::cleared_session_cookie())],
        Json(json!({"logged_out": caller.name})),
    ))
}

async fn openapi_json(caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(openapi::document()))
}

async fn docs(caller: Caller) -> Result<axum::response::Html<String>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(axum::response::Html(openapi::html()))
}

async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"name": caller.name, "role": caller.role}))
}

async fn accounts(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    to_json(&s.storage.load_provisioning().await?.accounts)
}

#[derive(Deserialize)]
struct Payment {
    amount: Option<String>,
    note: Option<String>,
}

async fn pay(
    State(s): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<Payment>,
) -> Result<Json<Value>, ApiError> {
    let entry = ops::pay(
        &s,
        &caller,
        &name,
        body.amount.as_deref(),
        body.note.as_deref(),
    )
    .await?;
    to_json(&entry)
}

async fn parameters(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let current = s.storage.parameters().await?;
    let rows: Vec<Value> = current
        .iter()
        .map(|(spec, v)| {
            json!({
                "name": spec.name,
                "value": v.to_string(),
                "default": spec.default,
                "accepted": spec.kind.expected(),
                "description": spec.description,
            })
        })
        .collect();
    Ok(Json(Value::Array(rows)))
}

#[derive(Deserialize)]
struct SetParameter {
    value: Option<String>,
}

async fn set_parameter(
    State(s): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<SetParameter>,
) -> Result<Json<Value>, ApiError> {
    ops::set_parameter(&s, &caller, &name, body.value.as_deref()).await?;
    Ok(Json(json!({"name": name, "value": body.value})))
}

async fn cdrs(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<CdrQuery>,
) -> Result<Json<Value>, ApiError> {
    let (filter, max_days) = ops::cdr_filter(&s, &caller, &q).await?;
    to_json(&ops::search_cdrs(&s, &filter, max_days).await?)
}

/// Where a CSV export is: the next filter to read, or the first page already read.
struct CsvExport {
    state: ApiState,
    max_days: u32,
    filter: Option<CdrFilter>,
    first: Option<Vec<Cdr>>,
}

/// CSV text of `rows`, with the header row first when `header`.
fn csv_chunk(rows: &[Cdr], header: bool) -> Result<Bytes, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(256 * rows.len() + 512));
    if header {
        w.write_record(CSV_HEADER)?;
    }
    for c in rows {
        w.write_record(csv_row(c))?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

impl CsvExport {
    /// The next chunk of the CSV body: one page of up to 10 000 rows.
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, CsvExport)> {
        let filter = self.filter.take()?;
        let header = self.first.is_some();
        let page = match self.first.take() {
            Some(rows) => rows,
            None => match ops::search_cdrs(&self.state, &filter, self.max_days).await {
                Ok(rows) => rows,
                Err(e) => return Some((Err(std::io::Error::other(e.message)), self)),
            },
        };
        self.filter = filter.next_page(&page);
        Some((csv_chunk(&page, header), self))
    }
}

/// Every CDR matching the filters (`limit` and `offset` do not apply) as CSV, in the columns of
/// the CDR files, streamed page by page. The first page is read before the answer starts, so a
/// bad range is still a 400.
async fn cdrs_csv(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<CdrQuery>,
) -> Result<Response, ApiError> {
    let (mut filter, max_days) = ops::cdr_filter(&s, &caller, &q).await?;
    filter.limit = tollswitch_storage::MAX_SEARCH_LIMIT;
    filter.offset = 0;
    let first = ops::search_cdrs(&s, &filter, max_days).await?;
    let export = CsvExport {
        state: s,
        max_days,
        filter: Some(filter),
        first: Some(first),
    };
    let body = Body::from_stream(futures_util::stream::unfold(export, CsvExport::next));
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"cdrs.csv\""),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
struct RangeQuery {
    from_ms: Option<i64>,
    until_ms: Option<i64>,
}

async fn report(
    State(s): State<ApiState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let range = CdrQuery {
        from_ms: q.from_ms,
        until_ms: q.until_ms,
        ..CdrQuery::default()
    }
    .range()?;
    let st = &s.storage;
    match kind.as_str() {
        "gateways" => to_json(&st.report_by_routing_gateway(range).await?),
        "vendors" => to_json(&st.report_by_vendor(range).await?),
        "mapping-gateways" => to_json(&st.report_by_mapping_gateway(range).await?),
        "accounts" => to_json(&st.report_by_account(range).await?),
        "areas" => to_json(&st.report_by_area(range).await?),
        "hours" => to_json(&st.report_by_hour(range).await?),
        "codes" => to_json(&st.report_codes_by_gateway(range).await?),
        _ => Err(ApiError::not_found(format!(
            "no report {kind:?} (gateways, vendors, mapping-gateways, accounts, areas, hours, codes)"
        ))),
    }
}

async fn provisioning(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    to_json(&s.storage.export().await?)
}

#[derive(Deserialize)]
struct ApplyQuery {
    dry_run: Option<bool>,
}

async fn apply(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<ApplyQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let p: tollswitch_model::provisioning::Provisioning = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not a provisioning set: {e}")))?;
    let dry_run = q.dry_run.unwrap_or(false);
    let result = if dry_run {
        s.storage.plan(&p).await
    } else {
        s.storage.apply(&p).await
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(tollswitch_storage::StorageError::Invalid(errors)) => {
            return Err(ops::invalid_set(&errors));
        }
        Err(e) => return Err(e.into()),
    };
    let summary = serde_json::to_value(&summary).map_err(|e| ApiError::internal(e.to_string()))?;
    if !dry_run {
        s.storage
            .audit(
                now_ms(),
                &caller.name,
                "provisioning.apply",
                "provisioning",
                None,
                Some(&summary.to_string()),
            )
            .await?;
    }
    Ok(Json(json!({"applied": !dry_run, "changes": summary})))
}

async fn explain(
    State(s): State<ApiState>,
    caller: Caller,
    Query(mut q): Query<ExplainQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let from = q
        .from_ip
        .as_deref()
        .ok_or_else(|| ApiError::invalid("from_ip", "from_ip is required (IP or IP:PORT)"))?;
    let source = from.parse::<std::net::SocketAddr>().ok().or_else(|| {
        from.trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, 5060))
    });
    q.source = Some(source.ok_or_else(|| {
        ApiError::invalid(
            "from_ip",
            format!("{from:?} is not an IP address or IP:PORT"),
        )
    })?);
    if q.caller.is_none() {
        return Err(ApiError::invalid("caller", "caller is required"));
    }
    if q.callee.is_none() {
        return Err(ApiError::invalid("callee", "callee is required"));
    }
    s.live
        .explain(&q)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no running switch to ask"))
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
    name_prefix: Option<String>,
}

async fn list_objects(
    State(s): State<ApiState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    let all = ops::list_objects(&s, &caller, &kind).await?;
    let matching: Vec<&Value> = all
        .iter()
        .filter(|o| {
            page.name_prefix.as_deref().is_none_or(|p| {
                o.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with(p))
            })
        })
        .collect();
    let limit = page.limit.unwrap_or(100).min(1000);
    let items: Vec<&Value> = matching
        .iter()
        .skip(page.offset.unwrap_or(0))
        .take(limit)
        .copied()
        .collect();
    Ok(Json(json!({"total": matching.len(), "items": items})))
}

async fn get_object(
    State(s): State<ApiState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    ops::object(&s, &caller, &kind, &name).await.map(Json)
}

async fn put_object(
    State(s): State<ApiState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    ops::kind_key(&kind)?;
    let object: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?;
    ops::put_object(&s, &caller, &kind, &name, object)
        .await
        .map(Json)
}

async fn delete_object(
    State(s): State<ApiState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    ops::delete_object(&s, &caller, &kind, &name)
        .await
        .map(Json)
}

async fn calls(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    ops::calls(&s, &caller).await.map(Json)
}

async fn hangup(
    State(s): State<ApiState>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    ops::hangup(&s, &caller, &call_id).await?;
    Ok(Json(json!({"call_id": call_id, "hung_up": true})))
}

#[derive(Deserialize)]
struct ImportQuery {
    max_errors: Option<usize>,
}

async fn import_rates(
    State(s): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let summary = ops::import_rates(&s, &caller, &name, body, q.max_errors.unwrap_or(100)).await?;
    Ok(Json(json!({
        "table": summary.table,
        "imported": summary.imported,
        "replaced": summary.replaced,
    })))
}

async fn live(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    ops::live(&s, &caller).await.map(Json)
}

async fn users(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    to_json(&s.storage.users().await?)
}

async fn audit(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    to_json(&s.storage.audit_log(1000).await?)
}
