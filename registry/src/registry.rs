//! The in-memory registry: one keyed table per article plus the runtime feed tables (wirings,
//! remembered patterns), and the integrity rules that turn a register/deregister into a checked
//! plan. No IO here.

mod feeds;
pub mod plan;

use plan::Mutation;
pub use plan::{Plan, Records};

use std::collections::BTreeMap;

use serde_json::Value;

use crate::article::Article;
use crate::builtins;
use crate::outcome::Delivery;
use crate::patterns::PatternTable;
use crate::query::Filter;
use crate::records::{Loc, Record, System, SystemState};

use crate::wiring::WiringTable;

/// Records of one article, ordered by key: a lookup is a short descent (about 20 key comparisons
/// at a million records), and a key prefix is a range scan. One map, so each key is held once:
/// at a million systems the keys would otherwise be a tenth of the registry's memory.
#[derive(Debug, Default)]
pub struct Table {
    rows: BTreeMap<String, Record>,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Record> {
        self.rows.get(key)
    }

    fn insert(&mut self, record: Record) {
        self.rows.insert(record.key().to_string(), record);
    }

    fn remove(&mut self, key: &str) -> Option<Record> {
        self.rows.remove(key)
    }

    /// Records in key order whose key starts with `prefix`.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.rows
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(key, _)| key.starts_with(prefix))
            .map(|(_, record)| record)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.rows.values()
    }

    /// Adds many records at once; into an empty table, the map is built packed in one pass.
    fn extend(&mut self, records: Vec<Record>) {
        let entries = records
            .into_iter()
            .map(|record| (record.key().to_string(), record));
        if self.rows.is_empty() {
            self.rows = entries.collect();
        } else {
            self.rows.extend(entries);
        }
    }
}

#[derive(Debug)]
pub struct Registry {
    tables: Vec<Table>,
    wiring: WiringTable,
    patterns: PatternTable,
}

impl Records for Registry {
    fn get(&self, article: Article, key: &str) -> Option<&Record> {
        self.table(article).get(key)
    }

    fn each(&self, article: Article) -> Box<dyn Iterator<Item = &Record> + '_> {
        Box::new(self.table(article).iter())
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_builtins()
    }
}

impl Registry {
    /// A registry holding exactly the built-in records.
    pub fn with_builtins() -> Registry {
        let mut registry = Registry {
            tables: Article::ALL.iter().map(|_| Table::default()).collect(),
            wiring: WiringTable::default(),
            patterns: PatternTable::default(),
        };
        for record in builtins::records() {
            registry.insert_unchecked(record);
        }
        registry
    }

    pub fn table(&self, article: Article) -> &Table {
        // `tables` has one entry per article by construction.
        &self.tables[article.index()]
    }

    fn table_mut(&mut self, article: Article) -> &mut Table {
        &mut self.tables[article.index()]
    }

    pub fn get(&self, article: Article, key: &str) -> Option<&Record> {
        self.table(article).get(key)
    }

    pub fn wiring(&self) -> &WiringTable {
        &self.wiring
    }

    pub fn wiring_mut(&mut self) -> &mut WiringTable {
        &mut self.wiring
    }

    pub fn patterns(&self) -> &PatternTable {
        &self.patterns
    }

    pub fn patterns_mut(&mut self) -> &mut PatternTable {
        &mut self.patterns
    }

    pub fn system(&self, system_id: &str) -> Option<&System> {
        match self.get(Article::System, system_id)? {
            Record::System(system) => Some(system),
            _ => None,
        }
    }

    /// Every system, in id order.
    pub fn systems(&self) -> impl Iterator<Item = &System> {
        self.table(Article::System)
            .iter()
            .filter_map(|record| match record {
                Record::System(system) => Some(system),
                _ => None,
            })
    }

    /// Sets a system's runtime state and owner; false when there is no such system.
    pub fn set_system_state(
        &mut self,
        system_id: &str,
        state: SystemState,
        owner: Option<String>,
    ) -> bool {
        match self.table_mut(Article::System).rows.get_mut(system_id) {
            Some(Record::System(system)) => {
                system.state = state;
                system.owner = owner;
                true
            }
            _ => false,
        }
    }

    /// Adds a record loaded from the store; integrity was checked when it was written.
    /// Adds records read from the store (already checked), article by article.
    pub fn load(&mut self, records: Vec<Record>) {
        let mut by_table: Vec<Vec<Record>> = (0..self.tables.len()).map(|_| Vec::new()).collect();
        for record in records {
            by_table[record.article().index()].push(record);
        }
        for (table, records) in self.tables.iter_mut().zip(by_table) {
            table.extend(records);
        }
    }

    pub fn insert_unchecked(&mut self, record: Record) {
        let article = record.article();
        self.table_mut(article).insert(record);
    }

    /// The query results of `query:<plural>`, in key order.
    /// An exact key is one lookup; a key pattern scans only the keys with its literal prefix.
    pub fn query(&self, article: Article, filter: &Filter) -> Vec<Value> {
        let table = self.table(article);
        let key_pattern = filter.key_pattern(article);
        let candidates: Box<dyn Iterator<Item = &Record>> =
            match key_pattern.and_then(|pattern| pattern.as_literal()) {
                Some(key) => Box::new(table.get(key).into_iter()),
                None => Box::new(
                    table.with_prefix(key_pattern.map_or("", |pattern| pattern.literal_prefix())),
                ),
            };
        candidates
            .filter(|record| filter.matches(record, self.location_of(record)))
            .map(Record::to_json)
            .collect()
    }

    /// A record's location: its own for a platform, its platform's for a system.
    fn location_of<'a>(&'a self, record: &'a Record) -> Option<&'a Loc> {
        match record {
            Record::Platform(platform) => platform.loc.as_ref(),
            Record::System(system) => match self.get(Article::Platform, system.platform()) {
                Some(Record::Platform(platform)) => platform.loc.as_ref(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The services a system of `system_type` gets when it is registered now.
    pub fn instantiate_services(&self, system_type: &str) -> crate::records::Services {
        plan::instantiate_services(self, system_type)
    }

    /// The owner of the running system a service id (`p/s/f`) belongs to.
    pub fn owner_of_service(&self, service_id: &str) -> Option<&str> {
        let (system_id, _) = service_id.rsplit_once('/')?;
        match self.get(Article::System, system_id)? {
            Record::System(system) => system.owner.as_deref(),
            _ => None,
        }
    }

    /// Applies a plan whose store changes were committed, and returns the messages it causes:
    /// `subscriptions` for consumers whose remembered patterns match a feed that appeared,
    /// `lost-subscriptions` for consumers wired to a feed that disappeared.
    pub fn apply(&mut self, plan: Plan) -> Vec<Delivery> {
        match plan.mutation {
            Mutation::Put(record) => {
                let system_id = match record.as_ref() {
                    Record::System(system) => Some(system.id.clone()),
                    _ => None,
                };
                let before = system_id
                    .as_deref()
                    .map(|id| self.service_ids(id))
                    .unwrap_or_default();
                self.insert_unchecked(*record);
                match system_id {
                    Some(id) => self.services_changed(&before, &id),
                    None => Vec::new(),
                }
            }
            Mutation::Remove(article, key) => {
                let before = match article {
                    Article::System => self.service_ids(&key),
                    _ => Vec::new(),
                };
                self.table_mut(article).remove(&key);
                if article == Article::System {
                    self.services_changed(&before, &key)
                } else {
                    Vec::new()
                }
            }
        }
    }
}
