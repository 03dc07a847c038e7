//! Store options and faults: durability modes, the data-directory lock, read-only and full
//! stores answering writes with class `F` while queries keep working.

use serde_json::json;

use super::*;
use crate::{Durability, Engine, EngineConfig, SqliteStore, StoreError, StoreOptions};

fn options(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        ..StoreOptions::default()
    }
}

#[test]
fn both_durability_modes_open_persist_and_set_synchronous() {
    for (durability, level) in [(Durability::Fsync, 2), (Durability::Os, 1)] {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open_with(dir.path(), options(durability)).unwrap();
            assert_eq!(store.pragma("synchronous"), level, "{durability}");
            assert_eq!(store.durability(), durability);
            let engine = Engine::open(EngineConfig::new(NODE_ID), Box::new(store)).unwrap();
            expect(
                &engine,
                json!({"op":"register:platform","id":"p","type":"app"}),
                "00000",
            );
        }
        let engine = Engine::open(
            EngineConfig::new(NODE_ID),
            Box::new(SqliteStore::open_with(dir.path(), options(durability)).unwrap()),
        )
        .unwrap();
        assert_eq!(keys(&engine, json!({"op":"query:platforms"}), "id"), ["p"]);
    }
    assert_eq!(Durability::default(), Durability::Fsync);
    assert_eq!("os".parse::<Durability>(), Ok(Durability::Os));
    assert!("fast".parse::<Durability>().is_err());
}

#[test]
fn the_default_open_is_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.pragma("synchronous"), 2);
    assert!(!store.is_read_only());
}

#[test]
fn a_second_open_of_the_same_data_dir_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(dir.path()).unwrap();
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("in use by another nodebus process"),
        "{error}"
    );
    assert!(dir.path().join("nodebus.lock").exists());
    drop(first);
    SqliteStore::open(dir.path()).unwrap();
}

/// True when this process can write into a directory whose mode forbids it (root can).
fn permissions_are_bypassed(dir: &std::path::Path) -> bool {
    std::fs::write(dir.join("probe"), b"x").is_ok()
}

#[test]
fn a_read_only_store_serves_queries_and_fails_writes_with_class_f() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(
            EngineConfig::new(NODE_ID),
            Box::new(SqliteStore::open(dir.path()).unwrap()),
        )
        .unwrap();
        expect(
            &engine,
            json!({"op":"register:platform","id":"p","type":"app"}),
            "00000",
        );
    }
    std::fs::set_permissions(
        dir.path().join("nodebus.db"),
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    // As root, modes do not stop writes; the store is then opened read-only on request, which
    // is the same code path a read-only directory takes after detection.
    let bypassed = permissions_are_bypassed(dir.path());
    let store = SqliteStore::open_with(
        dir.path(),
        StoreOptions {
            read_only: bypassed,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    assert!(store.is_read_only());
    let engine = Engine::open(EngineConfig::new(NODE_ID), Box::new(store)).unwrap();
    assert_eq!(keys(&engine, json!({"op":"query:platforms"}), "id"), ["p"]);
    let outcome = expect(
        &engine,
        json!({"op":"register:platform","id":"q","type":"app"}),
        "F0208",
    );
    assert!(
        outcome.status.msg.contains("read-only"),
        "{}",
        outcome.status.msg
    );
    expect(
        &engine,
        json!({"op":"deregister:platform","id":"p"}),
        "F0308",
    );
    assert_eq!(keys(&engine, json!({"op":"query:platforms"}), "id"), ["p"]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_read_only_data_dir_without_a_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let error = SqliteStore::open_with(
        dir.path(),
        StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(error, StoreError::ReadOnlyEmpty { .. }), "{error}");
}

#[test]
fn a_full_database_fails_writes_with_class_f_naming_full_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let pages = store.pragma("page_count");
    // No room for a single new page: the next insert that needs one hits SQLITE_FULL.
    store.execute_batch(&format!("PRAGMA max_page_count = {pages};"));
    let engine = Engine::open(EngineConfig::new(NODE_ID), Box::new(store)).unwrap();
    let big = "x".repeat(200);
    let mut code = String::new();
    let mut registered = Vec::new();
    for n in 0..200 {
        let id = format!("p{n:03}");
        let outcome = send(
            &engine,
            &json!({"op":"register:platform","id":id,"type":"app","desc":big}).to_string(),
        );
        if !outcome.status.is_ok() {
            code = outcome.status.code();
            assert!(
                outcome.status.msg.contains("full"),
                "{}",
                outcome.status.msg
            );
            break;
        }
        registered.push(id);
    }
    assert_eq!(code, "F0208");
    assert_eq!(
        keys(&engine, json!({"op":"query:platforms"}), "id"),
        registered
    );
    drop(engine);
    let engine = Engine::open(
        EngineConfig::new(NODE_ID),
        Box::new(SqliteStore::open(dir.path()).unwrap()),
    )
    .unwrap();
    assert_eq!(
        keys(&engine, json!({"op":"query:platforms"}), "id"),
        registered
    );
}
