//! A new project with `options.start_timestamp` starts at the first transaction at or after that
//! second, found in the real MariaDB binlog: older rows are not sent, newer ones all are.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::{Agent, TempDir, project_toml};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_timestamp_skips_older_rows_and_keeps_newer_ones() -> anyhow::Result<()> {
    init_logs();
    let db = unique("start");
    let topic = unique("start_t");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE a (id INT PRIMARY KEY)",
        ],
    )
    .await?;
    exec_all(
        &mut conn,
        &["INSERT INTO a VALUES (1)", "INSERT INTO a VALUES (2)"],
    )
    .await?;
    // Poll the server clock until the second in which rows 1 and 2 were written has passed.
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
    exec_all(
        &mut conn,
        &[
            "INSERT INTO a VALUES (3)",
            "UPDATE a SET id = 4 WHERE id = 1",
        ],
    )
    .await?;

    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    let config = TempDir::new("startcfg")?;
    let data = TempDir::new("startdata")?;
    let name = unique("start");
    let text = project_toml(&name, &db, "a", &topic, unique_server_id())
        + &format!("\n[options]\nstart_timestamp = {start}\n");
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&name, WAIT).await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (5)"]).await?;
    // The key-changing UPDATE arrives as DELETE (old key) + INSERT (new key): 4 messages.
    let msgs = mq.read_topic(&topic, 4, WAIT).await?;
    agent.stop().await?;
    let kinds: Vec<String> = msgs
        .iter()
        .map(|m| {
            let id = m.body["postStruct"]["id"].as_i64().unwrap_or(-1);
            format!("{}:{id}", m.body["recordType"].as_str().unwrap_or_default())
        })
        .collect();
    let mut kinds_sorted = kinds.clone();
    kinds_sorted.sort();
    assert_eq!(
        kinds_sorted,
        ["DELETE:-1", "INSERT:3", "INSERT:4", "INSERT:5"],
        "{kinds:?}"
    );
    mq.shutdown().await;
    Ok(())
}
