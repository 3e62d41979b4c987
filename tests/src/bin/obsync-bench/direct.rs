//! The limit beside every end-to-end number: the broker's own ingest of the same number of
//! messages, of the same sizes per change type, with the same key, tag and properties, sent
//! straight to a second topic with the Rust client (8 ordered lanes, batches of 256, one batch in
//! flight each: the fastest ordered method in `../shared/reference/rocketmq-notes.md` §6).

use std::sync::Arc;
use std::time::Instant;

use obsync_tests::unique;
use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_model::common::message::message_single::Message;

/// Ordered lanes.
pub const LANES: usize = 8;
/// Messages per batch.
pub const BATCH: usize = 256;

/// Messages of one change type: how many, and their body size.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// `INSERT`, `UPDATE` or `DELETE`.
    pub kind: &'static str,
    /// Messages.
    pub count: usize,
    /// Body bytes of each.
    pub body_bytes: usize,
}

/// Sends `shares` to `topic` and returns the seconds it took.
pub async fn ingest(topic: &str, shares: &[Share]) -> anyhow::Result<f64> {
    let client = obsync::sink::RocketMqClient::start()?;
    let mut producer = DefaultMQProducer::builder(client.runtime())
        .producer_group(unique("bench_pg").as_str())
        .name_server_addr(obsync_tests::name_server().as_str())
        .send_msg_timeout(3000)
        .build();
    producer.start().await?;
    let mut queues = producer.fetch_publish_message_queues(topic).await?;
    queues.sort();
    let producer = Arc::new(producer);
    let started = Instant::now();
    let mut lanes = Vec::new();
    for (lane, queue) in queues.into_iter().enumerate().take(LANES) {
        let producer = producer.clone();
        // Each lane sends its share of every type, types in order like the binlog.
        let work: Vec<(Share, usize)> = shares
            .iter()
            .map(|s| (*s, s.count / LANES + usize::from(lane < s.count % LANES)))
            .collect();
        lanes.push(tokio::spawn(async move {
            for (share, count) in work {
                let body = vec![b'x'; share.body_bytes];
                let mut sent = 0;
                while sent < count {
                    let n = BATCH.min(count - sent);
                    let batch: Vec<Message> = (0..n)
                        .map(|i| {
                            let mut b = Message::builder()
                                .topic(queue.topic().as_str())
                                .tags("default_tag")
                                .key(format!("0-1-{lane}#{}", sent + i))
                                .body(body.clone());
                            for (k, v) in [
                                ("obsync_db", "bench"),
                                ("obsync_table", "t"),
                                ("obsync_type", share.kind),
                                ("obsync_position", "mdb-bin.000001:123456"),
                                ("obsync_dedupe_key", "0-1-123#1"),
                            ] {
                                b = b.raw_property(k, v)?;
                            }
                            Ok(b.build()?)
                        })
                        .collect::<anyhow::Result<_>>()?;
                    producer.send_batch_to_queue(batch, queue.clone()).await?;
                    sent += n;
                }
            }
            anyhow::Ok(())
        }));
    }
    for l in lanes {
        l.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    if let Ok(mut p) = Arc::try_unwrap(producer) {
        p.shutdown().await;
    }
    client.shutdown().await;
    Ok(secs)
}
