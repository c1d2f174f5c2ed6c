//! What a running worker starts beside its pipeline: metrics reporting to statsd
//! ([`crate::metrics::Reporter`], when `metrics.statsd.host` is set) and the node API
//! ([`crate::api::Server`], on `http.host`/`http.port`).

use std::sync::Arc;

use crate::api;
use crate::metrics::{Reporter, StatsdConfig};
use crate::pipeline::PipelineStats;
use crate::settings::Settings;

/// The metrics reporter and node API of a running pipeline; they stop when this is dropped
/// (the reporter after sending the last figures).
pub struct Operations {
    api: Option<api::Server>,
    reporter: Option<Reporter>,
}

impl Operations {
    /// The node API's address, when it runs.
    pub fn api_address(&self) -> Option<std::net::SocketAddr> {
        self.api.as_ref().map(api::Server::address)
    }

    /// Whether metrics go to statsd.
    pub fn reporting(&self) -> bool {
        self.reporter.is_some()
    }
}

impl Drop for Operations {
    fn drop(&mut self) {
        // The API first: the reporter's last flush then sees final figures.
        drop(self.api.take());
        drop(self.reporter.take());
    }
}

/// Starts what `settings` asks for around the pipeline whose stats are `stats`. A reporter or
/// node API that cannot start is logged, not fatal: the pipeline matters more than its window.
pub fn start(settings: &Settings, stats: Arc<PipelineStats>) -> anyhow::Result<Operations> {
    let reporter = match StatsdConfig::from_settings(&settings.metrics.statsd) {
        Some(config) => {
            tracing::info!(
                host = %config.host,
                port = config.port,
                prefix = %config.prefix,
                "sending metrics to statsd"
            );
            // A statsd host that does not resolve must not keep the worker from running.
            match Reporter::start(config, stats.clone()) {
                Ok(reporter) => Some(reporter),
                Err(e) => {
                    tracing::error!(error = %e, "metrics are not sent");
                    None
                }
            }
        }
        None => None,
    };
    let host = settings.http.host.as_deref().unwrap_or("127.0.0.1");
    let port = settings.http.port.unwrap_or(api::DEFAULT_PORT);
    let api = match api::Server::start(host, port, stats) {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::warn!(error = %e, "node API not started");
            None
        }
    };
    Ok(Operations { api, reporter })
}
