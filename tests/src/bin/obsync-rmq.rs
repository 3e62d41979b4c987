//! A small RocketMQ tool for the demo and for people trying obsync out:
//!
//! - `obsync-rmq create-topic TOPIC [QUEUES]`: creates a topic (obsync itself never does);
//! - `obsync-rmq consume TOPIC COUNT [TIMEOUT_SECONDS]`: prints the first COUNT messages of a
//!   topic (from the beginning), one JSON line each with queue, offset, keys, tag and body.
//!
//! It talks to the private services of `scripts/services.sh` (ports from `scripts/env.sh`).
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::mq::Mq;

fn usage() -> anyhow::Error {
    anyhow::anyhow!(
        "usage: obsync-rmq create-topic TOPIC [QUEUES] | consume TOPIC COUNT [TIMEOUT_SECONDS]"
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mq = Mq::new()?;
    let result = match args.first().map(String::as_str) {
        Some("create-topic") => {
            let topic = args.get(1).ok_or_else(usage)?;
            let queues = args.get(2).map(|q| q.parse()).transpose()?.unwrap_or(8);
            mq.create_topic(topic, queues).await.map(|()| {
                println!("created topic {topic} with {queues} queues");
            })
        }
        Some("consume") => {
            let topic = args.get(1).ok_or_else(usage)?;
            let count: usize = args.get(2).ok_or_else(usage)?.parse()?;
            let timeout = args.get(3).map(|t| t.parse()).transpose()?.unwrap_or(30);
            let msgs = mq
                .read_topic(topic, count, Duration::from_secs(timeout))
                .await;
            msgs.map(|msgs| {
                for m in &msgs {
                    // The body is printed exactly as sent (DECIMAL digits intact).
                    let head = serde_json::json!({ "queue": m.queue, "offset": m.offset, "keys": m.keys, "tag": m.tags });
                    let head = head.to_string();
                    println!("{},\"body\":{}}}", &head[..head.len() - 1], m.body_text);
                }
                eprintln!("{} message(s) received from {topic}", msgs.len());
            })
        }
        _ => Err(usage()),
    };
    mq.shutdown().await;
    result
}
