//! The in-memory registry: one keyed table per article plus the wiring table, and the
//! integrity rules that turn a register/deregister into a checked plan. No IO here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::article::Article;
use crate::builtins;
use crate::outcome::Delivery;
use crate::query::Filter;
use crate::records::{Loc, Record, Service, SystemState};
use crate::status::{Kind, Operation, Status};
use crate::store::{Change, StoredRecord};
use crate::wiring::{Wiring, WiringTable};

/// Records of one article: O(1) lookup by key, plus the keys in order for range scans.
#[derive(Debug, Default)]
pub struct Table {
    rows: HashMap<String, Record>,
    keys: BTreeSet<String>,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Record> {
        self.rows.get(key)
    }

    fn insert(&mut self, record: Record) {
        let key = record.key().to_string();
        self.keys.insert(key.clone());
        self.rows.insert(key, record);
    }

    fn remove(&mut self, key: &str) -> Option<Record> {
        self.keys.remove(key);
        self.rows.remove(key)
    }

    /// Records in key order whose key starts with `prefix`.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.keys
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |key| key.starts_with(prefix))
            .filter_map(|key| self.rows.get(key))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.with_prefix("")
    }
}

/// What a checked write will do: the store changes, then the memory change, then deliveries.
#[derive(Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    mutation: Mutation,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug)]
enum Mutation {
    Put(Record),
    Remove(Article, String),
}

#[derive(Debug)]
pub struct Registry {
    tables: Vec<Table>,
    wiring: WiringTable,
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

    // The runtime ops of spec §6 (state:system, subscribe) are the users of these two;
    // until they land only tests call them.
    #[allow(dead_code)]
    pub fn wiring_mut(&mut self) -> &mut WiringTable {
        &mut self.wiring
    }

    /// Sets a system's runtime state and owner; false when there is no such system.
    #[allow(dead_code)]
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
            Record::System(system) => match self.get(Article::Platform, &system.platform) {
                Some(Record::Platform(platform)) => platform.loc.as_ref(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Checks a `register:<article>` and works out the record that will be stored.
    pub fn plan_register(&self, mut record: Record) -> Result<Plan, Status> {
        let article = record.article();
        let failed =
            |kind, msg: String| Status::new(kind, Operation::Register, article.entity(), msg);
        if builtins::is_builtin(article, record.key()) {
            return Err(failed(
                Kind::Exists,
                format!(
                    "{} {} is built-in and cannot be replaced",
                    article.label(),
                    record.key()
                ),
            ));
        }
        for reference in record.references() {
            if self.get(reference.article, reference.key).is_none() {
                return Err(failed(
                    Kind::NotFound,
                    format!(
                        "{} {} (field {}) is not registered",
                        reference.article.label(),
                        reference.key,
                        reference.field
                    ),
                ));
            }
        }
        match &mut record {
            Record::SystemType(system_type) => {
                for spec in &mut system_type.services {
                    if spec.mode.is_none() {
                        if let Some(Record::ServiceType(service_type)) =
                            self.get(Article::ServiceType, &spec.service_type)
                        {
                            spec.mode = Some(service_type.mode);
                        }
                    }
                }
            }
            Record::System(system) => {
                let existing = match self.get(Article::System, &system.id) {
                    Some(Record::System(existing)) => Some(existing),
                    _ => None,
                };
                match existing {
                    Some(existing) if existing.state == SystemState::Running => {
                        if existing.system_type != system.system_type {
                            return Err(failed(
                                Kind::WrongState,
                                format!(
                                    "system {} is running with type {}; stop it before changing its type",
                                    system.id, existing.system_type
                                ),
                            ));
                        }
                        // Same type while running: keep the live services, state and owner.
                        system.services = existing.services.clone();
                        system.state = existing.state;
                        system.owner = existing.owner.clone();
                    }
                    _ => system.services = self.instantiate_services(&system.system_type),
                }
            }
            _ => {}
        }
        let body = record.stored_body().to_string();
        Ok(Plan {
            changes: vec![Change::Put(StoredRecord {
                article: article.name().to_string(),
                key: record.key().to_string(),
                body,
            })],
            mutation: Mutation::Put(record),
            deliveries: Vec::new(),
        })
    }

    fn instantiate_services(&self, system_type: &str) -> Vec<Service> {
        match self.get(Article::SystemType, system_type) {
            Some(Record::SystemType(system_type)) => system_type
                .services
                .iter()
                .filter_map(|spec| {
                    Some(Service {
                        name: spec.name.clone(),
                        service_type: spec.service_type.clone(),
                        mode: spec.mode?,
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Checks a `deregister:<article>`: the record must exist, not be built-in, not be running
    /// and not be named by any other record.
    pub fn plan_deregister(&self, article: Article, key: &str) -> Result<Plan, Status> {
        let failed =
            |kind, msg: String| Status::new(kind, Operation::Deregister, article.entity(), msg);
        let label = article.label();
        let Some(record) = self.get(article, key) else {
            return Err(failed(
                Kind::NotFound,
                format!("{label} {key} is not registered"),
            ));
        };
        if builtins::is_builtin(article, key) {
            return Err(failed(
                Kind::InUse,
                format!("{label} {key} is built-in and cannot be deregistered"),
            ));
        }
        if let Record::System(system) = record {
            if system.state == SystemState::Running {
                return Err(failed(
                    Kind::WrongState,
                    format!("system {key} is running; stop it first"),
                ));
            }
        }
        if let Some(user) = self.first_user_of(article, key) {
            return Err(failed(
                Kind::InUse,
                format!(
                    "{label} {key} is in use by {} {}",
                    user.article().label(),
                    user.key()
                ),
            ));
        }
        let deliveries = match record {
            Record::System(_) => self.lost_subscriptions(key),
            _ => Vec::new(),
        };
        Ok(Plan {
            changes: vec![Change::Delete {
                article: article.name().to_string(),
                key: key.to_string(),
            }],
            mutation: Mutation::Remove(article, key.to_string()),
            deliveries,
        })
    }

    /// The first record (in article, then key order) that names `article`/`key`.
    fn first_user_of(&self, article: Article, key: &str) -> Option<&Record> {
        Article::ALL
            .iter()
            .flat_map(|candidate| self.table(*candidate).iter())
            .find(|record| {
                record
                    .references()
                    .iter()
                    .any(|reference| reference.article == article && reference.key == key)
            })
    }

    /// `lost-subscriptions` messages for the owners of consumers wired to the system's feeds.
    fn lost_subscriptions(&self, system_id: &str) -> Vec<Delivery> {
        let prefix = format!("{system_id}/");
        let mut lost: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for wiring in self.wiring.query(None, None) {
            if wiring.from.starts_with(&prefix) && !wiring.to.starts_with(&prefix) {
                lost.entry(wiring.to.as_str())
                    .or_default()
                    .push(&wiring.from);
            }
        }
        lost.into_iter()
            .filter_map(|(input_feed, output_feeds)| {
                let owner = self.owner_of_service(input_feed)?;
                Some(Delivery {
                    client_id: owner.to_string(),
                    message: json!({
                        "op": "lost-subscriptions",
                        "output-feeds": output_feeds,
                        "input-feed": input_feed,
                    }),
                })
            })
            .collect()
    }

    /// The owner of the running system a service id (`p/s/f`) belongs to.
    pub fn owner_of_service(&self, service_id: &str) -> Option<&str> {
        let (system_id, _) = service_id.rsplit_once('/')?;
        match self.get(Article::System, system_id)? {
            Record::System(system) => system.owner.as_deref(),
            _ => None,
        }
    }

    /// Applies a plan whose store changes were committed.
    pub fn apply(&mut self, plan: Plan) {
        match plan.mutation {
            Mutation::Put(record) => self.insert_unchecked(record),
            Mutation::Remove(article, key) => {
                self.table_mut(article).remove(&key);
                if article == Article::System {
                    let gone: Vec<Wiring> = self.wiring.touching_system(&key);
                    for wiring in &gone {
                        self.wiring.remove(wiring);
                    }
                }
            }
        }
    }
}
