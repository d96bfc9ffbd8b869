//! Full route decisions over a carrier-sized snapshot:
//! a 1,000,000-prefix customer rate deck and 200 routing gateways with 5,000–20,000-prefix
//! vendor decks, all generated deterministically from a seeded PRNG (see `workload/mod.rs`).
//!
//! `cargo bench -p tollswitch-routing` prints the provisioning size, the snapshot compile time,
//! the memory per rate prefix, criterion's figures, and finally a plain summary against the
//! targets (≥ 200,000 decisions/s on one core, compile < 3 s). Wall-clock figures suffer when
//! other work shares the machine, so the summary also gives on-CPU figures from
//! `/proc/thread-self/schedstat` (Linux) and takes the best of several runs.

mod workload;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tollswitch_routing::{CallRequest, IdleCounters, RoutingSnapshot, route};

/// The targets.
const TARGET_DECISIONS_PER_SEC: f64 = 200_000.0;
const TARGET_COMPILE_SECS: f64 = 3.0;

/// Time this thread spent on a CPU, when the OS tells (Linux); `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` and returns its wall-clock and on-CPU durations (on-CPU = wall when unknown).
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let cpu = thread_cpu_time();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed();
    let cpu = match (cpu, thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall,
    };
    (out, wall, cpu)
}

fn request(source: SocketAddr, callee: &str) -> CallRequest<'_> {
    CallRequest {
        source,
        digest_user: None,
        caller: "15551234567",
        callee,
    }
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let (p, callees) = workload::generate();
    let rates: usize = p.rate_tables.iter().map(|t| t.rates.len()).sum();
    println!(
        "generated {} rate tables, {rates} rates ({} customer) in {:.2?}",
        p.rate_tables.len(),
        p.rate_tables[0].rates.len(),
        t.elapsed()
    );

    // Compile twice (the first one also warms the allocator) and keep the better figures.
    let mut compile_wall = Duration::MAX;
    let mut compile_cpu = Duration::MAX;
    let mut snapshot = None;
    for _ in 0..2 {
        drop(snapshot.take());
        let (s, wall, cpu) =
            timed(|| RoutingSnapshot::compile(&p).expect("generated provisioning is valid"));
        println!("snapshot compile: {wall:.2?} wall, {cpu:.2?} on CPU (validation included)");
        compile_wall = compile_wall.min(wall);
        compile_cpu = compile_cpu.min(cpu);
        snapshot = Some(s);
    }
    let snapshot = snapshot.expect("compiled above");
    let stats = snapshot.stats();
    let bytes_per_prefix = stats.rate_bytes as f64 / stats.rate_prefixes as f64;
    println!(
        "{} rate prefixes in all tables, {} nodes in the shared rate trie ({:.2} nodes/prefix), \
         rate index {:.1} MB = {bytes_per_prefix:.1} bytes/prefix; routing trie {} prefixes",
        stats.rate_prefixes,
        stats.rate_trie_nodes,
        stats.rate_trie_nodes as f64 / stats.rate_prefixes as f64,
        stats.rate_bytes as f64 / 1e6,
        stats.route_prefixes,
    );
    drop(p);

    let source: SocketAddr = "10.1.2.3:5060".parse().expect("static address");
    let now = 1_767_312_000;

    // Plain count first: decisions per second on one core, best of several batches.
    let batches = 5;
    let rounds = 100_000;
    let mut best_wall = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut candidates = 0usize;
    let mut skipped = 0usize;
    for _ in 0..batches {
        let ((), wall, cpu) = timed(|| {
            for i in 0..rounds {
                let d = route(
                    &snapshot,
                    &request(source, &callees[i % callees.len()]),
                    &IdleCounters,
                    now,
                );
                candidates += d.candidates.len();
                skipped += d.skipped.len();
                black_box(d);
            }
        });
        best_wall = best_wall.min(wall);
        best_cpu = best_cpu.min(cpu);
    }
    let per_sec_wall = rounds as f64 / best_wall.as_secs_f64();
    let per_sec_cpu = rounds as f64 / best_cpu.as_secs_f64();
    let total = (batches * rounds) as f64;
    println!(
        "route: best of {batches} x {rounds} decisions in {best_wall:.2?} wall ({best_cpu:.2?} on \
         CPU) = {per_sec_wall:.0} decisions/s; {:.1} candidates and {:.1} skipped per decision",
        candidates as f64 / total,
        skipped as f64 / total,
    );

    let mut group = c.benchmark_group("routing");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("route_decision", |b| {
        b.iter(|| {
            i = (i + 1) % callees.len();
            black_box(route(
                &snapshot,
                &request(source, &callees[i]),
                &IdleCounters,
                now,
            ))
        })
    });
    let retail = snapshot.rate_table_id("retail").expect("retail exists");
    let mut j = 0usize;
    group.bench_function("customer_rate_lpm_1m", |b| {
        b.iter(|| {
            j = (j + 1) % callees.len();
            black_box(snapshot.rate(retail, &callees[j], now))
        })
    });
    group.finish();

    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    println!("== summary (targets: >= 200000 decisions/s per core, compile < 3 s) ==");
    println!(
        "decisions/s (1 core):  {per_sec_wall:.0} wall-clock, {per_sec_cpu:.0} on-CPU \
         = {:.2}x / {:.2}x the 200000/s target ({}); {:.2} us per decision",
        per_sec_wall / TARGET_DECISIONS_PER_SEC,
        per_sec_cpu / TARGET_DECISIONS_PER_SEC,
        verdict(per_sec_wall >= TARGET_DECISIONS_PER_SEC),
        1e6 / per_sec_wall,
    );
    println!(
        "snapshot compile:      {:.2} s wall-clock, {:.2} s on-CPU ({})",
        compile_wall.as_secs_f64(),
        compile_cpu.as_secs_f64(),
        verdict(compile_wall.as_secs_f64() < TARGET_COMPILE_SECS),
    );
    println!(
        "memory:                {bytes_per_prefix:.1} bytes per rate prefix (rate index {:.1} MB \
         for {} prefixes; routing index {} bytes)",
        stats.rate_bytes as f64 / 1e6,
        stats.rate_prefixes,
        stats.route_bytes,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(5))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
