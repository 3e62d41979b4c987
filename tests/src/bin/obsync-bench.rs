//! `obsync-bench [ROWS]`: end-to-end throughput and memory of the obsync binary, next to the
//! broker's own ingest of equally sized messages sent directly, measured in the same run.
//!
//! 1. writes ROWS (default 1,000,000) inserts into a fresh table on the private MariaDB, in
//!    transactions of 1000 rows, so they sit in the binlog;
//! 2. starts `obsync` (the release binary next to this one) with `start_timestamp` before them
//!    and times from "running" to the last acknowledgement; reads its peak RSS;
//! 3. sends the same number of messages of the same size, key, tag and properties straight to a
//!    second topic with the Rust client (8 ordered lanes, batches of 256, one in flight each: the
//!    fastest ordered method in `../shared/reference/rocketmq-notes.md` §6);
//! 4. prints one table. Nothing is asserted: numbers drift between runs and machines.
#![recursion_limit = "256"]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use obsync_tests::agent::{TempDir, project_toml, status_file_entry};
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{unique, unique_server_id};
use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_model::common::message::message_single::Message;

const LANES: usize = 8;
const BATCH: usize = 256;

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let obsync = std::env::current_exe()?
        .parent()
        .map(|d| d.join("obsync"))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!("build the obsync binary first: cargo build --release -p obsync")
        })?;

    let db = unique("bench");
    let (e2e_topic, direct_topic) = (unique("bench_e2e"), unique("bench_direct"));
    let mq = Mq::new()?;
    mq.create_topic(&e2e_topic, 8).await?;
    mq.create_topic(&direct_topic, 8).await?;
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            "CREATE TABLE t (id BIGINT PRIMARY KEY, k INT NOT NULL, name VARCHAR(64), \
             amount DECIMAL(12,2), created DATETIME(3))",
        ],
    )
    .await?;
    let start_ts: u64 = conn
        .query_first("SELECT UNIX_TIMESTAMP()")
        .await?
        .unwrap_or(0);
    let write_start = Instant::now();
    for chunk in 0..rows.div_ceil(1000) {
        let values: Vec<String> = (chunk * 1000..((chunk + 1) * 1000).min(rows))
            .map(|id| {
                format!(
                    "({id}, {}, 'name-{id}-订单', {}.{:02}, '2024-02-29 12:00:00.{:03}')",
                    id % 1000,
                    id % 100_000,
                    id % 100,
                    id % 1000
                )
            })
            .collect();
        conn.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
            .await?;
    }
    let write_secs = write_start.elapsed().as_secs_f64();
    drop(conn);

    // obsync end to end.
    let config = TempDir::new("benchcfg")?;
    let data = TempDir::new("benchdata")?;
    let name = unique("bench");
    let text = project_toml(&name, &db, "t", &e2e_topic, unique_server_id())
        + &format!("\n[options]\nstart_timestamp = {start_ts}\n");
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    let mut child = Command::new(&obsync)
        .args(["run", "--config-dir"])
        .arg(config.path())
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .env("OBSYNC_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut started = None;
    let give_up = Instant::now() + Duration::from_secs(1800);
    let e2e_secs = loop {
        tick.tick().await;
        let s = status_file_entry(data.path(), &name);
        let state = s
            .as_ref()
            .and_then(|s| s["state"].as_str().map(str::to_string));
        if started.is_none() && state.as_deref() == Some("running") {
            started = Some(Instant::now());
        }
        let sent = s
            .as_ref()
            .and_then(|s| s["messages_sent"].as_u64())
            .unwrap_or(0);
        if let Some(t0) = started
            && sent >= rows as u64
        {
            break t0.elapsed().as_secs_f64();
        }
        anyhow::ensure!(
            Instant::now() < give_up && state.as_deref() != Some("failed"),
            "obsync did not finish: {s:?}"
        );
    };
    let rss = peak_rss_mib(pid);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    child.wait()?;

    // The broker's own ingest of the same messages.
    let sample = mq
        .read_topic(&e2e_topic, 1, Duration::from_secs(60))
        .await?;
    let sample = sample
        .first()
        .ok_or_else(|| anyhow::anyhow!("no message on {e2e_topic}"))?;
    let body = sample.body_text.clone().into_bytes();
    let client = obsync::sink::RocketMqClient::start()?;
    let mut producer = DefaultMQProducer::builder(client.runtime())
        .producer_group(unique("bench_pg").as_str())
        .name_server_addr(obsync_tests::name_server().as_str())
        .send_msg_timeout(3000)
        .build();
    producer.start().await?;
    let mut queues = producer.fetch_publish_message_queues(&direct_topic).await?;
    queues.sort();
    let producer = Arc::new(producer);
    let direct_start = Instant::now();
    let mut lanes = Vec::new();
    for (lane, mq_) in queues.into_iter().enumerate().take(LANES) {
        let producer = producer.clone();
        let body = body.clone();
        let count = rows / LANES + usize::from(lane < rows % LANES);
        lanes.push(tokio::spawn(async move {
            let mut sent = 0;
            while sent < count {
                let n = BATCH.min(count - sent);
                let batch: Vec<Message> = (0..n)
                    .map(|i| {
                        let mut b = Message::builder()
                            .topic(mq_.topic().as_str())
                            .tags("default_tag")
                            .key(format!("0-1-{lane}#{}", sent + i))
                            .body(body.clone());
                        for (k, v) in [
                            ("obsync_db", "bench"),
                            ("obsync_table", "t"),
                            ("obsync_type", "INSERT"),
                            ("obsync_position", "mdb-bin.000001:123456"),
                            ("obsync_dedupe_key", "0-1-123#1"),
                        ] {
                            b = b.raw_property(k, v)?;
                        }
                        Ok(b.build()?)
                    })
                    .collect::<anyhow::Result<_>>()?;
                producer.send_batch_to_queue(batch, mq_.clone()).await?;
                sent += n;
            }
            anyhow::Ok(())
        }));
    }
    for l in lanes {
        l.await??;
    }
    let direct_secs = direct_start.elapsed().as_secs_f64();
    if let Ok(mut p) = Arc::try_unwrap(producer) {
        p.shutdown().await;
    }
    client.shutdown().await;
    mq.shutdown().await;

    let e2e = rows as f64 / e2e_secs;
    let direct = rows as f64 / direct_secs;
    println!(
        "rows: {rows}; message body: {} bytes (Default format, 5 columns)",
        body.len()
    );
    println!("| path | seconds | rows/s | vs broker |");
    println!("|---|---:|---:|---:|");
    println!(
        "| MariaDB multi-row INSERT (writing the binlog) | {write_secs:.1} | {:.0} | |",
        rows as f64 / write_secs
    );
    println!(
        "| broker direct ingest (8 lanes, batches of {BATCH}) | {direct_secs:.1} | {direct:.0} | 1.00 |"
    );
    println!(
        "| obsync end to end (binlog → WASM Default → broker) | {e2e_secs:.1} | {e2e:.0} | {:.2} |",
        e2e / direct
    );
    match rss {
        Some(r) => println!("obsync peak RSS: {r:.1} MiB"),
        None => println!("obsync peak RSS: unknown"),
    }
    Ok(())
}
