//! Inputs: where events come from. An input runs as a tokio task, reads its source, decodes it
//! with its codec and sends [`Batch`]es through its [`InputContext`], which applies the options
//! every input shares (`type`, `tags`, `add_field`) and blocks when the queue is full
//! (backpressure). One file per plugin, named after its Logstash name.

pub mod generator;
pub mod stdin;

use crate::event::Batch;

/// Why an input stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// What an input is given to run: where to send batches, and when to stop.
pub struct InputContext {
    sender: async_channel::Sender<Batch>,
}

impl InputContext {
    pub fn new(sender: async_channel::Sender<Batch>) -> InputContext {
        InputContext { sender }
    }

    /// Sends a batch, waiting while the queue is full. Fails only when the pipeline is gone.
    pub async fn send(&self, batch: Batch) -> Result<(), InputError> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| InputError::Other("pipeline closed".into()))
    }
}

/// An input plugin instance.
#[async_trait::async_trait]
pub trait Input: Send {
    /// Reads until the source ends or shutdown is requested.
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError>;
}

/// The options every input shares, applied to each event it produces: `type` (only if the event
/// has none), `tags`, `add_field`.
#[derive(Debug, Default)]
pub struct Decoration {}

/// The names of the options every input shares.
pub const COMMON_NAMES: &[&str] = &["type", "tags", "add_field", "codec", "id", "enable_metric"];

impl Decoration {
    pub fn build(
        args: &crate::config::PluginArgs,
    ) -> Result<Decoration, crate::config::Diagnostics> {
        let _ = args;
        todo!("inputs/mod.rs: Decoration::build")
    }
}
