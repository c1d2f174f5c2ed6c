//! [`PipelineStats`]: what a running pipeline has done, readable from any thread while it runs.
//!
//! Counters are atomics bumped once per batch (never per event, never under a lock). Queue
//! depths are read from the queues themselves when asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::event::{AckStatus, Acknowledge, Batch};
use crate::inputs::PartitionLag;
use crate::outputs::OutputBatch;

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

    pub(crate) fn record(&self, events: usize, ok: bool) -> u64 {
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if ok {
            0
        } else {
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
        }
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

    pub(crate) fn add_in(&self, events: usize) {
        self.events_in.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_filtered(&self, events: usize) {
        self.events_filtered
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_worker_panic(&self, events: usize) {
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
}
