//! Query cases: wildcards, attr and loc filters, system-type services, local node, neighbours
//! and service wiring.

use serde_json::json;

use super::*;

#[test]
fn empty_result_is_an_empty_array_then_ok() {
    let engine = engine();
    check(
        &engine,
        json!({"op":"query:users","correl":"u"}),
        vec![
            json!({"op":"query-result:users","correl":"u","users":[]}),
            json!({"op":"status","correl":"u","status":"00000","msg":"OK"}),
        ],
    );
}

#[test]
fn string_filters_match_whole_values_with_wildcards() {
    let engine = engine();
    for id in ["sensor-01", "sensor-02", "sens", "gw-01", "a/sensor"] {
        let id = id.replace('/', "_");
        expect(
            &engine,
            json!({"op":"register:platform","id":id,"type":"sensor"}),
            "00000",
        );
    }
    let ids = |filter: serde_json::Value| {
        let mut request = json!({"op":"query:platforms"});
        for (name, value) in filter.as_object().unwrap() {
            request[name] = value.clone();
        }
        keys(&engine, request, "id")
    };
    assert_eq!(ids(json!({"id":"sens"})), ["sens"]);
    assert_eq!(
        ids(json!({"id":"sens*"})),
        ["sens", "sensor-01", "sensor-02"]
    );
    assert_eq!(ids(json!({"id":"*-01"})), ["gw-01", "sensor-01"]);
    assert_eq!(
        ids(json!({"id":"*sensor*"})),
        ["a_sensor", "sensor-01", "sensor-02"]
    );
    assert_eq!(ids(json!({"id":"*"})).len(), 5);
    assert_eq!(ids(json!({"id":"sensor"})), Vec::<String>::new());
    assert_eq!(ids(json!({"type":"sen*","id":"gw*"})), ["gw-01"]);
    assert_eq!(ids(json!({"type":"app"})), Vec::<String>::new());
    assert_eq!(
        ids(json!({"desc":"*"})),
        Vec::<String>::new(),
        "records without desc never match"
    );
    expect(&engine, json!({"op":"query:platforms","id":3}), "10408");
    assert_eq!(
        ids(json!({"type":null})).len(),
        5,
        "null filters are absent"
    );
}

#[test]
fn system_filters_include_slashes() {
    let engine = populated();
    expect(
        &engine,
        json!({"op":"register:system","id":"p1/s2","type":"simple_system"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"p2/s1","type":"simple_system"}),
        "00000",
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:systems","id":"p1/*"}), "id"),
        ["p1/s1", "p1/s2"]
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:systems","id":"*/s1"}), "id"),
        ["p1/s1", "p2/s1"]
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:systems","platform":"p2"}), "id"),
        ["p2/s1"]
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:systems","user":"u*"}), "id"),
        ["p1/s1"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"stopped"}),
            "id"
        )
        .len(),
        3
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        )
        .len(),
        0
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:users","affil":"ac*"}), "id"),
        ["u1"]
    );
    expect(
        &engine,
        json!({"op":"query:systems","platform":false}),
        "1040A",
    );
}

#[test]
fn attr_filter_is_a_subset_match_on_json_values() {
    let engine = populated();
    let ids =
        |attr: serde_json::Value| keys(&engine, json!({"op":"query:platforms","attr":attr}), "id");
    assert_eq!(ids(json!({"floor":2})), ["p2"]);
    assert_eq!(ids(json!({"floor":2,"wing":"east"})), ["p2"]);
    assert_eq!(ids(json!({"floor":"2"})), Vec::<String>::new());
    assert_eq!(ids(json!({"floor":2,"wing":"west"})), Vec::<String>::new());
    assert_eq!(ids(json!({"colour":null})), Vec::<String>::new());
    assert_eq!(ids(json!({})), ["p1", "p2"]);
    expect(
        &engine,
        json!({"op":"query:platforms","attr":"floor"}),
        "10408",
    );
}

#[test]
fn loc_filter_is_an_inclusive_box_and_systems_use_their_platform() {
    let engine = populated();
    let platforms =
        |loc: serde_json::Value| keys(&engine, json!({"op":"query:platforms","loc":loc}), "id");
    assert_eq!(
        platforms(json!({"left":-2,"bottom":51,"top":52,"right":-1})),
        ["p1"]
    );
    assert_eq!(
        platforms(json!({"left":-1.5,"bottom":51.5,"top":51.5,"right":-1.5})),
        ["p1"],
        "edges are inside"
    );
    assert_eq!(
        platforms(json!({"left":-1,"bottom":51,"top":52,"right":0})),
        Vec::<String>::new()
    );
    assert_eq!(
        platforms(json!({"left":-180,"bottom":-90,"top":90,"right":180})),
        ["p1"],
        "p2 has no loc"
    );
    let systems = keys(
        &engine,
        json!({"op":"query:systems","loc":{"left":-2,"bottom":51,"top":52,"right":-1}}),
        "id",
    );
    assert_eq!(systems, ["p1/s1"]);
    for bad in [
        json!({"left":-2,"bottom":51,"top":52}),
        json!({"left":"-2","bottom":51,"top":52,"right":0}),
        json!([1, 2, 3, 4]),
    ] {
        expect(
            &engine,
            json!({"op":"query:platforms","loc":bad.clone()}),
            "10408",
        );
        expect(&engine, json!({"op":"query:systems","loc":bad}), "1040A");
    }
}

#[test]
fn system_type_services_filter() {
    let engine = engine();
    expect(
        &engine,
        json!({"op":"register:service-type","type":"temp","mode":"output-feed"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:service-type","type":"cmd","mode":"listener"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"thermo","services":[{"type":"temp"},{"type":"cmd"}]}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system-type","type":"probe","services":[{"type":"temp"}]}),
        "00000",
    );
    let types = |services: serde_json::Value| {
        keys(
            &engine,
            json!({"op":"query:system-types","services":services}),
            "type",
        )
    };
    assert_eq!(types(json!([{"type":"temp"}])), ["probe", "thermo"]);
    assert_eq!(types(json!([{"type":"temp"},{"type":"cmd"}])), ["thermo"]);
    assert_eq!(
        types(json!([{"mode":"listener"}])),
        ["simple_system", "thermo"]
    );
    assert_eq!(
        types(json!([{"type":"untyped_*","mode":"*-feed"}])),
        ["simple_system"]
    );
    assert_eq!(
        types(json!([{"type":"cmd","mode":"output-feed"}])),
        Vec::<String>::new()
    );
    assert_eq!(types(json!([{}])).len(), 3);
    assert_eq!(types(json!([])).len(), 3);
    expect(
        &engine,
        json!({"op":"query:system-types","services":{"type":"temp"}}),
        "1040B",
    );
    expect(
        &engine,
        json!({"op":"query:system-types","services":["temp"]}),
        "1040B",
    );
    expect(
        &engine,
        json!({"op":"query:system-types","services":[{"type":1}]}),
        "1040B",
    );
}

#[test]
fn filters_on_every_article() {
    let engine = engine();
    for request in [
        json!({"op":"register:node-type","type":"gw","desc":"gateway"}),
        json!({"op":"register:node","id":"n1","type":"gw","interfaces":[{"node-interface":"eth0","address":"ip://10.0.0.1:1883"},{"node-interface":"wlan0","address":"ip://10.0.1.1:1883"}]}),
        json!({"op":"register:node","id":"n2","interfaces":[{"node-interface":"eth0","address":"tcp://[::1]:1883"}]}),
        json!({"op":"register:bearer","id":"wifi","available":true}),
        json!({"op":"register:bearer","id":"lte","available":"false"}),
        json!({"op":"register:service-type","type":"temp","mode":"output-feed","desc":"celsius"}),
        json!({"op":"register:user-type","type":"admin","attr":{"level":9}}),
    ] {
        expect(&engine, request, "00000");
    }
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:nodes","address":"ip://10.0.1.*"}),
            "id"
        ),
        ["n1"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:nodes","node-interface":"eth0"}),
            "id"
        ),
        ["n1", "n2"]
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:nodes","type":"*"}), "id"),
        ["n1"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:node-types","desc":"gate*"}),
            "type"
        ),
        ["gw"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:bearers","available":"true"}),
            "id"
        ),
        ["wifi"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:bearers","available":false}),
            "id"
        ),
        ["lte"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:service-types","mode":"*-feed","desc":"c*"}),
            "type"
        ),
        ["temp"]
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:user-types","attr":{"level":9}}),
            "type"
        ),
        ["admin"]
    );
    expect(
        &engine,
        json!({"op":"query:bearers","available":1}),
        "10406",
    );
    expect(&engine, json!({"op":"query:nodes","address":[]}), "10403");
    expect(&engine, json!({"op":"query:node-types","type":{}}), "10405");
    expect(&engine, json!({"op":"query:user-types","type":1}), "1040E");
    expect(&engine, json!({"op":"query:users","id":1}), "1040D");
    expect(
        &engine,
        json!({"op":"query:service-types","mode":1}),
        "1040C",
    );
    expect(
        &engine,
        json!({"op":"query:platform-types","desc":1}),
        "10409",
    );
}

#[test]
fn local_node_and_neighbours() {
    let engine = engine();
    check(
        &engine,
        json!({"op":"query:local-node","correl":"l"}),
        vec![
            json!({"op":"query-result:local-node","correl":"l","id":NODE_ID}),
            json!({"op":"status","correl":"l","status":"00000","msg":"OK"}),
        ],
    );
    let interfaces = json!([{"node-interface":"eth0","address":"ip://10.10.1.2:1885"}]);
    expect(
        &engine,
        json!({"op":"register:node","id":NODE_ID,"interfaces":interfaces}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:node","id":"n2","interfaces":interfaces}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:node","id":"n3","interfaces":interfaces}),
        "00000",
    );
    check(
        &engine,
        json!({"op":"query:neighbours","correl":"n","id":"n2"}),
        vec![
            json!({"op":"query-result:neighbours","correl":"n","nodes":[{"id":"n2","interfaces":interfaces}]}),
            json!({"op":"status","correl":"n","status":"00000","msg":"OK"}),
        ],
    );
    assert_eq!(
        keys(&engine, json!({"op":"query:neighbours"}), "id"),
        ["n2", "n3"]
    );
    assert_eq!(keys(&engine, json!({"op":"query:nodes"}), "id").len(), 3);
    expect(&engine, json!({"op":"query:neighbours","id":1}), "1040F");
}

#[test]
fn service_wiring_is_empty_without_subscriptions_and_checks_its_filters() {
    let engine = populated();
    check(
        &engine,
        json!({"op":"query:service-wiring","correl":"w"}),
        vec![
            json!({"op":"query-result:service-wiring","correl":"w","service-wiring":[]}),
            json!({"op":"status","correl":"w","status":"00000","msg":"OK"}),
        ],
    );
    expect(
        &engine,
        json!({"op":"query:service-wiring","from":1}),
        "1040A",
    );
    expect(
        &engine,
        json!({"op":"query:service-wiring","to":["x"]}),
        "1040A",
    );
}
