//! RocketMQ helpers: create topics through the admin API and read whole topics back with a lite
//! pull consumer (unique group, no offset commits).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    AclClientRPCHook, ClientRuntime, ClientRuntimeConfig, DefaultLitePullConsumer,
    DefaultMQAdminExt, SessionCredentials, TelemetryHandle, TopicAdmin,
};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

/// One message as a test sees it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Queue id.
    pub queue: i32,
    /// Offset in the queue.
    pub offset: i64,
    /// Message keys.
    pub keys: Vec<String>,
    /// Tag.
    pub tags: Option<String>,
    /// Body parsed as JSON.
    pub body: serde_json::Value,
    /// Body as text, exactly as sent.
    pub body_text: String,
    /// User properties.
    pub properties: HashMap<String, String>,
    /// Broker store time (ms).
    pub store_timestamp: i64,
}

/// A RocketMQ client for tests.
pub struct Mq {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
}

impl Mq {
    /// Starts a client runtime.
    pub fn new() -> anyhow::Result<Self> {
        let owner = RuntimeOwner::plan(RuntimeConfig::for_parallelism("test-rmq", 2))?.build()?;
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("test-rmq-client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )?;
        Ok(Mq {
            owner: Some(owner),
            runtime,
        })
    }

    /// Creates a topic with `queues` read and write queues on the private broker.
    pub async fn create_topic(&self, topic: &str, queues: u32) -> anyhow::Result<()> {
        self.create_topic_on(&crate::broker_addr(), topic, queues, None)
            .await
    }

    /// Creates a topic on the broker at `broker`, signing the request with `acl` keys if given
    /// (the ACL broker of `scripts/services.sh`).
    pub async fn create_topic_on(
        &self,
        broker: &str,
        topic: &str,
        queues: u32,
        acl: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        let mut admin = match acl {
            Some((ak, sk)) => DefaultMQAdminExt::with_rpc_hook(
                self.runtime.clone(),
                Arc::new(AclClientRPCHook::new(SessionCredentials::with_keys(ak, sk))),
            ),
            None => DefaultMQAdminExt::new(self.runtime.clone()),
        };
        admin.set_namesrv_addr(crate::name_server());
        admin.start().await?;
        let result = TopicAdmin::create_and_update_topic_config(
            &admin,
            CheetahString::from(broker),
            TopicConfig::with_queues(topic, queues, queues),
        )
        .await;
        // Wait until the name server serves the route.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut visible = false;
        while result.is_ok() && Instant::now() < deadline {
            if let Ok(Some(route)) =
                TopicAdmin::examine_topic_route_info(&admin, CheetahString::from(topic)).await
                && !route.queue_datas.is_empty()
            {
                visible = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        admin.shutdown().await;
        result?;
        anyhow::ensure!(
            visible,
            "topic {topic} not visible on the name server after creation"
        );
        Ok(())
    }

    /// Reads every message of a topic from the beginning until `want` arrived or `timeout`
    /// passed, then keeps polling briefly to catch extras (duplicates). Sorted by (queue, offset).
    pub async fn read_topic(
        &self,
        topic: &str,
        want: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        let consumer = DefaultLitePullConsumer::builder(self.runtime.clone())
            .consumer_group(crate::unique("reader"))
            .name_server_addr(crate::name_server())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .auto_commit(false)
            .pull_batch_size(256)
            .poll_timeout_millis(500)
            .broker_suspend_max_time_millis(500)
            .consumer_timeout_millis_when_suspend(2_000)
            .consumer_pull_timeout_millis(3_000)
            .build()?;
        consumer.start().await?;
        let result = async {
            let queues = consumer.fetch_message_queues(topic).await?;
            consumer.assign(queues.clone()).await?;
            for q in &queues {
                consumer.seek_to_begin(q).await?;
            }
            let deadline = Instant::now() + timeout;
            let mut out: Vec<MessageExt> = Vec::new();
            while out.len() < want && Instant::now() < deadline {
                out.extend(consumer.poll_with_timeout(200).await);
            }
            // One more short poll so duplicates beyond `want` are seen too.
            out.extend(consumer.poll_with_timeout(300).await);
            anyhow::Ok(out)
        }
        .await;
        consumer.shutdown().await;
        let mut received: Vec<Received> = result?
            .iter()
            .map(to_received)
            .collect::<anyhow::Result<_>>()?;
        received.sort_by_key(|m| (m.queue, m.offset));
        received.dedup_by_key(|m| (m.queue, m.offset));
        Ok(received)
    }

    /// Stops the client runtime.
    pub async fn shutdown(mut self) {
        let _ = self.runtime.shutdown().await;
        if let Some(owner) = self.owner.take() {
            owner.shutdown_tasks().await;
            owner.shutdown_background();
        }
    }
}

fn to_received(m: &MessageExt) -> anyhow::Result<Received> {
    let body = m.body().map(|b| b.to_vec()).unwrap_or_default();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| anyhow::anyhow!("message body is not JSON ({e}): {body_text}"))?;
    let properties = m
        .properties()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Received {
        queue: m.queue_id(),
        offset: m.queue_offset(),
        keys: m.keys().unwrap_or_default(),
        tags: m.get_tags().map(|t| t.to_string()),
        body,
        body_text,
        properties,
        store_timestamp: m.store_timestamp(),
    })
}
