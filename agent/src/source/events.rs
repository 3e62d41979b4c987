//! Hand-parsed event bodies that `mysql_common` does not decode: MariaDB GTID events, the first
//! ROTATE's file name, and MySQL GTID text. All parsers are bounds-checked.

use mysql_common::binlog::events::{Event, EventData};
use mysql_common::proto::MySerialize;

/// MariaDB event type GTID.
pub const MARIADB_GTID: u8 = 162;
/// The XA_PREPARE event (MySQL 5.7.7+, MariaDB 10.5+): an XA branch was prepared.
pub const XA_PREPARE: u8 = 38;

/// Event type QUERY.
pub const QUERY: u8 = 2;
/// Event type GTID (MySQL).
pub const GTID: u8 = 33;
/// Event type ANONYMOUS_GTID (MySQL without GTIDs).
pub const ANONYMOUS_GTID: u8 = 34;

/// The event types obsync parses with `mysql_common`: QUERY, ROTATE, FORMAT_DESCRIPTION, XID,
/// TABLE_MAP, the v1 and v2 ROWS events, HEARTBEAT, GTID, PARTIAL_UPDATE_ROWS and
/// TRANSACTION_PAYLOAD.
const PARSED_TYPES: [u8; 15] = [
    QUERY, 4, 15, 16, 19, 23, 24, 25, 27, 30, 31, 32, GTID, 39, 40,
];

/// Parses an event's body when its type is one obsync uses; any other type comes back as
/// `Ok(None)` unparsed, so a damaged event of a type obsync does not need (a PREVIOUS_GTIDS
/// event's counts, say) cannot make the parser allocate without bound.
pub fn parsed_data(ev: &Event) -> std::io::Result<Option<EventData<'_>>> {
    parsed_data_of(ev, &PARSED_TYPES)
}

/// Parses an event's body when its type is one of `types` (else `Ok(None)`, unparsed).
pub fn parsed_data_of<'a>(ev: &'a Event, types: &[u8]) -> std::io::Result<Option<EventData<'a>>> {
    if types.contains(&ev.header().event_type_raw()) {
        ev.read_data()
    } else {
        Ok(None)
    }
}

/// A MariaDB GTID event: `domain-server-seq`, and whether it starts a standalone (DDL) event group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaGtid {
    /// GTID text `domain-server-seq`.
    pub text: String,
    /// True when the group is a single standalone statement (DDL, non-transactional).
    pub standalone: bool,
    /// The group is an XA branch being prepared (MariaDB logs its `XA START` here): format id,
    /// gtrid and bqual.
    pub xa_branch: Option<(i32, Vec<u8>, Vec<u8>)>,
}

/// MariaDB GTID flags: standalone group, group commit id present, XA branch prepared, XA
/// branch completed.
const FL_STANDALONE: u8 = 0x01;
const FL_GROUP_COMMIT_ID: u8 = 0x02;
const FL_PREPARED_XA: u8 = 0x40;
const FL_COMPLETED_XA: u8 = 0x80;

/// Parses a MariaDB GTID event body (`seq u64, domain u32, flags u8, [commit id u64],
/// [format id i32, gtrid length u8, bqual length u8, xid]`).
pub fn parse_maria_gtid(body: &[u8], server_id: u32) -> Option<MariaGtid> {
    let seq = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let domain = u32::from_le_bytes(body.get(8..12)?.try_into().ok()?);
    let flags = *body.get(12)?;
    let mut at = 13;
    if flags & FL_GROUP_COMMIT_ID != 0 {
        at += 8;
    }
    let xa_branch = if flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
        let format_id = i32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?);
        let gtrid_len = usize::from(*body.get(at + 4)?);
        let bqual_len = usize::from(*body.get(at + 5)?);
        let data = body.get(at + 6..at + 6 + gtrid_len + bqual_len)?;
        let (gtrid, bqual) = data.split_at(gtrid_len);
        (flags & FL_PREPARED_XA != 0).then(|| (format_id, gtrid.to_vec(), bqual.to_vec()))
    } else {
        None
    };
    Some(MariaGtid {
        text: format!("{domain}-{server_id}-{seq}"),
        standalone: flags & FL_STANDALONE != 0,
        xa_branch,
    })
}

/// Formats a MySQL GTID `uuid:gno`.
pub fn mysql_gtid(sid: [u8; 16], gno: u64) -> String {
    let h: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}:{gno}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Returns the file name of a ROTATE event read before the first FORMAT_DESCRIPTION event.
///
/// `mysql_common` does not yet know the checksum algorithm then and leaves the 4 CRC bytes in the
/// name (mysql_async issue #189); they are stripped when they are a valid CRC32 of the event.
pub fn rotate_name_before_fde(ev: &Event) -> Vec<u8> {
    let d = ev.data();
    let name = d.get(8..).unwrap_or_default();
    if name.len() > 4 && d.len() >= 4 {
        let mut header = Vec::with_capacity(19);
        ev.header().serialize(&mut header);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&d[..d.len() - 4]);
        if crc.finalize().to_le_bytes() == d[d.len() - 4..] {
            return name[..name.len() - 4].to_vec();
        }
    }
    name.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mariadb_gtid() {
        let mut body = 20u64.to_le_bytes().to_vec();
        body.extend_from_slice(&0u32.to_le_bytes());
        body.push(0x0c);
        let g = parse_maria_gtid(&body, 1).unwrap();
        assert_eq!(g.text, "0-1-20");
        assert!(!g.standalone);
        body[12] = 0x29;
        assert!(parse_maria_gtid(&body, 1).unwrap().standalone);
        assert_eq!(parse_maria_gtid(&body[..10], 1), None);
    }

    #[test]
    fn parses_the_xa_branch_of_a_mariadb_gtid() {
        let mut body = 7u64.to_le_bytes().to_vec();
        body.extend_from_slice(&0u32.to_le_bytes());
        body.push(FL_PREPARED_XA | FL_GROUP_COMMIT_ID);
        body.extend_from_slice(&99u64.to_le_bytes());
        body.extend_from_slice(&5i32.to_le_bytes());
        body.extend_from_slice(&[2, 1]);
        body.extend_from_slice(b"p3q");
        let g = parse_maria_gtid(&body, 1).unwrap();
        assert_eq!(g.xa_branch, Some((5, b"p3".to_vec(), b"q".to_vec())));
        // The outcome's group names no branch to hold; a truncated xid is a damaged event.
        body[12] = FL_COMPLETED_XA | FL_GROUP_COMMIT_ID | FL_STANDALONE;
        assert_eq!(parse_maria_gtid(&body, 1).unwrap().xa_branch, None);
        assert_eq!(parse_maria_gtid(&body[..body.len() - 1], 1), None);
    }

    #[test]
    fn formats_mysql_gtid() {
        let sid = [
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62,
        ];
        assert_eq!(mysql_gtid(sid, 5), "3e11fa47-71ca-11e1-9e33-c80aa9429562:5");
    }
}
