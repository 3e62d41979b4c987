//! A batch of routed row changes on its way to the modules and the sink.
//!
//! Invariants: `rows[i]` and `routes[i]` describe the same change; schemas are deduplicated per
//! table so a batch carries each table's schema once; rows are projected to the object's selected
//! columns and renamed as the consumer sees them; the sharding key is taken from the full source
//! row before projection, so the queue of a change never depends on column selection or filters.

use std::collections::HashMap;
use std::sync::Arc;

use obsync_sdk::{
    ABI_VERSION, ChangeMeta, FilterDecision, FormatBatch, FormatOptions, RowChange, TableSchema,
    Value,
};

use crate::route::{RouteError, RouteTarget, sharding_indexes, sharding_key};
use crate::schema::SourceTable;
use crate::source::RowsChunk;

/// Where one row goes once formatted.
#[derive(Debug, Clone)]
pub struct RowRoute {
    /// Topic.
    pub topic: Arc<str>,
    /// Sharding key string of the source row (picks the queue).
    pub key: String,
    /// Source database, for the message properties.
    pub database: Arc<str>,
    /// Source table.
    pub table: Arc<str>,
}

/// How one table's rows are shaped for its object.
struct Shape {
    schema_index: u32,
    /// Source column indexes kept, in output order.
    keep: Vec<usize>,
    /// Source column indexes of the sharding key.
    sharding: Vec<usize>,
    /// Keeps the table alive while its address is used as a key.
    _table: Arc<SourceTable>,
}

/// Rows collected for one module call.
#[derive(Default)]
pub struct PendingBatch {
    schemas: Vec<TableSchema>,
    shapes: HashMap<usize, Shape>,
    /// The row changes, in commit order.
    pub rows: Vec<RowChange>,
    /// Where each row goes.
    pub routes: Vec<RowRoute>,
}

/// Builds the output schema and the kept columns of a table under an object's settings.
fn shape(
    table: &SourceTable,
    target: &RouteTarget,
) -> Result<(TableSchema, Vec<usize>), RouteError> {
    let missing = |column: &str| RouteError {
        database: table.database.clone(),
        table: table.table.clone(),
        column: column.to_string(),
    };
    let keep: Vec<usize> = if target.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        target
            .columns
            .iter()
            .map(|name| {
                table
                    .columns
                    .iter()
                    .position(|c| &c.name == name)
                    .ok_or_else(|| missing(name))
            })
            .collect::<Result<_, _>>()?
    };
    if let Some(old) = target
        .column_renames
        .keys()
        .find(|old| !table.columns.iter().any(|c| &c.name == *old))
    {
        return Err(missing(old));
    }
    let mut schema = table.to_module_schema();
    let all = std::mem::take(&mut schema.columns);
    schema.columns = keep
        .iter()
        .map(|&i| {
            let mut c = all[i].clone();
            if let Some(new) = target.column_renames.get(&c.name) {
                c.name = new.clone();
            }
            c
        })
        .collect();
    schema.primary_key = table
        .primary_key
        .iter()
        .filter_map(|pk| keep.iter().position(|k| k == pk).map(|p| p as u32))
        .collect();
    if let Some(db) = &target.rename_database {
        schema.database = db.clone();
    }
    if let Some(t) = &target.rename_table {
        schema.table = t.clone();
    }
    Ok((schema, keep))
}

fn project(image: Option<Vec<Value>>, keep: &[usize], all: usize) -> Option<Vec<Value>> {
    let image = image?;
    if keep.len() == all {
        return Some(image);
    }
    Some(
        keep.iter()
            .map(|&i| image.get(i).cloned().unwrap_or(Value::Null))
            .collect(),
    )
}

impl PendingBatch {
    /// Returns true when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Returns the number of pending rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Adds the rows of a chunk routed to `target`.
    pub fn push(&mut self, chunk: RowsChunk, target: &RouteTarget) -> Result<(), RouteError> {
        let table: &SourceTable = &chunk.table;
        let table_key = Arc::as_ptr(&chunk.table) as usize;
        if !self.shapes.contains_key(&table_key) {
            let (schema, keep) = shape(table, target)?;
            let sharding = sharding_indexes(table, target)?;
            let schema_index = self.schemas.len() as u32;
            self.schemas.push(schema);
            self.shapes.insert(
                table_key,
                Shape {
                    schema_index,
                    keep,
                    sharding,
                    _table: chunk.table.clone(),
                },
            );
        }
        let shape = &self.shapes[&table_key];
        let all = table.columns.len();
        let database: Arc<str> = Arc::from(table.database.as_str());
        let table_name: Arc<str> = Arc::from(table.table.as_str());
        for (n, (before, after)) in chunk.rows.into_iter().enumerate() {
            let index = chunk.first_index.saturating_add(n as u32);
            let key_image = after.as_deref().or(before.as_deref()).unwrap_or_default();
            let key = sharding_key(key_image, &shape.sharding);
            self.routes.push(RowRoute {
                topic: target.topic.clone(),
                key,
                database: database.clone(),
                table: table_name.clone(),
            });
            self.rows.push(RowChange {
                table: shape.schema_index,
                kind: chunk.kind,
                before: project(before, &shape.keep, all),
                after: project(after, &shape.keep, all),
                meta: ChangeMeta {
                    timestamp: chunk.timestamp,
                    transaction_id: chunk.transaction_id.to_string(),
                    position: chunk.position.to_string(),
                    index_in_transaction: index,
                    dedupe_key: format!("{}#{index}", chunk.transaction_id),
                    server_id: chunk.server_id,
                },
            });
        }
        Ok(())
    }

    /// Takes the batch for the modules, leaving this one empty.
    pub fn take(&mut self, options: &FormatOptions) -> TakenBatch {
        let taken = std::mem::take(self);
        TakenBatch {
            batch: FormatBatch {
                abi_version: ABI_VERSION,
                options: options.clone(),
                schemas: taken.schemas,
                rows: taken.rows,
            },
            routes: taken.routes,
        }
    }
}

/// A batch handed to the modules, with the routing facts kept beside it.
pub struct TakenBatch {
    /// The batch as modules see it.
    pub batch: FormatBatch,
    /// Where each row goes (`routes[i]` belongs to `batch.rows[i]`).
    pub routes: Vec<RowRoute>,
}

impl TakenBatch {
    /// Applies a filter's decisions (one per row, already checked): drops and replaces rows.
    pub fn apply(&mut self, decisions: Vec<FilterDecision>) {
        let rows = std::mem::take(&mut self.batch.rows);
        let routes = std::mem::take(&mut self.routes);
        for ((row, route), decision) in rows.into_iter().zip(routes).zip(decisions) {
            match decision {
                FilterDecision::Keep => {
                    self.batch.rows.push(row);
                    self.routes.push(route);
                }
                FilterDecision::Drop => {}
                FilterDecision::Replace(mut new) => {
                    // The provenance of a change is not the module's to rewrite.
                    new.meta = row.meta;
                    self.batch.rows.push(new);
                    self.routes.push(route);
                }
            }
        }
    }
}
