//! Sessions and ownership across transports (spec §2.1, §2.2, §6.6): the `disconnect` op, the
//! last will of a client whose connection dies (an in-process client whose socket is dropped,
//! and a real external client process killed with SIGKILL), session end without a will and
//! with a clean DISCONNECT, takeover by a new connection with the same client id, and systems
//! owned over HTTP whose deliveries travel over MQTT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

use common::bus::{
    assert_quiet, feed_message, input_feed, listener, next_n, notification, output_feed, publish,
    register_systems, request_response, run_systems, solicit_response, start, state_of, subscribe,
    wait_for_state,
};
use common::check::{check, ok, HttpOps};
use common::mqtt::{in_topic, out_topic, OpClient, Version};
use common::{within, TestNode};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

fn disconnect_will(client_id: &str) -> Vec<u8> {
    json!({"op": "disconnect", "client-id": client_id})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disconnect_op_stops_the_senders_systems_only() {
    let node = TestNode::start().await;
    let mut a = node.mqtt("a").await;
    let mut b = node.mqtt5("b").await;
    run_systems(&mut a, &["a/one", "a/two"]).await;
    run_systems(&mut b, &["b/s"]).await;
    subscribe(&mut b, &input_feed("b/s"), &["a/*/*"]).await;

    // Another client's id: access denied, nothing stopped.
    check(
        &mut b,
        json!({"op": "disconnect", "client-id": "a"}),
        "3050A",
    )
    .await;
    let mut http = HttpOps::new(node.http().with_client_id("b"));
    check(
        &mut http,
        json!({"op": "disconnect", "client-id": "a"}),
        "3050A",
    )
    .await;
    // Missing or ill-typed client-id: validation error.
    for op in [
        json!({"op": "disconnect"}),
        json!({"op": "disconnect", "client-id": null}),
        json!({"op": "disconnect", "client-id": 5}),
        json!({"op": "disconnect", "client-id": ["a"]}),
    ] {
        check(&mut a, op, "1050A").await;
    }
    for id in ["a/one", "a/two", "b/s"] {
        assert_eq!(state_of(&mut b, id).await, "running", "{id}");
    }

    // Its own id: the status only, and every system it owns stops.
    let replies = ok(
        &mut a,
        json!({"op": "disconnect", "correl": "bye", "client-id": "a"}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "bye", "status": "00000", "msg": "OK"})]
    );
    assert_eq!(state_of(&mut b, "a/one").await, "stopped");
    assert_eq!(state_of(&mut b, "a/two").await, "stopped");
    assert_eq!(state_of(&mut b, "b/s").await, "running");
    assert_quiet(&mut b, "a producer's disconnect is not announced").await;

    // The connection stays up; a disconnect with nothing owned succeeds; systems can restart.
    ok(&mut a, json!({"op": "disconnect", "client-id": "a"})).await;
    start(&mut a, "a/one").await;
    publish(&mut a, &output_feed("a/one"), json!("back")).await;
    assert_eq!(
        b.next_json().await,
        feed_message(
            &output_feed("a/one"),
            &input_feed("b/s"),
            json!("back"),
            "ascii"
        )
    );
}

/// The will of a client that owns a running producer fires when its connection dies.
async fn a_dead_clients_will_stops_its_systems(version: Version) {
    let node = TestNode::start().await;
    let port = node.mqtt_port();
    let mut doomed = OpClient::connect_with_will(
        port,
        "testnode",
        "doomed",
        version,
        disconnect_will("doomed"),
    )
    .await;
    let mut consumer = node.mqtt5("consumer").await;
    let mut observer = node.mqtt("observer").await;
    run_systems(&mut doomed, &["d/s", "d/t"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    subscribe(&mut consumer, &input_feed("c/s"), &[&output_feed("d/s")]).await;
    publish(&mut doomed, &output_feed("d/s"), json!("alive")).await;
    assert_eq!(consumer.next_json().await["msg"], "alive");

    doomed.kill().await;
    wait_for_state(&mut observer, "d/s", "stopped").await;
    wait_for_state(&mut observer, "d/t", "stopped").await;
    assert_eq!(state_of(&mut observer, "c/s").await, "running");
    // Nothing false reaches the consumer: its producer stopped, its feed did not disappear.
    assert_quiet(&mut consumer, "a producer's session ended").await;
    assert_quiet(&mut observer, "another client's session ended").await;

    // Ownership is gone: another client may start the system now.
    start(&mut observer, "d/s").await;
    publish(&mut observer, &output_feed("d/s"), json!("new owner")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(
            &output_feed("d/s"),
            &input_feed("c/s"),
            json!("new owner"),
            "ascii"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_v4_clients_will_stops_its_systems() {
    a_dead_clients_will_stops_its_systems(Version::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_v5_clients_will_stops_its_systems() {
    a_dead_clients_will_stops_its_systems(Version::V5).await;
}

/// Starts `mosquitto_sub` as client `client_id` with a disconnect will on its in-topic,
/// subscribed to its out-topic, and waits for its SUBACK. `None` when it (or `stdbuf`) is not
/// installed.
async fn spawn_mosquitto_sub(
    port: u16,
    client_id: &str,
) -> Option<(tokio::process::Child, tokio::task::JoinHandle<Vec<String>>)> {
    let will = String::from_utf8(disconnect_will(client_id)).unwrap();
    // Its output is read through a pipe: `stdbuf` keeps it unbuffered, so the SUBACK line
    // arrives when it happens.
    let spawned = tokio::process::Command::new("stdbuf")
        .args(["-oL", "mosquitto_sub"])
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-V", "mqttv311"])
        .args(["-i", client_id, "-q", "1", "-k", "30", "-d", "-v"])
        .args(["-t", &out_topic("testnode", client_id)])
        .args(["--will-topic", &in_topic("testnode", client_id)])
        .args(["--will-payload", &will, "--will-qos", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("spawn stdbuf mosquitto_sub: {error}"),
    };
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = within("mosquitto_sub output", lines.next_line())
        .await
        .expect("read mosquitto_sub");
    match first {
        // stdbuf found but mosquitto_sub missing: it says so and exits.
        None => return None,
        Some(line) if line.contains("SUBACK") => return Some((child, keep_reading(lines))),
        Some(_) => {}
    }
    within("mosquitto_sub SUBACK", async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read mosquitto_sub")
                .expect("mosquitto_sub exited before its SUBACK");
            if line.contains("SUBACK") {
                return;
            }
        }
    })
    .await;
    Some((child, keep_reading(lines)))
}

/// Keeps reading what a child prints, so it never blocks on a full pipe; returns the lines.
fn keep_reading(
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_client_killed_with_sigkill_has_its_systems_stopped() {
    let node = TestNode::start().await;
    let Some((mut external, output)) = spawn_mosquitto_sub(node.mqtt_port(), "ext").await else {
        common::skip_or_fail("mosquitto_sub or stdbuf is not installed");
        return;
    };
    let mut consumer = node.mqtt5("consumer").await;
    let mut observer = node.mqtt("observer").await;
    // Ownership is by client id: the external client's id starts the system over HTTP.
    let mut http = HttpOps::new(node.http().with_client_id("ext"));
    run_systems(&mut http, &["x/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    subscribe(&mut consumer, &input_feed("c/s"), &[&output_feed("x/s")]).await;
    publish(&mut http, &output_feed("x/s"), json!("from ext")).await;
    assert_eq!(consumer.next_json().await["msg"], "from ext");
    assert_eq!(state_of(&mut observer, "x/s").await, "running");

    // SIGKILL: the process gets no chance to send a DISCONNECT.
    external.start_kill().expect("kill mosquitto_sub");
    within("mosquitto_sub exit", external.wait())
        .await
        .expect("wait");
    wait_for_state(&mut observer, "x/s", "stopped").await;
    assert_eq!(state_of(&mut observer, "c/s").await, "running");
    assert_quiet(&mut consumer, "a producer's session ended").await;
    check(
        &mut http,
        json!({"op": "publish", "output-feed": output_feed("x/s"), "msg": 1}),
        "2060A",
    )
    .await;
    let printed = within("mosquitto_sub output", output).await.unwrap();
    assert!(
        !printed.iter().any(|l| l.contains("\"op\":\"status\"")),
        "HTTP replies are not sent over MQTT: {printed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_runs_as_the_last_op_before_the_systems_stop() {
    let node = TestNode::start().await;
    let will = json!({"op": "publish", "output-feed": output_feed("w/s"), "msg": "last words"});
    let mut dying = OpClient::connect_with_will(
        node.mqtt_port(),
        "testnode",
        "dying",
        Version::V5,
        will.to_string(),
    )
    .await;
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut dying, &["w/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    subscribe(&mut consumer, &input_feed("c/s"), &[&output_feed("w/s")]).await;

    dying.kill().await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(
            &output_feed("w/s"),
            &input_feed("c/s"),
            json!("last words"),
            "ascii"
        )
    );
    wait_for_state(&mut consumer, "w/s", "stopped").await;
    assert_quiet(&mut consumer, "the will runs once").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ending_without_a_will_stops_the_systems() {
    let node = TestNode::start().await;
    let mut observer = node.mqtt("observer").await;
    for (id, version) in [("plain-v4", Version::V4), ("plain-v5", Version::V5)] {
        let mut client = OpClient::connect(node.mqtt_port(), "testnode", id, version).await;
        let system = format!("{id}/s");
        run_systems(&mut client, &[&system]).await;
        client.kill().await;
        wait_for_state(&mut observer, &system, "stopped").await;
    }
    assert_quiet(&mut observer, "other clients' sessions ended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_disconnect_ends_the_session_and_stops_the_systems() {
    let node = TestNode::start().await;
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut consumer, &["c/s"]).await;
    subscribe(&mut consumer, &input_feed("c/s"), &["*/s/*"]).await;
    for (id, version) in [("clean-v4", Version::V4), ("clean-v5", Version::V5)] {
        // A will that would be seen if it ran: a clean DISCONNECT discards it.
        let system = format!("{id}/s");
        let will = json!({"op": "publish", "output-feed": output_feed(&system), "msg": "will"});
        let mut client = OpClient::connect_with_will(
            node.mqtt_port(),
            "testnode",
            id,
            version,
            will.to_string(),
        )
        .await;
        run_systems(&mut client, &[&system]).await;
        let announced = consumer.next_json().await;
        assert_eq!(announced["op"], "subscriptions", "{announced}");
        client.disconnect().await;
        client.closed().await;
        wait_for_state(&mut consumer, &system, "stopped").await;
    }
    assert_quiet(&mut consumer, "no will after a clean DISCONNECT").await;
}

/// Client A owns a running system; B connects with the same client id and takes over.
async fn a_takeover_keeps_the_systems_running(first: Version, second: Version) {
    let node = TestNode::start().await;
    let port = node.mqtt_port();
    let mut a =
        OpClient::connect_with_will(port, "testnode", "dup", first, disconnect_will("dup")).await;
    let mut consumer = node.mqtt5("consumer").await;
    run_systems(&mut a, &["dup/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    subscribe(&mut consumer, &input_feed("c/s"), &[&output_feed("dup/s")]).await;

    let mut b = OpClient::connect(port, "testnode", "dup", second).await;
    a.closed().await;
    // Whatever A's end and A's will would do has had time to happen.
    assert_quiet(&mut consumer, "a takeover is no session end").await;
    assert_eq!(state_of(&mut consumer, "dup/s").await, "running");

    // Ownership is by client id: B acts for the system A started.
    publish(&mut b, &output_feed("dup/s"), json!("from b")).await;
    assert_eq!(
        consumer.next_json().await,
        feed_message(
            &output_feed("dup/s"),
            &input_feed("c/s"),
            json!("from b"),
            "ascii"
        )
    );
    check(
        &mut consumer,
        json!({"op": "state:system", "id": "dup/s", "state": "stopped"}),
        "3050A",
    )
    .await;
    assert_eq!(state_of(&mut b, "dup/s").await, "running");

    // B's own end does stop it.
    b.kill().await;
    wait_for_state(&mut consumer, "dup/s", "stopped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v4_takeover_keeps_the_systems_running() {
    a_takeover_keeps_the_systems_running(Version::V4, Version::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_takeover_keeps_the_systems_running() {
    a_takeover_keeps_the_systems_running(Version::V5, Version::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_client_owns_systems_and_publishes() {
    let node = TestNode::start().await;
    let mut h1 = HttpOps::new(node.http().with_client_id("h1"));
    let mut consumer = node.mqtt("consumer").await;
    run_systems(&mut h1, &["h/s"]).await;
    run_systems(&mut consumer, &["c/s"]).await;
    let replies = ok(&mut consumer, json!({"op": "query:systems", "id": "h/s"})).await;
    assert_eq!(replies[0]["systems"][0]["state"], "running");
    subscribe(&mut consumer, &input_feed("c/s"), &[&output_feed("h/s")]).await;

    let replies = ok(
        &mut h1,
        json!({"op": "publish", "correl": "hp", "output-feed": output_feed("h/s"),
               "msg": {"via": "http"}}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "hp", "status": "00000", "msg": "OK"})]
    );
    assert_eq!(h1.last_http_status.map(|s| s.as_u16()), Some(200));
    // The HTTP-caused delivery reaches the MQTT-owned consumer.
    assert_eq!(
        consumer.next_json().await,
        feed_message(
            &output_feed("h/s"),
            &input_feed("c/s"),
            json!({"via": "http"}),
            "ascii"
        )
    );

    // Another HTTP identity is not the owner; HTTP requests end no session.
    let mut h2 = HttpOps::new(node.http().with_client_id("h2"));
    check(
        &mut h2,
        json!({"op": "publish", "output-feed": output_feed("h/s"), "msg": 1}),
        "3060A",
    )
    .await;
    let mut anonymous = HttpOps::new(node.http());
    check(
        &mut anonymous,
        json!({"op": "state:system", "id": "h/s", "state": "stopped"}),
        "3050A",
    )
    .await;
    assert_eq!(state_of(&mut consumer, "h/s").await, "running");
    publish(&mut h1, &output_feed("h/s"), json!(2)).await;
    assert_eq!(consumer.next_json().await["msg"], 2);
    assert_quiet(&mut consumer, "one message per publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_for_systems_owned_over_http_arrive_over_mqtt() {
    let node = TestNode::start().await;
    // An MQTT client with the HTTP client's id listens on that id's out-topic.
    let mut h1_mqtt = node.mqtt5("h1").await;
    let mut h1 = HttpOps::new(node.http().with_client_id("h1"));
    let mut producer = node.mqtt("producer").await;
    run_systems(&mut h1, &["h/s"]).await;
    run_systems(&mut producer, &["p/s"]).await;

    // Subscribing over HTTP: the replies come in the HTTP body.
    let replies = ok(
        &mut h1,
        json!({"op": "subscribe", "correl": "hs", "output-feeds": [output_feed("p/s")],
               "input-feed": input_feed("h/s")}),
    )
    .await;
    assert_eq!(
        replies[0],
        json!({"op": "subscriptions", "correl": "hs", "output-feeds": [output_feed("p/s")],
               "input-feed": input_feed("h/s")})
    );
    // Feed messages, notifications and requests for h1's systems go to h1's MQTT out-topic.
    publish(&mut producer, &output_feed("p/s"), json!("feed")).await;
    ok(
        &mut producer,
        json!({"op": "notify", "notification": notification("p/s"),
               "listener": [listener("h/s")], "msg": "note"}),
    )
    .await;
    ok(
        &mut producer,
        json!({"op": "request", "correl": "hq", "solicit-response": solicit_response("p/s"),
               "request-response": [request_response("h/s")], "msg": "ask"}),
    )
    .await;
    let got: Vec<Value> = next_n(&mut h1_mqtt, 3).await;
    assert_eq!(
        got,
        [
            feed_message(
                &output_feed("p/s"),
                &input_feed("h/s"),
                json!("feed"),
                "ascii"
            ),
            json!({"op": "notification", "notification": notification("p/s"),
                   "listener": listener("h/s"), "msg": "note", "encoding": "ascii"}),
            json!({"op": "request", "correl": "hq", "solicit-response": solicit_response("p/s"),
                   "request-response": request_response("h/s"), "msg": "ask",
                   "encoding": "ascii"}),
        ]
    );
    // The HTTP client answers; the response reaches the MQTT requester.
    ok(
        &mut h1,
        json!({"op": "response", "correl": "hq", "request-response": request_response("h/s"),
               "solicit-response": solicit_response("p/s"), "msg": "answer"}),
    )
    .await;
    assert_eq!(
        producer.next_json().await,
        json!({"op": "response", "correl": "hq", "request-response": request_response("h/s"),
               "solicit-response": solicit_response("p/s"), "msg": "answer",
               "encoding": "ascii"})
    );
    // HTTP replies stay in the HTTP body: none of them arrived over MQTT.
    assert_quiet(&mut h1_mqtt, "only deliveries, never HTTP replies").await;
    assert_quiet(&mut producer, "one response").await;

    // A system h1 owns over HTTP that publishes to an MQTT client's consumer.
    register_systems(&mut producer, &["q/s"]).await;
    start(&mut producer, "q/s").await;
    subscribe(&mut producer, &input_feed("q/s"), &[&output_feed("h/s")]).await;
    publish(&mut h1, &output_feed("h/s"), json!("to mqtt")).await;
    assert_eq!(
        producer.next_json().await,
        feed_message(
            &output_feed("h/s"),
            &input_feed("q/s"),
            json!("to mqtt"),
            "ascii"
        )
    );
    assert_quiet(
        &mut h1_mqtt,
        "the producer's deliveries go to its consumer's owner",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_acts_with_the_dead_clients_identity_only() {
    let node = TestNode::start().await;
    let port = node.mqtt_port();
    let mut victim = node.mqtt("victim").await;
    let mut observer = node.mqtt5("observer").await;
    run_systems(&mut victim, &["v/s"]).await;

    // A will that disconnects another client is refused like the op; its own systems still
    // stop because its session ended. A will that is not JSON changes nothing else either.
    for (id, will) in [
        ("rogue", disconnect_will("victim")),
        ("garbled", b"{not json".to_vec()),
        ("empty", Vec::new()),
    ] {
        let mut client = OpClient::connect_with_will(port, "testnode", id, Version::V4, will).await;
        let system = format!("{id}/s");
        run_systems(&mut client, &[&system]).await;
        client.kill().await;
        wait_for_state(&mut observer, &system, "stopped").await;
        assert_eq!(
            state_of(&mut observer, "v/s").await,
            "running",
            "after {id}"
        );
    }
    assert_quiet(&mut victim, "another client's will").await;
    assert_quiet(&mut observer, "another client's will").await;
    publish(&mut victim, &output_feed("v/s"), json!("still mine")).await;
}
