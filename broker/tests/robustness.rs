//! Bad clients never hurt good ones: refused ids, resets, junk, oversized packets, churn,
//! connection limits, and a bind failure reported by `start`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use nodebus_broker::{Broker, BrokerConfig, BrokerError, Inbound};
use rumqttc::QoS;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_ids_are_refused_with_connack_and_the_listener_keeps_working() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let long = "x".repeat(257);
    for id in [
        "a/b",
        "a+b",
        "#",
        "a*b",
        "$dollar",
        "tab\tid",
        long.as_str(),
        "nodebus-local-0",
    ] {
        for _ in 0..2 {
            let (_raw, code) = Raw::connect(addr, connect_packet(id, 30)).await;
            assert_eq!(code, Some(m4::ConnectReturnCode::BadClientId), "{id:?}");
        }
    }
    // v5: 0x85 "client identifier not valid".
    let mut raw = Raw::open(addr).await;
    let mut out = bytes::BytesMut::new();
    let connect = rumqttc::v5::mqttbytes::v5::Connect {
        keep_alive: 30,
        client_id: "bad/v5".into(),
        clean_start: true,
        properties: None,
    };
    rumqttc::v5::mqttbytes::v5::Packet::Connect(connect, None, None)
        .write(&mut out, None)
        .unwrap();
    raw.send_bytes(&out).await;
    let bytes = raw.read_to_close().await;
    assert_eq!(bytes.get(..2), Some(&[0x20u8, 0x03][..]), "{bytes:?}");
    assert_eq!(bytes.get(3), Some(&0x85));

    let mut good = C4::connect(addr, "good").await;
    opened(&mut inbox, "good").await;
    good.send(&in_topic("good"), QoS::AtLeastOnce, "ok").await;
    assert_eq!(message(&mut inbox).await.0, "good");
    good.puback().await;
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_junk_and_old_protocols_do_not_poison_a_client_id() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();

    // CONNECT then an immediate TCP reset, twice.
    for _ in 0..2 {
        let mut raw = Raw::open(addr).await;
        raw.send(m4::Packet::Connect(connect_packet("same", 30)))
            .await;
        // SO_LINGER 0 makes the close a TCP reset (blocking on drop is no concern here).
        #[allow(deprecated)]
        raw.stream.set_linger(Some(Duration::ZERO)).unwrap();
        drop(raw);
    }
    // Junk, a truncated CONNECT, an HTTP request.
    for junk in [
        &b"\xff\xff\xff\xff\xff"[..],
        &b"\x10\x20\x00\x04MQ"[..],
        &b"GET / HTTP/1.1\r\n\r\n"[..],
    ] {
        let mut raw = Raw::open(addr).await;
        raw.send_bytes(junk).await;
        raw.stream.shutdown().await.ok();
        drop(raw);
    }
    // MQTT 3.1 (MQIsdp, level 3) gets CONNACK "unacceptable protocol version".
    let mut raw = Raw::open(addr).await;
    let mut connect = vec![0x10, 0, 0, 6];
    connect.extend_from_slice(b"MQIsdp");
    connect.extend_from_slice(&[3, 0x02, 0, 30, 0, 4]);
    connect.extend_from_slice(b"same");
    connect[1] = (connect.len() - 2) as u8;
    raw.send_bytes(&connect).await;
    assert_eq!(raw.read_to_close().await, vec![0x20, 0x02, 0x00, 0x01]);
    // A good CONNECT followed by garbage.
    let (mut raw, code) = Raw::connect(addr, connect_packet("same", 30)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::Success));
    raw.send_bytes(b"\x00\x00\x00").await;
    assert!(raw.read().await.is_none());

    // The same id still connects and works.
    let mut c = C4::connect(addr, "same").await;
    c.subscribe(&out_topic("same"), QoS::AtLeastOnce).await;
    broker
        .publisher()
        .send_to_client("same", bytes::Bytes::from_static(b"hello"))
        .unwrap();
    assert_eq!(&c.publish().await.payload[..], b"hello");
    c.send(&in_topic("same"), QoS::AtLeastOnce, "op").await;
    loop {
        if let Inbound::Message {
            client_id, payload, ..
        } = next_inbound(&mut inbox).await
        {
            assert_eq!((&*client_id, &payload[..]), ("same", &b"op"[..]));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_packet_closes_only_that_connection_and_big_ops_up_to_the_limit_arrive() {
    let (broker, mut inbox) = start_with(|c| c.max_packet_bytes = 2 << 20).await;
    let addr = broker.local_addr();
    let mut bystander = C4::connect(addr, "bystander").await;
    opened(&mut inbox, "bystander").await;

    let mut big = C4::connect(addr, "big").await;
    opened(&mut inbox, "big").await;
    let op: Vec<u8> = (0..(3 << 19)).map(|i| (i % 253) as u8).collect(); // 1.5 MiB
    big.send(&in_topic("big"), QoS::AtLeastOnce, op.clone())
        .await;
    let (cid, _, payload) = message(&mut inbox).await;
    assert_eq!(cid, "big");
    assert!(payload[..] == op[..], "payload intact");
    big.puback().await;

    big.send(&in_topic("big"), QoS::AtLeastOnce, vec![0u8; 3 << 20])
        .await;
    let (cid, _, clean, _, _) = closed(&mut inbox).await;
    assert_eq!((cid.as_str(), clean), ("big", false));

    bystander
        .send(&in_topic("bystander"), QoS::AtLeastOnce, "still fine")
        .await;
    assert_eq!(&message(&mut inbox).await.2[..], b"still fine");
    bystander.puback().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_has_no_spurious_closes() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    const CLIENTS: usize = 500;
    const AT_ONCE: usize = 50;
    let collector = tokio::spawn(async move {
        let (mut opened, mut messages, mut clean, mut unclean) = (0, 0, 0, 0);
        while clean + unclean < CLIENTS {
            match tokio::time::timeout(Duration::from_secs(60), inbox.recv()).await {
                Ok(Some(Inbound::Opened { .. })) => opened += 1,
                Ok(Some(Inbound::Message { .. })) => messages += 1,
                Ok(Some(Inbound::Closed {
                    clean: true,
                    current: true,
                    will: None,
                    ..
                })) => clean += 1,
                Ok(Some(other)) => {
                    eprintln!("spurious: {other:?}");
                    unclean += 1;
                }
                Ok(None) | Err(_) => break,
            }
        }
        (opened, messages, clean, unclean)
    });
    for batch in 0..CLIENTS / AT_ONCE {
        let mut tasks = Vec::new();
        for i in 0..AT_ONCE {
            let id = format!("churn-{}", batch * AT_ONCE + i);
            tasks.push(tokio::spawn(async move {
                let mut c = C4::connect_with(addr, &id, |o| {
                    o.set_last_will(rumqttc::LastWill::new(
                        in_topic(&id),
                        "will",
                        QoS::AtMostOnce,
                        false,
                    ));
                })
                .await;
                for n in 0..2 {
                    c.send(&in_topic(&id), QoS::AtLeastOnce, format!("m{n}"))
                        .await;
                    c.puback().await;
                }
                c.disconnect().await;
            }));
        }
        for t in tasks {
            tokio::time::timeout(WAIT, t).await.unwrap().unwrap();
        }
    }
    let (opened, messages, clean, unclean) =
        tokio::time::timeout(Duration::from_secs(60), collector)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (opened, messages, clean, unclean),
        (CLIENTS, 2 * CLIENTS, CLIENTS, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_refuses_with_server_unavailable() {
    let (broker, mut inbox) = start_with(|c| c.max_connections = 2).await;
    let addr = broker.local_addr();
    let (_a, code) = Raw::connect(addr, connect_packet("a", 30)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::Success));
    let (_b, code) = Raw::connect(addr, connect_packet("b", 30)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::Success));
    let (_c, code) = Raw::connect(addr, connect_packet("c", 30)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::ServiceUnavailable));
    opened(&mut inbox, "a").await;
    opened(&mut inbox, "b").await;
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_in_use_is_an_error_from_start() {
    let (broker, _inbox) = start().await;
    let config = BrokerConfig::new(broker.local_addr(), NODE);
    let err = tokio::time::timeout(WAIT, Broker::start(config))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, BrokerError::Bind { .. }), "{err:?}");
    assert!(err.to_string().contains("address in use"), "{err}");

    let bad = BrokerConfig::new("127.0.0.1:0".parse().unwrap(), "bad/node");
    assert!(matches!(
        Broker::start(bad).await,
        Err(BrokerError::Config(_))
    ));
}

/// A PUBREL for a packet id this connection never saw (a client re-sending it after a
/// reconnect, as MQTT asks) is completed here; it must not reach the router, which would drop
/// the client for it and so start a reconnect loop.
#[tokio::test]
async fn a_stray_pubrel_is_completed_and_the_connection_stays() {
    let (broker, mut inbox) = start().await;
    let (mut raw, code) = Raw::connect(broker.local_addr(), connect_packet("q2", 30)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::Success));
    opened(&mut inbox, "q2").await;
    raw.send(m4::Packet::PubRel(m4::PubRel::new(77))).await;
    match raw.read().await {
        Some(m4::Packet::PubComp(comp)) => assert_eq!(comp.pkid, 77),
        other => panic!("expected PUBCOMP 77, got {other:?}"),
    }
    // Still connected and working: an op reaches the inbox.
    let mut publish = m4::Publish::new(in_topic("q2"), rumqttc::QoS::AtLeastOnce, "op");
    publish.pkid = 1;
    raw.send(m4::Packet::Publish(publish)).await;
    let (cid, _, payload) = message(&mut inbox).await;
    assert_eq!((cid.as_str(), &payload[..]), ("q2", &b"op"[..]));
}
