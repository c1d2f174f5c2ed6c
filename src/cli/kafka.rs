//! `sluice kafka rewind`: moves a consumer group's committed offsets to a point in time, so the
//! group's workers replay a window of logs (after a bad filter release).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct KafkaArgs {
    #[command(subcommand)]
    pub command: KafkaCommand,
}

#[derive(Debug, Subcommand)]
pub enum KafkaCommand {
    /// Moves a consumer group's offsets to the first message at or after a time.
    Rewind(RewindArgs),
}

#[derive(Debug, Args)]
pub struct RewindArgs {}

pub fn run(args: KafkaArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("sluice kafka rewind")
}
