//! Project states as OMS shows them, shared between the supervisor, the projects and whoever
//! reports on them (logs, tests, the HTTP listener, the alerts).
//!
//! Invariants: a project is `Running` only after its binlog stream started and its start position
//! was recorded, so every change committed after that moment will be delivered; `state_since_ms`
//! changes exactly when the state does; a project's [`ProjectMetrics`] outlive its restarts.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::checkpoint::Position;
use crate::metrics::{ProjectMetrics, now_ms};

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

impl ProjectState {
    /// The state as the API and the metrics spell it (`running`, `failed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectState::NotStarted => "not_started",
            ProjectState::Starting => "starting",
            ProjectState::Running => "running",
            ProjectState::Retrying => "retrying",
            ProjectState::Failed => "failed",
            ProjectState::Paused => "paused",
            ProjectState::Stopped => "stopped",
        }
    }
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
    /// Messages not yet below the acknowledgement watermark (what a resume from the checkpoint
    /// would send again), as of the last checkpoint.
    #[serde(default)]
    pub in_flight: u64,
    /// When the project entered its current state (ms since the epoch).
    #[serde(default)]
    pub state_since_ms: u64,
    /// What the project carries and with which modules (known once it was prepared).
    #[serde(default)]
    pub info: Option<ProjectInfo>,
}

impl ProjectStatus {
    /// A project not started yet.
    pub fn new() -> Self {
        ProjectStatus {
            state: ProjectState::NotStarted,
            position: None,
            last_error: None,
            messages_sent: 0,
            streams_started: 0,
            in_flight: 0,
            state_since_ms: now_ms(),
            info: None,
        }
    }
}

impl Default for ProjectStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// A project's shape, for the status page and `/api/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    /// The project file.
    pub file: String,
    /// The source, `host:port`.
    pub source: String,
    /// The name server(s).
    pub name_server: String,
    /// The objects and their topics.
    pub objects: Vec<ObjectInfo>,
    /// The modules rows pass through, filters first, then the format.
    pub modules: Vec<ModuleInfo>,
}

/// One object of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Source database.
    pub database: String,
    /// Source table (`*`: every table of the database).
    pub table: String,
    /// Target topic.
    pub topic: String,
    /// The row filter, if any.
    pub row_filter: Option<String>,
}

/// One module of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// `format` or `filter`.
    pub kind: String,
    /// The built-in format name or the module file.
    pub name: String,
    /// The ABI version and a digest of the module's bytes.
    pub version: String,
}

/// The shared table of project statuses; waiters are woken on every change.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    map: Arc<RwLock<BTreeMap<String, ProjectStatus>>>,
    metrics: Arc<RwLock<BTreeMap<String, Arc<ProjectMetrics>>>>,
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard {
            map: Arc::default(),
            metrics: Arc::default(),
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
            let s = m.entry(project.to_string()).or_default();
            let before = s.state;
            f(s);
            if s.state != before {
                s.state_since_ms = now_ms();
            }
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

    /// Returns a project's metrics, created on first use; they outlive restarts of the project.
    pub fn metrics(&self, project: &str) -> Arc<ProjectMetrics> {
        if let Some(m) = self
            .metrics
            .read()
            .ok()
            .and_then(|m| m.get(project).cloned())
        {
            return m;
        }
        match self.metrics.write() {
            Ok(mut all) => all.entry(project.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// Adds a history sample to every project's metrics (at most one per `every`).
    pub fn sample(&self, every: std::time::Duration) {
        let now = now_ms();
        let all: Vec<Arc<ProjectMetrics>> = self
            .metrics
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for m in all {
            m.sample(now, every);
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
