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

/// The shard (of `shards`) a client id's events go to: a fixed hash, so it never changes while
/// the broker runs.
pub(crate) fn shard_of(client_id: &str, shards: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    client_id.hash(&mut hasher);
    (hasher.finish() % shards.max(1) as u64) as usize
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

#[cfg(test)]
mod tests {
    use super::shard_of;

    #[test]
    fn a_client_id_always_maps_to_one_shard_and_ids_spread() {
        assert_eq!(shard_of("sensor-1", 16), shard_of("sensor-1", 16));
        assert_eq!(shard_of("anything", 1), 0);
        let used: std::collections::HashSet<usize> = (0..200)
            .map(|i| shard_of(&format!("client-{i}"), 16))
            .collect();
        assert!(used.len() > 8, "only {} shards used", used.len());
        assert!(used.iter().all(|&shard| shard < 16));
    }
}
