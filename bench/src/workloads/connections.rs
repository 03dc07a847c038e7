//! `connections`: opens N MQTT clients that each register a platform and a system and start it,
//! holds them all, and reports the node's resident memory per client (VmRSS before and after).
//! By default the node is a child process `nodebus`, so its RSS excludes the clients; this
//! process's own growth is reported as the client-side figure.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::cli::ConnectionsArgs;
use crate::client::ClientOptions;
use crate::node::Node;
use crate::report::{Clock, Recorder, Report};

pub async fn run(node: &Node, args: &ConnectionsArgs) -> Result<Report> {
    let clients = args.clients.max(1);
    let in_process = node.pid == std::process::id();
    // Each client holds one socket here, and the node one more when it lives in this process.
    let needed = clients * if in_process { 2 } else { 1 } + 256;
    check_open_files(needed)?;

    let recorder = Arc::new(Recorder::new(Clock::new()));
    recorder.set_window(0, u64::MAX);
    let node_before = rss_kib(node.pid);
    let self_before = rss_kib(std::process::id());
    let tag = super::run_tag();
    let mut options = ClientOptions::new(node.mqtt()?, args.protocol, 1);
    options.keep_alive = Duration::from_secs(300);
    let started = Instant::now();
    let parallel = Arc::new(Semaphore::new(args.parallel.max(1)));
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let permit = parallel.clone().acquire_owned().await?;
        let options = options.clone();
        let recorder = recorder.clone();
        let node_id = node.node_id.clone();
        let id = format!("cc-{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let stamp = recorder.clock.now_ns();
            recorder.sent.fetch_add(1, Ordering::Relaxed);
            let (setup_tx, mut setup) = super::setup_channel();
            let handler = Box::new(move |payload| {
                let _ = setup_tx.send(payload);
            });
            let result =
                super::connect_with_system(&id, &node_id, &options, handler, &mut setup, &id).await;
            if result.is_ok() {
                recorder.complete(stamp);
            }
            result.map(|(client, _)| client)
        }));
    }
    let mut held = Vec::with_capacity(clients);
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(client)) => held.push(client),
            Ok(Err(error)) => {
                recorder.error();
                first_error.get_or_insert(error);
            }
            Err(error) => {
                recorder.error();
                first_error.get_or_insert(anyhow::anyhow!("{error}"));
            }
        }
    }
    let setup_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(args.hold.clamp(0.0, 600.0))).await;
    let node_after = rss_kib(node.pid);
    let self_after = rss_kib(std::process::id());
    let count = held.len().max(1) as f64;
    let per_client = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => json!(((a.saturating_sub(b) * 1024) as f64 / count).round()),
        _ => json!(null),
    };
    let mut report = recorder
        .report(
            "connections",
            format!(
                "{} clients={clients} each registers+starts a system",
                args.protocol.as_str()
            ),
            setup_time,
        )
        .with_extra("held", json!(held.len()))
        .with_extra("node", json!(node.kind))
        .with_extra("node_rss_before_kib", json!(node_before))
        .with_extra("node_rss_after_kib", json!(node_after));
    if in_process {
        report = report.with_extra(
            "bytes_per_client_node_and_clients",
            per_client(node_before, node_after),
        );
    } else {
        report = report
            .with_extra("bytes_per_client_node", per_client(node_before, node_after))
            .with_extra(
                "bytes_per_client_client_side",
                per_client(self_before, self_after),
            );
    }
    if let Some(error) = first_error {
        report = report.with_extra("first_error", json!(format!("{error:#}")));
    }
    super::close_all(held).await;
    Ok(report)
}

/// VmRSS of a process in KiB, from `/proc/<pid>/status`; `None` when unreadable (pid 0: external).
pub fn rss_kib(pid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_kib(&status, "VmRSS:")
}

fn parse_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit of open files of this process, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

fn check_open_files(needed: usize) -> Result<()> {
    let limit = open_files_limit().context("cannot read /proc/self/limits")?;
    if limit < needed as u64 {
        bail!(
            "the open-files limit is {limit}, this run needs about {needed}: raise it first \
             (`ulimit -n {needed}` in the shell that starts nodebus-bench, or \
             `prlimit --pid <shell pid> --nofile={needed}:{needed}`)"
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rss_lines_are_read_in_kib() {
        let status = "Name:\tnodebus\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\n";
        assert_eq!(parse_kib(status, "VmRSS:"), Some(1234));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert_eq!(rss_kib(0), None);
        assert!(open_files_limit().unwrap() > 0);
    }
}
