//! `publish`, `subscribe` and `unsubscribe` (spec §6.2, §6.3). Publishing reads only: one
//! wiring lookup by output feed and one message per wired input feed, for its owner.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::acting_for;
use crate::feed_pattern::FeedPattern;
use crate::op::Payload;
use crate::outcome::{Delivery, Outcome};
use crate::records::Mode;
use crate::registry::Registry;
use crate::status::{Entity, Operation, Status};

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
    let deliveries: Vec<Delivery> = registry
        .wiring()
        .consumers(output_feed)
        .filter_map(|input_feed| {
            // A consumer that is not running has no owner; stopping cancels its wirings, so
            // this only skips what should not exist.
            let owner = registry.owner_of_service(input_feed)?;
            Some(Delivery {
                client_id: owner.to_string(),
                message: json!({
                    "op": "feed-message",
                    "output-feed": output_feed,
                    "input-feed": input_feed,
                    "msg": payload.msg,
                    "encoding": payload.encoding,
                }),
            })
        })
        .collect();
    Outcome::new(
        correl,
        Vec::new(),
        deliveries,
        Status::ok(Operation::Publish, Entity::System),
    )
}

/// `subscribe`: wires every registered output feed the patterns match, remembers the patterns
/// for feeds that appear later, and answers with the feeds these patterns now wire.
pub fn subscribe(
    registry: &mut Registry,
    client: &str,
    correl: &Value,
    input_feed: &str,
    patterns: &[FeedPattern],
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
            patterns.map_or(true, |patterns| {
                patterns.iter().any(|p| p.matches(output_feed))
            })
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
