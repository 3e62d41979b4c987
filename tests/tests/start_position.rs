//! A new project with `options.start_timestamp` starts at the first transaction at or after that
//! second, found in the real MariaDB binlog: older rows are not sent, newer ones all are.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, binlog_end};

const WAIT: Duration = Duration::from_secs(60);

/// Sorted `recordType:id` of messages (the after image's id, or the before image's for DELETE).
fn kinds(msgs: &[Received]) -> Vec<String> {
    let mut out: Vec<String> = msgs
        .iter()
        .map(|m| {
            let image = if m.body["postStruct"].is_null() {
                "prevStruct"
            } else {
                "postStruct"
            };
            let id = m.body[image]["id"].as_i64().unwrap_or(-1);
            format!("{}:{id}", m.body["recordType"].as_str().unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

/// Starts a project for table `a` of `scene` to `topic` with `option` under `[options]`; returns
/// the running agent and the project's name.
async fn started(scene: &Scene, topic: &str, option: &str) -> anyhow::Result<(Agent, String)> {
    let name = scene.project("a", topic, &format!("\n[options]\n{option}\n"))?;
    let agent = Agent::start(scene.config.path(), scene.data.path());
    agent.wait_running(&name, WAIT).await?;
    Ok((agent, name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_timestamp_skips_older_rows_and_keeps_newer_ones() -> anyhow::Result<()> {
    let (scene, topics) = Scene::new(
        "start",
        &["CREATE TABLE a (id INT PRIMARY KEY)"],
        &[("start_t", 2)],
    )
    .await?;
    scene
        .sql(&["INSERT INTO a VALUES (1)", "INSERT INTO a VALUES (2)"])
        .await?;
    // Poll the server clock until the second in which rows 1 and 2 were written has passed.
    let mut conn = admin().await?;
    let written: u64 = conn
        .query_first("SELECT UNIX_TIMESTAMP()")
        .await?
        .unwrap_or(0);
    let mut start = written;
    while start <= written {
        start = conn
            .query_first("SELECT UNIX_TIMESTAMP()")
            .await?
            .unwrap_or(0);
    }
    scene
        .sql(&[
            "INSERT INTO a VALUES (3)",
            "UPDATE a SET id = 4 WHERE id = 1",
        ])
        .await?;
    let (agent, _) = started(&scene, &topics[0], &format!("start_timestamp = {start}")).await?;
    scene.sql(&["INSERT INTO a VALUES (5)"]).await?;
    // The key-changing UPDATE arrives as DELETE (old key) + INSERT (new key): 4 messages.
    let msgs = scene.mq.read_topic(&topics[0], 4, WAIT).await?;
    agent.stop().await?;
    assert_eq!(
        kinds(&msgs),
        ["DELETE:1", "INSERT:3", "INSERT:4", "INSERT:5"]
    );
    scene.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_position_and_start_gtid_start_after_the_given_transaction() -> anyhow::Result<()> {
    let (scene, topics) = Scene::new(
        "startat",
        &["CREATE TABLE a (id INT PRIMARY KEY)"],
        &[("startat_t0", 1), ("startat_t1", 1)],
    )
    .await?;
    scene.sql(&["INSERT INTO a VALUES (1)"]).await?;
    // Where the binlog stands after row 1, as a file position and as a MariaDB GTID position
    // (other tests' transactions may come in between: only this table is carried).
    let mut conn = admin().await?;
    let (file, offset) = binlog_end(&mut conn).await?;
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await?
        .unwrap_or_default();
    scene
        .sql(&["INSERT INTO a VALUES (2)", "DELETE FROM a WHERE id = 1"])
        .await?;
    for (i, option) in [
        format!("start_position = \"{file}:{offset}\""),
        format!("start_gtid = \"{gtid}\""),
    ]
    .iter()
    .enumerate()
    {
        let (agent, name) = started(&scene, &topics[i], option).await?;
        scene
            .sql(&[&format!("INSERT INTO a VALUES ({})", 10 + i)])
            .await?;
        // Rows written after the position, including those of earlier rounds; never row 1.
        let msgs = scene.mq.read_topic(&topics[i], 3 + i, WAIT).await?;
        agent.stop().await?;
        // The next round's agent runs only its own project.
        std::fs::remove_file(scene.project_file(&name))?;
        let mut want = vec!["DELETE:1".to_string(), "INSERT:2".into()];
        want.extend((10..=10 + i).map(|id| format!("INSERT:{id}")));
        want.sort();
        assert_eq!(kinds(&msgs), want, "{option}");
    }
    scene.mq.shutdown().await;
    Ok(())
}
