//! Savepoints inside a transaction: rows after a `SAVEPOINT` are held until the transaction
//! commits, and a `ROLLBACK TO` drops the rows it undid.
//!
//! A server truncates its transaction cache on `ROLLBACK TO SAVEPOINT` when only transactional
//! tables changed, so the undone rows never reach the binlog. When a non-transactional table
//! changed too, it logs the undone rows *and* the `ROLLBACK TO` statement after them (MariaDB
//! 10.11 does so): delivering them would deliver rows that never committed.
//!
//! Invariants: rows before the first savepoint of a transaction are never held (large
//! transactions stream as before); held rows are released, in order, only at the commit; a
//! savepoint name is case-insensitive and a new savepoint of the same name replaces the old.

use super::change::RowsChunk;

/// A savepoint statement of the binlog.
#[derive(Debug, PartialEq, Eq)]
pub enum SavepointStatement {
    /// `SAVEPOINT name`.
    Mark(String),
    /// `ROLLBACK [WORK] TO [SAVEPOINT] name`.
    RollbackTo(String),
    /// `RELEASE SAVEPOINT name`.
    Release(String),
}

/// Parses a savepoint statement, or `None` for any other statement.
pub fn parse(sql: &str) -> Option<SavepointStatement> {
    let mut words = sql.split_whitespace();
    let first = words.next()?;
    let is = |w: Option<&str>, k: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(k));
    let rest = |words: std::str::SplitWhitespace<'_>| -> Option<String> {
        let name: Vec<&str> = words.collect();
        identifier(&name.join(" "))
    };
    if first.eq_ignore_ascii_case("SAVEPOINT") {
        return rest(words).map(SavepointStatement::Mark);
    }
    if first.eq_ignore_ascii_case("RELEASE") {
        return is(words.next(), "SAVEPOINT")
            .then(|| rest(words))
            .flatten()
            .map(SavepointStatement::Release);
    }
    if first.eq_ignore_ascii_case("ROLLBACK") {
        let mut next = words.next();
        if is(next, "WORK") {
            next = words.next();
        }
        if !is(next, "TO") {
            return None;
        }
        let mut peek = words.clone();
        if is(peek.next(), "SAVEPOINT") {
            words = peek;
        }
        return rest(words).map(SavepointStatement::RollbackTo);
    }
    None
}

/// A savepoint name, plain or backquoted (with doubled backquotes), lowercased.
fn identifier(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches(';').trim();
    let name = match text.strip_prefix('`') {
        Some(inner) => inner.strip_suffix('`')?.replace("``", "`"),
        None if !text.is_empty() && !text.contains(char::is_whitespace) => text.to_string(),
        None => return None,
    };
    Some(name.to_lowercase())
}

/// The savepoints of the current transaction and the rows held since the first one.
#[derive(Debug, Default)]
pub struct Savepoints {
    /// Each savepoint and the number of rows held when it was set.
    marks: Vec<(String, usize)>,
    held: Vec<RowsChunk>,
}

impl Savepoints {
    /// Applies a savepoint statement; returns the number of row chunks it dropped.
    pub fn apply(&mut self, statement: SavepointStatement) -> usize {
        match statement {
            SavepointStatement::Mark(name) => {
                self.marks.retain(|(n, _)| *n != name);
                self.marks.push((name, self.held.len()));
                0
            }
            SavepointStatement::RollbackTo(name) => {
                let Some(at) = self.marks.iter().rposition(|(n, _)| *n == name) else {
                    return 0;
                };
                let keep = self.marks[at].1;
                self.marks.truncate(at + 1);
                let dropped = self.held.len().saturating_sub(keep);
                self.held.truncate(keep);
                dropped
            }
            SavepointStatement::Release(name) => {
                if let Some(at) = self.marks.iter().rposition(|(n, _)| *n == name) {
                    // The held rows stay held: they commit with the transaction.
                    self.marks.truncate(at);
                    if self.marks.is_empty() {
                        self.marks.push((String::new(), 0));
                    }
                }
                0
            }
        }
    }

    /// Holds every row from now to the end of the transaction (an XA branch, see `xa.rs`).
    pub fn hold_all(&mut self) {
        if self.marks.is_empty() {
            self.marks.push((String::new(), self.held.len()));
        }
    }

    /// Holds `chunk` when a savepoint is set; gives it back otherwise (to be handed over now).
    pub fn hold(&mut self, chunk: RowsChunk) -> Option<RowsChunk> {
        if self.marks.is_empty() {
            return Some(chunk);
        }
        self.held.push(chunk);
        None
    }

    /// The transaction ended: the held rows (committed), and no savepoint any more.
    pub fn end(&mut self) -> Vec<RowsChunk> {
        self.marks.clear();
        std::mem::take(&mut self.held)
    }

    /// Forgets everything (the transaction did not commit, or a new one began).
    pub fn clear(&mut self) {
        self.marks.clear();
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::SavepointStatement::*;
    use super::*;

    #[test]
    fn parses_the_statements_servers_log() {
        assert_eq!(parse("SAVEPOINT `a`"), Some(Mark("a".into())));
        assert_eq!(parse("savepoint Sp1"), Some(Mark("sp1".into())));
        assert_eq!(parse("ROLLBACK TO `b`"), Some(RollbackTo("b".into())));
        assert_eq!(
            parse("ROLLBACK WORK TO SAVEPOINT b"),
            Some(RollbackTo("b".into()))
        );
        assert_eq!(
            parse("RELEASE SAVEPOINT `x``y`"),
            Some(Release("x`y".into()))
        );
        assert_eq!(parse("ROLLBACK"), None);
        assert_eq!(parse("SAVEPOINTS"), None);
        assert_eq!(parse("COMMIT"), None);
    }

    fn chunk(n: u32) -> RowsChunk {
        RowsChunk {
            table: std::sync::Arc::new(crate::schema::SourceTable {
                database: "d".into(),
                table: "t".into(),
                columns: Vec::new(),
                primary_key: Vec::new(),
            }),
            kind: obsync_sdk::ChangeKind::Insert,
            rows: Vec::new(),
            timestamp: 0,
            transaction_id: "t".into(),
            first_index: n,
            position: "f:1".into(),
            server_id: 1,
            event_bytes: 0,
        }
    }

    fn indexes(v: &[RowsChunk]) -> Vec<u32> {
        v.iter().map(|c| c.first_index).collect()
    }

    #[test]
    fn rollback_to_drops_what_it_undid_and_keeps_the_rest() {
        let mut s = Savepoints::default();
        assert!(
            s.hold(chunk(0)).is_some(),
            "before a savepoint rows go on at once"
        );
        s.apply(Mark("a".into()));
        assert!(s.hold(chunk(1)).is_none());
        s.apply(Mark("b".into()));
        assert!(s.hold(chunk(2)).is_none());
        assert_eq!(s.apply(RollbackTo("b".into())), 1);
        assert!(
            s.hold(chunk(3)).is_none(),
            "b is still set after ROLLBACK TO b"
        );
        assert_eq!(s.apply(RollbackTo("b".into())), 1);
        assert!(s.hold(chunk(4)).is_none());
        assert_eq!(indexes(&s.end()), [1, 4]);
        assert!(
            s.hold(chunk(5)).is_some(),
            "a new transaction has no savepoint"
        );
    }

    #[test]
    fn rollback_to_an_earlier_savepoint_forgets_the_later_ones() {
        let mut s = Savepoints::default();
        s.apply(Mark("a".into()));
        s.hold(chunk(1));
        s.apply(Mark("b".into()));
        s.hold(chunk(2));
        assert_eq!(s.apply(RollbackTo("a".into())), 2);
        assert_eq!(s.apply(RollbackTo("b".into())), 0, "b is gone");
        s.hold(chunk(3));
        assert_eq!(indexes(&s.end()), [3]);
    }

    #[test]
    fn release_keeps_the_rows_held_until_the_commit() {
        let mut s = Savepoints::default();
        s.apply(Mark("a".into()));
        s.hold(chunk(1));
        s.apply(Release("a".into()));
        assert!(s.hold(chunk(2)).is_none(), "held after RELEASE, in order");
        assert_eq!(s.apply(RollbackTo("a".into())), 0);
        assert_eq!(indexes(&s.end()), [1, 2]);
    }
}
