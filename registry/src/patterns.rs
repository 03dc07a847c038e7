//! Remembered subscription patterns, per input feed (spec §6.3). Runtime-only. A pattern stays
//! until it is unsubscribed or its consumer stops; output feeds that appear later are checked
//! against it.

use std::collections::BTreeMap;

use crate::feed_pattern::FeedPattern;

#[derive(Debug, Default)]
pub struct PatternTable {
    /// Input feed → its patterns, each text once, in the order first subscribed.
    by_input: BTreeMap<String, Vec<FeedPattern>>,
}

impl PatternTable {
    /// Remembers `pattern` for `input_feed` (once per text).
    pub fn add(&mut self, input_feed: &str, pattern: &FeedPattern) {
        let patterns = self.by_input.entry(input_feed.to_string()).or_default();
        if !patterns
            .iter()
            .any(|known| known.as_str() == pattern.as_str())
        {
            patterns.push(pattern.clone());
        }
    }

    /// Forgets the patterns of `input_feed` whose text equals one of `given`.
    pub fn remove_equal(&mut self, input_feed: &str, given: &[FeedPattern]) {
        if let Some(patterns) = self.by_input.get_mut(input_feed) {
            patterns.retain(|known| !given.iter().any(|g| g.as_str() == known.as_str()));
            if patterns.is_empty() {
                self.by_input.remove(input_feed);
            }
        }
    }

    /// Forgets every pattern of `input_feed`.
    pub fn remove_all(&mut self, input_feed: &str) {
        self.by_input.remove(input_feed);
    }

    /// Forgets the patterns of every input feed of the system `system_id` (`p/s`).
    pub fn remove_system(&mut self, system_id: &str) {
        let prefix = format!("{system_id}/");
        self.by_input.retain(|input, _| !input.starts_with(&prefix));
    }

    /// The input feeds with a remembered pattern matching `output_feed`, in order.
    pub fn inputs_matching<'a>(&'a self, output_feed: &'a str) -> impl Iterator<Item = &'a str> {
        self.by_input
            .iter()
            .filter(move |(_, patterns)| patterns.iter().any(|p| p.matches(output_feed)))
            .map(|(input, _)| input.as_str())
    }

    /// How many patterns `input_feed` has remembered.
    pub fn count(&self, input_feed: &str) -> usize {
        self.by_input.get(input_feed).map_or(0, Vec::len)
    }

    /// True when `input_feed` remembers a pattern with this text.
    pub fn contains(&self, input_feed: &str, pattern: &FeedPattern) -> bool {
        self.by_input.get(input_feed).is_some_and(|patterns| {
            patterns
                .iter()
                .any(|known| known.as_str() == pattern.as_str())
        })
    }

    /// The remembered pattern texts of `input_feed`.
    #[cfg(test)]
    pub fn of(&self, input_feed: &str) -> Vec<&str> {
        self.by_input
            .get(input_feed)
            .map(|patterns| patterns.iter().map(FeedPattern::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn p(text: &str) -> FeedPattern {
        FeedPattern::parse(text).unwrap()
    }

    #[test]
    fn add_match_and_remove() {
        let mut table = PatternTable::default();
        table.add("q/t/in", &p("*/*/temp"));
        table.add("q/t/in", &p("*/*/temp"));
        table.add("q/t/in", &p("a/b/c"));
        table.add("q/u/in", &p("a/*/c"));
        assert_eq!(table.of("q/t/in"), ["*/*/temp", "a/b/c"]);
        assert_eq!(
            table.inputs_matching("a/b/c").collect::<Vec<_>>(),
            ["q/t/in", "q/u/in"]
        );
        assert_eq!(
            table.inputs_matching("x/y/temp").collect::<Vec<_>>(),
            ["q/t/in"]
        );
        table.remove_equal("q/t/in", &[p("a/b/c"), p("*/*/*")]);
        assert_eq!(table.of("q/t/in"), ["*/*/temp"]);
        table.remove_system("q/u");
        assert!(table.of("q/u/in").is_empty());
        table.remove_all("q/t/in");
        assert_eq!(table.inputs_matching("x/y/temp").count(), 0);
    }
}
