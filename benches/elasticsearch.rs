//! End-to-end: the `sluice` binary from stdin into the Elasticsearch stand-in.
//!
//! Two measurements, both against [`StandIn`] running in this process on a tokio runtime of its
//! own (one worker thread) in count-only mode, so the stand-in costs little and stores nothing:
//!
//! - **Throughput.** N real Apache lines (../shared/corpus/access/apache/apache_logs repeated
//!   to N, cached as `target/e2e/apache-N.log`, the file `benches/e2e.sh` uses) are fed as a
//!   file on stdin to `sluice run -w W` for W = 1 and 2, through four pipelines: `stdin -> null`,
//!   `stdin -> elasticsearch`, and both again with `grok { %{COMBINEDAPACHELOG} }` and `date`
//!   in between. Each row gives the wall time, events/s, sluice's own CPU time (user + system,
//!   all threads, from `/proc/PID/stat` read when it has exited but is not yet reaped), CPU µs
//!   per event, its peak RSS (`VmHWM`, polled), and the CPU this process spent meanwhile (the
//!   stand-in, for the elasticsearch rows) and the events per `_bulk` request. Each row is the
//!   run of median wall time of `--repeats` (3). After each elasticsearch run the stand-in's
//!   count must equal N, or the bench fails.
//! - **Latency.** Lines `SEQ SENT_NANOS` are written to `sluice run -w 1` at a fixed rate
//!   (paced by the writer `benches/latency.rs` uses too) for 3 s, through `stdin -> elasticsearch` with default
//!   output options; the stand-in's `_bulk` tap ([`StandIn::tap_bulk`]) says when each request
//!   was answered. An event's latency is that moment minus its send time: arrival on stdin to
//!   bulk acknowledgement. Prints p50/p90/p99/p99.9/max and the share under 100 ms per rate, and
//!   fails unless every line arrived exactly once.
//!
//! ```text
//! cargo bench --bench elasticsearch                      # both, 1,000,000 lines; 1k/10k/100k/s
//! cargo bench --bench elasticsearch -- throughput --lines 200000 --repeats 1
//! cargo bench --bench elasticsearch -- latency 1000 50000
//! ```
//! Under `cargo test --benches` (no `--bench` argument) it runs a smoke test instead: 20,000
//! lines into the stand-in with -w 1 and one slow latency stream of 1,000 events, failing on any
//! event lost or duplicated.

#[path = "support/mod.rs"]
mod support;

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sluice::standin::elasticsearch::{BulkSeen, StandIn};
use support::es::{sources, EsRuntime};
use support::{apache_file as input_file, own_cpu, Args, LatencyReport, Proc, ALL_PERCENTILES};
use tokio::sync::mpsc::UnboundedReceiver;

const INDEX: &str = "bench";
const FILTERS: &str = r#"filter {
  grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
  date { match => [ "timestamp", "dd/MMM/yyyy:HH:mm:ss Z" ] }
}"#;
/// How often a running sluice's state is polled; bounds the error on its wall time.
const POLL: Duration = Duration::from_millis(2);
/// Peak RSS is read every this many polls (reading `status` costs more than `stat`).
const RSS_EVERY: u32 = 10;
/// A run that takes longer than this is stuck: kill it and fail.
const DEADLINE: Duration = Duration::from_secs(600);

fn main() {
    let args = Args::parse(
        "elasticsearch",
        std::env::args().skip(1),
        &[1_000, 10_000, 100_000],
    );
    let es = EsRuntime::new();
    let start = Instant::now();
    if !args.bench {
        smoke(&es, start);
        return;
    }
    if args.throughput {
        throughput(&es, args.lines, args.repeats);
    }
    if args.latency {
        latency(&es, start, &args.rates);
    }
}

fn smoke(es: &EsRuntime, start: Instant) {
    let lines = 20_000;
    let input = input_file(lines);
    let row = throughput_run(es, Pipeline::ES, 1, &input, lines);
    println!("smoke throughput: {}", row.line());
    let report = measure_latency(es, start, 2_000, Duration::from_millis(500));
    println!("smoke latency: {}", report.line(ALL_PERCENTILES));
}

// ---------------------------------------------------------------------------------------------
// The stand-in

fn es_config(es: &StandIn, filters: &str) -> String {
    format!(
        "input {{ stdin {{}} }}\n{filters}\noutput {{ elasticsearch {{ hosts => [\"{}\"] index => \"{INDEX}\" }} }}",
        es.url()
    )
}

// ---------------------------------------------------------------------------------------------
// Running sluice and measuring it

/// What a finished sluice cost.
struct Usage {
    wall: Duration,
    /// User + system time of all its threads.
    cpu: Duration,
    /// Peak resident set (`VmHWM`), KiB, as last polled.
    peak_rss_kb: u64,
}

/// Waits for `child` to exit, polling its CPU time and peak RSS; fails unless it succeeded.
/// The times are read once it is a zombie: exited, every thread's time summed, not yet reaped.
fn wait_measured(mut child: Child, started: Instant) -> Usage {
    let proc = Proc::of(child.id());
    let mut usage = Usage {
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
        peak_rss_kb: 0,
    };
    for poll in 0u32.. {
        let Some((state, cpu)) = proc.stat() else {
            break;
        };
        usage.cpu = cpu;
        if state == 'Z' || state == 'X' {
            break;
        }
        if poll % RSS_EVERY == 0 {
            let rss = proc.peak_rss_kb().unwrap_or(0);
            usage.peak_rss_kb = usage.peak_rss_kb.max(rss);
        }
        if started.elapsed() > DEADLINE {
            // Killing a process we started; it may have just exited, which is fine too.
            let _ = child.kill();
            panic!("sluice still running after {DEADLINE:?}");
        }
        thread::sleep(POLL);
    }
    usage.wall = started.elapsed();
    let exit = child.wait().expect("wait for sluice");
    assert!(exit.success(), "sluice exited with {exit}");
    usage
}

// ---------------------------------------------------------------------------------------------
// Throughput

#[derive(Clone, Copy)]
struct Pipeline {
    name: &'static str,
    filters: bool,
    elasticsearch: bool,
}

impl Pipeline {
    const NULL: Pipeline = Pipeline {
        name: "stdin -> null",
        filters: false,
        elasticsearch: false,
    };
    const ES: Pipeline = Pipeline {
        name: "stdin -> es",
        filters: false,
        elasticsearch: true,
    };
    const GROK_NULL: Pipeline = Pipeline {
        name: "grok+date -> null",
        filters: true,
        elasticsearch: false,
    };
    const GROK_ES: Pipeline = Pipeline {
        name: "grok+date -> es",
        filters: true,
        elasticsearch: true,
    };
}

/// One throughput measurement.
struct Row {
    pipeline: Pipeline,
    workers: usize,
    lines: u64,
    usage: Usage,
    /// CPU this process spent during the run: the stand-in, for elasticsearch pipelines.
    own_cpu: Duration,
    /// `_bulk` requests the stand-in answered (0 for null pipelines).
    bulks: usize,
}

impl Row {
    const HEADER: &'static str = "pipeline             workers   seconds     events/s  sluice cpu s  cpu us/ev  peak RSS MB  stand-in cpu s  events/bulk";

    fn line(&self) -> String {
        let u = &self.usage;
        let (stand_in, per_bulk) = if self.pipeline.elasticsearch {
            let per_bulk = self.lines as f64 / self.bulks.max(1) as f64;
            (
                format!("{:.2}", self.own_cpu.as_secs_f64()),
                format!("{per_bulk:.0}"),
            )
        } else {
            ("-".to_string(), "-".to_string())
        };
        format!(
            "{:<20} {:>7} {:>9.3} {:>12.0} {:>13.2} {:>10.2} {:>12.1} {:>15} {:>12}",
            self.pipeline.name,
            self.workers,
            u.wall.as_secs_f64(),
            self.lines as f64 / u.wall.as_secs_f64(),
            u.cpu.as_secs_f64(),
            u.cpu.as_secs_f64() * 1e6 / self.lines as f64,
            u.peak_rss_kb as f64 / 1024.0,
            stand_in,
            per_bulk
        )
    }
}

fn throughput(es: &EsRuntime, lines: u64, repeats: usize) {
    let input = input_file(lines);
    check_filters(&input);
    println!(
        "throughput: {} ({lines} lines), the run of median wall time of {repeats}",
        input.display()
    );
    println!("{}", Row::HEADER);
    for pipeline in [
        Pipeline::NULL,
        Pipeline::ES,
        Pipeline::GROK_NULL,
        Pipeline::GROK_ES,
    ] {
        for workers in [1, 2] {
            let mut runs: Vec<Row> = (0..repeats)
                .map(|_| throughput_run(es, pipeline, workers, &input, lines))
                .collect();
            runs.sort_by_key(|r| r.usage.wall);
            println!("{}", runs.swap_remove(repeats / 2).line());
        }
    }
}

/// Runs `lines` lines of `input` through `pipeline`; for elasticsearch, fails unless the
/// stand-in counted exactly `lines` documents.
fn throughput_run(
    es: &EsRuntime,
    pipeline: Pipeline,
    workers: usize,
    input: &Path,
    lines: u64,
) -> Row {
    let standin = pipeline.elasticsearch.then(|| es.start());
    let filters = if pipeline.filters { FILTERS } else { "" };
    let config = match &standin {
        Some(s) => es_config(s, filters),
        None => format!("input {{ stdin {{}} }}\n{filters}\noutput {{ null {{}} }}"),
    };
    let file = File::open(input).expect("open the input file");
    let cpu_before = own_cpu();
    let started = Instant::now();
    let child = support::spawn_sluice(&config, workers, Stdio::from(file), Stdio::null());
    let usage = wait_measured(child, started);
    let own = own_cpu().saturating_sub(cpu_before);
    let mut bulks = 0;
    if let Some(standin) = standin {
        bulks = standin
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/_bulk"))
            .count();
        let count = standin.count(INDEX) as u64;
        assert_eq!(
            count, lines,
            "{}: the stand-in counted {count} documents of {lines}",
            pipeline.name
        );
        es.stop(standin);
    }
    Row {
        pipeline,
        workers,
        lines,
        usage,
        own_cpu: own,
        bulks,
    }
}

/// Says how many of the first lines the filters fail on: a bench of failing grok would measure
/// the wrong thing.
fn check_filters(input: &Path) {
    const SAMPLE: usize = 2_000;
    let data = fs::read(input).expect("read the input file");
    let end = memchr::memchr_iter(b'\n', &data)
        .nth(SAMPLE - 1)
        .map_or(data.len(), |i| i + 1);
    let config =
        format!("input {{ stdin {{}} }}\n{FILTERS}\noutput {{ stdout {{ codec => json_lines }} }}");
    let mut child = support::spawn_sluice(&config, 1, Stdio::piped(), Stdio::piped());
    let mut stdin = child.stdin.take().expect("piped stdin");
    let sample = data[..end].to_vec();
    let writer = thread::spawn(move || stdin.write_all(&sample));
    let out = child.wait_with_output().expect("run sluice");
    writer.join().expect("writer").expect("write the sample");
    let text = String::from_utf8_lossy(&out.stdout);
    let events = text.lines().count();
    let grok = text.matches("_grokparsefailure").count();
    let date = text.matches("_dateparsefailure").count();
    println!("filter check: {events} events, {grok} _grokparsefailure, {date} _dateparsefailure");
    assert!(
        events > 0 && grok * 100 < events,
        "grok fails on most lines"
    );
}

// ---------------------------------------------------------------------------------------------
// Latency

fn latency(es: &EsRuntime, start: Instant, rates: &[u64]) {
    println!("latency: stdin arrival -> bulk answered, stdin -> elasticsearch, -w 1");
    println!("{}", LatencyReport::header(ALL_PERCENTILES));
    for &rate in rates {
        let report = measure_latency(es, start, rate, Duration::from_secs(3));
        println!("{}", report.line(ALL_PERCENTILES));
    }
}

/// Streams `rate` lines a second for `duration` through a fresh sluice into a fresh stand-in
/// and times each line from its writing to its bulk request's answer.
fn measure_latency(es: &EsRuntime, start: Instant, rate: u64, duration: Duration) -> LatencyReport {
    let standin = es.start();
    let mut tap = standin.tap_bulk();
    let total = rate * duration.as_millis() as u64 / 1000;
    let config = es_config(&standin, "");
    let mut child = support::spawn_sluice(&config, 1, Stdio::piped(), Stdio::null());
    let stdin = child.stdin.take().expect("piped stdin");
    let started = Instant::now();
    // Dropping stdin once written closes it: sluice drains and exits.
    let writer = thread::spawn(move || drop(support::write_paced(stdin, start, rate, total, "")));
    // The answer to every request is reported before it is sent, so once sluice has exited
    // (every event acknowledged) the tap holds them all.
    wait_measured(child, started);
    writer.join().expect("writer thread");
    es.stop(standin);
    LatencyReport::new(rate, latencies(&mut tap, start, total))
}

/// Every event's latency (ns) from the tapped bulk requests; fails unless each of the `total`
/// lines came exactly once, unaltered, in a request answered 200.
fn latencies(tap: &mut UnboundedReceiver<BulkSeen>, start: Instant, total: u64) -> Vec<u64> {
    let mut seen = vec![false; total as usize];
    let mut latencies = Vec::with_capacity(total as usize);
    while let Ok(bulk) = tap.try_recv() {
        assert_eq!(bulk.status, 200, "a bulk request was refused");
        let answered = bulk.answered.duration_since(start).as_nanos() as u64;
        for source in sources(&bulk.body) {
            let (seq, sent) = parse_message(source);
            let slot = seen
                .get_mut(seq as usize)
                .unwrap_or_else(|| panic!("line {seq} was never sent"));
            assert!(!*slot, "line {seq} indexed twice");
            *slot = true;
            latencies.push(answered.saturating_sub(sent));
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(
        missing, 0,
        "{missing} of {total} lines never reached the stand-in"
    );
    latencies
}

/// `(SEQ, SENT_NANOS)` from a document's `message`.
fn parse_message(source: &[u8]) -> (u64, u64) {
    let doc: serde_json::Value = serde_json::from_slice(source).expect("a JSON document");
    let message = doc["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {doc}"));
    support::parse_seq_sent(message).unwrap_or_else(|| panic!("altered line {message:?}"))
}
