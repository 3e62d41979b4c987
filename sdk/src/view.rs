//! Borrowed access to row changes, for formats that read a batch without copying it.
//!
//! [`FormatBatch`] owns every value: decoding it inside a module copies each string and byte
//! string of the batch, which costs as much as rendering the row. A format written against
//! [`RowBatch`] instead sees each row through the [`Row`] trait: inside a module the rows are read
//! one at a time straight from the host's MessagePack ([`ValueRef`]s borrowing the input buffer,
//! kept in one reused scratch vector), and natively the same code reads an owned [`FormatBatch`]
//! (`RowBatch::from(&batch)`), so it is unit-tested with plain `cargo test`.
//!
//! Invariants: a [`ValueRef`] renders exactly as the [`Value`] it stands for (`ValueRef::to_value`
//! and `Value::view` are inverse); rows reach the formatter in batch order with their index.

use std::cell::Cell;

use crate::abi::{FormatBatch, FormatOptions, FormatOutput, OutMessage};
use crate::change::{ChangeKind, ChangeMeta, RowChange};
use crate::schema::TableSchema;
use crate::value::Value;

/// A column value borrowing its text and bytes: the same variants as [`Value`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A FLOAT column.
    Float(f32),
    /// A DOUBLE column.
    Double(f64),
    /// A DECIMAL as exact decimal text.
    Decimal(&'a str),
    /// Character data.
    Text(&'a str),
    /// Binary data.
    Bytes(&'a [u8]),
    /// A DATE.
    Date {
        /// Year.
        year: u16,
        /// Month.
        month: u8,
        /// Day.
        day: u8,
    },
    /// A TIME.
    Time {
        /// True for a negative duration.
        negative: bool,
        /// Whole hours.
        hours: u32,
        /// Minutes.
        minutes: u8,
        /// Seconds.
        seconds: u8,
        /// Microseconds.
        micros: u32,
    },
    /// A DATETIME.
    DateTime {
        /// Year.
        year: u16,
        /// Month.
        month: u8,
        /// Day.
        day: u8,
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Second.
        second: u8,
        /// Microseconds.
        micros: u32,
    },
    /// A TIMESTAMP as seconds since the Unix epoch plus microseconds.
    Timestamp {
        /// Seconds.
        seconds: i64,
        /// Microseconds.
        micros: u32,
    },
    /// A YEAR.
    Year(u16),
    /// A JSON document as JSON text.
    Json(&'a str),
}

impl ValueRef<'_> {
    /// Returns the owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::UInt(u) => Value::UInt(u),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Double(d) => Value::Double(d),
            ValueRef::Decimal(s) => Value::Decimal(crate::bytes::to_str_owned(s)),
            ValueRef::Text(s) => Value::Text(crate::bytes::to_str_owned(s)),
            ValueRef::Bytes(b) => Value::Bytes(crate::bytes::to_vec(b)),
            ValueRef::Date { year, month, day } => Value::Date { year, month, day },
            ValueRef::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            } => Value::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            },
            ValueRef::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            } => Value::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            },
            ValueRef::Timestamp { seconds, micros } => Value::Timestamp { seconds, micros },
            ValueRef::Year(y) => Value::Year(y),
            ValueRef::Json(s) => Value::Json(crate::bytes::to_str_owned(s)),
        }
    }
}

/// A column value as a format reads it: an owned [`Value`] or a borrowed [`ValueRef`].
pub trait AsValue {
    /// The value, borrowed.
    fn view(&self) -> ValueRef<'_>;
}

impl AsValue for Value {
    #[inline]
    fn view(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::UInt(u) => ValueRef::UInt(*u),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Double(d) => ValueRef::Double(*d),
            Value::Decimal(s) => ValueRef::Decimal(s),
            Value::Text(s) => ValueRef::Text(s),
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::Date { year, month, day } => ValueRef::Date {
                year: *year,
                month: *month,
                day: *day,
            },
            Value::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            } => ValueRef::Time {
                negative: *negative,
                hours: *hours,
                minutes: *minutes,
                seconds: *seconds,
                micros: *micros,
            },
            Value::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            } => ValueRef::DateTime {
                year: *year,
                month: *month,
                day: *day,
                hour: *hour,
                minute: *minute,
                second: *second,
                micros: *micros,
            },
            Value::Timestamp { seconds, micros } => ValueRef::Timestamp {
                seconds: *seconds,
                micros: *micros,
            },
            Value::Year(y) => ValueRef::Year(*y),
            Value::Json(s) => ValueRef::Json(s),
        }
    }
}

impl AsValue for ValueRef<'_> {
    #[inline]
    fn view(&self) -> ValueRef<'_> {
        *self
    }
}

/// A row change's provenance, borrowed (the fields of [`ChangeMeta`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaRef<'a> {
    /// Commit time, seconds since the Unix epoch.
    pub timestamp: u32,
    /// The transaction id.
    pub transaction_id: &'a str,
    /// The binlog position of the row event.
    pub position: &'a str,
    /// The index of the change within its transaction.
    pub index_in_transaction: u32,
    /// The deterministic dedupe key.
    pub dedupe_key: &'a str,
    /// The originating server id.
    pub server_id: u32,
    /// The message's number in its transaction, from 1, after filters (SharePlex `seq`).
    pub sequence_in_transaction: u32,
    /// The stream's sort sequence (`storeDataSequence`, `scn`); see [`ChangeMeta`].
    pub stream_sequence: u64,
}

impl<'a> From<&'a ChangeMeta> for MetaRef<'a> {
    fn from(m: &'a ChangeMeta) -> Self {
        MetaRef {
            timestamp: m.timestamp,
            transaction_id: &m.transaction_id,
            position: &m.position,
            index_in_transaction: m.index_in_transaction,
            dedupe_key: &m.dedupe_key,
            server_id: m.server_id,
            sequence_in_transaction: m.sequence_in_transaction,
            stream_sequence: m.stream_sequence,
        }
    }
}

/// One row change as a format reads it: an owned [`RowChange`] or a borrowed [`RowRef`].
pub trait Row {
    /// The type of its column values.
    type Value: AsValue;
    /// Index of the table's schema in the batch.
    fn table(&self) -> u32;
    /// INSERT, UPDATE or DELETE.
    fn kind(&self) -> ChangeKind;
    /// The row before the change (UPDATE, DELETE).
    fn before(&self) -> Option<&[Self::Value]>;
    /// The row after the change (INSERT, UPDATE).
    fn after(&self) -> Option<&[Self::Value]>;
    /// Provenance.
    fn meta(&self) -> MetaRef<'_>;
    /// The image that identifies the row: the after image, or the before image for DELETE.
    fn key_image(&self) -> Option<&[Self::Value]> {
        self.after().or(self.before())
    }
}

impl Row for RowChange {
    type Value = Value;
    fn table(&self) -> u32 {
        self.table
    }
    fn kind(&self) -> ChangeKind {
        self.kind
    }
    fn before(&self) -> Option<&[Value]> {
        self.before.as_deref()
    }
    fn after(&self) -> Option<&[Value]> {
        self.after.as_deref()
    }
    fn meta(&self) -> MetaRef<'_> {
        MetaRef::from(&self.meta)
    }
}

/// A row read straight from the input buffer (`'a`), its images in a scratch vector (`'s`).
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'s, 'a> {
    pub(crate) table: u32,
    pub(crate) kind: ChangeKind,
    pub(crate) before: Option<&'s [ValueRef<'a>]>,
    pub(crate) after: Option<&'s [ValueRef<'a>]>,
    pub(crate) meta: MetaRef<'a>,
}

impl<'a> Row for RowRef<'_, 'a> {
    type Value = ValueRef<'a>;
    fn table(&self) -> u32 {
        self.table
    }
    fn kind(&self) -> ChangeKind {
        self.kind
    }
    fn before(&self) -> Option<&[ValueRef<'a>]> {
        self.before
    }
    fn after(&self) -> Option<&[ValueRef<'a>]> {
        self.after
    }
    fn meta(&self) -> MetaRef<'_> {
        self.meta
    }
}

/// What a one-message-per-row format implements: the body of one row's message.
pub trait RowFormatter {
    /// Renders one row of table `schema`.
    fn body<R: Row>(
        &mut self,
        options: &FormatOptions,
        schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String>;
}

/// The rows of a batch: owned, or still MessagePack in the input buffer.
#[derive(Debug)]
pub(crate) enum Rows<'a> {
    Owned(&'a [RowChange]),
    Packed {
        /// The row maps, one after the other, and nothing else.
        bytes: &'a [u8],
        count: usize,
        /// Set when the bytes were not in the host's shape (the caller decodes with serde).
        failed: Cell<bool>,
    },
}

/// A batch whose rows a [`RowFormatter`] reads without copies (see the module docs).
#[derive(Debug)]
pub struct RowBatch<'a> {
    /// Project settings.
    pub options: &'a FormatOptions,
    /// The schemas referenced by the rows' `table`.
    pub schemas: &'a [TableSchema],
    pub(crate) rows: Rows<'a>,
}

impl<'a> From<&'a FormatBatch> for RowBatch<'a> {
    fn from(b: &'a FormatBatch) -> Self {
        RowBatch {
            options: &b.options,
            schemas: &b.schemas,
            rows: Rows::Owned(&b.rows),
        }
    }
}

impl RowBatch<'_> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Owned(r) => r.len(),
            Rows::Packed { count, .. } => *count,
        }
    }

    /// True when the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renders every row, in order, into one message each.
    pub fn format_each<F: RowFormatter>(&self, f: &mut F) -> Result<FormatOutput, String> {
        // A row takes at least one byte, so a damaged row count cannot reserve more than that.
        let capacity = match &self.rows {
            Rows::Owned(rows) => rows.len(),
            Rows::Packed { bytes, count, .. } => (*count).min(bytes.len()),
        };
        let mut messages = Vec::with_capacity(capacity);
        let mut emit = |i: usize, table: u32, body: &mut dyn FnMut(&TableSchema) -> _| {
            let schema = self
                .schemas
                .get(table as usize)
                .ok_or_else(|| format!("row {i} refers to unknown table index {table}"))?;
            messages.push(OutMessage {
                row: i as u32,
                body: body(schema)?,
                ..OutMessage::default()
            });
            Ok::<(), String>(())
        };
        match &self.rows {
            Rows::Owned(rows) => {
                for (i, row) in rows.iter().enumerate() {
                    emit(i, row.table, &mut |s| f.body(self.options, s, row))?;
                }
            }
            Rows::Packed {
                bytes,
                count,
                failed,
            } => {
                let mut scratch = Vec::new();
                let mut r = crate::batch_reader::RowsReader::new(bytes);
                for i in 0..*count {
                    let Some(row) = r.next_row(&mut scratch) else {
                        failed.set(true);
                        return Err(format!("cannot decode row {i} of the input batch"));
                    };
                    emit(i, row.table, &mut |s| f.body(self.options, s, &row))?;
                }
                if !r.at_end() {
                    failed.set(true);
                    return Err("trailing bytes after the rows of the input batch".into());
                }
            }
        }
        Ok(FormatOutput { messages })
    }

    /// True when packed rows turned out not to be in the host's shape.
    pub(crate) fn decode_failed(&self) -> bool {
        matches!(&self.rows, Rows::Packed { failed, .. } if failed.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{encode, format_input};
    use crate::json::JsonWriter;
    use crate::render::write_value;

    /// Prints everything a row carries, through the `Row` trait.
    struct Dump;

    impl RowFormatter for Dump {
        fn body<R: Row>(
            &mut self,
            options: &FormatOptions,
            schema: &TableSchema,
            row: &R,
        ) -> Result<Vec<u8>, String> {
            let mut w = JsonWriter::with_capacity(64);
            w.string(&options.db_type);
            w.string(&schema.table);
            w.u64(u64::from(row.table()));
            w.string(row.kind().as_str());
            for image in [row.before(), row.after(), row.key_image()] {
                match image {
                    None => w.null(),
                    Some(values) => values.iter().for_each(|v| write_value(&mut w, v)),
                }
            }
            let m = row.meta();
            for s in [m.transaction_id, m.position, m.dedupe_key] {
                w.string(s);
            }
            for n in [
                m.timestamp,
                m.index_in_transaction,
                m.server_id,
                m.sequence_in_transaction,
            ] {
                w.u64(u64::from(n));
            }
            w.u64(m.stream_sequence);
            Ok(w.into_bytes())
        }
    }

    fn dump(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
        batch.format_each(&mut Dump)
    }

    #[test]
    fn rows_in_place_read_as_the_owned_rows() {
        let b = crate::batch_reader::tests::batch();
        let owned = dump(&RowBatch::from(&b)).unwrap();
        assert_eq!(owned.messages.len(), 3);
        assert_eq!(format_input(&encode(&b).unwrap(), dump), Ok(owned.clone()));
        let mut fast = Vec::new();
        crate::abi::encode_batch_into(&b, &mut fast).unwrap();
        assert_eq!(format_input(&fast, dump), Ok(owned.clone()));
        // Another valid shape (compact structs) goes through serde, to the same result.
        assert_eq!(
            format_input(&rmp_serde::to_vec(&b).unwrap(), dump),
            Ok(owned)
        );
    }

    #[test]
    fn a_huge_row_count_is_an_error_not_an_allocation() {
        let b = crate::batch_reader::tests::batch();
        let mut bytes = encode(&b).unwrap();
        // `rows` is the last field: its array header is where the rows begin.
        let rows = bytes.windows(5).position(|w| w == b"\xa4rows").unwrap() + 5;
        assert_eq!(bytes[rows], 0x93, "three rows, fixarray");
        bytes.splice(rows..rows + 1, [0xdd, 0xff, 0xff, 0xff, 0xf0]);
        assert!(format_input(&bytes, dump).is_err());
    }

    #[test]
    fn values_convert_both_ways() {
        for v in crate::value::samples() {
            assert_eq!(v.view().to_value(), v);
        }
    }

    #[test]
    fn damaged_input_is_an_error_or_what_serde_reads_never_a_panic() {
        let b = crate::batch_reader::tests::batch();
        let bytes = encode(&b).unwrap();
        for cut in (0..bytes.len()).step_by(37) {
            assert!(format_input(&bytes[..cut], dump).is_err(), "cut at {cut}");
        }
        for damaged in crate::batch_reader::tests::damaged(&bytes, 600) {
            let got = format_input(&damaged, dump);
            if let Ok(serde) = rmp_serde::from_slice::<FormatBatch>(&damaged) {
                assert_eq!(got, dump(&RowBatch::from(&serde)));
            } else {
                assert!(got.is_err());
            }
        }
    }
}
