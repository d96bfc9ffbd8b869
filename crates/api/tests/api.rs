//! The API over a real SQLite database: who may do what, validation errors naming the field,
//! login and lockout, the audit log.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use tollswitch_api::{ApiState, Live, NoLive, auth, router};
use tollswitch_storage::{Role, Storage};
use tower::ServiceExt;

struct Fixture {
    app: axum::Router,
    storage: Storage,
    tokens: Vec<(Role, String)>,
    dir: std::path::PathBuf,
}

impl Fixture {
    fn token(&self, role: Role) -> &str {
        &self
            .tokens
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a user per role")
            .1
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture(name: &str) -> Fixture {
    fixture_with(name, Arc::new(NoLive)).await
}

/// A fixture whose API sees `live` as the running switch.
async fn fixture_with(name: &str, live: Arc<dyn Live>) -> Fixture {
    let dir = std::env::temp_dir().join(format!("tollswitch-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = tollswitch_storage::sqlite_url_for_data_dir(&dir).expect("url");
    let storage = Storage::connect(&url).await.expect("database");
    let p = toml::from_str("[[account]]\nname = \"acme\"\ncurrency = \"USD\"\nbalance = \"10\"\n")
        .expect("provisioning");
    storage.apply(&p).await.expect("apply");
    let mut tokens = Vec::new();
    for role in [Role::Admin, Role::Operator, Role::Viewer] {
        let hash = auth::hash_password("correct horse").expect("hash");
        storage
            .put_user(role.as_str(), &hash, role, 0)
            .await
            .expect("user");
        let user = storage
            .user(role.as_str())
            .await
            .expect("read")
            .expect("user");
        let (token, digest) = auth::new_token().expect("token");
        storage
            .add_token(user.id, &digest, "test", 0)
            .await
            .expect("token");
        tokens.push((role, token));
    }
    let app = router(ApiState::new(storage.clone(), live));
    Fixture {
        app,
        storage,
        tokens,
        dir,
    }
}

async fn call(
    f: &Fixture,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = f.app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, cookie)
}

#[tokio::test]
async fn nothing_answers_without_credentials_but_login() {
    let f = fixture("anon").await;
    for path in [
        "/api/v1/me",
        "/api/v1/accounts",
        "/api/v1/parameters",
        "/api/v1/cdrs",
        "/api/v1/reports/gateways",
        "/api/v1/live",
        "/api/v1/users",
        "/api/v1/audit",
    ] {
        let (status, body, _) = call(&f, "GET", path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["code"], "unauthorized", "{path}");
    }
    let (status, _, _) = call(&f, "GET", "/api/v1/me", Some("ts_forged"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_role_has_exactly_its_rights() {
    let f = fixture("roles").await;
    let pay = json!({"amount": "5", "note": "wire"});
    let set = json!({"value": "5"});
    // (role, path, expected) for reads.
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let t = f.token(role);
        for path in [
            "/api/v1/accounts",
            "/api/v1/parameters",
            "/api/v1/cdrs",
            "/api/v1/live",
        ] {
            let (status, _, _) = call(&f, "GET", path, Some(t), None).await;
            assert_eq!(status, StatusCode::OK, "{role} GET {path}");
        }
        let admin_only = if role == Role::Admin {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        for path in ["/api/v1/users", "/api/v1/audit"] {
            let (status, _, _) = call(&f, "GET", path, Some(t), None).await;
            assert_eq!(status, admin_only, "{role} GET {path}");
        }
        let writes = if role == Role::Viewer {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        let (status, body, _) = call(
            &f,
            "POST",
            "/api/v1/accounts/acme/payments",
            Some(t),
            Some(pay.clone()),
        )
        .await;
        assert_eq!(status, writes, "{role} pays: {body}");
        let (status, _, _) = call(
            &f,
            "PUT",
            "/api/v1/parameters/SS_SIP_TIMEOUT_INVITE",
            Some(t),
            Some(set.clone()),
        )
        .await;
        assert_eq!(status, writes, "{role} sets a parameter");
    }
    // Operator and admin paid 5 each.
    let balance = f.storage.account_balance("acme").await.expect("read");
    assert_eq!(balance, Some("20".parse().expect("money")));
    let (_, users, _) = call(&f, "GET", "/api/v1/users", Some(f.token(Role::Admin)), None).await;
    assert!(
        users.to_string().find("password").is_none(),
        "hashes never leave the server: {users}"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let f = fixture("invalid").await;
    let t = f.token(Role::Operator);
    let (status, body, _) = call(
        &f,
        "PUT",
        "/api/v1/parameters/SS_SIP_TIMEOUT_INVITE",
        Some(t),
        Some(json!({"value": "100000"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "SS_SIP_TIMEOUT_INVITE");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let (status, body, _) = call(
        &f,
        "POST",
        "/api/v1/accounts/acme/payments",
        Some(t),
        Some(json!({"amount": "1.5x"})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("amount"))
    );
    let (status, _, _) = call(
        &f,
        "POST",
        "/api/v1/accounts/nobody/payments",
        Some(t),
        Some(json!({"amount": "1"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = call(
        &f,
        "GET",
        "/api/v1/cdrs?from_ms=0&until_ms=1000000000000",
        Some(t),
        None,
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("from_ms"))
    );
}

#[tokio::test]
async fn login_gives_a_strict_http_only_session_and_locks_after_five_failures() {
    let f = fixture("login").await;
    let (status, body, cookie) = call(
        &f,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"name": "viewer", "password": "correct horse"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = body["token"].as_str().expect("token");
    let (status, me, _) = call(&f, "GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(
        (status, me["role"].clone()),
        (StatusCode::OK, json!("viewer"))
    );
    for _ in 0..5 {
        let (status, _, _) = call(
            &f,
            "POST",
            "/api/v1/login",
            None,
            Some(json!({"name": "viewer", "password": "wrong"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body, _) = call(
        &f,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"name": "viewer", "password": "correct horse"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::LOCKED, json!("locked"))
    );
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_before_and_after() {
    let f = fixture("audit").await;
    let t = f.token(Role::Operator);
    for v in ["5", "7"] {
        let (status, _, _) = call(
            &f,
            "PUT",
            "/api/v1/parameters/SS_SIP_TIMEOUT_INVITE",
            Some(t),
            Some(json!({"value": v})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, log, _) = call(&f, "GET", "/api/v1/audit", Some(f.token(Role::Admin)), None).await;
    let newest = &log[0];
    assert_eq!(newest["actor"], "operator");
    assert_eq!(newest["action"], "parameter.set");
    assert_eq!(newest["object"], "SS_SIP_TIMEOUT_INVITE");
    assert_eq!(
        (newest["before"].clone(), newest["after"].clone()),
        (json!("5"), json!("7"))
    );
}

#[tokio::test]
async fn provisioning_is_exported_planned_and_applied_with_errors_listed() {
    let f = fixture("provisioning").await;
    let t = f.token(Role::Operator);
    let (status, current, _) = call(&f, "GET", "/api/v1/provisioning", Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["account"][0]["name"], "acme", "{current}");
    let mut wanted = current.clone();
    wanted["account"]
        .as_array_mut()
        .expect("accounts")
        .push(json!({"name": "beta", "currency": "USD"}));
    let (status, plan, _) = call(
        &f,
        "POST",
        "/api/v1/provisioning?dry_run=true",
        Some(t),
        Some(wanted.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["changes"]["accounts"]["created"], 1);
    assert!(
        f.storage
            .account_balance("beta")
            .await
            .expect("read")
            .is_none(),
        "dry run"
    );
    let (status, done, _) = call(&f, "POST", "/api/v1/provisioning", Some(t), Some(wanted)).await;
    assert_eq!(
        (status, done["applied"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert!(
        f.storage
            .account_balance("beta")
            .await
            .expect("read")
            .is_some()
    );
    // A viewer may not; a broken set is a 400 listing every problem.
    let (status, _, _) = call(
        &f,
        "POST",
        "/api/v1/provisioning?dry_run=true",
        Some(f.token(Role::Viewer)),
        Some(current),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let broken = json!({"account": [
        {"name": "x", "currency": "USD", "rate_table": "missing"},
        {"name": "y", "currency": "USD", "rate_table": "missing-too"}
    ]});
    let (status, body, _) = call(&f, "POST", "/api/v1/provisioning", Some(t), Some(broken)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(body["field"], "rate_table");
}

#[tokio::test]
async fn objects_are_created_read_listed_replaced_and_deleted_one_at_a_time() {
    let f = fixture("objects").await;
    let t = f.token(Role::Operator);
    let (status, body, _) = call(
        &f,
        "PUT",
        "/api/v1/objects/accounts/beta",
        Some(t),
        Some(json!({"currency": "USD", "credit_limit": "5", "balance": "3"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, beta, _) = call(&f, "GET", "/api/v1/objects/accounts/beta", Some(t), None).await;
    assert_eq!(
        (beta["credit_limit"].clone(), beta["balance"].clone()),
        (json!("5.00"), json!("3.00"))
    );
    // Replacing keeps the stored balance (it moves only through the ledger).
    let (status, _, _) = call(
        &f,
        "PUT",
        "/api/v1/objects/accounts/beta",
        Some(t),
        Some(json!({"currency": "USD", "credit_limit": "9", "balance": "1000"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, beta, _) = call(&f, "GET", "/api/v1/objects/accounts/beta", Some(t), None).await;
    assert_eq!(
        (beta["credit_limit"].clone(), beta["balance"].clone()),
        (json!("9.00"), json!("3.00"))
    );
    let (_, page, _) = call(
        &f,
        "GET",
        "/api/v1/objects/accounts?name_prefix=b&limit=10",
        Some(t),
        None,
    )
    .await;
    assert_eq!(page["total"], 1);
    // Bad input names the field; a mismatched name is refused; a viewer may not write.
    let (status, body, _) = call(
        &f,
        "PUT",
        "/api/v1/objects/accounts/gamma",
        Some(t),
        Some(json!({"currency": "USD", "credit_limit": "-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "credit_limit", "{body}");
    let (status, body, _) = call(
        &f,
        "PUT",
        "/api/v1/objects/accounts/gamma",
        Some(t),
        Some(json!({"name": "delta", "currency": "USD"})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("name"))
    );
    let (status, _, _) = call(
        &f,
        "DELETE",
        "/api/v1/objects/accounts/beta",
        Some(f.token(Role::Viewer)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(&f, "DELETE", "/api/v1/objects/accounts/beta", Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&f, "GET", "/api/v1/objects/accounts/beta", Some(t), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, log, _) = call(&f, "GET", "/api/v1/audit", Some(f.token(Role::Admin)), None).await;
    assert_eq!(log[0]["action"], "account.delete");
    assert!(
        log[0]["before"]
            .as_str()
            .is_some_and(|b| b.contains("\"beta\""))
    );
}

#[tokio::test]
async fn every_documented_operation_is_served_and_refuses_anonymous_callers() {
    let f = fixture("routes").await;
    for route in tollswitch_api::openapi::ROUTES {
        let path = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let body = route.body.then(|| json!({}));
        let (status, _, _) = call(&f, &route.method.to_uppercase(), &path, None, body).await;
        match route.role {
            Some(_) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {path}", route.method),
            None => assert_eq!(status, StatusCode::BAD_REQUEST, "{} {path}", route.method),
        }
    }
    // Human docs need credentials too.
    let (status, _, _) = call(&f, "GET", "/api/docs", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let f = fixture("openapi").await;
    let (status, served, _) = call(
        &f,
        "GET",
        "/api/v1/openapi.json",
        Some(f.token(Role::Viewer)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, tollswitch_api::openapi::document());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let fresh = format!("{}\n", serde_json::to_string_pretty(&served).expect("JSON"));
    if std::env::var_os("TOLLSWITCH_WRITE_OPENAPI").is_some() {
        std::fs::write(path, &fresh).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/openapi.json is out of date: run TOLLSWITCH_WRITE_OPENAPI=1 cargo test -p tollswitch-api openapi"
    );
    assert_eq!(served["paths"].as_object().map(|p| p.len()), Some(21));
}

#[tokio::test]
async fn a_rate_deck_upload_is_all_or_nothing_with_a_per_line_report() {
    let f = fixture("rates").await;
    let p = toml::from_str(
        "[[account]]\nname = \"acme\"\ncurrency = \"USD\"\nbalance = \"10\"\n\n\
         [[rate_table]]\nname = \"retail\"\ncurrency = \"USD\"\n",
    )
    .expect("provisioning");
    f.storage.apply(&p).await.expect("apply");
    let t = f.token(Role::Operator);
    let upload = |csv: &'static str| {
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/rate-tables/retail/import")
            .header("Authorization", format!("Bearer {t}"))
            .header("Content-Type", "text/csv")
            .body(Body::from(csv))
            .expect("request");
        let app = f.app.clone();
        async move {
            let resp = app.oneshot(req).await.expect("response");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = upload("prefix,price\n44,0.05\n447,0.08\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["imported"], 2);
    let (status, body) = upload("prefix,price\n44,0.05\n4x,0.08\n33,-1\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let lines: Vec<u64> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["line"].as_u64())
        .collect();
    assert_eq!(lines, [3, 4], "{body}");
    let kept = f.storage.export().await.expect("export");
    assert_eq!(
        kept.rate_tables[0].rates.len(),
        2,
        "nothing of the bad deck was imported"
    );
    let (status, _) = {
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/rate-tables/nope/import")
            .header("Authorization", format!("Bearer {t}"))
            .body(Body::from("prefix,price\n1,0.1\n"))
            .expect("request");
        let resp = f.app.clone().oneshot(req).await.expect("response");
        (resp.status(), ())
    };
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A GET with a bearer token; (status, content type, body text).
async fn get_text(f: &Fixture, path: &str, token: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .uri(path)
        .header("Authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let resp = f.app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 30)
        .await
        .expect("body");
    (status, kind, String::from_utf8_lossy(&bytes).into_owned())
}

/// A CDR of account `account` to `callee`, started at `start_ms`.
fn cdr(id: &str, account: &str, callee: &str, start_ms: i64) -> tollswitch_model::cdr::Cdr {
    serde_json::from_value(json!({
        "id": id, "account": account, "mapping_gateway": format!("{account}-pbx"),
        "caller_received": "15550001", "callee_received": callee, "caller_sent": "",
        "callee_sent": "", "caller_ip": "192.0.2.10", "start_ms": start_ms,
        "end_ms": start_ms + 1000, "hold_time_ms": 0, "billed_secs": 0, "charge": "0",
        "cost": "0", "final_code": 486, "ended_by": "callee", "end_reason": "routing_failed",
    }))
    .expect("a CDR")
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let f = fixture("logout").await;
    let (_, body, _) = call(
        &f,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"name": "operator", "password": "correct horse"})),
    )
    .await;
    let token = body["token"].as_str().expect("token").to_owned();
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/logout")
        .header("Cookie", format!("tollswitch_session={token}"))
        .body(Body::empty())
        .expect("request");
    let resp = f.app.clone().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let cleared = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cleared.starts_with("tollswitch_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _, _) = call(&f, "GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is gone");
    // Other sessions and tokens of the same user stay.
    let (status, _, _) = call(&f, "GET", "/api/v1/me", Some(f.token(Role::Operator)), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cdrs_are_exported_as_csv_page_after_page_with_the_search_filters() {
    let f = fixture("csv").await;
    let t0 = 1_767_225_600_000_i64;
    // More than one page (10 000 rows), seven calls per millisecond so that pages end inside
    // a millisecond, and one call of another account.
    let mut cdrs: Vec<_> = (0..10_010)
        .map(|i| cdr(&format!("c{i:05}"), "acme", "4420", t0 + i / 7))
        .collect();
    cdrs.push(cdr("other", "beta", "1555", t0 + 5));
    f.storage.insert_cdrs(&cdrs).await.expect("insert");
    let t = f.token(Role::Viewer);
    let range = format!("from_ms={t0}&until_ms={}", t0 + 3_600_000);
    let (status, kind, body) =
        get_text(&f, &format!("/api/v1/cdrs.csv?{range}&account=acme"), t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut lines = body.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("id,call_id,account,")),
        "header first"
    );
    let ids: Vec<&str> = lines.filter_map(|l| l.split(',').next()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (10_010, 10_010), "each row once");
    assert!(!unique.contains("other"));
    let (_, _, body) = get_text(&f, &format!("/api/v1/cdrs.csv?{range}&callee_prefix=15"), t).await;
    assert_eq!(body.lines().count(), 2, "{body}");
    assert!(body.contains("\nother,"), "{body}");
    // A bad range is refused before anything is streamed.
    let (status, _, body) =
        get_text(&f, "/api/v1/cdrs.csv?from_ms=0&until_ms=1000000000000", t).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"from_ms\""), "{body}");
}

#[tokio::test]
async fn live_counters_carry_the_recent_call_rate_and_asr() {
    let f = fixture("live").await;
    let now = tollswitch_api::now_ms();
    let mut answered = cdr("a", "acme", "4420", now - 5_000);
    answered.connect_ms = Some(now - 4_000);
    let cdrs = [
        answered,
        cdr("b", "acme", "4420", now - 6_000),
        cdr("old", "acme", "4420", now - 1_800_000),
    ];
    f.storage.insert_cdrs(&cdrs).await.expect("insert");
    let (status, live, _) =
        call(&f, "GET", "/api/v1/live", Some(f.token(Role::Viewer)), None).await;
    assert_eq!(status, StatusCode::OK);
    let traffic = &live["traffic"];
    assert_eq!(traffic["calls_started"], 2, "{live}");
    assert_eq!(traffic["rate_window_secs"], 10);
    assert_eq!(
        (traffic["attempts"].clone(), traffic["answered"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(traffic["asr_bp"], 3_333);
}

/// A running switch with fixed line counters.
struct Lines(Value);

impl Live for Lines {
    fn stats(&self) -> Value {
        json!({"calls": 2, "lines": self.0})
    }
}

/// `cdr` tried on `tried` (gateway, code) in order; answered on a 2xx, talking 30 s.
fn tried_cdr(id: &str, start_ms: i64, tried: &[(&str, u16)]) -> tollswitch_model::cdr::Cdr {
    let mut c = cdr(id, "acme", "4420", start_ms);
    c.tried = serde_json::from_value(Value::Array(
        tried
            .iter()
            .map(|(g, code)| json!({"gateway": g, "code": code}))
            .collect(),
    ))
    .expect("attempts");
    c.routing_gateway = tried.last().map(|(g, _)| (*g).to_owned());
    if tried
        .last()
        .is_some_and(|(_, code)| (200..300).contains(code))
    {
        c.final_code = tollswitch_model::SipCode::OK;
        c.connect_ms = Some(start_ms + 2_000);
        c.hold_time_ms = 30_000;
        c.billed_secs = 30;
        c.end_ms = start_ms + 32_000;
    }
    c
}

#[tokio::test]
async fn live_lists_every_gateway_with_its_calls_limit_and_last_hour_asr() {
    let lines = json!([
        {"kind": "RoutingGateway", "name": "gw-a", "calls": 2},
        {"kind": "MappingGateway", "name": "acme-pbx", "calls": 2},
        {"kind": "Account", "name": "acme", "calls": 2},
        {"kind": "RoutingGateway", "name": "removed-gw", "calls": 1},
    ]);
    let f = fixture_with("live-gateways", Arc::new(Lines(lines))).await;
    let p = toml::from_str(
        r#"
[[account]]
name = "acme"
currency = "USD"
balance = "10"

[[account]]
name = "carrier"
kind = "vendor"
currency = "USD"

[[mapping_gateway]]
name = "acme-pbx"
account = "acme"
sources = ["192.0.2.10"]
line_limit = 5

[[routing_gateway]]
name = "gw-a"
vendor_account = "carrier"
targets = [{ host = "192.0.2.1", port = 5060 }]
prefixes = ["44"]
line_limit = 2

[[routing_gateway]]
name = "gw-b"
vendor_account = "carrier"
targets = [{ host = "192.0.2.2", port = 5060 }]
prefixes = ["44"]
enabled = false
"#,
    )
    .expect("provisioning");
    f.storage.apply(&p).await.expect("apply");
    let now = tollswitch_api::now_ms();
    // gw-a: tried 3 times in the last hour, answered once (30 s); gw-b answered c2 after gw-a
    // failed. The call of two hours ago does not count.
    let cdrs = [
        tried_cdr("c1", now - 60_000, &[("gw-a", 200)]),
        tried_cdr("c2", now - 50_000, &[("gw-a", 503), ("gw-b", 200)]),
        tried_cdr("c3", now - 40_000, &[("gw-a", 486)]),
        tried_cdr("old", now - 7_200_000, &[("gw-a", 200)]),
    ];
    f.storage.insert_cdrs(&cdrs).await.expect("insert");
    let t = f.token(Role::Viewer);
    let (status, live, _) = call(&f, "GET", "/api/v1/live", Some(t), None).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(
        live["routing_gateways"],
        json!([
            {"name": "gw-a", "enabled": true, "calls": 2, "line_limit": 2,
             "attempts": 3, "answered": 1, "asr_bp": 3_333, "acd_secs": 30},
            {"name": "gw-b", "enabled": false, "calls": 0, "line_limit": null,
             "attempts": 1, "answered": 1, "asr_bp": 10_000, "acd_secs": 30},
        ]),
        "{live}"
    );
    assert_eq!(
        live["mapping_gateways"],
        json!([
            {"name": "acme-pbx", "enabled": true, "calls": 2, "line_limit": 5,
             "attempts": 3, "answered": 2, "asr_bp": 6_667, "acd_secs": 30},
        ]),
        "{live}"
    );
    assert_eq!(live["lines"].as_array().map(Vec::len), Some(4), "kept");
    // The hour figures are reused for a few seconds: a new CDR shows up in them later, while
    // limits and calls are current.
    let at = live["traffic"]["hour_figures_at_ms"]
        .as_i64()
        .expect("when");
    assert!((now..now + 5_000).contains(&at), "{at} vs {now}");
    f.storage
        .insert_cdrs(&[tried_cdr("c4", now - 30_000, &[("gw-a", 200)])])
        .await
        .expect("insert");
    let (_, again, _) = call(&f, "GET", "/api/v1/live", Some(t), None).await;
    if again["traffic"]["hour_figures_at_ms"] == json!(at) {
        assert_eq!(again["routing_gateways"][0]["attempts"], 3, "{again}");
        assert_eq!(again["traffic"]["attempts"], 3, "{again}");
    }
    assert!(
        tollswitch_api::now_ms() - at >= tollswitch_api::ops::HOUR_FIGURES_TTL_MS
            || again["traffic"]["hour_figures_at_ms"] == json!(at),
        "read again before the figures were {} ms old",
        tollswitch_api::ops::HOUR_FIGURES_TTL_MS
    );
    // Without credentials, nothing.
    let (status, _, _) = call(&f, "GET", "/api/v1/live", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
