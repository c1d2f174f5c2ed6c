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

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"input { stdin {} }
output { stdout { codec => line { format => "%{message}" } } }"#;

/// How often the writer wakes up to write the lines that have come due.
const TICK: Duration = Duration::from_millis(1);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        let report = measure(2_000, Duration::from_millis(500));
        println!("smoke: {}", report.line());
        return;
    }
    let mut rates: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if rates.is_empty() {
        rates = vec![1_000, 10_000, 100_000, 500_000];
    }
    println!(
        "{:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "events/s", "events", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "<100ms"
    );
    for rate in rates {
        println!("{}", measure(rate, Duration::from_secs(3)).line());
    }
}

/// Latencies of one run.
struct Report {
    rate: u64,
    /// Nanoseconds, sorted.
    latencies: Vec<u64>,
}

impl Report {
    fn percentile_ms(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i] as f64 / 1e6
    }

    fn under_100ms(&self) -> f64 {
        let fast = self.latencies.partition_point(|&l| l < 100_000_000);
        100.0 * fast as f64 / self.latencies.len() as f64
    }

    fn line(&self) -> String {
        format!(
            "{:>10} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7.1}%",
            self.rate,
            self.latencies.len(),
            self.percentile_ms(0.5),
            self.percentile_ms(0.9),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.percentile_ms(1.0),
            self.under_100ms()
        )
    }
}

/// Streams `rate` lines a second for `duration` through a fresh sluice and times each one.
fn measure(rate: u64, duration: Duration) -> Report {
    let mut child = spawn_sluice();
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let start = Instant::now();
    let total = rate * duration.as_millis() as u64 / 1000;
    let writer = thread::spawn(move || write_paced(stdin, start, rate, total));
    let mut latencies = Vec::with_capacity(total as usize);
    for (expected, line) in BufReader::new(stdout).lines().enumerate() {
        let line = line.expect("read sluice's stdout");
        let received = start.elapsed().as_nanos() as u64;
        let (seq, sent) = parse_line(&line).unwrap_or_else(|| panic!("altered line {line:?}"));
        assert_eq!(seq, expected as u64, "lines lost or reordered");
        latencies.push(received.saturating_sub(sent));
    }
    writer.join().expect("writer thread");
    let status = child.wait().expect("wait for sluice");
    assert!(status.success(), "sluice exited with {status}");
    assert_eq!(latencies.len() as u64, total, "lines lost");
    latencies.sort_unstable();
    Report { rate, latencies }
}

fn spawn_sluice() -> Child {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-w", "1", "--log.level", "error", "-e", CONFIG])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sluice")
}

/// Writes `total` lines `SEQ SENT_NANOS`, as many each tick as have come due at `rate`.
fn write_paced(stdin: std::process::ChildStdin, start: Instant, rate: u64, total: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, stdin);
    let mut seq = 0;
    while seq < total {
        let elapsed = start.elapsed();
        let due = (elapsed.as_nanos() * rate as u128 / 1_000_000_000).min(total as u128) as u64;
        let now = elapsed.as_nanos() as u64;
        while seq < due {
            writeln!(out, "{seq} {now}").expect("write to sluice");
            seq += 1;
        }
        out.flush().expect("flush to sluice");
        thread::sleep(TICK);
    }
    // Dropping the writer closes sluice's stdin: it drains and exits.
}

fn parse_line(line: &str) -> Option<(u64, u64)> {
    let (seq, sent) = line.split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}
