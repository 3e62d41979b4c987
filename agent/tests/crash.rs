//! Crash safety of the real binary: 100,000 row changes over 10,000 keys, obsync killed with
//! SIGKILL three times mid-stream and restarted; the consumer then finds every change, per-key
//! order intact once duplicates are dropped by their key, and duplicates within the bound the
//! README states (per crash: the in-flight window plus the rows acknowledged since the last
//! checkpoint flush).
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use obsync_tests::agent::{project_toml, status_file_entry};
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{unique, unique_server_id};

const ROWS: usize = 10_000;
const VERSIONS: usize = 10;
const WINDOW: usize = 2_000;
const KILLS: usize = 3;

/// A running obsync process, killed (SIGKILL) and reaped when dropped, on failure too.
struct Running(Child);

impl Running {
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(config: &Path, data: &Path, log: &Path) -> Running {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Running(
        Command::new(env!("CARGO_BIN_EXE_obsync"))
            .args(["run", "--config-dir"])
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .env("RUST_LOG", "info")
            .env("OBSYNC_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Polls the status file until `f` holds, failing after `timeout`.
async fn wait_status(
    data: &Path,
    project: &str,
    what: &str,
    timeout: Duration,
    f: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        if status_file_entry(data, project).as_ref().is_some_and(&f) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what}: not reached, status {:?}",
            status_file_entry(data, project)
        );
        tick.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_keeps_key_order_and_bounds_duplicates()
-> anyhow::Result<()> {
    let (scene, topics) = Scene::new(
        "crash",
        &["CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)"],
        &[("crash_t", 8)],
    )
    .await?;
    let (db, mq, topic) = (scene.db.clone(), &scene.mq, &topics[0]);
    let (config, data) = (&scene.config, &scene.data);
    let log = data.path().join("obsync.log");
    let name = unique("crash");
    let text = project_toml(&name, &db, "t", topic, unique_server_id()).replace(
        &format!("producer_group = \"{name}_pg\""),
        &format!("producer_group = \"{name}_pg\"\nin_flight_messages = {WINDOW}"),
    );
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;

    let mut child = spawn(config.path(), data.path(), &log);
    wait_status(
        data.path(),
        &name,
        "first start",
        Duration::from_secs(60),
        |s| s["state"] == "running",
    )
    .await?;

    // 100 transactions of 1000 rows: inserts, then nine rounds of updates (v = 1 … 9).
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut conn = admin().await?;
            let mut statements = vec![format!("USE `{db}`")];
            for chunk in 0..ROWS / 1000 {
                let values: Vec<String> = (chunk * 1000..(chunk + 1) * 1000)
                    .map(|id| format!("({id}, 0)"))
                    .collect();
                statements.push(format!("INSERT INTO t VALUES {}", values.join(",")));
            }
            for _round in 1..VERSIONS {
                for chunk in 0..ROWS / 1000 {
                    statements.push(format!(
                        "UPDATE t SET v = v + 1 WHERE id >= {} AND id < {}",
                        chunk * 1000,
                        (chunk + 1) * 1000
                    ));
                }
            }
            let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
            exec_all(&mut conn, &refs).await
        })
    };

    // Each process sends at least 15,000 messages, then dies without warning.
    for kill in 0..KILLS {
        wait_status(
            data.path(),
            &name,
            &format!("kill {kill}"),
            Duration::from_secs(180),
            |s| s["messages_sent"].as_u64().unwrap_or(0) >= 15_000,
        )
        .await?;
        child.kill(); // SIGKILL
        // The status file of the dead process must not count for the next one.
        std::fs::remove_file(data.path().join("status.json"))?;
        child = spawn(config.path(), data.path(), &log);
    }
    writer.await??;

    let total = ROWS * VERSIONS;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut want = total;
    let msgs = loop {
        let msgs = mq.read_topic(topic, want, Duration::from_secs(120)).await?;
        let distinct: HashSet<&String> = msgs.iter().map(|m| &m.keys[0]).collect();
        if distinct.len() >= total {
            break msgs;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {total} changes arrived; see {}",
            distinct.len(),
            log.display()
        );
        want = msgs.len() + (total - distinct.len());
    };
    child.kill();

    // Same key, same message: a duplicate is an exact copy.
    let mut first: HashMap<&String, &str> = HashMap::new();
    let mut duplicates = 0;
    let mut versions: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in &msgs {
        match first.get(&m.keys[0]) {
            Some(body) => {
                assert_eq!(
                    *body,
                    m.body_text.as_str(),
                    "duplicate differs from its first copy"
                );
                duplicates += 1;
            }
            None => {
                first.insert(&m.keys[0], m.body_text.as_str());
                let after = &m.body["postStruct"];
                versions
                    .entry(after["id"].as_i64().unwrap())
                    .or_default()
                    .push(after["v"].as_i64().unwrap());
            }
        }
    }
    assert_eq!(first.len(), total);
    let expected: Vec<i64> = (0..VERSIONS as i64).collect();
    for id in 0..ROWS as i64 {
        assert_eq!(
            versions.get(&id),
            Some(&expected),
            "key {id} out of order or incomplete"
        );
    }
    // Per crash: the window plus what was acknowledged in one checkpoint-flush interval
    // (200 ms; 10,000 is far above what this build sends in that time).
    let bound = KILLS * (WINDOW + 10_000);
    println!("{total} changes, {KILLS} kills, {duplicates} duplicates (bound {bound})");
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates exceed the bound {bound}"
    );
    scene.mq.shutdown().await;
    Ok(())
}
