//! Pieces shared by the end-to-end benches (`latency`, `elasticsearch`, `syslog`, `kafka`),
//! included from each with `#[path = "support/mod.rs"] mod support;` (a benches subfolder is no
//! bench target).
//!
//! - [`es`]: the Elasticsearch stand-in on a runtime of its own, and tapped bulk bodies.
//! - [`spawn_sluice`]: the `sluice` binary under test, quiet, with the pipes a bench asks for.
//! - [`write_paced`] and [`read_latencies`]: lines `SEQ SENT_NANOS` written at a fixed rate, and
//!   read back in order with each one's latency; [`parse_seq_sent`] reads one such message.
//! - [`LatencyReport`]: the sorted latencies of a run, its percentiles, its share under 100 ms
//!   and its table row ([`LatencyReport::header`] the matching header, over [`Percentile`]
//!   columns such as [`ALL_PERCENTILES`]).
//! - [`Proc`]: a process's CPU time and state from `/proc/PID/stat` and its peak RSS (`VmHWM`)
//!   from `/proc/PID/status`; [`own_cpu`] for this process.
//! - [`write_repeated`]: corpus lines repeated to a given count; [`apache_file`] the Apache
//!   corpus repeated to N lines as a file under `target/e2e/`.

// Every bench uses only some of these.
#![allow(dead_code)]

pub mod es;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Real Apache access lines, relative to the repository root.
pub const APACHE_CORPUS: &str = "../shared/corpus/access/apache/apache_logs";

/// How often the paced writer wakes up to write the lines that have come due.
pub const TICK: Duration = Duration::from_millis(1);

/// `USER_HZ`: the unit of `/proc/PID/stat` times, 100 on every Linux architecture in use.
pub const CLOCK_TICKS_PER_S: u64 = 100;

/// Starts `sluice run -w WORKERS --log.level error -e CONFIG` (the binary this package builds)
/// with the given stdin and stdout.
pub fn spawn_sluice(config: &str, workers: usize, stdin: Stdio, stdout: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-w", &workers.to_string(), "--log.level", "error"])
        .args(["-e", config])
        .stdin(stdin)
        .stdout(stdout)
        .spawn()
        .expect("start sluice")
}

/// Writes `total` lines `PREFIX SEQ SENT_NANOS` to `out` at `rate` lines a second, counted from
/// the call: each [`TICK`] it writes the lines that have come due, stamped with the time since
/// `clock`, and flushes. Gives `out` back, flushed; drop it to close the stream.
pub fn write_paced<W: Write>(out: W, clock: Instant, rate: u64, total: u64, prefix: &str) -> W {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut seq = 0;
    let begun = clock.elapsed();
    while seq < total {
        let elapsed = clock.elapsed();
        let since_begun = (elapsed - begun).as_nanos();
        let due = (since_begun * rate as u128 / 1_000_000_000).min(total as u128) as u64;
        let now = elapsed.as_nanos() as u64;
        while seq < due {
            writeln!(out, "{prefix}{seq} {now}").expect("write to sluice");
            seq += 1;
        }
        out.flush().expect("flush to sluice");
        thread::sleep(TICK);
    }
    out.into_inner()
        .unwrap_or_else(|e| panic!("flush to sluice: {}", e.error()))
}

/// `(SEQ, SENT_NANOS)` from a line `SEQ SENT_NANOS`.
pub fn parse_seq_sent(line: &str) -> Option<(u64, u64)> {
    let (seq, sent) = line.split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

/// Reads up to `total` lines `SEQ SENT_NANOS` (stopping early at end of input) and gives each
/// one's latency: its arrival minus its send time, both ns since `clock`. Fails on a line
/// altered, lost or out of order; fewer than `total` (input ended) is for the caller to judge.
pub fn read_latencies(reader: &mut impl BufRead, clock: Instant, total: u64) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(total as usize);
    let mut line = String::new();
    while (latencies.len() as u64) < total {
        line.clear();
        if reader.read_line(&mut line).expect("read sluice's stdout") == 0 {
            break;
        }
        let received = clock.elapsed().as_nanos() as u64;
        let text = line.trim_end_matches(['\n', '\r']);
        let (seq, sent) = parse_seq_sent(text).unwrap_or_else(|| panic!("altered line {text:?}"));
        assert_eq!(seq, latencies.len() as u64, "lines lost or reordered");
        latencies.push(received.saturating_sub(sent));
    }
    latencies
}

/// A column of a latency table: the fraction of events at or under it, and its header.
pub type Percentile = (f64, &'static str);

/// p50, p90, p99, p99.9 and the maximum.
pub const ALL_PERCENTILES: &[Percentile] = &[
    (0.5, "p50 ms"),
    (0.9, "p90 ms"),
    (0.99, "p99 ms"),
    (0.999, "p99.9 ms"),
    (1.0, "max ms"),
];

/// The latencies of one run at a fixed rate.
pub struct LatencyReport {
    pub rate: u64,
    /// Nanoseconds, sorted.
    pub latencies: Vec<u64>,
}

impl LatencyReport {
    /// The report of `latencies` (ns, any order) of a run at `rate` events/s.
    pub fn new(rate: u64, mut latencies: Vec<u64>) -> LatencyReport {
        latencies.sort_unstable();
        LatencyReport { rate, latencies }
    }

    /// The latency at fraction `p` (0.5 = median, 1.0 = max), in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i] as f64 / 1e6
    }

    /// The share of events delivered within 100 ms, in percent.
    pub fn under_100ms(&self) -> f64 {
        let fast = self.latencies.partition_point(|&l| l < 100_000_000);
        100.0 * fast as f64 / self.latencies.len() as f64
    }

    /// The table header above [`LatencyReport::line`]s with these columns.
    pub fn header(columns: &[Percentile]) -> String {
        let mut header = format!("{:>10} {:>9}", "events/s", "events");
        for (_, name) in columns {
            let _ = write!(header, " {name:>9}");
        }
        let _ = write!(header, " {:>8}", "<100ms");
        header
    }

    /// The table row: rate, events, each column's percentile and the share under 100 ms.
    pub fn line(&self, columns: &[Percentile]) -> String {
        let mut line = format!("{:>10} {:>9}", self.rate, self.latencies.len());
        for &(p, _) in columns {
            let _ = write!(line, " {:>9.2}", self.percentile_ms(p));
        }
        let _ = write!(line, " {:>7.1}%", self.under_100ms());
        line
    }
}

/// The `/proc` files of one process, named once so that polling them formats nothing.
pub struct Proc {
    stat: String,
    status: String,
}

impl Proc {
    /// The process `pid`.
    pub fn of(pid: u32) -> Proc {
        Proc {
            stat: format!("/proc/{pid}/stat"),
            status: format!("/proc/{pid}/status"),
        }
    }

    /// This process.
    pub fn current() -> Proc {
        Proc {
            stat: "/proc/self/stat".to_string(),
            status: "/proc/self/status".to_string(),
        }
    }

    /// The state letter and the CPU time (utime + stime of all threads) from `stat`; `None`
    /// once the process is gone (or where there is no /proc).
    pub fn stat(&self) -> Option<(char, Duration)> {
        let text = fs::read_to_string(&self.stat).ok()?;
        // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace();
        let state = fields.next()?.chars().next()?;
        // Fields 14 and 15 of the man page: 11 and 12 after the state.
        let mut rest = fields.skip(10);
        let utime: u64 = rest.next()?.parse().ok()?;
        let stime: u64 = rest.next()?.parse().ok()?;
        let cpu = Duration::from_millis((utime + stime) * 1000 / CLOCK_TICKS_PER_S);
        Some((state, cpu))
    }

    /// The CPU time so far, or zero where it cannot be read.
    pub fn cpu(&self) -> Duration {
        self.stat().map_or(Duration::ZERO, |(_, cpu)| cpu)
    }

    /// The peak resident set (`VmHWM`), KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let text = fs::read_to_string(&self.status).ok()?;
        let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// CPU time of this process so far (all threads), or zero where /proc cannot say.
pub fn own_cpu() -> Duration {
    Proc::current().cpu()
}

/// Writes `count` lines to `out`, cycling through `lines` (each without its newline).
pub fn write_repeated<L: AsRef<[u8]>>(
    out: &mut impl Write,
    lines: &[L],
    count: usize,
) -> io::Result<()> {
    for line in lines.iter().cycle().take(count) {
        out.write_all(line.as_ref())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The lines of the Apache corpus ([`APACHE_CORPUS`]), without their newlines.
pub fn apache_lines() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = fs::read(root.join(APACHE_CORPUS)).unwrap_or_else(|e| {
        panic!("read the corpus {APACHE_CORPUS} (next to the repository): {e}")
    });
    corpus
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The file of `lines` Apache lines, the corpus repeated, as `target/e2e/apache-N.log` (the
/// file `benches/e2e.sh` uses), made on first use.
pub fn apache_file(lines: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(format!("target/e2e/apache-{lines}.log"));
    if count_lines(&path) == Some(lines) {
        return path;
    }
    let corpus_lines = apache_lines();
    fs::create_dir_all(path.parent().expect("a parent")).expect("create target/e2e");
    // Written aside and renamed, so a concurrent run never reads half a file.
    let partial = path.with_extension(format!("partial.{}", std::process::id()));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial).expect("create"));
    write_repeated(&mut out, &corpus_lines, lines as usize).expect("write the input file");
    out.into_inner().expect("flush the input file");
    fs::rename(&partial, &path).expect("rename the input file");
    path
}

fn count_lines(path: &Path) -> Option<u64> {
    let data = fs::read(path).ok()?;
    Some(memchr::memchr_iter(b'\n', &data).count() as u64)
}

/// The command line of the end-to-end harnesses:
/// `[--bench] [throughput] [latency] [--lines N] [--repeats R] [RATE...]`.
pub struct Args {
    /// Run by `cargo bench` (else: `cargo test --benches`, a smoke run).
    pub bench: bool,
    pub throughput: bool,
    pub latency: bool,
    pub lines: u64,
    pub repeats: usize,
    pub rates: Vec<u64>,
}

impl Args {
    /// Parses the arguments of bench `name`; without `throughput` or `latency` both run, and
    /// without rates `default_rates` are measured.
    pub fn parse(name: &str, args: impl Iterator<Item = String>, default_rates: &[u64]) -> Args {
        let mut parsed = Args {
            bench: false,
            throughput: false,
            latency: false,
            lines: 1_000_000,
            repeats: 3,
            rates: Vec::new(),
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => parsed.bench = true,
                "throughput" => parsed.throughput = true,
                "latency" => parsed.latency = true,
                "--lines" => {
                    let n = args.next().and_then(|n| n.parse().ok());
                    parsed.lines = n.filter(|&n| n > 0).expect("--lines takes a number");
                }
                "--repeats" => {
                    let n = args.next().and_then(|n| n.parse().ok());
                    parsed.repeats = n.filter(|&n| n > 0).expect("--repeats takes a count");
                }
                other => match other.parse() {
                    Ok(rate) if rate > 0 => parsed.rates.push(rate),
                    // cargo may pass flags of its own (e.g. filters); they mean nothing here.
                    _ => eprintln!("{name} bench: ignoring argument {other:?}"),
                },
            }
        }
        if !parsed.throughput && !parsed.latency {
            parsed.throughput = true;
            parsed.latency = true;
        }
        if parsed.rates.is_empty() {
            parsed.rates = default_rates.to_vec();
        }
        parsed
    }
}
