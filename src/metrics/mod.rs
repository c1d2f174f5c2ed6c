//! Worker metrics: the pipeline's counters, gauges and timers reported to statsd through the
//! `metrics` facade and `metrics-exporter-statsd` (`metrics.statsd.*` settings).
//!
//! - `timer`: [`timer::Timer`], per-batch durations recorded lock-free;
//! - `process`: [`process::ProcessCounters`], process-wide counters plugins bump (grok, es, dlq,
//!   dropped input);
//! - `snapshot`: [`Snapshot`], every figure read at one instant: what the reporter and the node
//!   API both show;
//! - `names`: metric names and their tags, folded into the name for plain statsd;
//! - `reporter`: [`Reporter`], the thread that sends a snapshot to statsd every
//!   `flush_interval`.

pub mod names;
pub mod process;
pub mod reporter;
pub mod snapshot;
pub mod timer;

pub use reporter::{Reporter, StatsdConfig};
pub use snapshot::Snapshot;
