//! The replica loop: one binlog stream, turned into [`SourceEvent`]s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
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
    rotate_name_before_fde,
};
use crate::checkpoint::Position;
use crate::schema::{SourceTable, from_table_map};

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
}

impl BinlogReader {
    /// Connects and starts streaming at `start`, or at the server's current end when `None`.
    /// Returns the reader and the position it started from.
    pub async fn start(
        opts: SourceOptions,
        start: Option<Position>,
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
            let ev = match tokio::time::timeout(self.read_timeout, self.stream.next()).await {
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
            if let Some(out) = self.handle(ev, carried)? {
                return Ok(out);
            }
        }
    }

    fn handle(
        &mut self,
        ev: Event,
        carried: &(dyn Fn(&str, &str) -> bool + Sync),
    ) -> Result<Option<SourceEvent>, SourceError> {
        let header = ev.header();
        self.verify_checksum(&ev)?;
        let artificial = header.log_pos() == 0 || header.flags_raw() & 0x20 != 0;
        let event_start =
            u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        let protocol =
            |position: String, message: String| SourceError::Protocol { position, message };
        let data = ev.read_data().map_err(|e| {
            protocol(
                self.here(),
                format!("event type {}: {e}", header.event_type_raw()),
            )
        })?;
        let result = match data {
            None => self.handle_raw(&ev, header.event_type_raw(), event_start)?,
            Some(EventData::FormatDescriptionEvent(_)) => {
                self.seen_fde = true;
                None
            }
            Some(EventData::RotateEvent(r)) => {
                let name = if self.seen_fde {
                    r.name_raw().to_vec()
                } else {
                    rotate_name_before_fde(&ev)
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
                    let table = from_table_map(&tme)?;
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
                self.rows(&re, header.timestamp(), header.server_id())?
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
                    // COMMIT of a non-transactional group, or DDL: both end a group.
                    Some(self.commit(header.log_pos(), header.timestamp()))
                }
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
    }
}
