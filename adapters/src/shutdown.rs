//! A cloneable shutdown signal shared by the transports' loops.

use tokio::sync::watch;

/// Fires once; every clone sees it. Dropping all triggers does not fire it.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(false);
        Shutdown { tx }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Completes when `trigger` has been called (at once if it already was).
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(|fired| *fired).await;
    }
}
