//! Errors of a project and of the agent as a whole.

use std::fmt;
use std::path::PathBuf;

use crate::checkpoint::CheckpointError;
use crate::config::ConfigErrors;
use crate::policy::ErrorPolicy;
use crate::route::RouteError;
use crate::sink::SinkError;
use crate::source::SourceError;
use crate::wasm::WasmError;

/// Why a project stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A start check failed; names the project file and the field to fix.
    #[error("{}: `{field}`: {message}", file.display())]
    Start {
        /// The project file.
        file: PathBuf,
        /// The field the problem belongs to.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The project's task panicked (a bug in obsync: please report it with the log).
    #[error(
        "internal error: the project task panicked ({detail}); it restarts when its file changes or the agent restarts"
    )]
    Panicked {
        /// The panic's message.
        detail: String,
    },
    /// The precheck found problems that stop the project.
    #[error("{}: precheck failed (fix it, or start anyway with `obsync run --skip-precheck`):{}", file.display(), Failures(.failures))]
    Precheck {
        /// The project file.
        file: PathBuf,
        /// Each failed check: name, what was found, the fix.
        failures: Vec<(String, String, String)>,
    },
    /// Reading the binlog failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Sending to RocketMQ failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The format module failed.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// Routing failed (bad sharding columns).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl ProjectError {
    /// What the project does next: the source and the sink classify their own errors; a failed
    /// start check, a panic, a module, a route or the checkpoint store stop the project.
    pub fn policy(&self) -> ErrorPolicy {
        match self {
            ProjectError::Source(e) => e.policy(),
            ProjectError::Sink(e) => e.policy(),
            ProjectError::Start { .. }
            | ProjectError::Panicked { .. }
            | ProjectError::Precheck { .. }
            | ProjectError::Wasm(_)
            | ProjectError::Route(_)
            | ProjectError::Checkpoint(_) => ErrorPolicy::Stop,
        }
    }
}

/// Why `run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config directory has errors.
    #[error("invalid configuration:\n{0}")]
    Config(ConfigErrors),
    /// The data directory is not usable.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        message: String,
    },
    /// The checkpoint store could not be opened.
    #[error(transparent)]
    Checkpoint(CheckpointError),
    /// The WebAssembly engine could not start.
    #[error(transparent)]
    Wasm(crate::wasm::WasmError),
    /// The RocketMQ client could not start.
    #[error(transparent)]
    Sink(SinkError),
    /// The HTTP listener could not start.
    #[error(transparent)]
    Http(crate::http::HttpError),
    /// No project could be started.
    #[error("no project could be started:\n{}", Lines(.0))]
    NotStarted(Vec<ProjectError>),
    /// Every started project failed (only without hot reload; see the log for each error).
    #[error("every project failed; see the log for each project's error")]
    AllFailed(Vec<ProjectError>),
}

struct Failures<'a>(&'a [(String, String, String)]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, detail, fix) in self.0 {
            write!(f, "\n  FAIL {name}: {detail}")?;
            if !fix.is_empty() {
                write!(f, " -> {fix}")?;
            }
        }
        Ok(())
    }
}

struct Lines<'a>(&'a [ProjectError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
