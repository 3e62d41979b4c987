//! Source table schemas: names, types, signedness, charsets and keys of the tables seen in the
//! binlog, and the decoding layout of each column.
//!
//! A table's schema comes from its TABLE_MAP event's optional metadata when the server sends
//! column names (`binlog_row_metadata=FULL` on MariaDB 10.5+ and MySQL 8), otherwise from the
//! event's types plus `information_schema` ([`catalog::table_schema`]): the OceanBase binlog
//! service, MySQL 5.7 and `binlog_row_metadata=MINIMAL`. Invariant: a [`SourceTable`] always has
//! one [`SourceColumn`] per column of the row images it decodes, with a real name, and the
//! catalog path refuses a catalog whose columns do not match the event's.

pub mod catalog;
pub mod charset;
mod charset_tables;
pub mod ddl;
pub mod history;
mod table_map;

pub use table_map::{from_table_map, from_table_map_and_catalog, from_table_map_unnamed};

use mysql_common::constants::ColumnType as MyType;
use obsync_sdk::{ColumnSchema, ColumnType, TableSchema};

/// Why a table's schema could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The server does not send column names (OceanBase binlog service, MySQL 5.7, or
    /// `binlog_row_metadata` other than FULL).
    #[error(
        "table `{database}`.`{table}`: the binlog carries no column names; set binlog_row_metadata=FULL on the source"
    )]
    NoColumnNames {
        /// Database.
        database: String,
        /// Table.
        table: String,
    },
    /// `information_schema` describes another version of the table than the binlog's rows.
    #[error(
        "table `{database}`.`{table}`: {message}; the table changed after these rows were written, and without column names in the binlog (binlog_row_metadata=FULL) they cannot be decoded safely"
    )]
    CatalogMismatch {
        /// Database.
        database: String,
        /// Table.
        table: String,
        /// What differs.
        message: String,
    },
    /// The TABLE_MAP event could not be understood.
    #[error("table `{database}`.`{table}`: bad table map: {message}")]
    BadTableMap {
        /// Database.
        database: String,
        /// Table.
        table: String,
        /// What was wrong.
        message: String,
    },
}

/// One column of a source table, with what is needed to decode and describe it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceColumn {
    /// The column name.
    pub name: String,
    /// The type family.
    pub column_type: ColumnType,
    /// The SQL type as far as the binlog tells, e.g. `decimal(20,6)` or `int unsigned`.
    pub sql_type: String,
    /// True for UNSIGNED numeric columns.
    pub unsigned: bool,
    /// True when the column accepts NULL.
    pub nullable: bool,
    /// Collation id (63 = binary, 0 = unknown).
    pub charset: u16,
    /// The binlog type used to decode values.
    #[serde(with = "binlog_type_code")]
    pub binlog_type: MyType,
    /// The binlog type metadata (0–3 bytes).
    pub meta: Vec<u8>,
    /// ENUM members, in order (index 1 is the first).
    pub enum_values: Vec<String>,
    /// SET members, bit 0 first.
    pub set_values: Vec<String>,
    /// A MariaDB `COMPRESSED` column: its stored values are inflated before decoding.
    pub compressed: bool,
}

/// A source table: database, name, columns in row-image order and primary-key columns.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceTable {
    /// Database name.
    pub database: String,
    /// Table name.
    pub table: String,
    /// Columns in row-image order.
    pub columns: Vec<SourceColumn>,
    /// Indexes of the primary-key columns, in key order.
    pub primary_key: Vec<usize>,
}

impl SourceTable {
    /// Returns the schema handed to modules (names as the consumer sees them).
    pub fn to_module_schema(&self) -> TableSchema {
        TableSchema {
            database: self.database.clone(),
            table: self.table.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| ColumnSchema {
                    name: c.name.clone(),
                    column_type: c.column_type,
                    sql_type: c.sql_type.clone(),
                    unsigned: c.unsigned,
                    nullable: c.nullable,
                })
                .collect(),
            primary_key: self.primary_key.iter().map(|&i| i as u32).collect(),
        }
    }
}

/// A binlog column type stored as its protocol code (prepared XA branches keep their tables).
mod binlog_type_code {
    use mysql_common::constants::ColumnType as MyType;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &MyType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MyType, D::Error> {
        let code = u8::deserialize(d)?;
        MyType::try_from(code).map_err(|_| D::Error::custom(format!("unknown column type {code}")))
    }
}
