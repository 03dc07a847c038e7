//! What the broker hands to the application: in-topic messages and connection life-cycle events,
//! in one bounded channel so that the order per connection is kept.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

/// One event from the MQTT side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A PUBLISH by `client_id` to its own in-topic; in order per connection.
    Message {
        client_id: Arc<str>,
        session: u64,
        payload: Bytes,
    },
    /// The CONNACK accepting this connection was written.
    Opened { client_id: Arc<str>, session: u64 },
    /// The connection ended. `clean`: a DISCONNECT was received (v5 reason 0x04 "with will" is
    /// unclean). `current`: no newer connection with the same client id had taken over. `will`:
    /// the client's last-will payload if the will was on its own in-topic and the close was unclean.
    Closed {
        client_id: Arc<str>,
        session: u64,
        clean: bool,
        current: bool,
        will: Option<Bytes>,
    },
}

/// Receiving end of the broker's events.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Inbound>,
}

impl Inbox {
    pub(crate) fn channel(capacity: usize) -> (mpsc::Sender<Inbound>, Inbox) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, Inbox { rx })
    }

    /// The next event; `None` once the broker and all its connections are gone.
    pub async fn recv(&mut self) -> Option<Inbound> {
        self.rx.recv().await
    }

    /// Blocking variant of `recv`, for plain threads (panics inside an async context, as tokio's does).
    pub fn blocking_recv(&mut self) -> Option<Inbound> {
        self.rx.blocking_recv()
    }
}
