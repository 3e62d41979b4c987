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
        Command::Project { action } => {
            let (name, data_dir, paused) = match action {
                ProjectAction::Pause { name, data_dir } => (name, data_dir, true),
                ProjectAction::Resume { name, data_dir } => (name, data_dir, false),
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
