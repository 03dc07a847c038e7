//! Command-line interface of `nodebus-bench`: one subcommand per workload plus `suite`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::Protocol;
use crate::driver::{Pace, Phases};

/// Longest warm-up plus measurement a single workload may ask for.
pub const MAX_RUN: Duration = Duration::from_secs(3600);

/// Load generator for nodebus: drives a node (started in this process unless `--target` is
/// given) over MQTT and HTTP on loopback and reports throughput, latency percentiles and losses.
#[derive(Parser, Debug)]
#[command(name = "nodebus-bench", version, about)]
pub struct Cli {
    /// Print one JSON object per result line instead of the text report.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub workload: Workload,
}

#[derive(Subcommand, Debug)]
pub enum Workload {
    /// Raw broker echo (no op engine): the embedded broker alone, a consumer thread sends every
    /// in-topic message back to the sender's out-topic. The physical limit of the broker.
    Echo(EchoArgs),
    /// Round trips of a JSON op over MQTT, complete when its status arrives.
    Op(OpArgs),
    /// Feed messages: producers `publish`, consumers subscribed to every producer receive them.
    Feed(FeedArgs),
    /// The broker's raw fan-out on an ordinary topic: publishers → one topic → C subscribers.
    RawFanout(FeedArgs),
    /// `POST /ops` over keep-alive HTTP/1.1 connections, closed loop.
    Http(HttpArgs),
    /// A bare hyper server in this process answering a fixed JSON body, same client code.
    HttpBaseline(HttpArgs),
    /// Opens many MQTT clients that each register and start a system, holds them, reports the
    /// node's memory per client.
    Connections(ConnectionsArgs),
    /// Every workload side by side with short runs, each throughput as a ratio to its baseline.
    Suite(SuiteArgs),
}

/// Where the load goes.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// MQTT address of an external node (HOST:PORT) instead of one started in this process.
    #[arg(long)]
    pub target: Option<SocketAddr>,
    /// Node id of the external node (needed with --target for the $fabric workloads).
    #[arg(long)]
    pub node: Option<String>,
    /// HTTP address of the external node (for the http workload).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Store durability of the in-process node: fsync (default) or os.
    #[arg(long)]
    pub durability: Option<String>,
}

/// Pacing and length of an MQTT workload.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Number of MQTT clients sending.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// MQTT version of the clients.
    #[arg(long, value_enum, default_value = "v4")]
    pub protocol: Protocol,
    /// QoS of publishes and subscriptions.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Payload bytes (echo and raw-fanout payloads; feed `msg` is padded to about this size).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Open loop: messages per second in total. Without it: closed loop with --window.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: requests in flight per client.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait for outstanding replies after sending stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            clients: 4,
            protocol: Protocol::V4,
            qos: 0,
            payload: 64,
            rate: None,
            window: 16,
            duration: 5.0,
            warmup: 1.0,
            drain: 2.0,
        }
    }
}

impl LoadArgs {
    pub fn pace(&self) -> Pace {
        match self.rate {
            Some(rate) => Pace::Rate(rate),
            None => Pace::Window(self.window.max(1)),
        }
    }

    /// The phases, with the run capped at [`MAX_RUN`].
    pub fn phases(&self) -> Phases {
        let cap = MAX_RUN.as_secs_f64();
        let warmup = self.warmup.clamp(0.0, cap);
        let duration = self.duration.clamp(0.1, (cap - warmup).max(0.1));
        Phases {
            warmup: Duration::from_secs_f64(warmup),
            duration: Duration::from_secs_f64(duration),
            drain: Duration::from_secs_f64(self.drain.clamp(0.0, 60.0)),
        }
    }

    /// "v4 qos0 clients=4 window=16 64B" or "… rate=1000/s …".
    pub fn label(&self) -> String {
        let pace = match self.pace() {
            Pace::Window(w) => format!("window={w}"),
            Pace::Rate(r) => format!("rate={r:.0}/s"),
        };
        format!(
            "{} qos{} clients={} {pace} {}B",
            self.protocol.as_str(),
            self.qos,
            self.clients,
            self.payload
        )
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct EchoArgs {
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Which ops the op workload sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum OpMix {
    /// The --op template (default `query:local-node`).
    #[default]
    Query,
    /// `register:platform` upserts with a unique id each (store writes).
    Register,
    /// Nine --op requests, then one register, repeating.
    Mixed,
}

#[derive(Args, Debug, Clone, Default)]
pub struct OpArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The op sent (a JSON object; its correl is replaced).
    #[arg(long, default_value = r#"{"op":"query:local-node"}"#)]
    pub op: String,
    #[arg(long, value_enum, default_value = "query")]
    pub op_mix: OpMix,
}

#[derive(Args, Debug, Clone)]
pub struct FeedArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Producing clients (each owns one running system, or publishes to the raw topic).
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Consuming clients; each receives every producer's messages.
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
}

impl Default for FeedArgs {
    fn default() -> Self {
        FeedArgs {
            load: LoadArgs::default(),
            target: TargetArgs::default(),
            producers: 1,
            consumers: 1,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// The op posted.
    #[arg(long, default_value = r#"{"op":"query:local-node"}"#)]
    pub op: String,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

impl Default for HttpArgs {
    fn default() -> Self {
        HttpArgs {
            target: TargetArgs::default(),
            connections: 8,
            op: r#"{"op":"query:local-node"}"#.to_owned(),
            duration: 5.0,
            warmup: 1.0,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ConnectionsArgs {
    /// Clients to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    #[arg(long, value_enum, default_value = "v4")]
    pub protocol: Protocol,
    /// Seconds to hold every client open before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub hold: f64,
    /// Clients connecting at the same time.
    #[arg(long, default_value_t = 64)]
    pub parallel: usize,
    /// Run the node in this process (its RSS then includes the clients) instead of as a child
    /// process `nodebus`.
    #[arg(long)]
    pub in_process: bool,
    /// The `nodebus` binary for the child process (default: next to this binary).
    #[arg(long)]
    pub nodebus_bin: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SuiteArgs {
    /// Seconds measured per workload.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Seconds of warm-up per workload.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// MQTT clients of echo and op.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Window per client in the closed-loop runs.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Consumers of the fan-out runs.
    #[arg(long, default_value_t = 100)]
    pub fanout: usize,
    /// HTTP keep-alive connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    #[arg(long, value_enum, default_value = "v4")]
    pub protocol: Protocol,
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Store durability of the nodes: fsync (default) or os.
    #[arg(long)]
    pub durability: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn workloads_parse_with_their_options() {
        let cli = Cli::try_parse_from([
            "nodebus-bench",
            "echo",
            "--clients",
            "8",
            "--qos",
            "1",
            "--rate",
            "5000",
            "--json",
        ])
        .unwrap();
        assert!(cli.json);
        let Workload::Echo(args) = cli.workload else {
            panic!("echo expected")
        };
        assert_eq!(args.load.clients, 8);
        assert_eq!(args.load.pace(), Pace::Rate(5000.0));
        assert_eq!(args.load.label(), "v4 qos1 clients=8 rate=5000/s 64B");

        let cli = Cli::try_parse_from([
            "nodebus-bench",
            "feed",
            "--producers",
            "1",
            "--consumers",
            "100",
            "--protocol",
            "5",
        ])
        .unwrap();
        let Workload::Feed(args) = cli.workload else {
            panic!("feed expected")
        };
        assert_eq!((args.producers, args.consumers), (1, 100));
        assert_eq!(args.load.protocol, Protocol::V5);
        assert_eq!(args.load.pace(), Pace::Window(16));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(Cli::try_parse_from(["nodebus-bench", "echo", "--qos", "2"]).is_err());
        assert!(Cli::try_parse_from(["nodebus-bench", "op", "--op-mix", "nope"]).is_err());
        assert!(Cli::try_parse_from(["nodebus-bench", "nope"]).is_err());
    }

    #[test]
    fn runs_are_capped() {
        let load = LoadArgs {
            duration: 1e9,
            warmup: 1e9,
            ..LoadArgs::default()
        };
        let phases = load.phases();
        assert!(phases.warmup + phases.duration <= MAX_RUN + Duration::from_secs(1));
    }
}
