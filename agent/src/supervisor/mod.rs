//! The supervisor: loads the config directory, starts one isolated task per enabled project,
//! flushes checkpoints on an interval, and shuts everything down in order.
//!
//! Invariants: a project that fails its start checks does not stop the others; `run` returns an
//! error only when no project could be started or every started project failed; on shutdown every
//! project finishes the batch it is sending, then checkpoints are flushed, then the client stops.

mod batch;
mod error;
mod project;

pub use error::{ProjectError, RunError};
pub use project::ProjectRunner;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::checkpoint::CheckpointStore;
use crate::config::load_dir;
use crate::sink::RocketMqClient;
use crate::status::{ProjectState, StatusBoard};
use crate::wasm::WasmEngine;

/// How often checkpoints are flushed to disk.
pub const CHECKPOINT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The directory of project files.
    pub config_dir: PathBuf,
    /// Where checkpoints are kept.
    pub data_dir: PathBuf,
    /// Where project states are published.
    pub status: StatusBoard,
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown requested");
}

/// Runs every enabled project of the config directory until `shutdown` resolves.
pub async fn run(opts: RunOptions, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    let projects = load_dir(&opts.config_dir).map_err(RunError::Config)?;
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| RunError::DataDir {
        path: opts.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let store =
        CheckpointStore::open(&opts.data_dir.join("checkpoints")).map_err(RunError::Checkpoint)?;
    let engine =
        WasmEngine::new(Some(&opts.data_dir.join("module-cache"))).map_err(RunError::Wasm)?;
    let client = RocketMqClient::start().map_err(RunError::Sink)?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut tasks: JoinSet<(String, Result<(), ProjectError>)> = JoinSet::new();
    let mut start_errors = Vec::new();
    for p in projects {
        let name = p.config.name.clone();
        if !p.config.enabled {
            opts.status.set_state(&name, ProjectState::NotStarted);
            continue;
        }
        opts.status.set_state(&name, ProjectState::Starting);
        match ProjectRunner::prepare(
            p,
            &engine,
            client.runtime(),
            store.clone(),
            opts.status.clone(),
        )
        .await
        {
            Ok(runner) => {
                let stop = stop_rx.clone();
                tasks.spawn(async move { (name, runner.run(stop).await) });
            }
            Err(e) => {
                tracing::error!(project = %name, error = %e, "project not started");
                opts.status.update(&name, |s| {
                    s.state = ProjectState::Failed;
                    s.last_error = Some(e.to_string());
                });
                start_errors.push(e);
            }
        }
    }
    if tasks.is_empty() {
        store.flush().await.map_err(RunError::Checkpoint)?;
        client.shutdown().await;
        if start_errors.is_empty() {
            tracing::warn!(dir = %opts.config_dir.display(), "no enabled project in the config directory");
            return Ok(());
        }
        return Err(RunError::NotStarted(start_errors));
    }
    let started = tasks.len();
    let mut failed = supervise(&mut tasks, &store, shutdown).await;
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Ok((name, Err(e))) = done {
            tracing::error!(project = %name, error = %e, "project stopped with an error");
            failed.push(e);
        }
    }
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "final checkpoint flush failed");
    }
    client.shutdown().await;
    if failed.len() == started {
        Err(RunError::AllFailed(failed))
    } else {
        Ok(())
    }
}

/// Flushes checkpoints on an interval until `shutdown` resolves or every project ended; returns
/// the errors of the projects that failed meanwhile.
async fn supervise(
    tasks: &mut JoinSet<(String, Result<(), ProjectError>)>,
    store: &CheckpointStore,
    shutdown: impl Future<Output = ()>,
) -> Vec<ProjectError> {
    tokio::pin!(shutdown);
    let mut flush = tokio::time::interval(CHECKPOINT_FLUSH_INTERVAL);
    let mut failed = Vec::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => return failed,
            _ = flush.tick() => {
                if let Err(e) = store.flush().await {
                    tracing::error!(error = %e, "checkpoint flush failed");
                }
            }
            done = tasks.join_next() => match done {
                None => return failed,
                Some(Ok((name, Err(e)))) => {
                    tracing::error!(project = %name, error = %e, "project failed; its checkpoint is kept");
                    failed.push(e);
                }
                Some(Ok((name, Ok(())))) => tracing::info!(project = %name, "project stopped"),
                Some(Err(e)) => tracing::error!(error = %e, "project task panicked"),
            }
        }
    }
}
