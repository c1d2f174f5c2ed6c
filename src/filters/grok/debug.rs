//! The sandbox's grok debugger: for one grok filter and one event, which pattern matched and
//! what each capture took, or how far the line matched.
//!
//! (Being written; see [`explain`].)

use serde::Serialize;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::Event;

/// What one grok filter does with one event, per field of its `match` option.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub fields: Vec<serde_json::Value>,
}

/// Explains what the grok filter built from `args` does with `event`.
pub fn explain(args: &PluginArgs, event: &Event) -> Result<Explanation, Diagnostics> {
    let _ = (args, event);
    todo!("grok debugger")
}
