//! Table schemas as a module sees them: the output names (after renames and column selection),
//! each column's SQL type, and the key columns.
//!
//! Invariant: a row image in a [`crate::RowChange`] has exactly one value per column of its
//! table's schema, in schema order.

use serde::{Deserialize, Serialize};

/// The SQL type family of a column, independent of length and charset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// TINYINT (and BOOL).
    TinyInt,
    /// SMALLINT.
    SmallInt,
    /// MEDIUMINT.
    MediumInt,
    /// INT.
    Int,
    /// BIGINT.
    BigInt,
    /// DECIMAL / NUMERIC.
    Decimal,
    /// FLOAT.
    Float,
    /// DOUBLE.
    Double,
    /// BIT(n).
    Bit,
    /// CHAR(n).
    Char,
    /// VARCHAR(n).
    VarChar,
    /// TINYTEXT … LONGTEXT.
    Text,
    /// BINARY(n).
    Binary,
    /// VARBINARY(n).
    VarBinary,
    /// TINYBLOB … LONGBLOB.
    Blob,
    /// DATE.
    Date,
    /// TIME.
    Time,
    /// DATETIME.
    DateTime,
    /// TIMESTAMP.
    Timestamp,
    /// YEAR.
    Year,
    /// ENUM.
    Enum,
    /// SET.
    Set,
    /// JSON.
    Json,
    /// GEOMETRY and its subtypes (WKB bytes).
    Geometry,
}

impl ColumnType {
    /// Returns true for the integer families (which OMS renders as `Long`).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ColumnType::TinyInt
                | ColumnType::SmallInt
                | ColumnType::MediumInt
                | ColumnType::Int
                | ColumnType::BigInt
                | ColumnType::Year
        )
    }
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// The column name as the consumer sees it (after renames).
    pub name: String,
    /// The type family.
    pub column_type: ColumnType,
    /// The full SQL type as MySQL prints it, e.g. `varchar(255)` or `bigint(20) unsigned`.
    pub sql_type: String,
    /// True for UNSIGNED numeric columns.
    pub unsigned: bool,
    /// True when the column accepts NULL.
    pub nullable: bool,
}

/// One table, as carried in a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The database name as the consumer sees it.
    pub database: String,
    /// The table name as the consumer sees it.
    pub table: String,
    /// The columns in row-image order.
    pub columns: Vec<ColumnSchema>,
    /// Indexes into `columns` of the primary key (or the chosen unique key), in key order.
    pub primary_key: Vec<u32>,
}

impl TableSchema {
    /// Returns the primary-key column names in key order.
    pub fn primary_key_names(&self) -> impl Iterator<Item = &str> {
        self.primary_key
            .iter()
            .filter_map(|&i| self.columns.get(i as usize).map(|c| c.name.as_str()))
    }
}
