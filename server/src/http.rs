//! The node's HTTP endpoint: `/healthz`, `/readyz`, Prometheus `/metrics`, the management API
//! (`/api/…`, `tollswitch-api`) and the operator web console (every other path,
//! `tollswitch-console`), over one listener.

use crate::serve::Switch;
use crate::store::StoreStats;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tollswitch_b2bua::CounterKind;

#[derive(Clone)]
struct AppState {
    switch: Arc<Switch>,
    ready: Arc<AtomicBool>,
    store: Arc<StoreStats>,
}

/// Binds `addr` and serves until the process ends; returns the bound address.
pub async fn start(
    addr: SocketAddr,
    switch: Arc<Switch>,
    ready: Arc<AtomicBool>,
    store: Arc<StoreStats>,
    storage: tollswitch_storage::Storage,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = tollswitch_api::ApiState::new(
        storage,
        Arc::new(SwitchLive {
            switch: switch.clone(),
            store: store.clone(),
        }),
    );
    let api = tollswitch_api::router(state.clone());
    let console = tollswitch_console::router(state);
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AppState {
            switch,
            ready,
            store,
        })
        .merge(api)
        .merge(console);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(bound)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 while taking calls; 503 once draining (load balancers stop sending new calls).
async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let st = &s.switch.transports.stats;
    let mut out = String::with_capacity(2048);
    let counters = [
        (
            "tollswitch_sip_received_total",
            "SIP messages received.",
            &st.received,
        ),
        ("tollswitch_sip_sent_total", "SIP messages sent.", &st.sent),
        (
            "tollswitch_sip_send_errors_total",
            "SIP sends that failed.",
            &st.send_errors,
        ),
        (
            "tollswitch_sip_stateless_rejected_total",
            "Requests answered statelessly (unknown source).",
            &st.stateless_rejected,
        ),
        (
            "tollswitch_sip_overload_rejected_total",
            "Requests answered 503 because an engine queue was full.",
            &st.overload_rejected,
        ),
        (
            "tollswitch_sip_overload_dropped_total",
            "Messages dropped because an engine queue was full.",
            &st.overload_dropped,
        ),
    ];
    let store = [
        (
            "tollswitch_cdr_stored_total",
            "CDRs stored in the database.",
            &s.store.cdrs_stored,
        ),
        (
            "tollswitch_ledger_stored_total",
            "Ledger entries stored in the database.",
            &s.store.ledger_stored,
        ),
        (
            "tollswitch_cdr_pushed_total",
            "CDRs acknowledged by the real-time report server.",
            &s.store.pushed,
        ),
        (
            "tollswitch_cdr_push_errors_total",
            "Real-time CDR pushes that failed and were retried.",
            &s.store.push_errors,
        ),
        (
            "tollswitch_cdr_store_errors_total",
            "Database writes of CDRs that failed and were retried.",
            &s.store.store_errors,
        ),
    ];
    for (name, help, v) in counters.into_iter().chain(store) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
    }
    let _ = writeln!(
        out,
        "# HELP tollswitch_busy Calls and transactions in progress.\n# TYPE tollswitch_busy gauge\ntollswitch_busy {}",
        s.switch.busy()
    );
    let _ = writeln!(
        out,
        "# HELP tollswitch_active_calls Calls in progress per object.\n# TYPE tollswitch_active_calls gauge"
    );
    for (kind, name, n) in s.switch.counters.snapshot() {
        let kind = match kind {
            CounterKind::MappingGateway => "mapping_gateway",
            CounterKind::Account => "account",
            CounterKind::RoutingGateway => "routing_gateway",
            CounterKind::GatewayGroup => "gateway_group",
        };
        let _ = writeln!(
            out,
            "tollswitch_active_calls{{kind=\"{kind}\",name=\"{}\"}} {n}",
            label(&name)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The running switch as the API sees it.
struct SwitchLive {
    switch: Arc<Switch>,
    store: Arc<StoreStats>,
}

impl tollswitch_api::Live for SwitchLive {
    fn calls(&self) -> tollswitch_api::BoxFuture<'_, Option<serde_json::Value>> {
        Box::pin(async move {
            let calls = self.switch.calls_in_progress().await;
            Some(serde_json::Value::Array(
                calls
                    .into_iter()
                    .map(|c| {
                        serde_json::json!({
                            "call_id": c.call_id,
                            "caller": c.caller,
                            "callee": c.callee,
                            "mapping_gateway": c.mapping_gateway,
                            "account": c.account,
                            "routing_gateway": c.routing_gateway,
                            "state": c.state,
                            "start_ms": c.start_ms,
                            "connect_ms": c.connect_ms,
                        })
                    })
                    .collect(),
            ))
        })
    }

    fn hangup<'a>(&'a self, call_id: &'a str) -> tollswitch_api::BoxFuture<'a, Option<bool>> {
        Box::pin(async move { Some(self.switch.hangup(call_id).await) })
    }

    fn explain(&self, q: &tollswitch_api::ExplainQuery) -> Option<serde_json::Value> {
        let request = tollswitch_routing::CallRequest {
            source: q.source?,
            digest_user: q.digest_user.as_deref(),
            caller: q.caller.as_deref()?,
            callee: q.callee.as_deref()?,
        };
        let unix = q.at.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
        let decision = self.switch.explain(&request, unix);
        serde_json::to_value(decision.explain()).ok()
    }

    fn stats(&self) -> serde_json::Value {
        let lines: Vec<serde_json::Value> = self
            .switch
            .counters
            .snapshot()
            .into_iter()
            .map(|(kind, name, calls)| {
                serde_json::json!({"kind": format!("{kind:?}"), "name": &*name, "calls": calls})
            })
            .collect();
        let t = &self.switch.transports.stats;
        serde_json::json!({
            "calls": self.switch.calls(),
            "transactions_and_calls": self.switch.busy(),
            "lines": lines,
            "sip": {
                "received": t.received.load(Ordering::Relaxed),
                "sent": t.sent.load(Ordering::Relaxed),
                "overload_rejected": t.overload_rejected.load(Ordering::Relaxed),
                "stateless_rejected": t.stateless_rejected.load(Ordering::Relaxed),
            },
            "cdr": {
                "pending": self.store.pending.load(Ordering::Relaxed),
                "stored": self.store.cdrs_stored.load(Ordering::Relaxed),
                "pushed": self.store.pushed.load(Ordering::Relaxed),
                "store_errors": self.store.store_errors.load(Ordering::Relaxed),
            },
        })
    }
}
