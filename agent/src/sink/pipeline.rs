//! The pipelined sink: the source keeps reading and formatting while earlier messages are on
//! their way, and the checkpoint follows the acknowledgements.
//!
//! Shape: one lane task per (topic, queue), fed in submission order, sending batches of up to
//! 256 messages / 1 MiB (less when the broker's limit is smaller) with exactly one batch in flight per lane, so one queue's messages are
//! stored in the order submitted; lanes run in parallel. A window bounds the messages and bytes
//! not yet below the acknowledgement watermark (unacknowledged, or acknowledged behind a batch
//! that is not): [`Pipeline::submit`] waits for room, which back-pressures the source and bounds
//! memory however large a transaction is.
//!
//! Watermark invariant ([`super::watermark`]): every submitted batch gets an increasing id; a
//! commit position marked after batch `b` is released by [`Pipeline::take_safe_position`] only
//! once every batch with an id `<= b` is fully acknowledged. So a stored checkpoint never passes
//! an unacknowledged row, and a resume from it sends again at most the window plus the rows of
//! positions released since that checkpoint was made durable (plus an open transaction's rows).
//!
//! Failure: the first lane error is kept and returned by every later call; lanes stop at the
//! failed batch. The owner drops the pipeline (aborting the lanes) and resumes from the
//! checkpoint, which only re-sends, never skips.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::error::SinkError;
use super::heartbeat::HEARTBEAT_KIND;
use super::send::{MAX_BATCH_MESSAGES, Outgoing, RocketMqSink};
pub use super::watermark::Released;
use super::watermark::Watermark;
use crate::source::Position;

/// Bounds of the messages not yet below the acknowledgement watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Messages at most.
    pub messages: usize,
    /// Body bytes at most.
    pub bytes: usize,
}

#[derive(Default)]
struct State {
    /// Submitted batches, their acknowledgements and the positions waiting for them.
    watermark: Watermark,
    error: Option<SinkError>,
    /// Messages and body bytes acknowledged since the pipeline started.
    acked: Acked,
}

/// Messages and body bytes acknowledged, per change kind (insert, update, delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acked {
    /// Messages per kind.
    pub messages: [u64; 3],
    /// Body bytes per kind.
    pub bytes: [u64; 3],
}

impl Acked {
    /// Every message.
    pub fn total(&self) -> u64 {
        self.messages.iter().sum()
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a lane panicked mid-update: the counters are still usable, and the
        // owner restarts from the checkpoint on the error that follows.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One message on its way through a lane.
struct Item {
    batch: u64,
    bytes: usize,
    wire_bytes: usize,
    kind: usize,
    message: Message,
}

/// A pipelined sink over a started producer.
pub struct Pipeline {
    sink: Arc<RocketMqSink>,
    shared: Arc<Shared>,
    lanes: HashMap<(Arc<str>, usize), mpsc::UnboundedSender<Item>>,
    tasks: Vec<JoinHandle<()>>,
    window: Window,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Pipeline {
    /// Starts an empty pipeline.
    pub fn new(sink: Arc<RocketMqSink>, window: Window) -> Self {
        Pipeline {
            sink,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
            lanes: HashMap::new(),
            tasks: Vec::new(),
            window,
        }
    }

    /// Queues messages for sending (each keeps its place on its queue) once the window has room;
    /// a batch larger than the whole window waits for an empty pipeline and goes alone.
    pub async fn submit(&mut self, messages: Vec<Outgoing>) -> Result<(), SinkError> {
        if messages.is_empty() {
            return self.check();
        }
        let count = messages.len();
        let bytes: usize = messages.iter().map(|m| m.bytes).sum();
        loop {
            let changed = self.shared.changed.notified();
            {
                let s = self.shared.lock();
                if let Some(e) = &s.error {
                    return Err(e.clone());
                }
                let (messages, in_bytes) = s.watermark.outstanding();
                if messages == 0
                    || (messages + count <= self.window.messages
                        && in_bytes + bytes <= self.window.bytes)
                {
                    break;
                }
            }
            changed.await;
        }
        let batch = self.shared.lock().watermark.submit(count, bytes);
        for m in messages {
            let lane = self.lane(&m.topic, m.queue)?;
            let item = Item {
                batch,
                bytes: m.bytes,
                wire_bytes: m.wire_bytes,
                kind: m.kind.min(HEARTBEAT_KIND),
                message: m.message,
            };
            if lane.send(item).is_err() {
                // The lane ended: it failed, and its error is recorded.
                return self.check();
            }
        }
        Ok(())
    }

    fn lane(
        &mut self,
        topic: &Arc<str>,
        queue: usize,
    ) -> Result<&mpsc::UnboundedSender<Item>, SinkError> {
        let key = (topic.clone(), queue);
        if !self.lanes.contains_key(&key) {
            let mq = self.sink.message_queue(topic, queue)?;
            let (tx, rx) = mpsc::unbounded_channel();
            self.tasks.push(tokio::spawn(run_lane(
                self.sink.clone(),
                self.shared.clone(),
                topic.clone(),
                mq,
                rx,
            )));
            self.lanes.insert(key.clone(), tx);
        }
        self.lanes
            .get(&key)
            .ok_or_else(|| SinkError::Client("lane vanished".into()))
    }

    /// Records that `position` is reached once everything submitted so far is acknowledged.
    pub fn mark(&mut self, position: Position) {
        self.shared.lock().watermark.mark(position);
    }

    /// Returns the newest marked position whose batches are all acknowledged (once), with the
    /// commit time of the oldest transaction released with it, or the first send error.
    pub fn take_safe_position(&mut self) -> Result<Option<Released>, SinkError> {
        let mut s = self.shared.lock();
        if let Some(e) = &s.error {
            return Err(e.clone());
        }
        Ok(s.watermark.release())
    }

    /// Resolves when an acknowledgement or an error arrived since the last call.
    pub async fn progressed(&self) {
        self.shared.changed.notified().await;
    }

    /// Waits until everything submitted is acknowledged, or returns the first send error.
    pub async fn drain(&mut self) -> Result<(), SinkError> {
        loop {
            let changed = self.shared.changed.notified();
            {
                let s = self.shared.lock();
                if let Some(e) = &s.error {
                    return Err(e.clone());
                }
                if s.watermark.all_acknowledged() {
                    return Ok(());
                }
            }
            changed.await;
        }
    }

    /// Messages and bytes not yet below the acknowledgement watermark: what a resume from the
    /// last released position would send again.
    pub fn in_flight(&self) -> (usize, usize) {
        self.shared.lock().watermark.outstanding()
    }

    /// Messages and bytes acknowledged since the pipeline started.
    pub fn acked(&self) -> Acked {
        self.shared.lock().acked
    }

    fn check(&self) -> Result<(), SinkError> {
        match &self.shared.lock().error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// Sends one queue's messages in order, one batch in flight.
async fn run_lane(
    sink: Arc<RocketMqSink>,
    shared: Arc<Shared>,
    topic: Arc<str>,
    mq: MessageQueue,
    mut rx: mpsc::UnboundedReceiver<Item>,
) {
    let mut carry: VecDeque<Item> = VecDeque::new();
    loop {
        if carry.is_empty() {
            match rx.recv().await {
                Some(item) => carry.push_back(item),
                None => return,
            }
        }
        while let Ok(item) = rx.try_recv() {
            carry.push_back(item);
        }
        let mut messages = Vec::new();
        let mut acks: Vec<(u64, usize)> = Vec::new();
        let mut by_kind = Acked::default();
        let mut wire_bytes = 0;
        while let Some(item) = carry.front() {
            if !messages.is_empty()
                && (messages.len() >= MAX_BATCH_MESSAGES
                    || wire_bytes + item.wire_bytes > sink.max_batch_bytes())
            {
                break;
            }
            let Some(item) = carry.pop_front() else { break };
            wire_bytes += item.wire_bytes;
            if item.kind < HEARTBEAT_KIND {
                by_kind.messages[item.kind] += 1;
                by_kind.bytes[item.kind] += item.bytes as u64;
            }
            match acks.last_mut() {
                Some((b, n)) if *b == item.batch => *n += 1,
                _ => acks.push((item.batch, 1)),
            }
            messages.push(item.message);
        }
        let result = sink.send_batch(&topic, &mq, messages, wire_bytes).await;
        let mut s = shared.lock();
        match result {
            Ok(()) => {
                for (batch, n) in acks {
                    s.watermark.acknowledge(batch, n);
                }
                for k in 0..3 {
                    s.acked.messages[k] += by_kind.messages[k];
                    s.acked.bytes[k] += by_kind.bytes[k];
                }
                drop(s);
                shared.changed.notify_waiters();
            }
            Err(e) => {
                if s.error.is_none() {
                    s.error = Some(e);
                }
                drop(s);
                shared.changed.notify_waiters();
                return;
            }
        }
    }
}
