//! The replica loop: one binlog stream, turned into [`SourceEvent`]s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use mysql_common::binlog::consts::BinlogChecksumAlg;
use mysql_common::binlog::events::{Event, EventData, RowsEventData};
use obsync_sdk::ChangeKind;

use super::connect::{Flavor, SourceOptions};
use super::decode::{DecodedRow, decode_rows};
use super::error::SourceError;
use super::events::{
    MARIADB_COMPRESSED_FIRST, MARIADB_COMPRESSED_LAST, MARIADB_GTID, mysql_gtid, parse_maria_gtid,
    parsed_data, rotate_name_before_fde,
};
use crate::checkpoint::Position;
use crate::schema::catalog::table_schema;
use crate::schema::ddl::{self, Ddl};
use crate::schema::history::SchemaHistory;
use crate::schema::{SchemaError, SourceTable, from_table_map, from_table_map_and_catalog};

/// The rows of one ROWS event of a carried table.
#[derive(Debug)]
pub struct RowsChunk {
    /// The table the rows belong to.
    pub table: Arc<SourceTable>,
    /// INSERT, UPDATE or DELETE.
    pub kind: ChangeKind,
    /// The decoded rows, in event order.
    pub rows: Vec<DecodedRow>,
    /// Event time (seconds since the epoch).
    pub timestamp: u32,
    /// The transaction id: GTID, or `file:offset` of the transaction's first event.
    pub transaction_id: Arc<str>,
    /// Index of the first row of this chunk within its transaction.
    pub first_index: u32,
    /// `file:offset` (end offset) of the ROWS event.
    pub position: Arc<str>,
    /// The originating server id.
    pub server_id: u32,
    /// Size of the ROWS event in the binlog.
    pub event_bytes: u32,
}

/// What the reader produces.
#[derive(Debug)]
pub enum SourceEvent {
    /// Rows of a carried table.
    Rows(RowsChunk),
    /// A transaction (or a standalone statement such as DDL) ended; resuming from this position
    /// starts after it.
    Commit(Position),
    /// The server is alive and idle.
    Heartbeat,
}

#[derive(Default)]
struct Txn {
    active: bool,
    id: Option<Arc<str>>,
    gtid: Option<String>,
    next_index: u32,
}

/// A connected binlog stream with its decoding state.
pub struct BinlogReader {
    opts: SourceOptions,
    flavor: Flavor,
    stream: BinlogStream,
    tables: HashMap<u64, (Vec<u8>, Arc<SourceTable>)>,
    file: String,
    pos: u64,
    seen_fde: bool,
    read_timeout: Duration,
    txn: Txn,
    last_gtid: Option<String>,
    /// Event bytes received and not yet taken by [`BinlogReader::take_bytes_read`].
    bytes_read: u64,
    /// Versioned table descriptions, for table maps without column names.
    history: SchemaHistory,
    /// Whether DDL is followed into the history (the server sends no column names).
    track_schemas: bool,
    /// Tables whose description was read from the catalog since their last DDL (a mismatch then
    /// is final).
    catalog_fresh: HashSet<(String, String)>,
    /// A table whose description the current event needs.
    want_catalog: Option<(String, String)>,
    /// The SQL connection used for catalog reads, opened on first use.
    catalog_conn: Option<mysql_async::Conn>,
}

impl BinlogReader {
    /// Connects and starts streaming at `start`, or at the server's current end when `None`.
    /// Returns the reader and the position it started from.
    ///
    /// `schemas` keeps the versions of tables whose table maps carry no column names; when the
    /// server sends no column names, the tables of `databases` not in it yet are described from
    /// `information_schema` now, as of the start position.
    pub async fn start(
        opts: SourceOptions,
        start: Option<Position>,
        schemas: sled::Tree,
        databases: &[String],
    ) -> Result<(Self, Position), SourceError> {
        let mut conn = opts.connect().await?;
        let flavor = opts.flavor(&mut conn).await?;
        let start = match start {
            Some(p) => p,
            None => opts.current_position(&mut conn).await?,
        };
        let setup = |e: mysql_async::Error| SourceError::Connect {
            addr: opts.addr(),
            user: opts.user.clone(),
            message: e.to_string(),
        };
        let history_err = |e: crate::schema::history::HistoryError| SourceError::Protocol {
            position: start.to_string(),
            message: e.to_string(),
        };
        let mut history = SchemaHistory::load(schemas, (start.file.as_str(), start.offset))
            .map_err(history_err)?;
        let metadata: Option<String> = conn
            .query_first("SELECT @@binlog_row_metadata")
            .await
            .unwrap_or(None);
        // With FULL metadata every table map names its columns: no history to keep.
        let track_schemas = !metadata.is_some_and(|m| m.eq_ignore_ascii_case("FULL"));
        if track_schemas {
            for db in databases {
                let tables: Vec<String> = conn
                    .exec(
                        "SELECT TABLE_NAME FROM information_schema.TABLES \
                         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
                        (db.as_str(),),
                    )
                    .await
                    .map_err(setup)?;
                for table in tables {
                    let name = (db.clone(), table);
                    if history.get(&name).is_some() {
                        continue;
                    }
                    if let Some(t) = table_schema(&mut conn, &name.0, &name.1)
                        .await
                        .map_err(setup)?
                    {
                        history
                            .set(name, Some(t), (start.file.as_str(), start.offset))
                            .map_err(history_err)?;
                    }
                }
            }
        }
        if flavor == Flavor::MariaDb {
            conn.query_drop("SET @mariadb_slave_capability=4")
                .await
                .map_err(setup)?;
        }
        let period_ns = opts.heartbeat.as_nanos().min(u64::MAX as u128);
        conn.query_drop(format!("SET @master_heartbeat_period={period_ns}"))
            .await
            .map_err(setup)?;
        let file = start.file.clone();
        let request = BinlogStreamRequest::new(opts.server_id)
            .with_filename(file.as_bytes())
            .with_pos(start.offset);
        let stream =
            match tokio::time::timeout(opts.connect_timeout, conn.get_binlog_stream(request)).await
            {
                Err(_) => {
                    return Err(SourceError::Disconnected {
                        addr: opts.addr(),
                        message: "timed out requesting the binlog stream".into(),
                    });
                }
                Ok(Err(mysql_async::Error::Server(e))) => {
                    return Err(SourceError::Server {
                        addr: opts.addr(),
                        message: e.to_string(),
                    });
                }
                Ok(Err(e)) => return Err(setup(e)),
                Ok(Ok(s)) => s,
            };
        let read_timeout = opts.heartbeat * 3 + Duration::from_secs(1);
        tracing::info!(addr = %opts.addr(), ?flavor, position = %start, "binlog stream started");
        let reader = BinlogReader {
            opts,
            flavor,
            stream,
            tables: HashMap::new(),
            file: start.file.clone(),
            pos: start.offset,
            seen_fde: false,
            read_timeout,
            txn: Txn::default(),
            last_gtid: start.gtid.clone(),
            bytes_read: 0,
            history,
            track_schemas,
            catalog_fresh: HashSet::new(),
            want_catalog: None,
            catalog_conn: None,
        };
        Ok((reader, start))
    }

    /// Returns the server flavour.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn disconnected(&self, message: String) -> SourceError {
        SourceError::Disconnected {
            addr: self.opts.addr(),
            message,
        }
    }

    /// Returns the binlog bytes received since the last call.
    pub fn take_bytes_read(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_read)
    }

    fn here(&self) -> String {
        format!("{}:{}", self.file, self.pos)
    }

    /// Reads until the next event worth reporting. `carried(db, table)` says which tables to decode;
    /// rows of other tables are skipped without decoding.
    pub async fn next(
        &mut self,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<SourceEvent, SourceError> {
        loop {
            // mysql_common's event parser can panic on a malformed event (it unwraps a short
            // read): that becomes a protocol error here, never a dead task.
            let next = std::panic::AssertUnwindSafe(self.stream.next()).catch_unwind();
            let ev = match tokio::time::timeout(self.read_timeout, next).await {
                Ok(Err(panic)) => {
                    let detail = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("unknown");
                    return Err(SourceError::Protocol {
                        position: self.here(),
                        message: format!("malformed event: the event parser failed ({detail})"),
                    });
                }
                Ok(Ok(next)) => Ok(next),
                Err(elapsed) => Err(elapsed),
            };
            let ev = match ev {
                Err(_) => {
                    return Err(self.disconnected(format!(
                        "no event or heartbeat for {:?}",
                        self.read_timeout
                    )));
                }
                Ok(None) => return Err(self.disconnected("the server closed the stream".into())),
                Ok(Some(Err(mysql_async::Error::Server(e)))) => {
                    return Err(SourceError::Server {
                        addr: self.opts.addr(),
                        message: e.to_string(),
                    });
                }
                Ok(Some(Err(e))) => return Err(self.disconnected(e.to_string())),
                Ok(Some(Ok(ev))) => ev,
            };
            self.bytes_read += u64::from(ev.header().event_size());
            loop {
                let out = self.handle(&ev, carried)?;
                match self.want_catalog.take() {
                    // The event needs a table description first: read it, then handle it again.
                    Some(key) => self.read_catalog(key).await?,
                    None => match out {
                        Some(out) => return Ok(out),
                        None => break,
                    },
                }
            }
        }
    }

    /// Reads a table's description from `information_schema` into the cache.
    async fn read_catalog(&mut self, key: (String, String)) -> Result<(), SourceError> {
        if self.catalog_conn.is_none() {
            self.catalog_conn = Some(self.opts.connect().await?);
        }
        let Some(conn) = self.catalog_conn.as_mut() else {
            return Ok(());
        };
        let read = table_schema(conn, &key.0, &key.1).await;
        let table = match read {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(SchemaError::CatalogMismatch {
                    database: key.0,
                    table: key.1,
                    message: "it is not in information_schema any more".into(),
                }
                .into());
            }
            Err(e) => {
                self.catalog_conn = None;
                return Err(self.disconnected(format!("cannot read information_schema: {e}")));
            }
        };
        tracing::info!(database = %key.0, table = %key.1, columns = table.columns.len(), position = %self.here(), "table described by information_schema");
        self.catalog_fresh.insert(key.clone());
        let file = self.file.clone();
        self.history
            .set(key, Some(table), (file.as_str(), self.pos))
            .map_err(|e| SourceError::Protocol {
                position: self.here(),
                message: e.to_string(),
            })?;
        Ok(())
    }

    /// Builds a carried table's schema from its table map, with `information_schema` when the
    /// map has no column names; `Ok(None)` when the description must be read first.
    fn table_schema(
        &mut self,
        tme: &mysql_common::binlog::events::TableMapEvent<'_>,
    ) -> Result<Option<SourceTable>, SourceError> {
        match from_table_map(tme) {
            Ok(t) => Ok(Some(t)),
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
                    _ => h.forget(&name),
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
                        h.forget(&name);
                        if let Some(to) = rename {
                            h.forget(&to);
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
                        _ => h.forget(&to),
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
                h.forget(&name);
            }
            Ddl::Other => {}
        }
        for name in touched {
            self.catalog_fresh.remove(&name);
        }
        Ok(())
    }

    fn handle(
        &mut self,
        ev: &Event,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<Option<SourceEvent>, SourceError> {
        let header = ev.header();
        self.verify_checksum(ev)?;
        let artificial = header.log_pos() == 0 || header.flags_raw() & 0x20 != 0;
        let event_start =
            u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        let protocol =
            |position: String, message: String| SourceError::Protocol { position, message };
        let data = parsed_data(ev).map_err(|e| {
            protocol(
                self.here(),
                format!("event type {}: {e}", header.event_type_raw()),
            )
        })?;
        let result = match data {
            None => self.handle_raw(ev, header.event_type_raw(), event_start)?,
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
                    let Some(table) = self.table_schema(&tme)? else {
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
                self.pos = u64::from(header.log_pos());
                self.rows(
                    &re,
                    header.timestamp(),
                    header.server_id(),
                    header.event_size(),
                )?
            }
            Some(EventData::XidEvent(_)) => Some(self.commit(header.log_pos(), header.timestamp())),
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
                } else {
                    if !sql.eq_ignore_ascii_case("COMMIT") {
                        // DDL: decoded table maps may be stale now (a renamed column keeps an
                        // identical table map), and the history follows the statement.
                        self.tables.clear();
                        if self.track_schemas {
                            let default_db = q.schema().into_owned();
                            self.follow_ddl(sql, &default_db, header.log_pos())?;
                        }
                    }
                    // COMMIT of a non-transactional group, or DDL: both end a group.
                    Some(self.commit(header.log_pos(), header.timestamp()))
                }
            }
            Some(EventData::TransactionPayloadEvent(_)) => {
                // Skipping it would lose the transaction's rows.
                return Err(SourceError::Protocol {
                    position: self.here(),
                    message: "compressed transaction payload (MySQL binlog_transaction_compression=ON) is not supported yet: set binlog_transaction_compression=OFF on the source".into(),
                });
            }
            Some(_) => None,
        };
        if !artificial {
            self.pos = u64::from(header.log_pos());
        }
        Ok(result)
    }

    fn handle_raw(
        &mut self,
        ev: &Event,
        kind: u8,
        event_start: u64,
    ) -> Result<Option<SourceEvent>, SourceError> {
        match kind {
            MARIADB_GTID => {
                let g = parse_maria_gtid(ev.data(), ev.header().server_id()).ok_or_else(|| {
                    SourceError::Protocol {
                        position: self.here(),
                        message: "truncated MariaDB GTID event".into(),
                    }
                })?;
                self.begin(Some(g.text), event_start);
            }
            MARIADB_COMPRESSED_FIRST..=MARIADB_COMPRESSED_LAST => {
                return Err(SourceError::Setup {
                    addr: self.opts.addr(),
                    message: format!(
                        "compressed binlog event (type {kind}) at {}: set log_bin_compress=OFF on the server",
                        self.here()
                    ),
                });
            }
            _ => {}
        }
        Ok(None)
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
        };
    }

    fn commit(&mut self, log_pos: u32, timestamp: u32) -> SourceEvent {
        let txn = std::mem::take(&mut self.txn);
        if txn.gtid.is_some() {
            self.last_gtid = txn.gtid;
        }
        self.pos = u64::from(log_pos);
        SourceEvent::Commit(Position {
            file: self.file.clone(),
            offset: self.pos,
            gtid: self.last_gtid.clone(),
            timestamp,
        })
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

    /// Closes the stream politely.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.close()).await;
        if let Some(conn) = self.catalog_conn {
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
        }
    }
}
