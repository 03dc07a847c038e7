//! Feeds end to end at engine level: publish, subscribe (with patterns remembered for feeds
//! registered later), unsubscribe, and the wiring table they maintain.

use serde_json::{json, Value};

use super::*;

fn feed_message(output: &str, input: &str, msg: Value, encoding: &str) -> Value {
    json!({"op":"feed-message","output-feed":output,"input-feed":input,"msg":msg,"encoding":encoding})
}

const DASH_IN: &str = "d/dash/untyped_input_feed";
const LOG_IN: &str = "d/log/untyped_input_feed";

/// The `output-feeds` a subscribe answered with.
fn subscribed(outcome: &Outcome) -> Vec<String> {
    outcome.replies[0]["output-feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|feed| feed.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn producer_consumer_walk_through() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    check_as(
        &engine,
        "dash",
        json!({"op":"subscribe","correl":"sub","output-feeds":["*/temp_sensor/temp"],"input-feed":DASH_IN}),
        vec![
            json!({"op":"subscriptions","correl":"sub","output-feeds":["p1/temp_sensor/temp","p2/temp_sensor/temp"],"input-feed":DASH_IN}),
            json!({"op":"status","correl":"sub","status":"00000","msg":"OK"}),
        ],
    );
    check(
        &engine,
        json!({"op":"query:service-wiring","correl":"w","to":"d/*"}),
        vec![
            json!({"op":"query-result:service-wiring","correl":"w","service-wiring":[
                {"from":"p1/temp_sensor/temp","to":DASH_IN},
                {"from":"p2/temp_sensor/temp","to":DASH_IN}]}),
            json!({"op":"status","correl":"w","status":"00000","msg":"OK"}),
        ],
    );
    let outcome = check_as(
        &engine,
        "sensor",
        json!({"op":"publish","correl":"pub","output-feed":"p1/temp_sensor/temp","msg":"21.5"}),
        vec![json!({"op":"status","correl":"pub","status":"00000","msg":"OK"})],
    );
    assert_eq!(
        delivered(&outcome),
        [(
            "dash".to_string(),
            feed_message("p1/temp_sensor/temp", DASH_IN, json!("21.5"), "ascii")
        )]
    );
    // The other feed of the sensor is not wired.
    let outcome = expect_as(
        &engine,
        "sensor",
        json!({"op":"publish","output-feed":"p1/temp_sensor/hum","msg":40}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
    // A stopped producer is wired but cannot publish; once running it reaches the consumer.
    expect_as(
        &engine,
        "sensor",
        json!({"op":"publish","output-feed":"p2/temp_sensor/temp","msg":1}),
        "2060A",
    );
    start(&engine, "sensor2", "p2/temp_sensor");
    let outcome = expect_as(
        &engine,
        "sensor2",
        json!({"op":"publish","output-feed":"p2/temp_sensor/temp","msg":1}),
        "00000",
    );
    assert_eq!(delivered(&outcome)[0].0, "dash");
    // The consumer stops: nothing is delivered any more and the wirings are gone.
    stop(&engine, "dash", "d/dash");
    let outcome = expect_as(
        &engine,
        "sensor",
        json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":"22"}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
    assert!(wirings(&engine).is_empty());
}

#[test]
fn publish_passes_any_json_through_unchanged() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    subscribe(&engine, "dash", DASH_IN, json!(["p1/temp_sensor/temp"]));
    let payloads = [
        json!("21.5"),
        json!(""),
        json!(21),
        json!(-0.125),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(true),
        json!(false),
        json!(null),
        json!({"t":21.5,"unit":"C","nested":{"a":[1,{"b":null}]}}),
        json!([1,"two",[3],{"four":4}]),
        json!([]),
        json!({}),
        json!("héllo wörld ✓ 温度 😀 \u{0} \"quoted\" \\ /"),
    ];
    for payload in payloads {
        let outcome = expect_as(
            &engine,
            "sensor",
            json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":payload}),
            "00000",
        );
        assert_eq!(
            delivered(&outcome),
            [(
                "dash".to_string(),
                feed_message("p1/temp_sensor/temp", DASH_IN, payload.clone(), "ascii")
            )],
            "{payload}"
        );
    }
    // Raw text: numbers keep their exact form through the engine.
    let outcome = engine.handle(
        "sensor",
        br#"{"op":"publish","output-feed":"p1/temp_sensor/temp","msg":12345678901234567890}"#,
        std::time::Instant::now(),
    );
    assert_eq!(
        outcome.all_deliveries()[0].message["msg"].to_string(),
        "12345678901234567890"
    );
    for (encoding, reported) in [
        (json!("utf-8"), "utf-8"),
        (json!("base64"), "base64"),
        (json!("ascii"), "ascii"),
        (json!(""), ""),
        (json!(null), "ascii"),
    ] {
        let outcome = expect_as(
            &engine,
            "sensor",
            json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":"x","encoding":encoding}),
            "00000",
        );
        assert_eq!(
            outcome.all_deliveries()[0].message["encoding"],
            json!(reported)
        );
    }
}

#[test]
fn publish_checks() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    subscribe(&engine, "dash", DASH_IN, json!(["*/*/*"]));
    let cases = [
        (json!({"op":"publish","msg":1}), "1060A"),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor/temp"}),
            "1060A",
        ),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor","msg":1}),
            "1060A",
        ),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor/*","msg":1}),
            "1060A",
        ),
        (json!({"op":"publish","output-feed":7,"msg":1}), "1060A"),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":1,"encoding":5}),
            "1060A",
        ),
        (
            json!({"op":"publish","output-feed":"p9/x/temp","msg":1}),
            "2060A",
        ),
        (
            json!({"op":"publish","output-feed":"p2/temp_sensor/temp","msg":1}),
            "2060A",
        ),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor/nope","msg":1}),
            "2060A",
        ),
        (
            json!({"op":"publish","output-feed":"p1/temp_sensor/alarm","msg":1}),
            "2060A",
        ),
        (
            json!({"op":"publish","output-feed":"d/dash/untyped_output_feed","msg":1}),
            "3060A",
        ),
    ];
    for (request, code) in cases {
        let outcome = expect_as(&engine, "sensor", request.clone(), code);
        assert!(outcome.all_deliveries().is_empty(), "{request}");
    }
    // Publishing with nobody wired succeeds.
    let outcome = expect_as(
        &engine,
        "dash",
        json!({"op":"publish","output-feed":"d/dash/untyped_output_feed","msg":null}),
        "00000",
    );
    // d/dash subscribed to */*/*, which includes its own output feed.
    assert_eq!(outcome.all_deliveries().len(), 1);
    expect_as(
        &engine,
        "dash",
        json!({"op":"unsubscribe","input-feed":DASH_IN}),
        "00000",
    );
    let outcome = expect_as(
        &engine,
        "dash",
        json!({"op":"publish","output-feed":"d/dash/untyped_output_feed","msg":null}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
}

#[test]
fn patterns_match_output_feeds_only_and_stay_in_one_segment() {
    let engine = feeds_world();
    start(&engine, "dash", "d/dash");
    expect(
        &engine,
        json!({"op":"register:platform","id":"p1x","type":"sensor"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"p1x/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    let cases = [
        (
            json!(["*/*/*"]),
            vec![
                "d/dash/untyped_output_feed",
                "d/log/untyped_output_feed",
                "p1/temp_sensor/hum",
                "p1/temp_sensor/temp",
                "p1x/temp_sensor/hum",
                "p1x/temp_sensor/temp",
                "p2/temp_sensor/hum",
                "p2/temp_sensor/temp",
            ],
        ),
        (json!(["d/dash/*"]), vec!["d/dash/untyped_output_feed"]),
        (json!(["d/dash/untyped_input_feed"]), vec![]),
        (json!(["*/*/alarm"]), vec![]),
        (
            json!(["p1/*/*"]),
            vec!["p1/temp_sensor/hum", "p1/temp_sensor/temp"],
        ),
        (
            json!(["p1*/*/temp"]),
            vec!["p1/temp_sensor/temp", "p1x/temp_sensor/temp"],
        ),
        (json!(["*1/*/t*"]), vec!["p1/temp_sensor/temp"]),
        (
            json!(["*/temp*/*m*"]),
            vec![
                "p1/temp_sensor/hum",
                "p1/temp_sensor/temp",
                "p1x/temp_sensor/hum",
                "p1x/temp_sensor/temp",
                "p2/temp_sensor/hum",
                "p2/temp_sensor/temp",
            ],
        ),
        (
            json!(["*/*_sensor/te*"]),
            vec![
                "p1/temp_sensor/temp",
                "p1x/temp_sensor/temp",
                "p2/temp_sensor/temp",
            ],
        ),
        (json!(["*/sensor/*"]), vec![]),
        (json!(["p/*/*"]), vec![]),
        (
            json!(["p1/temp_sensor/temp", "p2/temp_sensor/temp", "p1/*/temp"]),
            vec!["p1/temp_sensor/temp", "p2/temp_sensor/temp"],
        ),
    ];
    for (patterns, expected) in cases {
        let outcome = subscribe(&engine, "dash", DASH_IN, patterns.clone());
        assert_eq!(subscribed(&outcome), expected, "{patterns}");
        expect_as(
            &engine,
            "dash",
            json!({"op":"unsubscribe","input-feed":DASH_IN}),
            "00000",
        );
        assert!(wirings(&engine).is_empty());
    }
}

#[test]
fn subscribe_validation_and_access() {
    let engine = feeds_world();
    start(&engine, "dash", "d/dash");
    start(&engine, "sensor", "p1/temp_sensor");
    let sub =
        |patterns: Value| json!({"op":"subscribe","output-feeds":patterns,"input-feed":DASH_IN});
    for request in [
        json!({"op":"subscribe","input-feed":DASH_IN}),
        sub(json!(null)),
        sub(json!([])),
        sub(json!("*/*/*")),
        sub(json!([5])),
        sub(json!(["*"])),
        sub(json!(["*/*"])),
        sub(json!(["*/*/*/*"])),
        sub(json!(["p1//temp"])),
        sub(json!(["p1/temp_sensor/"])),
        sub(json!(["p1/temp_sensor/te\u{1}*"])),
        sub(json!(["p1/temp_sensor/temp", 3])),
        json!({"op":"subscribe","output-feeds":["*/*/*"]}),
        json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"d/dash"}),
        json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"d/*/untyped_input_feed"}),
    ] {
        expect_as(&engine, "dash", request, "1070A");
    }
    let cases = [
        (
            "dash",
            json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"x/y/in"}),
            "2070A",
        ),
        (
            "dash",
            json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":LOG_IN}),
            "2070A",
        ),
        (
            "dash",
            json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"d/dash/nope"}),
            "2070A",
        ),
        (
            "dash",
            json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"d/dash/untyped_output_feed"}),
            "2070A",
        ),
        ("sensor", sub(json!(["*/*/*"])), "3070A"),
    ];
    for (client, request, code) in cases {
        expect_as(&engine, client, request, code);
    }
    assert!(wirings(&engine).is_empty());
}

#[test]
fn feeds_registered_later_are_wired_and_announced() {
    let engine = feeds_world();
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    let outcome = subscribe(&engine, "dash", DASH_IN, json!(["*/temp_sensor/*"]));
    assert_eq!(subscribed(&outcome).len(), 4);
    let outcome = subscribe(&engine, "log", LOG_IN, json!(["p3/*/temp"]));
    assert!(
        subscribed(&outcome).is_empty(),
        "nothing yet, but remembered"
    );

    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [
            (
                "dash".to_string(),
                json!({"op":"subscriptions","output-feeds":["p3/temp_sensor/hum","p3/temp_sensor/temp"],"input-feed":DASH_IN})
            ),
            (
                "log".to_string(),
                json!({"op":"subscriptions","output-feeds":["p3/temp_sensor/temp"],"input-feed":LOG_IN})
            ),
        ]
    );
    assert!(outcome
        .all_deliveries()
        .iter()
        .all(|d| d.message.get("correl").is_none()));
    // Re-registering with the same services wires nothing new and announces nothing.
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/temp_sensor","type":"temp_sensor","desc":"again"}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
    // A system that matches no pattern: nothing.
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/other","type":"simple_system"}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
    // Re-registering a stopped system with another type: lost feeds are announced as lost,
    // new matching feeds as subscriptions.
    expect(
        &engine,
        json!({"op":"register:system-type","type":"temp_sensor_v2","services":[
        {"type":"untyped_output_feed","id":"temp"},
        {"type":"untyped_output_feed","id":"pressure"}]}),
        "00000",
    );
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/temp_sensor","type":"temp_sensor_v2"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [
            (
                "dash".to_string(),
                json!({"op":"lost-subscriptions","output-feeds":["p3/temp_sensor/hum"],"input-feed":DASH_IN})
            ),
            (
                "dash".to_string(),
                json!({"op":"subscriptions","output-feeds":["p3/temp_sensor/pressure"],"input-feed":DASH_IN})
            ),
        ]
    );
    assert_eq!(
        query(&engine, json!({"op":"query:service-wiring","from":"p3/*"})),
        [
            json!({"from":"p3/temp_sensor/pressure","to":DASH_IN}),
            json!({"from":"p3/temp_sensor/temp","to":DASH_IN}),
            json!({"from":"p3/temp_sensor/temp","to":LOG_IN}),
        ]
    );
    // A new platform's feeds reach the wildcard consumer only.
    expect(
        &engine,
        json!({"op":"register:platform","id":"p4","type":"sensor"}),
        "00000",
    );
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p4/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert_eq!(delivered(&outcome).len(), 1);
    assert_eq!(delivered(&outcome)[0].0, "dash");
}

#[test]
fn unsubscribe_subsets_and_all() {
    let engine = feeds_world();
    start(&engine, "dash", "d/dash");
    subscribe(
        &engine,
        "dash",
        DASH_IN,
        json!(["*/temp_sensor/temp", "p1/temp_sensor/hum"]),
    );
    assert_eq!(wirings(&engine).len(), 3);

    // A pattern that is not remembered removes the wirings it matches, not the patterns.
    check_as(
        &engine,
        "dash",
        json!({"op":"unsubscribe","correl":"u","input-feed":DASH_IN,"output-feeds":["p2/*/*"]}),
        vec![json!({"op":"status","correl":"u","status":"00000","msg":"OK"})],
    );
    assert_eq!(
        wirings(&engine),
        [
            "p1/temp_sensor/hum -> d/dash/untyped_input_feed",
            "p1/temp_sensor/temp -> d/dash/untyped_input_feed",
        ]
    );
    assert_eq!(
        engine.registry().read().patterns().of(DASH_IN),
        ["*/temp_sensor/temp", "p1/temp_sensor/hum"]
    );
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome).len(),
        1,
        "*/temp_sensor/temp still applies"
    );

    // The remembered pattern itself: its wirings and the pattern go.
    expect_as(
        &engine,
        "dash",
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":["*/temp_sensor/temp"]}),
        "00000",
    );
    assert_eq!(
        wirings(&engine),
        ["p1/temp_sensor/hum -> d/dash/untyped_input_feed"]
    );
    assert_eq!(
        engine.registry().read().patterns().of(DASH_IN),
        ["p1/temp_sensor/hum"]
    );
    expect(
        &engine,
        json!({"op":"register:platform","id":"p4","type":"sensor"}),
        "00000",
    );
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p4/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());

    // Unsubscribing what is not subscribed is fine.
    expect_as(
        &engine,
        "dash",
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":["x/y/z"]}),
        "00000",
    );
    // No patterns: everything.
    subscribe(&engine, "dash", DASH_IN, json!(["*/*/temp"]));
    expect_as(
        &engine,
        "dash",
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":null}),
        "00000",
    );
    assert!(wirings(&engine).is_empty());
    assert!(engine.registry().read().patterns().of(DASH_IN).is_empty());
}

#[test]
fn unsubscribe_validation_and_access() {
    let engine = feeds_world();
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    subscribe(&engine, "dash", DASH_IN, json!(["*/*/temp"]));
    for request in [
        json!({"op":"unsubscribe"}),
        json!({"op":"unsubscribe","input-feed":"d/dash"}),
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":[]}),
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":"*/*/temp"}),
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":["*/*"]}),
        json!({"op":"unsubscribe","input-feed":DASH_IN,"output-feeds":[1]}),
    ] {
        expect_as(&engine, "dash", request, "1080A");
    }
    let cases = [
        (
            "dash",
            json!({"op":"unsubscribe","input-feed":"x/y/z"}),
            "2080A",
        ),
        (
            "dash",
            json!({"op":"unsubscribe","input-feed":"p1/temp_sensor/temp"}),
            "2080A",
        ),
        (
            "dash",
            json!({"op":"unsubscribe","input-feed":"d/dash/untyped_listener"}),
            "2080A",
        ),
        (
            "log",
            json!({"op":"unsubscribe","input-feed":DASH_IN}),
            "3080A",
        ),
    ];
    for (client, request, code) in cases {
        expect_as(&engine, client, request, code);
    }
    assert_eq!(wirings(&engine).len(), 2, "refusals change nothing");
}

#[test]
fn several_consumers_and_several_input_feeds_each_get_a_copy() {
    let engine = feeds_world();
    expect(
        &engine,
        json!({"op":"register:system-type","type":"two_in","services":[
        {"type":"untyped_input_feed","id":"in1"},
        {"type":"untyped_input_feed","id":"in2"}]}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:system","id":"d/multi","type":"two_in"}),
        "00000",
    );
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    start(&engine, "multi", "d/multi");
    subscribe(&engine, "dash", DASH_IN, json!(["p1/temp_sensor/temp"]));
    subscribe(&engine, "log", LOG_IN, json!(["*/*/temp"]));
    subscribe(&engine, "multi", "d/multi/in1", json!(["p1/*/*"]));
    subscribe(
        &engine,
        "multi",
        "d/multi/in2",
        json!(["p1/temp_sensor/temp"]),
    );
    // Subscribing twice wires once.
    subscribe(
        &engine,
        "multi",
        "d/multi/in2",
        json!(["p1/temp_sensor/temp"]),
    );
    let outcome = expect_as(
        &engine,
        "sensor",
        json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":{"v":1},"encoding":"json"}),
        "00000",
    );
    let out = "p1/temp_sensor/temp";
    assert_eq!(
        delivered(&outcome),
        [
            (
                "dash".to_string(),
                feed_message(out, DASH_IN, json!({"v":1}), "json")
            ),
            (
                "log".to_string(),
                feed_message(out, LOG_IN, json!({"v":1}), "json")
            ),
            (
                "multi".to_string(),
                feed_message(out, "d/multi/in1", json!({"v":1}), "json")
            ),
            (
                "multi".to_string(),
                feed_message(out, "d/multi/in2", json!({"v":1}), "json")
            ),
        ]
    );
    let outcome = expect_as(
        &engine,
        "sensor",
        json!({"op":"publish","output-feed":"p1/temp_sensor/hum","msg":2}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [(
            "multi".to_string(),
            feed_message("p1/temp_sensor/hum", "d/multi/in1", json!(2), "ascii")
        )]
    );
    assert_eq!(
        query(
            &engine,
            json!({"op":"query:service-wiring","from":"*/temp","to":"d/multi/*"})
        ),
        [
            json!({"from":out,"to":"d/multi/in1"}),
            json!({"from":out,"to":"d/multi/in2"}),
        ]
    );
}

#[test]
fn publishing_concurrently_with_subscription_changes() {
    use std::sync::Arc;
    let engine = Arc::new(feeds_world());
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    let publisher = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            for index in 0..300 {
                let outcome = send_as(
                    &engine,
                    "sensor",
                    json!({"op":"publish","output-feed":"p1/temp_sensor/temp","msg":index}),
                );
                assert!(outcome.status.is_ok());
                assert!(outcome.all_deliveries().len() <= 1);
            }
        })
    };
    for _ in 0..100 {
        subscribe(&engine, "dash", DASH_IN, json!(["*/*/temp"]));
        expect_as(
            &engine,
            "dash",
            json!({"op":"unsubscribe","input-feed":DASH_IN}),
            "00000",
        );
    }
    publisher.join().unwrap();
    assert!(wirings(&engine).is_empty());
}
