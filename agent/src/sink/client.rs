//! The RocketMQ client runtime shared by every project of the agent.
//!
//! `rocketmq-client-rust` runs its network tasks on a runtime it is given; we give it a small
//! one of its own and route its `tracing` events to our subscriber (no library logger).

use std::sync::Arc;

use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, TelemetryHandle};
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

use super::error::SinkError;

/// Owns the client runtime; shut it down after every producer.
pub struct RocketMqClient {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
}

impl RocketMqClient {
    /// Starts the client runtime with two worker threads.
    pub fn start() -> Result<Self, SinkError> {
        let plan = RuntimeOwner::plan(RuntimeConfig::for_parallelism("obsync-rmq", 2))
            .map_err(|e| SinkError::Client(format!("cannot plan the rocketmq runtime: {e}")))?;
        let owner = plan
            .build()
            .map_err(|e| SinkError::Client(format!("cannot start the rocketmq runtime: {e}")))?;
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("obsync-rmq-client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .map_err(|e| SinkError::Client(format!("cannot start the rocketmq client: {e}")))?;
        Ok(RocketMqClient {
            owner: Some(owner),
            runtime,
        })
    }

    /// Returns the runtime handle producers are built on.
    pub fn runtime(&self) -> Arc<ClientRuntime> {
        self.runtime.clone()
    }

    /// Stops the client runtime; call after every producer was shut down.
    pub async fn shutdown(mut self) {
        let _ = self.runtime.shutdown().await;
        if let Some(owner) = self.owner.take() {
            owner.shutdown_tasks().await;
            owner.shutdown_background();
        }
    }
}
