//! Topic names: the fabric in/out topics, the mapping between client topics and router topics,
//! and the access rules. Pure functions, no IO.
//!
//! rumqttd never routes topics that start with `$`, so inside the router `$x` is `\0x`. Every
//! ordinary topic gets a first level `\x01`, which keeps filters that start with a wildcard
//! (`#`, `+/…`) away from `$` topics by construction (MQTT 4.7.2).

use bytes::{BufMut, Bytes, BytesMut};

/// Client ids starting with this are reserved for the broker's own router link.
pub(crate) const LOCAL_LINK_PREFIX: &str = "nodebus-local-";
/// Prefix of the ids given to clients that connect with an empty client id.
pub(crate) const ASSIGNED_PREFIX: &str = "nodebus-";
const MAX_LEVEL_CHARS: usize = 256;
const DOLLAR: u8 = 0;
const PLAIN: &[u8] = b"\x01/";

/// A string usable as a single topic level and client id: 1 to 256 characters, none of
/// `/ + # * $`, no control characters.
pub(crate) fn valid_level(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_LEVEL_CHARS
        && !s
            .chars()
            .any(|c| matches!(c, '/' | '+' | '#' | '*' | '$') || c.is_control())
}

/// A client id an external client may use.
pub(crate) fn valid_client_id(s: &str) -> bool {
    valid_level(s) && !s.starts_with(LOCAL_LINK_PREFIX)
}

pub(crate) fn in_topic(node: &str, client_id: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$in/{client_id}")
}

pub(crate) fn out_topic(node: &str, client_id: &str) -> String {
    format!("$fabric/{node}/$adapters/$mqtt/$out/{client_id}")
}

/// Router form of every out-topic of this node, minus the client id.
pub(crate) fn internal_out_prefix(node: &str) -> String {
    format!("\0fabric/{node}/$adapters/$mqtt/$out/")
}

/// Router filter matching the router form of every out-topic filter of this node.
pub(crate) fn internal_out_filter_pattern(node: &str) -> String {
    format!("{}+", internal_out_prefix(node))
}

/// The two fabric topics a connection may use, in client form.
#[derive(Debug, Clone)]
pub(crate) struct OwnTopics {
    pub(crate) inbound: String,
    pub(crate) outbound: String,
}

impl OwnTopics {
    pub(crate) fn new(node: &str, client_id: &str) -> Self {
        OwnTopics {
            inbound: in_topic(node, client_id),
            outbound: out_topic(node, client_id),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PublishRoute {
    /// The client's own in-topic: goes to the application, never to the router.
    OwnIn,
    /// An ordinary topic, in router form.
    Router(Bytes),
    /// Not allowed: another client's in-topic, any out-topic, other `$` topics, wildcards, bad UTF-8.
    Denied,
}

pub(crate) fn route_publish(topic: &[u8], own: &OwnTopics) -> PublishRoute {
    let Ok(topic) = std::str::from_utf8(topic) else {
        return PublishRoute::Denied;
    };
    if topic.starts_with('$') {
        return if topic == own.inbound {
            PublishRoute::OwnIn
        } else {
            PublishRoute::Denied
        };
    }
    if topic.is_empty() || topic.contains(['+', '#', '\0']) {
        return PublishRoute::Denied;
    }
    PublishRoute::Router(plain_to_router(topic.as_bytes()))
}

/// Why a subscription filter is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A `$` filter other than the client's own out-topic.
    NotAuthorized,
    /// Not a valid MQTT filter.
    Invalid,
}

/// The router form of a client's SUBSCRIBE or UNSUBSCRIBE filter.
pub(crate) fn route_filter(filter: &str, own: &OwnTopics) -> Result<String, Refusal> {
    if let Some(rest) = filter.strip_prefix("$share/") {
        let Some((group, inner)) = rest.split_once('/') else {
            return Err(Refusal::Invalid);
        };
        if group.is_empty() || group.contains(['+', '#']) {
            return Err(Refusal::Invalid);
        }
        if inner.starts_with('$') {
            return Err(Refusal::NotAuthorized);
        }
        return plain_filter(inner).map(|f| format!("$share/{group}/{f}"));
    }
    if let Some(rest) = filter.strip_prefix('$') {
        return if filter == own.outbound {
            Ok(format!("\0{rest}"))
        } else {
            Err(Refusal::NotAuthorized)
        };
    }
    plain_filter(filter)
}

fn plain_filter(filter: &str) -> Result<String, Refusal> {
    if filter.is_empty() || filter.contains('\0') || !rumqttd::protocol::valid_filter(filter) {
        return Err(Refusal::Invalid);
    }
    Ok(format!("\x01/{filter}"))
}

fn plain_to_router(topic: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(PLAIN.len() + topic.len());
    b.put_slice(PLAIN);
    b.put_slice(topic);
    b.freeze()
}

/// Client form of a topic delivered by the router.
pub(crate) fn from_router(topic: Bytes) -> Bytes {
    if topic.starts_with(PLAIN) {
        topic.slice(PLAIN.len()..)
    } else if topic.first() == Some(&DOLLAR) {
        let mut b = BytesMut::with_capacity(topic.len());
        b.put_u8(b'$');
        b.put_slice(&topic[1..]);
        b.freeze()
    } else {
        topic
    }
}

/// Router form of a topic that the broker itself publishes (an out-topic).
pub(crate) fn internal_out_topic(prefix: &str, client_id: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + client_id.len());
    b.put_slice(prefix.as_bytes());
    b.put_slice(client_id.as_bytes());
    b.freeze()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn own() -> OwnTopics {
        OwnTopics::new("n1", "c1")
    }

    #[test]
    fn client_ids() {
        for ok in ["c1", "sensor-7", "ünïcödé", &"x".repeat(256)] {
            assert!(valid_client_id(ok), "{ok}");
        }
        let long = "x".repeat(257);
        for bad in [
            "",
            "a/b",
            "a+",
            "#",
            "a*b",
            "$x",
            "a\0",
            "a\nb",
            &long,
            "nodebus-local-1",
        ] {
            assert!(!valid_client_id(bad), "{bad:?}");
        }
        assert!(valid_client_id("nodebus-0f1e"), "assigned ids stay usable");
    }

    #[test]
    fn own_in_topic_goes_to_the_application() {
        assert_eq!(
            route_publish(b"$fabric/n1/$adapters/$mqtt/$in/c1", &own()),
            PublishRoute::OwnIn
        );
    }

    #[test]
    fn spoofed_and_dollar_publishes_are_denied() {
        for t in [
            "$fabric/n1/$adapters/$mqtt/$in/c2",
            "$fabric/n1/$adapters/$mqtt/$out/c1",
            "$fabric/n1/$adapters/$mqtt/$out/c2",
            "$fabric/n2/$adapters/$mqtt/$in/c1",
            "$SYS/broker",
            "a/+",
            "a/#",
            "",
        ] {
            assert_eq!(
                route_publish(t.as_bytes(), &own()),
                PublishRoute::Denied,
                "{t}"
            );
        }
        assert_eq!(route_publish(&[0xff, 0xfe], &own()), PublishRoute::Denied);
    }

    #[test]
    fn plain_topics_get_the_plain_level_and_come_back_unchanged() {
        let PublishRoute::Router(r) = route_publish(b"a/b", &own()) else {
            panic!()
        };
        assert_eq!(&r[..], b"\x01/a/b");
        assert_eq!(&from_router(r)[..], b"a/b");
        // A client topic that itself starts with the internal bytes stays in the plain space.
        let PublishRoute::Router(r) = route_publish(b"\x01/x", &own()) else {
            panic!()
        };
        assert_eq!(&r[..], b"\x01/\x01/x");
    }

    #[test]
    fn filters() {
        assert_eq!(route_filter("#", &own()), Ok("\x01/#".into()));
        assert_eq!(route_filter("+/b", &own()), Ok("\x01/+/b".into()));
        assert_eq!(route_filter("a/#", &own()), Ok("\x01/a/#".into()));
        assert_eq!(
            route_filter("$fabric/n1/$adapters/$mqtt/$out/c1", &own()),
            Ok("\0fabric/n1/$adapters/$mqtt/$out/c1".into())
        );
        assert_eq!(
            route_filter("$share/g/a/+", &own()),
            Ok("$share/g/\x01/a/+".into())
        );
        for denied in [
            "$fabric/n1/$adapters/$mqtt/$out/c2",
            "$fabric/n1/$adapters/$mqtt/$out/+",
            "$fabric/n1/$adapters/$mqtt/$in/c1",
            "$fabric/#",
            "$SYS/#",
            "$share/g/$fabric/n1/$adapters/$mqtt/$out/c1",
        ] {
            assert_eq!(
                route_filter(denied, &own()),
                Err(Refusal::NotAuthorized),
                "{denied}"
            );
        }
        for invalid in ["", "a/#/b", "a+", "$share/g", "$share//a", "a\0"] {
            assert_eq!(
                route_filter(invalid, &own()),
                Err(Refusal::Invalid),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn wildcard_filters_never_match_dollar_topics_in_the_router() {
        let out = internal_out_topic(&internal_out_prefix("n1"), "c1");
        let out = std::str::from_utf8(&out).unwrap();
        for f in ["#", "+/#", "+/n1/+/+/+/c1", "+"] {
            let f = route_filter(f, &own()).unwrap();
            assert!(!rumqttd::protocol::matches(out, &f), "{f:?}");
        }
        let own_out = route_filter("$fabric/n1/$adapters/$mqtt/$out/c1", &own()).unwrap();
        assert!(rumqttd::protocol::matches(out, &own_out));
        assert_eq!(
            &from_router(Bytes::copy_from_slice(out.as_bytes()))[..],
            own().outbound.as_bytes()
        );
        assert!(rumqttd::protocol::matches(
            &own_out,
            &internal_out_filter_pattern("n1")
        ));
    }
}
