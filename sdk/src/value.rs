//! Column values as obsync sees them after decoding a binlog row image.
//!
//! The model is lossless for every MySQL column type: integers keep their signedness, DECIMAL keeps
//! its exact digits as text, temporal values keep their fields (zero dates included) instead of
//! being forced into a calendar type, and text is already decoded from its column charset.
//! ENUM and SET arrive as their string form; BIT arrives as big-endian bytes.

use serde::{Deserialize, Serialize};

/// One column value of a row image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer (TINYINT … BIGINT, and BOOL).
    Int(i64),
    /// An unsigned integer (… BIGINT UNSIGNED).
    UInt(u64),
    /// A FLOAT column.
    Float(f32),
    /// A DOUBLE column.
    Double(f64),
    /// A DECIMAL/NUMERIC column as exact decimal text, e.g. `-12.3400`.
    Decimal(String),
    /// Character data (CHAR, VARCHAR, TEXT, ENUM, SET) decoded to UTF-8.
    Text(String),
    /// Binary data (BINARY, VARBINARY, BLOB, BIT, or text whose bytes are not valid in its charset).
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A DATE; zero parts are kept (`0000-00-00`).
    Date {
        /// Year, 0–9999.
        year: u16,
        /// Month, 0–12.
        month: u8,
        /// Day, 0–31.
        day: u8,
    },
    /// A TIME, which may be negative and exceed 24 hours (`-838:59:59.000000`).
    Time {
        /// True for a negative duration.
        negative: bool,
        /// Whole hours, 0–838.
        hours: u32,
        /// Minutes, 0–59.
        minutes: u8,
        /// Seconds, 0–59.
        seconds: u8,
        /// Microseconds, 0–999999.
        micros: u32,
    },
    /// A DATETIME: wall-clock time without a zone.
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
    /// A TIMESTAMP as seconds since the Unix epoch (UTC) plus microseconds.
    Timestamp {
        /// Seconds since 1970-01-01 00:00:00 UTC; 0 is MySQL's zero timestamp.
        seconds: i64,
        /// Microseconds, 0–999999.
        micros: u32,
    },
    /// A YEAR; 0 is the zero year.
    Year(u16),
    /// A JSON document as JSON text.
    Json(String),
}

impl Value {
    /// Returns true for SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
