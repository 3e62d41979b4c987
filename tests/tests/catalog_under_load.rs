//! Table descriptions read from the catalog while the project is busy (#16 item 1): on the
//! second MariaDB (MINIMAL row metadata: table maps carry no column names, as on the OceanBase
//! binlog service and MySQL 5.7), a steady stream of small transactions — acknowledgements
//! arriving all the time, each waking the project loop while the reader may be in the middle of
//! an `information_schema` read — with DDL the stream cannot follow (`CONVERT TO CHARACTER
//! SET`, which makes the reader describe the table again) in the middle. Every row must arrive,
//! exactly once: a table map lost to a cancelled read would skip the rows after it.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::{Agent, AgentOptions, TempDir, project_toml_on_second};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{exec_all, second_row_session};
use obsync_tests::{init_logs, unique, unique_server_id};

const ROWS: u32 = 3000;
const WAIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_arrives_while_tables_are_described_under_load() -> anyhow::Result<()> {
    init_logs();
    let db = unique("busy");
    let mut conn = second_row_session().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(64)) CHARSET utf8mb4"),
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let topic = unique("busy_t");
    mq.create_topic(&topic, 4).await?;
    let (config, data) = (TempDir::new("busycfg")?, TempDir::new("busydata")?);
    let name = unique("p");
    let text = project_toml_on_second(&name, &db, "t", &topic, unique_server_id());
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    // The precheck fails this server's global STATEMENT format; the sessions write ROW.
    let options = AgentOptions {
        precheck: false,
        ..AgentOptions::default()
    };
    let agent = Agent::start_with(config.path(), data.path(), options);
    agent.wait_running(&name, Duration::from_secs(60)).await?;

    // A second session changes the table's character set back and forth meanwhile.
    let mut ddl = second_row_session().await?;
    for id in 1..=ROWS {
        conn.exec_drop(
            format!("INSERT INTO `{db}`.t VALUES (?, ?)"),
            (id, format!("row {id}")),
        )
        .await?;
        if id % 500 == 0 {
            let charset = if id % 1000 == 0 { "utf8mb4" } else { "latin1" };
            ddl.query_drop(format!(
                "ALTER TABLE `{db}`.t CONVERT TO CHARACTER SET {charset}"
            ))
            .await?;
        }
    }
    let got = mq.read_topic(&topic, ROWS as usize, WAIT).await?;
    let mut ids: Vec<i64> = got
        .iter()
        .map(|m| m.body["postStruct"]["id"].as_i64().unwrap_or(-1))
        .collect();
    ids.sort();
    let missing: Vec<i64> = (1..=i64::from(ROWS))
        .filter(|i| ids.binary_search(i).is_err())
        .collect();
    let mut distinct = ids.clone();
    distinct.dedup();
    anyhow::ensure!(
        missing.is_empty() && distinct.len() == ids.len(),
        "{} messages for {ROWS} rows: {} missing (first {:?}), {} duplicates",
        got.len(),
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        ids.len() - distinct.len()
    );
    agent.stop().await?;
    exec_all(&mut conn, &[&format!("DROP DATABASE `{db}`")]).await?;
    Ok(())
}
