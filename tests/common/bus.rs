//! Helpers for the runtime-op tests (spec §6): systems of the built-in `simple_system` type,
//! their service ids, starting and stopping, waiting for a state, and "nothing arrives" checks.

use std::time::Duration;

use serde_json::{json, Value};

use super::check::{ok, query, Ops};
use super::mqtt::{OpClient, Received};
use super::{within, STEP};

/// How long a client listens to conclude that nothing was sent to it.
pub const QUIET: Duration = Duration::from_millis(300);

/// The services every `simple_system` offers, by mode.
pub fn output_feed(system: &str) -> String {
    format!("{system}/untyped_output_feed")
}

pub fn input_feed(system: &str) -> String {
    format!("{system}/untyped_input_feed")
}

pub fn notification(system: &str) -> String {
    format!("{system}/untyped_notification")
}

pub fn listener(system: &str) -> String {
    format!("{system}/untyped_listener")
}

pub fn solicit_response(system: &str) -> String {
    format!("{system}/untyped_solicit_response")
}

pub fn request_response(system: &str) -> String {
    format!("{system}/untyped_request_response")
}

/// Registers platform `p` (type `app`) and system `p/s` of type `simple_system` for each id.
pub async fn register_systems(ops: &mut impl Ops, system_ids: &[&str]) {
    for id in system_ids {
        let (platform, _) = id.split_once('/').expect("a system id p/s");
        ok(
            ops,
            json!({"op": "register:platform", "id": platform, "type": "app"}),
        )
        .await;
        ok(
            ops,
            json!({"op": "register:system", "id": id, "type": "simple_system"}),
        )
        .await;
    }
}

/// `state:system` that must succeed: checks the `state-change:system` reply exactly.
pub async fn set_state(ops: &mut impl Ops, system_id: &str, state: &str) {
    let replies = ok(
        ops,
        json!({"op": "state:system", "id": system_id, "state": state}),
    )
    .await;
    assert_eq!(replies.len(), 2, "state-change then status: {replies:?}");
    let correl = replies[1]["correl"].clone();
    assert_eq!(
        replies[0],
        json!({"op": "state-change:system", "correl": correl, "id": system_id, "state": state})
    );
}

pub async fn start(ops: &mut impl Ops, system_id: &str) {
    set_state(ops, system_id, "running").await;
}

pub async fn stop(ops: &mut impl Ops, system_id: &str) {
    set_state(ops, system_id, "stopped").await;
}

/// Registers and starts each system with `ops` as its owner.
pub async fn run_systems(ops: &mut impl Ops, system_ids: &[&str]) {
    register_systems(ops, system_ids).await;
    for id in system_ids {
        start(ops, id).await;
    }
}

/// The `state` a `query:systems` reports for `system_id`.
pub async fn state_of(ops: &mut impl Ops, system_id: &str) -> String {
    let records = query(ops, "systems", json!({"id": system_id})).await;
    assert_eq!(records.len(), 1, "one system {system_id}: {records:?}");
    records[0]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("state of {}", records[0]))
        .to_owned()
}

/// Polls `query:systems` until `system_id` is in `state`; fails after `STEP`.
pub async fn wait_for_state(ops: &mut impl Ops, system_id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let now = state_of(ops, system_id).await;
        if now == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "system {system_id} still {now}, expected {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `subscribe` that must succeed; returns the `subscriptions` reply.
pub async fn subscribe(ops: &mut impl Ops, input: &str, patterns: &[&str]) -> Value {
    let replies = ok(
        ops,
        json!({"op": "subscribe", "output-feeds": patterns, "input-feed": input}),
    )
    .await;
    assert_eq!(replies.len(), 2, "subscriptions then status: {replies:?}");
    assert_eq!(replies[0]["op"], "subscriptions", "{}", replies[0]);
    assert_eq!(replies[0]["input-feed"], input, "{}", replies[0]);
    replies[0].clone()
}

/// `publish` that must succeed and answer with the status only.
pub async fn publish(ops: &mut impl Ops, feed: &str, msg: Value) {
    let replies = ok(
        ops,
        json!({"op": "publish", "output-feed": feed, "msg": msg}),
    )
    .await;
    assert_eq!(
        replies.len(),
        1,
        "publish answers its status only: {replies:?}"
    );
}

/// The `feed-message` a consumer should receive.
pub fn feed_message(output: &str, input: &str, msg: Value, encoding: &str) -> Value {
    json!({"op": "feed-message", "output-feed": output, "input-feed": input, "msg": msg,
           "encoding": encoding})
}

/// Asserts that nothing arrives at `client` for `QUIET`.
pub async fn assert_quiet(client: &mut OpClient, why: &str) {
    let got = client.drain(QUIET).await;
    assert!(
        got.is_empty(),
        "{} received something ({why}): {}",
        client.client_id,
        shown(&got)
    );
}

/// Received messages as text, for failure messages.
pub fn shown(messages: &[Received]) -> String {
    messages
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.payload);
            let text: String = text.chars().take(300).collect();
            format!("\n  {} {text}", m.topic)
        })
        .collect()
}

/// The next `n` messages at `client`, as JSON.
pub async fn next_n(client: &mut OpClient, n: usize) -> Vec<Value> {
    within(&format!("{n} messages for {}", client.client_id), async {
        let mut got = Vec::with_capacity(n);
        for _ in 0..n {
            got.push(client.next_json().await);
        }
        got
    })
    .await
}
