//! Register and deregister cases: validation, upsert, integrity, built-ins, running systems,
//! and a failing store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::records::SystemState;
use crate::store::{Change, Store, StoreError, StoredRecord};
use crate::{Engine, EngineConfig, MemoryStore};

#[test]
fn register_and_query_every_article() {
    let engine = engine();
    for request in [
        json!({"op":"register:node-type","type":"gateway","desc":"edge gateway"}),
        json!({"op":"register:node","id":"n2","type":"gateway","interfaces":[{"node-interface":"eth0","address":"ip://10.10.1.2:1885"}]}),
        json!({"op":"register:bearer","id":"wifi","available":"true"}),
        json!({"op":"register:bearer","id":"lte","available":false,"attr":{"cost":3}}),
        json!({"op":"register:platform-type","type":"vehicle"}),
        json!({"op":"register:platform","id":"v1","type":"vehicle","loc":{"lat":1,"long":2,"alt":3.5}}),
        json!({"op":"register:service-type","type":"temp","mode":"output-feed","schema":{"type":"number"}}),
        json!({"op":"register:system-type","type":"thermo","services":[{"type":"temp"},{"type":"temp","id":"temp_in","mode":"input-feed","desc":"d"}]}),
        json!({"op":"register:user-type","type":"driver"}),
        json!({"op":"register:user","id":"alice","type":"driver","affil":"acme"}),
        json!({"op":"register:system","id":"v1/t1","type":"thermo","user":"alice","desc":"cab"}),
    ] {
        expect(&engine, request, "00000");
    }
    let cases = [
        (
            "query:node-types",
            json!([{"type":"gateway","desc":"edge gateway"}]),
        ),
        (
            "query:nodes",
            json!([{"id":"n2","type":"gateway","interfaces":[{"node-interface":"eth0","address":"ip://10.10.1.2:1885"}]}]),
        ),
        (
            "query:bearers",
            json!([{"id":"lte","available":"false","attr":{"cost":3}},{"id":"wifi","available":"true"}]),
        ),
        (
            "query:platforms",
            json!([{"id":"v1","type":"vehicle","loc":{"lat":1,"long":2,"alt":3.5}}]),
        ),
        ("query:user-types", json!([{"type":"driver"}])),
        (
            "query:users",
            json!([{"id":"alice","type":"driver","affil":"acme"}]),
        ),
        (
            "query:system-types",
            json!([
            {"type":"simple_system","services":[
                {"id":"untyped_output_feed","type":"untyped_output_feed","mode":"output-feed"},
                {"id":"untyped_input_feed","type":"untyped_input_feed","mode":"input-feed"},
                {"id":"untyped_notification","type":"untyped_notification","mode":"notification"},
                {"id":"untyped_listener","type":"untyped_listener","mode":"listener"},
                {"id":"untyped_solicit_response","type":"untyped_solicit_response","mode":"solicit-response"},
                {"id":"untyped_request_response","type":"untyped_request_response","mode":"request-response"}]},
            {"type":"thermo","services":[
                {"id":"temp","type":"temp","mode":"output-feed"},
                {"id":"temp_in","type":"temp","mode":"input-feed","desc":"d"}]}]),
        ),
        (
            "query:systems",
            json!([{"id":"v1/t1","platform":"v1","type":"thermo","state":"stopped","user":"alice","desc":"cab",
            "services":[{"id":"v1/t1/temp","type":"temp","mode":"output-feed"},{"id":"v1/t1/temp_in","type":"temp","mode":"input-feed"}]}]),
        ),
    ];
    for (op, records) in cases {
        let member = op.trim_start_matches("query:");
        let mut result = serde_json::Map::new();
        result.insert("op".into(), json!(format!("query-result:{member}")));
        result.insert("correl".into(), json!("q"));
        result.insert(member.into(), records);
        check(
            &engine,
            json!({"op":op,"correl":"q"}),
            vec![
                serde_json::Value::Object(result),
                json!({"op":"status","correl":"q","status":"00000","msg":"OK"}),
            ],
        );
    }
    let service_types = query(&engine, json!({"op":"query:service-types","type":"temp"}));
    assert_eq!(
        service_types,
        vec![json!({"type":"temp","mode":"output-feed","schema":{"type":"number"}})]
    );
}

#[test]
fn builtins_exist_and_are_protected() {
    let engine = engine();
    assert_eq!(
        keys(&engine, json!({"op":"query:platform-types"}), "type"),
        ["app", "sensor", "service"]
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:service-types"}), "type").len(),
        6
    );
    assert_eq!(
        query(
            &engine,
            json!({"op":"query:service-types","type":"untyped_listener"})
        ),
        vec![json!({"type":"untyped_listener","mode":"listener"})]
    );
    expect(
        &engine,
        json!({"op":"deregister:platform-type","type":"app"}),
        "20309",
    );
    expect(
        &engine,
        json!({"op":"deregister:service-type","type":"untyped_input_feed"}),
        "2030C",
    );
    expect(
        &engine,
        json!({"op":"deregister:system-type","type":"simple_system"}),
        "2030B",
    );
    expect(
        &engine,
        json!({"op":"register:platform-type","type":"sensor","desc":"x"}),
        "20209",
    );
    expect(
        &engine,
        json!({"op":"register:service-type","type":"untyped_listener","mode":"listener"}),
        "2020C",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"simple_system","services":[{"type":"untyped_listener"}]}),
        "2020B",
    );
    assert!(msg_of(
        &engine,
        json!({"op":"deregister:platform-type","type":"app"})
    )
    .contains("built-in"));
    // Still intact.
    assert_eq!(
        query(
            &engine,
            json!({"op":"query:platform-types","type":"sensor"})
        ),
        vec![json!({"type":"sensor"})]
    );
}

#[test]
fn validation_errors_name_the_field() {
    let engine = populated();
    let cases = [
        (json!({"op":"register:platform","id":"p9"}), "10208", "type"),
        (
            json!({"op":"register:platform","type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":5,"type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":"a/b","type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":"a*","type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":"","type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":"a\u{1}","type":"app"}),
            "10208",
            "id",
        ),
        (
            json!({"op":"register:platform","id":"p9","type":"app","desc":3}),
            "10208",
            "desc",
        ),
        (
            json!({"op":"register:platform","id":"p9","type":"app","attr":[1]}),
            "10208",
            "attr",
        ),
        (
            json!({"op":"register:platform","id":"p9","type":"app","loc":{"lat":1}}),
            "10208",
            "loc.long",
        ),
        (
            json!({"op":"register:platform","id":"p9","type":"app","loc":{"lat":"1","long":2}}),
            "10208",
            "loc.lat",
        ),
        (
            json!({"op":"register:platform","id":"p9","type":"app","loc":[1,2]}),
            "10208",
            "loc",
        ),
        (
            json!({"op":"register:node","id":"n"}),
            "10203",
            "interfaces",
        ),
        (
            json!({"op":"register:node","id":"n","interfaces":[]}),
            "10203",
            "interfaces",
        ),
        (
            json!({"op":"register:node","id":"n","interfaces":["ip://a:1"]}),
            "10203",
            "interfaces[0]",
        ),
        (
            json!({"op":"register:node","id":"n","interfaces":[{"node-interface":"e","address":"ip://a"}]}),
            "10203",
            "interfaces[0].address",
        ),
        (
            json!({"op":"register:node","id":"n","interfaces":[{"address":"ip://a:1"}]}),
            "10203",
            "node-interface",
        ),
        (json!({"op":"register:node-type"}), "10205", "type"),
        (
            json!({"op":"register:bearer","id":"b"}),
            "10206",
            "available",
        ),
        (
            json!({"op":"register:bearer","id":"b","available":"yes"}),
            "10206",
            "available",
        ),
        (
            json!({"op":"register:bearer","id":"b","available":1}),
            "10206",
            "available",
        ),
        (
            json!({"op":"register:platform-type","type":["x"]}),
            "10209",
            "type",
        ),
        (
            json!({"op":"register:service-type","type":"t"}),
            "1020C",
            "mode",
        ),
        (
            json!({"op":"register:service-type","type":"t","mode":"feed"}),
            "1020C",
            "mode",
        ),
        (
            json!({"op":"register:system-type","type":"st"}),
            "1020B",
            "services",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":[]}),
            "1020B",
            "services",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":{}}),
            "1020B",
            "services",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":[{"id":"x"}]}),
            "1020B",
            "services[0]: missing field type",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":[{"type":"untyped_listener","mode":"bad"}]}),
            "1020B",
            "mode",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":[{"type":"untyped_listener"},{"type":"untyped_listener"}]}),
            "1020B",
            "untyped_listener",
        ),
        (
            json!({"op":"register:system","id":"p1","type":"simple_system"}),
            "1020A",
            "id",
        ),
        (
            json!({"op":"register:system","id":"p1/s/x","type":"simple_system"}),
            "1020A",
            "id",
        ),
        (json!({"op":"register:system","id":"p1/s"}), "1020A", "type"),
        (
            json!({"op":"register:system","id":"p1/s","type":"simple_system","user":7}),
            "1020A",
            "user",
        ),
        (
            json!({"op":"register:user-type","type":"a/b"}),
            "1020E",
            "type",
        ),
        (
            json!({"op":"register:user","id":"u9","type":"operator","affil":1}),
            "1020D",
            "affil",
        ),
        (json!({"op":"deregister:platform"}), "10308", "id"),
        (json!({"op":"deregister:platform","id":3}), "10308", "id"),
        (json!({"op":"deregister:system","id":"p1"}), "1030A", "id"),
        (
            json!({"op":"deregister:platform-type","id":"app"}),
            "10309",
            "type",
        ),
    ];
    for (request, code, field) in cases {
        let outcome = expect(&engine, request.clone(), code);
        assert!(
            outcome.status.msg.contains(field),
            "{request}: {}",
            outcome.status.msg
        );
    }
}

#[test]
fn identifier_length_and_unicode() {
    let engine = engine();
    let longest = "é".repeat(256);
    expect(
        &engine,
        json!({"op":"register:platform-type","type":longest}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:platform-type","type":"é".repeat(257)}),
        "10209",
    );
    let unicode = "Gerät ✓ 東京 \u{1F600}";
    expect(
        &engine,
        json!({"op":"register:platform","id":unicode,"type":"app"}),
        "00000",
    );
    let outcome = send(&engine, &json!({"op":"query:platforms"}).to_string());
    let text = outcome.replies[0].to_string();
    assert!(text.contains(unicode), "kept byte for byte: {text}");
}

#[test]
fn references_must_exist() {
    let engine = populated();
    let cases = [
        (
            json!({"op":"register:platform","id":"p9","type":"boat"}),
            "20208",
            "platform type boat",
        ),
        (
            json!({"op":"register:node","id":"n","type":"nt","interfaces":[{"node-interface":"e","address":"tcp://[::1]:1883"}]}),
            "20203",
            "node type nt",
        ),
        (
            json!({"op":"register:system-type","type":"st","services":[{"type":"nope"}]}),
            "2020B",
            "service type nope",
        ),
        (
            json!({"op":"register:system","id":"p9/s","type":"simple_system"}),
            "2020A",
            "platform p9",
        ),
        (
            json!({"op":"register:system","id":"p1/s","type":"nope"}),
            "2020A",
            "system type nope",
        ),
        (
            json!({"op":"register:system","id":"p1/s","type":"simple_system","user":"bob"}),
            "2020A",
            "user bob",
        ),
        (
            json!({"op":"register:user","id":"u9","type":"nope"}),
            "2020D",
            "user type nope",
        ),
    ];
    for (request, code, named) in cases {
        let outcome = expect(&engine, request.clone(), code);
        assert!(
            outcome.status.msg.contains(named),
            "{request}: {}",
            outcome.status.msg
        );
    }
    assert_eq!(
        keys(&engine, json!({"op":"query:platforms"}), "id"),
        ["p1", "p2"]
    );
}

#[test]
fn register_replaces_and_resets_optional_fields() {
    let engine = engine();
    expect(
        &engine,
        json!({"op":"register:platform","id":"p","type":"app","desc":"d","attr":{"a":1},"loc":{"lat":0,"long":0}}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:platform","id":"p","type":"sensor"}),
        "00000",
    );
    assert_eq!(
        query(&engine, json!({"op":"query:platforms"})),
        vec![json!({"id":"p","type":"sensor"})]
    );
    expect(
        &engine,
        json!({"op":"register:bearer","id":"b","available":true}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:bearer","id":"b","available":"false","desc":"x"}),
        "00000",
    );
    assert_eq!(
        query(&engine, json!({"op":"query:bearers"})),
        vec![json!({"id":"b","available":"false","desc":"x"})]
    );
}

#[test]
fn system_services_come_from_the_system_type_at_registration() {
    let engine = populated();
    expect(
        &engine,
        json!({"op":"register:service-type","type":"temp","mode":"output-feed"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"t1","services":[{"type":"temp","id":"a"}]}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"p2/x","type":"t1"}),
        "00000",
    );
    // Changing the system type does not touch existing systems...
    expect(
        &engine,
        json!({"op":"register:system-type","type":"t1","services":[{"type":"temp","id":"b"}]}),
        "00000",
    );
    let services = |engine: &Engine| {
        query(engine, json!({"op":"query:systems","id":"p2/x"}))[0]["services"].clone()
    };
    assert_eq!(
        services(&engine),
        json!([{"id":"p2/x/a","type":"temp","mode":"output-feed"}])
    );
    // ...and the old service type stays in use through the system.
    expect(
        &engine,
        json!({"op":"deregister:service-type","type":"temp"}),
        "2030C",
    );
    // Re-registering a stopped system re-instantiates its services.
    expect(
        &engine,
        json!({"op":"register:system","id":"p2/x","type":"t1"}),
        "00000",
    );
    assert_eq!(
        services(&engine),
        json!([{"id":"p2/x/b","type":"temp","mode":"output-feed"}])
    );
    let simple = query(&engine, json!({"op":"query:systems","id":"p1/s1"}));
    assert_eq!(
        simple[0]["services"][0],
        json!({"id":"p1/s1/untyped_output_feed","type":"untyped_output_feed","mode":"output-feed"})
    );
    assert_eq!(simple[0]["services"].as_array().unwrap().len(), 6);
    assert_eq!(simple[0]["state"], "stopped");
}

#[test]
fn system_type_service_mode_defaults_to_the_service_type_and_may_be_overridden() {
    let engine = engine();
    expect(
        &engine,
        json!({"op":"register:service-type","type":"temp","mode":"output-feed"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"dash","services":[{"type":"temp","mode":"input-feed"},{"type":"temp","id":"raw"}]}),
        "00000",
    );
    let services =
        query(&engine, json!({"op":"query:system-types","type":"dash"}))[0]["services"].clone();
    assert_eq!(
        services,
        json!([
            {"id":"temp","type":"temp","mode":"input-feed"},
            {"id":"raw","type":"temp","mode":"output-feed"}
        ])
    );
}

fn set_running(engine: &Engine, id: &str, owner: &str) {
    assert!(engine.registry().write().set_system_state(
        id,
        SystemState::Running,
        Some(owner.to_string())
    ));
}

#[test]
fn running_systems_cannot_change_type_or_be_deregistered() {
    let engine = populated();
    expect(
        &engine,
        json!({"op":"register:system-type","type":"other","services":[{"type":"untyped_listener"}]}),
        "00000",
    );
    set_running(&engine, "p1/s1", "client-a");
    expect(
        &engine,
        json!({"op":"register:system","id":"p1/s1","type":"other"}),
        "2020A",
    );
    expect(
        &engine,
        json!({"op":"deregister:system","id":"p1/s1"}),
        "2030A",
    );
    // Same type: desc/attr/user replaced, still running with its services.
    expect(
        &engine,
        json!({"op":"register:system","id":"p1/s1","type":"simple_system","desc":"new"}),
        "00000",
    );
    let system = query(&engine, json!({"op":"query:systems","id":"p1/s1"}))[0].clone();
    assert_eq!(system["state"], "running");
    assert_eq!(system["desc"], "new");
    assert_eq!(system.get("user"), None);
    assert_eq!(system["services"].as_array().unwrap().len(), 6);
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["p1/s1"]
    );
    assert!(engine
        .registry()
        .write()
        .set_system_state("p1/s1", SystemState::Stopped, None));
    expect(
        &engine,
        json!({"op":"register:system","id":"p1/s1","type":"other"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"deregister:system","id":"p1/s1"}),
        "00000",
    );
    assert!(query(&engine, json!({"op":"query:systems"})).is_empty());
}

#[test]
fn deregister_refuses_missing_and_in_use_records() {
    let engine = populated();
    expect(
        &engine,
        json!({"op":"register:node-type","type":"nt"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:node","id":"n","type":"nt","interfaces":[{"node-interface":"e","address":"ip://h:1"}]}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:service-type","type":"st","mode":"listener"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"syt","services":[{"type":"st"}]}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:platform-type","type":"pt"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:platform","id":"p3","type":"pt"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"p3/x","type":"syt"}),
        "00000",
    );
    let in_use = [
        (
            json!({"op":"deregister:platform","id":"p1"}),
            "20308",
            "system p1/s1",
        ),
        (
            json!({"op":"deregister:platform-type","type":"pt"}),
            "20309",
            "platform p3",
        ),
        (
            json!({"op":"deregister:user","id":"u1"}),
            "2030D",
            "system p1/s1",
        ),
        (
            json!({"op":"deregister:user-type","type":"operator"}),
            "2030E",
            "user u1",
        ),
        (
            json!({"op":"deregister:node-type","type":"nt"}),
            "20305",
            "node n",
        ),
        (
            json!({"op":"deregister:service-type","type":"st"}),
            "2030C",
            "system type syt",
        ),
        (
            json!({"op":"deregister:system-type","type":"syt"}),
            "2030B",
            "system p3/x",
        ),
    ];
    for (request, code, user) in in_use {
        let outcome = expect(&engine, request.clone(), code);
        assert!(
            outcome.status.msg.contains(user),
            "{request}: {}",
            outcome.status.msg
        );
        assert!(
            outcome.status.msg.contains("in use"),
            "{}",
            outcome.status.msg
        );
    }
    let missing = [
        (json!({"op":"deregister:node","id":"zz"}), "20303"),
        (json!({"op":"deregister:node-type","type":"zz"}), "20305"),
        (json!({"op":"deregister:bearer","id":"zz"}), "20306"),
        (json!({"op":"deregister:platform","id":"zz"}), "20308"),
        (
            json!({"op":"deregister:platform-type","type":"zz"}),
            "20309",
        ),
        (json!({"op":"deregister:system","id":"zz/s"}), "2030A"),
        (json!({"op":"deregister:system-type","type":"zz"}), "2030B"),
        (json!({"op":"deregister:service-type","type":"zz"}), "2030C"),
        (json!({"op":"deregister:user","id":"zz"}), "2030D"),
        (json!({"op":"deregister:user-type","type":"zz"}), "2030E"),
    ];
    for (request, code) in missing {
        let outcome = expect(&engine, request.clone(), code);
        assert!(outcome.status.msg.contains("zz"), "{request}");
        assert_eq!(outcome.status.kind, crate::Kind::NotFound);
    }
    // Removing in dependency order works.
    for request in [
        json!({"op":"deregister:system","id":"p3/x"}),
        json!({"op":"deregister:system-type","type":"syt"}),
        json!({"op":"deregister:service-type","type":"st"}),
        json!({"op":"deregister:platform","id":"p3"}),
        json!({"op":"deregister:platform-type","type":"pt"}),
        json!({"op":"deregister:node","id":"n"}),
        json!({"op":"deregister:node-type","type":"nt"}),
        json!({"op":"deregister:system","id":"p1/s1"}),
        json!({"op":"deregister:user","id":"u1"}),
        json!({"op":"deregister:user-type","type":"operator"}),
        json!({"op":"deregister:platform","id":"p1"}),
    ] {
        expect(&engine, request, "00000");
    }
    assert_eq!(keys(&engine, json!({"op":"query:platforms"}), "id"), ["p2"]);
}

#[test]
fn deregistering_a_producer_drops_its_wirings_and_tells_consumers() {
    let engine = populated();
    expect(
        &engine,
        json!({"op":"register:system","id":"p2/c","type":"simple_system"}),
        "00000",
    );
    set_running(&engine, "p2/c", "consumer-client");
    {
        let mut registry = engine.registry().write();
        registry
            .wiring_mut()
            .insert("p1/s1/untyped_output_feed", "p2/c/untyped_input_feed");
    }
    check(
        &engine,
        json!({"op":"query:service-wiring","correl":1,"to":"p2/*"}),
        vec![
            json!({"op":"query-result:service-wiring","correl":1,"service-wiring":[{"from":"p1/s1/untyped_output_feed","to":"p2/c/untyped_input_feed"}]}),
            json!({"op":"status","correl":1,"status":"00000","msg":"OK"}),
        ],
    );
    assert!(query(&engine, json!({"op":"query:service-wiring","from":"p2/*"})).is_empty());
    let outcome = expect(
        &engine,
        json!({"op":"deregister:system","id":"p1/s1"}),
        "00000",
    );
    assert_eq!(
        outcome.all_deliveries(),
        vec![crate::Delivery {
            client_id: "consumer-client".to_string(),
            message: json!({"op":"lost-subscriptions","output-feeds":["p1/s1/untyped_output_feed"],"input-feed":"p2/c/untyped_input_feed"}),
        }]
    );
    assert!(query(&engine, json!({"op":"query:service-wiring"})).is_empty());
}

/// A store that fails every commit while its switch is on.
struct SwitchableStore {
    inner: MemoryStore,
    failing: Arc<AtomicBool>,
}

impl Store for SwitchableStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.load()
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Failed("disk full".to_string()));
        }
        self.inner.commit(changes)
    }
}

#[test]
fn a_failed_commit_answers_class_f_and_leaves_memory_unchanged() {
    let failing = Arc::new(AtomicBool::new(false));
    let inner = MemoryStore::new();
    let store = SwitchableStore {
        inner: inner.clone(),
        failing: failing.clone(),
    };
    let engine = Engine::open(EngineConfig::new(NODE_ID), Box::new(store)).unwrap();
    expect(
        &engine,
        json!({"op":"register:platform","id":"p1","type":"app","desc":"v1"}),
        "00000",
    );
    let before = query(&engine, json!({"op":"query:platforms"}));

    failing.store(true, Ordering::SeqCst);
    let outcome = expect(
        &engine,
        json!({"op":"register:platform","id":"p1","type":"sensor"}),
        "F0208",
    );
    assert_eq!(outcome.status.kind, crate::Kind::Internal);
    assert!(
        outcome.status.msg.contains("disk full"),
        "{}",
        outcome.status.msg
    );
    expect(
        &engine,
        json!({"op":"register:platform","id":"p2","type":"app"}),
        "F0208",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"p1/s","type":"simple_system"}),
        "F020A",
    );
    expect(
        &engine,
        json!({"op":"deregister:platform","id":"p1"}),
        "F0308",
    );
    assert_eq!(query(&engine, json!({"op":"query:platforms"})), before);
    assert!(query(&engine, json!({"op":"query:systems"})).is_empty());
    // Validation and integrity failures are still reported as such.
    expect(
        &engine,
        json!({"op":"register:platform","id":"p3"}),
        "10208",
    );
    expect(
        &engine,
        json!({"op":"deregister:platform","id":"p9"}),
        "20308",
    );

    failing.store(false, Ordering::SeqCst);
    expect(
        &engine,
        json!({"op":"deregister:platform","id":"p1"}),
        "00000",
    );
    assert!(query(&engine, json!({"op":"query:platforms"})).is_empty());
    assert!(inner.is_empty());
}

#[test]
fn engine_is_send_and_sync_and_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let engine = Arc::new(engine());
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for index in 0..50 {
                    let id = format!("t{thread}-{index}");
                    expect(&engine, json!({"op":"register:platform","id":id,"type":"app"}), "00000");
                    expect(&engine, json!({"op":"register:system","id":format!("{id}/s"),"type":"simple_system"}), "00000");
                    assert!(!query(&engine, json!({"op":"query:systems","platform":id})).is_empty());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(query(&engine, json!({"op":"query:systems"})).len(), 200);
}
