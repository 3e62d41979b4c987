//! The set of running projects and how a new config directory is applied to it.
//!
//! Invariants: each project name runs at most once; a file that fails validation never replaces
//! the running version of its project (the error goes to the log and the project's status); a
//! changed project is stopped (finishing its in-flight batch) before its new version starts from
//! the same checkpoint; a project may not silently move to another source database.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use rocketmq_client_rust::ClientRuntime;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::backoff::Backoff;
use super::error::ProjectError;
use super::project::ProjectRunner;
use super::reachable;
use crate::alerts::AlertRules;
use crate::checkpoint::CheckpointStore;
use crate::config::{Project, ProjectConfig, scan_dir};
use crate::precheck::Findings;
use crate::status::{ProjectState, StatusBoard};
use crate::wasm::WasmEngine;

/// What starting a project needs.
#[derive(Clone)]
pub struct FleetContext {
    /// The shared WebAssembly engine.
    pub engine: WasmEngine,
    /// The RocketMQ client runtime.
    pub runtime: Arc<ClientRuntime>,
    /// The checkpoint store.
    pub store: CheckpointStore,
    /// Where states are published.
    pub status: StatusBoard,
    /// The directory of pause markers (`<data-dir>/control/paused/<project>`).
    pub paused_dir: PathBuf,
    /// The alert settings of the projects.
    pub alerts: AlertRules,
    /// Whether a project must pass the precheck to start.
    pub precheck: bool,
}

/// A just-stopped stream of the same project (or of a killed agent) may stay registered on the
/// source for a few heartbeats; a `source.server_id` failure is checked again for this long.
const SERVER_ID_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the precheck of a project about to start; returns the failed checks and what the checks
/// read, for the start to reuse.
async fn precheck_failures(
    ctx: &FleetContext,
    p: &Project,
) -> (Vec<(String, String, String)>, Findings) {
    use crate::precheck::{Outcome, run_checks_finding, server_id_recheck};
    let checkpoint = ctx.store.load(&p.config.name).ok().flatten();
    let deadline = tokio::time::Instant::now() + SERVER_ID_GRACE;
    let (checks, findings) =
        run_checks_finding(p, &ctx.engine, ctx.runtime.clone(), checkpoint.as_ref()).await;
    for c in checks.iter().filter(|c| c.outcome == Outcome::Warn) {
        tracing::warn!(project = %p.config.name, check = %c.name, fix = %c.fix, "precheck warning: {}", c.detail);
    }
    let mut failed: Vec<(String, String, String)> = checks
        .into_iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| (c.name, c.detail, c.fix))
        .collect();
    // Only the server id: a stream of this project that just stopped may still be registered
    // on the source for a moment. Ask again about that alone until the grace period ends.
    while !failed.is_empty()
        && failed.iter().all(|f| f.0 == "source.server_id")
        && tokio::time::Instant::now() < deadline
    {
        tracing::info!(project = %p.config.name, "server id still registered on the source; checking again");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let c = server_id_recheck(p).await;
        failed = if c.outcome == Outcome::Fail {
            vec![(c.name, c.detail, c.fix)]
        } else {
            Vec::new()
        };
    }
    (failed, findings)
}

impl FleetContext {
    /// Returns true when the project is paused.
    pub fn is_paused(&self, project: &str) -> bool {
        self.paused_dir.join(project).exists()
    }
}

struct Running {
    file: PathBuf,
    fingerprint: [u8; 32],
    source: String,
    stop: watch::Sender<bool>,
    task: Option<ProjectTask>,
    paused: bool,
}

/// The running projects, by name.
#[derive(Default)]
pub struct Fleet {
    projects: HashMap<String, Running>,
}

/// Identifies a project's source database: changing it under the same name is refused.
fn source_identity(c: &ProjectConfig) -> String {
    format!("{}:{}", c.source.host, c.source.port)
}

/// Hashes a project file and every module file it uses, so a replaced `.wasm` counts as a change.
fn fingerprint(p: &Project) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(std::fs::read(&p.path).unwrap_or_default());
    for used in &p.uses {
        h.update(std::fs::read(used).unwrap_or_default());
    }
    let base = p.path.parent().unwrap_or(Path::new("."));
    let modules = p
        .config
        .options
        .module_specs()
        .map(|(spec, _, _)| spec)
        .filter(|m| m.ends_with(".wasm"));
    for m in modules {
        h.update(m.as_bytes());
        h.update(std::fs::read(base.join(m)).unwrap_or_default());
    }
    h.finalize().into()
}

/// The precheck (when on) and the preparation: what a project passes to run.
async fn attempt(ctx: &FleetContext, p: &Project) -> Result<ProjectRunner, ProjectError> {
    let mut findings = Findings::default();
    if ctx.precheck {
        let (failures, found) = precheck_failures(ctx, p).await;
        if !failures.is_empty() {
            found.discard().await;
            return Err(ProjectError::Precheck {
                file: p.path.clone(),
                failures,
            });
        }
        findings = found;
    }
    ProjectRunner::prepare(
        p,
        findings,
        &ctx.engine,
        ctx.runtime.clone(),
        ctx.store.clone(),
        ctx.status.clone(),
    )
    .await
}

fn retrying(status: &StatusBoard, name: &str, reason: &str) {
    status.update(name, |s| {
        s.state = ProjectState::Retrying;
        s.last_error = Some(format!("cannot start yet, retrying: {reason}"));
    });
}

/// Tries to start a project whose source or broker was unreachable, with backoff, until it
/// runs (then runs it), fails for another reason, or is stopped.
async fn retry_start(
    ctx: FleetContext,
    p: Project,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ProjectError> {
    let name = p.config.name.clone();
    let mut backoff = Backoff::new(START_RETRY_FIRST, START_RETRY_CAP, Duration::MAX);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(backoff.failed(Duration::ZERO)) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        if let Some(reason) = reachable::unreachable(&p.config).await {
            retrying(&ctx.status, &name, &reason);
            continue;
        }
        match attempt(&ctx, &p).await {
            Ok(runner) => {
                tracing::info!(project = %name, "project reachable now; starting");
                return runner.run(stop).await;
            }
            Err(e) => match reachable::unreachable(&p.config).await {
                Some(reason) => retrying(&ctx.status, &name, &reason),
                None => {
                    tracing::error!(project = %name, error = %e, "project not started");
                    ctx.status.update(&name, |s| {
                        s.state = ProjectState::Failed;
                        s.last_error = Some(e.to_string());
                    });
                    return Err(e);
                }
            },
        }
    }
}

/// Runs a project task; a panic in it shows the project `failed` with the panic's message (the
/// agent and the other projects go on).
fn spawn_supervised<F>(name: String, status: StatusBoard, task: F) -> ProjectTask
where
    F: std::future::Future<Output = Result<(), ProjectError>> + Send + 'static,
{
    tokio::spawn(async move {
        match std::panic::AssertUnwindSafe(task).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let detail = crate::panic_text::panic_text(panic.as_ref()).to_string();
                let e = ProjectError::Panicked { detail };
                tracing::error!(project = %name, error = %e, "project task panicked");
                status.update(&name, |s| {
                    s.state = ProjectState::Failed;
                    s.last_error = Some(e.to_string());
                });
                Err(e)
            }
        }
    })
}

/// First wait before another start attempt of an unreachable project, and the longest.
const START_RETRY_FIRST: Duration = Duration::from_millis(500);
const START_RETRY_CAP: Duration = Duration::from_secs(30);

type ProjectTask = JoinHandle<Result<(), ProjectError>>;

impl Fleet {
    /// Returns the number of projects with a live task.
    pub fn live(&self) -> usize {
        self.projects
            .values()
            .filter(|r| r.task.as_ref().is_some_and(|t| !t.is_finished()))
            .count()
    }

    /// Starts a project; a project that fails its start checks is recorded as failed (and kept,
    /// so a later change of its file retries it), unless its source or name servers are
    /// unreachable: then it is `retrying` (a live task that starts it once they answer).
    pub async fn start(&mut self, ctx: &FleetContext, p: Project) -> Result<(), ProjectError> {
        let name = p.config.name.clone();
        let fingerprint = fingerprint(&p);
        let source = source_identity(&p.config);
        let file = p.path.clone();
        ctx.alerts.set(&name, p.config.alerts.clone());
        let (stop, stop_rx) = watch::channel(false);
        let mut entry = Running {
            file,
            fingerprint,
            source,
            stop,
            task: None,
            paused: false,
        };
        if p.config.enabled && ctx.is_paused(&name) {
            entry.paused = true;
            ctx.status.update(&name, |s| {
                s.state = ProjectState::Paused;
                s.last_error = None;
            });
            self.projects.insert(name, entry);
            return Ok(());
        }
        if !p.config.enabled {
            ctx.status.update(&name, |s| {
                s.state = ProjectState::NotStarted;
                s.last_error = None;
            });
            self.projects.insert(name, entry);
            return Ok(());
        }
        ctx.status.update(&name, |s| {
            s.state = ProjectState::Starting;
            s.last_error = None;
        });
        let outcome = match attempt(ctx, &p).await {
            Ok(runner) => {
                let run = runner.run(stop_rx);
                entry.task = Some(spawn_supervised(name.clone(), ctx.status.clone(), run));
                Ok(())
            }
            Err(e) => match reachable::unreachable(&p.config).await {
                // Not up yet (a sidecar started before its database or broker): tried again
                // with backoff, as a lost stream is, until it starts or its file changes.
                Some(reason) => {
                    tracing::warn!(project = %name, error = %e, %reason, "project cannot start yet; retrying");
                    retrying(&ctx.status, &name, &reason);
                    let retry = retry_start(ctx.clone(), p, stop_rx);
                    entry.task = Some(spawn_supervised(name.clone(), ctx.status.clone(), retry));
                    Ok(())
                }
                None => {
                    tracing::error!(project = %name, error = %e, "project not started");
                    ctx.status.update(&name, |s| {
                        s.state = ProjectState::Failed;
                        s.last_error = Some(e.to_string());
                    });
                    Err(e)
                }
            },
        };
        self.projects.insert(name, entry);
        outcome
    }

    /// Stops a project (it finishes its in-flight batch) and forgets it; its checkpoint is kept.
    pub async fn stop(&mut self, name: &str, status: &StatusBoard) {
        if let Some(mut r) = self.projects.remove(name) {
            let _ = r.stop.send(true);
            if let Some(task) = r.task.take() {
                match task.await {
                    Ok(Err(e)) => {
                        tracing::error!(project = %name, error = %e, "project stopped with an error")
                    }
                    Err(e) => tracing::error!(project = %name, error = %e, "project task panicked"),
                    Ok(Ok(())) => {}
                }
            }
            status.update(name, |s| {
                // Saved-but-disabled, paused and failed projects keep telling why they are not running.
                if matches!(
                    s.state,
                    ProjectState::Running | ProjectState::Starting | ProjectState::Retrying
                ) {
                    s.state = ProjectState::Stopped;
                }
            });
        }
    }

    /// Stops every project.
    pub async fn stop_all(&mut self, status: &StatusBoard) {
        let names: Vec<String> = self.projects.keys().cloned().collect();
        for name in names {
            self.stop(&name, status).await;
        }
    }

    /// Applies the current content of the config directory: starts new projects, stops removed
    /// ones, restarts changed ones; invalid files keep their running version.
    pub async fn apply(&mut self, ctx: &FleetContext, dir: &Path) {
        let scan = match scan_dir(dir) {
            Ok(scan) => scan,
            Err(errors) => {
                tracing::error!(dir = %dir.display(), "cannot read the config directory or its data sources; keeping every project as it is:\n{errors}");
                return;
            }
        };
        for (file, project, first) in &scan.duplicates {
            tracing::error!(file = %file.display(), first = %first.display(), %project, "duplicate project name; file ignored");
        }
        let mut seen: BTreeMap<String, PathBuf> = scan
            .projects
            .iter()
            .map(|p| (p.config.name.clone(), p.path.clone()))
            .collect();
        let broken_files: Vec<(PathBuf, String)> = scan
            .broken
            .into_iter()
            .map(|(file, errors)| {
                tracing::error!(file = %file.display(), "invalid project file; the running version is kept:\n{errors}");
                (file, errors.to_string())
            })
            .collect();
        let valid = scan.projects;
        // Report broken files on the project they belong to, and keep those projects running.
        for (file, errors) in &broken_files {
            if let Some((name, _)) = self.projects.iter().find(|(_, r)| &r.file == file) {
                let errors = errors.clone();
                ctx.status.update(name, |s| s.last_error = Some(errors));
                seen.entry(name.clone()).or_insert_with(|| file.clone());
            }
        }
        // Removed projects.
        let removed: Vec<String> = self
            .projects
            .keys()
            .filter(|n| !seen.contains_key(*n))
            .cloned()
            .collect();
        for name in removed {
            tracing::info!(project = %name, "project file removed; stopping (its checkpoint is kept)");
            self.stop(&name, &ctx.status).await;
            ctx.status.set_state(&name, ProjectState::Stopped);
            ctx.alerts.remove(&name);
        }
        // New and changed projects.
        for p in valid {
            let name = p.config.name.clone();
            match self.projects.get(&name) {
                Some(r) if r.paused != (p.config.enabled && ctx.is_paused(&name)) => {
                    tracing::info!(project = %name, paused = !r.paused, "pause state changed");
                    self.stop(&name, &ctx.status).await;
                    let _ = self.start(ctx, p).await;
                }
                None => {
                    tracing::info!(project = %name, "new project file");
                    let _ = self.start(ctx, p).await;
                }
                Some(r) if r.fingerprint == fingerprint(&p) => {
                    // Unchanged (or restored after a broken edit): clear a stale file error.
                    if r.task.as_ref().is_some_and(|t| !t.is_finished()) {
                        ctx.status.update(&name, |s| s.last_error = None);
                    }
                }
                Some(r) if r.source != source_identity(&p.config) => {
                    let message = format!(
                        "{}: `source`: project {name:?} already reads from {}; a different source database ({}) needs a new project (another name)",
                        p.path.display(),
                        r.source,
                        source_identity(&p.config)
                    );
                    tracing::error!(project = %name, "{message}");
                    ctx.status.update(&name, |s| s.last_error = Some(message));
                }
                Some(_) => {
                    tracing::info!(project = %name, "project changed; restarting from its checkpoint");
                    self.stop(&name, &ctx.status).await;
                    let _ = self.start(ctx, p).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_project_task_shows_failed_not_running() {
        let status = StatusBoard::default();
        status.set_state("p", ProjectState::Running);
        let task = spawn_supervised("p".into(), status.clone(), async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        });
        let result = task.await.expect("the panic is caught inside the task");
        assert!(
            matches!(result, Err(ProjectError::Panicked { .. })),
            "{result:?}"
        );
        let s = status.get("p").expect("status");
        assert_eq!(s.state, ProjectState::Failed);
        assert!(
            s.last_error.as_deref().is_some_and(|e| e.contains("boom")),
            "{s:?}"
        );
    }
}
