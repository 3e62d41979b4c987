//! MariaDB compression on the real server: `COMPRESSED` columns (values stored raw under the
//! threshold or deflated above it) and compressed binlog events (`log_bin_compress=ON`:
//! compressed row events and statements). Each test writes the same statements into a table with
//! `COMPRESSED` columns and into its twin without, both carried by one project: every message of
//! the compressed table must carry the same row images as its twin's.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use obsync_tests::agent::{Agent, AgentOptions, TempDir, project_toml};
use obsync_tests::mq::{Mq, Received};
use obsync_tests::sql::{admin, admin_on, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};
use serde_json::Value as Json;

const WAIT: Duration = Duration::from_secs(90);

/// The compressed table `c` and its twin `p`: the same columns without `COMPRESSED`. A latin1
/// column after the compressed ones checks that charsets stay aligned with their columns.
fn tables() -> [String; 2] {
    ["c COMPRESSED", "p"].map(|t| {
        let (name, attr) = t.split_once(' ').unwrap_or((t, ""));
        format!(
            "CREATE TABLE {name} (id INT PRIMARY KEY, note VARCHAR(300) {attr}, \
             body TEXT {attr}, raw BLOB {attr}, tail VARCHAR(20) CHARACTER SET latin1, n INT)"
        )
    })
}

/// The same statements on `c` and on `p`: short values (stored raw), long ones (deflated),
/// CJK and emoji, binary bytes, empty strings, NULLs, an UPDATE and a DELETE.
fn changes() -> Vec<String> {
    let long = "数据同步 OceanBase → RocketMQ 🚀 ".repeat(40);
    // VARCHAR(300) holds 10 of them (280 characters).
    let long_note = "数据同步 OceanBase → RocketMQ 🚀 ".repeat(10);
    ["c", "p"]
        .iter()
        .flat_map(|t| {
            [
                format!(
                    "INSERT INTO {t} VALUES (1, 'hi', '{long}', REPEAT(x'00ff10', 200), 'café', 7), \
                     (2, '', NULL, '', NULL, -1), (3, NULL, 'short', x'0001', 'x', 0)"
                ),
                format!("UPDATE {t} SET note = '{long_note}', n = n + 1 WHERE id = 1"),
                format!("DELETE FROM {t} WHERE id = 2"),
            ]
        })
        .collect()
}

/// A project carrying `c` to `topic` and `p` to `twin`.
fn project(name: &str, db: &str, topic: &str, twin: &str, port: u16) -> String {
    let text = project_toml(name, db, "c", topic, unique_server_id()).replace(
        &format!("port = {}", obsync_tests::mysql_port()),
        &format!("port = {port}"),
    );
    format!("{text}\n[[objects]]\ndatabase = \"{db}\"\ntable = \"p\"\ntopic = \"{twin}\"\n")
}

/// The row images of each message, in order: (kind, before, after).
fn images(msgs: &[Received]) -> Vec<(String, Json, Json)> {
    let mut msgs: Vec<&Received> = msgs.iter().collect();
    msgs.sort_by_key(|m| m.keys[0].clone());
    msgs.dedup_by_key(|m| m.keys[0].clone());
    let mut out: Vec<(String, Json, Json)> = msgs
        .iter()
        .map(|m| {
            (
                m.body["recordType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                m.body["prevStruct"].clone(),
                m.body["postStruct"].clone(),
            )
        })
        .collect();
    out.sort_by_key(|(kind, before, after)| format!("{kind}{before}{after}"));
    out
}

/// Reads both topics and checks the compressed table's images equal its twin's.
async fn same_as_twin(mq: &Mq, topic: &str, twin: &str, want: usize) -> anyhow::Result<()> {
    let got = mq.read_topic(topic, want, WAIT).await?;
    let expected = mq.read_topic(twin, want, WAIT).await?;
    let (got, expected) = (images(&got), images(&expected));
    assert_eq!(got.len(), want, "{got:#?}");
    assert_eq!(got, expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_columns_decode_like_plain_ones() -> anyhow::Result<()> {
    init_logs();
    let db = unique("compcol");
    let (topic, twin) = (unique("compcol_c"), unique("compcol_p"));
    let mut conn = admin().await?;
    let [c, p] = tables();
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            &c,
            &p,
        ],
    )
    .await?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    mq.create_topic(&twin, 2).await?;
    let (config, data) = (TempDir::new("compcolcfg")?, TempDir::new("compcoldata")?);
    let name = unique("compcol");
    std::fs::write(
        config.path().join(format!("{name}.toml")),
        project(&name, &db, &topic, &twin, obsync_tests::mysql_port()),
    )?;
    // The precheck passes: COMPRESSED columns are decoded.
    let agent = Agent::start(config.path(), data.path());
    agent.wait_running(&name, WAIT).await?;
    let changes = changes();
    exec_all(
        &mut conn,
        &changes.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    // 3 inserts, 1 update, 1 delete.
    same_as_twin(&mq, &topic, &twin, 5).await?;
    let sample = mq.read_topic(&topic, 5, WAIT).await?;
    let first = sample
        .iter()
        .find(|m| m.body["recordType"] == "INSERT" && m.body["postStruct"]["id"] == 1)
        .ok_or_else(|| anyhow::anyhow!("no insert of row 1"))?;
    assert_eq!(first.body["postStruct"]["note"], "hi");
    assert!(
        first.body["postStruct"]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("数据同步 OceanBase → RocketMQ 🚀")),
        "{}",
        first.body
    );
    assert_eq!(first.body["postStruct"]["tail"], "café");
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}

/// Puts `log_bin_compress` back as it was when dropped, also when the test fails.
struct CompressGuard {
    port: u16,
    before: (String, String),
}

impl Drop for CompressGuard {
    fn drop(&mut self) {
        let (port, (on, min_len)) = (self.port, self.before.clone());
        let restore = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = admin_on(port).await?;
                conn.query_drop(format!(
                    "SET GLOBAL log_bin_compress = {on}, GLOBAL log_bin_compress_min_len = {min_len}"
                ))
                .await?;
                anyhow::Ok(())
            })
        });
        if let Ok(Err(e)) = restore.join() {
            eprintln!("could not restore log_bin_compress: {e}");
        }
    }
}

/// The compressed event types written since `file`:`from` (`Query_compressed`,
/// `Write_rows_compressed_v1`, ...).
async fn compressed_events(conn: &mut Conn, file: &str, from: u64) -> anyhow::Result<Vec<String>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {from}"))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get_opt::<String, _>(2).and_then(Result::ok))
        .filter(|t| t.to_ascii_lowercase().contains("compressed"))
        .collect())
}

/// `log_bin_compress=ON` on the second MariaDB (MINIMAL metadata, so schemas come from
/// `information_schema` and DDL followed in the stream): compressed row events and compressed
/// statements (a DDL in the middle) decode, also across a restart of the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_binlog_events_decode_across_ddl_and_restart() -> anyhow::Result<()> {
    init_logs();
    let port = obsync_tests::mysql2_port();
    let mut conn = admin_on(port).await?;
    let before: (String, String) = conn
        .query_first("SELECT @@GLOBAL.log_bin_compress, @@GLOBAL.log_bin_compress_min_len")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no log_bin_compress"))?;
    let _restore = CompressGuard { port, before };
    let db = unique("compev");
    let (topic, twin) = (unique("compev_c"), unique("compev_p"));
    let [c, p] = tables();
    // The server's binlog is STATEMENT; this session writes ROW events with full images.
    exec_all(
        &mut conn,
        &[
            "SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10",
            "SET SESSION binlog_format = 'ROW'",
            "SET SESSION binlog_row_image = 'FULL'",
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            &c,
            &p,
        ],
    )
    .await?;
    let start: (String, u64) = conn
        .query_first("SHOW MASTER STATUS")
        .await?
        .map(|r: mysql_async::Row| {
            (
                r.get_opt(0).and_then(Result::ok).unwrap_or_default(),
                r.get_opt(1).and_then(Result::ok).unwrap_or_default(),
            )
        })
        .ok_or_else(|| anyhow::anyhow!("no binlog"))?;
    let mq = Mq::new()?;
    mq.create_topic(&topic, 2).await?;
    mq.create_topic(&twin, 2).await?;
    let (config, data) = (TempDir::new("compevcfg")?, TempDir::new("compevdata")?);
    let name = unique("compev");
    std::fs::write(
        config.path().join(format!("{name}.toml")),
        project(&name, &db, &topic, &twin, port),
    )?;
    // The precheck fails this server's global STATEMENT format; the session writes ROW.
    let unchecked = AgentOptions {
        precheck: false,
        ..AgentOptions::default()
    };
    let agent = Agent::start_with(config.path(), data.path(), unchecked);
    agent.wait_running(&name, WAIT).await?;
    let changes = changes();
    exec_all(
        &mut conn,
        &changes.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    same_as_twin(&mq, &topic, &twin, 5).await?;
    agent.stop().await?;

    // While the agent is down: a column added in the middle (a compressed statement), rows
    // after it; then the agent resumes from its checkpoint.
    let mut later = Vec::new();
    for t in ["c", "p"] {
        let attr = if t == "c" { "COMPRESSED" } else { "" };
        later.push(format!(
            "ALTER TABLE {t} ADD COLUMN extra VARCHAR(200) {attr} DEFAULT 'added' AFTER id"
        ));
        later.push(format!(
            "INSERT INTO {t} (id, extra, note, n) VALUES (4, REPEAT('压缩', 80), 'four', 4)"
        ));
        later.push(format!("UPDATE {t} SET extra = 'e' WHERE id = 3"));
    }
    exec_all(
        &mut conn,
        &later.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    let agent = Agent::start_with(config.path(), data.path(), unchecked);
    agent.wait_running(&name, WAIT).await?;
    same_as_twin(&mq, &topic, &twin, 7).await?;
    let all = mq.read_topic(&topic, 7, WAIT).await?;
    let four = all
        .iter()
        .find(|m| m.body["postStruct"]["id"] == 4)
        .ok_or_else(|| anyhow::anyhow!("no row 4 in {all:#?}"))?;
    assert_eq!(four.body["postStruct"]["extra"], "压缩".repeat(80));
    agent.stop().await?;

    // The server did write compressed events: rows and statements.
    let kinds = compressed_events(&mut conn, &start.0, start.1).await?;
    assert!(
        kinds.iter().any(|k| k.starts_with("Write_rows"))
            && kinds.iter().any(|k| k.starts_with("Update_rows"))
            && kinds.iter().any(|k| k.starts_with("Query")),
        "compressed events written: {kinds:?}"
    );
    mq.shutdown().await;
    Ok(())
}
