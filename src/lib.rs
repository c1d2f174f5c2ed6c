//! sluice: a fast log pipeline that runs Logstash pipeline configs.
//!
//! Data flows one way, and so does the code:
//!
//! ```text
//! config text --config::parse--> ast::Config --plan::build--> Plan --pipeline::run-->
//!     inputs -> queue -> filter workers -> queue per output -> outputs
//! ```
//!
//! # Layout
//! - [`event`]: the event model ([`event::Event`], [`event::Value`], [`event::Text`]), batches
//!   and acknowledgement tokens, JSON and sprintf. Everything else builds on it.
//! - [`config`]: config text to spanned syntax tree; diagnostics; plugin option parsing.
//! - [`plan`]: syntax tree to a validated, runnable plan (plugins built, conditions compiled).
//! - [`registry`]: every plugin, by Logstash name.
//! - [`inputs`], [`codecs`], [`filters`], [`outputs`]: the plugins, one file each.
//! - [`pipeline`]: the runtime: queues, worker threads, shutdown.
//! - [`settings`]: `--settings FILE` and the command-line flags it mirrors.
//! - [`dlq`]: the dead letter queue outputs write undeliverable events to.
//! - [`standin`]: stand-ins for servers tests need (Elasticsearch).
//! - [`metrics`]: the worker's metrics to statsd; [`api`]: the node API (stats, health).
//! - [`releases`]: filter releases pulled from git by tag, validated, switched to live.
//! - [`sandbox`]: `sluice sandbox`, the local web page that debugs filters on sample lines.
//! - [`cli`]: the `sluice` command.

pub mod api;
pub mod cli;
pub mod codecs;
pub mod config;
pub mod dlq;
pub mod event;
pub mod filters;
pub mod inputs;
pub mod metrics;
pub mod outputs;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod releases;
pub mod sandbox;
pub mod settings;
pub mod standin;
