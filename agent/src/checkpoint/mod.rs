//! Durable per-project positions in sled.
//!
//! Delivery guarantee, in plain words: a project's checkpoint moves to position P only after the
//! broker acknowledged every message made from rows before P. The checkpoint is written to sled at
//! once and flushed to disk on an interval and at shutdown. After a crash, obsync resumes from the
//! last flushed checkpoint, so the messages delivered twice are at most those acknowledged since
//! that flush plus those in flight; every one of them carries the same dedupe key as its first copy.
//! Nothing is skipped: a position is never stored ahead of an acknowledgement.

pub use crate::source::Position;

use crate::source::SourceState;

use std::path::Path;

/// A checkpoint store error.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The sled database could not be opened, read or written.
    #[error("checkpoint store {path}: {source}")]
    Store {
        /// The store directory.
        path: String,
        /// The cause.
        #[source]
        source: sled::Error,
    },
    /// Another process (or an agent in this one still shutting down) holds the store's lock.
    #[error(
        "checkpoint store {path} is in use by another obsync agent (one data directory per agent)"
    )]
    InUse {
        /// The store directory.
        path: String,
    },
    /// A stored checkpoint could not be decoded.
    #[error("checkpoint of project {project:?} is corrupt: {message}")]
    Corrupt {
        /// The project.
        project: String,
        /// What was wrong.
        message: String,
    },
}

/// The checkpoint store shared by all projects of one agent.
#[derive(Clone)]
pub struct CheckpointStore {
    db: sled::Db,
    path: String,
}

impl CheckpointStore {
    /// Opens (or creates) the store in `dir`; [`CheckpointError::InUse`] while another agent
    /// holds it.
    pub fn open(dir: &Path) -> Result<Self, CheckpointError> {
        let path = dir.display().to_string();
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(|source| match source {
                // sled's words for a store whose lock file another handle holds.
                sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                    CheckpointError::InUse { path: path.clone() }
                }
                source => CheckpointError::Store {
                    path: path.clone(),
                    source,
                },
            })?;
        Ok(CheckpointStore { db, path })
    }

    fn key(project: &str) -> Vec<u8> {
        let mut k = b"position/".to_vec();
        k.extend_from_slice(project.as_bytes());
        k
    }

    fn store_err(&self, source: sled::Error) -> CheckpointError {
        CheckpointError::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// Returns the project's last stored position.
    pub fn load(&self, project: &str) -> Result<Option<Position>, CheckpointError> {
        let Some(bytes) = self
            .db
            .get(Self::key(project))
            .map_err(|e| self.store_err(e))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CheckpointError::Corrupt {
                project: project.to_string(),
                message: e.to_string(),
            })
    }

    /// Stores a position; durable after the next [`CheckpointStore::flush`].
    pub fn store(&self, project: &str, position: &Position) -> Result<(), CheckpointError> {
        let bytes = serde_json::to_vec(position).map_err(|e| CheckpointError::Corrupt {
            project: project.to_string(),
            message: e.to_string(),
        })?;
        self.db
            .insert(Self::key(project), bytes)
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }

    /// The project's source state: its schema history (versions of tables whose binlog has no
    /// column names) and its prepared XA branches, waiting for their outcome.
    pub fn source_state(&self, project: &str) -> Result<SourceState, CheckpointError> {
        let tree = |name: String| self.db.open_tree(name).map_err(|e| self.store_err(e));
        Ok(SourceState::new(
            tree(format!("schemas/{project}"))?,
            tree(format!("xa/{project}"))?,
        ))
    }

    /// Forgets a project's position.
    pub fn remove(&self, project: &str) -> Result<(), CheckpointError> {
        self.db
            .remove(Self::key(project))
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }

    /// Makes every stored position durable.
    pub async fn flush(&self) -> Result<(), CheckpointError> {
        self.db.flush_async().await.map_err(|e| self.store_err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_held_by_another_handle_is_in_use_until_it_is_closed() {
        let dir = std::env::temp_dir().join(format!("obsync-ckpt-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = CheckpointStore::open(&dir).unwrap();
        let second = CheckpointStore::open(&dir).err();
        assert!(
            matches!(&second, Some(CheckpointError::InUse { .. })),
            "{second:?}"
        );
        drop(first);
        assert!(CheckpointStore::open(&dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = std::env::temp_dir().join(format!("obsync-ckpt-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pos = Position {
            file: "mdb-bin.000002".into(),
            offset: 1234,
            gtid: Some("0-1-20".into()),
            timestamp: 1_700_000_000,
            sequence: 0,
        };
        {
            let store = CheckpointStore::open(&dir).unwrap();
            assert_eq!(store.load("p").unwrap(), None);
            store.store("p", &pos).unwrap();
            store.flush().await.unwrap();
        }
        let store = CheckpointStore::open(&dir).unwrap();
        assert_eq!(store.load("p").unwrap(), Some(pos));
        store.remove("p").unwrap();
        assert_eq!(store.load("p").unwrap(), None);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
