//! Column values as obsync sees them after decoding a binlog row image.
//!
//! The model is lossless for every MySQL column type: integers keep their signedness, DECIMAL keeps
//! its exact digits as text, temporal values keep their fields (zero dates included) instead of
//! being forced into a calendar type, and text is already decoded from its column charset.
//! ENUM and SET arrive as their string form; BIT arrives as big-endian bytes.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One column value of a row image.
///
/// On the wire (MessagePack, see `sdk/ABI.md`) the common kinds are plain values: `nil` for NULL,
/// an integer for `Int`, `f32`/`f64` for FLOAT/DOUBLE, a string for `Text`, `bin` for `Bytes`;
/// the others are arrays whose first element is a tag: `[2, u64]` UInt, `[7, "text"]` Decimal,
/// `[8, y, m, d]` Date, `[9, negative, h, m, s, µs]` Time, `[10, y, m, d, h, m, s, µs]` DateTime,
/// `[11, seconds, µs]` Timestamp, `[12, y]` Year, `[13, "json"]` Json.
#[derive(Clone, Debug, PartialEq)]
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
    Bytes(Vec<u8>),
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

// The wire tags of the values MessagePack has no type for (`[tag, fields…]`), shared by the serde
// impls here and the hand-written batch reader and writer.
pub(crate) const TAG_UINT: u8 = 2;
pub(crate) const TAG_DECIMAL: u8 = 7;
pub(crate) const TAG_DATE: u8 = 8;
pub(crate) const TAG_TIME: u8 = 9;
pub(crate) const TAG_DATETIME: u8 = 10;
pub(crate) const TAG_TIMESTAMP: u8 = 11;
pub(crate) const TAG_YEAR: u8 = 12;
pub(crate) const TAG_JSON: u8 = 13;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => (TAG_UINT, *u).serialize(s),
            Value::Float(f) => s.serialize_f32(*f),
            Value::Double(d) => s.serialize_f64(*d),
            Value::Decimal(t) => (TAG_DECIMAL, t).serialize(s),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Date { year, month, day } => (TAG_DATE, year, month, day).serialize(s),
            Value::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros,
            } => (TAG_TIME, negative, hours, minutes, seconds, micros).serialize(s),
            Value::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            } => (TAG_DATETIME, year, month, day, hour, minute, second, micros).serialize(s),
            Value::Timestamp { seconds, micros } => (TAG_TIMESTAMP, seconds, micros).serialize(s),
            Value::Year(y) => (TAG_YEAR, y).serialize(s),
            Value::Json(t) => (TAG_JSON, t).serialize(s),
        }
    }
}

struct ValueVisitor;

fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom("tagged value is missing a field"))
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an obsync column value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Int(v as i64))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer above i64::MAX must be tagged as UInt"))
    }

    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Double(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let tag: u8 = next(&mut seq)?;
        Ok(match tag {
            TAG_UINT => Value::UInt(next(&mut seq)?),
            TAG_DECIMAL => Value::Decimal(next(&mut seq)?),
            TAG_DATE => Value::Date {
                year: next(&mut seq)?,
                month: next(&mut seq)?,
                day: next(&mut seq)?,
            },
            TAG_TIME => Value::Time {
                negative: next(&mut seq)?,
                hours: next(&mut seq)?,
                minutes: next(&mut seq)?,
                seconds: next(&mut seq)?,
                micros: next(&mut seq)?,
            },
            TAG_DATETIME => Value::DateTime {
                year: next(&mut seq)?,
                month: next(&mut seq)?,
                day: next(&mut seq)?,
                hour: next(&mut seq)?,
                minute: next(&mut seq)?,
                second: next(&mut seq)?,
                micros: next(&mut seq)?,
            },
            TAG_TIMESTAMP => Value::Timestamp {
                seconds: next(&mut seq)?,
                micros: next(&mut seq)?,
            },
            TAG_YEAR => Value::Year(next(&mut seq)?),
            TAG_JSON => Value::Json(next(&mut seq)?),
            other => return Err(de::Error::custom(format!("unknown value tag {other}"))),
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// One value of every kind, with edge values (tests of the wire encodings).
#[cfg(test)]
pub(crate) fn samples() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Int(-5),
        Value::Int(i64::MAX),
        Value::Int(7),
        Value::UInt(u64::MAX),
        Value::UInt(3),
        Value::Float(1.25),
        Value::Double(-2.5e-300),
        Value::Decimal("12.50".into()),
        Value::Text("中文 😀".into()),
        Value::Bytes(vec![0, 255]),
        Value::Date {
            year: 0,
            month: 0,
            day: 0,
        },
        Value::Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 123_000,
        },
        Value::DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 59,
            micros: 1,
        },
        Value::Timestamp {
            seconds: -1,
            micros: 999_999,
        },
        Value::Year(2155),
        Value::Json("{\"a\":1}".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_messagepack() {
        let values = samples();
        let bytes = crate::abi::encode(&values).unwrap();
        let back: Vec<Value> = crate::abi::decode(&bytes).unwrap();
        assert_eq!(back, values);
        assert!(crate::abi::decode::<Value>(&crate::abi::encode(&(99u8, 1u8)).unwrap()).is_err());
    }
}
