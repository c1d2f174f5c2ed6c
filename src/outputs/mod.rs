//! Outputs: where events go. An output runs as a tokio task taking [`OutputBatch`]es from its
//! queue. It holds each batch until it has finished with it; dropping the last handle on a batch
//! acknowledges it to the inputs (see [`crate::event::AckToken`]). One file per plugin, named
//! after its Logstash name.

pub mod file;
pub mod null;
pub mod stdout;

use std::sync::Arc;

use crate::event::{Batch, Event};

/// Why an output could not write.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A filtered batch as one output sees it: shared with the other outputs, narrowed to the events
/// routed to this output when outputs sit inside conditionals.
#[derive(Clone, Debug)]
pub struct OutputBatch {
    batch: Arc<Batch>,
    /// Indices into `batch.events`; `None` means all of them.
    selection: Option<Arc<[u32]>>,
}

impl OutputBatch {
    pub fn new(batch: Arc<Batch>, selection: Option<Arc<[u32]>>) -> OutputBatch {
        OutputBatch { batch, selection }
    }

    /// The events this output must handle, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> + '_ {
        let all = self.selection.is_none().then(|| self.batch.events.iter());
        let some = self
            .selection
            .as_deref()
            .map(|sel| sel.iter().map(|&i| &self.batch.events[i as usize]));
        all.into_iter().flatten().chain(some.into_iter().flatten())
    }

    pub fn len(&self) -> usize {
        self.selection
            .as_ref()
            .map_or(self.batch.events.len(), |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks the underlying batch as not delivered (see [`Batch::mark_failed`]).
    pub fn mark_failed(&self) {
        self.batch.mark_failed();
    }
}

/// An output plugin instance.
#[async_trait::async_trait]
pub trait Output: Send {
    /// Writes one batch; returns when the events are handed to the destination.
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError>;

    /// Flushes and closes, at shutdown after the last batch.
    async fn close(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
