//! The host's side of [`crate::batch_reader`]: writes a [`FormatBatch`] as MessagePack with named
//! fields by hand, byte for byte what `rmp_serde::to_vec_named` writes, without serde's
//! per-value dispatch (the rows are most of every module call's input).
//!
//! Invariant: the output equals `abi::encode`'s (tested), so any decoder of the ABI reads it.

use crate::abi::{FormatBatch, FormatOutput, GuestResult};
use crate::change::{ChangeMeta, RowChange};
use crate::value::{
    TAG_DATE, TAG_DATETIME, TAG_DECIMAL, TAG_JSON, TAG_TIME, TAG_TIMESTAMP, TAG_UINT, TAG_YEAR,
    Value,
};

fn uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn sint(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn len_header(
    out: &mut Vec<u8>,
    n: usize,
    fix: u8,
    fix_max: usize,
    m8: Option<u8>,
    m16: u8,
    m32: u8,
) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if let (Some(m), true) = (m8, n <= usize::from(u8::MAX)) {
        out.extend_from_slice(&[m, n as u8]);
    } else if n <= usize::from(u16::MAX) {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn str(out: &mut Vec<u8>, s: &str) {
    len_header(out, s.len(), 0xa0, 31, Some(0xd9), 0xda, 0xdb);
    out.extend_from_slice(s.as_bytes());
}

fn bin(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xc4, b.len() as u8]);
    } else if b.len() <= usize::from(u16::MAX) {
        out.push(0xc5);
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn array(out: &mut Vec<u8>, n: usize) {
    len_header(out, n, 0x90, 15, None, 0xdc, 0xdd);
}

fn map(out: &mut Vec<u8>, n: usize) {
    len_header(out, n, 0x80, 15, None, 0xde, 0xdf);
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Int(i) => sint(out, *i),
        Value::UInt(u) => {
            array(out, 2);
            uint(out, u64::from(TAG_UINT));
            uint(out, *u);
        }
        Value::Float(f) => {
            out.push(0xca);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Double(d) => {
            out.push(0xcb);
            out.extend_from_slice(&d.to_bits().to_be_bytes());
        }
        Value::Decimal(t) => {
            array(out, 2);
            uint(out, u64::from(TAG_DECIMAL));
            str(out, t);
        }
        Value::Text(t) => str(out, t),
        Value::Bytes(b) => bin(out, b),
        Value::Date { year, month, day } => {
            array(out, 4);
            for x in [
                u64::from(TAG_DATE),
                u64::from(*year),
                u64::from(*month),
                u64::from(*day),
            ] {
                uint(out, x);
            }
        }
        Value::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => {
            array(out, 6);
            uint(out, u64::from(TAG_TIME));
            out.push(if *negative { 0xc3 } else { 0xc2 });
            for x in [*hours, u32::from(*minutes), u32::from(*seconds), *micros] {
                uint(out, u64::from(x));
            }
        }
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => {
            array(out, 8);
            uint(out, u64::from(TAG_DATETIME));
            for x in [
                u32::from(*year),
                u32::from(*month),
                u32::from(*day),
                u32::from(*hour),
                u32::from(*minute),
                u32::from(*second),
                *micros,
            ] {
                uint(out, u64::from(x));
            }
        }
        Value::Timestamp { seconds, micros } => {
            array(out, 3);
            uint(out, u64::from(TAG_TIMESTAMP));
            sint(out, *seconds);
            uint(out, u64::from(*micros));
        }
        Value::Year(y) => {
            array(out, 2);
            uint(out, u64::from(TAG_YEAR));
            uint(out, u64::from(*y));
        }
        Value::Json(t) => {
            array(out, 2);
            uint(out, u64::from(TAG_JSON));
            str(out, t);
        }
    }
}

fn image(out: &mut Vec<u8>, values: Option<&[Value]>) {
    match values {
        None => out.push(0xc0),
        Some(vs) => {
            array(out, vs.len());
            for v in vs {
                value(out, v);
            }
        }
    }
}

fn meta(out: &mut Vec<u8>, m: &ChangeMeta) {
    map(out, 8);
    str(out, "timestamp");
    uint(out, u64::from(m.timestamp));
    str(out, "transaction_id");
    str(out, &m.transaction_id);
    str(out, "position");
    str(out, &m.position);
    str(out, "index_in_transaction");
    uint(out, u64::from(m.index_in_transaction));
    str(out, "dedupe_key");
    str(out, &m.dedupe_key);
    str(out, "server_id");
    uint(out, u64::from(m.server_id));
    str(out, "sequence_in_transaction");
    uint(out, u64::from(m.sequence_in_transaction));
    str(out, "stream_sequence");
    uint(out, m.stream_sequence);
}

fn row(out: &mut Vec<u8>, r: &RowChange) {
    map(out, 5);
    str(out, "table");
    uint(out, u64::from(r.table));
    str(out, "kind");
    str(out, r.kind.as_variant());
    str(out, "before");
    image(out, r.before.as_deref());
    str(out, "after");
    image(out, r.after.as_deref());
    str(out, "meta");
    meta(out, &r.meta);
}

/// Appends `batch` to `out`, exactly as `abi::encode` would encode it.
pub fn write_batch(batch: &FormatBatch, out: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> {
    map(out, 4);
    str(out, "abi_version");
    uint(out, u64::from(batch.abi_version));
    str(out, "options");
    rmp_serde::encode::write_named(out, &batch.options)?;
    str(out, "schemas");
    rmp_serde::encode::write_named(out, &batch.schemas)?;
    str(out, "rows");
    array(out, batch.rows.len());
    for r in &batch.rows {
        row(out, r);
    }
    Ok(())
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => out.push(0xc0),
    }
}

/// Appends a format call's result, exactly as `rmp_serde::encode::write_named` would encode it
/// (`{"Ok": {"messages": [...]}}` or `{"Err": "..."}`); the guest's side of the host's
/// `abi::decode_format_result`.
pub fn write_format_result(result: &GuestResult<FormatOutput>, out: &mut Vec<u8>) {
    map(out, 1);
    match result {
        GuestResult::Ok(o) => {
            str(out, "Ok");
            map(out, 1);
            str(out, "messages");
            array(out, o.messages.len());
            for m in &o.messages {
                map(out, 5);
                str(out, "row");
                uint(out, u64::from(m.row));
                str(out, "body");
                bin(out, &m.body);
                str(out, "key");
                opt_str(out, m.key.as_deref());
                str(out, "tags");
                opt_str(out, m.tags.as_deref());
                str(out, "properties");
                array(out, m.properties.len());
                for (k, v) in &m.properties {
                    array(out, 2);
                    str(out, k);
                    str(out, v);
                }
            }
        }
        GuestResult::Err(e) => {
            str(out, "Err");
            str(out, e);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::abi::{ABI_VERSION, FormatOptions, encode};
    use crate::change::ChangeKind;
    use crate::schema::{ColumnSchema, ColumnType, TableSchema};

    #[test]
    fn writes_the_bytes_serde_writes() {
        let mut values = vec![
            Value::Null,
            Value::UInt(u64::MAX),
            Value::Float(-0.5),
            Value::Double(1e300),
            Value::Decimal("-1.50".into()),
            Value::Text("x".repeat(40)),
            Value::Text("y".repeat(300)),
            Value::Text("z".repeat(70_000)),
            Value::Bytes(vec![1; 10]),
            Value::Bytes(vec![2; 300]),
            Value::Bytes(vec![3; 70_000]),
            Value::Date {
                year: 2024,
                month: 12,
                day: 31,
            },
            Value::Time {
                negative: true,
                hours: 838,
                minutes: 1,
                seconds: 2,
                micros: 999_999,
            },
            Value::DateTime {
                year: 9999,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                micros: 65_536,
            },
            Value::Timestamp {
                seconds: -70_000,
                micros: 300,
            },
            Value::Year(0),
            Value::Json("[]".into()),
        ];
        for i in [
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as i64,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i32::MIN as i64,
            i64::MIN,
        ] {
            values.push(Value::Int(i));
            values.push(Value::UInt(i as u64));
        }
        let row = |kind, before: Option<Vec<Value>>, after: Option<Vec<Value>>, i: u32| RowChange {
            table: i,
            kind,
            before,
            after,
            meta: ChangeMeta {
                timestamp: u32::MAX,
                transaction_id: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23".into(),
                position: "mysql-bin.000001:4".into(),
                index_in_transaction: i * 1000,
                dedupe_key: format!("k#{i}"),
                server_id: 70_000,
                sequence_in_transaction: i + 1,
                stream_sequence: u64::MAX - u64::from(i),
            },
        };
        let wide: Vec<Value> = (0..20).map(Value::Int).collect();
        let batch = FormatBatch {
            abi_version: ABI_VERSION,
            options: FormatOptions::default(),
            schemas: vec![TableSchema {
                database: "d".into(),
                table: "t".into(),
                columns: vec![ColumnSchema {
                    name: "a".into(),
                    column_type: ColumnType::Int,
                    sql_type: "int".into(),
                    unsigned: false,
                    nullable: false,
                }],
                primary_key: vec![],
            }],
            rows: (0..20u32)
                .map(|i| match i % 3 {
                    0 => row(ChangeKind::Insert, None, Some(values.clone()), i),
                    1 => row(
                        ChangeKind::Update,
                        Some(wide.clone()),
                        Some(values.clone()),
                        i,
                    ),
                    _ => row(ChangeKind::Delete, Some(values.clone()), None, i),
                })
                .collect(),
        };
        let mut ours = Vec::new();
        write_batch(&batch, &mut ours).unwrap();
        assert_eq!(ours, encode(&batch).unwrap());
    }

    pub(crate) fn results() -> Vec<GuestResult<FormatOutput>> {
        let message = |row: u32, body: usize, props: usize| crate::abi::OutMessage {
            row,
            body: (0..body).map(|i| i as u8).collect(),
            key: row.is_multiple_of(2).then(|| format!("k{row}")),
            tags: row
                .is_multiple_of(3)
                .then(|| "标签".repeat(row as usize % 20)),
            properties: (0..props)
                .map(|i| (format!("p{i}"), "v".repeat(i * 3)))
                .collect(),
        };
        vec![
            GuestResult::Ok(FormatOutput {
                messages: vec![
                    message(0, 0, 0),
                    message(3, 300, 2),
                    message(200, 70_000, 20),
                    message(70_000, 17, 1),
                ],
            }),
            GuestResult::Ok(FormatOutput::default()),
            GuestResult::Err("bad row 7: 中文".into()),
        ]
    }

    #[test]
    fn writes_results_as_serde_does() {
        for r in results() {
            let mut ours = Vec::new();
            write_format_result(&r, &mut ours);
            assert_eq!(ours, rmp_serde::to_vec_named(&r).unwrap());
        }
    }
}
