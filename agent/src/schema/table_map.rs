//! Building a [`SourceTable`] from a TABLE_MAP event and its optional metadata.
//!
//! The optional metadata iterators are consumed exactly as MySQL writes them: one signedness bit
//! per numeric column (YEAR and DECIMAL included), one charset per character column, ENUM/SET
//! charsets separately, names for every column.

use mysql_common::binlog::events::{OptionalMetaExtractor, OptionalMetadataField, TableMapEvent};
use mysql_common::constants::ColumnType as MyType;
use obsync_sdk::ColumnType;

use super::catalog::CatalogTable;
use super::charset::{self, BINARY_COLLATION};
use super::{SchemaError, SourceColumn, SourceTable};

/// Builds a table from a TABLE_MAP event; fails when the event has no column names.
pub fn from_table_map(tme: &TableMapEvent<'_>) -> Result<SourceTable, SchemaError> {
    build(tme, false)
}

/// Builds a table from a TABLE_MAP event, naming columns without a name in the event `@1`,
/// `@2`, … as `mariadb-binlog --verbose` does (decoder tests and tools; never for delivery).
pub fn from_table_map_unnamed(tme: &TableMapEvent<'_>) -> Result<SourceTable, SchemaError> {
    build(tme, true)
}

fn build(tme: &TableMapEvent<'_>, unnamed: bool) -> Result<SourceTable, SchemaError> {
    let database = tme.database_name().into_owned();
    let table = tme.table_name().into_owned();
    let bad = |message: String| SchemaError::BadTableMap {
        database: database.clone(),
        table: table.clone(),
        message,
    };
    let ex =
        OptionalMetaExtractor::new(tme.iter_optional_meta()).map_err(|e| bad(e.to_string()))?;
    let mut signedness = ex.iter_signedness();
    let mut charsets = ex.iter_charset();
    let mut enum_set_charsets = ex.iter_enum_and_set_charset();
    let mut names = ex.iter_column_name();
    let primary_key: Vec<usize> = ex
        .iter_primary_key()
        .map(|r| r.map(|i| i as usize))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    // Members as the server stored them: bytes in the column's charset, decoded per column.
    let mut enums: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    for field in tme.iter_optional_meta() {
        match field.map_err(|e| bad(e.to_string()))? {
            OptionalMetadataField::EnumStrValue(v) => {
                for e in v.iter_values() {
                    let e = e.map_err(|e| bad(e.to_string()))?;
                    enums.push(e.values().iter().map(|s| s.value_raw().to_vec()).collect());
                }
            }
            OptionalMetadataField::SetStrValue(v) => {
                for s in v.iter_values() {
                    let s = s.map_err(|e| bad(e.to_string()))?;
                    sets.push(s.values().iter().map(|x| x.value_raw().to_vec()).collect());
                }
            }
            _ => {}
        }
    }
    let nullable = tme.null_bitmask();
    let (mut enum_i, mut set_i) = (0usize, 0usize);
    let count = column_count(tme).map_err(&bad)?;
    let mut columns = Vec::with_capacity(count);
    for i in 0..count {
        let (binlog_type, meta) = column_layout(tme, i).map_err(&bad)?;
        let unsigned = binlog_type.is_numeric_type() && signedness.next().unwrap_or(false);
        let charset = if binlog_type.is_character_type() {
            charsets
                .next()
                .transpose()
                .map_err(|e| bad(e.to_string()))?
                .unwrap_or(0)
        } else if binlog_type.is_enum_or_set_type() {
            enum_set_charsets
                .next()
                .transpose()
                .map_err(|e| bad(e.to_string()))?
                .unwrap_or(0)
        } else {
            0
        };
        let name = match names.next().transpose().map_err(|e| bad(e.to_string()))? {
            Some(n) => n.name().into_owned(),
            None if unnamed => format!("@{}", i + 1),
            None => {
                return Err(SchemaError::NoColumnNames {
                    database: database.clone(),
                    table: table.clone(),
                });
            }
        };
        let members = |all: &[Vec<Vec<u8>>], k: usize| -> Result<Vec<String>, SchemaError> {
            all.get(k)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|m| {
                    charset::decode_text(m.clone(), charset)
                        .map_err(|e| bad(format!("column `{name}`: member: {e}")))
                })
                .collect()
        };
        let enum_values = if binlog_type == MyType::MYSQL_TYPE_ENUM {
            enum_i += 1;
            members(&enums, enum_i - 1)?
        } else {
            Vec::new()
        };
        let set_values = if binlog_type == MyType::MYSQL_TYPE_SET {
            set_i += 1;
            members(&sets, set_i - 1)?
        } else {
            Vec::new()
        };
        let column_type = family(binlog_type, charset);
        columns.push(SourceColumn {
            name,
            column_type,
            sql_type: if binlog_type == MyType::MYSQL_TYPE_VECTOR {
                "vector".to_string()
            } else {
                sql_type(column_type, &meta, unsigned)
            },
            unsigned,
            nullable: nullable.get(i).is_some_and(|b| *b),
            charset,
            binlog_type,
            meta,
            enum_values,
            set_values,
            compressed: false,
        });
    }
    if let Some(&bad_pk) = primary_key.iter().find(|&&i| i >= count) {
        return Err(bad(format!("primary key column {bad_pk} out of range")));
    }
    Ok(SourceTable {
        database,
        table,
        columns,
        primary_key,
    })
}

/// Builds a table from a TABLE_MAP event without column names and the table's description in
/// `information_schema`: types and decoding metadata from the event, and its charsets when it
/// carries them (MINIMAL metadata); names, signedness, ENUM/SET members, the primary key and
/// otherwise the charsets from the catalog. Fails when the two disagree
/// (column count or a column's type), so rows are never decoded with another version's names.
pub fn from_table_map_and_catalog(
    tme: &TableMapEvent<'_>,
    catalog: &CatalogTable,
) -> Result<SourceTable, SchemaError> {
    let database = tme.database_name().into_owned();
    let table = tme.table_name().into_owned();
    let bad = |message: String| SchemaError::BadTableMap {
        database: database.clone(),
        table: table.clone(),
        message,
    };
    let mismatch = |message: String| SchemaError::CatalogMismatch {
        database: database.clone(),
        table: table.clone(),
        message,
    };
    let count = column_count(tme).map_err(&bad)?;
    if count != catalog.columns.len() {
        return Err(mismatch(format!(
            "the binlog has {count} columns, information_schema has {}",
            catalog.columns.len()
        )));
    }
    // MINIMAL metadata still carries each character column's charset: the binlog's own word
    // for the row being decoded wins over the catalog (or a DDL followed without one).
    let ex =
        OptionalMetaExtractor::new(tme.iter_optional_meta()).map_err(|e| bad(e.to_string()))?;
    let mut charsets = ex.iter_charset();
    let mut enum_set_charsets = ex.iter_enum_and_set_charset();
    let nullable = tme.null_bitmask();
    let mut columns = Vec::with_capacity(count);
    for (i, c) in catalog.columns.iter().enumerate() {
        let (binlog_type, meta) = column_layout(tme, i).map_err(&bad)?;
        if !compatible(binlog_type, &c.data_type) {
            return Err(mismatch(format!(
                "column {} `{}` is {} in information_schema but {binlog_type:?} in the binlog",
                i + 1,
                c.name,
                c.column_type
            )));
        }
        let unsigned = binlog_type.is_numeric_type() && c.unsigned();
        let logged = if binlog_type.is_character_type() {
            charsets.next()
        } else if binlog_type.is_enum_or_set_type() {
            enum_set_charsets.next()
        } else {
            None
        };
        let logged = logged
            .transpose()
            .map_err(|e| bad(e.to_string()))?
            .filter(|&id| id != 0);
        let charset = if binlog_type.is_character_type() || binlog_type.is_enum_or_set_type() {
            logged.unwrap_or(c.collation_id)
        } else {
            0
        };
        let members = c.members();
        let (enum_values, set_values) = match c.data_type.as_str() {
            "enum" => (members, Vec::new()),
            "set" => (Vec::new(), members),
            _ => (Vec::new(), Vec::new()),
        };
        let column_type = match c.data_type.as_str() {
            "enum" => ColumnType::Enum,
            "set" => ColumnType::Set,
            _ => family(binlog_type, charset),
        };
        columns.push(SourceColumn {
            name: c.name.clone(),
            column_type,
            sql_type: c.column_type.clone(),
            unsigned,
            nullable: nullable.get(i).is_some_and(|b| *b),
            charset,
            binlog_type,
            meta,
            enum_values,
            set_values,
            compressed: false,
        });
    }
    Ok(SourceTable {
        database,
        table,
        columns,
        primary_key: catalog.primary_key.clone(),
    })
}

/// Whether a binlog column type can hold a column of the catalog's `DATA_TYPE`.
fn compatible(t: MyType, data_type: &str) -> bool {
    use MyType::*;
    let d = data_type;
    match t {
        MYSQL_TYPE_TINY => matches!(d, "tinyint" | "bool" | "boolean"),
        MYSQL_TYPE_SHORT => d == "smallint",
        MYSQL_TYPE_INT24 => d == "mediumint",
        MYSQL_TYPE_LONG => matches!(d, "int" | "integer"),
        MYSQL_TYPE_LONGLONG => d == "bigint",
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => matches!(d, "decimal" | "numeric"),
        // OceanBase sends FLOAT columns of precision > 24 as DOUBLE.
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => matches!(d, "float" | "double" | "real"),
        MYSQL_TYPE_BIT => d == "bit",
        MYSQL_TYPE_YEAR => d == "year",
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => d == "date",
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => d == "time",
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => d == "datetime",
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => d == "timestamp",
        MYSQL_TYPE_ENUM => d == "enum",
        MYSQL_TYPE_SET => d == "set",
        MYSQL_TYPE_STRING => matches!(d, "char" | "binary" | "enum" | "set"),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
            matches!(d, "varchar" | "varbinary" | "char" | "binary")
        }
        MYSQL_TYPE_JSON => d == "json",
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            d.ends_with("text") || d.ends_with("blob") || d == "json"
        }
        MYSQL_TYPE_GEOMETRY => !matches!(
            d,
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "varchar" | "char"
        ),
        _ => true,
    }
}

/// The table map's column count, at most 4096 (the MySQL and MariaDB limit per table).
fn column_count(tme: &TableMapEvent<'_>) -> Result<usize, String> {
    match usize::try_from(tme.columns_count()) {
        Ok(n) if n <= 4096 => Ok(n),
        _ => Err(format!(
            "{} columns (a table has at most 4096)",
            tme.columns_count()
        )),
    }
}

/// A column's binlog type and type metadata, checked so the value parser stays in bounds.
fn column_layout(tme: &TableMapEvent<'_>, i: usize) -> Result<(MyType, Vec<u8>), String> {
    let binlog_type = tme
        .get_column_type(i)
        .map_err(|e| format!("column {i}: {e}"))?
        .ok_or_else(|| format!("column {i}: no type"))?;
    let meta = tme
        .get_column_metadata(i)
        .ok_or_else(|| format!("column {i}: no metadata"))?
        .to_vec();
    check_meta(binlog_type, &meta).map_err(|m| format!("column {i}: {m}"))?;
    Ok((binlog_type, meta))
}

/// Rejects metadata that would make the value parser index out of bounds.
fn check_meta(t: MyType, meta: &[u8]) -> Result<(), String> {
    use MyType::*;
    let need = match t {
        MYSQL_TYPE_BIT
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING => 2,
        MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_JSON
        | MYSQL_TYPE_FLOAT
        | MYSQL_TYPE_DOUBLE
        | MYSQL_TYPE_TIME2
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => 1,
        _ => 0,
    };
    if meta.len() < need {
        return Err(format!(
            "type {t:?} needs {need} metadata bytes, got {}",
            meta.len()
        ));
    }
    // Fractional seconds precision: 0–6 digits, so the fraction takes 0–3 bytes.
    if matches!(
        t,
        MYSQL_TYPE_TIME2 | MYSQL_TYPE_DATETIME2 | MYSQL_TYPE_TIMESTAMP2
    ) && meta[0] > 6
    {
        return Err(format!("type {t:?} with fractional precision {}", meta[0]));
    }
    Ok(())
}

/// Maps a binlog type and charset to a type family.
fn family(t: MyType, charset: u16) -> ColumnType {
    use MyType::*;
    let binary = charset == BINARY_COLLATION;
    match t {
        MYSQL_TYPE_TINY => ColumnType::TinyInt,
        MYSQL_TYPE_SHORT => ColumnType::SmallInt,
        MYSQL_TYPE_INT24 => ColumnType::MediumInt,
        MYSQL_TYPE_LONG => ColumnType::Int,
        MYSQL_TYPE_LONGLONG => ColumnType::BigInt,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => ColumnType::Decimal,
        MYSQL_TYPE_FLOAT => ColumnType::Float,
        MYSQL_TYPE_DOUBLE => ColumnType::Double,
        MYSQL_TYPE_BIT => ColumnType::Bit,
        MYSQL_TYPE_YEAR => ColumnType::Year,
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ColumnType::Date,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => ColumnType::Time,
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => ColumnType::DateTime,
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => ColumnType::Timestamp,
        MYSQL_TYPE_JSON => ColumnType::Json,
        MYSQL_TYPE_ENUM => ColumnType::Enum,
        MYSQL_TYPE_SET => ColumnType::Set,
        MYSQL_TYPE_GEOMETRY => ColumnType::Geometry,
        // MySQL 9 VECTOR: packed float32 values, bytes whatever the (absent) charset says.
        MYSQL_TYPE_VECTOR => ColumnType::Blob,
        MYSQL_TYPE_STRING if binary => ColumnType::Binary,
        MYSQL_TYPE_STRING => ColumnType::Char,
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING if binary => ColumnType::VarBinary,
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => ColumnType::VarChar,
        _ if binary => ColumnType::Blob,
        _ => ColumnType::Text,
    }
}

/// Describes the SQL type as far as the binlog metadata tells.
fn sql_type(t: ColumnType, meta: &[u8], unsigned: bool) -> String {
    let base = match t {
        ColumnType::TinyInt => "tinyint".to_string(),
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::MediumInt => "mediumint".into(),
        ColumnType::Int => "int".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Decimal => match meta {
            [p, s, ..] => format!("decimal({p},{s})"),
            _ => "decimal".into(),
        },
        ColumnType::Float => "float".into(),
        ColumnType::Double => "double".into(),
        ColumnType::Bit => match meta {
            [bits, bytes, ..] => format!("bit({})", *bytes as u32 * 8 + *bits as u32),
            _ => "bit".into(),
        },
        ColumnType::Char => "char".into(),
        ColumnType::VarChar => "varchar".into(),
        ColumnType::Text => format!("{}text", blob_size(meta)),
        ColumnType::Binary => "binary".into(),
        ColumnType::VarBinary => "varbinary".into(),
        ColumnType::Blob => format!("{}blob", blob_size(meta)),
        ColumnType::Date => "date".into(),
        ColumnType::Time => fsp("time", meta),
        ColumnType::DateTime => fsp("datetime", meta),
        ColumnType::Timestamp => fsp("timestamp", meta),
        ColumnType::Year => "year".into(),
        ColumnType::Enum => "enum".into(),
        ColumnType::Set => "set".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Geometry => "geometry".into(),
    };
    if unsigned && t != ColumnType::Year {
        format!("{base} unsigned")
    } else {
        base
    }
}

/// The TINY/MEDIUM/LONG prefix of a BLOB or TEXT column from its length-prefix size.
fn blob_size(meta: &[u8]) -> &'static str {
    match meta.first() {
        Some(1) => "tiny",
        Some(3) => "medium",
        Some(4) => "long",
        _ => "",
    }
}

fn fsp(name: &str, meta: &[u8]) -> String {
    match meta.first() {
        Some(&n) if n > 0 => format!("{name}({n})"),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_the_value_parser_cannot_follow_is_refused() {
        use MyType::*;
        assert!(check_meta(MYSQL_TYPE_DATETIME2, &[6]).is_ok());
        assert!(check_meta(MYSQL_TYPE_TIMESTAMP2, &[0]).is_ok());
        for t in [
            MYSQL_TYPE_TIME2,
            MYSQL_TYPE_DATETIME2,
            MYSQL_TYPE_TIMESTAMP2,
        ] {
            assert!(check_meta(t, &[7]).unwrap_err().contains("precision 7"));
            assert!(check_meta(t, &[]).is_err());
        }
        assert!(check_meta(MYSQL_TYPE_VARCHAR, &[255]).is_err());
        assert!(check_meta(MYSQL_TYPE_LONG, &[]).is_ok());
    }
}
