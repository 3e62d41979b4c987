//! Objects end to end on the real MariaDB and broker: shared topics, one table in two projects,
//! row filters on every DML kind (rows moving into and out of the filter), UPDATEs that change
//! the key, unique-key sharding, and objects imported from an OMS CSV file.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use obsync_tests::{unique, unique_server_id};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

async fn scene(tables: &[&str], topics: &[(&str, u32)]) -> anyhow::Result<(Scene, Vec<String>)> {
    Scene::new("obj", tables, topics).await
}

fn kind(m: &Received) -> &str {
    m.body["recordType"].as_str().unwrap_or_default()
}

fn pk(m: &Received) -> String {
    m.body["allMetaData"]["record_primary_value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn derived(m: &Received) -> Option<&str> {
    m.properties.get("obsync_from_update").map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_filter_tests_inserts_deletes_and_both_images_of_updates() -> anyhow::Result<()> {
    let (s, topics) = scene(
        &["CREATE TABLE t (id INT PRIMARY KEY, `status` VARCHAR(10), amount DECIMAL(10,2))"],
        &[("filter", 1)],
    )
    .await?;
    // One queue: the sentinel row proves nothing else was sent before it.
    let name = s.project(
        "t",
        &topics[0],
        "where = \"`status` = 'PAID' AND amount >= 10\"\n",
    )?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[
        "INSERT INTO t VALUES (1, 'paid', 20)",        // in: INSERT
        "INSERT INTO t VALUES (2, 'new', 20)",         // out: nothing
        "UPDATE t SET `status` = 'paid' WHERE id = 2", // enters: INSERT
        "UPDATE t SET amount = 30 WHERE id = 1",       // stays in: UPDATE
        "UPDATE t SET `status` = 'refunded' WHERE id = 1", // leaves: DELETE
        "UPDATE t SET amount = 40 WHERE id = 1",       // stays out: nothing
        "DELETE FROM t WHERE id = 2",                  // in: DELETE
        "DELETE FROM t WHERE id = 1",                  // out: nothing
        "INSERT INTO t VALUES (3, NULL, 99)",          // NULL is not TRUE: nothing
        "INSERT INTO t VALUES (99, 'Paid', 10)",       // sentinel, case-insensitive match
    ])
    .await?;
    let msgs = s.mq.read_topic(&topics[0], 6, WAIT).await?;
    agent.stop().await?;
    let seen: Vec<(String, &str, Option<&str>)> =
        msgs.iter().map(|m| (pk(m), kind(m), derived(m))).collect();
    assert_eq!(
        seen,
        [
            ("1".to_string(), "INSERT", None),
            ("2".to_string(), "INSERT", Some("filter_enter")),
            ("1".to_string(), "UPDATE", None),
            ("1".to_string(), "DELETE", Some("filter_leave")),
            ("2".to_string(), "DELETE", None),
            ("99".to_string(), "INSERT", None),
        ],
        "{msgs:#?}"
    );
    // The row that left carries its last image that passed... the old one.
    assert_eq!(msgs[3].body["prevStruct"]["status"], "paid");
    assert_eq!(msgs[3].body["postStruct"], serde_json::Value::Null);
    // The row that entered carries its new image only.
    assert_eq!(msgs[1].body["postStruct"]["status"], "paid");
    assert_eq!(msgs[1].body["prevStruct"], serde_json::Value::Null);
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changing_updates_keep_per_key_order_for_old_and_new_keys() -> anyhow::Result<()> {
    let (s, topics) = scene(
        &["CREATE TABLE t (id INT PRIMARY KEY, v INT)"],
        &[("keychange", 8)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    let mut statements = Vec::new();
    for k in 0..24 {
        let new = k + 1000;
        statements.extend([
            format!("INSERT INTO t VALUES ({k}, 0)"),
            format!("UPDATE t SET v = 1 WHERE id = {k}"),
            format!("UPDATE t SET id = {new} WHERE id = {k}"),
            format!("UPDATE t SET v = 2 WHERE id = {new}"),
            format!("DELETE FROM t WHERE id = {new}"),
        ]);
    }
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    s.sql(&refs).await?;
    let msgs = s.mq.read_topic(&topics[0], 24 * 6, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), 24 * 6, "{msgs:#?}");
    let mut by_key: HashMap<String, Vec<&Received>> = HashMap::new();
    for m in &msgs {
        by_key.entry(pk(m)).or_default().push(m);
    }
    let mut moved_queue = 0;
    for k in 0..24 {
        let old = &by_key[&k.to_string()];
        let new = &by_key[&(k + 1000).to_string()];
        for list in [old, new] {
            assert!(list.iter().all(|m| m.queue == list[0].queue), "{list:#?}");
        }
        // The broker keeps per-queue order; a consumer reading each queue in order sees:
        let old_seq: Vec<(&str, Option<&str>)> =
            old.iter().map(|m| (kind(m), derived(m))).collect();
        let new_seq: Vec<(&str, Option<&str>)> =
            new.iter().map(|m| (kind(m), derived(m))).collect();
        assert_eq!(
            old_seq,
            [
                ("INSERT", None),
                ("UPDATE", None),
                ("DELETE", Some("key_change"))
            ]
        );
        assert_eq!(
            new_seq,
            [
                ("INSERT", Some("key_change")),
                ("UPDATE", None),
                ("DELETE", None)
            ]
        );
        // Both halves of the split UPDATE share the change's dedupe key stem.
        assert_eq!(format!("{}#2", old[2].keys[0]), new[0].keys[0]);
        if old[0].queue != new[0].queue {
            moved_queue += 1;
        }
    }
    assert!(
        moved_queue > 0,
        "no key change crossed queues: the test proves nothing"
    );
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_topics_two_projects_and_unique_key_sharding() -> anyhow::Result<()> {
    let (s, topics) = scene(
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(8))",
            "CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(8))",
            "CREATE TABLE c (code VARCHAR(8) NOT NULL, v INT, note VARCHAR(8), UNIQUE KEY uk (code))",
        ],
        &[("shared", 4), ("second", 4)],
    )
    .await?;
    // Project 1: a, b and c into one topic.
    let first = s.project(
        "a",
        &topics[0],
        &format!(
            "\n[[objects]]\ndatabase = \"{db}\"\ntable = \"b\"\ntopic = \"{t}\"\n\n[[objects]]\ndatabase = \"{db}\"\ntable = \"c\"\ntopic = \"{t}\"\n",
            db = s.db,
            t = topics[0]
        ),
    )?;
    // Project 2: table a again, into its own topic, filtered.
    let second = s.project("a", &topics[1], "where = \"v LIKE 'keep%'\"\n")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&first, WAIT).await?;
    agent.wait_running(&second, WAIT).await?;
    s.sql(&[
        "INSERT INTO a VALUES (1, 'keep-1')",
        "INSERT INTO a VALUES (2, 'drop')",
        "INSERT INTO b VALUES (1, 'b')",
        "INSERT INTO c VALUES ('x', 1, 'n')",
        // Without a primary key the unique key shards: changing other columns is an UPDATE.
        "UPDATE c SET v = 2, note = 'm' WHERE code = 'x'",
    ])
    .await?;
    let shared = s.mq.read_topic(&topics[0], 5, WAIT).await?;
    let other = s.mq.read_topic(&topics[1], 1, WAIT).await?;
    agent.stop().await?;
    let mut tables: Vec<(String, String)> = shared
        .iter()
        .map(|m| {
            (
                m.body["allMetaData"]["table_name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                kind(m).to_string(),
            )
        })
        .collect();
    tables.sort();
    let want: Vec<(String, String)> = [
        ("a", "INSERT"),
        ("a", "INSERT"),
        ("b", "INSERT"),
        ("c", "INSERT"),
        ("c", "UPDATE"),
    ]
    .iter()
    .map(|(t, k)| (t.to_string(), k.to_string()))
    .collect();
    assert_eq!(tables, want, "{shared:#?}");
    let c: Vec<&Received> = shared
        .iter()
        .filter(|m| m.body["allMetaData"]["table_name"] == "c")
        .collect();
    assert_eq!(c[0].queue, c[1].queue, "one unique-key value, one queue");
    assert_eq!(other.len(), 1, "{other:#?}");
    assert_eq!(
        other[0].body["postStruct"],
        json!({ "id": 1, "v": "keep-1" })
    );
    s.mq.shutdown().await;
    Ok(())
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_reports_each_bad_row_and_streams_the_good_one() -> anyhow::Result<()> {
    let (s, topics) = scene(
        &["CREATE TABLE `订单` (id INT PRIMARY KEY, `状态` VARCHAR(10), secret VARCHAR(10), amount INT)"],
        &[("csv", 2)],
    )
    .await?;
    let csv = s.config.path().join("objects.csv");
    let good = format!(
        "{db},订单,{t},id;状态;amount,状态:state,id,\"`amount` > 10\"\n",
        db = s.db,
        t = topics[0]
    );
    let broken = format!(
        "源端库名,源端表名,topic 名,选择列,列映射,分片列,行过滤条件\n{good}\
         {db},,{t},,,,\n\
         {db},订单2,bad topic!,,,,\n\
         {db},订单3,{t},,状态=state,,\n\
         {db},订单4,{t},,,,amount >\n",
        db = s.db,
        t = topics[0]
    );
    write(&csv, &broken);
    let (user, pass) = obsync_tests::repl_user();
    let name = unique("csv");
    let project = format!(
        "name = \"{name}\"\n[source]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\npassword = \"{pass}\"\nserver_id = {sid}\n\n[target]\nname_server = \"{ns}\"\nproducer_group = \"{name}_pg\"\n\n[[imports]]\ncsv = \"objects.csv\"\n",
        port = obsync_tests::mysql_port(),
        sid = unique_server_id(),
        ns = obsync_tests::name_server(),
    );
    write(&s.config.path().join(format!("{name}.toml")), &project);

    let errors = obsync::config::load_dir(s.config.path()).unwrap_err();
    let shown: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    let file = csv.display().to_string();
    let expect = [
        format!("{file}:3: `column 2 (source table)`: must not be empty"),
        format!(
            "{file}:5: `column 5 (column mapping)`: \"状态=state\" is not `source_column:output_column`"
        ),
        format!("{file}:4: `column 3 (topic)`: invalid topic name \"bad topic!\""),
        format!(
            "{file}:6: `column 7 (row filter)`: invalid row filter \"amount >\": at character 9: expected a value"
        ),
    ];
    for e in &expect {
        assert!(
            shown.iter().any(|s| s.starts_with(e.as_str())),
            "missing {e:?} in {shown:#?}"
        );
    }
    assert_eq!(shown.len(), expect.len(), "{shown:#?}");

    // The fixed file loads and streams; then a change to the CSV alone reloads the project.
    write(&csv, &good);
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[
        "INSERT INTO `订单` VALUES (1, '已付', 'hidden', 5)",
        "INSERT INTO `订单` VALUES (2, '已付', 'hidden', 50)",
    ])
    .await?;
    let msgs = s.mq.read_topic(&topics[0], 1, WAIT).await?;
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(
        msgs[0].body["postStruct"],
        json!({ "id": 2, "state": "已付", "amount": 50 })
    );

    let started = agent.status.get(&name).map_or(0, |p| p.streams_started);
    write(&csv, &good.replace("`amount` > 10", "`amount` < 10"));
    agent
        .wait_for(&name, "a reload after the CSV changed", WAIT, |p| {
            p.streams_started > started && p.state == obsync::status::ProjectState::Running
        })
        .await?;
    s.sql(&[
        "INSERT INTO `订单` VALUES (3, '新', 'hidden', 7)",
        "INSERT INTO `订单` VALUES (4, '新', 'hidden', 70)",
    ])
    .await?;
    let msgs = s.mq.read_topic(&topics[0], 2, WAIT).await?;
    agent.stop().await?;
    let ids: Vec<&serde_json::Value> = msgs.iter().map(|m| &m.body["postStruct"]["id"]).collect();
    assert!(
        ids.contains(&&json!(3)) && !ids.contains(&&json!(4)),
        "{msgs:#?}"
    );
    s.mq.shutdown().await;
    Ok(())
}
