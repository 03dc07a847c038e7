//! nodebus: one process with an embedded MQTT broker, an HTTP endpoint, the registry and the op
//! engine. This crate only wires them together; `start` returns a handle to the running node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use nodebus_adapters::{
    spawn_request_timer, Courier, HttpConfig, HttpServer, MqttAdapter, Shutdown,
};
use nodebus_broker::{Broker, BrokerConfig};
use nodebus_registry::{Engine, EngineConfig, SqliteStore};

/// Everything a node needs to start.
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
}

impl Config {
    pub fn new(node_id: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Config {
            node_id: node_id.into(),
            mqtt_listen: SocketAddr::from(([0, 0, 0, 0], 1883)),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            data_dir: data_dir.into(),
            max_request_bytes: 1 << 20,
            max_packet_bytes: 8 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid node id {0:?}: {1}")]
    NodeId(String, &'static str),
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
}

impl Running {
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Stops accepting, lets open HTTP requests finish, closes MQTT clients and waits for the
    /// op consumer to drain what was already received.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.broker.shutdown();
        let _ = self.http_task.await;
        let _ = self.timer_task.await;
        let adapter = self.mqtt_adapter;
        drop(self.broker);
        let _ = tokio::task::spawn_blocking(move || adapter.join()).await;
    }
}

/// Opens the store, binds both listeners and starts serving. Errors name what failed.
pub async fn start(config: Config) -> Result<Running, StartError> {
    validate_node_id(&config.node_id)?;
    let engine = open_engine(&config).await?;

    let mut broker_config = BrokerConfig::new(config.mqtt_listen, config.node_id.clone());
    broker_config.max_packet_bytes = config.max_packet_bytes;
    let (broker, inbox) = Broker::start(broker_config).await?;

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
        MqttAdapter::spawn(engine, inbox, courier, timer).map_err(StartError::Worker)?;

    Ok(Running {
        mqtt_addr: broker.local_addr(),
        http_addr,
        shutdown,
        broker,
        http_task,
        timer_task,
        mqtt_adapter,
    })
}

async fn open_engine(config: &Config) -> Result<Arc<Engine>, StartError> {
    let engine_config = EngineConfig {
        max_request_bytes: config.max_request_bytes,
        ..EngineConfig::new(config.node_id.clone())
    };
    let dir = config.data_dir.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let store = SqliteStore::open(&dir)?;
        Engine::open(engine_config, Box::new(store))
    })
    .await
    .map_err(|error| StartError::Worker(std::io::Error::other(error)))?;
    opened.map(Arc::new).map_err(|source| StartError::Store {
        dir: config.data_dir.display().to_string(),
        source,
    })
}

/// The node id is a topic level (`$fabric/<node-id>/…`), so it follows the identifier rules and
/// may not hold MQTT wildcards either.
fn validate_node_id(id: &str) -> Result<(), StartError> {
    let problem = if id.is_empty() {
        Some("it is empty")
    } else if id.chars().count() > 256 {
        Some("it is longer than 256 characters")
    } else if id.contains(['/', '*', '+', '#']) {
        Some("it may not contain '/', '*', '+' or '#'")
    } else if id.chars().any(char::is_control) {
        Some("it may not contain control characters")
    } else {
        None
    };
    match problem {
        Some(reason) => Err(StartError::NodeId(id.to_owned(), reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::validate_node_id;

    #[test]
    fn node_ids_follow_the_identifier_rules() {
        assert!(validate_node_id("edge-01").is_ok());
        assert!(validate_node_id("nœud").is_ok());
        for bad in ["", "a/b", "a*", "a+b", "a#", "a\nb"] {
            assert!(validate_node_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_node_id(&"x".repeat(256)).is_ok());
        assert!(validate_node_id(&"x".repeat(257)).is_err());
    }
}
