//! The `urldecode` filter.

use crate::config::{Diagnostics, PluginArgs};

use super::Filter;

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let _ = args;
    todo!("filters/urldecode.rs")
}
