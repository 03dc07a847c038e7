//! Results of one workload run: latency histogram, counters, the human-readable table and the
//! one-line JSON form printed with `--json`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

/// Largest latency the histograms hold (longer ones are clamped): one minute, in nanoseconds.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// A monotonic clock shared by every client of one run: times travel in payloads as nanoseconds
/// since `epoch`, so a reply carries its own send time and no table of outstanding requests is needed.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Nanoseconds since the epoch at `at` (0 before the epoch).
    pub fn ns_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// A latency histogram in nanoseconds (3 significant digits, 1 ns to 60 s).
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Latencies {
    pub fn new() -> Self {
        // The bounds are constants that hdrhistogram accepts (low >= 1, high >= 2 * low, sigfig <= 5).
        #[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts
        let histogram = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid bounds");
        Latencies { histogram }
    }

    pub fn record(&mut self, ns: u64) {
        self.histogram
            .saturating_record(ns.clamp(1, MAX_LATENCY_NS));
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at `quantile` (0..=1) in microseconds; 0 when nothing was recorded.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        if self.histogram.is_empty() {
            return 0.0;
        }
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn max_us(&self) -> f64 {
        self.histogram.max() as f64 / 1000.0
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

/// Where replies are counted during a run. The measurement window is `[start_ns, end_ns)`:
/// completions inside it count for throughput and latency; every completion counts for loss.
pub struct Recorder {
    pub clock: Clock,
    start_ns: AtomicU64,
    end_ns: AtomicU64,
    latencies: Mutex<Latencies>,
    /// Requests (or published messages) sent, over the whole run.
    pub sent: AtomicU64,
    /// Completions expected per send (1 for round trips, C for a fan-out to C consumers).
    pub expected_per_send: AtomicU64,
    /// Completions received, over the whole run.
    pub received: AtomicU64,
    /// Completions received inside the measurement window.
    pub in_window: AtomicU64,
    /// Replies with an error status.
    pub errors: AtomicU64,
}

impl Recorder {
    pub fn new(clock: Clock) -> Self {
        Recorder {
            clock,
            start_ns: AtomicU64::new(u64::MAX),
            end_ns: AtomicU64::new(u64::MAX),
            latencies: Mutex::new(Latencies::new()),
            sent: AtomicU64::new(0),
            expected_per_send: AtomicU64::new(1),
            received: AtomicU64::new(0),
            in_window: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Sets the measurement window (nanoseconds on the run's clock).
    pub fn set_window(&self, start_ns: u64, end_ns: u64) {
        self.start_ns.store(start_ns, Ordering::Relaxed);
        self.end_ns.store(end_ns, Ordering::Relaxed);
    }

    /// One completion of something sent at `sent_ns`.
    pub fn complete(&self, sent_ns: u64) {
        let now = self.clock.now_ns();
        self.received.fetch_add(1, Ordering::Relaxed);
        if now >= self.start_ns.load(Ordering::Relaxed) && now < self.end_ns.load(Ordering::Relaxed)
        {
            self.in_window.fetch_add(1, Ordering::Relaxed);
            let mut latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
            latencies.record(now.saturating_sub(sent_ns));
        }
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Completions still missing: sent × expected per send − received (0 if more arrived).
    pub fn missing(&self) -> u64 {
        let expected =
            self.sent.load(Ordering::Relaxed) * self.expected_per_send.load(Ordering::Relaxed);
        expected.saturating_sub(self.received.load(Ordering::Relaxed))
    }

    /// The report of the run, with `measured` the length of the measurement window.
    pub fn report(&self, workload: &str, label: String, measured: Duration) -> Report {
        let latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        let in_window = self.in_window.load(Ordering::Relaxed);
        let seconds = measured.as_secs_f64().max(1e-9);
        Report {
            workload: workload.to_owned(),
            label,
            seconds,
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            completed: in_window,
            throughput: in_window as f64 / seconds,
            p50_us: latencies.quantile_us(0.5),
            p99_us: latencies.quantile_us(0.99),
            p999_us: latencies.quantile_us(0.999),
            max_us: latencies.max_us(),
            lost: self.missing(),
            errors: self.errors.load(Ordering::Relaxed),
            extra: Map::new(),
        }
    }
}

/// The outcome of one workload run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub workload: String,
    /// The settings that matter for reading the figure ("v4 qos0 clients=4 window=16 64B").
    pub label: String,
    /// Length of the measurement window.
    pub seconds: f64,
    pub sent: u64,
    pub received: u64,
    /// Completions inside the measurement window.
    pub completed: u64,
    /// Completions per second inside the window (msgs/s, requests/s or deliveries/s).
    pub throughput: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Expected completions that never arrived (after the drain).
    pub lost: u64,
    /// Replies that carried an error status.
    pub errors: u64,
    /// Workload-specific figures (RSS per client, connections held, …).
    pub extra: Map<String, Value>,
}

impl Report {
    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// One line of JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "workload": self.workload,
            "label": self.label,
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "received": self.received,
            "completed": self.completed,
            "throughput": round(self.throughput, 1),
            "p50_us": round(self.p50_us, 1),
            "p99_us": round(self.p99_us, 1),
            "p999_us": round(self.p999_us, 1),
            "max_us": round(self.max_us, 1),
            "lost": self.lost,
            "errors": self.errors,
            "extra": self.extra,
        })
    }

    /// A short human-readable block.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{} [{}]\n  throughput {:>12} /s over {:.1} s ({} completed, {} sent)\n  latency    p50 {} p99 {} p99.9 {} max {}\n  lost {}  errors {}",
            self.workload,
            self.label,
            format_rate(self.throughput),
            self.seconds,
            self.completed,
            self.sent,
            format_us(self.p50_us),
            format_us(self.p99_us),
            format_us(self.p999_us),
            format_us(self.max_us),
            self.lost,
            self.errors,
        );
        for (key, value) in &self.extra {
            text.push_str(&format!("\n  {key}: {value}"));
        }
        text
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// `12 345` style thousands separators on the integer part.
pub fn format_rate(value: f64) -> String {
    let whole = value.round().max(0.0) as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Microseconds shown as µs below 10 ms, as ms above.
pub fn format_us(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// A ratio as `0.42×`, or `-` when the baseline is zero.
pub fn format_ratio(value: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}×", value / baseline)
    } else {
        "-".to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rates_get_thousands_separators() {
        assert_eq!(format_rate(0.0), "0");
        assert_eq!(format_rate(999.4), "999");
        assert_eq!(format_rate(1234.0), "1 234");
        assert_eq!(format_rate(1_234_567.0), "1 234 567");
    }

    #[test]
    fn latencies_are_shown_in_a_readable_unit() {
        assert_eq!(format_us(42.4), "42 µs");
        assert_eq!(format_us(12_345.0), "12.3 ms");
        assert_eq!(format_ratio(50.0, 200.0), "0.25×");
        assert_eq!(format_ratio(50.0, 0.0), "-");
    }

    #[test]
    fn quantiles_come_from_the_histogram() {
        let mut latencies = Latencies::new();
        for us in 1..=1000u64 {
            latencies.record(us * 1000);
        }
        assert_eq!(latencies.count(), 1000);
        let p50 = latencies.quantile_us(0.5);
        assert!((499.0..=501.0).contains(&p50), "{p50}");
        let p99 = latencies.quantile_us(0.99);
        assert!((989.0..=991.0).contains(&p99), "{p99}");
        assert_eq!(Latencies::new().quantile_us(0.99), 0.0);
    }

    #[test]
    fn the_recorder_counts_the_window_and_the_losses() {
        let recorder = Recorder::new(Clock::new());
        recorder.sent.store(10, Ordering::Relaxed);
        recorder.complete(0); // before any window is set: counted as received only
        recorder.set_window(0, u64::MAX);
        recorder.complete(0);
        let report = recorder.report("echo", "x".into(), Duration::from_secs(1));
        assert_eq!(report.received, 2);
        assert_eq!(report.completed, 1);
        assert_eq!(report.lost, 8);
        let line = report.to_json();
        assert_eq!(line["workload"], "echo");
        assert_eq!(line["lost"], 8);
        assert!(report.to_text().contains("lost 8"));
    }
}
