//! Notifications, requests, responses and timeouts: several recipients, all-or-nothing checks,
//! pending requests answered, timed out (with explicit instants) or dropped.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::{Engine, EngineConfig, MemoryStore};

const DASH_RR: &str = "d/dash/untyped_request_response";
const LOG_RR: &str = "d/log/untyped_request_response";
const DASH_SR: &str = "d/dash/untyped_solicit_response";

/// `feeds_world` with d/dash (client `dash`), d/log (`log`) and p1/temp_sensor (`sensor`)
/// running.
fn running_world(engine: Engine) -> Engine {
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    start(&engine, "sensor", "p1/temp_sensor");
    engine
}

fn with_pending_limit(limit: usize) -> Engine {
    let config = EngineConfig {
        max_pending_requests_per_client: limit,
        ..EngineConfig::new(NODE_ID)
    };
    let engine = Engine::open(config, Box::new(MemoryStore::new())).unwrap();
    for request in [
        json!({"op":"register:platform","id":"d","type":"app"}),
        json!({"op":"register:system","id":"d/dash","type":"simple_system"}),
        json!({"op":"register:system","id":"d/log","type":"simple_system"}),
        json!({"op":"register:system","id":"d/aux","type":"simple_system"}),
    ] {
        expect(&engine, request, "00000");
    }
    start(&engine, "dash", "d/dash");
    start(&engine, "log", "d/log");
    start(&engine, "log", "d/aux");
    engine
}

fn request_to(targets: Value, correl: &str) -> Value {
    json!({"op":"request","correl":correl,"solicit-response":DASH_SR,"request-response":targets,"msg":{"q":"status?"}})
}

fn response_from(target: &str, correl: Value) -> Value {
    json!({"op":"response","correl":correl,"request-response":target,"solicit-response":DASH_SR,"msg":"fine","encoding":"utf-8"})
}

#[test]
fn notify_reaches_every_listener_owner() {
    let engine = running_world(feeds_world());
    let outcome = check_as(
        &engine,
        "dash",
        json!({"op":"notify","correl":"n1","notification":"d/dash/untyped_notification",
               "listener":["d/log/untyped_listener","p1/temp_sensor/alarm","d/dash/untyped_listener","d/log/untyped_listener"],
               "msg":{"level":"high","text":"Überhitzung ✓"}}),
        vec![json!({"op":"status","correl":"n1","status":"00000","msg":"OK"})],
    );
    let message = |listener: &str| {
        json!({"op":"notification","notification":"d/dash/untyped_notification","listener":listener,
               "msg":{"level":"high","text":"Überhitzung ✓"},"encoding":"ascii"})
    };
    assert_eq!(
        delivered(&outcome),
        [
            ("log".to_string(), message("d/log/untyped_listener")),
            ("sensor".to_string(), message("p1/temp_sensor/alarm")),
            ("dash".to_string(), message("d/dash/untyped_listener")),
        ],
        "each listener once, in the order given"
    );
    // One listener as a plain string; null msg and an explicit encoding pass through.
    let outcome = expect_as(
        &engine,
        "dash",
        json!({"op":"notify","notification":"d/dash/untyped_notification","listener":"p1/temp_sensor/alarm","msg":null,"encoding":"none"}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [(
            "sensor".to_string(),
            json!({"op":"notification","notification":"d/dash/untyped_notification","listener":"p1/temp_sensor/alarm","msg":null,"encoding":"none"})
        )]
    );
}

#[test]
fn notify_sends_nothing_when_any_check_fails() {
    let engine = running_world(feeds_world());
    let notify = |listener: Value| json!({"op":"notify","notification":"d/dash/untyped_notification","listener":listener,"msg":1});
    let cases = [
        (
            notify(json!(["d/log/untyped_listener", "p2/temp_sensor/alarm"])),
            "2090A",
            "not running",
        ),
        (
            notify(json!(["d/log/untyped_listener", "p9/x/alarm"])),
            "2090A",
            "not registered",
        ),
        (
            notify(json!(["d/log/untyped_listener", "d/log/nope"])),
            "2090A",
            "not registered",
        ),
        (
            notify(json!([
                "d/log/untyped_listener",
                "d/log/untyped_input_feed"
            ])),
            "2090A",
            "input-feed",
        ),
        (
            json!({"op":"notify","notification":"d/dash/untyped_listener","listener":["d/log/untyped_listener"],"msg":1}),
            "2090A",
            "listener",
        ),
        (
            json!({"op":"notify","notification":"d/log/untyped_notification","listener":["d/log/untyped_listener"],"msg":1}),
            "3090A",
            "another client",
        ),
        (
            json!({"op":"notify","notification":"p2/temp_sensor/alarm","listener":["d/log/untyped_listener"],"msg":1}),
            "2090A",
            "not running",
        ),
        (notify(json!([])), "1090A", "listener"),
        (notify(json!(null)), "1090A", "listener"),
        (notify(json!([5])), "1090A", "listener[0]"),
        (notify(json!(["d/log"])), "1090A", "listener"),
        (
            notify(json!({"id":"d/log/untyped_listener"})),
            "1090A",
            "listener",
        ),
        (
            json!({"op":"notify","notification":"d/dash/untyped_notification","listener":["d/log/untyped_listener"]}),
            "1090A",
            "msg",
        ),
        (
            json!({"op":"notify","listener":["d/log/untyped_listener"],"msg":1}),
            "1090A",
            "notification",
        ),
        (
            json!({"op":"notify","notification":"d/dash/untyped_notification","listener":["d/log/untyped_listener"],"msg":1,"encoding":[]}),
            "1090A",
            "encoding",
        ),
    ];
    for (request, code, words) in cases {
        let outcome = expect_as(&engine, "dash", request.clone(), code);
        assert!(outcome.all_deliveries().is_empty(), "{request}");
        assert!(
            outcome.status.msg.contains(words),
            "{request}: {}",
            outcome.status.msg
        );
    }
}

#[test]
fn request_and_responses_with_several_targets() {
    let engine = running_world(feeds_world());
    let outcome = check_as(
        &engine,
        "dash",
        request_to(json!([LOG_RR, DASH_RR]), "r1"),
        vec![json!({"op":"status","correl":"r1","status":"00000","msg":"OK"})],
    );
    let request = |target: &str| json!({"op":"request","correl":"r1","solicit-response":DASH_SR,"request-response":target,"msg":{"q":"status?"},"encoding":"ascii"});
    assert_eq!(
        delivered(&outcome),
        [
            ("log".to_string(), request(LOG_RR)),
            ("dash".to_string(), request(DASH_RR))
        ]
    );
    assert_eq!(engine.next_deadline(), None, "no timeout-ms, no deadline");

    let answer = |target: &str| json!({"op":"response","correl":"r1","request-response":target,"solicit-response":DASH_SR,"msg":"fine","encoding":"utf-8"});
    let outcome = check_as(
        &engine,
        "log",
        response_from(LOG_RR, json!("r1")),
        vec![json!({"op":"status","correl":"r1","status":"00000","msg":"OK"})],
    );
    assert_eq!(delivered(&outcome), [("dash".to_string(), answer(LOG_RR))]);
    // Answered once: a second answer is refused and goes nowhere.
    let outcome = expect_as(&engine, "log", response_from(LOG_RR, json!("r1")), "20B0A");
    assert!(outcome.all_deliveries().is_empty());
    assert!(
        outcome.status.msg.contains("no pending request"),
        "{}",
        outcome.status.msg
    );
    // The other target is still pending; encoding defaults to ascii.
    let outcome = expect_as(
        &engine,
        "dash",
        json!({"op":"response","correl":"r1","request-response":DASH_RR,"solicit-response":DASH_SR,"msg":[1,2]}),
        "00000",
    );
    assert_eq!(
        delivered(&outcome),
        [(
            "dash".to_string(),
            json!({"op":"response","correl":"r1","request-response":DASH_RR,"solicit-response":DASH_SR,"msg":[1,2],"encoding":"ascii"})
        )]
    );
    // A numeric correl is a different request from the same digits as a string.
    expect_as(
        &engine,
        "dash",
        json!({"op":"request","correl":7,"solicit-response":DASH_SR,"request-response":LOG_RR,"msg":0}),
        "00000",
    );
    expect_as(&engine, "log", response_from(LOG_RR, json!("7")), "20B0A");
    let outcome = expect_as(&engine, "log", response_from(LOG_RR, json!(7)), "00000");
    assert_eq!(outcome.all_deliveries()[0].message["correl"], json!(7));
}

#[test]
fn request_times_out_and_a_late_response_is_dropped() {
    let engine = running_world(feeds_world());
    let t0 = Instant::now();
    let send_at = |client: &str, request: Value, now: Instant| {
        engine.handle(client, request.to_string().as_bytes(), now)
    };
    let outcome = send_at(
        "dash",
        json!({"op":"request","correl":"slow","solicit-response":DASH_SR,"request-response":[LOG_RR,DASH_RR],"msg":"?","timeout-ms":100}),
        t0,
    );
    assert!(outcome.status.is_ok());
    let outcome = send_at(
        "dash",
        json!({"op":"request","correl":"later","solicit-response":DASH_SR,"request-response":LOG_RR,"msg":"?","timeout-ms":500}),
        t0 + Duration::from_millis(10),
    );
    assert!(outcome.status.is_ok());
    assert_eq!(
        engine.next_deadline(),
        Some(t0 + Duration::from_millis(100))
    );

    // Not yet due.
    let outcome = engine.expire(t0 + Duration::from_millis(99));
    assert!(outcome.all_deliveries().is_empty() && outcome.replies.is_empty());
    // d/dash answers its own part in time.
    let outcome = send_at(
        "dash",
        response_from(DASH_RR, json!("slow")),
        t0 + Duration::from_millis(50),
    );
    assert!(outcome.status.is_ok());
    // Due: only the unanswered target times out.
    let outcome = engine.expire(t0 + Duration::from_millis(100));
    assert!(outcome.replies.is_empty());
    assert!(outcome.status.is_ok());
    assert_eq!(
        delivered(&outcome),
        [(
            "dash".to_string(),
            json!({"op":"status","correl":"slow","status":"40A0A","msg":format!("request to {LOG_RR} timed out")})
        )]
    );
    assert_eq!(
        engine.next_deadline(),
        Some(t0 + Duration::from_millis(510))
    );
    // The late response is refused and nothing reaches the requester.
    let outcome = send_at(
        "log",
        response_from(LOG_RR, json!("slow")),
        t0 + Duration::from_millis(150),
    );
    assert_eq!(outcome.status.code(), "20B0A");
    assert!(outcome.all_deliveries().is_empty());
    // Expiring again finds nothing new; the last one goes at its own deadline.
    assert!(engine
        .expire(t0 + Duration::from_millis(200))
        .all_deliveries()
        .is_empty());
    assert_eq!(
        engine
            .expire(t0 + Duration::from_secs(60))
            .all_deliveries()
            .len(),
        1
    );
    assert_eq!(engine.next_deadline(), None);

    // timeout-ms 0 is due at once; a huge one neither overflows nor expires.
    send_at(
        "dash",
        json!({"op":"request","correl":"now","solicit-response":DASH_SR,"request-response":LOG_RR,"msg":1,"timeout-ms":0}),
        t0,
    );
    assert_eq!(engine.expire(t0).all_deliveries().len(), 1);
    let outcome = send_at(
        "dash",
        json!({"op":"request","correl":"far","solicit-response":DASH_SR,"request-response":LOG_RR,"msg":1,"timeout-ms":u64::MAX}),
        t0,
    );
    assert!(outcome.status.is_ok());
    let year = Duration::from_secs(365 * 24 * 3600);
    assert!(engine.expire(t0 + 100 * year).all_deliveries().is_empty());
}

#[test]
fn request_checks_send_nothing_on_failure() {
    let engine = running_world(feeds_world());
    let req = |extra: Value| {
        let mut request =
            json!({"op":"request","solicit-response":DASH_SR,"request-response":[LOG_RR],"msg":1});
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    };
    let cases = [
        (
            req(json!({"request-response":[LOG_RR,"p1/temp_sensor/alarm"]})),
            "20A0A",
        ),
        (
            req(json!({"request-response":[LOG_RR,"p2/temp_sensor/x"]})),
            "20A0A",
        ),
        (
            req(json!({"request-response":["d/log/untyped_solicit_response"]})),
            "20A0A",
        ),
        (
            req(json!({"solicit-response":"d/dash/untyped_request_response"})),
            "20A0A",
        ),
        (
            req(json!({"solicit-response":"d/log/untyped_solicit_response"})),
            "30A0A",
        ),
        (req(json!({"request-response":[]})), "10A0A"),
        (req(json!({"request-response":["d/log/*"]})), "10A0A"),
        (req(json!({"timeout-ms":-1})), "10A0A"),
        (req(json!({"timeout-ms":1.5})), "10A0A"),
        (req(json!({"timeout-ms":"100"})), "10A0A"),
        (req(json!({"solicit-response":5})), "10A0A"),
        (
            json!({"op":"request","solicit-response":DASH_SR,"request-response":[LOG_RR]}),
            "10A0A",
        ),
    ];
    for (request, code) in cases {
        let outcome = expect_as(&engine, "dash", request.clone(), code);
        assert!(outcome.all_deliveries().is_empty(), "{request}");
    }
    assert_eq!(engine.next_deadline(), None);
    // Nothing was left pending by the refusals.
    expect_as(&engine, "log", response_from(LOG_RR, json!("x")), "20B0A");
}

#[test]
fn response_checks() {
    let engine = running_world(feeds_world());
    expect_as(&engine, "dash", request_to(json!([LOG_RR]), "r"), "00000");
    let cases = [
        (
            "log",
            json!({"op":"response","request-response":LOG_RR,"solicit-response":DASH_SR,"msg":1}),
            "10B0A",
            "correl",
        ),
        (
            "log",
            json!({"op":"response","correl":null,"request-response":LOG_RR,"solicit-response":DASH_SR,"msg":1}),
            "10B0A",
            "correl",
        ),
        (
            "log",
            json!({"op":"response","correl":"r","solicit-response":DASH_SR,"msg":1}),
            "10B0A",
            "request-response",
        ),
        (
            "log",
            json!({"op":"response","correl":"r","request-response":LOG_RR,"msg":1}),
            "10B0A",
            "solicit-response",
        ),
        (
            "log",
            json!({"op":"response","correl":"r","request-response":LOG_RR,"solicit-response":DASH_SR}),
            "10B0A",
            "msg",
        ),
        (
            "dash",
            response_from(LOG_RR, json!("r")),
            "30B0A",
            "another client",
        ),
        (
            "log",
            response_from("d/log/untyped_listener", json!("r")),
            "20B0A",
            "listener",
        ),
        (
            "sensor",
            response_from("p2/temp_sensor/x", json!("r")),
            "20B0A",
            "not running",
        ),
        (
            "log",
            response_from(LOG_RR, json!("unknown")),
            "20B0A",
            "no pending request",
        ),
        (
            "log",
            json!({"op":"response","correl":"r","request-response":LOG_RR,"solicit-response":"d/log/untyped_solicit_response","msg":1}),
            "20B0A",
            "no pending request",
        ),
    ];
    for (client, request, code, words) in cases {
        let outcome = expect_as(&engine, client, request.clone(), code);
        assert!(outcome.all_deliveries().is_empty(), "{request}");
        assert!(
            outcome.status.msg.contains(words),
            "{request}: {}",
            outcome.status.msg
        );
    }
    // Still pending after all that.
    assert_eq!(
        expect_as(&engine, "log", response_from(LOG_RR, json!("r")), "00000")
            .all_deliveries()
            .len(),
        1
    );
}

#[test]
fn stopping_the_requester_drops_its_pending_requests() {
    let engine = running_world(feeds_world());
    let t0 = Instant::now();
    engine.handle(
        "dash",
        json!({"op":"request","correl":"r","solicit-response":DASH_SR,"request-response":LOG_RR,"msg":1,"timeout-ms":10}).to_string().as_bytes(),
        t0,
    );
    assert!(engine.next_deadline().is_some());
    stop(&engine, "dash", "d/dash");
    assert_eq!(engine.next_deadline(), None);
    assert!(engine
        .expire(t0 + Duration::from_secs(1))
        .all_deliveries()
        .is_empty());
    expect_as(&engine, "log", response_from(LOG_RR, json!("r")), "20B0A");
    // The same through the end of the client's session.
    start(&engine, "dash", "d/dash");
    expect_as(&engine, "dash", request_to(json!([LOG_RR]), "r2"), "00000");
    engine.client_gone("dash", t0);
    expect_as(&engine, "log", response_from(LOG_RR, json!("r2")), "20B0A");
    // A target stopping does not drop the request: it still times out.
    start(&engine, "dash", "d/dash");
    engine.handle(
        "dash",
        json!({"op":"request","correl":"r3","solicit-response":DASH_SR,"request-response":LOG_RR,"msg":1,"timeout-ms":10}).to_string().as_bytes(),
        t0,
    );
    stop(&engine, "log", "d/log");
    assert_eq!(
        engine
            .expire(t0 + Duration::from_millis(10))
            .all_deliveries()
            .len(),
        1
    );
}

#[test]
fn pending_requests_are_bounded_per_client() {
    let engine = with_pending_limit(2);
    let outcome = expect_as(
        &engine,
        "dash",
        request_to(
            json!([LOG_RR, DASH_RR, "d/aux/untyped_request_response"]),
            "too-many",
        ),
        "50A0A",
    );
    assert!(outcome.all_deliveries().is_empty());
    expect_as(
        &engine,
        "dash",
        request_to(json!([LOG_RR, DASH_RR]), "a"),
        "00000",
    );
    expect_as(
        &engine,
        "dash",
        request_to(json!(["d/aux/untyped_request_response"]), "b"),
        "50A0A",
    );
    // Other clients have their own allowance.
    expect_as(
        &engine,
        "log",
        json!({"op":"request","solicit-response":"d/log/untyped_solicit_response","request-response":[DASH_RR],"msg":1}),
        "00000",
    );
    // An answer makes room.
    expect_as(&engine, "log", response_from(LOG_RR, json!("a")), "00000");
    expect_as(
        &engine,
        "dash",
        request_to(json!(["d/aux/untyped_request_response"]), "b"),
        "00000",
    );
    assert_eq!(
        EngineConfig::new("n").max_pending_requests_per_client,
        EngineConfig::DEFAULT_MAX_PENDING_REQUESTS_PER_CLIENT
    );
}

#[test]
fn acting_for_another_clients_system_is_denied_for_every_op() {
    let engine = running_world(feeds_world());
    let cases = [
        (
            json!({"op":"state:system","id":"d/log","state":"stopped"}),
            "3050A",
        ),
        (
            json!({"op":"publish","output-feed":"d/log/untyped_output_feed","msg":1}),
            "3060A",
        ),
        (
            json!({"op":"subscribe","output-feeds":["*/*/*"],"input-feed":"d/log/untyped_input_feed"}),
            "3070A",
        ),
        (
            json!({"op":"unsubscribe","input-feed":"d/log/untyped_input_feed"}),
            "3080A",
        ),
        (
            json!({"op":"notify","notification":"d/log/untyped_notification","listener":["d/dash/untyped_listener"],"msg":1}),
            "3090A",
        ),
        (
            json!({"op":"request","solicit-response":"d/log/untyped_solicit_response","request-response":[DASH_RR],"msg":1}),
            "30A0A",
        ),
        (
            json!({"op":"response","correl":"c","request-response":LOG_RR,"solicit-response":DASH_SR,"msg":1}),
            "30B0A",
        ),
        (json!({"op":"disconnect","client-id":"log"}), "3050A"),
    ];
    for (request, code) in cases {
        let outcome = expect_as(&engine, "dash", request.clone(), code);
        assert!(outcome.all_deliveries().is_empty(), "{request}");
    }
    assert_eq!(
        keys(
            &engine,
            json!({"op":"query:systems","state":"running"}),
            "id"
        ),
        ["d/dash", "d/log", "p1/temp_sensor"]
    );
    assert!(wirings(&engine).is_empty());
}
