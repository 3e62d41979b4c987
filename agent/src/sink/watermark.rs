//! The acknowledgement watermark of a pipeline: which submitted batches are fully acknowledged,
//! which commit positions that releases for the checkpoint, and how many messages are not yet
//! below it.
//!
//! Invariants: a marked position is released only once every batch submitted before it is fully
//! acknowledged (so a checkpoint never passes an unacknowledged row); the outstanding count holds
//! every message of every batch from the oldest batch not fully acknowledged on, acknowledged or
//! not. That is what a resume from the released position sends again (an open transaction's rows
//! aside, which have no position to release yet), so a window over it bounds the re-sent messages
//! also when one slow queue holds the watermark while the others race ahead.

use std::collections::{BTreeMap, VecDeque};

use crate::source::Position;

/// A checkpoint released by [`Watermark::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The newest commit whose rows are all acknowledged.
    pub position: Position,
    /// The commit time (s) of the oldest transaction released with it (0: unknown), for the
    /// latency peak: with other transactions after it, a late one is not hidden by the newest.
    pub oldest_timestamp: u32,
}

/// The earlier of two commit times, 0 meaning unknown.
fn older(a: u32, b: u32) -> u32 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    }
}

/// One submitted batch not yet below the watermark.
#[derive(Debug)]
struct Batch {
    /// Messages not acknowledged yet.
    left: usize,
    messages: usize,
    bytes: usize,
}

/// Submitted batches, their acknowledgements and the positions waiting for them.
#[derive(Debug, Default)]
pub struct Watermark {
    /// Batches from the oldest not fully acknowledged on, by id.
    batches: BTreeMap<u64, Batch>,
    /// The id of the last submitted batch (0: none yet).
    last_batch: u64,
    outstanding_messages: usize,
    outstanding_bytes: usize,
    /// Positions waiting for their batches: (last batch before the position, position).
    markers: VecDeque<(u64, Position)>,
}

impl Watermark {
    /// Records a batch of `messages` messages and `bytes` body bytes; returns its id.
    pub fn submit(&mut self, messages: usize, bytes: usize) -> u64 {
        self.last_batch += 1;
        self.outstanding_messages += messages;
        self.outstanding_bytes += bytes;
        if messages > 0 {
            self.batches.insert(
                self.last_batch,
                Batch {
                    left: messages,
                    messages,
                    bytes,
                },
            );
        }
        self.last_batch
    }

    /// `messages` messages of batch `batch` were acknowledged.
    pub fn acknowledge(&mut self, batch: u64, messages: usize) {
        if let Some(b) = self.batches.get_mut(&batch) {
            b.left = b.left.saturating_sub(messages);
        }
        while let Some(entry) = self.batches.first_entry() {
            if entry.get().left > 0 {
                break;
            }
            let b = entry.remove();
            self.outstanding_messages = self.outstanding_messages.saturating_sub(b.messages);
            self.outstanding_bytes = self.outstanding_bytes.saturating_sub(b.bytes);
        }
    }

    /// Records that `position` is reached once everything submitted so far is acknowledged.
    pub fn mark(&mut self, position: Position) {
        self.markers.push_back((self.last_batch, position));
    }

    /// The newest marked position whose batches are all acknowledged, once.
    pub fn release(&mut self) -> Option<Released> {
        let lowest_pending = self.batches.keys().next().copied().unwrap_or(u64::MAX);
        let mut safe: Option<Released> = None;
        while self
            .markers
            .front()
            .is_some_and(|(batch, _)| *batch < lowest_pending)
        {
            let Some((_, position)) = self.markers.pop_front() else {
                break;
            };
            let oldest = safe.as_ref().map_or(position.timestamp, |r| {
                older(r.oldest_timestamp, position.timestamp)
            });
            safe = Some(Released {
                position,
                oldest_timestamp: oldest,
            });
        }
        safe
    }

    /// Messages and bytes not yet below the watermark (see the module invariants).
    pub fn outstanding(&self) -> (usize, usize) {
        (self.outstanding_messages, self.outstanding_bytes)
    }

    /// True when every submitted message is acknowledged.
    pub fn all_acknowledged(&self) -> bool {
        self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Position {
        Position {
            file: "b.000001".into(),
            offset,
            gtid: None,
            timestamp: offset as u32,
            sequence: 0,
        }
    }

    #[test]
    fn older_ignores_unknown_commit_times() {
        assert_eq!(older(0, 7), 7);
        assert_eq!(older(7, 0), 7);
        assert_eq!(older(9, 7), 7);
        assert_eq!(older(0, 0), 0);
    }

    #[test]
    fn a_position_is_released_once_everything_before_it_is_acknowledged() {
        let mut w = Watermark::default();
        let a = w.submit(2, 20);
        w.mark(at(100));
        let b = w.submit(1, 10);
        w.mark(at(200));
        w.acknowledge(b, 1);
        assert_eq!(w.release(), None, "batch a is not acknowledged yet");
        w.acknowledge(a, 1);
        assert_eq!(w.release(), None);
        w.acknowledge(a, 1);
        let r = w.release().expect("both released");
        assert_eq!((r.position.offset, r.oldest_timestamp), (200, 100));
        assert_eq!(w.release(), None, "released once");
        assert!(w.all_acknowledged());
        assert_eq!(w.outstanding(), (0, 0));
    }

    #[test]
    fn messages_acknowledged_behind_a_slow_batch_stay_outstanding() {
        // One queue stalls on batch 1; the other queues' batches 2..=10 are acknowledged. A crash
        // now resumes before batch 1 and sends all ten again: all ten count against the window.
        let mut w = Watermark::default();
        let slow = w.submit(100, 1000);
        w.mark(at(10));
        for _ in 0..9 {
            let b = w.submit(100, 1000);
            w.mark(at(20 + b));
            w.acknowledge(b, 100);
        }
        assert_eq!(w.release(), None);
        assert_eq!(w.outstanding(), (1000, 10_000));
        w.acknowledge(slow, 100);
        assert_eq!(w.outstanding(), (0, 0));
        assert_eq!(w.release().map(|r| r.position.offset), Some(30));
    }

    #[test]
    fn an_empty_batch_holds_nothing() {
        let mut w = Watermark::default();
        w.submit(0, 0);
        w.mark(at(5));
        assert_eq!(w.release().map(|r| r.position.offset), Some(5));
        assert!(w.all_acknowledged());
    }
}
