//! A column obsync cannot decode (MariaDB's `COMPRESSED` attribute), on the real MariaDB: the
//! precheck refuses the project naming the column and the way out; run without the precheck
//! (or when the attribute is added later), the stream stops at the first row with an error
//! naming it, instead of sending rows without it or skipping them; the checkpoint stays before
//! the row.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::{Agent, AgentOptions, TempDir, project_toml};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_compressed_column_stops_the_project_with_a_clear_error() -> anyhow::Result<()> {
    init_logs();
    let db = unique("compcol");
    let topic = unique("compcol_t");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE c (id INT PRIMARY KEY, note VARCHAR(200) COMPRESSED)",
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 1).await?;
    let config = TempDir::new("compcolcfg")?;
    let data = TempDir::new("compcoldata")?;
    let name = unique("compcol");
    std::fs::write(
        config.path().join(format!("{name}.toml")),
        project_toml(&name, &db, "c", &topic, unique_server_id()),
    )?;
    // The precheck refuses it (the agent exits: its only project could not start).
    let agent = Agent::start(config.path(), data.path());
    let error = match tokio::time::timeout(WAIT, agent.stop()).await? {
        Ok(()) => anyhow::bail!("the agent started a project with a COMPRESSED column"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("precheck failed")
            && error.contains("COMPRESSED column(s) note")
            && error.contains("drop the COMPRESSED attribute"),
        "{error}"
    );
    // Without the precheck, the stream stops at the first row.
    let agent = Agent::start_with(
        config.path(),
        data.path(),
        AgentOptions {
            precheck: false,
            ..AgentOptions::default()
        },
    );
    agent.wait_running(&name, WAIT).await?;
    exec_all(&mut conn, &["INSERT INTO c VALUES (1, REPEAT('x', 150))"]).await?;
    let after: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no binlog"))?;
    let (file, end): (String, u64) = (
        after.get_opt(0).and_then(Result::ok).unwrap_or_default(),
        after.get_opt(1).and_then(Result::ok).unwrap_or_default(),
    );
    agent
        .wait_for(&name, "the compressed column named", WAIT, |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("COMPRESSED") && e.contains(&db))
        })
        .await?;
    // The checkpoint did not move past the row (it stays before its transaction).
    let at = agent.status.get(&name).and_then(|s| s.position);
    if let Some(p) = at.filter(|p| p.file == file) {
        assert!(
            p.offset < end,
            "checkpoint {p} passed the row (binlog end {end})"
        );
    }
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}
