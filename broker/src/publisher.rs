//! The application's way into the router: `Publisher` enqueues without blocking; one dedicated
//! thread owns the local router link (whose sends block) and hands queued messages over in batches.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{Packet, Publish, PublishProperties};
use rumqttd::Notification;
use tokio::sync::mpsc;

use crate::error::BrokerError;
use crate::topics;

/// Most messages handed to the router in one wake-up.
const BATCH: usize = 512;

/// Publishes replies to clients' out-topics. Cheap to clone; usable from tasks and threads.
#[derive(Clone, Debug)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: mpsc::UnboundedSender<Outgoing>,
    out_prefix: String,
}

/// One message for the router, topic already in router form.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) topic: Bytes,
    pub(crate) payload: Bytes,
    pub(crate) retain: bool,
    pub(crate) properties: Option<PublishProperties>,
}

impl Outgoing {
    fn into_packet(self) -> Packet {
        Packet::Publish(
            Publish::new(self.topic, self.payload, self.retain),
            self.properties,
        )
    }
}

impl Publisher {
    /// Publishes `payload` to `$fabric/<node>/$adapters/$mqtt/$out/<client_id>` through the router,
    /// not retained. Never blocks; messages of one caller keep their order. Subscribers receive it
    /// at their subscription's QoS.
    pub fn send_to_client(&self, client_id: &str, payload: Bytes) -> Result<(), BrokerError> {
        if !topics::valid_level(client_id) {
            return Err(BrokerError::InvalidClientId(client_id.to_string()));
        }
        self.enqueue(Outgoing {
            topic: topics::internal_out_topic(&self.inner.out_prefix, client_id),
            payload,
            retain: false,
            properties: None,
        })
    }

    /// Enqueues a message whose topic is already in router form (a client's last will).
    pub(crate) fn enqueue(&self, message: Outgoing) -> Result<(), BrokerError> {
        self.inner
            .queue
            .send(message)
            .map_err(|_| BrokerError::Stopped)
    }
}

/// Starts the owner of the local link: a thread for the blocking sends, and a task that answers
/// the router's `Unschedule` on the receiving side.
pub(crate) fn start(
    node_id: &str,
    mut tx: LinkTx,
    mut rx: LinkRx,
) -> Result<Publisher, BrokerError> {
    let (queue, mut commands) = mpsc::unbounded_channel::<Outgoing>();
    std::thread::Builder::new()
        .name("nodebus-publisher".into())
        .spawn(move || {
            while let Some(first) = commands.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match commands.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                let Some(last) = batch.pop() else { continue };
                tx.buffer().extend(batch.into_iter().map(Outgoing::into_packet));
                // `send` never awaits: it pushes and does one blocking channel send to wake the router.
                if let Some(Err(e)) = tx.send(last.into_packet()).now_or_never() {
                    tracing::error!(error = %e, "local router link failed; replies are no longer delivered");
                    break;
                }
            }
        })
        .map_err(|e| BrokerError::LocalLink(format!("cannot start publisher thread: {e}")))?;
    tokio::spawn(async move {
        loop {
            match rx.next().await {
                Ok(Some(Notification::Unschedule)) => {
                    if rx.wake().await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    Ok(Publisher {
        inner: Arc::new(Inner {
            queue,
            out_prefix: topics::internal_out_prefix(node_id),
        }),
    })
}
