//! What the benchmarks share: the embedded Default format module, ready to call.

use obsync::wasm::{LoadedModule, ModuleInstance, ModuleLimits, WasmEngine, builtin_format};
use obsync_sdk::ModuleKind;

/// An instance of the built-in Default format module, with the engine that runs its epoch
/// ticker (keep it alive while calling the module).
pub fn default_format_instance() -> (WasmEngine, ModuleInstance) {
    let engine = WasmEngine::new(None).expect("engine");
    let module = LoadedModule::load(
        &engine,
        "default",
        builtin_format("default").expect("built-in"),
        ModuleLimits::default(),
    )
    .expect("module");
    let instance = ModuleInstance::new(module, ModuleKind::Format).expect("instance");
    (engine, instance)
}
