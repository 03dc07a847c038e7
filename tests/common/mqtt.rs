//! An MQTT op client for tests, over rumqttc with MQTT 3.1.1 or 5: it subscribes to its own
//! out-topic, publishes ops to its own in-topic and collects the replies by correlation ID.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::within;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V4,
    V5,
}

/// A message received by a test client: its topic and payload.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).expect("payload is JSON")
    }
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub struct OpClient {
    client: Client,
    pub client_id: String,
    pub in_topic: String,
    pub out_topic: String,
    messages: mpsc::UnboundedReceiver<Received>,
    /// One item per CONNACK or SUBACK, in arrival order.
    acks: mpsc::UnboundedReceiver<()>,
    /// Messages read while waiting for something else, oldest first.
    pending: Vec<Received>,
    correl_seq: u64,
    /// The task polling the rumqttc event loop; aborting it drops the socket.
    event_loop: tokio::task::JoinHandle<()>,
}

pub fn in_topic(node: &str, client_id: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$in/{client_id}")
}

pub fn out_topic(node: &str, client_id: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$out/{client_id}")
}

impl OpClient {
    /// Connects, subscribes to the own out-topic at QoS 1 and waits for the SUBACK.
    pub async fn connect(port: u16, node: &str, client_id: &str, version: Version) -> OpClient {
        let mut client = Self::connect_raw(port, client_id, version, None).await;
        let out = out_topic(node, client_id);
        client.subscribe(&out).await;
        client.in_topic = in_topic(node, client_id);
        client.out_topic = out;
        client
    }

    /// Like `connect`, with a last will of `will_payload` on the client's own in-topic.
    pub async fn connect_with_will(
        port: u16,
        node: &str,
        client_id: &str,
        version: Version,
        will_payload: impl Into<Vec<u8>>,
    ) -> OpClient {
        let will = Some((in_topic(node, client_id), will_payload.into()));
        let mut client = Self::connect_raw(port, client_id, version, will).await;
        let out = out_topic(node, client_id);
        client.subscribe(&out).await;
        client.in_topic = in_topic(node, client_id);
        client.out_topic = out;
        client
    }

    /// Connects without subscribing; `will` is (topic, payload) of a last will.
    pub async fn connect_raw(
        port: u16,
        client_id: &str,
        version: Version,
        will: Option<(String, Vec<u8>)>,
    ) -> OpClient {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<()>();
        let (client, event_loop) = match version {
            Version::V4 => {
                let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
                options.set_keep_alive(Duration::from_secs(30));
                options.set_max_packet_size(16 << 20, 16 << 20);
                if let Some((topic, payload)) = will {
                    options.set_last_will(rumqttc::LastWill::new(
                        topic,
                        payload,
                        rumqttc::QoS::AtLeastOnce,
                        false,
                    ));
                }
                let (client, mut events) = rumqttc::AsyncClient::new(options, 1000);
                let mut network = events.network_options();
                network.set_tcp_nodelay(true);
                events.set_network_options(network);
                let task = tokio::spawn(async move {
                    loop {
                        match events.poll().await {
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                                let _ = tx.send(Received {
                                    topic: p.topic.clone(),
                                    payload: p.payload.clone(),
                                });
                            }
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)))
                            | Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                                let _ = ack_tx.send(());
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                (Client::V4(client), task)
            }
            Version::V5 => {
                let mut options = rumqttc::v5::MqttOptions::new(client_id, "127.0.0.1", port);
                options.set_keep_alive(Duration::from_secs(30));
                options.set_max_packet_size(Some(16 << 20));
                if let Some((topic, payload)) = will {
                    options.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                        topic,
                        payload,
                        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                        false,
                        None,
                    ));
                }
                let mut network = options.network_options();
                network.set_tcp_nodelay(true);
                options.set_network_options(network);
                let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 1000);
                let task = tokio::spawn(async move {
                    use rumqttc::v5::mqttbytes::v5::Packet;
                    loop {
                        match events.poll().await {
                            Ok(rumqttc::v5::Event::Incoming(Packet::Publish(p))) => {
                                let _ = tx.send(Received {
                                    topic: String::from_utf8_lossy(&p.topic).into_owned(),
                                    payload: p.payload.clone(),
                                });
                            }
                            Ok(rumqttc::v5::Event::Incoming(Packet::SubAck(_)))
                            | Ok(rumqttc::v5::Event::Incoming(Packet::ConnAck(_))) => {
                                let _ = ack_tx.send(());
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                (Client::V5(client), task)
            }
        };
        within("mqtt connack", ack_rx.recv())
            .await
            .expect("connack");
        OpClient {
            client,
            client_id: client_id.to_owned(),
            in_topic: String::new(),
            out_topic: String::new(),
            messages: rx,
            acks: ack_rx,
            pending: Vec::new(),
            correl_seq: 0,
            event_loop,
        }
    }

    /// Subscribes at QoS 1 and waits for the SUBACK.
    pub async fn subscribe(&mut self, filter: &str) {
        match &self.client {
            Client::V4(c) => c
                .subscribe(filter, rumqttc::QoS::AtLeastOnce)
                .await
                .expect("subscribe"),
            Client::V5(c) => c
                .subscribe(filter, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                .await
                .expect("subscribe"),
        }
        within("suback", self.acks.recv()).await.expect("suback");
    }

    /// Publishes raw bytes at QoS 1 to any topic.
    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        let payload: Vec<u8> = payload.into();
        match &self.client {
            Client::V4(c) => c
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .expect("publish"),
            Client::V5(c) => c
                .publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await
                .expect("publish"),
        }
    }

    /// Publishes raw bytes at QoS 1 with the retain flag set.
    pub async fn publish_retained(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        let payload: Vec<u8> = payload.into();
        match &self.client {
            Client::V4(c) => c
                .publish(topic, rumqttc::QoS::AtLeastOnce, true, payload)
                .await
                .expect("publish"),
            Client::V5(c) => c
                .publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    true,
                    payload,
                )
                .await
                .expect("publish"),
        }
    }

    /// Every message up to and including the next `status`, whatever its correl (for requests
    /// whose correl the broker assigns or cannot read).
    pub async fn until_status(&mut self) -> Vec<Value> {
        let mut replies = Vec::new();
        loop {
            let message = self.next_message().await.json();
            let is_status = message["op"] == "status";
            replies.push(message);
            if is_status {
                return replies;
            }
        }
    }

    /// Publishes raw bytes to the own in-topic.
    pub async fn send_raw(&self, payload: impl Into<Vec<u8>>) {
        let topic = self.in_topic.clone();
        self.publish(&topic, payload).await;
    }

    /// Sends an op (adding a unique `correl` when it has none) and returns every reply up to and
    /// including its status.
    pub async fn op(&mut self, op: Value) -> Vec<Value> {
        let mut op = op;
        if op.get("correl").is_none() {
            self.correl_seq += 1;
            op["correl"] = Value::String(format!("{}-{}", self.client_id, self.correl_seq));
        }
        let correl = op["correl"].clone();
        self.send_raw(op.to_string()).await;
        self.replies_for(&correl).await
    }

    /// Collects messages with `correl` until its status arrives; keeps the others pending.
    pub async fn replies_for(&mut self, correl: &Value) -> Vec<Value> {
        let mut replies = Vec::new();
        let mut index = 0;
        loop {
            let message = if index < self.pending.len() {
                let m = self.pending[index].json();
                if m.get("correl") == Some(correl) {
                    self.pending.remove(index);
                    m
                } else {
                    index += 1;
                    continue;
                }
            } else {
                let received = self.next_message().await;
                let m = received.json();
                if m.get("correl") != Some(correl) {
                    self.pending.push(received);
                    index = self.pending.len();
                    continue;
                }
                m
            };
            let is_status = message["op"] == "status";
            replies.push(message);
            if is_status {
                return replies;
            }
        }
    }

    /// The next message on any subscribed topic, pending ones first.
    pub async fn next_message(&mut self) -> Received {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        within(
            &format!("a message for {}", self.client_id),
            self.messages.recv(),
        )
        .await
        .expect("client event loop alive")
    }

    /// Waits `quiet` and returns what arrived meanwhile (for "nothing gets through" checks).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Received> {
        let mut got = std::mem::take(&mut self.pending);
        let deadline = tokio::time::Instant::now() + quiet;
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, self.messages.recv()).await {
            got.push(m);
        }
        got
    }

    /// Waits until the broker has closed the connection (the event loop has ended), dropping
    /// whatever arrives before that.
    pub async fn closed(&mut self) {
        self.pending.clear();
        within(
            &format!("the connection of {} to close", self.client_id),
            async { while self.messages.recv().await.is_some() {} },
        )
        .await;
    }

    /// Ends the connection without a DISCONNECT packet, as a crashed client or a lost network
    /// would: the event-loop task is aborted and dropping it closes the socket. Waits until the
    /// task has ended, so the socket is closed when this returns.
    pub async fn kill(&mut self) {
        self.event_loop.abort();
        let _ = within(
            &format!("the event loop of {} to end", self.client_id),
            &mut self.event_loop,
        )
        .await;
    }

    /// The payload of the next message as JSON.
    pub async fn next_json(&mut self) -> Value {
        self.next_message().await.json()
    }

    pub async fn disconnect(&self) {
        match &self.client {
            Client::V4(c) => {
                let _ = c.disconnect().await;
            }
            Client::V5(c) => {
                let _ = c.disconnect().await;
            }
        }
    }
}
