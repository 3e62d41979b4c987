//! Savepoints on MariaDB: what `ROLLBACK TO SAVEPOINT` undid is never delivered, what
//! committed is, each row once, as one transaction. With a non-transactional (MyISAM) change in
//! the transaction MariaDB logs the undone InnoDB rows followed by the `ROLLBACK TO` statement.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_undone_by_rollback_to_savepoint_are_not_delivered() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "sp",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB",
            "CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM",
        ],
        &[("sp_t", 1)],
    )
    .await?;
    let topic = &topics[0];
    let also_m = format!(
        "\n[[objects]]\ndatabase = \"{}\"\ntable = \"m\"\ntopic = \"{topic}\"\n",
        s.db
    );
    let name = s.project("t", topic, &also_m)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[
        // InnoDB only: the undone row never reaches the binlog.
        "BEGIN",
        "INSERT INTO t VALUES (1)",
        "SAVEPOINT a",
        "INSERT INTO t VALUES (2)",
        "ROLLBACK TO SAVEPOINT a",
        "INSERT INTO t VALUES (3)",
        "COMMIT",
        // A MyISAM change after the savepoint: the undone row 11 is logged, then ROLLBACK TO.
        "BEGIN",
        "INSERT INTO t VALUES (10)",
        "SAVEPOINT b",
        "INSERT INTO t VALUES (11)",
        "INSERT INTO m VALUES (12)",
        "ROLLBACK TO b",
        "INSERT INTO t VALUES (13)",
        "COMMIT",
        // The end mark: once it arrived, everything before it did.
        "INSERT INTO t VALUES (99)",
    ])
    .await?;
    let got = s.mq.read_topic(topic, 6, WAIT).await?;
    let mut ids: Vec<i64> = got
        .iter()
        .map(|m| m.body["postStruct"]["id"].as_i64().unwrap_or(-1))
        .collect();
    ids.sort();
    anyhow::ensure!(
        ids == [1, 3, 10, 12, 13, 99],
        "want rows 1, 3, 10, 12, 13, 99 once each (2 and 11 were rolled back), got {ids:?}"
    );
    // Rows of one transaction stay one transaction: the same id before their `#index`.
    let txn = |id: i64| {
        got.iter()
            .find(|m| m.body["postStruct"]["id"].as_i64() == Some(id))
            .and_then(|m| m.properties.get("obsync_dedupe_key"))
            .and_then(|k| k.rsplit_once('#').map(|(t, _)| t.to_string()))
    };
    anyhow::ensure!(
        txn(1) == txn(3),
        "rows 1 and 3: {:?} vs {:?}",
        txn(1),
        txn(3)
    );
    anyhow::ensure!(
        txn(10) == txn(13),
        "rows 10 and 13: {:?} vs {:?}",
        txn(10),
        txn(13)
    );
    agent.stop().await
}
