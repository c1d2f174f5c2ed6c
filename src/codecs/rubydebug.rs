//! The `rubydebug` codec.

use std::sync::Arc;

use crate::config::{Diagnostics, PluginArgs};

use super::Codec;

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let _ = args;
    todo!("codecs/rubydebug.rs")
}
