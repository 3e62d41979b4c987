//! A restarted project must never take its own just-closed binlog stream for another replica
//! with the same server id. A source notices a closed replica only when it next writes to it (an
//! event or a heartbeat); with `heartbeat_ms = 60000` and nothing written meanwhile, the closed
//! stream stays in `SHOW SLAVE HOSTS` for a minute. Before obsync ended its old streams on the
//! server side (and the precheck recognised its own), a hot reload then failed the precheck with
//! "in use by another replica" and the project never came back.
//!
//! Nothing else may write to the source meanwhile (that would make the server notice at once),
//! so this binary holds a single test (cargo runs test binaries one after another).
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_reload_restart_is_not_refused_by_its_own_old_stream() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "sidrestart",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("sidrestart_t", 2)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let file = s.project_file(&name);
    let slow = std::fs::read_to_string(&file)?
        .replace("server_id = ", "heartbeat_ms = 60000\nserver_id = ");
    std::fs::write(&file, &slow)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&["INSERT INTO t VALUES (1)"]).await?;
    s.mq.read_topic(&topics[0], 1, WAIT).await?;

    // A change of the file: the project is stopped (its stream closed) and started again.
    std::fs::write(
        &file,
        slow.replace("send_timeout_ms = 15000", "send_timeout_ms = 15001"),
    )?;
    agent
        .wait_for(&name, "running its second stream, or failed", WAIT, |p| {
            p.state == ProjectState::Failed
                || (p.state == ProjectState::Running && p.streams_started >= 2)
        })
        .await?;
    let status = agent.status.get(&name).expect("status");
    assert_eq!(
        status.state,
        ProjectState::Running,
        "the restart was refused: {:?}",
        status.last_error
    );
    s.sql(&["INSERT INTO t VALUES (2)"]).await?;
    let msgs = s.mq.read_topic(&topics[0], 2, WAIT).await?;
    agent.stop().await?;
    let ids: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2], "nothing lost, nothing twice: {ids:?}");
    Ok(())
}
