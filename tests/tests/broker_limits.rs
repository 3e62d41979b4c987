//! The broker's own limits, on an Apache RocketMQ broker set up to reach them
//! (`scripts/services.sh start limitbroker`: its store on a private tmpfs):
//!
//! - **maxMessageSize below obsync's batches** (set at runtime with `mqadmin updateBrokerConfig`,
//!   `target.max_message_bytes` set to match, as the README asks): every row arrives, once, in
//!   order; no batch is larger than the broker's limit.
//! - **maxMessageSize above the client's own default** (4 MiB): a 5 MiB message passes.
//! - **a message over the broker's limit** (obsync's set higher): the project retries from its
//!   checkpoint before that row, its error naming the topic, the size and `maxMessageSize`; once
//!   the broker's limit is raised at runtime, the rest arrive.
//! - **a full disk** (the tmpfs filled past the broker's `diskSpaceWarningLevelRatio`): the broker
//!   refuses every write; the project retries with the broker's words, its checkpoint still, and
//!   once space is freed every row arrives exactly once.
//!
//! This binary starts and stops its broker and holds one test: the phases share the broker and
//! each changes what it accepts.
#![recursion_limit = "256"]

use std::time::{Duration, Instant};

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use obsync_tests::{limit_broker_addr, limit_broker_store, services, unique, update_broker_config};

/// Waits here are polls; the broker checks its disk once a minute has passed since its start.
const WAIT: Duration = Duration::from_secs(180);
const MIB: usize = 1 << 20;

/// Stops the limit broker (and unmounts its store) when the test ends, on failure too.
struct LimitBroker;

impl Drop for LimitBroker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(limit_broker_store().join("ballast"));
        let _ = services(&["stop", "limitbroker"]);
    }
}

fn set_max_message_size(bytes: usize) -> anyhow::Result<()> {
    update_broker_config(&limit_broker_addr(), "maxMessageSize", &bytes.to_string())
}

/// A scene with `table` (DDL of `t`), a topic of `queues` queues on the limit broker and a
/// running agent with one project for them, `target.max_message_bytes` set.
async fn started(
    prefix: &str,
    table: &str,
    queues: u32,
    max_message_bytes: usize,
) -> anyhow::Result<(Scene, String, String, Agent)> {
    let (s, _) = Scene::new(prefix, &[table], &[]).await?;
    let topic = unique(&format!("{prefix}_t"));
    s.mq.create_topic_on(&limit_broker_addr(), &topic, queues, None)
        .await?;
    let name = s.project("t", &topic, "")?;
    let file = s.project_file(&name);
    let text = std::fs::read_to_string(&file)?.replace(
        "[target]\n",
        &format!("[target]\nmax_message_bytes = {max_message_bytes}\n"),
    );
    std::fs::write(&file, text)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    Ok((s, topic, name, agent))
}

fn ids(msgs: &[Received]) -> Vec<i64> {
    msgs.iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_s_own_limits_hold_a_project_and_lose_nothing() -> anyhow::Result<()> {
    services(&["start", "limitbroker"])?;
    let _broker = LimitBroker;
    batches_fit_a_lowered_max_message_size().await?;
    messages_up_to_the_broker_s_limit_pass_and_larger_ones_stop().await?;
    a_full_disk_holds_the_project_until_space_returns().await?;
    Ok(())
}

/// 300 rows of ~1 KiB in one statement under a 128 KiB limit: without batches sized to it, the
/// broker refuses obsync's first batch (up to 1 MiB).
async fn batches_fit_a_lowered_max_message_size() -> anyhow::Result<()> {
    const ROWS: i64 = 300;
    set_max_message_size(128 << 10)?;
    let (s, topic, name, agent) = started(
        "limbatch",
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(2000))",
        1,
        128 << 10,
    )
    .await?;
    let values: Vec<String> = (1..=ROWS)
        .map(|i| format!("({i}, REPEAT('a', 1000))"))
        .collect();
    s.sql(&[&format!("INSERT INTO t VALUES {}", values.join(","))])
        .await?;
    agent
        .wait_for(&name, "every row acknowledged, or a failure", WAIT, |p| {
            p.messages_sent >= ROWS as u64 || p.state == ProjectState::Failed
        })
        .await?;
    let status = agent.status.get(&name).expect("status");
    assert_eq!(status.state, ProjectState::Running, "{status:?}");
    agent.stop().await?;
    // One queue: the broker's order is the rows' order, each once.
    let msgs = s.mq.read_topic(&topic, ROWS as usize, WAIT).await?;
    assert_eq!(ids(&msgs), (1..=ROWS).collect::<Vec<_>>());
    Ok(())
}

/// The broker accepts 6 MiB, obsync is set to 8 MiB: 5 MiB passes (above the Rust client's own
/// 4 MiB default), 7 MiB is refused by the broker and holds the project before that row; raised
/// to 8 MiB at runtime, the broker takes the rest.
async fn messages_up_to_the_broker_s_limit_pass_and_larger_ones_stop() -> anyhow::Result<()> {
    set_max_message_size(6 * MIB)?;
    let (s, topic, name, agent) = started(
        "limsize",
        "CREATE TABLE t (id INT PRIMARY KEY, v LONGTEXT)",
        1,
        8 * MIB,
    )
    .await?;
    s.sql(&[
        "INSERT INTO t VALUES (1, 'small')",
        &format!("INSERT INTO t VALUES (2, REPEAT('x', {}))", 5 * MIB),
        &format!("INSERT INTO t VALUES (3, REPEAT('y', {}))", 7 * MIB),
        "INSERT INTO t VALUES (4, 'small')",
    ])
    .await?;
    // The broker refuses the 7 MiB row with SYSTEM_ERROR (its reason is not passed on by the
    // client): the project retries from its checkpoint, naming the size and the broker's limit.
    agent
        .wait_for(&name, "retrying on the refused row", WAIT, |p| {
            p.state == ProjectState::Retrying
                && p.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("maxMessageSize") && e.contains(topic.as_str()))
        })
        .await?;
    let status = agent.status.get(&name).expect("status");
    assert_eq!(status.messages_sent, 2, "{status:?}");
    // The consumer returns once two messages came (a 4.9 consumer's first rebalance can take
    // longer than ten seconds, so the poll waits as long as the others).
    let before = s.mq.read_topic(&topic, 2, WAIT).await?;
    assert_eq!(ids(&before), [1, 2], "only the rows before the refused one");

    // The operator raises the broker's limit at runtime: the next retry gets through (rows 1
    // and 2 may come again from the checkpoint, each at most once more).
    set_max_message_size(8 * MIB + 64 * 1024)?;
    agent
        .wait_for(&name, "every row acknowledged", WAIT, |p| {
            p.state == ProjectState::Running && p.messages_sent >= 4
        })
        .await?;
    let msgs = read_until(&s, &topic, &[1, 2, 3, 4]).await?;
    agent.stop().await?;
    let got = ids(&msgs);
    for id in [1, 2, 3, 4] {
        let n = got.iter().filter(|&&x| x == id).count();
        let most = if id <= 2 { 2 } else { 1 };
        assert!(
            (1..=most).contains(&n),
            "row {id} arrived {n} times: {got:?}"
        );
    }
    Ok(())
}

/// The store filled past half: the broker marks its disk full (its own check, once a second
/// after its first minute) and refuses every write with SERVICE_NOT_AVAILABLE. Rows written
/// meanwhile wait; none is acknowledged, none lost; once space is freed they arrive once each.
async fn a_full_disk_holds_the_project_until_space_returns() -> anyhow::Result<()> {
    const ROWS: i64 = 40;
    let (s, topic, name, agent) =
        started("limdisk", "CREATE TABLE t (id INT PRIMARY KEY)", 2, 4 * MIB).await?;
    let probe = unique("limdisk_probe");
    s.mq.create_topic_on(&limit_broker_addr(), &probe, 1, None)
        .await?;
    let start = agent.status.get(&name).and_then(|p| p.position);
    s.sql(&["INSERT INTO t VALUES (1)"]).await?;
    // Row 1 acknowledged and its checkpoint stored: a later restart does not send it again.
    agent
        .wait_for(&name, "row 1 acknowledged and checkpointed", WAIT, |p| {
            p.messages_sent >= 1 && p.position != start
        })
        .await?;

    let ballast = limit_broker_store().join("ballast");
    std::fs::write(&ballast, vec![0u8; 320 * MIB])?;
    let deadline = Instant::now() + WAIT;
    let refusal = loop {
        let answer = s.mq.probe_send(&probe, "probe").await?;
        if answer.starts_with("refused 14") {
            break answer;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the broker never refused a write: {answer}"
        );
    };
    assert!(refusal.contains("disk is full"), "{refusal}");

    let values: Vec<String> = (2..=ROWS).map(|i| format!("({i})")).collect();
    s.sql(&[&format!("INSERT INTO t VALUES {}", values.join(","))])
        .await?;
    agent
        .wait_for(&name, "retrying on the full disk", WAIT, |p| {
            p.state == ProjectState::Retrying
                && p.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("SERVICE_NOT_AVAILABLE"))
        })
        .await?;
    let held = agent.status.get(&name).expect("status");
    assert_eq!(
        held.messages_sent, 1,
        "acknowledged while refused: {held:?}"
    );

    std::fs::remove_file(&ballast)?;
    agent
        .wait_for(&name, "every row acknowledged", WAIT, |p| {
            p.state == ProjectState::Running && p.messages_sent >= ROWS as u64
        })
        .await?;
    agent.stop().await?;
    let msgs = s.mq.read_topic(&topic, ROWS as usize, WAIT).await?;
    let mut got = ids(&msgs);
    got.sort_unstable();
    assert_eq!(got, (1..=ROWS).collect::<Vec<_>>(), "each row exactly once");
    Ok(())
}

/// Reads `topic` until every id of `want` arrived (or [`WAIT`] passed).
async fn read_until(s: &Scene, topic: &str, want: &[i64]) -> anyhow::Result<Vec<Received>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let msgs =
            s.mq.read_topic(topic, want.len(), Duration::from_secs(10))
                .await?;
        let got = ids(&msgs);
        if want.iter().all(|id| got.contains(id)) || Instant::now() >= deadline {
            return Ok(msgs);
        }
    }
}
