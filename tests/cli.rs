//! The `nodebus` command line: bad flags and addresses already in use end the process with exit
//! code 2 and a message on stderr that names the problem; `--help` succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::check::{ok, query_keys, HttpOps};
use common::http::HttpClient;
use common::process::{spawn_node, spawn_node_with};
use common::within;
use serde_json::json;
use tokio::process::Command;

/// Runs the binary to completion (bounded) and returns its output and how long it took.
async fn run(args: &[&str], data_dir: &std::path::Path) -> (Output, Duration) {
    let started = Instant::now();
    let output = within(
        "nodebus exits",
        Command::new(env!("CARGO_BIN_EXE_nodebus"))
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run nodebus");
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_flag_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = run(&["--no-such-flag"], dir.path()).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--no-such-flag"),
        "{}",
        stderr(&output)
    );

    let (output, _) = run(&["--mqtt", "not-an-address"], dir.path()).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not-an-address"),
        "{}",
        stderr(&output)
    );

    let (output, _) = run(
        &[
            "--node-id",
            "a/b",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!stderr(&output).trim().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_exits_with_0() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = run(&["--help"], dir.path()).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in ["--mqtt", "--http", "--node-id", "--data-dir"] {
        assert!(text.contains(flag), "--help mentions {flag}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_address_in_use_exits_with_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (output, took) = run(
        &["--node-id", "cli", "--mqtt", &addr, "--http", "127.0.0.1:0"],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&addr),
        "stderr names {addr}: {}",
        stderr(&output)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_address_in_use_exits_with_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (output, took) = run(
        &["--node-id", "cli", "--mqtt", "127.0.0.1:0", "--http", &addr],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&addr),
        "stderr names {addr}: {}",
        stderr(&output)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_id_defaults_to_the_host_name() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("host name")
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_node_with(dir.path(), &[]).await;
    let mut h = HttpOps::new(HttpClient::new(process.http));
    let replies = ok(&mut h, json!({"op": "query:local-node"})).await;
    assert_eq!(replies[0]["id"], host);
    process.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_keeps_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_node(dir.path(), "cli").await;
    let mut h = HttpOps::new(HttpClient::new(process.http));
    ok(
        &mut h,
        json!({"op": "register:platform", "id": "p", "type": "app"}),
    )
    .await;
    assert_eq!(process.terminate().await, Some(0));

    let process = spawn_node(dir.path(), "cli").await;
    let mut h = HttpOps::new(HttpClient::new(process.http));
    assert_eq!(query_keys(&mut h, "platforms", json!({})).await, ["p"]);
    process.kill9().await;
}
