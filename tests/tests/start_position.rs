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

/// Sorted `recordType:id` of messages (the after image's id, or the before image's for DELETE).
fn kinds(msgs: &[obsync_tests::mq::Received]) -> Vec<String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_position_and_start_gtid_start_after_the_given_transaction() -> anyhow::Result<()> {
    init_logs();
    let db = unique("startat");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE a (id INT PRIMARY KEY)",
            "INSERT INTO a VALUES (1)",
        ],
    )
    .await?;
    // Where the binlog stands after row 1, as a file position and as a MariaDB GTID position
    // (other tests' transactions may come in between: only this table is carried).
    let status: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no binlog"))?;
    let file: String = status.get_opt(0).and_then(Result::ok).unwrap_or_default();
    let offset: u64 = status.get_opt(1).and_then(Result::ok).unwrap_or_default();
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await?
        .unwrap_or_default();
    exec_all(
        &mut conn,
        &["INSERT INTO a VALUES (2)", "DELETE FROM a WHERE id = 1"],
    )
    .await?;
    let mq = Mq::new()?;
    for (i, option) in [
        format!("start_position = \"{file}:{offset}\""),
        format!("start_gtid = \"{gtid}\""),
    ]
    .iter()
    .enumerate()
    {
        let topic = unique(&format!("startat_t{i}"));
        mq.create_topic(&topic, 1).await?;
        let config = TempDir::new("startatcfg")?;
        let data = TempDir::new("startatdata")?;
        let name = unique("startat");
        let text = project_toml(&name, &db, "a", &topic, unique_server_id())
            + &format!("\n[options]\n{option}\n");
        std::fs::write(config.path().join(format!("{name}.toml")), text)?;
        let agent = Agent::start(config.path(), data.path());
        agent.wait_running(&name, WAIT).await?;
        exec_all(&mut conn, &[&format!("INSERT INTO a VALUES ({})", 10 + i)]).await?;
        // Rows written after the position, including those of earlier rounds; never row 1.
        let msgs = mq.read_topic(&topic, 3 + i, WAIT).await?;
        agent.stop().await?;
        let mut want = vec!["DELETE:1".to_string(), "INSERT:2".into()];
        want.extend((10..=10 + i).map(|id| format!("INSERT:{id}")));
        want.sort();
        assert_eq!(kinds(&msgs), want, "{option}");
    }
    mq.shutdown().await;
    Ok(())
}
