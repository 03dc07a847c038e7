//! Persistence (spec §7): every acknowledged record, of every article, survives a clean restart
//! and a `kill -9` right after its acknowledgement; deregistrations persist too; after a
//! restart every system is `stopped`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::check::{normalized, ok, query, HttpOps, Ops};
use common::mqtt::{OpClient, Version};
use common::process::spawn_node;
use common::TestNode;
use serde_json::{json, Value};

const PLURALS: [&str; 10] = [
    "nodes",
    "node-types",
    "bearers",
    "platform-types",
    "platforms",
    "service-types",
    "system-types",
    "systems",
    "user-types",
    "users",
];

/// One record of every article, optional fields included, in dependency order.
fn records() -> Vec<Value> {
    vec![
        json!({"op": "register:node-type", "type": "gateway", "desc": "edge box", "attr": {"v": 2}}),
        json!({"op": "register:node", "id": "edge-2", "type": "gateway", "desc": "north",
               "attr": {"rack": [1, 2]},
               "interfaces": [{"node-interface": "mqtt", "address": "ip://10.10.1.2:1885"},
                              {"node-interface": "mqtt", "address": "tcp://[::1]:1883"}]}),
        json!({"op": "register:bearer", "id": "lte", "available": "true", "desc": "4G"}),
        json!({"op": "register:bearer", "id": "wifi", "available": "false", "attr": {"ssid": "x"}}),
        json!({"op": "register:platform-type", "type": "vehicle", "attr": {"wheels": 4}}),
        json!({"op": "register:platform", "id": "truck-01", "type": "vehicle", "desc": "big",
               "loc": {"lat": 51.5, "long": -0.125, "alt": 12.5}, "attr": {"n": 1}}),
        json!({"op": "register:platform", "id": "Zürich-東京", "type": "app"}),
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed",
               "schema": {"type": "number", "enum": [1, 2.5, null, true]}, "desc": "°C"}),
        json!({"op": "register:service-type", "type": "alarm", "mode": "listener"}),
        json!({"op": "register:system-type", "type": "probe", "desc": "a probe",
               "services": [{"type": "temp"}, {"type": "temp", "id": "temp2"},
                            {"type": "alarm", "id": "alarms"}]}),
        json!({"op": "register:user-type", "type": "driver", "desc": "drives"}),
        json!({"op": "register:user", "id": "dan", "type": "driver", "affil": "ACME",
               "attr": {"licence": "C"}}),
        json!({"op": "register:system", "id": "truck-01/probe", "type": "probe", "user": "dan",
               "desc": "cab", "attr": {"slot": 1}}),
        json!({"op": "register:system", "id": "Zürich-東京/s", "type": "simple_system"}),
        json!({"op": "register:platform", "id": "gone", "type": "app"}),
        json!({"op": "register:system", "id": "gone/s", "type": "simple_system"}),
        json!({"op": "register:user-type", "type": "gone-type"}),
        // Upsert: the stored record is the last one.
        json!({"op": "register:bearer", "id": "lte", "available": "false"}),
        // Deregistrations persist too.
        json!({"op": "deregister:system", "id": "gone/s"}),
        json!({"op": "deregister:platform", "id": "gone"}),
        json!({"op": "deregister:user-type", "type": "gone-type"}),
    ]
}

async fn register_all(ops: &mut impl Ops) {
    for op in records() {
        ok(ops, op).await;
    }
}

/// Every query result, normalized for order.
async fn snapshot(ops: &mut impl Ops) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for plural in PLURALS {
        let records = query(ops, plural, json!({})).await;
        all.push((plural.to_owned(), normalized(&Value::Array(records))));
    }
    all
}

fn assert_expected(snapshot: &[(String, Value)]) {
    let get = |plural: &str| {
        snapshot
            .iter()
            .find(|(p, _)| p == plural)
            .map(|(_, v)| v.as_array().unwrap().clone())
            .unwrap()
    };
    let ids = |plural: &str, key: &str| -> Vec<String> {
        get(plural)
            .iter()
            .map(|r| r[key].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("nodes", "id"), ["edge-2"]);
    assert_eq!(ids("node-types", "type"), ["gateway"]);
    assert_eq!(ids("bearers", "id"), ["lte", "wifi"]);
    assert_eq!(
        get("bearers")[0],
        json!({"id": "lte", "available": "false"})
    );
    assert_eq!(
        ids("platform-types", "type"),
        ["app", "sensor", "service", "vehicle"]
    );
    assert_eq!(ids("platforms", "id"), ["Zürich-東京", "truck-01"]);
    assert_eq!(
        get("platforms")[1],
        json!({"id": "truck-01", "type": "vehicle", "desc": "big",
               "loc": {"lat": 51.5, "long": -0.125, "alt": 12.5}, "attr": {"n": 1}})
    );
    assert_eq!(ids("service-types", "type").len(), 8);
    assert_eq!(ids("system-types", "type"), ["probe", "simple_system"]);
    assert_eq!(ids("systems", "id"), ["Zürich-東京/s", "truck-01/probe"]);
    for system in get("systems") {
        assert_eq!(system["state"], "stopped", "{system}");
    }
    assert_eq!(ids("user-types", "type"), ["driver"]);
    assert_eq!(
        get("users"),
        vec![json!({"id": "dan", "type": "driver", "affil": "ACME", "attr": {"licence": "C"}})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_survive_a_clean_restart() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("writer").await;
    register_all(&mut c).await;
    let before = snapshot(&mut c).await;
    assert_expected(&before);
    c.disconnect().await;
    let dir = node.stop().await;

    let node = TestNode::start_in(dir, "testnode").await;
    let after = snapshot(&mut node.mqtt5("reader").await).await;
    assert_eq!(after, before);
    let after_http = snapshot(&mut HttpOps::new(node.http())).await;
    assert_eq!(after_http, before);

    // A second generation of changes persists as well.
    let mut c = node.mqtt("writer2").await;
    ok(
        &mut c,
        json!({"op": "deregister:system", "id": "truck-01/probe"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "late", "type": "sensor"}),
    )
    .await;
    let before = snapshot(&mut c).await;
    c.disconnect().await;
    let dir = node.stop().await;
    let node = TestNode::start_in(dir, "testnode").await;
    assert_eq!(snapshot(&mut node.mqtt("reader2").await).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_node(dir.path(), "testnode").await;
    let mut c = OpClient::connect(process.mqtt.port(), "testnode", "writer", Version::V5).await;
    // Each op waits for its 00000; the kill follows the last acknowledgement at once.
    register_all(&mut c).await;
    process.kill9().await;

    let process = spawn_node(dir.path(), "testnode").await;
    let mut h = HttpOps::new(common::http::HttpClient::new(process.http));
    let after = snapshot(&mut h).await;
    assert_expected(&after);

    // Compare with a node that was never killed.
    let reference = TestNode::start().await;
    let mut r = reference.mqtt("reference").await;
    register_all(&mut r).await;
    assert_eq!(after, snapshot(&mut r).await);
    process.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_acknowledged_writes_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_node(dir.path(), "testnode").await;
    let mut c = OpClient::connect(process.mqtt.port(), "testnode", "burst", Version::V4).await;
    let mut h = HttpOps::new(common::http::HttpClient::new(process.http));
    // Pipelined over MQTT, with HTTP writes in between: every acknowledged one must persist.
    for i in 0..100 {
        let op = json!({"op": "register:platform", "id": format!("m{i}"), "type": "sensor",
                        "correl": i});
        c.send_raw(op.to_string()).await;
        if i % 10 == 0 {
            ok(
                &mut h,
                json!({"op": "register:platform", "id": format!("h{i}"), "type": "app"}),
            )
            .await;
        }
    }
    for i in 0..100 {
        let replies = c.until_status().await;
        assert_eq!(replies[0]["correl"], json!(i));
        assert_eq!(replies[0]["status"], "00000");
    }
    ok(&mut h, json!({"op": "deregister:platform", "id": "h0"})).await;
    process.kill9().await;

    let process = spawn_node(dir.path(), "testnode").await;
    let mut h = HttpOps::new(common::http::HttpClient::new(process.http));
    let ids: Vec<String> = query(&mut h, "platforms", json!({}))
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 109, "{ids:?}");
    assert!(!ids.contains(&"h0".to_owned()));
    for i in 0..100 {
        assert!(ids.contains(&format!("m{i}")), "m{i} lost");
    }
    process.kill9().await;
}
