//! Versioned table schemas for sources whose table maps carry no column names: each version is
//! stored in sled under its table and the binlog position from which it holds, so a stream that
//! resumes at position P decodes with the versions current at P, also after a restart.
//!
//! Invariants: versions come from DDL seen in stream order ([`super::ddl`]) or from
//! `information_schema` read when a table map needed it; a dropped table is a version too
//! (`None`), and so is a forgotten one: a table this history cannot follow is read again from the
//! catalog (where a mismatch with the binlog stops the project instead of mislabelling columns),
//! also by a stream resuming after that DDL once restarted.

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::CatalogTable;
use super::ddl::Name;

/// A position in the binlog: file name and offset (file names of one server sort in order).
pub type At<'a> = (&'a str, u64);

/// The stored value of a version that forgets the table (never valid JSON of a table).
const FORGOTTEN: &[u8] = b"forgotten";

/// One stored version.
enum Version {
    Known(Option<Arc<CatalogTable>>),
    Forgotten,
}

/// The schema versions of one project.
pub struct SchemaHistory {
    tree: sled::Tree,
    current: HashMap<Name, Option<Arc<CatalogTable>>>,
}

/// The history could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("schema history: {0}")]
pub struct HistoryError(String);

fn prefix(name: &Name) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.0.len() + name.1.len() + 2);
    k.extend_from_slice(name.0.as_bytes());
    k.push(0);
    k.extend_from_slice(name.1.as_bytes());
    k.push(0);
    k
}

fn key(name: &Name, at: At<'_>) -> Vec<u8> {
    let mut k = prefix(name);
    k.extend_from_slice(at.0.as_bytes());
    k.push(0);
    k.extend_from_slice(&at.1.to_be_bytes());
    k
}

/// Splits a key into its name and position.
fn split(k: &[u8]) -> Option<(Name, String, u64)> {
    let mut parts = k.splitn(4, |b| *b == 0);
    let db = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let table = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let file = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let offset = u64::from_be_bytes(parts.next()?.try_into().ok()?);
    Some(((db, table), file, offset))
}

impl SchemaHistory {
    /// Loads, from `tree`, the version of every table current at `at` (the newest at or before).
    pub fn load(tree: sled::Tree, at: At<'_>) -> Result<Self, HistoryError> {
        let mut current: HashMap<Name, (String, u64, Version)> = HashMap::new();
        for entry in tree.iter() {
            let (k, v) = entry.map_err(|e| HistoryError(e.to_string()))?;
            let Some((name, file, offset)) = split(&k) else {
                continue;
            };
            if (file.as_str(), offset) > at {
                continue;
            }
            let version = if v.as_ref() == FORGOTTEN {
                Version::Forgotten
            } else {
                let table: Option<CatalogTable> = serde_json::from_slice(&v)
                    .map_err(|e| HistoryError(format!("`{}`.`{}`: {e}", name.0, name.1)))?;
                Version::Known(table.map(Arc::new))
            };
            let newer = current
                .get(&name)
                .is_none_or(|(f, o, _)| (f.as_str(), *o) <= (file.as_str(), offset));
            if newer {
                current.insert(name, (file, offset, version));
            }
        }
        Ok(SchemaHistory {
            tree,
            current: current
                .into_iter()
                .filter_map(|(n, (_, _, v))| match v {
                    Version::Known(t) => Some((n, t)),
                    Version::Forgotten => None,
                })
                .collect(),
        })
    }

    /// The current version of a table: `Some(None)` when it is known to be dropped, `None` when
    /// it is unknown.
    pub fn get(&self, name: &Name) -> Option<Option<Arc<CatalogTable>>> {
        self.current.get(name).cloned()
    }

    /// Records a table's version from `at` on (`None`: dropped).
    pub fn set(
        &mut self,
        name: Name,
        table: Option<CatalogTable>,
        at: At<'_>,
    ) -> Result<(), HistoryError> {
        let bytes = serde_json::to_vec(&table).map_err(|e| HistoryError(e.to_string()))?;
        self.tree
            .insert(key(&name, at), bytes)
            .map_err(|e| HistoryError(e.to_string()))?;
        self.current.insert(name, table.map(Arc::new));
        Ok(())
    }

    /// Forgets a table from `at` on (it is read from the catalog when next needed), also for a
    /// stream that resumes after `at` once restarted.
    pub fn forget(&mut self, name: &Name, at: At<'_>) -> Result<(), HistoryError> {
        self.tree
            .insert(key(name, at), FORGOTTEN)
            .map_err(|e| HistoryError(e.to_string()))?;
        self.current.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::catalog::CatalogColumn;

    fn table(cols: &[&str]) -> CatalogTable {
        CatalogTable {
            columns: cols
                .iter()
                .map(|c| CatalogColumn {
                    name: c.to_string(),
                    data_type: "int".into(),
                    column_type: "int".into(),
                    nullable: true,
                    collation_id: 0,
                })
                .collect(),
            primary_key: vec![0],
            default_collation: 0,
        }
    }

    #[test]
    fn versions_are_read_back_as_of_a_position() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("schemas/p").unwrap();
        let t: Name = ("d".into(), "订单".into());
        let mut h = SchemaHistory::load(tree.clone(), ("b.000001", 4)).unwrap();
        h.set(t.clone(), Some(table(&["id"])), ("b.000001", 100))
            .unwrap();
        h.set(t.clone(), Some(table(&["id", "a"])), ("b.000001", 900))
            .unwrap();
        h.set(t.clone(), None, ("b.000002", 50)).unwrap();
        let names = |at| {
            SchemaHistory::load(tree.clone(), at)
                .unwrap()
                .get(&t)
                .map(|v| v.map(|x| x.columns.len()))
        };
        assert_eq!(names(("b.000001", 99)), None);
        assert_eq!(names(("b.000001", 100)), Some(Some(1)));
        assert_eq!(names(("b.000001", 5000)), Some(Some(2)));
        assert_eq!(names(("b.000003", 4)), Some(None));
        h.forget(&t, ("b.000003", 10)).unwrap();
        assert_eq!(h.get(&t), None);
    }

    #[test]
    fn a_forgotten_table_stays_forgotten_after_a_restart() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("schemas/p").unwrap();
        let t: Name = ("d".into(), "t".into());
        let mut h = SchemaHistory::load(tree.clone(), ("b.000001", 4)).unwrap();
        h.set(t.clone(), Some(table(&["id", "a"])), ("b.000001", 100))
            .unwrap();
        // A DDL this reader cannot follow, at 500.
        h.forget(&t, ("b.000001", 500)).unwrap();
        let at = |offset| SchemaHistory::load(tree.clone(), ("b.000001", offset)).unwrap();
        // Resuming after it: the table is unknown (read from the catalog), not the old version.
        assert_eq!(at(600).get(&t), None);
        assert_eq!(
            at(400).get(&t).map(|v| v.map(|x| x.columns.len())),
            Some(Some(2))
        );
        // A version described after the forget holds from its own position.
        at(600)
            .set(t.clone(), Some(table(&["id"])), ("b.000001", 700))
            .unwrap();
        assert_eq!(
            at(800).get(&t).map(|v| v.map(|x| x.columns.len())),
            Some(Some(1))
        );
    }
}
