//! Routing: which source tables are carried, to which topic, and which columns pick the queue.
//!
//! Invariant: a table is carried only if an object names it; every routed row gets a sharding
//! key string built from the same columns every time, so equal keys map to the same queue.
//! Sharding columns default to the primary key; a table without a primary key and without
//! configured sharding columns is sharded by all of its columns (documented fallback).

use std::collections::HashMap;
use std::sync::Arc;

use obsync_sdk::Value;
use obsync_sdk::render::push_text;

use crate::config::ObjectConfig;
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
}

/// An object whose sharding columns do not exist in its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "table `{database}`.`{table}` has no column {column:?} (named in the object's `sharding_columns`, `columns` or `column_renames`)"
)]
pub struct RouteError {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// The missing column.
    pub column: String,
}

/// Maps `(database, table)` to a route.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: HashMap<(String, String), RouteTarget>,
}

impl Router {
    /// Builds a router from a project's objects.
    pub fn new(objects: &[ObjectConfig]) -> Self {
        let routes = objects
            .iter()
            .map(|o| {
                (
                    (o.database.clone(), o.table.clone()),
                    RouteTarget {
                        topic: Arc::from(o.topic.as_str()),
                        sharding_columns: o.sharding_columns.clone(),
                        columns: o.columns.clone(),
                        rename_database: o.rename_database.clone(),
                        rename_table: o.rename_table.clone(),
                        column_renames: o.column_renames.clone(),
                    },
                )
            })
            .collect();
        Router { routes }
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

    /// Returns every distinct topic.
    pub fn topics(&self) -> Vec<Arc<str>> {
        let mut t: Vec<Arc<str>> = self.routes.values().map(|r| r.topic.clone()).collect();
        t.sort();
        t.dedup();
        t
    }
}

/// Returns the column indexes whose values form the sharding key of `table` under `target`.
pub fn sharding_indexes(
    table: &SourceTable,
    target: &RouteTarget,
) -> Result<Vec<usize>, RouteError> {
    if !target.sharding_columns.is_empty() {
        return target
            .sharding_columns
            .iter()
            .map(|name| {
                table
                    .columns
                    .iter()
                    .position(|c| &c.name == name)
                    .ok_or_else(|| RouteError {
                        database: table.database.clone(),
                        table: table.table.clone(),
                        column: name.clone(),
                    })
            })
            .collect();
    }
    if !table.primary_key.is_empty() {
        return Ok(table.primary_key.clone());
    }
    Ok((0..table.columns.len()).collect())
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
        let object = |table: &str, topic: &str| ObjectConfig {
            database: "shop".into(),
            table: table.into(),
            topic: topic.into(),
            sharding_columns: vec![],
            columns: vec![],
            rename_database: None,
            rename_table: None,
            column_renames: Default::default(),
        };
        let r = Router::new(&[object("*", "all"), object("orders", "orders")]);
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
