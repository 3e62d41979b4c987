//! The `obsync` command: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Streams row changes from OceanBase, MySQL or MariaDB to RocketMQ.
#[derive(Parser)]
#[command(name = "obsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every enabled sync project of a config directory until SIGTERM or Ctrl-C.
    Run {
        /// The directory of project files (`*.toml`).
        #[arg(long, env = "OBSYNC_CONFIG_DIR")]
        config_dir: PathBuf,
        /// Where checkpoints are kept.
        #[arg(long, env = "OBSYNC_DATA_DIR", default_value = "obsync-data")]
        data_dir: PathBuf,
        /// Do not watch the config directory (no hot reload); exit once every project failed.
        #[arg(long)]
        no_watch: bool,
    },
    /// Runs the precheck of every enabled project (or of one): source, binlog settings,
    /// privileges, tables, topics and modules, each with pass / warn / fail and a fix.
    Check {
        /// The directory of project files (`*.toml`).
        #[arg(long, env = "OBSYNC_CONFIG_DIR")]
        config_dir: PathBuf,
        /// The agent's data directory: projects with a checkpoint are checked from it (read from
        /// its status.json, so a running agent is not disturbed).
        #[arg(long, env = "OBSYNC_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Only this project.
        project: Option<String>,
    },
    /// Pauses or resumes a project of an agent (running or not) that uses DATA_DIR.
    Project {
        #[command(subcommand)]
        action: ProjectAction,
    },
    /// Checks every project file without connecting anywhere; prints every problem.
    Validate {
        /// The directory of project files (`*.toml`).
        #[arg(long, env = "OBSYNC_CONFIG_DIR")]
        config_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ProjectAction {
    /// Lists the projects of an agent with their state, position and last error.
    List {
        /// The agent's data directory.
        #[arg(long, env = "OBSYNC_DATA_DIR", default_value = "obsync-data")]
        data_dir: PathBuf,
    },
    /// Stops a project after its in-flight batch; its checkpoint is kept.
    Pause {
        /// The project name.
        name: String,
        /// The agent's data directory.
        #[arg(long, env = "OBSYNC_DATA_DIR", default_value = "obsync-data")]
        data_dir: PathBuf,
    },
    /// Starts a paused project again from its checkpoint.
    Resume {
        /// The project name.
        name: String,
        /// The agent's data directory.
        #[arg(long, env = "OBSYNC_DATA_DIR", default_value = "obsync-data")]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    obsync::telemetry::init();
    let cli = Cli::parse();
    match cli.command {
        Command::Project {
            action: ProjectAction::List { data_dir },
        } => list_projects(&data_dir),
        Command::Check {
            config_dir,
            data_dir,
            project,
        } => precheck(&config_dir, data_dir.as_deref(), project.as_deref()),
        Command::Project { action } => {
            let (name, data_dir, paused) = match action {
                ProjectAction::Pause { name, data_dir } => (name, data_dir, true),
                ProjectAction::Resume { name, data_dir } => (name, data_dir, false),
                ProjectAction::List { .. } => return ExitCode::FAILURE,
            };
            match obsync::set_paused(&data_dir, &name, paused) {
                Ok(()) => {
                    println!("{} {name}", if paused { "paused" } else { "resumed" });
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { config_dir } => match obsync::config::load_dir(&config_dir) {
            Ok(projects) => {
                println!(
                    "{} project(s) valid in {}",
                    projects.len(),
                    config_dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            config_dir,
            data_dir,
            no_watch,
        } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let opts = obsync::RunOptions {
                config_dir,
                data_dir,
                status: obsync::status::StatusBoard::default(),
                watch: !no_watch,
            };
            match runtime.block_on(async {
                let shutdown = obsync::shutdown_signal();
                obsync::run(opts, shutdown).await
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The checkpointed positions in `<data-dir>/status.json` (empty when there is none).
fn read_checkpoints(
    data_dir: &std::path::Path,
) -> std::collections::HashMap<String, obsync::checkpoint::Position> {
    let Ok(text) = std::fs::read_to_string(data_dir.join(obsync::STATUS_FILE)) else {
        return Default::default();
    };
    let all: std::collections::BTreeMap<String, obsync::status::ProjectStatus> =
        serde_json::from_str(&text).unwrap_or_default();
    all.into_iter()
        .filter_map(|(name, s)| s.position.map(|p| (name, p)))
        .collect()
}

/// Prints `<data-dir>/status.json` as a table.
fn list_projects(data_dir: &std::path::Path) -> ExitCode {
    let path = data_dir.join(obsync::STATUS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "error: cannot read {}: {e} (is an agent using this data directory?)",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let all: std::collections::BTreeMap<String, obsync::status::ProjectStatus> =
        match serde_json::from_str(&text) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
    println!(
        "{:<32} {:<12} {:<28} {:>10}  last error",
        "project", "state", "position", "messages"
    );
    for (name, s) in all {
        let state = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let position = s.position.map(|p| p.to_string()).unwrap_or_default();
        let error = s.last_error.unwrap_or_default().replace('\n', " ");
        println!(
            "{name:<32} {state:<12} {position:<28} {:>10}  {error}",
            s.messages_sent
        );
    }
    ExitCode::SUCCESS
}

/// Runs `obsync check`: prints one line per check; exit 1 when any check fails.
fn precheck(
    config_dir: &std::path::Path,
    data_dir: Option<&std::path::Path>,
    only: Option<&str>,
) -> ExitCode {
    let checkpoints = data_dir.map(read_checkpoints).unwrap_or_default();
    let projects = match obsync::config::load_dir(config_dir) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let engine = match obsync::wasm::WasmEngine::new(None) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let client = match obsync::sink::RocketMqClient::start() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut failed = false;
        let mut seen = false;
        for p in projects
            .iter()
            .filter(|p| only.is_none_or(|n| n == p.config.name))
        {
            seen = true;
            println!("project {} ({})", p.config.name, p.path.display());
            let checkpoint = checkpoints.get(&p.config.name);
            for c in obsync::precheck::run_checks_resuming(p, &engine, client.runtime(), checkpoint)
                .await
            {
                let mark = match c.outcome {
                    obsync::precheck::Outcome::Pass => "PASS",
                    obsync::precheck::Outcome::Warn => "WARN",
                    obsync::precheck::Outcome::Fail => {
                        failed = true;
                        "FAIL"
                    }
                };
                let fix = if c.fix.is_empty() {
                    String::new()
                } else {
                    format!("  -> {}", c.fix)
                };
                println!("  {mark}  {:<36} {}{fix}", c.name, c.detail);
            }
        }
        client.shutdown().await;
        if !seen {
            eprintln!(
                "error: no project {:?} in {}",
                only.unwrap_or_default(),
                config_dir.display()
            );
            return ExitCode::FAILURE;
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}
