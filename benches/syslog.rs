//! End-to-end: RFC 3164 syslog over TCP into the `sluice` binary's `syslog` input.
//!
//! - Throughput: 1,000,000 lines (the filebeat system/auth sample lines of
//!   `../shared/corpus/syslog/filebeat`, with a `<PRI>` in front, repeated) written as fast as
//!   one TCP connection takes them into `output { null {} }`, with `-w 1` and `-w 2`; a last
//!   marker line goes to a `stdout` output, and its arrival ends the clock. Prints events/s
//!   and sluice's CPU time per event (utime + stime from `/proc/PID/stat`).
//! - Latency: lines at fixed rates, each carrying its send time, read back from
//!   `stdout { codec => line { format => "%{message}" } }`: p50/p90/p99/max and the share
//!   delivered within 100 ms.
//!
//! `cargo bench --bench syslog` runs both; `cargo bench --bench syslog -- latency RATE...` or
//! `-- throughput LINES` picks one. Under `cargo test --benches` (no `--bench` argument) it runs
//! a short smoke version of each and fails if any line is lost or altered.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{LatencyReport, Percentile, Proc};

const CORPUS: &str = "../shared/corpus/syslog/filebeat/system";
/// What the paced latency lines carry before their `SEQ SENT_NANOS` message.
const PACED_PREFIX: &str = "<14>Mar  1 12:00:00 benchhost bench[7]: ";
/// The latency table's percentiles: p50, p90, p99 and the maximum.
const PERCENTILES: &[Percentile] = &[
    (0.5, "p50 ms"),
    (0.9, "p90 ms"),
    (0.99, "p99 ms"),
    (1.0, "max ms"),
];
const MARKER: &str = "<13>Jan  1 00:00:00 benchhost bench: END-OF-RUN";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        smoke();
        return;
    }
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let only = |what: &str| args.iter().any(|a| a == what);
    let all = !only("latency") && !only("throughput");
    if all || only("throughput") {
        let lines = numbers
            .first()
            .copied()
            .filter(|_| only("throughput"))
            .unwrap_or(1_000_000);
        for workers in [1, 2] {
            println!("{}", throughput(lines as usize, workers, false).line());
        }
    }
    if all || only("latency") {
        let mut rates = if only("latency") { numbers } else { Vec::new() };
        if rates.is_empty() {
            rates = vec![1_000, 10_000, 100_000];
        }
        println!("{}", LatencyReport::header(PERCENTILES));
        for rate in rates {
            let report = latency(rate, Duration::from_secs(3));
            println!("{}", report.line(PERCENTILES));
        }
    }
}

/// Quick runs that check nothing is lost (for `cargo test --benches`).
fn smoke() {
    let report = throughput(20_000, 1, true);
    println!("smoke: {}", report.line());
    let report = latency(2_000, Duration::from_millis(500));
    println!("smoke: {}", report.line(PERCENTILES));
}

/// The sample lines, each with a `<PRI>` in front.
fn corpus() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["auth/test", "syslog/test"] {
        let mut entries: Vec<_> = std::fs::read_dir(format!("{CORPUS}/{dir}"))
            .expect("the filebeat syslog corpus in ../shared/corpus")
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    let mut lines = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        // Continuation lines of multi-line entries (indented) are not syslog lines.
        for (j, line) in text.lines().enumerate() {
            if line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                lines.push(format!("<{}>{line}", (i * 7 + j * 3) % 192));
            }
        }
    }
    assert!(lines.len() >= 15, "too few corpus lines: {}", lines.len());
    lines
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running sluice with a syslog input on `port`.
struct Sluice {
    child: Child,
    port: u16,
}

impl Sluice {
    fn start(workers: usize, outputs: &str) -> Sluice {
        let port = free_port();
        let config = format!(
            "input {{ syslog {{ host => \"127.0.0.1\" port => {port} timezone => \"UTC\" }} }}\n\
             output {{ {outputs} }}"
        );
        let child = support::spawn_sluice(&config, workers, Stdio::null(), Stdio::piped());
        Sluice { child, port }
    }

    fn connect(&self) -> TcpStream {
        let started = Instant::now();
        loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(stream) => return stream,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("sluice does not listen on {}: {e}", self.port),
            }
        }
    }

    fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("piped stdout")
    }

    /// utime + stime so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        Proc::of(self.child.id()).cpu().as_secs_f64()
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One throughput run.
struct Throughput {
    workers: usize,
    events: usize,
    seconds: f64,
    cpu_seconds: f64,
}

impl Throughput {
    fn line(&self) -> String {
        format!(
            "throughput -w {}: {} events in {:.2} s = {:.0} events/s; sluice CPU {:.2} s = {:.2} µs/event ({:.2} cores)",
            self.workers,
            self.events,
            self.seconds,
            self.events as f64 / self.seconds,
            self.cpu_seconds,
            self.cpu_seconds * 1e6 / self.events as f64,
            self.cpu_seconds / self.seconds
        )
    }
}

/// Writes `lines` corpus lines and the marker over one connection; the clock stops when the
/// marker comes out of sluice. With `verify`, every event is printed and counted (one worker
/// keeps them in order: all must come out before the marker).
fn throughput(lines: usize, workers: usize, verify: bool) -> Throughput {
    let corpus = corpus();
    let mut payload = Vec::with_capacity(lines * 120);
    support::write_repeated(&mut payload, &corpus, lines).expect("write to memory");
    payload.extend_from_slice(MARKER.as_bytes());
    payload.push(b'\n');
    let print = "stdout { codec => line { format => \"%{message}\" } }";
    let outputs = if verify {
        print.to_string()
    } else {
        format!("if [message] == \"END-OF-RUN\" {{ {print} }} else {{ null {{}} }}")
    };
    let mut sluice = Sluice::start(workers, &outputs);
    let mut stream = sluice.connect();
    let stdout = sluice.stdout();
    thread::sleep(Duration::from_millis(50));
    let cpu_before = sluice.cpu_seconds();
    let started = Instant::now();
    let writer = thread::spawn(move || {
        stream.write_all(&payload).expect("write to sluice");
        stream
    });
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let mut before_marker = 0;
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read sluice's stdout") > 0,
            "sluice ended early"
        );
        if line.trim_end() == "END-OF-RUN" {
            break;
        }
        before_marker += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = sluice.cpu_seconds() - cpu_before;
    if verify {
        assert_eq!(before_marker, lines, "lines lost");
    }
    drop(writer.join().expect("writer"));
    Throughput {
        workers,
        events: lines + 1,
        seconds,
        cpu_seconds,
    }
}

/// Streams `rate` syslog lines a second for `duration` and times each one through sluice.
fn latency(rate: u64, duration: Duration) -> LatencyReport {
    let mut sluice = Sluice::start(1, "stdout { codec => line { format => \"%{message}\" } }");
    let stream = sluice.connect();
    let stdout = sluice.stdout();
    let total = rate * duration.as_millis() as u64 / 1000;
    let start = Instant::now();
    let writer =
        thread::spawn(move || support::write_paced(stream, start, rate, total, PACED_PREFIX));
    let mut reader = BufReader::new(stdout);
    let latencies = support::read_latencies(&mut reader, start, total);
    let stream = writer.join().expect("writer thread");
    drop(stream);
    assert_eq!(latencies.len() as u64, total, "lines lost");
    let mut rest = Vec::new();
    drop(sluice);
    let _ = reader.read_to_end(&mut rest);
    LatencyReport::new(rate, latencies)
}
