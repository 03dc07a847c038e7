//! Engine-level tests, driven by data: a request and the replies it must produce.
//! Helpers only here; the cases live in the submodules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash;
mod envelope;
mod export;
mod feeds;
mod group_commit;
mod limits;
mod messages;
mod ops;
mod persistence;
mod queries;
mod state;
mod store;

use std::time::Instant;

use serde_json::{json, Value};

use crate::{Engine, EngineConfig, MemoryStore, Outcome};

pub const NODE_ID: &str = "local-node";

pub fn engine() -> Engine {
    Engine::open(EngineConfig::new(NODE_ID), Box::new(MemoryStore::new())).unwrap()
}

pub fn send(engine: &Engine, request: &str) -> Outcome {
    engine.handle("client-a", request.as_bytes(), Instant::now())
}

/// Sends `request` as `client`, without checking anything.
pub fn send_as(engine: &Engine, client: &str, request: Value) -> Outcome {
    engine.handle(client, request.to_string().as_bytes(), Instant::now())
}

/// Sends `request` and compares the replies with `expected`. Members an expected reply leaves
/// out among `correl` and `msg` are not compared, so cases can skip fresh UUIDs and wording.
#[track_caller]
pub fn check(engine: &Engine, request: Value, expected: Vec<Value>) -> Outcome {
    check_as(engine, "client-a", request, expected)
}

/// [`check`] for a request sent by `client`.
#[track_caller]
pub fn check_as(engine: &Engine, client: &str, request: Value, expected: Vec<Value>) -> Outcome {
    let outcome = engine.handle(client, request.to_string().as_bytes(), Instant::now());
    let actual: Vec<Value> = outcome
        .replies
        .iter()
        .zip(expected.iter().chain(std::iter::repeat(&Value::Null)))
        .map(|(reply, wanted)| {
            let mut reply = reply.clone();
            if let (Value::Object(reply), Value::Object(wanted)) = (&mut reply, wanted) {
                for optional in ["correl", "msg"] {
                    if !wanted.contains_key(optional) {
                        reply.remove(optional);
                    }
                }
            }
            reply
        })
        .collect();
    assert_eq!(
        actual,
        expected,
        "request {request}\nfull replies {:#}",
        Value::Array(outcome.replies.clone())
    );
    let last = outcome.replies.last().unwrap();
    assert_eq!(last["status"], json!(outcome.status.code()));
    outcome
}

/// The status message alone with this code (correl and msg not compared).
pub fn status(code: &str) -> Value {
    json!({"op": "status", "status": code})
}

/// Sends `request` and expects just the status `code`.
#[track_caller]
pub fn expect(engine: &Engine, request: Value, code: &str) -> Outcome {
    check(engine, request, vec![status(code)])
}

/// Sends `request` as `client` and expects just the status `code`.
#[track_caller]
pub fn expect_as(engine: &Engine, client: &str, request: Value, code: &str) -> Outcome {
    check_as(engine, client, request, vec![status(code)])
}

/// The deliveries of an outcome as `(client, message)` pairs, for compact comparisons.
pub fn delivered(outcome: &Outcome) -> Vec<(String, Value)> {
    outcome
        .all_deliveries()
        .iter()
        .map(|delivery| (delivery.client_id.clone(), delivery.message.clone()))
        .collect()
}

/// Sends `request` and returns the status message's `msg`.
pub fn msg_of(engine: &Engine, request: Value) -> String {
    let outcome = send(engine, &request.to_string());
    outcome.status.msg
}

/// The records a query returns (the first reply's `<plural>` member).
#[track_caller]
pub fn query(engine: &Engine, request: Value) -> Vec<Value> {
    let op = request["op"].as_str().unwrap().to_string();
    let member = match op.as_str() {
        "query:neighbours" => "nodes".to_string(),
        _ => op.trim_start_matches("query:").to_string(),
    };
    let outcome = send(engine, &request.to_string());
    assert!(outcome.status.is_ok(), "{request}: {:?}", outcome.status);
    assert_eq!(outcome.replies.len(), 2);
    outcome.replies[0][member.as_str()]
        .as_array()
        .unwrap_or_else(|| panic!("no {member} in {}", outcome.replies[0]))
        .clone()
}

/// The values of `field` in the records a query returns.
#[track_caller]
pub fn keys(engine: &Engine, request: Value, field: &str) -> Vec<String> {
    query(engine, request)
        .iter()
        .map(|record| record[field].as_str().unwrap().to_string())
        .collect()
}

/// A world for the runtime ops: two temperature sensors (`p1/temp_sensor`, `p2/temp_sensor`,
/// each with output feeds `temp` and `hum`) and two dashboards (`d/dash`, `d/log`, of type
/// `simple_system`). All stopped.
pub fn feeds_world() -> Engine {
    let engine = engine();
    for request in [
        json!({"op":"register:system-type","type":"temp_sensor","services":[
            {"type":"untyped_output_feed","id":"temp"},
            {"type":"untyped_output_feed","id":"hum"},
            {"type":"untyped_listener","id":"alarm"}]}),
        json!({"op":"register:platform","id":"p1","type":"sensor"}),
        json!({"op":"register:platform","id":"p2","type":"sensor"}),
        json!({"op":"register:platform","id":"p3","type":"sensor"}),
        json!({"op":"register:platform","id":"d","type":"app"}),
        json!({"op":"register:system","id":"p1/temp_sensor","type":"temp_sensor"}),
        json!({"op":"register:system","id":"p2/temp_sensor","type":"temp_sensor"}),
        json!({"op":"register:system","id":"d/dash","type":"simple_system"}),
        json!({"op":"register:system","id":"d/log","type":"simple_system"}),
    ] {
        expect(&engine, request, "00000");
    }
    engine
}

/// Starts `system` as `client`.
#[track_caller]
pub fn start(engine: &Engine, client: &str, system: &str) {
    change_state(engine, client, system, "running");
}

/// Stops `system` as `client`.
#[track_caller]
pub fn stop(engine: &Engine, client: &str, system: &str) {
    change_state(engine, client, system, "stopped");
}

#[track_caller]
fn change_state(engine: &Engine, client: &str, system: &str, state: &str) {
    check_as(
        engine,
        client,
        json!({"op":"state:system","id":system,"state":state}),
        vec![
            json!({"op":"state-change:system","id":system,"state":state}),
            status("00000"),
        ],
    );
}

/// Subscribes `input` to `patterns` as `client`, expecting success.
pub fn subscribe(engine: &Engine, client: &str, input: &str, patterns: Value) -> Outcome {
    let outcome = send_as(
        engine,
        client,
        json!({"op":"subscribe","output-feeds":patterns,"input-feed":input}),
    );
    assert!(outcome.status.is_ok(), "{:?}", outcome.status);
    outcome
}

/// The live wirings as `from → to` strings.
pub fn wirings(engine: &Engine) -> Vec<String> {
    query(engine, json!({"op":"query:service-wiring"}))
        .iter()
        .map(|wiring| {
            format!(
                "{} -> {}",
                wiring["from"].as_str().unwrap(),
                wiring["to"].as_str().unwrap()
            )
        })
        .collect()
}

/// A small world: a platform type, platforms with and without location, a user, a system.
pub fn populated() -> Engine {
    let engine = engine();
    for request in [
        json!({"op":"register:platform","id":"p1","type":"sensor","loc":{"lat":51.5,"long":-1.5}}),
        json!({"op":"register:platform","id":"p2","type":"app","attr":{"floor":2,"wing":"east"}}),
        json!({"op":"register:user-type","type":"operator"}),
        json!({"op":"register:user","id":"u1","type":"operator","affil":"acme"}),
        json!({"op":"register:system","id":"p1/s1","type":"simple_system","user":"u1"}),
    ] {
        expect(&engine, request, "00000");
    }
    engine
}
