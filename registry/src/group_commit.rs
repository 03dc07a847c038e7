//! Group commit: concurrent register/deregister ops share store transactions, and each is
//! acknowledged only once its transaction is durable and applied to memory.
//!
//! A writer, under the staging lock, checks its op against committed memory plus the staged
//! overlay, appends its plan to the open batch and waits on a condition variable. Whoever
//! finds no commit running becomes the leader: it takes the whole open batch, commits it in one
//! store transaction with the staging lock released, then (staging lock, then registry write
//! lock) applies every plan to memory in staging order, clears them from the overlay and wakes
//! the waiters with their results. Writers staging while a commit runs fill the next batch, so
//! under load one fsync covers many ops; a lone writer leads its own batch at once and waits for
//! nothing but its own commit.
//!
//! A failed commit fails its whole batch and the open batch behind it (those were checked
//! against the failed changes) with the store's error; the overlay is dropped and memory is
//! untouched. Batches hold at most [`MAX_BATCH_OPS`] ops or about [`MAX_BATCH_BYTES`] bytes of
//! records; a writer finding the open batch full waits (or leads it, if no commit runs).
//!
//! Locks: staging → registry → pending, each at most once; the store lock is only taken by a
//! leader holding no other lock.

use std::collections::HashMap;

use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use crate::article::Article;
use crate::outcome::Delivery;
use crate::overlay::{Overlay, Staged};
use crate::registry::{Plan, Registry};
use crate::status::Status;
use crate::store::{Change, Store};

/// Most ops one commit carries.
pub const MAX_BATCH_OPS: usize = 1024;
/// Record bytes after which a batch takes no more ops (a single larger op still goes alone).
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Why a write was not acknowledged.
#[derive(Debug)]
pub enum WriteError {
    /// The op was checked and refused; nothing was staged.
    Refused(Status),
    /// The op was staged but its commit failed; the message names the cause.
    Failed(String),
}

#[derive(Debug)]
struct Entry {
    ticket: u64,
    plan: Plan,
}

/// Everything behind the staging lock.
#[derive(Debug, Default)]
pub struct Staging {
    overlay: Overlay,
    open: Vec<Entry>,
    open_bytes: usize,
    committing: bool,
    next_ticket: u64,
    results: HashMap<u64, Result<Vec<Delivery>, String>>,
    /// Runtime state changes waiting for staged system writes to finish; new system writes
    /// wait for them in turn, so neither can starve the other.
    state_changers: usize,
}

impl Staging {
    fn open_is_full(&self) -> bool {
        !self.open.is_empty()
            && (self.open.len() >= MAX_BATCH_OPS || self.open_bytes >= MAX_BATCH_BYTES)
    }
}

pub struct GroupCommit {
    staging: Mutex<Staging>,
    changed: Condvar,
    store: Mutex<Box<dyn Store>>,
}

impl GroupCommit {
    pub fn new(store: Box<dyn Store>) -> GroupCommit {
        GroupCommit {
            staging: Mutex::new(Staging::default()),
            changed: Condvar::new(),
            store: Mutex::new(store),
        }
    }

    /// Checks a write with `plan` against committed memory plus the staged overlay, and waits
    /// until it is committed and applied to `registry` (`Ok` with the deliveries it causes) or
    /// its commit failed.
    pub fn write(
        &self,
        registry: &RwLock<Registry>,
        article: Article,
        plan: impl FnOnce(&Staged<'_>) -> Result<Plan, Status>,
    ) -> Result<Vec<Delivery>, WriteError> {
        let mut staging = self.staging.lock();
        loop {
            if staging.open_is_full() && !staging.committing {
                self.lead(&mut staging, registry);
            } else if staging.open_is_full()
                || (article == Article::System && staging.state_changers > 0)
            {
                self.changed.wait(&mut staging);
            } else {
                break;
            }
        }
        let plan = {
            let committed = registry.read();
            plan(&Staged {
                committed: &committed,
                overlay: &staging.overlay,
            })
            .map_err(WriteError::Refused)?
        };
        let ticket = staging.next_ticket;
        staging.next_ticket += 1;
        staging.overlay.stage(&plan);
        staging.open_bytes += plan.size();
        staging.open.push(Entry { ticket, plan });
        loop {
            if let Some(result) = staging.results.remove(&ticket) {
                return result.map_err(WriteError::Failed);
            }
            if staging.committing {
                self.changed.wait(&mut staging);
            } else {
                self.lead(&mut staging, registry);
            }
        }
    }

    /// Commits the open batch as the leader and publishes every entry's result.
    fn lead(&self, staging: &mut MutexGuard<'_, Staging>, registry: &RwLock<Registry>) {
        let mut batch = std::mem::take(&mut staging.open);
        staging.open_bytes = 0;
        staging.committing = true;
        // Writers waiting for room in the open batch may go on.
        self.changed.notify_all();
        let changes: Vec<Change> = batch
            .iter_mut()
            .flat_map(|entry| std::mem::take(&mut entry.plan.changes))
            .collect();
        let committed = MutexGuard::unlocked(staging, || self.store.lock().commit(&changes));
        match committed {
            Ok(()) => {
                let mut registry = registry.write();
                for entry in batch {
                    staging.overlay.unstage(&entry.plan);
                    let deliveries = registry.apply(entry.plan);
                    staging.results.insert(entry.ticket, Ok(deliveries));
                }
            }
            Err(error) => {
                tracing::error!(%error, ops = batch.len(), "store commit failed");
                let cause = error.to_string();
                for entry in batch {
                    staging.results.insert(entry.ticket, Err(cause.clone()));
                }
                let dependent =
                    format!("{cause} (in an earlier batch this op was checked against)");
                for entry in std::mem::take(&mut staging.open) {
                    staging.results.insert(entry.ticket, Err(dependent.clone()));
                }
                staging.open_bytes = 0;
                staging.overlay.clear();
            }
        }
        staging.committing = false;
        self.changed.notify_all();
    }

    /// The staging lock, once no system write is staged, for ops that change which systems
    /// run: a staged system write was checked against the running state, so that state must
    /// not change until it is applied. Hold the guard while changing it (lock order: staging
    /// first, then registry, then pending).
    pub fn quiet_systems(&self) -> MutexGuard<'_, Staging> {
        let mut staging = self.staging.lock();
        staging.state_changers += 1;
        while staging.overlay.systems() > 0 {
            self.changed.wait(&mut staging);
        }
        staging.state_changers -= 1;
        // System writes held back for this state change may stage once the guard is dropped.
        self.changed.notify_all();
        staging
    }

    /// Ops staged and not yet committed (tests watch batches form).
    #[cfg(test)]
    pub fn staged(&self) -> usize {
        self.staging.lock().open.len()
    }

    /// True when nothing is staged.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        let staging = self.staging.lock();
        staging.open.is_empty() && staging.overlay.is_empty() && !staging.committing
    }
}
