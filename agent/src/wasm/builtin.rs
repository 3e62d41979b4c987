//! The built-in format modules, compiled from `wasm-formats/` by `build.rs` from the one list in
//! `builtin_formats.rs` and embedded here.

/// The built-in formats by config name, with their module bytes.
static BUILTIN: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/builtin_modules.rs"));

/// Returns the bytes of a built-in format module by its config name.
pub fn builtin_format(name: &str) -> Option<&'static [u8]> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_format_the_config_accepts_is_embedded() {
        for name in crate::config::builtin_format_names() {
            assert!(
                super::builtin_format(name).is_some_and(|b| !b.is_empty()),
                "{name}"
            );
        }
    }
}
