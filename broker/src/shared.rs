//! State shared by the listener and every connection task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::Notification;
use tokio::sync::{mpsc, watch};

use crate::inbox::Inbound;
use crate::publisher::Publisher;
use crate::sessions::Sessions;

/// Attaches a new link to the router: (client id, clean session). Blocks on a router round trip.
/// A closure because the router's channel type cannot be named outside rumqttd. The error is
/// rumqttd's `LinkError` as text (the type itself is very large).
pub(crate) type LinkFactory =
    Arc<dyn Fn(&str, bool) -> Result<(LinkTx, LinkRx, Notification), String> + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) node_id: String,
    pub(crate) max_packet_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) sessions: Sessions,
    /// One bounded channel per inbox shard; a client id always maps to the same one.
    pub(crate) inboxes: Vec<mpsc::Sender<Inbound>>,
    pub(crate) links: LinkFactory,
    /// Held while a session is claimed and its router link built (see `handshake`).
    pub(crate) link_setup: parking_lot::Mutex<()>,
    pub(crate) publisher: Publisher,
    pub(crate) active: AtomicUsize,
}

impl Shared {
    /// The inbox shard of `client_id`: the same for every connection of that id, so one
    /// client's messages and its close stay in one channel, in order.
    pub(crate) fn inbox_for(&self, client_id: &str) -> mpsc::Sender<Inbound> {
        let index = crate::inbox::shard_of(client_id, self.inboxes.len());
        self.inboxes[index].clone()
    }
}

/// Counts a live connection from accept to the end of its task.
pub(crate) struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(shared)
    }

    pub(crate) fn over_limit(&self) -> bool {
        self.0.active.load(Ordering::Relaxed) > self.0.max_connections
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves once `Broker::shutdown` was called. Dropping the `Broker` is not a shutdown.
pub(crate) async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
