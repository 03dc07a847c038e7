//! The envelope of spec §3: size limit, nesting limit, JSON parse, `op` and `correl`.
//! Knows nothing of individual ops; every failure here is `10102` (or `50102` for size).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::status::{Entity, Kind, Operation, Status};

/// A well-formed envelope: the op name, the correl to echo, and all members.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub op: String,
    pub correl: Value,
    pub fields: Map<String, Value>,
}

/// A refused envelope and the correl its status carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub correl: Value,
    pub status: Status,
}

/// A fresh UUID v4 correlation id, for requests that bring none.
pub fn fresh_correl() -> Value {
    Value::String(uuid::Uuid::new_v4().to_string())
}

/// The `50102` refusal of a request above the size limit.
pub fn too_large(limit: usize) -> Status {
    Status::new(
        Kind::TooLarge,
        Operation::Envelope,
        Entity::Envelope,
        format!("request is larger than {limit} bytes"),
    )
}

pub fn parse(
    bytes: &[u8],
    max_request_bytes: usize,
    max_depth: usize,
) -> Result<Request, Rejection> {
    let refuse = |status: Status| Rejection {
        correl: fresh_correl(),
        status,
    };
    if bytes.len() > max_request_bytes {
        return Err(refuse(too_large(max_request_bytes)));
    }
    if nesting_exceeds(bytes, max_depth) {
        return Err(refuse(Status::envelope(format!(
            "JSON is nested deeper than {max_depth} levels"
        ))));
    }
    let value = parse_json(bytes)
        .map_err(|error| refuse(Status::envelope(format!("invalid JSON: {error}"))))?;
    let Value::Object(fields) = value else {
        return Err(refuse(Status::envelope("request must be a JSON object")));
    };
    let correl = match fields.get("correl") {
        None | Some(Value::Null) => fresh_correl(),
        Some(value @ (Value::String(_) | Value::Number(_))) => value.clone(),
        Some(_) => {
            return Err(refuse(Status::envelope(
                "field correl must be a string or a number",
            )))
        }
    };
    let op = match fields.get("op") {
        Some(Value::String(op)) => op.clone(),
        Some(_) => {
            return Err(Rejection {
                correl,
                status: Status::envelope("field op must be a string"),
            })
        }
        None => {
            return Err(Rejection {
                correl,
                status: Status::envelope("missing field op"),
            })
        }
    };
    Ok(Request { op, correl, fields })
}

/// Parses one JSON value with serde_json's own recursion limit off: [`nesting_exceeds`] has
/// already bounded the depth, and serde_json's limit would refuse the 128th level.
fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// True when arrays/objects nest deeper than `max_depth`, counting brackets outside strings.
pub fn nesting_exceeds(bytes: &[u8], max_depth: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn depth_scan_counts_levels_outside_strings() {
        assert!(!nesting_exceeds(nested(128).as_bytes(), 128));
        assert!(nesting_exceeds(nested(129).as_bytes(), 128));
        assert!(!nesting_exceeds(br#"{"a":"[[[[[[","b":"\"[[[["}"#, 2));
        assert!(nesting_exceeds(br#"{"a":"\\",  "b":[[]]}"#, 2));
        assert!(!nesting_exceeds(b"[][][][]", 1));
    }

    #[test]
    fn parse_accepts_exactly_the_limit() {
        let at_limit = format!(r#"{{"op":"x","a":{}}}"#, nested(127));
        assert!(parse(at_limit.as_bytes(), 1 << 20, 128).is_ok());
        let over = format!(r#"{{"op":"x","a":{}}}"#, nested(128));
        let rejection = parse(over.as_bytes(), 1 << 20, 128).unwrap_err();
        assert_eq!(rejection.status.code(), "10102");
    }

    #[test]
    fn trailing_garbage_is_refused_but_whitespace_is_fine() {
        assert!(parse(b" \n{\"op\":\"x\"}\t ", 100, 8).is_ok());
        assert!(parse(b"{\"op\":\"x\"} {}", 100, 8).is_err());
    }
}
