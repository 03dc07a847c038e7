//! nodebus: one process with an embedded MQTT broker, an HTTP endpoint, the registry and the op
//! engine. This crate only wires them together; `start` returns a handle to the running node.

pub mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nodebus_adapters::{
    spawn_request_timer, Courier, HttpConfig, HttpServer, MqttAdapter, Shutdown,
};
use nodebus_broker::{Broker, BrokerConfig};
use nodebus_registry::{Durability, Engine, EngineConfig, SqliteStore, StoreOptions};

/// Everything a node needs to start. `Config::new` gives the defaults of the protocol.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_id: String,
    pub mqtt_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Largest op accepted, on every transport (spec §3: 1 MiB).
    pub max_request_bytes: usize,
    /// Largest MQTT packet accepted before the connection is closed (spec §3: 8 MiB).
    pub max_packet_bytes: usize,
    /// Live MQTT connections accepted at once.
    pub max_connections: usize,
    /// Time a new MQTT connection has to send its CONNECT.
    pub connect_timeout: Duration,
    /// Ops received over MQTT and not yet taken by the engine; when full, sockets are not read.
    pub inbox_capacity: usize,
    /// Router ring of each subscribed ordinary filter (size of a segment, number of segments).
    pub segment_bytes: usize,
    pub segment_count: usize,
    /// Router ring of each client's out-topic.
    pub out_segment_bytes: usize,
    pub out_segment_count: usize,
    /// `Fsync` survives power loss; `Os` survives a crash of the process.
    pub durability: Durability,
    /// JSON nested deeper than this is refused (spec §3: 128).
    pub max_depth: usize,
    /// Longest identifier, in characters (spec §1: 256).
    pub max_identifier_chars: usize,
    /// Wirings and remembered patterns the systems of one client may hold.
    pub max_subscriptions_per_client: usize,
    /// Requests one client may have waiting for responses.
    pub max_pending_requests_per_client: usize,
    /// Timeout of a `request` without `timeout-ms`; `None`: it waits until answered.
    pub default_request_timeout: Option<Duration>,
    /// How long `stop` may take before giving up on what is still running.
    pub shutdown_timeout: Duration,
    /// Threads that run MQTT ops, each taking one shard of the broker's inbox; one client's ops
    /// always run on the same one, in order.
    pub mqtt_lanes: usize,
}

impl Config {
    pub fn new(node_id: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let engine = EngineConfig::new("");
        Config {
            node_id: node_id.into(),
            mqtt_listen: SocketAddr::from(([0, 0, 0, 0], 1883)),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            data_dir: data_dir.into(),
            max_request_bytes: engine.max_request_bytes,
            max_packet_bytes: BrokerConfig::DEFAULT_MAX_PACKET_BYTES,
            max_connections: BrokerConfig::DEFAULT_MAX_CONNECTIONS,
            connect_timeout: BrokerConfig::DEFAULT_CONNECT_TIMEOUT,
            inbox_capacity: BrokerConfig::DEFAULT_INBOX_CAPACITY,
            segment_bytes: BrokerConfig::DEFAULT_SEGMENT_BYTES,
            segment_count: BrokerConfig::DEFAULT_SEGMENT_COUNT,
            out_segment_bytes: BrokerConfig::DEFAULT_OUT_SEGMENT_BYTES,
            out_segment_count: BrokerConfig::DEFAULT_OUT_SEGMENT_COUNT,
            durability: Durability::default(),
            max_depth: engine.max_depth,
            max_identifier_chars: engine.max_identifier_chars,
            max_subscriptions_per_client: engine.max_subscriptions_per_client,
            max_pending_requests_per_client: engine.max_pending_requests_per_client,
            default_request_timeout: engine.default_request_timeout,
            shutdown_timeout: Duration::from_secs(10),
            mqtt_lanes: 16,
        }
    }

    /// Checks what `start` cannot check by trying: a reason for the first unusable value. The
    /// broker's own settings (node id as a topic level, packet and ring sizes) are its to judge.
    pub fn validate(&self) -> Result<(), String> {
        self.broker_config().validate()?;
        let positive = [
            ("limits.max_request_bytes", self.max_request_bytes),
            ("limits.max_depth", self.max_depth),
            ("limits.max_identifier_chars", self.max_identifier_chars),
            ("mqtt.lanes", self.mqtt_lanes),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if self.max_packet_bytes < self.max_request_bytes {
            return Err(format!(
                "mqtt.max_packet_bytes ({}) must be at least limits.max_request_bytes ({}), so that too large ops are answered",
                self.max_packet_bytes, self.max_request_bytes
            ));
        }
        Ok(())
    }

    fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            max_packet_bytes: self.max_packet_bytes,
            max_connections: self.max_connections,
            connect_timeout: self.connect_timeout,
            inbox_capacity: self.inbox_capacity,
            segment_bytes: self.segment_bytes,
            segment_count: self.segment_count,
            out_segment_bytes: self.out_segment_bytes,
            out_segment_count: self.out_segment_count,
            ..BrokerConfig::new(self.mqtt_listen, self.node_id.clone())
        }
    }

    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_request_bytes: self.max_request_bytes,
            max_depth: self.max_depth,
            max_identifier_chars: self.max_identifier_chars,
            max_subscriptions_per_client: self.max_subscriptions_per_client,
            max_pending_requests_per_client: self.max_pending_requests_per_client,
            default_request_timeout: self.default_request_timeout,
            ..EngineConfig::new(self.node_id.clone())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open the store in {dir}: {source}")]
    Store {
        dir: String,
        source: nodebus_registry::StoreError,
    },
    #[error("{0}")]
    Mqtt(#[from] nodebus_broker::BrokerError),
    #[error("cannot bind the HTTP listener {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start a worker: {0}")]
    Worker(std::io::Error),
}

/// A started node. Dropping it leaves it running; call `stop` to end it.
pub struct Running {
    mqtt_addr: SocketAddr,
    http_addr: SocketAddr,
    shutdown: Shutdown,
    broker: Broker,
    http_task: tokio::task::JoinHandle<()>,
    timer_task: tokio::task::JoinHandle<()>,
    mqtt_adapter: MqttAdapter,
    shutdown_timeout: Duration,
}

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Everything received was answered and the store closed.
    Drained,
    /// `shutdown_timeout` passed first; what was still running was abandoned.
    TimedOut,
}

impl Running {
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Stops gracefully, within `shutdown_timeout`: accepts no new connections and reads no new
    /// ops, lets open HTTP requests finish, answers every MQTT op already received (its replies
    /// still reach the client), then closes the MQTT connections. Every acknowledged write is
    /// durable already, so a stop that times out loses nothing that was acknowledged.
    pub async fn stop(self) -> Stopped {
        self.shutdown.trigger();
        self.broker.pause();
        let adapter = self.mqtt_adapter;
        let broker = self.broker;
        let http_task = self.http_task;
        let timer_task = self.timer_task;
        let drain = async move {
            let _ = http_task.await;
            while broker.queued_inbound() > 0 || adapter.in_flight() > 0 {
                tokio::time::sleep(DRAIN_POLL).await;
            }
            // The last replies are queued for the router; give it a moment to hand them to the
            // connections before they close.
            tokio::time::sleep(REPLY_GRACE).await;
            broker.shutdown();
            let _ = timer_task.await;
            drop(broker);
            let _ = tokio::task::spawn_blocking(move || adapter.join()).await;
        };
        match tokio::time::timeout(self.shutdown_timeout, drain).await {
            Ok(()) => Stopped::Drained,
            Err(_) => Stopped::TimedOut,
        }
    }
}

/// How often a stop looks whether the received ops are answered.
const DRAIN_POLL: Duration = Duration::from_millis(5);
/// How long a stop lets the last replies travel before closing MQTT connections.
const REPLY_GRACE: Duration = Duration::from_millis(100);

/// Opens the store, binds both listeners and starts serving. Errors name what failed.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config.validate().map_err(StartError::Config)?;
    let engine = open_engine(&config).await?;

    let (broker, inboxes) =
        Broker::start_sharded(config.broker_config(), config.mqtt_lanes).await?;

    let shutdown = Shutdown::new();
    let courier = Courier::new(broker.publisher());
    let (timer, timer_task) =
        spawn_request_timer(engine.clone(), courier.clone(), shutdown.clone());

    let http_config = HttpConfig {
        max_body_bytes: config.max_request_bytes,
    };
    let http = HttpServer::bind(
        config.http_listen,
        engine.clone(),
        courier.clone(),
        timer.clone(),
        http_config,
    )
    .await
    .map_err(|source| StartError::Http {
        addr: config.http_listen,
        source,
    })?;
    let http_addr = http.local_addr().map_err(|source| StartError::Http {
        addr: config.http_listen,
        source,
    })?;

    let http_task = tokio::spawn(http.run(shutdown.clone()));
    let mqtt_adapter =
        MqttAdapter::spawn(engine, inboxes, courier, timer).map_err(StartError::Worker)?;

    Ok(Running {
        mqtt_addr: broker.local_addr(),
        http_addr,
        shutdown,
        broker,
        http_task,
        timer_task,
        mqtt_adapter,
        shutdown_timeout: config.shutdown_timeout,
    })
}

async fn open_engine(config: &Config) -> Result<Arc<Engine>, StartError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || open_engine_blocking(&config))
        .await
        .map_err(|error| StartError::Worker(std::io::Error::other(error)))?
        .map(Arc::new)
}

/// Opens the store of `config.data_dir` and loads it into an engine, on the calling thread.
/// For offline tools (export, import); the directory of a running node is locked.
pub fn open_engine_blocking(config: &Config) -> Result<Engine, StartError> {
    let options = StoreOptions {
        durability: config.durability,
        ..StoreOptions::default()
    };
    SqliteStore::open_with(&config.data_dir, options)
        .and_then(|store| Engine::open(config.engine_config(), Box::new(store)))
        .map_err(|source| StartError::Store {
            dir: config.data_dir.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn with_node_id(id: &str) -> Result<(), String> {
        Config::new(id, "./data").validate()
    }

    #[test]
    fn node_ids_follow_the_identifier_rules() {
        assert!(with_node_id("edge-01").is_ok());
        assert!(with_node_id("nœud").is_ok());
        for bad in ["", "a/b", "a*", "a+b", "a#", "a$b", "a\nb"] {
            assert!(with_node_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(with_node_id(&"x".repeat(256)).is_ok());
        assert!(with_node_id(&"x".repeat(257)).is_err());
    }
}
