//! `nodebus-bench`: the load generator. Starts the node under test in this process (or targets
//! one on loopback), runs one workload or the whole suite, and prints a report (`--json`: one
//! JSON object per line).

mod cli;
mod client;
mod driver;
mod node;
mod report;
mod suite;
mod wire;
mod workloads;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use cli::{Cli, Workload};
use node::Node;
use report::Report;

// The same allocator as the `nodebus` binary, so an in-process node behaves as the real one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nodebus-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    // The load clients get a runtime of their own; in-process nodes get another (see node.rs).
    let clients = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("load")
        .build()
        .context("cannot start the load runtime")?;
    let report = match &cli.workload {
        Workload::Echo(args) => {
            let node = Node::echo_broker()?;
            let report = clients.block_on(workloads::echo::run(&node, &args.load));
            node.stop();
            report?
        }
        Workload::Op(args) => {
            let node = Node::for_target(&args.target)?;
            let report = clients.block_on(workloads::op::run(&node, args));
            node.stop();
            report?
        }
        Workload::Feed(args) => {
            let node = Node::for_target(&args.target)?;
            let report = clients.block_on(workloads::feed::run(&node, args));
            node.stop();
            report?
        }
        Workload::RawFanout(args) => {
            let node = Node::for_target(&args.target)?;
            let report = clients.block_on(workloads::raw_fanout::run(&node, args));
            node.stop();
            report?
        }
        Workload::Http(args) => {
            let node = Node::for_target(&args.target)?;
            let report = node
                .http()
                .and_then(|addr| clients.block_on(workloads::http::run("http", addr, args)));
            node.stop();
            report?
        }
        Workload::HttpBaseline(args) => {
            let node = Node::hyper_baseline()?;
            let report = node.http().and_then(|addr| {
                clients.block_on(workloads::http::run("http-baseline", addr, args))
            });
            node.stop();
            report?
        }
        Workload::Connections(args) => {
            let node = match (args.target.target, args.in_process) {
                (Some(_), _) => Node::for_target(&args.target)?,
                (None, true) => Node::in_process(args.target.durability.as_deref())?,
                (None, false) => Node::child(
                    args.nodebus_bin.as_deref(),
                    args.target.durability.as_deref(),
                )?,
            };
            let report = clients.block_on(workloads::connections::run(&node, args));
            node.stop();
            report?
        }
        Workload::Suite(args) => {
            let rows = suite::run(&clients, args, cli.json)?;
            if !cli.json {
                println!("{}", suite::table(&rows));
            }
            return Ok(());
        }
    };
    let report = match durability(&cli.workload) {
        Some(mode) => report.with_extra("durability", mode.into()),
        None => report,
    };
    print(&report, cli.json);
    clients.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// The store durability asked of an in-process or child node, for the report.
fn durability(workload: &Workload) -> Option<String> {
    match workload {
        Workload::Op(args) => args.target.durability.clone(),
        Workload::Feed(args) | Workload::RawFanout(args) => args.target.durability.clone(),
        Workload::Http(args) => args.target.durability.clone(),
        Workload::Connections(args) => args.target.durability.clone(),
        _ => None,
    }
}

fn print(report: &Report, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
}
