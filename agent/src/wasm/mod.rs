//! The WebAssembly stage: loads format (and later filter) modules into a shared `wasmtime` engine
//! and calls them once per batch.
//!
//! Invariants: a module has no imports except `obsync.log`, so it cannot reach files, clocks or
//! the network; every instance runs under a memory limit and a per-call epoch deadline; a module
//! whose ABI version differs from [`obsync_sdk::ABI_VERSION`] is refused at load. A failed call
//! (trap, timeout, memory limit, malformed output) poisons the instance: the caller stops the
//! project without advancing its checkpoint, and the next call starts from a fresh instance.

mod builtin;
mod engine;
mod instance;
mod module_cache;
#[cfg(test)]
mod sandbox_tests;
mod spec;

pub use builtin::builtin_format;
pub use engine::{ModuleLimits, WasmEngine, WasmError};
pub use instance::{LoadedModule, ModuleInstance};
pub use spec::load_spec;
