//! The schema history on the second MariaDB (MINIMAL row metadata: table maps carry no column
//! names, as on the OceanBase binlog service and MySQL 5.7), #16 item 6: a table whose DDL the
//! reader could not follow stays forgotten across a restart (it is described again, not decoded
//! with its old column names), and a column added by ALTER takes the table's character set.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::{Agent, AgentOptions, TempDir, project_toml_on_second};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{exec_all, second_row_session};
use obsync_tests::{init_logs, unique, unique_server_id};

const WAIT: Duration = Duration::from_secs(60);

/// A project on the second MariaDB carrying tables `t` and `u` of `db` to `topic`.
fn project(config: &TempDir, db: &str, topic: &str) -> anyhow::Result<String> {
    let name = unique("p");
    let text = project_toml_on_second(&name, db, "t", topic, unique_server_id())
        + &format!("\n[[objects]]\ndatabase = \"{db}\"\ntable = \"u\"\ntopic = \"{topic}\"\n");
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    Ok(name)
}

// The precheck fails this server's global STATEMENT format; the sessions write ROW.
fn no_precheck() -> AgentOptions {
    AgentOptions {
        precheck: false,
        ..AgentOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_forgotten_by_an_unfollowed_ddl_is_described_again_after_a_restart()
-> anyhow::Result<()> {
    init_logs();
    let db = unique("forget");
    let mut conn = second_row_session().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT) CHARSET utf8mb4"),
            &format!("CREATE TABLE `{db}`.u (id INT PRIMARY KEY) CHARSET utf8mb4"),
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let topic = unique("forget_t");
    mq.create_topic(&topic, 1).await?;
    let (config, data) = (TempDir::new("fgcfg")?, TempDir::new("fgdata")?);
    let name = project(&config, &db, &topic)?;
    let agent = Agent::start_with(config.path(), data.path(), no_precheck());
    agent.wait_running(&name, WAIT).await?;
    exec_all(
        &mut conn,
        &[
            &format!("INSERT INTO `{db}`.t VALUES (1, 10)"),
            // Renames v to w; ORDER BY makes the statement one the reader does not follow, so
            // it forgets t (same column types: nothing in the binlog tells the versions apart).
            &format!("ALTER TABLE `{db}`.t CHANGE v w INT, ORDER BY id"),
            // Once u's row arrived, the ALTER is behind the checkpoint.
            &format!("INSERT INTO `{db}`.u VALUES (1)"),
        ],
    )
    .await?;
    mq.read_topic(&topic, 2, WAIT).await?;
    agent.stop().await?;
    // Resumed after the ALTER, without t's table map in between: t must be described anew.
    exec_all(
        &mut conn,
        &[&format!("INSERT INTO `{db}`.t VALUES (2, 20)")],
    )
    .await?;
    let agent = Agent::start_with(config.path(), data.path(), no_precheck());
    agent.wait_running(&name, WAIT).await?;
    let got = mq.read_topic(&topic, 3, WAIT).await?;
    let row2 = got
        .iter()
        .map(|m| &m.body["postStruct"])
        .find(|r| r["id"] == 2)
        .ok_or_else(|| anyhow::anyhow!("row 2 not delivered: {got:?}"))?;
    anyhow::ensure!(
        row2["w"] == 20 && row2.get("v").is_none(),
        "row 2 must be decoded with the renamed column w, got {row2}"
    );
    agent.stop().await?;
    exec_all(&mut conn, &[&format!("DROP DATABASE `{db}`")]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_by_alter_takes_the_table_charset() -> anyhow::Result<()> {
    init_logs();
    let db = unique("addcs");
    let mut conn = second_row_session().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY) DEFAULT CHARSET=latin1"),
            &format!("CREATE TABLE `{db}`.u (id INT PRIMARY KEY)"),
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let topic = unique("addcs_t");
    mq.create_topic(&topic, 1).await?;
    let (config, data) = (TempDir::new("cscfg")?, TempDir::new("csdata")?);
    let name = project(&config, &db, &topic)?;
    let agent = Agent::start_with(config.path(), data.path(), no_precheck());
    agent.wait_running(&name, WAIT).await?;
    exec_all(
        &mut conn,
        &[
            // Followed by the reader: v is latin1 (the table's default), not utf8mb4.
            &format!("ALTER TABLE `{db}`.t ADD COLUMN v VARCHAR(10)"),
            &format!("INSERT INTO `{db}`.t VALUES (1, 'café ÅÉ')"),
        ],
    )
    .await?;
    let got = mq.read_topic(&topic, 1, WAIT).await?;
    let v = &got[0].body["postStruct"]["v"];
    anyhow::ensure!(v == "café ÅÉ", "latin1 text must arrive as text, got {v}");
    agent.stop().await?;
    exec_all(&mut conn, &[&format!("DROP DATABASE `{db}`")]).await?;
    Ok(())
}
