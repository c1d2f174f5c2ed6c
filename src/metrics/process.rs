//! [`ProcessCounters`]: counters that plugins deep inside the pipeline bump without knowing the
//! pipeline they run in (grok matches, Elasticsearch bulk requests, dead letters, dropped
//! datagrams). A worker process runs one pipeline, so process-wide totals are that pipeline's.
//!
//! Plugins add once per batch or request (one relaxed atomic add), never per event where a
//! batch total is at hand.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters; read them through [`counters`].
#[derive(Debug, Default)]
pub struct ProcessCounters {
    /// Events a grok filter matched (`grok.matches`).
    pub grok_matches: AtomicU64,
    /// Events no grok pattern matched (`grok.failures`).
    pub grok_failures: AtomicU64,
    /// Bulk requests sent to Elasticsearch (`es.bulk.requests`).
    pub es_bulk_requests: AtomicU64,
    /// Bulk requests or items sent again after a wait (`es.bulk.retries`).
    pub es_bulk_retries: AtomicU64,
    /// Bulk requests that got no answer (`es.bulk.failures`).
    pub es_bulk_failures: AtomicU64,
    /// Documents Elasticsearch indexed (`es.docs.indexed`).
    pub es_docs_indexed: AtomicU64,
    /// Events written to the dead letter queue (`dlq.events`).
    pub dlq_events: AtomicU64,
    /// Events an input dropped because the pipeline was full (`input.dropped`).
    pub input_dropped: AtomicU64,
}

static COUNTERS: ProcessCounters = ProcessCounters {
    grok_matches: AtomicU64::new(0),
    grok_failures: AtomicU64::new(0),
    es_bulk_requests: AtomicU64::new(0),
    es_bulk_retries: AtomicU64::new(0),
    es_bulk_failures: AtomicU64::new(0),
    es_docs_indexed: AtomicU64::new(0),
    dlq_events: AtomicU64::new(0),
    input_dropped: AtomicU64::new(0),
};

/// The process's counters.
pub fn counters() -> &'static ProcessCounters {
    &COUNTERS
}

/// Adds `n` to `counter` (skipped for 0, so a batch that counted nothing touches no cache line).
pub fn add(counter: &AtomicU64, n: u64) {
    if n > 0 {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Reads a counter.
pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
