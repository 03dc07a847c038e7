//! Lists the platforms and systems of a running node over HTTP.
//!
//! Run a node (`cargo run --release`), then: `cargo run --example http_query [-- 127.0.0.1:8080]`.
//! The same request works with curl: `curl -s localhost:8080/ops -d '{"op":"query:systems"}'`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());

    let platforms = post_op(
        &addr,
        &json!({"op": "query:platforms", "correl": "platforms"}),
    )
    .await?;
    println!("platforms:");
    for platform in records(&platforms, "platforms")? {
        println!(
            "  {:<24} type {:<10} {}",
            text(&platform["id"]),
            text(&platform["type"]),
            platform.get("desc").map(text).unwrap_or_default()
        );
    }

    let systems = post_op(&addr, &json!({"op": "query:systems", "correl": "systems"})).await?;
    println!("systems:");
    for system in records(&systems, "systems")? {
        let services: Vec<String> = system["services"]
            .as_array()
            .map(|all| all.iter().map(|s| text(&s["mode"])).collect())
            .unwrap_or_default();
        println!(
            "  {:<32} {:<8} type {:<16} services: {}",
            text(&system["id"]),
            text(&system["state"]),
            text(&system["type"]),
            services.join(", ")
        );
    }
    Ok(())
}

/// Sends one op with `POST /ops` and returns the replies (the status last).
async fn post_op(addr: &str, op: &Value) -> Result<Vec<Value>, Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::post("/ops")
        .header("host", addr)
        .header("content-type", "application/json")
        .header("x-client-id", "http-query-example")
        .body(Full::new(Bytes::from(op.to_string())))?;
    let response = sender.send_request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

/// The records of a query's data reply, or the status's message when the query failed.
fn records(replies: &[Value], plural: &str) -> Result<Vec<Value>, Error> {
    let status = replies.last().ok_or("no reply")?;
    if status["status"] != "00000" {
        return Err(format!("{} failed: {} {}", plural, status["status"], status["msg"]).into());
    }
    Ok(replies
        .first()
        .and_then(|data| data[plural].as_array())
        .cloned()
        .unwrap_or_default())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}
