//! The `obsync` command: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// One malloc arena: under load glibc's per-thread arenas kept about twice the live heap resident
/// (peak RSS 148 MiB with the default, 83 MiB with one arena, same speed, end to end at 1M rows;
/// mimalloc measured worse: 145 MiB idle). `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called first thing in `main`,
        // before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Streams row changes from OceanBase, MySQL or MariaDB to RocketMQ.
#[derive(Parser)]
#[command(name = "obsync", version, about)]
struct Cli {
    /// Log format: human-readable `text`, or `json` (one object per line) for log collectors.
    #[arg(long, global = true, env = "OBSYNC_LOG_FORMAT", default_value = "text")]
    log_format: obsync::telemetry::LogFormat,
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
        /// The HTTP listener for /healthz, /readyz, /metrics, /api/projects and the status page
        /// (`off`: none). Port 0 picks a free port; the bound address is written to
        /// DATA_DIR/listen.addr.
        #[arg(long, env = "OBSYNC_LISTEN", default_value = "127.0.0.1:9187")]
        listen: String,
        /// Start projects even when their precheck fails (the checks still run with `obsync check`).
        #[arg(long, env = "OBSYNC_SKIP_PRECHECK")]
        skip_precheck: bool,
    },
    /// Shows the projects of a running agent: state, checkpoint, latency, throughput, errors.
    Status {
        /// The agent's listener, e.g. `http://127.0.0.1:9187`; read from DATA_DIR/listen.addr
        /// when not given.
        #[arg(long, env = "OBSYNC_URL")]
        url: Option<String>,
        /// The agent's data directory.
        #[arg(long, env = "OBSYNC_DATA_DIR", default_value = "obsync-data")]
        data_dir: PathBuf,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only this project (with its objects and modules).
        project: Option<String>,
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
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    limit_malloc_arenas();
    let cli = Cli::parse();
    obsync::telemetry::init(cli.log_format);
    match cli.command {
        Command::Status {
            url,
            data_dir,
            json,
            project,
        } => show_status(url, &data_dir, json, project.as_deref()),
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
            listen,
            skip_precheck,
        } => {
            let listen = if listen.eq_ignore_ascii_case("off") {
                None
            } else {
                match listen.parse::<std::net::SocketAddr>() {
                    Ok(a) => Some(a),
                    Err(e) => {
                        eprintln!("error: --listen {listen:?}: {e} (use HOST:PORT or `off`)");
                        return ExitCode::from(2);
                    }
                }
            };
            let Some(runtime) = runtime(true) else {
                return ExitCode::FAILURE;
            };
            let opts = obsync::RunOptions {
                config_dir,
                data_dir,
                status: obsync::status::StatusBoard::default(),
                watch: !no_watch,
                listen,
                precheck: !skip_precheck,
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

/// Builds the Tokio runtime (multi-threaded for the agent); prints why when it cannot.
fn runtime(multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}

/// Runs `obsync status`: asks a running agent's listener and prints its answer.
fn show_status(
    url: Option<String>,
    data_dir: &std::path::Path,
    json: bool,
    project: Option<&str>,
) -> ExitCode {
    let url = match url {
        Some(u) => u,
        None => {
            let file = data_dir.join(obsync::LISTEN_FILE);
            match std::fs::read_to_string(&file) {
                Ok(addr) => format!("http://{}", addr.trim()),
                Err(e) => {
                    eprintln!(
                        "error: cannot read {}: {e} (is an agent with a listener using this data directory? or pass --url)",
                        file.display()
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let Some(runtime) = runtime(false) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(obsync::http::client::fetch(&url, project)) {
        Ok(reports) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&reports).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(reports) => {
            print!(
                "{}",
                obsync::http::client::render(&reports, project.is_some())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `<data-dir>/status.json` as a table.
fn list_projects(data_dir: &std::path::Path) -> ExitCode {
    match obsync::status_file::read(data_dir) {
        Ok(all) => {
            print!("{}", obsync::status_file::table(&all));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `obsync check`: prints one line per check; exit 1 when any check fails.
fn precheck(
    config_dir: &std::path::Path,
    data_dir: Option<&std::path::Path>,
    only: Option<&str>,
) -> ExitCode {
    let checkpoints = data_dir
        .map(obsync::status_file::checkpoints)
        .unwrap_or_default();
    let projects = match obsync::config::load_dir(config_dir) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime(true) else {
        return ExitCode::FAILURE;
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
                failed |= c.outcome == obsync::precheck::Outcome::Fail;
                println!("{}", c.line());
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
