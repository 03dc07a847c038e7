//! Checking a register/deregister and working out what it will change: the integrity rules
//! of spec §1 and §5 as functions over a view of the records ([`Records`]), so a write can be
//! checked against the committed registry plus changes staged for the next commit. No IO, no
//! locks here.

use crate::article::Article;
use crate::builtins;
use crate::records::{shared_services, Record, Service, Services, SystemState};
use crate::status::{Kind, Operation, Status};
use crate::store::{Change, StoredRecord};

/// The records a write is checked against.
pub trait Records {
    fn get(&self, article: Article, key: &str) -> Option<&Record>;
    /// Every record of `article`.
    fn each(&self, article: Article) -> Box<dyn Iterator<Item = &Record> + '_>;
}

/// What a checked write will do: the store changes, then the memory change. The messages the
/// change causes (feeds wired or lost) are worked out when it is applied.
#[derive(Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub(super) mutation: Mutation,
}

#[derive(Debug)]
pub(super) enum Mutation {
    Put(Box<Record>),
    Remove(Article, String),
}

impl Plan {
    /// The article and key this plan changes, and the record it leaves (none: removed).
    pub fn outcome(&self) -> (Article, &str, Option<&Record>) {
        match &self.mutation {
            Mutation::Put(record) => (record.article(), record.key(), Some(record)),
            Mutation::Remove(article, key) => (*article, key, None),
        }
    }

    /// Bytes the plan's store changes carry, for sizing commit batches.
    pub fn size(&self) -> usize {
        self.changes
            .iter()
            .map(|change| match change {
                Change::Put(record) => record.article.len() + record.key.len() + record.body.len(),
                Change::Delete { article, key } => article.len() + key.len(),
            })
            .sum()
    }
}

/// Checks a `register:<article>` and works out the record that will be stored.
pub fn register(records: &impl Records, mut record: Record) -> Result<Plan, Status> {
    let article = record.article();
    let failed = |kind, msg: String| Status::new(kind, Operation::Register, article.entity(), msg);
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
        if records.get(reference.article, reference.key).is_none() {
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
                        records.get(Article::ServiceType, &spec.service_type)
                    {
                        spec.mode = Some(service_type.mode);
                    }
                }
            }
        }
        Record::System(system) => {
            let existing = match records.get(Article::System, &system.id) {
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
                _ => system.services = instantiate_services(records, &system.system_type),
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
        mutation: Mutation::Put(Box::new(record)),
    })
}

/// The services a system of `system_type` gets when it is registered now.
pub fn instantiate_services(records: &impl Records, system_type: &str) -> Services {
    let services = match records.get(Article::SystemType, system_type) {
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
    };
    shared_services(services)
}

/// Checks a `deregister:<article>`: the record must exist, not be built-in, not be running
/// and not be named by any other record.
pub fn deregister(records: &impl Records, article: Article, key: &str) -> Result<Plan, Status> {
    let failed =
        |kind, msg: String| Status::new(kind, Operation::Deregister, article.entity(), msg);
    let label = article.label();
    let Some(record) = records.get(article, key) else {
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
    if let Some(user) = first_user_of(records, article, key) {
        return Err(failed(
            Kind::InUse,
            format!(
                "{label} {key} is in use by {} {}",
                user.article().label(),
                user.key()
            ),
        ));
    }
    Ok(Plan {
        changes: vec![Change::Delete {
            article: article.name().to_string(),
            key: key.to_string(),
        }],
        mutation: Mutation::Remove(article, key.to_string()),
    })
}

/// The first record (in article, then key order) that names `article`/`key`.
fn first_user_of<'a>(records: &'a impl Records, article: Article, key: &str) -> Option<&'a Record> {
    Article::ALL
        .iter()
        .flat_map(|candidate| records.each(*candidate))
        .find(|record| {
            record
                .references()
                .iter()
                .any(|reference| reference.article == article && reference.key == key)
        })
}
