//! Builds the built-in format modules in `wasm-formats/` for `wasm32-unknown-unknown`; the crate
//! embeds them with `include_bytes!` (see `build_wasm.rs`).

include!("build_wasm.rs");

fn main() {
    build_wasm_modules(&[
        (
            "obsync-format-default",
            "obsync_format_default.wasm",
            "OBSYNC_WASM_FORMAT_DEFAULT",
        ),
        (
            "obsync-format-canal",
            "obsync_format_canal.wasm",
            "OBSYNC_WASM_FORMAT_CANAL",
        ),
        (
            "obsync-format-dataworks",
            "obsync_format_dataworks.wasm",
            "OBSYNC_WASM_FORMAT_DATAWORKS",
        ),
        (
            "obsync-format-shareplex",
            "obsync_format_shareplex.wasm",
            "OBSYNC_WASM_FORMAT_SHAREPLEX",
        ),
        (
            "obsync-format-default-extend",
            "obsync_format_default_extend.wasm",
            "OBSYNC_WASM_FORMAT_DEFAULT_EXTEND",
        ),
    ]);
}
