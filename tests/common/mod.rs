//! Test support: a node started in-process on ephemeral loopback ports, MQTT clients (3.1.1 and
//! 5) that send ops and collect their replies, and a small HTTP client. Every wait is bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod bus;
pub mod check;
pub mod http;
pub mod mqtt;
pub mod process;

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// How long any single step of a test may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` if it takes longer than `STEP`.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A test that needs something of the machine (an external MQTT client, permission to mount)
/// skips itself where it is missing, saying so, unless `CI` is set (CI runs with `CI=true`, and
/// `.ci/run` installs the peers): there a missing prerequisite fails the test instead of letting
/// it pass unchecked.
pub fn skip_or_fail(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{reason} (CI is set, so this prerequisite is required)");
    }
    eprintln!("note: {reason}; skipped");
}

/// A node running in this test process, with its own data directory.
pub struct TestNode {
    pub running: Option<nodebus::Running>,
    pub data_dir: tempfile::TempDir,
    pub node_id: String,
}

impl TestNode {
    pub async fn start() -> TestNode {
        Self::start_in(tempfile::tempdir().expect("temp dir"), "testnode").await
    }

    pub async fn start_in(data_dir: tempfile::TempDir, node_id: &str) -> TestNode {
        let config = nodebus::Config {
            mqtt_listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            ..nodebus::Config::new(node_id, data_dir.path())
        };
        let running = within("node start", nodebus::start(config))
            .await
            .expect("node starts");
        TestNode {
            running: Some(running),
            data_dir,
            node_id: node_id.to_owned(),
        }
    }

    fn running(&self) -> &nodebus::Running {
        self.running.as_ref().expect("node running")
    }

    pub fn mqtt_port(&self) -> u16 {
        self.running().mqtt_addr().port()
    }

    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.running().http_addr()
    }

    pub async fn mqtt(&self, client_id: &str) -> mqtt::OpClient {
        mqtt::OpClient::connect(
            self.mqtt_port(),
            &self.node_id,
            client_id,
            mqtt::Version::V4,
        )
        .await
    }

    pub async fn mqtt5(&self, client_id: &str) -> mqtt::OpClient {
        mqtt::OpClient::connect(
            self.mqtt_port(),
            &self.node_id,
            client_id,
            mqtt::Version::V5,
        )
        .await
    }

    pub fn http(&self) -> http::HttpClient {
        http::HttpClient::new(self.http_addr())
    }

    /// Stops the node and returns its data directory, to start another node on it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            within("node stop", running.stop()).await;
        }
        self.data_dir
    }
}

/// The `status` member of the last reply.
pub fn status_of(replies: &[Value]) -> String {
    let last = replies.last().expect("at least one reply");
    assert_eq!(last["op"], "status", "last reply is not a status: {last}");
    last["status"]
        .as_str()
        .expect("status is a string")
        .to_owned()
}

/// The records of a `query-result:<plural>` reply.
pub fn records_of<'a>(replies: &'a [Value], plural: &str) -> &'a Vec<Value> {
    assert_eq!(replies.len(), 2, "expected data then status: {replies:?}");
    assert_eq!(replies[0]["op"], format!("query-result:{plural}"));
    replies[0][plural].as_array().expect("records array")
}

/// The sorted `id` (or `type`) keys of a query's records.
pub fn keys_of(replies: &[Value], plural: &str, key: &str) -> Vec<String> {
    let mut keys: Vec<String> = records_of(replies, plural)
        .iter()
        .map(|r| r[key].as_str().expect("key").to_owned())
        .collect();
    keys.sort();
    keys
}
