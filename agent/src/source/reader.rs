//! The replica loop: one binlog stream, turned into [`SourceEvent`]s.

use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use mysql_common::binlog::events::Event;

use super::change::SourceEvent;
use super::connect::{Flavor, SourceOptions};
use super::error::SourceError;
use super::event_decoder::EventDecoder;
use super::payload_copies::LibraryCopies;
use super::position::Position;
use super::start_at::is_gtid_start;
use super::state::SourceState;
use super::xa::XaBranches;
use crate::config::{GtidSet, parse_gtid_set};
use crate::schema::SchemaError;
use crate::schema::catalog::table_schema;
use crate::schema::history::SchemaHistory;

/// A connected binlog stream and its decoder.
pub struct BinlogReader {
    opts: SourceOptions,
    flavor: Flavor,
    stream: BinlogStream,
    read_timeout: Duration,
    /// Event bytes received and not yet taken by [`BinlogReader::take_bytes_read`].
    bytes_read: u64,
    /// The SQL connection used for catalog reads, opened on first use.
    catalog_conn: Option<mysql_async::Conn>,
    /// An event read and not handled yet (kept across a cancelled [`BinlogReader::next`]).
    pending: Option<Event>,
    /// A catalog read is under way (still true after one was cancelled midway).
    catalog_reading: bool,
    /// The server's id of the stream's connection (recorded in [`super::own_streams`]).
    stream_conn_id: u32,
    decoder: EventDecoder,
    /// The library's re-emitted copies of the last payload's inner events, to drop.
    copies: LibraryCopies,
}

impl BinlogReader {
    /// Connects and starts streaming at `start`, or at the server's current end when `None`.
    /// Returns the reader and the position it started from.
    ///
    /// `state` keeps the versions of tables whose table maps carry no column names (when the
    /// server sends no column names, the tables of `databases` not in it yet are described from
    /// `information_schema` now, as of the start position) and the prepared XA branches until
    /// their outcome.
    pub async fn start(
        opts: SourceOptions,
        start: Option<Position>,
        state: SourceState,
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
        let mut history = SchemaHistory::load(state.schemas, (start.file.as_str(), start.offset))
            .map_err(history_err)?;
        let xa_branches = XaBranches::open(state.xa_branches, (start.file.as_str(), start.offset))
            .map_err(|e| SourceError::Protocol {
                position: start.to_string(),
                message: e.to_string(),
            })?;
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
        let stream_conn_id = conn.id();
        super::own_streams::record(&opts.addr(), opts.server_id, &opts.owner, stream_conn_id);
        let mut request = BinlogStreamRequest::new(opts.server_id)
            .with_filename(file.as_bytes())
            .with_pos(start.offset);
        if is_gtid_start(&start) {
            let text = start.gtid.as_deref().unwrap_or_default();
            let wrong = |set: &str| SourceError::Setup {
                addr: opts.addr(),
                message: format!(
                    "options.start_gtid {text:?} is a {set} GTID set, but the server is {flavor:?}"
                ),
            };
            match (parse_gtid_set(text), flavor) {
                (Ok(GtidSet::MariaDb(set)), Flavor::MariaDb) => {
                    // Digits, dashes and commas only (checked by the parser): safe to quote.
                    conn.query_drop(format!("SET @slave_connect_state = '{set}'"))
                        .await
                        .map_err(setup)?;
                }
                (Ok(GtidSet::MariaDb(_)), _) => return Err(wrong("MariaDB")),
                (Ok(GtidSet::MySql(_)), Flavor::MariaDb) => return Err(wrong("MySQL")),
                (Ok(GtidSet::MySql(sids)), _) => request = request.with_gtid().with_gtid_set(sids),
                (Err(e), _) => {
                    return Err(SourceError::Setup {
                        addr: opts.addr(),
                        message: format!("options.start_gtid: {e}"),
                    });
                }
            }
        }
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
        let decoder =
            EventDecoder::new(&start, history, track_schemas).with_xa_branches(xa_branches);
        let reader = BinlogReader {
            opts,
            flavor,
            stream,
            read_timeout,
            bytes_read: 0,
            catalog_conn: None,
            pending: None,
            catalog_reading: false,
            stream_conn_id,
            decoder,
            copies: LibraryCopies::default(),
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

    /// Reads until the next event worth reporting. `carried(db, table)` says which tables to decode;
    /// rows of other tables are skipped without decoding.
    ///
    /// Cancel-safe: the project loop drops this future whenever an acknowledgement or a timer
    /// comes first. An event read from the stream is kept in the reader until it was handled,
    /// so one dropped while its table is being described from the catalog is handled again at
    /// the next call (never lost); a catalog read cut off midway drops its connection.
    pub async fn next(
        &mut self,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<SourceEvent, SourceError> {
        loop {
            if let Some(ev) = self.decoder.next_released() {
                return Ok(ev);
            }
            if self.pending.is_none() {
                self.pending = match self.decoder.next_payload_event()? {
                    Some(ev) => {
                        self.copies.expect(&ev);
                        Some(ev)
                    }
                    None => Some(self.read_event().await?),
                };
            }
            if let Some(out) = self.handle_pending(carried).await? {
                return Ok(out);
            }
        }
    }

    /// Reads the next event from the stream that is not the library's copy of an inner event
    /// obsync already read from its payload (cancel-safe: each read is complete when skipped).
    async fn read_event(&mut self) -> Result<Event, SourceError> {
        loop {
            let ev = self.read_stream_event().await?;
            if !self.copies.is_copy(&ev) {
                self.bytes_read += u64::from(ev.header().event_size());
                return Ok(ev);
            }
        }
    }

    /// Reads the next event from the stream (cancel-safe: `StreamExt::next` loses nothing).
    async fn read_stream_event(&mut self) -> Result<Event, SourceError> {
        // mysql_common's event parser can panic on a malformed event (it unwraps a short
        // read): that becomes a protocol error here, never a dead task.
        let next = std::panic::AssertUnwindSafe(self.stream.next()).catch_unwind();
        let ev = match tokio::time::timeout(self.read_timeout, next).await {
            Ok(Err(panic)) => {
                let detail = crate::panic_text::panic_text(panic.as_ref());
                return Err(SourceError::Protocol {
                    position: self.decoder.here(),
                    message: format!("malformed event: the event parser failed ({detail})"),
                });
            }
            Ok(Ok(next)) => Ok(next),
            Err(elapsed) => Err(elapsed),
        };
        match ev {
            Err(_) => {
                Err(self.disconnected(format!("no event or heartbeat for {:?}", self.read_timeout)))
            }
            Ok(None) => Err(self.disconnected("the server closed the stream".into())),
            Ok(Some(Err(mysql_async::Error::Server(e)))) => Err(SourceError::Server {
                addr: self.opts.addr(),
                message: e.to_string(),
            }),
            // Retrying would meet the same event again, forever.
            Ok(Some(Err(e))) if is_packet_too_large(&e) => Err(SourceError::Protocol {
                position: self.decoder.here(),
                message: format!(
                    "the next event is larger than the client's max_allowed_packet (1 GiB): {e}; obsync cannot carry it: split the transaction's rows (smaller BLOB/TEXT values) or start after it"
                ),
            }),
            Ok(Some(Err(e))) => Err(self.disconnected(e.to_string())),
            Ok(Some(Ok(ev))) => Ok(ev),
        }
    }

    /// Handles the pending event, reading the table descriptions it needs from the catalog
    /// first; the event stays pending until it was handled (or failed).
    async fn handle_pending(
        &mut self,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<Option<SourceEvent>, SourceError> {
        loop {
            let Some(ev) = self.pending.as_ref() else {
                return Ok(None);
            };
            let out = match self.decoder.handle(ev, carried) {
                Ok(out) => out,
                Err(e) => {
                    self.pending = None;
                    return Err(e);
                }
            };
            match self.decoder.take_wanted_catalog() {
                // The event needs a table description first: read it, then handle it again.
                Some(key) => self.read_catalog(key).await?,
                None => {
                    self.pending = None;
                    return Ok(out);
                }
            }
        }
    }

    /// Reads a table's description from `information_schema` into the cache.
    async fn read_catalog(&mut self, key: (String, String)) -> Result<(), SourceError> {
        if self.catalog_reading {
            // The last read was cut off midway: its connection may hold half a result.
            self.catalog_conn = None;
        }
        if self.catalog_conn.is_none() {
            self.catalog_conn = Some(self.opts.connect().await?);
        }
        let Some(conn) = self.catalog_conn.as_mut() else {
            return Ok(());
        };
        self.catalog_reading = true;
        let read = table_schema(conn, &key.0, &key.1).await;
        self.catalog_reading = false;
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
        tracing::info!(database = %key.0, table = %key.1, columns = table.columns.len(), position = %self.decoder.here(), "table described by information_schema");
        self.decoder.described(key, table)
    }

    /// Closes the stream and makes the source forget it at once: the server notices a closed
    /// replica only when a write to it fails, so its dump thread is killed from the catalog
    /// connection (a new project with the same server id must not find it registered).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.close()).await;
        let (addr, server_id, id) = (self.opts.addr(), self.opts.server_id, self.stream_conn_id);
        let owner = self.opts.owner.clone();
        let conn = match self.catalog_conn {
            Some(c) => Ok(c),
            None => tokio::time::timeout(self.opts.connect_timeout, self.opts.connect())
                .await
                .map_err(|_| ())
                .and_then(|r| r.map_err(|_| ())),
        };
        if let Ok(mut conn) = conn {
            let end = super::own_streams::end_one(&mut conn, &addr, server_id, &owner, id);
            let _ = tokio::time::timeout(Duration::from_secs(2), end).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
        }
    }
}

/// Whether a stream error is a packet over the client's `max_allowed_packet` (the library
/// reports it as an I/O error).
fn is_packet_too_large(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Driver(mysql_async::DriverError::PacketTooLarge) => true,
        mysql_async::Error::Io(io) => io.to_string().contains("larger than max_allowed_packet"),
        _ => false,
    }
}

#[cfg(test)]
#[path = "reader_replay_tests.rs"]
mod replay_tests;
