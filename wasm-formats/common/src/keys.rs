//! Key columns: the table's primary key (or the chosen unique key), names and values joined with
//! U+0001 as OMS does (`record_primary_key`, `record_primary_value`, SharePlex `rowid`).

use obsync_sdk::json::JsonWriter;
use obsync_sdk::render::push_text;
use obsync_sdk::{Row, TableSchema};

/// The separator OMS uses between composite key parts.
pub const SEPARATOR: char = '\u{1}';

/// Returns the key column names joined with U+0001, or `None` for a table without a key.
pub fn names_joined(schema: &TableSchema) -> Option<String> {
    if schema.primary_key.is_empty() {
        return None;
    }
    let names: Vec<&str> = schema.primary_key_names().collect();
    Some(names.join(&SEPARATOR.to_string()))
}

/// Returns the key values (after image, or before image for DELETE) joined with U+0001, or
/// `None` for a table without a key.
pub fn values_joined<R: Row>(schema: &TableSchema, row: &R) -> Option<String> {
    if schema.primary_key.is_empty() {
        return None;
    }
    let image = row.key_image()?;
    let mut out = String::new();
    for (n, &i) in schema.primary_key.iter().enumerate() {
        if n > 0 {
            out.push(SEPARATOR);
        }
        if let Some(v) = image.get(i as usize) {
            push_text(&mut out, v);
        }
    }
    Some(out)
}

/// Writes the key column names as a JSON array, or `null` for a table without a key
/// (Canal `pkNames`, DataWorks `pk`).
pub fn write_names_array(w: &mut JsonWriter, schema: &TableSchema) {
    if schema.primary_key.is_empty() {
        w.null();
        return;
    }
    w.raw("[");
    for (n, name) in schema.primary_key_names().enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.string(name);
    }
    w.raw("]");
}
