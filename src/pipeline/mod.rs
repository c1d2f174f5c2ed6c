//! The running pipeline: inputs -> bounded queue of batches -> N filter worker threads ->
//! bounded queue per output -> outputs.

use crate::plan::Plan;

/// Runtime settings (Logstash's `pipeline.*`).
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    pub workers: usize,
    pub batch_size: usize,
    pub batch_delay: std::time::Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 125,
            batch_delay: std::time::Duration::from_millis(50),
        }
    }
}

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("could not start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Runs `plan` until its inputs end or a signal asks it to stop, draining every accepted event.
pub fn run(plan: Plan, settings: PipelineSettings) -> Result<(), PipelineError> {
    let _ = (plan, settings);
    todo!("pipeline/mod.rs: run")
}
