//! Drives request timeouts: sleeps until the engine's next deadline, asks it to expire what is
//! due and sends the resulting statuses. The engine itself never reads a clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nodebus_registry::Engine;
use tokio::sync::Notify;

use crate::courier::Courier;
use crate::shutdown::Shutdown;

/// Longest sleep between two looks at the engine's deadlines, in case a poke was missed.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Tells the timer that a new deadline may exist. Cheap to clone and to call.
#[derive(Clone)]
pub struct TimerHandle {
    wake: Arc<Notify>,
    engine: Arc<Engine>,
    /// The engine's deadline generation at the last wake-up sent.
    seen: Arc<AtomicU64>,
}

impl TimerHandle {
    /// Wakes the timer if a deadline may have been added since the last wake-up; otherwise does
    /// nothing, so that an op that adds none costs no task wake-up.
    pub fn poke(&self) {
        let generation = self.engine.deadline_generation();
        if self.seen.swap(generation, Ordering::AcqRel) != generation {
            self.wake.notify_one();
        }
    }
}

/// Starts the timer task on the current runtime.
pub fn spawn_request_timer(
    engine: Arc<Engine>,
    courier: Courier,
    shutdown: Shutdown,
) -> (TimerHandle, tokio::task::JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let handle = TimerHandle {
        wake: wake.clone(),
        engine: engine.clone(),
        seen: Arc::new(AtomicU64::new(engine.deadline_generation())),
    };
    let task = tokio::spawn(async move {
        loop {
            let now = Instant::now();
            if engine
                .next_deadline()
                .is_some_and(|deadline| deadline <= now)
            {
                let mut outcome = engine.expire(now);
                if !outcome.deliveries.is_empty() {
                    tracing::debug!(count = outcome.deliveries.len(), "requests timed out");
                    courier.deliver(&mut outcome);
                }
            }
            let sleep_for = engine
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(now))
                .unwrap_or(IDLE_CHECK)
                .min(IDLE_CHECK);
            tokio::select! {
                _ = tokio::time::sleep(sleep_for) => {}
                _ = wake.notified() => {}
                _ = shutdown.triggered() => break,
            }
        }
    });
    (handle, task)
}
