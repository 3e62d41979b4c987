//! A broker that stores a batch but answers a status other than SEND_OK (FLUSH_SLAVE_TIMEOUT on
//! RocketMQ 5, SLAVE_NOT_AVAILABLE on 4.9): a SYNC_MASTER broker whose replica is missing
//! (`scripts/services.sh start syncbroker`). Such an answer is not an acknowledgement: the
//! project retries from its checkpoint, which never moves past the unacknowledged rows; once
//! the broker acknowledges again (5.x: `inSyncReplicas` set back to 1 at runtime with
//! `mqadmin updateBrokerConfig`), every row arrives.
//!
//! This binary starts and stops a broker of its own, so it holds a single test.
#![recursion_limit = "256"]

use std::collections::HashSet;
use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;
use obsync_tests::{services, unique, update_broker_config};

const WAIT: Duration = Duration::from_secs(120);
const ROWS: i64 = 20;

/// Stops the sync broker when the test ends, on failure too.
struct SyncBroker;

impl Drop for SyncBroker {
    fn drop(&mut self) {
        let _ = services(&["stop", "syncbroker"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_other_than_send_ok_is_not_an_acknowledgement() -> anyhow::Result<()> {
    services(&["start", "syncbroker"])?;
    let _broker = SyncBroker;
    let (s, _) = Scene::new("sync", &["CREATE TABLE t (id INT PRIMARY KEY)"], &[]).await?;
    let topic = unique("sync_t");
    let broker = obsync_tests::sync_broker_addr();
    s.mq.create_topic_on(&broker, &topic, 2, None).await?;
    let project = s.project("t", &topic, "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&project, WAIT).await?;
    let start = agent.status.get(&project).and_then(|p| p.position);

    let values: Vec<String> = (1..=ROWS).map(|i| format!("({i})")).collect();
    s.sql(&[&format!("INSERT INTO t VALUES {}", values.join(","))])
        .await?;
    agent
        .wait_for(&project, "retrying on a non-OK status", WAIT, |p| {
            p.state == ProjectState::Retrying
                && p.last_error.as_deref().is_some_and(|e| {
                    e.contains("FLUSH_SLAVE_TIMEOUT") || e.contains("SLAVE_NOT_AVAILABLE")
                })
        })
        .await?;
    let status = agent.status.get(&project).expect("status");
    assert_eq!(
        status.position, start,
        "the checkpoint moved past rows the broker did not acknowledge: {status:?}"
    );
    // The broker stored them anyway (that is what the status says): they are sent again.
    let stored = s.mq.read_topic(&topic, ROWS as usize, WAIT).await?;
    assert!(stored.len() >= ROWS as usize, "{} stored", stored.len());

    let v5 = !std::env::var("OBSYNC_ROCKETMQ_VERSION").is_ok_and(|v| v.starts_with("4."));
    if v5 {
        // The replica requirement lifted at runtime: the next retry is acknowledged.
        update_broker_config(&broker, "inSyncReplicas", "1")?;
        agent
            .wait_for(&project, "running past the rows", WAIT, |p| {
                p.state == ProjectState::Running && p.position != start
            })
            .await?;
        let msgs = s.mq.read_topic(&topic, ROWS as usize, WAIT).await?;
        let ids: HashSet<i64> = msgs
            .iter()
            .filter_map(|m| m.body["postStruct"]["id"].as_i64())
            .collect();
        assert_eq!(ids, (1..=ROWS).collect(), "every row arrived");
    }
    agent.stop().await?;
    Ok(())
}
