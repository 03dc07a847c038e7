//! nodebus-registry: the domain of nodebus — records, identifier and integrity rules, queries,
//! the durable store and the transport-neutral op engine. No async runtime, no networking.

mod article;
mod builtins;
mod decode;
mod engine;
mod envelope;
mod export;
mod feed_pattern;
mod fields;
mod group_commit;
mod handlers;
mod ident;
mod load;
mod op;
mod outcome;
mod overlay;
mod patterns;
mod pending;
mod query;
mod records;
mod registry;
mod status;
mod store;
mod wildcard;
mod wiring;

#[cfg(test)]
mod tests;

pub use engine::{Deferred, Delivery, Encoded, Engine, EngineConfig, Outcome};
pub use status::{Entity, Kind, Operation, Status};
pub use store::{
    Change, Durability, MemoryStore, SqliteStore, Store, StoreError, StoreOptions, StoredRecord,
};
