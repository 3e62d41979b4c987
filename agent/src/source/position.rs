//! A binlog position: where a resumed stream starts.
//!
//! Invariant: `file`/`offset` always point at a transaction boundary (the end of a COMMIT/XID or
//! DDL event, or a position the server reported), never into the middle of a transaction.

use serde::{Deserialize, Serialize};

/// A resumable position in the source's binlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Binlog file name.
    pub file: String,
    /// Byte offset in the file of the next event to read.
    pub offset: u64,
    /// The last committed GTID, when the server has GTIDs.
    #[serde(default)]
    pub gtid: Option<String>,
    /// Commit time (seconds since the epoch) of the last transaction before this position.
    #[serde(default)]
    pub timestamp: u32,
    /// The last stream sort sequence (`storeDataSequence`, `scn`) given to a message before this
    /// position, so a resumed stream numbers on from it; 0 before any (set by the project).
    #[serde(default)]
    pub sequence: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)
    }
}
