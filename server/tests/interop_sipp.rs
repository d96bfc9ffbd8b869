//! SIPp against the real `tollswitch` binary on loopback: SIPp UAC (customer) → tollswitch →
//! SIPp UAS (vendors). Each test gets its own ports, so tests run in parallel; every process is
//! bounded by SIPp's `-timeout` and killed by PID at the end.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, sipp_dir, wait_bounded};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollswitch-sipp-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

struct Switch {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    /// The provisioning file it serves (SIGHUP re-reads it).
    file: PathBuf,
}

impl Switch {
    fn start(name: &str, vendor_a: u16, vendor_b: u16) -> Switch {
        Switch::start_with(name, vendor_a, vendor_b, |p| p)
    }

    fn start_with(
        name: &str,
        vendor_a: u16,
        vendor_b: u16,
        edit: impl Fn(String) -> String,
    ) -> Switch {
        let dir = temp_dir(name);
        let prov = edit(
            std::fs::read_to_string(sipp_dir().join("provisioning.toml"))
                .expect("interop provisioning"),
        )
        .replace("port = 5080", &format!("port = {vendor_a}"))
        .replace("port = 5082", &format!("port = {vendor_b}"));
        let file = dir.join("provisioning.toml");
        std::fs::write(&file, prov).expect("write provisioning");
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
            .args(["serve", "--sip", &addr.to_string(), "--http", "127.0.0.1:0"])
            .args([
                "--shards",
                "2",
                "--drain-timeout",
                "5",
                "--reload-interval",
                "1",
            ])
            .arg("--provisioning")
            .arg(&file)
            .arg("--data")
            .arg(dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tollswitch");
        let stdout = child.stdout.take().expect("stdout");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Logged before the start is announced: the test reads the line right after.
                let listening = line.starts_with("tollswitch listening");
                lines.lock().map(|mut l| l.push(line)).ok();
                if listening {
                    let _ = ready_tx.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("tollswitch did not start listening");
        Switch {
            child,
            addr,
            log,
            file,
        }
    }

    fn calls_ended(&self, needle: &str) -> usize {
        self.log
            .lock()
            .map(|l| l.iter().filter(|s| s.contains(needle)).count())
            .unwrap_or(0)
    }

    /// Waits until `n` log lines contain `needle` (bounded).
    fn wait_for(&self, needle: &str, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.calls_ended(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Switch {
    /// Sends `signal` (TERM, HUP…) to the switch process, by its PID.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scenario from `interop/sipp/` with `@CODE@` replaced.
fn scenario(name: &str, file: &str, code: u16) -> PathBuf {
    let text = std::fs::read_to_string(sipp_dir().join(file)).expect("scenario");
    let path = temp_dir(name).join(format!("{code}-{file}"));
    std::fs::write(&path, text.replace("@CODE@", &code.to_string())).expect("write scenario");
    path
}

enum Uas {
    Answer,
    Refuse(u16),
    File(&'static str),
}

fn start_uas(name: &str, port: u16, kind: Uas, calls: u32, extra: &[&str]) -> Child {
    let mut cmd = Command::new("sipp");
    match kind {
        Uas::Answer => cmd.args(["-sn", "uas"]),
        Uas::Refuse(code) => cmd.arg("-sf").arg(scenario(name, "uas_code.xml", code)),
        Uas::File(file) => cmd.arg("-sf").arg(sipp_dir().join(file)),
    };
    cmd.args([
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-m",
        &calls.to_string(),
    ])
    .args(["-nostdin", "-timeout", "40s", "-timeout_error"])
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("sipp must be installed (apt-get install sip-tester)")
}

/// Runs a SIPp UAC scenario file from `interop/sipp/` to completion (bounded).
fn run_uac_file(switch: SocketAddr, callee: &str, file: &str, args: &[&str]) -> ExitStatus {
    let port = free_port();
    let mut child = Command::new("sipp")
        .arg("-sf")
        .arg(sipp_dir().join(file))
        .args(["-s", callee, "-p", &port.to_string(), "-i", "127.0.0.1"])
        .args(["-nostdin", "-timeout", "30s", "-timeout_error", "-m", "1"])
        .args(args)
        .arg(switch.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp must be installed (apt-get install sip-tester)");
    wait_bounded(&mut child, Duration::from_secs(45))
}

/// Runs a SIPp UAC to completion (bounded) and returns its exit status.
fn run_uac(
    name: &str,
    switch: SocketAddr,
    callee: &str,
    expect: Option<u16>,
    args: &[&str],
) -> ExitStatus {
    let port = free_port();
    let mut cmd = Command::new("sipp");
    match expect {
        None => cmd.args(["-sn", "uac"]),
        Some(code) => cmd.arg("-sf").arg(scenario(name, "uac_expect.xml", code)),
    };
    let mut child = cmd
        .args(["-s", callee, "-p", &port.to_string()])
        .args(["-nostdin", "-timeout", "30s", "-timeout_error", "-r", "10"])
        .args(args)
        .arg(switch.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp must be installed (apt-get install sip-tester)");
    wait_bounded(&mut child, Duration::from_secs(45))
}

fn stop(mut child: Child) -> ExitStatus {
    wait_bounded(&mut child, Duration::from_secs(10))
}

#[test]
fn basic_call_with_caller_bye() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("basic", a, b);
    let uas = start_uas("basic", a, Uas::Answer, 3, &[]);
    let status = run_uac(
        "basic",
        switch.addr,
        "44123",
        None,
        &["-m", "3", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "SIPp UAC: {status}");
    assert!(stop(uas).success(), "SIPp UAS saw every call complete");
    assert!(switch.wait_for("ended 200 connected=true by=Caller", 3));
}

#[test]
fn a_gateway_named_by_host_name_is_reached_at_its_resolved_address() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start_with("hostname", a, b, |p| {
        p.replacen(
            r#"targets = [{ host = "127.0.0.1", port = 5080 }]"#,
            r#"targets = [{ host = "localhost", port = 5080 }]"#,
            1,
        )
    });
    assert!(
        switch.wait_for("target host localhost resolves to", 1),
        "the switch resolved the target host name"
    );
    let uas = start_uas("hostname", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "hostname",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "SIPp UAC: {status}");
    assert!(
        stop(uas).success(),
        "the vendor behind the host name answered"
    );
    assert!(switch.wait_for("ended 200 connected=true by=Caller", 1));
}

#[test]
fn basic_call_over_tcp() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("tcp", a, b);
    let uas = start_uas("tcp", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "tcp",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-t", "t1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "SIPp UAC over TCP: {status}");
    assert!(stop(uas).success());
    assert!(switch.wait_for("ended 200 connected=true", 1));
}

#[test]
fn busy_486_from_the_only_vendor_is_relayed() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("busy", a, b);
    let uas = start_uas("busy", a, Uas::Refuse(486), 1, &[]);
    // Prefix 1 is routed to vendor A only.
    let status = run_uac(
        "busy",
        switch.addr,
        "15551234",
        Some(486),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "caller got 486: {status}");
    let _ = stop(uas);
    assert!(switch.wait_for("ended 486", 1));
}

#[test]
fn failover_503_from_vendor_1_then_200_from_vendor_2() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("failover", a, b);
    let uas_a = start_uas("failover-a", a, Uas::Refuse(503), 1, &[]);
    let uas_b = start_uas("failover-b", b, Uas::Answer, 1, &[]);
    let status = run_uac(
        "failover",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "caller answered by vendor 2: {status}");
    let _ = stop(uas_a);
    assert!(stop(uas_b).success());
    assert!(switch.wait_for("tried=[vendor-a-gw:503,vendor-b-gw:200]", 1));
}

#[test]
fn decline_603_from_vendor_1_stops_failover() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("decline", a, b);
    let uas_a = start_uas("decline", a, Uas::Refuse(603), 1, &[]);
    let status = run_uac(
        "decline",
        switch.addr,
        "44123",
        Some(603),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "caller got 603: {status}");
    let _ = stop(uas_a);
    assert!(
        switch.wait_for("tried=[vendor-a-gw:603]", 1),
        "vendor 2 was not tried"
    );
}

#[test]
fn no_answer_from_vendor_1_within_the_invite_timeout_then_vendor_2() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("noanswer", a, b);
    // Vendor 1 swallows every datagram; SS_SIP_TIMEOUT_INVITE is 3 s in the interop provisioning.
    let _silent = UdpSocket::bind(("127.0.0.1", a)).expect("silent vendor");
    let uas_b = start_uas("noanswer-b", b, Uas::Answer, 1, &[]);
    let started = Instant::now();
    let status = run_uac(
        "noanswer",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "caller answered by vendor 2: {status}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the INVITE timeout"
    );
    assert!(stop(uas_b).success());
    assert!(switch.wait_for("tried=[vendor-a-gw:408,vendor-b-gw:200]", 1));
}

#[test]
fn unknown_source_gets_403() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("stranger", a, b);
    let status = run_uac(
        "stranger",
        switch.addr,
        "44123",
        Some(403),
        &["-m", "1", "-i", "127.0.0.2"],
    );
    assert!(
        status.success(),
        "a source outside every mapping gateway gets 403: {status}"
    );
}

#[test]
fn unroutable_number_gets_404() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("unroutable", a, b);
    // 33 is priced for the customer but no routing gateway carries it.
    let status = run_uac(
        "unroutable",
        switch.addr,
        "33123",
        Some(404),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "unroutable number gets 404: {status}");
    assert!(switch.wait_for("ended 404", 1));
}

#[test]
fn calls_complete_with_10_percent_packet_loss() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("lossy", a, b);
    let uas = start_uas("lossy", a, Uas::Answer, 10, &[]);
    let status = run_uac(
        "lossy",
        switch.addr,
        "44123",
        None,
        &["-m", "10", "-lost", "10", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "every call completes despite 10 % loss on the caller: {status}"
    );
    let _ = stop(uas);
    assert!(switch.wait_for("ended 200 connected=true", 10));
}

#[test]
fn early_media_183_with_sdp_is_relayed() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("early", a, b);
    let uas = start_uas("early", a, Uas::File("uas_early_media.xml"), 1, &[]);
    let status = run_uac(
        "early",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "call with early media completes: {status}"
    );
    assert!(
        stop(uas).success(),
        "the vendor saw its 183 and 200 through"
    );
}

#[test]
fn reinvite_mid_call_is_relayed() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("reinvite", a, b);
    let uas = start_uas("reinvite", a, Uas::File("uas_reinvite.xml"), 1, &[]);
    let status = run_uac_file(switch.addr, "44123", "uac_reinvite.xml", &[]);
    assert!(status.success(), "re-INVITE answered end to end: {status}");
    assert!(
        stop(uas).success(),
        "the vendor got the re-INVITE and the BYE"
    );
    assert!(switch.wait_for("ended 200 connected=true by=Caller", 1));
}

#[test]
fn callee_bye_is_relayed_to_the_caller() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("calleebye", a, b);
    let uas = start_uas("calleebye", a, Uas::File("uas_bye.xml"), 1, &[]);
    let status = run_uac_file(switch.addr, "44123", "uac_wait_bye.xml", &[]);
    assert!(
        status.success(),
        "the caller got the callee's BYE: {status}"
    );
    assert!(stop(uas).success());
    assert!(switch.wait_for("by=Callee", 1));
}

#[test]
fn cancel_during_ringing_gets_487() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("cancel", a, b);
    let uas = start_uas("cancel", a, Uas::File("uas_ring.xml"), 1, &[]);
    let status = run_uac_file(switch.addr, "44123", "uac_cancel.xml", &[]);
    assert!(
        status.success(),
        "CANCEL answered 200 and the INVITE 487: {status}"
    );
    assert!(stop(uas).success(), "the vendor's INVITE was cancelled");
    assert!(switch.wait_for("ended 487", 1));
}

#[test]
fn line_limit_reached_gets_503() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start_with("linelimit", a, b, |p| {
        p.replace(
            "sources = [\"127.0.0.1\"]",
            "sources = [\"127.0.0.1\"]\nline_limit = 1",
        )
    });
    let uas = start_uas("linelimit", a, Uas::Answer, 1, &[]);
    // The first call holds the only line for 3 s.
    let port = free_port();
    let mut first = Command::new("sipp")
        .args([
            "-sn",
            "uac",
            "-s",
            "44123",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-m", "1", "-d", "3000", "-nostdin", "-timeout", "30s"])
        .arg(switch.addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    std::thread::sleep(Duration::from_millis(800));
    let status = run_uac(
        "linelimit",
        switch.addr,
        "44123",
        Some(503),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "the second concurrent call gets 503: {status}"
    );
    assert!(
        wait_bounded(&mut first, Duration::from_secs(20)).success(),
        "the first call completes"
    );
    let _ = stop(uas);
}

#[test]
fn sigterm_refuses_new_calls_lets_the_call_in_progress_finish_then_exits() {
    let (a, b) = (free_port(), free_port());
    let mut switch = Switch::start("drain", a, b);
    let uas = start_uas("drain", a, Uas::Answer, 1, &[]);
    // A call that hangs up after 3 s.
    let port = free_port();
    let mut first = Command::new("sipp")
        .args(["-sn", "uac", "-s", "44123", "-i", "127.0.0.1"])
        .args(["-p", &port.to_string(), "-m", "1", "-d", "3000"])
        .args(["-nostdin", "-timeout", "30s", "-timeout_error"])
        .arg(switch.addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    // Wait until the call is up (the vendor's ACK went through) before stopping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !http_busy(&switch) {
        std::thread::sleep(Duration::from_millis(20));
    }
    switch.signal("TERM");
    assert!(switch.wait_for("tollswitch draining", 1));
    let status = run_uac(
        "drain",
        switch.addr,
        "44123",
        Some(503),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "a new call while draining gets 503: {status}"
    );
    assert!(
        wait_bounded(&mut first, Duration::from_secs(20)).success(),
        "the call in progress completes"
    );
    assert!(stop(uas).success());
    let exit = wait_bounded(&mut switch.child, Duration::from_secs(10));
    assert!(exit.success(), "the switch exits cleanly once idle: {exit}");
    assert!(switch.wait_for("ended 200 connected=true by=Caller", 1));
    assert!(switch.wait_for("ended 503 connected=false by=Switch", 1));
}

/// True when the switch's /metrics shows something in progress.
fn http_busy(switch: &Switch) -> bool {
    let Some(addr) = switch.http_addr() else {
        return false;
    };
    http_get(addr, "/metrics")
        .lines()
        .any(|l| l.starts_with("tollswitch_busy ") && l != "tollswitch_busy 0")
}

impl Switch {
    /// The HTTP address from the start-up line.
    fn http_addr(&self) -> Option<SocketAddr> {
        let log = self.log.lock().ok()?;
        let line = log.iter().find(|l| l.starts_with("tollswitch listening"))?;
        let after = line.split(", http ").nth(1)?;
        after.split(',').next()?.trim().parse().ok()
    }
}

/// A plain HTTP/1.1 GET; the body (empty on any failure).
fn http_get(addr: SocketAddr, path: &str) -> String {
    http_as(addr, "GET", path, None).1
}

#[test]
fn health_and_metrics_are_served_over_http() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("http", a, b);
    let addr = switch
        .http_addr()
        .expect("http address in the start-up line");
    assert_eq!(http_get(addr, "/healthz"), "ok\n");
    assert_eq!(http_get(addr, "/readyz"), "ready\n");
    let metrics = http_get(addr, "/metrics");
    assert!(
        metrics.contains("# TYPE tollswitch_sip_received_total counter"),
        "{metrics}"
    );
}

/// The interop provisioning with 33 routed on vendor-a-gw (and priced for its vendor).
fn route_33(text: &str) -> String {
    text.replacen("prefixes = [\"44\"", "prefixes = [\"33\", \"44\"", 1)
        .replace(
            "{ prefix = \"1\", price = \"0.005\" }",
            "{ prefix = \"1\", price = \"0.005\" }, { prefix = \"33\", price = \"0.02\" }",
        )
}

#[test]
fn sighup_reloads_the_provisioning_into_the_running_switch() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("reload", a, b);
    // 33 is priced but not routed: 404.
    let status = run_uac(
        "reload",
        switch.addr,
        "33123",
        Some(404),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "before the reload: {status}");
    let text = std::fs::read_to_string(&switch.file).expect("provisioning");
    let routed = route_33(&text);
    assert_ne!(
        routed, text,
        "the interop provisioning routes 44 on vendor-a-gw"
    );
    std::fs::write(&switch.file, routed).expect("rewrite provisioning");
    switch.signal("HUP");
    assert!(switch.wait_for("provisioning reloaded", 1));
    let uas = start_uas("reload", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "reload-after",
        switch.addr,
        "33123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "after the reload 33 is routed: {status}");
    assert!(stop(uas).success());
}

#[test]
fn a_payment_made_while_running_lets_a_refused_customer_call() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start_with("payment", a, b, |p| {
        p.replace("balance = \"100.00\"", "balance = \"0.01\"")
    });
    let status = run_uac(
        "payment-before",
        switch.addr,
        "44123",
        Some(402),
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "0.01 does not buy a minute at 0.05: {status}"
    );
    let data = switch.file.parent().expect("dir").join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let url = tollswitch_storage::sqlite_url_for_data_dir(&data).expect("url");
        let storage = tollswitch_storage::Storage::connect(&url)
            .await
            .expect("database");
        storage
            .pay("customer", "10".parse().expect("money"), Some("top-up"), 0)
            .await
            .expect("payment");
        storage.close().await;
    });
    assert!(
        switch.wait_for("balance of customer changed by 10", 1),
        "the running switch picked the payment up"
    );
    let uas = start_uas("payment", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "payment-after",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(
        status.success(),
        "after the payment the call goes through: {status}"
    );
    assert!(stop(uas).success());
}

#[test]
fn provision_apply_reaches_the_running_switch_without_a_signal() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("apply", a, b);
    let data = switch.file.parent().expect("dir").join("data");
    let routed = route_33(&std::fs::read_to_string(&switch.file).expect("provisioning"));
    let other = switch.file.with_file_name("routed.toml");
    std::fs::write(&other, routed).expect("write");
    let status = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["provision", "apply"])
        .arg(&other)
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("provision apply");
    assert!(status.success());
    assert!(
        switch.wait_for("provisioning reloaded", 1),
        "the revision change was noticed"
    );
    let uas = start_uas("apply", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "apply-after",
        switch.addr,
        "33123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "33 is routed now: {status}");
    assert!(stop(uas).success());
}

/// A CDR receiver: answers the first request 503 (down), then 200, and hands every body over.
fn cdr_receiver() -> (u16, mpsc::Receiver<(u16, String)>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let Ok(k) = conn.read(&mut chunk) else {
                    break None;
                };
                if k == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .and_then(|v| v.trim().parse::<usize>().ok())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let code = if n == 0 { 503 } else { 200 };
            let _ = conn.write_all(
                format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if tx.send((code, body.unwrap_or_default())).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn cdrs_are_pushed_in_real_time_and_retried_while_the_receiver_is_down() {
    let (receiver, bodies) = cdr_receiver();
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start_with("push", a, b, |p| {
        p.replace(
            "[parameters]",
            &format!("[parameters]\nSERVER_CDR_REAL_TIME_REPORT_SERVER = \"127.0.0.1:{receiver}\""),
        )
    });
    let uas = start_uas("push", a, Uas::Answer, 1, &[]);
    let status = run_uac(
        "push",
        switch.addr,
        "44123",
        None,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert!(status.success(), "{status}");
    assert!(stop(uas).success());
    let (first, refused) = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("a push arrives");
    assert_eq!(first, 503, "the receiver was down at first");
    assert!(refused.contains("\"account\":\"customer\""), "{refused}");
    let (second, body) = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("the push is retried");
    assert_eq!(second, 200);
    assert_eq!(body, refused, "the same CDRs again, nothing lost");
    let cdrs: serde_json::Value = serde_json::from_str(&body).expect("JSON array");
    let first_cdr = &cdrs[0];
    assert_eq!(first_cdr["end_reason"], "normal_clearing");
    assert_eq!(
        first_cdr["charge"], "0.05",
        "a short call billed one minute at 0.05"
    );
}

/// GET with an optional bearer token; (status line, body).
fn http_get_as(addr: SocketAddr, path: &str, token: Option<&str>) -> (String, String) {
    http_as(addr, "GET", path, token)
}

#[test]
fn the_api_of_a_running_switch_needs_a_token_a_cli_created() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("api", a, b);
    let data = switch.file.parent().expect("dir").join("data");
    let tollswitch = env!("CARGO_BIN_EXE_tollswitch");
    let added = Command::new(tollswitch)
        .args(["user", "add", "ops", "--role", "viewer", "--data"])
        .arg(&data)
        .env("TOLLSWITCH_PASSWORD", "long enough secret")
        .output()
        .expect("user add");
    assert!(added.status.success(), "{added:?}");
    let short = Command::new(tollswitch)
        .args(["user", "add", "ops2", "--role", "viewer", "--data"])
        .arg(&data)
        .env("TOLLSWITCH_PASSWORD", "short")
        .output()
        .expect("user add");
    assert_eq!(short.status.code(), Some(2), "SERVER_PASSWORD_LENGTH is 8");
    let token = Command::new(tollswitch)
        .args(["token", "create", "ops", "--data"])
        .arg(&data)
        .output()
        .expect("token create");
    assert!(token.status.success());
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let http = switch.http_addr().expect("http address");
    let (status, _) = http_get_as(http, "/api/v1/live", None);
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = http_get_as(http, "/api/v1/live", Some(&token));
    assert!(status.contains(" 200 "), "{status} {body}");
    let live: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(live["calls"], 0);
    let (status, _) = http_get_as(http, "/api/v1/users", Some(&token));
    assert!(
        status.contains(" 403 "),
        "a viewer is not an admin: {status}"
    );
}

/// Any method with an optional bearer token; (status line, body).
fn http_as(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (String::new(), String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    let _ = s.write_all(req.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.lines().next().unwrap_or_default().to_owned();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn an_operator_lists_calls_in_progress_and_hangs_one_up_through_the_api() {
    let (a, b) = (free_port(), free_port());
    let switch = Switch::start("hangup", a, b);
    let data = switch.file.parent().expect("dir").join("data");
    let tollswitch = env!("CARGO_BIN_EXE_tollswitch");
    let added = Command::new(tollswitch)
        .args(["user", "add", "noc", "--role", "operator", "--data"])
        .arg(&data)
        .env("TOLLSWITCH_PASSWORD", "long enough secret")
        .output()
        .expect("user add");
    assert!(added.status.success());
    let token = Command::new(tollswitch)
        .args(["token", "create", "noc", "--data"])
        .arg(&data)
        .output()
        .expect("token create");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let http = switch.http_addr().expect("http address");
    let uas = start_uas("hangup", a, Uas::Answer, 1, &[]);
    // A call that would last 20 s.
    let port = free_port();
    let mut caller = Command::new("sipp")
        .args(["-sn", "uac", "-s", "44123", "-i", "127.0.0.1"])
        .args(["-p", &port.to_string(), "-m", "1", "-d", "20000"])
        .args(["-nostdin", "-timeout", "30s"])
        .arg(switch.addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut calls = serde_json::Value::Null;
    while Instant::now() < deadline {
        let (_, body) = http_as(http, "GET", "/api/v1/calls", Some(&token));
        calls = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        if calls[0]["state"] == "connected" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(calls[0]["state"], "connected", "{calls}");
    assert_eq!(calls[0]["routing_gateway"], "vendor-a-gw");
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_owned();
    let (status, body) = http_as(
        http,
        "DELETE",
        &format!("/api/v1/calls/{call_id}"),
        Some(&token),
    );
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(switch.wait_for("hung up by the operator", 1));
    let (_, body) = http_as(http, "GET", "/api/v1/calls", Some(&token));
    assert_eq!(body.trim(), "[]");
    let (status, _) = http_as(
        http,
        "DELETE",
        &format!("/api/v1/calls/{call_id}"),
        Some(&token),
    );
    assert!(status.contains(" 404 "), "{status}");
    let _ = wait_bounded(&mut caller, Duration::from_secs(25));
    let _ = stop(uas);
}
