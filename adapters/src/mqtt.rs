//! The MQTT transport: ops published by a client to its own in-topic go to the engine; replies
//! go back to its out-topic and deliveries to their recipients' out-topics. When a client's
//! connection ends, its last will is run and the systems it owned are stopped.
//!
//! Ops are spread over lanes, one thread each, by a hash of the client id: one client's ops run
//! in order on one lane (so its replies keep the order of its requests), while different clients
//! run side by side, which lets the engine commit their writes together.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use nodebus_broker::{Inbound, Inbox};
use nodebus_registry::Engine;

use crate::courier::Courier;
use crate::outcome_log::log_request;
use crate::timer::TimerHandle;

/// Work items a lane can hold before the dispatcher waits (and, behind it, the sockets).
const LANE_CAPACITY: usize = 1024;

pub struct MqttAdapter {
    threads: Vec<JoinHandle<()>>,
    in_flight: Arc<AtomicUsize>,
}

enum Work {
    Op {
        client_id: Arc<str>,
        payload: Bytes,
    },
    SessionEnded {
        client_id: Arc<str>,
        will: Option<Bytes>,
    },
}

struct Lane {
    engine: Arc<Engine>,
    courier: Courier,
    timer: TimerHandle,
    in_flight: Arc<AtomicUsize>,
}

impl MqttAdapter {
    /// Starts `lanes` lane threads and the dispatcher that feeds them from the inbox.
    pub fn spawn(
        engine: Arc<Engine>,
        inbox: Inbox,
        courier: Courier,
        timer: TimerHandle,
        lanes: usize,
    ) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(lanes + 1);
        let mut senders = Vec::with_capacity(lanes);
        let in_flight = Arc::new(AtomicUsize::new(0));
        for index in 0..lanes.max(1) {
            let (tx, rx) = sync_channel(LANE_CAPACITY);
            let lane = Lane {
                engine: engine.clone(),
                courier: courier.clone(),
                timer: timer.clone(),
                in_flight: in_flight.clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("nodebus-mqtt-lane-{index}"))
                    .spawn(move || lane.run(rx))?,
            );
            senders.push(tx);
        }
        let counter = in_flight.clone();
        threads.push(
            std::thread::Builder::new()
                .name("nodebus-mqtt-dispatch".into())
                .spawn(move || dispatch(inbox, senders, &counter))?,
        );
        Ok(MqttAdapter { threads, in_flight })
    }

    /// Ops and session ends taken from the inbox and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until the inbox has been closed and every lane has answered what it held.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn lane_of(client_id: &str, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    client_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

fn dispatch(mut inbox: Inbox, lanes: Vec<SyncSender<Work>>, in_flight: &AtomicUsize) {
    while let Some(inbound) = inbox.blocking_recv() {
        let (client_id, work) = match inbound {
            Inbound::Message {
                client_id, payload, ..
            } => (client_id.clone(), Work::Op { client_id, payload }),
            Inbound::Opened { client_id, session } => {
                tracing::debug!(client = %client_id, session, "mqtt client connected");
                continue;
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
                (client_id.clone(), Work::SessionEnded { client_id, will })
            }
        };
        let lane = &lanes[lane_of(&client_id, lanes.len())];
        in_flight.fetch_add(1, Ordering::AcqRel);
        if lane.send(work).is_err() {
            tracing::error!("an MQTT lane has stopped; ops can no longer be answered");
            return;
        }
    }
}

impl Lane {
    fn run(self, work: Receiver<Work>) {
        while let Ok(item) = work.recv() {
            match item {
                Work::Op { client_id, payload } => self.op(&client_id, &payload, "mqtt"),
                Work::SessionEnded { client_id, will } => {
                    if let Some(will) = will {
                        self.op(&client_id, &will, "mqtt-will");
                    }
                    let outcome = self.engine.client_gone(&client_id, Instant::now());
                    self.courier.deliver(&outcome);
                    self.timer.poke();
                }
            }
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn op(&self, client_id: &str, payload: &[u8], transport: &'static str) {
        let outcome = self.engine.handle(client_id, payload, Instant::now());
        log_request(transport, client_id, &outcome);
        self.courier.reply(client_id, &outcome.replies);
        self.courier.deliver(&outcome);
        self.timer.poke();
    }
}

#[cfg(test)]
mod tests {
    use super::lane_of;

    #[test]
    fn a_client_always_gets_the_same_lane_and_clients_spread() {
        let lanes = 16;
        assert_eq!(lane_of("sensor-1", lanes), lane_of("sensor-1", lanes));
        let used: std::collections::HashSet<usize> = (0..200)
            .map(|i| lane_of(&format!("client-{i}"), lanes))
            .collect();
        assert!(used.len() > lanes / 2, "only {} lanes used", used.len());
        assert!(used.iter().all(|&lane| lane < lanes));
    }
}
