//! Builds the built-in format modules in `wasm-formats/` for `wasm32-unknown-unknown` and writes
//! `$OUT_DIR/builtin_modules.rs`, the `(name, bytes)` table `wasm/builtin.rs` embeds (see
//! `build_wasm.rs`; the list itself is `builtin_formats.rs`).

include!("build_wasm.rs");
include!("builtin_formats.rs");

fn main() {
    println!("cargo:rerun-if-changed=builtin_formats.rs");
    let vars: Vec<String> = BUILTIN_FORMAT_TABLE
        .iter()
        .map(|(name, _, _)| format!("OBSYNC_WASM_FORMAT_{}", name.to_ascii_uppercase()))
        .collect();
    let modules: Vec<(&str, &str, &str)> = BUILTIN_FORMAT_TABLE
        .iter()
        .zip(&vars)
        .map(|((_, package, file), var)| (*package, *file, var.as_str()))
        .collect();
    let paths = build_wasm_modules(&modules);
    let mut table = String::from("&[\n");
    for ((name, _, _), path) in BUILTIN_FORMAT_TABLE.iter().zip(&paths) {
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("]\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("builtin_modules.rs"), table).expect("cannot write builtin_modules.rs");
}
