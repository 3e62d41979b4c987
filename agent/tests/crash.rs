//! Crash safety of the real binary: 100,000 row changes over 10,000 keys, obsync killed with
//! SIGKILL three times at bad moments — inside a 10,000-row transaction (larger than the window),
//! right after a config reload restarted the project, and mid-stream — and restarted. The
//! consumer then finds every change, per-key order intact once duplicates are dropped by key, and
//! exactly the duplicates the README states: after each kill, the checkpoint on disk is read and
//! the copies sent after the restart must be exactly the messages after it the broker already
//! held (none before it, none twice, none missing). Attribution uses the broker's store time: a
//! process cannot store a message before it was started.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use obsync::checkpoint::CheckpointStore;
use obsync_tests::agent::{project_toml, status_file_entry};
use obsync_tests::mq::{Mq, Received};
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{unique, unique_server_id};

const ROWS: usize = 10_000;
const VERSIONS: usize = 10;
const WINDOW: usize = 2_000;

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

/// `file:offset` of a message's row event, from its `obsync_position` property.
fn position(m: &Received) -> (String, u64) {
    let p = &m.properties["obsync_position"];
    let (file, offset) = p.rsplit_once(':').unwrap();
    (file.to_string(), offset.parse().unwrap())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What one kill left: the checkpoint on disk, the messages after it the broker held, and when
/// the next process started.
struct Kill {
    moment: &'static str,
    checkpoint: (String, u64),
    held: HashSet<String>,
    restarted_ms: i64,
}

/// Kills `child`, reads the checkpoint it left on disk and what the broker holds, restarts.
async fn kill_and_restart(
    child: Running,
    moment: &'static str,
    (config, data, log): (&Path, &Path, &Path),
    (mq, topic, name): (&Mq, &str, &str),
) -> anyhow::Result<(Running, Kill)> {
    child.kill(); // SIGKILL, reaped: its sled lock is gone
    let checkpoint = {
        let store = CheckpointStore::open(&data.join("checkpoints"))?;
        let p = store
            .load(name)?
            .ok_or_else(|| anyhow::anyhow!("no checkpoint on disk after the kill {moment}"))?;
        (p.file, p.offset)
    };
    let stored = mq.read_topic(topic, 0, Duration::from_secs(120)).await?;
    let held = stored
        .iter()
        .filter(|m| position(m) > checkpoint)
        .map(|m| m.keys[0].clone())
        .collect();
    // The status file of the dead process must not count for the next one.
    std::fs::remove_file(data.join("status.json"))?;
    let restarted_ms = now_ms();
    let next = spawn(config, data, log);
    Ok((
        next,
        Kill {
            moment,
            checkpoint,
            held,
            restarted_ms,
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_bad_moments_resends_exactly_what_follows_the_durable_checkpoint()
-> anyhow::Result<()> {
    let (scene, topics) = Scene::new(
        "crash",
        &["CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)"],
        &[("crash_t", 8)],
    )
    .await?;
    let (db, mq, topic) = (scene.db.clone(), &scene.mq, topics[0].as_str());
    let (config, data) = (scene.config.path(), scene.data.path());
    let log = data.join("obsync.log");
    let name = unique("crash");
    let file = config.join(format!("{name}.toml"));
    let text = project_toml(&name, &db, "t", topic, unique_server_id()).replace(
        &format!("producer_group = \"{name}_pg\""),
        &format!("producer_group = \"{name}_pg\"\nin_flight_messages = {WINDOW}"),
    );
    std::fs::write(&file, &text)?;
    let paths = (config, data, log.as_path());
    let sent_at_least = |n: usize| {
        move |s: &serde_json::Value| s["messages_sent"].as_u64().unwrap_or(0) >= n as u64
    };

    let mut child = spawn(config, data, &log);
    wait_status(data, &name, "first start", Duration::from_secs(60), |s| {
        s["state"] == "running"
    })
    .await?;

    // Ten transactions of 1,000 inserts, one UPDATE of all 10,000 rows (v = 1, one transaction
    // five times the window), then eight rounds of 1,000-row updates (v = 2 … 9).
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
            statements.push("UPDATE t SET v = v + 1".into());
            for _round in 2..VERSIONS {
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
    let wait = Duration::from_secs(180);
    let target = (mq, topic, name.as_str());
    let mut kills = Vec::new();

    // 1. Inside the big transaction: its first messages are acknowledged, its commit not read.
    wait_status(data, &name, "kill 1", wait, sent_at_least(ROWS + 1_000)).await?;
    let (next, kill) =
        kill_and_restart(child, "inside a 10,000-row transaction", paths, target).await?;
    child = next;
    // Each next process lives until it re-sent what the last kill left (the window bounds how far
    // its acknowledgements can run ahead of the oldest unacknowledged one).
    let enough = |k: &Kill| (k.held.len() + 3 * WINDOW).max(15_000);
    let need = enough(&kill);
    kills.push(kill);

    // 2. Right after a config reload restarted the project.
    wait_status(data, &name, "kill 2", wait, sent_at_least(need)).await?;
    std::fs::write(
        &file,
        text.replace("send_timeout_ms = 15000", "send_timeout_ms = 15001"),
    )?;
    wait_status(data, &name, "reload", wait, |s| {
        s["streams_started"].as_u64().unwrap_or(0) >= 2
    })
    .await?;
    let (next, kill) =
        kill_and_restart(child, "right after a config reload", paths, target).await?;
    child = next;
    let need = enough(&kill);
    kills.push(kill);

    // 3. Mid-stream.
    wait_status(data, &name, "kill 3", wait, sent_at_least(need)).await?;
    let (next, kill) = kill_and_restart(child, "mid-stream", paths, target).await?;
    child = next;
    kills.push(kill);
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

    // Nothing lost, same key same message, per-key order of the first copies.
    let mut first: HashMap<&String, &str> = HashMap::new();
    let mut versions: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in &msgs {
        match first.get(&m.keys[0]) {
            Some(body) => assert_eq!(
                *body,
                m.body_text.as_str(),
                "a duplicate differs from its first copy"
            ),
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

    // The duplicate bound, per kill: the copies stored after the restart of keys the broker
    // already held are exactly the held messages after the checkpoint on disk; of those, the
    // ones outside a transaction still open at the kill are at most the window plus what was
    // released in one 200 ms flush interval (10,000 is far above what this build sends then).
    let txn = |m: &Received| {
        m.properties["obsync_dedupe_key"]
            .rsplit_once('#')
            .map(|(t, _)| t.to_string())
            .unwrap()
    };
    let mut txn_size: HashMap<String, usize> = HashMap::new();
    let mut counted: HashSet<&String> = HashSet::new();
    for m in &msgs {
        if counted.insert(&m.keys[0]) {
            *txn_size.entry(txn(m)).or_default() += 1;
        }
    }
    let mut duplicates = 0;
    for (k, kill) in kills.iter().enumerate() {
        let until = kills.get(k + 1).map_or(i64::MAX, |n| n.restarted_ms);
        let mut seen_before: HashSet<&String> = HashSet::new();
        for m in msgs
            .iter()
            .filter(|m| m.store_timestamp < kill.restarted_ms)
        {
            seen_before.insert(&m.keys[0]);
        }
        let mut resent: HashMap<&String, usize> = HashMap::new();
        for m in msgs
            .iter()
            .filter(|m| (kill.restarted_ms..until).contains(&m.store_timestamp))
            .filter(|m| seen_before.contains(&m.keys[0]))
        {
            assert!(
                position(m) > kill.checkpoint,
                "kill {} ({}): {} at {:?} was sent again, but the checkpoint on disk {:?} is past it",
                k + 1,
                kill.moment,
                m.keys[0],
                position(m),
                kill.checkpoint
            );
            *resent.entry(&m.keys[0]).or_default() += 1;
        }
        // Transactions the broker did not hold whole when the process died were open then.
        let mut held_of: HashMap<String, HashSet<&String>> = HashMap::new();
        for m in msgs
            .iter()
            .filter(|m| m.store_timestamp < kill.restarted_ms)
        {
            held_of.entry(txn(m)).or_default().insert(&m.keys[0]);
        }
        let open: usize = msgs
            .iter()
            .filter(|m| m.store_timestamp < kill.restarted_ms && kill.held.contains(&m.keys[0]))
            .map(|m| (&m.keys[0], txn(m)))
            .collect::<HashMap<_, _>>()
            .values()
            .filter(|t| held_of[*t].len() < txn_size[*t])
            .count();
        let twice = resent.values().filter(|n| **n > 1).count();
        let missing = kill.held.iter().filter(|k| !resent.contains_key(k)).count();
        let copies: usize = resent.values().sum();
        println!(
            "kill {} ({}): checkpoint on disk {}:{}, {} held messages after it ({open} of a transaction open at the kill), {copies} sent again",
            k + 1,
            kill.moment,
            kill.checkpoint.0,
            kill.checkpoint.1,
            kill.held.len()
        );
        assert!(
            kill.held.len() - open <= WINDOW + 10_000,
            "kill {} ({}): the checkpoint on disk trails by {} messages outside the open transaction, above the window {WINDOW} plus one flush interval",
            k + 1,
            kill.moment,
            kill.held.len() - open
        );
        assert!(
            twice == 0 && missing == 0 && copies == kill.held.len(),
            "kill {} ({}): want exactly the {} held messages after the checkpoint sent again once each, \
             got {copies} copies ({twice} keys more than once, {missing} held ones not again; see {})",
            k + 1,
            kill.moment,
            kill.held.len(),
            log.display()
        );
        duplicates += copies;
    }
    println!(
        "{total} changes, {} kills, {duplicates} duplicates ({} messages received)",
        kills.len(),
        msgs.len()
    );
    assert_eq!(
        msgs.len(),
        total + duplicates,
        "copies beyond those re-sent after the kills"
    );
    scene.mq.shutdown().await;
    Ok(())
}
