//! Keeping feed wirings in step with the services that exist: when a system's services change
//! (registered, re-registered while stopped, deregistered), wirings to vanished feeds are
//! dropped and announced with `lost-subscriptions`, and feeds that appear are wired to every
//! remembered pattern that matches them and announced with `subscriptions` (spec §5, §6.3).

use std::collections::BTreeMap;

use serde_json::json;

use super::Registry;
use crate::article::Article;
use crate::feed_pattern::FeedPattern;
use crate::outcome::Delivery;
use crate::records::{Mode, Record};

impl Registry {
    /// The ids (`p/s/f`) and modes of the services of a system; empty when it does not exist.
    pub fn service_ids(&self, system_id: &str) -> Vec<(String, Mode)> {
        self.system(system_id)
            .map(|system| {
                system
                    .services
                    .iter()
                    .map(|service| (system.service_id(service), service.mode))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every registered `output-feed` service matching `pattern`, in id order, whatever the
    /// state of its system.
    pub fn output_feeds_matching(&self, pattern: &FeedPattern) -> Vec<String> {
        let prefix = pattern
            .literal_platform()
            .map(|platform| format!("{platform}/"))
            .unwrap_or_default();
        let mut feeds: Vec<String> = self
            .table(Article::System)
            .with_prefix(&prefix)
            .filter_map(|record| match record {
                Record::System(system) => Some(system),
                _ => None,
            })
            .flat_map(|system| {
                system
                    .services
                    .iter()
                    .filter(|service| service.mode == Mode::OutputFeed)
                    .map(|service| system.service_id(service))
            })
            .filter(|feed| pattern.matches(feed))
            .collect();
        feeds.sort();
        feeds
    }

    /// Reconciles wirings and patterns after the services of `system_id` went from `before` to
    /// whatever it has now, and returns the announcements for consumers' owners.
    pub(super) fn services_changed(
        &mut self,
        before: &[(String, Mode)],
        system_id: &str,
    ) -> Vec<Delivery> {
        let after = self.service_ids(system_id);
        let removed: Vec<&(String, Mode)> = before
            .iter()
            .filter(|service| !after.contains(service))
            .collect();
        let added: Vec<&String> = after
            .iter()
            .filter(|service| service.1 == Mode::OutputFeed && !before.contains(service))
            .map(|(id, _)| id)
            .collect();

        let mut lost: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, mode) in removed {
            if *mode == Mode::OutputFeed {
                let consumers: Vec<String> =
                    self.wiring.consumers(id).map(str::to_string).collect();
                for consumer in consumers {
                    self.wiring.remove(id, &consumer);
                    lost.entry(consumer).or_default().push(id.clone());
                }
            } else {
                // A consumer's feed going away takes its wirings and patterns with it.
                let producers: Vec<String> =
                    self.wiring.producers(id).map(str::to_string).collect();
                for producer in producers {
                    self.wiring.remove(&producer, id);
                }
                self.patterns.remove_all(id);
            }
        }

        let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for feed in added {
            let inputs: Vec<String> = self
                .patterns
                .inputs_matching(feed)
                .map(str::to_string)
                .collect();
            for input in inputs {
                if self.wiring.insert(feed, &input) {
                    found.entry(input).or_default().push(feed.clone());
                }
            }
        }

        for feeds in lost.values_mut().chain(found.values_mut()) {
            feeds.sort();
        }
        let mut deliveries = self.announce("lost-subscriptions", lost);
        deliveries.extend(self.announce("subscriptions", found));
        deliveries
    }

    /// One unsolicited message per input feed, for the owner of its (running) system.
    fn announce(&self, op: &str, by_input: BTreeMap<String, Vec<String>>) -> Vec<Delivery> {
        by_input
            .into_iter()
            .filter_map(|(input_feed, output_feeds)| {
                let owner = self.owner_of_service(&input_feed)?;
                Some(Delivery {
                    client_id: owner.to_string(),
                    message: json!({
                        "op": op,
                        "output-feeds": output_feeds,
                        "input-feed": input_feed,
                    }),
                })
            })
            .collect()
    }
}
