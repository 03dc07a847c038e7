//! Bad input over MQTT and HTTP (spec §1 identifiers, §3 envelope and limits, §4 codes): every
//! refused request gets exactly one well-formed status, the connection keeps working and no
//! stored record changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::check::{check, check_raw, is_uuid_v4, ok, query, HttpOps, Ops};
use common::TestNode;
use serde_json::{json, Value};

/// The record every test stores first and checks after each bad input.
fn keeper() -> Value {
    json!({"id": "keep", "type": "app", "desc": "kept", "attr": {"n": 1},
           "loc": {"lat": 1.5, "long": 2.5}})
}

async fn store_keeper(ops: &mut impl Ops) {
    let mut op = keeper();
    op["op"] = json!("register:platform");
    ok(ops, op).await;
}

/// The connection still answers and the keeper is unchanged.
async fn still_fine(ops: &mut impl Ops, after: &str) {
    let records = query(ops, "platforms", json!({"id": "keep"})).await;
    assert_eq!(records, vec![keeper()], "keeper changed after {after}");
}

/// Envelope failures, as raw bodies.
fn envelope_cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("invalid JSON", b"{\"op\": \"query:platforms\"".to_vec()),
        ("garbage", b"hello".to_vec()),
        ("empty body", Vec::new()),
        ("only whitespace", b"   \n ".to_vec()),
        (
            "invalid UTF-8",
            b"{\"op\":\"query:platforms\",\"x\":\"\xff\"}".to_vec(),
        ),
        (
            "trailing garbage",
            b"{\"op\":\"query:platforms\"} x".to_vec(),
        ),
        (
            "two objects",
            b"{\"op\":\"query:platforms\"}{\"op\":\"query:platforms\"}".to_vec(),
        ),
        ("array", b"[{\"op\":\"query:platforms\"}]".to_vec()),
        ("string", b"\"query:platforms\"".to_vec()),
        ("number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("missing op", b"{\"id\":\"x\"}".to_vec()),
        ("op null", b"{\"op\":null}".to_vec()),
        ("op a number", b"{\"op\":5}".to_vec()),
        (
            "op an object",
            b"{\"op\":{\"name\":\"query:platforms\"}}".to_vec(),
        ),
        ("unknown op", b"{\"op\":\"frobnicate\"}".to_vec()),
        (
            "unknown article",
            b"{\"op\":\"register:foo\",\"id\":\"x\"}".to_vec(),
        ),
        ("unknown plural", b"{\"op\":\"query:foos\"}".to_vec()),
        ("singular query", b"{\"op\":\"query:platform\"}".to_vec()),
        ("upper case op", b"{\"op\":\"QUERY:platforms\"}".to_vec()),
        ("op with spaces", b"{\"op\":\" query:platforms\"}".to_vec()),
        (
            "correl true",
            b"{\"op\":\"query:platforms\",\"correl\":true}".to_vec(),
        ),
        (
            "correl object",
            b"{\"op\":\"query:platforms\",\"correl\":{\"a\":1}}".to_vec(),
        ),
        (
            "correl array",
            b"{\"op\":\"query:platforms\",\"correl\":[1]}".to_vec(),
        ),
    ]
}

async fn envelope_failures(ops: &mut impl Ops) {
    store_keeper(ops).await;
    for (what, body) in envelope_cases() {
        let replies = check_raw(ops, body, "10102").await;
        assert_eq!(replies.len(), 1, "{what}: only a status: {replies:?}");
        still_fine(ops, what).await;
    }
    // A bad op aimed at the keeper's key changes nothing either.
    check_raw(
        ops,
        br#"{"op":"register:platfrm","id":"keep","type":"sensor"}"#.to_vec(),
        "10102",
    )
    .await;
    still_fine(ops, "a misspelt register").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_failures_over_mqtt() {
    let node = TestNode::start().await;
    envelope_failures(&mut node.mqtt("env4").await).await;
    envelope_failures(&mut node.mqtt5("env5").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_failures_over_http() {
    let node = TestNode::start().await;
    envelope_failures(&mut HttpOps::new(node.http())).await;
}

async fn correls(ops: &mut impl Ops) {
    // Whitespace around the object is allowed.
    let replies = check_raw(
        ops,
        b"  \n{\"op\":\"query:local-node\"}\n ".to_vec(),
        "00000",
    )
    .await;
    assert_eq!(replies.len(), 2);

    let echoed = [
        "\"abc\"",
        "\"\"",
        "\"\u{e9}t\u{e9} \u{1f680}\"",
        "0",
        "42",
        "-7",
        "3.25",
        "-0.5",
        "1e3",
        "18446744073709551615",
        "-9223372036854775808",
        "123456789012345678901234567890",
        "6.02214076e23",
    ];
    for text in echoed {
        let body = format!("{{\"op\":\"query:local-node\",\"correl\":{text}}}");
        let sent: Value = serde_json::from_str(text).unwrap();
        let replies = check_raw(ops, body.into_bytes(), "00000").await;
        assert_eq!(replies.len(), 2);
        for reply in &replies {
            assert_eq!(reply["correl"], sent, "correl {text} echoed identically");
        }
    }
    // An error status echoes the correl too.
    let replies = check_raw(
        ops,
        br#"{"op":"register:platform","correl":77,"id":"x"}"#.to_vec(),
        "10208",
    )
    .await;
    assert_eq!(replies[0]["correl"], json!(77));

    // No correl, or null: a fresh UUID v4 on every reply of the op.
    let mut seen = Vec::new();
    for body in [
        r#"{"op":"query:platforms"}"#,
        r#"{"op":"query:platforms","correl":null}"#,
        r#"{"op":"query:platforms"}"#,
        r#"{"op":"deregister:platform","id":"nope"}"#,
    ] {
        let replies = ops.raw(body.as_bytes().to_vec()).await;
        let correl = replies[0]["correl"]
            .as_str()
            .expect("assigned correl is a string");
        assert!(is_uuid_v4(correl), "{correl} is a UUID v4");
        for reply in &replies {
            assert_eq!(reply["correl"], correl);
        }
        assert!(!seen.contains(&correl.to_owned()), "fresh correl each time");
        seen.push(correl.to_owned());
    }

    // Correls of any other type are refused, and the reply still carries a correl.
    for correl in [
        json!(true),
        json!(false),
        json!({}),
        json!([]),
        json!(["a"]),
    ] {
        let body = json!({"op": "register:platform", "id": "keep", "type": "sensor",
                          "correl": correl});
        let replies = check_raw(ops, body.to_string().into_bytes(), "10102").await;
        assert_eq!(replies.len(), 1);
        still_fine(ops, "a bad correl").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_ids_over_mqtt() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("correl5").await;
    store_keeper(&mut c).await;
    correls(&mut c).await;
    correls(&mut node.mqtt("correl4").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_ids_over_http() {
    let node = TestNode::start().await;
    let mut h = HttpOps::new(node.http());
    store_keeper(&mut h).await;
    correls(&mut h).await;
}

/// Field-level failures: (op, expected status).
fn field_cases() -> Vec<(Value, &'static str)> {
    let iface = json!([{"node-interface": "mqtt", "address": "ip://10.0.0.1:1883"}]);
    vec![
        // Missing required fields, each with its entity.
        (json!({"op": "register:node", "interfaces": iface}), "10203"),
        (json!({"op": "register:node", "id": "n"}), "10203"),
        (json!({"op": "register:node-type"}), "10205"),
        (json!({"op": "register:bearer", "id": "b"}), "10206"),
        (
            json!({"op": "register:bearer", "available": "true"}),
            "10206",
        ),
        (json!({"op": "register:platform-type"}), "10209"),
        (json!({"op": "register:platform", "type": "app"}), "10208"),
        (json!({"op": "register:platform", "id": "keep"}), "10208"),
        (
            json!({"op": "register:service-type", "type": "st"}),
            "1020C",
        ),
        (
            json!({"op": "register:service-type", "mode": "output-feed"}),
            "1020C",
        ),
        (
            json!({"op": "register:system-type", "type": "syt"}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "services": [{"type": "untyped_listener"}]}),
            "1020B",
        ),
        (json!({"op": "register:system", "id": "keep/s"}), "1020A"),
        (
            json!({"op": "register:system", "type": "simple_system"}),
            "1020A",
        ),
        (json!({"op": "register:user-type"}), "1020E"),
        (json!({"op": "register:user", "id": "u"}), "1020D"),
        (json!({"op": "register:user", "type": "ut"}), "1020D"),
        (json!({"op": "deregister:node"}), "10303"),
        (json!({"op": "deregister:node-type"}), "10305"),
        (json!({"op": "deregister:bearer"}), "10306"),
        (json!({"op": "deregister:platform-type"}), "10309"),
        (json!({"op": "deregister:platform"}), "10308"),
        (json!({"op": "deregister:service-type"}), "1030C"),
        (json!({"op": "deregister:system-type"}), "1030B"),
        (json!({"op": "deregister:system"}), "1030A"),
        (json!({"op": "deregister:user-type"}), "1030E"),
        (json!({"op": "deregister:user"}), "1030D"),
        // Wrong types and invalid values, several aimed at the keeper's key.
        (
            json!({"op": "register:platform", "id": 5, "type": "app"}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": ["app"]}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "desc": 5}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "attr": "x"}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "attr": [1]}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "loc": "here"}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "loc": {"lat": 1}}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "loc": {"long": 1}}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app", "loc": {"lat": "1", "long": 2}}),
            "10208",
        ),
        (
            json!({"op": "register:platform", "id": "keep", "type": "app",
                   "loc": {"lat": 1, "long": 2, "alt": "high"}}),
            "10208",
        ),
        (
            json!({"op": "register:bearer", "id": "b", "available": "yes"}),
            "10206",
        ),
        (
            json!({"op": "register:bearer", "id": "b", "available": 1}),
            "10206",
        ),
        (
            json!({"op": "register:bearer", "id": "b", "available": "TRUE"}),
            "10206",
        ),
        (
            json!({"op": "register:node", "id": "n", "interfaces": []}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n", "interfaces": "ip://10.0.0.1:1883"}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n", "interfaces": [{"node-interface": "mqtt"}]}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n", "interfaces": [{"address": "ip://10.0.0.1:1883"}]}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n",
                   "interfaces": [{"node-interface": "mqtt", "address": "10.0.0.1:1883"}]}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n",
                   "interfaces": [{"node-interface": "mqtt", "address": "ip://10.0.0.1:port"}]}),
            "10203",
        ),
        (
            json!({"op": "register:node", "id": "n",
                   "interfaces": [{"node-interface": "mqtt", "address": "ip://10.0.0.1"}]}),
            "10203",
        ),
        (
            json!({"op": "register:service-type", "type": "st", "mode": "sideways"}),
            "1020C",
        ),
        (
            json!({"op": "register:service-type", "type": "st", "mode": "Output-Feed"}),
            "1020C",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": []}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": {}}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": [{"id": "x"}]}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": ["untyped_listener"]}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": [
                {"type": "untyped_listener", "id": "same"}, {"type": "untyped_notification", "id": "same"}
            ]}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": [
                {"type": "untyped_listener", "mode": "sideways"}
            ]}),
            "1020B",
        ),
        (
            json!({"op": "register:system-type", "type": "syt", "services": [
                {"type": "untyped_listener", "id": "a/b"}
            ]}),
            "1020B",
        ),
        (
            json!({"op": "register:system", "id": "keep", "type": "simple_system"}),
            "1020A",
        ),
        (
            json!({"op": "register:system", "id": "keep/s/x", "type": "simple_system"}),
            "1020A",
        ),
        (
            json!({"op": "register:system", "id": "/s", "type": "simple_system"}),
            "1020A",
        ),
        (
            json!({"op": "register:system", "id": "keep/", "type": "simple_system"}),
            "1020A",
        ),
        (
            json!({"op": "register:system", "id": "keep/*", "type": "simple_system"}),
            "1020A",
        ),
        (
            json!({"op": "register:system", "id": "keep/s", "type": "simple_system", "user": 3}),
            "1020A",
        ),
        (
            json!({"op": "register:user", "id": "u", "type": "ut", "affil": 1}),
            "1020D",
        ),
        (json!({"op": "query:platforms", "id": 5}), "10408"),
        (json!({"op": "query:platforms", "attr": "x"}), "10408"),
        (
            json!({"op": "query:platforms", "loc": [0, 0, 1, 1]}),
            "10408",
        ),
        (
            json!({"op": "query:system-types", "services": "untyped_listener"}),
            "1040B",
        ),
    ]
}

async fn field_failures(ops: &mut impl Ops) {
    store_keeper(ops).await;
    ok(ops, json!({"op": "register:user-type", "type": "ut"})).await;
    for (op, expected) in field_cases() {
        let what = op.to_string();
        check(ops, op, expected).await;
        still_fine(ops, &what).await;
    }
    // Nothing refused was stored.
    assert!(query(ops, "nodes", json!({})).await.is_empty());
    assert!(query(ops, "bearers", json!({})).await.is_empty());
    assert!(query(ops, "systems", json!({})).await.is_empty());
    assert!(query(ops, "users", json!({})).await.is_empty());
    assert_eq!(query(ops, "system-types", json!({})).await.len(), 1);
    assert_eq!(query(ops, "service-types", json!({})).await.len(), 6);
    assert_eq!(query(ops, "platforms", json!({})).await, vec![keeper()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_failures_over_mqtt() {
    let node = TestNode::start().await;
    field_failures(&mut node.mqtt5("fields5").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_failures_over_mqtt_v4() {
    let node = TestNode::start().await;
    field_failures(&mut node.mqtt("fields4").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_failures_over_http() {
    let node = TestNode::start().await;
    field_failures(&mut HttpOps::new(node.http())).await;
}

async fn identifiers(ops: &mut impl Ops) {
    store_keeper(ops).await;
    let long_257 = "x".repeat(257);
    let long_257_wide = "\u{e9}".repeat(257);
    let bad = [
        "",
        "a/b",
        "/",
        "a*",
        "*",
        "tab\there",
        "new\nline",
        "nul\u{0}x",
        "esc\u{1b}",
        "del\u{7f}",
        "c1\u{85}",
        long_257.as_str(),
        long_257_wide.as_str(),
    ];
    for id in bad {
        check(
            ops,
            json!({"op": "register:platform", "id": id, "type": "app"}),
            "10208",
        )
        .await;
        check(
            ops,
            json!({"op": "register:platform-type", "type": id}),
            "10209",
        )
        .await;
        check(
            ops,
            json!({"op": "register:user-type", "type": id}),
            "1020E",
        )
        .await;
        check(
            ops,
            json!({"op": "register:platform", "id": "ok-id", "type": id}),
            "10208",
        )
        .await;
        check(ops, json!({"op": "deregister:platform", "id": id}), "10308").await;
        still_fine(ops, "a bad identifier").await;
    }
    assert_eq!(query(ops, "platforms", json!({})).await, vec![keeper()]);

    // 256 characters and any other Unicode are kept byte for byte.
    let long_256 = "y".repeat(256);
    let long_256_wide = "\u{1f680}".repeat(256);
    let good = [
        long_256.as_str(),
        long_256_wide.as_str(),
        "Z\u{fc}rich-\u{6771}\u{4eac}",
        "e\u{301}",
        "\u{e9}",
        "with space",
        "+#$%&?",
        "\u{200b}zero-width",
        "\u{fffd}",
    ];
    for id in good {
        let record = json!({"id": id, "type": "app", "desc": id});
        let mut op = record.clone();
        op["op"] = json!("register:platform");
        ok(ops, op).await;
        let found = query(ops, "platforms", json!({"id": id})).await;
        assert_eq!(found, vec![record], "{id:?} kept as sent");
        assert_eq!(found[0]["id"].as_str().unwrap().as_bytes(), id.as_bytes());
    }
    // "e" + combining accent and the precomposed "é" are different ids.
    assert_eq!(
        query(ops, "platforms", json!({"id": "e\u{301}"}))
            .await
            .len(),
        1
    );
    assert_eq!(
        query(ops, "platforms", json!({"id": "\u{e9}"})).await.len(),
        1
    );

    ok(
        ops,
        json!({"op": "register:system", "id": format!("{long_256}/{long_256_wide}"),
               "type": "simple_system"}),
    )
    .await;
    let systems = query(ops, "systems", json!({})).await;
    assert_eq!(systems.len(), 1);
    assert_eq!(systems[0]["id"], format!("{long_256}/{long_256_wide}"));
    assert_eq!(systems[0]["platform"], long_256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_over_mqtt() {
    let node = TestNode::start().await;
    identifiers(&mut node.mqtt5("ids").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_over_http() {
    let node = TestNode::start().await;
    identifiers(&mut HttpOps::new(node.http())).await;
}

/// A `register:platform` body of exactly `size` bytes (padding in `desc`).
fn body_of_size(id: &str, size: usize) -> Vec<u8> {
    let empty = format!(r#"{{"op":"register:platform","id":"{id}","type":"app","desc":""}}"#);
    let padding = "d".repeat(size - empty.len());
    let body =
        format!(r#"{{"op":"register:platform","id":"{id}","type":"app","desc":"{padding}"}}"#);
    assert_eq!(body.len(), size);
    body.into_bytes()
}

async fn oversized(ops: &mut impl Ops) {
    store_keeper(ops).await;
    const MIB: usize = 1 << 20;
    // One byte over the limit, well over it, and several times over it.
    for size in [MIB + 1, MIB + 4096, 3 * MIB] {
        let replies = check_raw(ops, body_of_size("big", size), "50102").await;
        assert_eq!(replies.len(), 1);
        let correl = replies[0]["correl"].as_str().expect("a fresh correl");
        assert!(is_uuid_v4(correl), "unparsed request gets a UUID: {correl}");
        still_fine(ops, "an oversized request").await;
    }
    // An oversized request aimed at the keeper changes nothing.
    check_raw(ops, body_of_size("keep", MIB + 100), "50102").await;
    still_fine(ops, "an oversized request for the keeper").await;
    assert!(query(ops, "platforms", json!({"id": "big"}))
        .await
        .is_empty());

    // Exactly the limit is accepted.
    check_raw(ops, body_of_size("limit", MIB), "00000").await;
    let found = query(ops, "platforms", json!({"id": "limit"})).await;
    assert_eq!(found.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_over_mqtt() {
    let node = TestNode::start().await;
    oversized(&mut node.mqtt("big4").await).await;
    oversized(&mut node.mqtt5("big5").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_over_http() {
    let node = TestNode::start().await;
    oversized(&mut HttpOps::new(node.http())).await;
}

/// A `register:platform` whose `attr` makes the document `depth` containers deep.
fn nested(id: &str, depth: usize) -> Vec<u8> {
    assert!(depth >= 2);
    // The op object is level 1 and `attr` level 2; levels 3 and up alternate arrays and objects.
    let mut inner = String::from("0");
    for level in (3..=depth).rev() {
        inner = if level % 2 == 0 {
            format!(r#"{{"k":{inner}}}"#)
        } else {
            format!("[{inner}]")
        };
    }
    format!(r#"{{"op":"register:platform","id":"{id}","type":"app","attr":{{"deep":{inner}}}}}"#)
        .into_bytes()
}

/// The nesting depth of a JSON text (brackets outside strings).
fn depth_of(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    max
}

async fn nesting(ops: &mut impl Ops) {
    store_keeper(ops).await;
    let too_deep = nested("deep129", 129);
    assert_eq!(depth_of(&too_deep), 129);
    check_raw(ops, too_deep, "10102").await;
    still_fine(ops, "129 levels").await;

    let deeper = nested("deep5000", 5000);
    assert_eq!(depth_of(&deeper), 5000);
    check_raw(ops, deeper, "10102").await;
    still_fine(ops, "5000 levels").await;

    // Unbalanced and deep: still a parse error, not a crash.
    check_raw(ops, "[".repeat(100_000).into_bytes(), "10102").await;
    still_fine(ops, "100000 open brackets").await;

    let deep_ok = nested("deep128", 128);
    assert_eq!(depth_of(&deep_ok), 128);
    let replies = ops.raw(deep_ok).await;
    let code = common::check::assert_status_message(&replies);
    assert_ne!(code, "10102", "128 levels is valid JSON: {replies:?}");
    assert_eq!(code, "00000", "attr may hold any members: {replies:?}");
    still_fine(ops, "128 levels").await;
    assert!(
        query(ops, "platforms", json!({"id": "deep129"}))
            .await
            .is_empty(),
        "a refused request stored nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_limit_over_mqtt() {
    let node = TestNode::start().await;
    nesting(&mut node.mqtt5("nest").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_limit_over_http() {
    let node = TestNode::start().await;
    nesting(&mut HttpOps::new(node.http())).await;
}

async fn long_messages(ops: &mut impl Ops) {
    // Reasons that would name a long offending value stay within 256 characters.
    let long = "\u{1f680}".repeat(5000);
    for op in [
        json!({"op": "register:platform", "id": long.clone(), "type": "app"}),
        json!({"op": "register:platform", "id": "p", "type": long.clone()}),
        json!({"op": "deregister:platform", "id": long.clone()}),
        json!({"op": long.clone()}),
        json!({"op": format!("register:{long}")}),
        json!({"op": "register:service-type", "type": "t", "mode": long.clone()}),
    ] {
        let replies = ops.send(op).await;
        let code = common::check::assert_status_message(&replies);
        assert!(code.starts_with(['1', '2']), "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_messages_stay_short() {
    let node = TestNode::start().await;
    long_messages(&mut node.mqtt("long").await).await;
    long_messages(&mut HttpOps::new(node.http())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored() {
    let node = TestNode::start().await;
    let mut c = node.mqtt5("unknown").await;
    ok(
        &mut c,
        json!({"op": "register:platform", "id": "p", "type": "app", "colour": "red",
               "extra": {"nested": [1, 2]}}),
    )
    .await;
    assert_eq!(
        query(&mut c, "platforms", json!({})).await,
        vec![json!({"id": "p", "type": "app"})]
    );
    let replies = ok(&mut c, json!({"op": "query:local-node", "whatever": true})).await;
    assert_eq!(replies[0]["id"], "testnode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_above_the_transport_maximum_closes_only_that_connection() {
    let node = TestNode::start().await;
    let mut other = node.mqtt("bystander").await;
    store_keeper(&mut other).await;
    for (name, version) in [
        ("huge4", common::mqtt::Version::V4),
        ("huge5", common::mqtt::Version::V5),
    ] {
        let mut huge =
            common::mqtt::OpClient::connect(node.mqtt_port(), "testnode", name, version).await;
        huge.send_raw(body_of_size("huge", 9 << 20)).await;
        huge.closed().await;
        still_fine(&mut other, "a packet above 8 MiB on another connection").await;
    }
    assert!(query(&mut other, "platforms", json!({"id": "huge"}))
        .await
        .is_empty());
    // The client can come back.
    let mut again = node.mqtt5("huge4").await;
    still_fine(&mut again, "a reconnect").await;
}
