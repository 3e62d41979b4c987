//! One sync project's lifecycle: its start (reusing the precheck's findings), then the loop that
//! drives source → route → format → sink → checkpoint, restarted from the checkpoint when an
//! error's policy says retry. The stages do the work; this file only sequences them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use obsync_sdk::{ChangeKind, FormatOptions};
use tokio::sync::watch;

use super::backoff::Backoff;
use super::error::ProjectError;
use crate::checkpoint::CheckpointStore;
use crate::checkpoint::Position;
use crate::config::{ProjectConfig, StartAt};
use crate::metrics::ProjectMetrics;
use crate::policy::ErrorPolicy;
use crate::route::{PendingBatch, Router, Sequencer};
use crate::sink::heartbeat;
use crate::sink::{Acked, MessageSettings, Pipeline, RocketMqSink, SinkError, Window, messages};
use crate::source::{BinlogReader, SourceEvent, SourceOptions, position_at, start_at};
use crate::status::{ProjectState, StatusBoard};
use crate::wasm::ModuleInstance;

/// Rows collected before a format call and send, also inside one transaction (bounds memory).
pub const MAX_BATCH_ROWS: usize = 2048;
/// At a commit, rows pending at least this many are formatted and sent at once; fewer wait up to
/// [`FLUSH_DELAY`] for more transactions, so small transactions share module calls and batches.
const FLUSH_ROWS: usize = 256;
/// How long rows of committed transactions may wait for company.
const FLUSH_DELAY: Duration = Duration::from_millis(5);
/// Commits pending in one batch at most (each is a checkpoint candidate).
const MAX_PENDING_COMMITS: usize = 1024;
/// How long a lost source waits for the messages in flight before reconnecting.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A stream that ran this long before it broke was healthy: the next wait starts short again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// What woke the streaming loop.
enum Wake<E> {
    Stop,
    Deadline,
    Beat,
    Acked,
    Event(E),
}

/// A prepared project, ready to run.
pub struct ProjectRunner {
    pub(super) file: PathBuf,
    pub(super) config: ProjectConfig,
    pub(super) message_settings: MessageSettings,
    pub(super) start: StartAt,
    pub(super) source: SourceOptions,
    pub(super) router: Router,
    pub(super) format: ModuleInstance,
    pub(super) filters: Vec<ModuleInstance>,
    pub(super) sink: Arc<RocketMqSink>,
    /// Acknowledgements of the current pipeline already counted in the status.
    pub(super) acked_seen: Acked,
    pub(super) metrics: Arc<ProjectMetrics>,
    pub(super) store: CheckpointStore,
    pub(super) options: FormatOptions,
    pub(super) status: StatusBoard,
    /// The most row bytes a batch collects before it is flushed, also inside a transaction.
    pub(super) max_batch_bytes: usize,
    /// Numbers the messages of the current stream (restarted from each checkpoint).
    pub(super) sequencer: Sequencer,
    /// The DataWorks heartbeat period, when heartbeats are on.
    pub(super) heartbeat: Option<Duration>,
}

impl ProjectRunner {
    /// Runs until `stop` turns true or a non-retryable error occurs.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), ProjectError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), MAX_BACKOFF, HEALTHY_AFTER);
        let result = loop {
            let began = tokio::time::Instant::now();
            match self.stream_once(&mut stop).await {
                Ok(()) => break Ok(()),
                Err(e) if e.policy() == ErrorPolicy::Retry => {
                    self.metrics.retries.fetch_add(1, Relaxed);
                    self.metrics.errors.fetch_add(1, Relaxed);
                    self.status.update(&self.config.name, |s| {
                        s.state = ProjectState::Retrying;
                        s.last_error = Some(e.to_string());
                    });
                    let wait = backoff.failed(began.elapsed());
                    tracing::warn!(project = %self.config.name, error = %e, retry_in = ?wait, "retrying from the checkpoint");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => break Ok(()),
                    }
                }
                Err(e) => {
                    self.metrics.errors.fetch_add(1, Relaxed);
                    break Err(e);
                }
            }
        };
        let final_state = if result.is_ok() {
            ProjectState::Stopped
        } else {
            ProjectState::Failed
        };
        self.status.update(&self.config.name, |s| {
            s.state = final_state;
            if let Err(e) = &result {
                s.last_error = Some(e.to_string());
            }
        });
        if let Err(e) = &result {
            tracing::error!(project = %self.config.name, file = %self.file.display(), error = %e, "project failed");
        }
        if let Ok(sink) = Arc::try_unwrap(self.sink) {
            sink.shutdown().await;
        }
        result
    }

    async fn stream_once(&mut self, stop: &mut watch::Receiver<bool>) -> Result<(), ProjectError> {
        let name = self.config.name.clone();
        let mut saved = self.store.load(&name)?;
        let resumed = saved.is_some();
        if saved.is_none() {
            saved = match &self.start {
                StartAt::Now => None,
                StartAt::Timestamp(ts) => {
                    let position = position_at(&self.source, *ts).await?;
                    tracing::info!(project = %name, start_timestamp = ts, %position, "start position found");
                    Some(position)
                }
                StartAt::FileOffset { file, offset } => Some(start_at::file_start(file, *offset)),
                StartAt::Gtid(set) => Some(start_at::gtid_start(set)),
            };
        }
        // Routes are read again at every (re)start: a changed queue count is used from this
        // position on (nothing is in flight now).
        self.refresh_routes().await?;
        let state = self.store.source_state(&name)?;
        let databases = self.router.databases();
        let sequence = saved.as_ref().map_or(0, |p| p.sequence);
        self.sequencer = Sequencer::resume(sequence);
        let (mut reader, mut start) =
            BinlogReader::start(self.source.clone(), saved, state, &databases).await?;
        start.sequence = sequence;
        // Closed on every way out, errors included: a stream left open stays registered on the
        // source and keeps the next start of this project from using its server id.
        let result = self.pump(&mut reader, start, resumed, stop).await;
        reader.close().await;
        result
    }

    /// Streams from an open reader until `stop` or an error.
    async fn pump(
        &mut self,
        reader: &mut BinlogReader,
        start: Position,
        resumed: bool,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), ProjectError> {
        let name = self.config.name.clone();
        if !resumed {
            // Remember "now" at once, so a restart before the first commit does not skip rows.
            self.store.store(&name, &start)?;
        }
        tracing::info!(project = %name, position = %start, resumed, "streaming");
        self.status.update(&name, |s| {
            s.state = ProjectState::Running;
            s.position = Some(start.clone());
            s.streams_started += 1;
        });
        let router = self.router.clone();
        let carried = move |db: &str, table: &str| router.route(db, table).is_some();
        let window = Window {
            messages: self.config.target.in_flight_messages,
            bytes: self.config.target.in_flight_mb << 20,
        };
        let mut pipeline = Pipeline::new(self.sink.clone(), window);
        self.acked_seen = Acked::default();
        let mut batch = PendingBatch::default();
        // Commits whose rows are in `batch` (marked once the batch is submitted), each with the
        // number of rows the batch held when it was read (its transaction ends there).
        let mut commits: Vec<(Position, usize)> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        // Rows of a transaction whose commit is not read yet are in `batch`: a timed flush then
        // waits for the commit, so what is sent always ends at a commit (nothing sent twice when
        // the stream restarts from the checkpoint).
        let mut open_txn = false;
        // Heartbeats wait for a transaction boundary; their event time is the commit time of the
        // last transaction read (the start position's, or the agent's clock when it has none).
        let mut beat_at = self.heartbeat.map(|d| tokio::time::Instant::now() + d);
        let mut beat_due = false;
        // Whole seconds, as commit times are: no later commit has an earlier second.
        let mut last_commit_ms = match start.timestamp {
            0 => now_ms() / 1000 * 1000,
            ts => u64::from(ts) * 1000,
        };
        loop {
            let woke = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => Wake::Stop,
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Wake::Deadline,
                _ = async { match beat_at { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Wake::Beat,
                _ = pipeline.progressed() => Wake::Acked,
                ev = reader.next(&carried) => Wake::Event(ev),
            };
            let event = match woke {
                Wake::Stop => break,
                Wake::Deadline => {
                    if !open_txn {
                        self.flush(&mut batch, &mut commits, &mut pipeline).await?;
                    }
                    deadline = None;
                    self.advance(&mut pipeline)?;
                    continue;
                }
                Wake::Acked => {
                    self.advance(&mut pipeline)?;
                    continue;
                }
                Wake::Beat => {
                    beat_at = None;
                    beat_due = true;
                    if !open_txn {
                        self.beat(&mut batch, &mut commits, &mut pipeline, last_commit_ms)
                            .await?;
                        beat_due = false;
                        beat_at = self.heartbeat.map(|d| tokio::time::Instant::now() + d);
                    }
                    self.advance(&mut pipeline)?;
                    continue;
                }
                Wake::Event(ev) => {
                    self.metrics
                        .binlog_bytes
                        .fetch_add(reader.take_bytes_read(), Relaxed);
                    match ev {
                        Ok(ev) => ev,
                        Err(e) => {
                            if e.policy() == ErrorPolicy::Retry {
                                self.settle(&mut pipeline).await;
                            }
                            return Err(e.into());
                        }
                    }
                }
            };
            match event {
                SourceEvent::Rows(chunk) => {
                    if !self.kind_enabled(chunk.kind) {
                        continue;
                    }
                    let Some(target) = self.router.route(&chunk.table.database, &chunk.table.table)
                    else {
                        continue;
                    };
                    self.metrics.read_rows(
                        chunk.kind,
                        chunk.rows.len(),
                        u64::from(chunk.event_bytes),
                    );
                    let unique_key = self
                        .router
                        .unique_key(&chunk.table.database, &chunk.table.table);
                    batch.push(chunk, target, unique_key, self.options.utc_offset_seconds)?;
                    open_txn = true;
                    if batch.len() >= MAX_BATCH_ROWS || batch.bytes() >= self.max_batch_bytes {
                        self.flush(&mut batch, &mut commits, &mut pipeline).await?;
                    }
                }
                SourceEvent::Commit(position) => {
                    open_txn = false;
                    if position.timestamp > 0 {
                        last_commit_ms = u64::from(position.timestamp) * 1000;
                    }
                    commits.push((position, batch.len()));
                    if beat_due {
                        self.beat(&mut batch, &mut commits, &mut pipeline, last_commit_ms)
                            .await?;
                        beat_due = false;
                        beat_at = self.heartbeat.map(|d| tokio::time::Instant::now() + d);
                        deadline = None;
                    } else if batch.len() >= FLUSH_ROWS || commits.len() >= MAX_PENDING_COMMITS {
                        self.flush(&mut batch, &mut commits, &mut pipeline).await?;
                        deadline = None;
                    } else if deadline.is_none() {
                        deadline = Some(tokio::time::Instant::now() + FLUSH_DELAY);
                    }
                }
                SourceEvent::Heartbeat => {
                    if !open_txn {
                        self.flush(&mut batch, &mut commits, &mut pipeline).await?;
                    }
                    deadline = None;
                    if !open_txn && pipeline.in_flight().0 == 0 {
                        // The source is idle and everything read was delivered.
                        self.metrics.caught_up();
                    }
                }
            }
            self.advance(&mut pipeline)?;
        }
        // Stopping: send what is pending up to the last commit and wait for it, so the checkpoint
        // is as fresh as can be; the rows of an open transaction are read again after the restart.
        if !open_txn {
            self.flush(&mut batch, &mut commits, &mut pipeline).await?;
        }
        pipeline.drain().await?;
        self.advance(&mut pipeline)?;
        Ok(())
    }

    /// The source failed but the broker did not: lets what is in flight land (for at most
    /// [`SETTLE_TIMEOUT`]) and checkpoints it, so the reconnect re-sends nothing already
    /// delivered. Rows not yet submitted are read again after the reconnect.
    async fn settle(&mut self, pipeline: &mut Pipeline) {
        match tokio::time::timeout(SETTLE_TIMEOUT, pipeline.drain()).await {
            Ok(Ok(())) => {
                if let Err(e) = self.advance(pipeline) {
                    tracing::warn!(project = %self.config.name, error = %e, "cannot checkpoint before reconnecting");
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(project = %self.config.name, error = %e, "in-flight messages failed while the source was lost; they are sent again")
            }
            Err(_) => {
                tracing::warn!(project = %self.config.name, "in-flight messages not acknowledged in time while the source was lost; they are sent again")
            }
        }
    }

    /// Reads every topic's route again. The previous pipeline's lanes were aborted when it was
    /// dropped; once they are gone the producer is ours alone.
    async fn refresh_routes(&mut self) -> Result<(), ProjectError> {
        for _ in 0..1000 {
            if let Some(sink) = Arc::get_mut(&mut self.sink) {
                for topic in self.router.topics() {
                    // The topic existed at start: a missing route now is a broker outage (its
                    // routes leave the name server with it) or a deleted topic. Either way the
                    // project retries, showing why, and resumes once the route is back.
                    sink.prepare_topic(&topic).await.map_err(|e| match e {
                        SinkError::MissingTopic { topic, name_server } => SinkError::Transient {
                            detail: format!(
                                "no route on the name server {name_server}: the broker is down or the topic was deleted"
                            ),
                            topic,
                        },
                        other => other,
                    })?;
                }
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        tracing::warn!(project = %self.config.name, "old send lanes still running; keeping the known routes");
        Ok(())
    }

    /// Sends what is pending, then a DataWorks heartbeat on every queue of every topic (at a
    /// transaction boundary: nothing read before it can arrive after it on its queue).
    async fn beat(
        &mut self,
        batch: &mut PendingBatch,
        commits: &mut Vec<(Position, usize)>,
        pipeline: &mut Pipeline,
        event_ms: u64,
    ) -> Result<(), ProjectError> {
        self.flush(batch, commits, pipeline).await?;
        let mut outgoing = Vec::new();
        for topic in self.router.topics() {
            outgoing.extend(heartbeat::messages(
                &self.sink,
                &topic,
                &self.message_settings.default_tag,
                event_ms,
            )?);
        }
        pipeline.submit(outgoing).await?;
        Ok(())
    }

    /// Stores the newest fully acknowledged commit position, if it moved.
    fn advance(&mut self, pipeline: &mut Pipeline) -> Result<(), ProjectError> {
        let (in_flight, _) = pipeline.in_flight();
        let acked = pipeline.acked();
        let new = acked.total().saturating_sub(self.acked_seen.total());
        if acked != self.acked_seen {
            for k in 0..3 {
                self.metrics.sent(
                    k,
                    acked.messages[k].saturating_sub(self.acked_seen.messages[k]),
                    acked.bytes[k].saturating_sub(self.acked_seen.bytes[k]),
                );
            }
            self.acked_seen = acked;
        }
        self.metrics.in_flight.store(in_flight as u64, Relaxed);
        let released = pipeline.take_safe_position()?;
        if let Some(r) = &released {
            self.store.store(&self.config.name, &r.position)?;
            self.metrics
                .checkpointed(r.position.timestamp, r.oldest_timestamp);
        }
        let position = released.map(|r| r.position);
        if position.is_some() || new > 0 {
            self.status.update(&self.config.name, |s| {
                if let Some(p) = position {
                    s.position = Some(p);
                }
                s.in_flight = in_flight as u64;
                s.messages_sent += new;
            });
        }
        Ok(())
    }

    fn kind_enabled(&self, kind: ChangeKind) -> bool {
        match kind {
            ChangeKind::Insert => self.config.sync.insert,
            ChangeKind::Update => self.config.sync.update,
            ChangeKind::Delete => self.config.sync.delete,
        }
    }

    /// Formats and sends the pending rows; returns once the broker acknowledged all of them.
    /// Formats the pending rows, submits them to the pipeline (waiting for window room) and marks
    /// the commits they complete.
    async fn flush(
        &mut self,
        batch: &mut PendingBatch,
        commits: &mut Vec<(Position, usize)>,
        pipeline: &mut Pipeline,
    ) -> Result<(), ProjectError> {
        if batch.is_empty() {
            for (mut position, _) in commits.drain(..) {
                position.sequence = self.sequencer.last();
                pipeline.mark(position);
            }
            return Ok(());
        }
        self.options.now_ms = now_ms();
        let mut taken = batch.take(&self.options);
        for filter in &mut self.filters {
            let started = std::time::Instant::now();
            let decisions = tokio::task::block_in_place(|| filter.filter(&taken.batch))?;
            self.metrics.module_call(true, started.elapsed());
            taken.apply(decisions.decisions);
            if taken.batch.rows.is_empty() {
                break;
            }
        }
        // What is left is what is sent: numbered now, so filtered rows leave no gaps.
        let sequence_at = self.sequencer.number_batch(
            &mut taken.batch.rows,
            &taken.origins,
            commits.iter().map(|(_, boundary)| *boundary),
        );
        let output = if taken.batch.rows.is_empty() {
            obsync_sdk::FormatOutput::default()
        } else {
            let started = std::time::Instant::now();
            let output = tokio::task::block_in_place(|| self.format.format(&taken.batch))?;
            self.metrics.module_call(false, started.elapsed());
            output
        };
        let sink = &self.sink;
        let outgoing = messages(
            output,
            &taken.batch.rows,
            &taken.routes,
            |topic| sink.queue_count(topic).unwrap_or(1),
            &self.message_settings,
        )?;
        pipeline.submit(outgoing).await?;
        for ((mut position, _), sequence) in commits.drain(..).zip(sequence_at) {
            position.sequence = sequence;
            pipeline.mark(position);
        }
        Ok(())
    }
}

/// The agent's clock, milliseconds since the epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
