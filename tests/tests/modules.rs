//! User modules end to end: the example filter and format modules built from `examples/`, and a
//! broken format module that stops its project without losing anything.
#![recursion_limit = "256"]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::{Agent, TempDir, project_toml};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};

const WAIT: Duration = Duration::from_secs(60);
const DEBEZIUM: &str = env!("OBSYNC_EXAMPLE_DEBEZIUM_FORMAT");
const MASK: &str = env!("OBSYNC_EXAMPLE_MASK_FILTER");

struct Setup {
    db: String,
    topic: String,
    project: String,
    config: TempDir,
    data: TempDir,
    mq: Mq,
    server_id: u32,
}

async fn setup(ddl: &str) -> anyhow::Result<Setup> {
    init_logs();
    let db = unique("mod");
    let topic = unique("mod_topic");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            ddl,
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 4).await?;
    Ok(Setup {
        db,
        topic,
        project: unique("modp"),
        config: TempDir::new("modcfg")?,
        data: TempDir::new("moddata")?,
        mq,
        server_id: unique_server_id(),
    })
}

impl Setup {
    fn write_project(&self, options: &str) -> anyhow::Result<()> {
        let text =
            project_toml(&self.project, &self.db, "t", &self.topic, self.server_id) + options;
        std::fs::write(
            self.config.path().join(format!("{}.toml", self.project)),
            text,
        )?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_filter_and_format_modules_run_end_to_end() -> anyhow::Result<()> {
    let s = setup(
        "CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(64), is_test TINYINT, amount DECIMAL(8,2), d DATE)",
    )
    .await?;
    s.write_project(&format!(
        "\n[options]\nformat = \"{DEBEZIUM}\"\n[[options.filters]]\nmodule = \"{MASK}\"\nmemory_limit_mb = 32\n"
    ))?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&s.project, WAIT).await?;
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("USE `{}`", s.db),
            "INSERT INTO t VALUES (1, 'alice@example.com', 0, 12.50, '2022-11-15')",
            "INSERT INTO t VALUES (2, 'bob@example.com', 1, 1.00, '1970-01-01')",
            "UPDATE t SET amount = 13.00 WHERE id = 1",
        ],
    )
    .await?;
    let msgs = s.mq.read_topic(&s.topic, 2, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), 2, "the is_test row is dropped: {msgs:#?}");
    let insert = &msgs[0].body;
    assert_eq!(insert["op"], "c");
    assert_eq!(insert["before"], serde_json::Value::Null);
    assert_eq!(insert["after"]["email"], "a***@example.com");
    assert_eq!(
        insert["after"]["amount"], "12.50",
        "Debezium renders DECIMAL as a string"
    );
    assert_eq!(
        insert["after"]["d"], 19311,
        "Debezium renders DATE as days since the epoch"
    );
    assert_eq!(insert["source"]["db"], s.db.as_str());
    let update = &msgs[1].body;
    assert_eq!(update["op"], "u");
    assert_eq!(update["before"]["email"], "a***@example.com");
    assert_eq!(update["after"]["amount"], "13.00");
    assert_eq!(msgs[1].properties.get("op").map(String::as_str), Some("u"));
    // obsync keeps the dedupe key whatever the filter returns.
    assert!(
        msgs.iter()
            .all(|m| m.keys.len() == 1 && m.keys[0].contains('#'))
    );
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_module_stops_the_project_and_loses_nothing() -> anyhow::Result<()> {
    let s = setup("CREATE TABLE t (id INT PRIMARY KEY, v INT)").await?;
    let modules = s.config.path().join("modules");
    std::fs::create_dir_all(&modules)?;
    let module = modules.join("fmt.wasm");
    // A module that follows the ABI but traps on every batch (WebAssembly text is accepted).
    std::fs::write(
        &module,
        r#"(module
  (memory (export "memory") 1)
  (func (export "obsync_abi_version") (result i32) (i32.const 1))
  (func (export "obsync_module_kind") (result i32) (i32.const 2))
  (func (export "obsync_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "obsync_free") (param i32 i32))
  (func (export "obsync_format") (param i32 i32) (result i64) unreachable))"#,
    )?;
    s.write_project("\n[options]\nformat = \"modules/fmt.wasm\"\n")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&s.project, WAIT).await?;
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("USE `{}`", s.db),
            "INSERT INTO t VALUES (1, 1)",
            "INSERT INTO t VALUES (2, 2)",
        ],
    )
    .await?;
    let project = s.project.clone();
    tokio::time::timeout(
        WAIT,
        agent.status.wait_until(|all| {
            all.get(&project)
                .is_some_and(|p| p.state == ProjectState::Failed)
        }),
    )
    .await?;
    let status = agent.status.get(&s.project).expect("status");
    let error = status.last_error.unwrap_or_default();
    assert!(
        error.contains("fmt.wasm") && error.contains("unreachable"),
        "{error}"
    );

    // Fix the module (here: swap in the example format). Hot reload notices the new module
    // bytes, restarts the project from its checkpoint, and both rows arrive.
    std::fs::copy(DEBEZIUM, &module)?;
    let msgs = s.mq.read_topic(&s.topic, 2, WAIT).await?;
    agent.stop().await?;
    let ids: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.body["after"]["id"].as_i64())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2], "nothing lost, nothing twice: {msgs:#?}");
    s.mq.shutdown().await;
    Ok(())
}
