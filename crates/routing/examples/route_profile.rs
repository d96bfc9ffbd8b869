//! Profiling driver for the benchmark's snapshot (no criterion):
//! `route_profile compile` compiles the snapshot once;
//! `route_profile route [N]` compiles it and then makes N (default 1,000,000) route decisions;
//! `route_profile hot [N]` does the same over 16 callees only (cache-hot: the CPU cost alone).
//! Run it under `valgrind --tool=callgrind` or `perf record`.

#[path = "../benches/workload/mod.rs"]
mod workload;

use std::hint::black_box;
use std::time::{Duration, Instant};
use tollswitch_routing::{CallRequest, IdleCounters, RoutingSnapshot, route};

/// On-CPU time of this thread (Linux), else zero.
fn cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "route".to_owned());
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let (p, callees) = workload::generate();
    let (t, c) = (Instant::now(), cpu());
    let snapshot = RoutingSnapshot::compile(&p).expect("generated provisioning is valid");
    eprintln!(
        "compile: {:.2?} wall, {:.2?} on CPU",
        t.elapsed(),
        cpu() - c
    );
    drop(p);
    // `hot`: cycle over 16 callees only, so the data stays in cache (pure CPU cost).
    let spread = match what.as_str() {
        "route" => callees.len(),
        "hot" => 16,
        _ => return,
    };
    let source = "10.1.2.3:5060".parse().expect("static address");
    let (t, c) = (Instant::now(), cpu());
    for i in 0..n {
        let req = CallRequest {
            source,
            digest_user: None,
            caller: "15551234567",
            callee: &callees[i % spread],
        };
        black_box(route(&snapshot, &req, &IdleCounters, 1_767_312_000));
    }
    let (e, c) = (t.elapsed(), cpu() - c);
    eprintln!(
        "route: {n} in {e:.2?} wall = {:.0}/s; {c:.2?} on CPU = {:.0}/s",
        n as f64 / e.as_secs_f64(),
        n as f64 / c.as_secs_f64()
    );
}
