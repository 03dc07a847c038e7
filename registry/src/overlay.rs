//! Changes staged for a commit that has not finished: per article and key, the record the
//! newest staged write leaves (or none, for a removal). Writes are checked against the
//! committed registry seen through this overlay ([`Staged`]), so a write may depend on an
//! earlier write of the same batch. Queries never look here.

use std::collections::BTreeMap;

use crate::article::Article;
use crate::records::Record;
use crate::registry::{Plan, Records, Registry};

#[derive(Debug)]
struct Slot {
    /// What the newest staged write of this key leaves.
    record: Option<Record>,
    /// Staged writes of this key not yet committed or discarded.
    writes: usize,
}

#[derive(Debug)]
pub struct Overlay {
    /// One map per article, indexed like `Article::ALL`.
    slots: Vec<BTreeMap<String, Slot>>,
    /// Staged writes of systems (their checks depend on running state).
    systems: usize,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay {
            slots: Article::ALL.iter().map(|_| BTreeMap::new()).collect(),
            systems: 0,
        }
    }
}

impl Overlay {
    /// Records what `plan` will leave, over anything staged before it.
    pub fn stage(&mut self, plan: &Plan) {
        let (article, key, record) = plan.outcome();
        if article == Article::System {
            self.systems += 1;
        }
        let slot = self.slots[article.index()]
            .entry(key.to_string())
            .or_insert(Slot {
                record: None,
                writes: 0,
            });
        slot.record = record.cloned();
        slot.writes += 1;
    }

    /// Forgets `plan` once it is in committed memory; a newer staged write of the key stays.
    pub fn unstage(&mut self, plan: &Plan) {
        let (article, key, _) = plan.outcome();
        if article == Article::System {
            self.systems = self.systems.saturating_sub(1);
        }
        let slots = &mut self.slots[article.index()];
        if let Some(slot) = slots.get_mut(key) {
            slot.writes = slot.writes.saturating_sub(1);
            if slot.writes == 0 {
                slots.remove(key);
            }
        }
    }

    /// Forgets everything staged (after a failed commit).
    pub fn clear(&mut self) {
        *self = Overlay::default();
    }

    /// Staged writes of systems.
    pub fn systems(&self) -> usize {
        self.systems
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(BTreeMap::is_empty)
    }

    fn slot(&self, article: Article, key: &str) -> Option<&Slot> {
        self.slots[article.index()].get(key)
    }
}

/// The committed registry with the staged changes on top.
pub struct Staged<'a> {
    pub committed: &'a Registry,
    pub overlay: &'a Overlay,
}

impl Records for Staged<'_> {
    fn get(&self, article: Article, key: &str) -> Option<&Record> {
        match self.overlay.slot(article, key) {
            Some(slot) => slot.record.as_ref(),
            None => self.committed.get(article, key),
        }
    }

    fn each(&self, article: Article) -> Box<dyn Iterator<Item = &Record> + '_> {
        let staged = &self.overlay.slots[article.index()];
        let committed = self
            .committed
            .table(article)
            .iter()
            .filter(move |record| !staged.contains_key(record.key()));
        Box::new(committed.chain(staged.values().filter_map(|slot| slot.record.as_ref())))
    }
}
