//! The OMS "Default" serialization format (OMS spec §1.3) as a WebAssembly module: one JSON
//! message per row change. The layout lives in `obsync_formats_common::default`.

use obsync_sdk::{FormatOutput, RowBatch};

// Stateless: every batch call may use a fresh heap (see obsync_sdk::arena).
obsync_sdk::per_call_arena!();

/// Formats every row of the batch as one Default-format message.
#[obsync_sdk::format_rows]
pub fn format_batch(batch: &RowBatch<'_>) -> Result<FormatOutput, String> {
    obsync_formats_common::default::format(batch, false)
}
