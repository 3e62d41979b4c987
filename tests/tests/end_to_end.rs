//! One table end to end: MariaDB binlog → obsync (Default format in WASM) → RocketMQ → consumer.
#![recursion_limit = "256"]

use std::collections::HashMap;
use std::time::Duration;

use obsync_tests::agent::{Agent, TempDir, project_toml};
use obsync_tests::mq::{Mq, Received};
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

struct Fixture {
    db: String,
    topic: String,
    project: String,
    config: TempDir,
    data: TempDir,
    mq: Mq,
}

async fn fixture(table_ddl: &str, queues: u32) -> anyhow::Result<Fixture> {
    init_logs();
    let db = unique("e2e");
    let topic = unique("e2e_topic");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            table_ddl,
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, queues).await?;
    let config = TempDir::new("cfg")?;
    let data = TempDir::new("data")?;
    let name = unique("p");
    std::fs::write(
        config.path().join(format!("{name}.toml")),
        project_toml(&name, &db, "t", &topic, unique_server_id()),
    )?;
    Ok(Fixture {
        db,
        topic,
        project: name,
        config,
        data,
        mq,
    })
}

/// Starts the agent and waits until the project streams.
async fn started(f: &Fixture) -> anyhow::Result<Agent> {
    let agent = Agent::start(f.config.path(), f.data.path());
    agent.wait_running(&f.project, WAIT).await?;
    Ok(agent)
}

/// Stream restarts after a retryable error (a send the broker did not answer is one).
fn retries(agent: &Agent, project: &str) -> u64 {
    agent
        .status
        .metrics(project)
        .retries
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// How many distinct dedupe keys `msgs` carry.
fn distinct_keys(msgs: &[Received]) -> usize {
    msgs.iter()
        .map(|m| m.keys[0].as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// The first message of each dedupe key.
fn first_by_key(msgs: &[Received]) -> Vec<&Received> {
    let mut seen = std::collections::HashSet::new();
    msgs.iter()
        .filter(|m| seen.insert(m.keys[0].as_str()))
        .collect()
}

fn by_key(msgs: &[Received]) -> HashMap<String, Vec<&Received>> {
    let mut m: HashMap<String, Vec<&Received>> = HashMap::new();
    for r in msgs {
        let k = r.body["allMetaData"]["record_primary_value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        m.entry(k).or_default().push(r);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_update_delete_arrive_as_default_json() -> anyhow::Result<()> {
    let f = fixture(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(32), price DECIMAL(10,2), qty INT UNSIGNED, \
         note TEXT, created DATETIME(3), raw VARBINARY(8), mi MEDIUMINT, y YEAR)",
        4,
    )
    .await?;
    let agent = started(&f).await?;
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("USE `{}`", f.db),
            "INSERT INTO t VALUES (1, '订单 😀', 12.50, 4000000000, 'a\"b', '2024-02-29 23:59:59.120', x'00ff', -1, 0)",
            "UPDATE t SET name = 'changed', price = 0.01 WHERE id = 1",
            "DELETE FROM t WHERE id = 1",
        ],
    )
    .await?;
    let msgs = f.mq.read_topic(&f.topic, 3, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), 3, "messages: {msgs:#?}");
    // One key: same queue, commit order.
    assert!(msgs.iter().all(|m| m.queue == msgs[0].queue));
    let kinds: Vec<&str> = msgs
        .iter()
        .map(|m| m.body["recordType"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["INSERT", "UPDATE", "DELETE"]);

    let insert = &msgs[0].body;
    let after = json!({
        "id": 1, "name": "订单 😀", "price": 12.50, "qty": 4000000000u64, "note": "a\"b",
        "created": "2024-02-29 23:59:59.12", "raw": "AP8=", "mi": -1, "y": 0
    });
    assert_eq!(insert["postStruct"], after);
    assert_eq!(insert["prevStruct"], serde_json::Value::Null);
    let meta = &insert["allMetaData"];
    assert_eq!(meta["record_primary_key"], "id");
    assert_eq!(meta["record_primary_value"], "1");
    assert_eq!(meta["dbType"], "MYSQL");
    assert_eq!(meta["db"], f.db.as_str());
    assert_eq!(meta["table_name"], "t");
    assert!(
        meta["timestamp"]
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok())
    );
    // DECIMAL keeps its exact digits (trailing zero) as a JSON number, as OMS documents.
    assert!(
        msgs[0].body_text.contains(r#""price":12.50,"#),
        "{}",
        msgs[0].body_text
    );

    let update = &msgs[1].body;
    assert_eq!(update["prevStruct"]["name"], "订单 😀");
    assert_eq!(update["postStruct"]["name"], "changed");
    assert_eq!(update["prevStruct"]["price"], json!(12.50));
    assert_eq!(update["postStruct"]["price"], json!(0.01));
    let delete = &msgs[2].body;
    assert_eq!(delete["postStruct"], serde_json::Value::Null);
    assert_eq!(delete["prevStruct"]["name"], "changed");

    for m in &msgs {
        assert_eq!(m.tags.as_deref(), Some("default_tag"));
        assert_eq!(
            m.properties.get("obsync_table").map(String::as_str),
            Some("t")
        );
        assert_eq!(
            m.properties.get("obsync_db").map(String::as_str),
            Some(f.db.as_str())
        );
        assert_eq!(m.keys.len(), 1, "one dedupe key per message");
    }
    let keys: std::collections::HashSet<&String> = msgs.iter().map(|m| &m.keys[0]).collect();
    assert_eq!(keys.len(), 3, "dedupe keys are distinct per change");
    f.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_keeps_commit_order_on_one_queue_and_keys_spread() -> anyhow::Result<()> {
    let f = fixture("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)", 8).await?;
    let agent = started(&f).await?;
    let mut conn = admin().await?;
    exec_all(&mut conn, &[&format!("USE `{}`", f.db)]).await?;
    let keys = 40;
    let rounds = 5;
    // One multi-row transaction, then interleaved single-row updates across keys.
    let values: Vec<String> = (0..keys).map(|k| format!("({k}, 0)")).collect();
    exec_all(
        &mut conn,
        &[&format!("INSERT INTO t VALUES {}", values.join(","))],
    )
    .await?;
    for v in 1..=rounds {
        for k in 0..keys {
            exec_all(
                &mut conn,
                &[&format!("UPDATE t SET v = {v} WHERE id = {k}")],
            )
            .await?;
        }
    }
    let want = (keys * (rounds + 1)) as usize;
    let msgs = f.mq.read_topic(&f.topic, want, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), want);
    let groups = by_key(&msgs);
    assert_eq!(groups.len(), keys as usize);
    let mut queues = std::collections::HashSet::new();
    for (key, list) in &groups {
        let q = list[0].queue;
        assert!(list.iter().all(|m| m.queue == q), "key {key} spans queues");
        queues.insert(q);
        let seen: Vec<i64> = list
            .iter()
            .map(|m| m.body["postStruct"]["v"].as_i64().unwrap_or(-1))
            .collect();
        let expect: Vec<i64> = (0..=rounds as i64).collect();
        assert_eq!(seen, expect, "key {key} out of order");
    }
    assert!(queues.len() >= 4, "40 keys used only queues {queues:?}");
    // Each key is on the queue the Java client's SelectMessageQueueByHash picks for it.
    let names: Vec<String> = (0..keys).map(|k| k.to_string()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let java = f.mq.java_hash_queues(8, &refs).await?;
    for (key, expect) in names.iter().zip(&java) {
        let got = groups.get(key).map(|l| l[0].queue);
        assert_eq!(
            got,
            Some(*expect as i32),
            "key {key}: queue differs from Java's"
        );
    }
    f.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_checkpoint_without_loss_or_duplicates() -> anyhow::Result<()> {
    let f = fixture("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(16))", 4).await?;
    let mut conn = admin().await?;
    exec_all(&mut conn, &[&format!("USE `{}`", f.db)]).await?;

    let agent = started(&f).await?;
    for i in 0..10 {
        exec_all(
            &mut conn,
            &[&format!("INSERT INTO t VALUES ({i}, 'first')")],
        )
        .await?;
    }
    let first = f.mq.read_topic(&f.topic, 10, WAIT).await?;
    let first_retries = retries(&agent, &f.project);
    agent.stop().await?;
    assert_eq!(distinct_keys(&first), 10, "nothing lost before the stop");

    // Changes made while obsync is down.
    for i in 10..20 {
        exec_all(
            &mut conn,
            &[&format!("INSERT INTO t VALUES ({i}, 'offline')")],
        )
        .await?;
    }
    exec_all(
        &mut conn,
        &[
            "UPDATE t SET v = 'updated' WHERE id < 5",
            "DELETE FROM t WHERE id = 19",
        ],
    )
    .await?;

    let agent = started(&f).await?;
    exec_all(&mut conn, &["INSERT INTO t VALUES (100, 'after')"]).await?;
    let want = 10 + 10 + 5 + 1 + 1;
    let all = f.mq.read_topic(&f.topic, want, WAIT).await?;
    let second_retries = retries(&agent, &f.project);
    agent.stop().await?;

    assert_eq!(distinct_keys(&all), want, "every change arrives: {all:#?}");
    if first_retries + second_retries == 0 {
        // Without a broker failure (a send that timed out is sent again from the checkpoint,
        // at least once), the graceful stop and restart must not duplicate anything.
        assert_eq!(
            all.len(),
            want,
            "a graceful stop must not duplicate anything: {all:#?}"
        );
    } else {
        tracing::warn!(
            first_retries,
            second_retries,
            "the broker failed a send; duplicates allowed, loss checked"
        );
    }
    let once = first_by_key(&all);
    let offline = once
        .iter()
        .filter(|m| m.body["postStruct"]["v"] == "offline")
        .count();
    assert_eq!(offline, 10);
    let updated = once
        .iter()
        .filter(|m| m.body["recordType"] == "UPDATE")
        .count();
    assert_eq!(updated, 5);
    f.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_partition_rule_puts_a_table_on_one_queue() -> anyhow::Result<()> {
    let f = fixture("CREATE TABLE t (id INT PRIMARY KEY)", 8).await?;
    let file = f.config.path().join(format!("{}.toml", f.project));
    let text = std::fs::read_to_string(&file)?.replace(
        "producer_group =",
        "partition_rule = \"table\"\nmessage_trace = true\nproducer_group =",
    );
    std::fs::write(&file, text)?;
    let agent = started(&f).await?;
    let mut conn = admin().await?;
    let values: Vec<String> = (0..30).map(|k| format!("({k})")).collect();
    exec_all(
        &mut conn,
        &[
            &format!("USE `{}`", f.db),
            &format!("INSERT INTO t VALUES {}", values.join(",")),
        ],
    )
    .await?;
    let msgs = f.mq.read_topic(&f.topic, 30, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), 30);
    assert!(
        msgs.iter().all(|m| m.queue == msgs[0].queue),
        "one queue per table"
    );
    f.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_column_selection_and_non_ascii_names() -> anyhow::Result<()> {
    init_logs();
    let db = unique("名");
    let topic = unique("rename_t");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE `订单` (`编号` INT PRIMARY KEY, `客户` VARCHAR(20), secret VARCHAR(20), amount DECIMAL(8,2))",
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 4).await?;
    let config = TempDir::new("renamecfg")?;
    let data = TempDir::new("renamedata")?;
    let name = unique("订单同步");
    let text = project_toml(&name, &db, "订单", &topic, unique_server_id()).replace(
        &format!("producer_group = \"{name}_pg\""),
        "producer_group = \"rename_pg\"",
    ) + "columns = [\"编号\", \"客户\", \"amount\"]\nrename_database = \"shop\"\nrename_table = \"orders\"\ncolumn_renames = { \"客户\" = \"customer\" }\n";
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&name, WAIT).await?;
    exec_all(
        &mut conn,
        &["INSERT INTO `订单` VALUES (1, '张三', 'hidden', 9.50)"],
    )
    .await?;
    let msgs = mq.read_topic(&topic, 1, WAIT).await?;
    agent.stop().await?;
    let body = &msgs[0].body;
    assert_eq!(body["allMetaData"]["db"], "shop");
    assert_eq!(body["allMetaData"]["table_name"], "orders");
    assert_eq!(body["allMetaData"]["record_primary_key"], "编号");
    assert_eq!(
        body["postStruct"],
        json!({ "编号": 1, "customer": "张三", "amount": 9.5 })
    );
    assert!(
        !msgs[0].body_text.contains("hidden"),
        "unselected columns never leave obsync"
    );
    // Message properties keep naming the source table.
    assert_eq!(
        msgs[0].properties.get("obsync_table").map(String::as_str),
        Some("订单")
    );
    mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_database_object_picks_up_tables_created_later() -> anyhow::Result<()> {
    let f = fixture("CREATE TABLE t (id INT PRIMARY KEY)", 4).await?;
    let file = f.config.path().join(format!("{}.toml", f.project));
    let text = std::fs::read_to_string(&file)?.replace("table = \"t\"", "table = \"*\"");
    std::fs::write(&file, text)?;
    let agent = started(&f).await?;
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("USE `{}`", f.db),
            "INSERT INTO t VALUES (1)",
            // OMS keeps syncing after `drop table a; create table a_tmp`: so do we.
            "DROP TABLE t",
            "CREATE TABLE t_tmp (id INT PRIMARY KEY, note VARCHAR(8))",
            "INSERT INTO t_tmp VALUES (2, 'later')",
        ],
    )
    .await?;
    let msgs = f.mq.read_topic(&f.topic, 2, WAIT).await?;
    agent.stop().await?;
    let mut tables: Vec<&str> = msgs
        .iter()
        .filter_map(|m| m.body["allMetaData"]["table_name"].as_str())
        .collect();
    tables.sort_unstable();
    assert_eq!(tables, ["t", "t_tmp"], "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.body["postStruct"]["note"] == "later"));
    f.mq.shutdown().await;
    Ok(())
}
