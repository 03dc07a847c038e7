//! Record types of the ten articles, their JSON forms (query result and stored body) and the
//! names they reference. Validation of single records only; cross-record rules live in `registry`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use serde_json::{json, Map, Number, Value};

use crate::article::Article;

/// Service modes (spec §1), in source → destination pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    OutputFeed,
    InputFeed,
    Notification,
    Listener,
    SolicitResponse,
    RequestResponse,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::OutputFeed,
        Mode::InputFeed,
        Mode::Notification,
        Mode::Listener,
        Mode::SolicitResponse,
        Mode::RequestResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::OutputFeed => "output-feed",
            Mode::InputFeed => "input-feed",
            Mode::Notification => "notification",
            Mode::Listener => "listener",
            Mode::SolicitResponse => "solicit-response",
            Mode::RequestResponse => "request-response",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// Optional descriptive members shared by every article.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    pub desc: Option<String>,
    pub attr: Option<Map<String, Value>>,
}

impl Meta {
    fn write(&self, object: &mut Map<String, Value>) {
        if let Some(desc) = &self.desc {
            object.insert("desc".into(), Value::String(desc.clone()));
        }
        if let Some(attr) = &self.attr {
            object.insert("attr".into(), Value::Object(attr.clone()));
        }
    }
}

/// A location; numbers are kept as given so they are reported exactly as registered.
#[derive(Debug, Clone, PartialEq)]
pub struct Loc {
    pub lat: Number,
    pub long: Number,
    pub alt: Option<Number>,
}

impl Loc {
    pub fn lat(&self) -> f64 {
        self.lat.as_f64().unwrap_or(f64::NAN)
    }

    pub fn long(&self) -> f64 {
        self.long.as_f64().unwrap_or(f64::NAN)
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("lat".into(), Value::Number(self.lat.clone()));
        object.insert("long".into(), Value::Number(self.long.clone()));
        if let Some(alt) = &self.alt {
            object.insert("alt".into(), Value::Number(alt.clone()));
        }
        Value::Object(object)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub node_type: Option<String>,
    pub interfaces: Vec<Interface>,
    pub meta: Meta,
}

/// The plain `*-type` articles that carry nothing but a name (node, platform and user types).
#[derive(Debug, Clone, PartialEq)]
pub struct TypeRecord {
    pub name: String,
    pub meta: Meta,
}

/// A bearer; availability is kept as a bool and reported as the string `"true"`/`"false"`,
/// the form Fabric clients expect, whichever form it was registered with.
#[derive(Debug, Clone, PartialEq)]
pub struct Bearer {
    pub id: String,
    pub available: bool,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub id: String,
    pub platform_type: String,
    pub loc: Option<Loc>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceType {
    pub name: String,
    pub mode: Mode,
    pub schema: Option<Value>,
    pub meta: Meta,
}

/// One service a system type offers. `mode` is `None` only between decoding a request and
/// resolving it to the service type's mode; stored and in-memory records always have it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub service_type: String,
    pub mode: Option<Mode>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SystemType {
    pub name: String,
    pub services: Vec<ServiceSpec>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemState {
    Stopped,
    Running,
}

impl SystemState {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemState::Stopped => "stopped",
            SystemState::Running => "running",
        }
    }
}

/// One endpoint of a system, instantiated from its system type at registration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub name: String,
    pub service_type: String,
    pub mode: Mode,
}

/// The services of a system. Every system built from the same list shares one copy: a registry
/// of a million systems holds only a handful of distinct lists, and the services would otherwise
/// be most of a system's memory.
pub type Services = Arc<[Service]>;

/// The shared copy of `services`: the one a live system already holds, or a new one. Lists no
/// system holds any more are forgotten, so re-registering types with ever new lists leaks nothing.
pub fn shared_services(services: Vec<Service>) -> Services {
    static SEEN: OnceLock<Mutex<SharedLists>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock();
    seen.share(services)
}

/// Weak references to the service lists in use, by a hash of their content.
#[derive(Default)]
struct SharedLists {
    by_hash: HashMap<u64, Vec<Weak<[Service]>>>,
    added_since_sweep: usize,
    /// Lists known after the last sweep (at least a small floor).
    kept_at_sweep: usize,
}

impl SharedLists {
    fn share(&mut self, services: Vec<Service>) -> Services {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        services.hash(&mut hasher);
        let hash = hasher.finish();
        let bucket = self.by_hash.entry(hash).or_default();
        if let Some(existing) = bucket
            .iter()
            .filter_map(Weak::upgrade)
            .find(|existing| **existing == *services)
        {
            return existing;
        }
        let shared: Services = services.into();
        bucket.retain(|weak| weak.strong_count() > 0);
        bucket.push(Arc::downgrade(&shared));
        self.added_since_sweep += 1;
        // Sweep once as many lists were added as were kept by the last sweep: amortised
        // constant work per list, and the map stays within twice the live lists.
        if self.added_since_sweep >= self.kept_at_sweep.max(16) {
            self.by_hash.retain(|_, bucket| {
                bucket.retain(|weak| weak.strong_count() > 0);
                !bucket.is_empty()
            });
            self.added_since_sweep = 0;
            self.kept_at_sweep = self.by_hash.values().map(Vec::len).sum();
        }
        shared
    }

    #[cfg(test)]
    fn known(&self) -> usize {
        self.by_hash.values().map(Vec::len).sum()
    }
}

/// A system. `state` and `owner` are runtime-only: never stored, `stopped`/none after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// The full id `platform/system`; the platform is its first segment.
    pub id: String,
    pub system_type: String,
    pub user: Option<String>,
    pub meta: Meta,
    pub services: Services,
    pub state: SystemState,
    pub owner: Option<String>,
}

impl System {
    /// The platform the system runs on: the first segment of its id.
    pub fn platform(&self) -> &str {
        self.id
            .split_once('/')
            .map_or(self.id.as_str(), |(platform, _)| platform)
    }

    pub fn service_id(&self, service: &Service) -> String {
        format!("{}/{}", self.id, service.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub user_type: String,
    pub affil: Option<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Node(Node),
    NodeType(TypeRecord),
    Bearer(Bearer),
    PlatformType(TypeRecord),
    Platform(Platform),
    ServiceType(ServiceType),
    SystemType(SystemType),
    System(System),
    UserType(TypeRecord),
    User(User),
}

/// A name one record gives to another, checked for integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    pub article: Article,
    pub key: &'a str,
    pub field: &'static str,
}

impl Record {
    pub fn article(&self) -> Article {
        match self {
            Record::Node(_) => Article::Node,
            Record::NodeType(_) => Article::NodeType,
            Record::Bearer(_) => Article::Bearer,
            Record::PlatformType(_) => Article::PlatformType,
            Record::Platform(_) => Article::Platform,
            Record::ServiceType(_) => Article::ServiceType,
            Record::SystemType(_) => Article::SystemType,
            Record::System(_) => Article::System,
            Record::UserType(_) => Article::UserType,
            Record::User(_) => Article::User,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Record::Node(node) => &node.id,
            Record::NodeType(record) | Record::PlatformType(record) | Record::UserType(record) => {
                &record.name
            }
            Record::Bearer(bearer) => &bearer.id,
            Record::Platform(platform) => &platform.id,
            Record::ServiceType(service_type) => &service_type.name,
            Record::SystemType(system_type) => &system_type.name,
            Record::System(system) => &system.id,
            Record::User(user) => &user.id,
        }
    }

    pub fn meta(&self) -> &Meta {
        match self {
            Record::Node(node) => &node.meta,
            Record::NodeType(record) | Record::PlatformType(record) | Record::UserType(record) => {
                &record.meta
            }
            Record::Bearer(bearer) => &bearer.meta,
            Record::Platform(platform) => &platform.meta,
            Record::ServiceType(service_type) => &service_type.meta,
            Record::SystemType(system_type) => &system_type.meta,
            Record::System(system) => &system.meta,
            Record::User(user) => &user.meta,
        }
    }

    /// Every record this one names; each must exist while this one does.
    pub fn references(&self) -> Vec<Reference<'_>> {
        let reference = |article, key, field| Reference {
            article,
            key,
            field,
        };
        match self {
            Record::Node(node) => node
                .node_type
                .as_deref()
                .map(|key| reference(Article::NodeType, key, "type"))
                .into_iter()
                .collect(),
            Record::Platform(platform) => vec![reference(
                Article::PlatformType,
                &platform.platform_type,
                "type",
            )],
            Record::SystemType(system_type) => system_type
                .services
                .iter()
                .map(|spec| reference(Article::ServiceType, &spec.service_type, "services"))
                .collect(),
            Record::System(system) => {
                let mut references = vec![
                    reference(Article::Platform, system.platform(), "id"),
                    reference(Article::SystemType, &system.system_type, "type"),
                ];
                if let Some(user) = &system.user {
                    references.push(reference(Article::User, user, "user"));
                }
                // A system's services keep their types alive even if the system type changes.
                references.extend(system.services.iter().map(|service| {
                    reference(Article::ServiceType, &service.service_type, "services")
                }));
                references
            }
            Record::User(user) => vec![reference(Article::UserType, &user.user_type, "type")],
            Record::NodeType(_)
            | Record::Bearer(_)
            | Record::PlatformType(_)
            | Record::ServiceType(_)
            | Record::UserType(_) => Vec::new(),
        }
    }

    /// The string values a query filter named `field` is matched against (any may match).
    pub fn string_values(&self, field: &str) -> Vec<&str> {
        fn one(value: &str) -> Vec<&str> {
            vec![value]
        }
        if field == "desc" {
            return self.meta().desc.as_deref().into_iter().collect();
        }
        match (self, field) {
            (Record::Node(node), "id") => one(&node.id),
            (Record::Node(node), "type") => node.node_type.as_deref().into_iter().collect(),
            (Record::Node(node), "node-interface") => {
                node.interfaces.iter().map(|i| i.name.as_str()).collect()
            }
            (Record::Node(node), "address") => {
                node.interfaces.iter().map(|i| i.address.as_str()).collect()
            }
            (
                Record::NodeType(record) | Record::PlatformType(record) | Record::UserType(record),
                "type",
            ) => one(&record.name),
            (Record::Bearer(bearer), "id") => one(&bearer.id),
            (Record::Bearer(bearer), "available") => one(bool_text(bearer.available)),
            (Record::Platform(platform), "id") => one(&platform.id),
            (Record::Platform(platform), "type") => one(&platform.platform_type),
            (Record::ServiceType(service_type), "type") => one(&service_type.name),
            (Record::ServiceType(service_type), "mode") => one(service_type.mode.as_str()),
            (Record::SystemType(system_type), "type") => one(&system_type.name),
            (Record::System(system), "id") => one(&system.id),
            (Record::System(system), "platform") => one(system.platform()),
            (Record::System(system), "type") => one(&system.system_type),
            (Record::System(system), "user") => system.user.as_deref().into_iter().collect(),
            (Record::System(system), "state") => one(system.state.as_str()),
            (Record::User(user), "id") => one(&user.id),
            (Record::User(user), "type") => one(&user.user_type),
            (Record::User(user), "affil") => user.affil.as_deref().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The record as reported by `query:<plural>`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        match self {
            Record::Node(node) => {
                object.insert("id".into(), json!(node.id));
                if let Some(node_type) = &node.node_type {
                    object.insert("type".into(), json!(node_type));
                }
                let interfaces: Vec<Value> = node
                    .interfaces
                    .iter()
                    .map(|i| json!({"node-interface": i.name, "address": i.address}))
                    .collect();
                object.insert("interfaces".into(), Value::Array(interfaces));
            }
            Record::NodeType(record) | Record::PlatformType(record) | Record::UserType(record) => {
                object.insert("type".into(), json!(record.name));
            }
            Record::Bearer(bearer) => {
                object.insert("id".into(), json!(bearer.id));
                object.insert("available".into(), json!(bool_text(bearer.available)));
            }
            Record::Platform(platform) => {
                object.insert("id".into(), json!(platform.id));
                object.insert("type".into(), json!(platform.platform_type));
                if let Some(loc) = &platform.loc {
                    object.insert("loc".into(), loc.to_json());
                }
            }
            Record::ServiceType(service_type) => {
                object.insert("type".into(), json!(service_type.name));
                object.insert("mode".into(), json!(service_type.mode.as_str()));
                if let Some(schema) = &service_type.schema {
                    object.insert("schema".into(), schema.clone());
                }
            }
            Record::SystemType(system_type) => {
                object.insert("type".into(), json!(system_type.name));
                let services: Vec<Value> = system_type
                    .services
                    .iter()
                    .map(|spec| {
                        let mut service = Map::new();
                        service.insert("id".into(), json!(spec.name));
                        service.insert("type".into(), json!(spec.service_type));
                        if let Some(mode) = spec.mode {
                            service.insert("mode".into(), json!(mode.as_str()));
                        }
                        spec.meta.write(&mut service);
                        Value::Object(service)
                    })
                    .collect();
                object.insert("services".into(), Value::Array(services));
            }
            Record::System(system) => {
                object.insert("id".into(), json!(system.id));
                object.insert("platform".into(), json!(system.platform()));
                object.insert("type".into(), json!(system.system_type));
                object.insert("state".into(), json!(system.state.as_str()));
                if let Some(user) = &system.user {
                    object.insert("user".into(), json!(user));
                }
                let services: Vec<Value> = system
                    .services
                    .iter()
                    .map(|service| {
                        json!({
                            "id": system.service_id(service),
                            "type": service.service_type,
                            "mode": service.mode.as_str(),
                        })
                    })
                    .collect();
                object.insert("services".into(), Value::Array(services));
            }
            Record::User(user) => {
                object.insert("id".into(), json!(user.id));
                object.insert("type".into(), json!(user.user_type));
                if let Some(affil) = &user.affil {
                    object.insert("affil".into(), json!(affil));
                }
            }
        }
        self.meta().write(&mut object);
        Value::Object(object)
    }

    /// The canonical JSON kept in the store: the query form without runtime state.
    pub fn stored_body(&self) -> Value {
        let mut body = self.to_json();
        if let (Record::System(_), Value::Object(object)) = (self, &mut body) {
            object.remove("state");
        }
        body
    }
}

pub fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

#[cfg(test)]
mod shared_lists_tests {
    use super::*;

    fn list(n: usize) -> Vec<Service> {
        vec![Service {
            name: format!("f{n}"),
            service_type: "t".into(),
            mode: Mode::OutputFeed,
        }]
    }

    #[test]
    fn equal_lists_are_shared_and_dropped_lists_are_forgotten() {
        let mut lists = SharedLists::default();
        let a = lists.share(list(1));
        let b = lists.share(list(1));
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        for n in 2..1000 {
            drop(lists.share(list(n)));
        }
        assert!(lists.known() <= 32, "{} lists kept", lists.known());
        let kept = lists.share(list(5000));
        assert!(Arc::ptr_eq(&kept, &lists.share(list(5000))));
    }
}
