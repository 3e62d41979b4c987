//! The obsync process under measurement: started from the release binary next to the benchmark
//! with one project in a temporary config directory, watched through its status file, its HTTP
//! API and `/proc/<pid>/status` (RSS and peak RSS).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use obsync_tests::agent::{TempDir, status_file_entry};

/// A running obsync.
pub struct Obsync {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// The project's name.
    pub name: String,
    _config: TempDir,
    data: TempDir,
}

/// The obsync binary built beside this one (`cargo build --release -p obsync`).
pub fn binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe()?
        .parent()
        .map(|d| d.join("obsync"))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!("build the obsync binary first: cargo build --release -p obsync")
        })
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Obsync {
    /// Starts obsync with `project` (TOML) as the project `name`, and waits until it streams.
    /// `BENCH_TARGET` (say `in_flight_messages = 4096`) adds settings to its `[target]`.
    pub async fn start(name: &str, project: &str) -> anyhow::Result<Obsync> {
        let config = TempDir::new("benchcfg")?;
        let data = TempDir::new("benchdata")?;
        let project = match std::env::var("BENCH_TARGET") {
            Ok(extra) => project.replace("[target]\n", &format!("[target]\n{extra}\n")),
            Err(_) => project.to_string(),
        };
        std::fs::write(config.path().join(format!("{name}.toml")), project)?;
        // BENCH_WRAP="heaptrack -o /tmp/obsync": run obsync under a profiler (the RSS figures
        // are then the wrapper's).
        let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(binary()?);
                c
            }
            None => Command::new(binary()?),
        };
        let child = command
            .args(["run", "--config-dir"])
            .arg(config.path())
            .arg("--data-dir")
            .arg(data.path())
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let o = Obsync {
            pid: child.id(),
            child,
            name: name.to_string(),
            _config: config,
            data,
        };
        o.wait(Duration::from_secs(120), |s| s["state"] == "running")
            .await?;
        Ok(o)
    }

    /// The project's entry of the status file.
    pub fn status(&self) -> Option<serde_json::Value> {
        status_file_entry(self.data.path(), &self.name)
    }

    /// Polls the status file every 10 ms until `done` holds; fails when the project failed or
    /// `give_up` passed.
    pub async fn wait(
        &self,
        give_up: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + give_up;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tick.tick().await;
            let s = self.status();
            if let Some(s) = &s {
                if done(s) {
                    return Ok(());
                }
                anyhow::ensure!(s["state"] != "failed", "obsync failed: {s}");
            }
            anyhow::ensure!(Instant::now() < deadline, "obsync did not get there: {s:?}");
        }
    }

    /// Waits until `messages` messages are acknowledged in all.
    pub async fn wait_sent(&self, messages: u64, give_up: Duration) -> anyhow::Result<()> {
        self.wait(give_up, |s| s["messages_sent"].as_u64() >= Some(messages))
            .await
    }

    /// The project's report from the HTTP API (`/api/projects/{name}`).
    pub async fn report(&self) -> anyhow::Result<serde_json::Value> {
        let addr = std::fs::read_to_string(self.data.path().join(obsync::LISTEN_FILE))?;
        let url = format!("http://{}/api/projects/{}", addr.trim(), self.name);
        let text = reqwest::get(url).await?.error_for_status()?.text().await?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Resident set size now (MiB).
    pub fn rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid, "VmRSS:").map(|k| k as f64 / 1024.0)
    }

    /// Peak resident set size since the start or the last [`Obsync::reset_peak`] (MiB).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid, "VmHWM:").map(|k| k as f64 / 1024.0)
    }

    /// Resets the peak RSS to the current RSS (`/proc/<pid>/clear_refs`, value 5).
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5")?;
        Ok(())
    }

    /// Stops obsync with SIGTERM and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}
