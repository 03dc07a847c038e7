//! The application's way into the router: `Publisher` enqueues without blocking; one dedicated
//! thread owns the local router link (whose sends block) and hands queued messages over in batches.
//!
//! The queue is a vector behind a mutex that the thread swaps for an empty one of the same
//! capacity, so that queueing allocates nothing once the vectors have grown to the load (a
//! linked-block channel allocates a block of several KiB every few dozen messages).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use parking_lot::{Condvar, Mutex};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{Packet, Publish, PublishProperties};
use rumqttd::Notification;

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
    queue: Arc<Queue>,
    out_prefix: String,
}

impl Drop for Inner {
    /// The last `Publisher` is gone: the thread hands over what is queued and stops.
    fn drop(&mut self) {
        self.queue.state.lock().closed = true;
        self.queue.ready.notify_one();
    }
}

/// Messages waiting for the publisher thread.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    messages: Vec<Outgoing>,
    /// The thread is asleep on `ready`.
    waiting: bool,
    /// No `Publisher` is left.
    closed: bool,
}

impl Queue {
    fn push(&self, message: Outgoing) -> Result<(), BrokerError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(BrokerError::Stopped);
        }
        state.messages.push(message);
        let wake = state.waiting;
        state.waiting = false;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Refuses further messages and drops what is queued (the link has failed).
    fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.messages.clear();
    }

    /// Swaps everything queued into `batch` (empty on entry), waiting while nothing is queued.
    /// False once the queue is closed and empty.
    fn take(&self, batch: &mut Vec<Outgoing>) -> bool {
        let mut state = self.state.lock();
        while state.messages.is_empty() {
            if state.closed {
                return false;
            }
            state.waiting = true;
            self.ready.wait(&mut state);
        }
        state.waiting = false;
        std::mem::swap(&mut state.messages, batch);
        true
    }
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
        self.inner.queue.push(message)
    }
}

/// Starts the owner of the local link: a thread for the blocking sends, and a task that answers
/// the router's `Unschedule` on the receiving side.
pub(crate) fn start(
    node_id: &str,
    mut tx: LinkTx,
    mut rx: LinkRx,
) -> Result<Publisher, BrokerError> {
    let queue = Arc::new(Queue::default());
    let commands = queue.clone();
    std::thread::Builder::new()
        .name("nodebus-publisher".into())
        .spawn(move || {
            let mut batch = Vec::new();
            'run: while commands.take(&mut batch) {
                let mut messages = batch.drain(..);
                while messages.len() > 0 {
                    let chunk = messages.len().min(BATCH);
                    tx.buffer().extend(
                        messages
                            .by_ref()
                            .take(chunk - 1)
                            .map(Outgoing::into_packet),
                    );
                    let Some(last) = messages.next() else { break };
                    // `send` never awaits: it pushes and does one blocking channel send to wake
                    // the router.
                    if let Some(Err(e)) = tx.send(last.into_packet()).now_or_never() {
                        tracing::error!(error = %e, "local router link failed; replies are no longer delivered");
                        break 'run;
                    }
                }
            }
            commands.close();
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
