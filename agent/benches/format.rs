//! Rows/s of the Default format as the embedded WASM module (MessagePack in, messages out, through
//! wasmtime) against the same format code compiled natively into the host, on the same batches.
//! Native and WASM run in alternating half-second rounds and the best round of each is kept.
//! Prints numbers; asserts nothing. Run: `cargo bench -p obsync --bench format`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use obsync_sdk::{
    ABI_VERSION, ChangeKind, ChangeMeta, ColumnSchema, ColumnType, FormatBatch, FormatOptions,
    RowChange, TableSchema, Value,
};

/// A 32-column table of mixed types, like the wide table of the decoder benchmark.
fn wide_schema() -> TableSchema {
    let kinds = [
        (ColumnType::BigInt, "bigint unsigned"),
        (ColumnType::Int, "int"),
        (ColumnType::VarChar, "varchar(255)"),
        (ColumnType::Decimal, "decimal(20,6)"),
        (ColumnType::Double, "double"),
        (ColumnType::DateTime, "datetime(6)"),
        (ColumnType::Timestamp, "timestamp(6)"),
        (ColumnType::Blob, "blob"),
    ];
    let columns = (0..32)
        .map(|i| {
            let (t, s) = kinds[i % kinds.len()];
            ColumnSchema {
                name: format!("c{i}"),
                column_type: t,
                sql_type: s.into(),
                unsigned: i == 0,
                nullable: true,
            }
        })
        .collect();
    TableSchema {
        database: "bench".into(),
        table: "wide".into(),
        columns,
        primary_key: vec![0],
    }
}

fn wide_row(schema: &TableSchema, id: u64) -> Vec<Value> {
    schema
        .columns
        .iter()
        .map(|c| match c.column_type {
            ColumnType::BigInt => Value::UInt(id),
            ColumnType::Int => Value::Int(-(id as i64) * 7),
            ColumnType::VarChar => Value::Text(format!("name-{id}-订单-😀")),
            ColumnType::Decimal => Value::Decimal(format!("{id}.123450")),
            ColumnType::Double => Value::Double(id as f64 * 1.5e-3),
            ColumnType::DateTime => Value::DateTime {
                year: 2024,
                month: 2,
                day: 29,
                hour: 23,
                minute: 59,
                second: 59,
                micros: 123_456,
            },
            ColumnType::Timestamp => Value::Timestamp {
                seconds: 1_709_210_096,
                micros: 654_321,
            },
            _ => Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef, (id % 256) as u8]),
        })
        .collect()
}

fn batch(rows: usize) -> FormatBatch {
    let schema = wide_schema();
    let rows = (0..rows as u64)
        .map(|id| RowChange {
            table: 0,
            kind: ChangeKind::Update,
            before: Some(wide_row(&schema, id)),
            after: Some(wide_row(&schema, id + 1)),
            meta: ChangeMeta {
                timestamp: 1_709_210_096,
                transaction_id: "0-1-12345".into(),
                position: "mdb-bin.000001:4242".into(),
                index_in_transaction: id as u32,
                dedupe_key: format!("0-1-12345#{id}"),
                server_id: 1,
                sequence_in_transaction: id as u32 + 1,
                stream_sequence: 170_921_009_600_000 + id,
            },
        })
        .collect();
    FormatBatch {
        abi_version: ABI_VERSION,
        options: FormatOptions {
            db_type: "MYSQL".into(),
            ..FormatOptions::default()
        },
        schemas: vec![schema],
        rows,
    }
}

/// Runs `f` (one batch per call) for about half a second; returns (rows/s, JSON bytes/s).
fn round(rows_per_batch: usize, f: &mut impl FnMut() -> usize) -> (f64, f64) {
    let start = Instant::now();
    let (mut rows, mut bytes) = (0usize, 0usize);
    while start.elapsed() < Duration::from_millis(500) {
        bytes += black_box(f());
        rows += rows_per_batch;
    }
    let secs = start.elapsed().as_secs_f64();
    (rows as f64 / secs, bytes as f64 / secs)
}

fn print(name: &str, (rate, bytes): (f64, f64)) {
    println!(
        "{name:<34} {rate:>12.0} rows/s  {:>8.1} MB/s of JSON",
        bytes / 1e6
    );
}

/// The best of five rounds after a warm-up: on a shared machine the best round is the one
/// least disturbed by others.
fn measure(name: &str, rows_per_batch: usize, mut f: impl FnMut() -> usize) -> f64 {
    for _ in 0..3 {
        black_box(f());
    }
    let best = (0..5)
        .map(|_| round(rows_per_batch, &mut f))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    print(name, best);
    best.0
}

/// A formatter that only touches every value (to time reading rows by themselves).
struct Touch;

impl obsync_sdk::RowFormatter for Touch {
    fn body<R: obsync_sdk::Row>(
        &mut self,
        _options: &FormatOptions,
        _schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String> {
        for image in [row.before(), row.after()].into_iter().flatten() {
            for v in image {
                black_box(obsync_sdk::AsValue::view(v));
            }
        }
        Ok(Vec::new())
    }
}

fn main() {
    // Every phase allocates and frees megabytes per batch; glibc would give the freed top of the
    // heap back to the kernel each time and fault it in again on the next batch, which measures
    // page faults instead of the code (it halved the through-the-ABI line).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters, before anything else runs.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
    let rows_per_batch = 1024;
    let b = batch(rows_per_batch);
    println!(
        "Default format, {rows_per_batch}-row batches of 32-column UPDATEs (before + after images)"
    );
    measure("msgpack encode, serde (host side)", rows_per_batch, || {
        obsync_sdk::abi::encode(&b).expect("encode").len()
    });
    let mut buf = Vec::new();
    measure("msgpack encode (host side)", rows_per_batch, || {
        buf.clear();
        obsync_sdk::abi::encode_batch_into(&b, &mut buf).expect("encode");
        buf.len()
    });
    let bytes = obsync_sdk::abi::encode(&b).expect("encode");
    println!(
        "batch size: {} bytes ({} per row)",
        bytes.len(),
        bytes.len() / rows_per_batch
    );
    measure("msgpack decode, serde (native)", rows_per_batch, || {
        let d: FormatBatch = obsync_sdk::abi::decode(&bytes).expect("decode");
        d.rows.len()
    });
    measure("msgpack decode (native)", rows_per_batch, || {
        obsync_sdk::abi::decode_batch(&bytes)
            .expect("decode")
            .rows
            .len()
    });
    // Reading the rows in place alone (what a module pays before it renders anything).
    let mut input = Vec::new();
    obsync_sdk::abi::encode_batch_into(&b, &mut input).expect("encode");
    measure("read rows in place (native)", rows_per_batch, || {
        obsync_sdk::abi::format_input(&input, |batch| batch.format_each(&mut Touch))
            .expect("read")
            .messages
            .len()
    });
    // The module's own path, natively: rows read in place from the encoded batch. Against the
    // WASM line this is the cost of running the same code as WebAssembly; against the native
    // line, the cost of receiving the rows as MessagePack.
    measure("native through the ABI input", rows_per_batch, || {
        input.clear();
        obsync_sdk::abi::encode_batch_into(&b, &mut input).expect("encode");
        let out = obsync_sdk::abi::format_input(&input, obsync_format_default::format_batch)
            .expect("native format");
        out.messages.iter().map(|m| m.body.len()).sum()
    });
    // Native and WASM in alternating rounds, so both see the same machine; best round of each.
    let (_engine, mut instance) = common::default_format_instance();
    let mut native = || {
        let out = obsync_format_default::format_batch(&(&b).into()).expect("native format");
        out.messages.iter().map(|m| m.body.len()).sum()
    };
    let mut wasm = || {
        let out = instance.format(&b).expect("wasm format");
        out.messages.iter().map(|m| m.body.len()).sum::<usize>()
    };
    for _ in 0..3 {
        black_box((native(), wasm()));
    }
    // `OBSYNC_BENCH_ONLY=wasm` (or `native`) runs one side only, to profile it alone.
    let only = std::env::var("OBSYNC_BENCH_ONLY").unwrap_or_default();
    let (mut best_native, mut best_wasm) = ((0.0, 0.0), (0.0, 0.0));
    for _ in 0..8 {
        let n = if only == "wasm" {
            (0.0, 0.0)
        } else {
            round(rows_per_batch, &mut native)
        };
        let w = if only == "native" {
            (0.0, 0.0)
        } else {
            round(rows_per_batch, &mut wasm)
        };
        if n.0 > best_native.0 {
            best_native = n;
        }
        if w.0 > best_wasm.0 {
            best_wasm = w;
        }
    }
    print("native (in-process)", best_native);
    print("wasm (embedded module)", best_wasm);
    println!("wasm / native = {:.2}", best_wasm.0 / best_native.0);
}
