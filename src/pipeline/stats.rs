//! [`PipelineStats`]: what a running pipeline has done, readable from any thread while it runs.
//!
//! Counters are atomics bumped once per batch (never per event, never under a lock). Queue
//! depths are read from the queues themselves when asked.
//!
//! Also kept here, for the metrics reporter and the node API: per-batch latencies
//! ([`Timer`]s: filtering, measured between [`PipelineStats::add_in`] and
//! [`PipelineStats::add_filtered`] on the worker's thread; output and end-to-end, measured when
//! the outputs acknowledge a batch), the per-filter counters of an instrumented filter graph
//! ([`PipelineStats::observe_plan`]), the plugins' names, and [`Reloads`] (filter releases
//! switched to or refused, and the release running).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::event::{AckStatus, Acknowledge, Batch};
use crate::inputs::PartitionLag;
use crate::metrics::timer::Timer;
use crate::outputs::OutputBatch;
use crate::plan::filter_graph::FilterStats;
use crate::plan::{FilterGraph, Plan};

thread_local! {
    /// When the batch this worker thread is filtering was taken (set by `add_in`).
    static BATCH_TAKEN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Counters and queue depths of one pipeline.
#[derive(Debug)]
pub struct PipelineStats {
    events_in: AtomicU64,
    events_filtered: AtomicU64,
    events_out: AtomicU64,
    events_failed: AtomicU64,
    worker_panics: AtomicU64,
    outputs: Box<[OutputStats]>,
    /// Held only to read lengths. A receiver held here would keep senders waiting if every real
    /// consumer stopped, but none stops early: the pipeline closes the input queue itself, and
    /// workers and output tasks survive panics.
    input_queue: async_channel::Receiver<Batch>,
    output_queues: Box<[async_channel::Receiver<OutputBatch>]>,
    lag_sources: Box<[LagSource]>,
    latency: Latencies,
    filters: Mutex<Option<Arc<FilterStats>>>,
    plugins: Mutex<PluginNames>,
    /// Events each input sent, by input id (counted once per batch by its context).
    input_events: Mutex<std::collections::BTreeMap<String, Arc<AtomicU64>>>,
    reloads: Reloads,
    started: Instant,
}

/// Per-batch durations.
#[derive(Debug, Default)]
pub struct Latencies {
    /// Filtering (and routing) one batch, on a worker thread (`latency.filter`).
    pub filter: Timer,
    /// From a filtered batch's hand-off to the outputs until every output has finished with it,
    /// waiting in the output queues included (`latency.output`).
    pub output: Timer,
    /// From the moment an input made the batch until the outputs acknowledged it; merged
    /// batches count from their earliest part (`latency.end_to_end`).
    pub end_to_end: Timer,
}

/// Plugin ids and Logstash names (`(id, name)`), as the plan had them.
#[derive(Clone, Debug, Default)]
pub struct PluginNames {
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

impl PluginNames {
    /// The ids and names of `plan`'s inputs and outputs.
    pub fn of(plan: &Plan) -> PluginNames {
        let names = |id: &String, name: &String| (id.clone(), name.clone());
        PluginNames {
            inputs: plan.inputs.iter().map(|i| names(&i.id, &i.name)).collect(),
            outputs: plan.outputs.iter().map(|o| names(&o.id, &o.name)).collect(),
        }
    }
}

/// Filter releases switched to or refused (`reload.success` / `reload.failure`), the last
/// refusal's reasons, and the release running (shown by `GET /`; `"local"` until a release is
/// switched to).
#[derive(Debug)]
pub struct Reloads {
    successes: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    release: Mutex<Arc<str>>,
}

impl Default for Reloads {
    fn default() -> Self {
        Reloads {
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            release: Mutex::new(Arc::from("local")),
        }
    }
}

impl Reloads {
    /// Counts a reload that switched the running filters over to `release`.
    pub fn succeeded(&self, release: &str) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        self.set_release(release);
    }

    /// Counts a refused reload; `error` (its reasons) is shown by the API until the next one.
    /// It must not hold credentials.
    pub fn failed(&self, error: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }

    /// Names the filter release running (without counting a reload: e.g. the one at start).
    pub fn set_release(&self, release: &str) {
        *self.release.lock().unwrap_or_else(PoisonError::into_inner) = Arc::from(release);
    }

    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The filter release running.
    pub fn release(&self) -> Arc<str> {
        self.release
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// An input that reports [`PartitionLag`], by its plugin id.
pub(crate) struct LagSource {
    pub input: String,
    pub lag: Arc<dyn PartitionLag>,
}

impl std::fmt::Debug for LagSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LagSource")
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

/// How far behind one input is on one partition it owns (Kafka consumer lag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLagReading {
    /// The input's plugin id.
    pub input: String,
    pub topic: Arc<str>,
    pub partition: i32,
    /// Messages not yet delivered by the outputs; -1 until the source reported it.
    pub lag: i64,
}

/// What one output has done.
#[derive(Debug)]
pub struct OutputStats {
    id: String,
    events: AtomicU64,
    batches: AtomicU64,
    errors: AtomicU64,
    failed_events: AtomicU64,
    /// Batches failed since the last one written.
    consecutive_errors: AtomicU64,
}

impl OutputStats {
    /// The output's plugin id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Events the output was handed and wrote (or tried to: see [`OutputStats::errors`]).
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Batches whose write failed (their events are acknowledged as failed).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Events of the batches whose write failed.
    pub fn failed_events(&self) -> u64 {
        self.failed_events.load(Ordering::Relaxed)
    }

    /// Batches whose write failed since the last one written (the node API's health).
    pub fn consecutive_errors(&self) -> u64 {
        self.consecutive_errors.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, events: usize, ok: bool) -> u64 {
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if ok {
            if self.consecutive_errors.load(Ordering::Relaxed) != 0 {
                self.consecutive_errors.store(0, Ordering::Relaxed);
            }
            0
        } else {
            self.failed_events
                .fetch_add(events as u64, Ordering::Relaxed);
            self.consecutive_errors.fetch_add(1, Ordering::Relaxed);
            self.errors.fetch_add(1, Ordering::Relaxed) + 1
        }
    }
}

impl PipelineStats {
    /// Stats for a pipeline whose queues are these (the stats keep receivers only to read
    /// their length).
    pub(crate) fn new(
        output_ids: impl IntoIterator<Item = String>,
        input_queue: async_channel::Receiver<Batch>,
        output_queues: Box<[async_channel::Receiver<OutputBatch>]>,
        lag_sources: Box<[LagSource]>,
    ) -> PipelineStats {
        let outputs = output_ids
            .into_iter()
            .map(|id| OutputStats {
                id,
                events: AtomicU64::new(0),
                batches: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                failed_events: AtomicU64::new(0),
                consecutive_errors: AtomicU64::new(0),
            })
            .collect();
        PipelineStats {
            events_in: AtomicU64::new(0),
            events_filtered: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            events_failed: AtomicU64::new(0),
            worker_panics: AtomicU64::new(0),
            outputs,
            input_queue,
            output_queues,
            lag_sources,
            latency: Latencies::default(),
            filters: Mutex::new(None),
            plugins: Mutex::new(PluginNames::default()),
            input_events: Mutex::default(),
            reloads: Reloads::default(),
            started: Instant::now(),
        }
    }

    /// Instruments `plan`'s filters ([`FilterGraph::instrument`]) and records its plugins'
    /// names, for the per-plugin figures. Called once, before the pipeline runs.
    pub fn observe_plan(&self, plan: &mut Plan) {
        self.describe_plugins(plan);
        self.observe_filters(&mut plan.filters);
    }

    /// Shows `filters` (from [`FilterGraph::instrument`]) as the running filters' counters:
    /// for a caller that instruments a plan before the pipeline (and these stats) exist.
    pub fn attach_filters(&self, filters: Arc<FilterStats>) {
        *self.filters.lock().unwrap_or_else(PoisonError::into_inner) = Some(filters);
    }

    /// The counter of events input `id` sent, for its [`crate::inputs::InputContext`].
    pub fn input_counter(&self, id: &str) -> Arc<AtomicU64> {
        let mut counters = self
            .input_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counters.entry(id.to_string()).or_default().clone()
    }

    /// Events input `id` sent into the pipeline.
    pub fn input_events(&self, id: &str) -> u64 {
        let counters = self
            .input_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counters.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Records the ids and names of `plan`'s inputs and outputs.
    pub fn describe_plugins(&self, plan: &Plan) {
        *self.plugins.lock().unwrap_or_else(PoisonError::into_inner) = PluginNames::of(plan);
    }

    /// Instruments `filters`, which replace the running ones (on reload) or are the first;
    /// counts of plugins the previous filters had carry on.
    pub fn observe_filters(&self, filters: &mut FilterGraph) {
        let mut slot = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        let next = filters.instrument(slot.as_deref());
        *slot = Some(next);
    }

    /// The running filters' per-plugin counters (`None` until [`PipelineStats::observe_plan`]).
    pub fn filter_stats(&self) -> Option<Arc<FilterStats>> {
        self.filters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The plugins' ids and names (empty until [`PipelineStats::observe_plan`]).
    pub fn plugin_names(&self) -> PluginNames {
        self.plugins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn latency(&self) -> &Latencies {
        &self.latency
    }

    /// Filter releases switched to or refused, and the release running.
    pub fn reloads(&self) -> &Reloads {
        &self.reloads
    }

    /// How long ago the stats (the pipeline) were made.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Consumer lag of every partition the pipeline's partitioned inputs own now.
    pub fn partition_lag(&self) -> Vec<PartitionLagReading> {
        let mut readings = Vec::new();
        for source in self.lag_sources.iter() {
            for ((topic, partition), lag) in source.lag.partitions() {
                readings.push(PartitionLagReading {
                    input: source.input.clone(),
                    topic,
                    partition,
                    lag,
                });
            }
        }
        readings
    }

    /// Events the workers took from the input queue.
    pub fn events_in(&self) -> u64 {
        self.events_in.load(Ordering::Relaxed)
    }

    /// Events that came out of the filters (not dropped).
    pub fn events_filtered(&self) -> u64 {
        self.events_filtered.load(Ordering::Relaxed)
    }

    /// Filtered events every output has finished with, successfully.
    pub fn events_out(&self) -> u64 {
        self.events_out.load(Ordering::Relaxed)
    }

    /// Filtered events some output failed to write (or whose filtering panicked).
    pub fn events_failed(&self) -> u64 {
        self.events_failed.load(Ordering::Relaxed)
    }

    /// Filtered events that outputs hold and have not finished with: waiting in an output
    /// queue, being written, or being retried (an Elasticsearch that refuses them keeps them
    /// counted here for as long as it takes). Part of the pipeline's queue depth.
    pub fn events_in_outputs(&self) -> u64 {
        // Read `done` first: it only grows, and reading it before `filtered` keeps the
        // difference from going negative when both move between the two loads.
        let done = self.events_out() + self.events_failed();
        self.events_filtered().saturating_sub(done)
    }

    /// Batches dropped because a filter (or a condition) panicked on them.
    pub fn worker_panics(&self) -> u64 {
        self.worker_panics.load(Ordering::Relaxed)
    }

    pub fn outputs(&self) -> &[OutputStats] {
        &self.outputs
    }

    /// Input batches waiting for a worker.
    pub fn input_queue_len(&self) -> usize {
        self.input_queue.len()
    }

    /// How many input batches the input queue holds when full.
    pub fn input_queue_capacity(&self) -> usize {
        self.input_queue.capacity().unwrap_or(usize::MAX)
    }

    /// Batches waiting for output `index` (0 if there is no such output).
    pub fn output_queue_len(&self, index: usize) -> usize {
        self.output_queues.get(index).map_or(0, |q| q.len())
    }

    /// How many batches output `index`'s queue holds when full (0 if there is no such output).
    pub fn output_queue_capacity(&self, index: usize) -> usize {
        self.output_queues
            .get(index)
            .map_or(0, |q| q.capacity().unwrap_or(usize::MAX))
    }

    /// A worker took a batch of `events` and starts filtering it (on this thread).
    pub(crate) fn add_in(&self, events: usize) {
        self.events_in.fetch_add(events as u64, Ordering::Relaxed);
        BATCH_TAKEN.set(Some(Instant::now()));
    }

    /// The batch this worker thread took is filtered; `events` are left.
    pub(crate) fn add_filtered(&self, events: usize) {
        self.events_filtered
            .fetch_add(events as u64, Ordering::Relaxed);
        if let Some(taken) = BATCH_TAKEN.take() {
            self.latency.filter.record(taken.elapsed());
        }
    }

    pub(crate) fn add_worker_panic(&self, events: usize) {
        BATCH_TAKEN.set(None);
        self.worker_panics.fetch_add(1, Ordering::Relaxed);
        self.events_failed
            .fetch_add(events as u64, Ordering::Relaxed);
    }
}

/// The workers attach a token per filtered batch whose id is its event count; it reports when
/// the last output lets go of the batch, which is when those events are "out".
impl Acknowledge for PipelineStats {
    fn acknowledge(&self, events: u64, status: AckStatus) {
        let counter = match status {
            AckStatus::Delivered => &self.events_out,
            AckStatus::Failed => &self.events_failed,
        };
        counter.fetch_add(events, Ordering::Relaxed);
    }

    fn acknowledge_timed(
        &self,
        events: u64,
        status: AckStatus,
        token_made: Instant,
        batch_arrived: Option<Instant>,
    ) {
        self.acknowledge(events, status);
        let now = Instant::now();
        self.latency
            .output
            .record(now.saturating_duration_since(token_made));
        if let Some(arrived) = batch_arrived {
            self.latency
                .end_to_end
                .record(now.saturating_duration_since(arrived));
        }
    }
}
