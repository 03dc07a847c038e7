//! Export cases: the ops `Engine::export` produces replay into a fresh engine with identical
//! query results, in dependency order, without built-ins or correls.

use serde_json::{json, Value};

use super::*;

const QUERIES: [&str; 10] = [
    "query:nodes",
    "query:node-types",
    "query:bearers",
    "query:platform-types",
    "query:platforms",
    "query:service-types",
    "query:system-types",
    "query:systems",
    "query:user-types",
    "query:users",
];

fn snapshot(engine: &Engine) -> Vec<Vec<Value>> {
    QUERIES
        .iter()
        .map(|op| query(engine, json!({"op":op})))
        .collect()
}

fn world() -> Engine {
    let engine = engine();
    for request in [
        json!({"op":"register:node-type","type":"gw","attr":{"a":[1,{"b":null}]}}),
        json!({"op":"register:node","id":"n1","type":"gw","interfaces":[{"node-interface":"eth0","address":"tcp://[::1]:1883"}],"desc":"d"}),
        json!({"op":"register:bearer","id":"wifi","available":true,"desc":"w"}),
        json!({"op":"register:platform-type","type":"vehicle"}),
        json!({"op":"register:platform","id":"Gerät ✓","type":"vehicle","loc":{"lat":51.25,"long":-1,"alt":12}}),
        json!({"op":"register:service-type","type":"temp","mode":"output-feed","schema":{"type":"number","max":1e3}}),
        json!({"op":"register:system-type","type":"thermo","desc":"t","services":[{"type":"temp"},{"type":"temp","id":"in","mode":"input-feed","attr":{"k":1}}]}),
        json!({"op":"register:user-type","type":"driver"}),
        json!({"op":"register:user","id":"alice","type":"driver","affil":"acme"}),
        json!({"op":"register:system","id":"Gerät ✓/t1","type":"thermo","user":"alice","attr":{"x":1}}),
        json!({"op":"register:system","id":"Gerät ✓/t2","type":"simple_system"}),
        // The type changes after t1 was registered: t1 keeps its two services.
        json!({"op":"register:system-type","type":"thermo","services":[{"type":"untyped_listener","id":"alarm"}]}),
        json!({"op":"register:system","id":"Gerät ✓/t3","type":"thermo"}),
    ] {
        expect(&engine, request, "00000");
    }
    engine
}

#[test]
fn export_replays_into_identical_query_results() {
    let source = world();
    let ops = source.export();
    assert!(ops.iter().all(|op| op.get("correl").is_none()));
    let target = engine();
    for op in &ops {
        expect(&target, op.clone(), "00000");
    }
    assert_eq!(snapshot(&target), snapshot(&source));
    let t1 = &query(&source, json!({"op":"query:systems","id":"Gerät ✓/t1"}))[0];
    assert_eq!(t1["services"].as_array().unwrap().len(), 2, "{t1}");
    // Exporting the replayed registry gives the same ops again.
    assert_eq!(target.export(), ops);
}

#[test]
fn export_is_in_dependency_order_without_built_ins() {
    let ops = world().export();
    let names: Vec<&str> = ops.iter().map(|op| op["op"].as_str().unwrap()).collect();
    let first = |name: &str| names.iter().position(|n| *n == name).unwrap();
    assert!(first("register:node-type") < first("register:node"));
    assert!(first("register:platform-type") < first("register:platform"));
    assert!(first("register:service-type") < first("register:system-type"));
    assert!(first("register:user") < first("register:system"));
    assert!(first("register:platform") < first("register:system"));
    assert!(!ops.iter().any(
        |op| op["type"] == json!("simple_system") && op["op"] == json!("register:system-type")
    ));
    assert!(!ops.iter().any(|op| op["type"] == json!("sensor")));
    assert_eq!(
        ops[0],
        json!({"op":"register:node-type","type":"gw","attr":{"a":[1,{"b":null}]}})
    );
}

#[test]
fn an_empty_registry_exports_nothing() {
    assert!(engine().export().is_empty());
}
