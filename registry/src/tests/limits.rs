//! Configured limits: identifier length, subscriptions per client, default request timeout.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::{Engine, EngineConfig, MemoryStore};

fn engine_with(config: EngineConfig) -> Engine {
    Engine::open(config, Box::new(MemoryStore::new())).unwrap()
}

#[test]
fn identifier_length_follows_the_configuration() {
    let engine = engine_with(EngineConfig {
        max_identifier_chars: 8,
        ..EngineConfig::new(NODE_ID)
    });
    expect(
        &engine,
        json!({"op":"register:platform","id":"12345678","type":"app"}),
        "00000",
    );
    let outcome = expect(
        &engine,
        json!({"op":"register:platform","id":"123456789","type":"app"}),
        "10208",
    );
    assert!(
        outcome.status.msg.contains("longer than 8"),
        "{}",
        outcome.status.msg
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"12345678/123456789","type":"simple_system"}),
        "1020A",
    );
    let default = engine_with(EngineConfig::new(NODE_ID));
    expect(
        &default,
        json!({"op":"register:platform","id":"x".repeat(256),"type":"app"}),
        "00000",
    );
    expect(
        &default,
        json!({"op":"register:platform","id":"x".repeat(257),"type":"app"}),
        "10208",
    );
}

#[test]
fn records_longer_than_a_lowered_limit_still_load() {
    let store = MemoryStore::new();
    let first = Engine::open(EngineConfig::new(NODE_ID), Box::new(store.clone())).unwrap();
    expect(
        &first,
        json!({"op":"register:platform","id":"x".repeat(200),"type":"app"}),
        "00000",
    );
    let second = Engine::open(
        EngineConfig {
            max_identifier_chars: 10,
            ..EngineConfig::new(NODE_ID)
        },
        Box::new(store),
    )
    .unwrap();
    assert_eq!(query(&second, json!({"op":"query:platforms"})).len(), 1);
}

#[test]
fn subscriptions_per_client_are_limited_and_a_refusal_changes_nothing() {
    let engine = feeds_world();
    // feeds_world uses the default config; a limited engine needs the same world.
    let limited = engine_with(EngineConfig {
        max_subscriptions_per_client: 3,
        ..EngineConfig::new(NODE_ID)
    });
    for op in engine.export() {
        expect(&limited, op, "00000");
    }
    start(&limited, "c", "d/dash");
    // One pattern wiring two feeds: 3 held.
    subscribe(
        &limited,
        "c",
        "d/dash/untyped_input_feed",
        json!(["p1/temp_sensor/*"]),
    );
    let before = wirings(&limited);
    let outcome = send_as(
        &limited,
        "c",
        json!({"op":"subscribe","output-feeds":["p2/*/temp"],"input-feed":"d/dash/untyped_input_feed"}),
    );
    assert_eq!(outcome.status.code(), "5070A");
    assert!(
        outcome.status.msg.contains("too many subscriptions"),
        "{}",
        outcome.status.msg
    );
    assert_eq!(wirings(&limited), before);
    // Repeating what is held adds nothing and is allowed.
    subscribe(
        &limited,
        "c",
        "d/dash/untyped_input_feed",
        json!(["p1/temp_sensor/*"]),
    );
    // Another client has its own budget.
    start(&limited, "other", "d/log");
    subscribe(
        &limited,
        "other",
        "d/log/untyped_input_feed",
        json!(["p2/*/temp"]),
    );
}

#[test]
fn a_default_request_timeout_applies_to_requests_without_one() {
    let engine = engine_with(EngineConfig {
        default_request_timeout: Some(Duration::from_secs(5)),
        ..EngineConfig::new(NODE_ID)
    });
    for request in [
        json!({"op":"register:platform","id":"p","type":"app"}),
        json!({"op":"register:system","id":"p/a","type":"simple_system"}),
        json!({"op":"register:system","id":"p/b","type":"simple_system"}),
    ] {
        expect(&engine, request, "00000");
    }
    start(&engine, "ca", "p/a");
    start(&engine, "cb", "p/b");
    let now = Instant::now();
    let request = json!({"op":"request","correl":"r1","solicit-response":"p/a/untyped_solicit_response",
        "request-response":["p/b/untyped_request_response"],"msg":1});
    let outcome = engine.handle("ca", request.to_string().as_bytes(), now);
    assert!(outcome.status.is_ok(), "{:?}", outcome.status);
    assert_eq!(engine.next_deadline(), Some(now + Duration::from_secs(5)));
    let explicit = json!({"op":"request","correl":"r2","solicit-response":"p/a/untyped_solicit_response",
        "request-response":["p/b/untyped_request_response"],"msg":1,"timeout-ms":1000});
    engine.handle("ca", explicit.to_string().as_bytes(), now);
    assert_eq!(engine.next_deadline(), Some(now + Duration::from_secs(1)));
    // Without a default, a request without timeout-ms has no deadline.
    assert_eq!(feeds_world().next_deadline(), None);
}
