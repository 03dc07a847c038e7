//! What load clients put on the wire and read back: payloads that carry their send time as 20
//! decimal digits, op templates with a correl, and cheap byte-level readers of the replies (the
//! node writes `op` and `correl` first, so no JSON parse is needed on the client side).

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

/// Digits of a send time in nanoseconds (fits any u64).
pub const STAMP_DIGITS: usize = 20;

/// `size` bytes (at least [`STAMP_DIGITS`]): the time stamp, then `x` padding.
pub fn stamped_payload(stamp_ns: u64, size: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(size.max(STAMP_DIGITS));
    out.put_slice(format!("{stamp_ns:020}").as_bytes());
    out.resize(size.max(STAMP_DIGITS), b'x');
    out.freeze()
}

/// The stamp at the start of a payload made by [`stamped_payload`].
pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    parse_digits(payload.get(..STAMP_DIGITS)?)
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

const STATUS_PREFIX: &[u8] = br#"{"op":"status","correl":""#;
const STATUS_MEMBER: &[u8] = br#"","status":""#;

/// For a status reply whose correl is a stamp: `(stamp, succeeded)`. `None` for anything else
/// (data replies, deliveries, statuses with other correls).
pub fn read_status(payload: &[u8]) -> Option<(u64, bool)> {
    let rest = payload.strip_prefix(STATUS_PREFIX)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let stamp = parse_digits(&rest[..end])?;
    let code = rest[end..].strip_prefix(STATUS_MEMBER)?;
    Some((stamp, code.starts_with(b"00000\"")))
}

const FEED_PREFIX: &[u8] = br#"{"op":"feed-message""#;
const MSG_MEMBER: &[u8] = br#""msg":""#;

/// The stamp at the start of the `msg` string of a `feed-message` delivery.
pub fn read_feed_stamp(payload: &[u8]) -> Option<u64> {
    if !payload.starts_with(FEED_PREFIX) {
        return None;
    }
    let at = payload
        .windows(MSG_MEMBER.len())
        .position(|window| window == MSG_MEMBER)?;
    read_stamp(&payload[at + MSG_MEMBER.len()..])
}

/// An op with a fixed body whose `correl` is filled in per request.
#[derive(Debug, Clone)]
pub struct OpTemplate {
    /// Everything up to the opening quote of the correl value.
    prefix: Vec<u8>,
}

impl OpTemplate {
    /// From a JSON object; an existing `correl` member is replaced.
    pub fn new(op: &Value) -> Result<Self, String> {
        let mut object: Map<String, Value> = op
            .as_object()
            .cloned()
            .ok_or_else(|| format!("the op must be a JSON object, not {op}"))?;
        if !object.get("op").is_some_and(Value::is_string) {
            return Err(format!("the op needs an \"op\" string member: {op}"));
        }
        object.remove("correl");
        let mut text = Value::Object(object).to_string();
        text.pop(); // the closing brace
        text.push_str(r#","correl":""#);
        Ok(OpTemplate {
            prefix: text.into_bytes(),
        })
    }

    /// The op with `correl` set to the stamp (a string of digits).
    pub fn render(&self, stamp_ns: u64) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + STAMP_DIGITS + 2);
        out.put_slice(&self.prefix);
        out.put_slice(stamp_ns.to_string().as_bytes());
        out.put_slice(b"\"}");
        out.freeze()
    }
}

/// `register:platform` of a sensor platform with a unique id, correl = the stamp.
pub fn register_platform(id: &str, stamp_ns: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"op":"register:platform","id":"{id}","type":"sensor","correl":"{stamp_ns}"}}"#
    ))
}

/// A `publish` op whose `msg` is a string starting with the stamp, padded to about `size` bytes.
pub fn publish_op(feed: &str, stamp_ns: u64, size: usize) -> Bytes {
    let base = 60 + feed.len() + 2 * STAMP_DIGITS;
    let padding = "x".repeat(size.saturating_sub(base));
    Bytes::from(format!(
        r#"{{"op":"publish","output-feed":"{feed}","msg":"{stamp_ns:020}{padding}","correl":"{stamp_ns}"}}"#
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamps_round_trip_through_payloads() {
        let payload = stamped_payload(123_456_789, 64);
        assert_eq!(payload.len(), 64);
        assert_eq!(read_stamp(&payload), Some(123_456_789));
        assert_eq!(stamped_payload(7, 1).len(), STAMP_DIGITS);
        assert_eq!(read_stamp(b"12x"), None);
    }

    #[test]
    fn status_replies_are_read_without_parsing() {
        let ok = br#"{"op":"status","correl":"42","status":"00000","msg":"OK"}"#;
        assert_eq!(read_status(ok), Some((42, true)));
        let bad = br#"{"op":"status","correl":"42","status":"10208","msg":"missing"}"#;
        assert_eq!(read_status(bad), Some((42, false)));
        let data = br#"{"op":"query-result:local-node","correl":"42","id":"n"}"#;
        assert_eq!(read_status(data), None);
        let uuid = br#"{"op":"status","correl":"5d0c-aa","status":"00000","msg":"OK"}"#;
        assert_eq!(read_status(uuid), None);
    }

    #[test]
    fn templates_put_the_correl_last() {
        let template = OpTemplate::new(&json!({"op":"query:local-node","correl":"x"})).unwrap();
        let op: Value = serde_json::from_slice(&template.render(99)).unwrap();
        assert_eq!(op, json!({"op":"query:local-node","correl":"99"}));
        assert!(OpTemplate::new(&json!([1])).is_err());
        assert!(OpTemplate::new(&json!({"id": 1})).is_err());
    }

    #[test]
    fn feed_messages_carry_the_stamp_in_msg() {
        let op: Value = serde_json::from_slice(&publish_op("p/s/f", 77, 200)).unwrap();
        assert_eq!(op["op"], "publish");
        let delivery = json!({"op":"feed-message","output-feed":"p/s/f","input-feed":"q/t/g","msg":op["msg"],"encoding":"ascii"});
        assert_eq!(read_feed_stamp(delivery.to_string().as_bytes()), Some(77));
        let reg: Value = serde_json::from_slice(&register_platform("p1", 5)).unwrap();
        assert_eq!(reg["correl"], "5");
    }
}
