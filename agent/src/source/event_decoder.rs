//! The binlog's event grammar, independent of where the events come from: table maps and their
//! schemas, transactions and their ids, row events into [`RowsChunk`]s, DDL into the schema
//! history, transaction payloads into their inner events, and the position after each event.
//! [`super::BinlogReader`] feeds it from a live stream; tests feed it from binlog files.
//!
//! Invariants: a [`SourceEvent::Commit`] is produced only at a transaction boundary, with the
//! position after it; events inside a transaction payload all sit at the payload event's place,
//! so no position ever points into a payload; rows of tables not carried are skipped undecoded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use mysql_common::binlog::consts::BinlogChecksumAlg;
use mysql_common::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use obsync_sdk::ChangeKind;

use super::change::{RowsChunk, SourceEvent};
use super::decode::decode_rows;
use super::error::SourceError;
use super::events::{
    MARIADB_GTID, XA_PREPARE, mysql_gtid, parse_maria_gtid, parsed_data, rotate_name_before_fde,
};
use super::mariadb_compression;
use super::payload::PayloadEvents;
use super::position::Position;
use super::savepoints::{self, Savepoints};
use super::xa::{self, XaBranches, XaStatement, Xid};
use crate::schema::catalog::CatalogTable;
use crate::schema::ddl::{self, Ddl};
use crate::schema::history::SchemaHistory;
use crate::schema::{
    SchemaError, SourceTable, from_table_map, from_table_map_and_catalog, from_table_map_unnamed,
};

#[derive(Default)]
struct Txn {
    active: bool,
    id: Option<Arc<str>>,
    gtid: Option<String>,
    next_index: u32,
    /// The XA branch this group carries (its rows are held to the outcome).
    xa: Option<Xid>,
}

/// The decoding state of one binlog stream.
pub struct EventDecoder {
    tables: HashMap<u64, (Vec<u8>, Arc<SourceTable>)>,
    file: String,
    pos: u64,
    seen_fde: bool,
    txn: Txn,
    last_gtid: Option<String>,
    /// Versioned table descriptions, for table maps without column names.
    history: SchemaHistory,
    /// Whether DDL is followed into the history (the server sends no column names).
    track_schemas: bool,
    /// Tables whose description was read from the catalog since their last DDL (a mismatch then
    /// is final).
    catalog_fresh: HashSet<(String, String)>,
    /// A table whose description the current event needs.
    want_catalog: Option<(String, String)>,
    /// The transaction payload whose inner events are being read (MySQL compression).
    payload: Option<PayloadEvents>,
    /// The current transaction's savepoints and the rows held since the first one.
    savepoints: Savepoints,
    /// Events ready to hand over before the next binlog event (held rows and their commit).
    released: VecDeque<SourceEvent>,
    /// Prepared XA branches waiting for their outcome.
    xa_branches: XaBranches,
    /// Name columns `@1`, `@2`, … when table maps carry no names, instead of asking the
    /// catalog (tools and decoder tests on binlog files; never for delivery).
    unnamed_columns: bool,
}

impl EventDecoder {
    /// A decoder whose next event is at `start`; `track_schemas` follows DDL into `history`
    /// (needed when table maps carry no column names).
    pub fn new(start: &Position, history: SchemaHistory, track_schemas: bool) -> Self {
        EventDecoder {
            tables: HashMap::new(),
            file: start.file.clone(),
            pos: start.offset,
            seen_fde: false,
            txn: Txn::default(),
            last_gtid: start.gtid.clone(),
            history,
            track_schemas,
            catalog_fresh: HashSet::new(),
            want_catalog: None,
            payload: None,
            savepoints: Savepoints::default(),
            released: VecDeque::new(),
            xa_branches: XaBranches::in_memory(),
            unnamed_columns: false,
        }
    }

    /// Keeps prepared XA branches in `branches` (a project's store) instead of memory only.
    pub fn with_xa_branches(mut self, branches: XaBranches) -> Self {
        self.xa_branches = branches;
        self
    }

    /// Names the columns of table maps without names `@1`, `@2`, … as `mariadb-binlog` does,
    /// instead of asking for a catalog description: for reading binlog files without their
    /// server (tools, decoder tests), never for delivery.
    pub fn with_unnamed_columns(mut self) -> Self {
        self.unnamed_columns = true;
        self
    }

    /// The table whose description the last [`EventDecoder::handle`] call needed: describe it
    /// with [`EventDecoder::described`], then handle the same event again.
    pub fn take_wanted_catalog(&mut self) -> Option<(String, String)> {
        self.want_catalog.take()
    }

    /// Records a table's description read from the catalog at the current position.
    pub fn described(
        &mut self,
        key: (String, String),
        table: CatalogTable,
    ) -> Result<(), SourceError> {
        self.catalog_fresh.insert(key.clone());
        let file = self.file.clone();
        self.history
            .set(key, Some(table), (file.as_str(), self.pos))
            .map_err(|e| SourceError::Protocol {
                position: self.here(),
                message: e.to_string(),
            })
    }

    /// The position after the last event handled, `file:offset`.
    pub fn here(&self) -> String {
        format!("{}:{}", self.file, self.pos)
    }

    /// An event ready to hand over before the next binlog event is handled: rows held after a
    /// savepoint, released with their commit.
    pub fn next_released(&mut self) -> Option<SourceEvent> {
        self.released.pop_front()
    }

    /// The next event inside the current transaction payload, if one is being read.
    pub fn next_payload_event(&mut self) -> Result<Option<Event>, SourceError> {
        let Some(payload) = self.payload.as_mut() else {
            return Ok(None);
        };
        // As for the stream: a parser panic on damaged data is an error, not a dead task.
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| payload.next_event()));
        match next {
            Ok(Ok(Some(ev))) => Ok(Some(ev)),
            Ok(Ok(None)) => {
                self.payload = None;
                Ok(None)
            }
            Ok(Err(e)) => Err(SourceError::Protocol {
                position: self.here(),
                message: format!("damaged compressed transaction payload: {e}"),
            }),
            Err(_) => Err(SourceError::Protocol {
                position: self.here(),
                message: "damaged compressed transaction payload: the event parser failed".into(),
            }),
        }
    }

    /// Builds a carried table's schema from its table map, with `information_schema` when the
    /// map has no column names; `Ok(None)` when the description must be read first.
    fn table_schema(
        &mut self,
        tme: &TableMapEvent<'_>,
    ) -> Result<Option<SourceTable>, SourceError> {
        match from_table_map(tme) {
            Ok(t) => Ok(Some(t)),
            Err(SchemaError::NoColumnNames { .. }) if self.unnamed_columns => {
                Ok(Some(from_table_map_unnamed(tme)?))
            }
            Err(SchemaError::NoColumnNames { database, table }) => {
                let key = (database, table);
                let Some(Some(catalog)) = self.history.get(&key) else {
                    self.want_catalog = Some(key);
                    return Ok(None);
                };
                match from_table_map_and_catalog(tme, &catalog) {
                    Ok(t) => Ok(Some(t)),
                    // Described before a DDL this stream did not see (it ran before our start
                    // position, or while we were away): read it again once.
                    Err(SchemaError::CatalogMismatch { .. })
                        if !self.catalog_fresh.contains(&key) =>
                    {
                        self.want_catalog = Some(key);
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// [`EventDecoder::table_schema`] for a table map that may have MariaDB `COMPRESSED` columns:
    /// built from the table map with plain types, those columns marked for inflating.
    fn carried_table_schema(
        &mut self,
        ev: &Event,
        tme: &TableMapEvent<'_>,
    ) -> Result<Option<SourceTable>, SourceError> {
        let bad = |message: String| SourceError::Protocol {
            position: self.here(),
            message: format!(
                "table map of `{}`.`{}`: {message}",
                tme.database_name(),
                tme.table_name()
            ),
        };
        let Some((plain, compressed)) =
            mariadb_compression::plain_table_map(ev, tme).map_err(bad)?
        else {
            return self.table_schema(tme);
        };
        let Ok(Some(EventData::TableMapEvent(plain_tme))) = plain.read_data() else {
            return Err(bad("not readable with plain column types".into()));
        };
        let Some(mut table) = self.table_schema(&plain_tme)? else {
            return Ok(None);
        };
        for i in compressed {
            if let Some(c) = table.columns.get_mut(i) {
                c.compressed = true;
            }
        }
        Ok(Some(table))
    }

    /// Applies a DDL statement to the schema history, at the end position of its event.
    fn follow_ddl(&mut self, sql: &str, default_db: &str, log_pos: u32) -> Result<(), SourceError> {
        let file = self.file.clone();
        let at = (file.as_str(), u64::from(log_pos));
        let err = |e: crate::schema::history::HistoryError| SourceError::Protocol {
            position: format!("{file}:{log_pos}"),
            message: e.to_string(),
        };
        let h = &mut self.history;
        let mut touched = Vec::new();
        match ddl::parse(sql, default_db) {
            Ddl::Create(name, table) => {
                touched.push(name.clone());
                h.set(name, Some(table), at).map_err(err)?;
            }
            Ddl::CreateLike(name, from) => {
                touched.push(name.clone());
                match h.get(&from) {
                    Some(Some(t)) => h.set(name, Some((*t).clone()), at).map_err(err)?,
                    _ => h.forget(&name, at).map_err(err)?,
                }
            }
            Ddl::Alter(name, changes, rename) => {
                touched.push(name.clone());
                let after = match h.get(&name) {
                    Some(Some(t)) => ddl::apply(&t, &changes),
                    _ => None,
                };
                match (after, rename) {
                    (Some(t), Some(to)) => {
                        touched.push(to.clone());
                        h.set(name, None, at).map_err(err)?;
                        h.set(to, Some(t), at).map_err(err)?;
                    }
                    (Some(t), None) => h.set(name, Some(t), at).map_err(err)?,
                    (None, rename) => {
                        h.forget(&name, at).map_err(err)?;
                        if let Some(to) = rename {
                            h.forget(&to, at).map_err(err)?;
                            touched.push(to);
                        }
                    }
                }
            }
            Ddl::Rename(pairs) => {
                for (from, to) in pairs {
                    touched.push(from.clone());
                    touched.push(to.clone());
                    let t = h.get(&from);
                    h.set(from, None, at).map_err(err)?;
                    match t {
                        Some(Some(t)) => h.set(to, Some((*t).clone()), at).map_err(err)?,
                        _ => h.forget(&to, at).map_err(err)?,
                    }
                }
            }
            Ddl::Drop(names) => {
                for name in names {
                    touched.push(name.clone());
                    h.set(name, None, at).map_err(err)?;
                }
            }
            Ddl::Unknown(name) => {
                tracing::warn!(database = %name.0, table = %name.1, "DDL not followed; the table's schema is read from information_schema when next needed");
                touched.push(name.clone());
                h.forget(&name, at).map_err(err)?;
            }
            Ddl::Other => {}
        }
        for name in touched {
            self.catalog_fresh.remove(&name);
        }
        Ok(())
    }

    /// Handles one event: what it means for the consumer, if anything. When it returns `Ok(None)`
    /// with a wanted catalog table (see [`EventDecoder::take_wanted_catalog`]), the event was not
    /// consumed and must be handled again once the table is described.
    pub fn handle(
        &mut self,
        ev: &Event,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<Option<SourceEvent>, SourceError> {
        self.verify_checksum(ev)?;
        self.handle_sized(ev, carried, ev.header().event_size())
    }

    /// [`EventDecoder::handle`] for an event of `event_size` bytes in the binlog (an inflated
    /// MariaDB event is bigger in memory than in the binlog).
    fn handle_sized(
        &mut self,
        ev: &Event,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
        event_size: u32,
    ) -> Result<Option<SourceEvent>, SourceError> {
        let header = ev.header();
        // Events inside a transaction payload all sit at the payload event's place.
        let (log_pos, event_start, artificial) = match &self.payload {
            Some(p) => (p.end_pos, p.start_pos, false),
            None => (
                header.log_pos(),
                u64::from(header.log_pos()).saturating_sub(u64::from(event_size)),
                header.log_pos() == 0 || header.flags_raw() & 0x20 != 0,
            ),
        };
        let protocol =
            |position: String, message: String| SourceError::Protocol { position, message };
        let data = parsed_data(ev).map_err(|e| {
            protocol(
                self.here(),
                format!("event type {}: {e}", header.event_type_raw()),
            )
        })?;
        let result = match data {
            None if mariadb_compression::rows_table_id(ev)
                .is_some_and(|id| !self.tables.contains_key(&id)) =>
            {
                // Rows of a table not carried: skipped without inflating them.
                if !self.txn.active {
                    self.begin(None, event_start);
                }
                None
            }
            None if mariadb_compression::is_compressed_event(header.event_type_raw()) => {
                let plain = mariadb_compression::plain_event(ev).map_err(|e| {
                    protocol(
                        self.here(),
                        format!(
                            "MariaDB compressed event (type {}): {e}",
                            header.event_type_raw()
                        ),
                    )
                })?;
                return self.handle_sized(&plain, carried, event_size);
            }
            None => self.handle_raw(ev, event_start, log_pos)?,
            Some(EventData::FormatDescriptionEvent(_)) => {
                self.seen_fde = true;
                None
            }
            Some(EventData::RotateEvent(r)) => {
                let name = if self.seen_fde {
                    r.name_raw().to_vec()
                } else {
                    rotate_name_before_fde(ev)
                };
                self.file = String::from_utf8_lossy(&name).into_owned();
                self.pos = r.position();
                if !artificial {
                    self.tables.clear();
                }
                return Ok(None);
            }
            Some(EventData::HeartbeatEvent) => Some(SourceEvent::Heartbeat),
            Some(EventData::GtidEvent(g)) => {
                let gtid = mysql_gtid(g.sid(), g.gno());
                self.begin(Some(gtid), event_start);
                None
            }
            Some(EventData::TableMapEvent(tme)) => {
                let id = tme.table_id();
                let fresh = self
                    .tables
                    .get(&id)
                    .is_none_or(|(raw, _)| raw.as_slice() != ev.data());
                if fresh && carried(&tme.database_name(), &tme.table_name()) {
                    let Some(table) = self.carried_table_schema(ev, &tme)? else {
                        return Ok(None);
                    };
                    self.tables
                        .insert(id, (ev.data().to_vec(), Arc::new(table)));
                } else if fresh {
                    self.tables.remove(&id);
                }
                None
            }
            Some(EventData::RowsEvent(re)) => {
                if !self.txn.active {
                    self.begin(None, event_start);
                }
                self.pos = u64::from(log_pos);
                match self.rows(&re, header.timestamp(), header.server_id(), event_size)? {
                    Some(SourceEvent::Rows(chunk)) => {
                        self.savepoints.hold(chunk).map(SourceEvent::Rows)
                    }
                    other => other,
                }
            }
            Some(EventData::XidEvent(_)) => Some(self.commit(log_pos, header.timestamp())),
            Some(EventData::QueryEvent(q)) => {
                let sql = q.query();
                let sql = sql.trim();
                if sql.starts_with('#') {
                    None
                } else if sql.eq_ignore_ascii_case("BEGIN") {
                    if !self.txn.active {
                        self.begin(None, event_start);
                    }
                    None
                } else if let Some(statement) = xa::parse(sql) {
                    self.xa_statement(statement, event_start, log_pos, header.timestamp())?
                } else if let Some(statement) = savepoints::parse(sql) {
                    // Inside the transaction: rows after a savepoint wait for the commit, and
                    // a ROLLBACK TO logged after undone rows drops them (savepoints.rs).
                    if self.txn.active {
                        let dropped = self.savepoints.apply(statement);
                        if dropped > 0 {
                            tracing::info!(position = %self.here(), chunks = dropped, "rows undone by ROLLBACK TO SAVEPOINT dropped");
                        }
                    }
                    None
                } else if let Some(verb) = dml_verb(sql) {
                    // DML logged as a statement (a session with binlog_format=STATEMENT or
                    // MIXED): its rows are not in the binlog. Part of its transaction, no commit.
                    let default_db = q.schema().into_owned();
                    if let Some((db, table)) = dml_target(sql, &default_db)
                        && carried(&db, &table)
                    {
                        return Err(SourceError::NotCarriable {
                            database: db,
                            table,
                            position: self.here(),
                            message: format!(
                                "a {verb} was logged as a statement, without its rows (binlog_format=STATEMENT or MIXED in the writing session); set binlog_format=ROW globally and in every session writing this table, then resume from a position after this event (or re-snapshot the table)"
                            ),
                        });
                    }
                    None
                } else {
                    if !sql.eq_ignore_ascii_case("COMMIT") {
                        // DDL: decoded table maps may be stale now (a renamed column keeps an
                        // identical table map), and the history follows the statement.
                        self.tables.clear();
                        if self.track_schemas {
                            let default_db = q.schema().into_owned();
                            self.follow_ddl(sql, &default_db, log_pos)?;
                        }
                    }
                    // COMMIT of a non-transactional group, or DDL: both end a group.
                    Some(self.commit(log_pos, header.timestamp()))
                }
            }
            Some(EventData::TransactionPayloadEvent(p)) => {
                if self.payload.is_some() {
                    return Err(protocol(
                        self.here(),
                        "a transaction payload inside a transaction payload".into(),
                    ));
                }
                let events = PayloadEvents::new(&p, log_pos, event_start).map_err(|e| {
                    protocol(
                        self.here(),
                        format!("cannot read a compressed transaction payload: {e}"),
                    )
                })?;
                self.payload = Some(events);
                None
            }
            Some(_) => None,
        };
        if !artificial {
            self.pos = u64::from(log_pos);
        }
        Ok(result)
    }

    /// Events `mysql_common` does not parse: a MariaDB GTID starts a transaction, an XA_PREPARE
    /// ends an XA branch's group; the rest (PREVIOUS_GTIDS, GTID_LIST, ANNOTATE_ROWS, ...) carry
    /// nothing obsync needs.
    fn handle_raw(
        &mut self,
        ev: &Event,
        event_start: u64,
        log_pos: u32,
    ) -> Result<Option<SourceEvent>, SourceError> {
        let kind = ev.header().event_type_raw();
        if kind == XA_PREPARE {
            let Some((one_phase, xid)) = xa::prepare_event(ev.data()) else {
                return Err(SourceError::Protocol {
                    position: self.here(),
                    message: "truncated XA_PREPARE event".into(),
                });
            };
            let timestamp = ev.header().timestamp();
            return if one_phase {
                Ok(Some(self.commit(log_pos, timestamp)))
            } else {
                self.prepare_xa(&xid, log_pos, timestamp).map(Some)
            };
        }
        if kind == MARIADB_GTID {
            let g = parse_maria_gtid(ev.data(), ev.header().server_id()).ok_or_else(|| {
                SourceError::Protocol {
                    position: self.here(),
                    message: "truncated MariaDB GTID event".into(),
                }
            })?;
            self.begin(Some(g.text), event_start);
            if let Some((format_id, gtrid, bqual)) = g.xa_branch {
                // MariaDB logs an XA branch's `XA START` in its GTID event.
                self.txn.xa = Some(Xid::new(i64::from(format_id), gtrid, bqual));
                self.savepoints.hold_all();
            }
        }
        Ok(None)
    }

    /// An XA statement: `XA START` holds the branch's rows, a PREPARE stores them, the outcome
    /// delivers or drops them (see `xa.rs`).
    fn xa_statement(
        &mut self,
        statement: XaStatement,
        event_start: u64,
        log_pos: u32,
        timestamp: u32,
    ) -> Result<Option<SourceEvent>, SourceError> {
        let this_branch = |x: &Xid| self.txn.xa.as_ref() == Some(x);
        Ok(match statement {
            XaStatement::Start(xid) => {
                if !self.txn.active {
                    self.begin(None, event_start);
                }
                self.txn.xa = Some(xid);
                self.savepoints.hold_all();
                None
            }
            XaStatement::Prepare(xid) => Some(self.prepare_xa(&xid, log_pos, timestamp)?),
            // The branch ends in its own group (one phase): what it held is delivered.
            XaStatement::Commit(xid) if this_branch(&xid) => Some(self.commit(log_pos, timestamp)),
            XaStatement::Rollback(xid) if this_branch(&xid) => {
                self.savepoints.clear();
                Some(self.commit(log_pos, timestamp))
            }
            XaStatement::Commit(xid) => {
                let rows = self.complete_xa(&xid, log_pos)?;
                match rows {
                    Some(rows) => {
                        tracing::debug!(xid = %xid, position = %self.here(), chunks = rows.len(), "prepared XA branch committed");
                        Some(self.commit_with(rows, log_pos, timestamp))
                    }
                    None => {
                        tracing::warn!(xid = %xid, position = %self.here(), "XA COMMIT of a branch this project never saw prepared (prepared before its start position): its rows are not delivered");
                        Some(self.commit(log_pos, timestamp))
                    }
                }
            }
            XaStatement::Rollback(xid) => {
                let dropped = self.complete_xa(&xid, log_pos)?;
                if let Some(rows) = dropped {
                    tracing::debug!(xid = %xid, position = %self.here(), chunks = rows.len(), "rows of a rolled-back XA branch dropped");
                }
                Some(self.commit(log_pos, timestamp))
            }
            XaStatement::Other => None,
        })
    }

    /// The branch was prepared: its rows are stored to wait for the outcome, and its group ends.
    fn prepare_xa(
        &mut self,
        xid: &Xid,
        log_pos: u32,
        timestamp: u32,
    ) -> Result<SourceEvent, SourceError> {
        let held = self.savepoints.end();
        let file = self.file.clone();
        self.xa_branches
            .prepare(xid, (file.as_str(), u64::from(log_pos)), held)
            .map_err(|e| SourceError::Protocol {
                position: format!("{file}:{log_pos}"),
                message: e.to_string(),
            })?;
        Ok(self.commit(log_pos, timestamp))
    }

    /// The outcome of a branch prepared earlier: its stored rows, if this stream saw it.
    fn complete_xa(
        &mut self,
        xid: &Xid,
        log_pos: u32,
    ) -> Result<Option<Vec<RowsChunk>>, SourceError> {
        let file = self.file.clone();
        self.xa_branches
            .complete(xid, (file.as_str(), u64::from(log_pos)))
            .map_err(|e| SourceError::Protocol {
                position: format!("{file}:{log_pos}"),
                message: e.to_string(),
            })
    }

    fn begin(&mut self, gtid: Option<String>, event_start: u64) {
        let id: Arc<str> = match &gtid {
            Some(g) => Arc::from(g.as_str()),
            None => Arc::from(format!("{}:{event_start}", self.file)),
        };
        self.txn = Txn {
            active: true,
            id: Some(id),
            gtid,
            next_index: 0,
            xa: None,
        };
        self.savepoints.clear();
    }

    fn commit(&mut self, log_pos: u32, timestamp: u32) -> SourceEvent {
        self.commit_with(Vec::new(), log_pos, timestamp)
    }

    /// Ends the group; `rows` (a prepared XA branch's) and those held after a savepoint are
    /// handed over first, then the commit.
    fn commit_with(&mut self, rows: Vec<RowsChunk>, log_pos: u32, timestamp: u32) -> SourceEvent {
        let txn = std::mem::take(&mut self.txn);
        if txn.gtid.is_some() {
            self.last_gtid = txn.gtid;
        }
        self.pos = u64::from(log_pos);
        let commit = SourceEvent::Commit(Position {
            file: self.file.clone(),
            offset: self.pos,
            gtid: self.last_gtid.clone(),
            timestamp,
            sequence: 0,
        });
        let mut held = rows;
        held.extend(self.savepoints.end());
        if held.is_empty() {
            return commit;
        }
        // Rows held to the commit: handed over now, then the commit.
        self.released
            .extend(held.into_iter().map(SourceEvent::Rows));
        self.released.push_back(commit);
        self.released.pop_front().unwrap_or(SourceEvent::Heartbeat)
    }

    fn rows(
        &mut self,
        re: &RowsEventData<'_>,
        timestamp: u32,
        server_id: u32,
        event_bytes: u32,
    ) -> Result<Option<SourceEvent>, SourceError> {
        let Some((_, table)) = self.tables.get(&re.table_id()) else {
            return Ok(None);
        };
        let table = table.clone();
        let kind = match re {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                ChangeKind::Insert
            }
            RowsEventData::UpdateRowsEventV1(_)
            | RowsEventData::UpdateRowsEvent(_)
            | RowsEventData::PartialUpdateRowsEvent(_) => ChangeKind::Update,
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                ChangeKind::Delete
            }
        };
        if !self.unnamed_columns {
            self.refuse_partial_images(re, &table)?;
        }
        let rows = decode_rows(re, &table)?;
        let first_index = self.txn.next_index;
        self.txn.next_index = first_index.saturating_add(rows.len() as u32);
        let transaction_id = self
            .txn
            .id
            .clone()
            .unwrap_or_else(|| Arc::from(self.here()));
        Ok(Some(SourceEvent::Rows(RowsChunk {
            table,
            kind,
            rows,
            timestamp,
            transaction_id,
            first_index,
            position: Arc::from(self.here()),
            server_id,
            event_bytes,
        })))
    }

    /// A session can write MINIMAL or NOBLOB row images whatever the global setting: columns
    /// missing from an image would be sent as NULL (and a missing key would split every UPDATE).
    /// Such an event stops the project, naming the table, the position and the setting.
    fn refuse_partial_images(
        &self,
        re: &RowsEventData<'_>,
        table: &SourceTable,
    ) -> Result<(), SourceError> {
        let n = table.columns.len();
        let name = |i: usize| table.columns[i].name.as_str();
        let before: Vec<&str> = re
            .columns_before_image()
            .map(|bits| {
                (0..n)
                    .filter(|&i| !bits.get(i).is_some_and(|b| *b))
                    .map(name)
                    .collect()
            })
            .unwrap_or_default();
        let after: Vec<&str> = re
            .columns_after_image()
            .map(|bits| {
                (0..n)
                    .filter(|&i| !bits.get(i).is_some_and(|b| *b))
                    .map(name)
                    .collect()
            })
            .unwrap_or_default();
        for (which, cols) in [("before", before), ("after", after)] {
            if !cols.is_empty() {
                return Err(SourceError::NotCarriable {
                    database: table.database.clone(),
                    table: table.table.clone(),
                    position: self.here(),
                    message: format!(
                        "its {which} image lacks columns {cols:?} (written with binlog_row_image=MINIMAL or NOBLOB by a session or the server); set binlog_row_image=FULL globally and in every session writing this table, then resume from a position after this event (or re-snapshot the table)"
                    ),
                });
            }
        }
        Ok(())
    }

    fn verify_checksum(&self, ev: &Event) -> Result<(), SourceError> {
        let footer = ev.footer();
        if footer.get_checksum_enabled()
            && matches!(
                footer.get_checksum_alg(),
                Ok(Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32))
            )
            && let Some(c) = ev.checksum()
            && u32::from_le_bytes(c)
                != ev.calc_checksum(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32)
        {
            return Err(SourceError::Protocol {
                position: self.here(),
                message: format!(
                    "checksum mismatch in event type {}",
                    ev.header().event_type_raw()
                ),
            });
        }
        Ok(())
    }
}

/// The DML verb a statement starts with (`INSERT`, `REPLACE`, `UPDATE`, `DELETE`, `LOAD`), if any.
fn dml_verb(sql: &str) -> Option<&'static str> {
    let first = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())?;
    ["INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD"]
        .into_iter()
        .find(|v| first.eq_ignore_ascii_case(v))
}

/// The table a single-table DML statement writes: `INSERT [modifiers] [INTO] t`, `REPLACE [INTO]
/// t`, `UPDATE [modifiers] t`, `DELETE [modifiers] FROM t`, `LOAD DATA ... INTO TABLE t`; `t` may
/// be `db.t` and backquoted. `None` for forms it cannot name one table of (multi-table).
fn dml_target(sql: &str, default_db: &str) -> Option<(String, String)> {
    const SKIP: &[&str] = &[
        "LOW_PRIORITY",
        "DELAYED",
        "HIGH_PRIORITY",
        "IGNORE",
        "QUICK",
        "INTO",
        "FROM",
        "CONCURRENT",
        "LOCAL",
        "DATA",
        "XML",
    ];
    let words: Vec<&str> = sql.split_whitespace().collect();
    let verb = words.first()?;
    let rest: &[&str] = if verb.eq_ignore_ascii_case("LOAD") {
        // LOAD DATA ... INTO TABLE t
        let at = words.windows(2).position(|w| {
            w[0].eq_ignore_ascii_case("INTO") && w[1].eq_ignore_ascii_case("TABLE")
        })?;
        &words[at + 2..]
    } else {
        &words[1..]
    };
    let name = rest
        .iter()
        .find(|w| !SKIP.iter().any(|s| w.eq_ignore_ascii_case(s)))?;
    // Cut at what follows a table name without a space: `t(a,b)`, `t,u` (multi-table: refuse).
    let name = name.split('(').next()?;
    if name.contains(',') || name.is_empty() {
        return None;
    }
    let unquote = |s: &str| s.trim_matches('`').to_string();
    match name.split_once("`.`").or_else(|| name.split_once('.')) {
        Some((db, t)) => Some((unquote(db), unquote(t))),
        None => Some((default_db.to_string(), unquote(name))),
    }
}

#[cfg(test)]
mod dml_tests {
    use super::{dml_target, dml_verb};

    #[test]
    fn statement_dml_names_its_table() {
        let t = |sql: &str| dml_target(sql, "d");
        let dt = |db: &str, t: &str| Some((db.to_string(), t.to_string()));
        assert_eq!(t("INSERT INTO t VALUES (1)"), dt("d", "t"));
        assert_eq!(
            t("insert low_priority ignore into `x`.`y`(a) values (1)"),
            dt("x", "y")
        );
        assert_eq!(t("REPLACE t SET a = 1"), dt("d", "t"));
        assert_eq!(t("UPDATE IGNORE e.t SET v = 1"), dt("e", "t"));
        assert_eq!(t("DELETE QUICK FROM `t` WHERE id = 1"), dt("d", "t"));
        assert_eq!(t("LOAD DATA LOCAL INFILE 'f' INTO TABLE t2"), dt("d", "t2"));
        assert_eq!(t("UPDATE t1,t2 SET t1.a = 1"), None);
        assert_eq!(dml_verb("  insert into t values (1)"), Some("INSERT"));
        assert_eq!(dml_verb("CREATE TABLE t (id INT)"), None);
        assert_eq!(dml_verb("BEGIN"), None);
    }
}
