//! A store that keeps records in memory, for tests and ephemeral brokers. Clones share the same
//! contents, so a test can "restart" an engine on the same data.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Change, Store, StoreError, StoredRecord};

#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: Arc<Mutex<BTreeMap<(String, String), String>>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Number of stored records.
    pub fn len(&self) -> usize {
        self.records.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.lock().is_empty()
    }
}

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        Ok(self
            .records
            .lock()
            .iter()
            .map(|((article, key), body)| StoredRecord {
                article: article.clone(),
                key: key.clone(),
                body: body.clone(),
            })
            .collect())
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let mut records = self.records.lock();
        for change in changes {
            match change {
                Change::Put(record) => {
                    records.insert(
                        (record.article.clone(), record.key.clone()),
                        record.body.clone(),
                    );
                }
                Change::Delete { article, key } => {
                    records.remove(&(article.clone(), key.clone()));
                }
            }
        }
        Ok(())
    }
}
