//! Options of the SQLite store: how durable a commit is, and whether the store may write.
//! Plain data; the store reads them once at open.

use std::fmt;
use std::str::FromStr;

/// How far a commit is durable when the store reports it done (and the op is acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Durability {
    /// WAL with `synchronous=FULL`: every commit is on disk (fsync) before it is acknowledged,
    /// so an acknowledged record survives a power loss.
    #[default]
    Fsync,
    /// WAL with `synchronous=NORMAL`: a commit is handed to the operating system, and fsync
    /// happens at checkpoints. An acknowledged record survives a crash or `kill -9` of the
    /// process, but the last commits may be lost when the machine loses power.
    Os,
}

impl Durability {
    /// The name used in configuration: `fsync` or `os`.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Os => "os",
        }
    }

    /// The `PRAGMA synchronous` level this mode sets (2 = FULL, 1 = NORMAL).
    pub fn synchronous_level(self) -> i64 {
        match self {
            Durability::Fsync => 2,
            Durability::Os => 1,
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(text: &str) -> Result<Durability, String> {
        match text {
            "fsync" => Ok(Durability::Fsync),
            "os" => Ok(Durability::Os),
            other => Err(format!("durability must be fsync or os, not {other:?}")),
        }
    }
}

/// How [`SqliteStore::open_with`](super::SqliteStore::open_with) opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Open the database read-only: records are loaded and served, every write is answered
    /// with "store is read-only". A data directory the process cannot write is opened this way
    /// even when this is false.
    pub read_only: bool,
}
