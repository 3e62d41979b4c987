//! A killed binlog connection mid-stream (the server, the network or a DBA ends the dump thread):
//! the project reconnects from its checkpoint, and every row arrives exactly once, because what
//! was in flight is acknowledged and checkpointed before the reconnect.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;
use obsync_tests::sql::exec_all;
use obsync_tests::unique;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_dump_connections_lose_and_repeat_nothing() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "kill",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("kill_t", 2)],
    )
    .await?;
    // A replication user of this test alone, so only this project's dump thread is killed.
    let user = unique("ku");
    let mut admin = obsync_tests::sql::admin().await?;
    exec_all(
        &mut admin,
        &[
            &format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'"),
            &format!(
                "GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO '{user}'@'127.0.0.1'"
            ),
        ],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let file = s.project_file(&name);
    let (repl, pass) = obsync_tests::repl_user();
    let text = std::fs::read_to_string(&file)?
        .replace(&format!("user = \"{repl}\""), &format!("user = \"{user}\""))
        .replace(&format!("password = \"{pass}\""), "password = \"pw\"");
    std::fs::write(&file, text)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;

    let mut next = 1;
    for round in 1..=3u64 {
        let inserts: Vec<String> = (next..next + 20)
            .map(|i| format!("INSERT INTO t VALUES ({i})"))
            .collect();
        next += 20;
        let refs: Vec<&str> = inserts.iter().map(String::as_str).collect();
        s.sql(&refs).await?;
        let threads: Vec<u64> = admin
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND LIKE 'Binlog Dump%'",
                (user.as_str(),),
            )
            .await?;
        anyhow::ensure!(!threads.is_empty(), "no dump thread of {user}");
        for id in threads {
            // The thread may be gone already.
            let _ = admin.query_drop(format!("KILL {id}")).await;
        }
        agent
            .wait_for(&name, "a new stream after the kill", WAIT, |p| {
                p.streams_started > round && p.state == obsync::status::ProjectState::Running
            })
            .await?;
    }
    let inserts: Vec<String> = (next..next + 20)
        .map(|i| format!("INSERT INTO t VALUES ({i})"))
        .collect();
    let refs: Vec<&str> = inserts.iter().map(String::as_str).collect();
    s.sql(&refs).await?;
    let total = (next + 19) as usize;

    let got = s.mq.read_topic(&topics[0], total, WAIT).await?;
    let mut ids: Vec<i64> = got
        .iter()
        .map(|m| m.body["postStruct"]["id"].as_i64().unwrap_or(-1))
        .collect();
    ids.sort_unstable();
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(ids, expected, "lost or repeated rows");
    agent.stop().await?;
    exec_all(&mut admin, &[&format!("DROP USER '{user}'@'127.0.0.1'")]).await?;
    s.mq.shutdown().await;
    Ok(())
}
