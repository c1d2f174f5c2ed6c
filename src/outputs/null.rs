//! The `null` output: takes every batch and writes nothing (the pipeline still counts the
//! events it took). For benchmarks and for configs that only need the filters' side effects.

use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};

use super::{Output, OutputBatch, OutputError};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    let _: Options = args.options()?;
    // Nothing is written, so the codec is never used.
    drop(codec);
    Ok(Box::new(Null))
}

/// The `null` output.
pub struct Null;

#[async_trait::async_trait]
impl Output for Null {
    async fn write(&mut self, _batch: &OutputBatch) -> Result<(), OutputError> {
        Ok(())
    }
}
