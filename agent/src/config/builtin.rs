//! The names of the built-in formats, from the one list the build embeds (`builtin_formats.rs`
//! at the crate root), so config validation and the embedded modules can never disagree.

include!("../../builtin_formats.rs");

/// The config names of the built-in formats, in documentation order.
pub fn builtin_format_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_FORMAT_TABLE.iter().map(|(name, _, _)| *name)
}
