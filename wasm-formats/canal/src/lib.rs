//! The OMS "Canal" format (OMS spec §1.5) as a WebAssembly module: one canal-style flat message
//! per row change, with typed JSON values.
//!
//! `{"database","sqlType","data":[{…}],"pkNames","old","mysqlType","type","table","es","isDdl",
//! "ts","sql"}`. `data` is the after image (the before image for DELETE); `old` holds, for an
//! UPDATE, the before values of the changed columns only (`[{}]` when none changed) and is null
//! otherwise; `es` is the event time in ms, `ts` the host clock when the batch was built.

use obsync_formats_common::{image, keys, types};
use obsync_sdk::json::JsonWriter;
use obsync_sdk::{
    ChangeKind, FormatOptions, FormatOutput, Row, RowBatch, RowFormatter, TableSchema,
};

// Stateless: every batch call may use a fresh heap (see obsync_sdk::arena).
obsync_sdk::per_call_arena!();

/// Formats every row of the batch as one Canal message.
#[obsync_sdk::format_rows]
pub fn format_batch(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
    batch.format_each(&mut Canal)
}

/// The layout, one message per row; rows are read in place (`RowBatch`).
struct Canal;

impl RowFormatter for Canal {
    fn body<R: Row>(
        &mut self,
        options: &FormatOptions,
        schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String> {
        let meta = row.meta();
        let mut w = JsonWriter::with_capacity(384 + schema.columns.len() * 48);
        w.raw("{");
        w.key("database");
        w.string(&schema.database);
        w.raw(",");
        w.key("sqlType");
        w.raw("{");
        for (n, col) in schema.columns.iter().enumerate() {
            if n > 0 {
                w.raw(",");
            }
            w.key(&col.name);
            w.i64(types::java_sql_type(col) as i64);
        }
        w.raw("},");
        w.key("data");
        w.raw("[");
        let data = row.key_image().ok_or("row has no image")?;
        image::write_full(&mut w, &schema.columns, Some(data))?;
        w.raw("],");
        w.key("pkNames");
        keys::write_names_array(&mut w, schema);
        w.raw(",");
        w.key("old");
        match (row.kind(), row.before(), row.after()) {
            (ChangeKind::Update, Some(before), Some(after)) => {
                w.raw("[");
                image::write_changed(&mut w, &schema.columns, before, after, true)?;
                w.raw("]");
            }
            _ => w.null(),
        }
        w.raw(",");
        w.key("mysqlType");
        w.raw("{");
        for (n, col) in schema.columns.iter().enumerate() {
            if n > 0 {
                w.raw(",");
            }
            w.key(&col.name);
            w.string(&types::lower(col));
        }
        w.raw("},");
        w.key("type");
        w.string(row.kind().as_str());
        w.raw(",");
        w.key("table");
        w.string(&schema.table);
        w.raw(",");
        w.key("es");
        w.u64(meta.timestamp as u64 * 1000);
        w.raw(",");
        w.key("isDdl");
        w.raw("false,");
        w.key("ts");
        w.u64(options.now_ms);
        w.raw(",");
        w.key("sql");
        w.string("");
        w.raw("}");
        Ok(w.into_bytes())
    }
}
