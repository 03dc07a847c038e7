//! The load loops shared by the MQTT workloads: pacing (closed loop with a window of requests in
//! flight per client, or open loop at a fixed total rate), the warm-up / measurement / drain
//! phases, and the end-to-end window of fan-out workloads.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::client::{OnMessage, Sender};
use crate::report::Recorder;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Closed loop: each client keeps at most this many requests in flight.
    Window(usize),
    /// Open loop: this many requests per second in total, spread evenly over the clients.
    Rate(f64),
}

/// Lengths of the phases of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phases {
    pub warmup: Duration,
    pub duration: Duration,
    /// Longest wait for outstanding replies after sending stops; what is still missing is lost.
    pub drain: Duration,
}

/// Below this lag behind schedule, an open-loop send is stamped with its real send time; above,
/// with its scheduled time (coordinated-omission correction). Tokio's timer ticks in 1 ms.
const SCHEDULE_SLACK: Duration = Duration::from_millis(2);

/// One sending client of a run.
pub struct Lane {
    pub sender: Sender,
    pub topic: String,
    /// Present in closed loop round-trip workloads: one permit per request in flight.
    pub permits: Option<Arc<Semaphore>>,
}

/// Builds the payload of request `seq` of client `lane`, stamped `stamp_ns`.
pub type MakePayload = Arc<dyn Fn(usize, u64, u64) -> Bytes + Send + Sync>;

/// Shared gate of fan-out workloads: deliveries outstanding (sent × consumers − received) are
/// kept under a limit, so the closed loop is end to end, through the slowest consumer.
pub struct FanoutGate {
    pub limit: u64,
    pub notify: Notify,
}

/// An `on_message` for round-trip clients: `read` finds the stamp and success of a completing
/// reply; each completion is recorded and frees a window permit.
pub fn round_trip_handler(
    recorder: Arc<Recorder>,
    permits: Option<Arc<Semaphore>>,
    read: fn(&[u8]) -> Option<(u64, bool)>,
) -> OnMessage {
    Box::new(move |payload: Bytes| {
        if let Some((stamp, ok)) = read(&payload) {
            if !ok {
                recorder.error();
            }
            recorder.complete(stamp);
            if let Some(permits) = &permits {
                permits.add_permits(1);
            }
        }
    })
}

/// An `on_message` for fan-out consumers.
pub fn fanout_handler(
    recorder: Arc<Recorder>,
    gate: Arc<FanoutGate>,
    read: fn(&[u8]) -> Option<u64>,
) -> OnMessage {
    Box::new(move |payload: Bytes| {
        if let Some(stamp) = read(&payload) {
            recorder.complete(stamp);
            gate.notify.notify_one();
        }
    })
}

/// Runs the phases: every lane sends until the end of the measurement window, then outstanding
/// completions are awaited for at most `phases.drain`. Returns the measured window length.
pub async fn run(
    lanes: Vec<Lane>,
    make: MakePayload,
    recorder: Arc<Recorder>,
    pace: Pace,
    phases: Phases,
    gate: Option<Arc<FanoutGate>>,
) -> Result<Duration> {
    let clock = recorder.clock;
    let t0 = Instant::now() + Duration::from_millis(5);
    let measure_from = t0 + phases.warmup;
    let end = measure_from + phases.duration;
    recorder.set_window(
        clock.ns_at(measure_from.into_std()),
        clock.ns_at(end.into_std()),
    );
    let lane_count = lanes.len().max(1);
    let mut tasks = Vec::with_capacity(lanes.len());
    for (index, lane) in lanes.into_iter().enumerate() {
        let make = make.clone();
        let recorder = recorder.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            match pace {
                Pace::Window(_) => closed_loop(index, lane, make, &recorder, gate, t0, end).await,
                Pace::Rate(rate) => {
                    let period = Duration::from_secs_f64(lane_count as f64 / rate.max(1e-3));
                    open_loop(index, lane, make, &recorder, period, t0, end).await
                }
            }
        }));
    }
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(join) => {
                first_error.get_or_insert(anyhow::anyhow!("a sender failed: {join}"));
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let measured = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from);
    drain(&recorder, phases.drain).await;
    Ok(measured)
}

/// Waits until nothing is missing or `limit` has passed.
pub async fn drain(recorder: &Recorder, limit: Duration) {
    let until = Instant::now() + limit;
    while recorder.missing() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn closed_loop(
    index: usize,
    lane: Lane,
    make: MakePayload,
    recorder: &Recorder,
    gate: Option<Arc<FanoutGate>>,
    t0: Instant,
    end: Instant,
) -> Result<()> {
    tokio::time::sleep_until(t0).await;
    let mut seq = 0u64;
    while Instant::now() < end {
        if let Some(permits) = &lane.permits {
            match tokio::time::timeout_at(end, permits.acquire()).await {
                Ok(Ok(permit)) => permit.forget(),
                _ => break,
            }
        }
        if let Some(gate) = &gate {
            if !wait_for_room(gate, recorder, end).await {
                break;
            }
        }
        let stamp = recorder.clock.now_ns();
        lane.sender
            .publish(&lane.topic, make(index, seq, stamp))
            .await?;
        recorder.sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
    }
    Ok(())
}

/// True once fewer than `gate.limit` deliveries are outstanding; false at `end`.
async fn wait_for_room(gate: &FanoutGate, recorder: &Recorder, end: Instant) -> bool {
    loop {
        if recorder.missing() < gate.limit {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        // A timeout as well as the notification: a lost delivery must not stall the sender.
        let wake = (Instant::now() + Duration::from_millis(20)).min(end);
        let _ = tokio::time::timeout_at(wake, gate.notify.notified()).await;
    }
}

async fn open_loop(
    index: usize,
    lane: Lane,
    make: MakePayload,
    recorder: &Recorder,
    period: Duration,
    t0: Instant,
    end: Instant,
) -> Result<()> {
    // Lanes start spread over one period, so the total rate is even.
    let lane_offset = period.mul_f64((index as f64 * 0.618_033_988_7).fract());
    let mut seq = 0u64;
    loop {
        let scheduled =
            t0 + lane_offset + period.saturating_mul(u32::try_from(seq).unwrap_or(u32::MAX));
        if scheduled >= end {
            break;
        }
        tokio::time::sleep_until(scheduled).await;
        let now = Instant::now();
        let stamp = if now.saturating_duration_since(scheduled) > SCHEDULE_SLACK {
            recorder.clock.ns_at(scheduled.into_std())
        } else {
            recorder.clock.now_ns()
        };
        lane.sender
            .publish(&lane.topic, make(index, seq, stamp))
            .await?;
        recorder.sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
    }
    Ok(())
}
