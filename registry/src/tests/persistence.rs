//! Persistence cases: records survive a reopen of the SQLite store; runtime state does not;
//! unreadable or newer databases are refused without being touched.

use serde_json::{json, Value};

use super::*;
use crate::records::SystemState;
use crate::{Engine, EngineConfig, SqliteStore, StoreError};

const QUERIES: [&str; 10] = [
    "query:nodes",
    "query:node-types",
    "query:bearers",
    "query:platform-types",
    "query:platforms",
    "query:service-types",
    "query:system-types",
    "query:systems",
    "query:user-types",
    "query:users",
];

fn open(dir: &std::path::Path) -> Engine {
    Engine::open(
        EngineConfig::new(NODE_ID),
        Box::new(SqliteStore::open(dir).unwrap()),
    )
    .unwrap()
}

fn snapshot(engine: &Engine) -> Vec<Vec<Value>> {
    QUERIES
        .iter()
        .map(|op| query(engine, json!({"op":op})))
        .collect()
}

fn register_everything(engine: &Engine) {
    for request in [
        json!({"op":"register:node-type","type":"gw","attr":{"a":[1,{"b":null}]}}),
        json!({"op":"register:node","id":"n1","type":"gw","interfaces":[{"node-interface":"eth0","address":"tcp://[::1]:1883"}],"desc":"d"}),
        json!({"op":"register:bearer","id":"wifi","available":true}),
        json!({"op":"register:platform-type","type":"vehicle"}),
        json!({"op":"register:platform","id":"Gerät ✓","type":"vehicle","loc":{"lat":51.25,"long":-1,"alt":12}}),
        json!({"op":"register:service-type","type":"temp","mode":"output-feed","schema":{"type":"number","max":1e3}}),
        json!({"op":"register:system-type","type":"thermo","services":[{"type":"temp"},{"type":"temp","id":"in","mode":"input-feed","attr":{"k":1}}]}),
        json!({"op":"register:user-type","type":"driver"}),
        json!({"op":"register:user","id":"alice","type":"driver","affil":"acme"}),
        json!({"op":"register:system","id":"Gerät ✓/t1","type":"thermo","user":"alice"}),
        json!({"op":"register:system","id":"Gerät ✓/t2","type":"simple_system"}),
        json!({"op":"register:bearer","id":"gone","available":"false"}),
        json!({"op":"deregister:bearer","id":"gone"}),
    ] {
        expect(engine, request, "00000");
    }
}

#[test]
fn records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let before = {
        let engine = open(&data_dir);
        register_everything(&engine);
        assert!(engine.registry().write().set_system_state(
            "Gerät ✓/t1",
            SystemState::Running,
            Some("c".into())
        ));
        snapshot(&engine)
    };
    assert!(data_dir.join("nodebus.db").exists());
    let engine = open(&data_dir);
    let mut after = snapshot(&engine);
    // Runtime state is not persisted: the running system comes back stopped.
    let mut expected = before.clone();
    expected[7][0]["state"] = json!("stopped");
    assert_eq!(after, expected);
    assert_eq!(after[2].len(), 1, "the deregistered bearer stays gone");
    // Reopening again changes nothing.
    drop(engine);
    after = snapshot(&open(&data_dir));
    assert_eq!(after, expected);
}

#[test]
fn memory_store_round_trips_too() {
    let store = crate::MemoryStore::new();
    let first = Engine::open(EngineConfig::new(NODE_ID), Box::new(store.clone())).unwrap();
    register_everything(&first);
    let second = Engine::open(EngineConfig::new(NODE_ID), Box::new(store.clone())).unwrap();
    assert_eq!(snapshot(&first), snapshot(&second));
    assert_eq!(store.len(), 11, "built-ins are not stored");
}

#[test]
fn a_corrupt_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodebus.db");
    let garbage = b"this is not a database at all, just some bytes ".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("nodebus.db"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    {
        let connection = rusqlite::Connection::open(dir.path().join("nodebus.db")).unwrap();
        connection
            .execute_batch("PRAGMA user_version = 2;")
            .unwrap();
    }
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::NewerSchema {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("version 2"), "{error}");
}

#[test]
fn a_foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let connection = rusqlite::Connection::open(dir.path().join("nodebus.db")).unwrap();
        connection.execute_batch("CREATE TABLE other (x);").unwrap();
    }
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
}

#[test]
fn the_store_uses_wal_and_schema_version_1() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let connection = rusqlite::Connection::open(dir.path().join("nodebus.db")).unwrap();
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), version), ("wal", 1));
}

#[test]
fn an_unreadable_stored_record_fails_open_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    {
        let connection = rusqlite::Connection::open(dir.path().join("nodebus.db")).unwrap();
        connection
            .execute_batch("INSERT INTO records VALUES ('platform', 'p1', '{\"id\":\"p1\"}');")
            .unwrap();
    }
    let error = Engine::open(
        EngineConfig::new(NODE_ID),
        Box::new(SqliteStore::open(dir.path()).unwrap()),
    )
    .unwrap_err();
    assert!(matches!(error, StoreError::BadRecord { .. }), "{error}");
    assert!(error.to_string().contains("p1"), "{error}");
}
