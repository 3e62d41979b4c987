//! obsync against the Java side of RocketMQ: the queue a key goes to is the one the Java client's
//! own `SelectMessageQueueByHash` picks (the rule OMS consumers and Java producers share).
#![recursion_limit = "256"]

use obsync::sink::queue::queue_for_key;
use obsync_tests::mq::Mq;

/// Keys that stress the hash: empty, ASCII, CJK and emoji (UTF-16 surrogates), a hash of
/// `Integer.MIN_VALUE`, negative hashes, composite keys joined with U+0001, long text.
const KEYS: &[&str] = &[
    "",
    "1",
    "42",
    "-7",
    "hello",
    "polygenelubricants",
    "张三",
    "中文键",
    "😀",
    "a😀b",
    "Zoë",
    "1\u{1}2",
    "db.table",
    "negative-key-7",
    "0123456789012345678901234567890123456789012345678901234567890123456789",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obsync_hashing_is_the_java_clients() -> anyhow::Result<()> {
    let mq = Mq::new()?;
    for queues in [1u32, 2, 3, 4, 7, 8, 16] {
        let java = mq.java_hash_queues(queues, KEYS).await?;
        let ours: Vec<u32> = KEYS
            .iter()
            .map(|k| queue_for_key(k, queues as usize) as u32)
            .collect();
        assert_eq!(ours, java, "{queues} queues, keys {KEYS:?}");
    }
    Ok(())
}
