//! Schema versions of the SQLite store (`PRAGMA user_version`) and the steps between them.
//! Each step upgrades one version to the next in its own transaction, so a crash mid-way
//! leaves the database at a version it can continue from. Steps never delete records.

use rusqlite::{Connection, Transaction};

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// One upgrade step: `STEPS[n]` turns version `n` into version `n + 1`.
type Step = fn(&Transaction<'_>) -> rusqlite::Result<()>;

const STEPS: [Step; SCHEMA_VERSION as usize] = [create_v1];

/// Version 0 (an empty file) to 1: the records table.
fn create_v1(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    transaction.execute_batch(
        "CREATE TABLE records (
             article TEXT NOT NULL,
             key TEXT NOT NULL,
             body TEXT NOT NULL,
             PRIMARY KEY (article, key)
         ) WITHOUT ROWID;",
    )
}

/// Upgrades the database from version `from` to version `to`, one step per transaction.
/// `from > to` and unknown versions are refused by the caller before this runs.
pub fn migrate(connection: &mut Connection, from: i64, to: i64) -> Result<(), String> {
    for version in from..to {
        let step = usize::try_from(version)
            .ok()
            .and_then(|index| STEPS.get(index))
            .ok_or_else(|| format!("no upgrade from schema version {version}"))?;
        let run = |connection: &mut Connection| -> rusqlite::Result<()> {
            let transaction = connection.transaction()?;
            step(&transaction)?;
            transaction.pragma_update(None, "user_version", version + 1)?;
            transaction.commit()
        };
        run(connection).map_err(|error| {
            format!(
                "upgrading schema version {version} to {}: {error}",
                version + 1
            )
        })?;
        tracing::info!(
            from = version,
            to = version + 1,
            "upgraded the store schema"
        );
    }
    Ok(())
}
