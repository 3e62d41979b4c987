//! Row-image decoding: turns the raw images of a ROWS event into [`Value`] rows, using the cached
//! [`SourceTable`] layout and `mysql_common`'s value parser for single values.
//!
//! Fixes applied over the parser: signed MEDIUMINT is sign-extended, YEAR 0 stays 0, unsigned
//! integers are widened from their signed bit pattern, TIMESTAMP text becomes seconds and
//! microseconds, ENUM/SET become their strings. Read here directly, not by the parser: strings
//! and blobs, `BINARY(n)` re-padded with the 0x00 bytes the image drops, integers, floats,
//! DECIMAL, DATETIME2, TIMESTAMP2 and TIME/TIME2 (every precision and sign: the parser
//! underflows on a negative fraction).
//! Text is decoded from its column's character set into UTF-8 ([`charset`]); text that cannot
//! be decoded is an error naming the column, never bytes passed on.
//! A partial JSON update (MySQL `PARTIAL_UPDATE_ROWS`) is applied to the before image, so the
//! after image always holds whole documents. MariaDB `COMPRESSED` column values are inflated.
//! A malformed image returns an error; nothing here panics on bad bytes.

use mysql_common::binlog::events::RowsEventData;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType as MyType;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value as MyValue;
use obsync_sdk::{ColumnType, Value};

use super::{json_diff, mariadb_compression};
use crate::schema::charset::{self, BINARY_COLLATION};
use crate::schema::{SourceColumn, SourceTable};

/// A decoded row change: (before image, after image), each a full row in column order.
pub type DecodedRow = (Option<Vec<Value>>, Option<Vec<Value>>);

/// Why a row image could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table `{database}`.`{table}`: cannot decode row image: {message}")]
pub struct DecodeError {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// What was wrong.
    pub message: String,
}

/// Decodes every row of a ROWS event.
pub fn decode_rows<'a>(
    re: &'a RowsEventData<'_>,
    t: &'a SourceTable,
) -> Result<Vec<DecodedRow>, DecodeError> {
    let err = |message: String| DecodeError {
        database: t.database.clone(),
        table: t.table.clone(),
        message,
    };
    let n = usize::try_from(re.num_columns()).map_err(|_| err("column count overflow".into()))?;
    if n != t.columns.len() {
        return Err(err(format!(
            "event has {n} columns but the table map has {}",
            t.columns.len()
        )));
    }
    let before: Option<Vec<bool>> = re
        .columns_before_image()
        .map(|b| (0..n).map(|i| b.get(i).is_some_and(|x| *x)).collect());
    let after: Option<Vec<bool>> = re
        .columns_after_image()
        .map(|b| (0..n).map(|i| b.get(i).is_some_and(|x| *x)).collect());
    let partial = matches!(re, RowsEventData::PartialUpdateRowsEvent(_));
    let json_columns = t
        .columns
        .iter()
        .filter(|c| c.binlog_type == MyType::MYSQL_TYPE_JSON)
        .count();
    let mut buf = ParseBuf(re.rows_data());
    let mut rows = Vec::new();
    while !buf.is_empty() {
        let left = buf.len();
        let b = match &before {
            Some(p) => Some(decode_image(&mut buf, t, p, None, json_columns).map_err(err)?),
            None => None,
        };
        let a = match &after {
            Some(p) => {
                // A partial JSON update's after image is applied to the before image.
                let base = partial.then(|| b.as_deref().unwrap_or(&[]));
                Some(decode_image(&mut buf, t, p, base, json_columns).map_err(err)?)
            }
            None => None,
        };
        // A damaged event can describe images of no bytes (no columns present): stop instead of
        // producing rows forever.
        if buf.len() == left {
            return Err(err(format!(
                "row image of no bytes with {} bytes left",
                buf.len()
            )));
        }
        rows.push((b, a));
    }
    Ok(rows)
}

fn decode_image<'a>(
    buf: &mut ParseBuf<'a>,
    t: &'a SourceTable,
    present: &[bool],
    partial_base: Option<&[Value]>,
    json_columns: usize,
) -> Result<Vec<Value>, String> {
    let truncated = || "row image truncated".to_string();
    let mut partial_bits: Option<&'a [u8]> = None;
    if partial_base.is_some() {
        let opts = buf.checked_eat_lenenc_int().ok_or_else(truncated)?;
        if opts & 1 != 0 {
            partial_bits = Some(
                buf.checked_eat(json_columns.div_ceil(8))
                    .ok_or_else(truncated)?,
            );
        }
    }
    let n_present = present.iter().filter(|b| **b).count();
    let nulls = buf
        .checked_eat(n_present.div_ceil(8))
        .ok_or_else(truncated)?;
    let mut out = Vec::with_capacity(t.columns.len());
    let (mut k, mut j) = (0usize, 0usize);
    for (i, c) in t.columns.iter().enumerate() {
        let is_json = c.binlog_type == MyType::MYSQL_TYPE_JSON;
        let is_partial = is_json
            && partial_bits.is_some_and(|p| p.get(j / 8).is_some_and(|b| (b >> (j % 8)) & 1 == 1));
        if is_json {
            j += 1;
        }
        if !present.get(i).copied().unwrap_or(false) {
            out.push(Value::Null);
            continue;
        }
        let is_null = nulls.get(k / 8).is_some_and(|b| (b >> (k % 8)) & 1 == 1);
        k += 1;
        if is_null {
            out.push(Value::Null);
            continue;
        }
        if c.binlog_type == MyType::MYSQL_TYPE_NEWDECIMAL
            && let [precision, scale, ..] = c.meta[..]
            && let Some(size) = decimal_size(precision, scale)
        {
            // Read directly: the generic parser builds a decimal and then its text.
            let raw = buf
                .checked_eat(size)
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?;
            out.push(Value::Decimal(decimal_text(raw, precision, scale)));
            continue;
        }
        if let Some(prefix) = length_prefix(c) {
            // Strings and blobs read directly: a length, then the bytes.
            let value = buf
                .checked_eat(prefix)
                .and_then(|len| {
                    let n = len
                        .iter()
                        .rev()
                        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                    buf.checked_eat(n)
                })
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?;
            let value = if c.compressed {
                mariadb_compression::inflate_column(value)
                    .map_err(|e| format!("column `{}`: {e}", c.name))?
                    .into_owned()
            } else {
                value.to_vec()
            };
            out.push(bytes(value, c).map_err(|e| format!("column `{}`: {e}", c.name))?);
            continue;
        }
        if let Some((prefix, max_len)) = fixed_string(c) {
            // CHAR and BINARY: a length, then the bytes; BINARY(n) padded back to n bytes.
            let mut value = buf
                .checked_eat(prefix)
                .and_then(|len| {
                    let n = len
                        .iter()
                        .rev()
                        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                    buf.checked_eat(n)
                })
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?
                .to_vec();
            if c.column_type == ColumnType::Binary && value.len() < max_len {
                value.resize(max_len, 0);
            }
            out.push(bytes(value, c).map_err(|e| format!("column `{}`: {e}", c.name))?);
            continue;
        }
        if let Some(size) = time_size(c) {
            let raw = buf
                .checked_eat(size)
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?;
            out.push(time_value(raw, c));
            continue;
        }
        if let Some(size) = fixed_size(c) {
            // Integers, FLOAT, DOUBLE and DATETIME2 read directly: the generic parser goes
            // through its own value type first.
            let raw = buf
                .checked_eat(size)
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?;
            out.push(fixed_value(raw, c));
            continue;
        }
        if c.binlog_type == MyType::MYSQL_TYPE_TIMESTAMP2 {
            // Read directly: the generic parser renders the value as text first.
            let fsp = c.meta.first().copied().unwrap_or(0);
            let raw = buf
                .checked_eat(4 + usize::from(fsp.div_ceil(2)))
                .ok_or_else(|| format!("column `{}`: {}", c.name, truncated()))?;
            out.push(timestamp2(raw, fsp));
            continue;
        }
        let v = buf
            .parse::<BinlogValue<'a>>((c.binlog_type, c.meta.as_slice(), c.unsigned, is_partial))
            .map_err(|e| format!("column `{}`: {e}", c.name))?;
        let v = match v {
            BinlogValue::JsonDiff(diffs) => match partial_base.and_then(|b| b.get(i)) {
                Some(Value::Json(before)) => Value::Json(
                    json_diff::apply(before, &diffs)
                        .map_err(|e| format!("column `{}`: {e}", c.name))?,
                ),
                _ => {
                    return Err(format!(
                        "column `{}`: a partial JSON update without the column's before image (set binlog_row_image=FULL or binlog_row_value_options='')",
                        c.name
                    ));
                }
            },
            v => convert(v, c).map_err(|e| format!("column `{}`: {e}", c.name))?,
        };
        out.push(v);
    }
    Ok(out)
}

/// The size of the length before a VARCHAR or BLOB value (1–4 bytes), for the types read
/// directly; `None` for every other type.
fn length_prefix(c: &SourceColumn) -> Option<usize> {
    match c.binlog_type {
        MyType::MYSQL_TYPE_VARCHAR | MyType::MYSQL_TYPE_VAR_STRING => {
            let max = u16::from_le_bytes([*c.meta.first()?, *c.meta.get(1)?]);
            Some(if max < 256 { 1 } else { 2 })
        }
        MyType::MYSQL_TYPE_BLOB
        | MyType::MYSQL_TYPE_TINY_BLOB
        | MyType::MYSQL_TYPE_MEDIUM_BLOB
        | MyType::MYSQL_TYPE_LONG_BLOB => match c.meta.first()? {
            n @ 1..=4 => Some(usize::from(*n)),
            _ => None,
        },
        _ => None,
    }
}

/// For a CHAR or BINARY column (binlog type STRING, real type STRING; not ENUM or SET): the
/// size of the length before its value (1 or 2 bytes) and the column's length in bytes.
fn fixed_string(c: &SourceColumn) -> Option<(usize, usize)> {
    if c.binlog_type != MyType::MYSQL_TYPE_STRING
        || !matches!(c.column_type, ColumnType::Char | ColumnType::Binary)
    {
        return None;
    }
    let (b0, b1) = (*c.meta.first()?, *c.meta.get(1)?);
    // MySQL's `Field_string::do_save_field_metadata`: lengths over 255 keep their two high
    // bits, inverted, in bits 4–5 of the real type.
    let (real_type, max_len) = if b0 & 0x30 != 0x30 {
        (
            b0 | 0x30,
            usize::from(b1) | (usize::from((b0 & 0x30) ^ 0x30) << 4),
        )
    } else {
        (b0, usize::from(b1))
    };
    (real_type == u8::from(MyType::MYSQL_TYPE_STRING))
        .then_some((if max_len > 255 { 2 } else { 1 }, max_len))
}

/// The size of a TIME2 (3 bytes and `ceil(fsp / 2)` of fraction) or old-format TIME (3 bytes)
/// value; `None` for every other column.
fn time_size(c: &SourceColumn) -> Option<usize> {
    match c.binlog_type {
        MyType::MYSQL_TYPE_TIME2 => {
            // The table map guarantees a precision of 0–6 (`check_meta`).
            let fsp = c.meta.first().copied().unwrap_or(0);
            (fsp <= 6).then(|| 3 + usize::from(fsp.div_ceil(2)))
        }
        MyType::MYSQL_TYPE_TIME => Some(3),
        _ => None,
    }
}

/// A TIME2 or old TIME value from exactly [`time_size`] bytes.
fn time_value(raw: &[u8], c: &SourceColumn) -> Value {
    if c.binlog_type == MyType::MYSQL_TYPE_TIME {
        // Old format: a signed little-endian integer, ±HHHMMSS.
        let v = raw
            .iter()
            .take(3)
            .rev()
            .fold(0i32, |acc, &b| (acc << 8) | i32::from(b));
        let v = (v << 8) >> 8;
        let a = v.unsigned_abs();
        return Value::Time {
            negative: v < 0,
            hours: a / 10_000,
            minutes: (a / 100 % 100) as u8,
            seconds: (a % 100) as u8,
            micros: 0,
        };
    }
    time2(raw)
}

/// A TIME2 value (MySQL's `my_time_packed_from_binary` then `TIME_from_longlong_time_packed`):
/// 3 big-endian bytes offset by 2^23 holding hour (10 bits), minute and second, then 0–3
/// big-endian bytes of fraction; a negative time stores its fraction counted back from the
/// next second, so one second is given back to the integer part.
fn time2(raw: &[u8]) -> Value {
    let be = |b: &[u8]| b.iter().fold(0i64, |acc, &x| (acc << 8) | i64::from(x));
    let frac = raw.get(3..).unwrap_or_default();
    let packed = if frac.len() == 3 {
        // Precision 5–6: the six bytes as one number offset by 2^47.
        be(raw) - 0x8000_0000_0000
    } else {
        let mut int_part = be(raw.get(..3).unwrap_or_default()) - 0x80_0000;
        let (mut f, unit, wrap) = match frac.len() {
            1 => (i64::from(frac[0]), 10_000, 0x100),
            2 => (
                i64::from(u16::from_be_bytes([frac[0], frac[1]])),
                100,
                0x1_0000,
            ),
            _ => (0, 0, 0),
        };
        if int_part < 0 && f != 0 {
            int_part += 1;
            f -= wrap;
        }
        (int_part << 24) + f * unit
    };
    let a = packed.unsigned_abs();
    let hms = a >> 24;
    Value::Time {
        negative: packed < 0,
        hours: ((hms >> 12) % (1 << 10)) as u32,
        minutes: ((hms >> 6) % (1 << 6)) as u8,
        seconds: (hms % (1 << 6)) as u8,
        micros: (a % (1 << 24)) as u32,
    }
}

/// The size of a value [`fixed_value`] reads: integers, FLOAT, DOUBLE and DATETIME2 (the
/// catalog may give an integer binlog type another family, ENUM say: those take the generic
/// path); `None` for every other column.
fn fixed_size(c: &SourceColumn) -> Option<usize> {
    use MyType::*;
    match (c.binlog_type, c.column_type) {
        (MYSQL_TYPE_TINY, ColumnType::TinyInt) => Some(1),
        (MYSQL_TYPE_SHORT, ColumnType::SmallInt) => Some(2),
        (MYSQL_TYPE_INT24, ColumnType::MediumInt) => Some(3),
        (MYSQL_TYPE_LONG, ColumnType::Int) | (MYSQL_TYPE_FLOAT, ColumnType::Float) => Some(4),
        (MYSQL_TYPE_LONGLONG, ColumnType::BigInt) | (MYSQL_TYPE_DOUBLE, ColumnType::Double) => {
            Some(8)
        }
        (MYSQL_TYPE_DATETIME2, ColumnType::DateTime) => {
            // The table map guarantees a precision of 0–6 (`check_meta`).
            let fsp = c.meta.first().copied().unwrap_or(0);
            (fsp <= 6).then(|| 5 + usize::from(fsp.div_ceil(2)))
        }
        _ => None,
    }
}

/// A value of a column [`fixed_size`] accepts, from exactly that many bytes: little-endian
/// integers (sign from the column), IEEE floats, and DATETIME2 (5 big-endian bytes of packed
/// date and time, then the fraction), as the generic parser plus [`convert`] give them.
fn fixed_value(raw: &[u8], c: &SourceColumn) -> Value {
    let le = |n: usize| -> u64 {
        raw.iter()
            .take(n)
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    let int = |n: usize| -> Value {
        let u = le(n);
        if c.unsigned {
            Value::UInt(u)
        } else {
            // Sign-extend from n bytes.
            let shift = 64 - 8 * n as u32;
            Value::Int(((u << shift) as i64) >> shift)
        }
    };
    match c.binlog_type {
        MyType::MYSQL_TYPE_TINY => int(1),
        MyType::MYSQL_TYPE_SHORT => int(2),
        MyType::MYSQL_TYPE_INT24 => int(3),
        MyType::MYSQL_TYPE_LONG => int(4),
        MyType::MYSQL_TYPE_FLOAT => Value::Float(f32::from_bits(le(4) as u32)),
        MyType::MYSQL_TYPE_DOUBLE => Value::Double(f64::from_bits(le(8))),
        MyType::MYSQL_TYPE_DATETIME2 => datetime2(raw),
        _ => int(8),
    }
}

/// A DATETIME2 value (MySQL's `my_datetime_packed_from_binary` then `datetime_from_packed`):
/// 5 big-endian bytes offset by 2^39 holding year·13+month, day, hour, minute, second; then
/// 0–3 big-endian bytes of fraction in units of 10^-(2·bytes) seconds.
fn datetime2(raw: &[u8]) -> Value {
    let be = |b: &[u8]| b.iter().fold(0i64, |acc, &x| (acc << 8) | i64::from(x));
    let int_part = be(raw.get(..5).unwrap_or_default()) - 0x80_0000_0000;
    let frac = raw.get(5..).unwrap_or_default();
    let micros = match frac.len() {
        1 => i64::from(frac[0] as i8) * 10_000,
        2 => i64::from(i16::from_be_bytes([frac[0], frac[1]])) * 100,
        3 => (be(frac) << 40) >> 40,
        _ => 0,
    };
    let packed = (int_part << 24).wrapping_add(micros).wrapping_abs();
    let usec = packed % (1 << 24);
    let ymdhms = packed >> 24;
    let ymd = ymdhms >> 17;
    let ym = ymd >> 5;
    let hms = ymdhms % (1 << 17);
    Value::DateTime {
        year: (ym / 13) as u16,
        month: (ym % 13) as u8,
        day: (ymd % (1 << 5)) as u8,
        hour: (hms >> 12) as u8,
        minute: ((hms >> 6) % (1 << 6)) as u8,
        second: (hms % (1 << 6)) as u8,
        micros: usec as u32,
    }
}

/// Bytes used by the leftover 0–8 digits of a binary DECIMAL group.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// The size of a binary DECIMAL(precision, scale), or `None` for impossible metadata.
fn decimal_size(precision: u8, scale: u8) -> Option<usize> {
    if precision == 0 || precision > 65 || scale > 30 || scale > precision {
        return None;
    }
    let (intg, frac) = (usize::from(precision - scale), usize::from(scale));
    Some(intg / 9 * 4 + DIG2BYTES[intg % 9] + frac / 9 * 4 + DIG2BYTES[frac % 9])
}

/// Renders a binary DECIMAL (MySQL's format: sign in the top bit, groups of 9 digits in 4
/// big-endian bytes, leftover digits in fewer bytes, negative values bit-inverted) as the
/// server prints it: no leading zeros, exactly `scale` fraction digits. `raw` has
/// [`decimal_size`] bytes.
fn decimal_text(raw: &[u8], precision: u8, scale: u8) -> String {
    let (intg, frac) = (usize::from(precision - scale), usize::from(scale));
    let negative = raw.first().is_some_and(|b| b & 0x80 == 0);
    let mask: u8 = if negative { 0xff } else { 0 };
    let mut at = 0usize;
    let mut read = |n: usize, first: bool| -> u32 {
        let mut v = 0u32;
        for k in 0..n {
            let mut b = raw.get(at + k).copied().unwrap_or(0) ^ mask;
            if first && k == 0 {
                b ^= 0x80;
            }
            v = (v << 8) | u32::from(b);
        }
        at += n;
        v
    };
    use std::fmt::Write;
    let mut out = String::with_capacity(intg + frac + 3);
    if negative {
        out.push('-');
    }
    let int_start = out.len();
    let lead = intg % 9;
    let mut first = true;
    if lead > 0 {
        let v = read(DIG2BYTES[lead], first);
        first = false;
        let _ = write!(out, "{v:0lead$}");
    }
    for _ in 0..intg / 9 {
        let v = read(4, first);
        first = false;
        let _ = write!(out, "{v:09}");
    }
    // No leading zeros, but one zero before the point.
    let zeros = out[int_start..].bytes().take_while(|b| *b == b'0').count();
    let keep = if zeros == out.len() - int_start {
        zeros.saturating_sub(1)
    } else {
        zeros
    };
    out.replace_range(int_start..int_start + keep, "");
    if out.len() == int_start {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
    }
    for _ in 0..frac / 9 {
        let v = read(4, first);
        first = false;
        let _ = write!(out, "{v:09}");
    }
    let trail = frac % 9;
    if trail > 0 {
        let v = read(DIG2BYTES[trail], first);
        let _ = write!(out, "{v:0trail$}");
    }
    // Negative zero prints as zero.
    if negative && out[1..].bytes().all(|b| b == b'0' || b == b'.') {
        out.remove(0);
    }
    out
}

/// A TIMESTAMP2 value: 4 bytes of big-endian seconds, then `ceil(fsp / 2)` big-endian bytes of
/// the fraction in units of 10^-(2·bytes) seconds. `raw` has exactly that length.
fn timestamp2(raw: &[u8], fsp: u8) -> Value {
    let seconds = raw
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let frac = raw
        .get(4..)
        .unwrap_or_default()
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let micros = match fsp.div_ceil(2) {
        1 => frac * 10_000,
        2 => frac * 100,
        3 => frac,
        _ => 0,
    };
    Value::Timestamp {
        seconds: i64::from(seconds),
        micros: micros.min(999_999),
    }
}

/// Converts one parsed value to the obsync value model.
pub fn convert(v: BinlogValue<'_>, c: &SourceColumn) -> Result<Value, String> {
    match v {
        BinlogValue::Value(v) => convert_plain(v, c),
        BinlogValue::Jsonb(j) => {
            let json = mysql_common::serde_json::Value::try_from(j)
                .map_err(|e| format!("bad binary json: {e}"))?;
            Ok(Value::Json(json.to_string()))
        }
        // Applied to the before image by `decode_image`; never alone.
        BinlogValue::JsonDiff(_) => {
            Err("a partial JSON update outside an UPDATE's after image".into())
        }
    }
}

fn convert_plain(v: MyValue, c: &SourceColumn) -> Result<Value, String> {
    Ok(match v {
        MyValue::NULL => Value::Null,
        MyValue::Int(i) => int(i, c),
        MyValue::UInt(u) => Value::UInt(u),
        MyValue::Float(f) => Value::Float(f),
        MyValue::Double(d) => Value::Double(d),
        MyValue::Date(year, month, day, hour, minute, second, micros) => match c.column_type {
            ColumnType::Date => Value::Date { year, month, day },
            _ => Value::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            },
        },
        MyValue::Time(negative, days, h, minutes, seconds, micros) => Value::Time {
            negative,
            hours: days.saturating_mul(24).saturating_add(h as u32),
            minutes,
            seconds,
            micros,
        },
        MyValue::Bytes(b) => bytes(b, c)?,
    })
}

fn int(i: i64, c: &SourceColumn) -> Value {
    match c.column_type {
        ColumnType::Enum => Value::Text(enum_text(i, c)),
        ColumnType::Timestamp => Value::Timestamp {
            seconds: i,
            micros: 0,
        },
        ColumnType::MediumInt if !c.unsigned && i >= 0x80_0000 => Value::Int(i - 0x100_0000),
        _ if c.unsigned && i < 0 => {
            let bits = match c.column_type {
                ColumnType::TinyInt => 8,
                ColumnType::SmallInt => 16,
                ColumnType::MediumInt => 24,
                ColumnType::Int => 32,
                _ => 64,
            };
            let u = if bits == 64 {
                i as u64
            } else {
                (i as u64) & ((1u64 << bits) - 1)
            };
            Value::UInt(u)
        }
        _ if c.unsigned => Value::UInt(i as u64),
        _ => Value::Int(i),
    }
}

fn enum_text(index: i64, c: &SourceColumn) -> String {
    if index <= 0 {
        return String::new();
    }
    c.enum_values
        .get(index as usize - 1)
        .cloned()
        .unwrap_or_else(|| index.to_string())
}

fn bytes(b: Vec<u8>, c: &SourceColumn) -> Result<Value, String> {
    Ok(match c.column_type {
        ColumnType::Decimal => {
            Value::Decimal(String::from_utf8(b).map_err(|_| "bad decimal text")?)
        }
        ColumnType::Year => {
            let text = String::from_utf8(b).map_err(|_| "bad year text")?;
            let y: u16 = text.parse().map_err(|_| format!("bad year {text:?}"))?;
            // The parser renders the zero year as 1900 (1900 is not a valid YEAR value).
            Value::Year(if y == 1900 { 0 } else { y })
        }
        ColumnType::Timestamp => {
            let text = String::from_utf8(b).map_err(|_| "bad timestamp text")?;
            let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
            let seconds: i64 = secs
                .parse()
                .map_err(|_| format!("bad timestamp {text:?}"))?;
            let micros = if frac.is_empty() {
                0
            } else {
                let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
                digits
                    .parse()
                    .map_err(|_| format!("bad timestamp {text:?}"))?
            };
            Value::Timestamp { seconds, micros }
        }
        ColumnType::Set => Value::Text(set_text(&b, c)),
        ColumnType::Bit
        | ColumnType::Binary
        | ColumnType::VarBinary
        | ColumnType::Blob
        | ColumnType::Geometry => Value::Bytes(b),
        ColumnType::Json => {
            Value::Json(String::from_utf8(b).map_err(|_| "json text is not utf-8")?)
        }
        _ => text(b, c)?,
    })
}

fn set_text(bitmap: &[u8], c: &SourceColumn) -> String {
    let mut out = String::new();
    for (i, member) in c.set_values.iter().enumerate() {
        if bitmap.get(i / 8).is_some_and(|b| (b >> (i % 8)) & 1 == 1) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(member);
        }
    }
    out
}

/// Text bytes of a character column: decoded from its charset, or bytes for a binary one.
fn text(b: Vec<u8>, c: &SourceColumn) -> Result<Value, String> {
    if c.charset == BINARY_COLLATION {
        return Ok(Value::Bytes(b));
    }
    charset::decode_text(b, c.charset)
        .map(Value::Text)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_matches_the_generic_parser() {
        let column = |p: u8, sc: u8| SourceColumn {
            name: "d".into(),
            column_type: ColumnType::Decimal,
            sql_type: "decimal".into(),
            unsigned: false,
            nullable: true,
            charset: 0,
            binlog_type: MyType::MYSQL_TYPE_NEWDECIMAL,
            meta: vec![p, sc],
            enum_values: Vec::new(),
            set_values: Vec::new(),
            compressed: false,
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for (p, sc) in [
            (1, 0),
            (5, 2),
            (10, 0),
            (18, 9),
            (20, 6),
            (65, 30),
            (65, 0),
            (30, 30),
            (9, 9),
            (10, 1),
        ] {
            let size = decimal_size(p, sc).unwrap();
            let (intg, frac) = (usize::from(p - sc), usize::from(sc));
            // Group widths in order: leading partial, whole integer groups, whole fraction
            // groups, trailing partial.
            let mut widths = Vec::new();
            if intg % 9 > 0 {
                widths.push(intg % 9);
            }
            widths.extend(std::iter::repeat_n(9, intg / 9 + frac / 9));
            if frac % 9 > 0 {
                widths.push(frac % 9);
            }
            for round in 0..200 {
                let mut raw = Vec::with_capacity(size);
                for &w in &widths {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let v = (seed % 10u64.pow(w as u32)) as u32;
                    let n = if w == 9 { 4 } else { DIG2BYTES[w] };
                    raw.extend_from_slice(&v.to_be_bytes()[4 - n..]);
                }
                raw[0] ^= 0x80;
                if round % 2 == 1 {
                    raw.iter_mut().for_each(|b| *b = !*b);
                }
                let c = column(p, sc);
                let mut buf = ParseBuf(&raw);
                let generic = buf
                    .parse::<BinlogValue<'_>>((c.binlog_type, c.meta.as_slice(), false, false))
                    .unwrap();
                let Ok(Value::Decimal(expected)) = convert(generic, &c) else {
                    panic!("not a decimal");
                };
                assert_eq!(decimal_text(&raw, p, sc), expected, "({p},{sc}) {raw:x?}");
            }
        }
        // Known values.
        let d = |p, sc, hex: &[u8]| decimal_text(hex, p, sc);
        assert_eq!(d(5, 2, &[0x80, 0x01, 0x02]), "1.02");
        assert_eq!(d(5, 2, &[0x7f, 0xfe, 0xfd]), "-1.02");
        assert_eq!(d(5, 2, &[0x80, 0x00, 0x00]), "0.00");
    }

    #[test]
    fn strings_and_blobs_match_the_generic_parser() {
        for (binlog_type, meta, column_type, charset) in [
            (
                MyType::MYSQL_TYPE_VARCHAR,
                vec![100, 0],
                ColumnType::VarChar,
                45,
            ),
            (
                MyType::MYSQL_TYPE_VARCHAR,
                vec![0x2c, 0x01],
                ColumnType::VarChar,
                8,
            ),
            (
                MyType::MYSQL_TYPE_VARCHAR,
                vec![16, 0],
                ColumnType::VarBinary,
                63,
            ),
            (MyType::MYSQL_TYPE_BLOB, vec![1], ColumnType::Blob, 63),
            (MyType::MYSQL_TYPE_BLOB, vec![2], ColumnType::Text, 45),
            (MyType::MYSQL_TYPE_BLOB, vec![3], ColumnType::Text, 45),
            (MyType::MYSQL_TYPE_BLOB, vec![4], ColumnType::Json, 45),
        ] {
            let c = SourceColumn {
                name: "s".into(),
                column_type,
                sql_type: String::new(),
                unsigned: false,
                nullable: true,
                charset,
                binlog_type,
                meta: meta.clone(),
                enum_values: Vec::new(),
                set_values: Vec::new(),
                compressed: false,
            };
            let prefix = length_prefix(&c).unwrap();
            for body in [
                &b""[..],
                b"abc",
                "中文 😀".as_bytes(),
                b"\xff\xfe",
                &[b'x'; 40],
            ] {
                let mut raw = body.len().to_le_bytes()[..prefix].to_vec();
                raw.extend_from_slice(body);
                let mut buf = ParseBuf(&raw);
                let generic = buf
                    .parse::<BinlogValue<'_>>((c.binlog_type, c.meta.as_slice(), false, false))
                    .unwrap();
                assert!(buf.is_empty());
                let expected = convert(generic, &c);
                assert_eq!(
                    bytes(body.to_vec(), &c),
                    expected,
                    "{binlog_type:?} {meta:?}"
                );
            }
        }
    }

    #[test]
    fn fixed_width_values_match_the_generic_parser() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (binlog_type, column_type, meta) in [
            (MyType::MYSQL_TYPE_TINY, ColumnType::TinyInt, vec![]),
            (MyType::MYSQL_TYPE_SHORT, ColumnType::SmallInt, vec![]),
            (MyType::MYSQL_TYPE_INT24, ColumnType::MediumInt, vec![]),
            (MyType::MYSQL_TYPE_LONG, ColumnType::Int, vec![]),
            (MyType::MYSQL_TYPE_LONGLONG, ColumnType::BigInt, vec![]),
            (MyType::MYSQL_TYPE_FLOAT, ColumnType::Float, vec![4]),
            (MyType::MYSQL_TYPE_DOUBLE, ColumnType::Double, vec![8]),
            (MyType::MYSQL_TYPE_DATETIME2, ColumnType::DateTime, vec![0]),
            (MyType::MYSQL_TYPE_DATETIME2, ColumnType::DateTime, vec![2]),
            (MyType::MYSQL_TYPE_DATETIME2, ColumnType::DateTime, vec![3]),
            (MyType::MYSQL_TYPE_DATETIME2, ColumnType::DateTime, vec![6]),
        ] {
            for unsigned in [false, true] {
                let c = SourceColumn {
                    binlog_type,
                    meta: meta.clone(),
                    ..col(column_type, unsigned)
                };
                let size = fixed_size(&c).unwrap();
                for k in 0..2000 {
                    let mut raw: Vec<u8> = next().to_le_bytes().to_vec();
                    raw.extend(next().to_le_bytes());
                    raw.truncate(size);
                    if binlog_type == MyType::MYSQL_TYPE_DATETIME2 {
                        // Real datetimes: positive packed part (a top bit set), any other bits;
                        // every tenth value random bytes, as damage would give.
                        if k % 10 != 0 {
                            raw[0] |= 0x80;
                        }
                        // A fraction is at most 999,999 (the generic parser reads it signed).
                        if size == 8 {
                            raw[5] &= 0x0f;
                        }
                    }
                    let mut buf = ParseBuf(&raw);
                    let generic = buf
                        .parse::<BinlogValue<'_>>((
                            c.binlog_type,
                            c.meta.as_slice(),
                            unsigned,
                            false,
                        ))
                        .unwrap();
                    assert!(buf.is_empty());
                    let expected = convert(generic, &c).unwrap();
                    let got = fixed_value(&raw, &c);
                    match (&got, &expected) {
                        (Value::Float(a), Value::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                        (Value::Double(a), Value::Double(b)) => {
                            assert_eq!(a.to_bits(), b.to_bits())
                        }
                        _ => assert_eq!(got, expected, "{binlog_type:?} {meta:?} {raw:x?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn timestamp2_matches_the_generic_parser() {
        let column = |fsp: u8| SourceColumn {
            name: "ts".into(),
            column_type: ColumnType::Timestamp,
            sql_type: "timestamp".into(),
            unsigned: false,
            nullable: true,
            charset: 0,
            binlog_type: MyType::MYSQL_TYPE_TIMESTAMP2,
            meta: vec![fsp],
            enum_values: Vec::new(),
            set_values: Vec::new(),
            compressed: false,
        };
        for (fsp, raw) in [
            (0u8, vec![0x65, 0xe0, 0x6f, 0x10]),
            (1, vec![0x65, 0xe0, 0x6f, 0x10, 0x09]),
            (2, vec![0x65, 0xe0, 0x6f, 0x10, 0x63]),
            (3, vec![0x65, 0xe0, 0x6f, 0x10, 0x1e, 0x0f]),
            (4, vec![0x65, 0xe0, 0x6f, 0x10, 0x27, 0x0f]),
            (6, vec![0x65, 0xe0, 0x6f, 0x10, 0x09, 0xfb, 0xf1]),
            (6, vec![0, 0, 0, 0, 0, 0, 0]),
        ] {
            let c = column(fsp);
            let mut buf = ParseBuf(&raw);
            let generic = buf
                .parse::<BinlogValue<'_>>((c.binlog_type, c.meta.as_slice(), false, false))
                .unwrap();
            assert!(buf.is_empty());
            assert_eq!(
                timestamp2(&raw, fsp),
                convert(generic, &c).unwrap(),
                "fsp {fsp} {raw:x?}"
            );
        }
    }

    use super::*;

    fn col(t: ColumnType, unsigned: bool) -> SourceColumn {
        SourceColumn {
            name: "c".into(),
            column_type: t,
            sql_type: String::new(),
            unsigned,
            nullable: true,
            charset: 224,
            binlog_type: MyType::MYSQL_TYPE_LONG,
            meta: vec![],
            enum_values: vec!["red".into(), "green".into()],
            set_values: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            compressed: false,
        }
    }

    #[test]
    fn fixes_mediumint_sign() {
        // mysql_common bug: signed MEDIUMINT -1 arrives as 16777215.
        assert_eq!(
            int(16_777_215, &col(ColumnType::MediumInt, false)),
            Value::Int(-1)
        );
        assert_eq!(
            int(8_388_608, &col(ColumnType::MediumInt, false)),
            Value::Int(-8_388_608)
        );
        assert_eq!(
            int(16_777_215, &col(ColumnType::MediumInt, true)),
            Value::UInt(16_777_215)
        );
    }

    #[test]
    fn widens_unsigned_without_metadata() {
        assert_eq!(int(-56, &col(ColumnType::TinyInt, true)), Value::UInt(200));
        assert_eq!(
            int(-1, &col(ColumnType::BigInt, true)),
            Value::UInt(u64::MAX)
        );
    }

    #[test]
    fn maps_year_zero_enum_and_set() {
        // mysql_common bug: YEAR 0000 arrives as "1900".
        assert_eq!(
            bytes(b"1900".to_vec(), &col(ColumnType::Year, true)).unwrap(),
            Value::Year(0)
        );
        assert_eq!(
            bytes(b"2155".to_vec(), &col(ColumnType::Year, true)).unwrap(),
            Value::Year(2155)
        );
        assert_eq!(
            int(2, &col(ColumnType::Enum, false)),
            Value::Text("green".into())
        );
        assert_eq!(
            int(0, &col(ColumnType::Enum, false)),
            Value::Text(String::new())
        );
        assert_eq!(
            bytes(vec![0x0d], &col(ColumnType::Set, false)).unwrap(),
            Value::Text("a,c,d".into())
        );
    }

    #[test]
    fn parses_timestamps() {
        let c = col(ColumnType::Timestamp, false);
        assert_eq!(
            bytes(b"1709210096.654321".to_vec(), &c).unwrap(),
            Value::Timestamp {
                seconds: 1_709_210_096,
                micros: 654_321
            }
        );
        assert_eq!(
            bytes(b"1".to_vec(), &c).unwrap(),
            Value::Timestamp {
                seconds: 1,
                micros: 0
            }
        );
        assert_eq!(
            bytes(b"5.5".to_vec(), &c).unwrap(),
            Value::Timestamp {
                seconds: 5,
                micros: 500_000
            }
        );
        assert!(bytes(b"x".to_vec(), &c).is_err());
    }

    #[test]
    fn decodes_text_by_charset() {
        let mut c = col(ColumnType::VarChar, false);
        c.charset = 8;
        assert_eq!(
            text(vec![0x63, 0x61, 0x66, 0xe9], &c),
            Ok(Value::Text("café".into()))
        );
        c.charset = 28;
        assert_eq!(
            text(vec![0xd6, 0xd0, 0xce, 0xc4], &c),
            Ok(Value::Text("中文".into()))
        );
        c.charset = 224;
        assert_eq!(
            text("中文😀".as_bytes().to_vec(), &c),
            Ok(Value::Text("中文😀".into()))
        );
        // Not valid in its charset: an error, never bytes passed on as Base64.
        assert!(text(vec![0xff, 0xfe], &c).unwrap_err().contains("utf8mb4"));
        c.charset = 5000;
        assert!(
            text(b"x".to_vec(), &c)
                .unwrap_err()
                .contains("collation id 5000")
        );
        c.charset = BINARY_COLLATION;
        assert_eq!(text(vec![0xff], &c), Ok(Value::Bytes(vec![0xff])));
    }

    /// MySQL's writer (`TIME_to_longlong_time_packed`, `my_time_packed_to_binary`), ported.
    fn time2_bytes(negative: bool, h: u32, m: u32, s: u32, micros: u32, fsp: u8) -> Vec<u8> {
        let hms = (i64::from(h) << 12) | (i64::from(m) << 6) | i64::from(s);
        let mut nr = (hms << 24) + i64::from(micros);
        if negative {
            nr = -nr;
        }
        let int_part = nr >> 24;
        let frac_part = nr % (1 << 24);
        let int3 = |v: i64| (v as u32).to_be_bytes()[1..].to_vec();
        match fsp {
            0 => int3(0x80_0000 + int_part),
            1 | 2 => {
                let mut b = int3(0x80_0000 + int_part);
                b.push((frac_part / 10_000) as i8 as u8);
                b
            }
            3 | 4 => {
                let mut b = int3(0x80_0000 + int_part);
                b.extend(((frac_part / 100) as i16).to_be_bytes());
                b
            }
            _ => ((nr + 0x8000_0000_0000) as u64).to_be_bytes()[2..].to_vec(),
        }
    }

    #[test]
    fn time2_decodes_every_precision_and_sign() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for fsp in 0..=6u8 {
            let unit = 10u32.pow(6 - u32::from(fsp));
            let mut cases = vec![
                (false, 0, 0, 0, 0),
                (true, 0, 0, 1, 500_000 / unit * unit),
                (true, 0, 0, 0, if fsp == 0 { 0 } else { unit }),
                (true, 838, 59, 59, 0),
                (false, 838, 59, 59, 0),
                (true, 0, 0, 0, 0),
            ];
            for _ in 0..2000 {
                cases.push((
                    next(2) == 1,
                    next(839) as u32,
                    next(60) as u32,
                    next(60) as u32,
                    if fsp == 0 {
                        0
                    } else {
                        next(1_000_000) as u32 / unit * unit
                    },
                ));
            }
            for (neg, h, m, s, us) in cases {
                let raw = time2_bytes(neg, h, m, s, us, fsp);
                let zero = h == 0 && m == 0 && s == 0 && us == 0;
                assert_eq!(
                    time2(&raw),
                    Value::Time {
                        negative: neg && !zero,
                        hours: h,
                        minutes: m as u8,
                        seconds: s as u8,
                        micros: us,
                    },
                    "fsp {fsp} {raw:x?}"
                );
            }
        }
        // Known bytes from MySQL's comment: 7FFFFE.F6 is -00:00:01.10.
        assert_eq!(
            time2(&[0x7f, 0xff, 0xfe, 0xf6]),
            Value::Time {
                negative: true,
                hours: 0,
                minutes: 0,
                seconds: 1,
                micros: 100_000
            }
        );
    }

    #[test]
    fn old_time_beyond_255_hours() {
        let c = SourceColumn {
            binlog_type: MyType::MYSQL_TYPE_TIME,
            ..col(ColumnType::Time, false)
        };
        let raw = |v: i32| v.to_le_bytes()[..3].to_vec();
        assert_eq!(
            time_value(&raw(-8_385_959), &c),
            Value::Time {
                negative: true,
                hours: 838,
                minutes: 59,
                seconds: 59,
                micros: 0
            }
        );
        assert_eq!(
            time_value(&raw(3_000_102), &c),
            Value::Time {
                negative: false,
                hours: 300,
                minutes: 1,
                seconds: 2,
                micros: 0
            }
        );
    }

    #[test]
    fn binary_is_padded_to_its_length() {
        let c = SourceColumn {
            binlog_type: MyType::MYSQL_TYPE_STRING,
            meta: vec![0xfe, 4],
            charset: BINARY_COLLATION,
            ..col(ColumnType::Binary, false)
        };
        assert_eq!(fixed_string(&c), Some((1, 4)));
        // CHAR(200) in utf8mb4: 800 bytes, two length bytes.
        let wide = SourceColumn {
            binlog_type: MyType::MYSQL_TYPE_STRING,
            meta: vec![0xce, 0x20],
            ..col(ColumnType::Char, false)
        };
        assert_eq!(fixed_string(&wide), Some((2, 800)));
        // ENUM stored as STRING: not a string value.
        let e = SourceColumn {
            binlog_type: MyType::MYSQL_TYPE_STRING,
            meta: vec![0xf7, 1],
            ..col(ColumnType::Enum, false)
        };
        assert_eq!(fixed_string(&e), None);
        let t = SourceTable {
            database: "d".into(),
            table: "t".into(),
            columns: vec![c],
            primary_key: vec![],
        };
        // One present column, not NULL, 2 bytes stored of BINARY(4).
        let image = [0x00, 0x02, 0xab, 0x00];
        let mut buf = ParseBuf(&image);
        assert_eq!(
            decode_image(&mut buf, &t, &[true], None, 0),
            Ok(vec![Value::Bytes(vec![0xab, 0, 0, 0])])
        );
    }
}
