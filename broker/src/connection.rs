//! One client connection after its CONNECT: in-topic messages straight to the application (with
//! the QoS flow done here), everything else through the connection's own router link, router
//! output back to the socket in batches. Reports `Opened` and, exactly once, `Closed`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{
    Disconnect, DisconnectReasonCode, Packet, PingResp, PubAck, PubAckReason, PubComp,
    PubCompReason, PubRec, PubRecReason, Publish, PublishProperties, QoS, SubAck, Subscribe,
    SubscribeProperties, SubscribeReasonCode, UnsubAck, UnsubAckReason, Unsubscribe,
    UnsubscribeProperties,
};
use rumqttd::Notification;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::codec::{DecodeError, Frame, Version};
use crate::handshake::{self, Accepted, Will, TOPIC_ALIAS_MAX};
use crate::inbox::Inbound;
use crate::shared::{self, ActiveGuard, Shared};
use crate::topics::{self, OwnTopics, PublishRoute, Refusal};

/// Router notifications taken in one go before writing to the socket.
const DRAIN: usize = 1024;

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// DISCONNECT received (normal).
    Clean,
    /// Anything else the client or the network did; for v5 the reason is sent in a DISCONNECT.
    Unclean(&'static str, Option<DisconnectReasonCode>),
    /// A newer connection with the same client id took over (the router dropped our link).
    TakenOver,
    /// The router closed the link itself (it already sent its reason).
    RouterClosed,
    Shutdown,
}

/// Longest wait for a client to take what is written to it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Serves one accepted TCP connection to its end.
pub(crate) async fn serve(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    mut pause: watch::Receiver<bool>,
) {
    let active = ActiveGuard::new(shared.clone());
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let Some(accepted) = handshake::handshake(&mut stream, &shared, &active).await else {
        return;
    };
    let Accepted {
        version,
        client_id,
        session,
        keep_alive,
        will,
        tx,
        mut rx,
        rest,
    } = accepted;
    let mut conn = Connection {
        own: OwnTopics::new(&shared.node_id, &client_id),
        inbox: shared.inbox_for(&client_id),
        shared,
        version,
        client_id,
        session,
        will,
        tx,
        pending_qos2: HashSet::new(),
        router_qos2: HashSet::new(),
        pending_subacks: HashMap::new(),
        aliases: HashMap::new(),
        to_router: Vec::new(),
        out: BytesMut::with_capacity(4096),
        finished: false,
    };
    let opened = Inbound::Opened {
        client_id: conn.client_id.clone(),
        session,
    };
    let _ = conn.inbox.send(opened).await;

    let keep_alive = (keep_alive != 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
    let end = conn
        .run(
            &mut stream,
            &mut rx,
            rest,
            keep_alive,
            &mut shutdown,
            &mut pause,
        )
        .await;
    let why = match &end {
        End::Unclean(why, _) => why,
        End::Clean => "DISCONNECT",
        End::TakenOver => "taken over",
        End::RouterClosed => "closed by the router",
        End::Shutdown => "broker shutdown",
    };
    tracing::debug!(client_id = %conn.client_id, session, why, "connection ended");

    if version == Version::V5 {
        let reason = match &end {
            End::Unclean(_, reason) => *reason,
            End::TakenOver => Some(DisconnectReasonCode::SessionTakenOver),
            End::Shutdown => Some(DisconnectReasonCode::ServerShuttingDown),
            End::Clean | End::RouterClosed => None,
        };
        if let Some(reason_code) = reason {
            conn.encode(Packet::Disconnect(Disconnect { reason_code }, None));
        }
    }
    if !conn.out.is_empty() {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&conn.out)).await;
    }
    let _ = stream.shutdown().await;
    drop(stream);

    let link_alive = !matches!(end, End::TakenOver | End::RouterClosed);
    let closed = conn.close(matches!(end, End::Clean), link_alive);
    let _ = conn.inbox.send(closed).await;
    drop(active);
}

struct Connection {
    shared: Arc<Shared>,
    /// This client's inbox shard.
    inbox: tokio::sync::mpsc::Sender<Inbound>,
    version: Version,
    client_id: Arc<str>,
    session: u64,
    own: OwnTopics,
    will: Option<Will>,
    tx: LinkTx,
    /// QoS 2 packet ids answered here (own in-topic, refused) and waiting for PUBREL.
    pending_qos2: HashSet<u16>,
    /// QoS 2 packet ids of ordinary publishes handed to the router, whose PUBREL it expects.
    router_qos2: HashSet<u16>,
    /// Refused filters of a SUBSCRIBE, merged into the router's SUBACK: (position, code).
    pending_subacks: HashMap<u16, Vec<(usize, SubscribeReasonCode)>>,
    /// v5 topic aliases set by the client; resolved here so the rules see every topic.
    aliases: HashMap<u16, Bytes>,
    to_router: Vec<Packet>,
    out: BytesMut,
    /// `Closed` has been produced; guards the report on panic or cancellation.
    finished: bool,
}

impl Connection {
    async fn run(
        &mut self,
        stream: &mut TcpStream,
        rx: &mut LinkRx,
        mut buf: BytesMut,
        keep_alive: Option<Duration>,
        shutdown: &mut watch::Receiver<bool>,
        pause: &mut watch::Receiver<bool>,
    ) -> End {
        let mut last_inbound = Instant::now();
        let mut inbound_pending = !buf.is_empty();
        let mut reading = !*pause.borrow_and_update();
        loop {
            if inbound_pending {
                inbound_pending = false;
                if let Some(end) = self.on_bytes(&mut buf).await {
                    self.flush_router().await;
                    return end;
                }
                if let Some(end) = self.flush_router().await {
                    return end;
                }
                // Handing the packets on may have waited for a full inbox: that wait is the
                // broker's, not the client's silence.
                last_inbound = Instant::now();
                if let Some(end) = self.flush(stream).await {
                    return end;
                }
            }
            let deadline = keep_alive.filter(|_| reading).map(|ka| last_inbound + ka);
            tokio::select! {
                read = stream.read_buf(&mut buf), if reading => match read {
                    Ok(0) => return End::Unclean("closed by client", None),
                    Ok(_) => {
                        last_inbound = Instant::now();
                        inbound_pending = true;
                    }
                    Err(_) => return End::Unclean("network error", None),
                },
                first = rx.next() => {
                    let mut next = first;
                    let mut unscheduled = false;
                    let mut end = None;
                    for _ in 0..DRAIN {
                        match next {
                            Ok(Some(Notification::Unschedule)) => unscheduled = true,
                            Ok(Some(n)) => {
                                if let Some(e) = self.on_notification(n) {
                                    end = Some(e);
                                    break;
                                }
                            }
                            Ok(None) => {}
                            Err(_) => {
                                end = Some(End::TakenOver);
                                break;
                            }
                        }
                        match rx.next().now_or_never() {
                            Some(n) => next = n,
                            None => break,
                        }
                    }
                    if let Some(end) = end {
                        return end;
                    }
                    if let Some(end) = self.flush(stream).await {
                        return end;
                    }
                    if unscheduled && rx.wake().await.is_err() {
                        return End::TakenOver;
                    }
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    return End::Unclean("keep-alive timeout", Some(DisconnectReasonCode::KeepAliveTimeout));
                }
                _ = shared::shutdown_requested(pause), if reading => reading = false,
                _ = shared::shutdown_requested(shutdown) => return End::Shutdown,
            }
        }
    }

    /// Handles every complete packet in `buf`.
    async fn on_bytes(&mut self, buf: &mut BytesMut) -> Option<End> {
        loop {
            match self.version.decode(buf, self.shared.max_packet_bytes) {
                Ok(frame) => {
                    if let Some(end) = self.on_packet(frame).await {
                        return Some(end);
                    }
                }
                Err(DecodeError::NeedMore(n)) => {
                    buf.reserve(n.max(4096));
                    return None;
                }
                Err(DecodeError::TooLarge) => {
                    return Some(End::Unclean(
                        "packet too large",
                        Some(DisconnectReasonCode::PacketTooLarge),
                    ));
                }
                Err(DecodeError::Malformed(e)) => {
                    tracing::debug!(client_id = %self.client_id, error = %e, "malformed packet");
                    return Some(End::Unclean(
                        "malformed packet",
                        Some(DisconnectReasonCode::MalformedPacket),
                    ));
                }
            }
        }
    }

    async fn on_packet(&mut self, frame: Frame) -> Option<End> {
        let Frame { packet, qos, pkid } = frame;
        match packet {
            Packet::Publish(publish, props) => {
                return self.on_publish(publish, props, qos, pkid).await
            }
            Packet::PubRel(pubrel, _) => {
                if self.router_qos2.remove(&pubrel.pkid) {
                    self.to_router.push(Packet::PubRel(pubrel, None));
                } else {
                    // Ours, or one this connection never saw (a PUBREL re-sent after a
                    // reconnect): answered here, since the router would drop the client for it.
                    let reason =
                        if self.pending_qos2.remove(&pubrel.pkid) || self.version != Version::V5 {
                            PubCompReason::Success
                        } else {
                            PubCompReason::PacketIdentifierNotFound
                        };
                    let comp = PubComp {
                        pkid: pubrel.pkid,
                        reason,
                    };
                    self.encode(Packet::PubComp(comp, None));
                }
            }
            Packet::Subscribe(subscribe, props) => self.on_subscribe(subscribe, props),
            Packet::Unsubscribe(unsubscribe, props) => self.on_unsubscribe(unsubscribe, props),
            p @ (Packet::PubAck(..) | Packet::PubRec(..) | Packet::PubComp(..)) => {
                self.to_router.push(p)
            }
            Packet::PingReq(_) => self.encode(Packet::PingResp(PingResp)),
            Packet::Disconnect(d, _) => {
                // MQTT 5: only reason 0x00 discards the will (0x04 asks for it, errors keep it).
                return Some(
                    if d.reason_code == DisconnectReasonCode::NormalDisconnection {
                        End::Clean
                    } else {
                        End::Unclean("DISCONNECT with a non-zero reason", None)
                    },
                );
            }
            _ => {
                return Some(End::Unclean(
                    "unexpected packet",
                    Some(DisconnectReasonCode::ProtocolError),
                ))
            }
        }
        None
    }

    async fn on_publish(
        &mut self,
        mut publish: Publish,
        mut props: Option<PublishProperties>,
        qos: QoS,
        pkid: u16,
    ) -> Option<End> {
        if let Some(alias) = props.as_mut().and_then(|p| p.topic_alias.take()) {
            if alias == 0 || alias > TOPIC_ALIAS_MAX {
                return Some(End::Unclean(
                    "bad topic alias",
                    Some(DisconnectReasonCode::TopicAliasInvalid),
                ));
            }
            if publish.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        return Some(End::Unclean(
                            "unknown topic alias",
                            Some(DisconnectReasonCode::ProtocolError),
                        ))
                    }
                }
            } else {
                self.aliases.insert(alias, publish.topic.clone());
            }
        }
        if publish.topic.is_empty() {
            return Some(End::Unclean(
                "empty topic",
                Some(DisconnectReasonCode::ProtocolError),
            ));
        }
        match topics::route_publish(&publish.topic, &self.own) {
            PublishRoute::OwnIn => {
                let duplicate = qos == QoS::ExactlyOnce && self.pending_qos2.contains(&pkid);
                if !duplicate {
                    let message = Inbound::Message {
                        client_id: self.client_id.clone(),
                        session: self.session,
                        payload: publish.payload,
                    };
                    // Awaiting a full inbox stops reading this socket: TCP backpressure, no loss.
                    let _ = self.inbox.send(message).await;
                }
                self.ack(qos, pkid, true);
            }
            PublishRoute::Router(topic) => {
                publish.topic = topic;
                if qos == QoS::ExactlyOnce {
                    self.router_qos2.insert(pkid);
                }
                self.to_router.push(Packet::Publish(publish, props));
            }
            PublishRoute::Denied => {
                tracing::debug!(client_id = %self.client_id, topic = ?publish.topic, "publish refused");
                self.ack(qos, pkid, false);
            }
        }
        None
    }

    /// Acknowledges a PUBLISH handled here. Refusals: v5 gets reason "not authorized", v3.1.1
    /// (which has no reason codes) an ordinary acknowledgement.
    fn ack(&mut self, qos: QoS, pkid: u16, accepted: bool) {
        let refused_v5 = !accepted && self.version == Version::V5;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                let reason = if refused_v5 {
                    PubAckReason::NotAuthorized
                } else {
                    PubAckReason::Success
                };
                self.encode(Packet::PubAck(PubAck { pkid, reason }, None));
            }
            QoS::ExactlyOnce => {
                let reason = if refused_v5 {
                    PubRecReason::NotAuthorized
                } else {
                    // A v5 refusal code ends the exchange; otherwise PUBREL follows.
                    self.pending_qos2.insert(pkid);
                    PubRecReason::Success
                };
                self.encode(Packet::PubRec(PubRec { pkid, reason }, None));
            }
        }
    }

    fn on_subscribe(&mut self, subscribe: Subscribe, props: Option<SubscribeProperties>) {
        let pkid = subscribe.pkid;
        let mut refused = Vec::new();
        let mut allowed = Vec::new();
        for (i, mut filter) in subscribe.filters.into_iter().enumerate() {
            match topics::route_filter(&filter.path, &self.own) {
                Ok(path) => {
                    filter.path = path;
                    allowed.push(filter);
                }
                Err(why) => {
                    tracing::debug!(client_id = %self.client_id, filter = %filter.path, ?why, "subscription refused");
                    refused.push((i, self.refusal_code(why)));
                }
            }
        }
        if allowed.is_empty() {
            let return_codes = refused.into_iter().map(|(_, code)| code).collect();
            self.encode(Packet::SubAck(SubAck { pkid, return_codes }, None));
            return;
        }
        if !refused.is_empty() {
            self.pending_subacks.insert(pkid, refused);
        }
        self.to_router.push(Packet::Subscribe(
            Subscribe {
                pkid,
                filters: allowed,
            },
            props,
        ));
    }

    fn refusal_code(&self, why: Refusal) -> SubscribeReasonCode {
        match (self.version, why) {
            (Version::V4, _) => SubscribeReasonCode::Failure,
            (Version::V5, Refusal::NotAuthorized) => SubscribeReasonCode::NotAuthorized,
            (Version::V5, Refusal::Invalid) => SubscribeReasonCode::TopicFilterInvalid,
        }
    }

    /// Answered here: rumqttd sends no UNSUBACK for a filter that nobody subscribed.
    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe, props: Option<UnsubscribeProperties>) {
        let pkid = unsubscribe.pkid;
        let mut reasons = Vec::with_capacity(unsubscribe.filters.len());
        let mut filters = Vec::new();
        for filter in &unsubscribe.filters {
            match topics::route_filter(filter, &self.own) {
                Ok(path) => {
                    filters.push(path);
                    reasons.push(UnsubAckReason::Success);
                }
                Err(_) => reasons.push(UnsubAckReason::NoSubscriptionExisted),
            }
        }
        if !filters.is_empty() {
            self.to_router
                .push(Packet::Unsubscribe(Unsubscribe { pkid, filters }, props));
        }
        self.encode(Packet::UnsubAck(UnsubAck { pkid, reasons }, None));
    }

    /// Turns router output into packets for the client.
    fn on_notification(&mut self, notification: Notification) -> Option<End> {
        match Option::<Packet>::from(notification)? {
            Packet::Publish(mut publish, props) => {
                publish.topic = topics::from_router(publish.topic);
                self.encode(Packet::Publish(publish, props));
            }
            Packet::SubAck(mut suback, props) => {
                if let Some(refused) = self.pending_subacks.remove(&suback.pkid) {
                    for (i, code) in refused {
                        let at = i.min(suback.return_codes.len());
                        suback.return_codes.insert(at, code);
                    }
                }
                self.encode(Packet::SubAck(suback, props));
            }
            Packet::UnsubAck(..) | Packet::ConnAck(..) => {}
            Packet::Disconnect(d, props) => {
                tracing::debug!(client_id = %self.client_id, reason = ?d.reason_code, "router closed the link");
                if self.version == Version::V5 {
                    self.encode(Packet::Disconnect(d, props));
                }
                return Some(End::RouterClosed);
            }
            packet => self.encode(packet),
        }
        None
    }

    fn encode(&mut self, packet: Packet) {
        if let Err(e) = self.version.encode(packet, &mut self.out) {
            tracing::warn!(client_id = %self.client_id, error = %e, "cannot encode packet; dropped");
        }
    }

    /// Writes what is queued for the client. A client that stops reading (its TCP window stays
    /// shut) is dropped after `WRITE_TIMEOUT`, so it cannot hold its task, its router link and a
    /// graceful stop hostage.
    async fn flush(&mut self, stream: &mut TcpStream) -> Option<End> {
        if self.out.is_empty() {
            return None;
        }
        let written = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&self.out)).await;
        self.out.clear();
        match written {
            Ok(Ok(())) => None,
            Ok(Err(_)) => Some(End::Unclean("network error", None)),
            Err(_) => Some(End::Unclean("client stopped reading", None)),
        }
    }

    /// Hands the packets collected for the router over with one wake-up.
    async fn flush_router(&mut self) -> Option<End> {
        let last = self.to_router.pop()?;
        if !self.to_router.is_empty() {
            self.tx.buffer().extend(self.to_router.drain(..));
        }
        match self.tx.send(last).await {
            Ok(_) => None,
            Err(_) => Some(End::RouterClosed),
        }
    }

    /// Detaches from the router, deals with the will and produces the `Closed` report.
    fn close(&mut self, clean: bool, link_alive: bool) -> Inbound {
        self.finished = true;
        if link_alive {
            let bye = Packet::Disconnect(
                Disconnect {
                    reason_code: DisconnectReasonCode::NormalDisconnection,
                },
                None,
            );
            // Goes into this link's own buffer: it can never end another client's connection.
            let _ = self.tx.send(bye).now_or_never();
        }
        let will = match self.will.take().filter(|_| !clean) {
            Some(Will::OwnIn(payload)) => Some(payload),
            Some(Will::Router(message)) => {
                // Through the local link: after a takeover this connection's link is already gone.
                let _ = self.shared.publisher.enqueue(message);
                None
            }
            None => None,
        };
        let current = self.shared.sessions.release(&self.client_id, self.session);
        Inbound::Closed {
            client_id: self.client_id.clone(),
            session: self.session,
            clean,
            current,
            will,
        }
    }
}

impl Drop for Connection {
    /// A panic or a cancelled task still reports the close (best effort: the inbox may be full).
    fn drop(&mut self) {
        if !self.finished {
            let closed = self.close(false, true);
            let _ = self.inbox.try_send(closed);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
