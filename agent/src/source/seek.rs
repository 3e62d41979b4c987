//! Finding the binlog position of a point in time, for projects that start at a Unix timestamp
//! instead of "now": the first transaction whose events are stamped at or after the timestamp.
//!
//! The binlog files are listed with `SHOW BINARY LOGS`; each file's first event tells when it
//! starts; the newest file starting at or before the timestamp is scanned (non-blocking dump)
//! until the first transaction start at or after it. A timestamp older than the oldest binlog
//! is an error (that history was purged), never a silent skip.

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Row};
use mysql_common::binlog::events::EventData;

use super::connect::SourceOptions;
use super::error::SourceError;
use super::events::{ANONYMOUS_GTID, GTID, MARIADB_GTID, QUERY, parsed_data_of};
use super::position::Position;

/// Event types that start a transaction or a standalone statement (boundaries).
fn starts_group(ev: &mysql_common::binlog::events::Event) -> bool {
    let t = ev.header().event_type_raw();
    if t == MARIADB_GTID {
        return true;
    }
    match parsed_data_of(ev, &[QUERY, GTID, ANONYMOUS_GTID]) {
        Ok(Some(EventData::GtidEvent(_) | EventData::AnonymousGtidEvent(_))) => true,
        Ok(Some(EventData::QueryEvent(q))) => {
            let sql = q.query();
            !sql.starts_with('#') && !sql.trim().eq_ignore_ascii_case("COMMIT")
        }
        _ => false,
    }
}

/// The server's binlog files, oldest first (`SHOW BINARY LOGS`).
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query("SHOW BINARY LOGS").await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get_opt::<String, _>(0).and_then(Result::ok))
        .collect())
}

/// Returns the position of the first transaction at or after `timestamp` (seconds).
pub async fn position_at(opts: &SourceOptions, timestamp: u64) -> Result<Position, SourceError> {
    let setup = |message: String| SourceError::Setup {
        addr: opts.addr(),
        message,
    };
    let mut conn = opts.connect().await?;
    let files = binlog_files(&mut conn).await.map_err(|e| {
        setup(format!(
            "cannot list binary logs (needs REPLICATION CLIENT / BINLOG MONITOR): {e}"
        ))
    })?;
    let end = opts.current_position(&mut conn).await?;
    let _ = conn.disconnect().await;
    if files.is_empty() {
        return Err(setup("the server lists no binary logs".into()));
    }
    // The newest file whose first event is not after the timestamp.
    let mut chosen = None;
    for (i, file) in files.iter().enumerate().rev() {
        let first = first_event_time(opts, file).await?;
        if u64::from(first) <= timestamp {
            chosen = Some(i);
            break;
        }
        if i == 0 {
            return Err(setup(format!(
                "start timestamp {timestamp} is older than the oldest binary log {file} (it starts at {first}); that history was purged, choose a later start"
            )));
        }
    }
    let Some(from) = chosen else {
        return Ok(end);
    };
    for file in &files[from..] {
        if let Some(p) = scan_file(opts, file, timestamp).await? {
            return Ok(p);
        }
    }
    Ok(end)
}

/// Opens a non-blocking dump of one whole binlog file (it ends at the file's current end).
async fn open_file(opts: &SourceOptions, file: &str) -> Result<BinlogStream, SourceError> {
    let mut conn = opts.connect().await?;
    // MariaDB only (MySQL ignores the variable): makes GTID events visible as group starts.
    let _ = conn.query_drop("SET @mariadb_slave_capability=4").await;
    let req = BinlogStreamRequest::new(opts.server_id)
        .with_filename(file.as_bytes())
        .with_pos(4)
        .with_non_blocking();
    conn.get_binlog_stream(req)
        .await
        .map_err(|e| SourceError::Server {
            addr: opts.addr(),
            message: e.to_string(),
        })
}

async fn first_event_time(opts: &SourceOptions, file: &str) -> Result<u32, SourceError> {
    let mut stream = open_file(opts, file).await?;
    let mut found = 0;
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(|e| SourceError::Disconnected {
            addr: opts.addr(),
            message: e.to_string(),
        })?;
        // Skip the artificial rotate (timestamp 0); the format description carries the file's start.
        if ev.header().timestamp() != 0 {
            found = ev.header().timestamp();
            break;
        }
    }
    drop(stream);
    Ok(found)
}

async fn scan_file(
    opts: &SourceOptions,
    file: &str,
    timestamp: u64,
) -> Result<Option<Position>, SourceError> {
    let mut stream = open_file(opts, file).await?;
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(|e| SourceError::Disconnected {
            addr: opts.addr(),
            message: e.to_string(),
        })?;
        let h = ev.header();
        if h.log_pos() == 0 || u64::from(h.timestamp()) < timestamp || !starts_group(&ev) {
            continue;
        }
        let start = u64::from(h.log_pos()).saturating_sub(u64::from(h.event_size()));
        return Ok(Some(Position {
            file: file.to_string(),
            offset: start,
            gtid: None,
            timestamp: h.timestamp(),
            sequence: 0,
        }));
    }
    Ok(None)
}
