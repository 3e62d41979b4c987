//! A client session may write its changes with `binlog_row_image=MINIMAL` or
//! `binlog_format=STATEMENT` whatever the server's global setting (that the precheck saw). Such a
//! change of a carried table cannot be carried faithfully: columns missing from a partial image
//! would be sent as NULL, and a statement has no rows at all. The project stops with an error
//! naming the table, the position and the setting to change; nothing wrong is sent.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, exec_all};

const WAIT: Duration = Duration::from_secs(60);

/// Streams one full row, then runs `statements` in one session of the scene's database and
/// expects the project to fail with an error containing every part of `expect`; returns the
/// messages on the topic (only the first row may be there).
async fn fails_on(statements: &[&str], expect: &[&str]) -> anyhow::Result<usize> {
    let (s, topics) = Scene::new(
        "session",
        &["CREATE TABLE t (id INT PRIMARY KEY, v INT, note VARCHAR(20))"],
        &[("session_t", 2)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&["INSERT INTO t VALUES (1, 1, 'full')"]).await?;
    s.mq.read_topic(&topics[0], 1, WAIT).await?;
    let mut conn = admin().await?;
    let use_db = format!("USE `{}`", s.db);
    let mut all = vec![use_db.as_str()];
    all.extend_from_slice(statements);
    exec_all(&mut conn, &all).await?;
    agent
        .wait_for(&name, "failed", WAIT, |p| p.state == ProjectState::Failed)
        .await?;
    let error = agent
        .status
        .get(&name)
        .and_then(|p| p.last_error)
        .unwrap_or_default();
    for part in expect {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
    assert!(error.contains(&s.db), "the database is named: {error}");
    let msgs = s.mq.read_topic(&topics[0], 1, WAIT).await?;
    agent.stop().await?;
    Ok(msgs.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_row_image_stops_the_project_and_nothing_partial_is_sent() -> anyhow::Result<()> {
    let n = fails_on(
        &[
            "SET SESSION binlog_row_image = 'MINIMAL'",
            "UPDATE t SET v = 2 WHERE id = 1",
        ],
        &["`.`t`", "binlog_row_image=FULL", "mdb-bin."],
    )
    .await?;
    assert_eq!(n, 1, "only the full row was sent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dml_logged_as_a_statement_stops_the_project() -> anyhow::Result<()> {
    let n = fails_on(
        &[
            "SET SESSION binlog_format = 'STATEMENT'",
            "INSERT INTO t VALUES (2, 2, 'statement')",
        ],
        &["`.`t`", "binlog_format=ROW", "INSERT", "mdb-bin."],
    )
    .await?;
    assert_eq!(n, 1, "only the row-logged change was sent");
    Ok(())
}
