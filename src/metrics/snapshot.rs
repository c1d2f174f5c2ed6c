//! [`Snapshot`]: every figure of a running pipeline read at one instant, in plain numbers. The
//! statsd reporter sends snapshots (counters as the difference from the previous one) and the
//! node API renders them as JSON and Prometheus text, so both show the same figures.

use std::sync::atomic::AtomicU64;

use crate::pipeline::{PartitionLagReading, PipelineStats};

use super::process::{self, counters};

/// The pipeline id in metrics and the API: a worker runs one pipeline, `main` as Logstash's.
pub const PIPELINE_ID: &str = "main";

/// Every figure at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub events_in: u64,
    pub events_filtered: u64,
    pub events_out: u64,
    pub events_failed: u64,
    /// Filtered events outputs hold and have not finished with.
    pub events_in_outputs: u64,
    /// Time workers spent filtering batches (the sum of `latency.filter`), in milliseconds.
    pub duration_millis: u64,
    pub inputs: Vec<InputFigures>,
    pub filters: Vec<PluginFigures>,
    pub outputs: Vec<OutputFigures>,
    /// Batches waiting for a worker, and how many the input queue holds.
    pub input_queue: QueueFigures,
    pub latency_filter: TimerFigures,
    pub latency_output: TimerFigures,
    pub latency_end_to_end: TimerFigures,
    pub process: ProcessFigures,
    pub kafka_lag: Vec<PartitionLagReading>,
    pub reloads: ReloadFigures,
    pub release: String,
    pub uptime_millis: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputFigures {
    pub id: String,
    pub name: String,
    /// Events the input sent into the pipeline.
    pub events_out: u64,
}

/// One filter plugin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginFigures {
    pub id: String,
    pub name: String,
    pub events_in: u64,
    pub events_out: u64,
    pub duration_millis: u64,
}

/// One output plugin: `events_in` handed to it, `events_out` written (not failed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputFigures {
    pub id: String,
    pub name: String,
    pub events_in: u64,
    pub events_out: u64,
    pub batches: u64,
    pub errors: u64,
    pub consecutive_errors: u64,
    pub queue: QueueFigures,
}

/// A queue's depth and capacity, in batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueFigures {
    pub depth: u64,
    pub capacity: u64,
}

/// How many durations a timer recorded and their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerFigures {
    pub count: u64,
    pub sum_millis: u64,
}

/// The process-wide counters of [`process::ProcessCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessFigures {
    pub grok_matches: u64,
    pub grok_failures: u64,
    pub es_bulk_requests: u64,
    pub es_bulk_retries: u64,
    pub es_bulk_failures: u64,
    pub es_docs_indexed: u64,
    pub dlq_events: u64,
    pub input_dropped: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadFigures {
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

impl Snapshot {
    /// Reads every figure of `stats` and of the process now.
    pub fn take(stats: &PipelineStats) -> Snapshot {
        let names = stats.plugin_names();
        let latency = stats.latency();
        let timer = |t: &super::timer::Timer| TimerFigures {
            count: t.count(),
            sum_millis: t.sum_millis(),
        };
        Snapshot {
            events_in: stats.events_in(),
            events_filtered: stats.events_filtered(),
            events_out: stats.events_out(),
            events_failed: stats.events_failed(),
            events_in_outputs: stats.events_in_outputs(),
            duration_millis: latency.filter.sum_millis(),
            inputs: names
                .inputs
                .into_iter()
                .map(|(id, name)| InputFigures {
                    events_out: stats.input_events(&id),
                    id,
                    name,
                })
                .collect(),
            filters: filter_figures(stats),
            outputs: output_figures(stats, &names.outputs),
            input_queue: QueueFigures {
                depth: stats.input_queue_len() as u64,
                capacity: stats.input_queue_capacity() as u64,
            },
            latency_filter: timer(&latency.filter),
            latency_output: timer(&latency.output),
            latency_end_to_end: timer(&latency.end_to_end),
            process: ProcessFigures::read(),
            kafka_lag: stats.partition_lag(),
            reloads: ReloadFigures {
                successes: stats.reloads().successes(),
                failures: stats.reloads().failures(),
                last_error: stats.reloads().last_error(),
            },
            release: stats.reloads().release().to_string(),
            uptime_millis: u64::try_from(stats.uptime().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn filter_figures(stats: &PipelineStats) -> Vec<PluginFigures> {
    let Some(filters) = stats.filter_stats() else {
        return Vec::new();
    };
    filters
        .stages
        .iter()
        .map(|s| PluginFigures {
            id: s.id.clone(),
            name: s.name.clone(),
            events_in: s.events_in(),
            events_out: s.events_out(),
            duration_millis: s.duration_millis(),
        })
        .collect()
}

fn output_figures(stats: &PipelineStats, names: &[(String, String)]) -> Vec<OutputFigures> {
    stats
        .outputs()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let name = names
                .iter()
                .find(|(id, _)| id == o.id())
                .map_or_else(String::new, |(_, name)| name.clone());
            OutputFigures {
                id: o.id().to_string(),
                name,
                events_in: o.events(),
                events_out: o.events().saturating_sub(o.failed_events()),
                batches: o.batches(),
                errors: o.errors(),
                consecutive_errors: o.consecutive_errors(),
                queue: QueueFigures {
                    depth: stats.output_queue_len(i) as u64,
                    capacity: stats.output_queue_capacity(i) as u64,
                },
            }
        })
        .collect()
}

impl ProcessFigures {
    /// The process's counters now.
    pub fn read() -> ProcessFigures {
        let c = counters();
        let get = |counter: &AtomicU64| process::get(counter);
        ProcessFigures {
            grok_matches: get(&c.grok_matches),
            grok_failures: get(&c.grok_failures),
            es_bulk_requests: get(&c.es_bulk_requests),
            es_bulk_retries: get(&c.es_bulk_retries),
            es_bulk_failures: get(&c.es_bulk_failures),
            es_docs_indexed: get(&c.es_docs_indexed),
            dlq_events: get(&c.dlq_events),
            input_dropped: get(&c.input_dropped),
        }
    }
}
