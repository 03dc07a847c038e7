//! Store faults through the real node: a full disk and a read-only data directory answer writes
//! with a class `F` status naming the cause, while queries and the connection keep working and
//! nothing acknowledged is lost. Both use a small tmpfs mounted on the data directory; where the
//! machine does not allow mounting (not root), the tests say so and check nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::check::{check, ok, HttpOps};
use common::http::HttpClient;
use common::TestNode;
use serde_json::json;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .ok()?;
        if !status.success() {
            common::skip_or_fail("cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(Tmpfs {
            dir: Some(dir),
            path,
        })
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }

    /// The mounted directory as a TempDir-like holder for `TestNode::start_in`.
    fn take_dir(&mut self) -> tempfile::TempDir {
        self.dir.take().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_writes_with_class_f_and_keeps_serving() {
    let Some(mut tmpfs) = Tmpfs::mount("600k") else {
        return;
    };
    let node = TestNode::start_in(tmpfs.take_dir(), "full").await;
    let mut mqtt = node.mqtt("filler").await;
    let mut acked = Vec::new();
    let filler = "x".repeat(16 * 1024);
    let mut refused = None;
    for n in 0..400 {
        let replies = mqtt
            .op(json!({"op": "register:platform", "id": format!("p{n}"), "type": "app", "desc": filler}))
            .await;
        let status = replies.last().unwrap();
        if status["status"] == "00000" {
            acked.push(format!("p{n}"));
        } else {
            refused = Some(status.clone());
            break;
        }
    }
    let refused = refused.expect("a 600 KiB store must fill up");
    let code = refused["status"].as_str().unwrap();
    assert!(code.starts_with('F') || code.starts_with('2'), "{refused}");
    assert!(
        refused["msg"].as_str().unwrap().contains("full"),
        "the status names the cause: {refused}"
    );
    assert!(!acked.is_empty());

    // Queries and the connection keep working; nothing acknowledged is missing.
    let replies = ok(&mut mqtt, json!({"op": "query:platforms", "correl": "q"})).await;
    let platforms = replies[0]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), acked.len());
    let mut http = HttpOps::new(HttpClient::new(node.http_addr()));
    check(
        &mut http,
        json!({"op": "register:platform", "id": "late", "type": "app", "desc": filler}),
        code,
    )
    .await;
    ok(&mut http, json!({"op": "query:local-node"})).await;

    // After a restart on the same (still full) store, every acknowledged record is back.
    let dir = node.stop().await;
    let node = TestNode::start_in(dir, "full").await;
    let mut mqtt = node.mqtt("reader").await;
    let replies = ok(&mut mqtt, json!({"op": "query:platforms", "correl": "q2"})).await;
    let ids: Vec<_> = replies[0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = acked.clone();
    expected.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(ids, expected);
    let dir = node.stop().await;
    drop(dir);
    drop(tmpfs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_dir_serves_queries_and_fails_writes_with_class_f() {
    let Some(mut tmpfs) = Tmpfs::mount("8m") else {
        return;
    };
    let node = TestNode::start_in(tmpfs.take_dir(), "ro").await;
    let mut mqtt = node.mqtt("c1").await;
    ok(
        &mut mqtt,
        json!({"op": "register:platform", "id": "before", "type": "app"}),
    )
    .await;
    let dir = node.stop().await;

    // A file system that became read-only (a failing SD card does this) under a stopped node.
    tmpfs.remount("ro");
    let node = TestNode::start_in(dir, "ro").await;
    let mut mqtt = node.mqtt("c1").await;
    let replies = mqtt
        .op(json!({"op": "register:platform", "id": "after", "type": "app"}))
        .await;
    let status = replies.last().unwrap();
    let code = status["status"].as_str().unwrap().to_owned();
    assert!(code.starts_with('F') || code.starts_with('2'), "{status}");
    let msg = status["msg"].as_str().unwrap().to_lowercase();
    assert!(
        msg.contains("read-only") || msg.contains("readonly"),
        "{status}"
    );

    let replies = ok(&mut mqtt, json!({"op": "query:platforms", "correl": "q"})).await;
    let ids: Vec<_> = replies[0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["before".to_owned()]);
    let deregister = mqtt
        .op(json!({"op": "deregister:platform", "id": "before"}))
        .await;
    let code = deregister.last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        code.starts_with('F') || code.starts_with('2'),
        "{deregister:?}"
    );
    let dir = node.stop().await;

    tmpfs.remount("rw");
    let node = TestNode::start_in(dir, "ro").await;
    let mut mqtt = node.mqtt("c1").await;
    ok(
        &mut mqtt,
        json!({"op": "register:platform", "id": "again", "type": "app"}),
    )
    .await;
    let dir = node.stop().await;
    drop(dir);
    drop(tmpfs);
}
