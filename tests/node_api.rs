//! The node API of a running worker: `sluice run` (the real binary) with `--http.port`, asked
//! over HTTP for `/`, `/_node/stats`, `/health` and `/metrics`; the 9600-9700 fallback when
//! the port is taken; `/health` turning 503 while the Elasticsearch stand-in refuses every
//! request and back to 200 when it accepts again.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::es;
use common::http_get as get;
use serde_json::Value;
use sluice::standin::elasticsearch::{RequestFault, Times};

/// `sluice run` reading stdin, killed on drop.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    api: SocketAddr,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    /// Starts `sluice run -e CONFIG --http.port PORT` and waits for the API's address, which
    /// it prints to stderr.
    fn start(config: &str, port: u16) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "-w", "1", "-e", config, "--http.port"])
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice starts");
        let stdin = child.stdin.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.split("node API listening on http://").nth(1) {
                    let _ = found.send(at.trim().parse::<SocketAddr>().unwrap());
                }
            }
        });
        let api = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker prints the API's address");
        Worker { child, stdin, api }
    }

    fn send_lines(&mut self, lines: &[&str]) {
        for line in lines {
            writeln!(self.stdin, "{line}").unwrap();
        }
        self.stdin.flush().unwrap();
    }

    fn get(&self, path: &str) -> (u16, String) {
        get(self.api, path)
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Waits until `/_node/stats` satisfies `done`, returning it.
    fn stats_until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = self.json("/_node/stats");
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "never {what}: {stats:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn config(es_url: &str) -> String {
    format!(
        r#"input {{ stdin {{ id => "in" }} }}
           filter {{ grok {{ id => "parse" match => {{ "message" => "^ok %{{NUMBER:n}}$" }} }} }}
           output {{ elasticsearch {{ id => "es" hosts => ["{es_url}"] index => "logs"
                                      retry_initial_interval => 1 retry_max_interval => 1 }} }}"#
    )
}

#[test]
fn every_endpoint_answers_in_its_shape_with_the_pipelines_figures() {
    let es = es();
    let mut worker = Worker::start(&config(&es.standin.url()), 9600);
    assert!((9600..=9700).contains(&worker.api.port()), "{}", worker.api);
    worker.send_lines(&["ok 1", "ok 2", "nope", "ok 3"]);
    let stats = worker.stats_until("delivered 4 events", |s| {
        s["pipelines"]["main"]["events"]["out"] == 4
    });

    let main = &stats["pipelines"]["main"];
    assert_eq!(main["events"]["in"], 4, "{stats:#}");
    assert_eq!(main["events"]["filtered"], 4, "{stats:#}");
    assert!(main["events"]["duration_in_millis"].is_u64(), "{stats:#}");
    assert_eq!(stats["events"], main["events"]);
    let outputs = main["plugins"]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "{stats:#}");
    assert_eq!(outputs[0]["id"], "es");
    assert_eq!(outputs[0]["events"]["in"], 4);
    assert_eq!(outputs[0]["events"]["out"], 4);
    assert_eq!(main["plugins"]["inputs"][0]["id"], "in", "{stats:#}");
    assert_eq!(
        main["plugins"]["inputs"][0]["events"]["out"], 4,
        "{stats:#}"
    );
    let filters = main["plugins"]["filters"].as_array().unwrap();
    assert_eq!(filters.len(), 1, "{stats:#}");
    assert_eq!(filters[0]["id"], "parse");
    assert_eq!(filters[0]["name"], "grok");
    assert_eq!(filters[0]["events"]["in"], 4, "{stats:#}");
    assert_eq!(filters[0]["events"]["out"], 4, "{stats:#}");
    assert_eq!(main["queue"]["type"], "memory");
    assert_eq!(main["queue"]["events_count"], 0);
    assert_eq!(main["queue"]["input"]["capacity_in_batches"], 2);
    assert_eq!(main["queue"]["outputs"][0]["id"], "es");
    assert_eq!(main["reloads"]["successes"], 0);
    assert_eq!(main["reloads"]["failures"], 0);
    assert!(main["reloads"]["last_error"].is_null());
    assert_eq!(es.standin.count("logs"), 4);

    let root = worker.json("/");
    assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(root["release"], "local");
    assert_eq!(root["http_address"], worker.api.to_string());
    assert!(root["uptime_in_millis"].as_u64().unwrap() > 0, "{root:#}");

    let (status, health) = worker.get("/health");
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        serde_json::from_str::<Value>(&health).unwrap()["status"],
        "green"
    );

    let (status, metrics) = worker.get("/metrics");
    assert_eq!(status, 200);
    let lines: Vec<&str> = metrics.lines().collect();
    for expected in [
        "# TYPE sluice_events_in_total counter",
        "sluice_events_in_total{pipeline=\"main\"} 4",
        "sluice_events_out_total{pipeline=\"main\"} 4",
        "sluice_events_in_total{pipeline=\"main\",plugin=\"es\"} 4",
        "sluice_grok_failures_total{pipeline=\"main\"} 1",
        "sluice_grok_matches_total{pipeline=\"main\"} 3",
        "sluice_es_docs_indexed_total{pipeline=\"main\"} 4",
        "sluice_queue_capacity{pipeline=\"main\",queue=\"input\"} 2",
        "# TYPE sluice_latency_end_to_end_milliseconds summary",
    ] {
        assert!(lines.contains(&expected), "{expected} missing:\n{metrics}");
    }

    let (status, _) = worker.get("/nothing-here");
    assert_eq!(status, 404);
}

#[test]
fn a_taken_port_moves_the_api_to_the_next_free_one() {
    // A port in the range held by this test (the range is shared with other processes, so
    // take whichever is free).
    let taken = (9610..9690)
        .find_map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
        .expect("a free port in 9610-9690");
    let port = taken.local_addr().unwrap().port();
    let es = es();
    let worker = Worker::start(&config(&es.standin.url()), port);
    assert_eq!(worker.api.ip().to_string(), "127.0.0.1");
    assert!(
        worker.api.port() > port && worker.api.port() <= 9700,
        "{} after {port}",
        worker.api
    );
    assert_eq!(worker.json("/")["http_address"], worker.api.to_string());
}

#[test]
fn health_is_503_while_elasticsearch_refuses_everything_and_200_again_after() {
    let es = es();
    let mut worker = Worker::start(&config(&es.standin.url()), 9600);
    let (status, _) = worker.get("/health");
    assert_eq!(status, 200);

    es.standin
        .faults()
        .fail_requests(RequestFault::Unavailable, Times::Forever);
    worker.send_lines(&["ok 1", "ok 2"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let reasons = loop {
        let (status, body) = worker.get("/health");
        if status == 503 {
            break serde_json::from_str::<Value>(&body).unwrap();
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "never unhealthy");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(reasons["status"], "red");
    let reason = reasons["reasons"][0].as_str().unwrap();
    assert!(reason.contains("hold 2 events"), "{reason}");
    let stats = worker.json("/_node/stats");
    assert_eq!(stats["pipelines"]["main"]["queue"]["events_count"], 2);
    let (_, metrics) = worker.get("/metrics");
    let retries = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sluice_es_bulk_failures_total{pipeline=\"main\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(retries >= 1.0, "{metrics}");

    es.standin.faults().clear();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = worker.get("/health");
        if status == 200 {
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["status"],
                "green"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never healthy again: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
    worker.stats_until("delivered both", |s| {
        s["pipelines"]["main"]["events"]["out"] == 2
    });
    assert_eq!(es.standin.count("logs"), 2);
}
