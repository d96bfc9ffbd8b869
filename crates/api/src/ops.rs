//! The operations behind the routes, shared by the JSON API and the web console: each checks
//! the caller's role, validates its input (a refusal names the field at fault), does the work
//! and writes the audit log. The HTTP handlers in the crate root only translate between JSON
//! and these calls, so a form in the console and a `PUT` from a script cannot disagree.

use crate::auth::{self, Caller, MAX_FAILED_LOGINS, SESSION_IDLE_MS};
use crate::error::ApiError;
use crate::{ApiState, now_ms};
use axum::body::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tollswitch_model::cdr::{Cdr, LedgerEntry};
use tollswitch_model::params;
use tollswitch_model::provisioning::{Provisioning, ProvisioningError};
use tollswitch_model::{Money, SipCode};
use tollswitch_storage::{
    CdrFilter, GatewayKind, ImportError, ImportOptions, ImportSummary, Role, StorageError,
    TimeRange, TrafficStats,
};

/// A session handed out by [`login`].
#[derive(Debug, Clone)]
pub struct Session {
    /// The session token (the cookie's value; only its SHA-256 is stored).
    pub token: String,
    /// Who logged in.
    pub name: String,
    /// Their role.
    pub role: Role,
}

fn integer_parameter(p: &params::Parameters, name: &str, default: i64) -> i64 {
    match p.value(name) {
        Some(params::ParamValue::Int(v)) => *v,
        _ => default,
    }
}

/// Checks a name and password and opens a session that expires after
/// [`SESSION_IDLE_MS`] without use. Five failures in a row lock the user for
/// `SERVER_LOGIN_FAILED_DISABLE_TIME` (423 until then).
pub async fn login(
    s: &ApiState,
    name: Option<&str>,
    password: Option<&str>,
) -> Result<Session, ApiError> {
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name", "name is required"))?;
    let password = password.ok_or_else(|| ApiError::invalid("password", "password is required"))?;
    let now = now_ms();
    let Some(user) = s.storage.user(name).await? else {
        return Err(ApiError::unauthorized("wrong name or password"));
    };
    if user.locked_until_ms > now {
        return Err(ApiError::locked(format!(
            "too many failed logins: try again in {} s",
            (user.locked_until_ms - now + 999) / 1000
        )));
    }
    if !auth::verify_password(password, &user.password_hash) {
        let lock = if user.failed_logins + 1 >= MAX_FAILED_LOGINS {
            let params = s.storage.parameters().await?;
            let secs = integer_parameter(&params, "SERVER_LOGIN_FAILED_DISABLE_TIME", 120);
            Some(now + secs * 1000)
        } else {
            None
        };
        s.storage.record_login(user.id, false, lock).await?;
        return Err(ApiError::unauthorized("wrong name or password"));
    }
    s.storage.record_login(user.id, true, None).await?;
    s.storage.delete_expired_sessions(now).await?;
    let (token, digest) = auth::new_token()?;
    s.storage
        .add_session(user.id, &digest, now, SESSION_IDLE_MS)
        .await?;
    Ok(Session {
        token,
        name: user.name,
        role: user.role,
    })
}

/// Ends the caller's session (or revokes the API token the request came with).
pub async fn logout(s: &ApiState, caller: &Caller) -> Result<(), ApiError> {
    s.storage.delete_token(&caller.token_sha256).await?;
    Ok(())
}

/// Records a payment (a negative amount reverses one) and credits the balance; audited.
pub async fn pay(
    s: &ApiState,
    caller: &Caller,
    account: &str,
    amount: Option<&str>,
    note: Option<&str>,
) -> Result<LedgerEntry, ApiError> {
    caller.require(Role::Operator)?;
    let amount: Money = amount
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::invalid("amount", "amount is required (decimal text)"))?
        .parse()
        .map_err(|e| ApiError::invalid("amount", format!("amount: {e}")))?;
    if amount == Money::ZERO {
        return Err(ApiError::invalid(
            "amount",
            "a payment of zero changes nothing",
        ));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let entry = match s.storage.pay(account, amount, note, now_ms()).await {
        Ok(e) => e,
        Err(StorageError::UnknownAccount(a)) => {
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
            account,
            None,
            after.as_deref(),
        )
        .await?;
    Ok(entry)
}

/// Sets a system parameter after checking it against its range; audited with the old value.
/// A refused value names the parameter as the field.
pub async fn set_parameter(
    s: &ApiState,
    caller: &Caller,
    name: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    caller.require(Role::Operator)?;
    let value = value.ok_or_else(|| ApiError::invalid("value", "value is required"))?;
    let Some(spec) = params::spec(name) else {
        return Err(ApiError::not_found(format!("no parameter named {name}")));
    };
    if spec.read_only {
        return Err(ApiError::invalid(name, format!("{name} is read-only")));
    }
    if let Err(e) = params::validate(name, value) {
        return Err(ApiError::invalid(name, e.to_string()));
    }
    let before = s.storage.parameter(name).await?;
    s.storage.set_parameter(name, value).await?;
    s.storage
        .audit(
            now_ms(),
            &caller.name,
            "parameter.set",
            name,
            before.as_deref(),
            Some(value),
        )
        .await?;
    Ok(())
}

/// The object kinds of `/objects/{kind}`, as URL segment and provisioning key.
pub const OBJECT_KINDS: &[(&str, &str)] = &[
    ("accounts", "account"),
    ("mapping-gateways", "mapping_gateway"),
    ("routing-gateways", "routing_gateway"),
    ("gateway-groups", "gateway_group"),
];

/// The provisioning key of an object kind in the URL; 404 for an unknown kind.
pub fn kind_key(kind: &str) -> Result<&'static str, ApiError> {
    OBJECT_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, key)| *key)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no object kind {kind:?} (accounts, mapping-gateways, routing-gateways, gateway-groups)"
            ))
        })
}

/// A provisioning set refused by validation: 400 naming the first problem's field, every
/// problem in `details`.
pub(crate) fn invalid_set(errors: &[ProvisioningError]) -> ApiError {
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

async fn current_set(s: &ApiState) -> Result<Value, ApiError> {
    serde_json::to_value(s.storage.export().await?).map_err(|e| ApiError::internal(e.to_string()))
}

fn objects_of(mut set: Value, key: &str) -> Vec<Value> {
    match set.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn name_of(o: &Value) -> Option<&str> {
    o.get("name").and_then(Value::as_str)
}

/// Every object of a kind (`accounts`, `mapping-gateways`, …), by name.
pub async fn list_objects(
    s: &ApiState,
    caller: &Caller,
    kind: &str,
) -> Result<Vec<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let key = kind_key(kind)?;
    Ok(objects_of(current_set(s).await?, key))
}

/// One object of a kind; 404 when there is none of that name.
pub async fn object(
    s: &ApiState,
    caller: &Caller,
    kind: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let key = kind_key(kind)?;
    list_objects(s, caller, kind)
        .await?
        .into_iter()
        .find(|o| name_of(o) == Some(name))
        .ok_or_else(|| ApiError::not_found(format!("no {key} named {name:?}")))
}

/// Replaces (or, with `None`, removes) one object in the stored set and applies the result.
async fn edit(
    s: &ApiState,
    caller: &Caller,
    key: &str,
    name: &str,
    object: Option<Value>,
) -> Result<Value, ApiError> {
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
    let at = items.iter().position(|o| name_of(o) == Some(name));
    let before = at.and_then(|i| items.get(i).cloned());
    match (&object, at) {
        (Some(o), Some(i)) => items[i] = o.clone(),
        (Some(o), None) => items.push(o.clone()),
        (None, Some(i)) => {
            items.remove(i);
        }
        (None, None) => return Err(ApiError::not_found(format!("no {key} named {name:?}"))),
    }
    let p: Provisioning = serde_json::from_value(set)
        .map_err(|e| ApiError::invalid("body", format!("{key} {name:?}: {e}")))?;
    match s.storage.apply(&p).await {
        Ok(_) => {}
        Err(StorageError::Invalid(errors)) => return Err(invalid_set(&errors)),
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
    Ok(json!({"kind": key, "name": name, "action": action}))
}

/// Creates or replaces the object `name` of a kind from its JSON form, validated like a
/// whole provisioning set (every reference, every range); audited with before and after.
pub async fn put_object(
    s: &ApiState,
    caller: &Caller,
    kind: &str,
    name: &str,
    mut object: Value,
) -> Result<Value, ApiError> {
    caller.require(Role::Operator)?;
    let key = kind_key(kind)?;
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name is required"));
    }
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("body", "the body must be a JSON object"))?;
    match map.get("name").and_then(Value::as_str) {
        None => {
            map.insert("name".into(), Value::String(name.to_owned()));
        }
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::invalid(
                "name",
                format!("the body names {n:?} but the path {name:?}"),
            ));
        }
    }
    edit(s, caller, key, name, Some(object)).await
}

/// Removes an object (refused while others refer to it); audited.
pub async fn delete_object(
    s: &ApiState,
    caller: &Caller,
    kind: &str,
    name: &str,
) -> Result<Value, ApiError> {
    caller.require(Role::Operator)?;
    let key = kind_key(kind)?;
    edit(s, caller, key, name, None).await
}

/// Replaces a rate table's rates from a CSV file, all or nothing; a refused file lists every
/// bad line (up to `max_errors`) in `details` as `{line, field, message}`. Audited.
pub async fn import_rates(
    s: &ApiState,
    caller: &Caller,
    table: &str,
    csv: Bytes,
    max_errors: usize,
) -> Result<ImportSummary, ApiError> {
    caller.require(Role::Operator)?;
    let options = ImportOptions {
        max_errors: max_errors.clamp(1, 10_000),
    };
    let reader = std::io::Cursor::new(csv);
    match s.storage.import_rates(table, reader, options).await {
        Ok(summary) => {
            let after = json!({"imported": summary.imported, "replaced": summary.replaced});
            s.storage
                .audit(
                    now_ms(),
                    &caller.name,
                    "rate_table.import",
                    table,
                    None,
                    Some(&after.to_string()),
                )
                .await?;
            Ok(summary)
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

/// The calls in progress (a JSON array); 404 without a running switch.
pub async fn calls(s: &ApiState, caller: &Caller) -> Result<Value, ApiError> {
    caller.require(Role::Viewer)?;
    s.live
        .calls()
        .await
        .ok_or_else(|| ApiError::not_found("no running switch to ask"))
}

/// Hangs a call up by its leg A Call-ID; audited. 404 when no such call is in progress.
pub async fn hangup(s: &ApiState, caller: &Caller, call_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Operator)?;
    match s.live.hangup(call_id).await {
        None => Err(ApiError::not_found("no running switch to ask")),
        Some(false) => Err(ApiError::not_found(format!(
            "no call {call_id:?} in progress"
        ))),
        Some(true) => {
            s.storage
                .audit(now_ms(), &caller.name, "call.hangup", call_id, None, None)
                .await?;
            Ok(())
        }
    }
}

/// The window of the call rate in [`live`].
const RATE_WINDOW_MS: i64 = 10_000;
/// The window of the ASR and ACD in [`live`], overall and per gateway.
const ASR_WINDOW_MS: i64 = 3_600_000;
/// How long [`live`] reuses its last-hour figures: a dashboard polling every 2.5 s then reads
/// the hour's CDRs every 10 s, however many operators have it open.
pub const HOUR_FIGURES_TTL_MS: i64 = 10_000;

/// The figures over the CDRs of the last hour that [`live`] shows, read at `at_ms`.
#[derive(Debug, Default)]
pub struct HourFigures {
    /// When they were read, unix milliseconds.
    pub at_ms: i64,
    /// Every call.
    pub traffic: TrafficStats,
    /// Per routing gateway (attempts count every try).
    pub routing_gateways: HashMap<String, TrafficStats>,
    /// Per mapping gateway.
    pub mapping_gateways: HashMap<String, TrafficStats>,
}

/// The last-hour figures as of `now`: the cached ones while younger than
/// [`HOUR_FIGURES_TTL_MS`], else read again. Concurrent callers wait for one read instead of
/// each running the queries.
async fn hour_figures(s: &ApiState, now: i64) -> Result<Arc<HourFigures>, ApiError> {
    let mut cached = s.hour_figures.lock().await;
    if let Some(f) = cached.as_ref()
        && (0..HOUR_FIGURES_TTL_MS).contains(&(now - f.at_ms))
    {
        return Ok(f.clone());
    }
    let hour = TimeRange::new(now - ASR_WINDOW_MS, now);
    let fresh = Arc::new(HourFigures {
        at_ms: now,
        traffic: s.storage.traffic(hour).await?,
        routing_gateways: s
            .storage
            .report_by_routing_gateway(hour)
            .await?
            .into_iter()
            .map(|r| (r.routing_gateway, r.stats))
            .collect(),
        mapping_gateways: s
            .storage
            .report_by_mapping_gateway(hour)
            .await?
            .into_iter()
            .map(|r| (r.mapping_gateway, r.stats))
            .collect(),
    });
    *cached = Some(fresh.clone());
    Ok(fresh)
}

/// Calls in progress per (kind, name) from the `lines` of the switch's counters; kinds as
/// the counters spell them (`RoutingGateway`, `MappingGateway`).
fn line_counts(stats: &Value) -> HashMap<(&str, &str), u64> {
    let Some(lines) = stats.get("lines").and_then(Value::as_array) else {
        return HashMap::new();
    };
    lines
        .iter()
        .filter_map(|l| {
            let kind = l.get("kind")?.as_str()?;
            let name = l.get("name")?.as_str()?;
            Some(((kind, name), l.get("calls")?.as_u64()?))
        })
        .collect()
}

/// The running switch's counters, plus
/// - `traffic`: calls started in the last 10 s (stored CDRs and calls in progress) for the
///   call rate, and ASR and ACD over the CDRs of the last hour;
/// - `routing_gateways` and `mapping_gateways`: every provisioned gateway with `enabled`, its
///   calls in progress (the switch's line counters), `line_limit` (`null`: unlimited) and its
///   attempts, answers, ASR and ACD over the last hour.
///
/// The last-hour figures are up to [`HOUR_FIGURES_TTL_MS`] old (`traffic.hour_figures_at_ms`
/// says when they were read); calls, limits and `enabled` are current.
pub async fn live(s: &ApiState, caller: &Caller) -> Result<Value, ApiError> {
    caller.require(Role::Viewer)?;
    let now = now_ms();
    let hour = hour_figures(s, now).await?;
    let recent = s
        .storage
        .traffic(TimeRange::new(now - RATE_WINDOW_MS, now))
        .await?;
    let in_progress = s.live.calls().await.map_or(0, |calls| {
        calls.as_array().map_or(0, |list| {
            list.iter()
                .filter(|c| {
                    c.get("start_ms")
                        .and_then(Value::as_i64)
                        .is_some_and(|t| t >= now - RATE_WINDOW_MS)
                })
                .count()
        })
    });
    let traffic = json!({
        "rate_window_secs": RATE_WINDOW_MS / 1000,
        "calls_started": recent.attempts + in_progress as u64,
        "asr_window_secs": ASR_WINDOW_MS / 1000,
        "hour_figures_at_ms": hour.at_ms,
        "attempts": hour.traffic.attempts,
        "answered": hour.traffic.answered,
        "asr_bp": hour.traffic.asr_bp,
        "acd_secs": hour.traffic.acd_secs,
    });
    let settings = s.storage.gateway_settings().await?;
    let stats = s.live.stats();
    let (routing, mapping) = {
        let calls = line_counts(&stats);
        let mut routing = Vec::new();
        let mut mapping = Vec::new();
        for g in &settings {
            let (counter, figures, out) = match g.kind {
                GatewayKind::RoutingGateway => {
                    ("RoutingGateway", &hour.routing_gateways, &mut routing)
                }
                GatewayKind::MappingGateway => {
                    ("MappingGateway", &hour.mapping_gateways, &mut mapping)
                }
            };
            let f = figures.get(&g.name).copied().unwrap_or_default();
            out.push(json!({
                "name": g.name,
                "enabled": g.enabled,
                "calls": calls.get(&(counter, g.name.as_str())).copied().unwrap_or(0),
                "line_limit": g.line_limit,
                "attempts": f.attempts,
                "answered": f.answered,
                "asr_bp": f.asr_bp,
                "acd_secs": f.acd_secs,
            }));
        }
        (routing, mapping)
    };
    let mut map = match stats {
        Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("switch".into(), other);
            map
        }
    };
    map.insert("traffic".into(), traffic);
    map.insert("routing_gateways".into(), Value::Array(routing));
    map.insert("mapping_gateways".into(), Value::Array(mapping));
    Ok(Value::Object(map))
}

/// A CDR search as the API and the console take it: a time range (default: the last 24 hours)
/// and optional filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CdrQuery {
    /// First start time included, unix milliseconds.
    pub from_ms: Option<i64>,
    /// First start time no longer included, unix milliseconds.
    pub until_ms: Option<i64>,
    /// Only this account.
    pub account: Option<String>,
    /// Only calls that came in through this mapping gateway.
    pub mapping_gateway: Option<String>,
    /// Only calls carried (or last tried) by this routing gateway.
    pub routing_gateway: Option<String>,
    /// Only callees (as received) starting with these digits.
    pub callee_prefix: Option<String>,
    /// Only calls with this final SIP code.
    pub final_code: Option<u16>,
    /// At most this many rows (default 100).
    pub limit: Option<u32>,
    /// Skip this many rows first.
    pub offset: Option<u64>,
}

impl CdrQuery {
    /// The range (default: the last 24 hours before `until_ms` or now).
    pub fn range(&self) -> Result<TimeRange, ApiError> {
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

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The storage filter of a query and the day cap (`SERVER_QUERY_CDR_MAX_DAY_INTERVAL`).
pub async fn cdr_filter(
    s: &ApiState,
    caller: &Caller,
    q: &CdrQuery,
) -> Result<(CdrFilter, u32), ApiError> {
    caller.require(Role::Viewer)?;
    let params = s.storage.parameters().await?;
    let max_days = u32::try_from(integer_parameter(
        &params,
        "SERVER_QUERY_CDR_MAX_DAY_INTERVAL",
        31,
    ))
    .unwrap_or(31);
    let mut filter = CdrFilter::new(q.range()?);
    filter.account = non_empty(&q.account);
    filter.mapping_gateway = non_empty(&q.mapping_gateway);
    filter.routing_gateway = non_empty(&q.routing_gateway);
    filter.callee_prefix = non_empty(&q.callee_prefix);
    filter.final_code = match q.final_code {
        None => None,
        Some(code) => Some(SipCode::new(code).ok_or_else(|| {
            ApiError::invalid(
                "final_code",
                format!("{code} is not a SIP code (100..=699)"),
            )
        })?),
    };
    filter.limit = q.limit.unwrap_or(100);
    filter.offset = q.offset.unwrap_or(0);
    Ok((filter, max_days))
}

/// One page of CDRs for a filter made by [`cdr_filter`]; a range over the day cap is a 400
/// naming `from_ms`.
pub async fn search_cdrs(
    s: &ApiState,
    filter: &CdrFilter,
    max_days: u32,
) -> Result<Vec<Cdr>, ApiError> {
    match s.storage.cdr_search(filter, max_days).await {
        Ok(rows) => Ok(rows),
        Err(StorageError::QueryRange(m)) => Err(ApiError::invalid("from_ms", m)),
        Err(e) => Err(e.into()),
    }
}
