//! Decoded rows/s on pre-written binlog files, per table, for our decoder (per-table cached
//! layout, `mysql_common`'s value parser) and for `mysql_common`'s row API (`re.rows(tme)`,
//! touching every value), side by side with the raw event read (framing, header, checksum) of
//! the same files. Prints a table; asserts nothing.
//!
//! Run through `BENCH_DECODE=1 scripts/bench.sh`, which writes 1M wide (32 columns) and 1M narrow
//! rows into the private MariaDB and passes their binlog files in `OBSYNC_DECODE_BINLOGS`
//! (colon-separated) and the tables in `OBSYNC_DECODE_TABLES` (`db.table` comma-separated).
//!
//! For the first table it also times the project's row path without the sink: decode, batch
//! (routing, dedupe keys, 1,024-row batches) and the Default format, once as the embedded WASM
//! module and once compiled natively into the host.

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use obsync::config::{KeyChange, ObjectConfig};
use obsync::route::PendingBatch;
use obsync::route::Router;
use obsync::schema::{SourceTable, from_table_map};
use obsync::source::RowsChunk;
use obsync::source::decode::decode_rows;
use obsync::source::parsed_data;
use obsync_sdk::{ChangeKind, FormatBatch, FormatOptions};

/// Rows per module call, as the project's flushes make them under load.
const BATCH_ROWS: usize = 1024;

/// Every event of the files, framed and read (checksums verified).
fn events(files: &[Vec<u8>]) -> (Vec<Event>, u64, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut bytes = 0u64;
    for file in files {
        let mut reader = EventStreamReader::new(BinlogVersion::Version4);
        let mut at = 4usize;
        while at + 19 <= file.len() {
            let size =
                u32::from_le_bytes([file[at + 9], file[at + 10], file[at + 11], file[at + 12]])
                    as usize;
            if size < 19 || at + size > file.len() {
                break;
            }
            let mut slice = &file[at..at + size];
            at += size;
            bytes += size as u64;
            match reader.read(&mut slice) {
                Ok(Some(ev)) => out.push(ev),
                _ => break,
            }
        }
    }
    (out, bytes, started.elapsed())
}

/// (database, table) of every table id.
fn table_ids(events: &[Event]) -> HashMap<u64, (String, String)> {
    let mut ids = HashMap::new();
    for ev in events {
        if let Ok(Some(EventData::TableMapEvent(t))) = parsed_data(ev) {
            ids.insert(
                t.table_id(),
                (t.database_name().into_owned(), t.table_name().into_owned()),
            );
        }
    }
    ids
}

/// Schemas by table id, with the table map event they came from.
type Tables = HashMap<u64, (Vec<u8>, Arc<SourceTable>)>;

/// Caches the schema of a table map of the wanted table, once per distinct table map (the
/// reader's cache).
fn remember(tables: &mut Tables, ev: &Event, tme: &TableMapEvent<'_>, wanted: &(String, String)) {
    let fresh = tables
        .get(&tme.table_id())
        .is_none_or(|(raw, _)| raw.as_slice() != ev.data());
    if fresh
        && (tme.database_name(), tme.table_name())
            == (wanted.0.as_str().into(), wanted.1.as_str().into())
        && let Ok(t) = from_table_map(tme)
    {
        tables.insert(tme.table_id(), (ev.data().to_vec(), Arc::new(t)));
    }
}

/// Ours: the reader's path (schema cached per table map, our row decoder).
fn ours(events: &[Event], wanted: &(String, String)) -> (u64, Duration) {
    let started = Instant::now();
    let mut tables = Tables::new();
    let mut rows = 0u64;
    for ev in events {
        match parsed_data(ev) {
            Ok(Some(EventData::TableMapEvent(tme))) => remember(&mut tables, ev, &tme, wanted),
            Ok(Some(EventData::RowsEvent(re))) => {
                if let Some((_, t)) = tables.get(&re.table_id())
                    && let Ok(decoded) = decode_rows(&re, t)
                {
                    rows += decoded.len() as u64;
                    black_box(decoded);
                }
            }
            _ => {}
        }
    }
    (rows, started.elapsed())
}

/// Decode, batch and format (`format` returns the body bytes it made): the project's row path
/// without the sink.
fn formatted(
    events: &[Event],
    wanted: &(String, String),
    format: &mut dyn FnMut(&FormatBatch) -> usize,
) -> (u64, Duration) {
    let started = Instant::now();
    let router = Router::new(
        &[ObjectConfig::new(&wanted.0, &wanted.1, "bench")],
        &[],
        KeyChange::default(),
    );
    let target = router.route(&wanted.0, &wanted.1).expect("route");
    let options = FormatOptions {
        db_type: "MYSQL".into(),
        ..FormatOptions::default()
    };
    let transaction_id: Arc<str> = Arc::from("0-1-1");
    let position: Arc<str> = Arc::from("mariadb-bin.000001:4");
    let mut tables = Tables::new();
    let mut batch = PendingBatch::default();
    let (mut rows, mut bytes, mut index) = (0u64, 0usize, 0u32);
    for ev in events {
        match parsed_data(ev) {
            Ok(Some(EventData::TableMapEvent(tme))) => remember(&mut tables, ev, &tme, wanted),
            Ok(Some(EventData::RowsEvent(re))) => {
                let Some((_, t)) = tables.get(&re.table_id()) else {
                    continue;
                };
                let Ok(decoded) = decode_rows(&re, t) else {
                    continue;
                };
                let kind = match re {
                    RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                        ChangeKind::Insert
                    }
                    RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                        ChangeKind::Delete
                    }
                    _ => ChangeKind::Update,
                };
                rows += decoded.len() as u64;
                let first_index = index;
                index = index.wrapping_add(decoded.len() as u32);
                let chunk = RowsChunk {
                    table: t.clone(),
                    kind,
                    rows: decoded,
                    timestamp: ev.header().timestamp(),
                    transaction_id: transaction_id.clone(),
                    first_index,
                    position: position.clone(),
                    server_id: 1,
                    event_bytes: ev.data().len() as u32,
                };
                batch.push(chunk, target, None, 0).expect("batch");
                if batch.len() >= BATCH_ROWS {
                    bytes += format(&batch.take(&options).batch);
                }
            }
            _ => {}
        }
    }
    if !batch.is_empty() {
        bytes += format(&batch.take(&options).batch);
    }
    black_box(bytes);
    (rows, started.elapsed())
}

/// The crate's row API: `re.rows(tme)` and every value touched.
fn crate_api(
    events: &[Event],
    wanted: &(String, String),
    ids: &HashMap<u64, (String, String)>,
) -> (u64, Duration) {
    let started = Instant::now();
    let mut tmes = HashMap::new();
    let mut rows = 0u64;
    for ev in events {
        match ev.read_data() {
            Ok(Some(EventData::TableMapEvent(tme))) => {
                tmes.insert(tme.table_id(), tme.into_owned());
            }
            Ok(Some(EventData::RowsEvent(re))) => {
                if ids.get(&re.table_id()) != Some(wanted) {
                    continue;
                }
                let Some(tme) = tmes.get(&re.table_id()) else {
                    continue;
                };
                for row in re.rows(tme) {
                    let Ok((before, after)) = row else { break };
                    for image in [before, after].into_iter().flatten() {
                        for i in 0..image.len() {
                            black_box(image.as_ref(i));
                        }
                    }
                    rows += 1;
                }
            }
            _ => {}
        }
    }
    (rows, started.elapsed())
}

fn main() {
    let (Ok(files), Ok(tables)) = (
        std::env::var("OBSYNC_DECODE_BINLOGS"),
        std::env::var("OBSYNC_DECODE_TABLES"),
    ) else {
        println!(
            "decode bench: set OBSYNC_DECODE_BINLOGS and OBSYNC_DECODE_TABLES (BENCH_DECODE=1 scripts/bench.sh does)"
        );
        return;
    };
    let files: Vec<Vec<u8>> = files
        .split(':')
        .filter(|f| !f.is_empty())
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let (events, bytes, raw) = events(&files);
    let ids = table_ids(&events);
    println!(
        "raw event read: {} events, {:.1} MB in {:.3} s = {:.0} MB/s",
        events.len(),
        bytes as f64 / 1e6,
        raw.as_secs_f64(),
        bytes as f64 / 1e6 / raw.as_secs_f64()
    );
    println!(
        "{:<24} {:>10} {:>16} {:>16} {:>7}",
        "table", "rows", "ours rows/s", "crate rows/s", "ratio"
    );
    for spec in tables.split(',') {
        let Some((db, table)) = spec.split_once('.') else {
            continue;
        };
        let wanted = (db.to_string(), table.to_string());
        // Best of three, each path.
        let best = |f: &dyn Fn() -> (u64, Duration)| {
            (0..3)
                .map(|_| f())
                .min_by_key(|(_, d)| *d)
                .unwrap_or_default()
        };
        let (n_ours, t_ours) = best(&|| ours(&events, &wanted));
        let (n_crate, t_crate) = best(&|| crate_api(&events, &wanted, &ids));
        let ours_rate = n_ours as f64 / t_ours.as_secs_f64();
        let crate_rate = n_crate as f64 / t_crate.as_secs_f64();
        println!(
            "{spec:<24} {n_ours:>10} {ours_rate:>16.0} {crate_rate:>16.0} {:>6.1}x{}",
            ours_rate / crate_rate,
            if n_ours == n_crate {
                ""
            } else {
                "  (row counts differ!)"
            }
        );
    }
    let Some((db, table)) = tables.split(',').next().and_then(|s| s.split_once('.')) else {
        return;
    };
    let wanted = (db.to_string(), table.to_string());
    let (_engine, mut instance) = common::default_format_instance();
    let mut wasm = |b: &FormatBatch| -> usize {
        let out = instance.format(b).expect("wasm format");
        out.messages.iter().map(|m| m.body.len()).sum()
    };
    let mut native = |b: &FormatBatch| -> usize {
        let out = obsync_format_default::format_batch(&b.into()).expect("native format");
        out.messages.iter().map(|m| m.body.len()).sum()
    };
    let (n, t_native) = formatted(&events, &wanted, &mut native);
    let (_, t_wasm) = formatted(&events, &wanted, &mut wasm);
    let native_rate = n as f64 / t_native.as_secs_f64();
    let wasm_rate = n as f64 / t_wasm.as_secs_f64();
    println!(
        "decode + batch + Default format, {db}.{table} ({n} rows, {BATCH_ROWS}-row batches): \
         native {native_rate:.0} rows/s, WASM {wasm_rate:.0} rows/s, WASM / native {:.2}",
        wasm_rate / native_rate
    );
}
