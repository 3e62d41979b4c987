//! The real MySQL / MariaDB binlog files of `tests/fixtures/mysql-binlog/` through our table
//! map and row decoders: every row event of a readable file decodes, the integer and NULL values
//! of every row image equal what `mariadb-binlog --verbose` prints for it, truncated and corrupt
//! files end in an error without a panic, and bytes flipped anywhere in the events never panic.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{Event, EventData, RowsEventData};
use obsync::schema::{SourceTable, from_table_map_unnamed};
use obsync::source::decode::decode_rows;
use obsync::source::parsed_data;
use obsync_sdk::Value;
use proptest::prelude::*;

fn fixtures() -> Vec<PathBuf> {
    // A copy of `../shared/fixtures/mysql-binlog` (origin and licence in its README.md).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mysql-binlog");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// One decoded row: `INSERT`/`UPDATE`/`DELETE`, `db`.`table`, its images.
#[derive(Debug)]
struct RowEvent {
    kind: &'static str,
    table: String,
    images: Vec<Vec<Value>>,
}

/// What our decoders make of a file: the row events, and the first error (if any).
#[derive(Default)]
struct Decoded {
    rows: Vec<RowEvent>,
    error: Option<String>,
}

fn handle(
    ev: &Event,
    tables: &mut BTreeMap<u64, SourceTable>,
    out: &mut Decoded,
    decompress: bool,
) -> Result<(), String> {
    match parsed_data(ev).map_err(|e| format!("event: {e}"))? {
        Some(EventData::TableMapEvent(tme)) => {
            let t = from_table_map_unnamed(&tme).map_err(|e| e.to_string())?;
            tables.insert(tme.table_id(), t);
        }
        Some(EventData::RowsEvent(re)) => {
            let Some(t) = tables.get(&re.table_id()) else {
                return Err(format!("rows of unknown table id {}", re.table_id()));
            };
            let kind = match re {
                RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => "INSERT",
                RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => "DELETE",
                _ => "UPDATE",
            };
            // One entry per row, as mariadb-binlog prints them: the before image, then the after.
            for (before, after) in decode_rows(&re, t).map_err(|e| e.to_string())? {
                out.rows.push(RowEvent {
                    kind,
                    table: format!("`{}`.`{}`", t.database, t.table),
                    images: before.into_iter().chain(after).collect(),
                });
            }
        }
        Some(EventData::TransactionPayloadEvent(p)) if decompress => {
            let mut inner = p.decompressed().map_err(|e| format!("payload: {e}"))?;
            let mut reader = EventStreamReader::new(BinlogVersion::Version4);
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut inner, &mut buf).map_err(|e| e.to_string())?;
            let mut cursor = Cursor::new(buf);
            while let Some(ev) = reader
                .read_decompressed(&mut cursor)
                .map_err(|e| format!("payload event: {e}"))?
            {
                handle(&ev, tables, out, decompress)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Decodes a binlog file; `verify` checks event checksums (off: mutated events reach our
/// decoders instead of failing their checksum).
fn decode_file(bytes: &[u8], verify: bool) -> Decoded {
    let mut out = Decoded::default();
    if !bytes.starts_with(&[0xfe, b'b', b'i', b'n']) {
        out.error = Some("not a binlog file".into());
        return out;
    }
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    let mut tables = BTreeMap::new();
    let mut at = 4usize;
    while at < bytes.len() {
        // Framing first, so a bad size never reaches the parser: header 19 bytes, event_size at 9.
        let rest = &bytes[at..];
        let size = rest
            .get(9..13)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let Some(size) = size.filter(|s| *s >= 19 && *s <= rest.len()) else {
            out.error = Some(format!("truncated or corrupt event at offset {at}"));
            break;
        };
        let mut event = &rest[..size];
        let next = if verify {
            reader.read(&mut event)
        } else {
            reader.read_decompressed(&mut event)
        };
        at += size;
        let ev = match next {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                out.error = Some(format!("event at offset {}: {e}", at - size));
                break;
            }
        };
        // Damaged payloads are not decompressed: a decompression bomb is zstd's matter, not ours.
        if let Err(e) = handle(&ev, &mut tables, &mut out, verify) {
            out.error = Some(e);
            break;
        }
    }
    out
}

/// A row as `mariadb-binlog` prints it: kind, table, images of `N=value` texts.
type OracleRow = (String, String, Vec<Vec<String>>);

/// `mariadb-binlog --verbose`'s row events: kind, table, and per image the `@N=value` texts.
fn oracle(path: &Path) -> Option<Vec<OracleRow>> {
    // mariadb-binlog can hang on a damaged file: bounded by coreutils' timeout.
    let out = std::process::Command::new("timeout")
        .args([
            "20",
            "mariadb-binlog",
            "--base64-output=decode-rows",
            "--verbose",
        ])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut events: Vec<OracleRow> = Vec::new();
    for line in text.lines() {
        let Some(l) = line.strip_prefix("### ") else {
            continue;
        };
        if let Some((kind, table)) =
            ["INSERT INTO ", "UPDATE ", "DELETE FROM "]
                .iter()
                .find_map(|k| {
                    l.strip_prefix(k)
                        .map(|t| (k.split(' ').next().unwrap_or_default(), t))
                })
        {
            events.push((kind.to_string(), table.to_string(), Vec::new()));
        } else if l == "SET" || l == "WHERE" {
            if let Some(e) = events.last_mut() {
                e.2.push(Vec::new());
            }
        } else if let Some(v) = l.trim_start().strip_prefix('@') {
            // `@N=value`: partial images (binlog_row_image=MINIMAL) skip columns.
            let (index, value) = v.split_once('=').unwrap_or_default();
            if let Some(image) = events.last_mut().and_then(|e| e.2.last_mut()) {
                image.push(format!("{index}={value}"));
            }
        }
    }
    Some(events)
}

/// Whether our value agrees with the oracle's text, for the kinds both render the same way.
fn agrees(ours: &Value, theirs: &str) -> bool {
    match ours {
        Value::Null => theirs == "NULL",
        // Without signedness metadata both print the signed value; with it the oracle adds the
        // unsigned reading in parentheses.
        Value::Int(i) => theirs.split(' ').next() == Some(i.to_string().as_str()),
        Value::UInt(u) => {
            theirs.split(' ').next() == Some(u.to_string().as_str())
                || theirs.contains(&format!("({u})"))
        }
        _ => true,
    }
}

/// Good files obsync refuses on purpose, with the error it must give and why; any other good file
/// that fails to decode fails the test (it is never skipped).
const REFUSED: [(&str, &str, &str); 3] = [
    (
        "json-opaque.binlog",
        "JSONB contains an opaque value",
        "a JSON value of a SQL type (DECIMAL, DATE, ...) inside a document: not decoded yet, an error rather than a wrong value",
    ),
    (
        "json.binlog.000001",
        "a partial JSON update without the column's before image",
        "binlog_row_value_options=PARTIAL_JSON with a MINIMAL before image: the document cannot be rebuilt",
    ),
    (
        "ver_5_1-wl2325_r.001",
        "bytes remaining on stream while reading",
        "MySQL 5.1's pre-v4 event layout, not a supported source",
    ),
];

#[test]
fn every_fixture_decodes_or_fails_cleanly_and_matches_mariadb_binlog() {
    let mut compared_values = 0usize;
    let mut compared_files = 0usize;
    let mut report = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let ours = decode_file(&bytes, true);
        let broken = name.contains("truncated") || name.contains("corrupt");
        if broken {
            assert!(
                ours.error.is_some(),
                "{name}: a damaged file decoded without an error"
            );
        }
        report.push(format!(
            "{name}: {} rows{}",
            ours.rows.len(),
            ours.error
                .as_deref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        ));
        if broken {
            continue;
        }
        let refused = REFUSED.iter().find(|(n, _, _)| *n == name);
        if let Some(e) = &ours.error {
            assert!(
                refused.is_some_and(|(_, why, _)| e.contains(why)),
                "{name}: a good file fails to decode: {e} (expected: {refused:?})"
            );
            continue;
        }
        assert!(
            refused.is_none(),
            "{name} decodes now: take it off REFUSED ({refused:?})"
        );
        let Some(theirs) = oracle(&path) else {
            continue;
        };
        if theirs.is_empty() {
            continue;
        }
        compared_files += 1;
        assert_eq!(
            ours.rows.len(),
            theirs.len(),
            "{name}: row count differs from mariadb-binlog"
        );
        for (i, (o, (kind, table, images))) in ours.rows.iter().zip(&theirs).enumerate() {
            assert_eq!(o.kind, kind, "{name}: event {i}");
            assert_eq!(&o.table, table, "{name}: event {i}");
            assert_eq!(
                o.images.len(),
                images.len(),
                "{name}: event {i} image count"
            );
            for (ours, theirs) in o.images.iter().zip(images) {
                for t in theirs {
                    let (index, t) = t.split_once('=').unwrap_or_default();
                    let index: usize = index.parse().unwrap();
                    let v = ours.get(index - 1).unwrap_or_else(|| {
                        panic!("{name}: event {i}: no column @{index} in {ours:?}")
                    });
                    assert!(
                        agrees(v, t),
                        "{name}: event {i} column @{index}: ours {v:?}, mariadb-binlog {t}"
                    );
                    compared_values += 1;
                }
            }
        }
    }
    println!("{}", report.join("\n"));
    println!("compared {compared_values} values in {compared_files} files with mariadb-binlog");
    assert!(
        compared_files >= 5,
        "too few files compared: {compared_files}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Real files with bytes flipped, checksums not verified, so the damage reaches the table
    /// map and row decoders: decoding may fail, never panic.
    #[test]
    fn flipped_bytes_never_panic(seed in 0usize..1000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        static FILES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        let files = FILES.get_or_init(|| fixtures().iter().map(|p| std::fs::read(p).unwrap()).collect());
        let mut file = files[seed % files.len()].clone();
        prop_assume!(file.len() > 8);
        for (at, x) in flips {
            let n = file.len() - 4;
            file[4 + at % n] ^= x | 1;
        }
        let _ = decode_file(&file, false);
    }

    /// Arbitrary bytes after a binlog header never panic.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut file = vec![0xfe, b'b', b'i', b'n'];
        file.extend_from_slice(&body);
        let _ = decode_file(&file, false);
    }
}
