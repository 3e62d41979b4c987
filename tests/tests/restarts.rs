//! The broker and then the database are restarted under a running project: the project shows
//! that it is retrying, and every row written before, during and after arrives.
//!
//! This binary restarts the shared private services, so it holds a single test: cargo runs test
//! binaries one after another, and nothing else uses the services meanwhile.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::mq::Mq;
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, exec_all};

const WAIT: Duration = Duration::from_secs(120);

fn services(action: &str, component: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let status = Command::new("bash")
        .args([script, action, component])
        .status()
        .unwrap();
    assert!(status.success(), "services.sh {action} {component} failed");
}

async fn insert(db: &str, ids: std::ops::Range<usize>) -> anyhow::Result<()> {
    let mut conn = admin().await?;
    let mut statements = vec![format!("USE `{db}`")];
    for chunk in ids.collect::<Vec<_>>().chunks(10) {
        let values: Vec<String> = chunk.iter().map(|id| format!("({id})")).collect();
        statements.push(format!("INSERT INTO t VALUES {}", values.join(",")));
    }
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    exec_all(&mut conn, &refs).await
}

async fn wait_state(agent: &Agent, name: &str, state: ProjectState) -> anyhow::Result<()> {
    agent
        .wait_for(name, &format!("{state:?}"), WAIT, |s| s.state == state)
        .await
}

/// The distinct ids on the topic, reading until `want` distinct ones arrived (or time ran out).
async fn ids_in(mq: &Mq, topic: &str, want: usize) -> anyhow::Result<HashSet<i64>> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut read = want;
    loop {
        let msgs = mq.read_topic(topic, read, WAIT).await?;
        let ids: HashSet<i64> = msgs
            .iter()
            .filter_map(|m| m.body["postStruct"]["id"].as_i64())
            .collect();
        if ids.len() >= want || std::time::Instant::now() > deadline {
            return Ok(ids);
        }
        read = msgs.len() + (want - ids.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_database_restarts_lose_nothing() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "restart",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("restart_t", 4)],
    )
    .await?;
    let (db, mq, topic) = (&s.db, &s.mq, &topics[0]);
    let name = s.project("t", topic, "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;

    // Broker: rows before, while it is down (the project retries), and after.
    insert(db, 0..300).await?;
    services("stop", "broker");
    insert(db, 300..600).await?;
    wait_state(&agent, &name, ProjectState::Retrying).await?;
    services("start", "broker");
    insert(db, 600..900).await?;
    let ids = ids_in(mq, topic, 900).await?;
    let missing: Vec<i64> = (0..900).filter(|i| !ids.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "lost across the broker restart: {missing:?}"
    );

    // Database: the binlog stream breaks and resumes from the checkpoint.
    services("stop", "mariadb");
    wait_state(&agent, &name, ProjectState::Retrying).await?;
    services("start", "mariadb");
    insert(db, 900..1200).await?;
    let ids = ids_in(mq, topic, 1200).await?;
    agent.stop().await?;
    let missing: Vec<i64> = (0..1200).filter(|i| !ids.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "lost across the database restart: {missing:?}"
    );
    s.mq.shutdown().await;
    Ok(())
}
