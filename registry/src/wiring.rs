//! The in-memory table of live feed wirings (output feed → input feed). Runtime-only: never
//! stored, empty after a restart. Filled by `subscribe` (spec §6.3).

use std::collections::BTreeSet;

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
    wirings: BTreeSet<Wiring>,
}

impl WiringTable {
    /// Adds a wiring; false when it was already there.
    // Called by `subscribe` (spec §6.3); until it lands only tests call it.
    #[allow(dead_code)]
    pub fn insert(&mut self, from: &str, to: &str) -> bool {
        self.wirings.insert(Wiring {
            from: from.to_string(),
            to: to.to_string(),
        })
    }

    pub fn remove(&mut self, wiring: &Wiring) -> bool {
        self.wirings.remove(wiring)
    }

    /// Wirings whose ends match the given patterns (absent = any), ordered by `from`, `to`.
    pub fn query(&self, from: Option<&Pattern>, to: Option<&Pattern>) -> Vec<&Wiring> {
        self.wirings
            .iter()
            .filter(|wiring| from.map_or(true, |pattern| pattern.matches(&wiring.from)))
            .filter(|wiring| to.map_or(true, |pattern| pattern.matches(&wiring.to)))
            .collect()
    }

    /// Wirings with either end on a service of the system `system_id` (`p/s`).
    pub fn touching_system(&self, system_id: &str) -> Vec<Wiring> {
        let prefix = format!("{system_id}/");
        self.wirings
            .iter()
            .filter(|wiring| wiring.from.starts_with(&prefix) || wiring.to.starts_with(&prefix))
            .cloned()
            .collect()
    }
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
        assert_eq!(table.query(None, None).len(), 2);
        assert_eq!(table.query(Some(&Pattern::new("p/a/*")), None).len(), 1);
        assert_eq!(table.query(None, Some(&Pattern::new("q/b/in"))).len(), 2);
        assert_eq!(table.query(None, Some(&Pattern::new("x*"))).len(), 0);
        assert_eq!(table.touching_system("p/a").len(), 1);
        assert_eq!(table.touching_system("q/b").len(), 2);
        assert_eq!(table.touching_system("p/x").len(), 0);
        let wiring = table.touching_system("p/a").remove(0);
        assert!(table.remove(&wiring));
        assert_eq!(table.query(None, None).len(), 1);
    }
}
