//! MariaDB compression, undone before decoding.
//!
//! - Compressed binlog events (`log_bin_compress=ON`): QUERY_COMPRESSED (165) and the compressed
//!   ROWS events (166–168 v1, 169–171 v2) become the plain event they stand for (QUERY, ROWS v1,
//!   ROWS v2) with the same header, so the rest of the decoder sees only plain events. The
//!   compressed part (the statement text, or the row images after the column bitmaps) starts
//!   with a header byte `0x80 | algorithm << 4 | n`, the uncompressed size in `n` big-endian bytes,
//!   then a zlib stream.
//! - `COMPRESSED` columns: table maps carry VARCHAR_COMPRESSED (141, metadata as VARCHAR) and
//!   BLOB_COMPRESSED (140, metadata as BLOB); [`plain_table_map`] rewrites them to VARCHAR and BLOB
//!   and names them, and [`inflate_column`] turns a stored value back into its bytes: empty, or a
//!   header byte `0` then the bytes as they are (values under `column_compression_threshold`), or
//!   `0x80 | w | n` (`w` = 0x08: raw deflate, else zlib), the size in `n` big-endian bytes, then
//!   the compressed stream.
//!
//! Invariants: every offset is checked before use, and an inflated size must equal the size its
//! header announces, so damaged bytes give an error naming what was wrong, never a panic or a
//! silently short value. Memory grows with the data actually inflated, not with the announced
//! size.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{DeflateDecoder, ZlibDecoder};
use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{Event, TableMapEvent};
use mysql_common::proto::MySerialize;

/// MariaDB QUERY_COMPRESSED_EVENT.
const QUERY_COMPRESSED: u8 = 165;
/// MariaDB WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT_V1.
const ROWS_COMPRESSED_V1: std::ops::RangeInclusive<u8> = 166..=168;
/// MariaDB WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT (v2).
const ROWS_COMPRESSED_V2: std::ops::RangeInclusive<u8> = 169..=171;
/// Table-map type of a `VARCHAR … COMPRESSED` column.
const VARCHAR_COMPRESSED: u8 = 141;
/// Table-map type of a `BLOB/TEXT … COMPRESSED` column.
const BLOB_COMPRESSED: u8 = 140;
/// The binlog event header's size.
pub(super) const HEADER_LEN: usize = 19;

/// Whether `kind` is one of MariaDB's compressed event types.
pub fn is_compressed_event(kind: u8) -> bool {
    kind == QUERY_COMPRESSED
        || ROWS_COMPRESSED_V1.contains(&kind)
        || ROWS_COMPRESSED_V2.contains(&kind)
}

/// The table id of a compressed ROWS event (so rows of tables not carried are skipped without
/// inflating them); `None` for other events.
pub fn rows_table_id(ev: &Event) -> Option<u64> {
    let kind = ev.header().event_type_raw();
    if !(ROWS_COMPRESSED_V1.contains(&kind) || ROWS_COMPRESSED_V2.contains(&kind)) {
        return None;
    }
    let id = ev.data().get(..6)?;
    Some(
        id.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
    )
}

/// The plain event a compressed MariaDB event stands for (same header, plain type, inflated
/// body).
pub fn plain_event(ev: &Event) -> Result<Event, String> {
    let kind = ev.header().event_type_raw();
    let body = ev.data();
    let (plain_kind, split) = match kind {
        QUERY_COMPRESSED => (2, query_text_offset(body)?),
        k if ROWS_COMPRESSED_V1.contains(&k) => (k - 166 + 23, rows_data_offset(body, k, 8)?),
        k if ROWS_COMPRESSED_V2.contains(&k) => (k - 169 + 30, rows_data_offset(body, k, 10)?),
        k => return Err(format!("event type {k} is not a compressed event")),
    };
    let inflated = inflate_event_part(&body[split..])?;
    let mut plain = Vec::with_capacity(split + inflated.len());
    plain.extend_from_slice(&body[..split]);
    plain.extend_from_slice(&inflated);
    rebuild(ev, plain_kind, &plain)
}

/// The offset of the statement text in a QUERY event body: a 13-byte post-header (thread id,
/// time, database name length, error code, status block length), the status block, the database
/// name and its NUL.
fn query_text_offset(body: &[u8]) -> Result<usize, String> {
    let short = || "compressed query event shorter than its header".to_string();
    let db_len = usize::from(*body.get(8).ok_or_else(short)?);
    let status_len = usize::from(u16::from_le_bytes([
        *body.get(11).ok_or_else(short)?,
        *body.get(12).ok_or_else(short)?,
    ]));
    let at = 13 + status_len + db_len + 1;
    if at > body.len() {
        return Err(format!(
            "compressed query event: its text would start at byte {at} of {}",
            body.len()
        ));
    }
    Ok(at)
}

/// The offset of the row images in a ROWS event body: the post-header (`post_header` bytes; a v2
/// event's last two give the length of its extra data, which follows), the column count, the
/// column bitmap, and for an UPDATE the after-image bitmap.
fn rows_data_offset(body: &[u8], kind: u8, post_header: usize) -> Result<usize, String> {
    let short = |what: &str| format!("compressed rows event (type {kind}) truncated in its {what}");
    let mut at = post_header;
    if post_header == 10 {
        let extra = usize::from(u16::from_le_bytes([
            *body.get(8).ok_or_else(|| short("header"))?,
            *body.get(9).ok_or_else(|| short("header"))?,
        ]));
        // The length counts its own two bytes.
        at += extra.checked_sub(2).ok_or_else(|| short("extra data"))?;
    }
    let (width, len) = lenenc(body.get(at..).ok_or_else(|| short("header"))?)
        .ok_or_else(|| short("column count"))?;
    at += len;
    let bitmap = usize::try_from(width.div_ceil(8)).map_err(|_| short("column count"))?;
    let bitmaps = if kind == 167 || kind == 170 { 2 } else { 1 };
    at = bitmap
        .checked_mul(bitmaps)
        .and_then(|b| at.checked_add(b))
        .filter(|&end| end <= body.len())
        .ok_or_else(|| short("column bitmaps"))?;
    Ok(at)
}

/// A length-encoded integer and its size.
fn lenenc(b: &[u8]) -> Option<(u64, usize)> {
    let n = |k: usize| -> Option<u64> {
        let bytes = b.get(1..1 + k)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        )
    };
    match *b.first()? {
        x @ 0..=250 => Some((u64::from(x), 1)),
        252 => Some((n(2)?, 3)),
        253 => Some((n(3)?, 4)),
        254 => Some((n(8)?, 9)),
        _ => None,
    }
}

/// Inflates the compressed part of a compressed event: `0x80 | algorithm << 4 | n`, the size in
/// `n` big-endian bytes, a zlib stream (algorithm 0, the only one MariaDB has).
fn inflate_event_part(part: &[u8]) -> Result<Vec<u8>, String> {
    let (&head, rest) = part
        .split_first()
        .ok_or("compressed event with an empty compressed part")?;
    if head & 0x80 == 0 {
        return Err(format!(
            "compressed event part with header byte {head:#04x}"
        ));
    }
    let algorithm = (head & 0x70) >> 4;
    if algorithm != 0 {
        return Err(format!(
            "compressed event part with unknown algorithm {algorithm}"
        ));
    }
    let (size, stream) = announced_size(head, rest)?;
    inflate(ZlibDecoder::new(stream), size)
}

/// The uncompressed size after a header byte whose low 3 bits count its big-endian bytes.
fn announced_size(head: u8, rest: &[u8]) -> Result<(u64, &[u8]), String> {
    let n = usize::from(head & 0x07);
    if !(1..=4).contains(&n) {
        return Err(format!("compressed data whose size takes {n} bytes"));
    }
    let size = rest
        .get(..n)
        .ok_or("compressed data truncated in its size")?
        .iter()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    Ok((size, &rest[n..]))
}

/// Reads `decoder` to its end, which must come after exactly `size` bytes.
fn inflate(decoder: impl Read, size: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
    decoder
        .take(size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("damaged compressed data: {e}"))?;
    if out.len() as u64 != size {
        return Err(format!(
            "compressed data inflated to {} bytes, its header says {size}",
            out.len()
        ));
    }
    Ok(out)
}

/// The bytes of a `COMPRESSED` column's stored value.
pub fn inflate_column(stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let Some((&head, rest)) = stored.split_first() else {
        return Ok(Cow::Borrowed(stored));
    };
    match head >> 4 {
        // Stored as it is (under the compression threshold).
        0 => Ok(Cow::Borrowed(rest)),
        8 => {
            let (size, stream) = announced_size(head, rest)?;
            let out = if head & 0x08 != 0 {
                inflate(DeflateDecoder::new(stream), size)?
            } else {
                inflate(ZlibDecoder::new(stream), size)?
            };
            Ok(Cow::Owned(out))
        }
        method => Err(format!(
            "compressed column value with unknown method {method}"
        )),
    }
}

/// For a table map with `COMPRESSED` columns: the same table map with their types rewritten to
/// VARCHAR and BLOB (their metadata already has that shape), and the indexes of those columns.
/// `None` when the table has no compressed column.
pub fn plain_table_map(
    ev: &Event,
    tme: &TableMapEvent<'_>,
) -> Result<Option<(Event, Vec<usize>)>, String> {
    let count = usize::try_from(tme.columns_count()).map_err(|_| "column count overflow")?;
    let compressed: Vec<usize> = (0..count)
        .filter(|&i| {
            matches!(
                tme.get_raw_column_type(i),
                Err(mysql_common::constants::UnknownColumnType(
                    VARCHAR_COMPRESSED | BLOB_COMPRESSED
                ))
            )
        })
        .collect();
    if compressed.is_empty() {
        return Ok(None);
    }
    let body = ev.data();
    // table id (6), flags (2), database name (length, bytes, NUL), table name (same), count.
    let db = tme.database_name_raw().len();
    let table = tme.table_name_raw().len();
    let bad = || "table map layout not understood".to_string();
    if body.get(8).map(|&b| usize::from(b)) != Some(db)
        || body.get(8 + db + 2).map(|&b| usize::from(b)) != Some(table)
    {
        return Err(bad());
    }
    let count_at = 8 + db + 2 + 1 + table + 1;
    let (_, count_len) = body.get(count_at..).and_then(lenenc).ok_or_else(bad)?;
    let types_at = count_at + count_len;
    let mut plain = body.to_vec();
    for &i in &compressed {
        let t = plain.get_mut(types_at + i).ok_or_else(bad)?;
        *t = match *t {
            VARCHAR_COMPRESSED => 15, // MYSQL_TYPE_VARCHAR
            BLOB_COMPRESSED => 252,   // MYSQL_TYPE_BLOB
            _ => return Err(bad()),
        };
    }
    Ok(Some((rebuild(ev, 19, &plain)?, compressed)))
}

/// An event with `ev`'s header, type `kind` and body `body`, without a checksum.
fn rebuild(ev: &Event, kind: u8, body: &[u8]) -> Result<Event, String> {
    let size = u32::try_from(HEADER_LEN + body.len()).map_err(|_| "inflated event over 4 GiB")?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    ev.header().serialize(&mut bytes);
    if bytes.len() != HEADER_LEN {
        return Err("event header of an unexpected size".into());
    }
    bytes[4] = kind;
    bytes[9..13].copy_from_slice(&size.to_le_bytes());
    bytes.extend_from_slice(body);
    EventStreamReader::new(BinlogVersion::Version4)
        .read_decompressed(bytes.as_slice())
        .map_err(|e| format!("inflated event not readable: {e}"))?
        .ok_or_else(|| "inflated event not readable".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, ZlibEncoder};
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn column_values_stored_raw_or_deflated() {
        assert_eq!(&*inflate_column(b"").unwrap(), b"");
        assert_eq!(&*inflate_column(b"\x00abc").unwrap(), b"abc");
        let text = "数据同步 🚀 ".repeat(20);
        let mut raw = vec![0x80 | 0x08 | 2, 0, text.len() as u8];
        raw[1] = (text.len() >> 8) as u8;
        raw.extend(deflate(text.as_bytes()));
        assert_eq!(&*inflate_column(&raw).unwrap(), text.as_bytes());
        let mut wrapped = vec![0x80 | 1, 5];
        wrapped.extend(zlib(b"hello"));
        assert_eq!(&*inflate_column(&wrapped).unwrap(), b"hello");
    }

    #[test]
    fn damaged_column_values_are_errors() {
        // Announced size disagrees with the data.
        let mut raw = vec![0x80 | 0x08 | 1, 9];
        raw.extend(deflate(b"hello"));
        assert!(inflate_column(&raw).unwrap_err().contains("header says 9"));
        // Truncated stream, truncated size, unknown method, zero-byte size.
        let mut cut = vec![0x80 | 0x08 | 1, 5];
        cut.extend(&deflate(b"hello world hello world")[..4]);
        assert!(inflate_column(&cut).is_err());
        assert!(inflate_column(&[0x82, 1]).is_err());
        assert!(inflate_column(&[0x30, 1]).unwrap_err().contains("method 3"));
        assert!(inflate_column(&[0x80, 1]).is_err());
    }

    #[test]
    fn event_parts_inflate_and_check_their_size() {
        let data = b"INSERT INTO t VALUES (1)".repeat(10);
        let mut part = vec![0x80 | 2, 0, data.len() as u8];
        part.extend(zlib(&data));
        assert_eq!(inflate_event_part(&part).unwrap(), data);
        part[2] += 1;
        assert!(inflate_event_part(&part).is_err());
        assert!(inflate_event_part(&[0x01]).is_err());
        assert!(
            inflate_event_part(&[0x91, 1])
                .unwrap_err()
                .contains("algorithm 1")
        );
        assert!(inflate_event_part(&[]).is_err());
    }

    /// An event of type `kind` with `body`, as read from a stream without checksums.
    fn event(kind: u8, body: &[u8]) -> Event {
        let mut bytes = vec![0u8; HEADER_LEN];
        bytes[4] = kind;
        bytes[9..13].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_le_bytes());
        bytes[13..17].copy_from_slice(&1234u32.to_le_bytes());
        bytes.extend_from_slice(body);
        EventStreamReader::new(BinlogVersion::Version4)
            .read_decompressed(bytes.as_slice())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn compressed_rows_and_query_events_become_plain_ones() {
        // WRITE_ROWS v1: table id 7, flags, 2 columns, bitmap, then the row images.
        let head = [7, 0, 0, 0, 0, 0, 0, 0, 2, 0b11];
        let rows = b"\x00\x01\x00\x00\x00\x02\x00\x00\x00".repeat(30);
        let mut compressed = head.to_vec();
        compressed.extend([0x80 | 2, (rows.len() >> 8) as u8, rows.len() as u8]);
        compressed.extend(zlib(&rows));
        let ev = event(166, &compressed);
        assert_eq!(rows_table_id(&ev), Some(7));
        let plain = plain_event(&ev).unwrap();
        assert_eq!(plain.header().event_type_raw(), 23);
        assert_eq!(plain.header().log_pos(), 1234);
        assert_eq!(plain.data(), [&head[..], &rows].concat().as_slice());

        // QUERY: post-header (database name length 2, no status block), "db\0", the text.
        let mut q = vec![0u8; 13];
        q[8] = 2;
        q.extend(b"db\0");
        let sql = b"ALTER TABLE t ADD COLUMN c INT";
        let mut compressed = q.clone();
        compressed.extend([0x80 | 1, sql.len() as u8]);
        compressed.extend(zlib(sql));
        let plain = plain_event(&event(165, &compressed)).unwrap();
        assert_eq!(plain.header().event_type_raw(), 2);
        assert_eq!(plain.data(), [&q[..], sql].concat().as_slice());
        assert_eq!(rows_table_id(&event(165, &compressed)), None);

        // Damaged: the compressed part cut short.
        let cut = &compressed[..compressed.len() - 3];
        assert!(plain_event(&event(165, cut)).is_err());
    }

    #[test]
    fn offsets_refuse_short_bodies() {
        assert!(query_text_offset(&[0; 12]).is_err());
        let mut q = vec![0u8; 13];
        q[8] = 3; // database name length
        q[11] = 2; // status block length
        assert!(query_text_offset(&q).is_err());
        q.extend([0, 0, b'd', b'b', b'x', 0]);
        assert_eq!(query_text_offset(&q).unwrap(), 19);
        // v1 UPDATE: 8-byte post-header, 9 columns, two 2-byte bitmaps.
        let mut r = vec![0u8; 8];
        r.push(9);
        r.extend([0xff; 4]);
        assert_eq!(rows_data_offset(&r, 167, 8).unwrap(), 13);
        assert!(rows_data_offset(&r[..11], 167, 8).is_err());
        // v2 with an extra-data length under its own size.
        let mut v2 = vec![0u8; 10];
        v2[8] = 1;
        assert!(rows_data_offset(&v2, 169, 10).is_err());
        assert!(rows_data_offset(&[0u8; 8], 166, 8).is_err());
    }

    proptest::proptest! {
        /// Damaged compressed events and column values are errors, never panics.
        #[test]
        fn arbitrary_bytes_never_panic(
            kind in 165u8..=171,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let _ = plain_event(&event(kind, &body));
            let _ = inflate_column(&body);
            let _ = inflate_event_part(&body);
        }
    }
}
