//! The OMS Default layout (spec §1.3) and DefaultExtendColumnType (§1.4: Default plus a
//! `__light_type` map as the last key of every image).
//!
//! `{"allMetaData":{…},"prevStruct":{…}|null,"recordType":"…","postStruct":{…}|null}`, keys in the
//! order of the documented examples. Choices where the spec is silent (README, formats section):
//! `checkpoint` and `source_identity` are null in row messages as in the examples; `timestamp` is
//! the event time in seconds as a string; `uniqueId` and `transId` carry the transaction id (GTID
//! or binlog position), `clusterId` the originating server id; key fields are null for a table
//! without a key.

use obsync_sdk::json::JsonWriter;
use obsync_sdk::{FormatBatch, FormatOutput, RowChange, TableSchema, Value};

use crate::{image, keys, types};

/// Formats every row of the batch; `with_types` adds `__light_type` (DefaultExtendColumnType).
pub fn format(batch: &FormatBatch, with_types: bool) -> Result<FormatOutput, String> {
    crate::each_row(batch, |schema, row| {
        format_row(batch, schema, row, with_types)
    })
}

fn format_row(
    batch: &FormatBatch,
    schema: &TableSchema,
    row: &RowChange,
    with_types: bool,
) -> Result<Vec<u8>, String> {
    let mut w = JsonWriter::with_capacity(256 + schema.columns.len() * 32);
    w.raw("{");
    w.key("allMetaData");
    write_meta(&mut w, batch, schema, row);
    w.raw(",");
    w.key("prevStruct");
    write_image(&mut w, schema, row.before.as_deref(), with_types)?;
    w.raw(",");
    w.key("recordType");
    w.string(row.kind.as_str());
    w.raw(",");
    w.key("postStruct");
    write_image(&mut w, schema, row.after.as_deref(), with_types)?;
    w.raw("}");
    Ok(w.into_bytes())
}

fn opt_string(w: &mut JsonWriter, v: Option<&str>) {
    match v {
        Some(s) => w.string(s),
        None => w.null(),
    }
}

fn write_meta(w: &mut JsonWriter, batch: &FormatBatch, schema: &TableSchema, row: &RowChange) {
    w.raw("{");
    w.key("checkpoint");
    w.null();
    w.raw(",");
    w.key("record_primary_key");
    opt_string(w, keys::names_joined(schema).as_deref());
    w.raw(",");
    w.key("source_identity");
    w.null();
    w.raw(",");
    w.key("record_primary_value");
    opt_string(w, keys::values_joined(schema, row).as_deref());
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
    w.string(&row.meta.timestamp.to_string());
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
    schema: &TableSchema,
    values: Option<&[Value]>,
    with_types: bool,
) -> Result<(), String> {
    let Some(values) = values else {
        w.null();
        return Ok(());
    };
    image::check(&schema.columns, values)?;
    image::write_fields(w, &schema.columns, values, with_types);
    if with_types {
        if !values.is_empty() {
            w.raw(",");
        }
        w.key("__light_type");
        w.raw("{");
        for (n, col) in schema.columns.iter().enumerate() {
            if n > 0 {
                w.raw(",");
            }
            w.key(&col.name);
            w.raw("{");
            w.key("schemaType");
            w.string(&types::upper(col));
            w.raw("}");
        }
        w.raw("}}");
    }
    Ok(())
}
