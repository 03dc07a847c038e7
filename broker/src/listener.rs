//! The accept loop: one task per connection, until the broker pauses or shuts down.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connection;
use crate::shared::{self, Shared};

pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    mut pause: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "accepted");
                    tokio::spawn(connection::serve(stream, shared.clone(), shutdown.clone(), pause.clone()));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            // A pause (the first step of every shutdown) ends accepting: the port is freed.
            _ = shared::shutdown_requested(&mut pause) => break,
        }
    }
}
