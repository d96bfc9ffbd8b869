//! `kill -9` in the middle of traffic: every call SIPp saw complete has exactly one CDR after
//! the restart, and the customer's balance is its opening balance minus the sum of the charges.
//!
//! SIPp UAC → tollswitch → SIPp UAS on loopback; the switch is killed (SIGKILL, by PID) while
//! calls are being set up and torn down, restarted on the same data directory (the journal is
//! replayed), then stopped cleanly, and the database is read directly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tollswitch_model::Money;
use tollswitch_storage::{CdrFilter, Storage, TimeRange};

mod common;
use common::{free_port, sipp_dir, wait_bounded};

/// Starts the switch and waits for its start-up line; the receiver yields every stdout line.
fn start_switch(addr: SocketAddr, file: &Path, data: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["serve", "--sip", &addr.to_string(), "--http", "off"])
        .args(["--shards", "2", "--drain-timeout", "5", "--provisioning"])
        .arg(file)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tollswitch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("tollswitch listening") => break,
            Ok(line) => eprintln!("start-up: {line}"),
            Err(_) => panic!("tollswitch did not start listening"),
        }
    }
    (child, rx)
}

/// Call-IDs of the calls whose BYE got its 200 at the UAC, from SIPp's message trace.
fn completed_calls(trace: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    let mut done = Vec::new();
    for block in text.split("-----------------------------------------------") {
        if !block.contains("message received") {
            continue;
        }
        let mut lines = block.lines().skip_while(|l| !l.starts_with("SIP/2.0"));
        let Some(status) = lines.next() else { continue };
        if !status.starts_with("SIP/2.0 200") {
            continue;
        }
        let mut call_id = None;
        let mut bye = false;
        for l in lines {
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("call-id:") {
                call_id = Some(l[l.len() - v.len()..].trim().to_owned());
            }
            if lower.starts_with("cseq:") && lower.contains("bye") {
                bye = true;
            }
        }
        if bye && let Some(id) = call_id {
            done.push(id);
        }
    }
    done
}

#[test]
fn kill_9_mid_traffic_loses_no_finished_call_and_no_charge() {
    let dir = std::env::temp_dir().join(format!("tollswitch-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (vendor_a, vendor_b) = (free_port(), free_port());
    let prov = std::fs::read_to_string(sipp_dir().join("provisioning.toml"))
        .expect("interop provisioning")
        .replace("port = 5080", &format!("port = {vendor_a}"))
        .replace("port = 5082", &format!("port = {vendor_b}"));
    let file = dir.join("provisioning.toml");
    std::fs::write(&file, prov).expect("write provisioning");
    let data = dir.join("data");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));

    let (mut switch, _lines) = start_switch(addr, &file, &data);
    let mut uas = Command::new("sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &vendor_a.to_string()])
        .args(["-nostdin", "-timeout", "40s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp must be installed (apt-get install sip-tester)");
    let trace = dir.join("uac-messages.log");
    // 40 calls a second, each held 300 ms, for up to 400 calls; the switch dies after ~2.5 s.
    let mut uac = Command::new("sipp")
        .args(["-sn", "uac", "-s", "44123", "-i", "127.0.0.1"])
        .args([
            "-p",
            &free_port().to_string(),
            "-r",
            "40",
            "-m",
            "400",
            "-d",
            "300",
        ])
        .args(["-nostdin", "-trace_msg", "-message_file"])
        .arg(&trace)
        .arg(addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp uac");
    std::thread::sleep(Duration::from_millis(2500));
    switch.kill().expect("kill -9 the switch");
    let _ = switch.wait();
    // Nothing completes once the switch is gone: give SIPp a moment to log what is in flight,
    // then stop it (its trace is written message by message).
    let _ = wait_bounded(&mut uac, Duration::from_secs(3));
    let completed = completed_calls(&trace);
    assert!(
        completed.len() >= 20,
        "traffic was flowing before the kill: {} calls completed",
        completed.len()
    );
    assert!(
        completed.len() < 400,
        "the kill came in the middle of the traffic"
    );

    // Restart on the same data: the journal is replayed before the switch listens.
    let (mut switch, lines) = start_switch(addr, &file, &data);
    let status = Command::new("kill")
        .args(["-TERM", &switch.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    assert!(wait_bounded(&mut switch, Duration::from_secs(30)).success());
    let _ = uas.kill();
    let _ = uas.wait();
    let log: Vec<String> = lines.try_iter().collect();
    eprintln!("{} calls completed at SIPp", completed.len());
    for l in log.iter().filter(|l| l.starts_with("cdr ")) {
        eprintln!("after restart: {l}");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let url = tollswitch_storage::sqlite_url_for_data_dir(&data).expect("url");
        let storage = Storage::connect(&url).await.expect("database");
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let day = 86_400_000;
        let mut filter = CdrFilter::new(TimeRange::new(now_ms - day, now_ms + day));
        filter.limit = 10_000;
        let cdrs = storage.cdr_search(&filter, 2).await.expect("cdr search");
        let mut by_call: HashMap<&str, usize> = HashMap::new();
        for c in &cdrs {
            *by_call.entry(c.call_id.as_str()).or_default() += 1;
        }
        for id in &completed {
            assert_eq!(
                by_call.get(id.as_str()).copied(),
                Some(1),
                "call {id} completed at SIPp: exactly one CDR (log: {log:?})"
            );
        }
        assert!(by_call.values().all(|n| *n == 1), "no call has two CDRs");
        let charged: i64 = cdrs
            .iter()
            .filter(|c| c.account == "customer")
            .map(|c| c.charge.micros())
            .sum();
        assert!(charged > 0, "answered calls were charged");
        let balance = storage
            .account_balance("customer")
            .await
            .expect("balance")
            .expect("customer exists");
        let opening: Money = "100.00".parse().expect("money");
        assert_eq!(
            opening.micros() - balance.micros(),
            charged,
            "the balance moved by exactly the CDR charges"
        );
        storage.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
