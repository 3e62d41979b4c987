//! Hot reload of the config directory while obsync runs against the real MariaDB and broker:
//! add a project file, break it (the old version keeps running), fix it with changed objects,
//! remove it (stopped, checkpoint kept), add it back (resumes without loss or duplicates).
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::status::{ProjectState, ProjectStatus};
use obsync_tests::agent::{Agent, TempDir, project_toml};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};

const WAIT: Duration = Duration::from_secs(60);

async fn wait_for(
    agent: &Agent,
    project: &str,
    what: &str,
    f: impl Fn(&ProjectStatus) -> bool,
) -> anyhow::Result<()> {
    let done = agent
        .status
        .wait_until(|all| all.get(project).is_some_and(&f));
    tokio::time::timeout(WAIT, done).await.map_err(|_| {
        anyhow::anyhow!(
            "{project}: {what} not reached: {:?}",
            agent.status.get(project)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_files_are_applied_while_running() -> anyhow::Result<()> {
    init_logs();
    let db = unique("hot");
    let (ta, tb) = (unique("hot_a"), unique("hot_b"));
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE a (id INT PRIMARY KEY)",
            "CREATE TABLE b (id INT PRIMARY KEY)",
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&ta, 2).await?;
    mq.create_topic(&tb, 2).await?;
    let config = TempDir::new("hotcfg")?;
    let data = TempDir::new("hotdata")?;
    let agent = Agent::start(config.path(), data.path());

    // 1. A new file starts a project.
    let name = unique("hot");
    let file = config.path().join(format!("{name}.toml"));
    let server_id = unique_server_id();
    let one = project_toml(&name, &db, "a", &ta, server_id);
    std::fs::write(&file, &one)?;
    agent.wait_running(&name, WAIT).await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (1)"]).await?;
    assert_eq!(mq.read_topic(&ta, 1, WAIT).await?.len(), 1);

    // 2. A broken file is reported and the running version keeps going.
    std::fs::write(&file, format!("{one}\nbogus_field = 1\n"))?;
    wait_for(&agent, &name, "error reported", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("bogus_field"))
    })
    .await?;
    assert_eq!(
        agent.status.get(&name).map(|s| s.state),
        Some(ProjectState::Running)
    );
    exec_all(&mut conn, &["INSERT INTO a VALUES (2)"]).await?;
    assert_eq!(mq.read_topic(&ta, 2, WAIT).await?.len(), 2);

    // 3. Fixed, with one more object: restarted from its checkpoint, both tables flow.
    let two = format!("{one}\n[[objects]]\ndatabase = \"{db}\"\ntable = \"b\"\ntopic = \"{tb}\"\n");
    std::fs::write(&file, &two)?;
    wait_for(&agent, &name, "restart with the new objects", |s| {
        s.state == ProjectState::Running && s.last_error.is_none()
    })
    .await?;
    exec_all(
        &mut conn,
        &["INSERT INTO a VALUES (3)", "INSERT INTO b VALUES (1)"],
    )
    .await?;
    assert_eq!(mq.read_topic(&ta, 3, WAIT).await?.len(), 3);
    assert_eq!(mq.read_topic(&tb, 1, WAIT).await?.len(), 1);

    // 4. Removed: the project stops and keeps its checkpoint.
    std::fs::remove_file(&file)?;
    wait_for(&agent, &name, "stopped", |s| {
        s.state == ProjectState::Stopped
    })
    .await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (4)"]).await?;

    // 5. Added back: it resumes where it stopped, so the row written meanwhile arrives once.
    std::fs::write(&file, &two)?;
    agent.wait_running(&name, WAIT).await?;
    let msgs = mq.read_topic(&ta, 4, WAIT).await?;
    agent.stop().await?;
    let mut ids: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3, 4], "no loss, no duplicates");
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_cannot_move_to_another_source_database() -> anyhow::Result<()> {
    init_logs();
    let db = unique("hotsrc");
    let topic = unique("hotsrc_t");
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
    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    let config = TempDir::new("hotsrccfg")?;
    let data = TempDir::new("hotsrcdata")?;
    let name = unique("hotsrc");
    let file = config.path().join(format!("{name}.toml"));
    let text = project_toml(&name, &db, "a", &topic, unique_server_id());
    std::fs::write(&file, &text)?;
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&name, WAIT).await?;
    // Same name, another server: refused, the running version stays.
    std::fs::write(
        &file,
        text.replace("host = \"127.0.0.1\"", "host = \"127.0.0.2\""),
    )?;
    wait_for(&agent, &name, "refusal reported", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("needs a new project"))
    })
    .await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (1)"]).await?;
    assert_eq!(mq.read_topic(&topic, 1, WAIT).await?.len(), 1);
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_keep_every_row() -> anyhow::Result<()> {
    init_logs();
    let db = unique("pause");
    let topic = unique("pause_t");
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
    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    let config = TempDir::new("pausecfg")?;
    let data = TempDir::new("pausedata")?;
    let name = unique("pause");
    std::fs::write(
        config.path().join(format!("{name}.toml")),
        project_toml(&name, &db, "a", &topic, unique_server_id()),
    )?;
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&name, WAIT).await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (1)"]).await?;
    assert_eq!(mq.read_topic(&topic, 1, WAIT).await?.len(), 1);

    obsync::set_paused(data.path(), &name, true)?;
    wait_for(&agent, &name, "paused", |s| s.state == ProjectState::Paused).await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (2)"]).await?;
    obsync::set_paused(data.path(), &name, false)?;
    agent.wait_running(&name, WAIT).await?;
    let msgs = mq.read_topic(&topic, 2, WAIT).await?;
    agent.stop().await?;
    let mut ids: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2], "the row written while paused arrives once");
    mq.shutdown().await;
    Ok(())
}
