//! The OMS "DataWorks 2.0" format (OMS spec §1.6) as a WebAssembly module.
//!
//! `{"version":"2.0","schema":{"source":{…},"column":[{name,type}],"pk":[…]|null},
//! "payload":{"before":{"data":{…}}|null,"after":{"data":{…}}|null,"op","timestamp":{"eventTime",
//! "systemTime","checkpointTime"},"ddl":null,"scn":"null"},"extend":{"load_fm":id}|{}}`.
//! `eventTime` is the event time in ms, `checkpointTime` the same in seconds, `systemTime` the host
//! clock when the batch was built; `extend.load_fm` carries the business system identifier.

use obsync_formats_common::{image, keys, types};
use obsync_sdk::json::JsonWriter;
use obsync_sdk::{AsValue, FormatOptions, FormatOutput, Row, RowBatch, RowFormatter, TableSchema};

// Stateless: every batch call may use a fresh heap (see obsync_sdk::arena).
obsync_sdk::per_call_arena!();

/// Formats every row of the batch as one DataWorks 2.0 message.
#[obsync_sdk::format_rows]
pub fn format_batch(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
    batch.format_each(&mut DataWorks)
}

fn data<V: AsValue>(
    w: &mut JsonWriter,
    schema: &TableSchema,
    values: Option<&[V]>,
) -> Result<(), String> {
    match values {
        None => w.null(),
        Some(v) => {
            w.raw("{");
            w.key("data");
            image::write_full(w, &schema.columns, Some(v))?;
            w.raw("}");
        }
    }
    Ok(())
}

/// The layout, one message per row; rows are read in place (`RowBatch`).
struct DataWorks;

impl RowFormatter for DataWorks {
    fn body<R: Row>(
        &mut self,
        options: &FormatOptions,
        schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String> {
        let meta = row.meta();
        let mut w = JsonWriter::with_capacity(512 + schema.columns.len() * 48);
        w.raw("{");
        w.key("version");
        w.string("2.0");
        w.raw(",");
        w.key("schema");
        w.raw("{");
        w.key("source");
        w.raw("{");
        w.key("dbType");
        w.string(&options.db_type.to_ascii_lowercase());
        w.raw(",");
        w.key("dbVersion");
        w.null();
        w.raw(",");
        w.key("dbName");
        w.string(&schema.database);
        w.raw(",");
        w.key("schema");
        w.null();
        w.raw(",");
        w.key("table");
        w.string(&schema.table);
        w.raw("},");
        w.key("column");
        w.raw("[");
        for (n, col) in schema.columns.iter().enumerate() {
            if n > 0 {
                w.raw(",");
            }
            w.raw("{");
            w.key("name");
            w.string(&col.name);
            w.raw(",");
            w.key("type");
            w.string(&types::upper(col));
            w.raw("}");
        }
        w.raw("],");
        w.key("pk");
        keys::write_names_array(&mut w, schema);
        w.raw("},");
        w.key("payload");
        w.raw("{");
        w.key("before");
        data(&mut w, schema, row.before())?;
        w.raw(",");
        w.key("after");
        data(&mut w, schema, row.after())?;
        w.raw(",");
        w.key("op");
        w.string(row.kind().as_str());
        w.raw(",");
        w.key("timestamp");
        w.raw("{");
        w.key("eventTime");
        w.u64(meta.timestamp as u64 * 1000);
        w.raw(",");
        w.key("systemTime");
        w.u64(options.now_ms);
        w.raw(",");
        w.key("checkpointTime");
        w.u64(meta.timestamp as u64);
        w.raw("},");
        w.key("ddl");
        w.null();
        w.raw(",");
        w.key("scn");
        w.string("null");
        w.raw("},");
        w.key("extend");
        w.raw("{");
        if let Some(id) = options.business_system_id.as_deref() {
            w.key("load_fm");
            w.string(id);
        }
        w.raw("}}");
        Ok(w.into_bytes())
    }
}
