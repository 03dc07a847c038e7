//! A dashboard: registers its own app platform and system, subscribes its input feed to every
//! output feed matching a wildcard pattern, and prints the feed messages as they arrive.
//!
//! `cargo run --example dashboard -- --node edge1 ['*/*/untyped_output_feed']`.

#[path = "support/op_client.rs"]
mod op_client;

use op_client::{Error, OpClient, Target};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (target, rest) = Target::from_args();
    let pattern = rest
        .first()
        .cloned()
        .unwrap_or_else(|| "*/*/untyped_output_feed".to_owned());
    let client_id = format!("dashboard-{}", std::process::id());
    let system = format!("{client_id}/view");
    let input = format!("{system}/untyped_input_feed");

    let mut node = OpClient::connect(&target, &client_id).await?;
    node.call_ok(json!({"op": "register:platform", "id": client_id, "type": "app"}))
        .await?;
    node.call_ok(json!({"op": "register:system", "id": system, "type": "simple_system"}))
        .await?;
    node.call_ok(json!({"op": "state:system", "id": system, "state": "running"}))
        .await?;
    let replies = node
        .call_ok(json!({"op": "subscribe", "output-feeds": [pattern], "input-feed": input}))
        .await?;
    println!(
        "subscribed {input} to {pattern}: now wired to {}",
        replies[0]["output-feeds"]
    );

    loop {
        let message = tokio::select! {
            message = node.next_message() => message?,
            _ = tokio::signal::ctrl_c() => break,
        };
        match message["op"].as_str() {
            Some("feed-message") => println!("{} -> {}", message["output-feed"], message["msg"]),
            Some("subscriptions") => println!("now also wired to {}", message["output-feeds"]),
            Some("lost-subscriptions") => println!("lost {}", message["output-feeds"]),
            _ => println!("{message}"),
        }
    }

    // Stopping the system cancels its subscriptions; deregistering tidies the registry.
    node.call_ok(json!({"op": "state:system", "id": system, "state": "stopped"}))
        .await?;
    node.call_ok(json!({"op": "deregister:system", "id": system}))
        .await?;
    node.call_ok(json!({"op": "deregister:platform", "id": client_id}))
        .await?;
    node.disconnect().await?;
    Ok(())
}
