//! Test helpers: a broker per test on 127.0.0.1:0, rumqttc v3.1.1 and v5 clients whose event
//! loops run in tasks, a raw TCP client, and inbox helpers. Every wait is bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use nodebus_broker::{Broker, BrokerConfig, Inbound, Inbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

pub const WAIT: Duration = Duration::from_secs(10);
pub const QUIET: Duration = Duration::from_millis(300);
pub const NODE: &str = "n1";

pub async fn start() -> (Broker, Inbox) {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut BrokerConfig)) -> (Broker, Inbox) {
    let mut config = BrokerConfig::new("127.0.0.1:0".parse().unwrap(), NODE);
    f(&mut config);
    timeout(WAIT, Broker::start(config)).await.unwrap().unwrap()
}

pub fn in_topic(cid: &str) -> String {
    format!("$fabric/{NODE}/$adapters/$mqtt/$in/{cid}")
}

pub fn out_topic(cid: &str) -> String {
    format!("$fabric/{NODE}/$adapters/$mqtt/$out/{cid}")
}

pub async fn next_inbound(inbox: &mut Inbox) -> Inbound {
    timeout(WAIT, inbox.recv())
        .await
        .expect("inbox event in time")
        .expect("inbox open")
}

/// Waits for `Opened` of `cid` (skipping nothing: the test must expect it next).
pub async fn opened(inbox: &mut Inbox, cid: &str) -> u64 {
    match next_inbound(inbox).await {
        Inbound::Opened { client_id, session } if &*client_id == cid => session,
        other => panic!("expected Opened for {cid}, got {other:?}"),
    }
}

pub async fn message(inbox: &mut Inbox) -> (String, u64, Bytes) {
    match next_inbound(inbox).await {
        Inbound::Message {
            client_id,
            session,
            payload,
        } => (client_id.to_string(), session, payload),
        other => panic!("expected Message, got {other:?}"),
    }
}

pub async fn closed(inbox: &mut Inbox) -> (String, u64, bool, bool, Option<Bytes>) {
    match next_inbound(inbox).await {
        Inbound::Closed {
            client_id,
            session,
            clean,
            current,
            will,
        } => (client_id.to_string(), session, clean, current, will),
        other => panic!("expected Closed, got {other:?}"),
    }
}

pub async fn inbox_quiet(inbox: &mut Inbox) {
    if let Ok(ev) = timeout(QUIET, inbox.recv()).await {
        panic!("unexpected inbox event {ev:?}");
    }
}

fn network() -> rumqttc::NetworkOptions {
    let mut n = rumqttc::NetworkOptions::new();
    n.set_tcp_nodelay(true);
    n
}

/// A v3.1.1 rumqttc client.
pub struct C4 {
    pub client: rumqttc::AsyncClient,
    pub events: mpsc::UnboundedReceiver<Result<rumqttc::Event, String>>,
    pub task: JoinHandle<()>,
}

impl C4 {
    pub fn spawn(addr: SocketAddr, id: &str, f: impl FnOnce(&mut rumqttc::MqttOptions)) -> C4 {
        let mut o = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(16 << 20, 16 << 20);
        f(&mut o);
        let (client, mut el) = rumqttc::AsyncClient::new(o, 100);
        el.set_network_options(network());
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(ev) => {
                        if tx.send(Ok(ev)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        break;
                    }
                }
            }
        });
        C4 {
            client,
            events,
            task,
        }
    }

    /// Connects and waits for a successful CONNACK.
    pub async fn connect(addr: SocketAddr, id: &str) -> C4 {
        Self::connect_with(addr, id, |_| {}).await
    }

    pub async fn connect_with(
        addr: SocketAddr,
        id: &str,
        f: impl FnOnce(&mut rumqttc::MqttOptions),
    ) -> C4 {
        let mut c = Self::spawn(addr, id, f);
        loop {
            match c.next().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a))) => {
                    assert_eq!(a.code, rumqttc::ConnectReturnCode::Success);
                    return c;
                }
                Ok(_) => {}
                Err(e) => panic!("{id}: connect failed: {e}"),
            }
        }
    }

    pub async fn next(&mut self) -> Result<rumqttc::Event, String> {
        timeout(WAIT, self.events.recv())
            .await
            .expect("client event in time")
            .unwrap_or(Err("event loop gone".into()))
    }

    /// The next incoming PUBLISH (other events skipped).
    pub async fn publish(&mut self) -> rumqttc::Publish {
        loop {
            match self.next().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => return p,
                Ok(_) => {}
                Err(e) => panic!("connection failed while waiting for a publish: {e}"),
            }
        }
    }

    pub async fn suback(&mut self) -> Vec<rumqttc::SubscribeReasonCode> {
        loop {
            match self.next().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s))) => return s.return_codes,
                Ok(_) => {}
                Err(e) => panic!("connection failed while waiting for a SUBACK: {e}"),
            }
        }
    }

    pub async fn puback(&mut self) {
        loop {
            match self.next().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!("connection failed while waiting for a PUBACK: {e}"),
            }
        }
    }

    pub async fn subscribe(
        &mut self,
        filter: &str,
        qos: rumqttc::QoS,
    ) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client.subscribe(filter, qos).await.unwrap();
        self.suback().await
    }

    pub async fn send(&self, topic: &str, qos: rumqttc::QoS, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, qos, false, payload)
            .await
            .unwrap();
    }

    /// Asserts that no PUBLISH arrives (and the connection stays up) for a short while.
    pub async fn no_publish(&mut self) {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(ev) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            match ev {
                Some(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) => {
                    panic!("unexpected publish {p:?}")
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed: {e}"),
                None => panic!("event loop gone"),
            }
        }
    }

    /// Ends the connection without DISCONNECT (the socket is dropped).
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Sends DISCONNECT and waits for the event loop to end.
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.unwrap();
        loop {
            match self.next().await {
                Err(_) => break,
                Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                Ok(_) => {}
            }
        }
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A v5 rumqttc client.
pub struct C5 {
    pub client: rumqttc::v5::AsyncClient,
    pub events: mpsc::UnboundedReceiver<Result<rumqttc::v5::Event, String>>,
    pub task: JoinHandle<()>,
}

pub use rumqttc::v5::mqttbytes::v5::Packet as P5;

impl C5 {
    pub fn spawn(addr: SocketAddr, id: &str, f: impl FnOnce(&mut rumqttc::v5::MqttOptions)) -> C5 {
        let mut o = rumqttc::v5::MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(Some(16 << 20));
        o.set_network_options(network());
        f(&mut o);
        let (client, mut el) = rumqttc::v5::AsyncClient::new(o, 100);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(ev) => {
                        if tx.send(Ok(ev)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        break;
                    }
                }
            }
        });
        C5 {
            client,
            events,
            task,
        }
    }

    /// Connects and returns the CONNACK.
    pub async fn connect(addr: SocketAddr, id: &str) -> (C5, rumqttc::v5::mqttbytes::v5::ConnAck) {
        let mut c = Self::spawn(addr, id, |_| {});
        loop {
            match c.next().await {
                Ok(rumqttc::v5::Event::Incoming(P5::ConnAck(a))) => return (c, a),
                Ok(_) => {}
                Err(e) => panic!("{id}: connect failed: {e}"),
            }
        }
    }

    pub async fn next(&mut self) -> Result<rumqttc::v5::Event, String> {
        timeout(WAIT, self.events.recv())
            .await
            .expect("client event in time")
            .unwrap_or(Err("event loop gone".into()))
    }

    pub async fn incoming(&mut self, mut want: impl FnMut(&P5) -> bool) -> P5 {
        loop {
            match self.next().await {
                Ok(rumqttc::v5::Event::Incoming(p)) if want(&p) => return p,
                Ok(_) => {}
                Err(e) => panic!("connection failed: {e}"),
            }
        }
    }

    pub async fn publish(&mut self) -> rumqttc::v5::mqttbytes::v5::Publish {
        match self.incoming(|p| matches!(p, P5::Publish(_))).await {
            P5::Publish(p) => p,
            _ => unreachable!(),
        }
    }

    pub async fn subscribe(
        &mut self,
        filter: &str,
        qos: rumqttc::v5::mqttbytes::QoS,
    ) -> Vec<rumqttc::v5::mqttbytes::v5::SubscribeReasonCode> {
        self.client.subscribe(filter, qos).await.unwrap();
        match self.incoming(|p| matches!(p, P5::SubAck(_))).await {
            P5::SubAck(s) => s.return_codes,
            _ => unreachable!(),
        }
    }

    pub async fn no_publish(&mut self) {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(ev) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            match ev {
                Some(Ok(rumqttc::v5::Event::Incoming(P5::Publish(p)))) => {
                    panic!("unexpected publish {p:?}")
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed: {e}"),
                None => panic!("event loop gone"),
            }
        }
    }

    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A raw MQTT 3.1.1 client over TCP, using rumqttc's packet encoders.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

pub use rumqttc::mqttbytes::v4 as m4;

impl Raw {
    pub async fn open(addr: SocketAddr) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub fn from_stream(stream: TcpStream) -> Raw {
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Opens and sends CONNECT; returns the CONNACK code (None if closed without CONNACK).
    pub async fn connect(
        addr: SocketAddr,
        connect: m4::Connect,
    ) -> (Raw, Option<m4::ConnectReturnCode>) {
        let mut raw = Raw::open(addr).await;
        raw.send(m4::Packet::Connect(connect)).await;
        let code = match raw.read().await {
            Some(m4::Packet::ConnAck(a)) => Some(a.code),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
            None => None,
        };
        (raw, code)
    }

    pub async fn send(&mut self, packet: m4::Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, usize::MAX).unwrap();
        self.send_bytes(&out).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .unwrap()
            .unwrap();
    }

    /// The next packet, or None once the server closed the connection.
    pub async fn read(&mut self) -> Option<m4::Packet> {
        loop {
            match m4::Packet::read(&mut self.buf, 64 << 20) {
                Ok(p) => return Some(p),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("undecodable server packet: {e}"),
            }
            match timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("server data in time")
            {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Raw bytes until the server closes (for CONNACKs rumqttc's decoder would not accept).
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        let mut all = self.buf.to_vec();
        let mut chunk = [0u8; 1024];
        loop {
            match timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("server closes in time")
            {
                Ok(0) | Err(_) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

pub fn connect_packet(id: &str, keep_alive: u16) -> m4::Connect {
    let mut c = m4::Connect::new(id);
    c.keep_alive = keep_alive;
    c
}
