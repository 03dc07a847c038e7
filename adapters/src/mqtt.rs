//! The MQTT transport: ops published by a client to its own in-topic go to the engine; replies
//! go back to its out-topic and deliveries to their recipients' out-topics. When a client's
//! connection ends, its last will is run and the systems it owned are stopped.
//!
//! The broker splits its inbox into shards by a hash of the client id, and each shard has a lane:
//! one thread that takes the shard's events straight from the broker. One client's ops run in
//! order on one lane (so its replies keep the order of its requests, and its close comes after
//! its last op), while different clients run side by side, which lets the engine commit their
//! writes together.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use nodebus_broker::{Inbound, Inbox};
use nodebus_registry::Engine;

use crate::courier::Courier;
use crate::outcome_log::log_request;
use crate::timer::TimerHandle;

pub struct MqttAdapter {
    threads: Vec<JoinHandle<()>>,
    in_flight: Arc<AtomicUsize>,
}

struct Lane {
    engine: Arc<Engine>,
    courier: Courier,
    timer: TimerHandle,
    in_flight: Arc<AtomicUsize>,
}

impl MqttAdapter {
    /// Starts one lane thread per inbox shard.
    pub fn spawn(
        engine: Arc<Engine>,
        inboxes: Vec<Inbox>,
        courier: Courier,
        timer: TimerHandle,
    ) -> std::io::Result<Self> {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::with_capacity(inboxes.len());
        for (index, inbox) in inboxes.into_iter().enumerate() {
            let lane = Lane {
                engine: engine.clone(),
                courier: courier.clone(),
                timer: timer.clone(),
                in_flight: in_flight.clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("nodebus-mqtt-lane-{index}"))
                    .spawn(move || lane.run(inbox))?,
            );
        }
        Ok(MqttAdapter { threads, in_flight })
    }

    /// Events taken from the inbox and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until every inbox shard has been closed and drained.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl Lane {
    fn run(self, mut inbox: Inbox) {
        while let Some(inbound) = inbox.blocking_recv() {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            self.handle(inbound);
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn handle(&self, inbound: Inbound) {
        match inbound {
            Inbound::Message {
                client_id, payload, ..
            } => self.op(&client_id, &payload, "mqtt"),
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
                    return;
                }
                if let Some(will) = will {
                    self.op(&client_id, &will, "mqtt-will");
                }
                let mut outcome = self.engine.client_gone(&client_id, Instant::now());
                self.courier.deliver(&mut outcome);
                self.timer.poke();
            }
        }
    }

    fn op(&self, client_id: &str, payload: &[u8], transport: &'static str) {
        let mut outcome = self.engine.handle(client_id, payload, Instant::now());
        log_request(transport, client_id, &outcome);
        self.courier.reply(client_id, &outcome.replies);
        self.courier.deliver(&mut outcome);
        self.timer.poke();
    }
}
