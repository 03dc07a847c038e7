//! Requests awaiting a response (spec §6.5): one entry per (correl, requester service, target
//! service), with an optional deadline. Runtime-only, bounded per requesting client. Time is
//! always passed in; nothing here reads a clock.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::Value;

/// What names one pending request: its correl (as JSON text, so `"1"` and `1` differ),
/// the requester's `solicit-response` service and the target's `request-response` service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PendingKey {
    correl: String,
    pub requester: String,
    pub target: String,
}

impl PendingKey {
    pub fn new(correl: &Value, requester: &str, target: &str) -> PendingKey {
        PendingKey {
            correl: correl.to_string(),
            requester: requester.to_string(),
            target: target.to_string(),
        }
    }
}

/// A pending request: who to tell about its response or its timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The request's correl, echoed in the response and in a timeout status.
    pub correl: Value,
    /// The client that owned the requester's system when it asked.
    pub client: String,
    deadline: Option<(Instant, u64)>,
}

#[derive(Debug, Default)]
pub struct PendingTable {
    entries: HashMap<PendingKey, Pending>,
    /// Deadline (with an insertion number to keep equal deadlines apart and ordered) → entry.
    deadlines: BTreeMap<(Instant, u64), PendingKey>,
    per_client: HashMap<String, usize>,
    next_seq: u64,
}

impl PendingTable {
    /// How many requests `client` has pending.
    pub fn count(&self, client: &str) -> usize {
        self.per_client.get(client).copied().unwrap_or(0)
    }

    /// Records a pending request; an entry with the same key is replaced.
    pub fn insert(
        &mut self,
        key: PendingKey,
        correl: Value,
        client: &str,
        deadline: Option<Instant>,
    ) {
        self.take(&key);
        let deadline = deadline.map(|at| {
            self.next_seq += 1;
            (at, self.next_seq)
        });
        if let Some(slot) = deadline {
            self.deadlines.insert(slot, key.clone());
        }
        *self.per_client.entry(client.to_string()).or_default() += 1;
        self.entries.insert(
            key,
            Pending {
                correl,
                client: client.to_string(),
                deadline,
            },
        );
    }

    /// Removes and returns the entry, if it is pending.
    pub fn take(&mut self, key: &PendingKey) -> Option<Pending> {
        let pending = self.entries.remove(key)?;
        if let Some(slot) = pending.deadline {
            self.deadlines.remove(&slot);
        }
        if let Some(count) = self.per_client.get_mut(&pending.client) {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&pending.client);
            }
        }
        Some(pending)
    }

    /// Removes and returns every entry whose deadline is at or before `now`, earliest first.
    pub fn expire(&mut self, now: Instant) -> Vec<(PendingKey, Pending)> {
        let mut expired = Vec::new();
        while let Some((&(at, seq), _)) = self.deadlines.first_key_value() {
            if at > now {
                break;
            }
            let Some(key) = self.deadlines.remove(&(at, seq)) else {
                break;
            };
            if let Some(pending) = self.take(&key) {
                expired.push((key, pending));
            }
        }
        expired
    }

    /// The earliest deadline, if any request has one.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.keys().next().map(|(at, _)| *at)
    }

    /// Drops every request made by a service of the system `system_id` (`p/s`).
    pub fn drop_requester_system(&mut self, system_id: &str) {
        let prefix = format!("{system_id}/");
        let gone: Vec<PendingKey> = self
            .entries
            .keys()
            .filter(|key| key.requester.starts_with(&prefix))
            .cloned()
            .collect();
        for key in gone {
            self.take(&key);
        }
    }

    /// How many requests are pending in all.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn deadlines_counts_and_removal() {
        let t0 = Instant::now();
        let mut table = PendingTable::default();
        let a = PendingKey::new(&json!("c1"), "p/s/r", "q/t/x");
        let b = PendingKey::new(&json!("c1"), "p/s/r", "q/u/x");
        let c = PendingKey::new(&json!(1), "p/s/r", "q/t/x");
        let d = PendingKey::new(&json!("1"), "p/s/r", "q/t/x");
        table.insert(
            a.clone(),
            json!("c1"),
            "alice",
            Some(t0 + Duration::from_millis(20)),
        );
        table.insert(
            b.clone(),
            json!("c1"),
            "alice",
            Some(t0 + Duration::from_millis(10)),
        );
        table.insert(c.clone(), json!(1), "alice", None);
        table.insert(d.clone(), json!("1"), "bob", None);
        assert_eq!(table.len(), 4);
        assert_eq!(table.count("alice"), 3);
        assert_eq!(table.count("bob"), 1);
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert!(table.expire(t0 + Duration::from_millis(9)).is_empty());
        let expired = table.expire(t0 + Duration::from_millis(30));
        assert_eq!(
            expired
                .iter()
                .map(|(key, _)| key.clone())
                .collect::<Vec<_>>(),
            [b, a.clone()]
        );
        assert_eq!(table.next_deadline(), None);
        assert_eq!(table.take(&a), None);
        assert_eq!(table.take(&c).unwrap().correl, json!(1));
        assert_eq!(table.count("alice"), 0);
        // Replacing keeps one entry and one count.
        table.insert(d.clone(), json!("1"), "bob", Some(t0));
        assert_eq!(table.count("bob"), 1);
        assert_eq!(table.next_deadline(), Some(t0));
        table.drop_requester_system("p/s");
        assert_eq!(table.len(), 0);
        assert_eq!(table.count("bob"), 0);
        assert_eq!(table.next_deadline(), None);
    }
}
