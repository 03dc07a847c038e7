//! `state:system`, `disconnect` and session end: transitions, ownership, what stopping cancels,
//! and what it must not tell anyone.

use std::time::Instant;

use serde_json::json;

use super::*;

#[test]
fn start_and_stop_reply_with_the_new_state() {
    let engine = feeds_world();
    check_as(
        &engine,
        "sensor",
        json!({"op":"state:system","correl":"s1","id":"p1/temp_sensor","state":"running"}),
        vec![
            json!({"op":"state-change:system","correl":"s1","id":"p1/temp_sensor","state":"running"}),
            json!({"op":"status","correl":"s1","status":"00000","msg":"OK"}),
        ],
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["p1/temp_sensor"]
    );
    check_as(
        &engine,
        "sensor",
        json!({"op":"state:system","correl":7,"id":"p1/temp_sensor","state":"stopped"}),
        vec![
            json!({"op":"state-change:system","correl":7,"id":"p1/temp_sensor","state":"stopped"}),
            json!({"op":"status","correl":7,"status":"00000","msg":"OK"}),
        ],
    );
    assert!(query(&engine, json!({"op":"query:systems","state":"running"})).is_empty());
}

#[test]
fn wrong_state_missing_system_and_foreign_owner() {
    let engine = feeds_world();
    let run = |id: &str| json!({"op":"state:system","id":id,"state":"running"});
    let halt = |id: &str| json!({"op":"state:system","id":id,"state":"stopped"});
    start(&engine, "alice", "p1/temp_sensor");
    let cases = [
        ("alice", run("p1/temp_sensor"), "2050A", "already running"),
        ("bob", run("p1/temp_sensor"), "2050A", "already running"),
        ("alice", halt("p2/temp_sensor"), "2050A", "not running"),
        ("bob", halt("p2/temp_sensor"), "2050A", "not running"),
        ("alice", run("p9/x"), "2050A", "not registered"),
        ("alice", halt("p9/x"), "2050A", "not registered"),
        ("bob", halt("p1/temp_sensor"), "3050A", "another client"),
    ];
    for (client, request, code, words) in cases {
        let outcome = expect_as(&engine, client, request.clone(), code);
        assert!(
            outcome.status.msg.contains(words),
            "{request}: {}",
            outcome.status.msg
        );
        assert!(outcome.all_deliveries().is_empty());
    }
    // Still alice's: she can stop it, then bob can start it and owns it.
    stop(&engine, "alice", "p1/temp_sensor");
    start(&engine, "bob", "p1/temp_sensor");
    expect_as(&engine, "alice", halt("p1/temp_sensor"), "3050A");
    stop(&engine, "bob", "p1/temp_sensor");
}

#[test]
fn state_change_validation() {
    let engine = feeds_world();
    for request in [
        json!({"op":"state:system","state":"running"}),
        json!({"op":"state:system","id":"p1/temp_sensor"}),
        json!({"op":"state:system","id":"p1/temp_sensor","state":"paused"}),
        json!({"op":"state:system","id":"p1/temp_sensor","state":"Running"}),
        json!({"op":"state:system","id":"p1/temp_sensor","state":true}),
        json!({"op":"state:system","id":"p1/temp_sensor","state":null}),
        json!({"op":"state:system","id":"p1","state":"running"}),
        json!({"op":"state:system","id":"p1/temp_sensor/temp","state":"running"}),
        json!({"op":"state:system","id":"p*/temp_sensor","state":"running"}),
        json!({"op":"state:system","id":["p1/temp_sensor"],"state":"running"}),
    ] {
        expect(&engine, request, "1050A");
    }
    assert!(query(&engine, json!({"op":"query:systems","state":"running"})).is_empty());
}

#[test]
fn stopping_a_consumer_cancels_its_wirings_and_patterns_but_not_its_producers() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    // d/dash consumes the sensors' temp; d/log consumes d/dash's own output feed.
    subscribe(
        &engine,
        "dash",
        "d/dash/untyped_input_feed",
        json!(["*/temp_sensor/temp"]),
    );
    subscribe(
        &engine,
        "log",
        "d/log/untyped_input_feed",
        json!(["d/dash/*"]),
    );
    assert_eq!(
        wirings(&engine),
        [
            "d/dash/untyped_output_feed -> d/log/untyped_input_feed",
            "p1/temp_sensor/temp -> d/dash/untyped_input_feed",
            "p2/temp_sensor/temp -> d/dash/untyped_input_feed",
        ]
    );
    let outcome = send_as(
        &engine,
        "dash",
        json!({"op":"state:system","id":"d/dash","state":"stopped"}),
    );
    assert!(outcome.status.is_ok());
    assert!(outcome.all_deliveries().is_empty(), "stopping tells no one");
    // Its subscription is gone; the wiring it produces for d/log stays.
    assert_eq!(
        wirings(&engine),
        ["d/dash/untyped_output_feed -> d/log/untyped_input_feed"]
    );
    // Its remembered pattern is gone too: a new sensor is not wired to it.
    start(&engine, "dash", "d/dash");
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p3/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert!(outcome.all_deliveries().is_empty());
    assert_eq!(wirings(&engine).len(), 1);
    // The restarted producer (owned by whoever started it) reaches d/log again.
    let outcome = send_as(
        &engine,
        "dash",
        json!({"op":"publish","output-feed":"d/dash/untyped_output_feed","msg":1}),
    );
    assert_eq!(
        delivered(&outcome),
        [(
            "log".to_string(),
            json!({"op":"feed-message","output-feed":"d/dash/untyped_output_feed","input-feed":"d/log/untyped_input_feed","msg":1,"encoding":"ascii"})
        )]
    );
}

#[test]
fn disconnect_own_other_and_missing() {
    let engine = feeds_world();
    start(&engine, "alice", "p1/temp_sensor");
    start(&engine, "alice", "p2/temp_sensor");
    start(&engine, "bob", "d/dash");
    for request in [
        json!({"op":"disconnect"}),
        json!({"op":"disconnect","client-id":null}),
        json!({"op":"disconnect","client-id":5}),
        json!({"op":"disconnect","client-id":["alice"]}),
    ] {
        expect_as(&engine, "alice", request, "1050A");
    }
    expect_as(
        &engine,
        "alice",
        json!({"op":"disconnect","client-id":"bob"}),
        "3050A",
    );
    expect_as(
        &engine,
        "alice",
        json!({"op":"disconnect","client-id":"Alice"}),
        "3050A",
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["d/dash", "p1/temp_sensor", "p2/temp_sensor"]
    );
    check_as(
        &engine,
        "alice",
        json!({"op":"disconnect","correl":"bye","client-id":"alice"}),
        vec![json!({"op":"status","correl":"bye","status":"00000","msg":"OK"})],
    );
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["d/dash"]
    );
    // Disconnecting with nothing owned is fine.
    expect_as(
        &engine,
        "alice",
        json!({"op":"disconnect","client-id":"alice"}),
        "00000",
    );
}

#[test]
fn client_gone_stops_only_what_the_client_owns_and_tells_no_one() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "sensor", "p2/temp_sensor");
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    subscribe(
        &engine,
        "dash",
        "d/dash/untyped_input_feed",
        json!(["*/*/temp"]),
    );
    subscribe(
        &engine,
        "log",
        "d/log/untyped_input_feed",
        json!(["d/dash/*"]),
    );

    // The producer's client goes: consumers keep their wirings and hear nothing.
    let outcome = engine.client_gone("sensor", Instant::now());
    assert!(outcome.replies.is_empty());
    assert!(outcome.all_deliveries().is_empty());
    assert!(outcome.status.is_ok());
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["d/dash", "d/log"]
    );
    assert_eq!(wirings(&engine).len(), 3);

    // The consumer's client goes: its subscriptions go with it, d/log's stay.
    let outcome = engine.client_gone("dash", Instant::now());
    assert!(outcome.replies.is_empty() && outcome.all_deliveries().is_empty());
    assert_eq!(
        wirings(&engine),
        ["d/dash/untyped_output_feed -> d/log/untyped_input_feed"]
    );
    // An unknown client, or one owning nothing, changes nothing.
    let outcome = engine.client_gone("nobody", Instant::now());
    assert!(outcome.replies.is_empty() && outcome.status.is_ok());
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["d/log"]
    );
}

#[test]
fn running_systems_stay_undeletable_and_deregistering_a_stopped_producer_tells_consumers() {
    let engine = feeds_world();
    start(&engine, "sensor", "p1/temp_sensor");
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    subscribe(
        &engine,
        "dash",
        "d/dash/untyped_input_feed",
        json!(["p1/temp_sensor/*"]),
    );
    subscribe(
        &engine,
        "log",
        "d/log/untyped_input_feed",
        json!(["*/*/temp"]),
    );
    expect(
        &engine,
        json!({"op":"deregister:system","id":"p1/temp_sensor"}),
        "2030A",
    );
    stop(&engine, "sensor", "p1/temp_sensor");
    let outcome = expect(
        &engine,
        json!({"op":"deregister:system","id":"p1/temp_sensor"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [
            (
                "dash".to_string(),
                json!({"op":"lost-subscriptions","output-feeds":["p1/temp_sensor/hum","p1/temp_sensor/temp"],"input-feed":"d/dash/untyped_input_feed"})
            ),
            (
                "log".to_string(),
                json!({"op":"lost-subscriptions","output-feeds":["p1/temp_sensor/temp"],"input-feed":"d/log/untyped_input_feed"})
            ),
        ]
    );
    assert_eq!(
        wirings(&engine),
        ["p2/temp_sensor/temp -> d/log/untyped_input_feed"]
    );
    // The patterns are still remembered: registering the sensor again wires it back.
    let outcome = expect(
        &engine,
        json!({"op":"register:system","id":"p1/temp_sensor","type":"temp_sensor"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [
            (
                "dash".to_string(),
                json!({"op":"subscriptions","output-feeds":["p1/temp_sensor/hum","p1/temp_sensor/temp"],"input-feed":"d/dash/untyped_input_feed"})
            ),
            (
                "log".to_string(),
                json!({"op":"subscriptions","output-feeds":["p1/temp_sensor/temp"],"input-feed":"d/log/untyped_input_feed"})
            ),
        ]
    );
    assert_eq!(wirings(&engine).len(), 4);
}
