//! Metric names and tags: [`series`] lists every counter and gauge of a [`Snapshot`] with the
//! tags the issue names (`pipeline`, `plugin`, and `queue`, `direction`, `topic`, `partition`
//! where they apply); [`fold`] puts the tag values into the name for plain statsd
//! (`metrics.statsd.tags: false`): `events.in` tagged `pipeline:main,plugin:grok_1` becomes
//! `events.in.main.grok_1`.

use super::snapshot::{Snapshot, PIPELINE_ID};

/// What kind of metric a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Grows; statsd gets the difference since the last flush.
    Counter,
    /// A level, sent as it is.
    Gauge,
}

/// One figure with its name and tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub tags: Vec<(&'static str, String)>,
    pub value: f64,
}

/// The timers: name, and how to read them from a snapshot.
pub const TIMERS: [&str; 3] = ["latency.filter", "latency.output", "latency.end_to_end"];

/// Every counter and gauge of `snapshot` (timers are sent by the reporter from their samples).
pub fn series(snapshot: &Snapshot) -> Vec<Series> {
    let mut out = Vec::new();
    let pipeline = || vec![("pipeline", PIPELINE_ID.to_string())];
    let plugin = |id: &str| {
        vec![
            ("pipeline", PIPELINE_ID.to_string()),
            ("plugin", id.to_string()),
        ]
    };
    let mut counter = |name, tags, value: u64| {
        out.push(Series {
            name,
            kind: Kind::Counter,
            tags,
            value: value as f64,
        })
    };
    counter("events.in", pipeline(), snapshot.events_in);
    counter("events.filtered", pipeline(), snapshot.events_filtered);
    counter("events.out", pipeline(), snapshot.events_out);
    for i in &snapshot.inputs {
        counter("events.out", plugin(&i.id), i.events_out);
    }
    for f in &snapshot.filters {
        counter("events.in", plugin(&f.id), f.events_in);
        counter("events.out", plugin(&f.id), f.events_out);
    }
    for o in &snapshot.outputs {
        counter("events.in", plugin(&o.id), o.events_in);
        counter("events.out", plugin(&o.id), o.events_out);
    }
    let p = &snapshot.process;
    for (name, value) in [
        ("grok.matches", p.grok_matches),
        ("grok.failures", p.grok_failures),
        ("es.bulk.requests", p.es_bulk_requests),
        ("es.bulk.retries", p.es_bulk_retries),
        ("es.bulk.failures", p.es_bulk_failures),
        ("es.docs.indexed", p.es_docs_indexed),
        ("dlq.events", p.dlq_events),
        ("input.dropped", p.input_dropped),
        ("reload.success", snapshot.reloads.successes),
        ("reload.failure", snapshot.reloads.failures),
    ] {
        counter(name, pipeline(), value);
    }
    queue_gauges(snapshot, &mut out);
    for lag in snapshot.kafka_lag.iter().filter(|l| l.lag >= 0) {
        out.push(Series {
            name: "kafka.lag",
            kind: Kind::Gauge,
            tags: vec![
                ("pipeline", PIPELINE_ID.to_string()),
                ("plugin", lag.input.clone()),
                ("topic", lag.topic.to_string()),
                ("partition", lag.partition.to_string()),
            ],
            value: lag.lag as f64,
        });
    }
    out
}

fn queue_gauges(snapshot: &Snapshot, out: &mut Vec<Series>) {
    let mut gauge = |name, tags: Vec<(&'static str, String)>, value: u64| {
        out.push(Series {
            name,
            kind: Kind::Gauge,
            tags,
            value: value as f64,
        })
    };
    let input = || {
        vec![
            ("pipeline", PIPELINE_ID.to_string()),
            ("queue", "input".to_string()),
        ]
    };
    gauge("queue.depth", input(), snapshot.input_queue.depth);
    gauge("queue.capacity", input(), snapshot.input_queue.capacity);
    for o in &snapshot.outputs {
        let tags = || {
            vec![
                ("pipeline", PIPELINE_ID.to_string()),
                ("plugin", o.id.clone()),
                ("queue", "output".to_string()),
            ]
        };
        gauge("queue.depth", tags(), o.queue.depth);
        gauge("queue.capacity", tags(), o.queue.capacity);
    }
}

/// `events.per_second` gauges, `direction` `in` and `out`.
pub fn rates(events_in: f64, events_out: f64) -> [Series; 2] {
    let tagged = |direction: &str, value| Series {
        name: "events.per_second",
        kind: Kind::Gauge,
        tags: vec![
            ("pipeline", PIPELINE_ID.to_string()),
            ("direction", direction.to_string()),
        ],
        value,
    };
    [tagged("in", events_in), tagged("out", events_out)]
}

/// `name` with every tag value appended as a segment of its own, in the tags' order.
pub fn fold(name: &str, tags: &[(&str, String)]) -> String {
    let mut folded = name.to_string();
    for (_, value) in tags {
        folded.push('.');
        folded.push_str(&segment(value));
    }
    folded
}

/// `value` as one segment of a dotted statsd name: characters other than ASCII letters,
/// digits, `_` and `-` (dots would nest it, `:` and `|` would end it) become `_`.
pub fn segment(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_string()
    } else {
        cleaned
    }
}

/// `value` as a DogStatsD tag value: `,` (separates tags), `|`, `#` and line ends (end the
/// metric) become `_`.
pub fn tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            ',' | '|' | '#' | '\n' | '\r' => '_',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::{PluginFigures, ProcessFigures};

    #[test]
    fn folding_appends_tag_values_as_clean_segments() {
        let tags = [
            ("pipeline", "main".to_string()),
            ("plugin", "grok.apache:1|x".to_string()),
        ];
        assert_eq!(fold("events.in", &tags), "events.in.main.grok_apache_1_x");
        assert_eq!(fold("grok.matches", &[]), "grok.matches");
        assert_eq!(segment(""), "_");
        assert_eq!(tag_value("a,b|c#d"), "a_b_c_d");
    }

    #[test]
    fn series_name_each_figure_once() {
        let snapshot = Snapshot {
            events_in: 5,
            filters: vec![PluginFigures {
                id: "g".into(),
                name: "grok".into(),
                events_in: 5,
                events_out: 4,
                duration_millis: 1,
            }],
            process: ProcessFigures {
                grok_matches: 4,
                ..ProcessFigures::default()
            },
            ..Snapshot::default()
        };
        let all = series(&snapshot);
        let mut folded: Vec<String> = all.iter().map(|s| fold(s.name, &s.tags)).collect();
        let find = |name: &str| all.iter().find(|s| fold(s.name, &s.tags) == name).unwrap();
        assert_eq!(find("events.in.main").value, 5.0);
        assert_eq!(find("events.out.main.g").value, 4.0);
        assert_eq!(find("grok.matches.main").value, 4.0);
        assert_eq!(find("queue.capacity.main.input").kind, Kind::Gauge);
        let count = folded.len();
        folded.sort();
        folded.dedup();
        assert_eq!(folded.len(), count, "two series share a name");
    }
}
