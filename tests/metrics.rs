//! Worker metrics sent to statsd: a real pipeline (generator -> grok -> the Elasticsearch
//! stand-in) reports through `metrics-exporter-statsd` to a UDP listener (tags on and off), and
//! to the real statsd daemon (npm `statsd`, installed by `scripts/install-deps.sh` under
//! `target/npm`) whose graphite backend flushes to this test: names, types and values.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{es, no_env, plan_of};
use sluice::metrics::reporter::default_tags;
use sluice::metrics::{Reporter, StatsdConfig};
use sluice::pipeline::{Pipeline, PipelineSettings, PipelineStats};

/// Grok and Elasticsearch counters are process-wide: one pipeline at a time in this binary.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// 50 rounds of a matching and a non-matching line: 100 events, 50 grok matches.
const ROUNDS: usize = 50;

fn config(es_url: &str) -> String {
    format!(
        r#"input {{ generator {{ id => "gen" lines => ["ok 1", "bad line"] count => {ROUNDS} }} }}
           filter {{ grok {{ id => "parse" match => {{ "message" => "^ok %{{NUMBER:n}}$" }} }} }}
           output {{ elasticsearch {{ id => "es" hosts => ["{es_url}"] index => "logs" }} }}"#
    )
}

fn statsd_config(port: u16, tags: bool) -> StatsdConfig {
    StatsdConfig {
        host: "127.0.0.1".into(),
        port,
        prefix: "sluice".into(),
        flush_interval: Duration::from_millis(100),
        tags,
        default_tags: default_tags(Some("web.1234".into())),
    }
}

/// Runs the pipeline to its end with a reporter beside it; the reporter's last flush happens
/// when it is dropped, after the pipeline finished.
fn run_reported(config: StatsdConfig) -> Arc<PipelineStats> {
    let es = es();
    let mut plan = plan_of(&self::config(&es.standin.url()), &no_env);
    let filters = plan.filters.instrument(None);
    let settings = PipelineSettings {
        workers: 2,
        ..PipelineSettings::default()
    };
    let pipeline = Pipeline::new(plan, settings);
    let stats = pipeline.stats();
    stats.attach_filters(filters);
    let reporter = Reporter::start(config, stats.clone()).unwrap();
    pipeline
        .run_until(std::future::pending::<()>())
        .expect("pipeline runs");
    assert_eq!(es.standin.count("logs"), 2 * ROUNDS);
    drop(reporter);
    stats
}

/// One statsd line: `name:value|type[|#tags]`.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    name: String,
    value: f64,
    kind: String,
    tags: Vec<String>,
}

fn parse(line: &str) -> Line {
    let (name, rest) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let mut fields = rest.split('|');
    let value = fields
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    let kind = fields
        .next()
        .unwrap_or_else(|| panic!("no type: {line}"))
        .to_string();
    let tags = fields
        .find_map(|f| f.strip_prefix('#'))
        .map(|t| t.split(',').map(String::from).collect())
        .unwrap_or_default();
    Line {
        name: name.to_string(),
        value,
        kind,
        tags,
    }
}

/// Every line received until the socket has been quiet for half a second.
fn receive_all(socket: &UdpSocket) -> Vec<Line> {
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut lines = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = socket.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        lines.extend(text.split('\n').filter(|l| !l.is_empty()).map(parse));
    }
    lines
}

/// Lines named `name` whose tags include every one of `tags`.
fn matching<'l>(lines: &'l [Line], name: &str, tags: &[&str]) -> Vec<&'l Line> {
    lines
        .iter()
        .filter(|l| l.name == name && tags.iter().all(|t| l.tags.iter().any(|x| x == t)))
        .collect()
}

/// Exactly-tagged: the line's own tags (beyond the defaults) are `tags`.
fn own_tags(line: &Line) -> Vec<&str> {
    let mut own: Vec<&str> = line
        .tags
        .iter()
        .map(String::as_str)
        .filter(|t| !t.starts_with("host:") && !t.starts_with("mesos_task_id:"))
        .collect();
    own.sort_unstable();
    own
}

fn counter_sum(lines: &[&Line]) -> f64 {
    assert!(!lines.is_empty(), "no such counter");
    for l in lines {
        assert_eq!(l.kind, "c", "{l:?}");
    }
    lines.iter().map(|l| l.value).sum()
}

#[test]
fn tagged_metrics_reach_a_udp_listener_with_their_types_and_values() {
    let _one = one_at_a_time();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let stats = run_reported(statsd_config(port, true));
    let lines = receive_all(&socket);
    let host = format!("host:{}", default_tags(None)[0].1);
    for l in &lines {
        assert!(l.name.starts_with("sluice."), "{l:?}");
        assert!(l.tags.contains(&host), "no host tag: {l:?}");
        assert!(
            l.tags.iter().any(|t| t == "mesos_task_id:web.1234"),
            "{l:?}"
        );
        assert!(l.tags.iter().any(|t| t == "pipeline:main"), "{l:?}");
    }
    let only = |name: &str, tags: &[&str]| -> Vec<&Line> {
        let mut want: Vec<&str> = tags.to_vec();
        want.sort_unstable();
        matching(&lines, name, tags)
            .into_iter()
            .filter(|l| own_tags(l) == want)
            .collect()
    };
    let events = 2.0 * ROUNDS as f64;
    assert_eq!(
        counter_sum(&only("sluice.events.in", &["pipeline:main"])),
        events
    );
    assert_eq!(
        counter_sum(&only("sluice.events.filtered", &["pipeline:main"])),
        events
    );
    assert_eq!(
        counter_sum(&only("sluice.events.out", &["pipeline:main"])),
        events
    );
    let input = ["pipeline:main", "plugin:gen"];
    assert_eq!(counter_sum(&only("sluice.events.out", &input)), events);
    let grok = ["pipeline:main", "plugin:parse"];
    assert_eq!(counter_sum(&only("sluice.events.in", &grok)), events);
    assert_eq!(counter_sum(&only("sluice.events.out", &grok)), events);
    let output = ["pipeline:main", "plugin:es"];
    assert_eq!(counter_sum(&only("sluice.events.in", &output)), events);
    assert_eq!(counter_sum(&only("sluice.events.out", &output)), events);
    let pipeline = ["pipeline:main"];
    assert_eq!(
        counter_sum(&only("sluice.grok.matches", &pipeline)),
        ROUNDS as f64
    );
    assert_eq!(
        counter_sum(&only("sluice.grok.failures", &pipeline)),
        ROUNDS as f64
    );
    assert_eq!(
        counter_sum(&only("sluice.es.docs.indexed", &pipeline)),
        events
    );
    let requests = counter_sum(&only("sluice.es.bulk.requests", &pipeline));
    assert!(requests >= 1.0, "{requests}");
    for name in [
        "es.bulk.retries",
        "es.bulk.failures",
        "dlq.events",
        "input.dropped",
    ] {
        let name = format!("sluice.{name}");
        assert_eq!(counter_sum(&only(&name, &pipeline)), 0.0, "{name}");
    }
    assert_eq!(counter_sum(&only("sluice.reload.success", &pipeline)), 0.0);

    let gauge = |name: &str, tags: &[&str]| -> f64 {
        let found = only(name, tags);
        let last = found
            .last()
            .unwrap_or_else(|| panic!("no gauge {name} {tags:?}"));
        assert_eq!(last.kind, "g", "{last:?}");
        last.value
    };
    assert_eq!(
        gauge("sluice.queue.capacity", &["pipeline:main", "queue:input"]),
        4.0
    );
    assert_eq!(
        gauge("sluice.queue.depth", &["pipeline:main", "queue:input"]),
        0.0
    );
    let out_queue = ["pipeline:main", "plugin:es", "queue:output"];
    assert_eq!(gauge("sluice.queue.capacity", &out_queue), 4.0);
    assert_eq!(gauge("sluice.queue.depth", &out_queue), 0.0);
    let rate_in = only(
        "sluice.events.per_second",
        &["pipeline:main", "direction:in"],
    );
    let rate_out = only(
        "sluice.events.per_second",
        &["pipeline:main", "direction:out"],
    );
    assert!(!rate_in.is_empty() && !rate_out.is_empty());
    assert!(rate_in.iter().all(|l| l.kind == "g" && l.value >= 0.0));
    // Everything arrived in the flushes: the rates over them add up to the events (within the
    // flushes' timing).
    assert!(rate_out.iter().any(|l| l.value > 0.0), "{rate_out:?}");

    for name in ["latency.filter", "latency.output", "latency.end_to_end"] {
        let samples = only(&format!("sluice.{name}"), &pipeline);
        assert!(!samples.is_empty(), "no {name}");
        assert!(samples.iter().all(|l| l.kind == "ms" && l.value >= 0.0));
    }
    let batches = stats.latency().end_to_end.count();
    let e2e = only("sluice.latency.end_to_end", &pipeline).len() as u64;
    assert!(e2e >= 1 && e2e <= batches, "{e2e} of {batches}");
}

#[test]
fn untagged_metrics_fold_tags_into_the_names() {
    let _one = one_at_a_time();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    run_reported(statsd_config(port, false));
    let lines = receive_all(&socket);
    let host = sluice::metrics::names::segment(&default_tags(None)[0].1);
    let prefix = format!("sluice.{host}.web_1234.");
    for l in &lines {
        assert!(l.tags.is_empty(), "tags sent: {l:?}");
        assert!(l.name.starts_with(&prefix), "{l:?}");
    }
    let sum = |name: &str| {
        let full = format!("{prefix}{name}");
        counter_sum(&matching(&lines, &full, &[]))
    };
    let events = 2.0 * ROUNDS as f64;
    assert_eq!(sum("events.in.main"), events);
    assert_eq!(sum("events.in.main.parse"), events);
    assert_eq!(sum("events.out.main.es"), events);
    assert_eq!(sum("grok.matches.main"), ROUNDS as f64);
    assert_eq!(sum("grok.failures.main"), ROUNDS as f64);
    let capacity = matching(&lines, &format!("{prefix}queue.capacity.main.input"), &[]);
    assert_eq!(
        capacity.last().map(|l| (l.kind.as_str(), l.value)),
        Some(("g", 4.0))
    );
    let timer = matching(&lines, &format!("{prefix}latency.end_to_end.main"), &[]);
    assert!(!timer.is_empty() && timer.iter().all(|l| l.kind == "ms"));
}

/// The statsd daemon, killed on drop.
struct Statsd {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Statsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts statsd on `port` with its graphite backend flushing every 200 ms to `graphite`.
fn start_statsd(port: u16, graphite: u16) -> Statsd {
    let stats_js =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/npm/node_modules/statsd/stats.js");
    assert!(
        stats_js.exists(),
        "{} missing: run scripts/install-deps.sh",
        stats_js.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.js");
    std::fs::write(
        &config,
        format!(
            r#"{{ port: {port}, address: "127.0.0.1", mgmt_address: "127.0.0.1",
                 mgmt_port: {mgmt}, flushInterval: 200, backends: ["./backends/graphite"],
                 graphiteHost: "127.0.0.1", graphitePort: {graphite},
                 graphite: {{ legacyNamespace: false, globalPrefix: "stats" }} }}"#,
            mgmt = free_tcp_port()
        ),
    )
    .unwrap();
    let child = Command::new("node")
        .arg(&stats_js)
        .arg(&config)
        .current_dir(stats_js.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs statsd");
    Statsd { child, _dir: dir }
}

/// Collects graphite plaintext lines (`path value timestamp`) statsd flushes to `listener`.
fn collect_graphite(listener: TcpListener) -> Arc<Mutex<Vec<(String, f64)>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut parts = line.split(' ');
                if let (Some(path), Some(Ok(value))) =
                    (parts.next(), parts.next().map(str::parse::<f64>))
                {
                    sink.lock().unwrap().push((path.to_string(), value));
                }
            }
        }
    });
    lines
}

/// The sum of every flush's value of `path` (a counter's counts, a timer's counts).
fn total(lines: &[(String, f64)], path: &str) -> f64 {
    lines
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn the_statsd_daemon_aggregates_what_the_worker_sends() {
    let _one = one_at_a_time();
    let graphite = TcpListener::bind("127.0.0.1:0").unwrap();
    let graphite_port = graphite.local_addr().unwrap().port();
    let received = collect_graphite(graphite);
    let port = free_udp_port();
    let _statsd = start_statsd(port, graphite_port);

    // Ready once a probe counter comes back through a flush.
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while total(&received.lock().unwrap(), "stats.counters.probe.count") == 0.0 {
        assert!(Instant::now() < deadline, "statsd never flushed the probe");
        probe.send_to(b"probe:1|c", ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }

    run_reported(statsd_config(port, false));
    // Two flushes of statsd after the reporter's last.
    std::thread::sleep(Duration::from_millis(700));
    let lines = received.lock().unwrap().clone();
    let host = sluice::metrics::names::segment(&default_tags(None)[0].1);
    let name = |n: &str| format!("sluice.{host}.web_1234.{n}");
    let counter = |n: &str| total(&lines, &format!("stats.counters.{}.count", name(n)));
    let events = 2.0 * ROUNDS as f64;
    assert_eq!(counter("events.in.main"), events);
    assert_eq!(counter("events.out.main"), events);
    assert_eq!(counter("events.in.main.parse"), events);
    assert_eq!(counter("grok.matches.main"), ROUNDS as f64);
    assert_eq!(counter("es.docs.indexed.main"), events);
    let gauge = |n: &str| {
        let path = format!("stats.gauges.{}", name(n));
        lines
            .iter()
            .rev()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| *v)
    };
    assert_eq!(gauge("queue.capacity.main.input"), Some(4.0));
    assert_eq!(gauge("queue.depth.main.input"), Some(0.0));
    let timed = total(
        &lines,
        &format!("stats.timers.{}.count", name("latency.end_to_end.main")),
    );
    assert!(timed >= 1.0, "latency.end_to_end not a timer in statsd");
    let bad = total(&lines, "stats.statsd.bad_lines_seen");
    assert_eq!(bad, 0.0, "statsd refused some lines");
}
