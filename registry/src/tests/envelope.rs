//! Envelope cases: parse failures, op and correl handling, size and depth limits.

use std::time::Instant;

use serde_json::{json, Value};

use super::*;
use crate::{Engine, EngineConfig, MemoryStore};

fn is_uuid_v4(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .is_some_and(|uuid| uuid.get_version_num() == 4)
}

/// Sends raw bytes, expects a single status with `code`, and returns its correl.
#[track_caller]
fn raw(engine: &Engine, bytes: &[u8], code: &str) -> Value {
    let outcome = engine.handle("client-a", bytes, Instant::now());
    assert_eq!(outcome.replies.len(), 1, "{:?}", outcome.replies);
    let reply = &outcome.replies[0];
    assert_eq!(reply["op"], "status");
    assert_eq!(reply["status"], code, "{reply}");
    assert_eq!(outcome.status.code(), code);
    assert!(outcome.all_deliveries().is_empty());
    reply["correl"].clone()
}

#[test]
fn status_message_has_exactly_four_members() {
    let engine = engine();
    check(
        &engine,
        json!({"op":"query:local-node","correl":"c1"}),
        vec![
            json!({"op":"query-result:local-node","correl":"c1","id":NODE_ID}),
            json!({"op":"status","correl":"c1","status":"00000","msg":"OK"}),
        ],
    );
    let outcome = send(&engine, r#"{"op":"nope","correl":7}"#);
    assert_eq!(
        outcome.op.as_deref(),
        Some("nope"),
        "the op name is kept for logs"
    );
    assert_eq!(send(&engine, "[]").op, None);
    let Value::Object(status) = &outcome.replies[0] else {
        panic!("not an object");
    };
    let mut members: Vec<&str> = status.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["correl", "msg", "op", "status"]);
}

#[test]
fn unparseable_and_non_object_requests_are_10102_with_a_fresh_correl() {
    let engine = engine();
    for bytes in [
        &b""[..],
        b"   ",
        b"{",
        b"{\"op\":\"query:local-node\",}",
        b"not json",
        b"[]",
        b"[{\"op\":\"query:local-node\"}]",
        b"\"query:local-node\"",
        b"42",
        b"null",
        b"{\"op\":\"query:local-node\"} trailing",
        b"\xff\xfe{}",
        b"{\"op\":\"query:local-node\",\"correl\":\"\xc3\x28\"}",
    ] {
        let correl = raw(&engine, bytes, "10102");
        assert!(is_uuid_v4(&correl), "{correl}");
    }
}

#[test]
fn op_must_be_a_present_string() {
    let engine = engine();
    assert_eq!(raw(&engine, br#"{"correl":"c"}"#, "10102"), json!("c"));
    assert_eq!(
        raw(&engine, br#"{"op":null,"correl":"c"}"#, "10102"),
        json!("c")
    );
    assert_eq!(
        raw(&engine, br#"{"op":5,"correl":"c"}"#, "10102"),
        json!("c")
    );
    assert_eq!(
        raw(&engine, br#"{"op":["x"],"correl":"c"}"#, "10102"),
        json!("c")
    );
    assert!(msg_of(&engine, json!({"correl":"c"})).contains("op"));
}

#[test]
fn correl_is_echoed_as_the_same_json_value() {
    let engine = engine();
    for correl in [
        json!("abc"),
        json!(""),
        json!("ünï/*"),
        json!(42),
        json!(-7),
        json!(1.5),
        json!(0),
    ] {
        let outcome = send(
            &engine,
            &json!({"op":"query:local-node","correl":correl}).to_string(),
        );
        for reply in &outcome.replies {
            assert_eq!(reply["correl"], correl);
        }
    }
    // The textual form of a number is kept for ordinary numbers.
    let outcome = send(&engine, r#"{"op":"query:local-node","correl":12345}"#);
    assert!(outcome.replies[1].to_string().contains(r#""correl":12345"#));
}

#[test]
fn missing_or_null_correl_gets_one_fresh_uuid_for_every_reply() {
    let engine = engine();
    for request in [
        r#"{"op":"query:local-node"}"#,
        r#"{"op":"query:local-node","correl":null}"#,
    ] {
        let outcome = send(&engine, request);
        assert_eq!(outcome.replies.len(), 2);
        let correl = &outcome.replies[0]["correl"];
        assert!(is_uuid_v4(correl), "{correl}");
        assert_eq!(&outcome.replies[1]["correl"], correl);
    }
    let first = send(&engine, r#"{"op":"query:local-node"}"#).replies[0]["correl"].clone();
    let second = send(&engine, r#"{"op":"query:local-node"}"#).replies[0]["correl"].clone();
    assert_ne!(first, second);
}

#[test]
fn ill_typed_correl_is_10102() {
    let engine = engine();
    for correl in [json!(true), json!({"a":1}), json!([1])] {
        let request = json!({"op":"query:local-node","correl":correl}).to_string();
        let reply = raw(&engine, request.as_bytes(), "10102");
        assert!(is_uuid_v4(&reply));
        assert!(
            msg_of(&engine, json!({"op":"query:local-node","correl":correl})).contains("correl")
        );
    }
}

#[test]
fn unknown_ops_and_articles_are_10102_carrying_the_correl() {
    let engine = engine();
    for op in [
        "",
        "register",
        "register:",
        "register:foo",
        "register:platforms",
        "deregister:foo",
        "query:platform",
        "query:foo",
        "Register:platform",
        "QUERY:platforms",
        "foo:platform",
        "state:platform",
        "state:",
        "state",
        "Publish",
        "publish:feed",
        "subscribe:system",
        "notify ",
        "requests",
        "disconnect:x",
    ] {
        check(
            &engine,
            json!({"op":op,"correl":"k"}),
            vec![json!({"op":"status","correl":"k","status":"10102"})],
        );
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let engine = engine();
    expect(
        &engine,
        json!({"op":"register:platform-type","type":"gw","extra":[1,2],"nested":{"x":null}}),
        "00000",
    );
}

#[test]
fn oversized_requests_are_refused_unparsed() {
    let engine = Engine::open(
        EngineConfig {
            max_request_bytes: 64,
            ..EngineConfig::new(NODE_ID)
        },
        Box::new(MemoryStore::new()),
    )
    .unwrap();
    let request = format!(
        r#"{{"op":"register:platform-type","type":"{}"}}"#,
        "x".repeat(40)
    );
    assert!(request.len() > 64);
    let correl = raw(&engine, request.as_bytes(), "50102");
    assert!(is_uuid_v4(&correl));
    // Invalid JSON above the limit is still a size refusal: the body is never parsed.
    raw(&engine, &[b'{'; 65], "50102");
    let exactly = format!(r#"{{"op":"query:local-node","pad":"{}"}}"#, "y".repeat(30));
    assert_eq!(exactly.len(), 64);
    assert!(send(&engine, &exactly).status.is_ok());
    assert!(keys(&engine, json!({"op":"query:platform-types"}), "type").len() == 3);

    let refusal = engine.refuse_oversized("client-a");
    assert_eq!(refusal.replies.len(), 1);
    assert_eq!(refusal.replies[0]["status"], "50102");
    assert!(is_uuid_v4(&refusal.replies[0]["correl"]));
}

#[test]
fn default_limits() {
    let config = EngineConfig::new("n");
    assert_eq!(config.max_request_bytes, 1 << 20);
    assert_eq!(config.max_depth, 128);
    let engine = engine();
    let big = format!(
        r#"{{"op":"query:local-node","pad":"{}"}}"#,
        "y".repeat(1 << 20)
    );
    raw(&engine, big.as_bytes(), "50102");
}

fn nested_request(levels: usize) -> String {
    // The request object itself is the first level.
    let inner = levels - 1;
    format!(
        r#"{{"op":"register:platform-type","type":"deep","attr":{{"x":{}1{}}},"correl":"d"}}"#,
        "[".repeat(inner - 1),
        "]".repeat(inner - 1)
    )
}

#[test]
fn nesting_128_levels_is_accepted_and_129_refused() {
    let engine = engine();
    let accepted = send(&engine, &nested_request(128));
    assert_eq!(accepted.status.code(), "00000", "{:?}", accepted.status);
    let records = query(&engine, json!({"op":"query:platform-types","type":"deep"}));
    assert_eq!(records.len(), 1);
    let refused = send(&engine, &nested_request(129));
    assert_eq!(refused.status.code(), "10102");
    assert!(is_uuid_v4(&refused.replies[0]["correl"]));
    // Brackets inside strings do not count.
    let in_string = format!(
        r#"{{"op":"register:platform-type","type":"str","desc":"{}\"{}"}}"#,
        "[".repeat(500),
        "{".repeat(500)
    );
    assert!(send(&engine, &in_string).status.is_ok());
}

#[test]
fn very_deep_input_does_not_crash() {
    let engine = engine();
    let deep = "[".repeat(100_000);
    raw(&engine, deep.as_bytes(), "10102");
}
