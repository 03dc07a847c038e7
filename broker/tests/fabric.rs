//! The fabric topics: in-topic messages reach the Inbox, replies reach the own out-topic, and no
//! client can publish or subscribe for another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::*;
use rumqttc::{QoS, SubscribeReasonCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_topic_reaches_inbox_and_reply_reaches_own_out_topic_at_qos1() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let mut c1 = C4::connect(addr, "c1").await;
    let session = opened(&mut inbox, "c1").await;

    let codes = c1.subscribe(&out_topic("c1"), QoS::AtLeastOnce).await;
    assert_eq!(codes, vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]);

    c1.send(
        &in_topic("c1"),
        QoS::AtLeastOnce,
        r#"{"op":"query:local-node"}"#,
    )
    .await;
    let (cid, s, payload) = message(&mut inbox).await;
    assert_eq!((cid.as_str(), s), ("c1", session));
    assert_eq!(&payload[..], br#"{"op":"query:local-node"}"#);

    for i in 0..3 {
        broker
            .publisher()
            .send_to_client("c1", Bytes::from(format!("reply {i}")))
            .unwrap();
    }
    for i in 0..3 {
        let p = c1.publish().await;
        assert_eq!(p.topic, out_topic("c1"));
        assert_eq!(p.qos, QoS::AtLeastOnce);
        assert!(!p.retain);
        assert_eq!(&p.payload[..], format!("reply {i}").as_bytes());
    }

    // QoS 0 and QoS 2 in-topic publishes reach the inbox once each, in order.
    c1.send(&in_topic("c1"), QoS::AtMostOnce, "zero").await;
    c1.send(&in_topic("c1"), QoS::ExactlyOnce, "two").await;
    assert_eq!(&message(&mut inbox).await.2[..], b"zero");
    assert_eq!(&message(&mut inbox).await.2[..], b"two");
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_works_from_a_plain_thread() {
    let (broker, mut inbox) = start().await;
    let mut c1 = C4::connect(broker.local_addr(), "c1").await;
    opened(&mut inbox, "c1").await;
    c1.subscribe(&out_topic("c1"), QoS::AtLeastOnce).await;
    let publisher = broker.publisher();
    // Well past the router's 200 pending notifications, so `Unschedule` must be answered.
    std::thread::spawn(move || {
        for i in 0..2000 {
            publisher
                .send_to_client("c1", Bytes::from(i.to_string()))
                .unwrap();
        }
    })
    .join()
    .unwrap();
    for i in 0..2000 {
        assert_eq!(&c1.publish().await.payload[..], i.to_string().as_bytes());
    }
    assert!(broker
        .publisher()
        .send_to_client("a/b", Bytes::new())
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofing_gets_nothing_through() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let mut victim = C4::connect(addr, "victim").await;
    opened(&mut inbox, "victim").await;
    victim
        .subscribe(&out_topic("victim"), QoS::AtLeastOnce)
        .await;
    let mut evil = C4::connect(addr, "evil").await;
    opened(&mut inbox, "evil").await;

    // Subscriptions for someone else's out-topic, other $ topics and fabric wildcards fail;
    // a plain "#" and "+/#" are accepted but must never see $ topics.
    for f in [
        out_topic("victim"),
        "$fabric/n1/$adapters/$mqtt/$out/+".into(),
        "$fabric/#".into(),
        "$SYS/#".into(),
    ] {
        assert_eq!(
            evil.subscribe(&f, QoS::AtLeastOnce).await,
            vec![SubscribeReasonCode::Failure],
            "{f}"
        );
    }
    assert_eq!(
        evil.subscribe("#", QoS::AtLeastOnce).await,
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    assert_eq!(
        evil.subscribe("+/#", QoS::AtMostOnce).await,
        vec![SubscribeReasonCode::Success(QoS::AtMostOnce)]
    );

    // Publishing on the victim's in-topic or any out-topic or $SYS is dropped (acks still come).
    evil.send(&in_topic("victim"), QoS::AtLeastOnce, "spoofed op")
        .await;
    evil.send(&out_topic("victim"), QoS::AtLeastOnce, "spoofed reply")
        .await;
    evil.send(&out_topic("evil"), QoS::AtMostOnce, "own out")
        .await;
    evil.send("$SYS/x", QoS::AtLeastOnce, "sys").await;
    evil.send(&in_topic("evil"), QoS::AtLeastOnce, "marker")
        .await;
    let (cid, _, payload) = message(&mut inbox).await;
    assert_eq!((cid.as_str(), &payload[..]), ("evil", &b"marker"[..]));
    victim.no_publish().await;

    // A real reply reaches the victim only.
    broker
        .publisher()
        .send_to_client("victim", Bytes::from_static(b"for you"))
        .unwrap();
    assert_eq!(&victim.publish().await.payload[..], b"for you");
    evil.no_publish().await;
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_refusals_carry_not_authorized() {
    use rumqttc::v5::mqttbytes::v5::{PubAckReason, SubscribeReasonCode as S5};
    use rumqttc::v5::mqttbytes::QoS as Q5;
    let (broker, mut inbox) = start().await;
    let (mut c, _) = C5::connect(broker.local_addr(), "v5c").await;
    opened(&mut inbox, "v5c").await;
    assert_eq!(
        c.subscribe(&out_topic("other"), Q5::AtLeastOnce).await,
        vec![S5::NotAuthorized]
    );
    assert_eq!(
        c.subscribe("$SYS/#", Q5::AtLeastOnce).await,
        vec![S5::NotAuthorized]
    );
    c.client
        .publish(in_topic("other"), Q5::AtLeastOnce, false, "x")
        .await
        .unwrap();
    match c.incoming(|p| matches!(p, P5::PubAck(_))).await {
        P5::PubAck(a) => assert_eq!(a.reason, PubAckReason::NotAuthorized),
        _ => unreachable!(),
    }
    // Mixed SUBSCRIBE: the refused filter keeps its position in the SUBACK.
    let filters = vec![
        rumqttc::v5::mqttbytes::v5::Filter::new("a/b", Q5::AtMostOnce),
        rumqttc::v5::mqttbytes::v5::Filter::new(out_topic("other"), Q5::AtLeastOnce),
        rumqttc::v5::mqttbytes::v5::Filter::new(out_topic("v5c"), Q5::AtLeastOnce),
    ];
    c.client.subscribe_many(filters).await.unwrap();
    match c.incoming(|p| matches!(p, P5::SubAck(_))).await {
        P5::SubAck(s) => assert_eq!(
            s.return_codes,
            vec![
                S5::Success(Q5::AtMostOnce),
                S5::NotAuthorized,
                S5::Success(Q5::AtLeastOnce)
            ]
        ),
        _ => unreachable!(),
    }
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_client_id_gets_an_assigned_id_usable_for_fabric_topics() {
    use rumqttc::v5::mqttbytes::QoS as Q5;
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();

    let (mut c, ack) = C5::connect(addr, "").await;
    let id = ack
        .properties
        .and_then(|p| p.assigned_client_identifier)
        .expect("assigned id");
    assert!(id.starts_with("nodebus-"), "{id}");
    opened(&mut inbox, &id).await;
    c.subscribe(&out_topic(&id), Q5::AtLeastOnce).await;
    c.client
        .publish(in_topic(&id), Q5::AtLeastOnce, false, "hi")
        .await
        .unwrap();
    let (cid, _, payload) = message(&mut inbox).await;
    assert_eq!((cid.as_str(), &payload[..]), (id.as_str(), &b"hi"[..]));
    broker
        .publisher()
        .send_to_client(&id, Bytes::from_static(b"back"))
        .unwrap();
    assert_eq!(&c.publish().await.payload[..], b"back");

    // v3.1.1: allowed with a clean session (id known only through Opened), refused without.
    let _c4 = C4::connect(addr, "").await;
    match next_inbound(&mut inbox).await {
        nodebus_broker::Inbound::Opened { client_id, .. } => {
            assert!(client_id.starts_with("nodebus-"))
        }
        other => panic!("{other:?}"),
    }
    let mut connect = connect_packet("", 30);
    connect.clean_session = false;
    let (_raw, code) = Raw::connect(addr, connect).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::BadClientId));
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_application_backpressures_the_client_without_loss() {
    let (broker, mut inbox) = start_with(|c| c.inbox_capacity = 4).await;
    let c = C4::connect(broker.local_addr(), "fast").await;
    opened(&mut inbox, "fast").await;
    let sender = tokio::spawn(async move {
        for i in 0..300 {
            c.send(&in_topic("fast"), QoS::AtLeastOnce, i.to_string())
                .await;
        }
        c
    });
    for i in 0..300 {
        if i % 50 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(&message(&mut inbox).await.2[..], i.to_string().as_bytes());
    }
    let _c = tokio::time::timeout(WAIT, sender).await.unwrap().unwrap();
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_request_and_reply_do_not_stall_on_nagle() {
    let (broker, mut inbox) = start().await;
    let mut c = C4::connect(broker.local_addr(), "fastrt").await;
    opened(&mut inbox, "fastrt").await;
    c.subscribe(&out_topic("fastrt"), QoS::AtLeastOnce).await;
    let publisher = broker.publisher();
    tokio::spawn(async move {
        while let Some(nodebus_broker::Inbound::Message {
            client_id, payload, ..
        }) = inbox.recv().await
        {
            publisher.send_to_client(&client_id, payload).unwrap();
        }
    });
    let mut times = Vec::new();
    for i in 0..40 {
        let t = std::time::Instant::now();
        c.send(&in_topic("fastrt"), QoS::AtLeastOnce, i.to_string())
            .await;
        assert_eq!(&c.publish().await.payload[..], i.to_string().as_bytes());
        times.push(t.elapsed());
    }
    times.sort();
    // A Nagle stall (PUBACK then reply in two writes) costs about 40 ms on every round trip.
    assert!(
        times[20] < std::time::Duration::from_millis(20),
        "median {:?}",
        times[20]
    );
}
