//! A small op client for the examples: one MQTT connection that publishes ops to its in-topic
//! and reads replies and deliveries from its out-topic, as any nodebus client does.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where a node listens and which node id its topics carry.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub node: String,
}

impl Target {
    /// Reads `--host`, `--port`, `--node` from the command line (defaults: 127.0.0.1, 1883, the
    /// host name). Returns the remaining arguments too.
    pub fn from_args() -> (Target, Vec<String>) {
        let mut target = Target {
            host: "127.0.0.1".to_owned(),
            port: 1883,
            node: host_name(),
        };
        let mut rest = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--host" => target.host = args.next().unwrap_or(target.host),
                "--port" => {
                    target.port = args
                        .next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(target.port)
                }
                "--node" => target.node = args.next().unwrap_or(target.node),
                _ => rest.push(arg),
            }
        }
        (target, rest)
    }

    pub fn in_topic(&self, client_id: &str) -> String {
        format!("$fabric/{}/$adapters/$mqtt/$in/{client_id}", self.node)
    }

    pub fn out_topic(&self, client_id: &str) -> String {
        format!("$fabric/{}/$adapters/$mqtt/$out/{client_id}", self.node)
    }
}

pub struct OpClient {
    client: AsyncClient,
    events: EventLoop,
    in_topic: String,
    next_correl: u64,
}

impl OpClient {
    /// Connects as `client_id` with a last will that stops its systems if it vanishes, and
    /// subscribes to its out-topic.
    pub async fn connect(target: &Target, client_id: &str) -> Result<OpClient, Error> {
        let in_topic = target.in_topic(client_id);
        let mut options = MqttOptions::new(client_id, &target.host, target.port);
        options.set_keep_alive(Duration::from_secs(10));
        options.set_last_will(LastWill::new(
            &in_topic,
            json!({"op": "disconnect", "client-id": client_id}).to_string(),
            QoS::AtLeastOnce,
            false,
        ));
        let (client, mut events) = AsyncClient::new(options, 100);
        let mut network = events.network_options();
        network.set_tcp_nodelay(true);
        events.set_network_options(network);
        client
            .subscribe(target.out_topic(client_id), QoS::AtLeastOnce)
            .await?;
        let mut op_client = OpClient {
            client,
            events,
            in_topic,
            next_correl: 0,
        };
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = op_client.events.poll().await? {
                return Ok(op_client);
            }
        }
    }

    /// Sends `op` and waits for its status; other messages that arrive meanwhile are printed.
    /// Returns the replies (data first, status last).
    pub async fn call(&mut self, mut op: Value) -> Result<Vec<Value>, Error> {
        self.next_correl += 1;
        let correl = Value::from(self.next_correl);
        op["correl"] = correl.clone();
        self.client
            .publish(&self.in_topic, QoS::AtLeastOnce, false, op.to_string())
            .await?;
        let mut replies = Vec::new();
        loop {
            let message = self.next_message().await?;
            if message.get("correl") != Some(&correl) {
                println!("(unsolicited) {message}");
                continue;
            }
            let is_status = message["op"] == "status";
            replies.push(message);
            if is_status {
                return Ok(replies);
            }
        }
    }

    /// Like `call`, but fails with the status message unless the op succeeded.
    pub async fn call_ok(&mut self, op: Value) -> Result<Vec<Value>, Error> {
        let name = op["op"].as_str().unwrap_or("op").to_owned();
        let replies = self.call(op).await?;
        match replies.last() {
            Some(status) if status["status"] == "00000" => Ok(replies),
            Some(status) => Err(format!("{name}: {} {}", status["status"], status["msg"]).into()),
            None => Err(format!("{name}: no reply").into()),
        }
    }

    /// The next message on the out-topic, keeping the connection alive meanwhile.
    pub async fn next_message(&mut self) -> Result<Value, Error> {
        loop {
            if let Event::Incoming(Packet::Publish(publish)) = self.events.poll().await? {
                return Ok(serde_json::from_slice(&publish.payload)?);
            }
        }
    }

    pub async fn disconnect(mut self) -> Result<(), Error> {
        self.client.disconnect().await?;
        // Let the event loop write the DISCONNECT before the connection is dropped.
        while self.events.poll().await.is_ok() {}
        Ok(())
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "nodebus".to_owned())
}
