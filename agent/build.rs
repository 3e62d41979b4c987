//! Builds the built-in format modules in `wasm-formats/` for `wasm32-unknown-unknown`; the crate
//! embeds them with `include_bytes!` (see `build_wasm.rs`).

include!("build_wasm.rs");

fn main() {
    build_wasm_modules(&[(
        "obsync-format-default",
        "obsync_format_default.wasm",
        "OBSYNC_WASM_FORMAT_DEFAULT",
    )]);
}
