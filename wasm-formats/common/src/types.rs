//! Type names as the OMS formats print them: the MySQL base type keyword without length,
//! precision, `UNSIGNED` or charset; upper case for `__light_type` and DataWorks, lower case for
//! Canal `mysqlType`; `java.sql.Types` codes for Canal `sqlType`. A signed BIGINT is `INT64`
//! (`int64`) and a BIGINT UNSIGNED `BIGINT` (`bigint`), as every typed OMS example writes them
//! (Default `__light_type`, Canal `mysqlType`, DataWorks `type`): OMS names a 64-bit signed value
//! by its width and keeps `BIGINT` for the one that needs more than a Java `long`.

use obsync_sdk::{ColumnSchema, ColumnType};

/// Returns the lower-case base type name, e.g. `varchar`, `mediumtext`, `int64`.
pub fn lower(col: &ColumnSchema) -> String {
    let name = base_name(col);
    let unsigned = col.unsigned || col.sql_type.to_ascii_lowercase().contains("unsigned");
    if name == "bigint" && !unsigned {
        return "int64".to_string();
    }
    name
}

fn base_name(col: &ColumnSchema) -> String {
    let base: String = col
        .sql_type
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if base.is_empty() {
        fallback(col.column_type).to_string()
    } else {
        base
    }
}

/// Returns the upper-case base type name, e.g. `VARCHAR`.
pub fn upper(col: &ColumnSchema) -> String {
    lower(col).to_ascii_uppercase()
}

fn fallback(t: ColumnType) -> &'static str {
    match t {
        ColumnType::TinyInt => "tinyint",
        ColumnType::SmallInt => "smallint",
        ColumnType::MediumInt => "mediumint",
        ColumnType::Int => "int",
        ColumnType::BigInt => "bigint",
        ColumnType::Decimal => "decimal",
        ColumnType::Float => "float",
        ColumnType::Double => "double",
        ColumnType::Bit => "bit",
        ColumnType::Char => "char",
        ColumnType::VarChar => "varchar",
        ColumnType::Text => "text",
        ColumnType::Binary => "binary",
        ColumnType::VarBinary => "varbinary",
        ColumnType::Blob => "blob",
        ColumnType::Date => "date",
        ColumnType::Time => "time",
        ColumnType::DateTime => "datetime",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Year => "year",
        ColumnType::Enum => "enum",
        ColumnType::Set => "set",
        ColumnType::Json => "json",
        ColumnType::Geometry => "geometry",
    }
}

/// Returns the `java.sql.Types` code of a column, as the OMS Canal examples use them.
pub fn java_sql_type(col: &ColumnSchema) -> i32 {
    match col.column_type {
        ColumnType::TinyInt => -6,
        ColumnType::SmallInt => 5,
        ColumnType::MediumInt | ColumnType::Int => 4,
        ColumnType::BigInt => -5,
        ColumnType::Decimal => 3,
        ColumnType::Float => 6,
        ColumnType::Double => 8,
        ColumnType::Year | ColumnType::Date => 91,
        ColumnType::Bit => -7,
        ColumnType::Char | ColumnType::Enum | ColumnType::Set => 1,
        ColumnType::VarChar => 12,
        ColumnType::Text => 2005,
        ColumnType::Binary | ColumnType::Geometry => -2,
        ColumnType::VarBinary => -3,
        ColumnType::Blob => 2004,
        ColumnType::Time => 92,
        ColumnType::DateTime | ColumnType::Timestamp => 93,
        ColumnType::Json => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(sql_type: &str, t: ColumnType) -> ColumnSchema {
        ColumnSchema {
            name: "c".into(),
            column_type: t,
            sql_type: sql_type.into(),
            unsigned: false,
            nullable: true,
        }
    }

    #[test]
    fn strips_length_and_flags() {
        assert_eq!(upper(&col("varchar(255)", ColumnType::VarChar)), "VARCHAR");
        assert_eq!(lower(&col("bigint unsigned", ColumnType::BigInt)), "bigint");
        assert_eq!(lower(&col("bigint(20)", ColumnType::BigInt)), "int64");
        assert_eq!(upper(&col("bigint", ColumnType::BigInt)), "INT64");
        assert_eq!(lower(&col("decimal(20,6)", ColumnType::Decimal)), "decimal");
        assert_eq!(upper(&col("mediumtext", ColumnType::Text)), "MEDIUMTEXT");
        assert_eq!(lower(&col("", ColumnType::Json)), "json");
        assert_eq!(java_sql_type(&col("float", ColumnType::Float)), 6);
        assert_eq!(java_sql_type(&col("blob", ColumnType::Blob)), 2004);
    }
}
