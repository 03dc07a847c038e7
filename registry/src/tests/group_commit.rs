//! Group commit cases: concurrent writes share commits and are all durable; dependent ops in
//! one batch; a failed commit fails its batch and the batch staged behind it and changes
//! nothing; queries and runtime reads are answered while a commit is stuck; state changes wait
//! for staged system writes. Stores here count commits or hold them at a gate.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Value};

use super::*;
use crate::store::{Change, Store, StoreError, StoredRecord};
use crate::{Durability, Engine, EngineConfig, MemoryStore, SqliteStore, StoreOptions};

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// Commits that reached the store (finished or held at the gate).
    entered: usize,
    commits: usize,
    changes: usize,
    /// The next commit fails with "store is full" instead of writing.
    fail_next: bool,
    /// Each commit waits this long first, so concurrent writers pile up behind it.
    delay: Duration,
}

/// A store wrapper that counts commits and can hold them or make the next one fail.
#[derive(Debug, Clone, Default)]
struct Gate(Arc<(Mutex<GateState>, Condvar)>);

impl Gate {
    fn with(&self, f: impl FnOnce(&mut GateState)) {
        let (state, changed) = &*self.0;
        f(&mut state.lock());
        changed.notify_all();
    }

    fn read<T>(&self, f: impl FnOnce(&GateState) -> T) -> T {
        f(&self.0 .0.lock())
    }

    fn wrap(&self, store: impl Store + 'static) -> Box<dyn Store> {
        Box::new(GatedStore {
            gate: self.clone(),
            inner: Box::new(store),
        })
    }
}

struct GatedStore {
    gate: Gate,
    inner: Box<dyn Store>,
}

impl Store for GatedStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.load()
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let (state, changed) = &*self.gate.0;
        let delay = {
            let mut state = state.lock();
            state.entered += 1;
            changed.notify_all();
            while state.closed {
                changed.wait(&mut state);
            }
            if state.fail_next {
                state.fail_next = false;
                return Err(StoreError::Full("database or disk is full".into()));
            }
            state.commits += 1;
            state.changes += changes.len();
            state.delay
        };
        thread::sleep(delay);
        self.inner.commit(changes)
    }
}

/// Polls until `done` holds; panics after a generous bound so a hang shows as a failure.
#[track_caller]
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never happened: {what}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

fn status_of(engine: &Engine, client: &str, request: &Value) -> (String, String) {
    let outcome = engine.handle(client, request.to_string().as_bytes(), Instant::now());
    (outcome.status.code(), outcome.status.msg)
}

/// Sends `request` on a new thread once the engine has `staged` ops waiting, and waits until
/// it is staged too (or has its answer).
fn send_staged(engine: &Arc<Engine>, request: Value) -> thread::JoinHandle<(String, String)> {
    let before = engine.group_commit().staged();
    let sender = Arc::clone(engine);
    let handle = thread::spawn(move || status_of(&sender, "writer", &request));
    wait_until("the op is staged", || {
        engine.group_commit().staged() > before || handle.is_finished()
    });
    handle
}

fn gated_engine(gate: &Gate, store: MemoryStore) -> Arc<Engine> {
    Arc::new(Engine::open(EngineConfig::new(NODE_ID), gate.wrap(store)).unwrap())
}

/// Starts a write that will lead a commit, and waits until that commit is held at the gate.
fn hold_a_commit(
    gate: &Gate,
    engine: &Arc<Engine>,
    request: Value,
) -> thread::JoinHandle<(String, String)> {
    gate.with(|state| state.closed = true);
    let entered = gate.read(|state| state.entered);
    let sender = Arc::clone(engine);
    let handle = thread::spawn(move || status_of(&sender, "leader", &request));
    wait_until("the commit reaches the store", || {
        gate.read(|state| state.entered) > entered
    });
    handle
}

#[test]
fn a_lone_writer_commits_each_op_by_itself() {
    let gate = Gate::default();
    let engine = gated_engine(&gate, MemoryStore::new());
    for n in 0..5 {
        expect(
            &engine,
            json!({"op":"register:platform","id":format!("p{n}"),"type":"app"}),
            "00000",
        );
    }
    assert_eq!(gate.read(|state| state.commits), 5);
    assert!(engine.group_commit().is_idle());
}

#[test]
fn dependent_ops_share_one_batch_and_queries_are_answered_during_the_commit() {
    let gate = Gate::default();
    let store = MemoryStore::new();
    let engine = gated_engine(&gate, store.clone());
    let leader = hold_a_commit(
        &gate,
        &engine,
        json!({"op":"register:bearer","id":"b0","available":true}),
    );
    let platform_type = send_staged(
        &engine,
        json!({"op":"register:platform-type","type":"vehicle"}),
    );
    let platform = send_staged(
        &engine,
        json!({"op":"register:platform","id":"car","type":"vehicle"}),
    );
    let system = send_staged(
        &engine,
        json!({"op":"register:system","id":"car/nav","type":"simple_system"}),
    );
    assert_eq!(engine.group_commit().staged(), 3);
    // While the commit is held: queries answer at once, from acknowledged records only.
    assert!(query(&engine, json!({"op":"query:bearers"})).is_empty());
    assert!(query(&engine, json!({"op":"query:platforms"})).is_empty());
    assert_eq!(
        query(&engine, json!({"op":"query:platform-types"})).len(),
        3
    );
    // A write that depends on a staged change that is then removed again in the same batch.
    let removal = send_staged(&engine, json!({"op":"deregister:system","id":"car/nav"}));
    // A staged change is checked like a committed one.
    let (code, _) = status_of(
        &engine,
        "c",
        &json!({"op":"register:platform-type","type":"app"}),
    );
    assert_eq!(code, "20209");
    gate.with(|state| state.closed = false);
    for handle in [leader, platform_type, platform, system, removal] {
        assert_eq!(handle.join().unwrap().0, "00000");
    }
    assert_eq!(gate.read(|state| (state.commits, state.changes)), (2, 5));
    assert_eq!(
        keys(&engine, json!({"op":"query:platforms"}), "id"),
        ["car"]
    );
    assert!(query(&engine, json!({"op":"query:systems"})).is_empty());
    assert_eq!(store.len(), 3, "bearer, platform type, platform");
    assert!(engine.group_commit().is_idle());
}

#[test]
fn a_failed_commit_fails_its_batch_and_the_batch_behind_it_and_changes_nothing() {
    let gate = Gate::default();
    let store = MemoryStore::new();
    let engine = gated_engine(&gate, store.clone());
    expect(
        &engine,
        json!({"op":"register:platform","id":"kept","type":"app"}),
        "00000",
    );
    let leader = hold_a_commit(
        &gate,
        &engine,
        json!({"op":"register:platform","id":"a","type":"app"}),
    );
    let dependent_type = send_staged(&engine, json!({"op":"register:platform-type","type":"t"}));
    let dependent = send_staged(
        &engine,
        json!({"op":"register:platform","id":"c","type":"t"}),
    );
    let removal = send_staged(&engine, json!({"op":"deregister:platform","id":"kept"}));
    gate.with(|state| {
        state.fail_next = true;
        state.closed = false;
    });
    let (code, msg) = leader.join().unwrap();
    assert_eq!(code, "F0208");
    assert!(
        msg.contains("store commit failed") && msg.contains("full"),
        "{msg}"
    );
    for (handle, wanted) in [
        (dependent_type, "F0209"),
        (dependent, "F0208"),
        (removal, "F0308"),
    ] {
        let (code, msg) = handle.join().unwrap();
        assert_eq!(code, wanted, "{msg}");
        assert!(msg.contains("full"), "{msg}");
    }
    assert_eq!(
        keys(&engine, json!({"op":"query:platforms"}), "id"),
        ["kept"]
    );
    assert_eq!(
        query(&engine, json!({"op":"query:platform-types"})).len(),
        3
    );
    assert_eq!(store.len(), 1);
    assert!(engine.group_commit().is_idle());
    // The store recovered: the same ops now succeed.
    expect(
        &engine,
        json!({"op":"register:platform-type","type":"t"}),
        "00000",
    );
    expect(
        &engine,
        json!({"op":"register:platform","id":"c","type":"t"}),
        "00000",
    );
    assert_eq!(store.len(), 3);
}

#[test]
fn runtime_reads_go_on_and_state_changes_wait_for_a_staged_system_write() {
    let gate = Gate::default();
    let engine = gated_engine(&gate, MemoryStore::new());
    for request in [
        json!({"op":"register:platform","id":"p","type":"app"}),
        json!({"op":"register:system","id":"p/a","type":"simple_system"}),
        json!({"op":"register:system","id":"p/b","type":"simple_system"}),
    ] {
        expect(&engine, request, "00000");
    }
    start(&engine, "ca", "p/a");
    let leader = hold_a_commit(
        &gate,
        &engine,
        json!({"op":"register:system","id":"p/b","type":"simple_system","desc":"new"}),
    );
    // Reads and ops that change no running state are not held up by the commit.
    let outcome = send_as(
        &engine,
        "ca",
        json!({"op":"publish","output-feed":"p/a/untyped_output_feed","msg":1}),
    );
    assert!(outcome.status.is_ok(), "{:?}", outcome.status);
    subscribe(&engine, "ca", "p/a/untyped_input_feed", json!(["p/*/*"]));
    // Starting p/b waits: the staged write of p/b was checked against p/b being stopped.
    let starter = {
        let engine = Arc::clone(&engine);
        thread::spawn(move || {
            status_of(
                &engine,
                "cb",
                &json!({"op":"state:system","id":"p/b","state":"running"}),
            )
        })
    };
    thread::sleep(Duration::from_millis(50));
    assert!(
        !starter.is_finished(),
        "state change ran under a staged system write"
    );
    gate.with(|state| state.closed = false);
    assert_eq!(leader.join().unwrap().0, "00000");
    assert_eq!(starter.join().unwrap().0, "00000");
    let systems = query(&engine, json!({"op":"query:systems","id":"p/b"}));
    assert_eq!(
        (systems[0]["state"].clone(), systems[0]["desc"].clone()),
        (json!("running"), json!("new"))
    );
}

#[test]
fn concurrent_writers_share_commits_and_every_acknowledged_record_survives_a_reopen() {
    const THREADS: usize = 20;
    const OPS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    // A short pause in each commit lets the other writers pile up, as a slow disk would.
    gate.with(|state| state.delay = Duration::from_millis(2));
    let store = SqliteStore::open_with(
        dir.path(),
        StoreOptions {
            durability: Durability::Fsync,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let engine = Arc::new(Engine::open(EngineConfig::new(NODE_ID), gate.wrap(store)).unwrap());
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = Arc::clone(&engine);
            thread::spawn(move || {
                let client = format!("c{t}");
                let mut codes = vec![status_of(&engine, &client, &json!({"op":"register:platform-type","type":format!("t{t}")})).0];
                for n in 0..OPS {
                    let request = json!({"op":"register:platform","id":format!("p{t}-{n}"),"type":format!("t{t}")});
                    codes.push(status_of(&engine, &client, &request).0);
                }
                codes
            })
        })
        .collect();
    for writer in writers {
        assert!(writer.join().unwrap().iter().all(|code| code == "00000"));
    }
    let ops = THREADS * (OPS + 1);
    let (commits, changes) = gate.read(|state| (state.commits, state.changes));
    assert_eq!(changes, ops);
    assert!(
        commits < ops,
        "{commits} commits for {ops} ops: nothing was batched"
    );
    drop(engine);
    let engine = Engine::open(
        EngineConfig::new(NODE_ID),
        Box::new(SqliteStore::open(dir.path()).unwrap()),
    )
    .unwrap();
    assert_eq!(
        query(&engine, json!({"op":"query:platforms"})).len(),
        THREADS * OPS
    );
    assert_eq!(
        query(&engine, json!({"op":"query:platform-types"})).len(),
        THREADS + 3
    );
}
