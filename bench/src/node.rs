//! The thing under load: a node started in this process (on a runtime of its own, so it does not
//! share worker threads with the load clients), an external node given by address, a child
//! process `nodebus`, the bare echo broker, or the bare hyper baseline server.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use nodebus_broker::{Broker, BrokerConfig, Inbound};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::cli::TargetArgs;

/// Node id of every node this tool starts.
pub const NODE_ID: &str = "bench";

/// The fixed answer of the HTTP baseline server: what `query:local-node` answers.
pub const BASELINE_BODY: &str = r#"[{"op":"query-result:local-node","correl":"h","id":"bench"},{"op":"status","correl":"h","status":"00000","msg":"OK"}]"#;

/// A node (or baseline server) under load.
pub struct Node {
    pub mqtt: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub node_id: String,
    /// The process whose memory is the node's (this one when in-process).
    pub pid: u32,
    /// What it is, for reports: "in-process", "external", "child", "echo-broker", "hyper".
    pub kind: &'static str,
    inner: Inner,
}

enum Inner {
    External,
    InProcess {
        runtime: Runtime,
        running: Option<nodebus::Running>,
        _dir: tempfile::TempDir,
    },
    Echo {
        runtime: Runtime,
        broker: Broker,
    },
    Hyper {
        runtime: Runtime,
        stop: watch::Sender<bool>,
    },
    Child {
        child: Child,
        _dir: tempfile::TempDir,
    },
}

fn node_runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("node")
        .build()
        .context("cannot start the node's runtime")
}

impl Node {
    /// The node `target` names, or a fresh in-process node with a temporary data directory.
    pub fn for_target(target: &TargetArgs) -> Result<Node> {
        match target.target {
            Some(mqtt) => Node::external(mqtt, target.http, target.node.clone()),
            None => Node::in_process(target.durability.as_deref()),
        }
    }

    pub fn external(
        mqtt: SocketAddr,
        http: Option<SocketAddr>,
        node_id: Option<String>,
    ) -> Result<Node> {
        if !mqtt.ip().is_loopback() || http.is_some_and(|h| !h.ip().is_loopback()) {
            bail!("load is only sent to loopback addresses (127.0.0.1 / ::1), not {mqtt}");
        }
        Ok(Node {
            mqtt: Some(mqtt),
            http,
            node_id: node_id.unwrap_or_else(|| NODE_ID.to_owned()),
            pid: 0,
            kind: "external",
            inner: Inner::External,
        })
    }

    /// `nodebus::start` on 127.0.0.1:0 (MQTT and HTTP) with a temporary data directory.
    pub fn in_process(durability: Option<&str>) -> Result<Node> {
        let dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
        let mut config = nodebus::Config::new(NODE_ID, dir.path());
        config.mqtt_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.http_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Some(durability) = durability {
            config.durability = durability.parse().map_err(|e: String| anyhow!(e))?;
        }
        let runtime = node_runtime()?;
        let running = runtime
            .block_on(nodebus::start(config))
            .context("cannot start the in-process node")?;
        Ok(Node {
            mqtt: Some(running.mqtt_addr()),
            http: Some(running.http_addr()),
            node_id: NODE_ID.to_owned(),
            pid: std::process::id(),
            kind: "in-process",
            inner: Inner::InProcess {
                runtime,
                running: Some(running),
                _dir: dir,
            },
        })
    }

    /// The embedded broker alone, with a consumer thread that sends each in-topic message back
    /// to its sender's out-topic unchanged (as the MQTT adapter sends replies, minus the engine).
    pub fn echo_broker() -> Result<Node> {
        let runtime = node_runtime()?;
        let config = BrokerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), NODE_ID);
        let (broker, mut inbox) = runtime
            .block_on(Broker::start(config))
            .context("cannot start the echo broker")?;
        let publisher = broker.publisher();
        std::thread::Builder::new()
            .name("bench-echo".into())
            .spawn(move || {
                while let Some(inbound) = inbox.blocking_recv() {
                    if let Inbound::Message {
                        client_id, payload, ..
                    } = inbound
                    {
                        if publisher.send_to_client(&client_id, payload).is_err() {
                            break;
                        }
                    }
                }
            })
            .context("cannot start the echo thread")?;
        Ok(Node {
            mqtt: Some(broker.local_addr()),
            http: None,
            node_id: NODE_ID.to_owned(),
            pid: std::process::id(),
            kind: "echo-broker",
            inner: Inner::Echo { runtime, broker },
        })
    }

    /// A bare hyper 1 HTTP/1.1 server that reads each request body and answers [`BASELINE_BODY`].
    pub fn hyper_baseline() -> Result<Node> {
        let runtime = node_runtime()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .context("cannot bind the baseline HTTP server")?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        runtime.spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => break,
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(
                        |request: hyper::Request<hyper::body::Incoming>| async move {
                            let _ = request.into_body().collect().await;
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(BASELINE_BODY.as_bytes())))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Node {
            mqtt: None,
            http: Some(addr),
            node_id: NODE_ID.to_owned(),
            pid: std::process::id(),
            kind: "hyper",
            inner: Inner::Hyper { runtime, stop },
        })
    }

    /// `nodebus` as a child process on free loopback ports with a temporary data directory;
    /// returns once its MQTT port accepts connections.
    pub fn child(binary: Option<&Path>, durability: Option<&str>) -> Result<Node> {
        let binary = match binary {
            Some(path) => path.to_path_buf(),
            None => sibling_binary("nodebus")?,
        };
        let dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
        let mqtt = free_port()?;
        let http = free_port()?;
        let mut command = Command::new(&binary);
        command
            .arg("--node-id")
            .arg(NODE_ID)
            .arg("--mqtt")
            .arg(mqtt.to_string())
            .arg("--http")
            .arg(http.to_string())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--log")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(durability) = durability {
            command.arg("--durability").arg(durability);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(mqtt).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited with {status} before listening", binary.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("{} did not listen on {mqtt} within 20 s", binary.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Node {
            mqtt: Some(mqtt),
            http: Some(http),
            node_id: NODE_ID.to_owned(),
            pid: child.id(),
            kind: "child",
            inner: Inner::Child { child, _dir: dir },
        })
    }

    /// The MQTT address, or an error naming the workload that needs it.
    pub fn mqtt(&self) -> Result<SocketAddr> {
        self.mqtt
            .ok_or_else(|| anyhow!("this node has no MQTT address (give --target)"))
    }

    /// The HTTP address, or an error.
    pub fn http(&self) -> Result<SocketAddr> {
        self.http
            .ok_or_else(|| anyhow!("this node has no HTTP address (give --http with --target)"))
    }

    /// Stops what this tool started; an external node is left alone.
    pub fn stop(self) {
        match self.inner {
            Inner::External => {}
            Inner::InProcess {
                runtime,
                mut running,
                _dir,
            } => {
                if let Some(running) = running.take() {
                    let _ = runtime.block_on(async {
                        tokio::time::timeout(Duration::from_secs(10), running.stop()).await
                    });
                }
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
            Inner::Echo { runtime, broker } => {
                broker.shutdown();
                drop(broker);
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
            Inner::Hyper { runtime, stop } => {
                let _ = stop.send(true);
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
            Inner::Child { mut child, _dir } => {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A free loopback port (bound and released; another process could take it in between).
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?)
}

/// A binary built next to this one (`target/release/<name>`).
fn sibling_binary(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this binary")?;
    let path = me
        .parent()
        .map(|dir| dir.join(name))
        .ok_or_else(|| anyhow!("this binary has no directory"))?;
    if !path.exists() {
        bail!(
            "{} not found: build it with `cargo build --release --bin nodebus` or pass --nodebus-bin",
            path.display()
        );
    }
    Ok(path)
}
