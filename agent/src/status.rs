//! Project states as OMS shows them, shared between the supervisor, the projects and whoever
//! reports on them (logs, tests, later the status page).
//!
//! Invariant: a project is `Running` only after its binlog stream started and its start position
//! was recorded, so every change committed after that moment will be delivered.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::checkpoint::Position;

/// The state of a project (OMS: not started, running, failed, paused/stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectState {
    /// Saved but not started (`enabled = false`) or not started yet.
    NotStarted,
    /// Start checks and connection in progress.
    Starting,
    /// Streaming.
    Running,
    /// Lost the source or the broker; reconnecting from the checkpoint.
    Retrying,
    /// Stopped by an error that needs a fix; the checkpoint is kept.
    Failed,
    /// Paused by `obsync project pause`; resumes from its checkpoint.
    Paused,
    /// Stopped on request.
    Stopped,
}

/// What is known about one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStatus {
    /// Current state.
    pub state: ProjectState,
    /// The last checkpointed position.
    pub position: Option<Position>,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// Messages acknowledged by the broker since start.
    pub messages_sent: u64,
    /// How many times a binlog stream was started for this project (restarts and reconnects
    /// included).
    pub streams_started: u64,
    /// Messages sent but not yet acknowledged, as of the last checkpoint.
    #[serde(default)]
    pub in_flight: u64,
}

/// The shared table of project statuses; waiters are woken on every change.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    map: Arc<RwLock<BTreeMap<String, ProjectStatus>>>,
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard {
            map: Arc::default(),
            changed: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl StatusBoard {
    /// Returns a project's status.
    pub fn get(&self, project: &str) -> Option<ProjectStatus> {
        self.map.read().ok().and_then(|m| m.get(project).cloned())
    }

    /// Returns every project's status.
    pub fn all(&self) -> BTreeMap<String, ProjectStatus> {
        self.map.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Updates a project's status in place, creating it as `NotStarted` first if needed.
    pub fn update(&self, project: &str, f: impl FnOnce(&mut ProjectStatus)) {
        if let Ok(mut m) = self.map.write() {
            let s = m.entry(project.to_string()).or_insert(ProjectStatus {
                state: ProjectState::NotStarted,
                position: None,
                last_error: None,
                messages_sent: 0,
                streams_started: 0,
                in_flight: 0,
            });
            f(s);
        }
        self.changed.send_modify(|v| *v += 1);
    }

    /// Waits until `condition` holds for the project table.
    pub async fn wait_until(&self, condition: impl Fn(&BTreeMap<String, ProjectStatus>) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            if condition(&self.all()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Returns a version number that changes whenever a status changes.
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Writes every status as JSON to `path` (atomically: temp file, then rename).
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(&self.all()).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, path)
    }

    /// Sets a project's state.
    pub fn set_state(&self, project: &str, state: ProjectState) {
        self.update(project, |s| s.state = state);
    }
}
