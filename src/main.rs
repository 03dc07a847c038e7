//! The `nodebus` command: parses flags, sets up logging, starts the node and runs it until
//! SIGINT or SIGTERM. Exit codes: 0 after a clean stop, 2 for bad flags or a failed start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A node bus broker for the edge of IoT networks: embedded MQTT broker, HTTP endpoint and
/// registry in one process.
#[derive(Parser, Debug)]
#[command(name = "nodebus", version, about)]
struct Flags {
    /// This node's id, used in every topic (`$fabric/<node-id>/…`). Default: the host name.
    #[arg(long)]
    node_id: Option<String>,
    /// MQTT listener address (MQTT 3.1.1 and 5 on one port).
    #[arg(long, default_value = "0.0.0.0:1883")]
    mqtt: SocketAddr,
    /// HTTP listener address (`POST /ops`, `GET /healthz`).
    #[arg(long, default_value = "0.0.0.0:8080")]
    http: SocketAddr,
    /// Directory of the durable registry store; created when missing.
    #[arg(long, default_value = "./nodebus-data")]
    data_dir: PathBuf,
    /// Log level (error, warn, info, debug, trace) or a full tracing filter. Default: RUST_LOG, else info.
    #[arg(long)]
    log: Option<String>,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    init_logging(flags.log.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("nodebus: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(flags))
}

async fn run(flags: Flags) -> ExitCode {
    let node_id = flags.node_id.unwrap_or_else(host_name);
    let config = nodebus::Config {
        mqtt_listen: flags.mqtt,
        http_listen: flags.http,
        ..nodebus::Config::new(node_id, flags.data_dir)
    };
    let running = match nodebus::start(config.clone()).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("nodebus: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        node = %config.node_id,
        mqtt = %running.mqtt_addr(),
        http = %running.http_addr(),
        data_dir = %config.data_dir.display(),
        "nodebus listening"
    );
    wait_for_signal().await;
    tracing::info!("stopping: no new connections; a second signal exits at once");
    tokio::spawn(async {
        wait_for_signal().await;
        std::process::exit(130);
    });
    running.stop().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(level: Option<&str>) {
    let directive = level
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    // rumqttd reports ordinary disconnects as errors; its warnings (data loss) still show.
    let filter = EnvFilter::try_new(format!("{directive},rumqttd=warn"))
        .unwrap_or_else(|_| EnvFilter::new("info,rumqttd=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The machine's host name, as the default node id.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "nodebus".to_owned())
}
