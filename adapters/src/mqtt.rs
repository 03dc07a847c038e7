//! The MQTT transport: ops published by a client to its own in-topic go to the engine in arrival
//! order; replies go back to its out-topic and deliveries to their recipients' out-topics. When a
//! client's connection ends, its last will is run and the systems it owned are stopped.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use nodebus_broker::{Inbound, Inbox};
use nodebus_registry::Engine;

use crate::courier::Courier;
use crate::outcome_log::log_request;
use crate::timer::TimerHandle;

/// Feeds the broker's inbox to the engine on a thread of its own: the engine may wait for a
/// durable commit, and one consumer keeps each client's replies in the order of its requests.
pub struct MqttAdapter {
    thread: JoinHandle<()>,
}

impl MqttAdapter {
    pub fn spawn(
        engine: Arc<Engine>,
        inbox: Inbox,
        courier: Courier,
        timer: TimerHandle,
    ) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("nodebus-mqtt-ops".into())
            .spawn(move || consume(&engine, inbox, &courier, &timer))?;
        Ok(MqttAdapter { thread })
    }

    /// Waits until the inbox has been closed and drained.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn consume(engine: &Engine, mut inbox: Inbox, courier: &Courier, timer: &TimerHandle) {
    while let Some(inbound) = inbox.blocking_recv() {
        match inbound {
            Inbound::Message {
                client_id, payload, ..
            } => {
                let outcome = engine.handle(&client_id, &payload, Instant::now());
                log_request("mqtt", &client_id, &outcome);
                courier.reply(&client_id, &outcome.replies);
                courier.deliver(&outcome.deliveries);
                timer.poke();
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
                // A connection that another one with the same client id has taken over must not
                // act for the new one: neither its will nor its end stops anything.
                if !current {
                    continue;
                }
                if let Some(will) = will {
                    let outcome = engine.handle(&client_id, &will, Instant::now());
                    log_request("mqtt-will", &client_id, &outcome);
                    courier.reply(&client_id, &outcome.replies);
                    courier.deliver(&outcome.deliveries);
                }
                let outcome = engine.client_gone(&client_id, Instant::now());
                courier.deliver(&outcome.deliveries);
                timer.poke();
            }
        }
    }
}
