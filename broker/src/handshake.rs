//! The start of a connection: read CONNECT (within the connect timeout), check the client id,
//! take the last will away from rumqttd, attach a router link and write CONNACK.
//! A refused or failed handshake leaves nothing behind.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{
    ConnAck, ConnAckProperties, ConnectReturnCode, Disconnect, DisconnectReasonCode, LastWill,
    LastWillProperties, Packet, PublishProperties,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::codec::{self, DecodeError, Detected, Version};
use crate::inbox::Inbound;
use crate::publisher::Outgoing;
use crate::shared::{ActiveGuard, Shared};
use crate::topics::{self, OwnTopics, PublishRoute};

/// Topic aliases a v5 client may use (advertised in CONNACK, resolved by the connection).
pub(crate) const TOPIC_ALIAS_MAX: u16 = 64;

/// A last will, kept by the connection instead of rumqttd.
#[derive(Debug)]
pub(crate) enum Will {
    /// On the client's own in-topic: reported to the application in `Inbound::Closed`.
    OwnIn(Bytes),
    /// On an ordinary topic: published into the router.
    Router(Outgoing),
}

/// A connection whose CONNACK (success) has been written.
pub(crate) struct Accepted {
    pub(crate) version: Version,
    pub(crate) client_id: Arc<str>,
    pub(crate) session: u64,
    pub(crate) keep_alive: u16,
    pub(crate) will: Option<Will>,
    pub(crate) tx: LinkTx,
    pub(crate) rx: LinkRx,
    /// Bytes the client sent after its CONNECT.
    pub(crate) rest: BytesMut,
}

enum Refuse {
    BadId,
    Busy,
    Unavailable,
}

pub(crate) async fn handshake(
    stream: &mut TcpStream,
    shared: &Arc<Shared>,
    active: &ActiveGuard,
) -> Option<Accepted> {
    let mut buf = BytesMut::with_capacity(1024);
    let read = tokio::time::timeout(
        shared.connect_timeout,
        read_connect(stream, &mut buf, shared),
    );
    let (version, packet) = match read.await {
        Ok(Some(v)) => v,
        Ok(None) => return None,
        Err(_) => {
            tracing::debug!("no CONNECT within {:?}", shared.connect_timeout);
            return None;
        }
    };
    let Packet::Connect(connect, _props, will, will_props, _login) = packet else {
        return None;
    };

    let mut assigned = None;
    let client_id = if connect.client_id.is_empty() {
        if version == Version::V4 && !connect.clean_session {
            return refuse(stream, version, Refuse::BadId).await;
        }
        let id = format!(
            "{}{}",
            topics::ASSIGNED_PREFIX,
            uuid::Uuid::new_v4().simple()
        );
        assigned = Some(id.clone());
        id
    } else if topics::valid_client_id(&connect.client_id) {
        connect.client_id
    } else {
        tracing::debug!(client_id = %connect.client_id, "client id refused");
        return refuse(stream, version, Refuse::BadId).await;
    };
    if active.over_limit() {
        return refuse(stream, version, Refuse::Busy).await;
    }

    let client_id: Arc<str> = Arc::from(client_id);
    let own = OwnTopics::new(&shared.node_id, &client_id);
    let will = will.and_then(|w| keep_will(w, will_props, &own));

    // Claiming the session and building the link happen under one lock, so the order in which
    // connections with the same client id become current is the order in which the router
    // attaches them (and kicks the one before).
    let setup = shared.clone();
    let id = client_id.clone();
    let clean = connect.clean_session;
    let built = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = setup.link_setup.lock();
        let session = setup.sessions.claim(&id);
        (session, (setup.links)(&id, clean))
    })
    .await;
    let (session, (mut tx, rx, ack)) = match built {
        Ok((session, Ok(link))) => (session, link),
        Ok((session, Err(e))) => {
            tracing::warn!(%client_id, error = %e, "router refused the connection");
            abandon(shared, &client_id, session).await;
            return refuse(stream, version, Refuse::Unavailable).await;
        }
        Err(e) => {
            tracing::error!(%client_id, error = %e, "link set-up failed");
            return refuse(stream, version, Refuse::Unavailable).await;
        }
    };

    let session_present = match Option::<Packet>::from(ack) {
        Some(Packet::ConnAck(ack, _)) => ack.session_present,
        _ => false,
    };
    let properties = (version == Version::V5).then(|| ConnAckProperties {
        assigned_client_identifier: assigned,
        topic_alias_max: Some(TOPIC_ALIAS_MAX),
        max_packet_size: u32::try_from(shared.max_packet_bytes).ok(),
        ..Default::default()
    });
    let connack = Packet::ConnAck(
        ConnAck {
            session_present,
            code: ConnectReturnCode::Success,
        },
        properties,
    );
    if write_packet(stream, version, connack).await.is_err() {
        let bye = Packet::Disconnect(
            Disconnect {
                reason_code: DisconnectReasonCode::NormalDisconnection,
            },
            None,
        );
        let _ = tx.send(bye).await;
        abandon(shared, &client_id, session).await;
        return None;
    }
    Some(Accepted {
        version,
        client_id,
        session,
        keep_alive: connect.keep_alive,
        will,
        tx,
        rx,
        rest: buf,
    })
}

/// Ends a session that never got going. If it was current, the connection it replaced has
/// already reported its end as superseded, so this one reports the end of the client id's
/// session: the application then stops what that client id owned, as for any session end.
async fn abandon(shared: &Shared, client_id: &Arc<str>, session: u64) {
    if shared.sessions.release(client_id, session) {
        let closed = Inbound::Closed {
            client_id: client_id.clone(),
            session,
            clean: false,
            current: true,
            will: None,
        };
        let _ = shared.inbox_for(client_id).send(closed).await;
    }
}

/// Reads until a whole CONNECT is decoded. `None` for anything else; an unsupported protocol
/// level is answered with CONNACK 0x01 first.
async fn read_connect(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    shared: &Shared,
) -> Option<(Version, Packet)> {
    let version = loop {
        match codec::detect(buf) {
            Detected::NeedMore => {}
            Detected::Mqtt(v) => break v,
            Detected::Unsupported => {
                let _ = stream.write_all(&codec::CONNACK_UNSUPPORTED_VERSION).await;
                return None;
            }
            Detected::Junk => return None,
        }
        if buf.len() > 1024 {
            return None;
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    };
    loop {
        match version.decode(buf, shared.max_packet_bytes) {
            Ok(frame) => {
                return matches!(frame.packet, Packet::Connect(..))
                    .then_some((version, frame.packet))
            }
            Err(DecodeError::NeedMore(n)) => buf.reserve(n),
            Err(e) => {
                tracing::debug!(error = ?e, "bad CONNECT");
                return None;
            }
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// Applies the publish rules to the will: a will the client could not publish itself is dropped.
fn keep_will(will: LastWill, props: Option<LastWillProperties>, own: &OwnTopics) -> Option<Will> {
    match topics::route_publish(&will.topic, own) {
        PublishRoute::OwnIn => Some(Will::OwnIn(will.message)),
        PublishRoute::Router(topic) => Some(Will::Router(Outgoing {
            topic,
            payload: will.message,
            retain: will.retain,
            properties: props.map(|p| PublishProperties {
                payload_format_indicator: p.payload_format_indicator,
                message_expiry_interval: p.message_expiry_interval,
                response_topic: p.response_topic,
                correlation_data: p.correlation_data,
                user_properties: p.user_properties,
                content_type: p.content_type,
                ..Default::default()
            }),
        })),
        PublishRoute::Denied => None,
    }
}

async fn refuse(stream: &mut TcpStream, version: Version, why: Refuse) -> Option<Accepted> {
    let code = match (version, why) {
        (_, Refuse::BadId) => ConnectReturnCode::ClientIdentifierNotValid,
        (Version::V4, _) => ConnectReturnCode::ServiceUnavailable,
        (Version::V5, Refuse::Busy) => ConnectReturnCode::ServerBusy,
        (Version::V5, Refuse::Unavailable) => ConnectReturnCode::ServerUnavailable,
    };
    let ack = ConnAck {
        session_present: false,
        code,
    };
    let _ = write_packet(stream, version, Packet::ConnAck(ack, None)).await;
    let _ = stream.shutdown().await;
    None
}

async fn write_packet(
    stream: &mut TcpStream,
    version: Version,
    packet: Packet,
) -> std::io::Result<()> {
    let mut out = BytesMut::with_capacity(64);
    version
        .encode(packet, &mut out)
        .map_err(std::io::Error::other)?;
    stream.write_all(&out).await
}
