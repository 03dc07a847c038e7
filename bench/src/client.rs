//! A thin MQTT client for load generation over rumqttc, MQTT 3.1.1 or 5, TCP_NODELAY set.
//! Each client's event loop runs in its own task and hands every received payload to a callback
//! right there (no channel in between), so the client side costs as little as it can.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// MQTT protocol version of the load clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// MQTT 3.1.1
    #[value(name = "v4", alias = "3.1.1")]
    V4,
    /// MQTT 5
    #[value(name = "v5", alias = "5")]
    V5,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V4 => "v4",
            Protocol::V5 => "v5",
        }
    }
}

/// How load clients connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub broker: SocketAddr,
    pub protocol: Protocol,
    /// QoS of publishes and subscriptions (0 or 1).
    pub qos: u8,
    /// Outgoing QoS 1 messages in flight (rumqttc's inflight limit).
    pub inflight: u16,
    pub keep_alive: Duration,
}

impl ClientOptions {
    pub fn new(broker: SocketAddr, protocol: Protocol, qos: u8) -> Self {
        ClientOptions {
            broker,
            protocol,
            qos,
            inflight: 100,
            keep_alive: Duration::from_secs(60),
        }
    }
}

/// Called with the payload of every PUBLISH the client receives.
pub type OnMessage = Box<dyn FnMut(Bytes) + Send>;

/// The sending half of a client; cheap to clone.
#[derive(Clone)]
pub enum Sender {
    V4(rumqttc::AsyncClient, rumqttc::QoS),
    V5(rumqttc::v5::AsyncClient, rumqttc::v5::mqttbytes::QoS),
}

impl Sender {
    /// Queues a publish; waits only when the client's request queue is full.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<()> {
        match self {
            Sender::V4(client, qos) => client.publish_bytes(topic, *qos, false, payload).await?,
            Sender::V5(client, qos) => client.publish_bytes(topic, *qos, false, payload).await?,
        }
        Ok(())
    }

    pub async fn disconnect(&self) {
        let _ = match self {
            Sender::V4(client, _) => client.disconnect().await.map_err(|e| e.to_string()),
            Sender::V5(client, _) => client.disconnect().await.map_err(|e| e.to_string()),
        };
    }
}

/// A connected client: its sender, its event-loop task and the CONNACK/SUBACK signal.
pub struct Client {
    pub id: String,
    pub sender: Sender,
    acks: mpsc::UnboundedReceiver<Ack>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
enum Ack {
    Connected,
    Subscribed(bool),
    Failed(String),
}

/// How long a CONNACK or SUBACK may take.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// Connects and waits for the CONNACK.
    pub async fn connect(
        id: &str,
        options: &ClientOptions,
        on_message: OnMessage,
    ) -> Result<Client> {
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let host = options.broker.ip().to_string();
        let port = options.broker.port();
        let (sender, task) = match options.protocol {
            Protocol::V4 => {
                let mut mqtt = rumqttc::MqttOptions::new(id, host, port);
                mqtt.set_keep_alive(options.keep_alive);
                mqtt.set_max_packet_size(16 << 20, 16 << 20);
                mqtt.set_inflight(options.inflight.max(1));
                let (client, mut events) = rumqttc::AsyncClient::new(mqtt, 1024);
                let mut network = events.network_options();
                network.set_tcp_nodelay(true);
                events.set_network_options(network);
                let task = tokio::spawn(async move {
                    let mut on_message = on_message;
                    loop {
                        match events.poll().await {
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                                on_message(p.payload)
                            }
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                                let _ = ack_tx.send(Ack::Connected);
                            }
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s))) => {
                                let ok = s
                                    .return_codes
                                    .iter()
                                    .all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure));
                                let _ = ack_tx.send(Ack::Subscribed(ok));
                            }
                            Ok(_) => {}
                            Err(error) => {
                                let _ = ack_tx.send(Ack::Failed(error.to_string()));
                                break;
                            }
                        }
                    }
                });
                (Sender::V4(client, qos_v4(options.qos)), task)
            }
            Protocol::V5 => {
                let mut mqtt = rumqttc::v5::MqttOptions::new(id, host, port);
                mqtt.set_keep_alive(options.keep_alive);
                mqtt.set_max_packet_size(Some(16 << 20));
                mqtt.set_outgoing_inflight_upper_limit(options.inflight.max(1));
                let mut network = mqtt.network_options();
                network.set_tcp_nodelay(true);
                mqtt.set_network_options(network);
                let (client, mut events) = rumqttc::v5::AsyncClient::new(mqtt, 1024);
                let task = tokio::spawn(async move {
                    use rumqttc::v5::mqttbytes::v5::Packet;
                    let mut on_message = on_message;
                    loop {
                        match events.poll().await {
                            Ok(rumqttc::v5::Event::Incoming(Packet::Publish(p))) => {
                                on_message(p.payload)
                            }
                            Ok(rumqttc::v5::Event::Incoming(Packet::ConnAck(_))) => {
                                let _ = ack_tx.send(Ack::Connected);
                            }
                            Ok(rumqttc::v5::Event::Incoming(Packet::SubAck(s))) => {
                                let ok = s.return_codes.iter().all(|c| {
                                    matches!(
                                        c,
                                        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(_)
                                    )
                                });
                                let _ = ack_tx.send(Ack::Subscribed(ok));
                            }
                            Ok(_) => {}
                            Err(error) => {
                                let _ = ack_tx.send(Ack::Failed(error.to_string()));
                                break;
                            }
                        }
                    }
                });
                (Sender::V5(client, qos_v5(options.qos)), task)
            }
        };
        let mut client = Client {
            id: id.to_owned(),
            sender,
            acks,
            task,
        };
        match client.next_ack().await? {
            Ack::Connected => Ok(client),
            other => bail!("client {id}: expected CONNACK, got {other:?}"),
        }
    }

    /// Subscribes at the client's QoS and waits for a successful SUBACK.
    pub async fn subscribe(&mut self, filter: &str) -> Result<()> {
        match &self.sender {
            Sender::V4(client, qos) => client.subscribe(filter, *qos).await?,
            Sender::V5(client, qos) => client.subscribe(filter, *qos).await?,
        }
        match self.next_ack().await? {
            Ack::Subscribed(true) => Ok(()),
            Ack::Subscribed(false) => bail!("client {}: subscription to {filter} refused", self.id),
            other => bail!("client {}: expected SUBACK, got {other:?}", self.id),
        }
    }

    async fn next_ack(&mut self) -> Result<Ack> {
        let ack = tokio::time::timeout(ACK_TIMEOUT, self.acks.recv())
            .await
            .with_context(|| format!("client {}: no acknowledgement in time", self.id))?
            .ok_or_else(|| anyhow!("client {}: event loop ended", self.id))?;
        match ack {
            Ack::Failed(error) => bail!("client {}: {error}", self.id),
            ack => Ok(ack),
        }
    }

    /// Sends DISCONNECT and stops the event loop shortly after.
    pub async fn close(self) {
        self.sender.disconnect().await;
        let task = self.task;
        if tokio::time::timeout(Duration::from_millis(500), async {
            // The loop ends once the broker closes the connection after DISCONNECT.
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_err()
        {
            task.abort();
        }
    }
}

fn qos_v4(qos: u8) -> rumqttc::QoS {
    match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos_v5(qos: u8) -> rumqttc::v5::mqttbytes::QoS {
    match qos {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// `$fabric/<node>/$adapters/$mqtt/$in/<client>`
pub fn in_topic(node: &str, client: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$in/{client}")
}

/// `$fabric/<node>/$adapters/$mqtt/$out/<client>`
pub fn out_topic(node: &str, client: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$out/{client}")
}
