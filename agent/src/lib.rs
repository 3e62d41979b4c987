//! obsync: a small agent that streams row changes from the OceanBase binlog service, MySQL or
//! MariaDB into RocketMQ, through sandboxed WebAssembly format modules.
//!
//! The data path has no back-edges: `source` (binlog) → `route` (objects, filters, batches,
//! numbering) → `wasm` (format) → `sink` (messages, RocketMQ, per-queue order) → `checkpoint`.
//! Each stage imports only the foundations (`config`, `schema`, `filter`, `policy`) and the stages
//! before it; `supervisor` (one task per project) drives them and owns only their lifecycle.
//! [`run`] takes its directories and a shutdown future, so tests start the real thing in-process.
#![recursion_limit = "256"]

pub mod alerts;
pub mod checkpoint;
pub mod config;
pub mod filter;
pub mod http;
pub mod metrics;
pub mod panic_text;
pub mod policy;
pub mod precheck;
pub mod route;
pub mod schema;
pub mod sink;
pub mod source;
pub mod status;
pub mod status_file;
pub mod supervisor;
pub mod telemetry;
pub mod wasm;

pub use supervisor::{
    LISTEN_FILE, RunError, RunOptions, STATUS_FILE, run, set_paused, shutdown_signal,
};
