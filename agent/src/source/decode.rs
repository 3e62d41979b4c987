//! Row-image decoding: turns the raw images of a ROWS event into [`Value`] rows, using the cached
//! [`SourceTable`] layout and `mysql_common`'s value parser for single values.
//!
//! Fixes applied over the parser: signed MEDIUMINT is sign-extended, YEAR 0 stays 0, unsigned
//! integers are widened from their signed bit pattern, TIMESTAMP text becomes seconds and
//! microseconds, ENUM/SET become their strings, text is decoded from its column charset.
//! A malformed image returns an error; nothing here panics on bad bytes.

use mysql_common::binlog::events::RowsEventData;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType as MyType;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value as MyValue;
use obsync_sdk::{ColumnType, Value};

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
        let b = match &before {
            Some(p) => Some(decode_image(&mut buf, t, p, false, json_columns).map_err(err)?),
            None => None,
        };
        let a = match &after {
            Some(p) => Some(decode_image(&mut buf, t, p, partial, json_columns).map_err(err)?),
            None => None,
        };
        rows.push((b, a));
    }
    Ok(rows)
}

fn decode_image<'a>(
    buf: &mut ParseBuf<'a>,
    t: &'a SourceTable,
    present: &[bool],
    partial_after: bool,
    json_columns: usize,
) -> Result<Vec<Value>, String> {
    let truncated = || "row image truncated".to_string();
    let mut partial_bits: Option<&'a [u8]> = None;
    if partial_after {
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
        let v = buf
            .parse::<BinlogValue<'a>>((c.binlog_type, c.meta.as_slice(), c.unsigned, is_partial))
            .map_err(|e| format!("column `{}`: {e}", c.name))?;
        out.push(convert(v, c).map_err(|e| format!("column `{}`: {e}", c.name))?);
    }
    Ok(out)
}

/// Converts one parsed value to the obsync value model.
pub fn convert(v: BinlogValue<'_>, c: &SourceColumn) -> Result<Value, String> {
    match v {
        BinlogValue::Value(v) => convert_plain(v, c),
        BinlogValue::Jsonb(j) => {
            let json = mysql_common::serde_json::Value::try_from(j).map_err(|e| format!("bad binary json: {e}"))?;
            Ok(Value::Json(json.to_string()))
        }
        BinlogValue::JsonDiff(_) => Err(
            "partial JSON update (binlog_row_value_options=PARTIAL_JSON) is not supported; set it to ''".into(),
        ),
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
        _ => text(b, c.charset),
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

/// Latin-1 family collation ids (MySQL's latin1 is Windows-1252; bytes 0x80–0x9f map through it).
const LATIN1_COLLATIONS: &[u16] = &[5, 8, 15, 31, 47, 48, 49, 94];

/// Decodes text bytes in a column charset; bytes that are not valid in it stay bytes.
fn text(b: Vec<u8>, charset: u16) -> Value {
    if LATIN1_COLLATIONS.contains(&charset) {
        return Value::Text(b.iter().map(|&x| cp1252(x)).collect());
    }
    match String::from_utf8(b) {
        Ok(s) => Value::Text(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            text(vec![0x63, 0x61, 0x66, 0xe9], 8),
            Value::Text("café".into())
        );
        assert_eq!(
            text("中文😀".as_bytes().to_vec(), 224),
            Value::Text("中文😀".into())
        );
        assert_eq!(text(vec![0xff, 0xfe], 224), Value::Bytes(vec![0xff, 0xfe]));
    }
}
