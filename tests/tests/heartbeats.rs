//! DataWorks heartbeat messages, end to end: opted in, every queue of the topic receives the
//! documented `{"version":"2.0","payload":{"timestamp":{"eventTime":…},"op":"HEARTBEAT"}}` again
//! and again, rows still arrive exactly once, and on each queue the event times never go back
//! (a heartbeat is a watermark: nothing after it on its queue is older). Projects without the
//! option send none (`formats_all_types.rs` counts its DataWorks topic exactly).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);
const QUEUES: u32 = 2;

fn is_heartbeat(m: &Received) -> bool {
    m.body["payload"]["op"] == "HEARTBEAT"
}

fn event_ms(m: &Received) -> u64 {
    m.body["payload"]["timestamp"]["eventTime"]
        .as_u64()
        .unwrap_or_else(|| panic!("no eventTime in {}", m.body_text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_reach_every_queue_as_a_watermark() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "beats",
        &["CREATE TABLE t (id INT PRIMARY KEY, v INT)"],
        &[("beats", QUEUES)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let file = s.project_file(&name);
    let text = std::fs::read_to_string(&file)?
        + "\n[options]\nformat = \"dataworks\"\nheartbeats = true\nheartbeat_interval_ms = 200\n";
    std::fs::write(&file, text)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[
        "INSERT INTO t VALUES (1, 10)",
        "INSERT INTO t VALUES (2, 20)",
    ])
    .await?;

    // Read until every queue has a heartbeat after its last row (polled, with a deadline).
    let began = Instant::now();
    let mut want = 2 + QUEUES as usize;
    let msgs = loop {
        let msgs = s.mq.read_topic(&topics[0], want, WAIT).await?;
        let mut after_rows: BTreeMap<i32, bool> = BTreeMap::new();
        for m in &msgs {
            // Sorted by (queue, offset): the last message of a queue decides.
            after_rows.insert(m.queue, is_heartbeat(m));
        }
        let rows = msgs.iter().filter(|m| !is_heartbeat(m)).count();
        if rows >= 2 && after_rows.len() == QUEUES as usize && after_rows.values().all(|b| *b) {
            break msgs;
        }
        assert!(
            began.elapsed() < WAIT,
            "no heartbeat after the rows on every queue: {msgs:#?}"
        );
        want = msgs.len() + 1;
    };

    let rows: Vec<i64> = msgs
        .iter()
        .filter(|m| !is_heartbeat(m))
        .map(|m| {
            m.body["payload"]["after"]["data"]["id"]
                .as_i64()
                .unwrap_or(-1)
        })
        .collect();
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [1, 2],
        "every row exactly once among the heartbeats"
    );
    let mut per_queue: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    for m in &msgs {
        if is_heartbeat(m) {
            assert_eq!(
                m.body,
                json!({
                    "version": "2.0",
                    "payload": { "timestamp": { "eventTime": event_ms(m) }, "op": "HEARTBEAT" }
                }),
                "the documented heartbeat"
            );
            assert_eq!(m.tags.as_deref(), Some("default_tag"), "{m:?}");
            assert_eq!(
                m.properties.get("obsync_type").map(String::as_str),
                Some("HEARTBEAT")
            );
        }
        per_queue.entry(m.queue).or_default().push(event_ms(m));
    }
    for (queue, times) in &per_queue {
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "queue {queue}: event times go back: {times:?}"
        );
    }
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
