//! The embedded MQTT broker: rumqttd's router (routing, topic matching, retained messages,
//! sessions) behind a network side of our own. The only crate that names rumqttd.
//!
//! The application gets an [`Inbox`] of messages that clients publish to their own in-topic
//! `$fabric/<node>/$adapters/$mqtt/$in/<client id>` (these never enter the router) plus connection
//! events, and a [`Publisher`] for replies to `$fabric/<node>/$adapters/$mqtt/$out/<client id>`.
//!
//! rumqttd logs an ERROR for every ordinary disconnect ("no-connection id … is already gone");
//! binaries should set the `rumqttd` tracing target to `warn`.

mod codec;
mod config;
mod connection;
mod error;
mod handshake;
mod inbox;
mod listener;
mod publisher;
mod sessions;
mod shared;
mod topics;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use rumqttd::local::LinkBuilder;
use rumqttd::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::BrokerConfig;
pub use error::BrokerError;
pub use inbox::{Inbound, Inbox};
pub use publisher::Publisher;

use shared::{LinkFactory, Shared};

/// A running broker. Dropping it does not stop it; call [`Broker::shutdown`].
#[derive(Debug)]
pub struct Broker {
    local_addr: SocketAddr,
    publisher: Publisher,
    shutdown: watch::Sender<bool>,
    pause: watch::Sender<bool>,
    inboxes: Vec<tokio::sync::mpsc::WeakSender<Inbound>>,
}

impl Broker {
    /// Binds the listener (a bind failure is returned here), spawns rumqttd's router thread, the
    /// local publisher link and the accept loop on the caller's tokio runtime.
    pub async fn start(config: BrokerConfig) -> Result<(Broker, Inbox), BrokerError> {
        let (broker, mut inboxes) = Self::start_sharded(config, 1).await?;
        let inbox = inboxes.pop().ok_or(BrokerError::Stopped)?;
        Ok((broker, inbox))
    }

    /// Like `start`, with the inbox split into `shards` channels: every event of a client id
    /// goes to the same shard, so consumers can take one shard each and need no dispatcher.
    pub async fn start_sharded(
        config: BrokerConfig,
        shards: usize,
    ) -> Result<(Broker, Vec<Inbox>), BrokerError> {
        config.validate().map_err(BrokerError::Config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| BrokerError::bind(config.listen, e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BrokerError::bind(config.listen, e))?;

        let router_tx = Router::new(0, config.router_config()).spawn();
        let links: LinkFactory = Arc::new(move |client_id: &str, clean: bool| {
            LinkBuilder::new(client_id, router_tx.clone())
                .clean_session(clean)
                .build()
                .map_err(|e| e.to_string())
        });

        let local_id = format!(
            "{}{}",
            topics::LOCAL_LINK_PREFIX,
            uuid::Uuid::new_v4().simple()
        );
        let factory = links.clone();
        let (tx, rx, _ack) = tokio::task::spawn_blocking(move || factory(&local_id, true))
            .await
            .map_err(|e| BrokerError::LocalLink(e.to_string()))?
            .map_err(BrokerError::LocalLink)?;
        let publisher = publisher::start(&config.node_id, tx, rx)?;

        let (senders, inboxes): (Vec<_>, Vec<_>) = (0..shards.max(1))
            .map(|_| Inbox::channel(config.inbox_capacity))
            .unzip();
        let inbox_watch = senders.iter().map(|sender| sender.downgrade()).collect();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (pause, pause_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            node_id: config.node_id.clone(),
            max_packet_bytes: config.max_packet_bytes,
            max_connections: config.max_connections,
            connect_timeout: config.connect_timeout,
            sessions: Default::default(),
            inboxes: senders,
            links,
            link_setup: Default::default(),
            publisher: publisher.clone(),
            active: AtomicUsize::new(0),
        });
        tokio::spawn(listener::run(listener, shared, shutdown_rx, pause_rx));
        tracing::info!(%local_addr, node_id = %config.node_id, "MQTT broker listening");
        Ok((
            Broker {
                local_addr,
                publisher,
                shutdown,
                pause,
                inboxes: inbox_watch,
            },
            inboxes,
        ))
    }

    /// The address the listener is bound to (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for publishing replies to clients.
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Stops accepting and closes every live client connection (each reports `Closed`, unclean, so
    /// wills fire as MQTT prescribes when the server closes a connection). Best effort and
    /// immediate. rumqttd's router thread cannot be stopped: it lives until the process exits.
    pub fn shutdown(&self) {
        let _ = self.pause.send(true);
        let _ = self.shutdown.send(true);
    }

    /// The first step of a graceful stop: accept no new connections and read nothing more from
    /// the live ones, while replies and deliveries still reach them. Keep-alive timers stop too,
    /// so no client is dropped for the silence this causes.
    pub fn pause(&self) {
        let _ = self.pause.send(true);
    }

    /// Events received from clients and not yet taken from the `Inbox`.
    pub fn queued_inbound(&self) -> usize {
        self.inboxes
            .iter()
            .filter_map(|inbox| inbox.upgrade())
            .map(|sender| sender.max_capacity() - sender.capacity())
            .sum()
    }
}
