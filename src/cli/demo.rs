//! `sluice demo`: the bundled sample pipeline (`configs/sample.conf`, compiled into the binary)
//! over the sample log lines its `generator` input holds. Needs no files and no services.

use crate::config::{ParseOptions, SourceMap};
use crate::plan::BuildSettings;
use crate::settings::Settings;

use super::load;

/// The name the sample goes by in messages.
pub const SAMPLE_NAME: &str = "configs/sample.conf";
/// The sample pipeline's text.
pub const SAMPLE_CONF: &str = include_str!("../../configs/sample.conf");

/// Builds and runs the sample pipeline.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let mut sources = SourceMap::single(SAMPLE_NAME, SAMPLE_CONF);
    let plan = load::plan_from_sources(
        &mut sources,
        ParseOptions::default(),
        BuildSettings::default(),
    )?;
    super::run_plan(plan, settings)
}
