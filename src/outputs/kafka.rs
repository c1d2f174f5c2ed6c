//! The `kafka` output (being written).

use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};

use super::Output;

pub fn build(args: &PluginArgs, _codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    Err(args.error("", "the kafka output is not implemented yet"))
}
