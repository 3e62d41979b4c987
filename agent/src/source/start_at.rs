//! Explicit start positions as the binlog reader carries them: a GTID start is a [`Position`]
//! with an empty file name and the set in `gtid` (the set's text was checked when the config was
//! loaded, `config/start.rs`), which the reader turns into a GTID dump request (MariaDB
//! `@slave_connect_state`, MySQL `COM_BINLOG_DUMP_GTID`); the server then names the file in its
//! first ROTATE event.
//!
//! Invariant: a position the server no longer has is the server's error (1236), reported, never
//! skipped.

use super::position::Position;

/// The position of a file and offset start.
pub fn file_start(file: &str, offset: u64) -> Position {
    Position {
        file: file.to_string(),
        offset,
        gtid: None,
        timestamp: 0,
        sequence: 0,
    }
}

/// The position of a project that starts after `gtid_set`.
pub fn gtid_start(gtid_set: &str) -> Position {
    Position {
        file: String::new(),
        offset: 4,
        gtid: Some(gtid_set.trim().to_string()),
        timestamp: 0,
        sequence: 0,
    }
}

/// True for a position that asks for a GTID start (see [`gtid_start`]).
pub fn is_gtid_start(p: &Position) -> bool {
    p.file.is_empty() && p.gtid.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gtid_start_is_recognised() {
        assert!(is_gtid_start(&gtid_start("0-1-5")));
        assert!(!is_gtid_start(&file_start("mysql-bin.000001", 4)));
    }
}
