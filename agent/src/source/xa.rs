//! XA transactions: a branch's rows reach consumers only once the branch commits.
//!
//! MySQL (5.7.7 on) and MariaDB (10.5 on) binlog an XA branch when it is *prepared*: `XA START`
//! (MariaDB: in the group's GTID event), its rows, `XA END`, then an XA_PREPARE event. The outcome is a group of its own, logged later
//! (after other transactions, a rotation, an agent restart): `XA COMMIT xid` or `XA ROLLBACK xid`.
//! A one-phase commit (`XA COMMIT xid ONE PHASE`) is logged as one group (MariaDB: a plain
//! transaction) and delivered at once.
//!
//! The decoder holds a branch's rows from `XA START`; at the PREPARE they are written here (for a
//! project, its sled store, made durable by the same flush that makes a checkpoint past the
//! PREPARE durable), at the COMMIT handed over with the commit, at the ROLLBACK dropped.
//!
//! Invariants: rows of a branch are never delivered before its `XA COMMIT`, and never after an
//! `XA ROLLBACK`; a stored branch is removed only when a stream starts after its outcome (a stream
//! resuming before the `XA COMMIT`, after a crash, finds the branch again); an xid is compared in
//! its binary form (format id, gtrid, bqual), whatever quoting the statement used.

use std::fmt;
use std::sync::Arc;

use obsync_sdk::ChangeKind;
use serde::{Deserialize, Serialize};

use super::change::RowsChunk;
use super::decode::DecodedRow;
use crate::schema::SourceTable;
use crate::schema::history::At;

/// An XA transaction id: format id, global transaction id and branch qualifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Xid {
    format_id: i64,
    gtrid: Vec<u8>,
    bqual: Vec<u8>,
}

impl Xid {
    /// An xid from its parts.
    pub fn new(format_id: i64, gtrid: Vec<u8>, bqual: Vec<u8>) -> Self {
        Xid {
            format_id,
            gtrid,
            bqual,
        }
    }

    /// The xid's part of a store key (prefix-free: lengths before the strings).
    fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.gtrid.len() + self.bqual.len() + 16);
        k.extend_from_slice(&self.format_id.to_be_bytes());
        k.extend_from_slice(&(self.gtrid.len() as u32).to_be_bytes());
        k.extend_from_slice(&self.gtrid);
        k.extend_from_slice(&(self.bqual.len() as u32).to_be_bytes());
        k.extend_from_slice(&self.bqual);
        k
    }
}

impl fmt::Display for Xid {
    /// As servers log it: `X'…',X'…',format_id`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        write!(
            f,
            "X'{}',X'{}',{}",
            hex(&self.gtrid),
            hex(&self.bqual),
            self.format_id
        )
    }
}

/// An XA statement of the binlog.
#[derive(Debug, PartialEq, Eq)]
pub enum XaStatement {
    /// `XA START|BEGIN xid`: the branch's rows follow.
    Start(Xid),
    /// `XA PREPARE xid` (servers log an XA_PREPARE event instead; accepted as a statement too).
    Prepare(Xid),
    /// `XA COMMIT xid [ONE PHASE]`.
    Commit(Xid),
    /// `XA ROLLBACK xid`.
    Rollback(Xid),
    /// `XA END`, `XA RECOVER`: nothing to do.
    Other,
}

/// Parses an XA statement, or `None` for any other statement.
pub fn parse(sql: &str) -> Option<XaStatement> {
    let rest = sql.trim_start();
    let (first, rest) = word(rest)?;
    if !first.eq_ignore_ascii_case("XA") {
        return None;
    }
    let (verb, rest) = word(rest).unwrap_or(("", ""));
    let verb = verb.to_ascii_uppercase();
    let with_xid = |f: fn(Xid) -> XaStatement| xid(rest).map(f).unwrap_or(XaStatement::Other);
    Some(match verb.as_str() {
        "START" | "BEGIN" => with_xid(XaStatement::Start),
        "PREPARE" => with_xid(XaStatement::Prepare),
        "COMMIT" => with_xid(XaStatement::Commit),
        "ROLLBACK" => with_xid(XaStatement::Rollback),
        _ => XaStatement::Other,
    })
}

/// The XA_PREPARE event's body: one-phase flag and the xid.
pub fn prepare_event(data: &[u8]) -> Option<(bool, Xid)> {
    let one_phase = *data.first()? != 0;
    let int = |at: usize| -> Option<i32> {
        Some(i32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let format_id = int(1)?;
    let gtrid_len = usize::try_from(int(5)?).ok()?;
    let bqual_len = usize::try_from(int(9)?).ok()?;
    let gtrid = data.get(13..13 + gtrid_len)?.to_vec();
    let bqual = data
        .get(13 + gtrid_len..13 + gtrid_len + bqual_len)?
        .to_vec();
    Some((
        one_phase,
        Xid {
            format_id: i64::from(format_id),
            gtrid,
            bqual,
        },
    ))
}

fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c.is_whitespace() || c == ',' || c == '\'')
        .unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// `gtrid [, bqual [, format_id]]`, each string a quoted literal, `X'…'` or `0x…`.
fn xid(s: &str) -> Option<Xid> {
    let (gtrid, rest) = literal(s)?;
    let mut xid = Xid {
        format_id: 1,
        gtrid,
        bqual: Vec::new(),
    };
    let Some(rest) = rest.trim_start().strip_prefix(',') else {
        return Some(xid);
    };
    let (bqual, rest) = literal(rest)?;
    xid.bqual = bqual;
    if let Some(rest) = rest.trim_start().strip_prefix(',') {
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        xid.format_id = digits.parse().ok()?;
    }
    Some(xid)
}

/// A string literal and what follows it.
fn literal(s: &str) -> Option<(Vec<u8>, &str)> {
    let s = s.trim_start();
    let hex = |h: &str| -> Option<Vec<u8>> {
        let h = h.as_bytes();
        if !h.len().is_multiple_of(2) {
            return None;
        }
        h.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .collect()
    };
    if let Some(body) = s.strip_prefix("X'").or_else(|| s.strip_prefix("x'")) {
        let end = body.find('\'')?;
        return Some((hex(&body[..end])?, &body[end + 1..]));
    }
    if let Some(body) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let end = body
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(body.len());
        return Some((hex(&body[..end])?, &body[end..]));
    }
    let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = Vec::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, n) = chars.next()?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(n.encode_utf8(&mut buf).as_bytes());
            }
            c if c == quote => {
                let after = &s[1 + i + 1..];
                if after.starts_with(quote) {
                    out.push(quote as u8);
                    chars.next();
                } else {
                    return Some((out, after));
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    None
}

/// A prepared branch could not be stored or read back.
#[derive(Debug, thiserror::Error)]
#[error("prepared XA branch {xid}: {message}")]
pub struct XaError {
    /// The branch.
    pub xid: String,
    /// What went wrong.
    pub message: String,
}

/// A row chunk as stored with its branch.
#[derive(Serialize, Deserialize)]
struct StoredChunk {
    table: usize,
    kind: ChangeKind,
    rows: Vec<DecodedRow>,
    timestamp: u32,
    transaction_id: String,
    first_index: u32,
    position: String,
    server_id: u32,
    event_bytes: u32,
}

/// A prepared branch as stored: its tables once, then its chunks.
#[derive(Serialize, Deserialize)]
struct StoredBranch {
    tables: Vec<SourceTable>,
    chunks: Vec<StoredChunk>,
}

const PREPARED: u8 = b'p';
const COMPLETED: u8 = b'c';

/// The key of a branch prepared at `at` (the position after its PREPARE), or of its outcome.
fn key(kind: u8, xid: &Xid, at: At<'_>) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend_from_slice(&xid.key());
    k.extend_from_slice(&encode_at(at));
    k
}

/// The prepare position at the end of a key.
fn prepared_at(k: &[u8]) -> Option<(String, u64)> {
    let len = |at: usize| -> Option<usize> {
        Some(u32::from_be_bytes(k.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let gtrid_end = 13 + len(9)?;
    let xid_end = gtrid_end + 4 + len(gtrid_end)?;
    decode_at(k.get(xid_end..)?)
}

/// A position as stored: file name, a zero byte, the offset big-endian (sorts in binlog order).
fn encode_at(at: At<'_>) -> Vec<u8> {
    let mut v = at.0.as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(&at.1.to_be_bytes());
    v
}

fn decode_at(v: &[u8]) -> Option<(String, u64)> {
    let zero = v.iter().position(|b| *b == 0)?;
    let file = std::str::from_utf8(&v[..zero]).ok()?.to_string();
    let offset = u64::from_be_bytes(v.get(zero + 1..zero + 9)?.try_into().ok()?);
    Some((file, offset))
}

enum Backend {
    /// Prepared branches in prepare order; a completed one is removed.
    Memory(Vec<(Vec<u8>, Vec<u8>)>),
    Store(sled::Tree),
}

/// The prepared XA branches of one stream, waiting for their outcome.
pub struct XaBranches {
    backend: Backend,
}

impl XaBranches {
    /// Branches kept in memory only (tools and decoder tests on binlog files).
    pub fn in_memory() -> Self {
        XaBranches {
            backend: Backend::Memory(Vec::new()),
        }
    }

    /// The branches stored in `tree`, for a stream starting at `start`: a branch whose outcome
    /// came before `start` is removed, one whose outcome came after it waits for that outcome
    /// again, and one prepared after `start` is removed (it will be prepared again).
    pub fn open(tree: sled::Tree, start: At<'_>) -> Result<Self, XaError> {
        let err = |e: sled::Error| XaError {
            xid: "(stored branches)".into(),
            message: e.to_string(),
        };
        for entry in tree.scan_prefix([PREPARED]) {
            let (k, _) = entry.map_err(err)?;
            let mut done_key = k.to_vec();
            done_key[0] = COMPLETED;
            let done = tree.get(&done_key).map_err(err)?;
            let prepared_after = prepared_at(&k).is_none_or(|(f, o)| (f.as_str(), o) > start);
            let completed_before = done
                .as_deref()
                .and_then(decode_at)
                .is_some_and(|(f, o)| (f.as_str(), o) <= start);
            if prepared_after || completed_before {
                tree.remove(&k).map_err(err)?;
            }
            tree.remove(&done_key).map_err(err)?;
        }
        Ok(XaBranches {
            backend: Backend::Store(tree),
        })
    }

    /// Stores the rows of a branch prepared at `at` (the position after its PREPARE).
    pub fn prepare(
        &mut self,
        xid: &Xid,
        at: At<'_>,
        chunks: Vec<RowsChunk>,
    ) -> Result<(), XaError> {
        let mut tables: Vec<Arc<SourceTable>> = Vec::new();
        let mut stored = Vec::with_capacity(chunks.len());
        for c in chunks {
            let table = match tables.iter().position(|t| Arc::ptr_eq(t, &c.table)) {
                Some(i) => i,
                None => {
                    tables.push(c.table.clone());
                    tables.len() - 1
                }
            };
            stored.push(StoredChunk {
                table,
                kind: c.kind,
                rows: c.rows,
                timestamp: c.timestamp,
                transaction_id: c.transaction_id.to_string(),
                first_index: c.first_index,
                position: c.position.to_string(),
                server_id: c.server_id,
                event_bytes: c.event_bytes,
            });
        }
        let branch = StoredBranch {
            tables: tables.iter().map(|t| (**t).clone()).collect(),
            chunks: stored,
        };
        let bytes = rmp_serde::to_vec(&branch).map_err(|e| XaError {
            xid: xid.to_string(),
            message: e.to_string(),
        })?;
        let k = key(PREPARED, xid, at);
        match &mut self.backend {
            Backend::Memory(m) => {
                m.push((k, bytes));
                Ok(())
            }
            Backend::Store(t) => t.insert(k, bytes).map(|_| ()).map_err(|e| XaError {
                xid: xid.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// The outcome of a branch, at `at` (the position after it): the rows of the oldest branch
    /// of that xid still waiting, or `None` when this stream never saw it prepared.
    pub fn complete(&mut self, xid: &Xid, at: At<'_>) -> Result<Option<Vec<RowsChunk>>, XaError> {
        let bad = |message: String| XaError {
            xid: xid.to_string(),
            message,
        };
        let mut prefix = vec![PREPARED];
        prefix.extend_from_slice(&xid.key());
        let bytes = match &mut self.backend {
            Backend::Memory(m) => m
                .iter()
                .position(|(k, _)| k.starts_with(&prefix))
                .map(|i| m.remove(i).1),
            Backend::Store(t) => {
                let mut found = None;
                for entry in t.scan_prefix(&prefix) {
                    let (k, v) = entry.map_err(|e| bad(e.to_string()))?;
                    let mut done_key = k.to_vec();
                    done_key[0] = COMPLETED;
                    if !t.contains_key(&done_key).map_err(|e| bad(e.to_string()))? {
                        t.insert(done_key, encode_at(at))
                            .map_err(|e| bad(e.to_string()))?;
                        found = Some(v.to_vec());
                        break;
                    }
                }
                found
            }
        };
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let branch: StoredBranch = rmp_serde::from_slice(&bytes)
            .map_err(|e| bad(format!("stored rows unreadable: {e}")))?;
        let tables: Vec<Arc<SourceTable>> = branch.tables.into_iter().map(Arc::new).collect();
        branch
            .chunks
            .into_iter()
            .map(|c| {
                Ok(RowsChunk {
                    table: tables
                        .get(c.table)
                        .cloned()
                        .ok_or_else(|| bad(format!("stored rows name table {}", c.table)))?,
                    kind: c.kind,
                    rows: c.rows,
                    timestamp: c.timestamp,
                    transaction_id: Arc::from(c.transaction_id),
                    first_index: c.first_index,
                    position: Arc::from(c.position),
                    server_id: c.server_id,
                    event_bytes: c.event_bytes,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
#[path = "xa_tests.rs"]
mod tests;
