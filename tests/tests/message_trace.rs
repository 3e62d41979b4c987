//! Message trace on Apache RocketMQ (#17): with `target.message_trace`, the broker's trace topic
//! (`RMQ_SYS_TRACE_TOPIC`, `traceTopicEnable=true`) receives a publish record per message,
//! read back by the Java consumer and decoded the way RocketMQ's `TraceDataEncoder` writes it:
//! fields separated by U+0001, records by U+0002; `Pub`, time, region, group, topic, message id,
//! tags, keys, store host, body length, cost, message type, offset message id, success.
//!
//! Found on the way (README, incompatibilities): rocketmq-client-rust 1.0.0 writes one record per
//! batch, its message ids joined by commas, with tags and keys empty; the broker (5.3.3) stores
//! the messages of one batch with the batch's client id, so a trace reader finds obsync's
//! messages by their broker id (offset message id), not by key or client id.
#![recursion_limit = "256"]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(60);
const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_has_a_publish_record_on_the_trace_topic() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "trace",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("trace_t", 2)],
    )
    .await?;
    let topic = &topics[0];
    let name = s.project("t", topic, "")?;
    let file = s.project_file(&name);
    let text = std::fs::read_to_string(&file)?
        .replace("producer_group =", "message_trace = true\nproducer_group =");
    std::fs::write(&file, text)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&["INSERT INTO t VALUES (1), (2), (3)"]).await?;
    let sent = s.mq.read_topic(topic, 3, WAIT).await?;
    // The broker's id of each stored message; not the client's (`UNIQ_KEY`): Apache RocketMQ
    // 5.3.3 stores the messages of one batch with the batch's client id (apache/rocketmq issue
    // 9416, fixed after 5.3.3), while trace records name the inner messages' ids.
    let ids: HashSet<String> = sent.iter().map(|m| m.offset_msg_id.clone()).collect();
    anyhow::ensure!(
        ids.len() == 3 && !ids.contains(""),
        "3 messages with their broker ids, got {sent:?}"
    );

    // Trace records are sent asynchronously after the messages: read until all three appear.
    let deadline = Instant::now() + WAIT;
    let traced = loop {
        let records = s.mq.read_topic_text(TRACE_TOPIC, 0, WAIT).await?;
        let traced: Vec<Vec<String>> = records
            .iter()
            .flat_map(|m| {
                m.body_text
                    .split('\u{2}')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|r| r.split('\u{1}').map(str::to_string).collect::<Vec<_>>())
            .filter(|f| f.first().is_some_and(|t| t == "Pub") && f.get(4) == Some(topic))
            .collect();
        let seen: HashSet<&str> = traced
            .iter()
            .filter_map(|f| f.get(12))
            .flat_map(|k| k.split(','))
            .collect();
        if ids.iter().all(|k| seen.contains(k.as_str())) {
            break traced;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "trace records for {topic}: {traced:?}; want the broker message ids {ids:?}"
        );
    };
    agent.stop().await?;
    for f in &traced {
        anyhow::ensure!(
            f.len() >= 14
                && f[3] == format!("{name}_pg")
                && f[8] == obsync_tests::broker_addr()
                && f[9].parse::<u64>().is_ok_and(|n| n > 0)
                && f[13] == "true",
            "a publish record names the producer group, the broker, the body length and success: {f:?}"
        );
    }
    Ok(())
}
