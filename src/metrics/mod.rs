//! Worker metrics: the pipeline's counters, gauges and timers reported to statsd through the
//! `metrics` facade and `metrics-exporter-statsd` (`metrics.statsd.*` settings).
