//! The running pipeline:
//!
//! ```text
//! input tasks --Batch--> input queue --> N filter worker threads --OutputBatch--> queue per
//! (tokio)                (bounded)        (gather, filter, route)                  output
//!                                                                                  (bounded)
//!                                                                  --> output tasks (tokio)
//! ```
//!
//! Both queues are bounded, so a slow output fills its queue, which blocks the workers, which
//! fills the input queue, which blocks the inputs: nothing is dropped, memory stays bounded.
//! A worker hands every output one `Arc` of the same batch; the batch is acknowledged to its
//! inputs when the last output lets go of it.
//!
//! Stopping: when every input has ended, or when shutdown is requested (SIGINT/SIGTERM for
//! [`run`], any future for [`run_until`]), the inputs are told to stop ([`Shutdown`]); then
//! every event already accepted is filtered and written, the outputs are closed, and the run
//! returns. A second signal exits the process at once.
//!
//! Reloading: [`Pipeline::filter_switch`] gives a [`FilterSwitch`] that replaces the filters
//! of the running pipeline from any thread. Each worker takes the graph in place when it starts
//! a batch, so every batch is filtered by exactly one graph; inputs, queues and outputs are not
//! touched, so no event is lost or filtered twice.
//!
//! - `worker`: the filter worker threads;
//! - `output_task`: the task running each output;
//! - `stats`: [`PipelineStats`], counters and queue depths readable while it runs.

mod output_task;
mod stats;
mod worker;

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;

pub use stats::{Latencies, OutputStats, PartitionLagReading, PipelineStats, PluginNames, Reloads};

use worker::FilterSlot;

use crate::event::Batch;
use crate::inputs::{InputContext, InputError, Shutdown};
use crate::outputs::OutputBatch;
use crate::plan::{FilterGraph, Plan};

/// Threads of the async runtime that runs inputs and outputs (I/O-bound; the filters have
/// threads of their own).
const RUNTIME_THREADS: usize = 2;

/// Runtime settings (Logstash's `pipeline.*`).
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    pub workers: usize,
    pub batch_size: usize,
    pub batch_delay: std::time::Duration,
    pub ordered: Ordered,
    /// After a shutdown request, how long draining may take before the run fails with
    /// [`PipelineError::ShutdownTimeout`] (`None`: as long as it takes).
    pub shutdown_timeout: Option<std::time::Duration>,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 125,
            batch_delay: std::time::Duration::from_millis(50),
            ordered: Ordered::Auto,
            shutdown_timeout: None,
        }
    }
}

/// `pipeline.ordered`: whether batches reach the outputs in the order the workers took them
/// from the input queue. Logstash can keep order only with one worker; sluice keeps it with
/// any number (filtering stays parallel; only the hand-off to the outputs waits its turn).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ordered {
    /// Ordered when an input reads ordered partitions (Kafka), so each partition is indexed in
    /// order.
    #[default]
    Auto,
    Always,
    Never,
}

impl std::str::FromStr for Ordered {
    type Err = String;

    fn from_str(text: &str) -> Result<Ordered, String> {
        match text {
            "auto" => Ok(Ordered::Auto),
            "true" => Ok(Ordered::Always),
            "false" => Ok(Ordered::Never),
            _ => Err(format!("expected auto, true or false, got {text:?}")),
        }
    }
}

/// Settings files write it `"auto"`, `true` or `false` (Logstash's YAML takes all three bare).
impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Ordered, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Flag(bool),
            Word(String),
        }
        match Written::deserialize(de)? {
            Written::Flag(true) => Ok(Ordered::Always),
            Written::Flag(false) => Ok(Ordered::Never),
            Written::Word(word) => word.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl PipelineSettings {
    /// Input batches the input queue holds: two per worker, so a worker finishing a batch finds
    /// the next one waiting.
    pub fn input_queue_capacity(&self) -> usize {
        2 * self.workers.max(1)
    }

    /// Batches each output's queue holds: two per worker.
    pub fn output_queue_capacity(&self) -> usize {
        2 * self.workers.max(1)
    }
}

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("could not start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("output {id} could not start: {source}")]
    OutputStart {
        id: String,
        source: crate::outputs::OutputError,
    },
    #[error(
        "shutdown timed out after {limit:?} with about {undelivered} events not delivered \
         (inputs that can replay, such as Kafka, will read them again)"
    )]
    ShutdownTimeout {
        limit: std::time::Duration,
        undelivered: u64,
    },
    #[error("input {id} failed: {error}")]
    InputFailed { id: String, error: String },
}

/// Runs `plan` until its inputs end or a signal asks it to stop, draining every accepted event.
pub fn run(plan: Plan, settings: PipelineSettings) -> Result<(), PipelineError> {
    Pipeline::new(plan, settings).run()
}

/// Runs `plan` until its inputs end or `shutdown` resolves, draining every accepted event.
/// Must not be called from inside an async runtime. `shutdown` is first polled on the
/// pipeline's runtime, so it may use tokio (timers, signals) as long as it is lazy, e.g.
/// `async { tokio::time::sleep(d).await }`.
pub fn run_until<F>(
    plan: Plan,
    settings: PipelineSettings,
    shutdown: F,
) -> Result<(), PipelineError>
where
    F: Future<Output = ()> + Send,
{
    Pipeline::new(plan, settings).run_until(shutdown)
}

/// Replaces the filters of a running (or not yet started) pipeline, atomically between
/// batches. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct FilterSwitch {
    slot: Arc<FilterSlot>,
    stats: Arc<PipelineStats>,
}

impl FilterSwitch {
    /// Every batch a worker starts from now on goes through `graph`; batches already being
    /// filtered finish with the old graph. Returns how many replacements there have been.
    pub fn replace(&self, mut graph: FilterGraph) -> u64 {
        // Counted like the filters it replaces: a plugin's counts carry on by its id.
        self.stats.observe_filters(&mut graph);
        self.slot.replace(graph)
    }

    /// How many times the filters were replaced (0: still the plan's own).
    pub fn generation(&self) -> u64 {
        self.slot.generation()
    }

    /// Sets the tap every batch is shown to before the filters run, from the next batch on
    /// (`None` removes it).
    pub fn set_tap(&self, tap: Option<Arc<dyn BatchTap>>) {
        self.slot.set_tap(tap);
    }
}

/// Sees every batch's events as they come from the input queue, before the filters, on the
/// worker thread that filters them (canary releases compare candidate filters on a sample).
/// Called once per batch; it must not block for long, and may not change the events.
pub trait BatchTap: Send + Sync {
    fn inspect(&self, events: &[crate::event::Event]);
}

/// A pipeline ready to run, whose [`PipelineStats`] can be taken before it starts.
pub struct Pipeline {
    /// The plan without its filters, which are in `filters`.
    plan: Plan,
    filters: Arc<FilterSlot>,
    settings: PipelineSettings,
    stats: Arc<PipelineStats>,
    input_tx: async_channel::Sender<Batch>,
    input_rx: async_channel::Receiver<Batch>,
    output_queues: Vec<(
        async_channel::Sender<OutputBatch>,
        async_channel::Receiver<OutputBatch>,
    )>,
}

impl Pipeline {
    pub fn new(mut plan: Plan, mut settings: PipelineSettings) -> Pipeline {
        let mut graph = std::mem::take(&mut plan.filters);
        let filter_stats = graph.instrument(None);
        let filters = Arc::new(FilterSlot::new(graph));
        settings.workers = settings.workers.max(1);
        settings.batch_size = settings.batch_size.max(1);
        let (input_tx, input_rx) = async_channel::bounded(settings.input_queue_capacity());
        let output_queues: Vec<_> = plan
            .outputs
            .iter()
            .map(|_| async_channel::bounded(settings.output_queue_capacity()))
            .collect();
        let lag_sources = plan
            .inputs
            .iter()
            .filter_map(|i| {
                let lag = i.input.partition_lag()?;
                Some(stats::LagSource {
                    input: i.id.clone(),
                    lag,
                })
            })
            .collect();
        let stats = PipelineStats::new(
            plan.outputs.iter().map(|o| o.id.clone()),
            input_rx.clone(),
            output_queues.iter().map(|(_, rx)| rx.clone()).collect(),
            lag_sources,
        );
        stats.describe_plugins(&plan);
        stats.attach_filters(filter_stats);
        Pipeline {
            plan,
            filters,
            settings,
            stats: Arc::new(stats),
            input_tx,
            input_rx,
            output_queues,
        }
    }

    /// Whether batches reach the outputs in the order the workers took them.
    pub fn is_ordered(&self) -> bool {
        match self.settings.ordered {
            Ordered::Always => true,
            Ordered::Never => false,
            Ordered::Auto => self.plan.inputs.iter().any(|i| i.input.ordered()),
        }
    }

    /// A handle that replaces the filters while the pipeline runs.
    pub fn filter_switch(&self) -> FilterSwitch {
        FilterSwitch {
            slot: self.filters.clone(),
            stats: self.stats.clone(),
        }
    }

    /// The pipeline's counters and queue depths, live while it runs.
    pub fn stats(&self) -> Arc<PipelineStats> {
        self.stats.clone()
    }

    /// Runs until the inputs end or SIGINT/SIGTERM; a second signal exits the process (130).
    pub fn run(self) -> Result<(), PipelineError> {
        self.run_until(first_signal())
    }

    /// [`Pipeline::run`], also stopping (and draining) when `stop` resolves.
    pub fn run_or_until<F>(self, stop: F) -> Result<(), PipelineError>
    where
        F: Future<Output = ()> + Send,
    {
        self.run_until(async move {
            tokio::select! {
                () = first_signal() => {}
                () = stop => {}
            }
        })
    }

    /// Runs until the inputs end or `shutdown` resolves, on a runtime of its own. Must not be
    /// called from inside an async runtime (use [`Pipeline::drive`] there).
    pub fn run_until<F>(self, shutdown: F) -> Result<(), PipelineError>
    where
        F: Future<Output = ()> + Send,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("sluice-io")
            .enable_all()
            .build()?;
        let result = runtime.block_on(self.drive(shutdown));
        // A reader blocked on stdin may never return; do not wait for it.
        runtime.shutdown_background();
        result
    }

    /// Runs on the current (multi-threaded) tokio runtime until the inputs end or `shutdown`
    /// resolves, then drains.
    pub async fn drive<F>(self, shutdown: F) -> Result<(), PipelineError>
    where
        F: Future<Output = ()> + Send,
    {
        let ordered = self.is_ordered();
        let Pipeline {
            plan,
            filters,
            settings,
            stats,
            input_tx,
            input_rx,
            output_queues,
        } = self;
        let Plan {
            inputs,
            outputs,
            output_routes,
            ..
        } = plan;
        let (output_txs, output_rxs): (Vec<_>, Vec<_>) = output_queues.into_iter().unzip();
        let mut outputs = outputs;
        for o in &mut outputs {
            o.output
                .start()
                .await
                .map_err(|source| PipelineError::OutputStart {
                    id: o.id.clone(),
                    source,
                })?;
        }

        let output_tasks: Vec<_> = outputs
            .into_iter()
            .zip(output_rxs)
            .enumerate()
            .map(|(i, (mut o, rx))| {
                let stats = stats.clone();
                match o.output.take_blocking() {
                    Some(sink) => tokio::task::spawn_blocking(move || {
                        output_task::run_blocking(sink, rx, stats, i)
                    }),
                    None => tokio::spawn(output_task::run(o.output, rx, stats, i)),
                }
            })
            .collect();

        let shared = Arc::new(worker::WorkerShared {
            filters,
            routes: output_routes,
            stats: stats.clone(),
            batch_size: settings.batch_size,
            batch_delay: settings.batch_delay,
            order: ordered.then(worker::Sequencer::default),
        });
        let workers = spawn_workers(&shared, settings.workers, &input_rx, &output_txs)?;
        // The workers now hold the only senders: each output's queue ends when they finish.
        drop(output_txs);

        let stop = Shutdown::new();
        let mut running = JoinSet::new();
        for input in inputs {
            let ctx = InputContext::new(input_tx.clone())
                .with_decoration(input.decoration)
                .with_batch_size(settings.batch_size)
                .with_shutdown(stop.clone())
                .with_sent_counter(stats.input_counter(&input.id));
            let id = input.id;
            let plugin = input.input;
            running.spawn(async move { (id, plugin.run(ctx).await) });
        }
        drop(input_tx);

        let inputs_done = wait_for_inputs(running);
        tokio::pin!(inputs_done);
        tokio::pin!(shutdown);
        let (requested, mut failed_inputs) = tokio::select! {
            failed = &mut inputs_done => (false, failed),
            () = &mut shutdown => (true, Vec::new()),
        };
        let drained = async {
            if requested {
                stop.request();
                failed_inputs = inputs_done.await;
            }
            // An input reading on a thread of its own may still hold a sender: closing the
            // queue refuses anything more, and the workers finish what it holds, then stop.
            input_rx.close();
            drop(input_rx);
            for task in output_tasks {
                if let Err(e) = task.await {
                    tracing::error!(error = %e, "an output task failed");
                }
            }
        };
        match settings.shutdown_timeout.filter(|_| requested) {
            None => drained.await,
            Some(limit) => {
                if tokio::time::timeout(limit, drained).await.is_err() {
                    // Held by the outputs, plus what the input queue holds (batches of at most
                    // `batch_size`): an estimate for the log, not an account.
                    let queued = stats.input_queue_len() * settings.batch_size;
                    let undelivered = stats.events_in_outputs() + queued as u64;
                    return Err(PipelineError::ShutdownTimeout { limit, undelivered });
                }
            }
        }
        for handle in workers {
            // Finished already: the outputs ended only after every worker dropped its senders.
            let _ = handle.join();
        }
        // Everything read was delivered; still, an input that failed must not look like one
        // that finished (a scheduler restarts a worker that exits non-zero).
        match failed_inputs.into_iter().next() {
            Some((id, error)) => Err(PipelineError::InputFailed { id, error }),
            None => Ok(()),
        }
    }
}

fn spawn_workers(
    shared: &Arc<worker::WorkerShared>,
    count: usize,
    input: &async_channel::Receiver<Batch>,
    outputs: &[async_channel::Sender<OutputBatch>],
) -> Result<Vec<std::thread::JoinHandle<()>>, PipelineError> {
    (0..count)
        .map(|i| {
            let shared = shared.clone();
            let input = input.clone();
            let outputs = outputs.to_vec();
            std::thread::Builder::new()
                .name(format!("sluice-worker-{i}"))
                .spawn(move || worker::run(&shared, input, outputs))
                .map_err(PipelineError::from)
        })
        .collect()
}

/// Waits for every input to end; returns `(input id, error)` of those that failed.
async fn wait_for_inputs(
    mut running: JoinSet<(String, Result<(), InputError>)>,
) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((id, Err(InputError::Closed))) => {
                tracing::debug!(input = %id, "input stopped: the pipeline is closing");
            }
            Ok((id, Err(e))) => {
                tracing::error!(input = %id, error = %e, "input failed");
                failed.push((id, e.to_string()));
            }
            Err(e) => {
                tracing::error!(error = %e, "an input task panicked");
                failed.push(("?".to_string(), format!("panicked: {e}")));
            }
        }
    }
    failed
}

/// Resolves at the first SIGINT or SIGTERM, and arms the second one to exit at once.
async fn first_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for signals; the pipeline stops only when its inputs end");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping: finishing the events already accepted (signal again to exit now)");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("sluice: second signal, exiting without draining");
        std::process::exit(130);
    });
}
