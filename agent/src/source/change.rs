//! What the binlog source produces: the rows of one ROWS event of a carried table, and the
//! commit points between transactions. The types sit below the decoder and the transaction
//! bookkeeping (XA branches, savepoints) that both hold rows.
//!
//! Invariant: a [`SourceEvent::Commit`] carries a position at a transaction boundary.

use std::sync::Arc;

use obsync_sdk::ChangeKind;

use super::decode::DecodedRow;
use super::position::Position;
use crate::schema::SourceTable;

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
