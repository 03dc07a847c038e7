//! Transport parity: the same op sequence sent over MQTT to one node and over HTTP to another
//! fresh node yields identical replies, successes and failures alike (adapters only translate).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::check::{assert_status_message, normalized, HttpOps, Ops};
use common::TestNode;
use serde_json::{json, Value};

fn sequence() -> Vec<Value> {
    let ops = vec![
        json!({"op": "query:local-node"}),
        json!({"op": "query:platform-types"}),
        json!({"op": "register:platform-type", "type": "vehicle", "desc": "moves"}),
        json!({"op": "register:platform", "id": "truck-01", "type": "vehicle",
               "loc": {"lat": 51.5, "long": -0.1}, "attr": {"axles": 3}}),
        json!({"op": "register:platform", "id": "truck-02", "type": "spaceship"}),
        json!({"op": "register:platform", "id": "bad/id", "type": "vehicle"}),
        json!({"op": "register:platform", "type": "vehicle"}),
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed",
               "schema": {"type": "number"}}),
        json!({"op": "register:service-type", "type": "odd", "mode": "sideways"}),
        json!({"op": "register:system-type", "type": "probe",
               "services": [{"type": "temp"}, {"type": "untyped_input_feed", "id": "cmd"}]}),
        json!({"op": "register:user-type", "type": "driver"}),
        json!({"op": "register:user", "id": "dan", "type": "driver", "affil": "ACME"}),
        json!({"op": "register:user", "id": "eve", "type": "pilot"}),
        json!({"op": "register:system", "id": "truck-01/probe", "type": "probe", "user": "dan"}),
        json!({"op": "register:system", "id": "truck-01/simple", "type": "simple_system"}),
        json!({"op": "register:system", "id": "truck-09/x", "type": "probe"}),
        json!({"op": "register:node-type", "type": "gw"}),
        json!({"op": "register:node", "id": "edge-2", "type": "gw",
               "interfaces": [{"node-interface": "mqtt", "address": "ip://10.1.1.1:1883"}]}),
        json!({"op": "register:bearer", "id": "lte", "available": "false"}),
        json!({"op": "query:platforms"}),
        json!({"op": "query:platforms", "loc": {"left": -1, "bottom": 50, "top": 52, "right": 0}}),
        json!({"op": "query:platforms", "loc": {"left": -1, "bottom": 50}}),
        json!({"op": "query:systems", "id": "truck-01/*"}),
        json!({"op": "query:system-types", "services": [{"type": "temp"}]}),
        json!({"op": "query:service-types", "mode": "output-*"}),
        json!({"op": "query:users"}),
        json!({"op": "query:nodes"}),
        json!({"op": "query:neighbours"}),
        json!({"op": "query:bearers"}),
        json!({"op": "query:service-wiring"}),
        json!({"op": "deregister:platform-type", "type": "vehicle"}),
        json!({"op": "deregister:platform", "id": "truck-01"}),
        json!({"op": "deregister:system", "id": "truck-01/simple"}),
        json!({"op": "deregister:system", "id": "truck-01/simple"}),
        json!({"op": "deregister:platform-type", "type": "app"}),
        json!({"op": "deregister:user", "id": "dan"}),
        json!({"op": "query:systems"}),
        json!({"op": "no-such-op"}),
        json!({"op": "query:foos"}),
        json!({"op": "register:bearer", "id": "wifi", "available": "maybe"}),
    ];
    // Explicit correls of both kinds: strings and numbers.
    ops.into_iter()
        .enumerate()
        .map(|(i, mut op)| {
            op["correl"] = if i % 2 == 0 {
                json!(format!("parity-{i}"))
            } else {
                json!(1000 + i)
            };
            op
        })
        .collect()
}

async fn run(ops: &mut impl Ops) -> Vec<Vec<Value>> {
    let mut transcript = Vec::new();
    for op in sequence() {
        let replies = ops.send(op.clone()).await;
        assert_status_message(&replies);
        for reply in &replies {
            assert_eq!(reply["correl"], op["correl"], "{op} -> {replies:?}");
        }
        transcript.push(replies);
    }
    transcript
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_and_http_give_identical_replies() {
    let mqtt_node = TestNode::start().await;
    let http_node = TestNode::start().await;
    let mut mqtt = mqtt_node.mqtt5("parity").await;
    let mut http = HttpOps::new(http_node.http().with_client_id("parity"));

    let over_mqtt = run(&mut mqtt).await;
    let over_http = run(&mut http).await;

    let sequence = sequence();
    let mut successes = 0;
    for (i, (m, h)) in over_mqtt.iter().zip(&over_http).enumerate() {
        // Record order inside a query result is not part of the contract.
        assert_eq!(
            normalized(&Value::Array(m.clone())),
            normalized(&Value::Array(h.clone())),
            "op {i}: {}",
            sequence[i]
        );
        if m.last().unwrap()["status"] == "00000" {
            successes += 1;
        }
    }
    assert_eq!(over_mqtt.len(), sequence.len());
    assert!(
        successes >= 20,
        "the sequence mixes successes ({successes}) and failures"
    );
    assert!(successes < sequence.len(), "and failures");

    // A v4 client on a third node gives the same transcript too.
    let v4_node = TestNode::start().await;
    let over_v4 = run(&mut v4_node.mqtt("parity").await).await;
    for (i, (m, v)) in over_mqtt.iter().zip(&over_v4).enumerate() {
        assert_eq!(
            normalized(&Value::Array(m.clone())),
            normalized(&Value::Array(v.clone())),
            "op {i} over MQTT 3.1.1: {}",
            sequence[i]
        );
    }
}
