//! MQTT framing for one connection: picks rumqttd's `V4` or `V5` codec from the CONNECT's protocol
//! level without consuming bytes, contains decoder panics, and strips v5 properties before a
//! `V4::write` (which panics on them). No IO here.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::BytesMut;
use rumqttd::protocol::{
    self, v4::V4, v5::V5, Disconnect, DisconnectReasonCode, Packet, Protocol, QoS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V4,
    /// MQTT 5.
    V5,
}

/// What the first bytes of a connection are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Detected {
    NeedMore,
    Mqtt(Version),
    /// A CONNECT of a protocol level we do not speak (3.1 `MQIsdp`, or an unknown `MQTT` level).
    Unsupported,
    /// Not an MQTT CONNECT.
    Junk,
}

/// Peeks at the protocol name and level of a CONNECT at the start of `buf`. Consumes nothing.
pub(crate) fn detect(buf: &[u8]) -> Detected {
    let Some(&first) = buf.first() else {
        return Detected::NeedMore;
    };
    if first != 0x10 {
        return Detected::Junk;
    }
    let (len_len, remaining) = match varint(&buf[1..]) {
        Varint::Value(len_len, v) => (len_len, v),
        Varint::Incomplete => return Detected::NeedMore,
        Varint::Malformed => return Detected::Junk,
    };
    let start = 1 + len_len;
    let Some(name_len) = read_u16(buf, start) else {
        return Detected::NeedMore;
    };
    let name_len = usize::from(name_len);
    if remaining < 2 + name_len + 1 {
        return Detected::Junk;
    }
    let level_at = start + 2 + name_len;
    let Some(&level) = buf.get(level_at) else {
        return Detected::NeedMore;
    };
    match (&buf[start + 2..level_at], level) {
        (b"MQTT", 4) => Detected::Mqtt(Version::V4),
        (b"MQTT", 5) => Detected::Mqtt(Version::V5),
        (b"MQTT", _) | (b"MQIsdp", _) => Detected::Unsupported,
        _ => Detected::Junk,
    }
}

/// The v3.1/v3.1.1 CONNACK "unacceptable protocol version", understood by clients of any level.
pub(crate) const CONNACK_UNSUPPORTED_VERSION: [u8; 4] = [0x20, 0x02, 0x00, 0x01];

#[derive(Debug)]
pub(crate) enum DecodeError {
    /// At least this many more bytes are needed.
    NeedMore(usize),
    /// The packet is larger than the transport maximum.
    TooLarge,
    Malformed(String),
}

/// A decoded packet. rumqttd keeps a PUBLISH's QoS and packet id private, so they are read from
/// the raw frame before decoding.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) packet: Packet,
    pub(crate) qos: QoS,
    pub(crate) pkid: u16,
}

impl Version {
    /// Takes one packet off the front of `buf`.
    pub(crate) fn decode(self, buf: &mut BytesMut, max_size: usize) -> Result<Frame, DecodeError> {
        let Some(&first) = buf.first() else {
            return Err(DecodeError::NeedMore(2));
        };
        let kind = first >> 4;
        // Only client-to-server packet types reach the decoders: V5's panics on a CONNACK.
        if !matches!(kind, 1 | 3..=8 | 10 | 12 | 14) {
            return Err(DecodeError::Malformed(format!(
                "packet type {kind} from a client"
            )));
        }
        let (len_len, remaining) = match varint(&buf[1..]) {
            Varint::Value(len_len, remaining) => (len_len, remaining),
            Varint::Incomplete => return Err(DecodeError::NeedMore(1)),
            Varint::Malformed => return Err(DecodeError::Malformed("bad remaining length".into())),
        };
        if remaining > max_size {
            return Err(DecodeError::TooLarge);
        }
        let frame_len = 1 + len_len + remaining;
        if buf.len() < frame_len {
            return Err(DecodeError::NeedMore(frame_len - buf.len()));
        }
        // A v5 DISCONNECT may carry its reason code without a property length; V5 cannot read that.
        if self == Version::V5 && first == 0xe0 && remaining == 1 {
            let reason_code = match buf[2] {
                0x00 => DisconnectReasonCode::NormalDisconnection,
                0x04 => DisconnectReasonCode::DisconnectWithWillMessage,
                _ => DisconnectReasonCode::UnspecifiedError,
            };
            let _ = buf.split_to(frame_len);
            let packet = Packet::Disconnect(Disconnect { reason_code }, None);
            return Ok(Frame {
                packet,
                qos: QoS::AtMostOnce,
                pkid: 0,
            });
        }
        let meta = if kind == 3 {
            publish_meta(buf)
        } else {
            Some((QoS::AtMostOnce, 0))
        };
        let decoded = catch_unwind(AssertUnwindSafe(|| match self {
            Version::V4 => V4.read_mut(buf, max_size),
            Version::V5 => V5.read_mut(buf, max_size),
        }));
        let packet = match decoded {
            Ok(Ok(packet)) => packet,
            // The whole frame was there: a decoder asking for more means a malformed packet.
            Ok(Err(protocol::Error::InsufficientBytes(_))) => {
                return Err(DecodeError::Malformed("truncated packet".into()))
            }
            Ok(Err(protocol::Error::PayloadSizeLimitExceeded(_))) => {
                return Err(DecodeError::TooLarge)
            }
            Ok(Err(e)) => return Err(DecodeError::Malformed(e.to_string())),
            Err(_) => return Err(DecodeError::Malformed("decoder panicked".into())),
        };
        let Some((qos, pkid)) = meta else {
            return Err(DecodeError::Malformed("unreadable PUBLISH header".into()));
        };
        Ok(Frame { packet, qos, pkid })
    }

    /// Appends the encoding of `packet` to `out`.
    pub(crate) fn encode(self, packet: Packet, out: &mut BytesMut) -> Result<(), String> {
        let written = catch_unwind(AssertUnwindSafe(|| match self {
            Version::V4 => V4.write(strip_properties(packet), out),
            Version::V5 => V5.write(packet, out),
        }));
        match written {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("encoder panicked".into()),
        }
    }
}

/// MQTT 3.1.1 has no properties; a message from a v5 publisher keeps its own when forwarded.
fn strip_properties(packet: Packet) -> Packet {
    match packet {
        Packet::Connect(c, _, will, _, login) => Packet::Connect(c, None, will, None, login),
        Packet::ConnAck(a, _) => Packet::ConnAck(a, None),
        Packet::Publish(p, _) => Packet::Publish(p, None),
        Packet::PubAck(p, _) => Packet::PubAck(p, None),
        Packet::Subscribe(s, _) => Packet::Subscribe(s, None),
        Packet::SubAck(s, _) => Packet::SubAck(s, None),
        Packet::PubRec(p, _) => Packet::PubRec(p, None),
        Packet::PubRel(p, _) => Packet::PubRel(p, None),
        Packet::PubComp(p, _) => Packet::PubComp(p, None),
        Packet::Unsubscribe(u, _) => Packet::Unsubscribe(u, None),
        Packet::UnsubAck(u, _) => Packet::UnsubAck(u, None),
        Packet::Disconnect(d, _) => Packet::Disconnect(d, None),
        p @ (Packet::PingReq(_) | Packet::PingResp(_)) => p,
    }
}

/// QoS and packet id of the PUBLISH at the start of `buf`, if its header is complete.
fn publish_meta(buf: &[u8]) -> Option<(QoS, u16)> {
    let qos = protocol::qos((buf.first()? >> 1) & 0b11)?;
    let Varint::Value(len_len, _) = varint(buf.get(1..)?) else {
        return None;
    };
    if qos == QoS::AtMostOnce {
        return Some((qos, 0));
    }
    let topic_at = 1 + len_len;
    let topic_len = usize::from(read_u16(buf, topic_at)?);
    Some((qos, read_u16(buf, topic_at + 2 + topic_len)?))
}

enum Varint {
    Value(usize, usize),
    Incomplete,
    Malformed,
}

/// MQTT variable byte integer: (bytes used, value).
fn varint(buf: &[u8]) -> Varint {
    let mut value = 0usize;
    for (i, byte) in buf.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Varint::Value(i + 1, value);
        }
    }
    if buf.len() >= 4 {
        Varint::Malformed
    } else {
        Varint::Incomplete
    }
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rumqttd::protocol::{Connect, Publish};

    fn connect_bytes(name: &[u8], level: u8) -> Vec<u8> {
        let mut v = vec![0x10, 0];
        v.extend_from_slice(&(name.len() as u16).to_be_bytes());
        v.extend_from_slice(name);
        v.extend_from_slice(&[level, 0x02, 0, 10, 0, 1, b'c']);
        v[1] = (v.len() - 2) as u8;
        v
    }

    #[test]
    fn detects_versions_from_any_prefix() {
        let v4 = connect_bytes(b"MQTT", 4);
        for cut in 0..9 {
            assert_eq!(detect(&v4[..cut]), Detected::NeedMore, "cut {cut}");
        }
        assert_eq!(detect(&v4), Detected::Mqtt(Version::V4));
        assert_eq!(
            detect(&connect_bytes(b"MQTT", 5)),
            Detected::Mqtt(Version::V5)
        );
        assert_eq!(detect(&connect_bytes(b"MQIsdp", 3)), Detected::Unsupported);
        assert_eq!(detect(&connect_bytes(b"MQTT", 9)), Detected::Unsupported);
        assert_eq!(detect(&connect_bytes(b"HTTP", 4)), Detected::Junk);
        assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Detected::Junk);
        assert_eq!(detect(&[0x10, 0xff, 0xff, 0xff, 0xff]), Detected::Junk);
    }

    #[test]
    fn decodes_publish_qos_and_pkid_from_the_raw_frame() {
        let mut raw = BytesMut::new();
        raw.extend_from_slice(&[0x32, 0, 0, 3, b'a', b'/', b'b', 0x12, 0x34, b'x']);
        raw[1] = (raw.len() - 2) as u8;
        let frame = Version::V4.decode(&mut raw, 1024).unwrap();
        assert_eq!((frame.qos, frame.pkid), (QoS::AtLeastOnce, 0x1234));
        assert!(matches!(frame.packet, Packet::Publish(..)));
        assert!(raw.is_empty());
    }

    #[test]
    fn refuses_server_packets_oversize_and_garbage_without_panicking() {
        for bytes in [
            &[0x20u8, 0x02, 0, 0][..],
            &[0x90, 0x03, 0, 1, 0],
            &[0xf0, 0],
        ] {
            for v in [Version::V4, Version::V5] {
                let mut b = BytesMut::from(bytes);
                assert!(matches!(
                    v.decode(&mut b, 1024),
                    Err(DecodeError::Malformed(_))
                ));
            }
        }
        let mut big = BytesMut::from(&[0x30u8, 0x80, 0x80, 0x01][..]);
        assert!(matches!(
            Version::V5.decode(&mut big, 1024),
            Err(DecodeError::TooLarge)
        ));
        let mut partial = BytesMut::from(&[0x30u8, 0x10, 0, 3][..]);
        assert!(matches!(
            Version::V4.decode(&mut partial, 1024),
            Err(DecodeError::NeedMore(_))
        ));
    }

    #[test]
    fn v5_disconnect_with_only_a_reason_code() {
        let mut b = BytesMut::from(&[0xe0u8, 0x01, 0x04, 0xc0, 0x00][..]);
        let frame = Version::V5.decode(&mut b, 1024).unwrap();
        assert!(matches!(
            frame.packet,
            Packet::Disconnect(
                Disconnect {
                    reason_code: DisconnectReasonCode::DisconnectWithWillMessage
                },
                None
            )
        ));
        assert_eq!(&b[..], &[0xc0, 0x00]);
    }

    #[test]
    fn v4_encoding_drops_v5_properties() {
        let props = rumqttd::protocol::PublishProperties {
            user_properties: vec![("k".into(), "v".into())],
            ..Default::default()
        };
        let p = Packet::Publish(Publish::new("t", "x", false), Some(props));
        let mut out = BytesMut::new();
        Version::V4.encode(p.clone(), &mut out).unwrap();
        assert_eq!(&out[..], &[0x30, 4, 0, 1, b't', b'x']);
        out.clear();
        Version::V5.encode(p, &mut out).unwrap();
        assert!(out.len() > 6);
        let c = Connect {
            keep_alive: 0,
            client_id: "c".into(),
            clean_session: true,
        };
        Version::V4
            .encode(Packet::Connect(c, None, None, None, None), &mut out)
            .unwrap();
    }
}
