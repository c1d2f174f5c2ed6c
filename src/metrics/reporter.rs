//! [`Reporter`]: a thread that sends the pipeline's figures to statsd every `flush_interval`
//! through the `metrics` facade and `metrics-exporter-statsd`.
//!
//! The exporter (0.9) buffers metrics in cadence's `BufferedUdpMetricSink` and sends a buffer
//! only when it is full or dropped: with nothing else, a quiet worker's last figures would sit
//! in memory. The reporter therefore builds the exporter with a 1-byte buffer, which makes
//! cadence write every metric to the socket as soon as the recorder's queue thread takes it,
//! and emits everything once per `flush_interval`: the interval *is* the flush. (A sink of our
//! own would need `cadence` as a direct dependency, which the crate does not have.) The last
//! figures are sent when the reporter is dropped.
//!
//! Counters are sent as the difference from the previous flush (`name:n|c`); gauges as they are
//! (never negative: statsd reads `-n|g` as a decrement); timers as `|ms` samples, the
//! per-batch durations recorded since the previous flush (the latest 64 at most; the exporter
//! truncates them to whole milliseconds).

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_statsd::{StatsdBuilder, StatsdRecorder};

use crate::pipeline::PipelineStats;
use crate::settings::StatsdGroup;

use super::names::{self, Kind, Series, TIMERS};
use super::snapshot::{Snapshot, PIPELINE_ID};

/// Metrics the exporter's queue holds before it drops some (a flush sends ~40 plus timer
/// samples).
const QUEUE_SIZE: usize = 8192;

/// Where and how to report, from `metrics.statsd.*`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsdConfig {
    pub host: String,
    pub port: u16,
    pub prefix: String,
    pub flush_interval: Duration,
    /// DogStatsD tags; false folds tag values into names.
    pub tags: bool,
    /// Tags on every metric: `host` and, under Mesos, `mesos_task_id`.
    pub default_tags: Vec<(String, String)>,
}

impl StatsdConfig {
    /// The configuration `settings` ask for; `None` when no statsd host is set.
    pub fn from_settings(settings: &StatsdGroup) -> Option<StatsdConfig> {
        let host = settings.host.clone()?;
        Some(StatsdConfig {
            host,
            port: settings.port.unwrap_or(8125),
            prefix: settings
                .prefix
                .clone()
                .unwrap_or_else(|| "sluice".to_string()),
            flush_interval: settings
                .flush_interval
                .as_ref()
                .map_or(Duration::from_secs(1), |d| d.0)
                .max(Duration::from_millis(10)),
            tags: settings.tags.unwrap_or(true),
            default_tags: default_tags(std::env::var("MESOS_TASK_ID").ok()),
        })
    }

    /// The prefix with the default tags' values folded in, when tags are off
    /// (`sluice.web-3.events.in.main`).
    fn name_prefix(&self) -> String {
        if self.tags {
            return self.prefix.clone();
        }
        let mut prefix = self.prefix.clone();
        for (_, value) in &self.default_tags {
            prefix.push('.');
            prefix.push_str(&names::segment(value));
        }
        prefix
    }
}

/// `host` (the machine's name) and `mesos_task_id` when the worker runs as a Mesos task.
pub fn default_tags(mesos_task_id: Option<String>) -> Vec<(String, String)> {
    let mut tags = vec![("host".to_string(), crate::inputs::hostname().to_string())];
    if let Some(task) = mesos_task_id.filter(|t| !t.is_empty()) {
        tags.push(("mesos_task_id".to_string(), task));
    }
    tags
}

/// Why reporting could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    #[error("statsd exporter: {0}")]
    Exporter(#[from] metrics_exporter_statsd::StatsdError),
    #[error("could not start the metrics thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// The running reporter; stops (after a last flush) when dropped.
pub struct Reporter {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting `stats` as `config` says.
    pub fn start(
        config: StatsdConfig,
        stats: Arc<PipelineStats>,
    ) -> Result<Reporter, ReporterError> {
        let mut builder = StatsdBuilder::from(config.host.clone(), config.port)
            .with_buffer_size(1)
            .with_queue_size(QUEUE_SIZE)
            .histogram_is_timer();
        if config.tags {
            for (key, value) in &config.default_tags {
                builder = builder.with_default_tag(key.clone(), names::tag_value(value));
            }
        }
        let recorder = builder.build(Some(&config.name_prefix()))?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sluice-metrics".into())
            .spawn(move || {
                let mut emitter = Emitter::new(recorder, config.tags, &stats);
                loop {
                    let last = matches!(
                        stopped.recv_timeout(config.flush_interval),
                        Ok(()) | Err(RecvTimeoutError::Disconnected)
                    );
                    emitter.flush(&stats);
                    if last {
                        return;
                    }
                }
            })?;
        Ok(Reporter {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// Sends snapshots, remembering what it sent before.
struct Emitter {
    recorder: StatsdRecorder,
    tags: bool,
    /// Each counter's key and value at the previous flush, by folded name.
    counters: HashMap<String, (Key, u64)>,
    gauges: HashMap<String, Key>,
    /// Each timer's key and count at the previous flush.
    timers: Vec<(Key, u64)>,
    last: Option<(Instant, u64, u64)>,
}

impl Emitter {
    /// An emitter whose first flush sends what changed since now: process-wide counters may
    /// have counted before this pipeline (an earlier one in the same process).
    fn new(recorder: StatsdRecorder, tags: bool, stats: &PipelineStats) -> Emitter {
        let start = Snapshot::take(stats);
        let latency = stats.latency();
        let timers = TIMERS
            .iter()
            .zip([&latency.filter, &latency.output, &latency.end_to_end])
            .map(|(name, timer)| {
                let pipeline = [("pipeline", PIPELINE_ID.to_string())];
                (key(tags, name, &pipeline), timer.count())
            })
            .collect();
        let counters = names::series(&start)
            .into_iter()
            .filter(|s| s.kind == Kind::Counter)
            .map(|s| {
                let id = names::fold(s.name, &s.tags);
                (id, (key(tags, s.name, &s.tags), s.value as u64))
            })
            .collect();
        Emitter {
            recorder,
            tags,
            counters,
            gauges: HashMap::new(),
            timers,
            last: Some((Instant::now(), start.events_in, start.events_out)),
        }
    }

    fn flush(&mut self, stats: &PipelineStats) {
        let snapshot = Snapshot::take(stats);
        for series in names::series(&snapshot) {
            self.emit(&series);
        }
        let now = Instant::now();
        if let Some((then, was_in, was_out)) = self.last {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            let rate = |now: u64, was: u64| now.saturating_sub(was) as f64 / secs;
            let [r_in, r_out] = names::rates(
                rate(snapshot.events_in, was_in),
                rate(snapshot.events_out, was_out),
            );
            self.emit(&r_in);
            self.emit(&r_out);
        }
        self.last = Some((now, snapshot.events_in, snapshot.events_out));
        let latency = stats.latency();
        for ((key, seen), timer) in
            self.timers
                .iter_mut()
                .zip([&latency.filter, &latency.output, &latency.end_to_end])
        {
            let (samples, now) = timer.samples_since(*seen);
            *seen = now;
            let histogram = self.recorder.register_histogram(key, &METADATA);
            for ms in samples {
                histogram.record(ms / 1000.0);
            }
        }
    }

    fn emit(&mut self, series: &Series) {
        let id = names::fold(series.name, &series.tags);
        match series.kind {
            Kind::Counter => {
                let value = series.value as u64;
                let (key, previous) = self
                    .counters
                    .entry(id)
                    .or_insert_with(|| (key(self.tags, series.name, &series.tags), 0));
                let delta = value.saturating_sub(*previous);
                *previous = value;
                self.recorder
                    .register_counter(key, &METADATA)
                    .increment(delta);
            }
            Kind::Gauge => {
                let key = self
                    .gauges
                    .entry(id)
                    .or_insert_with(|| key(self.tags, series.name, &series.tags));
                self.recorder
                    .register_gauge(key, &METADATA)
                    .set(series.value.max(0.0));
            }
        }
    }
}

/// The exporter's key for a series: tags as labels, or folded into the name.
fn key(tags: bool, name: &'static str, series_tags: &[(&'static str, String)]) -> Key {
    if tags {
        let labels: Vec<Label> = series_tags
            .iter()
            .map(|(k, v)| Label::new(*k, names::tag_value(v)))
            .collect();
        Key::from_parts(name, labels)
    } else {
        Key::from_name(names::fold(name, series_tags))
    }
}
