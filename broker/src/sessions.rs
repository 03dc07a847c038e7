//! The current session (connection) per client id, so that a close can tell whether a newer
//! connection had taken over. Session numbers are never reused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    current: Mutex<HashMap<Arc<str>, u64>>,
}

impl Sessions {
    /// Makes a new session the current one for `client_id` and returns its number. Called before
    /// the router link is built, so an older connection that the router kicks already sees it.
    pub(crate) fn claim(&self, client_id: &Arc<str>) -> u64 {
        let session = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.current.lock().insert(client_id.clone(), session);
        session
    }

    /// Ends `session`; true if it was still the current one for `client_id`.
    pub(crate) fn release(&self, client_id: &str, session: u64) -> bool {
        let mut current = self.current.lock();
        if current.get(client_id) == Some(&session) {
            current.remove(client_id);
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.lock().len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn takeover_makes_the_older_session_not_current() {
        let s = Sessions::default();
        let id: Arc<str> = Arc::from("c1");
        let a = s.claim(&id);
        let b = s.claim(&id);
        assert_ne!(a, b);
        assert!(!s.release("c1", a));
        assert!(s.release("c1", b));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn sessions_of_different_ids_are_independent() {
        let s = Sessions::default();
        let a = s.claim(&Arc::from("a"));
        let b = s.claim(&Arc::from("b"));
        assert!(s.release("a", a));
        assert!(s.release("b", b));
    }
}
