//! The `nodebus` binary as a child process, for tests that restart or kill it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::within;

pub struct NodeProcess {
    pub child: Child,
    pub mqtt: SocketAddr,
    pub http: SocketAddr,
}

/// Starts the binary on ephemeral loopback ports and waits for its "listening" log line.
pub async fn spawn_node(data_dir: &Path, node_id: &str) -> NodeProcess {
    spawn_node_with(data_dir, &["--node-id", node_id]).await
}

/// Like `spawn_node`, with `args` instead of `--node-id <id>`.
pub async fn spawn_node_with(data_dir: &Path, args: &[&str]) -> NodeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodebus"))
        .args(args)
        .args(["--mqtt", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--log", "info"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn nodebus");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let (mqtt, http) = within("nodebus listening line", async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read stderr")
                .expect("nodebus exited before listening");
            if line.contains("nodebus listening") {
                return (field(&line, "mqtt="), field(&line, "http="));
            }
        }
    })
    .await;
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    NodeProcess { child, mqtt, http }
}

fn field(line: &str, name: &str) -> SocketAddr {
    let start = line
        .find(name)
        .unwrap_or_else(|| panic!("{name} in {line}"))
        + name.len();
    let rest = &line[start..];
    let end = rest.find(' ').unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|e| panic!("{name} in {line}: {e}"))
}

impl NodeProcess {
    /// Sends SIGTERM and returns the exit code.
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().expect("running child").to_string();
        let status = within(
            "kill -TERM",
            Command::new("kill").args(["-TERM", &pid]).status(),
        )
        .await
        .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}");
        within("child exit after SIGTERM", self.child.wait())
            .await
            .expect("wait")
            .code()
    }

    /// SIGKILL, no chance to flush anything.
    pub async fn kill9(mut self) {
        self.child.start_kill().expect("kill");
        within("child exit", self.child.wait()).await.expect("wait");
    }
}
