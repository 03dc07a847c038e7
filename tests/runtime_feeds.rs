//! Data feeds end to end (spec §6.2, §6.3): the producer/consumer walk-through over two MQTT
//! clients, wildcard subscriptions for feeds registered before and after, unsubscribing, fan-out
//! and fan-in, payload fidelity up to the size limit, encodings, ordering, `lost-subscriptions`
//! and `query:service-wiring`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bus::{
    assert_quiet, feed_message, input_feed, next_n, output_feed, publish, register_systems,
    run_systems, start, stop, subscribe,
};
use common::check::{check, ok, HttpOps};
use common::{within, TestNode};
use serde_json::{json, Value};

/// The `service-wiring` list of `query:service-wiring` with `filters`, sorted.
async fn wirings(ops: &mut impl common::check::Ops, filters: Value) -> Vec<(String, String)> {
    let mut op = filters;
    op["op"] = json!("query:service-wiring");
    let replies = ok(ops, op).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0]["op"], "query-result:service-wiring");
    let mut list: Vec<(String, String)> = replies[0]["service-wiring"]
        .as_array()
        .expect("service-wiring array")
        .iter()
        .map(|w| {
            assert_eq!(common::check::members(w), ["from", "to"], "{w}");
            (
                w["from"].as_str().unwrap().to_owned(),
                w["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    list.sort();
    list
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_consumer_walk_through() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("truck-01-gateway").await;
    let mut consumer = node.mqtt5("dashboard-app").await;

    // The producer describes its data and its system, and starts it.
    ok(
        &mut producer,
        json!({"op": "register:service-type", "type": "temperature", "mode": "output-feed",
               "schema": {"type": "number"}, "desc": "degrees Celsius"}),
    )
    .await;
    ok(
        &mut producer,
        json!({"op": "register:system-type", "type": "temp_sensor",
               "services": [{"type": "temperature", "id": "temp"}]}),
    )
    .await;
    ok(
        &mut producer,
        json!({"op": "register:platform", "id": "truck-01", "type": "sensor",
               "loc": {"lat": 51.5, "long": -0.12}}),
    )
    .await;
    ok(
        &mut producer,
        json!({"op": "register:system", "id": "truck-01/temp_sensor", "type": "temp_sensor"}),
    )
    .await;
    start(&mut producer, "truck-01/temp_sensor").await;

    // The consumer has a system with an input feed of the same data type.
    ok(
        &mut consumer,
        json!({"op": "register:system-type", "type": "dashboard",
               "services": [{"type": "temperature", "id": "temps", "mode": "input-feed"}]}),
    )
    .await;
    ok(
        &mut consumer,
        json!({"op": "register:platform", "id": "hq", "type": "app"}),
    )
    .await;
    ok(
        &mut consumer,
        json!({"op": "register:system", "id": "hq/dashboard", "type": "dashboard"}),
    )
    .await;
    start(&mut consumer, "hq/dashboard").await;
    let replies = ok(
        &mut consumer,
        json!({"op": "subscribe", "correl": "sub-1", "output-feeds": ["*/temp_sensor/*"],
               "input-feed": "hq/dashboard/temps"}),
    )
    .await;
    assert_eq!(
        replies,
        [
            json!({"op": "subscriptions", "correl": "sub-1",
                   "output-feeds": ["truck-01/temp_sensor/temp"],
                   "input-feed": "hq/dashboard/temps"}),
            json!({"op": "status", "correl": "sub-1", "status": "00000", "msg": "OK"}),
        ]
    );

    let replies = ok(
        &mut producer,
        json!({"op": "publish", "correl": "pub-1", "output-feed": "truck-01/temp_sensor/temp",
               "msg": 21.5}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "pub-1", "status": "00000", "msg": "OK"})]
    );
    let delivered = consumer.next_message().await;
    assert_eq!(delivered.topic, consumer.out_topic);
    assert_eq!(
        delivered.json(),
        json!({"op": "feed-message", "output-feed": "truck-01/temp_sensor/temp",
               "input-feed": "hq/dashboard/temps", "msg": 21.5, "encoding": "ascii"})
    );
    // Member order as the specification shows it (reply member order is a documented choice).
    let text = String::from_utf8(delivered.payload.to_vec()).unwrap();
    let positions: Vec<usize> = [
        "\"op\"",
        "\"output-feed\"",
        "\"input-feed\"",
        "\"msg\"",
        "\"encoding\"",
    ]
    .iter()
    .map(|m| text.find(m).unwrap_or_else(|| panic!("{m} in {text}")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    assert_quiet(&mut producer, "the producer gets only its status").await;
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_subscriptions_wire_feeds_registered_before_and_after() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(
        &mut producer,
        &["a/temp_sensor", "b/temp_sensor", "c/other"],
    )
    .await;
    run_systems(&mut consumer, &["hq/board"]).await;
    let inp = input_feed("hq/board");

    let reply = subscribe(&mut consumer, &inp, &["*/temp_sensor/*"]).await;
    assert!(reply.get("correl").is_some());
    assert_eq!(
        reply["output-feeds"],
        json!([output_feed("a/temp_sensor"), output_feed("b/temp_sensor")])
    );

    // A matching system registered later is wired at once and announced without a correl.
    register_systems(&mut producer, &["d/temp_sensor"]).await;
    let announced = consumer.next_json().await;
    assert_eq!(announced["op"], "subscriptions", "{announced}");
    assert!(
        announced.get("correl").is_none(),
        "unsolicited: no correl: {announced}"
    );
    assert_eq!(announced["input-feed"], inp, "{announced}");
    let listed = announced["output-feeds"].as_array().expect("output-feeds");
    assert!(
        listed.contains(&json!(output_feed("d/temp_sensor"))),
        "{announced}"
    );
    for feed in listed {
        assert!(
            feed.as_str().unwrap().contains("/temp_sensor/"),
            "only matching feeds: {announced}"
        );
    }
    // A system that does not match is not announced.
    register_systems(&mut producer, &["e/other"]).await;
    assert_quiet(&mut consumer, "a non-matching system registered").await;

    assert_eq!(
        wirings(&mut consumer, json!({})).await,
        pairs(&[
            (&output_feed("a/temp_sensor"), &inp),
            (&output_feed("b/temp_sensor"), &inp),
            (&output_feed("d/temp_sensor"), &inp),
        ])
    );

    // Feed messages flow from the new feed, and from the old ones; not from the others.
    start(&mut producer, "d/temp_sensor").await;
    start(&mut producer, "e/other").await;
    for system in ["d/temp_sensor", "a/temp_sensor", "c/other", "e/other"] {
        publish(&mut producer, &output_feed(system), json!(system)).await;
    }
    let got = next_n(&mut consumer, 2).await;
    assert_eq!(
        got,
        [
            feed_message(
                &output_feed("d/temp_sensor"),
                &inp,
                json!("d/temp_sensor"),
                "ascii"
            ),
            feed_message(
                &output_feed("a/temp_sensor"),
                &inp,
                json!("a/temp_sensor"),
                "ascii"
            ),
        ]
    );
    assert_quiet(&mut consumer, "non-matching feeds").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_star_stays_inside_one_segment() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut producer, &["temp/s", "xtemp/s", "temp/t"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let inp = input_feed("c/s");

    // Patterns of one or two segments would match everything if `*` crossed `/`: they are
    // not patterns at all.
    for patterns in [
        json!(["*"]),
        json!(["*/*"]),
        json!(["temp/*"]),
        json!(["*/untyped_output_feed"]),
        json!(["*/*/*/*"]),
        json!([output_feed("temp/s"), "*"]),
    ] {
        check(
            &mut consumer,
            json!({"op": "subscribe", "output-feeds": patterns, "input-feed": inp}),
            "1070A",
        )
        .await;
    }
    assert_eq!(wirings(&mut consumer, json!({})).await, pairs(&[]));

    // `*` matches any run of characters inside its segment, the empty run included.
    let reply = subscribe(&mut consumer, &inp, &["temp*/s/*"]).await;
    assert_eq!(reply["output-feeds"], json!([output_feed("temp/s")]));
    let reply = subscribe(&mut consumer, &inp, &["*temp/*/untyped_*_feed"]).await;
    assert_eq!(
        reply["output-feeds"],
        json!([
            output_feed("temp/s"),
            output_feed("temp/t"),
            output_feed("xtemp/s")
        ])
    );
    // Only output feeds match, though the input feed's name matches the pattern too.
    let reply = subscribe(&mut consumer, &inp, &["c/s/*"]).await;
    assert_eq!(reply["output-feeds"], json!([output_feed("c/s")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_by_pattern_and_everything() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["a/x", "b/x", "c/y"]).await;
    run_systems(&mut consumer, &["k/s"]).await;
    let inp = input_feed("k/s");
    let reply = subscribe(&mut consumer, &inp, &["*/x/*", &output_feed("c/y")]).await;
    assert_eq!(
        reply["output-feeds"],
        json!([output_feed("a/x"), output_feed("b/x"), output_feed("c/y")])
    );

    // A subset by pattern.
    let replies = ok(
        &mut consumer,
        json!({"op": "unsubscribe", "input-feed": inp, "output-feeds": ["a/*/*"]}),
    )
    .await;
    assert_eq!(replies.len(), 1, "status only: {replies:?}");
    assert_eq!(
        wirings(&mut consumer, json!({})).await,
        pairs(&[(&output_feed("b/x"), &inp), (&output_feed("c/y"), &inp)])
    );
    for system in ["a/x", "b/x", "c/y"] {
        publish(&mut producer, &output_feed(system), json!(system)).await;
    }
    assert_eq!(
        next_n(&mut consumer, 2).await,
        [
            feed_message(&output_feed("b/x"), &inp, json!("b/x"), "ascii"),
            feed_message(&output_feed("c/y"), &inp, json!("c/y"), "ascii"),
        ]
    );
    assert_quiet(&mut consumer, "a/x unsubscribed").await;

    // Unsubscribing what is not subscribed succeeds.
    ok(
        &mut consumer,
        json!({"op": "unsubscribe", "input-feed": inp, "output-feeds": ["zzz/*/*"]}),
    )
    .await;

    // Everything, without output-feeds: wirings and remembered patterns.
    ok(
        &mut consumer,
        json!({"op": "unsubscribe", "input-feed": inp}),
    )
    .await;
    assert_eq!(wirings(&mut consumer, json!({})).await, pairs(&[]));
    for system in ["a/x", "b/x", "c/y"] {
        publish(&mut producer, &output_feed(system), json!(system)).await;
    }
    register_systems(&mut producer, &["d/x"]).await;
    assert_quiet(&mut consumer, "everything unsubscribed").await;
    assert_eq!(wirings(&mut consumer, json!({})).await, pairs(&[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_consumers_and_input_feeds_each_get_their_own_copy() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut c1 = node.mqtt("c1").await;
    let mut c2 = node.mqtt5("c2").await;
    run_systems(&mut producer, &["p/s"]).await;
    // c1 owns two consuming systems, c2 one.
    run_systems(&mut c1, &["c1/a", "c1/b"]).await;
    run_systems(&mut c2, &["c2/a"]).await;
    let out = output_feed("p/s");
    for system in ["c1/a", "c1/b"] {
        subscribe(&mut c1, &input_feed(system), &[&out]).await;
    }
    subscribe(&mut c2, &input_feed("c2/a"), &["p/*/*"]).await;
    // Subscribing twice does not double the copies.
    subscribe(&mut c2, &input_feed("c2/a"), &[&out]).await;

    publish(&mut producer, &out, json!({"n": 1})).await;
    let mut got = next_n(&mut c1, 2).await;
    got.sort_by_key(|m| m["input-feed"].as_str().unwrap().to_owned());
    assert_eq!(
        got,
        [
            feed_message(&out, &input_feed("c1/a"), json!({"n": 1}), "ascii"),
            feed_message(&out, &input_feed("c1/b"), json!({"n": 1}), "ascii"),
        ]
    );
    assert_eq!(
        c2.next_json().await,
        feed_message(&out, &input_feed("c2/a"), json!({"n": 1}), "ascii")
    );
    assert_quiet(&mut c1, "one copy per input feed").await;
    assert_quiet(&mut c2, "one copy per input feed").await;
    assert_quiet(&mut producer, "the producer is not a consumer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_output_feeds_into_one_input_feed() {
    let node = TestNode::start().await;
    let mut p1 = node.mqtt("p1").await;
    let mut p2 = node.mqtt5("p2").await;
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut p1, &["p1/s"]).await;
    run_systems(&mut p2, &["p2/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let inp = input_feed("c/s");
    let reply = subscribe(&mut consumer, &inp, &["p*/s/*"]).await;
    assert_eq!(
        reply["output-feeds"],
        json!([output_feed("p1/s"), output_feed("p2/s")])
    );

    publish(&mut p1, &output_feed("p1/s"), json!("one")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(&output_feed("p1/s"), &inp, json!("one"), "ascii")
    );
    publish(&mut p2, &output_feed("p2/s"), json!("two")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(&output_feed("p2/s"), &inp, json!("two"), "ascii")
    );
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_arrive_unchanged() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let (out, inp) = (output_feed("p/s"), input_feed("c/s"));
    subscribe(&mut consumer, &inp, &[&out]).await;

    let payloads = [
        json!("plain text"),
        json!(""),
        json!("quotes \" backslash \\ newline \n tab \t nul \u{0000}"),
        json!(0),
        json!(42),
        json!(-17),
        json!(-0.5),
        json!(2.718281828459045e-5),
        json!(1.0e-300),
        json!(6.02214076e23),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(9007199254740993_u64),
        json!(true),
        json!(false),
        Value::Null,
        json!({}),
        json!([]),
        json!({"a": {"b": [1, {"c": null}], "d": "e"}, "z": false, "é": "ü"}),
        json!([1, "two", 3.5, null, true, [], {}, [[[]]]]),
        json!("emoji 🌡️🚚🔥 and CJK 温度センサー 한국어, RTL שלום, combining e\u{0301}"),
        json!({"键": "値", "🔑": ["🌍", "𝄞"]}),
        json!("\u{FEFF}\u{200B}\u{10FFFF}"),
    ];
    for payload in &payloads {
        publish(&mut producer, &out, payload.clone()).await;
        assert_eq!(
            consumer.next_json().await,
            feed_message(&out, &inp, payload.clone(), "ascii"),
            "payload {payload}"
        );
    }

    // Numbers given as literal text keep their value (compared as JSON numbers).
    let raw = format!(
        r#"{{"op":"publish","correl":"raw","output-feed":"{out}","msg":[1e2,-0,12.50,18446744073709551615]}}"#
    );
    producer.send_raw(raw.clone()).await;
    let replies = producer.replies_for(&json!("raw")).await;
    assert_eq!(replies.last().unwrap()["status"], "00000", "{replies:?}");
    let sent: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(consumer.next_json().await["msg"], sent["msg"]);
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_at_the_size_limit_is_delivered_intact() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let (out, inp) = (output_feed("p/s"), input_feed("c/s"));
    subscribe(&mut consumer, &inp, &[&out]).await;

    // The whole op is exactly 1 MiB, the largest request the limit accepts.
    let limit = 1 << 20;
    let op_with = |filler: &str| {
        json!({"op": "publish", "correl": "big", "output-feed": out,
               "msg": {"data": filler, "tail": "end ✓"}})
        .to_string()
    };
    let overhead = op_with("").len();
    let filler: String = (0..limit - overhead)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let op = op_with(&filler);
    assert_eq!(op.len(), limit);
    producer.send_raw(op).await;
    let replies = producer.replies_for(&json!("big")).await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "big", "status": "00000", "msg": "OK"})]
    );
    let delivered = consumer.next_json().await;
    assert_eq!(delivered["op"], "feed-message");
    assert_eq!(delivered["encoding"], "ascii");
    assert_eq!(delivered["msg"]["tail"], "end ✓");
    let data = delivered["msg"]["data"].as_str().expect("data");
    assert_eq!(data.len(), filler.len());
    assert!(data == filler, "the large payload changed on the way");

    // One byte more is refused, and nothing is delivered.
    let mut too_big = op_with(&filler);
    too_big.insert(too_big.len() - 1, ' ');
    producer.send_raw(too_big).await;
    let replies = producer.until_status().await;
    assert_eq!(replies.last().unwrap()["status"], "50102", "{replies:?}");
    assert_quiet(&mut consumer, "a refused oversized publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_defaults_to_ascii_and_passes_through() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let (out, inp) = (output_feed("p/s"), input_feed("c/s"));
    subscribe(&mut consumer, &inp, &[&out]).await;

    let cases = [
        (json!({"msg": "a"}), "ascii"),
        (json!({"msg": "b", "encoding": null}), "ascii"),
        (json!({"msg": "aGVsbG8=", "encoding": "base64"}), "base64"),
        (json!({"msg": "c", "encoding": "utf-8"}), "utf-8"),
        (
            json!({"msg": "d", "encoding": "application/x-custom; v=2"}),
            "application/x-custom; v=2",
        ),
        (json!({"msg": "e", "encoding": "ascii"}), "ascii"),
    ];
    for (fields, encoding) in cases {
        let mut op = fields.clone();
        op["op"] = json!("publish");
        op["output-feed"] = json!(out);
        ok(&mut producer, op).await;
        assert_eq!(
            consumer.next_json().await,
            feed_message(&out, &inp, fields["msg"].clone(), encoding),
            "{fields}"
        );
    }
    // A publish without msg is refused.
    check(
        &mut producer,
        json!({"op": "publish", "output-feed": out}),
        "1060A",
    )
    .await;
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_publishes_arrive_in_order() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let (out, inp) = (output_feed("p/s"), input_feed("c/s"));
    subscribe(&mut consumer, &inp, &[&out]).await;

    const N: usize = 500;
    // Pipelined: all sent before any status is read.
    for i in 0..N {
        let op = json!({"op": "publish", "correl": i, "output-feed": out, "msg": {"seq": i}});
        producer.send_raw(op.to_string()).await;
    }
    let statuses = next_n(&mut producer, N).await;
    for (i, status) in statuses.iter().enumerate() {
        assert_eq!(
            status,
            &json!({"op": "status", "correl": i, "status": "00000", "msg": "OK"}),
            "status {i} in order"
        );
    }
    let delivered = within("500 feed messages", next_n(&mut consumer, N)).await;
    for (i, message) in delivered.iter().enumerate() {
        assert_eq!(
            message,
            &feed_message(&out, &inp, json!({"seq": i}), "ascii"),
            "feed message {i} in order"
        );
    }
    assert_quiet(&mut consumer, "exactly one copy each").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistering_a_producer_sends_lost_subscriptions() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut c1 = node.mqtt5("c1").await;
    let mut c2 = node.mqtt("c2").await;
    run_systems(&mut producer, &["p/s", "q/s"]).await;
    run_systems(&mut c1, &["c1/in"]).await;
    run_systems(&mut c2, &["c2/in"]).await;
    subscribe(&mut c1, &input_feed("c1/in"), &["*/s/untyped_output_feed"]).await;
    subscribe(&mut c2, &input_feed("c2/in"), &[&output_feed("p/s")]).await;

    stop(&mut producer, "p/s").await;
    assert_quiet(&mut c1, "a producer's stop is not announced").await;
    ok(
        &mut producer,
        json!({"op": "deregister:system", "id": "p/s"}),
    )
    .await;
    assert_eq!(
        c1.next_json().await,
        json!({"op": "lost-subscriptions", "output-feeds": [output_feed("p/s")],
               "input-feed": input_feed("c1/in")})
    );
    assert_eq!(
        c2.next_json().await,
        json!({"op": "lost-subscriptions", "output-feeds": [output_feed("p/s")],
               "input-feed": input_feed("c2/in")})
    );
    assert_quiet(&mut c1, "one lost-subscriptions").await;
    assert_quiet(&mut c2, "one lost-subscriptions").await;
    assert_quiet(&mut producer, "the producer only gets its replies").await;
    assert_eq!(
        wirings(&mut producer, json!({})).await,
        pairs(&[(&output_feed("q/s"), &input_feed("c1/in"))])
    );

    // Patterns stay remembered (an exact feed id is a pattern too): the system registered
    // again is wired again and announced to both.
    register_systems(&mut producer, &["p/s"]).await;
    for (client, input) in [
        (&mut c1, input_feed("c1/in")),
        (&mut c2, input_feed("c2/in")),
    ] {
        let announced = client.next_json().await;
        assert_eq!(announced["op"], "subscriptions", "{announced}");
        assert!(announced.get("correl").is_none(), "{announced}");
        assert_eq!(announced["input-feed"], input, "{announced}");
        assert!(
            announced["output-feeds"]
                .as_array()
                .unwrap()
                .contains(&json!(output_feed("p/s"))),
            "{announced}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_wiring_reflects_live_wirings() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    let mut http = HttpOps::new(node.http());
    run_systems(&mut producer, &["p1/s", "p2/s"]).await;
    run_systems(&mut consumer, &["c1/s", "c2/s"]).await;
    assert_eq!(wirings(&mut http, json!({})).await, pairs(&[]));

    subscribe(&mut consumer, &input_feed("c1/s"), &["p*/s/*"]).await;
    subscribe(&mut consumer, &input_feed("c2/s"), &[&output_feed("p2/s")]).await;
    let all = pairs(&[
        (&output_feed("p1/s"), &input_feed("c1/s")),
        (&output_feed("p2/s"), &input_feed("c1/s")),
        (&output_feed("p2/s"), &input_feed("c2/s")),
    ]);
    assert_eq!(wirings(&mut http, json!({})).await, all);
    assert_eq!(
        wirings(&mut producer, json!({"from": null, "to": null})).await,
        all
    );
    assert_eq!(
        wirings(&mut http, json!({"from": output_feed("p2/s")})).await,
        pairs(&[
            (&output_feed("p2/s"), &input_feed("c1/s")),
            (&output_feed("p2/s"), &input_feed("c2/s")),
        ])
    );
    assert_eq!(
        wirings(&mut http, json!({"to": input_feed("c1/s")})).await,
        pairs(&[
            (&output_feed("p1/s"), &input_feed("c1/s")),
            (&output_feed("p2/s"), &input_feed("c1/s")),
        ])
    );
    assert_eq!(
        wirings(&mut http, json!({"from": "p2/*", "to": "c2*"})).await,
        pairs(&[(&output_feed("p2/s"), &input_feed("c2/s"))])
    );
    assert_eq!(
        wirings(&mut http, json!({"from": "*", "to": "*"})).await,
        all
    );
    assert_eq!(
        wirings(&mut http, json!({"from": "nothing/*"})).await,
        pairs(&[])
    );

    // Live: unsubscribe and stop are reflected at once.
    ok(
        &mut consumer,
        json!({"op": "unsubscribe", "input-feed": input_feed("c1/s"),
               "output-feeds": [output_feed("p1/s")]}),
    )
    .await;
    stop(&mut consumer, "c2/s").await;
    assert_eq!(
        wirings(&mut http, json!({})).await,
        pairs(&[(&output_feed("p2/s"), &input_feed("c1/s"))])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_with_no_subscribers_succeeds() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut bystander = node.mqtt5("bystander").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut bystander, &["b/s"]).await;
    for msg in [json!(1), json!({"x": [1, 2]}), Value::Null] {
        publish(&mut producer, &output_feed("p/s"), msg).await;
    }
    let mut http = HttpOps::new(node.http().with_client_id("producer"));
    ok(
        &mut http,
        json!({"op": "publish", "output-feed": output_feed("p/s"), "msg": "over http"}),
    )
    .await;
    assert_quiet(&mut producer, "no subscribers").await;
    assert_quiet(&mut bystander, "no subscribers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_refusals() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("c").await;
    run_systems(&mut c, &["p/s"]).await;
    register_systems(&mut c, &["p/idle"]).await;
    let cases = [
        // Not a feed of the system, or not an output feed.
        (
            json!({"op": "publish", "output-feed": "p/s/nope", "msg": 1}),
            "2060A",
        ),
        (
            json!({"op": "publish", "output-feed": input_feed("p/s"), "msg": 1}),
            "2060A",
        ),
        (
            json!({"op": "publish", "output-feed": output_feed("p/idle"), "msg": 1}),
            "2060A",
        ),
        (
            json!({"op": "publish", "output-feed": output_feed("x/y"), "msg": 1}),
            "2060A",
        ),
        (
            json!({"op": "publish", "output-feed": "p/s", "msg": 1}),
            "1060A",
        ),
        (
            json!({"op": "publish", "output-feed": 5, "msg": 1}),
            "1060A",
        ),
        (
            json!({"op": "subscribe", "output-feeds": ["*/*/*"], "input-feed": output_feed("p/s")}),
            "2070A",
        ),
        (
            json!({"op": "subscribe", "output-feeds": ["*/*/*"], "input-feed": input_feed("p/idle")}),
            "2070A",
        ),
        (
            json!({"op": "subscribe", "output-feeds": [], "input-feed": input_feed("p/s")}),
            "1070A",
        ),
        (
            json!({"op": "subscribe", "output-feeds": "*/*/*", "input-feed": input_feed("p/s")}),
            "1070A",
        ),
        (
            json!({"op": "subscribe", "input-feed": input_feed("p/s")}),
            "1070A",
        ),
        (
            json!({"op": "unsubscribe", "input-feed": input_feed("p/idle")}),
            "2080A",
        ),
        (
            json!({"op": "unsubscribe", "input-feed": input_feed("p/s"), "output-feeds": []}),
            "1080A",
        ),
        (json!({"op": "unsubscribe"}), "1080A"),
    ];
    for (op, code) in cases {
        let replies = check(&mut c, op, code).await;
        assert_eq!(replies.len(), 1, "status only: {replies:?}");
    }
    assert_quiet(&mut c, "refused ops").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_ids_travel_byte_for_byte() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    let (p, c) = ("Zürich-東京/温度センサー🌡", "総合/ダッシュボード");
    run_systems(&mut producer, &[p]).await;
    run_systems(&mut consumer, &[c]).await;
    let (out, inp) = (output_feed(p), input_feed(c));
    let reply = subscribe(&mut consumer, &inp, &["Zürich*/*🌡/*"]).await;
    assert_eq!(reply["output-feeds"], json!([out]));
    publish(&mut producer, &out, json!("ok")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(&out, &inp, json!("ok"), "ascii")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_typing_a_stopped_producer_without_its_feed_sends_lost_subscriptions() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/in"]).await;
    subscribe(&mut consumer, &input_feed("c/in"), &[&output_feed("p/s")]).await;
    ok(
        &mut producer,
        json!({"op": "register:system-type", "type": "listener_only",
               "services": [{"type": "untyped_listener"}]}),
    )
    .await;
    // Running: re-typing is refused and nothing is lost.
    check(
        &mut producer,
        json!({"op": "register:system", "id": "p/s", "type": "listener_only"}),
        "2020A",
    )
    .await;
    assert_quiet(&mut consumer, "a refused re-type").await;
    stop(&mut producer, "p/s").await;
    ok(
        &mut producer,
        json!({"op": "register:system", "id": "p/s", "type": "listener_only"}),
    )
    .await;
    assert_eq!(
        consumer.next_json().await,
        json!({"op": "lost-subscriptions", "output-feeds": [output_feed("p/s")],
               "input-feed": input_feed("c/in")})
    );
    assert_eq!(wirings(&mut consumer, json!({})).await, pairs(&[]));
}
