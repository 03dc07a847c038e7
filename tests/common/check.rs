//! Assertions shared by the black-box tests: the shape of a status message, "this op answers
//! that status", and a transport-neutral sender so one table of cases runs over MQTT and HTTP.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::http::HttpClient;
use super::mqtt::OpClient;

/// Something that takes one op and returns its replies, the status last.
#[allow(async_fn_in_trait)]
pub trait Ops {
    /// A label for failure messages ("mqtt v4 c1", "http").
    fn label(&self) -> String;
    /// Sends `op` as JSON; a `correl` is added when it has none so replies can be matched.
    async fn send(&mut self, op: Value) -> Vec<Value>;
    /// Sends raw bytes and returns every reply up to and including the next status.
    async fn raw(&mut self, body: Vec<u8>) -> Vec<Value>;
}

impl Ops for OpClient {
    fn label(&self) -> String {
        format!("mqtt client {}", self.client_id)
    }

    async fn send(&mut self, op: Value) -> Vec<Value> {
        self.op(op).await
    }

    async fn raw(&mut self, body: Vec<u8>) -> Vec<Value> {
        self.send_raw(body).await;
        self.until_status().await
    }
}

/// An HTTP client as an op sender; remembers the HTTP status of the last request.
pub struct HttpOps {
    pub client: HttpClient,
    pub last_http_status: Option<StatusCode>,
    correl_seq: u64,
}

impl HttpOps {
    pub fn new(client: HttpClient) -> Self {
        HttpOps {
            client,
            last_http_status: None,
            correl_seq: 0,
        }
    }
}

impl HttpOps {
    /// The server may answer an oversized body before reading it and then close. The hyper
    /// client gives up on the failed write without reading that answer (curl reads it), so
    /// bodies over the limit go over a raw socket that reads while it writes.
    async fn raw_oversized(&mut self, body: Vec<u8>) -> Vec<Value> {
        let addr = self.client.addr();
        let mut head = format!(
            "POST /ops HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}",
            body.len()
        );
        if let Some(id) = &self.client.client_id {
            head.push_str(&format!("\r\nX-Client-Id: {id}"));
        }
        let response = super::http::raw_exchange(addr, &head, &body).await;
        self.last_http_status = Some(StatusCode::from_u16(response.status).expect("status"));
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "content type of POST /ops"
        );
        response.json().as_array().expect("a JSON array").clone()
    }
}

impl Ops for HttpOps {
    fn label(&self) -> String {
        "http".to_owned()
    }

    async fn send(&mut self, op: Value) -> Vec<Value> {
        let mut op = op;
        if op.get("correl").is_none() {
            self.correl_seq += 1;
            op["correl"] = Value::String(format!("http-{}", self.correl_seq));
        }
        self.raw(op.to_string().into_bytes()).await
    }

    async fn raw(&mut self, body: Vec<u8>) -> Vec<Value> {
        if body.len() > 1 << 20 {
            return self.raw_oversized(body).await;
        }
        let reply = self.client.post("/ops", body).await;
        self.last_http_status = Some(reply.status);
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/json"),
            "content type of POST /ops"
        );
        reply.replies()
    }
}

/// Checks the status message rules of spec §3 and §4 on the last reply, and returns its code.
pub fn assert_status_message(replies: &[Value]) -> String {
    let status = replies.last().expect("at least one reply");
    let object = status
        .as_object()
        .unwrap_or_else(|| panic!("status is not an object: {status}"));
    let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["correl", "msg", "op", "status"],
        "a status message has exactly four members: {status}"
    );
    assert_eq!(status["op"], "status", "{status}");
    let correl = &status["correl"];
    assert!(
        correl.is_string() || correl.is_number(),
        "correl is a string or a number: {status}"
    );
    let code = status["status"]
        .as_str()
        .unwrap_or_else(|| panic!("status code is a string: {status}"));
    assert!(
        code.len() == 5
            && code
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "status code is five upper-case hex digits: {status}"
    );
    assert!(
        matches!(code.chars().next(), Some('0'..='5' | 'F')),
        "status class is one of 0-5, F: {status}"
    );
    let msg = status["msg"]
        .as_str()
        .unwrap_or_else(|| panic!("msg is a string: {status}"));
    assert!(msg.chars().count() <= 256, "msg longer than 256: {status}");
    if code == "00000" {
        assert_eq!(msg, "OK", "msg of a success: {status}");
    } else {
        assert!(code.starts_with(|c| c != '0'), "0 class only as 00000");
        assert!(!msg.is_empty(), "an error has a reason: {status}");
    }
    for reply in replies {
        assert_eq!(&reply["correl"], correl, "every reply carries the correl");
    }
    code.to_owned()
}

/// Sends `op` and asserts its status is `expected`; returns every reply.
pub async fn check(ops: &mut impl Ops, op: Value, expected: &str) -> Vec<Value> {
    let given_correl = op.get("correl").cloned();
    let replies = ops.send(op.clone()).await;
    let code = assert_status_message(&replies);
    assert_eq!(
        code,
        expected,
        "{}: {op}\n  replies: {}",
        ops.label(),
        Value::Array(replies.clone())
    );
    if let Some(correl) = given_correl.filter(|c| !c.is_null()) {
        for reply in &replies {
            assert_eq!(reply["correl"], correl, "correl echoed: {reply}");
        }
    }
    replies
}

/// Sends `op` and asserts it succeeds.
pub async fn ok(ops: &mut impl Ops, op: Value) -> Vec<Value> {
    check(ops, op, "00000").await
}

/// Sends raw bytes and asserts the status is `expected`; returns every reply.
pub async fn check_raw(ops: &mut impl Ops, body: impl Into<Vec<u8>>, expected: &str) -> Vec<Value> {
    let body = body.into();
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    let replies = ops.raw(body).await;
    let code = assert_status_message(&replies);
    assert_eq!(
        code,
        expected,
        "{}: raw {shown:?}\n  replies: {}",
        ops.label(),
        Value::Array(replies.clone())
    );
    replies
}

/// Runs `query:<plural>` with `filters` (an object), asserts success and the reply shape, and
/// returns the records sorted by their key.
pub async fn query(ops: &mut impl Ops, plural: &str, filters: Value) -> Vec<Value> {
    let mut op = filters;
    op["op"] = json!(format!("query:{plural}"));
    let replies = ok(ops, op).await;
    assert_eq!(replies.len(), 2, "data then status: {replies:?}");
    let data = &replies[0];
    assert_eq!(data["op"], format!("query-result:{plural}"), "{data}");
    let mut members: Vec<&str> = data
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    let mut wanted = vec!["correl", "op", plural];
    wanted.sort_unstable();
    assert_eq!(members, wanted, "members of the query result: {data}");
    let mut records = data[plural].as_array().expect("records array").clone();
    sort_records(&mut records);
    records
}

/// The keys (`id` or `type`) of a query's records, sorted.
pub async fn query_keys(ops: &mut impl Ops, plural: &str, filters: Value) -> Vec<String> {
    let key = key_field(plural);
    query(ops, plural, filters)
        .await
        .iter()
        .map(|r| {
            r[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} of {r}"))
                .to_owned()
        })
        .collect()
}

/// `type` for `*-types` plurals, `id` otherwise.
pub fn key_field(plural: &str) -> &'static str {
    if plural.ends_with("-types") {
        "type"
    } else {
        "id"
    }
}

/// Sorts records by `id`, else `type`, else their JSON text, so results compare as sets.
pub fn sort_records(records: &mut [Value]) {
    records.sort_by_key(|r| {
        r.get("id")
            .or_else(|| r.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| r.to_string())
    });
}

/// A copy of `value` with every array of objects sorted by key, for order-insensitive equality.
pub fn normalized(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            if items.iter().all(Value::is_object) {
                sort_records(&mut items);
            }
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether `text` is a lower-case UUID v4 (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`).
pub fn is_uuid_v4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    let hex = |p: &&str| p.chars().all(|c| c.is_ascii_hexdigit());
    lengths == [8, 4, 4, 4, 12]
        && parts.iter().all(hex)
        && text.to_ascii_lowercase() == text
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

/// The sorted member names of a JSON object.
pub fn members(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}
