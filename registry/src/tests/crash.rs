//! Crash safety: a child process (this test binary, re-run on one test) registers records from
//! several threads and reports each acknowledgement; the parent kills it with SIGKILL at an
//! arbitrary moment, reopens the store and finds every acknowledged record, whole.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use serde_json::json;

use super::*;
use crate::{Engine, EngineConfig, SqliteStore};

const DIR_VAR: &str = "NODEBUS_CRASH_TEST_DIR";
const CHILD: &str = "tests::crash::child_writes_until_killed";
const ACKS_BEFORE_KILL: usize = 150;

/// Runs only as the child of `acknowledged_records_survive_kill_9`.
#[test]
fn child_writes_until_killed() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let engine = Arc::new(
        Engine::open(
            EngineConfig::new(NODE_ID),
            Box::new(SqliteStore::open(std::path::Path::new(&dir)).unwrap()),
        )
        .unwrap(),
    );
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let engine = Arc::clone(&engine);
            thread::spawn(move || {
                for n in 0.. {
                    let id = format!("t{t}/s{n}");
                    let platform = format!("t{t}");
                    for request in [
                        json!({"op":"register:platform","id":platform,"type":"app"}),
                        json!({"op":"register:system","id":id,"type":"simple_system","desc":"x".repeat(500)}),
                    ] {
                        let outcome =
                            engine.handle("w", request.to_string().as_bytes(), Instant::now());
                        assert!(outcome.status.is_ok(), "{:?}", outcome.status);
                    }
                    println!("acked {id}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD, "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < ACKS_BEFORE_KILL {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(id) = line.strip_prefix("acked ") {
            acked.push(id.to_string());
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements printed after the last one read were acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(id) = line.strip_prefix("acked ") {
            acked.push(id.to_string());
        }
    }
    let engine = Engine::open(
        EngineConfig::new(NODE_ID),
        Box::new(SqliteStore::open(dir.path()).unwrap()),
    )
    .unwrap();
    let systems = query(&engine, json!({"op":"query:systems"}));
    for id in &acked {
        let system = systems
            .iter()
            .find(|system| system["id"] == json!(id))
            .unwrap_or_else(|| panic!("acknowledged system {id} was lost"));
        assert_eq!(system["state"], json!("stopped"));
        assert_eq!(system["services"].as_array().unwrap().len(), 6, "{system}");
    }
    // Nothing half-applied: every stored system names a stored platform.
    let platforms = keys(&engine, json!({"op":"query:platforms"}), "id");
    for system in &systems {
        assert!(platforms.contains(&system["platform"].as_str().unwrap().to_string()));
    }
}
