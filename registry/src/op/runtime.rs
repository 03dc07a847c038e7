//! Decoders of the runtime ops of spec §6 (state changes, feeds, notifications, requests).
//! Field shapes only: whether the named systems and services exist is the handlers' business.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::feed_pattern::FeedPattern;
use crate::fields::Fields;
use crate::ident;
use crate::records::SystemState;
use crate::status::{Entity, Operation, Status};

use super::Op;

/// The message body of publish, notify, request and response, passed through untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// Any JSON value, `null` included; the member itself is required.
    pub msg: Value,
    /// As sent, `ascii` when absent.
    pub encoding: String,
}

/// The encoding reported when a sender gives none.
pub const DEFAULT_ENCODING: &str = "ascii";

fn fields(map: &Map<String, Value>, operation: Operation) -> Fields<'_> {
    Fields::new(map, operation, Entity::System)
}

/// A required service id `p/s/f`.
fn service_id(fields: &Fields<'_>, name: &str) -> Result<String, Status> {
    let text = fields.required_str(name)?;
    ident::check_segments(text, 3)
        .map_err(|reason| fields.invalid(format!("field {name} {reason}")))?;
    Ok(text.to_string())
}

/// A non-empty array of service ids, or one service id as a plain string; duplicates are
/// dropped, first occurrence kept.
fn service_ids(fields: &Fields<'_>, name: &str) -> Result<Vec<String>, Status> {
    let items: Vec<&Value> = match fields.required(name)? {
        Value::String(_) => return Ok(vec![service_id(fields, name)?]),
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => return Err(fields.invalid(format!("field {name} must not be empty"))),
        _ => return Err(fields.invalid(format!("field {name} must be an array of service ids"))),
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::String(text) = item else {
            return Err(fields.invalid(format!("field {name}[{index}] must be a string")));
        };
        ident::check_segments(text, 3)
            .map_err(|reason| fields.invalid(format!("field {name}[{index}] {reason}")))?;
        if !ids.contains(text) {
            ids.push(text.clone());
        }
    }
    Ok(ids)
}

fn payload(fields: &Fields<'_>, map: &Map<String, Value>) -> Result<Payload, Status> {
    // `msg` is looked up directly: unlike other members, an explicit `null` is a message.
    let msg = map
        .get("msg")
        .cloned()
        .ok_or_else(|| fields.invalid("missing field msg"))?;
    let encoding = fields
        .optional_str("encoding")?
        .unwrap_or(DEFAULT_ENCODING)
        .to_string();
    Ok(Payload { msg, encoding })
}

/// A non-empty array of subscription patterns.
fn patterns(fields: &Fields<'_>, name: &str) -> Result<Vec<FeedPattern>, Status> {
    let items = fields
        .optional_array(name)?
        .ok_or_else(|| fields.invalid(format!("missing field {name}")))?;
    if items.is_empty() {
        return Err(fields.invalid(format!("field {name} must not be empty")));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let Value::String(text) = item else {
                return Err(fields.invalid(format!("field {name}[{index}] must be a string")));
            };
            FeedPattern::parse(text)
                .map_err(|reason| fields.invalid(format!("field {name}[{index}] {reason}")))
        })
        .collect()
}

pub fn state_system(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::StateChange);
    let id = fields.required_str("id")?;
    ident::split_system_id(id).map_err(|reason| fields.invalid(format!("field id {reason}")))?;
    let state = match fields.required_str("state")? {
        "running" => SystemState::Running,
        "stopped" => SystemState::Stopped,
        _ => return Err(fields.invalid("field state must be \"running\" or \"stopped\"")),
    };
    Ok(Op::StateSystem {
        id: id.to_string(),
        state,
    })
}

pub fn disconnect(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::StateChange);
    Ok(Op::Disconnect {
        client_id: fields.required_str("client-id")?.to_string(),
    })
}

pub fn publish(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Publish);
    Ok(Op::Publish {
        output_feed: service_id(&fields, "output-feed")?,
        payload: payload(&fields, map)?,
    })
}

pub fn subscribe(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Subscribe);
    Ok(Op::Subscribe {
        input_feed: service_id(&fields, "input-feed")?,
        patterns: patterns(&fields, "output-feeds")?,
    })
}

pub fn unsubscribe(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Unsubscribe);
    let input_feed = service_id(&fields, "input-feed")?;
    let patterns = match fields.get("output-feeds") {
        None => None,
        Some(_) => Some(patterns(&fields, "output-feeds")?),
    };
    Ok(Op::Unsubscribe {
        input_feed,
        patterns,
    })
}

pub fn notify(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Notify);
    Ok(Op::Notify {
        notification: service_id(&fields, "notification")?,
        listeners: service_ids(&fields, "listener")?,
        payload: payload(&fields, map)?,
    })
}

pub fn request(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Request);
    let timeout = match fields.get("timeout-ms") {
        None => None,
        Some(value) => Some(Duration::from_millis(value.as_u64().ok_or_else(|| {
            fields.invalid("field timeout-ms must be a non-negative integer")
        })?)),
    };
    Ok(Op::Request {
        solicit_response: service_id(&fields, "solicit-response")?,
        targets: service_ids(&fields, "request-response")?,
        payload: payload(&fields, map)?,
        timeout,
    })
}

pub fn response(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = fields(map, Operation::Response);
    // The envelope would invent a correl; a response must name the request it answers.
    fields.required("correl")?;
    Ok(Op::Response {
        request_response: service_id(&fields, "request-response")?,
        solicit_response: service_id(&fields, "solicit-response")?,
        payload: payload(&fields, map)?,
    })
}
