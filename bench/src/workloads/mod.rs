//! The workloads, one per file, and what they share: run tags that keep ids unique per run, and
//! the setup calls (register, start, subscribe) made before the load starts.

pub mod connections;
pub mod echo;
pub mod feed;
pub mod http;
pub mod op;
pub mod raw_fanout;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::client::{Client, ClientOptions, OnMessage};

/// A short tag unique to this run, so ids do not collide on an external node between runs.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id() % 0xfff, nanos % 0xfffff)
}

/// Where a client's setup replies go: everything the load handler does not take.
pub struct SetupReplies {
    rx: mpsc::UnboundedReceiver<Bytes>,
    seq: u64,
}

/// A channel for setup replies: the sending half goes into the client's `on_message`.
pub fn setup_channel() -> (mpsc::UnboundedSender<Bytes>, SetupReplies) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, SetupReplies { rx, seq: 0 })
}

/// How long one setup op may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

impl SetupReplies {
    /// Sends `op` (its correl set to `setup-<n>`) from `client` and returns the replies up to its
    /// status; a status other than `00000` is an error naming the op.
    pub async fn call(
        &mut self,
        client: &Client,
        in_topic: &str,
        mut op: Value,
    ) -> Result<Vec<Value>> {
        self.seq += 1;
        let correl = format!("setup-{}", self.seq);
        op["correl"] = json!(correl);
        client
            .sender
            .publish(in_topic, Bytes::from(op.to_string()))
            .await?;
        let mut replies = Vec::new();
        loop {
            let payload = tokio::time::timeout(SETUP_TIMEOUT, self.rx.recv())
                .await
                .with_context(|| format!("no status for {op} within {SETUP_TIMEOUT:?}"))?
                .ok_or_else(|| anyhow!("client {} closed during setup", client.id))?;
            let Ok(reply) = serde_json::from_slice::<Value>(&payload) else {
                continue;
            };
            if reply["correl"] != json!(correl) {
                continue;
            }
            let is_status = reply["op"] == "status";
            replies.push(reply);
            if is_status {
                break;
            }
        }
        let status = replies
            .last()
            .map(|s| s["status"].clone())
            .unwrap_or_default();
        if status != "00000" {
            bail!("setup op {op} failed: {}", Value::Array(replies));
        }
        Ok(replies)
    }
}

/// Connects `id`, subscribes to its out-topic, and registers and starts system `<platform>/s`
/// of type `simple_system` on a new sensor platform. Returns the in-topic.
pub async fn connect_with_system(
    id: &str,
    node_id: &str,
    options: &ClientOptions,
    on_message: OnMessage,
    setup: &mut SetupReplies,
    platform: &str,
) -> Result<(Client, String)> {
    let mut client = Client::connect(id, options, on_message).await?;
    client
        .subscribe(&crate::client::out_topic(node_id, id))
        .await?;
    let in_topic = crate::client::in_topic(node_id, id);
    setup
        .call(
            &client,
            &in_topic,
            json!({"op":"register:platform","id":platform,"type":"sensor"}),
        )
        .await?;
    let system = format!("{platform}/s");
    setup
        .call(
            &client,
            &in_topic,
            json!({"op":"register:system","id":system,"type":"simple_system"}),
        )
        .await?;
    setup
        .call(
            &client,
            &in_topic,
            json!({"op":"state:system","id":system,"state":"running"}),
        )
        .await?;
    Ok((client, in_topic))
}

/// Closes every client (DISCONNECT), a few at a time.
pub async fn close_all(clients: Vec<Client>) {
    let mut pending = Vec::new();
    for client in clients {
        pending.push(tokio::spawn(client.close()));
        if pending.len() >= 64 {
            for task in pending.drain(..) {
                let _ = task.await;
            }
        }
    }
    for task in pending {
        let _ = task.await;
    }
}
