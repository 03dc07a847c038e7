//! Registry ops over MQTT (spec §1, §4, §5): register, deregister and query for every article,
//! the built-ins of a fresh node, upsert, integrity, in-use refusal, and the query filters.
//! Record shapes are compared exactly: optional fields appear only when they were set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::check::{check, members, ok, query, query_keys};
use common::TestNode;
use serde_json::{json, Value};

const MODES: [(&str, &str); 6] = [
    ("untyped_output_feed", "output-feed"),
    ("untyped_input_feed", "input-feed"),
    ("untyped_notification", "notification"),
    ("untyped_listener", "listener"),
    ("untyped_solicit_response", "solicit-response"),
    ("untyped_request_response", "request-response"),
];

/// Services as `{"id","type","mode"}` sorted by id.
fn sorted_services(value: &Value) -> Vec<Value> {
    let mut services = value.as_array().expect("services array").clone();
    services.sort_by_key(|s| s["id"].as_str().expect("service id").to_owned());
    services
}

fn simple_system_services(prefix: &str) -> Vec<Value> {
    let mut services: Vec<Value> = MODES
        .iter()
        .map(|(t, m)| json!({"id": format!("{prefix}{t}"), "type": t, "mode": m}))
        .collect();
    services.sort_by_key(|s| s["id"].as_str().unwrap().to_owned());
    services
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_node_holds_the_builtins() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("fresh").await;

    assert_eq!(
        query_keys(&mut c, "platform-types", json!({})).await,
        ["app", "sensor", "service"]
    );
    for record in query(&mut c, "platform-types", json!({})).await {
        assert_eq!(
            members(&record),
            ["type"],
            "built-in platform type {record}"
        );
    }

    let service_types = query(&mut c, "service-types", json!({})).await;
    let mut expected: Vec<Value> = MODES
        .iter()
        .map(|(t, m)| json!({"type": t, "mode": m}))
        .collect();
    expected.sort_by_key(|s| s["type"].as_str().unwrap().to_owned());
    assert_eq!(service_types, expected);

    let system_types = query(&mut c, "system-types", json!({})).await;
    assert_eq!(system_types.len(), 1, "{system_types:?}");
    assert_eq!(system_types[0]["type"], "simple_system");
    assert_eq!(members(&system_types[0]), ["services", "type"]);
    assert_eq!(
        sorted_services(&system_types[0]["services"]),
        simple_system_services("")
    );

    for plural in [
        "nodes",
        "node-types",
        "bearers",
        "platforms",
        "systems",
        "user-types",
        "users",
    ] {
        assert_eq!(
            query(&mut c, plural, json!({})).await,
            Vec::<Value>::new(),
            "{plural} of a fresh node"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_node_neighbours_and_service_wiring() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("local").await;

    let replies = ok(&mut c, json!({"op": "query:local-node", "correl": "ln"})).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(
        replies[0],
        json!({"op": "query-result:local-node", "correl": "ln", "id": "testnode"})
    );

    let replies = ok(&mut c, json!({"op": "query:neighbours", "correl": "nb"})).await;
    assert_eq!(
        replies[0],
        json!({"op": "query-result:neighbours", "correl": "nb", "nodes": []})
    );

    let neighbour = json!({"id": "edge-2", "interfaces": [
        {"node-interface": "mqtt", "address": "ip://10.10.1.2:1885"}
    ]});
    let mut register = neighbour.clone();
    register["op"] = json!("register:node");
    ok(&mut c, register).await;
    let replies = ok(&mut c, json!({"op": "query:neighbours", "correl": "nb2"})).await;
    assert_eq!(replies[0]["op"], "query-result:neighbours");
    assert_eq!(replies[0]["nodes"], json!([neighbour]));

    let replies = ok(
        &mut c,
        json!({"op": "query:service-wiring", "correl": "sw"}),
    )
    .await;
    assert_eq!(
        replies[0],
        json!({"op": "query-result:service-wiring", "correl": "sw", "service-wiring": []})
    );
    let replies = ok(
        &mut c,
        json!({"op": "query:service-wiring", "correl": "sw2", "from": "*", "to": "p/s/*"}),
    )
    .await;
    assert_eq!(replies[0]["service-wiring"], json!([]));
}

/// Registers `record` as `article`, checks it reads back exactly, re-registers it without its
/// optional fields, checks those are gone, deregisters it and checks it is gone.
async fn round_trip(
    c: &mut common::mqtt::OpClient,
    article: &str,
    plural: &str,
    key: &str,
    required: Value,
    optional: Value,
) {
    let mut full = required.clone();
    for (name, value) in optional.as_object().unwrap() {
        full[name] = value.clone();
    }
    let id = required[key].clone();

    let mut op = full.clone();
    op["op"] = json!(format!("register:{article}"));
    let replies = ok(c, op).await;
    assert_eq!(
        replies.len(),
        1,
        "register answers only its status: {replies:?}"
    );
    assert_eq!(
        query(c, plural, json!({ key: id.clone() })).await,
        vec![full.clone()],
        "{article} with optional fields"
    );

    let mut op = required.clone();
    op["op"] = json!(format!("register:{article}"));
    ok(c, op).await;
    assert_eq!(
        query(c, plural, json!({ key: id.clone() })).await,
        vec![required.clone()],
        "{article} re-registered without optional fields"
    );

    ok(
        c,
        json!({"op": format!("deregister:{article}"), key: id.clone()}),
    )
    .await;
    assert_eq!(
        query(c, plural, json!({ key: id.clone() })).await,
        Vec::<Value>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_query_deregister_every_plain_article() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("plain").await;
    let desc_attr =
        json!({"desc": "a description", "attr": {"k": "v", "n": 1.5, "o": {"x": [1, 2]}}});

    round_trip(
        &mut c,
        "node-type",
        "node-types",
        "type",
        json!({"type": "gateway"}),
        desc_attr.clone(),
    )
    .await;
    round_trip(
        &mut c,
        "bearer",
        "bearers",
        "id",
        json!({"id": "wifi", "available": "true"}),
        desc_attr.clone(),
    )
    .await;
    round_trip(
        &mut c,
        "platform-type",
        "platform-types",
        "type",
        json!({"type": "vehicle"}),
        desc_attr.clone(),
    )
    .await;
    round_trip(
        &mut c,
        "platform",
        "platforms",
        "id",
        json!({"id": "truck-01", "type": "app"}),
        json!({"loc": {"lat": 51.5, "long": -1.25, "alt": 30}, "desc": "d", "attr": {"a": 1}}),
    )
    .await;
    round_trip(
        &mut c,
        "service-type",
        "service-types",
        "type",
        json!({"type": "temperature", "mode": "output-feed"}),
        json!({"schema": {"type": "number", "unit": ["C"]}, "desc": "d", "attr": {"a": true}}),
    )
    .await;
    round_trip(
        &mut c,
        "user-type",
        "user-types",
        "type",
        json!({"type": "operator"}),
        desc_attr.clone(),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user-type", "type": "operator"}),
    )
    .await;
    round_trip(
        &mut c,
        "user",
        "users",
        "id",
        json!({"id": "alice", "type": "operator"}),
        json!({"affil": "ACME", "desc": "d", "attr": {"role": "admin"}}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:node-type", "type": "gateway"}),
    )
    .await;
    round_trip(
        &mut c,
        "node",
        "nodes",
        "id",
        json!({"id": "edge-7", "interfaces": [
            {"node-interface": "mqtt", "address": "ip://10.10.1.2:1885"},
            {"node-interface": "mqtt6", "address": "tcp://[::1]:1883"}
        ]}),
        json!({"type": "gateway", "desc": "d", "attr": {"rack": 3}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_availability_as_string_or_boolean() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("bearers").await;
    ok(
        &mut c,
        json!({"op": "register:bearer", "id": "b-str", "available": "false"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:bearer", "id": "b-bool", "available": true}),
    )
    .await;
    let records = query(&mut c, "bearers", json!({})).await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[1], json!({"id": "b-str", "available": "false"}));
    assert_eq!(records[0]["id"], "b-bool");
    assert!(
        records[0]["available"] == json!("true") || records[0]["available"] == json!(true),
        "{}",
        records[0]
    );
    assert_eq!(
        query_keys(&mut c, "bearers", json!({"available": "false"})).await,
        ["b-str"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_types_and_systems() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("systems").await;
    ok(
        &mut c,
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user-type", "type": "operator"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "bob", "type": "operator"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "p", "type": "sensor"}),
    )
    .await;

    // Service names default to the type, modes to the service type's; one type, two names.
    ok(
        &mut c,
        json!({"op": "register:system-type", "type": "weather", "desc": "station",
        "services": [
            {"type": "temp"},
            {"type": "temp", "id": "temp_indoor"},
            {"type": "untyped_input_feed", "id": "cmd"}
        ]}),
    )
    .await;
    let records = query(&mut c, "system-types", json!({"type": "weather"})).await;
    assert_eq!(records.len(), 1);
    assert_eq!(members(&records[0]), ["desc", "services", "type"]);
    assert_eq!(records[0]["desc"], "station");
    assert_eq!(
        sorted_services(&records[0]["services"]),
        vec![
            json!({"id": "cmd", "type": "untyped_input_feed", "mode": "input-feed"}),
            json!({"id": "temp", "type": "temp", "mode": "output-feed"}),
            json!({"id": "temp_indoor", "type": "temp", "mode": "output-feed"}),
        ]
    );

    ok(
        &mut c,
        json!({"op": "register:system", "id": "p/s", "type": "simple_system"}),
    )
    .await;
    let records = query(&mut c, "systems", json!({"id": "p/s"})).await;
    assert_eq!(records.len(), 1);
    let system = &records[0];
    assert_eq!(
        members(system),
        ["id", "platform", "services", "state", "type"]
    );
    assert_eq!(system["id"], "p/s");
    assert_eq!(system["platform"], "p");
    assert_eq!(system["type"], "simple_system");
    assert_eq!(system["state"], "stopped");
    assert_eq!(
        sorted_services(&system["services"]),
        simple_system_services("p/s/")
    );

    ok(
        &mut c,
        json!({"op": "register:system", "id": "p/w", "type": "weather", "user": "bob",
               "desc": "roof", "attr": {"floor": 9}}),
    )
    .await;
    let records = query(&mut c, "systems", json!({"id": "p/w"})).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        members(&records[0]),
        ["attr", "desc", "id", "platform", "services", "state", "type", "user"]
    );
    assert_eq!(records[0]["user"], "bob");
    assert_eq!(records[0]["desc"], "roof");
    assert_eq!(records[0]["attr"], json!({"floor": 9}));
    assert_eq!(
        sorted_services(&records[0]["services"]),
        vec![
            json!({"id": "p/w/cmd", "type": "untyped_input_feed", "mode": "input-feed"}),
            json!({"id": "p/w/temp", "type": "temp", "mode": "output-feed"}),
            json!({"id": "p/w/temp_indoor", "type": "temp", "mode": "output-feed"}),
        ]
    );

    // Upsert: the optional user, desc and attr are reset.
    ok(
        &mut c,
        json!({"op": "register:system", "id": "p/w", "type": "weather"}),
    )
    .await;
    let records = query(&mut c, "systems", json!({"id": "p/w"})).await;
    assert_eq!(
        members(&records[0]),
        ["id", "platform", "services", "state", "type"]
    );

    ok(&mut c, json!({"op": "deregister:system", "id": "p/w"})).await;
    assert_eq!(query_keys(&mut c, "systems", json!({})).await, ["p/s"]);
    ok(
        &mut c,
        json!({"op": "deregister:system-type", "type": "weather"}),
    )
    .await;
    assert_eq!(
        query_keys(&mut c, "system-types", json!({})).await,
        ["simple_system"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_replaces_optional_fields() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("upsert").await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "p1", "type": "app", "desc": "first",
               "attr": {"a": 1}, "loc": {"lat": 1, "long": 2}}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "p1", "type": "sensor", "attr": {"b": 2}}),
    )
    .await;
    assert_eq!(
        query(&mut c, "platforms", json!({})).await,
        vec![json!({"id": "p1", "type": "sensor", "attr": {"b": 2}})]
    );
    ok(&mut c, json!({"op": "register:user-type", "type": "t"})).await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "t", "affil": "x", "desc": "y"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "t"}),
    )
    .await;
    assert_eq!(
        query(&mut c, "users", json!({})).await,
        vec![json!({"id": "u", "type": "t"})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_of_references() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("integrity").await;
    check(
        &mut c,
        json!({"op": "register:platform", "id": "p", "type": "spaceship"}),
        "20208",
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "p", "type": "app"}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:system", "id": "nowhere/s", "type": "simple_system"}),
        "2020A",
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:system", "id": "p/s", "type": "no_such_type"}),
        "2020A",
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:system", "id": "p/s", "type": "simple_system", "user": "ghost"}),
        "2020A",
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "no_such_user_type"}),
        "2020D",
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:system-type", "type": "st", "services": [
            {"type": "untyped_output_feed"}, {"type": "no_such_service_type"}
        ]}),
        "2020B",
    )
    .await;
    check(
        &mut c,
        json!({"op": "register:node", "id": "n", "type": "no_such_node_type",
               "interfaces": [{"node-interface": "mqtt", "address": "ip://10.0.0.1:1883"}]}),
        "20203",
    )
    .await;
    // None of the refused records was stored.
    assert_eq!(query_keys(&mut c, "platforms", json!({})).await, ["p"]);
    assert!(query(&mut c, "systems", json!({})).await.is_empty());
    assert!(query(&mut c, "users", json!({})).await.is_empty());
    assert!(query(&mut c, "nodes", json!({})).await.is_empty());
    assert_eq!(
        query_keys(&mut c, "system-types", json!({})).await,
        ["simple_system"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_in_use_cannot_be_deregistered() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("inuse").await;
    ok(
        &mut c,
        json!({"op": "register:platform-type", "type": "vehicle"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "truck", "type": "vehicle"}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:platform-type", "type": "vehicle"}),
        "20309",
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/s", "type": "simple_system"}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:platform", "id": "truck"}),
        "20308",
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:system-type", "type": "simple_system"}),
        "2030B",
    )
    .await;

    ok(
        &mut c,
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system-type", "type": "st", "services": [{"type": "temp"}]}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:service-type", "type": "temp"}),
        "2030C",
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/w", "type": "st"}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:system-type", "type": "st"}),
        "2030B",
    )
    .await;

    ok(&mut c, json!({"op": "register:user-type", "type": "ut"})).await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "ut"}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:user-type", "type": "ut"}),
        "2030E",
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/u", "type": "simple_system", "user": "u"}),
    )
    .await;
    check(&mut c, json!({"op": "deregister:user", "id": "u"}), "2030D").await;

    ok(&mut c, json!({"op": "register:node-type", "type": "nt"})).await;
    ok(
        &mut c,
        json!({"op": "register:node", "id": "n", "type": "nt",
               "interfaces": [{"node-interface": "mqtt", "address": "ip://10.0.0.1:1883"}]}),
    )
    .await;
    check(
        &mut c,
        json!({"op": "deregister:node-type", "type": "nt"}),
        "20305",
    )
    .await;

    // Everything is still there; removing the users first frees the records.
    assert_eq!(
        query_keys(&mut c, "systems", json!({})).await,
        ["truck/s", "truck/u", "truck/w"]
    );
    for id in ["truck/s", "truck/u", "truck/w"] {
        ok(&mut c, json!({"op": "deregister:system", "id": id})).await;
    }
    ok(&mut c, json!({"op": "deregister:platform", "id": "truck"})).await;
    ok(
        &mut c,
        json!({"op": "deregister:platform-type", "type": "vehicle"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "deregister:system-type", "type": "st"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "deregister:service-type", "type": "temp"}),
    )
    .await;
    ok(&mut c, json!({"op": "deregister:user", "id": "u"})).await;
    ok(&mut c, json!({"op": "deregister:user-type", "type": "ut"})).await;
    ok(&mut c, json!({"op": "deregister:node", "id": "n"})).await;
    ok(&mut c, json!({"op": "deregister:node-type", "type": "nt"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtins_cannot_be_deregistered() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("builtins").await;
    for t in ["app", "service", "sensor"] {
        check(
            &mut c,
            json!({"op": "deregister:platform-type", "type": t}),
            "20309",
        )
        .await;
    }
    for (t, _) in MODES {
        check(
            &mut c,
            json!({"op": "deregister:service-type", "type": t}),
            "2030C",
        )
        .await;
    }
    check(
        &mut c,
        json!({"op": "deregister:system-type", "type": "simple_system"}),
        "2030B",
    )
    .await;
    assert_eq!(
        query_keys(&mut c, "platform-types", json!({})).await,
        ["app", "sensor", "service"]
    );
    assert_eq!(query(&mut c, "service-types", json!({})).await.len(), 6);
    assert_eq!(
        query_keys(&mut c, "system-types", json!({})).await,
        ["simple_system"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistering_a_missing_record() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("missing").await;
    let cases = [
        ("node", "id", "n", "20303"),
        ("node-type", "type", "nt", "20305"),
        ("bearer", "id", "b", "20306"),
        ("platform-type", "type", "pt", "20309"),
        ("platform", "id", "p", "20308"),
        ("service-type", "type", "st", "2030C"),
        ("system-type", "type", "syt", "2030B"),
        ("system", "id", "p/s", "2030A"),
        ("user-type", "type", "ut", "2030E"),
        ("user", "id", "u", "2030D"),
    ];
    for (article, key, id, code) in cases {
        check(
            &mut c,
            json!({"op": format!("deregister:{article}"), key: id}),
            code,
        )
        .await;
    }
}

/// Platforms and systems for the filter tests.
async fn populate(c: &mut common::mqtt::OpClient) {
    ok(
        c,
        json!({"op": "register:platform-type", "type": "vehicle"}),
    )
    .await;
    let platforms = [
        json!({"id": "sensor-01", "type": "sensor", "loc": {"lat": 10, "long": 20},
               "attr": {"colour": "red", "dims": {"h": 1, "w": 2}, "tags": ["a", "b"]}}),
        json!({"id": "sensor-02", "type": "sensor", "loc": {"lat": -10.5, "long": 120.25, "alt": 3},
               "attr": {"colour": "blue", "dims": {"h": 1, "w": 3}}}),
        json!({"id": "truck-01", "type": "vehicle", "desc": "big truck"}),
        json!({"id": "p1", "type": "app", "loc": {"lat": 0, "long": 0}}),
    ];
    for platform in platforms {
        let mut op = platform;
        op["op"] = json!("register:platform");
        ok(c, op).await;
    }
    for id in [
        "p1/a",
        "p1/b",
        "sensor-01/s",
        "truck-01/s",
        "sensor-02/x-01",
    ] {
        ok(
            c,
            json!({"op": "register:system", "id": id, "type": "simple_system",
                     "attr": {"name": id}}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_wildcards() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("wild").await;
    populate(&mut c).await;

    let all = ["p1", "sensor-01", "sensor-02", "truck-01"];
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"id": "*"})).await,
        all
    );
    assert_eq!(query_keys(&mut c, "platforms", json!({})).await, all);
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"id": "sens*"})).await,
        ["sensor-01", "sensor-02"]
    );
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"id": "*-01"})).await,
        ["sensor-01", "truck-01"]
    );
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"id": "s*r*2"})).await,
        ["sensor-02"]
    );
    // A filter without `*` matches the whole value only.
    assert!(query_keys(&mut c, "platforms", json!({"id": "sensor"}))
        .await
        .is_empty());
    assert!(query_keys(&mut c, "platforms", json!({"id": "ensor-01"}))
        .await
        .is_empty());
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"type": "vehicle"})).await,
        ["truck-01"]
    );
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"desc": "big*"})).await,
        ["truck-01"]
    );
    assert_eq!(
        query_keys(&mut c, "platforms", json!({"id": "*-0*", "type": "sensor"})).await,
        ["sensor-01", "sensor-02"]
    );

    // `*` spans `/` in system ids.
    assert_eq!(
        query_keys(&mut c, "systems", json!({"id": "p1/*"})).await,
        ["p1/a", "p1/b"]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"id": "*/s"})).await,
        ["sensor-01/s", "truck-01/s"]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"id": "*-01"})).await,
        ["sensor-02/x-01"]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"id": "sensor*"})).await,
        ["sensor-01/s", "sensor-02/x-01"]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"platform": "p1"})).await,
        ["p1/a", "p1/b"]
    );
    assert_eq!(
        query_keys(
            &mut c,
            "systems",
            json!({"state": "stopped", "id": "truck*"})
        )
        .await,
        ["truck-01/s"]
    );
    assert!(query_keys(&mut c, "systems", json!({"state": "running"}))
        .await
        .is_empty());
    assert_eq!(
        query_keys(&mut c, "service-types", json!({"type": "*_feed"})).await,
        ["untyped_input_feed", "untyped_output_feed"]
    );
    assert_eq!(
        query_keys(&mut c, "service-types", json!({"mode": "*-response"})).await,
        ["untyped_request_response", "untyped_solicit_response"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_attr_subset() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("attr").await;
    populate(&mut c).await;

    let cases = [
        (json!({"colour": "red"}), vec!["sensor-01"]),
        (json!({"colour": "blue"}), vec!["sensor-02"]),
        (json!({"dims": {"h": 1, "w": 2}}), vec!["sensor-01"]),
        (json!({"dims": {"w": 2, "h": 1}}), vec!["sensor-01"]),
        (
            json!({"colour": "red", "tags": ["a", "b"]}),
            vec!["sensor-01"],
        ),
        // Nested values compare as whole JSON values, not as subsets.
        (json!({"dims": {"h": 1}}), vec![]),
        (json!({"tags": ["a"]}), vec![]),
        (json!({"colour": "green"}), vec![]),
        (json!({"colour": "red", "missing": 1}), vec![]),
        (json!({"colour": "RED"}), vec![]),
    ];
    for (attr, expected) in cases {
        assert_eq!(
            query_keys(&mut c, "platforms", json!({"attr": attr.clone()})).await,
            expected,
            "attr filter {attr}"
        );
    }
    assert_eq!(
        query_keys(&mut c, "systems", json!({"attr": {"name": "p1/b"}})).await,
        ["p1/b"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_location_box() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("loc").await;
    populate(&mut c).await;

    let boxes = [
        // sensor-01 at lat 10, long 20; sensor-02 at -10.5, 120.25; p1 at 0, 0.
        (
            json!({"left": 19, "bottom": 9, "top": 11, "right": 21}),
            vec!["sensor-01"],
        ),
        (
            json!({"left": 20, "bottom": 10, "top": 10, "right": 20}),
            vec!["sensor-01"],
        ),
        (
            json!({"left": 20, "bottom": 9, "top": 10, "right": 25}),
            vec!["sensor-01"],
        ),
        (
            json!({"left": 10, "bottom": 10, "top": 11, "right": 20}),
            vec!["sensor-01"],
        ),
        (
            json!({"left": 20.001, "bottom": 9, "top": 11, "right": 21}),
            vec![],
        ),
        (
            json!({"left": 19, "bottom": 10.001, "top": 11, "right": 21}),
            vec![],
        ),
        (
            json!({"left": 19, "bottom": 9, "top": 9.999, "right": 21}),
            vec![],
        ),
        (
            json!({"left": 19, "bottom": 9, "top": 11, "right": 19.999}),
            vec![],
        ),
        // Latitude and longitude are not swapped.
        (
            json!({"left": 9, "bottom": 19, "top": 21, "right": 11}),
            vec![],
        ),
        (
            json!({"left": -180, "bottom": -90, "top": 90, "right": 180}),
            vec!["p1", "sensor-01", "sensor-02"],
        ),
        (
            json!({"left": 0, "bottom": -10.5, "top": 0, "right": 120.25}),
            vec!["p1", "sensor-02"],
        ),
    ];
    for (bbox, expected) in boxes {
        assert_eq!(
            query_keys(&mut c, "platforms", json!({"loc": bbox.clone()})).await,
            expected,
            "platforms in {bbox}"
        );
    }
    // A system is where its platform is; truck-01 has no location and never matches.
    assert_eq!(
        query_keys(
            &mut c,
            "systems",
            json!({"loc": {"left": -180, "bottom": -90, "top": 90, "right": 180}})
        )
        .await,
        ["p1/a", "p1/b", "sensor-01/s", "sensor-02/x-01"]
    );
    assert_eq!(
        query_keys(
            &mut c,
            "systems",
            json!({"loc": {"left": 19, "bottom": 9, "top": 11, "right": 21}})
        )
        .await,
        ["sensor-01/s"]
    );
    // All four sides are required.
    for missing in ["left", "bottom", "top", "right"] {
        let mut bbox = json!({"left": -180, "bottom": -90, "top": 90, "right": 180});
        bbox.as_object_mut().unwrap().remove(missing);
        check(
            &mut c,
            json!({"op": "query:platforms", "loc": bbox.clone()}),
            "10408",
        )
        .await;
        check(&mut c, json!({"op": "query:systems", "loc": bbox}), "1040A").await;
    }
    check(
        &mut c,
        json!({"op": "query:platforms", "loc": {"left": "w", "bottom": 0, "top": 1, "right": 1}}),
        "10408",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_system_types_by_services() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("sysfilter").await;
    ok(
        &mut c,
        json!({"op": "register:service-type", "type": "temp_reading", "mode": "output-feed"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system-type", "type": "weather", "services": [
            {"type": "temp_reading", "id": "t"}, {"type": "untyped_input_feed", "id": "cmd"}
        ]}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system-type", "type": "pager", "services": [
            {"type": "untyped_notification"}
        ]}),
    )
    .await;

    let cases = [
        (
            json!([{"type": "untyped_notification"}]),
            vec!["pager", "simple_system"],
        ),
        (json!([{"type": "temp*"}]), vec!["weather"]),
        (
            json!([{"type": "untyped_*"}]),
            vec!["pager", "simple_system", "weather"],
        ),
        (
            json!([{"mode": "output-feed"}]),
            vec!["simple_system", "weather"],
        ),
        (json!([{"mode": "*feed"}]), vec!["simple_system", "weather"]),
        (
            json!([{"mode": "input-feed"}, {"type": "temp_reading"}]),
            vec!["weather"],
        ),
        (
            json!([{"type": "untyped_listener", "mode": "listener"}]),
            vec!["simple_system"],
        ),
        (
            json!([{"type": "untyped_listener", "mode": "notification"}]),
            vec![],
        ),
        (json!([{"type": "nothing*"}]), vec![]),
    ];
    for (services, expected) in cases {
        assert_eq!(
            query_keys(
                &mut c,
                "system-types",
                json!({"services": services.clone()})
            )
            .await,
            expected,
            "services filter {services}"
        );
    }
    assert_eq!(
        query_keys(
            &mut c,
            "system-types",
            json!({"type": "*er", "services": [{"mode": "output-feed"}]})
        )
        .await,
        ["weather"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_and_v5_clients_share_one_registry() {
    let node = TestNode::start().await;
    let mut v4 = node.mqtt("old").await;
    let mut v5 = node.mqtt5("new").await;
    ok(
        &mut v4,
        json!({"op": "register:platform", "id": "from-v4", "type": "app"}),
    )
    .await;
    ok(
        &mut v5,
        json!({"op": "register:platform", "id": "from-v5", "type": "app"}),
    )
    .await;
    assert_eq!(
        query_keys(&mut v4, "platforms", json!({})).await,
        ["from-v4", "from-v5"]
    );
    assert_eq!(
        query_keys(&mut v5, "platforms", json!({})).await,
        ["from-v4", "from-v5"]
    );
    ok(
        &mut v5,
        json!({"op": "deregister:platform", "id": "from-v4"}),
    )
    .await;
    assert_eq!(
        query_keys(&mut v4, "platforms", json!({})).await,
        ["from-v5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_arrive_in_request_order() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("order").await;
    for i in 0..50 {
        let op = json!({"op": "register:platform", "id": format!("p{i}"), "type": "app",
                        "correl": i});
        c.send_raw(op.to_string()).await;
    }
    for i in 0..50 {
        let replies = c.until_status().await;
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["correl"], json!(i), "reply {i} in order");
        assert_eq!(replies[0]["status"], "00000");
    }
    assert_eq!(query(&mut c, "platforms", json!({})).await.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_on_node_addresses_user_affiliation_and_schemas() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("filters").await;
    for (id, address) in [
        ("n1", "ip://10.0.0.1:1883"),
        ("n2", "ip://10.0.0.2:1883"),
        ("n3", "tcp://192.168.1.9:8883"),
    ] {
        ok(
            &mut c,
            json!({"op": "register:node", "id": id,
                   "interfaces": [{"node-interface": "mqtt", "address": address}]}),
        )
        .await;
    }
    assert_eq!(
        query_keys(&mut c, "nodes", json!({"address": "ip://10.*"})).await,
        ["n1", "n2"]
    );
    assert_eq!(
        query_keys(
            &mut c,
            "nodes",
            json!({"address": "tcp://192.168.1.9:8883"})
        )
        .await,
        ["n3"]
    );
    assert!(
        query_keys(&mut c, "nodes", json!({"address": "ip://10.0.0.1"}))
            .await
            .is_empty()
    );
    assert_eq!(
        query_keys(&mut c, "nodes", json!({"id": "n*", "address": "*:1883"})).await,
        ["n1", "n2"]
    );

    ok(&mut c, json!({"op": "register:user-type", "type": "staff"})).await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "ann", "type": "staff", "affil": "ACME Ltd"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "ben", "type": "staff", "affil": "Other"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "cy", "type": "staff"}),
    )
    .await;
    assert_eq!(
        query_keys(&mut c, "users", json!({"affil": "ACME*"})).await,
        ["ann"]
    );
    assert_eq!(
        query_keys(&mut c, "users", json!({"affil": "*"})).await,
        ["ann", "ben"]
    );
    assert_eq!(
        query_keys(&mut c, "users", json!({"type": "staff"})).await,
        ["ann", "ben", "cy"]
    );

    // A schema is any JSON and comes back as it was given.
    for (t, schema) in [
        ("s-string", json!("a string")),
        ("s-number", json!(12.5)),
        ("s-array", json!([1, "two", {"three": [3]}])),
        ("s-bool", json!(false)),
    ] {
        ok(
            &mut c,
            json!({"op": "register:service-type", "type": t, "mode": "input-feed", "schema": schema}),
        )
        .await;
        assert_eq!(
            query(&mut c, "service-types", json!({"type": t})).await,
            vec![json!({"type": t, "mode": "input-feed", "schema": schema})]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_each_get_their_own_replies_in_order() {
    let node = TestNode::start().await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let id = format!("conc{i}");
        clients.push(if i % 2 == 0 {
            node.mqtt(&id).await
        } else {
            node.mqtt5(&id).await
        });
    }
    for round in 0..30 {
        for (i, c) in clients.iter().enumerate() {
            let op = json!({"op": "register:platform", "id": format!("c{i}-{round}"),
                            "type": "app", "correl": format!("c{i}-{round}")});
            c.send_raw(op.to_string()).await;
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        for round in 0..30 {
            let replies = c.until_status().await;
            assert_eq!(replies.len(), 1, "{replies:?}");
            assert_eq!(replies[0]["correl"], format!("c{i}-{round}"));
            assert_eq!(replies[0]["status"], "00000");
        }
    }
    assert_eq!(
        query(&mut clients[0], "platforms", json!({})).await.len(),
        120
    );
    for c in &mut clients {
        assert!(c
            .drain(std::time::Duration::from_millis(300))
            .await
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_are_literal_except_the_star() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("literal").await;
    for id in [
        "a.b", "axb", "a+b", "aab", "(x)", "[y]", "a?c", "abc", "Zürich", "zürich", "^$",
    ] {
        ok(
            &mut c,
            json!({"op": "register:platform", "id": id, "type": "app"}),
        )
        .await;
    }
    let cases: [(&str, &[&str]); 12] = [
        ("a.b", &["a.b"]),
        ("a+b", &["a+b"]),
        ("(x)", &["(x)"]),
        ("[y]", &["[y]"]),
        ("a?c", &["a?c"]),
        ("^$", &["^$"]),
        ("a*b", &["a+b", "a.b", "aab", "axb"]),
        ("a**b", &["a+b", "a.b", "aab", "axb"]),
        ("abc*", &["abc"]),
        ("*abc", &["abc"]),
        ("Zü*", &["Zürich"]),
        ("ZÜRICH", &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            query_keys(&mut c, "platforms", json!({"id": filter})).await,
            expected,
            "filter {filter:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_keep_the_records_that_name_them() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("upsert2").await;
    ok(
        &mut c,
        json!({"op": "register:platform-type", "type": "vehicle"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "truck", "type": "vehicle"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/s", "type": "simple_system"}),
    )
    .await;
    ok(&mut c, json!({"op": "register:user-type", "type": "ut"})).await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "ut"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/t", "type": "simple_system", "user": "u"}),
    )
    .await;

    // Replacing records that others name leaves those others alone.
    ok(
        &mut c,
        json!({"op": "register:platform-type", "type": "vehicle", "desc": "now with desc"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "truck", "type": "sensor", "desc": "d"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:user", "id": "u", "type": "ut", "affil": "x"}),
    )
    .await;
    assert_eq!(
        query(&mut c, "platforms", json!({})).await,
        vec![json!({"id": "truck", "type": "sensor", "desc": "d"})]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"platform": "truck"})).await,
        ["truck/s", "truck/t"]
    );
    assert_eq!(
        query_keys(&mut c, "systems", json!({"user": "u"})).await,
        ["truck/t"]
    );
    assert_eq!(
        query(&mut c, "platform-types", json!({"type": "vehicle"})).await,
        vec![json!({"type": "vehicle", "desc": "now with desc"})]
    );

    // A stopped system re-registered with another type gets that type's services.
    ok(
        &mut c,
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed"}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system-type", "type": "probe", "services": [{"type": "temp"}]}),
    )
    .await;
    ok(
        &mut c,
        json!({"op": "register:system", "id": "truck/s", "type": "probe"}),
    )
    .await;
    let records = query(&mut c, "systems", json!({"id": "truck/s"})).await;
    assert_eq!(
        records,
        vec![
            json!({"id": "truck/s", "platform": "truck", "type": "probe", "state": "stopped",
                    "services": [{"id": "truck/s/temp", "type": "temp", "mode": "output-feed"}]})
        ]
    );
    // simple_system is no longer used by truck/s, but still by truck/t.
    check(
        &mut c,
        json!({"op": "deregister:system-type", "type": "probe"}),
        "2030B",
    )
    .await;
}
