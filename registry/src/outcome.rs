//! What handling one op produces, as data: replies for the sender and deliveries for others.
//! Sending them is the adapters' job, never the engine's.

use serde_json::{json, Value};

use crate::status::Status;

/// A message for a client other than the sender (e.g. a feed message for a consumer's owner).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub client_id: String,
    pub message: Value,
}

/// A delivery already serialised for the wire: what fan-out produces, so that a message sent
/// to many recipients is serialised once and only the framing around it is written per
/// recipient. [`Encoded::to_delivery`] gives the same message as a [`Delivery`].
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub client_id: String,
    /// One JSON object, UTF-8.
    pub payload: Vec<u8>,
}

impl Encoded {
    /// The message as a JSON value (for tests and logs; the transport sends `payload`).
    pub fn to_delivery(&self) -> Delivery {
        Delivery {
            client_id: self.client_id.clone(),
            message: serde_json::from_slice(&self.payload).unwrap_or(Value::Null),
        }
    }
}

/// The result of one op.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The request's `op` name when the envelope carried one (for logs); `None` otherwise.
    pub op: Option<String>,
    /// For the sender, in order; the last is always the status message.
    pub replies: Vec<Value>,
    /// For other clients.
    pub deliveries: Vec<Delivery>,
    /// For other clients, already serialised; sent after `deliveries`.
    pub encoded: Vec<Encoded>,
    /// The final status (the same as in the last reply).
    pub status: Status,
}

impl Outcome {
    /// Data replies followed by the status message carrying `correl`.
    pub fn new(
        correl: &Value,
        mut replies: Vec<Value>,
        deliveries: Vec<Delivery>,
        status: Status,
    ) -> Outcome {
        replies.push(status_message(correl, &status));
        Outcome {
            op: None,
            replies,
            deliveries,
            encoded: Vec::new(),
            status,
        }
    }

    /// Deliveries that answer no request (timeouts, session ends): no replies at all.
    pub fn unsolicited(deliveries: Vec<Delivery>, status: Status) -> Outcome {
        Outcome {
            op: None,
            replies: Vec::new(),
            deliveries,
            encoded: Vec::new(),
            status,
        }
    }

    /// Data replies, then the status message carrying `correl`; deliveries already serialised.
    pub fn with_encoded(
        correl: &Value,
        replies: Vec<Value>,
        encoded: Vec<Encoded>,
        status: Status,
    ) -> Outcome {
        let mut outcome = Outcome::new(correl, replies, Vec::new(), status);
        outcome.encoded = encoded;
        outcome
    }

    /// Every delivery as a JSON value, `deliveries` then `encoded` (the order they are sent in).
    pub fn all_deliveries(&self) -> Vec<Delivery> {
        let mut all = self.deliveries.clone();
        all.extend(self.encoded.iter().map(Encoded::to_delivery));
        all
    }

    /// Just the status message.
    pub fn status_only(correl: &Value, status: Status) -> Outcome {
        Outcome::new(correl, Vec::new(), Vec::new(), status)
    }
}

/// `{"op":"status","correl":c,"status":"XXXXX","msg":"..."}`, exactly those four members.
pub fn status_message(correl: &Value, status: &Status) -> Value {
    json!({
        "op": "status",
        "correl": correl,
        "status": status.code(),
        "msg": status.msg,
    })
}
