//! Sends an outcome's messages: replies to the requester's out-topic and deliveries to their
//! recipients' out-topics, through the broker. Shared by every transport and the request timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use nodebus_broker::Publisher;
use nodebus_registry::Outcome;
use serde_json::Value;

/// Cheap to clone; counts the deliveries HTTP requests cause, for the logs.
#[derive(Clone)]
pub struct Courier {
    publisher: Publisher,
    deliveries_from_http: Arc<AtomicU64>,
}

impl Courier {
    pub fn new(publisher: Publisher) -> Self {
        Courier {
            publisher,
            deliveries_from_http: Arc::default(),
        }
    }

    /// Publishes `replies` to `client_id`'s out-topic, in order.
    pub fn reply(&self, client_id: &str, replies: &[Value]) {
        for reply in replies {
            self.publish(client_id, reply);
        }
    }

    /// Publishes each of the outcome's deliveries to its recipient's out-topic, in order:
    /// first those built as values, then those the engine serialised itself (taken out of the
    /// outcome, so their bytes are handed on without a copy).
    pub fn deliver(&self, outcome: &mut Outcome) {
        for delivery in &outcome.deliveries {
            self.publish(&delivery.client_id, &delivery.message);
        }
        for encoded in std::mem::take(&mut outcome.encoded) {
            self.send(&encoded.client_id, Bytes::from(encoded.payload));
        }
    }

    /// Deliveries caused by an HTTP request. HTTP has no push channel: they go to the
    /// recipients' MQTT out-topics like any other, and are counted apart for the logs.
    pub fn deliver_from_http(&self, outcome: &mut Outcome) {
        let count = outcome.deliveries.len() + outcome.encoded.len();
        if count == 0 {
            return;
        }
        let total = self
            .deliveries_from_http
            .fetch_add(count as u64, Ordering::Relaxed)
            + count as u64;
        tracing::debug!(
            count,
            total,
            "deliveries caused by an HTTP request sent to MQTT out-topics"
        );
        self.deliver(outcome);
    }

    fn publish(&self, client_id: &str, message: &Value) {
        let payload = match serde_json::to_vec(message) {
            Ok(payload) => Bytes::from(payload),
            Err(error) => {
                tracing::error!(%error, "a message could not be encoded");
                return;
            }
        };
        self.send(client_id, payload);
    }

    fn send(&self, client_id: &str, payload: Bytes) {
        if let Err(error) = self.publisher.send_to_client(client_id, payload) {
            tracing::warn!(client = client_id, %error, "a message could not be queued");
        }
    }
}
