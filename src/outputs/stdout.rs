//! The `stdout` output.

use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};

use super::Output;

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    let _ = (args, codec);
    todo!("outputs/stdout.rs")
}
