//! The MQTT transport: ops published by a client to its own in-topic go to the engine in arrival
//! order; replies go back to its out-topic and deliveries to their recipients' out-topics.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use nodebus_broker::{Inbound, Inbox, Publisher};
use nodebus_registry::{Engine, Outcome};

use crate::outcome_log::log_request;

/// Feeds the broker's inbox to the engine on a thread of its own: the engine may wait for a
/// durable commit, and one consumer keeps each client's replies in the order of its requests.
pub struct MqttAdapter {
    thread: JoinHandle<()>,
}

impl MqttAdapter {
    pub fn spawn(engine: Arc<Engine>, inbox: Inbox, publisher: Publisher) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("nodebus-mqtt-ops".into())
            .spawn(move || consume(engine, inbox, publisher))?;
        Ok(MqttAdapter { thread })
    }

    /// Waits until the inbox has been closed and drained.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn consume(engine: Arc<Engine>, mut inbox: Inbox, publisher: Publisher) {
    while let Some(inbound) = inbox.blocking_recv() {
        match inbound {
            Inbound::Message {
                client_id, payload, ..
            } => {
                let outcome = engine.handle(&client_id, &payload, Instant::now());
                log_request("mqtt", &client_id, &outcome);
                send(&publisher, &client_id, outcome);
            }
            Inbound::Opened { client_id, session } => {
                tracing::debug!(client = %client_id, session, "mqtt client connected");
            }
            Inbound::Closed {
                client_id,
                session,
                clean,
                current,
                will,
            } => {
                tracing::debug!(client = %client_id, session, clean, current, will = will.is_some(), "mqtt client disconnected");
                // A will on the client's own in-topic is its last op. A will left behind by a
                // connection that another one has taken over must not act for the new one.
                if let (Some(will), true) = (will, current) {
                    let outcome = engine.handle(&client_id, &will, Instant::now());
                    log_request("mqtt-will", &client_id, &outcome);
                    send(&publisher, &client_id, outcome);
                }
            }
        }
    }
}

fn send(publisher: &Publisher, client_id: &str, outcome: Outcome) {
    for reply in &outcome.replies {
        publish(publisher, client_id, reply);
    }
    for delivery in &outcome.deliveries {
        publish(publisher, &delivery.client_id, &delivery.message);
    }
}

fn publish(publisher: &Publisher, client_id: &str, message: &serde_json::Value) {
    let payload = match serde_json::to_vec(message) {
        Ok(payload) => Bytes::from(payload),
        Err(error) => {
            tracing::error!(%error, "a reply could not be encoded");
            return;
        }
    };
    if let Err(error) = publisher.send_to_client(client_id, payload) {
        tracing::warn!(client = client_id, %error, "a reply could not be queued");
    }
}
