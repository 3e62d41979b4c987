//! A hand-written MessagePack reader for the rows of a [`FormatBatch`]: the hot path of every
//! module call (a batch is mostly row images), several times faster than the generic serde path
//! because each value is read by its marker byte directly, without a visitor per value.
//!
//! Rows are read one at a time as borrowed [`RowRef`]s (text and bytes point into the input): the
//! in-place path of `#[format_rows]` modules uses them as they are, and [`read_batch`] copies them
//! into an owned [`FormatBatch`].
//!
//! Invariants: it accepts exactly what the host encodes (`abi::encode`, named fields); anything
//! else (other field orders are fine, unknown fields are skipped) makes [`read_batch`] return
//! `None`, and the caller falls back to the serde decoder, which gives the same result or the
//! precise error. Every read is bounds-checked; bad input never panics.

use crate::abi::{FormatBatch, FormatOptions, FormatOutput, GuestResult, OutMessage};
use crate::change::{ChangeKind, ChangeMeta, RowChange};
use crate::schema::TableSchema;
use crate::value::{
    TAG_DATE, TAG_DATETIME, TAG_DECIMAL, TAG_JSON, TAG_TIME, TAG_TIMESTAMP, TAG_UINT, TAG_YEAR,
};
use crate::view::{MetaRef, RowRef, ValueRef};
use std::ops::Range;

/// Fills a field once: a field seen twice makes the batch fall back to serde (which rejects it).
/// The most items reserved ahead from a claimed length: a few bytes of input claiming billions
/// of items reserve no more than this; longer lists grow as their items are read.
const MAX_RESERVED: usize = 1024;

fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// A MessagePack integer: unsigned markers, or signed ones.
enum Int {
    U(u64),
    I(i64),
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b)),
        )
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// An integer of any MessagePack width (no 128-bit arithmetic: it is slow in wasm32).
    fn int_of(&mut self, m: u8) -> Option<Int> {
        Some(match m {
            0x00..=0x7f => Int::U(u64::from(m)),
            0xe0..=0xff => Int::I(i64::from(m as i8)),
            0xcc => Int::U(self.be(1)?),
            0xcd => Int::U(self.be(2)?),
            0xce => Int::U(self.be(4)?),
            0xcf => Int::U(self.be(8)?),
            0xd0 => Int::I(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Int::I(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Int::I(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Int::I(self.be(8)? as i64),
            _ => return None,
        })
    }

    #[inline]
    fn int<T: TryFrom<u64> + TryFrom<i64>>(&mut self) -> Option<T> {
        let m = self.byte()?;
        // Most integers of a row (date and time parts, tags) are positive fixints.
        if m < 0x80 {
            return T::try_from(u64::from(m)).ok();
        }
        match self.int_of(m)? {
            Int::U(u) => T::try_from(u).ok(),
            Int::I(i) => T::try_from(i).ok(),
        }
    }

    fn str_len(&mut self, m: u8) -> Option<usize> {
        Some(match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        })
    }

    fn str(&mut self) -> Option<&'a str> {
        let m = self.byte()?;
        let n = self.str_len(m)?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn array_len(&mut self) -> Option<usize> {
        let m = self.byte()?;
        Some(match m {
            0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => self.be(2)? as usize,
            0xdd => self.be(4)? as usize,
            _ => return None,
        })
    }

    fn map_len(&mut self) -> Option<usize> {
        let m = self.byte()?;
        Some(match m {
            0x80..=0x8f => usize::from(m & 0x0f),
            0xde => self.be(2)? as usize,
            0xdf => self.be(4)? as usize,
            _ => return None,
        })
    }

    /// Skips one value of any kind (an unknown field's). Iterative, not recursive: nesting as
    /// deep as the input is long costs no stack; a claimed length costs nothing until its items
    /// are read, each at least one byte.
    fn skip(&mut self) -> Option<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let m = self.byte()?;
            let (items, bytes) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (2 * u64::from(m & 0x0f), 0),
                0x90..=0x9f => (u64::from(m & 0x0f), 0),
                0xa0..=0xbf => (0, usize::from(m & 0x1f)),
                0xc4 | 0xd9 => (0, self.be(1)? as usize),
                0xc5 | 0xda => (0, self.be(2)? as usize),
                0xc6 | 0xdb => (0, self.be(4)? as usize),
                0xc7 => (0, self.be(1)? as usize + 1),
                0xc8 => (0, self.be(2)? as usize + 1),
                0xc9 => (0, self.be(4)? as usize + 1),
                0xca => (0, 4),
                0xcb => (0, 8),
                0xcc | 0xd0 => (0, 1),
                0xcd | 0xd1 => (0, 2),
                0xce | 0xd2 => (0, 4),
                0xcf | 0xd3 => (0, 8),
                0xd4 => (0, 2),
                0xd5 => (0, 3),
                0xd6 => (0, 5),
                0xd7 => (0, 9),
                0xd8 => (0, 17),
                0xdc => (self.be(2)?, 0),
                0xdd => (self.be(4)?, 0),
                0xde => (2 * self.be(2)?, 0),
                0xdf => (2 * self.be(4)?, 0),
                _ => return None,
            };
            self.take(bytes)?;
            // More items claimed than bytes left: damaged, whatever follows.
            pending = pending.checked_add(items)?;
            if pending > (self.b.len() - self.i) as u64 {
                return None;
            }
        }
        Some(())
    }

    /// One value, as `Value`'s serde form describes it (see `value.rs`), borrowing its text and
    /// bytes from the input.
    fn value(&mut self) -> Option<ValueRef<'a>> {
        let m = self.byte()?;
        Some(match m {
            0xc0 => ValueRef::Null,
            0xc2 => ValueRef::Int(0),
            0xc3 => ValueRef::Int(1),
            0xca => ValueRef::Float(f32::from_bits(self.be(4)? as u32)),
            0xcb => ValueRef::Double(f64::from_bits(self.be(8)?)),
            0xa0..=0xbf | 0xd9..=0xdb => {
                let n = self.str_len(m)?;
                ValueRef::Text(crate::bytes::utf8(self.take(n)?)?)
            }
            0xc4..=0xc6 => {
                let n = match m {
                    0xc4 => self.be(1)?,
                    0xc5 => self.be(2)?,
                    _ => self.be(4)?,
                } as usize;
                ValueRef::Bytes(self.take(n)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                self.i -= 1;
                let n = self.array_len()?;
                self.tagged(n)?
            }
            _ => ValueRef::Int(match self.int_of(m)? {
                Int::U(u) => i64::try_from(u).ok()?,
                Int::I(i) => i,
            }),
        })
    }

    fn tagged(&mut self, n: usize) -> Option<ValueRef<'a>> {
        let tag: u8 = self.int()?;
        let want = match tag {
            TAG_UINT | TAG_DECIMAL | TAG_YEAR | TAG_JSON => 2,
            TAG_DATE => 4,
            TAG_TIME => 6,
            TAG_DATETIME => 8,
            TAG_TIMESTAMP => 3,
            _ => return None,
        };
        if n != want {
            return None;
        }
        Some(match tag {
            TAG_UINT => ValueRef::UInt(self.int()?),
            TAG_DECIMAL => ValueRef::Decimal(self.str()?),
            TAG_DATE => ValueRef::Date {
                year: self.int()?,
                month: self.int()?,
                day: self.int()?,
            },
            TAG_TIME => ValueRef::Time {
                negative: match self.byte()? {
                    0xc2 => false,
                    0xc3 => true,
                    _ => return None,
                },
                hours: self.int()?,
                minutes: self.int()?,
                seconds: self.int()?,
                micros: self.int()?,
            },
            TAG_DATETIME => ValueRef::DateTime {
                year: self.int()?,
                month: self.int()?,
                day: self.int()?,
                hour: self.int()?,
                minute: self.int()?,
                second: self.int()?,
                micros: self.int()?,
            },
            TAG_TIMESTAMP => ValueRef::Timestamp {
                seconds: self.int()?,
                micros: self.int()?,
            },
            TAG_YEAR => ValueRef::Year(self.int()?),
            _ => ValueRef::Json(self.str()?),
        })
    }

    /// An image appended to `out`: `None` for nil, else the range of `out` it fills.
    fn image(&mut self, out: &mut Vec<ValueRef<'a>>) -> Option<Option<Range<usize>>> {
        if self.peek()? == 0xc0 {
            self.i += 1;
            return Some(None);
        }
        let n = self.array_len()?;
        let start = out.len();
        out.reserve(n.min(MAX_RESERVED));
        for _ in 0..n {
            out.push(self.value()?);
        }
        Some(Some(start..out.len()))
    }

    fn meta(&mut self) -> Option<MetaRef<'a>> {
        let (mut ts, mut tx, mut pos, mut idx, mut key, mut sid) =
            (None, None, None, None, None, None);
        // Numbered by hosts since the stream sequence was added; 0 from older ones.
        let (mut seq, mut stream) = (None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "timestamp" => once(&mut ts, self.int()?)?,
                "transaction_id" => once(&mut tx, self.str()?)?,
                "position" => once(&mut pos, self.str()?)?,
                "index_in_transaction" => once(&mut idx, self.int()?)?,
                "dedupe_key" => once(&mut key, self.str()?)?,
                "server_id" => once(&mut sid, self.int()?)?,
                "sequence_in_transaction" => once(&mut seq, self.int()?)?,
                "stream_sequence" => once(&mut stream, self.int()?)?,
                _ => self.skip()?,
            }
        }
        Some(MetaRef {
            timestamp: ts?,
            transaction_id: tx?,
            position: pos?,
            index_in_transaction: idx?,
            dedupe_key: key?,
            server_id: sid?,
            sequence_in_transaction: seq.unwrap_or(0),
            stream_sequence: stream.unwrap_or(0),
        })
    }

    /// One row, its images appended to `scratch` (cleared first).
    fn row<'s>(&mut self, scratch: &'s mut Vec<ValueRef<'a>>) -> Option<RowRef<'s, 'a>> {
        scratch.clear();
        let (mut table, mut kind, mut before, mut after, mut meta) = (None, None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "table" => once(&mut table, self.int()?)?,
                "kind" => {
                    let k = match self.str()? {
                        "Insert" => ChangeKind::Insert,
                        "Update" => ChangeKind::Update,
                        "Delete" => ChangeKind::Delete,
                        _ => return None,
                    };
                    once(&mut kind, k)?
                }
                "before" => once(&mut before, self.image(scratch)?)?,
                "after" => once(&mut after, self.image(scratch)?)?,
                "meta" => once(&mut meta, self.meta()?)?,
                _ => self.skip()?,
            }
        }
        let (before, after) = (before?, after?);
        let scratch: &'s [ValueRef<'a>] = scratch;
        Some(RowRef {
            table: table?,
            kind: kind?,
            before: before.map(|r| &scratch[r]),
            after: after.map(|r| &scratch[r]),
            meta: meta?,
        })
    }

    /// The bytes of the next value (for the small parts decoded by serde).
    fn raw_value(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.skip()?;
        self.b.get(start..self.i)
    }
}

/// The parts of an input batch around its rows, which stay MessagePack.
pub(crate) struct Header<'a> {
    pub abi_version: u32,
    pub options: FormatOptions,
    pub schemas: Vec<TableSchema>,
    /// The row maps, one after the other.
    pub rows: &'a [u8],
    pub count: usize,
}

/// Reads everything of a batch but its rows, which are only located (the host writes them last,
/// so they are not even walked then). `None` when the bytes are not in the host's shape.
pub(crate) fn read_header(bytes: &[u8]) -> Option<Header<'_>> {
    let mut r = Reader { b: bytes, i: 0 };
    let (mut abi, mut options, mut schemas, mut rows) = (None, None, None, None);
    let fields = r.map_len()?;
    for field in 0..fields {
        match r.str()? {
            "abi_version" => once(&mut abi, r.int()?)?,
            "options" => once(
                &mut options,
                rmp_serde::from_slice::<FormatOptions>(r.raw_value()?).ok()?,
            )?,
            "schemas" => once(
                &mut schemas,
                rmp_serde::from_slice::<Vec<TableSchema>>(r.raw_value()?).ok()?,
            )?,
            "rows" => {
                let count = r.array_len()?;
                let start = r.i;
                if field + 1 == fields {
                    r.i = bytes.len();
                } else {
                    for _ in 0..count {
                        r.skip()?;
                    }
                }
                once(&mut rows, (bytes.get(start..r.i)?, count))?;
            }
            _ => r.skip()?,
        }
    }
    if r.i != bytes.len() {
        return None;
    }
    let (rows, count) = rows?;
    Some(Header {
        abi_version: abi?,
        options: options.unwrap_or_default(),
        schemas: schemas?,
        rows,
        count,
    })
}

/// Reads rows one at a time from [`Header::rows`], borrowing their text and bytes.
pub(crate) struct RowsReader<'a>(Reader<'a>);

impl<'a> RowsReader<'a> {
    pub fn new(rows: &'a [u8]) -> Self {
        RowsReader(Reader { b: rows, i: 0 })
    }

    /// The next row, its images in `scratch`; `None` when the bytes are not a row map.
    pub fn next_row<'s>(&mut self, scratch: &'s mut Vec<ValueRef<'a>>) -> Option<RowRef<'s, 'a>> {
        self.0.row(scratch)
    }

    /// True when every byte has been read.
    pub fn at_end(&self) -> bool {
        self.0.i == self.0.b.len()
    }
}

/// The owned copy of a borrowed row.
fn owned(row: RowRef<'_, '_>) -> RowChange {
    let image = |v: Option<&[ValueRef<'_>]>| v.map(|v| v.iter().map(|x| x.to_value()).collect());
    let m = row.meta;
    RowChange {
        table: row.table,
        kind: row.kind,
        before: image(row.before),
        after: image(row.after),
        meta: ChangeMeta {
            timestamp: m.timestamp,
            transaction_id: m.transaction_id.to_owned(),
            position: m.position.to_owned(),
            index_in_transaction: m.index_in_transaction,
            dedupe_key: m.dedupe_key.to_owned(),
            server_id: m.server_id,
            sequence_in_transaction: m.sequence_in_transaction,
            stream_sequence: m.stream_sequence,
        },
    }
}

impl Reader<'_> {
    fn opt_str(&mut self) -> Option<Option<String>> {
        if self.peek()? == 0xc0 {
            self.i += 1;
            return Some(None);
        }
        Some(Some(self.str()?.to_owned()))
    }

    fn message(&mut self) -> Option<OutMessage> {
        let (mut row, mut body, mut key, mut tags, mut props) = (None, None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "row" => once(&mut row, self.int()?)?,
                "body" => {
                    let n = match self.byte()? {
                        0xc4 => self.be(1)?,
                        0xc5 => self.be(2)?,
                        0xc6 => self.be(4)?,
                        _ => return None,
                    } as usize;
                    once(&mut body, self.take(n)?.to_vec())?
                }
                "key" => once(&mut key, self.opt_str()?)?,
                "tags" => once(&mut tags, self.opt_str()?)?,
                "properties" => {
                    let n = self.array_len()?;
                    let mut v = Vec::with_capacity(n.min(MAX_RESERVED));
                    for _ in 0..n {
                        if self.array_len()? != 2 {
                            return None;
                        }
                        v.push((self.str()?.to_owned(), self.str()?.to_owned()));
                    }
                    once(&mut props, v)?
                }
                _ => self.skip()?,
            }
        }
        // Every field of a message has a default (`#[serde(default)]`).
        Some(OutMessage {
            row: row.unwrap_or_default(),
            body: body.unwrap_or_default(),
            key: key.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
            properties: props.unwrap_or_default(),
        })
    }
}

/// Reads a format call's result as the SDK writes it (`batch_writer::write_format_result`); `None`
/// when the bytes are in another shape (the caller then decodes with serde).
pub fn read_format_result(bytes: &[u8]) -> Option<GuestResult<FormatOutput>> {
    let mut r = Reader { b: bytes, i: 0 };
    if r.map_len()? != 1 {
        return None;
    }
    let result = match r.str()? {
        "Ok" => {
            let mut messages = None;
            for _ in 0..r.map_len()? {
                match r.str()? {
                    "messages" => {
                        let n = r.array_len()?;
                        let mut v = Vec::with_capacity(n.min(MAX_RESERVED));
                        for _ in 0..n {
                            v.push(r.message()?);
                        }
                        once(&mut messages, v)?;
                    }
                    _ => r.skip()?,
                }
            }
            GuestResult::Ok(FormatOutput {
                messages: messages?,
            })
        }
        "Err" => GuestResult::Err(r.str()?.to_owned()),
        _ => return None,
    };
    (r.i == bytes.len()).then_some(result)
}

/// Reads a batch encoded by the host; `None` when the bytes are not exactly in that shape (the
/// caller then decodes with serde, which accepts every valid form and names errors).
pub fn read_batch(bytes: &[u8]) -> Option<FormatBatch> {
    let h = read_header(bytes)?;
    let mut r = RowsReader::new(h.rows);
    let mut scratch = Vec::new();
    let mut rows = Vec::with_capacity(h.count.min(MAX_RESERVED));
    for _ in 0..h.count {
        rows.push(owned(r.next_row(&mut scratch)?));
    }
    if !r.at_end() {
        return None;
    }
    Some(FormatBatch {
        abi_version: h.abi_version,
        options: h.options,
        schemas: h.schemas,
        rows,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::abi::{ABI_VERSION, encode};
    use crate::schema::{ColumnSchema, ColumnType};
    use crate::value::Value;

    fn every_value() -> Vec<Value> {
        let mut v = crate::value::samples();
        v.extend([
            Value::Int(i64::MIN),
            Value::Int(200),
            Value::Int(-100_000),
            Value::Text("x".repeat(300)),
            Value::Text(String::new()),
            Value::Bytes(vec![7; 70_000]),
        ]);
        v
    }

    /// `count` copies of `bytes`, each with four bytes overwritten at pseudo-random places.
    pub(crate) fn damaged(bytes: &[u8], count: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut state = 1u64;
        (0..count).map(move |_| {
            let mut damaged = bytes.to_vec();
            for _ in 0..4 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let at = (state >> 33) as usize % damaged.len();
                damaged[at] = (state >> 17) as u8;
            }
            damaged
        })
    }

    pub(crate) fn batch() -> FormatBatch {
        let values = every_value();
        let columns = (0..values.len())
            .map(|i| ColumnSchema {
                name: format!("c{i}"),
                column_type: ColumnType::Text,
                sql_type: "text".into(),
                unsigned: false,
                nullable: true,
            })
            .collect();
        let meta = |i: u32| ChangeMeta {
            timestamp: 1_700_000_000,
            transaction_id: "0-1-9".into(),
            position: "mdb-bin.000001:77".into(),
            index_in_transaction: i,
            dedupe_key: format!("0-1-9#{i}"),
            server_id: 7,
            sequence_in_transaction: i + 1,
            stream_sequence: 170_000_000_000_000 + u64::from(i),
        };
        FormatBatch {
            abi_version: ABI_VERSION,
            options: FormatOptions {
                db_type: "MYSQL".into(),
                business_system_id: Some("b".into()),
                sequence_numbers: true,
                now_ms: 1,
                utc_offset_seconds: -3600,
                tenant: Some("租户".into()),
            },
            schemas: vec![TableSchema {
                database: "库".into(),
                table: "t".into(),
                columns,
                primary_key: vec![0],
            }],
            rows: vec![
                RowChange {
                    table: 0,
                    kind: ChangeKind::Insert,
                    before: None,
                    after: Some(values.clone()),
                    meta: meta(0),
                },
                RowChange {
                    table: 0,
                    kind: ChangeKind::Update,
                    before: Some(values.clone()),
                    after: Some(values.clone()),
                    meta: meta(1),
                },
                RowChange {
                    table: 0,
                    kind: ChangeKind::Delete,
                    before: Some(values),
                    after: None,
                    meta: meta(2),
                },
            ],
        }
    }

    #[test]
    fn reads_what_the_host_encodes_exactly_as_serde_does() {
        let b = batch();
        let bytes = encode(&b).unwrap();
        assert_eq!(read_batch(&bytes), Some(b.clone()));
        assert_eq!(rmp_serde::from_slice::<FormatBatch>(&bytes).unwrap(), b);
    }

    #[test]
    fn other_shapes_fall_back_and_damage_never_panics() {
        let b = batch();
        // Compact (array) structs are valid for serde, not for the fast path.
        let compact = rmp_serde::to_vec(&b).unwrap();
        assert_eq!(read_batch(&compact), None);
        let bytes = encode(&b).unwrap();
        for cut in (0..600).chain((600..bytes.len()).step_by(101)) {
            assert_eq!(read_batch(&bytes[..cut]), None, "cut at {cut}");
        }
        for damaged in damaged(&bytes, 2_000) {
            // Whatever the fast path accepts, serde must read the same way.
            if let Some(fast) = read_batch(&damaged) {
                assert_eq!(
                    rmp_serde::from_slice::<FormatBatch>(&damaged).ok(),
                    Some(fast)
                );
            }
        }
    }

    #[test]
    fn reads_results_as_serde_does() {
        for r in crate::batch_writer::tests::results() {
            let bytes = rmp_serde::to_vec_named(&r).unwrap();
            assert_eq!(read_format_result(&bytes), Some(r.clone()));
            for damaged in damaged(&bytes, 300) {
                if let Some(fast) = read_format_result(&damaged) {
                    assert_eq!(
                        rmp_serde::from_slice::<GuestResult<FormatOutput>>(&damaged).ok(),
                        Some(fast)
                    );
                }
            }
        }
    }
}
