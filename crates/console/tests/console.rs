//! The console over plain HTTP (no browser) on a real SQLite database: sessions and redirects,
//! roles, CSRF, and form errors that name their field.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::sync::Arc;
use tollswitch_api::{ApiState, NoLive, auth};
use tollswitch_storage::{Role, Storage};
use tower::ServiceExt;

struct Fixture {
    app: axum::Router,
    storage: Storage,
    /// (role, session token) for a user per role.
    sessions: Vec<(Role, String)>,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    fn session(&self, role: Role) -> &str {
        &self
            .sessions
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a session per role")
            .1
    }

    fn csrf(&self, role: Role) -> String {
        tollswitch_console::csrf_token(self.session(role))
    }
}

const PROVISIONING: &str = r#"
[[account]]
name = "acme"
currency = "USD"
balance = "10"

[[account]]
name = "carrier"
kind = "vendor"
currency = "USD"

[[rate_table]]
name = "retail"
currency = "USD"
"#;

async fn fixture(name: &str) -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("tollswitch-console-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = tollswitch_storage::sqlite_url_for_data_dir(&dir).expect("url");
    let storage = Storage::connect(&url).await.expect("database");
    storage
        .apply(&toml::from_str(PROVISIONING).expect("provisioning"))
        .await
        .expect("apply");
    let mut sessions = Vec::new();
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
        let now = tollswitch_api::now_ms();
        storage
            .add_session(user.id, &digest, now, auth::SESSION_IDLE_MS)
            .await
            .expect("session");
        sessions.push((role, token));
    }
    let app = tollswitch_console::router(ApiState::new(storage.clone(), Arc::new(NoLive)));
    Fixture {
        app,
        storage,
        sessions,
        dir,
    }
}

/// What came back: status, `Location`, `Set-Cookie`, body.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

async fn send(f: &Fixture, req: Request<Body>) -> Answer {
    let resp = f.app.clone().oneshot(req).await.expect("response");
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, cookie) = (header(header::LOCATION), header(header::SET_COOKIE));
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    Answer {
        status,
        location,
        cookie,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(f: &Fixture, path: &str, session: Option<&str>) -> Answer {
    let mut req = Request::builder().uri(path);
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("tollswitch_session={s}"));
    }
    send(f, req.body(Body::empty()).expect("request")).await
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn post(f: &Fixture, path: &str, session: Option<&str>, form: &[(&str, &str)]) -> Answer {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("tollswitch_session={s}"));
    }
    send(f, req.body(Body::from(body.join("&"))).expect("request")).await
}

#[tokio::test]
async fn pages_redirect_to_login_without_a_valid_session() {
    let f = fixture("redirect").await;
    for (path, to) in [
        ("/", "/login"),
        ("/cdrs", "/login?next=%2Fcdrs"),
        (
            "/objects/routing-gateways",
            "/login?next=%2Fobjects%2Frouting-gateways",
        ),
        ("/parameters", "/login?next=%2Fparameters"),
    ] {
        for session in [None, Some("ts_forged")] {
            let a = get(&f, path, session).await;
            assert_eq!(a.status, StatusCode::SEE_OTHER, "{path} {session:?}");
            assert_eq!(a.location.as_deref(), Some(to), "{path}");
        }
    }
    let login = get(&f, "/login?next=%2Fcdrs", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.body.contains("name=\"password\"") && login.body.contains("value=\"/cdrs\""),
        "{}",
        login.body
    );
    let page = get(&f, "/", Some(f.session(Role::Viewer))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Dashboard"), "{}", page.body);
}

#[tokio::test]
async fn login_uses_the_api_session_and_logout_ends_it() {
    let f = fixture("login").await;
    let wrong = post(
        &f,
        "/login",
        None,
        &[("name", "operator"), ("password", "wrong"), ("next", "/")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("wrong name or password"));
    let ok = post(
        &f,
        "/login",
        None,
        &[
            ("name", "operator"),
            ("password", "correct horse"),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/"), "never off-site");
    let cookie = ok.cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("tollswitch_session="))
        .expect("token")
        .to_owned();
    assert_eq!(get(&f, "/calls", Some(&token)).await.status, StatusCode::OK);
    let csrf = tollswitch_console::csrf_token(&token);
    let out = post(&f, "/logout", Some(&token), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.cookie.is_some_and(|c| c.contains("Max-Age=0")));
    let after = get(&f, "/calls", Some(&token)).await;
    assert_eq!(after.location.as_deref(), Some("/login?next=%2Fcalls"));
}

#[tokio::test]
async fn a_viewer_gets_403_on_a_write_form_post() {
    let f = fixture("viewer").await;
    let (s, csrf) = (f.session(Role::Viewer), f.csrf(Role::Viewer));
    let account = post(
        &f,
        "/objects/accounts/new",
        Some(s),
        &[("csrf", &csrf), ("name", "beta"), ("currency", "USD")],
    )
    .await;
    assert_eq!(account.status, StatusCode::FORBIDDEN, "{}", account.body);
    assert!(
        account
            .body
            .contains("viewer is viewer; this needs operator")
    );
    let param = post(
        &f,
        "/parameters/SS_SIP_TIMEOUT_INVITE",
        Some(s),
        &[("csrf", &csrf), ("value", "7")],
    )
    .await;
    assert_eq!(param.status, StatusCode::FORBIDDEN);
    let pay = post(
        &f,
        "/accounts/acme/pay",
        Some(s),
        &[("csrf", &csrf), ("amount", "5")],
    )
    .await;
    assert_eq!(pay.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&f, "/objects/accounts/new", Some(s)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&f, "/audit", Some(s)).await.status,
        StatusCode::FORBIDDEN
    );
    // Nothing changed.
    assert!(
        f.storage
            .parameter("SS_SIP_TIMEOUT_INVITE")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        f.storage.account_balance("acme").await.expect("read"),
        Some("10".parse().expect("money"))
    );
    let list = get(&f, "/objects/accounts", Some(s)).await;
    assert!(!list.body.contains("beta") && !list.body.contains("New account"));
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_is_refused() {
    let f = fixture("csrf").await;
    let s = f.session(Role::Operator);
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("name", "beta"),
            ("kind", "customer"),
            ("currency", "USD"),
            ("payment_mode", "prepaid"),
            ("status", "active"),
        ]
    };
    // Another session's token, a made-up one, none at all.
    let admins = f.csrf(Role::Admin);
    for csrf in [admins.as_str(), "0000", ""] {
        let mut fields = form("");
        fields[0].1 = csrf;
        let a = post(&f, "/objects/accounts/new", Some(s), &fields).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{csrf:?}");
    }
    let no_field = post(&f, "/objects/accounts/new", Some(s), &form("")[1..]).await;
    assert_eq!(no_field.status, StatusCode::FORBIDDEN);
    assert!(
        f.storage
            .account_balance("beta")
            .await
            .expect("read")
            .is_none()
    );
    // The right one creates it, audited as the operator.
    let own = f.csrf(Role::Operator);
    let mut fields = form("");
    fields[0].1 = &own;
    let a = post(&f, "/objects/accounts/new", Some(s), &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        a.location.as_deref(),
        Some("/objects/accounts?done=created&name=beta")
    );
    assert!(
        f.storage
            .account_balance("beta")
            .await
            .expect("read")
            .is_some()
    );
    let log = f.storage.audit_log(1).await.expect("audit");
    assert_eq!(
        (
            log[0].actor.as_str(),
            log[0].action.as_str(),
            log[0].object.as_str()
        ),
        ("operator", "account.put", "beta")
    );
    // A form posted from another site is refused even with the token.
    let req = Request::builder()
        .method("POST")
        .uri("/accounts/acme/pay")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::COOKIE, format!("tollswitch_session={s}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={own}&amount=5")))
        .expect("request");
    assert_eq!(send(&f, req).await.status, StatusCode::FORBIDDEN);
}

/// The `.field` block of `key` in a form page.
fn field_block<'a>(body: &'a str, key: &str) -> &'a str {
    let start = body
        .find(&format!("data-field=\"{key}\""))
        .unwrap_or_else(|| panic!("no field {key} in {body}"));
    let rest = &body[start..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn a_refused_form_comes_back_with_the_message_at_its_field() {
    let f = fixture("form-errors").await;
    let (s, csrf) = (f.session(Role::Operator), f.csrf(Role::Operator));
    let gateway = |host: &'static str| {
        vec![
            ("name", "carrier-gw"),
            ("vendor_account", "carrier"),
            ("targets", host),
            ("prefixes", "44"),
            ("media_proxy", "inherit"),
            ("p_asserted_identity", "pass"),
            ("enabled", "on"),
        ]
    };
    let mut fields = gateway("10.0.0.300");
    fields.push(("csrf", &csrf));
    let a = post(&f, "/objects/routing-gateways/new", Some(s), &fields).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let targets = field_block(&a.body, "targets");
    assert!(
        targets.contains("field-error") && targets.contains("is not an IP address or host name"),
        "{targets}"
    );
    assert!(
        targets.contains("value=\"10.0.0.300\""),
        "the typed value is kept"
    );
    assert!(!field_block(&a.body, "prefixes").contains("field-error"));
    // A text the console cannot read names its field too, before the API is asked.
    let mut fields = gateway("192.0.2.20:notaport");
    fields.push(("csrf", &csrf));
    fields.push(("priority", "first"));
    let a = post(&f, "/objects/routing-gateways/new", Some(s), &fields).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(field_block(&a.body, "targets").contains("the port must be 1..=65535"));
    assert!(field_block(&a.body, "priority").contains("not a whole number"));
    // A reference to a missing account names that field.
    let mut fields = gateway("192.0.2.20");
    fields[1].1 = "nobody";
    fields.push(("csrf", &csrf));
    let a = post(&f, "/objects/routing-gateways/new", Some(s), &fields).await;
    assert!(field_block(&a.body, "vendor_account").contains("no account named"));
    // And fixed, it is saved.
    let mut fields = gateway("192.0.2.20:5070/tcp");
    fields.push(("csrf", &csrf));
    let a = post(&f, "/objects/routing-gateways/new", Some(s), &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let stored = f.storage.export().await.expect("export");
    let gw = &stored.routing_gateways[0];
    assert_eq!(
        (gw.targets[0].host.as_str(), gw.targets[0].port),
        ("192.0.2.20", 5070)
    );
    // A payment with a bad amount names the amount.
    let a = post(
        &f,
        "/accounts/acme/pay",
        Some(s),
        &[("csrf", &csrf), ("amount", "1.5x")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(field_block(&a.body, "amount").contains("field-error"));
}

#[tokio::test]
async fn a_rate_deck_upload_lists_every_refused_line() {
    let f = fixture("rates").await;
    let (s, csrf) = (f.session(Role::Operator), f.csrf(Role::Operator));
    let upload = |csv: &str| {
        let boundary = "tollswitchboundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        );
        Request::builder()
            .method("POST")
            .uri("/rates/retail/import")
            .header(header::COOKIE, format!("tollswitch_session={s}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request")
    };
    let bad = send(&f, upload("prefix,price\n44,0.05\n4x,0.08\n33,-1\n")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("nothing was imported"), "{}", bad.body);
    let lines: Vec<&str> = bad
        .body
        .split("<tr><td class=\"num\">")
        .skip(1)
        .filter_map(|r| r.split('<').next())
        .collect();
    assert_eq!(lines, ["3", "4"], "{}", bad.body);
    let good = send(&f, upload("prefix,price\n44,0.05\n447,0.08\n")).await;
    assert_eq!(good.status, StatusCode::OK);
    assert!(
        good.body.contains("Imported 2 rate(s) into retail"),
        "{}",
        good.body
    );
    let listed = get(&f, "/rates", Some(s)).await;
    assert!(
        listed.body.contains("<td class=\"num\">2</td>"),
        "{}",
        listed.body
    );
}

/// A CDR to `gateway` at `start_ms`, answered (talking `hold_s` seconds) or failed with 503.
fn gateway_cdr(
    id: &str,
    gateway: &str,
    start_ms: i64,
    hold_s: Option<u64>,
) -> tollswitch_model::cdr::Cdr {
    let code = if hold_s.is_some() { 200 } else { 503 };
    let mut c: tollswitch_model::cdr::Cdr = serde_json::from_value(serde_json::json!({
        "id": id, "account": "acme", "mapping_gateway": "acme-pbx",
        "caller_received": "15550001", "callee_received": "4420", "caller_sent": "",
        "callee_sent": "", "caller_ip": "192.0.2.10", "start_ms": start_ms,
        "end_ms": start_ms + 1000, "hold_time_ms": 0, "billed_secs": 0, "charge": "0",
        "cost": "0", "final_code": code, "ended_by": "callee", "end_reason": "normal_clearing",
        "routing_gateway": gateway, "tried": [{"gateway": gateway, "code": code}],
    }))
    .expect("a CDR");
    if let Some(h) = hold_s {
        c.connect_ms = Some(start_ms + 500);
        c.hold_time_ms = h * 1000;
        c.billed_secs = h;
        c.end_ms = start_ms + 500 + h as i64 * 1000;
    }
    c
}

#[tokio::test]
async fn the_dashboard_marks_gateways_and_reports_chart_asr_and_acd_over_time() {
    let f = fixture("gateways").await;
    let mut p: tollswitch_model::provisioning::Provisioning =
        toml::from_str(PROVISIONING).expect("provisioning");
    let more: tollswitch_model::provisioning::Provisioning = toml::from_str(
        r#"
[[mapping_gateway]]
name = "acme-pbx"
account = "acme"
sources = ["192.0.2.10"]

[[routing_gateway]]
name = "gw-poor"
vendor_account = "carrier"
targets = [{ host = "192.0.2.1", port = 5060 }]
prefixes = ["44"]

[[routing_gateway]]
name = "gw-off"
vendor_account = "carrier"
targets = [{ host = "192.0.2.2", port = 5060 }]
prefixes = ["44"]
enabled = false

[[routing_gateway]]
name = "gw-shut"
vendor_account = "carrier"
targets = [{ host = "192.0.2.3", port = 5060 }]
prefixes = ["44"]
line_limit = 0
"#,
    )
    .expect("gateways");
    p.mapping_gateways = more.mapping_gateways;
    p.routing_gateways = more.routing_gateways;
    f.storage.apply(&p).await.expect("apply");
    // gw-poor: 12 attempts in the last hour, one answered (8.3 %); gw-off: one, answered.
    let now = tollswitch_api::now_ms();
    let mut cdrs: Vec<_> = (0..12)
        .map(|i| gateway_cdr(&format!("p{i}"), "gw-poor", now - 600_000 + i, None))
        .collect();
    cdrs[0] = gateway_cdr("p0", "gw-poor", now - 600_000, Some(40));
    cdrs.push(gateway_cdr("o1", "gw-off", now - 300_000, Some(20)));
    f.storage.insert_cdrs(&cdrs).await.expect("insert");

    let page = get(&f, "/", Some(f.session(Role::Viewer))).await;
    assert_eq!(page.status, StatusCode::OK);
    let row = |name: &str| -> String {
        let at = page
            .body
            .find(&format!("<td>{name}</td>"))
            .unwrap_or_else(|| panic!("{name} listed: {}", page.body));
        let start = page.body[..at].rfind("<tr").expect("its row");
        let end = at + page.body[at..].find("</tr>").expect("row end");
        page.body[start..end].to_owned()
    };
    assert!(page.body.contains("<h2>Gateways</h2>"), "{}", page.body);
    let poor = row("gw-poor");
    assert!(
        poor.contains("class=\"low-asr\"") && poor.contains("8.3 %") && poor.contains(">12<"),
        "{poor}"
    );
    let off = row("gw-off");
    assert!(
        off.contains("class=\"disabled\"") && off.contains("100.0 %"),
        "{off}"
    );
    let shut = row("gw-shut");
    assert!(
        shut.contains("class=\"full\"") && shut.contains("at line limit"),
        "{shut}"
    );
    let pbx = row("acme-pbx");
    assert!(
        pbx.contains("<td>mapping</td>") && pbx.contains(">13<"),
        "{pbx}"
    );

    let reports = get(&f, "/reports", Some(f.session(Role::Viewer))).await;
    assert_eq!(reports.status, StatusCode::OK);
    let body = &reports.body;
    assert!(
        body.contains("ASR and ACD per routing gateway over time") && body.contains("ASR per hour"),
        "{body}"
    );
    assert!(
        body.contains("gw-poor (12)") && body.contains("gw-off (1)"),
        "legend: {body}"
    );
    assert!(body.contains("<circle class=\"series s0\""), "{body}");
    // Over more than 3 days: per day.
    let week = get(
        &f,
        "/reports?from=2026-01-01T00%3A00&until=2026-01-08T00%3A00",
        Some(f.session(Role::Viewer)),
    )
    .await;
    assert!(week.body.contains("ASR per day"), "{}", week.body);
}
