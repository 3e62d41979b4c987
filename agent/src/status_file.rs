//! `<data-dir>/status.json`, the agent's project states as the supervisor rewrites them within a
//! second of every change, read back by the CLI (`obsync project list`, the checkpoints
//! `obsync check` resumes from) without disturbing a running agent.
//!
//! Invariant: reading never writes or locks anything; a missing or unreadable file is an error
//! naming the path (for `list`) or no checkpoints (for `check`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::checkpoint::Position;
use crate::status::ProjectStatus;

/// The file's name in the data directory.
pub const STATUS_FILE: &str = "status.json";

/// Why the status file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusFileError {
    /// It could not be read.
    #[error("cannot read {}: {source} (is an agent using this data directory?)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not what the agent writes.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Every project's status, by name.
pub fn read(data_dir: &Path) -> Result<BTreeMap<String, ProjectStatus>, StatusFileError> {
    let path = data_dir.join(STATUS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| StatusFileError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| StatusFileError::Parse { path, source })
}

/// The checkpointed position of each project (empty when there is no readable file).
pub fn checkpoints(data_dir: &Path) -> HashMap<String, Position> {
    read(data_dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, s)| s.position.map(|p| (name, p)))
        .collect()
}

/// The statuses as the table `obsync project list` prints.
pub fn table(all: &BTreeMap<String, ProjectStatus>) -> String {
    let mut out = format!(
        "{:<32} {:<12} {:<28} {:>10}  last error\n",
        "project", "state", "position", "messages"
    );
    for (name, s) in all {
        let state = s.state.as_str();
        let position = s
            .position
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let error = s.last_error.clone().unwrap_or_default().replace('\n', " ");
        let _ = writeln!(
            out,
            "{name:<32} {state:<12} {position:<28} {:>10}  {error}",
            s.messages_sent
        );
    }
    out
}
