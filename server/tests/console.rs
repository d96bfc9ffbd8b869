//! The web console in a real browser: headless Chromium, driven over WebDriver (chromedriver)
//! with fantoccini, against the real `tollswitch` binary, with SIPp placing a call. An operator
//! logs in, creates a routing gateway (with no lines: marked at its limit on the dashboard),
//! sees a bad address refused next to its field, watches a call appear in current calls and
//! on its gateways in the dashboard, hangs it up, finds it in the CDR search, sees the
//! dashboard count the attempt and the reports chart the gateway's ASR over time, and logs
//! out. Every page is photographed at 1366×768 and 1920×1080 into
//! `target/console-screenshots/` and must not scroll sideways.
//!
//! Every process (chromedriver and the browser below it, the switch, SIPp) is started here and
//! ended by its PID when the test ends, also when it fails. Every wait polls a condition until
//! a deadline.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{free_port, sipp_dir, wait_bounded};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const USER: &str = "noc";
const PASSWORD: &str = "long enough secret";

/// Every page of the console, and the file name its screenshots get.
const PAGES: &[(&str, &str)] = &[
    ("/", "dashboard"),
    ("/calls", "calls"),
    ("/cdrs", "cdrs"),
    ("/reports", "reports"),
    ("/objects/accounts", "accounts"),
    ("/accounts/customer", "account-customer"),
    ("/objects/mapping-gateways", "mapping-gateways"),
    ("/objects/routing-gateways", "routing-gateways"),
    ("/objects/routing-gateways/new", "routing-gateway-new"),
    (
        "/objects/routing-gateways/edit/vendor-a-gw",
        "routing-gateway-edit",
    ),
    ("/objects/gateway-groups", "gateway-groups"),
    ("/rates", "rate-tables"),
    ("/rates/retail", "rate-table-retail"),
    ("/parameters", "parameters"),
    ("/audit", "audit"),
    ("/users", "users"),
];

const SIZES: &[(u32, u32)] = &[(1366, 768), (1920, 1080)];

/// A process ended by its PID when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver, started here: dropping it ends, by their PIDs, the browser processes it
/// started (Chromium puts some in process groups of their own) and then chromedriver itself.
struct Chromedriver {
    child: Child,
    url: String,
}

/// The PIDs of every process below `root`, read from `/proc` (parent before child).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&p) = found.get(i) {
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let pids: Vec<String> = descendants(self.child.id())
            .iter()
            .map(u32::to_string)
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 request on loopback (a JSON body when given): (status code, body); `None`
/// when nothing answers. Reads up to the end of the body its `Content-Length` announces
/// (chromedriver keeps the connection open).
fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let body = json.unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|n| body.len() >= n) {
                let code = head.split(' ').nth(1)?.parse().ok()?;
                return Some((code, body.to_owned()));
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.split(' ').nth(1)?.parse().ok()?, body.to_owned()))
}

/// Polls `ready` every 50 ms until it gives a value or `limit` passes.
fn poll<T>(what: &str, limit: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_chromedriver() -> Chromedriver {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "the console test needs Chromium and chromedriver: apt-get install -y chromium chromium-driver"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Chromedriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    poll("chromedriver to answer", Duration::from_secs(20), || {
        http(addr, "GET", "/status", None)
            .filter(|(code, body)| *code == 200 && body.contains("ready"))
    });
    driver
}

/// The running switch: its process, SIP and HTTP addresses, what it printed before it
/// announced them.
struct Switch {
    _process: Guard,
    sip: SocketAddr,
    http: SocketAddr,
    start_log: Vec<String>,
}

/// Starts `tollswitch serve` with `args` on a free SIP port and any HTTP port, and waits for
/// its start-up line.
fn serve(data: &Path, args: &[&str]) -> Switch {
    let sip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["serve", "--sip", &sip.to_string(), "--http", "127.0.0.1:0"])
        .args([
            "--shards",
            "2",
            "--drain-timeout",
            "2",
            "--reload-interval",
            "1",
        ])
        .args(args)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tollswitch");
    let stdout = child.stdout.take().expect("stdout");
    let process = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut before = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("tollswitch listening") {
                let _ = tx.send((line, std::mem::take(&mut before)));
            } else {
                before.push(line);
            }
        }
    });
    let (line, start_log) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("tollswitch did not start listening");
    let http = line
        .split(", http ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|a| a.trim().parse().ok())
        .expect("the http address in the start-up line");
    Switch {
        _process: process,
        sip,
        http,
        start_log,
    }
}

/// Starts the switch on the interop provisioning (vendors at `vendor_a`, `vendor_b`) with an
/// admin created by `tollswitch user add`.
fn start_switch(dir: &Path, vendor_a: u16, vendor_b: u16) -> Switch {
    let prov = std::fs::read_to_string(sipp_dir().join("provisioning.toml"))
        .expect("interop provisioning")
        .replace("port = 5080", &format!("port = {vendor_a}"))
        .replace("port = 5082", &format!("port = {vendor_b}"));
    let file = dir.join("provisioning.toml");
    std::fs::write(&file, prov).expect("write provisioning");
    let data = dir.join("data");
    let added = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["user", "add", USER, "--role", "admin", "--data"])
        .arg(&data)
        .env("TOLLSWITCH_PASSWORD", PASSWORD)
        .output()
        .expect("user add");
    assert!(added.status.success(), "{added:?}");
    let file = file.to_str().expect("a UTF-8 temporary path");
    serve(&data, &["--provisioning", file])
}

fn sipp(args: &[&str]) -> Guard {
    Guard(
        Command::new("sipp")
            .args(args)
            .args(["-i", "127.0.0.1", "-nostdin", "-timeout", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp must be installed (apt-get install sip-tester)"),
    )
}

async fn browser(driver: &Chromedriver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1366,768"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Polls `ready` against the browser every 100 ms until it gives a value or `limit` passes.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn path(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}

async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page at `path` shows `needle` in the element `css`.
async fn shows(c: &Client, at: &str, css: &str, needle: &str) {
    eventually(
        &format!("{needle:?} in {css} at {at}"),
        Duration::from_secs(15),
        move || async move {
            (path(c).await == at && text(c, css).await.contains(needle)).then_some(())
        },
    )
    .await;
}

async fn fill(c: &Client, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = c
            .find(Locator::Css(&format!("[name=\"{name}\"]")))
            .await
            .unwrap_or_else(|e| panic!("field {name}: {e}"));
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }
}

async fn submit(c: &Client, form: &str) {
    c.find(Locator::Css(&format!("{form} button[type=\"submit\"]")))
        .await
        .expect("the form's button")
        .click()
        .await
        .expect("click");
}

/// Resizes so that the page itself (the viewport) is `width`×`height`.
async fn viewport(c: &Client, width: u32, height: u32) {
    c.set_window_size(width, height).await.expect("resize");
    let inner = c
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .expect("inner size");
    let size = |i: usize, want: u32| {
        let got = inner[i]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(want);
        want + want.saturating_sub(got)
    };
    let (w, h) = (size(0, width), size(1, height));
    if (w, h) != (width, height) {
        c.set_window_size(w, h).await.expect("resize");
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn photograph_every_page(c: &Client, base: &str) {
    let dir = screenshot_dir();
    for &(width, height) in SIZES {
        viewport(c, width, height).await;
        for (page, name) in PAGES {
            c.goto(&format!("{base}{page}")).await.expect("open page");
            let at = path(c).await;
            assert_eq!(
                at,
                page.split('?').next().unwrap_or(page),
                "{page} redirected"
            );
            let h1 = text(c, "h1").await;
            assert!(!h1.is_empty(), "{page} has a title");
            let fits: Value = c
                .execute(
                    "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
                    vec![],
                )
                .await
                .expect("measure");
            assert_eq!(
                fits,
                json!(true),
                "{page} scrolls sideways at {width}x{height}"
            );
            let png = c.screenshot().await.expect("screenshot");
            assert!(png.starts_with(b"\x89PNG"), "{page}: a PNG");
            std::fs::write(dir.join(format!("{name}-{width}x{height}.png")), png)
                .expect("write screenshot");
        }
    }
}

async fn log_in(c: &Client, base: &str) {
    c.goto(&format!("{base}/")).await.expect("open");
    assert_eq!(path(c).await, "/login", "no session: the login page");
    fill(c, &[("name", USER), ("password", PASSWORD)]).await;
    submit(c, "form").await;
    shows(c, "/", "h1", "Dashboard").await;
    assert!(text(c, ".who").await.contains(USER));
}

async fn create_routing_gateway(c: &Client, base: &str) {
    c.goto(&format!("{base}/objects/routing-gateways/new"))
        .await
        .expect("open form");
    fill(
        c,
        &[
            ("name", "browser-gw"),
            ("vendor_account", "vendor-b"),
            ("targets", "127.0.0.1:5999"),
            ("prefixes", "999"),
            ("priority", "5"),
            ("line_limit", "0"),
        ],
    )
    .await;
    submit(c, "form.object").await;
    shows(
        c,
        "/objects/routing-gateways",
        ".notice.done",
        "Created browser-gw.",
    )
    .await;
    assert!(text(c, "table.data").await.contains("127.0.0.1:5999"));
}

async fn bad_address_is_refused_at_its_field(c: &Client, base: &str) {
    c.goto(&format!("{base}/objects/routing-gateways/new"))
        .await
        .expect("open form");
    fill(
        c,
        &[
            ("name", "bad-gw"),
            ("vendor_account", "vendor-b"),
            ("targets", "10.0.0.300"),
            ("prefixes", "998"),
        ],
    )
    .await;
    submit(c, "form.object").await;
    shows(
        c,
        "/objects/routing-gateways/new",
        "[data-field=\"targets\"] .field-error",
        "is not an IP address or host name",
    )
    .await;
    let typed = c
        .find(Locator::Css("input[name=\"targets\"]"))
        .await
        .expect("targets")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(typed.as_deref(), Some("10.0.0.300"), "what was typed stays");
    let others = c
        .find_all(Locator::Css(".field-error"))
        .await
        .expect("errors");
    assert_eq!(others.len(), 1, "only the targets are wrong");
}

/// The cells of the dashboard's gateways row named `name` (Gateway, Kind, State, Calls, Line
/// limit, Attempts, ASR, ACD) and then the row's classes; `None` when there is no such row.
async fn gateway_row(c: &Client, name: &str) -> Option<Vec<String>> {
    let row = c
        .execute(
            "for (const r of document.querySelectorAll('tbody[data-gateways] tr')) {
               if (r.cells[0] && r.cells[0].textContent === arguments[0]) {
                 return Array.from(r.cells, (td) => td.textContent).concat([r.className]);
               }
             }
             return null;",
            vec![json!(name)],
        )
        .await
        .ok()?;
    serde_json::from_value(row).ok()
}

/// Waits until the dashboard's row of gateway `name` passes `check`, without reloading (the
/// page's script refreshes it); its cells.
async fn gateway_row_shows(
    c: &Client,
    name: &str,
    what: &str,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let check = &check;
    eventually(
        &format!("{name} on the dashboard: {what}"),
        Duration::from_secs(25),
        move || async move {
            let row = gateway_row(c, name).await?;
            check(&row).then_some(row)
        },
    )
    .await
}

/// Places a call held for 30 s, sees it appear in current calls (refreshed by the page's
/// script, no reload) and on its gateways in the dashboard, hangs it up from the page, finds
/// its CDR, sees the dashboard count the attempt (refreshed by the script) and the reports
/// chart the gateway over time.
async fn a_call_is_seen_hung_up_and_found(c: &Client, base: &str, switch: &Switch, vendor_a: u16) {
    c.goto(&format!("{base}/calls")).await.expect("open calls");
    shows(c, "/calls", "tbody[data-calls]", "No calls in progress.").await;
    let _uas = sipp(&["-sn", "uas", "-p", &vendor_a.to_string(), "-m", "1"]);
    let uac_port = free_port().to_string();
    let mut uac = sipp(&[
        "-sn",
        "uac",
        "-s",
        "44123",
        "-p",
        &uac_port,
        "-m",
        "1",
        "-d",
        "30000",
        &switch.sip.to_string(),
    ]);
    shows(c, "/calls", "tbody[data-calls]", "connected").await;
    let row = text(c, "tbody[data-calls] tr").await;
    assert!(
        row.contains("44123") && row.contains("vendor-a-gw"),
        "{row}"
    );
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join("calls-in-progress.png"), png).expect("write");
    // The dashboard: the call on its routing and mapping gateway; the gateway created without
    // lines is marked at its limit.
    c.goto(&format!("{base}/")).await.expect("open dashboard");
    let vendor = gateway_row_shows(c, "vendor-a-gw", "1 call", |r| r[3] == "1").await;
    assert_eq!(
        (vendor[1].as_str(), vendor[4].as_str()),
        ("routing", "none")
    );
    gateway_row_shows(c, "sipp-uac", "1 call", |r| {
        r[1] == "mapping" && r[3] == "1"
    })
    .await;
    let full = gateway_row_shows(c, "browser-gw", "at its limit", |r| r[8] == "full").await;
    assert!(full[2].contains("at line limit"), "{full:?}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join("dashboard-gateways-in-call.png"), png).expect("write");
    c.goto(&format!("{base}/calls")).await.expect("open calls");
    shows(c, "/calls", "tbody[data-calls]", "connected").await;
    c.find(Locator::Css("tbody[data-calls] button.danger"))
        .await
        .expect("a hang-up button")
        .click()
        .await
        .expect("click");
    eventually(
        "the confirmation",
        Duration::from_secs(5),
        move || async move { c.accept_alert().await.ok() },
    )
    .await;
    shows(c, "/calls", ".notice.done", "Hung up call").await;
    shows(c, "/calls", "tbody[data-calls]", "No calls in progress.").await;
    // Hung up by the switch, the caller ends at once.
    let _ = wait_bounded(&mut uac.0, Duration::from_secs(5));
    // The CDR reaches the database within the drainer's batch window.
    let search = &format!("{base}/cdrs?callee_prefix=44123");
    eventually(
        "the call's CDR",
        Duration::from_secs(15),
        move || async move {
            c.goto(search).await.ok()?;
            let rows = text(c, "table.cdrs tbody").await;
            (rows.contains("44123") && rows.contains("vendor-a-gw")).then_some(())
        },
    )
    .await;
    let csv = c
        .find(Locator::Css("a[download]"))
        .await
        .expect("the CSV link")
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert!(
        csv.starts_with("/api/v1/cdrs.csv?") && csv.contains("callee_prefix=44123"),
        "{csv}"
    );
    // The dashboard's script brings the attempt in once the hour figures are read again
    // (every 10 s at most): one attempt, answered.
    c.goto(&format!("{base}/")).await.expect("open dashboard");
    gateway_row_shows(c, "vendor-a-gw", "0 calls, 1 attempt at 100 %", |r| {
        r[3] == "0" && r[5] == "1" && r[6] == "100.0 %"
    })
    .await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(
        screenshot_dir().join("dashboard-gateways-after-call.png"),
        png,
    )
    .expect("write");
    // Reports: the gateway's ASR and ACD over time, with a legend.
    c.goto(&format!("{base}/reports"))
        .await
        .expect("open reports");
    shows(c, "/reports", "section.over-time", "ASR per hour").await;
    let legend = text(c, "section.over-time ul.legend").await;
    assert!(legend.contains("vendor-a-gw (1)"), "{legend}");
    let dots = c
        .find_all(Locator::Css("section.over-time circle.series"))
        .await
        .expect("points");
    assert_eq!(dots.len(), 2, "one ASR and one ACD point");
    c.execute(
        "document.querySelector('section.over-time').scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join("reports-gateways-over-time.png"), png).expect("write");
}

async fn log_out(c: &Client, base: &str) {
    c.goto(&format!("{base}/")).await.expect("open");
    c.find(Locator::Css("header .who button"))
        .await
        .expect("the logout button")
        .click()
        .await
        .expect("click");
    eventually(
        "the login page",
        Duration::from_secs(10),
        move || async move { (path(c).await == "/login").then_some(()) },
    )
    .await;
    c.goto(&format!("{base}/cdrs")).await.expect("open");
    assert_eq!(
        path(c).await,
        "/login",
        "logged out: pages send to the login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_the_console_in_a_browser() {
    let driver = start_chromedriver();
    let dir = std::env::temp_dir().join(format!("tollswitch-console-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (vendor_a, vendor_b) = (free_port(), free_port());
    let switch = start_switch(&dir, vendor_a, vendor_b);
    let base = format!("http://{}", switch.http);
    let c = browser(&driver).await;
    viewport(&c, 1366, 768).await;
    log_in(&c, &base).await;
    create_routing_gateway(&c, &base).await;
    bad_address_is_refused_at_its_field(&c, &base).await;
    a_call_is_seen_hung_up_and_found(&c, &base, &switch, vendor_a).await;
    photograph_every_page(&c, &base).await;
    log_out(&c, &base).await;
    let _ = c.close().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logs in through the API: the status code.
fn api_login(http_addr: SocketAddr, name: &str, password: &str) -> u16 {
    let body = json!({"name": name, "password": password}).to_string();
    http(http_addr, "POST", "/api/v1/login", Some(&body)).map_or(0, |(code, _)| code)
}

#[test]
fn serve_demo_creates_the_admin_once_and_user_add_changes_its_password() {
    let dir = std::env::temp_dir().join(format!("tollswitch-demo-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let created = |log: &[String]| {
        log.iter()
            .any(|l| l.contains("created console user \"admin\"") && l.contains("tollswitch-demo"))
    };
    let first = serve(&dir, &["--demo"]);
    assert!(created(&first.start_log), "{:?}", first.start_log);
    assert_eq!(api_login(first.http, "admin", "tollswitch-demo"), 200);
    drop(first);
    let changed = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["user", "add", "admin", "--role", "admin", "--data"])
        .arg(&dir)
        .env("TOLLSWITCH_PASSWORD", "a better secret")
        .output()
        .expect("user add");
    assert!(changed.status.success(), "{changed:?}");
    let again = serve(&dir, &["--demo"]);
    assert!(
        !created(&again.start_log),
        "an admin exists: {:?}",
        again.start_log
    );
    assert_eq!(api_login(again.http, "admin", "tollswitch-demo"), 401);
    assert_eq!(api_login(again.http, "admin", "a better secret"), 200);
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}
