//! The operator's commands and settings, through the real binary: `check-config`, the
//! `NODEBUS_*` environment, `export`/`import` round trips, the data-directory lock and JSON logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::check::ok;
use common::process::{spawn_node, NodeProcess};
use common::{within, STEP};
use serde_json::{json, Value};

fn nodebus(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nodebus"));
    command.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run nodebus")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_shipped_example_configuration_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/nodebus.example.toml");
    let output = nodebus(&["check-config", example], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok"));
}

#[test]
fn check_config_names_unknown_keys_bad_values_and_bad_environment() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(dir.path(), "unknown.toml", "[mqtt]\nlisten_port = 1883\n");
    let output = nodebus(&["check-config", &unknown], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("listen_port"),
        "{}",
        stderr(&output)
    );

    let section = write(
        dir.path(),
        "section.toml",
        "[broker]\nlisten = \"0.0.0.0:1\"\n",
    );
    let output = nodebus(&["check-config", &section], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("broker"), "{}", stderr(&output));

    let bad_value = write(
        dir.path(),
        "value.toml",
        "[store]\ndurability = \"sometimes\"\n",
    );
    let output = nodebus(&["check-config", &bad_value], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("durability"),
        "{}",
        stderr(&output)
    );

    let good = write(dir.path(), "good.toml", "[node]\nid = \"edge9\"\n");
    let output = nodebus(&["check-config", &good], &[("NODEBUS_MQTT_LISTENN", "x")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("NODEBUS_MQTT_LISTENN"),
        "{}",
        stderr(&output)
    );

    let output = nodebus(
        &["check-config", &good],
        &[("NODEBUS_MQTT_LISTEN", "nowhere")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("mqtt.listen"),
        "{}",
        stderr(&output)
    );

    let output = nodebus(&["check-config", &good], &[("NODEBUS_NODE_ID", "from-env")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("from-env"));

    let missing = dir.path().join("absent.toml");
    let output = nodebus(&["check-config", missing.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("absent.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_node_refuses_to_start_with_a_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "bad.toml", "[limits]\nmax_request_bytes = 0\n");
    let output = nodebus(&["--config", &config], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("max_request_bytes"),
        "{}",
        stderr(&output)
    );
}

async fn register_sample(node: &NodeProcess) {
    let http = common::http::HttpClient::new(node.http);
    let ops = [
        json!({"op": "register:node-type", "type": "gateway", "desc": "edge box"}),
        json!({"op": "register:node", "id": "peer", "type": "gateway",
               "interfaces": [{"node-interface": "eth0", "address": "tcp://10.0.0.2:1883"}]}),
        json!({"op": "register:bearer", "id": "lora", "available": true}),
        json!({"op": "register:platform-type", "type": "truck"}),
        json!({"op": "register:platform", "id": "t1", "type": "truck",
               "loc": {"lat": 1.5, "long": 2.5, "alt": 3.0}, "attr": {"k": [1, 2]}}),
        json!({"op": "register:service-type", "type": "temp", "mode": "output-feed",
               "schema": {"type": "number"}}),
        json!({"op": "register:system-type", "type": "probe",
               "services": [{"type": "temp", "id": "t"}, {"type": "untyped_input_feed"}]}),
        json!({"op": "register:user-type", "type": "driver"}),
        json!({"op": "register:user", "id": "ana", "type": "driver", "affil": "acme"}),
        json!({"op": "register:system", "id": "t1/probe", "type": "probe", "user": "ana",
               "desc": "ünïcødé ✓"}),
    ];
    for op in ops {
        let (status, replies) = http.op(&op).await;
        assert_eq!(status, 200, "{op} -> {replies:?}");
    }
}

async fn snapshot(http: std::net::SocketAddr) -> Vec<Value> {
    let mut client = common::check::HttpOps::new(common::http::HttpClient::new(http));
    let mut all = Vec::new();
    for plural in [
        "nodes",
        "node-types",
        "bearers",
        "platform-types",
        "platforms",
        "service-types",
        "system-types",
        "systems",
        "user-types",
        "users",
    ] {
        let replies = ok(
            &mut client,
            json!({"op": format!("query:{plural}"), "correl": 1}),
        )
        .await;
        all.push(replies[0][plural].clone());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_another_node_gives_the_same_registry() {
    let source = tempfile::tempdir().unwrap();
    let node = spawn_node(source.path(), "n1").await;
    register_sample(&node).await;
    let before = snapshot(node.http).await;
    assert_eq!(node.terminate().await, Some(0));

    let dump = source.path().join("registry.jsonl");
    let output = nodebus(
        &[
            "export",
            "--data-dir",
            source.path().to_str().unwrap(),
            "--output",
            dump.to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&dump).unwrap();
    let ops: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ops.len(), 10, "{text}");
    assert!(ops
        .iter()
        .all(|op| op["op"].as_str().unwrap().starts_with("register:")));
    // Built-ins are never exported: they exist in every node.
    assert!(!text.contains("simple_system\",\"services"), "{text}");

    let target = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nodebus"))
        .args([
            "import",
            "--data-dir",
            target.path().to_str().unwrap(),
            dump.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("imported 10 ops, 0 failed"),
        "{}",
        stderr(&output)
    );

    let node = spawn_node(target.path(), "n2").await;
    assert_eq!(snapshot(node.http).await, before);
    node.kill9().await;
}

#[test]
fn import_reports_each_failing_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let ops = "{\"op\":\"register:platform-type\",\"type\":\"boat\"}\n\
               # comments and blank lines are skipped\n\n\
               {\"op\":\"register:platform\",\"id\":\"b1\",\"type\":\"plane\"}\n\
               not json\n";
    let file = write(dir.path(), "ops.jsonl", ops);
    let data = dir.path().join("data");
    let output = nodebus(
        &["import", "--data-dir", data.to_str().unwrap(), &file],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("line 4: 20208"), "{err}");
    assert!(err.contains("line 5: 10102"), "{err}");
    assert!(err.contains("imported 1 ops, 2 failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let node = spawn_node(dir.path(), "first").await;
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_nodebus"))
        .args([
            "--node-id",
            "second",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = within("second process exits", second).await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("in use"), "{err}");
    // The first node is untouched and keeps serving.
    let http = common::http::HttpClient::new(node.http);
    let (status, _) = http.op(&json!({"op": "query:local-node"})).await;
    assert_eq!(status, 200);

    let output = nodebus(&["export", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("in use"), "{}", stderr(&output));
    node.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nodebus"))
        .args([
            "--node-id",
            "j",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--log", "info"])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (line, parsed) = within("the listening log line", async {
        loop {
            let line = lines.next_line().await.unwrap().expect("nodebus exited");
            let parsed: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if parsed["fields"]["message"] == "nodebus listening" {
                return (line, parsed);
            }
        }
    })
    .await;
    assert_eq!(parsed["level"], "INFO", "{line}");
    assert_eq!(parsed["fields"]["message"], "nodebus listening", "{line}");
    assert!(parsed["fields"]["mqtt"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    child.start_kill().unwrap();
    let _ = tokio::time::timeout(STEP.max(Duration::from_secs(1)), child.wait()).await;
}
