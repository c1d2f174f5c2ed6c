//! Grok throughput: real lines through the real `grok` filter (built from config text, run
//! as a pipeline worker runs it, every capture stored in the event). Criterion reports
//! elements per second, i.e. lines per second on one core.
//!
//! - `COMBINEDAPACHELOG` over the Apache corpus (every line matches), with the legacy pattern
//!   set and with the ECS set (nested `[source][address]`-style fields, Logstash 8's default);
//! - `SYSLOGLINE` over the syslog corpora (filebeat's system/syslog samples and rsyslog's
//!   test lines with their `<PRI>` removed);
//! - failing matches, the regex engines' worst case: `COMBINEDAPACHELOG` over syslog lines
//!   (another format), and a near miss that must fail at the end of every Apache line.
//!
//! Events come in the pipeline's default batches of 125 and memory comes from mimalloc, as
//! in the `sluice` binary.
//!
//! Run with `cargo bench --bench grok` (add `-- --quick` for a short run). Paths are
//! relative to the crate root, criterion's working directory.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use sluice::config::{parse, ParseOptions, SourceMap};
use sluice::event::{Event, Text, Timestamp};
use sluice::plan::{self, FilterGraph};

const APACHE: &str = "../shared/corpus/access/apache/apache_logs";
const SYSLOG_DIRS: &[&str] = &[
    "../shared/corpus/syslog/filebeat/system/syslog/test",
    "../shared/corpus/syslog/filebeat/system/auth/test",
];
const RSYSLOG_DIR: &str = "../shared/corpus/syslog/rsyslog-tests/tests/testsuites";

/// Lines per iteration.
const LINES: usize = 10_000;

/// Events per batch (`pipeline.batch.size`'s default).
const BATCH: usize = 125;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn no_env(_: &str) -> Option<String> {
    None
}

/// The filter graph of `filter { grok { OPTIONS } }` with the legacy pattern set.
fn grok(options: &str) -> FilterGraph {
    grok_with(options, "disabled")
}

/// The filter graph of `filter { grok { OPTIONS } }` with `ecs_compatibility => ECS`.
fn grok_with(options: &str, ecs: &str) -> FilterGraph {
    let text = format!("filter {{ grok {{ {options} ecs_compatibility => {ecs} }} }}");
    let sources = SourceMap::single("bench.conf", &text);
    let ast = parse(&sources, ParseOptions::default()).expect("bench config parses");
    plan::build(&ast, &no_env)
        .unwrap_or_else(|d| panic!("{}", d.render(&sources)))
        .filters
}

/// Lines in one shared buffer, as inputs deliver them: every message a slice of the buffer.
struct Lines {
    buf: Bytes,
    lines: Vec<std::ops::Range<usize>>,
}

impl Lines {
    /// `LINES` lines, cycling through `lines` as often as needed.
    fn new(lines: &[String]) -> Lines {
        assert!(!lines.is_empty(), "no corpus lines");
        let mut data = Vec::new();
        let mut ranges = Vec::with_capacity(LINES);
        for line in lines.iter().cycle().take(LINES) {
            let start = data.len();
            data.extend_from_slice(line.as_bytes());
            ranges.push(start..data.len());
            data.push(b'\n');
        }
        Lines {
            buf: Bytes::from(data),
            lines: ranges,
        }
    }

    /// The lines as events, in batches.
    fn batches(&self) -> Vec<Vec<Event>> {
        let at = Timestamp::from_secs(1_700_000_000);
        self.lines
            .chunks(BATCH)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|r| {
                        let text =
                            Text::from_utf8(self.buf.slice(r.clone())).expect("UTF-8 corpus");
                        Event::from_message(text, at)
                    })
                    .collect()
            })
            .collect()
    }
}

fn read_lines(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn apache_lines() -> Vec<String> {
    read_lines(APACHE)
}

/// Syslog lines: filebeat's samples as they are, rsyslog's `<PRI>`-prefixed test inputs
/// without the prefix (rsyslog's expected-output lines do not start with `<`).
fn syslog_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for dir in SYSLOG_DIRS {
        for path in files(dir) {
            lines.extend(
                read_lines(&path)
                    .into_iter()
                    .filter(|l| !l.starts_with(char::is_whitespace)),
            );
        }
    }
    for path in files(RSYSLOG_DIR) {
        if !path.ends_with(".parse1") {
            continue;
        }
        for line in read_lines(&path) {
            if let Some(rest) = line.strip_prefix('<') {
                if let Some((_, msg)) = rest.split_once('>') {
                    lines.push(msg.to_string());
                }
            }
        }
    }
    lines
}

fn files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .collect();
    files.sort();
    files
}

/// Benchmarks `graph` over `lines`; checks first that the expected share of lines matches
/// (when one is given) and prints it.
fn bench(c: &mut Criterion, name: &str, graph: &FilterGraph, lines: &Lines, matching: Option<f64>) {
    let mut batches = lines.batches();
    let events: Vec<Event> = batches
        .iter_mut()
        .flat_map(|batch| {
            graph.process(batch);
            batch.drain(..)
        })
        .collect();
    let failed = events
        .iter()
        .filter(|e| e.has_tag("_grokparsefailure"))
        .count();
    let matched = 1.0 - failed as f64 / events.len() as f64;
    eprintln!("{name}: {:.1}% of lines match", matched * 100.0);
    if let Some(expected) = matching {
        assert!(
            (matched - expected).abs() < 0.01,
            "{name}: {matched:.3} of lines matched, expected {expected}"
        );
    }
    let mut group = c.benchmark_group("grok");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || lines.batches(),
            |mut batches| {
                for batch in &mut batches {
                    graph.process(batch);
                }
                black_box(batches)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn grok_benches(c: &mut Criterion) {
    let apache = Lines::new(&apache_lines());
    let syslog = Lines::new(&syslog_lines());
    let combined = grok(r#"match => { "message" => "%{COMBINEDAPACHELOG}" }"#);
    bench(c, "COMBINEDAPACHELOG", &combined, &apache, Some(1.0));
    let combined_ecs = grok_with(r#"match => { "message" => "%{COMBINEDAPACHELOG}" }"#, "v8");
    bench(
        c,
        "COMBINEDAPACHELOG/ecs-v1",
        &combined_ecs,
        &apache,
        Some(1.0),
    );
    let sysline = grok(r#"match => { "message" => "%{SYSLOGLINE}" }"#);
    bench(c, "SYSLOGLINE", &sysline, &syslog, None);
    bench(
        c,
        "failing/COMBINEDAPACHELOG_on_syslog",
        &combined,
        &syslog,
        Some(0.0),
    );
    let near_miss = grok(r#"match => { "message" => "%{COMBINEDAPACHELOG} %{NOTSPACE:extra}" }"#);
    bench(
        c,
        "failing/near_miss_on_apache",
        &near_miss,
        &apache,
        Some(0.0),
    );
}

criterion_group!(benches, grok_benches);
criterion_main!(benches);
