//! The OpenAPI 3 document, generated from [`ROUTES`] — the same table the route tests walk, so
//! a route cannot be served without being documented (see `tests/api.rs`).

use serde_json::{Map, Value, json};
use tollswitch_storage::Role;

/// One operation: method, path, the least role that may call it (`None`: no credentials),
/// summary, and the query parameters it reads.
pub struct RouteDoc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Least role; `None` for login.
    pub role: Option<Role>,
    /// What it does.
    pub summary: &'static str,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// Whether it takes a JSON body.
    pub body: bool,
}

const fn r(
    method: &'static str,
    path: &'static str,
    role: Option<Role>,
    summary: &'static str,
    query: &'static [&'static str],
    body: bool,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        role,
        summary,
        query,
        body,
    }
}

const RANGE: &[&str] = &["from_ms", "until_ms"];
const CDR_FILTERS: &[&str] = &[
    "from_ms",
    "until_ms",
    "account",
    "mapping_gateway",
    "routing_gateway",
    "callee_prefix",
    "final_code",
];
const CDR_SEARCH: &[&str] = &[
    "from_ms",
    "until_ms",
    "account",
    "mapping_gateway",
    "routing_gateway",
    "callee_prefix",
    "final_code",
    "limit",
    "offset",
];
const V: Option<Role> = Some(Role::Viewer);
const O: Option<Role> = Some(Role::Operator);
const A: Option<Role> = Some(Role::Admin);

/// Every operation of the API.
pub const ROUTES: &[RouteDoc] = &[
    r(
        "post",
        "/api/v1/login",
        None,
        "Log in: a session cookie and token; locks after 5 failures",
        &[],
        true,
    ),
    r(
        "post",
        "/api/v1/logout",
        V,
        "Log out: ends the session (or revokes the token) the request came with",
        &[],
        false,
    ),
    r("get", "/api/v1/me", V, "Who the caller is", &[], false),
    r(
        "get",
        "/api/v1/openapi.json",
        V,
        "This document",
        &[],
        false,
    ),
    r(
        "get",
        "/api/v1/accounts",
        V,
        "Accounts with their stored balances",
        &[],
        false,
    ),
    r(
        "post",
        "/api/v1/accounts/{name}/payments",
        O,
        "Record a payment or recharge",
        &[],
        true,
    ),
    r(
        "get",
        "/api/v1/parameters",
        V,
        "Every system parameter with value, default and range",
        &[],
        false,
    ),
    r(
        "put",
        "/api/v1/parameters/{name}",
        O,
        "Set a system parameter (validated against its range)",
        &[],
        true,
    ),
    r(
        "get",
        "/api/v1/cdrs",
        V,
        "Search CDRs (range capped by SERVER_QUERY_CDR_MAX_DAY_INTERVAL)",
        CDR_SEARCH,
        false,
    ),
    r(
        "get",
        "/api/v1/cdrs.csv",
        V,
        "Every CDR matching the filters as CSV (the CDR file columns), streamed",
        CDR_FILTERS,
        false,
    ),
    r(
        "get",
        "/api/v1/reports/{kind}",
        V,
        "Traffic report: gateways, vendors, mapping-gateways, accounts, areas, hours, codes",
        RANGE,
        false,
    ),
    r(
        "get",
        "/api/v1/provisioning",
        V,
        "The whole provisioning set",
        &[],
        false,
    ),
    r(
        "post",
        "/api/v1/provisioning",
        O,
        "Plan (dry_run=true) or apply a provisioning set",
        &["dry_run"],
        true,
    ),
    r(
        "get",
        "/api/v1/objects/{kind}",
        V,
        "List accounts, mapping-gateways, routing-gateways or gateway-groups",
        &["offset", "limit", "name_prefix"],
        false,
    ),
    r(
        "get",
        "/api/v1/objects/{kind}/{name}",
        V,
        "One object",
        &[],
        false,
    ),
    r(
        "put",
        "/api/v1/objects/{kind}/{name}",
        O,
        "Create or replace an object",
        &[],
        true,
    ),
    r(
        "delete",
        "/api/v1/objects/{kind}/{name}",
        O,
        "Remove an object",
        &[],
        false,
    ),
    r(
        "post",
        "/api/v1/rate-tables/{name}/import",
        O,
        "Replace a rate table's rates from a CSV body (text/csv; all or nothing, per-line errors)",
        &["max_errors"],
        true,
    ),
    r(
        "get",
        "/api/v1/live",
        V,
        "Counters of the running switch; every gateway with calls, line limit and last-hour ASR/ACD",
        &[],
        false,
    ),
    r("get", "/api/v1/calls", V, "Calls in progress", &[], false),
    r(
        "delete",
        "/api/v1/calls/{call_id}",
        O,
        "Hang a call up",
        &[],
        false,
    ),
    r(
        "get",
        "/api/v1/route/explain",
        V,
        "The running switch's routing decision, explained",
        &["from_ip", "caller", "callee", "digest_user", "at"],
        false,
    ),
    r("get", "/api/v1/users", A, "Users and roles", &[], false),
    r(
        "get",
        "/api/v1/audit",
        A,
        "The audit log, newest first",
        &[],
        false,
    ),
];

/// The schema of a route's JSON answer: described for the ones a dashboard reads, open
/// (`{}`) for the rest.
fn response_schema(route: &RouteDoc) -> Value {
    match (route.method, route.path) {
        ("get", "/api/v1/live") => json!({"$ref": "#/components/schemas/Live"}),
        _ => json!({}),
    }
}

fn integer(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": description})
}

/// `GET /api/v1/live`. The counters of the running switch are absent when there is none.
fn live_schema() -> Value {
    let counters = json!({"type": "object", "additionalProperties": {"type": "integer"}});
    json!({
        "type": "object",
        "required": ["traffic", "routing_gateways", "mapping_gateways"],
        "properties": {
            "calls": integer("Calls in progress"),
            "transactions_and_calls": integer("SIP transactions and calls in progress"),
            "lines": {
                "type": "array",
                "description": "Calls in progress per limited object (the line counters)",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["MappingGateway", "Account", "RoutingGateway", "GatewayGroup"]},
                        "name": {"type": "string"},
                        "calls": integer("Calls in progress")
                    }
                }
            },
            "sip": counters.clone(),
            "cdr": counters,
            "traffic": {
                "type": "object",
                "properties": {
                    "rate_window_secs": integer("Window of calls_started, seconds (10)"),
                    "calls_started": integer("Calls started in the rate window"),
                    "asr_window_secs": integer("Window of the figures below and of the gateways' figures, seconds (3600)"),
                    "hour_figures_at_ms": {"type": "integer", "description": "When the last-hour figures were read (unix ms); they are reused for up to 10 s"},
                    "attempts": integer("Calls in the last hour"),
                    "answered": integer("Answered calls in the last hour"),
                    "asr_bp": integer("ASR of the last hour, basis points (10000 = 100 %)"),
                    "acd_secs": integer("ACD of the last hour, seconds")
                }
            },
            "routing_gateways": {
                "type": "array",
                "description": "Every provisioned routing gateway, by name; attempts count every time the gateway was tried",
                "items": {"$ref": "#/components/schemas/GatewayStatus"}
            },
            "mapping_gateways": {
                "type": "array",
                "description": "Every provisioned mapping gateway, by name",
                "items": {"$ref": "#/components/schemas/GatewayStatus"}
            }
        }
    })
}

/// One gateway in `GET /api/v1/live`.
fn gateway_status_schema() -> Value {
    json!({
        "type": "object",
        "required": ["name", "enabled", "calls", "line_limit", "attempts", "answered", "asr_bp", "acd_secs"],
        "properties": {
            "name": {"type": "string"},
            "enabled": {"type": "boolean", "description": "Whether it takes calls"},
            "calls": integer("Calls in progress now (the switch's line counter; 0 without a running switch)"),
            "line_limit": {"type": "integer", "minimum": 0, "nullable": true, "description": "Maximum concurrent calls; null is unlimited"},
            "attempts": integer("Attempts in the last hour"),
            "answered": integer("Answered attempts in the last hour"),
            "asr_bp": integer("ASR of the last hour, basis points (10000 = 100 %)"),
            "acd_secs": integer("ACD of the last hour, seconds")
        }
    })
}

/// The OpenAPI 3.0 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(
            route
                .query
                .iter()
                .map(|name| json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})),
        );
        let media = if route.path.ends_with(".csv") {
            json!({"text/csv": {"schema": {"type": "string"}}})
        } else {
            json!({"application/json": {"schema": response_schema(route)}})
        };
        let mut responses = json!({
            "200": {"description": "OK", "content": media},
            "400": {"$ref": "#/components/responses/Error"},
            "500": {"$ref": "#/components/responses/Error"},
        });
        let mut op = json!({
            "summary": route.summary,
            "parameters": params,
        });
        match route.role {
            Some(role) => {
                op["description"] = json!(format!("Needs the {role} role or higher."));
                op["security"] = json!([{"bearer": []}, {"session": []}]);
                responses["401"] = json!({"$ref": "#/components/responses/Error"});
                responses["403"] = json!({"$ref": "#/components/responses/Error"});
            }
            None => {
                op["security"] = json!([]);
                responses["423"] = json!({"$ref": "#/components/responses/Error"});
            }
        }
        if route.path.contains('{') {
            responses["404"] = json!({"$ref": "#/components/responses/Error"});
        }
        if route.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        op["responses"] = responses;
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tollswitch management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON in and out. Scripts send `Authorization: Bearer <token>` (tollswitch token create); the console uses the session cookie from /api/v1/login. Errors: {code, message, field?, details?}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}
            },
            "schemas": {
                "Live": live_schema(),
                "GatewayStatus": gateway_status_schema(),
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": ["invalid", "unauthorized", "forbidden", "not_found", "locked", "internal"]},
                        "message": {"type": "string"},
                        "field": {"type": "string"},
                        "details": {"type": "array", "items": {"type": "object"}}
                    }
                }
            },
            "responses": {
                "Error": {
                    "description": "An error (see the code table in crates/api/src/error.rs)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            }
        }
    })
}

/// A readable page of the same table, for `/api/docs`.
pub fn html() -> String {
    let mut rows = String::new();
    for r in ROUTES {
        let role = r.role.map_or("none (login)", Role::as_str);
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{role}</td><td>{}</td><td>{}</td></tr>\n",
            r.method.to_uppercase(),
            r.path,
            r.summary.replace('<', "&lt;"),
            r.query.join(", ")
        ));
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tollswitch API</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}}</style>\
         </head><body><h1>Tollswitch management API</h1>\
         <p>Bearer token (<code>tollswitch token create USER</code>) or the session cookie from \
         <code>POST /api/v1/login</code>. Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\
         <table><tr><th>method</th><th>path</th><th>least role</th><th>what</th><th>query</th></tr>\n{rows}</table></body></html>"
    )
}
