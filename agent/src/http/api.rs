//! The JSON shape of `/api/projects`: one report per project, with the numbers a person looks at
//! first (state, checkpoint, latency, rates) on top and the full metrics below.
//!
//! Invariant: the same type is serialized by the agent and parsed by `obsync status`, so the two
//! cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::checkpoint::Position;
use crate::metrics::{MetricsSnapshot, Point, now_ms};
use crate::status::{ProjectInfo, ProjectState, ProjectStatus, StatusBoard};

/// One project as `/api/projects` reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectReport {
    /// The project name.
    pub name: String,
    /// Its state.
    pub state: ProjectState,
    /// Since when (ms since the epoch).
    pub state_since_ms: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The checkpointed position.
    pub position: Option<Position>,
    /// Commit time of the checkpointed position (seconds since the epoch; OMS "current checkpoint
    /// time").
    pub checkpoint_time: Option<u32>,
    /// Latency in seconds.
    pub latency_seconds: Option<f64>,
    /// Messages acknowledged per second (last 10 s).
    pub rows_per_second: f64,
    /// Body bytes acknowledged per second (last 10 s).
    pub bytes_per_second: f64,
    /// Objects, topics and modules.
    pub info: Option<ProjectInfo>,
    /// Every counter (the rates and latency again, as measured together with them).
    pub metrics: MetricsSnapshot,
    /// Chart points (only in `/api/projects/{name}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Point>,
}

/// Reports one project, with its chart points when `history`.
pub fn report(board: &StatusBoard, name: &str, history: bool) -> Option<ProjectReport> {
    Some(report_of(board, name, board.get(name)?, history))
}

/// Reports a project whose status is already read.
fn report_of(
    board: &StatusBoard,
    name: &str,
    status: ProjectStatus,
    history: bool,
) -> ProjectReport {
    let metrics = board.metrics(name);
    let m = metrics.snapshot(now_ms());
    let points = if history {
        metrics
            .history
            .lock()
            .map(|h| h.points())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    ProjectReport {
        name: name.to_string(),
        state: status.state,
        state_since_ms: status.state_since_ms,
        last_error: status.last_error,
        checkpoint_time: status
            .position
            .as_ref()
            .map(|p| p.timestamp)
            .filter(|t| *t > 0),
        position: status.position,
        latency_seconds: m.latency_seconds,
        rows_per_second: m.rows_per_second,
        bytes_per_second: m.bytes_per_second,
        info: status.info,
        metrics: m,
        history: points,
    }
}

/// Reports every project, by name.
pub fn reports(board: &StatusBoard) -> Vec<ProjectReport> {
    board
        .all()
        .into_iter()
        .map(|(name, status)| report_of(board, &name, status, false))
        .collect()
}
