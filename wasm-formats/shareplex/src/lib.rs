//! The OMS "SharePlex" format (OMS spec §1.7) as a WebAssembly module.
//!
//! `{"data":{…},"meta":{"posttime","op","size","time","idx",["seq",]"table","rowid","trans","scn"},
//! ["key":{…}]}`. `data` is the after image for INSERT, the changed columns' after values for
//! UPDATE and the before image for DELETE; `key` (UPDATE only) is the full before image. `time`
//! is the event time and `posttime` the host clock when the batch was built, both as
//! `YYYY-MM-DDTHH:mm:ss` at the configured UTC offset. `seq` (the message's number in its
//! transaction from 1, after filters, the halves of a split UPDATE numbered apart) is present only
//! with in-transaction sequence numbering. `scn` is the stream sort sequence the host gives (commit
//! second followed by a 5-digit counter along the stream; `ChangeMeta::stream_sequence`). `size`
//! and `idx` (deprecated in OMS) are `0`/`"0/0"`: the transaction's size is not known while it
//! streams.

use obsync_formats_common::{image, keys, time};
use obsync_sdk::json::JsonWriter;
use obsync_sdk::{
    ChangeKind, FormatOptions, FormatOutput, Row, RowBatch, RowFormatter, TableSchema,
};

// Stateless: every batch call may use a fresh heap (see obsync_sdk::arena).
obsync_sdk::per_call_arena!();

/// Formats every row of the batch as one SharePlex message.
#[obsync_sdk::format_rows]
pub fn format_batch(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
    batch.format_each(&mut SharePlex)
}

fn op(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Insert => "ins",
        ChangeKind::Update => "upd",
        ChangeKind::Delete => "del",
    }
}

/// The layout, one message per row; rows are read in place (`RowBatch`).
struct SharePlex;

impl RowFormatter for SharePlex {
    fn body<R: Row>(
        &mut self,
        options: &FormatOptions,
        schema: &TableSchema,
        row: &R,
    ) -> Result<Vec<u8>, String> {
        let meta = row.meta();
        let offset = options.utc_offset_seconds;
        let mut w = JsonWriter::with_capacity(384 + schema.columns.len() * 32);
        w.raw("{");
        w.key("data");
        match (row.kind(), row.before(), row.after()) {
            (ChangeKind::Update, Some(before), Some(after)) => {
                image::write_changed(&mut w, &schema.columns, before, after, false)?
            }
            _ => image::write_full(&mut w, &schema.columns, row.key_image())?,
        }
        w.raw(",");
        w.key("meta");
        w.raw("{");
        w.key("posttime");
        w.string(&time::local_datetime(
            (options.now_ms / 1000) as i64,
            offset,
        ));
        w.raw(",");
        w.key("op");
        w.string(op(row.kind()));
        w.raw(",");
        w.key("size");
        w.u64(0);
        w.raw(",");
        w.key("time");
        w.string(&time::local_datetime(meta.timestamp as i64, offset));
        w.raw(",");
        w.key("idx");
        w.string("0/0");
        w.raw(",");
        if options.sequence_numbers {
            w.key("seq");
            w.u64(u64::from(meta.sequence_in_transaction));
            w.raw(",");
        }
        let table = format!("{}.{}", schema.database, schema.table);
        w.key("table");
        w.string(&table);
        w.raw(",");
        w.key("rowid");
        w.string(&format!(
            "{table}-{}",
            keys::values_joined(schema, row).unwrap_or_default()
        ));
        w.raw(",");
        w.key("trans");
        w.string(meta.transaction_id);
        w.raw(",");
        w.key("scn");
        w.string(&meta.stream_sequence.to_string());
        w.raw("}");
        if row.kind() == ChangeKind::Update {
            w.raw(",");
            w.key("key");
            image::write_full(&mut w, &schema.columns, row.before())?;
        }
        w.raw("}");
        Ok(w.into_bytes())
    }
}
