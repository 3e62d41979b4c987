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
    agent.wait_for(project, what, WAIT, f).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_style_symlink_swaps_are_applied() -> anyhow::Result<()> {
    init_logs();
    let db = unique("cm");
    let topic = unique("cm_t");
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
    mq.create_topic(&topic, 2).await?;
    let config = TempDir::new("cmcfg")?;
    let data = TempDir::new("cmdata")?;
    let name = unique("cm");
    let dir = config.path();
    let server_id = unique_server_id();
    // Kubernetes layout: <dir>/<file> -> ..data/<file>, ..data -> ..<timestamp> (swapped atomically).
    let write_version = |version: &str, table: &str| -> anyhow::Result<()> {
        let v = dir.join(version);
        std::fs::create_dir_all(&v)?;
        std::fs::write(
            v.join(format!("{name}.toml")),
            project_toml(&name, &db, table, &topic, server_id),
        )?;
        let tmp = dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(version, &tmp)?;
        std::fs::rename(&tmp, dir.join("..data"))?;
        Ok(())
    };
    write_version("..v1", "a")?;
    std::os::unix::fs::symlink(
        format!("..data/{name}.toml"),
        dir.join(format!("{name}.toml")),
    )?;
    let agent = Agent::start(dir, data.path());
    agent.wait_running(&name, WAIT).await?;
    exec_all(&mut conn, &["INSERT INTO a VALUES (1)"]).await?;
    assert_eq!(mq.read_topic(&topic, 1, WAIT).await?.len(), 1);

    // The new version carries table b instead of a: the project restarts on the swap.
    write_version("..v2", "b")?;
    wait_for(&agent, &name, "restart after the swap", |s| {
        s.state == ProjectState::Running && s.streams_started >= 2
    })
    .await?;
    exec_all(&mut conn, &["INSERT INTO b VALUES (1)"]).await?;
    let msgs = mq.read_topic(&topic, 2, WAIT).await?;
    assert_eq!(msgs[1].body["allMetaData"]["table_name"], "b", "{msgs:#?}");
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projects_on_one_database_run_side_by_side() -> anyhow::Result<()> {
    init_logs();
    let db = unique("two");
    let (ta, tb) = (unique("two_a"), unique("two_b"));
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
    let config = TempDir::new("twocfg")?;
    let data = TempDir::new("twodata")?;
    let (pa, pb) = (unique("twoa"), unique("twob"));
    std::fs::write(
        config.path().join(format!("{pa}.toml")),
        project_toml(&pa, &db, "a", &ta, unique_server_id()),
    )?;
    std::fs::write(
        config.path().join(format!("{pb}.toml")),
        project_toml(&pb, &db, "b", &tb, unique_server_id()) + "\n[options]\nformat = \"canal\"\n",
    )?;
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&pa, WAIT).await?;
    agent.wait_running(&pb, WAIT).await?;
    exec_all(
        &mut conn,
        &["INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (2)"],
    )
    .await?;
    let a = mq.read_topic(&ta, 1, WAIT).await?;
    let b = mq.read_topic(&tb, 1, WAIT).await?;
    agent.stop().await?;
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].body["recordType"], "INSERT",
        "project a speaks Default"
    );
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].body["type"], "INSERT", "project b speaks Canal");
    assert_eq!(b[0].body["table"], "b");
    mq.shutdown().await;
    Ok(())
}
