//! The SQLite store: one file `nodebus.db` in the data directory, WAL mode, `synchronous=FULL`,
//! one transaction per commit. It never resets or rewrites a database it cannot read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::{Change, Store, StoreError, StoredRecord};

/// The schema version this code writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

pub const FILE_NAME: &str = "nodebus.db";

pub struct SqliteStore {
    path: PathBuf,
    connection: Connection,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/nodebus.db`. Refuses a database of a newer schema
    /// version or one that is corrupt, without modifying it.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(FILE_NAME);
        let connection = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = SqliteStore { path, connection };
        store.prepare()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn prepare(&self) -> Result<(), StoreError> {
        let corrupt = |error: rusqlite::Error| self.classify(error);
        self.connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(corrupt)?;
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(corrupt)?;
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
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(self.corrupt(format!("integrity check: {check}")));
        }
        let table_count: i64 = self
            .connection
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(corrupt)?;
        if version == 0 && table_count > 0 {
            return Err(self.corrupt("it has tables but no nodebus schema version".to_string()));
        }
        let mode: String = self
            .connection
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(corrupt)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(self.corrupt(format!("cannot switch to WAL mode (got {mode})")));
        }
        self.connection
            .execute_batch("PRAGMA synchronous=FULL;")
            .map_err(corrupt)?;
        if version == 0 {
            self.connection.execute_batch(&format!(
                "BEGIN;
                 CREATE TABLE records (
                     article TEXT NOT NULL,
                     key TEXT NOT NULL,
                     body TEXT NOT NULL,
                     PRIMARY KEY (article, key)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = {SCHEMA_VERSION};
                 COMMIT;"
            ))?;
        } else {
            let has_records: Option<String> = self
                .connection
                .query_row(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'records'",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map_err(corrupt)?;
            if has_records.is_none() {
                return Err(self.corrupt("table records is missing".to_string()));
            }
        }
        Ok(())
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

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
        let transaction = self.connection.transaction()?;
        for change in changes {
            match change {
                Change::Put(record) => {
                    transaction.execute(
                        "INSERT OR REPLACE INTO records (article, key, body) VALUES (?1, ?2, ?3)",
                        params![record.article, record.key, record.body],
                    )?;
                }
                Change::Delete { article, key } => {
                    transaction.execute(
                        "DELETE FROM records WHERE article = ?1 AND key = ?2",
                        params![article, key],
                    )?;
                }
            }
        }
        transaction.commit()?;
        Ok(())
    }
}
