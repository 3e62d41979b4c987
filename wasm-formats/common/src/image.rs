//! Writing row images as JSON objects: full images, and only the columns an UPDATE changed.

use obsync_sdk::json::JsonWriter;
use obsync_sdk::render::write_value;
use obsync_sdk::{AsValue, ColumnSchema};

/// A table's column names rendered once as JSON keys (`"name":`), so the rows of a batch do not
/// escape them again.
pub struct Keys {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl Keys {
    /// Renders the keys of `columns`.
    pub fn new(columns: &[ColumnSchema]) -> Keys {
        let mut w = JsonWriter::with_capacity(columns.len() * 12);
        let mut ends = Vec::with_capacity(columns.len());
        for c in columns {
            w.key(&c.name);
            ends.push(w.as_bytes().len());
        }
        Keys {
            text: w.into_bytes(),
            ends,
        }
    }

    /// The key of column `i` (empty past the last column).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }
}

/// Writes `{"col": value, …}` like [`write_fields`], with keys rendered beforehand.
pub fn write_fields_keyed<V: AsValue>(w: &mut JsonWriter, keys: &Keys, values: &[V], open: bool) {
    w.raw("{");
    for (n, v) in values.iter().enumerate() {
        if n > 0 {
            w.raw(",");
        }
        w.raw_bytes(keys.get(n));
        write_value(w, v);
    }
    if !open {
        w.raw("}");
    }
}

/// Checks that an image has one value per column.
pub fn check<V>(columns: &[ColumnSchema], values: &[V]) -> Result<(), String> {
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
pub fn write_fields<V: AsValue>(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    values: &[V],
    open: bool,
) {
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
pub fn write_full<V: AsValue>(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    values: Option<&[V]>,
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
pub fn write_changed<V: AsValue>(
    w: &mut JsonWriter,
    columns: &[ColumnSchema],
    before: &[V],
    after: &[V],
    from_before: bool,
) -> Result<(), String> {
    check(columns, before)?;
    check(columns, after)?;
    w.raw("{");
    let mut n = 0;
    for ((col, b), a) in columns.iter().zip(before).zip(after) {
        if b.view() == a.view() {
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
