//! End to end: a pre-written binlog read by obsync from before the first of its row changes,
//! Default format (WASM), into a topic of 8 queues; timed from "running" to the last
//! acknowledgement, beside the broker's direct ingest of the same messages.
//!
//! The binlog is either the shared benchmark dataset that `scripts/bench.sh` writes once for every
//! measurement (`BENCH_DATASET`, see [`Dataset::from_env`]), or, run alone, ROWS row changes of a
//! 5-column table written here (60% INSERTs in 1,000-row transactions and 10% in one
//! transaction, 10% UPDATEs in 1,000-row transactions and 10% in one, 10% DELETEs in 1,000-row
//! transactions).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use obsync_tests::agent::project_toml;
use obsync_tests::mq::Mq;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{unique, unique_server_id};

use crate::direct::{self, Share};
use crate::obsync::Obsync;

/// The table both the end-to-end and the latency runs write.
pub const TABLE: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, k INT NOT NULL, \
    name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(3))";

/// One row of `t` as SQL values.
pub fn row(id: usize) -> String {
    format!(
        "({id}, {}, 'name-{id}-订单', {}.{:02}, '2024-02-29 12:00:00.{:03}')",
        id % 1000,
        id % 100_000,
        id % 100,
        id % 1000
    )
}

/// Creates `topics` (8 queues each) and the database `db` with [`TABLE`]; returns the broker
/// client and a connection using `db`.
pub async fn setup(db: &str, topics: &[&str]) -> anyhow::Result<(Mq, mysql_async::Conn)> {
    let mq = Mq::new()?;
    for topic in topics {
        mq.create_topic(topic, 8).await?;
    }
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            TABLE,
        ],
    )
    .await?;
    Ok((mq, conn))
}

/// What was written: row changes per type, and the seconds MariaDB took.
struct Written {
    counts: [usize; 3],
    seconds: f64,
}

async fn write(conn: &mut mysql_async::Conn, rows: usize) -> anyhow::Result<Written> {
    let (ins_small, ins_big) = (rows * 6 / 10, rows / 10);
    let (upd_small, upd_big) = (rows / 10, rows / 10);
    let del = rows - ins_small - ins_big - upd_small - upd_big;
    let started = Instant::now();
    for chunk in (0..ins_small).step_by(1000) {
        let values: Vec<String> = (chunk..(chunk + 1000).min(ins_small)).map(row).collect();
        conn.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
            .await?;
    }
    if ins_big > 0 {
        conn.query_drop(format!(
            "INSERT INTO t SELECT seq, seq % 1000, CONCAT('name-', seq, '-订单'), \
             (seq % 100000) + 0.5, '2024-02-29 12:00:00.123' FROM seq_{ins_small}_to_{}",
            ins_small + ins_big - 1
        ))
        .await?;
    }
    let update = |from: usize, to: usize| {
        format!("UPDATE t SET k = k + 1, amount = amount + 1 WHERE id >= {from} AND id < {to}")
    };
    for chunk in (0..upd_small).step_by(1000) {
        conn.query_drop(update(chunk, (chunk + 1000).min(upd_small)))
            .await?;
    }
    if upd_big > 0 {
        conn.query_drop(update(upd_small, upd_small + upd_big))
            .await?;
    }
    let first = upd_small + upd_big;
    for chunk in (first..first + del).step_by(1000) {
        conn.query_drop(format!(
            "DELETE FROM t WHERE id >= {chunk} AND id < {}",
            (chunk + 1000).min(first + del)
        ))
        .await?;
    }
    Ok(Written {
        counts: [ins_small + ins_big, upd_small + upd_big, del],
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A binlog written before the run: its database, tables, where it starts and what it holds.
pub struct Dataset {
    db: String,
    tables: Vec<String>,
    from: String,
    counts: [usize; 3],
    description: String,
}

impl Dataset {
    /// The dataset `scripts/bench.sh` wrote: `BENCH_DATASET="db table,table file:offset
    /// inserts,updates,deletes"`, with `BENCH_DATASET_ABOUT` describing it; `None` when unset.
    pub fn from_env() -> anyhow::Result<Option<Dataset>> {
        let Ok(text) = std::env::var("BENCH_DATASET") else {
            return Ok(None);
        };
        let bad = || anyhow::anyhow!("BENCH_DATASET {text:?}: want \"db t1,t2 file:offset i,u,d\"");
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [db, tables, from, counts] = parts[..] else {
            return Err(bad());
        };
        let counts: Vec<usize> = counts
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let counts: [usize; 3] = counts.try_into().map_err(|_| bad())?;
        Ok(Some(Dataset {
            db: db.into(),
            tables: tables.split(',').map(String::from).collect(),
            from: from.into(),
            counts,
            description: std::env::var("BENCH_DATASET_ABOUT").unwrap_or_default(),
        }))
    }
}

/// Runs the end-to-end comparison and prints its table: on `dataset`, or on `rows` row changes
/// written now.
pub async fn run(rows: usize, dataset: Option<Dataset>) -> anyhow::Result<()> {
    let (e2e_topic, direct_topic) = (unique("bench_e2e"), unique("bench_direct"));
    let name = unique("bench");
    let (mq, project, written, about) = match dataset {
        Some(d) => {
            let mq = Mq::new()?;
            for topic in [&e2e_topic, &direct_topic] {
                mq.create_topic(topic, 8).await?;
            }
            let mut project =
                project_toml(&name, &d.db, &d.tables[0], &e2e_topic, unique_server_id());
            for t in &d.tables[1..] {
                project += &format!(
                    "\n[[objects]]\ndatabase = \"{}\"\ntable = \"{t}\"\ntopic = \"{e2e_topic}\"\n",
                    d.db
                );
            }
            project += &format!("\n[options]\nstart_position = \"{}\"\n", d.from);
            let written = Written {
                counts: d.counts,
                seconds: 0.0,
            };
            (mq, project, written, d.description)
        }
        None => {
            let db = unique("bench");
            let (mq, mut conn) = setup(&db, &[&e2e_topic, &direct_topic]).await?;
            let start_ts: u64 = conn
                .query_first("SELECT UNIX_TIMESTAMP()")
                .await?
                .unwrap_or(0);
            let written = write(&mut conn, rows).await?;
            drop(conn);
            let project = project_toml(&name, &db, "t", &e2e_topic, unique_server_id())
                + &format!("\n[options]\nstart_timestamp = {start_ts}\n");
            let about = format!(
                "two of {} rows in one transaction; Default format, 5 columns",
                rows / 10
            );
            (mq, project, written, about)
        }
    };
    let rows: usize = written.counts.iter().sum();
    let obsync = Obsync::start(&name, &project).await?;
    let started = Instant::now();
    obsync
        .wait_sent(rows as u64, Duration::from_secs(1800))
        .await?;
    let e2e_secs = started.elapsed().as_secs_f64();
    let peak = obsync.peak_rss_mib();
    let report = obsync.report().await?;
    obsync.stop()?;
    let metrics = &report["metrics"];
    let at = |field: &str, i: usize| metrics[field][i].as_u64().unwrap_or(0) as usize;
    let kinds = ["INSERT", "UPDATE", "DELETE"];
    let shares: Vec<Share> = (0..3)
        .map(|i| Share {
            kind: kinds[i],
            count: at("messages_sent", i),
            body_bytes: at("bytes_sent", i) / at("messages_sent", i).max(1),
        })
        .collect();
    anyhow::ensure!(
        shares.iter().map(|s| s.count).collect::<Vec<_>>() == written.counts,
        "obsync sent {shares:?}, expected {:?}",
        written.counts
    );
    let format_secs = metrics["format_seconds"].as_f64().unwrap_or(0.0);
    let direct_secs = direct::ingest(&direct_topic, &shares).await?;
    mq.shutdown().await;

    let e2e = rows as f64 / e2e_secs;
    let direct = rows as f64 / direct_secs;
    println!(
        "row changes: {rows} ({} INSERT, {} UPDATE, {} DELETE; {about}); \
         mean message bodies: {} / {} / {} bytes",
        written.counts[0],
        written.counts[1],
        written.counts[2],
        shares[0].body_bytes,
        shares[1].body_bytes,
        shares[2].body_bytes
    );
    println!("| path | seconds | rows/s | vs broker |");
    println!("|---|---:|---:|---:|");
    if written.seconds > 0.0 {
        println!(
            "| MariaDB writing the binlog | {:.1} | {:.0} | |",
            written.seconds,
            rows as f64 / written.seconds
        );
    }
    println!(
        "| broker direct ingest ({} lanes, batches of {}) | {direct_secs:.1} | {direct:.0} | 1.00 |",
        direct::LANES,
        direct::BATCH
    );
    println!(
        "| obsync end to end (binlog → WASM Default → broker) | {e2e_secs:.1} | {e2e:.0} | {:.2} |",
        e2e / direct
    );
    println!(
        "obsync: format module {format_secs:.1} s of the {e2e_secs:.1} s; peak RSS {}",
        mib(peak)
    );
    Ok(())
}

/// Formats an optional MiB value.
pub fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".into(), |v| format!("{v:.1} MiB"))
}
