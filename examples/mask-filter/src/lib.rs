//! An example filter module: drops rows whose `is_test` column is 1 (or `true`), and masks the
//! local part of every column named `email` (`alice@example.com` → `a***@example.com`).

use obsync_sdk::{FilterBatch, FilterDecision, FilterOutput, RowChange, TableSchema, Value};

/// Decides, for each row, whether to keep, drop or rewrite it.
#[obsync_sdk::filter]
pub fn mask(batch: &FilterBatch) -> Result<FilterOutput, String> {
    let mut decisions = Vec::with_capacity(batch.rows.len());
    for row in &batch.rows {
        let schema = batch
            .schema_of(row)
            .ok_or("row refers to an unknown table")?;
        decisions.push(decide(schema, row));
    }
    Ok(FilterOutput { decisions })
}

fn column(schema: &TableSchema, name: &str) -> Option<usize> {
    schema.columns.iter().position(|c| c.name == name)
}

fn decide(schema: &TableSchema, row: &RowChange) -> FilterDecision {
    if let (Some(i), Some(image)) = (column(schema, "is_test"), row.key_image())
        && matches!(image.get(i), Some(Value::Int(1) | Value::UInt(1)))
    {
        return FilterDecision::Drop;
    }
    let Some(e) = column(schema, "email") else {
        return FilterDecision::Keep;
    };
    let mut new = row.clone();
    for image in [new.before.as_mut(), new.after.as_mut()]
        .into_iter()
        .flatten()
    {
        if let Some(Value::Text(s)) = image.get_mut(e) {
            *s = mask_email(s);
        }
    }
    FilterDecision::Replace(new)
}

/// Keeps the first character and the domain of an address.
pub fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        assert_eq!(mask_email("张伟@例子.公司"), "张***@例子.公司");
        assert_eq!(mask_email("nobody"), "***");
    }
}
