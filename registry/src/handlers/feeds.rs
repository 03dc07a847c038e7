//! `publish`, `subscribe` and `unsubscribe` (spec §6.2, §6.3). Publishing reads only: one
//! wiring lookup by output feed and one message per wired input feed, for its owner.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::acting_for;
use crate::feed_pattern::FeedPattern;
use crate::op::Payload;
use crate::outcome::{Encoded, Outcome};
use crate::records::Mode;
use crate::registry::Registry;
use crate::status::{Entity, Kind, Operation, Status};

/// `publish`: a `feed-message` for the owner of every input feed wired to the output feed.
pub fn publish(
    registry: &Registry,
    client: &str,
    correl: &Value,
    output_feed: &str,
    payload: &Payload,
) -> Outcome {
    if let Err(status) = acting_for(
        registry,
        client,
        output_feed,
        Mode::OutputFeed,
        Operation::Publish,
    ) {
        return Outcome::status_only(correl, status);
    }
    let recipients = registry
        .wiring()
        .consumers(output_feed)
        .filter_map(|input_feed| {
            // A consumer that is not running has no owner; stopping cancels its wirings, so
            // this only skips what should not exist.
            let owner = registry.owner_of_service(input_feed)?;
            Some((input_feed, owner))
        });
    match feed_messages(output_feed, payload, recipients) {
        Ok(encoded) => Outcome::with_encoded(
            correl,
            Vec::new(),
            encoded,
            Status::ok(Operation::Publish, Entity::System),
        ),
        Err(error) => Outcome::status_only(
            correl,
            Status::new(
                Kind::Internal,
                Operation::Publish,
                Entity::System,
                format!("message could not be encoded: {error}"),
            ),
        ),
    }
}

/// One `feed-message` per `(input feed, owner)`:
/// `{"op":"feed-message","output-feed":…,"input-feed":…,"msg":…,"encoding":…}`, the members
/// in that order. `msg` and everything but the input feed are serialised once and copied into
/// each message; strings are escaped by serde_json.
fn feed_messages<'a>(
    output_feed: &str,
    payload: &Payload,
    recipients: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Encoded>, serde_json::Error> {
    let mut head = br#"{"op":"feed-message","output-feed":"#.to_vec();
    serde_json::to_writer(&mut head, output_feed)?;
    head.extend_from_slice(br#","input-feed":"#);
    let mut tail = br#","msg":"#.to_vec();
    serde_json::to_writer(&mut tail, &payload.msg)?;
    tail.extend_from_slice(br#","encoding":"#);
    serde_json::to_writer(&mut tail, &payload.encoding)?;
    tail.push(b'}');
    let mut encoded = Vec::new();
    for (input_feed, owner) in recipients {
        let mut message = Vec::with_capacity(head.len() + input_feed.len() + 2 + tail.len());
        message.extend_from_slice(&head);
        serde_json::to_writer(&mut message, input_feed)?;
        message.extend_from_slice(&tail);
        encoded.push(Encoded {
            client_id: owner.to_string(),
            payload: message,
        });
    }
    Ok(encoded)
}

/// `subscribe`: wires every registered output feed the patterns match, remembers the patterns
/// for feeds that appear later, and answers with the feeds these patterns now wire. Refused
/// with `5070A`, changing nothing, when the client's systems would hold more than `limit`
/// wirings plus remembered patterns.
pub fn subscribe(
    registry: &mut Registry,
    client: &str,
    correl: &Value,
    input_feed: &str,
    patterns: &[FeedPattern],
    limit: usize,
) -> Outcome {
    if let Err(status) = acting_for(
        registry,
        client,
        input_feed,
        Mode::InputFeed,
        Operation::Subscribe,
    ) {
        return Outcome::status_only(correl, status);
    }
    let mut wired: BTreeSet<String> = BTreeSet::new();
    for pattern in patterns {
        wired.extend(registry.output_feeds_matching(pattern));
    }
    let held = subscriptions_held(registry, client);
    let wired_now: BTreeSet<&str> = registry.wiring().producers(input_feed).collect();
    let new_wirings = wired
        .iter()
        .filter(|feed| !wired_now.contains(feed.as_str()))
        .count();
    let new_patterns = patterns
        .iter()
        .enumerate()
        .filter(|(index, pattern)| {
            !registry.patterns().contains(input_feed, pattern)
                && !patterns[..*index]
                    .iter()
                    .any(|earlier| earlier.as_str() == pattern.as_str())
        })
        .count();
    let total = held + new_wirings + new_patterns;
    if total > limit {
        return Outcome::status_only(
            correl,
            Status::new(
                Kind::TooMany,
                Operation::Subscribe,
                Entity::System,
                format!(
                    "too many subscriptions: client {client} would hold {total} wirings and patterns, at most {limit} are allowed"
                ),
            ),
        );
    }
    for output_feed in &wired {
        registry.wiring_mut().insert(output_feed, input_feed);
    }
    for pattern in patterns {
        registry.patterns_mut().add(input_feed, pattern);
    }
    Outcome::new(
        correl,
        vec![json!({
            "op": "subscriptions",
            "correl": correl,
            "output-feeds": wired,
            "input-feed": input_feed,
        })],
        Vec::new(),
        Status::ok(Operation::Subscribe, Entity::System),
    )
}

/// Wirings into, and patterns remembered by, the input feeds of the systems `client` runs.
fn subscriptions_held(registry: &Registry, client: &str) -> usize {
    registry
        .systems()
        .filter(|system| system.owner.as_deref() == Some(client))
        .flat_map(|system| {
            system
                .services
                .iter()
                .filter(|service| service.mode == Mode::InputFeed)
                .map(move |service| system.service_id(service))
        })
        .map(|input| {
            registry.wiring().producers(&input).count() + registry.patterns().count(&input)
        })
        .sum()
}

/// `unsubscribe`: drops the input feed's wirings whose output feed matches a given pattern and
/// the remembered patterns equal to a given one; everything when no patterns are given.
pub fn unsubscribe(
    registry: &mut Registry,
    client: &str,
    correl: &Value,
    input_feed: &str,
    patterns: Option<&[FeedPattern]>,
) -> Outcome {
    if let Err(status) = acting_for(
        registry,
        client,
        input_feed,
        Mode::InputFeed,
        Operation::Unsubscribe,
    ) {
        return Outcome::status_only(correl, status);
    }
    let dropped: Vec<String> = registry
        .wiring()
        .producers(input_feed)
        .filter(|output_feed| {
            patterns.is_none_or(|patterns| patterns.iter().any(|p| p.matches(output_feed)))
        })
        .map(str::to_string)
        .collect();
    for output_feed in dropped {
        registry.wiring_mut().remove(&output_feed, input_feed);
    }
    match patterns {
        Some(patterns) => registry.patterns_mut().remove_equal(input_feed, patterns),
        None => registry.patterns_mut().remove_all(input_feed),
    }
    Outcome::status_only(correl, Status::ok(Operation::Unsubscribe, Entity::System))
}
