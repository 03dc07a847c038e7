//! Crash safety under load: several MQTT clients register records as fast as they can, the
//! process is killed with SIGKILL at a pseudo-random moment, restarted, and every record that
//! had been acknowledged with `00000` must be back, whole. Several rounds, in both durability
//! modes; the seed is printed so a failing round can be replayed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::check::{ok, HttpOps};
use common::http::HttpClient;
use common::mqtt::{in_topic, out_topic};
use common::process::spawn_node_with;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const WRITERS: usize = 6;
const ROUNDS: u64 = 3;

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Registers systems (each a system plus six services, one transaction) until the connection
/// breaks; records every id the node acknowledged with `00000`.
async fn writer(port: u16, node: String, client_id: String, acked: Arc<Mutex<Vec<String>>>) {
    let mut options = MqttOptions::new(&client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 64);
    if client
        .subscribe(out_topic(&node, &client_id), QoS::AtLeastOnce)
        .await
        .is_err()
    {
        return;
    }
    // Wait for the SUBACK so no reply is missed.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            _ => return,
        }
    }
    let platform = format!("p-{client_id}");
    let register =
        json!({"op": "register:platform", "correl": "platform", "id": platform, "type": "app"});
    let input = in_topic(&node, &client_id);
    if client
        .publish(&input, QoS::AtLeastOnce, false, register.to_string())
        .await
        .is_err()
    {
        return;
    }
    let mut sent: u64 = 0;
    let mut waiting_for = Value::from("platform");
    loop {
        let event = match tokio::time::timeout(Duration::from_secs(5), events.poll()).await {
            Ok(Ok(event)) => event,
            _ => return,
        };
        let Event::Incoming(Packet::Publish(publish)) = event else {
            continue;
        };
        let Ok(reply) = serde_json::from_slice::<Value>(&publish.payload) else {
            continue;
        };
        if reply["op"] != "status" || reply["correl"] != waiting_for {
            continue;
        }
        assert_eq!(reply["status"], "00000", "{reply}");
        if let Some(n) = waiting_for.as_u64() {
            acked.lock().unwrap().push(format!("{platform}/s{n}"));
        }
        sent += 1;
        let op = json!({"op": "register:system", "correl": sent, "id": format!("{platform}/s{sent}"),
                        "type": "simple_system", "desc": format!("system {sent} of {client_id}")});
        waiting_for = Value::from(sent);
        if client
            .publish(&input, QoS::AtLeastOnce, false, op.to_string())
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn crash_rounds(durability: &str, seed: u64) {
    println!("crash test ({durability}): seed {seed}");
    let mut random = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked_all: BTreeSet<String> = BTreeSet::new();
    for round in 0..ROUNDS {
        let node = spawn_node_with(
            dir.path(),
            &["--node-id", "crash", "--durability", durability],
        )
        .await;
        // Everything acknowledged in earlier rounds is back, whole and stopped.
        verify(node.http, &acked_all).await;

        let acked = Arc::new(Mutex::new(Vec::new()));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(writer(
                    node.mqtt.port(),
                    "crash".into(),
                    format!("r{round}w{w}"),
                    acked.clone(),
                ))
            })
            .collect();
        let delay = 150 + random.next(600);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        node.kill9().await;
        for writer in writers {
            common::within("writer ends after the kill", writer)
                .await
                .unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        println!(
            "round {round}: killed after {delay} ms, {} acknowledged",
            acked.len()
        );
        acked_all.extend(acked);
    }
    let node = spawn_node_with(
        dir.path(),
        &["--node-id", "crash", "--durability", durability],
    )
    .await;
    verify(node.http, &acked_all).await;
    assert!(
        acked_all.len() as u64 >= ROUNDS,
        "the writers should have been acknowledged at least a few times"
    );
    node.kill9().await;
}

/// Every acknowledged system is present with its description and all six services, stopped;
/// and no system is present without its services (nothing half-written).
async fn verify(http: std::net::SocketAddr, acked: &BTreeSet<String>) {
    let mut ops = HttpOps::new(HttpClient::new(http));
    let replies = ok(&mut ops, json!({"op": "query:systems", "correl": "all"})).await;
    let systems = replies[0]["systems"].as_array().unwrap();
    let mut present = BTreeSet::new();
    for system in systems {
        let id = system["id"].as_str().unwrap();
        assert_eq!(system["state"], "stopped", "{system}");
        assert_eq!(
            system["services"].as_array().unwrap().len(),
            6,
            "half-written: {system}"
        );
        let n = id.rsplit_once("/s").unwrap().1;
        let client = id.strip_prefix("p-").unwrap().split('/').next().unwrap();
        assert_eq!(
            system["desc"],
            format!("system {n} of {client}"),
            "{system}"
        );
        present.insert(id.to_owned());
    }
    let missing: Vec<_> = acked.difference(&present).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

fn seed() -> u64 {
    std::env::var("NODEBUS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_under_load_with_fsync() {
    crash_rounds("fsync", seed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_under_load_with_os_durability() {
    crash_rounds("os", seed()).await;
}

/// SIGTERM in the middle of the same load: the process exits 0 within its shutdown bound, and
/// every acknowledged record is there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_exits_0_in_time_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let node = spawn_node_with(dir.path(), &["--node-id", "crash"]).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                node.mqtt.port(),
                "crash".into(),
                format!("w{w}"),
                acked.clone(),
            ))
        })
        .collect();
    // Let the load build up, then ask the node to stop.
    common::within("first acknowledgements", async {
        while acked.lock().unwrap().len() < 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let started = std::time::Instant::now();
    assert_eq!(node.terminate().await, Some(0));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the default shutdown bound is 10 s; the stop took {took:?}"
    );
    for writer in writers {
        common::within("writer ends after the stop", writer)
            .await
            .unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let node = spawn_node_with(dir.path(), &["--node-id", "crash"]).await;
    verify(node.http, &acked).await;
    node.kill9().await;
}
