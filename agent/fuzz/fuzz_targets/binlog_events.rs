//! The event decoder's state machine over arbitrary binlog bytes (after the magic number), as
//! the live reader drives it: events, released rows, compressed payloads. Errors are fine;
//! a panic or an unbounded allocation is not.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use obsync::checkpoint::Position;
use obsync::schema::history::SchemaHistory;
use obsync::source::EventDecoder;

fn tree() -> sled::Tree {
    static DB: OnceLock<sled::Db> = OnceLock::new();
    DB.get_or_init(|| sled::Config::new().temporary(true).open().expect("sled"))
        .open_tree("schemas")
        .expect("tree")
}

fuzz_target!(|data: &[u8]| {
    let start = Position {
        file: "fuzz.000001".into(),
        offset: 4,
        gtid: None,
        timestamp: 0,
    };
    let Ok(history) = SchemaHistory::load(tree(), ("fuzz.000001", 4)) else {
        return;
    };
    let mut decoder = EventDecoder::new(&start, history, false).with_unnamed_columns();
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    let mut input = data;
    let all = |_: &str, _: &str| true;
    // Events arrive framed, as from the replication protocol (whose packet carries the event's
    // length); `mysql_common`'s file reader would allocate a damaged header's claimed size.
    // Checksums are not verified, so damage reaches the table map and row decoders.
    loop {
        let Some(size) = input
            .get(9..13)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            return;
        };
        if size < 19 || size > input.len() {
            return;
        }
        let (mut event, rest) = input.split_at(size);
        input = rest;
        let Ok(Some(ev)) = reader.read_decompressed(&mut event) else {
            return;
        };
        if decoder.handle(&ev, &all).is_err() {
            return;
        }
        while decoder.next_released().is_some() {}
        loop {
            match decoder.next_payload_event() {
                Ok(Some(inner)) => {
                    if decoder.handle(&inner, &all).is_err() {
                        return;
                    }
                    while decoder.next_released().is_some() {}
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
