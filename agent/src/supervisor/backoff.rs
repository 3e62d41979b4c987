//! How long a project waits before trying again: doubling from a short first wait to a cap,
//! and back to the short wait once a try stayed healthy for a while.
//!
//! Invariants: waits never exceed the cap; a try that ran at least `healthy_after` resets the
//! sequence, so a stream that breaks once a day does not wait the cap after months of uptime.

use std::time::Duration;

/// The wait sequence of one project.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    healthy_after: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits from `first`, doubling up to `cap`; a try lasting `healthy_after` resets them.
    pub fn new(first: Duration, cap: Duration, healthy_after: Duration) -> Self {
        Backoff {
            first,
            cap,
            healthy_after,
            next: first,
        }
    }

    /// A try failed after running for `ran_for`: returns how long to wait before the next.
    pub fn failed(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.healthy_after {
            self.next = self.first;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(self.cap);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_to_the_cap_then_resets_after_a_healthy_run() {
        let mut b = Backoff::new(200 * MS, 1000 * MS, 60_000 * MS);
        let quick = 10 * MS;
        let waits: Vec<_> = (0..5).map(|_| b.failed(quick)).collect();
        assert_eq!(waits, [200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]);
        // A try that ran for the healthy period starts the sequence over.
        assert_eq!(b.failed(60_000 * MS), 200 * MS);
        assert_eq!(b.failed(quick), 400 * MS);
    }
}
