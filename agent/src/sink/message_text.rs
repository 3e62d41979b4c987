//! Text that goes into a message's key, tag and properties.
//!
//! The remoting protocol sends properties as `name U+0001 value U+0002 …`: a separator inside a
//! name or a value would end it early and inject or override another property (`TAGS`, `KEYS`,
//! `obsync_type`), and the Java client would read something else than was meant.
//!
//! Invariants: text obsync derives from the source (database and table names, key values,
//! positions) has each separator replaced by its visible control picture (U+0001 → `␁` U+2401,
//! U+0002 → `␂` U+2402), so nothing is injected and the original stays readable; a name or value
//! a module sets is refused when it holds a separator, and a name the protocol reserves (the
//! client's system property set) or obsync's own (`obsync_…`) is refused, so a module can never
//! override what obsync or the broker relies on.

use std::borrow::Cow;

/// The protocol's name/value separator.
const NAME_VALUE: char = '\u{1}';
/// The protocol's property separator.
const PROPERTY: char = '\u{2}';

/// Source-derived text with the protocol's separators made visible.
pub fn separator_free(text: &str) -> Cow<'_, str> {
    if text.contains([NAME_VALUE, PROPERTY]) {
        Cow::Owned(
            text.replace(NAME_VALUE, "\u{2401}")
                .replace(PROPERTY, "\u{2402}"),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Checks a property a module set; the error says what is wrong (without the value, which can
/// be row data).
pub fn check_module_property(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a property with an empty name".into());
    }
    if name.contains([NAME_VALUE, PROPERTY]) {
        return Err(format!(
            "property name {:?} holds U+0001 or U+0002, the protocol's separators",
            separator_free(name)
        ));
    }
    if value.contains([NAME_VALUE, PROPERTY]) {
        return Err(format!(
            "the value of property {name:?} holds U+0001 or U+0002, the protocol's separators"
        ));
    }
    if name.starts_with("obsync_") {
        return Err(format!(
            "property {name:?}: names starting with obsync_ are obsync's own"
        ));
    }
    if rocketmq_model::common::message::STRING_HASH_SET.contains(name) {
        return Err(format!(
            "property {name:?} is a RocketMQ system property (the broker and clients read it)"
        ));
    }
    Ok(())
}

/// Checks a key or tag a module set.
pub fn check_module_text(what: &str, text: &str) -> Result<(), String> {
    if text.contains([NAME_VALUE, PROPERTY]) {
        return Err(format!(
            "the message {what} holds U+0001 or U+0002, the protocol's separators"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_text_keeps_no_separator() {
        assert_eq!(separator_free("orders"), "orders");
        assert_eq!(separator_free("a\u{1}TAGS\u{2}b"), "a\u{2401}TAGS\u{2402}b");
        assert!(matches!(separator_free("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn module_properties_cannot_inject_or_override() {
        assert!(check_module_property("op", "u").is_ok());
        assert!(check_module_property("op", "u\u{2}TAGS\u{1}x").is_err());
        assert!(check_module_property("o\u{1}p", "u").is_err());
        assert!(check_module_property("", "u").is_err());
        assert!(check_module_property("TAGS", "x").is_err());
        assert!(check_module_property("KEYS", "x").is_err());
        assert!(check_module_property("obsync_type", "DELETE").is_err());
        assert!(check_module_text("key", "1\u{1}2").is_err());
        assert!(check_module_text("tag", "t").is_ok());
    }
}
