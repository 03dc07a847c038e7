//! The whole registry as `register:*` ops, for backups and moving a node's records elsewhere.
//! Built-ins and runtime state are left out; replaying the ops through `Engine::handle` on a
//! fresh node yields the same query results.

use serde_json::{Map, Value};

use crate::article::Article;
use crate::builtins;
use crate::records::{Record, System};
use crate::registry::Registry;

/// Articles in an order where every record comes after the records it names.
const ORDER: [Article; 10] = [
    Article::NodeType,
    Article::Node,
    Article::Bearer,
    Article::PlatformType,
    Article::Platform,
    Article::ServiceType,
    Article::SystemType,
    Article::UserType,
    Article::User,
    Article::System,
];

/// Every stored record of `registry` as a `register:<article>` op, in dependency order.
///
/// A system keeps the services it was instantiated with even after its system type is
/// re-registered with other services. Such a system is exported between two extra ops: its
/// system type as the system saw it (the system's own services), then the type as it is now,
/// so the replayed system gets exactly its services and the type ends up current.
pub fn ops(registry: &Registry) -> Vec<Value> {
    let mut ops = Vec::new();
    for article in ORDER {
        for record in registry.table(article).iter() {
            if builtins::is_builtin(article, record.key()) {
                continue;
            }
            let stale_type = match record {
                Record::System(system) => registry
                    .get(Article::SystemType, &system.system_type)
                    .filter(|_| {
                        *registry.instantiate_services(&system.system_type) != *system.services
                    }),
                _ => None,
            };
            match (record, stale_type) {
                (Record::System(system), Some(current)) => {
                    ops.push(type_as_seen_by(system));
                    ops.push(register_op(record));
                    ops.push(register_op(current));
                }
                _ => ops.push(register_op(record)),
            }
        }
    }
    ops
}

/// `register:<article>` with the record's stored members (a system without its instantiated
/// services and platform, which registration derives).
fn register_op(record: &Record) -> Value {
    let article = record.article();
    let mut op = Map::new();
    op.insert(
        "op".into(),
        Value::String(format!("register:{}", article.name())),
    );
    if let Value::Object(body) = record.stored_body() {
        for (name, value) in body {
            if article == Article::System && (name == "services" || name == "platform") {
                continue;
            }
            op.insert(name, value);
        }
    }
    Value::Object(op)
}

/// A `register:system-type` offering exactly the services `system` has.
fn type_as_seen_by(system: &System) -> Value {
    let services: Vec<Value> = system
        .services
        .iter()
        .map(|service| {
            serde_json::json!({
                "type": service.service_type,
                "id": service.name,
                "mode": service.mode.as_str(),
            })
        })
        .collect();
    serde_json::json!({
        "op": "register:system-type",
        "type": system.system_type,
        "services": services,
    })
}
