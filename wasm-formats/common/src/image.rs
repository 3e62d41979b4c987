//! Writing row images as JSON objects: full images, and only the columns an UPDATE changed.

use obsync_sdk::json::JsonWriter;
use obsync_sdk::render::write_value;
use obsync_sdk::{ColumnSchema, Value};

/// Checks that an image has one value per column.
pub fn check(columns: &[ColumnSchema], values: &[Value]) -> Result<(), String> {
    if values.len() == columns.len() {
        Ok(())
    } else {
        Err(format!(
            "row image has {} values but the table has {} columns",
            values.len(),
            columns.len()
        ))
    }
}

/// Writes `{"col": value, …}` for every column, without the closing brace when `open` is true
/// (so the caller can append more keys).
pub fn write_fields(w: &mut JsonWriter, columns: &[ColumnSchema], values: &[Value], open: bool) {
    w.raw("{");
    for (n, (col, v)) in columns.iter().zip(values).enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.key(&col.name);
        write_value(w, v);
    }
    if !open {
        w.raw("}");
    }
}

/// Writes a full image, or `null`.
pub fn write_full(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    values: Option<&[Value]>,
) -> Result<(), String> {
    match values {
        None => w.null(),
        Some(v) => {
            check(columns, v)?;
            write_fields(w, columns, v, false);
        }
    }
    Ok(())
}

/// Writes `{"col": value}` for the columns whose value differs between `before` and `after`,
/// taking the values from `from_before` (true) or the after image (false).
pub fn write_changed(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    before: &[Value],
    after: &[Value],
    from_before: bool,
) -> Result<(), String> {
    check(columns, before)?;
    check(columns, after)?;
    w.raw("{");
    let mut n = 0;
    for ((col, b), a) in columns.iter().zip(before).zip(after) {
        if b == a {
            continue;
        }
        if n > 0 {
            w.raw(",");
        }
        n += 1;
        w.key(&col.name);
        write_value(w, if from_before { b } else { a });
    }
    w.raw("}");
    Ok(())
}
