//! DataWorks heartbeat messages (OMS spec §1.6, "heartbeat message of a synchronization task"):
//! `{"version":"2.0","payload":{"timestamp":{"eventTime":ms},"op":"HEARTBEAT"}}`, one on every
//! queue of a topic, so each partition's consumer sees the stream is alive.
//!
//! Invariant (kept by the project loop): heartbeats are submitted only after every row read
//! before them, at a transaction boundary; queues keep submission order, so on each queue every
//! later message has an event time at or after a heartbeat's `eventTime` (the commit time of the
//! last transaction read before it), which makes it a watermark per queue.

use std::sync::Arc;

use super::build::message;
use super::error::SinkError;
use super::send::{Outgoing, RocketMqSink, batch_entry_bytes};

/// The `Outgoing::kind` of a heartbeat: not a row, so not counted among rows sent.
pub const HEARTBEAT_KIND: usize = 3;

/// The heartbeat body for an event time in milliseconds.
pub fn body(event_ms: u64) -> Vec<u8> {
    format!(r#"{{"version":"2.0","payload":{{"timestamp":{{"eventTime":{event_ms}}},"op":"HEARTBEAT"}}}}"#)
        .into_bytes()
}

/// One heartbeat for each queue of `topic`, tagged `tag`.
pub fn messages(
    sink: &RocketMqSink,
    topic: &Arc<str>,
    tag: &str,
    event_ms: u64,
) -> Result<Vec<Outgoing>, SinkError> {
    let queues = sink.queue_count(topic).unwrap_or(1);
    (0..queues)
        .map(|queue| {
            let payload = body(event_ms);
            let bytes = payload.len();
            let message = message(
                topic,
                tag,
                "HEARTBEAT",
                payload,
                [("obsync_type".to_string(), "HEARTBEAT".to_string())],
            )?;
            Ok(Outgoing {
                topic: topic.clone(),
                queue,
                bytes,
                wire_bytes: batch_entry_bytes(&message),
                kind: HEARTBEAT_KIND,
                message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_heartbeat() {
        let v: serde_json::Value = serde_json::from_slice(&body(1_620_457_659_000)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "version": "2.0",
                "payload": { "timestamp": { "eventTime": 1_620_457_659_000u64 }, "op": "HEARTBEAT" }
            })
        );
    }
}
