//! Criterion benches of durable writes through `Engine::handle` on a `SqliteStore`: one writer
//! after another (one commit per op) and 20 writer threads at once (where group commit, when the
//! store has it, can share an fsync), in both durability modes (`fsync`, `os`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup: a failure aborts the run

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nodebus_registry::{Durability, Engine, EngineConfig, SqliteStore, StoreOptions};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WRITERS: usize = 20;

fn open(dir: &std::path::Path, durability: Durability) -> Engine {
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    let store = SqliteStore::open_with(dir, options).expect("store opens");
    Engine::open(EngineConfig::new("bench"), Box::new(store)).expect("engine opens")
}

/// `register:platform` of a new platform; panics unless it succeeded.
fn register(engine: &Engine, client: &str, seq: u64) {
    let op = format!(
        r#"{{"op":"register:platform","correl":{seq},"id":"{client}-{seq}","type":"sensor"}}"#
    );
    let outcome = engine.handle(client, op.as_bytes(), Instant::now());
    assert_eq!(outcome.status.code(), "00000", "{:?}", outcome.replies);
}

fn writes(c: &mut Criterion) {
    for durability in [Durability::Fsync, Durability::Os] {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Arc::new(open(dir.path(), durability));
        let seq = Arc::new(AtomicU64::new(0));
        let mut group = c.benchmark_group(format!("store/{durability}"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(1));

        group.bench_function("register:platform/1-writer", |b| {
            b.iter(|| register(&engine, "w", seq.fetch_add(1, Ordering::Relaxed)))
        });

        group.bench_function(
            BenchmarkId::new("register:platform", format!("{WRITERS}-writers")),
            |b| {
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(WRITERS as u64);
                    let started = Instant::now();
                    std::thread::scope(|scope| {
                        for writer in 0..WRITERS {
                            let engine = &engine;
                            let seq = &seq;
                            scope.spawn(move || {
                                let client = format!("w{writer}");
                                for _ in 0..per_thread {
                                    register(engine, &client, seq.fetch_add(1, Ordering::Relaxed));
                                }
                            });
                        }
                    });
                    // Time per op as criterion counts it: the run did per_thread × WRITERS ops.
                    started
                        .elapsed()
                        .mul_f64(iters as f64 / (per_thread * WRITERS as u64) as f64)
                })
            },
        );
        group.finish();
    }
}

criterion_group!(benches, writes);
criterion_main!(benches);
