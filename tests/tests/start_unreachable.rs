//! A project whose database or name server is down when the agent starts (a sidecar started
//! before them): it is `retrying` with the reason shown, the agent stays up, and once the
//! service answers the project starts and delivers every row, exactly once.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::relay::{Relay, free_port};
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(90);

/// Starts the agent on a project whose `[source] port` or `target.name_server` points at a
/// port nothing listens on yet, then starts a relay there to the real service.
async fn start_before(service: &str) -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "down",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("down_t", 2)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let file = s.project_file(&name);
    let port = free_port()?;
    let text = std::fs::read_to_string(&file)?;
    let (text, target) = match service {
        "database" => (
            text.replace(
                &format!("port = {}", obsync_tests::mysql_port()),
                &format!("port = {port}"),
            ),
            format!("127.0.0.1:{}", obsync_tests::mysql_port()),
        ),
        _ => (
            text.replace(&obsync_tests::name_server(), &format!("127.0.0.1:{port}")),
            obsync_tests::name_server(),
        ),
    };
    std::fs::write(&file, text)?;

    let agent = Agent::start(s.config.path(), s.data.path());
    agent
        .wait_for(&name, "retrying with the reason", WAIT, |p| {
            p.state == ProjectState::Retrying
                && p.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("unreachable") && e.contains(&port.to_string()))
        })
        .await?;
    anyhow::ensure!(
        !agent.is_finished(),
        "the agent exited with its project retrying"
    );

    let _up = Relay::start(port, target).await?;
    agent.wait_running(&name, WAIT).await?;
    s.sql(&["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"])
        .await?;
    let got = s.mq.read_topic(&topics[0], 2, WAIT).await?;
    let mut keys: Vec<String> = got.iter().map(|m| m.keys.join(",")).collect();
    keys.sort();
    keys.dedup();
    anyhow::ensure!(
        got.len() == 2 && keys.len() == 2,
        "want the two rows exactly once, got {} messages with keys {keys:?}",
        got.len()
    );
    agent.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_at_start() -> anyhow::Result<()> {
    start_before("database").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_server_down_at_start() -> anyhow::Result<()> {
    start_before("name server").await
}
