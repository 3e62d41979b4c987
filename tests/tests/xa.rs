//! XA transactions on MariaDB: a prepared branch is delivered only once `XA COMMIT` is logged,
//! also when the agent restarted in between (the branch waited in its store), never after
//! `XA ROLLBACK`; a one-phase commit is delivered at once. Each row exactly once, in commit order.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(60);

fn ids(got: &[obsync_tests::mq::Received]) -> Vec<i64> {
    got.iter()
        .map(|m| m.body["postStruct"]["id"].as_i64().unwrap_or(-1))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xa_branches_deliver_what_committed_once() -> anyhow::Result<()> {
    // One queue: the broker's order is the agent's send order.
    let (s, topics) = Scene::new(
        "xa",
        &["CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB"],
        &[("xa_t", 1)],
    )
    .await?;
    let topic = &topics[0];
    let name = s.project("t", topic, "")?;
    let data = s.data.path().to_path_buf();
    // Xids are server-wide: each run names its own (a failed run leaves its branch prepared).
    let xid = |branch: &str| format!("'{}-{branch}'", s.db);
    let (a, b, c, d) = (xid("a"), xid("b"), xid("c"), xid("d"));
    let agent = Agent::start(s.config.path(), &data);
    agent.wait_running(&name, WAIT).await?;
    // Prepared, outcome later: nothing yet. (MariaDB keeps a prepared branch when its session
    // ends; any session can commit it.)
    s.sql(&[
        &format!("XA START {a}"),
        "INSERT INTO t VALUES (1)",
        &format!("XA END {a}"),
        &format!("XA PREPARE {a}"),
    ])
    .await?;
    s.sql(&["INSERT INTO t VALUES (50)"]).await?;
    let got = s.mq.read_topic(topic, 1, WAIT).await?;
    anyhow::ensure!(
        ids(&got) == [50],
        "before its XA COMMIT, row 1 of the prepared branch must not be delivered; got {:?}",
        ids(&got)
    );
    // The agent stops (its checkpoint is past the PREPARE) and the outcome comes while it is
    // away: the branch's rows must come from its store.
    agent.stop().await?;
    s.sql(&[
        &format!("XA COMMIT {a}"),
        // Prepared then rolled back: never delivered.
        &format!("XA START {b}"),
        "INSERT INTO t VALUES (2)",
        &format!("XA END {b}"),
        &format!("XA PREPARE {b}"),
        &format!("XA ROLLBACK {b}"),
        // One phase, with a branch qualifier and format id: delivered with its commit.
        &format!("XA START {c}, 'q', 5"),
        "INSERT INTO t VALUES (3)",
        &format!("XA END {c}, 'q', 5"),
        &format!("XA COMMIT {c}, 'q', 5 ONE PHASE"),
        // Prepared, then another transaction commits, then the branch: commit order is 5, 4.
        &format!("XA START {d}"),
        "INSERT INTO t VALUES (4)",
        &format!("XA END {d}"),
        &format!("XA PREPARE {d}"),
    ])
    .await?;
    s.sql(&[
        "INSERT INTO t VALUES (5)",
        &format!("XA COMMIT {d}"),
        "INSERT INTO t VALUES (99)",
    ])
    .await?;
    let agent = Agent::start(s.config.path(), &data);
    agent.wait_running(&name, WAIT).await?;
    let got = s.mq.read_topic(topic, 6, WAIT).await?;
    anyhow::ensure!(
        ids(&got) == [50, 1, 3, 5, 4, 99],
        "want rows in commit order 50, 1, 3, 5, 4, 99, each once (2 was rolled back); got {:?}",
        ids(&got)
    );
    agent.stop().await
}
