//! The simulation engine on the ietf124 scenario on one core, and the bare future-event set.
//!
//! What is counted: an **event** is a state change of an actor (an attacker refresh attempt or
//! start, a legitimate refresh that exposes or ends a fork, a customer, vendor or provider
//! revocation, an expiry, the end of a binding window or of a foothold). API calls and runs of
//! uneventful refreshes are counted in closed form and are not events. A **customer run** is one
//! customer × strategy × attacker policy simulated once (a two-pass scenario runs each twice).
//! `engine/ietf124/one-core` reports events/s; `engine/ietf124/customer-runs` the same work as
//! customer runs/s. Each iteration checks its answer (the same event count every time, and the
//! split-DPoP invariant of the scenario) so the bench cannot silently measure nothing.
//!
//! `cargo bench --features full --bench engine`; CI runs it once with `-- --test`.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leaklab_sim::engine::EventQueue;
use leaklab_sim::runner::{run, Silent};
use leaklab_sim::scenario::Scenario;

fn ietf124(c: &mut Criterion) {
    let base = Scenario::load(Path::new("scenarios/ietf124.toml")).expect("scenarios/ietf124.toml");
    // One replication pair on one core: the engine's single-thread speed.
    let scenario = Scenario {
        replications: 2,
        ..base
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let first = pool.install(|| run(&scenario, false, &Silent));
    let (events, customer_runs) = (first.events, first.customer_runs);
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    let checked_run = || {
        let r = pool.install(|| run(&scenario, false, &Silent));
        assert_eq!(r.events, events, "deterministic event count");
        assert!(r
            .metric("split-dpop", "rt-store", "attacker_refresh_ok")
            .iter()
            .all(|v| *v == 0.0));
        r
    };
    group.throughput(Throughput::Elements(events));
    group.bench_function("ietf124/one-core", |b| b.iter(checked_run));
    group.throughput(Throughput::Elements(customer_runs));
    group.bench_function("ietf124/customer-runs", |b| b.iter(checked_run));
    group.finish();
}

fn future_event_set(c: &mut Criterion) {
    // The bare heap with a steady population of pending events (hold model).
    const PENDING: usize = 1024;
    const OPS: u64 = 1_000_000;
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(OPS));
    group.bench_function("event-queue/hold-1024", |b| {
        b.iter(|| {
            let mut q: EventQueue<u32> = EventQueue::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            for i in 0..PENDING {
                q.schedule(next(), i as u32);
            }
            let mut last = 0.0;
            for _ in 0..OPS {
                let (t, e) = q.pop().expect("pending events");
                assert!(t >= last);
                last = t;
                q.schedule(t + next(), e);
            }
            assert_eq!(q.len(), PENDING);
            q.processed()
        })
    });
    group.finish();
}

criterion_group!(benches, ietf124, future_event_set);
criterion_main!(benches);
