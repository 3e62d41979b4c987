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
use obsync_tests::sql::{admin, admin_on, binlog_end, exec_all};
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

/// The twin tables in a fresh database on the server at `port` (after `session` statements on
/// `conn`), their two topics, and a project carrying `c` to `topic` and `p` to `twin`.
struct Twins {
    db: String,
    topic: String,
    twin: String,
    name: String,
    config: TempDir,
    data: TempDir,
    mq: Mq,
}

impl Twins {
    async fn new(conn: &mut Conn, port: u16, session: &[&str]) -> anyhow::Result<Twins> {
        let db = unique("comp");
        let (topic, twin) = (unique("comp_c"), unique("comp_p"));
        let [c, p] = tables();
        let mut statements = session.to_vec();
        let (create, use_db) = (format!("CREATE DATABASE `{db}`"), format!("USE `{db}`"));
        statements.extend([create.as_str(), use_db.as_str(), &c, &p]);
        exec_all(conn, &statements).await?;
        let mq = Mq::new()?;
        mq.create_topic(&topic, 2).await?;
        mq.create_topic(&twin, 2).await?;
        let (config, data) = (TempDir::new("compcfg")?, TempDir::new("compdata")?);
        let name = unique("comp");
        let text = project_toml(&name, &db, "c", &topic, unique_server_id()).replace(
            &format!("port = {}", obsync_tests::mysql_port()),
            &format!("port = {port}"),
        );
        std::fs::write(
            config.path().join(format!("{name}.toml")),
            format!(
                "{text}\n[[objects]]\ndatabase = \"{db}\"\ntable = \"p\"\ntopic = \"{twin}\"\n"
            ),
        )?;
        Ok(Twins {
            db,
            topic,
            twin,
            name,
            config,
            data,
            mq,
        })
    }

    /// Starts the agent and waits until the project streams.
    async fn start(&self, options: AgentOptions) -> anyhow::Result<Agent> {
        let agent = Agent::start_with(self.config.path(), self.data.path(), options);
        agent.wait_running(&self.name, WAIT).await?;
        Ok(agent)
    }

    /// Reads both topics and checks the compressed table's images equal its twin's.
    async fn same_images(&self, want: usize) -> anyhow::Result<Vec<Received>> {
        let got = self.mq.read_topic(&self.topic, want, WAIT).await?;
        let expected = self.mq.read_topic(&self.twin, want, WAIT).await?;
        let (ours, theirs) = (images(&got), images(&expected));
        assert_eq!(ours.len(), want, "{ours:#?}");
        assert_eq!(ours, theirs);
        Ok(got)
    }
}

/// Runs owned statements in order.
async fn exec_owned(conn: &mut Conn, statements: &[String]) -> anyhow::Result<()> {
    exec_all(
        conn,
        &statements.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_columns_decode_like_plain_ones() -> anyhow::Result<()> {
    init_logs();
    let mut conn = admin().await?;
    let t = Twins::new(&mut conn, obsync_tests::mysql_port(), &[]).await?;
    // The precheck passes: COMPRESSED columns are decoded.
    let agent = t.start(AgentOptions::default()).await?;
    exec_owned(&mut conn, &changes()).await?;
    // 3 inserts, 1 update, 1 delete.
    let msgs = t.same_images(5).await?;
    let first = msgs
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
    t.mq.shutdown().await;
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
    exec_all(
        &mut conn,
        &["SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10"],
    )
    .await?;
    let start = binlog_end(&mut conn).await?;
    // The server's binlog is STATEMENT; this session writes ROW events with full images.
    let session = [
        "SET SESSION binlog_format = 'ROW'",
        "SET SESSION binlog_row_image = 'FULL'",
    ];
    let t = Twins::new(&mut conn, port, &session).await?;
    // The precheck fails this server's global STATEMENT format; the session writes ROW.
    let unchecked = AgentOptions {
        precheck: false,
        ..AgentOptions::default()
    };
    let agent = t.start(unchecked).await?;
    exec_owned(&mut conn, &changes()).await?;
    t.same_images(5).await?;
    agent.stop().await?;

    // While the agent is down: a column added in the middle (a compressed statement), rows
    // after it; then the agent resumes from its checkpoint.
    let mut later = Vec::new();
    for table in ["c", "p"] {
        let attr = if table == "c" { "COMPRESSED" } else { "" };
        later.push(format!(
            "ALTER TABLE {table} ADD COLUMN extra VARCHAR(200) {attr} DEFAULT 'added' AFTER id"
        ));
        later.push(format!(
            "INSERT INTO {table} (id, extra, note, n) VALUES (4, REPEAT('压缩', 80), 'four', 4)"
        ));
        later.push(format!("UPDATE {table} SET extra = 'e' WHERE id = 3"));
    }
    exec_owned(&mut conn, &later).await?;
    let agent = t.start(unchecked).await?;
    let all = t.same_images(7).await?;
    let four = all
        .iter()
        .find(|m| m.body["postStruct"]["id"] == 4)
        .ok_or_else(|| anyhow::anyhow!("no row 4 in {all:#?}"))?;
    assert_eq!(four.body["postStruct"]["extra"], "压缩".repeat(80));
    assert!(
        all.iter()
            .all(|m| m.body["allMetaData"]["db"] == t.db.as_str())
    );
    agent.stop().await?;

    // The server did write compressed events: rows and statements.
    let kinds = compressed_events(&mut conn, &start.0, start.1).await?;
    assert!(
        kinds.iter().any(|k| k.starts_with("Write_rows"))
            && kinds.iter().any(|k| k.starts_with("Update_rows"))
            && kinds.iter().any(|k| k.starts_with("Query")),
        "compressed events written: {kinds:?}"
    );
    t.mq.shutdown().await;
    Ok(())
}
