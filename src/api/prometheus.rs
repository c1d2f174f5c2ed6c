//! [`render`]: a [`Snapshot`] in Prometheus' text exposition format (version 0.0.4), the same
//! figures statsd gets: `sluice_events_in_total{pipeline="main",plugin="grok_1"} 42`.
//! Counters end in `_total`; timers are summaries without quantiles (`_sum` in milliseconds and
//! `_count`); lines of one metric family are kept together, as the format requires.

use std::fmt::Write;

use crate::metrics::names::{self, Kind};
use crate::metrics::Snapshot;

/// The snapshot as Prometheus text.
pub fn render(snapshot: &Snapshot) -> String {
    let mut series = names::series(snapshot);
    // Stable: within a family, series keep their order (pipeline first, then plugins).
    series.sort_by_key(|s| s.name);
    let mut out = String::new();
    let mut family = "";
    for s in &series {
        let name = metric_name(s.name, s.kind);
        if s.name != family {
            family = s.name;
            let kind = match s.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# TYPE {name} {kind}");
        }
        let _ = writeln!(out, "{name}{} {}", labels(&s.tags), s.value);
    }
    let timers = [
        (names::TIMERS[0], snapshot.latency_filter),
        (names::TIMERS[1], snapshot.latency_output),
        (names::TIMERS[2], snapshot.latency_end_to_end),
    ];
    for (name, figures) in timers {
        let name = format!("sluice_{}_milliseconds", name.replace('.', "_"));
        let tags = labels(&[("pipeline", "main".to_string())]);
        let _ = writeln!(out, "# TYPE {name} summary");
        let _ = writeln!(out, "{name}_sum{tags} {}", figures.sum_millis);
        let _ = writeln!(out, "{name}_count{tags} {}", figures.count);
    }
    let _ = writeln!(out, "# TYPE sluice_uptime_seconds gauge");
    let _ = writeln!(
        out,
        "sluice_uptime_seconds {}",
        snapshot.uptime_millis as f64 / 1000.0
    );
    out
}

fn metric_name(name: &str, kind: Kind) -> String {
    let base = format!("sluice_{}", name.replace('.', "_"));
    match kind {
        Kind::Counter => base + "_total",
        Kind::Gauge => base,
    }
}

fn labels(tags: &[(&str, String)]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = tags
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Label values escape `\`, `"` and line feeds.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::{PluginFigures, TimerFigures};

    #[test]
    fn renders_families_together_with_escaped_labels() {
        let snapshot = Snapshot {
            events_in: 7,
            filters: vec![PluginFigures {
                id: "g\"1".into(),
                name: "grok".into(),
                events_in: 7,
                events_out: 6,
                duration_millis: 0,
            }],
            latency_filter: TimerFigures {
                count: 2,
                sum_millis: 9,
            },
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        let lines: Vec<&str> = text.lines().collect();
        let at = |line: &str| {
            lines
                .iter()
                .position(|l| *l == line)
                .unwrap_or_else(|| panic!("{line} missing from\n{text}"))
        };
        let family = at("# TYPE sluice_events_in_total counter");
        assert_eq!(
            at("sluice_events_in_total{pipeline=\"main\"} 7"),
            family + 1
        );
        assert_eq!(
            at("sluice_events_in_total{pipeline=\"main\",plugin=\"g\\\"1\"} 7"),
            family + 2
        );
        at("sluice_queue_depth{pipeline=\"main\",queue=\"input\"} 0");
        at("sluice_latency_filter_milliseconds_sum{pipeline=\"main\"} 9");
        at("sluice_latency_filter_milliseconds_count{pipeline=\"main\"} 2");
        let types = lines.iter().filter(|l| l.starts_with("# TYPE")).count();
        let mut names: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("# TYPE"))
            .map(|l| l.split(' ').nth(2).unwrap())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), types, "a family is split:\n{text}");
    }
}
