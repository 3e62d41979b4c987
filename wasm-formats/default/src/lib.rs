//! The OMS "Default" serialization format (OMS spec §1.3), one JSON message per row change.
//!
//! Layout: `{"allMetaData":{…},"prevStruct":{…}|null,"recordType":"INSERT|UPDATE|DELETE",
//! "postStruct":{…}|null}`. Values follow the shared rendering rules in
//! [`obsync_sdk::render`]. Choices where the spec is silent are listed in the README's format
//! section: `checkpoint` and `timestamp` carry the commit time in seconds, `transId`/`uniqueId`
//! the transaction id (GTID or binlog position), `clusterId` the originating server id, and
//! `record_primary_key`/`record_primary_value` are null for a table without a key.

use obsync_sdk::json::JsonWriter;
use obsync_sdk::render::{push_text, write_value};
use obsync_sdk::{
    ColumnSchema, FormatBatch, FormatOutput, OutMessage, RowChange, TableSchema, Value,
};

/// The key separator OMS uses between composite key parts.
const KEY_SEPARATOR: char = '\u{1}';

/// Formats every row of the batch as one Default-format message.
#[obsync_sdk::format]
pub fn format_batch(batch: &FormatBatch) -> Result<FormatOutput, String> {
    let mut messages = Vec::with_capacity(batch.rows.len());
    for (i, row) in batch.rows.iter().enumerate() {
        let schema = batch
            .schema_of(row)
            .ok_or_else(|| format!("row {i} refers to unknown table index {}", row.table))?;
        let body = format_row(batch, schema, row)?;
        messages.push(OutMessage {
            row: i as u32,
            body,
            ..OutMessage::default()
        });
    }
    Ok(FormatOutput { messages })
}

fn format_row(
    batch: &FormatBatch,
    schema: &TableSchema,
    row: &RowChange,
) -> Result<Vec<u8>, String> {
    let mut w = JsonWriter::with_capacity(256 + schema.columns.len() * 32);
    w.raw("{");
    w.key("allMetaData");
    write_meta(&mut w, batch, schema, row);
    w.raw(",");
    w.key("prevStruct");
    write_image(&mut w, &schema.columns, row.before.as_deref())?;
    w.raw(",");
    w.key("recordType");
    w.string(row.kind.as_str());
    w.raw(",");
    w.key("postStruct");
    write_image(&mut w, &schema.columns, row.after.as_deref())?;
    w.raw("}");
    Ok(w.into_bytes())
}

fn write_meta(w: &mut JsonWriter, batch: &FormatBatch, schema: &TableSchema, row: &RowChange) {
    let ts = row.meta.timestamp.to_string();
    w.raw("{");
    w.key("checkpoint");
    w.string(&ts);
    w.raw(",");
    w.key("record_primary_key");
    if schema.primary_key.is_empty() {
        w.null();
    } else {
        let mut names = String::new();
        for (n, name) in schema.primary_key_names().enumerate() {
            if n > 0 {
                names.push(KEY_SEPARATOR);
            }
            names.push_str(name);
        }
        w.string(&names);
    }
    w.raw(",");
    w.key("source_identity");
    w.null();
    w.raw(",");
    w.key("record_primary_value");
    match (schema.primary_key.is_empty(), row.key_image()) {
        (false, Some(image)) => {
            let mut values = String::new();
            for (n, &idx) in schema.primary_key.iter().enumerate() {
                if n > 0 {
                    values.push(KEY_SEPARATOR);
                }
                if let Some(v) = image.get(idx as usize) {
                    push_text(&mut values, v);
                }
            }
            w.string(&values);
        }
        _ => w.null(),
    }
    w.raw(",");
    w.key("dbType");
    w.string(if batch.options.db_type.is_empty() {
        "MYSQL"
    } else {
        &batch.options.db_type
    });
    w.raw(",");
    w.key("table_name");
    w.string(&schema.table);
    w.raw(",");
    w.key("db");
    w.string(&schema.database);
    w.raw(",");
    w.key("timestamp");
    w.string(&ts);
    w.raw(",");
    w.key("uniqueId");
    w.string(&row.meta.transaction_id);
    w.raw(",");
    w.key("transId");
    w.string(&row.meta.transaction_id);
    w.raw(",");
    w.key("clusterId");
    w.string(&row.meta.server_id.to_string());
    w.raw("}");
}

fn write_image(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    image: Option<&[Value]>,
) -> Result<(), String> {
    let Some(values) = image else {
        w.null();
        return Ok(());
    };
    if values.len() != columns.len() {
        return Err(format!(
            "row image has {} values but the table has {} columns",
            values.len(),
            columns.len()
        ));
    }
    w.raw("{");
    for (n, (col, v)) in columns.iter().zip(values).enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.key(&col.name);
        write_value(w, v);
    }
    w.raw("}");
    Ok(())
}
