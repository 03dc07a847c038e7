//! System state and ownership (spec §1 "Ownership", §6.1, §7): `state:system` replies, the
//! `2050A`/`3050A`/`1050A` refusals, every runtime op refused to a client that does not own the
//! system (with nothing sent to anyone), stopping cancels the system's subscriptions, a running
//! system cannot be deregistered, and after a node restart every system is `stopped`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bus::{
    assert_quiet, feed_message, input_feed, listener, notification, output_feed, publish,
    register_systems, request_response, run_systems, solicit_response, start, state_of, stop,
    subscribe,
};
use common::check::{check, ok, query, HttpOps, Ops};
use common::TestNode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_and_stopping_reply_state_change_then_ok() {
    let node = TestNode::start().await;
    let mut v4 = node.mqtt("owner-v4").await;
    let mut v5 = node.mqtt5("owner-v5").await;
    let mut http = HttpOps::new(node.http().with_client_id("owner-http"));
    register_systems(&mut v4, &["p1/s", "p2/s", "p3/s"]).await;

    async fn round_trip(ops: &mut impl Ops, id: &str) {
        assert_eq!(state_of(ops, id).await, "stopped", "{}", ops.label());
        // A numeric correl is echoed in both replies.
        let replies = ok(
            ops,
            json!({"op": "state:system", "correl": 7, "id": id, "state": "running"}),
        )
        .await;
        assert_eq!(
            replies,
            [
                json!({"op": "state-change:system", "correl": 7, "id": id, "state": "running"}),
                json!({"op": "status", "correl": 7, "status": "00000", "msg": "OK"}),
            ],
            "{}",
            ops.label()
        );
        let records = query(ops, "systems", json!({"id": id})).await;
        assert_eq!(records[0]["state"], "running", "{}", records[0]);
        assert_eq!(records[0]["platform"], id.split('/').next().unwrap());

        let replies = ok(
            ops,
            json!({"op": "state:system", "correl": "down", "id": id, "state": "stopped"}),
        )
        .await;
        assert_eq!(
            replies,
            [
                json!({"op": "state-change:system", "correl": "down", "id": id,
                       "state": "stopped"}),
                json!({"op": "status", "correl": "down", "status": "00000", "msg": "OK"}),
            ],
            "{}",
            ops.label()
        );
        assert_eq!(state_of(ops, id).await, "stopped", "{}", ops.label());
        // It can be started again, by the same client.
        start(ops, id).await;
        assert_eq!(state_of(ops, id).await, "running", "{}", ops.label());
    }
    round_trip(&mut v4, "p1/s").await;
    round_trip(&mut v5, "p2/s").await;
    round_trip(&mut http, "p3/s").await;

    // The state filter of query:systems sees the running ones.
    let running: Vec<Value> = query(&mut v4, "systems", json!({"state": "running"})).await;
    let ids: Vec<&str> = running.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p1/s", "p2/s", "p3/s"]);
    // Nobody was told anything beyond the replies.
    assert_quiet(&mut v4, "no deliveries for state changes").await;
    assert_quiet(&mut v5, "no deliveries for state changes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_states_and_unknown_systems_are_2050a() {
    let node = TestNode::start().await;
    let mut owner = node.mqtt("owner").await;
    let mut other = node.mqtt5("other").await;
    register_systems(&mut owner, &["p/s", "p/idle"]).await;

    let go = |id: &str, state: &str| json!({"op": "state:system", "id": id, "state": state});
    // Not registered (platform exists, system does not; neither exists).
    check(&mut owner, go("p/nope", "running"), "2050A").await;
    check(&mut owner, go("nope/nope", "stopped"), "2050A").await;
    // Not running: stopping a stopped system, whoever asks.
    check(&mut owner, go("p/idle", "stopped"), "2050A").await;
    check(&mut other, go("p/idle", "stopped"), "2050A").await;

    start(&mut owner, "p/s").await;
    // Already running: for its owner and for anyone else.
    check(&mut owner, go("p/s", "running"), "2050A").await;
    check(&mut other, go("p/s", "running"), "2050A").await;
    // Stopping another client's system is access denied, and it keeps running for its owner.
    check(&mut other, go("p/s", "stopped"), "3050A").await;
    let mut http = HttpOps::new(node.http().with_client_id("intruder"));
    check(&mut http, go("p/s", "stopped"), "3050A").await;
    assert_eq!(http.last_http_status.map(|s| s.as_u16()), Some(403));
    assert_eq!(state_of(&mut other, "p/s").await, "running");
    publish(&mut owner, &output_feed("p/s"), json!(1)).await;

    // After its owner stops it, anyone may start it and becomes the owner.
    stop(&mut owner, "p/s").await;
    start(&mut other, "p/s").await;
    check(
        &mut owner,
        json!({"op": "publish", "output-feed": output_feed("p/s"), "msg": 1}),
        "3060A",
    )
    .await;
    check(&mut owner, go("p/s", "stopped"), "3050A").await;
    publish(&mut other, &output_feed("p/s"), json!(2)).await;
    stop(&mut other, "p/s").await;
    assert_eq!(state_of(&mut owner, "p/s").await, "stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_state_fields_are_1050a() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("fields").await;
    register_systems(&mut c, &["p/s"]).await;

    let cases = [
        json!({"op": "state:system", "state": "running"}),
        json!({"op": "state:system", "id": null, "state": "running"}),
        json!({"op": "state:system", "id": 7, "state": "running"}),
        json!({"op": "state:system", "id": ["p/s"], "state": "running"}),
        json!({"op": "state:system", "id": "p", "state": "running"}),
        json!({"op": "state:system", "id": "p/s/x", "state": "running"}),
        json!({"op": "state:system", "id": "p/", "state": "running"}),
        json!({"op": "state:system", "id": "p/*", "state": "running"}),
        json!({"op": "state:system", "id": "p/s"}),
        json!({"op": "state:system", "id": "p/s", "state": null}),
        json!({"op": "state:system", "id": "p/s", "state": "paused"}),
        json!({"op": "state:system", "id": "p/s", "state": "RUNNING"}),
        json!({"op": "state:system", "id": "p/s", "state": true}),
        json!({"op": "state:system", "id": "p/s", "state": 1}),
    ];
    for op in cases {
        let replies = check(&mut c, op.clone(), "1050A").await;
        assert_eq!(replies.len(), 1, "status only for {op}: {replies:?}");
    }
    assert_eq!(state_of(&mut c, "p/s").await, "stopped");
    assert_quiet(&mut c, "refused state changes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_acts_for_a_system() {
    let node = TestNode::start().await;
    let mut owner = node.mqtt("owner").await;
    let mut intruder = node.mqtt5("intruder").await;
    let mut peer = node.mqtt("peer").await;
    run_systems(&mut owner, &["o/s"]).await;
    run_systems(&mut intruder, &["i/s"]).await;
    run_systems(&mut peer, &["c/s"]).await;
    // The peer consumes the owner's feed, so a wrongly accepted publish would reach it.
    subscribe(&mut peer, &input_feed("c/s"), &[&output_feed("o/s")]).await;
    // The owner consumes the peer's feed, so a wrongly accepted unsubscribe would show.
    subscribe(&mut owner, &input_feed("o/s"), &[&output_feed("c/s")]).await;
    // A request from the peer that the owner's responder has pending.
    ok(
        &mut peer,
        json!({"op": "request", "correl": "pending-1", "solicit-response": solicit_response("c/s"),
               "request-response": [request_response("o/s")], "msg": "q"}),
    )
    .await;
    let request = owner.next_json().await;
    assert_eq!(request["op"], "request", "{request}");

    let refused = [
        (
            json!({"op": "publish", "output-feed": output_feed("o/s"), "msg": "spoof"}),
            "3060A",
        ),
        (
            json!({"op": "subscribe", "output-feeds": [output_feed("i/s")],
                   "input-feed": input_feed("o/s")}),
            "3070A",
        ),
        (
            json!({"op": "unsubscribe", "input-feed": input_feed("o/s")}),
            "3080A",
        ),
        (
            json!({"op": "unsubscribe", "input-feed": input_feed("o/s"),
                   "output-feeds": ["*/*/*"]}),
            "3080A",
        ),
        (
            json!({"op": "notify", "notification": notification("o/s"),
                   "listener": [listener("c/s"), listener("i/s")], "msg": "spoof"}),
            "3090A",
        ),
        (
            json!({"op": "request", "solicit-response": solicit_response("o/s"),
                   "request-response": [request_response("c/s")], "msg": "spoof"}),
            "30A0A",
        ),
        (
            json!({"op": "response", "correl": "pending-1",
                   "request-response": request_response("o/s"),
                   "solicit-response": solicit_response("c/s"), "msg": "spoof"}),
            "30B0A",
        ),
    ];
    let mut http = HttpOps::new(node.http().with_client_id("intruder"));
    for (op, code) in &refused {
        let replies = check(&mut intruder, op.clone(), code).await;
        assert_eq!(replies.len(), 1, "status only for {op}: {replies:?}");
        let replies = check(&mut http, op.clone(), code).await;
        assert_eq!(
            replies.len(),
            1,
            "status only over HTTP for {op}: {replies:?}"
        );
        assert_eq!(http.last_http_status.map(|s| s.as_u16()), Some(403), "{op}");
    }
    assert_quiet(&mut owner, "ops refused to an intruder").await;
    assert_quiet(&mut peer, "ops refused to an intruder").await;
    assert_quiet(&mut intruder, "ops refused to an intruder").await;

    // Everything the intruder tried is still in place for the owner.
    assert_eq!(state_of(&mut peer, "o/s").await, "running");
    publish(&mut peer, &output_feed("c/s"), json!("still wired")).await;
    assert_eq!(
        owner.next_json().await,
        feed_message(
            &output_feed("c/s"),
            &input_feed("o/s"),
            json!("still wired"),
            "ascii"
        )
    );
    let replies = ok(
        &mut owner,
        json!({"op": "response", "correl": "pending-1",
               "request-response": request_response("o/s"),
               "solicit-response": solicit_response("c/s"), "msg": "a"}),
    )
    .await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let response = peer.next_json().await;
    assert_eq!(response["op"], "response", "{response}");
    assert_eq!(response["msg"], "a", "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_cancels_the_systems_subscriptions() {
    let node = TestNode::start().await;
    let mut producer = node.mqtt("producer").await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut producer, &["p/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let (out, inp) = (output_feed("p/s"), input_feed("c/s"));

    // One exact wiring and one remembered wildcard pattern.
    subscribe(&mut consumer, &inp, &[&out, "late*/*/*"]).await;
    publish(&mut producer, &out, json!("before")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(&out, &inp, json!("before"), "ascii")
    );

    stop(&mut consumer, "c/s").await;
    start(&mut consumer, "c/s").await;
    let wiring = ok(&mut producer, json!({"op": "query:service-wiring"})).await;
    assert_eq!(
        wiring[0]["service-wiring"],
        json!([]),
        "wirings after the consumer restarted"
    );
    // A publish reaches nobody, and a feed appearing later is not wired by the old pattern.
    publish(&mut producer, &out, json!("after restart")).await;
    register_systems(&mut producer, &["late1/s"]).await;
    assert_quiet(&mut consumer, "subscriptions cancelled by the stop").await;

    // Subscribing again restores delivery.
    let reply = subscribe(&mut consumer, &inp, &[&out]).await;
    assert_eq!(reply["output-feeds"], json!([out]));
    publish(&mut producer, &out, json!("again")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(&out, &inp, json!("again"), "ascii")
    );
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_system_cannot_be_deregistered() {
    let node = TestNode::start().await;
    let mut owner = node.mqtt("owner").await;
    let mut other = node.mqtt5("other").await;
    run_systems(&mut owner, &["p/s"]).await;

    let deregister = json!({"op": "deregister:system", "id": "p/s"});
    check(&mut owner, deregister.clone(), "2030A").await;
    check(&mut other, deregister.clone(), "2030A").await;
    let mut http = HttpOps::new(node.http());
    check(&mut http, deregister.clone(), "2030A").await;
    assert_eq!(http.last_http_status.map(|s| s.as_u16()), Some(409));
    assert_eq!(state_of(&mut other, "p/s").await, "running");
    // Its platform is still in use too.
    check(
        &mut owner,
        json!({"op": "deregister:platform", "id": "p"}),
        "20308",
    )
    .await;

    stop(&mut owner, "p/s").await;
    ok(&mut other, deregister).await;
    assert!(query(&mut other, "systems", json!({})).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_node_restart_every_system_is_stopped() {
    let node = TestNode::start().await;
    let mut a = node.mqtt("a").await;
    let mut b = node.mqtt5("b").await;
    run_systems(&mut a, &["p/one", "p/two"]).await;
    register_systems(&mut a, &["q/idle"]).await;
    run_systems(&mut b, &["r/s"]).await;
    subscribe(
        &mut b,
        &input_feed("r/s"),
        &[&output_feed("p/one"), "*/*/*"],
    )
    .await;
    a.disconnect().await;
    b.disconnect().await;
    let dir = node.stop().await;

    let node = TestNode::start_in(dir, "testnode").await;
    let mut c = node.mqtt("a").await;
    let systems = query(&mut c, "systems", json!({})).await;
    let states: Vec<(&str, &str)> = systems
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("p/one", "stopped"),
            ("p/two", "stopped"),
            ("q/idle", "stopped"),
            ("r/s", "stopped")
        ]
    );
    let wiring = ok(&mut c, json!({"op": "query:service-wiring"})).await;
    assert_eq!(wiring[0]["service-wiring"], json!([]));

    // Ownership did not survive: anyone may start them now, and old patterns are gone.
    let mut d = node.mqtt5("d").await;
    start(&mut d, "r/s").await;
    start(&mut c, "p/one").await;
    publish(&mut c, &output_feed("p/one"), json!("after restart")).await;
    register_systems(&mut c, &["new/s"]).await;
    assert_quiet(&mut d, "no wiring survives a restart").await;
}
