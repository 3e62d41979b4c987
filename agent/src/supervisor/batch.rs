//! A batch of routed row changes on its way to the format module and the sink.
//!
//! Invariant: `rows[i]` and `routes[i]` describe the same change; schemas are deduplicated per
//! table so a batch carries each table's schema once.

use std::collections::HashMap;
use std::sync::Arc;

use obsync_sdk::{
    ABI_VERSION, ChangeMeta, FilterDecision, FormatBatch, FormatOptions, RowChange, TableSchema,
};

use crate::route::{RouteError, RouteTarget, sharding_indexes, sharding_key};
use crate::schema::SourceTable;
use crate::source::RowsChunk;

/// Where one row goes once formatted.
#[derive(Debug, Clone)]
pub struct RowRoute {
    /// Topic.
    pub topic: Arc<str>,
    /// `db.table` for the message properties.
    pub database: Arc<str>,
    /// Table name.
    pub table: Arc<str>,
}

/// Rows collected for one format call.
#[derive(Default)]
pub struct PendingBatch {
    schemas: Vec<TableSchema>,
    /// Keeps each table alive while its address is used as a key.
    tables: Vec<Arc<SourceTable>>,
    schema_index: HashMap<usize, u32>,
    /// Sharding column indexes, per schema index.
    sharding: Vec<Vec<usize>>,
    /// The row changes, in commit order.
    pub rows: Vec<RowChange>,
    /// Where each row goes.
    pub routes: Vec<RowRoute>,
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
        let schema_idx = match self.schema_index.get(&table_key) {
            Some(&i) => i,
            None => {
                let i = self.schemas.len() as u32;
                self.schemas.push(table.to_module_schema());
                self.schema_index.insert(table_key, i);
                self.tables.push(chunk.table.clone());
                self.sharding.push(sharding_indexes(table, target)?);
                i
            }
        };
        let database: Arc<str> = Arc::from(table.database.as_str());
        let table_name: Arc<str> = Arc::from(table.table.as_str());
        for (n, (before, after)) in chunk.rows.into_iter().enumerate() {
            let index = chunk.first_index.saturating_add(n as u32);
            self.routes.push(RowRoute {
                topic: target.topic.clone(),
                database: database.clone(),
                table: table_name.clone(),
            });
            self.rows.push(RowChange {
                table: schema_idx,
                kind: chunk.kind,
                before,
                after,
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
            sharding: taken.sharding,
        }
    }
}

/// A batch handed to the modules, with the routing facts kept beside it.
pub struct TakenBatch {
    /// The batch as modules see it.
    pub batch: FormatBatch,
    /// Where each row goes (`routes[i]` belongs to `batch.rows[i]`).
    pub routes: Vec<RowRoute>,
    /// Sharding column indexes per schema index.
    pub sharding: Vec<Vec<usize>>,
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

    /// Returns the sharding key of row `i`: its sharding values (after image, or before image
    /// for DELETE) as text joined by U+0001.
    pub fn key_of(&self, i: usize) -> String {
        let row = &self.batch.rows[i];
        let cols = self
            .sharding
            .get(row.table as usize)
            .map(Vec::as_slice)
            .unwrap_or_default();
        sharding_key(row.key_image().unwrap_or_default(), cols)
    }
}
