//! End-to-end latency: how long a line takes from sluice's stdin to its stdout.
//!
//! Feeds the `sluice` binary lines at a fixed rate, each carrying the time it was written, and
//! reads them back from a `stdout { codec => line { format => "%{message}" } }` output; prints
//! the latency percentiles per rate and the share delivered within 100 ms (the product goal:
//! 90%+ under 100 ms).
//!
//! `cargo bench --bench latency` runs the full set of rates on the release binary;
//! `cargo bench --bench latency -- RATE...` picks the rates (events/s). Under `cargo test` (no
//! `--bench` argument) it runs one short, slow stream as a smoke test and fails if any line is
//! lost or altered.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufReader, Read};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use support::{LatencyReport, ALL_PERCENTILES};

const CONFIG: &str = r#"input { stdin {} }
output { stdout { codec => line { format => "%{message}" } } }"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        let report = measure(2_000, Duration::from_millis(500));
        println!("smoke: {}", report.line(ALL_PERCENTILES));
        return;
    }
    let mut rates: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if rates.is_empty() {
        rates = vec![1_000, 10_000, 100_000, 500_000];
    }
    println!("{}", LatencyReport::header(ALL_PERCENTILES));
    for rate in rates {
        let report = measure(rate, Duration::from_secs(3));
        println!("{}", report.line(ALL_PERCENTILES));
    }
}

/// Streams `rate` lines a second for `duration` through a fresh sluice and times each one.
fn measure(rate: u64, duration: Duration) -> LatencyReport {
    let mut child = support::spawn_sluice(CONFIG, 1, Stdio::piped(), Stdio::piped());
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let start = Instant::now();
    let total = rate * duration.as_millis() as u64 / 1000;
    // Dropping stdin once written closes it: sluice drains and exits.
    let writer = thread::spawn(move || drop(support::write_paced(stdin, start, rate, total, "")));
    let mut reader = BufReader::new(stdout);
    let latencies = support::read_latencies(&mut reader, start, total);
    let mut rest = String::new();
    reader
        .read_to_string(&mut rest)
        .expect("read sluice's stdout");
    assert!(rest.is_empty(), "lines beyond the last sent: {rest:?}");
    writer.join().expect("writer thread");
    let status = child.wait().expect("wait for sluice");
    assert!(status.success(), "sluice exited with {status}");
    assert_eq!(latencies.len() as u64, total, "lines lost");
    LatencyReport::new(rate, latencies)
}
