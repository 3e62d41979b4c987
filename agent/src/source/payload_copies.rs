//! The second expansion of MySQL 8 transaction payloads, recognised and dropped.
//!
//! `mysql_async`'s binlog stream expands a TRANSACTION_PAYLOAD itself: after handing over the
//! payload event it yields the inner events again, as copies with `log_pos` 0. obsync expands the
//! payload its own way ([`super::payload::PayloadEvents`]: streaming, errors reported; the
//! library's copy silently yields nothing on a bad zstd frame), so the copies must not be handled
//! a second time: every row would be sent twice and positions would point at offset 0.
//!
//! Invariants: a stream event is dropped only if it is the next expected copy — `log_pos` 0, the
//! same event type and size as the inner event obsync read at that place, in order; the first
//! event that is not ends the expectation (the library produced fewer copies: nothing of ours
//! is dropped). Memory: five bytes per inner event of the current payload.

use std::collections::VecDeque;

use mysql_common::binlog::events::Event;

/// The inner events of the last payload, as the copies the library is about to re-emit.
#[derive(Debug, Default)]
pub struct LibraryCopies {
    expected: VecDeque<(u8, u32)>,
    dropped: u64,
}

impl LibraryCopies {
    /// Records an inner event obsync read from a payload: the library re-emits it next.
    pub fn expect(&mut self, inner: &Event) {
        let header = inner.header();
        self.expected
            .push_back((header.event_type_raw(), header.event_size()));
    }

    /// Whether `ev`, read from the stream, is the library's copy of the next inner event
    /// (dropped by the caller); any other event ends the expectation.
    pub fn is_copy(&mut self, ev: &Event) -> bool {
        let Some(&(kind, size)) = self.expected.front() else {
            return false;
        };
        let header = ev.header();
        if header.log_pos() == 0 && header.event_type_raw() == kind && header.event_size() == size {
            self.expected.pop_front();
            self.dropped += 1;
            true
        } else {
            self.expected.clear();
            false
        }
    }

    /// How many copies were dropped so far.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::binlog::EventStreamReader;
    use mysql_common::binlog::consts::BinlogVersion;

    /// The events of the `transaction_compression` fixture, and the library's expansion of its
    /// payload (what `mysql_async`'s stream yields after the payload event).
    fn outer_and_copies() -> (Vec<Event>, Vec<Event>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mysql-binlog/transaction_compression.000001"
        );
        let bytes = std::fs::read(path).expect("fixture");
        let mut reader = EventStreamReader::new(BinlogVersion::Version4);
        let mut input = &bytes[4..];
        let (mut outer, mut copies) = (Vec::new(), Vec::new());
        while let Some(ev) = reader.read(&mut input).expect("event") {
            let payload = ev.read_event::<mysql_common::binlog::events::TransactionPayloadEvent>();
            if let Ok(p) = payload {
                let inner = p.danger_decompress();
                let mut cursor = std::io::Cursor::new(inner);
                while let Some(c) = reader.read_decompressed(&mut cursor).expect("copy") {
                    copies.push(c);
                }
            }
            outer.push(ev);
        }
        (outer, copies)
    }

    #[test]
    fn drops_exactly_the_copies_in_order() {
        let (outer, copies) = outer_and_copies();
        assert!(
            copies.len() >= 3,
            "the fixture's payload holds a transaction"
        );
        let mut filter = LibraryCopies::default();
        for c in &copies {
            filter.expect(c);
        }
        assert!(copies.iter().all(|c| filter.is_copy(c)));
        assert_eq!(filter.dropped(), copies.len() as u64);
        // Nothing is expected any more: the next real event is kept.
        assert!(!filter.is_copy(&outer[outer.len() - 1]));
    }

    #[test]
    fn a_missing_copy_ends_the_expectation_and_drops_nothing_real() {
        let (outer, copies) = outer_and_copies();
        let mut filter = LibraryCopies::default();
        for c in &copies {
            filter.expect(c);
        }
        // The library yielded no copies (its decompression failed): the next real event, with
        // its own log_pos, is kept, and so is every one after it.
        let real = outer
            .iter()
            .find(|e| e.header().log_pos() != 0)
            .expect("event");
        assert!(!filter.is_copy(real));
        assert!(!filter.is_copy(&copies[0]), "the expectation ended");
        assert_eq!(filter.dropped(), 0);
    }
}
