//! What a project's start needs to know about its source and target, read once: by the precheck
//! (which checks it and hands it on in [`Findings`]) or, when the precheck is off, by the
//! project's own start. The start reuses whatever the precheck found instead of asking again.
//!
//! Invariant: findings are only what was read; a part the precheck could not read is `None` and
//! the start reads it itself (and fails with its own error naming the field).

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::Conn;

use crate::config::Project;
use crate::route::WHOLE_DATABASE;
use crate::schema::catalog::{self, ColumnFacts};
use crate::sink::RocketMqSink;
use crate::source::Flavor;
use crate::wasm::LoadedModule;

/// The source's catalog as a project's start needs it.
#[derive(Debug, Clone)]
pub struct StartCatalog {
    /// The server kind.
    pub flavor: Flavor,
    /// The non-null unique keys of the carried tables without a primary key.
    pub unique_keys: HashMap<(String, String), Vec<String>>,
    /// The columns of each object's table, by object index; `None` for a whole-database object,
    /// a table that does not exist (yet), or one not asked for.
    pub columns: Vec<Option<Vec<ColumnFacts>>>,
}

/// Which objects' columns to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Every object's (the precheck checks each configured column).
    All,
    /// Only those of objects with a row filter (what the start binds).
    Filtered,
}

impl StartCatalog {
    /// Reads it over `conn`, for the carried `databases`.
    pub async fn read(
        conn: &mut Conn,
        flavor: Flavor,
        p: &Project,
        databases: &[String],
        which: Columns,
    ) -> Result<StartCatalog, mysql_async::Error> {
        let unique_keys = catalog::unique_keys(conn, databases).await?;
        let mut columns = Vec::with_capacity(p.config.objects.len());
        for (o, filter) in p.config.objects.iter().zip(&p.row_filters) {
            let skipped = which == Columns::Filtered && filter.is_none();
            columns.push(if o.table == WHOLE_DATABASE || skipped {
                None
            } else {
                catalog::column_facts(conn, &o.database, &o.table).await?
            });
        }
        Ok(StartCatalog {
            flavor,
            unique_keys,
            columns,
        })
    }
}

/// What a passing precheck hands to the project's start.
#[derive(Default)]
pub struct Findings {
    /// The source's catalog.
    pub catalog: Option<StartCatalog>,
    /// Every module of the project, loaded, in `module_specs` order (format first).
    pub modules: Option<Vec<Arc<LoadedModule>>>,
    /// A started producer with every topic of the project prepared.
    pub sink: Option<RocketMqSink>,
}

impl Findings {
    /// Stops the producer, when the findings are not used.
    pub async fn discard(self) {
        if let Some(sink) = self.sink {
            sink.shutdown().await;
        }
    }
}
