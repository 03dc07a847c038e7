//! Connection life cycle: Opened/Closed, last wills, session takeover, keep-alive, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use rumqttc::{LastWill, QoS};

fn will_on_own_in(id: &str, payload: &str) -> impl FnOnce(&mut rumqttc::MqttOptions) {
    let will = LastWill::new(in_topic(id), payload.to_string(), QoS::AtLeastOnce, false);
    move |o| {
        o.set_last_will(will);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_on_unclean_close_none_on_clean_disconnect() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();

    let mut c = C4::connect_with(addr, "w1", will_on_own_in("w1", "bye w1")).await;
    let s = opened(&mut inbox, "w1").await;
    c.send(&in_topic("w1"), QoS::AtLeastOnce, "last op").await;
    c.puback().await;
    c.kill().await;
    assert_eq!(&message(&mut inbox).await.2[..], b"last op");
    let (cid, session, clean, current, will) = closed(&mut inbox).await;
    assert_eq!(
        (cid.as_str(), session, clean, current),
        ("w1", s, false, true)
    );
    assert_eq!(will.as_deref(), Some(&b"bye w1"[..]));

    let c = C4::connect_with(addr, "w2", will_on_own_in("w2", "bye w2")).await;
    opened(&mut inbox, "w2").await;
    c.disconnect().await;
    let (cid, _, clean, current, will) = closed(&mut inbox).await;
    assert_eq!(
        (cid.as_str(), clean, current, will),
        ("w2", true, true, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_on_a_plain_topic_is_published_into_the_router() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let mut watcher = C4::connect(addr, "watcher").await;
    watcher.subscribe("clients/+/state", QoS::AtLeastOnce).await;
    let will = LastWill::new("clients/p1/state", "offline", QoS::AtLeastOnce, false);
    let c = C4::connect_with(addr, "p1", |o| {
        o.set_last_will(will);
    })
    .await;
    c.kill().await;
    let p = watcher.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("clients/p1/state", &b"offline"[..])
    );
    opened(&mut inbox, "watcher").await;
    opened(&mut inbox, "p1").await;
    assert_eq!(
        closed(&mut inbox).await.4,
        None,
        "plain-topic wills are not in Closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_disconnect_with_will_counts_as_unclean() {
    use rumqttc::v5::mqttbytes::v5::{Disconnect, DisconnectReasonCode, LastWill as W5, Packet};
    use rumqttc::v5::mqttbytes::QoS as Q5;
    let (broker, mut inbox) = start().await;
    let mut raw = Raw::open(broker.local_addr()).await;
    let mut connect = rumqttc::v5::mqttbytes::v5::Connect {
        keep_alive: 30,
        client_id: "v5w".into(),
        clean_start: true,
        properties: None,
    };
    connect.keep_alive = 30;
    let will = W5::new(in_topic("v5w"), "v5 will", Q5::AtLeastOnce, false, None);
    let mut out = bytes::BytesMut::new();
    Packet::Connect(connect, Some(will), None)
        .write(&mut out, None)
        .unwrap();
    raw.send_bytes(&out).await;
    opened(&mut inbox, "v5w").await;
    out.clear();
    let d = Disconnect {
        reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
        properties: None,
    };
    Packet::Disconnect(d).write(&mut out, None).unwrap();
    raw.send_bytes(&out).await;
    let (_, _, clean, _, will) = closed(&mut inbox).await;
    assert!(!clean);
    assert_eq!(will.as_deref(), Some(&b"v5 will"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_reports_the_old_session_with_its_own_will() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let a = C4::connect_with(addr, "dup", will_on_own_in("dup", "will A")).await;
    let sa = opened(&mut inbox, "dup").await;
    let mut b = C4::connect_with(addr, "dup", |o| {
        will_on_own_in("dup", "will B")(o);
        o.set_keep_alive(Duration::from_secs(30));
    })
    .await;

    // A's Closed and B's Opened may come in either order.
    let mut seen_a = false;
    let mut sb = None;
    while !seen_a || sb.is_none() {
        match next_inbound(&mut inbox).await {
            nodebus_broker::Inbound::Closed {
                client_id,
                session,
                clean,
                current,
                will,
            } => {
                assert_eq!(
                    (&*client_id, session, clean, current),
                    ("dup", sa, false, false)
                );
                assert_eq!(will.as_deref(), Some(&b"will A"[..]));
                seen_a = true;
            }
            nodebus_broker::Inbound::Opened { session, .. } => sb = Some(session),
            other => panic!("{other:?}"),
        }
    }
    let sb = sb.unwrap();
    assert_ne!(sa, sb);
    drop(a);

    // B works, and its own will comes when B dies.
    b.subscribe(&out_topic("dup"), QoS::AtLeastOnce).await;
    b.send(&in_topic("dup"), QoS::AtLeastOnce, "from B").await;
    let (_, s, payload) = message(&mut inbox).await;
    assert_eq!((s, &payload[..]), (sb, &b"from B"[..]));
    b.kill().await;
    let (_, session, clean, current, will) = closed(&mut inbox).await;
    assert_eq!((session, clean, current), (sb, false, true));
    assert_eq!(will.as_deref(), Some(&b"will B"[..]));
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_zero_is_accepted_and_has_no_timer() {
    let (broker, mut inbox) = start().await;
    let (mut raw, code) = Raw::connect(broker.local_addr(), connect_packet("idle", 0)).await;
    assert_eq!(code, Some(m4::ConnectReturnCode::Success));
    opened(&mut inbox, "idle").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    raw.send(m4::Packet::Publish(
        m4::Publish::new(in_topic("idle"), QoS::AtLeastOnce, "still here").tap_pkid(1),
    ))
    .await;
    assert!(matches!(raw.read().await, Some(m4::Packet::PubAck(a)) if a.pkid == 1));
    assert_eq!(&message(&mut inbox).await.2[..], b"still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_after_one_and_a_half_keep_alives_even_while_receiving() {
    let (broker, mut inbox) = start().await;
    let mut connect = connect_packet("quiet", 1);
    connect.last_will = Some(m4::LastWill::new(
        in_topic("quiet"),
        "timed out",
        QoS::AtMostOnce,
        false,
    ));
    let (mut raw, _) = Raw::connect(broker.local_addr(), connect).await;
    raw.send(m4::Packet::Subscribe(
        m4::Subscribe::new(out_topic("quiet"), QoS::AtMostOnce).tap_pkid(1),
    ))
    .await;
    let started = Instant::now();
    opened(&mut inbox, "quiet").await;
    // Outbound traffic must not keep the connection alive.
    let publisher = broker.publisher();
    let feeder = tokio::spawn(async move {
        loop {
            let _ = publisher.send_to_client("quiet", bytes::Bytes::from_static(b"tick"));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    while raw.read().await.is_some() {}
    let elapsed = started.elapsed();
    feeder.abort();
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    let (_, _, clean, _, will) = closed(&mut inbox).await;
    assert!(!clean);
    assert_eq!(will.as_deref(), Some(&b"timed out"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_duplicate_is_delivered_once() {
    let (broker, mut inbox) = start().await;
    let (mut raw, _) = Raw::connect(broker.local_addr(), connect_packet("q2", 30)).await;
    opened(&mut inbox, "q2").await;
    let publish = m4::Publish::new(in_topic("q2"), QoS::ExactlyOnce, "once").tap_pkid(7);
    raw.send(m4::Packet::Publish(publish.clone())).await;
    assert!(matches!(raw.read().await, Some(m4::Packet::PubRec(r)) if r.pkid == 7));
    let mut dup = publish;
    dup.dup = true;
    raw.send(m4::Packet::Publish(dup)).await;
    assert!(matches!(raw.read().await, Some(m4::Packet::PubRec(r)) if r.pkid == 7));
    raw.send(m4::Packet::PubRel(m4::PubRel::new(7))).await;
    assert!(matches!(raw.read().await, Some(m4::Packet::PubComp(c)) if c.pkid == 7));
    assert_eq!(&message(&mut inbox).await.2[..], b"once");
    inbox_quiet(&mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_live_connections_and_stops_accepting() {
    let (broker, mut inbox) = start().await;
    let addr = broker.local_addr();
    let (mut raw, _) = Raw::connect(addr, connect_packet("s1", 30)).await;
    opened(&mut inbox, "s1").await;
    broker.shutdown();
    assert!(raw.read().await.is_none());
    let (cid, _, clean, _, _) = closed(&mut inbox).await;
    assert_eq!((cid.as_str(), clean), ("s1", false));
    // The listener is gone: connecting fails or is closed at once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    if let Ok(Ok(stream)) = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(addr)).await {
        let mut raw = Raw::from_stream(stream);
        raw.send(m4::Packet::Connect(connect_packet("s2", 30)))
            .await;
        assert!(raw.read().await.is_none());
    }
}

trait TapPkid {
    fn tap_pkid(self, pkid: u16) -> Self;
}

impl TapPkid for m4::Publish {
    fn tap_pkid(mut self, pkid: u16) -> Self {
        self.pkid = pkid;
        self
    }
}

impl TapPkid for m4::Subscribe {
    fn tap_pkid(mut self, pkid: u16) -> Self {
        self.pkid = pkid;
        self
    }
}
