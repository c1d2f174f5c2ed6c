//! The `flume` codec (being written).

use std::sync::Arc;

use crate::config::{Diagnostics, PluginArgs};

use super::Codec;

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    Err(args.error("", "the flume codec is not implemented yet"))
}
