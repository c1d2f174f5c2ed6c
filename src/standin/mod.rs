//! Stand-ins for servers sluice talks to but that cannot be installed on build machines.
//!
//! - [`elasticsearch`]: a faithful Elasticsearch 7.x/8.x stand-in ([`elasticsearch::StandIn`]),
//!   in-process for tests and as the `es-standin` binary for benchmarks.
//! - [`kafka`]: librdkafka's mock cluster with topics and messages loaded from files
//!   ([`kafka::MockKafka`]), in-process for tests and benchmarks and as `sluice sandbox kafka`.

pub mod elasticsearch;
pub mod kafka;
