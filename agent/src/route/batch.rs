//! A batch of routed row changes on its way to the modules and the sink.
//!
//! Invariants: `rows[i]` and `routes[i]` describe the same change; schemas are deduplicated per
//! table so a batch carries each table's schema once; rows are projected to the object's selected
//! columns and renamed as the consumer sees them; the sharding key is taken from the full source
//! row before projection, so the queue of a change never depends on column selection or filters.

use std::collections::HashMap;
use std::sync::Arc;

use obsync_sdk::{
    ABI_VERSION, ChangeKind, ChangeMeta, FilterDecision, FormatBatch, FormatOptions, RowChange,
    TableSchema, Value,
};

use super::{RouteError, RouteTarget, column_indexes, key_indexes, sharding_indexes, sharding_key};
use crate::config::KeyChange;
use crate::filter::{BoundFilter, FilterColumn, collation_is_case_insensitive};
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
    /// Set when this message is one half of an UPDATE sent as DELETE + INSERT, or an UPDATE
    /// sent as INSERT/DELETE because the row entered/left the row filter: `key_change`,
    /// `filter_enter` or `filter_leave`.
    pub derived: Option<&'static str>,
}

/// How one table's rows are shaped for its object.
struct Shape {
    schema_index: u32,
    /// Source column indexes kept, in output order.
    keep: Vec<usize>,
    /// Source column indexes of the sharding key.
    sharding: Vec<usize>,
    /// The object's row filter bound to this table.
    filter: Option<BoundFilter>,
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
    /// Binlog bytes of the row events pushed (the size of the rows' images, near enough).
    bytes: usize,
}

/// Builds the output schema and the kept columns of a table under an object's settings.
fn shape(
    table: &SourceTable,
    target: &RouteTarget,
    unique_key: Option<&[String]>,
) -> Result<(TableSchema, Vec<usize>), RouteError> {
    let missing = |column: &str| RouteError::MissingColumn {
        database: table.database.clone(),
        table: table.table.clone(),
        column: column.to_string(),
    };
    let keep: Vec<usize> = if target.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        column_indexes(table, &target.columns)?
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
    schema.primary_key = key_indexes(table, unique_key)
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

/// Binds the object's row filter to a table's columns.
fn bind_filter(
    table: &SourceTable,
    target: &RouteTarget,
    utc_offset: i32,
) -> Result<Option<BoundFilter>, RouteError> {
    let Some(filter) = &target.filter else {
        return Ok(None);
    };
    let columns: Vec<FilterColumn> = table
        .columns
        .iter()
        .map(|c| FilterColumn {
            name: c.name.clone(),
            kind: FilterColumn::kind_of_column_type(c.column_type),
            case_insensitive: collation_is_case_insensitive(c.charset),
        })
        .collect();
    filter
        .bind(&columns, utc_offset)
        .map(Some)
        .map_err(|error| RouteError::Filter {
            database: table.database.clone(),
            table: table.table.clone(),
            filter: filter.text().to_string(),
            error,
        })
}

/// A row change after the row filter: kind, images and why it differs from the source change.
type Filtered = (
    ChangeKind,
    Option<Vec<Value>>,
    Option<Vec<Value>>,
    Option<&'static str>,
);

/// Applies a row filter. INSERT is tested on the new row, DELETE on the old one; an UPDATE is
/// tested on both: kept when both pass, sent as a DELETE of the old row when the row leaves the
/// filter, as an INSERT of the new row when it enters it, dropped when neither passes.
fn apply_filter(
    filter: Option<&BoundFilter>,
    kind: ChangeKind,
    before: Option<Vec<Value>>,
    after: Option<Vec<Value>>,
) -> Option<Filtered> {
    let Some(f) = filter else {
        return Some((kind, before, after, None));
    };
    let pass = |image: &Option<Vec<Value>>| image.as_deref().is_some_and(|r| f.matches(r));
    match kind {
        ChangeKind::Insert => pass(&after).then_some((kind, before, after, None)),
        ChangeKind::Delete => pass(&before).then_some((kind, before, after, None)),
        ChangeKind::Update => match (pass(&before), pass(&after)) {
            (true, true) => Some((kind, before, after, None)),
            (true, false) => Some((ChangeKind::Delete, before, None, Some("filter_leave"))),
            (false, true) => Some((ChangeKind::Insert, None, after, Some("filter_enter"))),
            (false, false) => None,
        },
    }
}

/// One row change on its way into the batch.
struct Routed {
    kind: ChangeKind,
    before: Option<Vec<Value>>,
    after: Option<Vec<Value>>,
    key: String,
    dedupe_key: String,
    index: u32,
    derived: Option<&'static str>,
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

    /// Returns the binlog bytes of the row events pushed since the last take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds the rows of a chunk routed to `target`, applying its row filter and its key-change
    /// rule. `unique_key` is the table's non-null unique key from the catalog; `utc_offset` is
    /// the project's time zone, for TIMESTAMP values in filters.
    pub fn push(
        &mut self,
        chunk: RowsChunk,
        target: &RouteTarget,
        unique_key: Option<&[String]>,
        utc_offset: i32,
    ) -> Result<(), RouteError> {
        self.bytes = self.bytes.saturating_add(chunk.event_bytes as usize);
        let table: &SourceTable = &chunk.table;
        let table_key = Arc::as_ptr(&chunk.table) as usize;
        if !self.shapes.contains_key(&table_key) {
            let (schema, keep) = shape(table, target, unique_key)?;
            let sharding = sharding_indexes(table, target, unique_key)?;
            let filter = bind_filter(table, target, utc_offset)?;
            let schema_index = self.schemas.len() as u32;
            self.schemas.push(schema);
            self.shapes.insert(
                table_key,
                Shape {
                    schema_index,
                    keep,
                    sharding,
                    filter,
                    _table: chunk.table.clone(),
                },
            );
        }
        let shape = &self.shapes[&table_key];
        let all = table.columns.len();
        let database: Arc<str> = Arc::from(table.database.as_str());
        let table_name: Arc<str> = Arc::from(table.table.as_str());
        let mut out = Vec::new();
        for (n, (before, after)) in chunk.rows.into_iter().enumerate() {
            let index = chunk.first_index.saturating_add(n as u32);
            let Some((kind, before, after, derived)) =
                apply_filter(shape.filter.as_ref(), chunk.kind, before, after)
            else {
                continue;
            };
            let base = format!("{}#{index}", chunk.transaction_id);
            if kind == ChangeKind::Update && target.key_change == KeyChange::Split {
                let old = sharding_key(before.as_deref().unwrap_or_default(), &shape.sharding);
                let new = sharding_key(after.as_deref().unwrap_or_default(), &shape.sharding);
                if old != new {
                    let derived = Some("key_change");
                    let (dedupe_key, second) = (base.clone(), format!("{base}#2"));
                    out.push(Routed {
                        kind: ChangeKind::Delete,
                        before,
                        after: None,
                        key: old,
                        dedupe_key,
                        index,
                        derived,
                    });
                    out.push(Routed {
                        kind: ChangeKind::Insert,
                        before: None,
                        after,
                        key: new,
                        dedupe_key: second,
                        index,
                        derived,
                    });
                    continue;
                }
            }
            let key_image = after.as_deref().or(before.as_deref()).unwrap_or_default();
            let key = sharding_key(key_image, &shape.sharding);
            out.push(Routed {
                kind,
                before,
                after,
                key,
                dedupe_key: base,
                index,
                derived,
            });
        }
        for Routed {
            kind,
            before,
            after,
            key,
            dedupe_key,
            index,
            derived,
        } in out
        {
            self.routes.push(RowRoute {
                topic: target.topic.clone(),
                key,
                database: database.clone(),
                table: table_name.clone(),
                derived,
            });
            self.rows.push(RowChange {
                table: shape.schema_index,
                kind,
                before: project(before, &shape.keep, all),
                after: project(after, &shape.keep, all),
                meta: ChangeMeta {
                    timestamp: chunk.timestamp,
                    transaction_id: chunk.transaction_id.to_string(),
                    position: chunk.position.to_string(),
                    index_in_transaction: index,
                    dedupe_key,
                    server_id: chunk.server_id,
                    // Numbered once every filter has run (supervisor/sequence.rs).
                    sequence_in_transaction: 0,
                    stream_sequence: 0,
                },
            });
        }
        Ok(())
    }

    /// Takes the batch for the modules, leaving this one empty.
    pub fn take(&mut self, options: &FormatOptions) -> TakenBatch {
        let taken = std::mem::take(self);
        let origins = (0..taken.rows.len()).collect();
        TakenBatch {
            origins,
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
    /// The index each row had in the pending batch, before filters dropped any (increasing).
    pub origins: Vec<usize>,
}

impl TakenBatch {
    /// Applies a filter's decisions (one per row, already checked): drops and replaces rows.
    pub fn apply(&mut self, decisions: Vec<FilterDecision>) {
        let rows = std::mem::take(&mut self.batch.rows);
        let routes = std::mem::take(&mut self.routes);
        let origins = std::mem::take(&mut self.origins);
        for (((row, route), origin), decision) in
            rows.into_iter().zip(routes).zip(origins).zip(decisions)
        {
            match decision {
                FilterDecision::Keep => {
                    self.batch.rows.push(row);
                    self.routes.push(route);
                    self.origins.push(origin);
                }
                FilterDecision::Drop => {}
                FilterDecision::Replace(mut new) => {
                    // The provenance of a change is not the module's to rewrite.
                    new.meta = row.meta;
                    self.batch.rows.push(new);
                    self.routes.push(route);
                    self.origins.push(origin);
                }
            }
        }
    }
}
