//! Row changes: one INSERT, UPDATE or DELETE of one row, with where it came from.
//!
//! Invariant: `before` is present for UPDATE and DELETE, `after` for INSERT and UPDATE.
//! `meta.dedupe_key` is the same every time the same change is delivered, so consumers can drop
//! duplicates after a crash.

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// The kind of a row change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    /// A new row.
    Insert,
    /// A changed row (before and after images).
    Update,
    /// A removed row.
    Delete,
}

impl ChangeKind {
    /// Returns the variant name as the ABI carries it: `Insert`, `Update` or `Delete`.
    pub fn as_variant(self) -> &'static str {
        match self {
            ChangeKind::Insert => "Insert",
            ChangeKind::Update => "Update",
            ChangeKind::Delete => "Delete",
        }
    }

    /// Returns the OMS record type name: `INSERT`, `UPDATE` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Update => "UPDATE",
            ChangeKind::Delete => "DELETE",
        }
    }
}

/// Where and when a change happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeMeta {
    /// Commit time of the transaction, seconds since the Unix epoch.
    pub timestamp: u32,
    /// The transaction id: the GTID when the server has one, else `file:offset` of its first event.
    pub transaction_id: String,
    /// The binlog position (`file:offset`) of the row event that carried this change.
    pub position: String,
    /// The index of this change within its transaction, from 0.
    pub index_in_transaction: u32,
    /// A key that is identical every time this change is delivered: `transaction_id#index`.
    pub dedupe_key: String,
    /// The originating server id from the event header.
    pub server_id: u32,
    /// The message's number among the project's messages of its transaction, from 1, counted
    /// after every filter: no gaps for filtered rows, and the two halves of a split key-changing
    /// UPDATE numbered apart (SharePlex `seq`). 0 from a host that does not number.
    #[serde(default)]
    pub sequence_in_transaction: u32,
    /// The stream's sort sequence (Default `storeDataSequence`, SharePlex `scn`): the commit
    /// second times 100 000 plus a counter that increments along the stream within the second.
    /// Strictly increasing along a project's stream, so sorting by it gives commit order; past
    /// 99 999 changes in one second (or when the commit time steps back) it is the previous
    /// value plus one, running ahead of the commit second until the stream catches up. The same
    /// change gets the same value when it is delivered again. 0 from a host that does not number.
    #[serde(default)]
    pub stream_sequence: u64,
}

/// One row change of one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    /// Index of the table's schema in the batch's `schemas`.
    pub table: u32,
    /// INSERT, UPDATE or DELETE.
    pub kind: ChangeKind,
    /// The row before the change (UPDATE, DELETE).
    pub before: Option<Vec<Value>>,
    /// The row after the change (INSERT, UPDATE).
    pub after: Option<Vec<Value>>,
    /// Provenance.
    pub meta: ChangeMeta,
}

impl RowChange {
    /// Returns the image that identifies the row: the after image, or the before image for DELETE.
    pub fn key_image(&self) -> Option<&[Value]> {
        self.after.as_deref().or(self.before.as_deref())
    }
}
