//! Numbers a project's messages: the in-transaction number (SharePlex `seq`) and the stream sort
//! sequence (Default `storeDataSequence`, SharePlex `scn`).
//!
//! Invariants: messages are numbered after every filter, in commit order, so `seq` counts 1, 2,
//! 3… with no gap within a transaction (the two halves of a split UPDATE are two numbers) and the
//! stream sequence strictly increases along the stream. The stream sequence is the commit second
//! times [`PER_SECOND`] plus a counter within that second; past 99 999 changes in one second, or
//! when commit times step back, it is the previous value plus one (ahead of the second until the
//! stream catches up), never a repeat. Its value at each commit is stored with the checkpoint, so
//! a resumed stream numbers the changes it reads again exactly as the first time.

use obsync_sdk::{ChangeMeta, RowChange};

/// Sequence numbers per second: the counter has at most five digits.
pub const PER_SECOND: u64 = 100_000;

/// The numbering state of one stream.
#[derive(Debug, Default)]
pub struct Sequencer {
    /// The last stream sequence given (0 before any).
    last: u64,
    /// The transaction of the last numbered message.
    transaction: String,
    /// Messages of that transaction numbered so far.
    in_transaction: u32,
}

impl Sequencer {
    /// Starts after a checkpoint whose last stream sequence was `last` (at a commit: the next
    /// message opens a new transaction).
    pub fn resume(last: u64) -> Sequencer {
        Sequencer {
            last,
            ..Sequencer::default()
        }
    }

    /// The last stream sequence given.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Numbers the next message of the stream.
    pub fn number(&mut self, meta: &mut ChangeMeta) {
        if meta.transaction_id != self.transaction {
            self.transaction.clone_from(&meta.transaction_id);
            self.in_transaction = 0;
        }
        self.in_transaction = self.in_transaction.saturating_add(1);
        meta.sequence_in_transaction = self.in_transaction;
        self.last = (u64::from(meta.timestamp) * PER_SECOND).max(self.last.saturating_add(1));
        meta.stream_sequence = self.last;
    }

    /// Numbers the rows left in a batch after the filters. `origins[i]` is the index row `i`
    /// had before filtering; `boundaries` are the batch's commit boundaries (a commit covers the
    /// rows whose origin is below its boundary), in order. Returns the last stream sequence at
    /// each boundary, the value its checkpoint stores.
    pub fn number_batch(
        &mut self,
        rows: &mut [RowChange],
        origins: &[usize],
        boundaries: impl IntoIterator<Item = usize>,
    ) -> Vec<u64> {
        let mut at = Vec::new();
        let mut sent = rows.iter_mut().zip(origins).peekable();
        for boundary in boundaries {
            while let Some((row, _)) = sent.next_if(|(_, origin)| **origin < boundary) {
                self.number(&mut row.meta);
            }
            at.push(self.last);
        }
        for (row, _) in sent {
            // Rows of the transaction still open.
            self.number(&mut row.meta);
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(transaction: &str, timestamp: u32) -> ChangeMeta {
        ChangeMeta {
            timestamp,
            transaction_id: transaction.into(),
            position: String::new(),
            index_in_transaction: 0,
            dedupe_key: String::new(),
            server_id: 1,
            sequence_in_transaction: 0,
            stream_sequence: 0,
        }
    }

    fn run(s: &mut Sequencer, rows: &[(&str, u32)]) -> Vec<(u32, u64)> {
        rows.iter()
            .map(|(t, ts)| {
                let mut m = meta(t, *ts);
                s.number(&mut m);
                (m.sequence_in_transaction, m.stream_sequence)
            })
            .collect()
    }

    #[test]
    fn counts_along_the_stream_within_a_second_and_per_transaction() {
        let mut s = Sequencer::default();
        let got = run(
            &mut s,
            &[("a", 100), ("a", 100), ("b", 100), ("c", 101), ("c", 101)],
        );
        assert_eq!(
            got,
            [
                (1, 10_000_000),
                (2, 10_000_001),
                (1, 10_000_002),
                (1, 10_100_000),
                (2, 10_100_001)
            ]
        );
    }

    #[test]
    fn past_the_five_digits_or_a_clock_step_back_it_still_increases() {
        let mut s = Sequencer::resume(7 * PER_SECOND + 99_999);
        let got = run(&mut s, &[("a", 7), ("a", 8), ("b", 6)]);
        assert_eq!(
            got,
            [
                (1, 8 * PER_SECOND),
                (2, 8 * PER_SECOND + 1),
                (1, 8 * PER_SECOND + 2)
            ]
        );
    }

    #[test]
    fn a_filtered_batch_is_numbered_without_gaps_and_each_commit_gets_its_last_number() {
        let row = |t: &str| obsync_sdk::RowChange {
            table: 0,
            kind: obsync_sdk::ChangeKind::Insert,
            before: None,
            after: Some(Vec::new()),
            meta: meta(t, 9),
        };
        // Rows 0..6 before the filters: `a` = 0..2, `b` = 2..5, `c` (open) = 5..6; rows 1 and 3
        // were dropped.
        let mut rows = vec![row("a"), row("b"), row("b"), row("c")];
        let origins = [0, 2, 4, 5];
        let mut s = Sequencer::default();
        let at = s.number_batch(&mut rows, &origins, [2, 5]);
        let seq: Vec<(u32, u64)> = rows
            .iter()
            .map(|r| (r.meta.sequence_in_transaction, r.meta.stream_sequence))
            .collect();
        let base = 9 * PER_SECOND;
        assert_eq!(
            seq,
            [(1, base), (1, base + 1), (2, base + 2), (1, base + 3)]
        );
        assert_eq!(at, [base, base + 2]);
        // A commit whose rows were all dropped stores the number before it.
        let mut s = Sequencer::resume(base + 3);
        assert_eq!(s.number_batch(&mut [], &[], [4]), [base + 3]);
    }

    #[test]
    fn a_resumed_stream_numbers_as_the_first_one() {
        let rows = [("a", 5), ("b", 5), ("b", 5), ("c", 5)];
        let mut first = Sequencer::default();
        let all = run(&mut first, &rows);
        // A checkpoint after transaction `a`: the changes read again get the same numbers.
        let mut again = Sequencer::resume(all[0].1);
        assert_eq!(run(&mut again, &rows[1..]), all[1..]);
    }
}
