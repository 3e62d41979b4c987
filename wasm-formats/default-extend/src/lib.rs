//! The OMS "DefaultExtendColumnType" format (OMS spec §1.4) as a WebAssembly module: Default plus
//! a `__light_type` map (`{"col": {"schemaType": "VARCHAR"}}`) as the last key of every image.

use obsync_sdk::{FormatOutput, RowBatch};

// Stateless: every batch call may use a fresh heap (see obsync_sdk::arena).
obsync_sdk::per_call_arena!();

/// Formats every row of the batch as one DefaultExtendColumnType message.
#[obsync_sdk::format_rows]
pub fn format_batch(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
    obsync_formats_common::default::format(batch, true)
}
