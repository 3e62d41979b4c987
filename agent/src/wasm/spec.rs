//! Resolving a module named in a project file: a built-in format name, or a `.wasm` path relative
//! to the project file's directory. Used by project start-up and by the precheck alike.

use std::path::Path;
use std::sync::Arc;

use obsync_sdk::ModuleKind;

use super::builtin::builtin_format;
use super::engine::{ModuleLimits, WasmEngine};
use super::instance::LoadedModule;
use crate::config::ModuleLimitsConfig;

/// Loads (compiles or takes from the cache) and checks the module `spec` of the project file
/// `project_file`; errors are operator-facing text naming the module.
pub fn load_spec(
    engine: &WasmEngine,
    project_file: &Path,
    spec: &str,
    limits: ModuleLimitsConfig,
    kind: ModuleKind,
) -> Result<Arc<LoadedModule>, String> {
    let limits = ModuleLimits {
        memory_bytes: usize::try_from(limits.memory_limit_mb.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        call_timeout_ms: limits.call_timeout_ms,
    };
    match builtin_format(spec) {
        Some(bytes) if kind == ModuleKind::Format => {
            LoadedModule::load(engine, spec, bytes, limits)
        }
        _ => {
            let path = project_file.parent().unwrap_or(Path::new(".")).join(spec);
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read module {}: {e}", path.display()))?;
            LoadedModule::load(engine, &path.display().to_string(), &bytes, limits)
        }
    }
    .map_err(|e| e.to_string())
}
