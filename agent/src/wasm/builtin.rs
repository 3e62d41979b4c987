//! The built-in format modules, compiled from `wasm-formats/` by `build.rs` and embedded here.

/// The built-in formats by config name, with their module bytes.
static BUILTIN: &[(&str, &[u8])] = &[
    (
        "default",
        include_bytes!(env!("OBSYNC_WASM_FORMAT_DEFAULT")),
    ),
    ("canal", include_bytes!(env!("OBSYNC_WASM_FORMAT_CANAL"))),
    (
        "dataworks",
        include_bytes!(env!("OBSYNC_WASM_FORMAT_DATAWORKS")),
    ),
    (
        "shareplex",
        include_bytes!(env!("OBSYNC_WASM_FORMAT_SHAREPLEX")),
    ),
    (
        "default_extend_column_type",
        include_bytes!(env!("OBSYNC_WASM_FORMAT_DEFAULT_EXTEND")),
    ),
];

/// Returns the bytes of a built-in format module by its config name.
pub fn builtin_format(name: &str) -> Option<&'static [u8]> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Returns the names of the built-in formats.
pub fn builtin_format_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
