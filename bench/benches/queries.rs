//! Criterion benches of registry queries at scale: with 10k and 100k systems loaded (1M opt-in:
//! `NODEBUS_BENCH_SIZES=10000,100000,1000000`), an exact-id lookup, a wildcard id prefix, an
//! `attr` filter and a `loc` box, each returning 100 records or one. Also prints the memory per
//! system (VmRSS growth over loading, on a store that keeps nothing) and measures the cold start
//! of an engine on a SQLite store holding the same records.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup: a failure aborts the run

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nodebus_registry::{Engine, SqliteStore};
use serde_json::{json, Value};

use common::{platform_id, platform_loc, SpoolStore, PER_PLATFORM};

/// Registry sizes from `NODEBUS_BENCH_SIZES` (comma-separated), default 10 000 and 100 000.
fn sizes() -> Vec<usize> {
    std::env::var("NODEBUS_BENCH_SIZES")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|s| s.trim().replace('_', "").parse().ok())
                .filter(|&n: &usize| n >= PER_PLATFORM)
                .collect::<Vec<_>>()
        })
        .filter(|sizes| !sizes.is_empty())
        .unwrap_or_else(|| vec![10_000, 100_000])
}

fn records_in(outcome: &nodebus_registry::Outcome) -> usize {
    outcome.replies[0]["systems"].as_array().map_or(0, Vec::len)
}

fn queries(c: &mut Criterion) {
    for systems in sizes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = SqliteStore::open(dir.path()).expect("store opens");
        let spool = SpoolStore::new(Box::new(sqlite), 20_000);

        // Memory: the registry alone. The spool holds at most one batch of bodies at a time.
        let before = common::rss_kib();
        let started = Instant::now();
        let engine = Engine::open(common::config(), Box::new(spool.clone())).expect("engine");
        common::load_systems(&engine, systems);
        spool.flush().expect("flush");
        let load_time = started.elapsed();
        let grown = common::rss_kib().saturating_sub(before);
        println!(
            "registry/{systems}: loaded {systems} systems in {:.1} s ({:.0}/s); RSS +{} MiB = {:.0} bytes per system (6 services each, platform share included)",
            load_time.as_secs_f64(),
            systems as f64 / load_time.as_secs_f64(),
            grown / 1024,
            grown as f64 * 1024.0 / systems as f64
        );

        let platforms = systems.div_ceil(PER_PLATFORM);
        let probe = platforms / 2;
        let (lat, long) = platform_loc(probe);
        let cases: [(&str, Value, usize); 4] = [
            (
                "exact-id",
                json!({"op":"query:systems","id":format!("{}/s07", platform_id(probe))}),
                1,
            ),
            (
                "wildcard-prefix",
                json!({"op":"query:systems","id":format!("{}/*", platform_id(probe))}),
                PER_PLATFORM,
            ),
            (
                "attr",
                json!({"op":"query:systems","attr":{"rack":probe}}),
                systems / platforms,
            ),
            (
                "loc-box",
                json!({"op":"query:systems","loc":{"left":long-0.001,"right":long+0.001,"bottom":lat-0.001,"top":lat+0.001}}),
                PER_PLATFORM,
            ),
        ];
        let mut group = c.benchmark_group(format!("query:systems/{systems}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(3));
        for (name, op, expected) in cases {
            let bytes = op.to_string().into_bytes();
            let found = records_in(&common::ok(&engine, "bench", &op));
            assert_eq!(found, expected, "{name} at {systems} systems found {found}");
            group.bench_function(BenchmarkId::new(name, format!("{found} records")), |b| {
                b.iter(|| engine.handle("bench", &bytes, Instant::now()))
            });
        }
        group.finish();
        // Both hold the store, which holds the data directory's lock.
        drop(engine);
        drop(spool);

        let mut group = c.benchmark_group("cold-start/sqlite");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(systems as u64));
        group.bench_function(BenchmarkId::from_parameter(systems), |b| {
            // One engine at a time (the directory lock), and its drop is not timed.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let store = SqliteStore::open(dir.path()).expect("store opens");
                    let engine =
                        Engine::open(common::config(), Box::new(store)).expect("engine opens");
                    total += started.elapsed();
                    drop(engine);
                }
                total
            })
        });
        group.finish();
    }
}

criterion_group!(benches, queries);
criterion_main!(benches);
