//! The precheck against the real MariaDB and broker: a good project passes every check, and a
//! broken one fails exactly the checks that name its problems.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::config::load_dir;
use obsync::precheck::{Outcome, run_checks};
use obsync::wasm::WasmEngine;
use obsync_tests::agent::{TempDir, project_toml};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precheck_passes_a_good_project_and_names_each_problem() -> anyhow::Result<()> {
    init_logs();
    let db = unique("pre");
    let topic = unique("pre_t");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE a (id INT PRIMARY KEY, v INT)",
            "CREATE VIEW va AS SELECT id FROM a",
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    let config = TempDir::new("precfg")?;
    let good = unique("pregood");
    std::fs::write(
        config.path().join(format!("{good}.toml")),
        project_toml(&good, &db, "a", &topic, unique_server_id()) + "where = \"v > 1\"\n",
    )?;
    let bad = unique("prebad");
    let text = project_toml(
        &bad,
        &db,
        "missing",
        "no_such_topic_for_precheck",
        unique_server_id(),
    ) + &format!(
        "\n[[objects]]\ndatabase = \"{db}\"\ntable = \"va\"\ntopic = \"{topic}\"\n"
    ) + &format!(
        "\n[[objects]]\ndatabase = \"{db}\"\ntable = \"a\"\ntopic = \"{topic}\"\nsharding_columns = [\"nope\"]\nwhere = \"v > 1 AND gone = 2\"\n"
    );
    std::fs::write(config.path().join(format!("{bad}.toml")), text)?;

    let projects = load_dir(config.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = WasmEngine::new(None)?;
    let client = obsync::sink::RocketMqClient::start()?;
    for p in &projects {
        let checks = run_checks(p, &engine, client.runtime()).await;
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        if p.config.name == good {
            assert!(failed.is_empty(), "good project failed: {failed:#?}");
            assert!(
                checks
                    .iter()
                    .any(|c| c.name == "source.binlog_format" && c.outcome == Outcome::Pass)
            );
            assert!(
                checks
                    .iter()
                    .any(|c| c.name.starts_with("target.topic") && c.outcome == Outcome::Pass)
            );
        } else {
            let has = |fragment: &str| failed.iter().any(|f| f.contains(fragment));
            assert!(has("`missing`: table does not exist"), "{failed:#?}");
            assert!(has("`va`: is a VIEW, not a physical table"), "{failed:#?}");
            assert!(has("unknown columns [\"nope\"]"), "{failed:#?}");
            assert!(
                has("target.topic `no_such_topic_for_precheck`: topic"),
                "{failed:#?}"
            );
            assert!(
                has(
                    "row filter: \"v > 1 AND gone = 2\": at character 11: unknown column `gone` (the table has: id, v)"
                ),
                "{failed:#?}"
            );
            assert_eq!(failed.len(), 5, "{failed:#?}");
        }
    }
    client.shutdown().await;
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_id_used_by_a_running_replica_fails_the_check() -> anyhow::Result<()> {
    let (s, topics) = obsync_tests::scene::Scene::new(
        "sid",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("sid_t", 1)],
    )
    .await?;
    let running = s.project("t", &topics[0], "")?;
    let agent = obsync_tests::agent::Agent::start(s.config.path(), s.data.path());
    agent
        .wait_running(&running, Duration::from_secs(60))
        .await?;
    // A second project file with the same server id, checked while the first streams.
    let text = std::fs::read_to_string(s.project_file(&running))?;
    let other = TempDir::new("sidcheck")?;
    let twin = text.replace(&format!("name = \"{running}\""), "name = \"twin\"");
    std::fs::write(other.path().join("twin.toml"), twin)?;
    let projects = load_dir(other.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = WasmEngine::new(None)?;
    let client = obsync::sink::RocketMqClient::start()?;
    let checks = run_checks(&projects[0], &engine, client.runtime()).await;
    client.shutdown().await;
    agent.stop().await?;
    let sid = checks
        .iter()
        .find(|c| c.name == "source.server_id")
        .ok_or_else(|| anyhow::anyhow!("no server id check: {checks:?}"))?;
    assert_eq!(sid.outcome, Outcome::Fail, "{sid:?}");
    assert!(
        sid.detail.contains("is in use by another replica"),
        "{sid:?}"
    );
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_position_must_still_be_in_the_binlog() -> anyhow::Result<()> {
    let (s, topics) = obsync_tests::scene::Scene::new(
        "startpos",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("startpos_t", 1)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let mut conn = admin().await?;
    let (file, _) = obsync_tests::sql::binlog_end(&mut conn).await?;
    let engine = WasmEngine::new(None)?;
    let client = obsync::sink::RocketMqClient::start()?;
    let outcome = async |option: Option<String>, checkpoint: Option<&str>| -> anyhow::Result<_> {
        let file = s.project_file(&name);
        let text = std::fs::read_to_string(&file)?;
        let text = match option {
            Some(o) => format!("{text}\n[options]\n{o}\n"),
            None => text,
        };
        let dir = TempDir::new("startposcheck")?;
        std::fs::write(dir.path().join("p.toml"), text)?;
        let projects = load_dir(dir.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let position = checkpoint.map(|f| obsync::checkpoint::Position {
            file: f.to_string(),
            offset: 4,
            gtid: None,
            timestamp: 0,
            sequence: 0,
        });
        let checks = obsync::precheck::run_checks_resuming(
            &projects[0],
            &engine,
            client.runtime(),
            position.as_ref(),
        )
        .await;
        let c = checks
            .into_iter()
            .find(|c| c.name == "source.start_position")
            .ok_or_else(|| anyhow::anyhow!("no start position check"))?;
        Ok((c.outcome, c.detail))
    };
    let (o, d) = outcome(None, Some(&file)).await?;
    assert_eq!(o, Outcome::Pass, "{d}");
    let (o, d) = outcome(None, Some("mdb-bin.000000")).await?;
    assert!(
        o == Outcome::Fail && d.contains("purged binlog file"),
        "{d}"
    );
    let (o, d) = outcome(Some("start_timestamp = 1000000000".into()), None).await?;
    assert!(
        o == Outcome::Fail && d.contains("older than the oldest binary log"),
        "{d}"
    );
    let (o, d) = outcome(None, None).await?;
    assert_eq!(o, Outcome::Pass, "{d}");
    let (o, d) = outcome(Some(format!("start_position = \"{file}:4\"")), None).await?;
    assert_eq!(o, Outcome::Pass, "{d}");
    let (o, d) = outcome(Some("start_position = \"mdb-bin.000000:4\"".into()), None).await?;
    assert!(
        o == Outcome::Fail && d.contains("has no binlog file mdb-bin.000000"),
        "{d}"
    );
    client.shutdown().await;
    s.mq.shutdown().await;
    Ok(())
}

/// Runs every check of the single project in `dir`; returns (name, outcome, detail) per check.
async fn checks_of(dir: &std::path::Path) -> anyhow::Result<Vec<(String, Outcome, String)>> {
    let projects = load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = WasmEngine::new(None)?;
    let client = obsync::sink::RocketMqClient::start()?;
    let checks = run_checks(&projects[0], &engine, client.runtime()).await;
    client.shutdown().await;
    Ok(checks
        .into_iter()
        .map(|c| (c.name, c.outcome, c.detail))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_binlog_fails_the_precheck_and_run_refuses_the_project() -> anyhow::Result<()> {
    init_logs();
    // The second private MariaDB writes a STATEMENT binlog with MINIMAL row images.
    let port = obsync_tests::mysql2_port();
    let db = unique("stmt");
    let mut conn = obsync_tests::sql::admin_on(port).await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"),
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let topic = unique("stmt_t");
    mq.create_topic(&topic, 1).await?;
    let config = TempDir::new("stmtcfg")?;
    let name = unique("stmt");
    let text = project_toml(&name, &db, "t", &topic, unique_server_id()).replace(
        &format!("port = {}", obsync_tests::mysql_port()),
        &format!("port = {port}"),
    );
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;

    let checks = checks_of(config.path()).await?;
    let find = |n: &str| {
        checks
            .iter()
            .find(|c| c.0 == n)
            .cloned()
            .unwrap_or_else(|| (n.to_string(), Outcome::Pass, "missing".into()))
    };
    let (_, o, d) = find("source.binlog_format");
    assert!(
        o == Outcome::Fail && d == "binlog_format = \"STATEMENT\"",
        "{d}"
    );
    let (_, o, d) = find("source.binlog_row_image");
    assert!(
        o == Outcome::Fail && d == "binlog_row_image = \"MINIMAL\"",
        "{d}"
    );
    let (_, o, _) = find("source.log_bin");
    assert_eq!(o, Outcome::Pass);

    // `obsync run` does not start it, and says why.
    let data = TempDir::new("stmtdata")?;
    let agent = obsync_tests::agent::Agent::start(config.path(), data.path());
    let error = match tokio::time::timeout(Duration::from_secs(60), agent.stop()).await? {
        Ok(()) => anyhow::bail!("the agent started a project on a STATEMENT binlog"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains(&format!("{name}.toml: precheck failed"))
            && error.contains("FAIL source.binlog_format: binlog_format = \"STATEMENT\" -> SET GLOBAL binlog_format = 'ROW'")
            && error.contains("--skip-precheck"),
        "{error}"
    );
    // Nothing was recorded for it: no checkpoint, so a fixed project starts from its own start.
    let store = obsync::checkpoint::CheckpointStore::open(&data.path().join("checkpoints"))?;
    assert_eq!(store.load(&name)?, None);
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_replication_privileges_fails_the_precheck() -> anyhow::Result<()> {
    init_logs();
    let db = unique("priv");
    let user = unique("nopriv");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"),
            &format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw'"),
            &format!("GRANT SELECT ON `{db}`.* TO '{user}'@'127.0.0.1'"),
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let topic = unique("priv_t");
    mq.create_topic(&topic, 1).await?;
    let config = TempDir::new("privcfg")?;
    let name = unique("priv");
    let (repl, pass) = obsync_tests::repl_user();
    let text = project_toml(&name, &db, "t", &topic, unique_server_id())
        .replace(&format!("user = \"{repl}\""), &format!("user = \"{user}\""))
        .replace(&format!("password = \"{pass}\""), "password = \"pw\"");
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    let checks = checks_of(config.path()).await?;
    let privileges = checks
        .iter()
        .find(|c| c.0 == "source.privileges")
        .ok_or_else(|| anyhow::anyhow!("no privilege check: {checks:?}"))?;
    assert_eq!(privileges.1, Outcome::Fail, "{privileges:?}");
    assert_eq!(
        privileges.2, "missing REPLICATION SLAVE, REPLICATION CLIENT",
        "{privileges:?}"
    );
    exec_all(&mut conn, &[&format!("DROP USER '{user}'@'127.0.0.1'")]).await?;
    mq.shutdown().await;
    Ok(())
}
