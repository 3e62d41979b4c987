//! The RocketMQ sink: sends formatted messages to the queue chosen by their sharding key, through
//! a pipeline whose watermark tells which commit positions are fully acknowledged.
//!
//! Invariants: messages of one queue are sent in the order given, one batch in flight per queue,
//! so rows with the same key keep their commit order; different queues are sent in parallel.
//! Topics are never created: each topic's route is looked up (name server only) before the first
//! send, and a missing topic is a [`SinkError::MissingTopic`].

mod build;
mod client;
mod error;
pub mod heartbeat;
pub mod message_text;
mod pipeline;
pub mod queue;
mod send;
mod watermark;

pub use build::{MessageSettings, messages};
pub use client::RocketMqClient;
pub use error::SinkError;
pub use pipeline::{Acked, Pipeline, Released, Window};
pub use send::{Outgoing, RocketMqSink, batch_entry_bytes};
