//! Table facts read from the source's `information_schema` over SQL: the columns a row filter is
//! checked against at start, the non-null unique keys that shard tables without a primary key,
//! and the column names, signedness, charsets and ENUM/SET members that the binlog leaves out when
//! its table maps carry no metadata (the OceanBase binlog service, MySQL 5.7,
//! `binlog_row_metadata=MINIMAL`).
//!
//! Invariant: read-only queries on the catalog only; a table that does not exist yet gives `None`
//! (it may be created later), never an error.

use std::collections::HashMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

/// A column's name, `DATA_TYPE` and collation rule, as a row filter is bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnFacts {
    /// The column name.
    pub name: String,
    /// `DATA_TYPE` as the server spells it (`varchar`, `datetime`, ...).
    pub data_type: String,
    /// Whether its collation (none for non-text columns) compares case-insensitively.
    pub case_insensitive: bool,
}

/// The columns of a table, in ordinal order, with their types and collations; `None` when the
/// table does not exist.
pub async fn column_facts(
    conn: &mut Conn,
    database: &str,
    table: &str,
) -> Result<Option<Vec<ColumnFacts>>, mysql_async::Error> {
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
            .map(|(name, data_type, collation)| ColumnFacts {
                name,
                data_type,
                case_insensitive: collation.is_none_or(|c| collation_name_is_case_insensitive(&c)),
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

/// A column as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogColumn {
    /// The column name.
    pub name: String,
    /// `DATA_TYPE`, lower case: `int`, `varchar`, `enum`, ...
    pub data_type: String,
    /// `COLUMN_TYPE`, lower case: `int(10) unsigned`, `enum('a','b')`, ...
    pub column_type: String,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// The collation id (63 for binary strings, 0 for non-strings).
    pub collation_id: u16,
}

impl CatalogColumn {
    /// True for UNSIGNED numeric columns.
    pub fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }

    /// The members of an ENUM or SET column, in declaration order (empty for other types).
    pub fn members(&self) -> Vec<String> {
        let t = self.column_type.trim();
        let Some(open) = t.find('(') else {
            return Vec::new();
        };
        if !(t.starts_with("enum") || t.starts_with("set")) {
            return Vec::new();
        }
        parse_members(t[open + 1..].trim_end_matches(')'))
    }
}

/// A `COLUMN_TYPE` without comments: MariaDB writes attributes such as `COMPRESSED` as versioned
/// comments (`varchar(200) /*m!100301 compressed*/`), which are not part of the SQL type. Quoted
/// ENUM/SET members are kept as they are.
fn without_comments(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut quoted = false;
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        if !quoted && rest.starts_with("/*") {
            rest = rest.find("*/").map_or("", |close| &rest[close + 2..]);
            continue;
        }
        if c == '\'' {
            quoted = !quoted;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if out.len() == t.len() {
        return out;
    }
    out.trim().to_string()
}

/// Parses `'a','b''c','d'` (SQL single-quoted strings, `''` for a quote) into its members.
///
/// OceanBase prints members unescaped (`'b'q'` for `b'q`, `'c\d'` for `c\d`), so a lone quote
/// ends a member only where the list goes on (`,'`) or ends, and a backslash escapes only a
/// backslash or a quote; anywhere else both are part of the member.
fn parse_members(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut member = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    member.push('\'');
                }
                '\'' => {
                    let mut rest = chars.clone();
                    let ends = match rest.next() {
                        None => true,
                        Some(',') => rest.find(|c| !c.is_whitespace()) == Some('\''),
                        Some(_) => false,
                    };
                    if ends {
                        break;
                    }
                    member.push('\'');
                }
                // `\\` and `\'` are escapes (MySQL); OceanBase prints a lone backslash as is.
                '\\' if matches!(chars.peek(), Some('\\' | '\'')) => {
                    if let Some(n) = chars.next() {
                        member.push(n);
                    }
                }
                c => member.push(c),
            }
        }
        out.push(member);
    }
    out
}

/// A table as `information_schema` (or a CREATE TABLE statement) describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogTable {
    /// Columns in ordinal order.
    pub columns: Vec<CatalogColumn>,
    /// Indexes of the primary-key columns, in key order.
    pub primary_key: Vec<usize>,
    /// The table's default collation id, which a character column added without its own
    /// takes; 0 when unknown (such a change is then read from the catalog again).
    #[serde(default)]
    pub default_collation: u16,
}

/// Reads a table's columns and primary key; `None` when the table does not exist.
pub async fn table_schema(
    conn: &mut Conn,
    database: &str,
    table: &str,
) -> Result<Option<CatalogTable>, mysql_async::Error> {
    type Row = (String, String, String, String, Option<u64>);
    let rows: Vec<Row> = conn
        .exec(
            "SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), LOWER(c.COLUMN_TYPE), c.IS_NULLABLE, co.ID \
             FROM information_schema.COLUMNS c \
             LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME \
             WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION",
            (database, table),
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns: Vec<CatalogColumn> = rows
        .into_iter()
        .map(|(name, data_type, column_type, nullable, collation)| {
            let binary_string = matches!(
                data_type.as_str(),
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
            );
            let collation_id = match collation {
                Some(id) => u16::try_from(id).unwrap_or(0),
                None if binary_string => super::charset::BINARY_COLLATION,
                None => 0,
            };
            CatalogColumn {
                name,
                data_type,
                column_type: without_comments(&column_type),
                nullable: nullable.eq_ignore_ascii_case("YES"),
                collation_id,
            }
        })
        .collect();
    let key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
             ORDER BY SEQ_IN_INDEX",
            (database, table),
        )
        .await?;
    let primary_key = key
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    let default_collation: Option<u64> = conn
        .exec_first(
            "SELECT co.ID FROM information_schema.TABLES t \
             JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = t.TABLE_COLLATION \
             WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?",
            (database, table),
        )
        .await?;
    Ok(Some(CatalogTable {
        columns,
        primary_key,
        default_collation: default_collation
            .and_then(|id| u16::try_from(id).ok())
            .unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_lose_mariadb_versioned_comments_only() {
        assert_eq!(
            without_comments("varchar(200) /*m!100301 compressed*/"),
            "varchar(200)"
        );
        assert_eq!(without_comments("text /*m!100301 compressed*/ "), "text");
        assert_eq!(
            without_comments("enum('/*a*/','b  c')"),
            "enum('/*a*/','b  c')"
        );
        assert_eq!(without_comments("int(11) unsigned"), "int(11) unsigned");
    }

    #[test]
    fn parses_enum_and_set_members() {
        let c = |t: &str| CatalogColumn {
            name: "c".into(),
            data_type: t.split('(').next().unwrap_or_default().into(),
            column_type: t.into(),
            nullable: true,
            collation_id: 45,
        };
        assert_eq!(c("enum('a','b''c','d,e')").members(), ["a", "b'c", "d,e"]);
        assert_eq!(c("set('红','绿')").members(), ["红", "绿"]);
        assert_eq!(c("enum('')").members(), [""]);
        // OceanBase leaves quotes inside members unescaped.
        assert_eq!(
            c(r"enum('a','b'q','c\d','e,f')").members(),
            ["a", "b'q", r"c\d", "e,f"]
        );
        assert_eq!(c(r"enum('c\\d','\'')").members(), [r"c\d", "'"]);
        assert_eq!(c("set('x'y')").members(), ["x'y"]);
        assert!(c("varchar(10)").members().is_empty());
        assert!(c("int(10) unsigned").unsigned());
    }

    #[test]
    fn reads_collation_names() {
        assert!(collation_name_is_case_insensitive("utf8mb4_general_ci"));
        assert!(collation_name_is_case_insensitive("utf8mb4_0900_ai_ci"));
        assert!(!collation_name_is_case_insensitive("utf8mb4_bin"));
        assert!(!collation_name_is_case_insensitive("utf8mb4_0900_as_cs"));
        assert!(!collation_name_is_case_insensitive("binary"));
    }
}
