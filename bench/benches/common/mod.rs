//! Helpers shared by the criterion benches: sending ops to an engine and checking their status,
//! stores that spool or discard, the registry shapes the query benches load, and VmRSS.

#![allow(dead_code)] // each bench uses a different part

use std::sync::{Arc, Mutex};
use std::time::Instant;

use nodebus_registry::{Change, Engine, EngineConfig, Store, StoreError, StoredRecord};
use serde_json::Value;

/// Handles `op` as `client` and panics unless the status is `00000` (benchmark setup).
pub fn ok(engine: &Engine, client: &str, op: &Value) -> nodebus_registry::Outcome {
    let outcome = engine.handle(client, op.to_string().as_bytes(), Instant::now());
    let code = outcome.status.code();
    assert!(
        code == "00000",
        "{op} answered {code}: {:?}",
        outcome.replies
    );
    outcome
}

pub fn config() -> EngineConfig {
    EngineConfig::new("bench")
}

/// A store that keeps nothing: the registry's own memory can be measured without a copy of
/// every record in a store.
pub struct NullStore;

impl Store for NullStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        Ok(Vec::new())
    }

    fn commit(&mut self, _changes: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store that passes commits on to another store in batches of `batch` changes (one
/// transaction each), so a large registry can be written to SQLite quickly. Call `flush` at the end.
#[derive(Clone)]
pub struct SpoolStore {
    inner: Arc<Mutex<Spool>>,
}

struct Spool {
    target: Box<dyn Store>,
    buffer: Vec<Change>,
    batch: usize,
}

impl SpoolStore {
    pub fn new(target: Box<dyn Store>, batch: usize) -> Self {
        SpoolStore {
            inner: Arc::new(Mutex::new(Spool {
                target,
                buffer: Vec::new(),
                batch,
            })),
        }
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        let mut spool = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let changes = std::mem::take(&mut spool.buffer);
        spool.target.commit(&changes)
    }
}

impl Store for SpoolStore {
    fn load(&mut self) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .target
            .load()
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let full = {
            let mut spool = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            spool.buffer.extend_from_slice(changes);
            spool.buffer.len() >= spool.batch
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }
}

/// Systems per platform in the query benches.
pub const PER_PLATFORM: usize = 100;

/// Platform `i` of the query registry: `p<i>` with a location on a 0.01° grid.
pub fn platform_id(i: usize) -> String {
    format!("p{i:06}")
}

pub fn platform_loc(i: usize) -> (f64, f64) {
    ((i / 100) as f64 * 0.01, (i % 100) as f64 * 0.01)
}

/// Loads `systems` systems of type `simple_system`, 100 per platform (`p000042/s07`), each
/// with `attr: {"rack": n}` where 100 systems share each rack number.
pub fn load_systems(engine: &Engine, systems: usize) {
    let platforms = systems.div_ceil(PER_PLATFORM);
    for p in 0..platforms {
        let (lat, long) = platform_loc(p);
        ok(
            engine,
            "loader",
            &serde_json::json!({"op":"register:platform","id":platform_id(p),"type":"sensor","loc":{"lat":lat,"long":long}}),
        );
        for s in 0..PER_PLATFORM.min(systems - p * PER_PLATFORM) {
            let index = p * PER_PLATFORM + s;
            ok(
                engine,
                "loader",
                &serde_json::json!({"op":"register:system","id":format!("{}/s{s:02}", platform_id(p)),"type":"simple_system","attr":{"rack": index % platforms}}),
            );
        }
    }
}

/// VmRSS of this process in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line["VmRSS:".len()..]
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
