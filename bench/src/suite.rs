//! `suite`: every workload with short runs, each on a fresh node, and one table where each
//! throughput is also a ratio to its baseline measured in the same run (op and feed 1→1 against
//! echo, feed 1→C against raw-fanout 1→C, http against http-baseline), plus the p99 of op in
//! open loop at half of its closed-loop maximum.

use anyhow::Result;
use tokio::runtime::Runtime;

use crate::cli::{FeedArgs, HttpArgs, LoadArgs, OpArgs, SuiteArgs, TargetArgs};
use crate::node::Node;
use crate::report::{format_rate, format_ratio, format_us, Report};
use crate::workloads;

/// One line of the suite's table.
#[derive(Debug, Clone)]
pub struct Row {
    pub report: Report,
    /// Name of the baseline row this one is compared with.
    pub baseline: Option<&'static str>,
    /// The row's own short name.
    pub name: &'static str,
}

/// Runs every workload in turn on `runtime` (the load clients' runtime).
pub fn run(runtime: &Runtime, args: &SuiteArgs, json: bool) -> Result<Vec<Row>> {
    let load = LoadArgs {
        clients: args.clients,
        protocol: args.protocol,
        qos: args.qos,
        window: args.window,
        duration: args.duration,
        warmup: args.warmup,
        ..LoadArgs::default()
    };
    let target = TargetArgs {
        durability: args.durability.clone(),
        ..TargetArgs::default()
    };
    let mut rows = Vec::new();
    let mut push = |row: Row| {
        if json {
            let mut line = row.report.to_json();
            line["suite_row"] = row.name.into();
            println!("{line}");
        } else {
            eprintln!(
                "done: {} [{}] {} /s",
                row.name,
                row.report.label,
                format_rate(row.report.throughput)
            );
        }
        rows.push(row);
    };

    let node = Node::echo_broker()?;
    let echo = runtime.block_on(workloads::echo::run(&node, &load));
    node.stop();
    push(Row {
        name: "echo",
        baseline: None,
        report: echo?,
    });

    let op_args = OpArgs {
        load: load.clone(),
        target: target.clone(),
        op: r#"{"op":"query:local-node"}"#.to_owned(),
        ..OpArgs::default()
    };
    let node = Node::for_target(&target)?;
    let op_max = runtime.block_on(workloads::op::run(&node, &op_args));
    let op_max = match op_max {
        Ok(report) => report,
        Err(error) => {
            node.stop();
            return Err(error);
        }
    };
    let half = OpArgs {
        load: LoadArgs {
            rate: Some((op_max.throughput / 2.0).max(1.0)),
            ..load.clone()
        },
        ..op_args.clone()
    };
    let op_half = runtime.block_on(workloads::op::run(&node, &half));
    node.stop();
    push(Row {
        name: "op",
        baseline: Some("echo"),
        report: op_max,
    });
    push(Row {
        name: "op@50%",
        baseline: None,
        report: op_half?,
    });

    // One producer with as many publishes in flight as echo has round trips in flight.
    let feed_one = FeedArgs {
        load: LoadArgs {
            clients: 1,
            window: args.window * args.clients.max(1),
            ..load.clone()
        },
        target: target.clone(),
        producers: 1,
        consumers: 1,
    };
    let node = Node::for_target(&target)?;
    let feed = runtime.block_on(workloads::feed::run(&node, &feed_one));
    node.stop();
    push(Row {
        name: "feed 1→1",
        baseline: Some("echo"),
        report: feed?,
    });

    // Fan-outs: the window is per consumer (deliveries in flight = window × consumers).
    let fan = FeedArgs {
        load: LoadArgs {
            clients: 1,
            ..load.clone()
        },
        consumers: args.fanout,
        ..feed_one.clone()
    };
    let node = Node::for_target(&target)?;
    let raw = runtime.block_on(workloads::raw_fanout::run(&node, &fan));
    node.stop();
    push(Row {
        name: "raw-fanout 1→C",
        baseline: None,
        report: raw?,
    });

    let node = Node::for_target(&target)?;
    let feed_fan = runtime.block_on(workloads::feed::run(&node, &fan));
    node.stop();
    push(Row {
        name: "feed 1→C",
        baseline: Some("raw-fanout 1→C"),
        report: feed_fan?,
    });

    let http_args = HttpArgs {
        connections: args.connections,
        duration: args.duration,
        warmup: args.warmup,
        ..HttpArgs::default()
    };
    let node = Node::hyper_baseline()?;
    let baseline = node
        .http()
        .and_then(|addr| runtime.block_on(workloads::http::run("http-baseline", addr, &http_args)));
    node.stop();
    push(Row {
        name: "http-baseline",
        baseline: None,
        report: baseline?,
    });

    let node = Node::for_target(&target)?;
    let http = node
        .http()
        .and_then(|addr| runtime.block_on(workloads::http::run("http", addr, &http_args)));
    node.stop();
    push(Row {
        name: "http",
        baseline: Some("http-baseline"),
        report: http?,
    });
    Ok(rows)
}

/// The table: workload, settings, throughput, ratio to baseline, latency percentiles, losses.
pub fn table(rows: &[Row]) -> String {
    let mut lines = vec![
        "| workload | settings | throughput /s | vs baseline | p50 | p99 | p99.9 | lost | errors |"
            .to_owned(),
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |".to_owned(),
    ];
    for row in rows {
        let ratio = match row.baseline {
            Some(name) => match rows.iter().find(|r| r.name == name) {
                Some(base) => format!(
                    "{} of {name}",
                    format_ratio(row.report.throughput, base.report.throughput)
                ),
                None => "-".to_owned(),
            },
            None if row.name == "op@50%" => "open loop at 50% of op".to_owned(),
            None => "baseline".to_owned(),
        };
        lines.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            row.report.label,
            format_rate(row.report.throughput),
            ratio,
            format_us(row.report.p50_us),
            format_us(row.report.p99_us),
            format_us(row.report.p999_us),
            row.report.lost,
            row.report.errors,
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::report::{Clock, Recorder};
    use std::time::Duration;

    fn row(name: &'static str, baseline: Option<&'static str>, completed: u64) -> Row {
        let recorder = Recorder::new(Clock::new());
        recorder.set_window(0, u64::MAX);
        for _ in 0..completed {
            recorder.complete(0);
        }
        recorder
            .sent
            .store(completed, std::sync::atomic::Ordering::Relaxed);
        Row {
            name,
            baseline,
            report: recorder.report(name, "s".into(), Duration::from_secs(1)),
        }
    }

    #[test]
    fn the_table_shows_ratios_to_baselines() {
        let rows = vec![row("echo", None, 400), row("op", Some("echo"), 100)];
        let table = table(&rows);
        assert!(table.contains("| echo | s | 400 | baseline |"), "{table}");
        assert!(
            table.contains("| op | s | 100 | 0.25× of echo |"),
            "{table}"
        );
    }
}
