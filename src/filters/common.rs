//! The options every filter shares: `add_field`, `add_tag`, `remove_field`, `remove_tag` (all
//! sprintf), applied on success in that order; `id`, `enable_metric`, `periodic_flush` are
//! accepted here too.

use crate::config::{Diagnostics, PluginArgs};
use crate::event::Event;

/// The names of the shared options, split off before a filter reads its own.
pub const NAMES: &[&str] = &[
    "add_field",
    "add_tag",
    "remove_field",
    "remove_tag",
    "id",
    "enable_metric",
    "periodic_flush",
];

/// Built form of the shared options.
#[derive(Debug, Default)]
pub struct CommonOptions {
    pub id: Option<String>,
}

impl CommonOptions {
    /// Reads the shared options from `args` (already split off with [`NAMES`]).
    pub fn build(args: &PluginArgs) -> Result<CommonOptions, Diagnostics> {
        let _ = args;
        todo!("filters/common.rs: build")
    }

    /// Applies the options to an event the filter handled successfully.
    pub fn apply(&self, event: &mut Event) {
        let _ = event;
        todo!("filters/common.rs: apply")
    }
}
