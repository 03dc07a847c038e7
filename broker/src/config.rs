//! Broker configuration, and the rumqttd router settings derived from it.
//! Knows nothing about sockets; `Broker::start` consumes it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rumqttd::{RouterConfig, SegmentConfig};

use crate::topics;

/// Settings of the embedded MQTT broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to listen on; port 0 picks a free port (see `Broker::local_addr`).
    pub listen: SocketAddr,
    /// The local node id, the second level of every fabric topic.
    pub node_id: String,
    /// Transport maximum for one MQTT packet (remaining length); a larger packet closes the connection.
    pub max_packet_bytes: usize,
    /// Live client connections accepted at once; further CONNECTs are refused with "server unavailable".
    pub max_connections: usize,
    /// Time a new connection has to deliver its CONNECT.
    pub connect_timeout: Duration,
    /// Capacity of the bounded channel behind `Inbox`.
    pub inbox_capacity: usize,
    /// Ring of each subscribed ordinary filter in the router: segment size and count. A
    /// subscriber further behind than size × count silently loses the oldest messages.
    pub segment_bytes: usize,
    pub segment_count: usize,
    /// Ring of each client's out-topic filter (replies and deliveries), per client id ever seen.
    pub out_segment_bytes: usize,
    pub out_segment_count: usize,
}

impl BrokerConfig {
    pub const DEFAULT_MAX_PACKET_BYTES: usize = 8 << 20;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_INBOX_CAPACITY: usize = 4096;
    pub const DEFAULT_SEGMENT_BYTES: usize = 1 << 20;
    pub const DEFAULT_SEGMENT_COUNT: usize = 8;
    pub const DEFAULT_OUT_SEGMENT_BYTES: usize = 512 << 10;
    pub const DEFAULT_OUT_SEGMENT_COUNT: usize = 8;

    /// A configuration with the defaults: 8 MiB packets, 10 000 connections, 10 s to CONNECT, inbox of 4096.
    pub fn new(listen: SocketAddr, node_id: impl Into<String>) -> Self {
        BrokerConfig {
            listen,
            node_id: node_id.into(),
            max_packet_bytes: Self::DEFAULT_MAX_PACKET_BYTES,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            inbox_capacity: Self::DEFAULT_INBOX_CAPACITY,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            segment_count: Self::DEFAULT_SEGMENT_COUNT,
            out_segment_bytes: Self::DEFAULT_OUT_SEGMENT_BYTES,
            out_segment_count: Self::DEFAULT_OUT_SEGMENT_COUNT,
        }
    }

    /// Checks the values `start` relies on; the reason names the first unusable one. Lets a
    /// configuration be checked without starting anything.
    pub fn validate(&self) -> Result<(), String> {
        self.problem().map_or(Ok(()), Err)
    }

    fn problem(&self) -> Option<String> {
        if !topics::valid_level(&self.node_id) {
            return Some(format!(
                "node id {:?} cannot be a topic level (1 to 256 characters, no / + # * $ or control characters)",
                self.node_id
            ));
        }
        if self.max_packet_bytes < 1024 || self.max_packet_bytes > MAX_REMAINING_LENGTH {
            return Some(format!(
                "mqtt.max_packet_bytes {} is outside 1024..={MAX_REMAINING_LENGTH}",
                self.max_packet_bytes
            ));
        }
        if self.max_connections == 0 {
            return Some("mqtt.max_connections must be at least 1".into());
        }
        if self.inbox_capacity == 0 {
            return Some("mqtt.inbox_capacity must be at least 1".into());
        }
        if self.segment_bytes < 1024 || self.out_segment_bytes < 1024 {
            return Some(
                "mqtt.segment_bytes and mqtt.out_segment_bytes must be at least 1024".into(),
            );
        }
        if self.segment_count == 0 || self.out_segment_count == 0 {
            return Some("mqtt.segment_count and mqtt.out_segment_count must be at least 1".into());
        }
        None
    }

    /// Router settings. Segments are ring buffers per subscribed filter that rumqttd never frees,
    /// so they are kept modest. A single message larger than a segment is still stored whole (a
    /// segment may overflow by its last message), so the segment size need not exceed the packet size.
    pub(crate) fn router_config(&self) -> RouterConfig {
        // Out-topic filters exist once per client id ever seen: smaller rings for them.
        let out_filters = topics::internal_out_filter_pattern(&self.node_id);
        RouterConfig {
            // Room for the local link and for connections the router has not yet seen leave.
            max_connections: self.max_connections.saturating_add(64),
            max_outgoing_packet_count: 200,
            max_segment_size: self.segment_bytes,
            max_segment_count: self.segment_count,
            custom_segment: Some(HashMap::from([(
                out_filters,
                SegmentConfig {
                    max_segment_size: self.out_segment_bytes,
                    max_segment_count: self.out_segment_count,
                },
            )])),
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        }
    }
}

/// The largest remaining length MQTT can encode.
const MAX_REMAINING_LENGTH: usize = 268_435_455;
