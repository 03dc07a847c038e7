//! The in-memory table of live feed wirings (output feed → input feed). Runtime-only: never
//! stored, empty after a restart. Indexed both ways: by output feed for `publish` (the hot
//! path: one lookup, no copying) and by input feed for `unsubscribe` and stopping a consumer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::wildcard::Pattern;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wiring {
    pub from: String,
    pub to: String,
}

impl Wiring {
    pub fn to_json(&self) -> Value {
        json!({"from": self.from, "to": self.to})
    }
}

#[derive(Debug, Default)]
pub struct WiringTable {
    /// Output feed → its input feeds, both in order (the order `query` reports).
    by_from: BTreeMap<String, BTreeSet<String>>,
    /// Input feed → the output feeds wired to it.
    by_to: BTreeMap<String, BTreeSet<String>>,
}

impl WiringTable {
    /// Adds a wiring; false when it was already there.
    pub fn insert(&mut self, from: &str, to: &str) -> bool {
        let added = self
            .by_from
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
        self.by_to
            .entry(to.to_string())
            .or_default()
            .insert(from.to_string());
        added
    }

    /// Removes one wiring; false when it was not there.
    pub fn remove(&mut self, from: &str, to: &str) -> bool {
        let removed = remove_pair(&mut self.by_from, from, to);
        remove_pair(&mut self.by_to, to, from);
        removed
    }

    /// The input feeds wired to the output feed `from`, in order.
    pub fn consumers(&self, from: &str) -> impl Iterator<Item = &str> {
        self.by_from
            .get(from)
            .into_iter()
            .flat_map(|tos| tos.iter().map(String::as_str))
    }

    /// The output feeds wired to the input feed `to`, in order.
    pub fn producers(&self, to: &str) -> impl Iterator<Item = &str> {
        self.by_to
            .get(to)
            .into_iter()
            .flat_map(|froms| froms.iter().map(String::as_str))
    }

    /// Wirings whose ends match the given patterns (absent = any), ordered by `from`, `to`.
    pub fn query(&self, from: Option<&Pattern>, to: Option<&Pattern>) -> Vec<Wiring> {
        let prefix = from.map_or("", Pattern::literal_prefix);
        self.by_from
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(output, _)| output.starts_with(prefix))
            .filter(|(output, _)| from.is_none_or(|pattern| pattern.matches(output)))
            .flat_map(|(output, inputs)| {
                inputs
                    .iter()
                    .filter(|input| to.is_none_or(|pattern| pattern.matches(input)))
                    .map(|input| Wiring {
                        from: output.clone(),
                        to: input.clone(),
                    })
            })
            .collect()
    }

    /// How many wirings there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_from.values().map(BTreeSet::len).sum()
    }
}

/// Removes `value` from the set under `key`, dropping the set when it empties.
fn remove_pair(map: &mut BTreeMap<String, BTreeSet<String>>, key: &str, value: &str) -> bool {
    let Some(set) = map.get_mut(key) else {
        return false;
    };
    let removed = set.remove(value);
    if set.is_empty() {
        map.remove(key);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_query_and_remove() {
        let mut table = WiringTable::default();
        assert!(table.insert("p/a/out", "q/b/in"));
        assert!(!table.insert("p/a/out", "q/b/in"));
        assert!(table.insert("p/c/out", "q/b/in"));
        assert_eq!(table.len(), 2);
        assert_eq!(table.query(None, None).len(), 2);
        assert_eq!(table.query(Some(&Pattern::new("p/a/*")), None).len(), 1);
        assert_eq!(table.query(None, Some(&Pattern::new("q/b/in"))).len(), 2);
        assert_eq!(table.query(None, Some(&Pattern::new("x*"))).len(), 0);
        assert_eq!(table.consumers("p/a/out").collect::<Vec<_>>(), ["q/b/in"]);
        assert_eq!(
            table.producers("q/b/in").collect::<Vec<_>>(),
            ["p/a/out", "p/c/out"]
        );
        assert!(table.remove("p/a/out", "q/b/in"));
        assert!(!table.remove("p/a/out", "q/b/in"));
        assert_eq!(table.query(None, None).len(), 1);
        assert_eq!(table.consumers("p/a/out").count(), 0);
        assert_eq!(table.producers("q/b/in").collect::<Vec<_>>(), ["p/c/out"]);
    }
}
