//! The HTTP transport (spec §2.2): `POST /ops` answers a JSON array of replies ending with the
//! status, with the HTTP status mapped from the op's status; `/healthz`, unknown paths, wrong
//! methods and oversized bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::check::{assert_status_message, HttpOps, Ops};
use common::http::raw_exchange;
use common::TestNode;
use hyper::StatusCode;
use serde_json::{json, Value};

/// Sends `op`, asserts the HTTP status and the op status, returns the replies.
async fn expect(ops: &mut HttpOps, op: Value, http: StatusCode, code: &str) -> Vec<Value> {
    let replies = ops.send(op.clone()).await;
    assert_eq!(assert_status_message(&replies), code, "{op} -> {replies:?}");
    assert_eq!(ops.last_http_status, Some(http), "{op} -> {replies:?}");
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_ops_answers_a_json_array_ending_with_the_status() {
    let node = TestNode::start().await;
    let reply = node
        .http()
        .post(
            "/ops",
            br#"{"op":"query:platform-types","correl":"q1"}"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let replies = reply.replies();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0]["op"], "query-result:platform-types");
    assert_eq!(replies[0]["correl"], "q1");
    assert_eq!(
        replies[1],
        json!({"op": "status", "correl": "q1", "status": "00000", "msg": "OK"})
    );

    let reply = node
        .http()
        .post(
            "/ops",
            br#"{"op":"register:platform","id":"p","type":"app","correl":7}"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!([{"op": "status", "correl": 7, "status": "00000", "msg": "OK"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_follows_the_op_status() {
    let node = TestNode::start().await;
    let mut h = HttpOps::new(node.http());

    expect(
        &mut h,
        json!({"op": "register:platform-type", "type": "vehicle"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "register:platform", "id": "truck", "type": "vehicle"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "query:platforms"}),
        StatusCode::OK,
        "00000",
    )
    .await;

    // 400: class 1.
    let replies = h.raw(b"{not json".to_vec()).await;
    assert_eq!(assert_status_message(&replies), "10102");
    assert_eq!(h.last_http_status, Some(StatusCode::BAD_REQUEST));
    expect(
        &mut h,
        json!({"op": "nope"}),
        StatusCode::BAD_REQUEST,
        "10102",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "register:platform", "id": "x"}),
        StatusCode::BAD_REQUEST,
        "10208",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "register:platform", "id": "a/b", "type": "app"}),
        StatusCode::BAD_REQUEST,
        "10208",
    )
    .await;

    // 404: the record does not exist.
    expect(
        &mut h,
        json!({"op": "deregister:platform", "id": "ghost"}),
        StatusCode::NOT_FOUND,
        "20308",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "deregister:user", "id": "ghost"}),
        StatusCode::NOT_FOUND,
        "2030D",
    )
    .await;

    // 409: in use, built-in.
    expect(
        &mut h,
        json!({"op": "deregister:platform-type", "type": "vehicle"}),
        StatusCode::CONFLICT,
        "20309",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "deregister:platform-type", "type": "app"}),
        StatusCode::CONFLICT,
        "20309",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "register:system", "id": "truck/s", "type": "simple_system"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    expect(
        &mut h,
        json!({"op": "deregister:platform", "id": "truck"}),
        StatusCode::CONFLICT,
        "20308",
    )
    .await;

    // 413: too large.
    let mut body = br#"{"op":"register:platform","id":"big","type":"app","desc":""#.to_vec();
    body.extend(vec![b'x'; 1 << 20]);
    body.extend_from_slice(br#""}"#);
    let replies = h.raw(body).await;
    assert_eq!(assert_status_message(&replies), "50102");
    assert_eq!(h.last_http_status, Some(StatusCode::PAYLOAD_TOO_LARGE));

    // Nothing of the refused requests was stored.
    let replies = expect(
        &mut h,
        json!({"op": "query:platforms"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    let ids: Vec<&str> = replies[0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["truck"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_unread() {
    let node = TestNode::start().await;
    let addr = node.http_addr();
    // Declares 2 MiB and sends only a little: the answer must not wait for the rest.
    let head = format!(
        "POST /ops HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}",
        2 << 20
    );
    let response = raw_exchange(addr, &head, br#"{"op":"query:platforms","#).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let replies = response.json().as_array().expect("array").clone();
    assert_eq!(replies.len(), 1);
    assert_eq!(assert_status_message(&replies), "50102");

    // The node still serves.
    let (status, replies) = node.http().op(&json!({"op": "query:local-node"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replies[0]["id"], "testnode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_refused() {
    let node = TestNode::start().await;
    let addr = node.http_addr();
    let head = format!(
        "POST /ops HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
    );
    let mut body = Vec::new();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let response = raw_exchange(addr, &head, &body).await;
    assert_eq!(response.status, 413);
    let replies = response.json().as_array().expect("array").clone();
    assert_eq!(assert_status_message(&replies), "50102");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_unknown_paths_and_methods() {
    let node = TestNode::start().await;
    let http = node.http();
    assert_eq!(http.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(http.get("/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        http.post("/nope", b"{}".to_vec()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(http.get("/ops/extra").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        http.get("/ops").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        http.request("PUT", "/ops", b"{}".to_vec(), true)
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        http.request("DELETE", "/ops", Vec::new(), false)
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        http.post("/healthz", Vec::new()).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    // None of these reached the engine.
    let (status, replies) = http.op(&json!({"op": "query:platforms"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replies[0]["platforms"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_string_does_not_change_the_route() {
    let node = TestNode::start().await;
    let reply = node
        .http()
        .post("/ops?pretty=1", br#"{"op":"query:local-node"}"#.to_vec())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.replies()[0]["id"], "testnode");
}

/// The client identity is only observable through `disconnect` (spec §6.6), which checks that
/// `client-id` is the sender's own id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_client_id_defaults_to_http() {
    let node = TestNode::start().await;
    let mut anonymous = HttpOps::new(node.http());
    expect(
        &mut anonymous,
        json!({"op": "disconnect", "client-id": "http"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    expect(
        &mut anonymous,
        json!({"op": "disconnect", "client-id": "dashboard"}),
        StatusCode::FORBIDDEN,
        "3050A",
    )
    .await;
    let mut named = HttpOps::new(node.http().with_client_id("dashboard"));
    expect(
        &mut named,
        json!({"op": "disconnect", "client-id": "dashboard"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    expect(
        &mut named,
        json!({"op": "disconnect", "client-id": "http"}),
        StatusCode::FORBIDDEN,
        "3050A",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_on_fresh_connections() {
    let node = TestNode::start().await;
    let mut h = HttpOps::new(node.http());
    for i in 0..40 {
        expect(
            &mut h,
            json!({"op": "register:platform", "id": format!("p{i}"), "type": "sensor"}),
            StatusCode::OK,
            "00000",
        )
        .await;
    }
    let replies = expect(
        &mut h,
        json!({"op": "query:platforms", "type": "sensor"}),
        StatusCode::OK,
        "00000",
    )
    .await;
    assert_eq!(replies[0]["platforms"].as_array().unwrap().len(), 40);
}

/// An `X-Client-Id` that is not UTF-8 is refused with 400, not silently mapped to the shared
/// default identity `http`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_header_that_is_not_utf8_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = TestNode::start().await;
    let body = br#"{"op":"query:local-node"}"#;
    let mut request =
        b"POST /ops HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Client-Id: caf\xe9\r\n".to_vec();
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    let mut stream = common::within("connect", tokio::net::TcpStream::connect(node.http_addr()))
        .await
        .unwrap();
    common::within("write", stream.write_all(&request))
        .await
        .unwrap();
    let mut response = Vec::new();
    common::within("read", stream.read_to_end(&mut response))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("X-Client-Id"), "{text}");
}
