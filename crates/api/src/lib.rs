//! The management REST API under `/api/v1`: JSON in and out, bearer tokens for scripts and a
//! session cookie for the console, roles admin / operator / viewer, every change audited.
//!
//! | method and path | role | what |
//! |---|---|---|
//! | `POST /api/v1/login` | – | `{name, password}` → a session (cookie + token); locks after 5 failures |
//! | `GET /api/v1/me` | viewer | who the caller is |
//! | `GET /api/v1/accounts` | viewer | accounts with live stored balances |
//! | `POST /api/v1/accounts/{name}/payments` | operator | `{amount, note?}` → ledger entry |
//! | `GET /api/v1/parameters` | viewer | every system parameter, its value and range |
//! | `PUT /api/v1/parameters/{name}` | operator | `{value}`, validated against the range |
//! | `GET /api/v1/cdrs?from_ms&until_ms&account&…` | viewer | CDR search (day cap applies) |
//! | `GET /api/v1/reports/{kind}?from_ms&until_ms` | viewer | gateways, vendors, mapping-gateways, accounts, areas, hours, codes |
//! | `GET /api/v1/provisioning` | viewer | the whole provisioning set (the `provision export` format, as JSON) |
//! | `POST /api/v1/provisioning?dry_run=true` | operator | validate a set and show what applying it would change |
//! | `POST /api/v1/provisioning` | operator | apply it (one transaction); the running switch reloads |
//! | `GET /api/v1/objects/{kind}?offset&limit&name_prefix` | viewer | accounts, mapping-gateways, routing-gateways, gateway-groups (paged) |
//! | `GET /api/v1/objects/{kind}/{name}` | viewer | one object |
//! | `PUT /api/v1/objects/{kind}/{name}` | operator | create or replace it (validated like a provisioning set; audited) |
//! | `DELETE /api/v1/objects/{kind}/{name}` | operator | remove it (refused while others refer to it) |
//! | `POST /api/v1/rate-tables/{name}/import` | operator | replace a table's rates from a CSV body (all or nothing; per-line errors) |
//! | `GET /api/v1/live` | viewer | the running switch's counters |
//! | `GET /api/v1/calls` | viewer | calls in progress: numbers, gateways, state, start and answer times |
//! | `DELETE /api/v1/calls/{call_id}` | operator | hang a call up (audited) |
//! | `GET /api/v1/route/explain?from_ip&caller&callee[&digest_user][&at]` | viewer | the running switch's decision, explained |
//! | `GET /api/v1/users`, `GET /api/v1/audit` | admin | users; the audit log |
//!
//! Errors: [`error::ApiError`] (one table of status, code, message, field). The API sees the
//! running switch only through [`Live`].

pub mod auth;
pub mod error;
pub mod openapi;

use crate::auth::{Caller, MAX_FAILED_LOGINS, SESSION_COOKIE};
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;
use tollswitch_model::Money;
use tollswitch_model::params;
use tollswitch_storage::{CdrFilter, Role, Storage, TimeRange};

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
}

impl ApiState {
    /// State over `storage` and `live`.
    pub fn new(storage: Storage, live: Arc<dyn Live>) -> ApiState {
        ApiState {
            storage,
            live,
            edits: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The API routes, ready to merge into the node's HTTP server.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/me", get(me))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs))
        .route("/api/v1/accounts", get(accounts))
        .route("/api/v1/accounts/{name}/payments", post(pay))
        .route("/api/v1/parameters", get(parameters))
        .route("/api/v1/parameters/{name}", put(set_parameter))
        .route("/api/v1/cdrs", get(cdrs))
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
    let name = body
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name", "name is required"))?;
    let password = body
        .password
        .ok_or_else(|| ApiError::invalid("password", "password is required"))?;
    let now = now_ms();
    let Some(user) = s.storage.user(&name).await? else {
        return Err(ApiError::unauthorized("wrong name or password"));
    };
    if user.locked_until_ms > now {
        return Err(ApiError::locked(format!(
            "too many failed logins: try again in {} s",
            (user.locked_until_ms - now + 999) / 1000
        )));
    }
    if !auth::verify_password(&password, &user.password_hash) {
        let lock = if user.failed_logins + 1 >= MAX_FAILED_LOGINS {
            let secs = match s
                .storage
                .parameters()
                .await?
                .value("SERVER_LOGIN_FAILED_DISABLE_TIME")
            {
                Some(params::ParamValue::Int(v)) => *v,
                _ => 120,
            };
            Some(now + secs * 1000)
        } else {
            None
        };
        s.storage.record_login(user.id, false, lock).await?;
        return Err(ApiError::unauthorized("wrong name or password"));
    }
    s.storage.record_login(user.id, true, None).await?;
    let (token, digest) = auth::new_token()?;
    s.storage
        .add_token(user.id, &digest, "session", now)
        .await?;
    let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    Ok((
        [(SET_COOKIE, cookie)],
        Json(json!({"name": user.name, "role": user.role, "token": token})),
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
    let p = s.storage.load_provisioning().await?;
    Ok(Json(
        serde_json::to_value(&p.accounts).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
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
    caller.require(Role::Operator)?;
    let amount: Money = body
        .amount
        .as_deref()
        .ok_or_else(|| ApiError::invalid("amount", "amount is required (decimal text)"))?
        .parse()
        .map_err(|e| ApiError::invalid("amount", format!("amount: {e}")))?;
    if amount == Money::ZERO {
        return Err(ApiError::invalid(
            "amount",
            "a payment of zero changes nothing",
        ));
    }
    let entry = match s
        .storage
        .pay(&name, amount, body.note.as_deref(), now_ms())
        .await
    {
        Ok(e) => e,
        Err(tollswitch_storage::StorageError::UnknownAccount(a)) => {
            return Err(ApiError::not_found(format!("no account named {a:?}")));
        }
        Err(e) => return Err(e.into()),
    };
    let after = serde_json::to_string(&entry).ok();
    s.storage
        .audit(
            now_ms(),
            &caller.name,
            "account.pay",
            &name,
            None,
            after.as_deref(),
        )
        .await?;
    Ok(Json(
        serde_json::to_value(&entry).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
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
    caller.require(Role::Operator)?;
    let value = body
        .value
        .ok_or_else(|| ApiError::invalid("value", "value is required"))?;
    if params::spec(&name).is_none() {
        return Err(ApiError::not_found(format!("no parameter named {name}")));
    }
    if let Err(e) = params::validate(&name, &value) {
        return Err(ApiError::invalid(&name, e.to_string()));
    }
    let before = s.storage.parameter(&name).await?;
    s.storage.set_parameter(&name, &value).await?;
    s.storage
        .audit(
            now_ms(),
            &caller.name,
            "parameter.set",
            &name,
            before.as_deref(),
            Some(&value),
        )
        .await?;
    Ok(Json(json!({"name": name, "value": value})))
}

#[derive(Deserialize)]
struct RangeQuery {
    from_ms: Option<i64>,
    until_ms: Option<i64>,
    account: Option<String>,
    mapping_gateway: Option<String>,
    routing_gateway: Option<String>,
    callee_prefix: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl RangeQuery {
    /// The range (default: the last 24 hours).
    fn range(&self) -> Result<TimeRange, ApiError> {
        let until = self.until_ms.unwrap_or_else(now_ms);
        let from = self.from_ms.unwrap_or(until - 86_400_000);
        if from >= until {
            return Err(ApiError::invalid(
                "from_ms",
                "from_ms must be before until_ms",
            ));
        }
        Ok(TimeRange::new(from, until))
    }
}

async fn cdrs(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let max_days = match s
        .storage
        .parameters()
        .await?
        .value("SERVER_QUERY_CDR_MAX_DAY_INTERVAL")
    {
        Some(params::ParamValue::Int(v)) => u32::try_from(*v).unwrap_or(31),
        _ => 31,
    };
    let mut filter = CdrFilter::new(q.range()?);
    filter.account = q.account.clone();
    filter.mapping_gateway = q.mapping_gateway.clone();
    filter.routing_gateway = q.routing_gateway.clone();
    filter.callee_prefix = q.callee_prefix.clone();
    filter.limit = q.limit.unwrap_or(100);
    filter.offset = q.offset.unwrap_or(0);
    match s.storage.cdr_search(&filter, max_days).await {
        Ok(rows) => Ok(Json(
            serde_json::to_value(&rows).map_err(|e| ApiError::internal(e.to_string()))?,
        )),
        Err(tollswitch_storage::StorageError::QueryRange(m)) => {
            Err(ApiError::invalid("from_ms", m))
        }
        Err(e) => Err(e.into()),
    }
}

async fn report(
    State(s): State<ApiState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let range = q.range()?;
    let st = &s.storage;
    let v = match kind.as_str() {
        "gateways" => serde_json::to_value(st.report_by_routing_gateway(range).await?),
        "vendors" => serde_json::to_value(st.report_by_vendor(range).await?),
        "mapping-gateways" => serde_json::to_value(st.report_by_mapping_gateway(range).await?),
        "accounts" => serde_json::to_value(st.report_by_account(range).await?),
        "areas" => serde_json::to_value(st.report_by_area(range).await?),
        "hours" => serde_json::to_value(st.report_by_hour(range).await?),
        "codes" => serde_json::to_value(st.report_codes_by_gateway(range).await?),
        _ => {
            return Err(ApiError::not_found(format!(
                "no report {kind:?} (gateways, vendors, mapping-gateways, accounts, areas, hours, codes)"
            )));
        }
    };
    Ok(Json(v.map_err(|e| ApiError::internal(e.to_string()))?))
}

async fn provisioning(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let p = s.storage.export().await?;
    Ok(Json(
        serde_json::to_value(&p).map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

#[derive(Deserialize)]
struct ApplyQuery {
    dry_run: Option<bool>,
}

async fn apply(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<ApplyQuery>,
    body: axum::body::Bytes,
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
        Err(tollswitch_storage::StorageError::Invalid(errors)) => return Err(invalid_set(&errors)),
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

/// A provisioning set refused by validation: 400 naming the first problem's field, every
/// problem in `details`.
fn invalid_set(errors: &[tollswitch_model::provisioning::ProvisioningError]) -> ApiError {
    let first = errors.first();
    let mut e = ApiError::invalid(
        first.map_or("body", |e| e.field.as_str()),
        format!(
            "{} problem(s); the first: {}",
            errors.len(),
            first.map(ToString::to_string).unwrap_or_default()
        ),
    );
    e.details = errors
        .iter()
        .filter_map(|x| serde_json::to_value(x).ok())
        .collect();
    e
}

/// The provisioning key of an object kind in the URL.
fn kind_key(kind: &str) -> Result<&'static str, ApiError> {
    match kind {
        "accounts" => Ok("account"),
        "mapping-gateways" => Ok("mapping_gateway"),
        "routing-gateways" => Ok("routing_gateway"),
        "gateway-groups" => Ok("gateway_group"),
        _ => Err(ApiError::not_found(format!(
            "no object kind {kind:?} (accounts, mapping-gateways, routing-gateways, gateway-groups)"
        ))),
    }
}

async fn current_set(s: &ApiState) -> Result<Value, ApiError> {
    serde_json::to_value(s.storage.export().await?).map_err(|e| ApiError::internal(e.to_string()))
}

fn objects<'a>(set: &'a Value, key: &str) -> &'a [Value] {
    set.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
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
    caller.require(Role::Viewer)?;
    let key = kind_key(&kind)?;
    let set = current_set(&s).await?;
    let matching: Vec<&Value> = objects(&set, key)
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
    caller.require(Role::Viewer)?;
    let key = kind_key(&kind)?;
    let set = current_set(&s).await?;
    objects(&set, key)
        .iter()
        .find(|o| o.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no {key} named {name:?}")))
}

/// Replaces (or, with `None`, removes) one object in the stored set and applies the result.
async fn edit(
    s: &ApiState,
    caller: &Caller,
    key: &str,
    name: &str,
    object: Option<Value>,
) -> Result<Json<Value>, ApiError> {
    let _one_at_a_time = s.edits.lock().await;
    let mut set = current_set(s).await?;
    let list = set
        .as_object_mut()
        .ok_or_else(|| ApiError::internal("provisioning is not an object"))?
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    let items = list
        .as_array_mut()
        .ok_or_else(|| ApiError::internal("provisioning list is not an array"))?;
    let at = items
        .iter()
        .position(|o| o.get("name").and_then(Value::as_str) == Some(name));
    let before = at.map(|i| items[i].clone());
    match (&object, at) {
        (Some(o), Some(i)) => items[i] = o.clone(),
        (Some(o), None) => items.push(o.clone()),
        (None, Some(i)) => {
            items.remove(i);
        }
        (None, None) => return Err(ApiError::not_found(format!("no {key} named {name:?}"))),
    }
    let p: tollswitch_model::provisioning::Provisioning = serde_json::from_value(set)
        .map_err(|e| ApiError::invalid("body", format!("{key} {name:?}: {e}")))?;
    match s.storage.apply(&p).await {
        Ok(_) => {}
        Err(tollswitch_storage::StorageError::Invalid(errors)) => return Err(invalid_set(&errors)),
        Err(e) => return Err(e.into()),
    }
    let action = if object.is_some() { "put" } else { "delete" };
    s.storage
        .audit(
            now_ms(),
            &caller.name,
            &format!("{key}.{action}"),
            name,
            before.as_ref().map(Value::to_string).as_deref(),
            object.as_ref().map(Value::to_string).as_deref(),
        )
        .await?;
    Ok(Json(json!({"kind": key, "name": name, "action": action})))
}

async fn put_object(
    State(s): State<ApiState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let key = kind_key(&kind)?;
    let mut object: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?;
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("body", "the body must be a JSON object"))?;
    match map.get("name").and_then(Value::as_str) {
        None => {
            map.insert("name".into(), Value::String(name.clone()));
        }
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::invalid(
                "name",
                format!("the body names {n:?} but the path {name:?}"),
            ));
        }
    }
    edit(&s, &caller, key, &name, Some(object)).await
}

async fn delete_object(
    State(s): State<ApiState>,
    caller: Caller,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    let key = kind_key(&kind)?;
    edit(&s, &caller, key, &name, None).await
}

async fn calls(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    s.live
        .calls()
        .await
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no running switch to ask"))
}

async fn hangup(
    State(s): State<ApiState>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    match s.live.hangup(&call_id).await {
        None => Err(ApiError::not_found("no running switch to ask")),
        Some(false) => Err(ApiError::not_found(format!(
            "no call {call_id:?} in progress"
        ))),
        Some(true) => {
            s.storage
                .audit(now_ms(), &caller.name, "call.hangup", &call_id, None, None)
                .await?;
            Ok(Json(json!({"call_id": call_id, "hung_up": true})))
        }
    }
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
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    use tollswitch_storage::ImportError;
    caller.require(Role::Operator)?;
    let options = tollswitch_storage::ImportOptions {
        max_errors: q.max_errors.unwrap_or(100).clamp(1, 10_000),
    };
    let reader = std::io::Cursor::new(body);
    match s.storage.import_rates(&name, reader, options).await {
        Ok(summary) => {
            let after = json!({"imported": summary.imported, "replaced": summary.replaced});
            s.storage
                .audit(
                    now_ms(),
                    &caller.name,
                    "rate_table.import",
                    &name,
                    None,
                    Some(&after.to_string()),
                )
                .await?;
            Ok(Json(json!({
                "table": summary.table,
                "imported": summary.imported,
                "replaced": summary.replaced,
            })))
        }
        Err(ImportError::UnknownTable(t)) => {
            Err(ApiError::not_found(format!("no rate table named {t:?}")))
        }
        Err(ImportError::Header { message, .. }) => Err(ApiError::invalid("header", message)),
        Err(ImportError::Rows {
            errors, truncated, ..
        }) => {
            let first = errors.first();
            let mut e = ApiError::invalid(
                first.map_or("row", |r| r.field.as_str()),
                format!(
                    "{}{} refused row(s); nothing was imported; the first: {}",
                    errors.len(),
                    if truncated { "+" } else { "" },
                    first.map(ToString::to_string).unwrap_or_default()
                ),
            );
            e.details = errors
                .iter()
                .map(|r| json!({"line": r.line, "field": r.field, "message": r.message}))
                .collect();
            Err(e)
        }
        Err(ImportError::Read { message, .. }) => Err(ApiError::invalid("body", message)),
        Err(ImportError::Storage(e)) => Err(e.into()),
    }
}

async fn live(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(s.live.stats()))
}

async fn users(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        serde_json::to_value(s.storage.users().await?)
            .map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

async fn audit(State(s): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        serde_json::to_value(s.storage.audit_log(1000).await?)
            .map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}
