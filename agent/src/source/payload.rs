//! MySQL 8 transaction payloads (`binlog_transaction_compression=ON`): one TRANSACTION_PAYLOAD
//! event carries a whole transaction's events (BEGIN, table maps, rows, XID), usually
//! zstd-compressed. [`PayloadEvents`] yields them one at a time.
//!
//! Invariants: memory is the compressed payload plus one inner event, whatever the transaction's
//! size (the decompressor streams; `mysql_common`'s own payload reader borrows the event, so it
//! cannot be kept across reads); inner events carry no checksum (the payload event's own was
//! verified); a payload nested in a payload, a bad zstd frame or a truncated inner event is an
//! error, never a silent end.

use std::io::{BufRead, BufReader, Cursor, Read};

use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::{BinlogVersion, TransactionPayloadCompressionType};
use mysql_common::binlog::events::{Event, TransactionPayloadEvent};

use super::mariadb_compression::HEADER_LEN;

/// The inner events of one transaction payload.
pub struct PayloadEvents {
    input: Box<dyn BufRead + Send>,
    reader: EventStreamReader,
    /// End offset of the payload event in its binlog file: the position of every inner event.
    pub end_pos: u32,
    /// Start offset of the payload event (names a transaction without a GTID).
    pub start_pos: u64,
}

impl PayloadEvents {
    /// Starts reading the events inside `payload`, which spans `start_pos..end_pos` in its
    /// binlog file.
    pub fn new(
        payload: &TransactionPayloadEvent<'_>,
        end_pos: u32,
        start_pos: u64,
    ) -> std::io::Result<Self> {
        let bytes = Cursor::new(payload.payload_raw().to_vec());
        let input: Box<dyn BufRead + Send> = match payload.algorithm() {
            TransactionPayloadCompressionType::NONE => Box::new(bytes),
            TransactionPayloadCompressionType::ZSTD => {
                let decoder = zstd::stream::read::Decoder::with_buffer(bytes)?;
                Box::new(BufReader::new(decoder))
            }
        };
        Ok(PayloadEvents {
            input,
            reader: EventStreamReader::new(BinlogVersion::Version4),
            end_pos,
            start_pos,
        })
    }

    /// Returns the next inner event, or `None` at the end of the payload.
    ///
    /// The inner event's header is read first and its claimed size checked: `mysql_common`'s
    /// stream reader allocates that size before reading (a damaged header claiming gigabytes
    /// would take the process down) and panics on a short read. The body is read as it comes.
    pub fn next_event(&mut self) -> std::io::Result<Option<Event>> {
        let mut header = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match self.input.read(&mut header[got..])? {
                0 if got == 0 => return Ok(None),
                0 => return Err(std::io::Error::other("truncated event header")),
                n => got += n,
            }
        }
        let size = u32::from_le_bytes([header[9], header[10], header[11], header[12]]) as usize;
        if !(HEADER_LEN..=MAX_INNER_EVENT).contains(&size) {
            return Err(std::io::Error::other(format!(
                "inner event claims {size} bytes (at least {HEADER_LEN}, at most {MAX_INNER_EVENT})"
            )));
        }
        let mut bytes = header.to_vec();
        (&mut self.input)
            .take((size - HEADER_LEN) as u64)
            .read_to_end(&mut bytes)?;
        if bytes.len() != size {
            return Err(std::io::Error::other(format!(
                "truncated inner event: {} of {size} bytes",
                bytes.len()
            )));
        }
        self.reader.read_decompressed(&mut bytes.as_slice())
    }
}

/// The largest inner event: the server's own packet limit (`max_allowed_packet` at most 1 GiB).
const MAX_INNER_EVENT: usize = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::binlog::events::EventData;

    /// The payload event of the `transaction_compression` fixture (MySQL 8, zstd).
    fn fixture_payload() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mysql-binlog/transaction_compression.000001"
        );
        std::fs::read(path).expect("fixture")
    }

    fn inner_types(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut reader = EventStreamReader::new(BinlogVersion::Version4);
        let mut input = &bytes[4..];
        while let Some(ev) = reader.read(&mut input)? {
            if let Ok(Some(EventData::TransactionPayloadEvent(p))) = ev.read_data() {
                let mut events = PayloadEvents::new(&p, ev.header().log_pos(), 0)?;
                let mut types = Vec::new();
                while let Some(inner) = events.next_event()? {
                    types.push(inner.header().event_type_raw());
                }
                return Ok(types);
            }
        }
        Err(std::io::Error::other("no payload event"))
    }

    #[test]
    fn streams_the_events_of_a_compressed_payload() {
        // QUERY (BEGIN), TABLE_MAP, WRITE_ROWS v2, XID.
        assert_eq!(
            inner_types(&fixture_payload()).unwrap(),
            vec![2, 19, 30, 16]
        );
    }

    #[test]
    fn a_damaged_payload_is_an_error_not_an_end() {
        let bytes = fixture_payload();
        let mut reader = EventStreamReader::new(BinlogVersion::Version4);
        let mut input = &bytes[4..];
        while let Some(ev) = reader.read(&mut input).unwrap() {
            if let Ok(Some(EventData::TransactionPayloadEvent(p))) = ev.read_data() {
                let mut raw = p.payload_raw().to_vec();
                let cut = raw.len() / 2;
                raw.truncate(cut);
                let damaged = TransactionPayloadEvent::new(
                    raw.len() as u64,
                    p.algorithm(),
                    p.uncompressed_size(),
                    raw,
                );
                let mut events = PayloadEvents::new(&damaged, 0, 0).unwrap();
                let mut result = Ok(Some(()));
                while let Ok(Some(())) = result {
                    result = events.next_event().map(|e| e.map(|_| ()));
                }
                assert!(result.is_err(), "a truncated payload must not end cleanly");
                return;
            }
        }
        panic!("no payload event in the fixture");
    }

    #[test]
    fn an_inner_event_claiming_gigabytes_is_an_error_not_an_allocation() {
        // Found by the binlog_events fuzz target: the stream reader allocated the claimed size.
        for claimed in [u32::MAX, (1 << 30) + 1, 18] {
            let mut inner = vec![0u8; HEADER_LEN + 4];
            inner[4] = 2; // QUERY
            inner[9..13].copy_from_slice(&claimed.to_le_bytes());
            let p = TransactionPayloadEvent::new(
                inner.len() as u64,
                TransactionPayloadCompressionType::NONE,
                inner.len() as u64,
                inner,
            );
            let mut events = PayloadEvents::new(&p, 0, 0).unwrap();
            let err = events.next_event().expect_err("a size past the limit");
            assert!(err.to_string().contains("claims"), "{err}");
        }
        // A size within the limit but past the data: truncated, no panic.
        let mut inner = vec![0u8; HEADER_LEN + 4];
        inner[9..13].copy_from_slice(&1000u32.to_le_bytes());
        let p =
            TransactionPayloadEvent::new(23, TransactionPayloadCompressionType::NONE, 23, inner);
        let err = PayloadEvents::new(&p, 0, 0)
            .unwrap()
            .next_event()
            .expect_err("truncated");
        assert!(err.to_string().contains("truncated inner event"), "{err}");
    }
}
