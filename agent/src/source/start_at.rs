//! Explicit start positions of a new project: a binlog file and offset (`options.start_position`)
//! or a GTID set (`options.start_gtid`, MariaDB `domain-server-seq[,…]` or MySQL
//! `uuid:interval[:interval][,…]`).
//!
//! Invariants: text is checked when the config is loaded, with an error naming the value; a
//! GTID start is carried as a [`Position`] with an empty file name and the set in `gtid`, which
//! the reader turns into a GTID dump request (MariaDB `@slave_connect_state`, MySQL
//! `COM_BINLOG_DUMP_GTID`); the server then names the file in its first ROTATE event. A
//! position the server no longer has is the server's error (1236), reported, never skipped.

use mysql_common::packets::Sid;

use crate::checkpoint::Position;

/// A parsed GTID set, in the server flavour it was written for.
#[derive(Debug, Clone, PartialEq)]
pub enum GtidSet {
    /// MariaDB: `domain-server-seq` per domain; the stream starts after these.
    MariaDb(String),
    /// MySQL (and the OceanBase binlog service): the transactions already seen.
    MySql(Vec<Sid<'static>>),
}

/// Parses `file:offset` (offset at least 4, the size of the binlog magic).
pub fn parse_file_offset(text: &str) -> Result<Position, String> {
    let bad = || format!("{text:?} is not `binlog-file:offset`, such as \"mysql-bin.000042:1234\"");
    let (file, offset) = text.trim().rsplit_once(':').ok_or_else(bad)?;
    let offset: u64 = offset.parse().map_err(|_| bad())?;
    if file.is_empty() || file.contains(['/', '\\']) || offset < 4 {
        return Err(bad());
    }
    Ok(Position {
        file: file.to_string(),
        offset,
        gtid: None,
        timestamp: 0,
        sequence: 0,
    })
}

/// Parses a MariaDB or MySQL GTID set.
pub fn parse_gtid_set(text: &str) -> Result<GtidSet, String> {
    let text = text.trim();
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if text.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{text:?} is not a GTID set"));
    }
    let maria = |p: &str| {
        let n: Vec<&str> = p.split('-').collect();
        n.len() == 3 && n.iter().all(|x| !x.is_empty() && x.parse::<u64>().is_ok())
    };
    if parts.iter().all(|p| maria(p)) {
        return Ok(GtidSet::MariaDb(parts.join(",")));
    }
    parts
        .iter()
        .map(|p| {
            p.parse::<Sid<'static>>().map_err(|e| {
                format!("{p:?} is neither a MariaDB GTID (domain-server-seq) nor a MySQL GTID set (uuid:1-100): {e}")
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(GtidSet::MySql)
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
    fn parses_file_offsets() {
        let p = parse_file_offset("mysql-bin.000042:1234").unwrap();
        assert_eq!((p.file.as_str(), p.offset), ("mysql-bin.000042", 1234));
        for bad in [
            "",
            "mysql-bin.000042",
            "x:3",
            ":100",
            "x:-1",
            "a/b:100",
            "x:y",
        ] {
            assert!(parse_file_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_gtid_sets_of_both_flavours() {
        assert_eq!(
            parse_gtid_set("0-1-100, 1-2-5").unwrap(),
            GtidSet::MariaDb("0-1-100,1-2-5".into())
        );
        let GtidSet::MySql(sids) = parse_gtid_set(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,3e11fa47-71ca-11e1-9e33-c80aa9429563:1",
        )
        .unwrap() else {
            panic!("not MySQL");
        };
        assert_eq!(sids.len(), 2);
        for bad in [
            "",
            "0-1",
            "0-1-x",
            "abc:1-5",
            "0-1-1,,0-2-2",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562",
        ] {
            assert!(parse_gtid_set(bad).is_err(), "{bad}");
        }
        assert!(is_gtid_start(&gtid_start("0-1-5")));
    }
}
