//! Routing, the stage between the source and the modules: which source tables are carried, to
//! which topic, and which columns pick the queue (here); shaping, filtering and batching their
//! rows (`batch.rs`); numbering the messages that are left (`sequence.rs`).
//!
//! Invariant: a table is carried only if an object names it; every routed row gets a sharding
//! key string built from the same columns every time, so equal keys map to the same queue.
//! Sharding columns default to the primary key, else a non-null unique key (read from the
//! source's catalog at start), else all columns (documented fallback).

mod batch;
mod sequence;

pub use batch::{PendingBatch, RowRoute, TakenBatch};
pub use sequence::{PER_SECOND, Sequencer};

use std::collections::HashMap;
use std::sync::Arc;

use obsync_sdk::Value;
use obsync_sdk::render::push_text;

use crate::config::{KeyChange, ObjectConfig};
use crate::filter::{FilterError, RowFilter};
use crate::schema::SourceTable;

/// The table name that selects every table of a database.
pub const WHOLE_DATABASE: &str = "*";

/// Where one table's rows go, and how they look there.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    /// The topic.
    pub topic: Arc<str>,
    /// Configured sharding columns (empty: the primary key).
    pub sharding_columns: Vec<String>,
    /// Selected columns, in output order (empty: all).
    pub columns: Vec<String>,
    /// The database name consumers see, when renamed.
    pub rename_database: Option<String>,
    /// The table name consumers see, when renamed.
    pub rename_table: Option<String>,
    /// Column renames, source name to output name.
    pub column_renames: std::collections::BTreeMap<String, String>,
    /// The row filter, parsed (bound per table schema by the batch builder).
    pub filter: Option<Arc<RowFilter>>,
    /// How UPDATEs that change the sharding values are sent.
    pub key_change: KeyChange,
}

/// A table whose object cannot be applied to its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// An object names a column the table does not have.
    #[error(
        "table `{database}`.`{table}` has no column {column:?} (named in the object's `sharding_columns`, `columns` or `column_renames`)"
    )]
    MissingColumn {
        /// Database.
        database: String,
        /// Table.
        table: String,
        /// The missing column.
        column: String,
    },
    /// The object's row filter does not fit the table.
    #[error("table `{database}`.`{table}`: row filter {filter:?} {error}")]
    Filter {
        /// Database.
        database: String,
        /// Table.
        table: String,
        /// The filter text.
        filter: String,
        /// What is wrong.
        error: FilterError,
    },
}

/// Maps `(database, table)` to a route.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: HashMap<(String, String), RouteTarget>,
    /// Non-null unique keys of tables without a primary key, from the source catalog.
    unique_keys: HashMap<(String, String), Vec<String>>,
}

impl Router {
    /// Builds a router from a project's objects and their parsed row filters (by object index,
    /// as `config::Project::row_filters` holds them).
    pub fn new(
        objects: &[ObjectConfig],
        row_filters: &[Option<Arc<RowFilter>>],
        key_change: KeyChange,
    ) -> Self {
        let mut routes = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            let filter = row_filters.get(i).cloned().flatten();
            routes.insert(
                (o.database.clone(), o.table.clone()),
                RouteTarget {
                    topic: Arc::from(o.topic.as_str()),
                    sharding_columns: o.sharding_columns.clone(),
                    columns: o.columns.clone(),
                    rename_database: o.rename_database.clone(),
                    rename_table: o.rename_table.clone(),
                    column_renames: o.column_renames.clone(),
                    filter,
                    key_change,
                },
            );
        }
        Router {
            routes,
            unique_keys: HashMap::new(),
        }
    }

    /// Sets the non-null unique keys used as sharding columns of tables without a primary key.
    pub fn set_unique_keys(&mut self, keys: HashMap<(String, String), Vec<String>>) {
        self.unique_keys = keys;
    }

    /// Returns the non-null unique key of a table, when the catalog showed one.
    pub fn unique_key(&self, database: &str, table: &str) -> Option<&[String]> {
        self.unique_keys
            .get(&(database.to_string(), table.to_string()))
            .map(Vec::as_slice)
    }

    /// Returns the route of a table, if it is carried.
    ///
    /// An object whose table is `*` selects the whole database, tables created later included;
    /// an object naming the table exactly wins over it.
    pub fn route(&self, database: &str, table: &str) -> Option<&RouteTarget> {
        self.routes
            .get(&(database.to_string(), table.to_string()))
            .or_else(|| {
                self.routes
                    .get(&(database.to_string(), WHOLE_DATABASE.to_string()))
            })
    }

    /// Returns every database with a carried table, sorted.
    pub fn databases(&self) -> Vec<String> {
        let mut d: Vec<String> = self.routes.keys().map(|(db, _)| db.clone()).collect();
        d.sort();
        d.dedup();
        d
    }

    /// Returns every distinct topic.
    pub fn topics(&self) -> Vec<Arc<str>> {
        let mut t: Vec<Arc<str>> = self.routes.values().map(|r| r.topic.clone()).collect();
        t.sort();
        t.dedup();
        t
    }
}

/// Returns the column indexes whose values form the sharding key of `table` under `target`:
/// the configured columns, else the primary key, else `unique_key` (a non-null unique key from
/// the catalog), else every column.
pub fn sharding_indexes(
    table: &SourceTable,
    target: &RouteTarget,
    unique_key: Option<&[String]>,
) -> Result<Vec<usize>, RouteError> {
    if !target.sharding_columns.is_empty() {
        return column_indexes(table, &target.sharding_columns);
    }
    let key = key_indexes(table, unique_key);
    if !key.is_empty() {
        return Ok(key);
    }
    Ok((0..table.columns.len()).collect())
}

/// Returns the indexes of the named columns of `table`, in the order named; a name the table
/// does not have is an error naming it.
pub fn column_indexes(table: &SourceTable, names: &[String]) -> Result<Vec<usize>, RouteError> {
    names
        .iter()
        .map(|name| {
            table
                .columns
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| RouteError::MissingColumn {
                    database: table.database.clone(),
                    table: table.table.clone(),
                    column: name.clone(),
                })
        })
        .collect()
}

/// Returns the column indexes of the key that identifies a row of `table`: the primary key,
/// else `unique_key` (its first non-null unique key, from the catalog), else none. The formats'
/// key fields (`record_primary_key`, Canal `pkNames`, DataWorks `pk`, SharePlex `rowid`) carry it.
pub fn key_indexes(table: &SourceTable, unique_key: Option<&[String]>) -> Vec<usize> {
    if !table.primary_key.is_empty() {
        return table.primary_key.clone();
    }
    let Some(names) = unique_key.filter(|k| !k.is_empty()) else {
        return Vec::new();
    };
    names
        .iter()
        .map(|name| table.columns.iter().position(|c| &c.name == name))
        .collect::<Option<Vec<usize>>>()
        .unwrap_or_default()
}

/// Builds the sharding key string: the values' text joined by U+0001.
pub fn sharding_key(image: &[Value], indexes: &[usize]) -> String {
    let mut key = String::new();
    for (n, &i) in indexes.iter().enumerate() {
        if n > 0 {
            key.push('\u{1}');
        }
        if let Some(v) = image.get(i) {
            push_text(&mut key, v);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_database_objects_match_every_table_but_exact_ones_win() {
        let object = |table: &str, topic: &str| ObjectConfig::new("shop", table, topic);
        let r = Router::new(
            &[object("*", "all"), object("orders", "orders")],
            &[],
            KeyChange::Split,
        );
        assert_eq!(r.route("shop", "orders").map(|t| &*t.topic), Some("orders"));
        assert_eq!(
            r.route("shop", "created_later").map(|t| &*t.topic),
            Some("all")
        );
        assert!(r.route("other", "orders").is_none());
    }

    #[test]
    fn builds_keys_from_values() {
        let image = vec![Value::Int(3), Value::Text("中".into()), Value::UInt(129)];
        assert_eq!(sharding_key(&image, &[0, 2]), "3\u{1}129");
        assert_eq!(sharding_key(&image, &[1]), "中");
    }
}
