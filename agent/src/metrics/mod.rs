//! Per-project counters and gauges, updated lock-free on the data path and read by the HTTP
//! listener (`/metrics`, `/api/projects`), the status page, `obsync status` and the alerts.
//!
//! Invariants: counters only grow while the agent runs (a restarted project keeps counting in the
//! same [`ProjectMetrics`]); "sent" counts messages the broker acknowledged, never messages merely
//! handed to the client; latency is `now − commit time` of the newest checkpointed transaction
//! (OMS: "current time − change time of the records written"), or `now − the last heartbeat`
//! received with nothing pending, so an idle, caught-up project reads near zero.

mod history;

pub use history::{History, Point, Sample};

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use obsync_sdk::ChangeKind;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Index of a change kind in the per-kind arrays: insert, update, delete.
pub fn kind_index(kind: ChangeKind) -> usize {
    match kind {
        ChangeKind::Insert => 0,
        ChangeKind::Update => 1,
        ChangeKind::Delete => 2,
    }
}

/// The change kinds in index order, as the metrics label them.
pub const KIND_LABELS: [&str; 3] = ["insert", "update", "delete"];

/// One project's live counters.
#[derive(Debug, Default)]
pub struct ProjectMetrics {
    /// Binlog bytes received (every event, carried or not).
    pub binlog_bytes: AtomicU64,
    /// Rows of carried tables read, per kind.
    pub rows_read: [AtomicU64; 3],
    /// Binlog bytes of those rows' events, per kind.
    pub bytes_read: [AtomicU64; 3],
    /// Messages acknowledged by the broker, per kind.
    pub messages_sent: [AtomicU64; 3],
    /// Message body bytes acknowledged by the broker, per kind.
    pub bytes_sent: [AtomicU64; 3],
    /// Messages sent and not yet acknowledged.
    pub in_flight: AtomicU64,
    /// Streams restarted after a retryable error.
    pub retries: AtomicU64,
    /// Errors seen (retryable or not).
    pub errors: AtomicU64,
    /// Nanoseconds spent in format module calls.
    pub format_nanos: AtomicU64,
    /// Format module calls.
    pub format_calls: AtomicU64,
    /// Nanoseconds spent in filter module calls.
    pub filter_nanos: AtomicU64,
    /// Filter module calls.
    pub filter_calls: AtomicU64,
    /// Commit time (ms) of the newest checkpointed transaction.
    pub checkpoint_commit_ms: AtomicU64,
    /// When (ms) the project last had nothing pending and the source said it was idle.
    pub caught_up_ms: AtomicU64,
    /// The highest latency (ms) seen since the alerts last looked.
    pub latency_peak_ms: AtomicU64,
    /// Samples for rates and the status page chart.
    pub history: Mutex<History>,
}

impl ProjectMetrics {
    /// Counts rows read from a ROWS event of `bytes` bytes.
    pub fn read_rows(&self, kind: ChangeKind, rows: usize, bytes: u64) {
        let i = kind_index(kind);
        self.rows_read[i].fetch_add(rows as u64, Relaxed);
        self.bytes_read[i].fetch_add(bytes, Relaxed);
    }

    /// Counts messages acknowledged by the broker.
    pub fn sent(&self, kind_index: usize, messages: u64, bytes: u64) {
        if let (Some(m), Some(b)) = (
            self.messages_sent.get(kind_index),
            self.bytes_sent.get(kind_index),
        ) {
            m.fetch_add(messages, Relaxed);
            b.fetch_add(bytes, Relaxed);
        }
    }

    /// Records a newly checkpointed position: `newest_seconds` is its commit time and
    /// `oldest_seconds` that of the oldest transaction released with it (0: unknown). The
    /// oldest one's latency counts for the alerts' peak, even when newer transactions were
    /// released with it and the project is caught up again.
    pub fn checkpointed(&self, newest_seconds: u32, oldest_seconds: u32) {
        if newest_seconds != 0 {
            self.checkpoint_commit_ms
                .fetch_max(u64::from(newest_seconds) * 1000, Relaxed);
        }
        let oldest = if oldest_seconds == 0 {
            newest_seconds
        } else {
            oldest_seconds
        };
        if oldest != 0 {
            self.latency_peak_ms
                .fetch_max(now_ms().saturating_sub(u64::from(oldest) * 1000), Relaxed);
        }
    }

    /// Records that everything read was delivered and the source reported it is idle.
    pub fn caught_up(&self) {
        self.caught_up_ms.fetch_max(now_ms(), Relaxed);
    }

    /// Adds the time of one module call.
    pub fn module_call(&self, filter: bool, took: Duration) {
        let nanos = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        if filter {
            self.filter_nanos.fetch_add(nanos, Relaxed);
            self.filter_calls.fetch_add(1, Relaxed);
        } else {
            self.format_nanos.fetch_add(nanos, Relaxed);
            self.format_calls.fetch_add(1, Relaxed);
        }
    }

    /// Latency in milliseconds at `now` (ms), or `None` before anything is known.
    pub fn latency_ms(&self, now: u64) -> Option<u64> {
        let newest = self
            .checkpoint_commit_ms
            .load(Relaxed)
            .max(self.caught_up_ms.load(Relaxed));
        (newest > 0).then(|| now.saturating_sub(newest))
    }

    /// Returns and clears the highest latency seen since the last call (at least the current).
    pub fn take_latency_peak(&self, now: u64) -> Option<u64> {
        let peak = self.latency_peak_ms.swap(0, Relaxed);
        match self.latency_ms(now) {
            Some(l) => Some(l.max(peak)),
            None => (peak > 0).then_some(peak),
        }
    }

    /// A consistent-enough copy of every value for reports.
    pub fn snapshot(&self, now: u64) -> MetricsSnapshot {
        let load =
            |a: &[AtomicU64; 3]| [a[0].load(Relaxed), a[1].load(Relaxed), a[2].load(Relaxed)];
        let (rows_per_second, bytes_per_second) =
            self.history.lock().map(|h| h.rates()).unwrap_or_default();
        MetricsSnapshot {
            binlog_bytes: self.binlog_bytes.load(Relaxed),
            rows_read: load(&self.rows_read),
            bytes_read: load(&self.bytes_read),
            messages_sent: load(&self.messages_sent),
            bytes_sent: load(&self.bytes_sent),
            in_flight: self.in_flight.load(Relaxed),
            retries: self.retries.load(Relaxed),
            errors: self.errors.load(Relaxed),
            format_seconds: self.format_nanos.load(Relaxed) as f64 / 1e9,
            format_calls: self.format_calls.load(Relaxed),
            filter_seconds: self.filter_nanos.load(Relaxed) as f64 / 1e9,
            filter_calls: self.filter_calls.load(Relaxed),
            latency_seconds: self.latency_ms(now).map(|l| l as f64 / 1000.0),
            rows_per_second,
            bytes_per_second,
        }
    }

    /// Adds a history sample at `now` (ms) when the last one is at least `every` old.
    pub fn sample(&self, now: u64, every: Duration) {
        let sent: u64 = self.messages_sent.iter().map(|a| a.load(Relaxed)).sum();
        let bytes: u64 = self.bytes_sent.iter().map(|a| a.load(Relaxed)).sum();
        let latency = self.latency_ms(now);
        if let Ok(mut h) = self.history.lock() {
            h.push(
                Sample {
                    at_ms: now,
                    messages_sent: sent,
                    bytes_sent: bytes,
                    latency_ms: latency,
                },
                every,
            );
        }
    }
}

/// The values of [`ProjectMetrics`] at one moment, as `/api/projects` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Binlog bytes received.
    pub binlog_bytes: u64,
    /// Rows read per kind (insert, update, delete).
    pub rows_read: [u64; 3],
    /// Binlog bytes of those rows per kind.
    pub bytes_read: [u64; 3],
    /// Messages acknowledged per kind.
    pub messages_sent: [u64; 3],
    /// Body bytes acknowledged per kind.
    pub bytes_sent: [u64; 3],
    /// Messages not yet acknowledged.
    pub in_flight: u64,
    /// Stream restarts after retryable errors.
    pub retries: u64,
    /// Errors seen.
    pub errors: u64,
    /// Seconds spent in the format module.
    pub format_seconds: f64,
    /// Format module calls.
    pub format_calls: u64,
    /// Seconds spent in filter modules.
    pub filter_seconds: f64,
    /// Filter module calls.
    pub filter_calls: u64,
    /// Latency in seconds (absent before the first checkpoint or heartbeat).
    pub latency_seconds: Option<f64>,
    /// Messages acknowledged per second, over the last samples.
    pub rows_per_second: f64,
    /// Body bytes acknowledged per second, over the last samples.
    pub bytes_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_follows_the_newest_of_checkpoint_and_idle() {
        let m = ProjectMetrics::default();
        assert_eq!(m.latency_ms(10_000), None);
        m.checkpointed(5, 0);
        assert_eq!(m.latency_ms(10_000), Some(5_000));
        m.caught_up_ms.store(9_500, Relaxed);
        assert_eq!(m.latency_ms(10_000), Some(500));
        // An older commit time never moves it back.
        m.checkpointed(1, 0);
        assert_eq!(m.latency_ms(10_000), Some(500));
    }

    #[test]
    fn the_oldest_released_transaction_sets_the_peak() {
        let m = ProjectMetrics::default();
        let now_s = (now_ms() / 1000) as u32;
        // A late transaction released together with a fresh one: the fresh one moves the
        // latency, the late one the peak.
        m.checkpointed(now_s, now_s - 3600);
        let now = now_ms();
        assert!(m.latency_ms(now).is_some_and(|l| l < 5_000));
        assert!(m.take_latency_peak(now).is_some_and(|p| p >= 3_600_000));
    }

    #[test]
    fn latency_peak_is_kept_until_taken() {
        let m = ProjectMetrics::default();
        m.latency_peak_ms.store(100_000, Relaxed);
        m.caught_up_ms.store(9_900, Relaxed);
        assert_eq!(m.take_latency_peak(10_000), Some(100_000));
        assert_eq!(m.take_latency_peak(10_000), Some(100));
    }

    #[test]
    fn sent_ignores_a_bad_kind_index() {
        let m = ProjectMetrics::default();
        m.sent(1, 2, 30);
        m.sent(7, 1, 1);
        let s = m.snapshot(0);
        assert_eq!(s.messages_sent, [0, 2, 0]);
        assert_eq!(s.bytes_sent, [0, 30, 0]);
    }
}
