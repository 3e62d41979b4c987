//! The obsync SDK: the one definition of the data that crosses the host/guest boundary, the
//! ABI glue a WebAssembly module needs, and rendering helpers shared by the built-in formats.
//!
//! The host (`obsync`) and every module (built-in or user-written) depend on this crate, so the
//! wire types exist exactly once. Everything here also compiles natively, so a module author tests
//! a module with plain `cargo test`. The ABI itself is described in `sdk/ABI.md`.
//!
//! Two ways to write a format: `#[format]` on a function of an owned [`FormatBatch`] (simplest),
//! or `#[format_rows]` on a function of a [`RowBatch`], whose rows a [`RowFormatter`] reads in
//! place through the [`Row`] trait (no copy of the batch inside the module; see [`view`]).

pub mod abi;
pub mod arena;
mod batch_reader;
mod batch_writer;
mod bytes;
pub mod change;
pub mod json;
pub mod render;
pub mod schema;
pub mod value;
pub mod view;

pub use abi::{
    ABI_VERSION, FilterBatch, FilterDecision, FilterOutput, FormatBatch, FormatOptions,
    FormatOutput, GuestResult, ModuleKind, OutMessage,
};
pub use change::{ChangeKind, ChangeMeta, RowChange};
pub use obsync_sdk_macros::{filter, format, format_rows};
pub use schema::{ColumnSchema, ColumnType, TableSchema};
pub use value::Value;
pub use view::{AsValue, MetaRef, Row, RowBatch, RowFormatter, RowRef, ValueRef};
