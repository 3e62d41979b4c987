//! The built-in format modules, compiled from `wasm-formats/` by `build.rs` and embedded here.

/// The OMS Default format module.
static DEFAULT: &[u8] = include_bytes!(env!("OBSYNC_WASM_FORMAT_DEFAULT"));

/// Returns the bytes of a built-in format module by its config name.
pub fn builtin_format(name: &str) -> Option<&'static [u8]> {
    match name {
        "default" => Some(DEFAULT),
        _ => None,
    }
}
