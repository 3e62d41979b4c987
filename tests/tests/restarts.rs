//! The broker and then the database are restarted under a running project: the project shows
//! that it is retrying, every row written before, during and after arrives, each queue keeps
//! commit order, a broker restart duplicates at most the window and a database restart nothing.
//!
//! This binary restarts the shared private services, so it holds a single test: cargo runs test
//! binaries one after another, and nothing else uses the services meanwhile.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::mq::{Mq, Received};
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

/// Every message on the topic, reading until `want` distinct ids arrived (or time ran out).
async fn read_ids(mq: &Mq, topic: &str, want: usize) -> anyhow::Result<Vec<Received>> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut read = want;
    loop {
        let msgs = mq.read_topic(topic, read, WAIT).await?;
        let ids: HashSet<i64> = msgs.iter().map(id).collect();
        if ids.len() >= want || std::time::Instant::now() > deadline {
            return Ok(msgs);
        }
        read = msgs.len() + (want - ids.len());
    }
}

fn id(m: &Received) -> i64 {
    m.body["postStruct"]["id"].as_i64().unwrap_or(-1)
}

/// Checks ids `0..upto` arrived, each queue's first copies in commit (id) order, and returns
/// the number of duplicates.
fn check(msgs: &[Received], upto: i64, phase: &str) -> usize {
    let mut first: HashSet<i64> = HashSet::new();
    let mut last_per_queue: HashMap<i32, i64> = HashMap::new();
    for m in msgs {
        if first.insert(id(m)) {
            let last = last_per_queue.entry(m.queue).or_insert(-1);
            assert!(
                id(m) > *last,
                "{phase}: queue {} has row {} after row {last}: commit order broken",
                m.queue,
                id(m)
            );
            *last = id(m);
        }
    }
    let missing: Vec<i64> = (0..upto).filter(|i| !first.contains(i)).collect();
    assert!(missing.is_empty(), "lost across the {phase}: {missing:?}");
    msgs.len() - first.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_database_restarts_lose_nothing_and_keep_order() -> anyhow::Result<()> {
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
    let msgs = read_ids(mq, topic, 900).await?;
    let after_broker = check(&msgs, 900, "broker restart");
    // A failed batch resumes from the checkpoint: at most what was not yet below the
    // acknowledgement watermark is sent again (the default window, 4,096 messages).
    println!("broker restart: {after_broker} duplicates");
    assert!(
        after_broker <= 4096,
        "{after_broker} duplicates after a broker restart exceed the window 4096"
    );

    // Database: the binlog stream breaks; what was in flight lands and is checkpointed before
    // the reconnect, which therefore sends nothing twice.
    services("stop", "mariadb");
    wait_state(&agent, &name, ProjectState::Retrying).await?;
    services("start", "mariadb");
    insert(db, 900..1200).await?;
    let msgs = read_ids(mq, topic, 1200).await?;
    agent.stop().await?;
    let after_database = check(&msgs, 1200, "database restart");
    assert_eq!(
        after_database, after_broker,
        "the database restart must send nothing twice"
    );
    s.mq.shutdown().await;
    Ok(())
}
