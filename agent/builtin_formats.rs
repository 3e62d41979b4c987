// The built-in formats, the one list of them: `(config name, workspace package, module file)`.
// `build.rs` compiles and embeds each module (`wasm/builtin.rs`); `config` accepts the names.

/// Every built-in format, in the order they are documented.
pub const BUILTIN_FORMAT_TABLE: &[(&str, &str, &str)] = &[
    ("default", "obsync-format-default", "obsync_format_default.wasm"),
    ("canal", "obsync-format-canal", "obsync_format_canal.wasm"),
    ("dataworks", "obsync-format-dataworks", "obsync_format_dataworks.wasm"),
    ("shareplex", "obsync-format-shareplex", "obsync_format_shareplex.wasm"),
    (
        "default_extend_column_type",
        "obsync-format-default-extend",
        "obsync_format_default_extend.wasm",
    ),
];
