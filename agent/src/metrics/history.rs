//! A bounded ring of periodic samples of one project's counters: the source of the rates in
//! `/api/projects` and of the status page's chart.
//!
//! Invariant: samples are in time order, at least the sampling interval apart, and at most
//! [`History::CAPACITY`] are kept (10 minutes at one sample every 2 s).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Messages acknowledged so far.
    pub messages_sent: u64,
    /// Body bytes acknowledged so far.
    pub bytes_sent: u64,
    /// Latency then (ms).
    pub latency_ms: Option<u64>,
}

/// One point of the chart: rates between two samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Messages per second since the previous sample.
    pub rows_per_second: f64,
    /// Bytes per second since the previous sample.
    pub bytes_per_second: f64,
    /// Latency in seconds.
    pub latency_seconds: Option<f64>,
}

/// The ring of samples.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

/// Rates are averaged over this window.
const RATE_WINDOW_MS: u64 = 10_000;

impl History {
    /// Samples kept at most.
    pub const CAPACITY: usize = 300;

    /// Adds a sample unless the newest is younger than `every`.
    pub fn push(&mut self, s: Sample, every: Duration) {
        if let Some(last) = self.samples.back()
            && s.at_ms < last.at_ms.saturating_add(every.as_millis() as u64)
        {
            return;
        }
        if self.samples.len() == Self::CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    /// Messages and bytes per second over the last ten seconds of samples (0 with fewer than two).
    pub fn rates(&self) -> (f64, f64) {
        let Some(last) = self.samples.back() else {
            return (0.0, 0.0);
        };
        let first = self
            .samples
            .iter()
            .find(|s| s.at_ms + RATE_WINDOW_MS >= last.at_ms)
            .unwrap_or(last);
        rate(first, last)
    }

    /// The chart's points, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(a, b)| {
                let (rows_per_second, bytes_per_second) = rate(a, b);
                Point {
                    at_ms: b.at_ms,
                    rows_per_second,
                    bytes_per_second,
                    latency_seconds: b.latency_ms.map(|l| l as f64 / 1000.0),
                }
            })
            .collect()
    }
}

fn rate(a: &Sample, b: &Sample) -> (f64, f64) {
    let dt = b.at_ms.saturating_sub(a.at_ms) as f64 / 1000.0;
    if dt <= 0.0 {
        return (0.0, 0.0);
    }
    (
        b.messages_sent.saturating_sub(a.messages_sent) as f64 / dt,
        b.bytes_sent.saturating_sub(a.bytes_sent) as f64 / dt,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: u64, messages_sent: u64) -> Sample {
        Sample {
            at_ms,
            messages_sent,
            bytes_sent: messages_sent * 10,
            latency_ms: Some(0),
        }
    }

    #[test]
    fn rates_over_the_window() {
        let mut h = History::default();
        assert_eq!(h.rates(), (0.0, 0.0));
        let every = Duration::from_secs(2);
        for i in 0..10 {
            h.push(s(i * 2000, i * 100), every);
        }
        // Too soon: ignored.
        h.push(s(18_500, 99_999), every);
        assert_eq!(h.rates(), (50.0, 500.0));
        let points = h.points();
        assert_eq!(points.len(), 9);
        assert_eq!(points[0].rows_per_second, 50.0);
    }

    #[test]
    fn capacity_is_bounded() {
        let mut h = History::default();
        for i in 0..(History::CAPACITY as u64 + 50) {
            h.push(s(i * 1000, i), Duration::from_secs(1));
        }
        assert_eq!(h.points().len(), History::CAPACITY - 1);
    }
}
