//! Table facts read from the source's `information_schema` over SQL: the columns a row filter is
//! checked against at start, and the non-null unique keys that shard tables without a primary key.
//!
//! Invariant: read-only queries on the catalog only; a table that does not exist yet gives `None`
//! (it may be created later), never an error.

use std::collections::HashMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::filter::{FilterColumn, Kind};

/// The columns of a table, in ordinal order, as a row filter sees them; `None` when the table
/// does not exist.
pub async fn filter_columns(
    conn: &mut Conn,
    database: &str,
    table: &str,
) -> Result<Option<Vec<FilterColumn>>, mysql_async::Error> {
    let rows: Vec<(String, String, Option<String>)> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(name, data_type, collation)| {
                let kind = FilterColumn::kind_of_data_type(&data_type);
                FilterColumn {
                    name,
                    kind,
                    case_insensitive: kind != Kind::Binary
                        && collation.is_none_or(|c| collation_name_is_case_insensitive(&c)),
                }
            })
            .collect(),
    ))
}

/// Whether a collation compares case-insensitively, by MySQL's naming rule (`_ci` suffix, or
/// `_ai_ci`; `_bin`, `_cs` and `binary` are case-sensitive).
pub fn collation_name_is_case_insensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("_ci")
}

/// For each table of `databases` without a primary key, its first non-null unique key (by index
/// name), as column names in key order.
pub async fn unique_keys(
    conn: &mut Conn,
    databases: &[String],
) -> Result<HashMap<(String, String), Vec<String>>, mysql_async::Error> {
    let mut out: HashMap<(String, String), Vec<String>> = HashMap::new();
    for db in databases {
        let rows: Vec<(String, String, String, String)> = conn
            .exec(
                "SELECT s.TABLE_NAME, s.INDEX_NAME, s.COLUMN_NAME, c.IS_NULLABLE \
                 FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c \
                   ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME \
                  AND c.COLUMN_NAME = s.COLUMN_NAME \
                 WHERE s.TABLE_SCHEMA = ? AND s.NON_UNIQUE = 0 \
                 ORDER BY s.TABLE_NAME, s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX",
                (db.as_str(),),
            )
            .await?;
        // (table, index) → (columns, all not null)
        let mut indexes: Vec<((String, String), Vec<String>, bool)> = Vec::new();
        for (table, index, column, nullable) in rows {
            match indexes.last_mut() {
                Some((key, cols, ok)) if key.0 == table && key.1 == index => {
                    cols.push(column);
                    *ok &= nullable == "NO";
                }
                _ => indexes.push(((table, index), vec![column], nullable == "NO")),
            }
        }
        let mut has_primary = std::collections::HashSet::new();
        for ((table, index), cols, not_null) in indexes {
            if index == "PRIMARY" {
                has_primary.insert(table);
                continue;
            }
            if not_null && !has_primary.contains(&table) {
                out.entry((db.clone(), table)).or_insert(cols);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_collation_names() {
        assert!(collation_name_is_case_insensitive("utf8mb4_general_ci"));
        assert!(collation_name_is_case_insensitive("utf8mb4_0900_ai_ci"));
        assert!(!collation_name_is_case_insensitive("utf8mb4_bin"));
        assert!(!collation_name_is_case_insensitive("utf8mb4_0900_as_cs"));
        assert!(!collation_name_is_case_insensitive("binary"));
    }
}
