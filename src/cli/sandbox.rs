//! `sluice sandbox`: local stand-ins to debug pipelines against. `sluice sandbox kafka` runs a
//! mock Kafka cluster ([`crate::standin::kafka::MockKafka`]) and prints its bootstrap address.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub source: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Runs librdkafka's mock Kafka cluster until SIGINT/SIGTERM, printing its bootstrap address.
    Kafka(KafkaSandboxArgs),
}

#[derive(Debug, Args)]
pub struct KafkaSandboxArgs {}

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("sluice sandbox kafka")
}
