//! What the built-in OMS formats share (OMS spec §1.2–§1.7): the Default / DefaultExtendColumnType
//! layout, key columns and values, type names (upper case, lower case, `java.sql.Types`), image
//! writers with change detection, and wall-clock rendering. A plain library: the format crates
//! wrap it and export the ABI, so it can be shared without duplicate exports.

use obsync_sdk::{FormatBatch, FormatOutput, OutMessage, RowChange, TableSchema};

pub mod default;
pub mod image;
pub mod keys;
pub mod time;
pub mod types;

/// Formats every row of a batch into one message with `body`, the shape all OMS formats share.
pub fn each_row(
    batch: &FormatBatch,
    mut body: impl FnMut(&TableSchema, &RowChange) -> Result<Vec<u8>, String>,
) -> Result<FormatOutput, String> {
    let mut messages = Vec::with_capacity(batch.rows.len());
    for (i, row) in batch.rows.iter().enumerate() {
        let schema = batch
            .schema_of(row)
            .ok_or_else(|| format!("row {i} refers to unknown table index {}", row.table))?;
        messages.push(OutMessage {
            row: i as u32,
            body: body(schema, row)?,
            ..OutMessage::default()
        });
    }
    Ok(FormatOutput { messages })
}
