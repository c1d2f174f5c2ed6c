//! The `kafka` input (being written).

use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};

use super::Input;

pub fn build(args: &PluginArgs, _codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    Err(args.error("", "the kafka input is not implemented yet"))
}
