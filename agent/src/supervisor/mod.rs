//! The supervisor: loads the config directory, starts one isolated task per enabled project,
//! flushes checkpoints on an interval, and shuts everything down in order.
//!
//! Invariants: a project that fails its start checks does not stop the others; `run` returns an
//! error only when no project could be started or every started project failed; on shutdown every
//! project finishes the batch it is sending, then checkpoints are flushed, then the client stops.

mod backoff;
mod error;
mod fleet;
mod prepare;
mod project;
mod reachable;
mod watcher;

pub use error::{ProjectError, RunError};
pub use project::ProjectRunner;

use fleet::{Fleet, FleetContext};
use watcher::ConfigWatcher;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::alerts::AlertRules;
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::config::load_dir;
use crate::http::HttpServer;
use crate::sink::RocketMqClient;
use crate::status::StatusBoard;
use crate::wasm::WasmEngine;

pub use crate::status_file::STATUS_FILE;

/// Pause markers live here under the data directory: `paused/<project>`.
pub const PAUSED_DIR: &str = "control/paused";

/// Pauses (`true`) or resumes (`false`) a project of the agent using `data_dir`; a running agent
/// applies it at once, a stopped one when it starts. The pause survives restarts.
pub fn set_paused(data_dir: &std::path::Path, project: &str, paused: bool) -> std::io::Result<()> {
    let valid = !project.is_empty()
        && project.chars().count() <= 64
        && project
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid project name {project:?}"),
        ));
    }
    let dir = data_dir.join(PAUSED_DIR);
    std::fs::create_dir_all(&dir)?;
    let marker = dir.join(project);
    if paused {
        std::fs::write(marker, b"paused by obsync project pause\n")
    } else {
        match std::fs::remove_file(marker) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// How often checkpoints are flushed to disk. A crash re-sends the rows acknowledged since the
/// last flush (plus those in flight), so this bounds the duplicates.
pub const CHECKPOINT_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The directory of project files.
    pub config_dir: PathBuf,
    /// Where checkpoints are kept.
    pub data_dir: PathBuf,
    /// Where project states are published.
    pub status: StatusBoard,
    /// Whether the config directory is watched for changes (hot reload).
    pub watch: bool,
    /// Where the HTTP listener (health, metrics, API, status page) binds; `None`: no listener.
    pub listen: Option<std::net::SocketAddr>,
    /// Whether a project must pass the precheck to start (`obsync run --skip-precheck` turns it
    /// off).
    pub precheck: bool,
}

/// The address the HTTP listener bound, written at start: `<data-dir>/listen.addr`.
pub const LISTEN_FILE: &str = "listen.addr";

/// How often the metrics history (rates, status page chart) is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Returns a future that resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed
/// when this is called (inside a Tokio runtime), so a signal that arrives before the future is
/// first polled is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutdown requested");
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown requested");
        }
    }
}

/// Runs every enabled project of the config directory until `shutdown` resolves.
///
/// At start the whole directory must be valid, and at least one enabled project must pass its
/// start checks. Afterwards, with `watch`, the directory is live: files added, changed or removed
/// start, restart or stop their projects, and a failed project is retried when its file or one of
/// its module files changes. Without `watch`, `run` ends with an error once every project failed.
pub async fn run(opts: RunOptions, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    let projects = load_dir(&opts.config_dir).map_err(RunError::Config)?;
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| RunError::DataDir {
        path: opts.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let store = open_store(&opts.data_dir.join("checkpoints"))
        .await
        .map_err(RunError::Checkpoint)?;
    let engine =
        WasmEngine::new(Some(&opts.data_dir.join("module-cache"))).map_err(RunError::Wasm)?;
    // The listener comes first, so health and status answer while projects start.
    let http = match opts.listen {
        Some(addr) => {
            let server = HttpServer::bind(addr, opts.status.clone())
                .await
                .map_err(RunError::Http)?;
            if let Some(bound) = server.local_addr() {
                tracing::info!(addr = %bound, "HTTP listener: /healthz /readyz /metrics /api/projects and the status page");
                let file = opts.data_dir.join(LISTEN_FILE);
                if let Err(e) = std::fs::write(&file, format!("{bound}\n")) {
                    tracing::warn!(file = %file.display(), error = %e, "cannot write the listener address");
                }
            }
            Some(AbortOnDrop(tokio::spawn(server.serve())))
        }
        None => None,
    };
    let alert_rules = AlertRules::default();
    let _alerts = AbortOnDrop(tokio::spawn(crate::alerts::run(
        opts.status.clone(),
        alert_rules.clone(),
    )));
    let client = RocketMqClient::start().map_err(RunError::Sink)?;
    let paused_dir = opts.data_dir.join(PAUSED_DIR);
    std::fs::create_dir_all(&paused_dir).map_err(|e| RunError::DataDir {
        path: paused_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let ctx = FleetContext {
        engine,
        runtime: client.runtime(),
        store: store.clone(),
        status: opts.status.clone(),
        paused_dir: paused_dir.clone(),
        alerts: alert_rules,
        precheck: opts.precheck,
    };
    let mut fleet = Fleet::default();
    let mut start_errors = Vec::new();
    for p in projects {
        if let Err(e) = fleet.start(&ctx, p).await {
            start_errors.push(e);
        }
    }
    if fleet.live() == 0 && !start_errors.is_empty() {
        fleet.stop_all(&opts.status).await;
        client.shutdown().await;
        return Err(RunError::NotStarted(start_errors));
    }
    // Pause markers are watched even without hot reload.
    let mut control = match ConfigWatcher::start(&paused_dir) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(dir = %paused_dir.display(), error = %e, "cannot watch pause markers; pause/resume needs a restart");
            None
        }
    };
    let mut watcher = if opts.watch {
        match ConfigWatcher::start(&opts.config_dir) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(dir = %opts.config_dir.display(), error = %e, "cannot watch the config directory; changes need a restart");
                None
            }
        }
    } else {
        None
    };
    tracing::info!(projects = fleet.live(), dir = %opts.config_dir.display(), "obsync running");
    if watcher.is_some() || control.is_some() {
        // Changes made between the first load and the start of the watch are applied now.
        fleet.apply(&ctx, &opts.config_dir).await;
    }
    tokio::pin!(shutdown);
    // Checkpoints reach the disk and the status file is written on a task of their own: applying
    // a config change (stopping, prechecking, compiling modules) can take seconds, and the
    // duplicate bound after a crash counts on the 200 ms flush interval meanwhile too.
    let status_file = opts.data_dir.join(STATUS_FILE);
    let housekeeping = AbortOnDrop(tokio::spawn(keep_house(
        store.clone(),
        opts.status.clone(),
        status_file.clone(),
    )));
    let mut live_check = tokio::time::interval(CHECKPOINT_FLUSH_INTERVAL);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = live_check.tick() => {
                if watcher.is_none() && fleet.live() == 0 {
                    break Err(RunError::AllFailed(Vec::new()));
                }
            }
            _ = async { match watcher.as_mut() { Some(w) => w.changed().await, None => std::future::pending().await } } => {
                tracing::debug!(dir = %opts.config_dir.display(), "config directory changed; applying");
                fleet.apply(&ctx, &opts.config_dir).await;
            }
            _ = async { match control.as_mut() { Some(w) => w.changed().await, None => std::future::pending().await } } => {
                fleet.apply(&ctx, &opts.config_dir).await;
            }
        }
    };
    fleet.stop_all(&opts.status).await;
    drop(housekeeping);
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "final checkpoint flush failed");
    }
    if let Err(e) = opts.status.write_json(&status_file) {
        tracing::warn!(file = %status_file.display(), error = %e, "cannot write the status file");
    }
    client.shutdown().await;
    drop(http);
    result
}

/// Aborts a background task when dropped.
/// Every [`CHECKPOINT_FLUSH_INTERVAL`]: makes the stored checkpoints durable, samples the
/// metrics and rewrites the status file when something changed.
async fn keep_house(store: CheckpointStore, status: StatusBoard, status_file: PathBuf) {
    let mut tick = tokio::time::interval(CHECKPOINT_FLUSH_INTERVAL);
    let mut written = u64::MAX;
    loop {
        tick.tick().await;
        if let Err(e) = store.flush().await {
            tracing::error!(error = %e, "checkpoint flush failed");
        }
        status.sample(SAMPLE_EVERY);
        let version = status.version();
        if version != written {
            match status.write_json(&status_file) {
                Ok(()) => written = version,
                Err(e) => {
                    tracing::warn!(file = %status_file.display(), error = %e, "cannot write the status file")
                }
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a start waits for the checkpoint store of an agent that is still shutting down (a
/// restart in quick succession) before it reports the store in use.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Opens the checkpoint store, waiting up to [`STORE_LOCK_WAIT`] while another agent holds it.
async fn open_store(dir: &std::path::Path) -> Result<CheckpointStore, CheckpointError> {
    let deadline = tokio::time::Instant::now() + STORE_LOCK_WAIT;
    let mut logged = false;
    loop {
        match CheckpointStore::open(dir) {
            Err(CheckpointError::InUse { .. }) if tokio::time::Instant::now() < deadline => {
                if !logged {
                    tracing::warn!(store = %dir.display(), "the checkpoint store is locked by another agent; waiting for it");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}
