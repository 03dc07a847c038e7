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

/// The result of one op.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The request's `op` name when the envelope carried one (for logs); `None` otherwise.
    pub op: Option<String>,
    /// For the sender, in order; the last is always the status message.
    pub replies: Vec<Value>,
    /// For other clients.
    pub deliveries: Vec<Delivery>,
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
            status,
        }
    }

    /// Deliveries that answer no request (timeouts, session ends): no replies at all.
    pub fn unsolicited(deliveries: Vec<Delivery>, status: Status) -> Outcome {
        Outcome {
            op: None,
            replies: Vec::new(),
            deliveries,
            status,
        }
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
