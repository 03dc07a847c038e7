//! Topic isolation on the embedded broker (spec §2.1): a client can only send ops on its own
//! in-topic, nobody can publish on out-topics or read another client's replies, and ordinary
//! MQTT topics outside `$fabric/` behave as on any broker, for 3.1.1 and 5 clients alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::check::{ok, query, query_keys};
use common::mqtt::{in_topic, out_topic, OpClient, Version};
use common::TestNode;
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_on_another_clients_in_topic_is_not_processed() {
    let node = TestNode::start().await;
    for (alice_version, bob_version) in [(Version::V4, Version::V5), (Version::V5, Version::V4)] {
        let alice_id = format!("alice-{alice_version:?}");
        let bob_id = format!("bob-{bob_version:?}");
        let mut alice =
            OpClient::connect(node.mqtt_port(), "testnode", &alice_id, alice_version).await;
        let mut bob = OpClient::connect(node.mqtt_port(), "testnode", &bob_id, bob_version).await;
        let spoof_id = format!("spoofed-by-{alice_id}");

        let op = json!({"op": "register:platform", "id": spoof_id, "type": "app",
                        "correl": "spoof"});
        alice
            .publish(&in_topic("testnode", &bob_id), op.to_string())
            .await;
        // The same op with an in-topic of an unknown client, and of the node itself.
        alice
            .publish(&in_topic("testnode", "nobody"), op.to_string())
            .await;
        alice
            .publish("$fabric/testnode/$adapters/$mqtt/$in", op.to_string())
            .await;
        // Its own client id under another node id, or with an extra level.
        alice
            .publish(&in_topic("othernode", &alice_id), op.to_string())
            .await;
        alice
            .publish(
                &format!("{}/extra", in_topic("testnode", &alice_id)),
                op.to_string(),
            )
            .await;

        let got = alice.drain(QUIET).await;
        assert!(got.is_empty(), "the spoofer got {got:?}");
        let got = bob.drain(QUIET).await;
        assert!(got.is_empty(), "the victim got {got:?}");
        // Bob's next op is handled after anything that arrived before it.
        assert!(
            query(&mut bob, "platforms", json!({"id": spoof_id}))
                .await
                .is_empty(),
            "the spoofed op was processed"
        );
        assert!(query(&mut bob, "platforms", json!({})).await.is_empty());
        assert!(bob.drain(QUIET).await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_on_an_out_topic_is_ignored() {
    let node = TestNode::start().await;
    let mut alice = node.mqtt("alice").await;
    let mut bob = node.mqtt5("bob").await;
    let fake = json!({"op": "status", "correl": "bob-1", "status": "00000", "msg": "OK"});

    alice
        .publish(&out_topic("testnode", "bob"), fake.to_string())
        .await;
    alice
        .publish(&out_topic("testnode", "alice"), fake.to_string())
        .await;
    bob.publish(&out_topic("testnode", "bob"), fake.to_string())
        .await;
    bob.publish(&out_topic("testnode", "alice"), fake.to_string())
        .await;

    let got = bob.drain(QUIET).await;
    assert!(got.is_empty(), "bob got a forged message: {got:?}");
    let got = alice.drain(QUIET).await;
    assert!(got.is_empty(), "alice got a forged message: {got:?}");

    // Both still work, and the forged status did not satisfy a real request.
    let replies = ok(
        &mut bob,
        json!({"op": "query:local-node", "correl": "bob-1"}),
    )
    .await;
    assert_eq!(replies[0]["id"], "testnode");
    let replies = ok(&mut alice, json!({"op": "query:local-node"})).await;
    assert_eq!(replies[0]["id"], "testnode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_reads_another_clients_replies() {
    let node = TestNode::start().await;
    let mut bob = node.mqtt("bob").await;
    let mut eve4 = OpClient::connect_raw(node.mqtt_port(), "eve4", Version::V4, None).await;
    let mut eve5 = OpClient::connect_raw(node.mqtt_port(), "eve5", Version::V5, None).await;
    eve4.subscribe(&out_topic("testnode", "bob")).await;
    eve5.subscribe(&out_topic("testnode", "bob")).await;
    let mut eve_plus = OpClient::connect_raw(node.mqtt_port(), "eve-plus", Version::V5, None).await;
    eve_plus
        .subscribe("$fabric/testnode/$adapters/$mqtt/$out/+")
        .await;

    ok(
        &mut bob,
        json!({"op": "register:platform", "id": "secret", "type": "app"}),
    )
    .await;
    assert_eq!(
        query_keys(&mut bob, "platforms", json!({})).await,
        ["secret"]
    );

    for (name, eve) in [
        ("eve4", &mut eve4),
        ("eve5", &mut eve5),
        ("eve-plus", &mut eve_plus),
    ] {
        let got = eve.drain(QUIET).await;
        assert!(got.is_empty(), "{name} read bob's replies: {got:?}");
    }
    assert!(
        bob.drain(QUIET).await.is_empty(),
        "bob got exactly his replies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_subscriber_sees_no_fabric_traffic() {
    let node = TestNode::start().await;
    let mut all4 = OpClient::connect_raw(node.mqtt_port(), "all4", Version::V4, None).await;
    all4.subscribe("#").await;
    let mut all5 = OpClient::connect_raw(node.mqtt_port(), "all5", Version::V5, None).await;
    all5.subscribe("#").await;

    let mut bob = node.mqtt5("bob").await;
    ok(
        &mut bob,
        json!({"op": "register:platform", "id": "p", "type": "app"}),
    )
    .await;
    let mut carol = node.mqtt("carol").await;
    query(&mut carol, "platforms", json!({})).await;
    bob.publish("plain/topic", "hello").await;

    for (name, client) in [("all4", &mut all4), ("all5", &mut all5)] {
        let first = client.next_message().await;
        let mut got = vec![first];
        got.extend(client.drain(QUIET).await);
        let topics: Vec<&str> = got.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            ["plain/topic"],
            "{name} saw only the ordinary message"
        );
        assert_eq!(&got[0].payload[..], b"hello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fabric_wildcard_subscribers_see_nothing_of_other_clients() {
    let node = TestNode::start().await;
    let mut snoop = OpClient::connect_raw(node.mqtt_port(), "snoop", Version::V5, None).await;
    snoop.subscribe("$fabric/#").await;
    let mut snoop4 = OpClient::connect_raw(node.mqtt_port(), "snoop4", Version::V4, None).await;
    snoop4.subscribe("$fabric/+/$adapters/$mqtt/#").await;

    let mut bob = node.mqtt("bob").await;
    ok(
        &mut bob,
        json!({"op": "register:platform", "id": "p", "type": "app"}),
    )
    .await;
    query(&mut bob, "platforms", json!({})).await;

    for (name, client) in [("snoop", &mut snoop), ("snoop4", &mut snoop4)] {
        let got = client.drain(QUIET).await;
        assert!(
            got.is_empty(),
            "{name} saw bob's traffic: {:?}",
            got.iter().map(|m| &m.topic).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_topics_work_between_ordinary_clients() {
    let node = TestNode::start().await;
    let port = node.mqtt_port();
    let publisher = OpClient::connect_raw(port, "sensor", Version::V5, None).await;
    let mut plus = OpClient::connect_raw(port, "plus", Version::V4, None).await;
    plus.subscribe("sensors/+/temp").await;
    let mut hash = OpClient::connect_raw(port, "hash", Version::V5, None).await;
    hash.subscribe("sensors/#").await;

    publisher.publish("sensors/room1/temp", "21.5").await;
    let m = plus.next_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("sensors/room1/temp", &b"21.5"[..])
    );
    let m = hash.next_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("sensors/room1/temp", &b"21.5"[..])
    );

    publisher
        .publish("sensors/room1/humidity", vec![0u8, 1, 255])
        .await;
    let m = hash.next_message().await;
    assert_eq!(m.topic, "sensors/room1/humidity");
    assert_eq!(
        &m.payload[..],
        &[0u8, 1, 255][..],
        "binary payloads pass unchanged"
    );
    assert!(
        plus.drain(QUIET).await.is_empty(),
        "+ matches one level only"
    );

    // A 3.1.1 publisher reaches a 5 subscriber and the other way round.
    plus.publish("sensors/room9/temp", "from v4").await;
    let m = hash.next_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("sensors/room9/temp", &b"from v4"[..])
    );
    let m = plus.next_message().await;
    assert_eq!(m.topic, "sensors/room9/temp");

    // Retained messages reach later subscribers.
    publisher
        .publish_retained("sensors/room2/temp", "19.0")
        .await;
    assert_eq!(hash.next_message().await.topic, "sensors/room2/temp");
    assert_eq!(plus.next_message().await.topic, "sensors/room2/temp");
    for version in [Version::V4, Version::V5] {
        let mut late =
            OpClient::connect_raw(port, &format!("late-{version:?}"), version, None).await;
        late.subscribe("sensors/room2/+").await;
        let m = late.next_message().await;
        assert_eq!(
            (m.topic.as_str(), &m.payload[..]),
            ("sensors/room2/temp", &b"19.0"[..])
        );
        assert!(late.drain(QUIET).await.is_empty());
    }

    // Ops are not disturbed by ordinary traffic on the same connection.
    let mut op_client = node.mqtt5("op-client").await;
    op_client.subscribe("sensors/#").await;
    let m = op_client.next_message().await;
    assert_eq!(
        m.topic, "sensors/room2/temp",
        "retained message for the op client"
    );
    ok(
        &mut op_client,
        json!({"op": "register:platform", "id": "p", "type": "app"}),
    )
    .await;
    publisher.publish("sensors/room3/temp", "22").await;
    let m = op_client.next_message().await;
    assert_eq!(m.topic, "sensors/room3/temp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_not_retained() {
    let node = TestNode::start().await;
    let mut c = node.mqtt("once").await;
    ok(&mut c, json!({"op": "query:local-node"})).await;
    c.disconnect().await;
    c.closed().await;
    for version in [Version::V4, Version::V5] {
        let mut again = OpClient::connect(node.mqtt_port(), "testnode", "once", version).await;
        let got = again.drain(QUIET).await;
        assert!(got.is_empty(), "a reply was retained: {got:?}");
        again.disconnect().await;
        again.closed().await;
    }
}
