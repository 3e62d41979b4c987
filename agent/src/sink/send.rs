//! The producer and the topic routes: route lookups that never create a topic, and one batch
//! sent to one queue (the pipeline's lanes call it, one batch in flight per queue).

use std::collections::HashMap;
use std::sync::Arc;

use rocketmq_client_rust::{
    AclClientRPCHook, ClientConfig, ClientRuntime, DefaultMQProducer, SessionCredentials,
};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendStatus;

use super::error::SinkError;
use crate::config::TargetConfig;

/// At most this many messages per batch request.
pub(crate) const MAX_BATCH_MESSAGES: usize = 256;
/// At most this many bytes per batch request (the broker's default limit is 4 MiB); less when
/// `target.max_message_bytes` is smaller.
pub(crate) const MAX_BATCH_BYTES: usize = 1 << 20;
/// Room above `target.max_message_bytes` for the client's own size check of a batch request,
/// which counts the headers and properties too (the broker keeps 64 KiB the same way).
const CLIENT_HEADROOM: usize = 64 << 10;
/// Properties the client adds to each message of a batch (`UNIQ_KEY`, `WAIT`, ...), with room.
const CLIENT_PROPERTIES: usize = 128;

/// The bytes `message` takes in a batch request as the broker measures it against its
/// `maxMessageSize` (a batch's whole encoded body, 5.x and 4.9): a 22-byte header per message
/// (size, magic, body CRC, flag, body length, properties length), the body, the properties as
/// `key\x01value\x02`, and those the client adds.
pub fn batch_entry_bytes(message: &Message) -> usize {
    let properties: usize = message
        .properties()
        .as_map()
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum();
    let body = message.body().map_or(0, |b| b.len());
    22 + body + properties + CLIENT_PROPERTIES
}

/// One message ready to send, with its topic and queue index.
#[derive(Debug)]
pub struct Outgoing {
    /// The topic.
    pub topic: Arc<str>,
    /// Index into the topic's queue list (see [`RocketMqSink::queue_count`]).
    pub queue: usize,
    /// Body size, for the window and the metrics.
    pub bytes: usize,
    /// Size in a batch request ([`batch_entry_bytes`]), for batching.
    pub wire_bytes: usize,
    /// The change kind's index (insert 0, update 1, delete 2), for the per-kind metrics.
    pub kind: usize,
    /// The message.
    pub message: Message,
}

/// A started producer plus the routes of the topics it sends to.
pub struct RocketMqSink {
    producer: DefaultMQProducer,
    name_server: String,
    queues: HashMap<String, Vec<MessageQueue>>,
    max_batch_bytes: usize,
}

impl RocketMqSink {
    /// Starts a producer for a project.
    pub async fn start(
        runtime: Arc<ClientRuntime>,
        target: &TargetConfig,
    ) -> Result<Self, SinkError> {
        let mut builder = DefaultMQProducer::builder(runtime);
        if target.message_trace {
            let mut cfg = ClientConfig::builder().enable_trace(true);
            if let Some(topic) = &target.trace_topic {
                cfg = cfg.trace_topic(topic.as_str());
            }
            let cfg = cfg
                .build()
                .map_err(|e| SinkError::Client(format!("cannot configure message trace: {e}")))?;
            // `client_config` replaces the whole client config: set it before the name server.
            builder = builder.client_config(cfg);
        }
        if let (Some(ak), Some(sk)) = (&target.access_key, &target.secret_key) {
            let creds = SessionCredentials::with_keys(ak.as_str(), sk.expose());
            builder = builder.rpc_hook(Arc::new(AclClientRPCHook::new(creds)));
        }
        let mut producer = builder
            .producer_group(target.producer_group.as_str())
            .name_server_addr(target.name_server.as_str())
            .send_msg_timeout(u32::try_from(target.send_timeout_ms).unwrap_or(u32::MAX))
            .retry_times_when_send_failed(0)
            // The client's own check (4 MiB by default) follows obsync's limit, so a message the
            // broker is set to accept is never refused before it leaves.
            .max_message_size(
                u32::try_from(target.max_message_bytes + CLIENT_HEADROOM).unwrap_or(u32::MAX),
            )
            .build();
        producer
            .start()
            .await
            .map_err(|e| SinkError::Client(format!("cannot start the producer: {e}")))?;
        Ok(RocketMqSink {
            producer,
            name_server: target.name_server.clone(),
            queues: HashMap::new(),
            max_batch_bytes: MAX_BATCH_BYTES.min(target.max_message_bytes),
        })
    }

    /// Looks up a topic's route on the name server (never creating it) and returns its number of
    /// writable queues.
    pub async fn prepare_topic(&mut self, topic: &str) -> Result<usize, SinkError> {
        match self.producer.fetch_publish_message_queues(topic).await {
            Ok(mut qs) if !qs.is_empty() => {
                qs.sort();
                let n = qs.len();
                let old = self.queues.insert(topic.to_string(), qs);
                if let Some(old) = old.filter(|o| o.len() != n) {
                    tracing::warn!(
                        topic,
                        was = old.len(),
                        now = n,
                        "the topic's queue count changed; keys are hashed over the new count from here on"
                    );
                }
                Ok(n)
            }
            Ok(_) => Err(self.missing(topic)),
            Err(e) => {
                let text = format!(
                    "{e} {:?}",
                    e.source_ref::<rocketmq_client_rust::MQClientException>()
                        .and_then(|x| x.error_message().map(str::to_string))
                );
                if names_a_missing_route(&text) {
                    Err(self.missing(topic))
                } else {
                    Err(SinkError::Transient {
                        topic: topic.to_string(),
                        detail: format!(
                            "cannot read the route from the name server {}: {text}",
                            self.name_server
                        ),
                    })
                }
            }
        }
    }

    fn missing(&self, topic: &str) -> SinkError {
        SinkError::MissingTopic {
            topic: topic.to_string(),
            name_server: self.name_server.clone(),
        }
    }

    /// Makes one signed, read-only broker request for a prepared topic (its first queue's max
    /// offset), so wrong ACL keys show before anything is sent.
    pub async fn check_access(&mut self, topic: &str) -> Result<(), SinkError> {
        let mq = self.message_queue(topic, 0)?;
        match self.producer.max_offset(&mq).await {
            Ok(_) => Ok(()),
            // RocketMQ 4.9's plain ACL refuses a key with SYSTEM_ERROR (the exception's text is
            // not kept by the client); a read-only request fails that way for nothing else here.
            Err(e) if e.broker_response_code() == Some(1) => Err(SinkError::Denied {
                topic: topic.to_string(),
                detail: format!(
                    "{e} (SYSTEM_ERROR: how RocketMQ 4.9's plain ACL refuses a key it does not know or a wrong signature)"
                ),
            }),
            Err(e) => Err(SinkError::classify(topic, 0, &e)),
        }
    }

    /// Returns the queue at `index` of a prepared topic.
    pub fn message_queue(&self, topic: &str, index: usize) -> Result<MessageQueue, SinkError> {
        self.queues
            .get(topic)
            .and_then(|qs| qs.get(index))
            .cloned()
            .ok_or_else(|| self.missing(topic))
    }

    /// The most bytes ([`batch_entry_bytes`]) one batch request carries: never more than the
    /// broker accepts as one message (`target.max_message_bytes`), which it checks a batch against.
    pub fn max_batch_bytes(&self) -> usize {
        self.max_batch_bytes
    }

    /// Returns the number of queues of a prepared topic.
    pub fn queue_count(&self, topic: &str) -> Option<usize> {
        self.queues.get(topic).map(Vec::len)
    }

    /// Sends one batch to one queue and waits for the broker's acknowledgement.
    pub(crate) async fn send_batch(
        &self,
        topic: &str,
        mq: &MessageQueue,
        batch: Vec<Message>,
        bytes: usize,
    ) -> Result<(), SinkError> {
        let count = batch.len();
        let result = self
            .producer
            .send_batch_to_queue(batch, mq.clone())
            .await
            .map_err(|e| SinkError::classify(topic, bytes, &e))?;
        // FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE: the broker has the batch
        // in memory but not as durable as it is set up to promise (SYNC_FLUSH / SYNC_MASTER).
        // Not an acknowledgement: the batch fails and the project resumes from its checkpoint.
        if result.send_status != SendStatus::SendOk {
            return Err(SinkError::NotDurable {
                topic: topic.to_string(),
                queue: mq.queue_id(),
                status: result.send_status.to_string(),
            });
        }
        tracing::trace!(
            topic,
            queue = mq.queue_id(),
            count,
            offset = result.queue_offset,
            "batch acknowledged"
        );
        Ok(())
    }

    /// Stops the producer (call once no pipeline uses it any more).
    pub async fn shutdown(mut self) {
        self.producer.shutdown().await;
    }
}

/// True for the client's answer to a route lookup of a topic the name server does not know. The
/// RocketMQ Rust client (1.0) gives that answer no error code, only these words
/// (`mq_admin_impl.rs`, `route_error.rs`), so this is the one place obsync reads a client's text;
/// everything after it sees [`SinkError::MissingTopic`].
fn names_a_missing_route(text: &str) -> bool {
    text.contains("Can not find Message Queue") || text.contains("No route")
}
