//! A sensor: registers a platform and a `simple_system`, starts it and publishes a reading on its
//! output feed every second. Its last will stops the system if the process is killed.
//!
//! `cargo run --example sensor -- --node edge1 [greenhouse]` against `nodebus --node-id edge1`.

#[path = "support/op_client.rs"]
mod op_client;

use std::time::Duration;

use op_client::{Error, OpClient, Target};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (target, rest) = Target::from_args();
    let platform = rest
        .first()
        .cloned()
        .unwrap_or_else(|| "greenhouse".to_owned());
    let system = format!("{platform}/climate");
    let feed = format!("{system}/untyped_output_feed");
    let client_id = format!("sensor-{platform}");

    let mut node = OpClient::connect(&target, &client_id).await?;
    node.call_ok(
        json!({"op": "register:platform", "id": platform, "type": "sensor",
                        "desc": "example sensor", "loc": {"lat": 52.09, "long": 5.12}}),
    )
    .await?;
    node.call_ok(json!({"op": "register:system", "id": system, "type": "simple_system"}))
        .await?;
    node.call_ok(json!({"op": "state:system", "id": system, "state": "running"}))
        .await?;
    println!("{system} running; publishing on {feed} every second (Ctrl-C to stop)");

    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    for seq in 0u64.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        // A slow, plausible temperature curve, so a dashboard has something to show.
        let temperature = 20.0 + 3.0 * ((seq as f64) / 10.0).sin();
        let reading =
            json!({"seq": seq, "temperature": (temperature * 10.0).round() / 10.0, "unit": "C"});
        let replies = node
            .call(json!({"op": "publish", "output-feed": feed, "msg": reading, "encoding": "json"}))
            .await?;
        let status = replies
            .last()
            .map(|s| s["status"].clone())
            .unwrap_or_default();
        println!("published {reading} -> {status}");
    }

    node.call_ok(json!({"op": "state:system", "id": system, "state": "stopped"}))
        .await?;
    node.disconnect().await?;
    println!("{system} stopped");
    Ok(())
}
