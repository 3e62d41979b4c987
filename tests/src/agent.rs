//! Runs the real agent in-process on a temporary config directory, with a shutdown handle.

use std::path::{Path, PathBuf};

use std::time::Duration;

use obsync::status::{ProjectState, ProjectStatus, StatusBoard};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running agent.
pub struct Agent {
    /// The agent's project states.
    pub status: StatusBoard,
    stop: Option<oneshot::Sender<()>>,
    /// The agent's task; taken by the first call that reports how it ended.
    task: std::sync::Mutex<Option<JoinHandle<Result<(), obsync::RunError>>>>,
}

/// How a test agent runs.
#[derive(Debug, Clone, Copy)]
pub struct AgentOptions {
    /// The HTTP listener's address (`None`: no listener).
    pub listen: Option<std::net::SocketAddr>,
    /// Whether projects must pass the precheck to start (as `obsync run` does by default).
    pub precheck: bool,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            listen: None,
            precheck: true,
        }
    }
}

impl Agent {
    /// Starts `obsync::run` on `config_dir` with checkpoints in `data_dir`, as `obsync run` does
    /// (precheck on), without an HTTP listener.
    pub fn start(config_dir: &Path, data_dir: &Path) -> Agent {
        Self::start_with(config_dir, data_dir, AgentOptions::default())
    }

    /// Starts the agent with `options`.
    pub fn start_with(config_dir: &Path, data_dir: &Path, options: AgentOptions) -> Agent {
        let (tx, rx) = oneshot::channel::<()>();
        let status = StatusBoard::default();
        let opts = obsync::RunOptions {
            config_dir: config_dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            status: status.clone(),
            watch: true,
            listen: options.listen,
            precheck: options.precheck,
        };
        let task = tokio::spawn(obsync::run(opts, async move {
            let _ = rx.await;
        }));
        Agent {
            status,
            stop: Some(tx),
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// Waits until `project` is running (its start position is recorded), or fails when it
    /// failed, the agent exited, or `timeout` passed.
    pub async fn wait_running(&self, project: &str, timeout: Duration) -> anyhow::Result<()> {
        let done = self.status.wait_until(|all| {
            all.get(project)
                .is_some_and(|s| matches!(s.state, ProjectState::Running | ProjectState::Failed))
        });
        tokio::select! {
            _ = tokio::time::timeout(timeout, done) => {}
            _ = self.wait_finished() => {
                let why = match self.take_task() {
                    Some(task) => format!("{:?}", task.await),
                    None => "its end was reported before".into(),
                };
                anyhow::bail!("agent exited while waiting for {project}: {why}")
            }
        }
        match self.status.get(project) {
            Some(s) if s.state == ProjectState::Running => Ok(()),
            other => anyhow::bail!("project {project} is not running: {other:?}"),
        }
    }

    /// Waits until `f` holds for `project`'s status; fails after `timeout`, naming `what`.
    pub async fn wait_for(
        &self,
        project: &str,
        what: &str,
        timeout: Duration,
        f: impl Fn(&ProjectStatus) -> bool,
    ) -> anyhow::Result<()> {
        let done = self
            .status
            .wait_until(|all| all.get(project).is_some_and(&f));
        tokio::time::timeout(timeout, done).await.map_err(|_| {
            anyhow::anyhow!(
                "{project}: {what} not reached: {:?}",
                self.status.get(project)
            )
        })
    }

    /// Asks the agent to stop and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.take_task() {
            task.await??;
        }
        Ok(())
    }

    /// Returns true when the agent exited by itself.
    pub fn is_finished(&self) -> bool {
        self.task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }

    fn take_task(&self) -> Option<JoinHandle<Result<(), obsync::RunError>>> {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    async fn wait_finished(&self) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while !self.is_finished() {
            tick.tick().await;
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(crate::unique(prefix));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    /// Returns the path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One project's entry of `<data_dir>/status.json`, as written by an agent process.
pub fn status_file_entry(data_dir: &Path, project: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(data_dir.join(obsync::STATUS_FILE)).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()?
        .get(project)
        .cloned()
}

/// Writes a project file for one table → topic object with the Default format.
pub fn project_toml(
    name: &str,
    database: &str,
    table: &str,
    topic: &str,
    server_id: u32,
) -> String {
    let (user, pass) = crate::repl_user();
    format!(
        r#"name = "{name}"

[source]
host = "127.0.0.1"
port = {port}
user = "{user}"
password = "{pass}"
server_id = {server_id}

[target]
name_server = "{ns}"
producer_group = "{name}_pg"
# A loaded two-core CI runner can stall the broker for seconds; a send it does not answer in
# time is sent again from the checkpoint (at least once), which exact-count tests would see.
send_timeout_ms = 15000

[[objects]]
database = "{database}"
table = "{table}"
topic = "{topic}"
"#,
        port = crate::mysql_port(),
        ns = crate::name_server(),
    )
}

/// [`project_toml`] for a table on the second MariaDB.
pub fn project_toml_on_second(
    name: &str,
    database: &str,
    table: &str,
    topic: &str,
    server_id: u32,
) -> String {
    project_toml(name, database, table, topic, server_id).replace(
        &format!("port = {}", crate::mysql_port()),
        &format!("port = {}", crate::mysql2_port()),
    )
}
