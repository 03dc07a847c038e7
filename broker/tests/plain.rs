//! Ordinary topics between ordinary clients, MQTT 3.1.1 and 5 on one port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use rumqttc::{QoS, SubscribeReasonCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_pub_sub_wildcards_and_retained() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let mut sub = C4::connect(addr, "sub").await;
    let publ = C4::connect(addr, "pub").await;
    assert_eq!(
        sub.subscribe("sensors/+/temp", QoS::AtLeastOnce).await,
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    sub.subscribe("exact/topic", QoS::AtMostOnce).await;

    publ.send("sensors/s1/temp", QoS::AtLeastOnce, "21.5").await;
    let p = sub.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("sensors/s1/temp", &b"21.5"[..], QoS::AtLeastOnce)
    );
    publ.send("exact/topic", QoS::AtMostOnce, "x").await;
    let p = sub.publish().await;
    assert_eq!((p.topic.as_str(), p.qos), ("exact/topic", QoS::AtMostOnce));
    publ.send("sensors/s9/temp", QoS::ExactlyOnce, "qos2").await;
    let p = sub.publish().await;
    assert_eq!((&p.payload[..], p.qos), (&b"qos2"[..], QoS::AtLeastOnce));
    publ.send("sensors/s1/humidity", QoS::AtLeastOnce, "no")
        .await;
    sub.no_publish().await;

    // Retained: a later subscriber gets the last retained value.
    publ.client
        .publish("status/p1", QoS::AtLeastOnce, true, "online")
        .await
        .unwrap();
    let mut late = C4::connect(addr, "late").await;
    late.subscribe("status/#", QoS::AtLeastOnce).await;
    let p = late.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.retain),
        ("status/p1", &b"online"[..], true)
    );

    // UNSUBSCRIBE is answered even for a filter that was never subscribed.
    sub.client.unsubscribe("never/subscribed").await.unwrap();
    sub.client.unsubscribe("sensors/+/temp").await.unwrap();
    let mut unsubacks = 0;
    while unsubacks < 2 {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::UnsubAck(_))) = sub.next().await {
            unsubacks += 1;
        }
    }
    publ.send("sensors/s2/temp", QoS::AtLeastOnce, "gone").await;
    sub.no_publish().await;

    // Opened events only: ordinary traffic never reaches the inbox.
    for _ in 0..3 {
        assert!(matches!(
            next_inbound(&mut inbox).await,
            nodebus_broker::Inbound::Opened { .. }
        ));
    }
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_and_v5_mixed_on_one_port_with_properties() {
    use rumqttc::v5::mqttbytes::v5::PublishProperties;
    use rumqttc::v5::mqttbytes::QoS as Q5;
    let (broker, _inbox) = start().await;
    let addr = broker.local_addr();
    let mut v4 = C4::connect(addr, "old").await;
    v4.subscribe("mixed/#", QoS::AtLeastOnce).await;
    let (mut v5, _) = C5::connect(addr, "new").await;
    v5.subscribe("mixed/#", Q5::AtLeastOnce).await;

    let props = PublishProperties {
        user_properties: vec![("k".into(), "v".into())],
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    v5.client
        .publish_with_properties("mixed/a", Q5::AtLeastOnce, false, "with props", props)
        .await
        .unwrap();
    let p = v4.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("mixed/a", &b"with props"[..])
    );
    let p = v5.publish().await;
    let props = p.properties.expect("v5 subscriber keeps the properties");
    assert_eq!(
        props.user_properties,
        vec![("k".to_string(), "v".to_string())]
    );

    // The v3.1.1 client survived and still works both ways.
    v4.send("mixed/b", QoS::AtLeastOnce, "from v4").await;
    assert_eq!(&v4.publish().await.payload[..], b"from v4");
    assert_eq!(&v5.publish().await.payload[..], b"from v4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_plain_message_larger_than_a_router_segment_is_delivered() {
    let (broker, _inbox) = start().await;
    let addr = broker.local_addr();
    let mut sub = C4::connect(addr, "bigsub").await;
    sub.subscribe("big", QoS::AtLeastOnce).await;
    let publ = C4::connect(addr, "bigpub").await;
    let payload: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    publ.send("big", QoS::AtLeastOnce, payload.clone()).await;
    publ.send("big", QoS::AtLeastOnce, "small after").await;
    assert_eq!(sub.publish().await.payload.len(), payload.len());
    assert_eq!(&sub.publish().await.payload[..], b"small after");
}
