//! Running a batch of events through the [`FilterGraph`].

use crate::event::Event;

use super::FilterGraph;

impl FilterGraph {
    /// Runs every event through the filters and branches in order; cancelled events are removed.
    pub fn process(&self, events: &mut Vec<Event>) {
        let _ = events;
        todo!("plan/filter_graph.rs: process")
    }
}
