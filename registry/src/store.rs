//! The durable store behind a small trait: load everything at open, commit batches of changes.
//! Stores keep opaque canonical JSON bodies; they know nothing of record rules.

mod lock;
mod memory;
mod migrate;
mod options;
mod sqlite;

use std::path::PathBuf;

pub use memory::MemoryStore;
pub use options::{Durability, StoreOptions};
pub use sqlite::SqliteStore;

/// One stored record: its article name (`"platform"`), key and canonical JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub article: String,
    pub key: String,
    pub body: String,
}

/// One change of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert or replace the record with this article and key.
    Put(StoredRecord),
    /// Remove the record (no error if it is absent).
    Delete { article: String, key: String },
}

/// A durable home for registry records. A commit is all-or-nothing and durable when it returns
/// `Ok`: the engine acknowledges a write only after that. One commit carries a whole batch of
/// ops (group commit), in order; a later change of the same key wins. A failed commit must
/// leave the store as it was; its error is shown to clients, so it should name the cause
/// ([`StoreError::Full`], [`StoreError::ReadOnly`]). A commit must not panic.
pub trait Store: Send {
    /// Every stored record, in any order.
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError>;
    /// Applies `changes` atomically.
    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than version {supported} this nodebus supports; use a newer nodebus"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "database {path} is corrupt or not a nodebus database ({detail}); it was left untouched"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("stored {article} record {key:?} cannot be read: {detail}")]
    BadRecord {
        article: String,
        key: String,
        detail: String,
    },
    #[error(
        "data directory {path} is in use by another nodebus process (lock file {lock} is held)"
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error("cannot lock data directory {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {path} is read-only and holds no nodebus database")]
    ReadOnlyEmpty { path: PathBuf },
    /// A write found the disk or the database full (SQLITE_FULL).
    #[error("store is full ({0})")]
    Full(String),
    /// A write found the database or its directory read-only, or was not permitted.
    #[error("store is read-only ({0})")]
    ReadOnly(String),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("store failure: {0}")]
    Failed(String),
}
