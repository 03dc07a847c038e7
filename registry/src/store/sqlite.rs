//! The SQLite store: one file `nodebus.db` in the data directory, WAL mode, `synchronous=FULL`
//! (or `NORMAL` with [`Durability::Os`]), one transaction per commit, and an exclusive lock on
//! `nodebus.lock` for as long as it is open. It never resets or rewrites a database it cannot
//! read; a data directory it cannot write is opened read-only (queries work, writes fail).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, DatabaseName, ErrorCode, OpenFlags, OptionalExtension};

use super::lock::{self, DirLock};
use super::migrate::{self, SCHEMA_VERSION};
use super::{Change, Durability, Store, StoreError, StoreOptions, StoredRecord};

pub const FILE_NAME: &str = "nodebus.db";

pub struct SqliteStore {
    path: PathBuf,
    connection: Connection,
    read_only: bool,
    durability: Durability,
    // Declared last: the lock is released only after the connection is closed.
    _lock: DirLock,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .field("durability", &self.durability)
            .finish()
    }
}

impl SqliteStore {
    /// [`SqliteStore::open_with`] the default options (fsync durability, read-write).
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(data_dir, StoreOptions::default())
    }

    /// Opens (creating if needed) `<data_dir>/nodebus.db` and locks the data directory.
    /// Refuses a directory another nodebus process holds (`Locked`), a database of a newer
    /// schema version (`NewerSchema`) or one that is corrupt (`Corrupt`), without modifying it.
    /// Older schema versions are upgraded. When the directory or the file cannot be written
    /// (or `options.read_only`), the store opens read-only: every commit fails with
    /// [`StoreError::ReadOnly`].
    pub fn open_with(data_dir: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let mut read_only = options.read_only;
        if !read_only {
            if let Err(source) = std::fs::create_dir_all(data_dir) {
                if !(lock::is_read_only(&source) && data_dir.is_dir()) {
                    return Err(StoreError::CreateDir {
                        path: data_dir.to_path_buf(),
                        source,
                    });
                }
                read_only = true;
            }
        }
        let dir_lock = DirLock::take(data_dir, true)?;
        // A directory nobody may write (a read-only mount, a failing SD card) cannot hold the
        // WAL's index file either: such a database is read as immutable.
        let immutable = !dir_lock.writable();
        read_only |= immutable;
        let opened = if immutable {
            Connection::open_with_flags(
                immutable_uri(&path),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else if read_only {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_with_flags(&path, OpenFlags::default())
        };
        let connection = match opened {
            Ok(connection) => connection,
            Err(_) if read_only && !path.exists() => {
                return Err(StoreError::ReadOnlyEmpty {
                    path: data_dir.to_path_buf(),
                })
            }
            Err(source) => return Err(StoreError::Open { path, source }),
        };
        // SQLite opens a file it may not write read-only without saying so.
        let read_only = read_only || connection.is_readonly(DatabaseName::Main).unwrap_or(false);
        let mut store = SqliteStore {
            path,
            connection,
            read_only,
            durability: options.durability,
            _lock: dir_lock,
        };
        store.prepare()?;
        if store.read_only {
            tracing::warn!(path = %store.path.display(), "store opened read-only: queries are served, writes fail");
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when every write fails with [`StoreError::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn prepare(&mut self) -> Result<(), StoreError> {
        self.connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(|error| self.classify(error))?;
        let version: i64 = self.query_i64("PRAGMA user_version")?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let check: String = self
            .connection
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(|error| self.classify(error))?;
        if check != "ok" {
            return Err(self.corrupt(format!("integrity check: {check}")));
        }
        let table_count = self.query_i64("SELECT count(*) FROM sqlite_master")?;
        if version == 0 && table_count > 0 {
            return Err(self.corrupt("it has tables but no nodebus schema version".to_string()));
        }
        if self.read_only {
            if version < SCHEMA_VERSION {
                return Err(StoreError::ReadOnlyEmpty {
                    path: self.path.parent().unwrap_or(&self.path).to_path_buf(),
                });
            }
        } else {
            let mode: String = self
                .connection
                .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
                .map_err(|error| self.classify(error))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(self.corrupt(format!("cannot switch to WAL mode (got {mode})")));
            }
            self.connection
                .pragma_update(None, "synchronous", self.durability.synchronous_level())
                .map_err(|error| self.classify(error))?;
            if version < SCHEMA_VERSION {
                migrate::migrate(&mut self.connection, version, SCHEMA_VERSION)
                    .map_err(StoreError::Failed)?;
            }
        }
        let has_records: Option<String> = self
            .connection
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'records'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|error| self.classify(error))?;
        if has_records.is_none() {
            return Err(self.corrupt("table records is missing".to_string()));
        }
        Ok(())
    }

    fn query_i64(&self, sql: &str) -> Result<i64, StoreError> {
        self.connection
            .query_row(sql, [], |row| row.get(0))
            .map_err(|error| self.classify(error))
    }

    /// Reads an integer pragma of this store's own connection (`synchronous` is per connection).
    #[cfg(test)]
    pub(crate) fn pragma(&self, name: &str) -> i64 {
        self.query_i64(&format!("PRAGMA {name}"))
            .unwrap_or_else(|error| panic!("PRAGMA {name}: {error}"))
    }

    /// Runs SQL on this store's connection, for fault injection in tests.
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) {
        self.connection
            .execute_batch(sql)
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

    /// An error while opening: unreadable files are corrupt, anything else fails the open.
    fn classify(&self, error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                self.corrupt(error.to_string())
            }
            _ => StoreError::Open {
                path: self.path.clone(),
                source: error,
            },
        }
    }

    fn write(&mut self, changes: &[Change]) -> rusqlite::Result<()> {
        let transaction = self.connection.transaction()?;
        {
            let mut put = transaction.prepare_cached(
                "INSERT OR REPLACE INTO records (article, key, body) VALUES (?1, ?2, ?3)",
            )?;
            let mut delete = transaction
                .prepare_cached("DELETE FROM records WHERE article = ?1 AND key = ?2")?;
            for change in changes {
                match change {
                    Change::Put(record) => {
                        put.execute(params![record.article, record.key, record.body])?;
                    }
                    Change::Delete { article, key } => {
                        delete.execute(params![article, key])?;
                    }
                }
            }
        }
        transaction.commit()
    }
}

/// A failed write, named by its cause so the status tells an operator what to fix.
fn commit_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::Full(error.to_string()),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            StoreError::ReadOnly(error.to_string())
        }
        _ => StoreError::Database(error),
    }
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT article, key, body FROM records ORDER BY article, key")?;
        let rows = statement.query_map([], |row| {
            Ok(StoredRecord {
                article: row.get(0)?,
                key: row.get(1)?,
                body: row.get(2)?,
            })
        })?;
        let mut records = Vec::new();
        for row in rows {
            records.push(row?);
        }
        Ok(records)
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(format!(
                "{} was opened read-only",
                self.path.display()
            )));
        }
        self.write(changes).map_err(commit_error)
    }
}

/// `file:<path>?immutable=1`, with the characters SQLite's URI syntax reserves escaped.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3F"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::immutable_uri;
    use std::path::Path;

    #[test]
    fn immutable_uris_escape_what_sqlite_reserves() {
        assert_eq!(
            immutable_uri(Path::new("/data/a b/nodebus.db")),
            "file:/data/a b/nodebus.db?immutable=1"
        );
        assert_eq!(
            immutable_uri(Path::new("/d/100%?#/x.db")),
            "file:/d/100%25%3F%23/x.db?immutable=1"
        );
    }
}
