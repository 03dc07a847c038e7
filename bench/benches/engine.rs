//! Criterion benches of the op engine alone (no transport): envelope decode + dispatch of
//! `query:local-node`, `register:platform` upserts on a `MemoryStore`, and `publish` to 1 and 10
//! subscribed input feeds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup: a failure aborts the run

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nodebus_registry::{Engine, MemoryStore};
use serde_json::json;

use common::ok;

fn engine() -> Engine {
    Engine::open(common::config(), Box::new(MemoryStore::new())).expect("engine opens")
}

fn query_local_node(c: &mut Criterion) {
    let engine = engine();
    let op = br#"{"op":"query:local-node","correl":"12345"}"#;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("query:local-node", |b| {
        b.iter(|| engine.handle("bench", op, Instant::now()))
    });
    group.bench_function("envelope-error", |b| {
        b.iter(|| engine.handle("bench", br#"{"op":"nope","correl":1}"#, Instant::now()))
    });
    group.finish();
}

fn register_platform(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    group.bench_function("register:platform/new-id/memory-store", |b| {
        b.iter(|| {
            seq += 1;
            let op = format!(
                r#"{{"op":"register:platform","correl":{seq},"id":"p{seq}","type":"sensor"}}"#
            );
            engine.handle("bench", op.as_bytes(), Instant::now())
        })
    });
    group.bench_function("register:platform/upsert/memory-store", |b| {
        let op = br#"{"op":"register:platform","correl":1,"id":"same","type":"sensor","desc":"x"}"#;
        b.iter(|| engine.handle("bench", op, Instant::now()))
    });
    group.finish();
}

/// A running producer `prod/s` owned by client `prod`, and `subscribers` running consumers
/// `c<i>/s` (client `c<i>`) whose input feeds are subscribed to it.
fn feed_engine(subscribers: usize) -> Engine {
    let engine = engine();
    let start = |client: &str, platform: &str| {
        ok(
            &engine,
            client,
            &json!({"op":"register:platform","id":platform,"type":"sensor"}),
        );
        ok(
            &engine,
            client,
            &json!({"op":"register:system","id":format!("{platform}/s"),"type":"simple_system"}),
        );
        ok(
            &engine,
            client,
            &json!({"op":"state:system","id":format!("{platform}/s"),"state":"running"}),
        );
    };
    start("prod", "prod");
    for i in 0..subscribers {
        let client = format!("c{i}");
        start(&client, &client);
        ok(
            &engine,
            &client,
            &json!({"op":"subscribe","output-feeds":["prod/s/untyped_output_feed"],"input-feed":format!("{client}/s/untyped_input_feed")}),
        );
    }
    engine
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/publish");
    group.throughput(Throughput::Elements(1));
    for subscribers in [1usize, 10] {
        let engine = feed_engine(subscribers);
        let op = br#"{"op":"publish","correl":"7","output-feed":"prod/s/untyped_output_feed","msg":{"t":21.5,"seq":12345}}"#;
        let outcome = engine.handle("prod", op, Instant::now());
        assert_eq!(outcome.encoded.len(), subscribers);
        group.bench_function(format!("{subscribers}-subscribers"), |b| {
            b.iter(|| engine.handle("prod", op, Instant::now()))
        });
    }
    group.finish();
}

criterion_group!(benches, query_local_node, register_platform, publish);
criterion_main!(benches);
