//! The OMS Default layout (spec §1.3) and DefaultExtendColumnType (§1.4: Default plus a
//! `__light_type` map as the last key of every image).
//!
//! `{"allMetaData":{…},"prevStruct":{…}|null,"recordType":"…","postStruct":{…}|null}`, keys in the
//! order of the documented examples. Choices where the spec is silent (README, formats section):
//! `checkpoint` and `source_identity` are null in row messages as in the examples; `timestamp` is
//! the event time in seconds as a string; `uniqueId` and `transId` carry the transaction id (GTID
//! or binlog position), `clusterId` the originating server id; `storeDataSequence` (a number)
//! the stream sort sequence the host gives (commit second followed by a 5-digit counter along
//! the stream, `ChangeMeta::stream_sequence`); key fields are null for a table without a key
//! (the key is the primary key, else the table's first non-null unique key).

use obsync_sdk::json::JsonWriter;
use obsync_sdk::{AsValue, FormatOptions, FormatOutput, Row, RowBatch, RowFormatter, TableSchema};

use crate::image::Keys;
use crate::{image, keys, types};

/// Formats every row of the batch; `with_types` adds `__light_type` (DefaultExtendColumnType).
/// Rows are read in place ([`RowBatch`]): inside a module nothing of the batch is copied.
pub fn format(batch: &RowBatch<'_>, with_types: bool) -> Result<FormatOutput, String> {
    // Per table, once per batch: the joined key names, the column names as JSON keys and the
    // `__light_type` member.
    let tables: Vec<Table> = batch
        .schemas
        .iter()
        .map(|s| {
            let keys = Keys::new(&s.columns);
            Table {
                names: keys::names_joined(s),
                light_type: with_types.then(|| light_type(s, &keys)),
                keys,
            }
        })
        .collect();
    batch.format_each(&mut Layout { tables })
}

/// The Default layout over one batch.
struct Layout {
    tables: Vec<Table>,
}

impl RowFormatter for Layout {
    fn body<R: Row>(
        &mut self,
        options: &FormatOptions,
        schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String> {
        let Some(table) = self.tables.get(row.table() as usize) else {
            return Err(format!("unknown table index {}", row.table()));
        };
        format_row(options, schema, table, row)
    }
}

/// What every row of one table shares within a batch.
struct Table {
    names: Option<String>,
    keys: Keys,
    /// `"__light_type":{…}` (DefaultExtendColumnType only).
    light_type: Option<Vec<u8>>,
}

/// `"__light_type":{"<column>":{"schemaType":"<TYPE>"},…}`.
fn light_type(schema: &TableSchema, keys: &Keys) -> Vec<u8> {
    let mut w = JsonWriter::with_capacity(32 + schema.columns.len() * 40);
    w.key("__light_type");
    w.raw("{");
    for (n, col) in schema.columns.iter().enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.raw_bytes(keys.get(n));
        w.raw("{");
        w.key("schemaType");
        w.string(&types::upper(col));
        w.raw("}");
    }
    w.raw("}");
    w.into_bytes()
}

fn format_row<R: Row>(
    options: &FormatOptions,
    schema: &TableSchema,
    table: &Table,
    row: &R,
) -> Result<Vec<u8>, String> {
    let images = usize::from(row.before().is_some()) + usize::from(row.after().is_some());
    let mut w = JsonWriter::with_capacity(320 + images * schema.columns.len() * 40);
    w.raw("{");
    w.key("allMetaData");
    write_meta(&mut w, options, schema, table.names.as_deref(), row);
    w.raw(",");
    w.key("prevStruct");
    write_image(&mut w, schema, table, row.before())?;
    w.raw(",");
    w.key("recordType");
    w.string(row.kind().as_str());
    w.raw(",");
    w.key("postStruct");
    write_image(&mut w, schema, table, row.after())?;
    w.raw("}");
    Ok(w.into_bytes())
}

fn opt_string(w: &mut JsonWriter, v: Option<&str>) {
    match v {
        Some(s) => w.string(s),
        None => w.null(),
    }
}

fn write_meta<R: Row>(
    w: &mut JsonWriter,
    options: &FormatOptions,
    schema: &TableSchema,
    key_names: Option<&str>,
    row: &R,
) {
    let meta = row.meta();
    w.raw("{");
    w.key("checkpoint");
    w.null();
    w.raw(",");
    w.key("record_primary_key");
    opt_string(w, key_names);
    w.raw(",");
    w.key("source_identity");
    w.null();
    w.raw(",");
    w.key("record_primary_value");
    opt_string(w, keys::values_joined(schema, row).as_deref());
    w.raw(",");
    w.key("dbType");
    w.string(if options.db_type.is_empty() {
        "MYSQL"
    } else {
        &options.db_type
    });
    w.raw(",");
    w.key("storeDataSequence");
    w.u64(meta.stream_sequence);
    w.raw(",");
    w.key("table_name");
    w.string(&schema.table);
    w.raw(",");
    w.key("db");
    match options.tenant.as_deref() {
        Some(tenant) => w.string(&format!("{tenant}.{}", schema.database)),
        None => w.string(&schema.database),
    }
    w.raw(",");
    w.key("timestamp");
    w.raw("\"");
    w.u64(u64::from(meta.timestamp));
    w.raw("\"");
    w.raw(",");
    w.key("uniqueId");
    w.string(meta.transaction_id);
    w.raw(",");
    w.key("transId");
    w.string(meta.transaction_id);
    w.raw(",");
    w.key("clusterId");
    w.raw("\"");
    w.u64(u64::from(meta.server_id));
    w.raw("\"");
    w.raw("}");
}

fn write_image<V: AsValue>(
    w: &mut JsonWriter,
    schema: &TableSchema,
    table: &Table,
    values: Option<&[V]>,
) -> Result<(), String> {
    let Some(values) = values else {
        w.null();
        return Ok(());
    };
    image::check(&schema.columns, values)?;
    image::write_fields_keyed(w, &table.keys, values, table.light_type.is_some());
    if let Some(light_type) = &table.light_type {
        if !values.is_empty() {
            w.raw(",");
        }
        w.raw_bytes(light_type);
        w.raw("}");
    }
    Ok(())
}
