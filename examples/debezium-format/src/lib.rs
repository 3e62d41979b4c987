//! An example format module: each row change becomes a Debezium-style envelope
//! (`{"before","after","source","op","ts_ms"}`, OMS spec §1.8), with Debezium's value rules:
//! DECIMAL as a string, bytes as Base16, DATE as days since the epoch, TIME as microseconds,
//! DATETIME as milliseconds since the epoch (no zone), TIMESTAMP as an ISO-8601 UTC string.

use obsync_sdk::json::JsonWriter;
use obsync_sdk::render::{civil_from_days, days_from_civil, f64_text};
use obsync_sdk::{
    ChangeKind, FormatBatch, FormatOutput, OutMessage, RowChange, TableSchema, Value,
};

/// Formats each row as one Debezium-style message.
#[obsync_sdk::format]
pub fn debezium(batch: &FormatBatch) -> Result<FormatOutput, String> {
    let mut messages = Vec::with_capacity(batch.rows.len());
    for (i, row) in batch.rows.iter().enumerate() {
        let schema = batch
            .schema_of(row)
            .ok_or("row refers to an unknown table")?;
        messages.push(OutMessage {
            row: i as u32,
            body: envelope(schema, row),
            properties: vec![("op".into(), op(row.kind).into())],
            ..OutMessage::default()
        });
    }
    Ok(FormatOutput { messages })
}

fn op(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Insert => "c",
        ChangeKind::Update => "u",
        ChangeKind::Delete => "d",
    }
}

fn envelope(schema: &TableSchema, row: &RowChange) -> Vec<u8> {
    let mut w = JsonWriter::with_capacity(512);
    w.raw("{");
    w.key("before");
    image(&mut w, schema, row.before.as_deref());
    w.raw(",");
    w.key("after");
    image(&mut w, schema, row.after.as_deref());
    w.raw(",");
    w.key("source");
    w.raw("{");
    w.key("connector");
    w.string("obsync");
    w.raw(",");
    w.key("db");
    w.string(&schema.database);
    w.raw(",");
    w.key("table");
    w.string(&schema.table);
    w.raw(",");
    w.key("server_id");
    w.u64(row.meta.server_id as u64);
    w.raw(",");
    w.key("gtid");
    w.string(&row.meta.transaction_id);
    w.raw(",");
    w.key("pos");
    w.string(&row.meta.position);
    w.raw(",");
    w.key("row");
    w.u64(row.meta.index_in_transaction as u64);
    w.raw(",");
    w.key("ts_ms");
    w.u64(row.meta.timestamp as u64 * 1000);
    w.raw("},");
    w.key("op");
    w.string(op(row.kind));
    w.raw(",");
    w.key("ts_ms");
    w.u64(row.meta.timestamp as u64 * 1000);
    w.raw("}");
    w.into_bytes()
}

fn image(w: &mut JsonWriter, schema: &TableSchema, values: Option<&[Value]>) {
    let Some(values) = values else {
        w.null();
        return;
    };
    w.raw("{");
    for (n, (col, v)) in schema.columns.iter().zip(values).enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.key(&col.name);
        value(w, v);
    }
    w.raw("}");
}

fn value(w: &mut JsonWriter, v: &Value) {
    match v {
        Value::Null => w.null(),
        Value::Int(i) => w.i64(*i),
        Value::UInt(u) => w.u64(*u),
        Value::Year(y) => w.u64(*y as u64),
        Value::Float(f) => w.float_text(&f64_text(*f as f64)),
        Value::Double(d) => w.float_text(&f64_text(*d)),
        Value::Decimal(s) | Value::Text(s) | Value::Json(s) => w.string(s),
        Value::Bytes(b) => w.string(&b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
        Value::Date { year, month, day } => {
            w.i64(days_from_civil(*year as i64, *month as i64, *day as i64))
        }
        Value::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => {
            let us = ((*hours as i64 * 60 + *minutes as i64) * 60 + *seconds as i64) * 1_000_000
                + *micros as i64;
            w.i64(if *negative { -us } else { us });
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
            let days = days_from_civil(*year as i64, *month as i64, *day as i64);
            let secs = days * 86_400 + *hour as i64 * 3600 + *minute as i64 * 60 + *second as i64;
            w.i64(secs * 1000 + *micros as i64 / 1000);
        }
        Value::Timestamp { seconds, micros } => {
            let days = seconds.div_euclid(86_400);
            let rem = seconds.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let frac = obsync_sdk::render::fraction(*micros);
            w.string(&format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_dates_like_debezium() {
        // OMS spec §1.2 Debezium examples: DATE 19311 = 2022-11-15.
        assert_eq!(days_from_civil(2022, 11, 15), 19_311);
        assert_eq!(civil_from_days(19_311), (2022, 11, 15));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let mut w = JsonWriter::default();
        value(
            &mut w,
            &Value::Timestamp {
                seconds: 1_668_489_131,
                micros: 0,
            },
        );
        assert_eq!(
            String::from_utf8(w.into_bytes()).unwrap(),
            "\"2022-11-15T05:12:11Z\""
        );
        let mut w = JsonWriter::default();
        value(
            &mut w,
            &Value::Time {
                negative: false,
                hours: 10,
                minutes: 1,
                seconds: 0,
                micros: 0,
            },
        );
        assert_eq!(String::from_utf8(w.into_bytes()).unwrap(), "36060000000");
    }
}
