//! Event model benchmarks: building events from raw Apache lines, JSON output, sprintf and JSON
//! parsing. Each iteration handles a batch of lines, so criterion's time per iteration divided by
//! `BATCH` is the cost per event.
//!
//! Run with `cargo bench --bench event`. Reads `../shared/corpus/access/apache/apache_logs`
//! (relative to the crate root, criterion's working directory).

use std::hint::black_box;
use std::ops::Range;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use sluice::event::json::{parse_text, parse_value, write_event, write_str};
use sluice::event::sprintf::Template;
use sluice::event::{Event, Text, Timestamp, Value};

const CORPUS: &str = "../shared/corpus/access/apache/apache_logs";
const BATCH: usize = 1_000;

/// The corpus in one shared buffer, and the byte range of each line.
struct Corpus {
    buf: Bytes,
    lines: Vec<Range<usize>>,
}

impl Corpus {
    fn load() -> Corpus {
        let data = std::fs::read(CORPUS).unwrap_or_else(|e| panic!("reading {CORPUS}: {e}"));
        let buf = Bytes::from(data);
        let mut lines = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf) {
            if end > start {
                lines.push(start..end);
            }
            start = end + 1;
        }
        lines.truncate(BATCH);
        assert_eq!(lines.len(), BATCH, "corpus has fewer than {BATCH} lines");
        Corpus { buf, lines }
    }

    fn event(&self, line: &Range<usize>, at: Timestamp) -> Event {
        let message = Text::from_utf8(self.buf.slice(line.clone())).expect("corpus is UTF-8");
        Event::from_message(message, at)
    }
}

fn at() -> Timestamp {
    Timestamp::from_civil(2026, 11, 21, 5, 24, 0, 0).expect("valid date")
}

fn bench_build_and_write(c: &mut Criterion, corpus: &Corpus) {
    let mut group = c.benchmark_group("apache_line");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("build_event", |b| {
        b.iter(|| {
            for line in &corpus.lines {
                black_box(corpus.event(line, at()));
            }
        })
    });
    let mut out = Vec::with_capacity(1024);
    group.bench_function("build_event_and_write_json", |b| {
        b.iter(|| {
            for line in &corpus.lines {
                let event = corpus.event(line, at());
                out.clear();
                write_event(&event, &mut out);
                black_box(&out);
            }
        })
    });
    let events: Vec<Event> = corpus.lines.iter().map(|l| corpus.event(l, at())).collect();
    group.bench_function("write_json", |b| {
        b.iter(|| {
            for event in &events {
                out.clear();
                write_event(event, &mut out);
                black_box(&out);
            }
        })
    });
    // The two parts of `write_json` that cost the most.
    let messages: Vec<&str> = events.iter().filter_map(Event::message).collect();
    group.bench_function("write_str_message", |b| {
        b.iter(|| {
            for message in &messages {
                out.clear();
                write_str(message, &mut out);
                black_box(&out);
            }
        })
    });
    group.bench_function("write_iso8601", |b| {
        b.iter(|| {
            for event in &events {
                out.clear();
                if let Some(ts) = event.timestamp() {
                    ts.write_iso8601(&mut out);
                }
                black_box(&out);
            }
        })
    });
    group.finish();
}

fn bench_sprintf(c: &mut Criterion, corpus: &Corpus) {
    let template = Template::parse("logs-%{[type]}-%{+YYYY.MM.dd}").expect("valid template");
    let events: Vec<Event> = corpus
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            // Spread the timestamps over a year so the date is not always the same.
            let when = Timestamp::from_secs(at().secs() + i as i64 * 31_557);
            let mut e = corpus.event(line, when);
            e.set_field("type".into(), "apache_access".into());
            e
        })
        .collect();
    let mut group = c.benchmark_group("sprintf");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut out = String::with_capacity(64);
    group.bench_function("type_and_date", |b| {
        b.iter(|| {
            for event in &events {
                out.clear();
                template.render_into(event, &mut out);
                black_box(&out);
            }
        })
    });
    group.finish();
}

/// JSON lines as a json codec would receive them: an Apache event with parsed fields.
fn json_lines(corpus: &Corpus) -> Vec<Text> {
    corpus
        .lines
        .iter()
        .map(|line| {
            let mut e = corpus.event(line, at());
            let text = e.message().unwrap_or_default().to_string();
            let mut parts = text.split(' ');
            let ip = parts.next().unwrap_or_default();
            e.set_field("clientip".into(), ip.into());
            e.set_field("verb".into(), "GET".into());
            e.set_field("response".into(), Value::Int(200));
            e.set_field("bytes".into(), Value::Int(203_023));
            e.set_field("tags".into(), Value::Array(vec!["apache".into()]));
            let mut buf = Vec::new();
            write_event(&e, &mut buf);
            Text::from_utf8(Bytes::from(buf)).expect("JSON output is UTF-8")
        })
        .collect()
}

fn bench_parse(c: &mut Criterion, corpus: &Corpus) {
    let lines = json_lines(corpus);
    let mut group = c.benchmark_group("json_parse");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("parse_value", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(parse_value(line.as_bytes()).expect("valid JSON"));
            }
        })
    });
    group.bench_function("parse_text_shared", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(parse_text(line).expect("valid JSON"));
            }
        })
    });
    group.bench_function("serde_json_value_baseline", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_slice::<serde_json::Value>(line.as_bytes()).unwrap());
            }
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let corpus = Corpus::load();
    bench_build_and_write(c, &corpus);
    bench_sprintf(c, &corpus);
    bench_parse(c, &corpus);
}

criterion_group!(event_benches, benches);
criterion_main!(event_benches);
