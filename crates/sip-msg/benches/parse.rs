//! Parse + typed access of a typical 1 KB INVITE (2 Vias, SDP body), and printing it, against
//! rsip and rsipstack on the same bytes. Also counts heap allocations per parse.
//!
//! Run: `cargo bench -p tollswitch-sip-msg --bench parse`

// The counting allocator is the only unsafe code in the project: a bench-only measurement.
#![allow(unsafe_code)]

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tollswitch_sip_msg::Message;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// Forwards to the system allocator and counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

include!("common/invite.rs");

include!("common/typed_access.rs");

fn allocations(f: impl Fn()) -> usize {
    f();
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) / 100
}

fn per_op(f: impl Fn(), iters: u32) -> Duration {
    for _ in 0..iters / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed() / iters
}

fn bench(c: &mut Criterion) {
    let bytes = Bytes::from_static(INVITE);
    assert!(
        INVITE.len() > 900 && INVITE.len() < 1200,
        "a typical 1 KB INVITE: {}",
        INVITE.len()
    );
    let parsed = Message::parse(bytes.clone()).expect("parses");

    let mut g = c.benchmark_group("invite_1k");
    g.bench_function("tollswitch_parse_typed", |b| {
        b.iter(|| tollswitch_typed(black_box(&bytes)))
    });
    g.bench_function("tollswitch_print", |b| {
        b.iter(|| black_box(&parsed).to_bytes())
    });
    g.bench_function("rsip_parse_typed", |b| {
        b.iter(|| rsip_typed(black_box(INVITE)))
    });
    g.bench_function("rsipstack_parse_typed", |b| {
        b.iter(|| rsipstack_typed(black_box(INVITE)))
    });
    g.finish();

    // A plain side-by-side summary with the ratio the target is stated in.
    let n = 200_000;
    let t_ours = per_op(|| _ = black_box(tollswitch_typed(black_box(&bytes))), n);
    let t_rsip = per_op(|| _ = black_box(rsip_typed(black_box(INVITE))), n / 4);
    let t_stack = per_op(|| _ = black_box(rsipstack_typed(black_box(INVITE))), n / 4);
    let faster_ref = t_rsip.min(t_stack);
    println!(
        "\nsummary: parse + typed access of a {} byte INVITE",
        INVITE.len()
    );
    println!(
        "  tollswitch  {:>8.0} ns  {:>3} allocations",
        t_ours.as_nanos(),
        allocations(|| _ = tollswitch_typed(&bytes))
    );
    println!(
        "  rsip        {:>8.0} ns  {:>3} allocations",
        t_rsip.as_nanos(),
        allocations(|| _ = rsip_typed(INVITE))
    );
    println!(
        "  rsipstack   {:>8.0} ns  {:>3} allocations",
        t_stack.as_nanos(),
        allocations(|| _ = rsipstack_typed(INVITE))
    );
    println!(
        "  ratio: tollswitch is {:.1}x the faster reference (target >= 3x)",
        faster_ref.as_secs_f64() / t_ours.as_secs_f64()
    );
    let t_print = per_op(|| _ = black_box(parsed.to_bytes()), n);
    println!("  print: {:.0} ns", t_print.as_nanos());
}

criterion_group!(benches, bench);
criterion_main!(benches);
