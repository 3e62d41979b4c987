//! The host/guest ABI, version 1 (see `sdk/ABI.md` for the language-neutral description).
//!
//! A module is a WebAssembly core module with no imports except the optional `obsync.log`.
//! The host writes one MessagePack-encoded batch (named fields) into guest memory obtained from
//! `obsync_alloc`, calls the kind's entry point once per batch, and reads back a MessagePack
//! [`GuestResult`] whose location is returned packed as `(ptr << 32) | len`. The guest owns the
//! input buffer from the call on; the host frees the output buffer with `obsync_free`.

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use crate::change::RowChange;
use crate::schema::TableSchema;
use crate::view::{RowBatch, Rows};

/// The ABI version this SDK implements; the host refuses modules reporting another one.
pub const ABI_VERSION: u32 = 1;

/// What a module does, reported by its `obsync_module_kind` export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u32)]
pub enum ModuleKind {
    /// Keeps, drops or rewrites rows (`obsync_filter`).
    Filter = 1,
    /// Turns rows into messages (`obsync_format`).
    Format = 2,
}

impl ModuleKind {
    /// Returns the kind for a raw export value.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(ModuleKind::Filter),
            2 => Some(ModuleKind::Format),
            _ => None,
        }
    }
}

/// Per-project settings a format module may honour.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormatOptions {
    /// The OMS `dbType` of the source: `OB_MYSQL` for OceanBase, `MYSQL` for MySQL and MariaDB.
    pub db_type: String,
    /// The business system identifier (OMS option), if set.
    pub business_system_id: Option<String>,
    /// Whether in-transaction sequence numbers are requested (SharePlex).
    pub sequence_numbers: bool,
    /// The host's clock when the batch was built, milliseconds since the epoch (modules have no
    /// clock of their own; formats use it for "time written" fields).
    pub now_ms: u64,
    /// The offset from UTC, in seconds, for formats that print local wall-clock times.
    pub utc_offset_seconds: i32,
    /// The OceanBase tenant of the source, for formats whose database field is
    /// `{tenant}.{database}` on OceanBase (Default); `None` for MySQL and MariaDB.
    pub tenant: Option<String>,
}

/// The input of one format or filter call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormatBatch {
    /// The ABI version of the host that built the batch.
    pub abi_version: u32,
    /// Project settings.
    #[serde(default)]
    pub options: FormatOptions,
    /// The schemas referenced by `rows[i].table`.
    pub schemas: Vec<TableSchema>,
    /// The row changes, in commit order.
    pub rows: Vec<RowChange>,
}

impl FormatBatch {
    /// Returns the schema of a row, if the index is valid.
    pub fn schema_of(&self, row: &RowChange) -> Option<&TableSchema> {
        self.schemas.get(row.table as usize)
    }
}

/// The input of a filter call: the same shape as a format batch.
pub type FilterBatch = FormatBatch;

/// One message produced by a format module.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutMessage {
    /// Index of the row in the batch this message was made from.
    pub row: u32,
    /// The message body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// A message key; when absent the host uses the row's dedupe key.
    pub key: Option<String>,
    /// A tag; when absent the host uses the project's tag.
    pub tags: Option<String>,
    /// Extra user properties.
    pub properties: Vec<(String, String)>,
}

/// The output of a format call: messages in row order, usually one per row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FormatOutput {
    /// The messages.
    pub messages: Vec<OutMessage>,
}

/// What a filter decides for one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FilterDecision {
    /// Pass the row on unchanged.
    Keep,
    /// Drop the row.
    Drop,
    /// Pass this row instead (same table, same kind).
    Replace(RowChange),
}

/// The output of a filter call: one decision per input row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterOutput {
    /// The decisions, one per row, in row order.
    pub decisions: Vec<FilterDecision>,
}

/// What a guest returns from a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GuestResult<T> {
    /// The call succeeded.
    Ok(T),
    /// The call failed with a message for the operator.
    Err(String),
}

/// Encodes a value the way the ABI requires (MessagePack with named fields).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

/// Appends a batch to `out`: the same bytes as [`encode`], written several times faster.
pub fn encode_batch_into(
    batch: &FormatBatch,
    out: &mut Vec<u8>,
) -> Result<(), rmp_serde::encode::Error> {
    crate::batch_writer::write_batch(batch, out)
}

/// How deep MessagePack may nest in what is decoded: the ABI's deepest value is four levels
/// down; anything deeper is damage, refused before it can exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// Decodes a value encoded by [`encode`] (nesting limited to [`MAX_DEPTH`]).
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, rmp_serde::decode::Error> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_DEPTH);
    T::deserialize(&mut de)
}

/// Decodes a batch encoded by [`encode`]: the same result as [`decode`], read several times
/// faster by a reader made for the host's encoding (any other valid encoding goes through
/// serde, as do errors).
pub fn decode_batch(bytes: &[u8]) -> Result<FormatBatch, rmp_serde::decode::Error> {
    match crate::batch_reader::read_batch(bytes) {
        Some(batch) => Ok(batch),
        None => decode(bytes),
    }
}

/// Appends a format call's result: the same bytes as [`encode`], written without serde (what a
/// format module returns after every call).
pub fn encode_format_result_into(result: &GuestResult<FormatOutput>, out: &mut Vec<u8>) {
    crate::batch_writer::write_format_result(result, out);
}

/// Decodes a format call's result: the same as [`decode`], read without serde when it is in the
/// shape the SDK writes (what a host reads after every format call).
pub fn decode_format_result(
    bytes: &[u8],
) -> Result<GuestResult<FormatOutput>, rmp_serde::decode::Error> {
    match crate::batch_reader::read_format_result(bytes) {
        Some(result) => Ok(result),
        None => decode(bytes),
    }
}

/// Runs a row format on an input batch without copying its rows: they are read one at a time
/// from `input` ([`crate::view`]). A batch not in the host's shape is decoded by serde instead,
/// which accepts every valid form and names what is wrong.
pub fn format_input(
    input: &[u8],
    f: fn(&RowBatch<'_>) -> Result<FormatOutput, String>,
) -> Result<FormatOutput, String> {
    if let Some(h) = crate::batch_reader::read_header(input) {
        let batch = RowBatch {
            options: &h.options,
            schemas: &h.schemas,
            rows: Rows::Packed {
                bytes: h.rows,
                count: h.count,
                failed: Cell::new(false),
            },
        };
        let out = f(&batch);
        if !batch.decode_failed() {
            return out;
        }
    }
    match decode::<FormatBatch>(input) {
        Ok(b) => f(&RowBatch::from(&b)),
        Err(e) => Err(format!("cannot decode the input batch: {e}")),
    }
}

/// Glue used by the export macros inside a wasm32 guest.
#[cfg(target_arch = "wasm32")]
pub mod guest {
    use std::alloc::{Layout, alloc, dealloc};

    use serde::Serialize;

    use super::{FilterOutput, FormatBatch, FormatOutput, GuestResult, RowBatch, decode_batch};

    /// Allocates the host's input buffer of a new batch call: the start of a new batch, so a
    /// per-call arena (if the module uses one) is reset first.
    pub fn alloc_input(len: u32) -> u32 {
        crate::arena::reset();
        alloc_bytes(len)
    }

    /// Allocates `len` bytes.
    pub fn alloc_bytes(len: u32) -> u32 {
        if len == 0 {
            return 1;
        }
        match Layout::from_size_align(len as usize, 1) {
            // SAFETY: the layout has a non-zero size.
            Ok(layout) => unsafe { alloc(layout) as u32 },
            Err(_) => 0,
        }
    }

    /// Frees a buffer from [`alloc_bytes`].
    ///
    /// # Safety
    /// `ptr` and `len` must come from one `alloc_bytes` call, freed once.
    pub unsafe fn free_bytes(ptr: u32, len: u32) {
        if len == 0 || ptr == 0 {
            return;
        }
        if let Ok(layout) = Layout::from_size_align(len as usize, 1) {
            // SAFETY: guaranteed by the caller.
            unsafe { dealloc(ptr as *mut u8, layout) }
        }
    }

    /// Hands a result buffer to the host without copying it: a boxed slice's allocation has
    /// exactly `len` bytes of alignment 1, which is what [`free_bytes`] releases.
    fn leak(bytes: Vec<u8>) -> u64 {
        let len = bytes.len() as u32;
        if len == 0 {
            return 1u64 << 32;
        }
        let ptr = Box::into_raw(bytes.into_boxed_slice()) as *mut u8 as u32;
        ((ptr as u64) << 32) | len as u64
    }

    /// Runs a batch function on an input buffer (which it frees) and returns its result.
    ///
    /// # Safety
    /// `ptr`/`len` must be a buffer from `obsync_alloc` filled by the host.
    unsafe fn run<T>(
        ptr: u32,
        len: u32,
        f: fn(&FormatBatch) -> Result<T, String>,
    ) -> GuestResult<T> {
        // SAFETY: guaranteed by the caller.
        let input = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) };
        let result = match decode_batch(input) {
            Ok(batch) => match f(&batch) {
                Ok(out) => GuestResult::Ok(out),
                Err(e) => GuestResult::Err(e),
            },
            Err(e) => GuestResult::Err(format!("cannot decode the input batch: {e}")),
        };
        // SAFETY: the guest owns the input buffer from the call on.
        unsafe { free_bytes(ptr, len) };
        result
    }

    /// Runs a batch function on an input buffer and returns the packed output location.
    ///
    /// # Safety
    /// `ptr`/`len` must be a buffer from `obsync_alloc` filled by the host.
    pub unsafe fn call<T: Serialize>(
        ptr: u32,
        len: u32,
        f: fn(&FormatBatch) -> Result<T, String>,
    ) -> u64 {
        // SAFETY: forwarded.
        let result = unsafe { run(ptr, len, f) };
        finish(len, &result)
    }

    /// Encodes a call's result with serde and hands it to the host.
    fn finish<T: Serialize>(input_len: u32, result: &GuestResult<T>) -> u64 {
        let mut bytes = Vec::with_capacity(input_len as usize * 2);
        if rmp_serde::encode::write_named(&mut bytes, result).is_err() {
            bytes.clear();
        }
        leak(bytes)
    }

    /// Hands a format call's result to the host, written by hand (`write_format_result`).
    fn finish_format(input_len: u32, result: &GuestResult<FormatOutput>) -> u64 {
        // Sized once for the usual result (messages are about as large as the rows they carry),
        // so the writer rarely copies while it grows.
        let mut bytes = Vec::with_capacity(input_len as usize * 2);
        super::encode_format_result_into(result, &mut bytes);
        leak(bytes)
    }

    /// Runs a format function (see [`call`]).
    ///
    /// # Safety
    /// As for [`call`].
    pub unsafe fn call_format(
        ptr: u32,
        len: u32,
        f: fn(&FormatBatch) -> Result<FormatOutput, String>,
    ) -> u64 {
        // SAFETY: forwarded.
        let result = unsafe { run(ptr, len, f) };
        finish_format(len, &result)
    }

    /// Runs a row format function on the rows as they are in the input buffer
    /// ([`super::format_input`]).
    ///
    /// # Safety
    /// As for [`call`].
    pub unsafe fn call_format_rows(
        ptr: u32,
        len: u32,
        f: fn(&RowBatch<'_>) -> Result<FormatOutput, String>,
    ) -> u64 {
        // SAFETY: guaranteed by the caller.
        let input = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) };
        let result = match super::format_input(input, f) {
            Ok(out) => GuestResult::Ok(out),
            Err(e) => GuestResult::Err(e),
        };
        // SAFETY: the guest owns the input buffer from the call on; nothing borrows it now.
        unsafe { free_bytes(ptr, len) };
        finish_format(len, &result)
    }

    /// Runs a filter function (see [`call`]).
    ///
    /// # Safety
    /// As for [`call`].
    pub unsafe fn call_filter(
        ptr: u32,
        len: u32,
        f: fn(&FormatBatch) -> Result<FilterOutput, String>,
    ) -> u64 {
        // SAFETY: forwarded.
        unsafe { call(ptr, len, f) }
    }
}

/// Exports a function `fn(&FormatBatch) -> Result<FormatOutput, String>` as a format module.
/// Prefer the attribute `#[obsync_sdk::format]`, which expands to this.
///
/// On wasm32 this emits the ABI exports; natively it expands to nothing, so the function can be
/// unit-tested directly.
#[macro_export]
macro_rules! export_format {
    ($f:ident) => {
        $crate::__export_module!($f, Format, obsync_format, call_format);
    };
}

/// Exports a function `fn(&RowBatch<'_>) -> Result<FormatOutput, String>` as a format module that
/// reads rows without copying them ([`crate::view`]). Prefer the attribute
/// `#[obsync_sdk::format_rows]`, which expands to this.
#[macro_export]
macro_rules! export_format_rows {
    ($f:ident) => {
        $crate::__export_module!($f, Format, obsync_format, call_format_rows);
    };
}

/// Exports a function `fn(&FilterBatch) -> Result<FilterOutput, String>` as a filter module.
/// Prefer the attribute `#[obsync_sdk::filter]`, which expands to this.
#[macro_export]
macro_rules! export_filter {
    ($f:ident) => {
        $crate::__export_module!($f, Filter, obsync_filter, call_filter);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_module {
    ($f:ident, $kind:ident, $entry:ident, $call:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __obsync_exports {
            #[unsafe(no_mangle)]
            pub extern "C" fn obsync_abi_version() -> u32 {
                $crate::ABI_VERSION
            }
            #[unsafe(no_mangle)]
            pub extern "C" fn obsync_module_kind() -> u32 {
                $crate::ModuleKind::$kind as u32
            }
            #[unsafe(no_mangle)]
            pub extern "C" fn obsync_alloc(len: u32) -> u32 {
                $crate::abi::guest::alloc_input(len)
            }
            /// # Safety
            /// Called by the host with a buffer from `obsync_alloc`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn obsync_free(ptr: u32, len: u32) {
                unsafe { $crate::abi::guest::free_bytes(ptr, len) }
            }
            /// # Safety
            /// Called by the host with a buffer from `obsync_alloc`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $entry(ptr: u32, len: u32) -> u64 {
                unsafe { $crate::abi::guest::$call(ptr, len, super::$f) }
            }
        }
    };
}
