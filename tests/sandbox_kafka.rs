//! The Kafka sandbox: [`MockKafka`] loads each file format so that a plain rdkafka consumer
//! reads back exactly what the file said (values, keys, headers, partitions, timestamps; Flume
//! events decode to the line and its headers), bad files fail with `path:line` errors; and the
//! `sluice sandbox kafka` command serves loaded messages, feeds a `sluice run` kafka input with
//! the flume codec end to end, exits 0 on SIGTERM and non-zero on a bad `--load` file.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Offset, TopicPartitionList};
use sluice::codecs::flume::parse_event;
use sluice::event::Value;
use sluice::standin::kafka::{Format, Message, MockKafka, MockKafkaError};
use tempfile::TempDir;

/// How long a test waits for something that should happen well within it.
const PATIENCE: Duration = Duration::from_secs(10);

/// One message as a consumer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    partition: i32,
    value: Vec<u8>,
    key: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: Option<i64>,
}

impl Got {
    fn value(&self) -> &str {
        std::str::from_utf8(&self.value).unwrap()
    }
}

/// Exactly `n` messages of `topic`'s `partitions` partitions from the beginning, read by a
/// consumer with explicitly assigned partitions (no group join); fails on fewer within the
/// patience or on more arriving shortly after.
fn consume(servers: &str, topic: &str, partitions: i32, n: usize) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", "sandbox-test")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} arrived: {got:?}",
            got.len()
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            got.push(to_got(&message.unwrap()));
        }
    }
    let quiet = Instant::now() + Duration::from_millis(300);
    while Instant::now() < quiet {
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            panic!("more than {n} messages: {:?}", to_got(&message.unwrap()));
        }
    }
    got
}

fn to_got(message: &impl rdkafka::Message) -> Got {
    let headers = message.headers().map_or_else(Vec::new, |h| {
        h.iter()
            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
            .collect()
    });
    Got {
        partition: message.partition(),
        value: message.payload().unwrap_or_default().to_vec(),
        key: message.key().map(<[u8]>::to_vec),
        headers,
        timestamp: message.timestamp().to_millis(),
    }
}

/// A file named `name` in `dir` holding `text`.
fn file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn values(got: &[Got]) -> Vec<&str> {
    got.iter().map(Got::value).collect()
}

#[test]
fn lines_become_one_message_each_in_order() {
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("t", 1).unwrap();
    let dir = TempDir::new().unwrap();
    let crlf = file(&dir, "a.log", "first\r\nsecond\n\nlast without newline");
    let trailing = file(&dir, "b.log", "x\ny\n");
    assert_eq!(kafka.load_file(&crlf, &Format::Lines, "t").unwrap(), 4);
    assert_eq!(kafka.load_file(&trailing, &Format::Lines, "t").unwrap(), 2);
    let got = consume(&kafka.bootstrap_servers(), "t", 1, 6);
    assert_eq!(
        values(&got),
        ["first", "second", "", "last without newline", "x", "y"]
    );
    assert!(got
        .iter()
        .all(|g| g.key.is_none() && g.headers.is_empty() && g.partition == 0));
}

#[test]
fn json_lines_set_every_field_and_may_name_other_topics() {
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("t", 3).unwrap();
    let dir = TempDir::new().unwrap();
    let path = file(
        &dir,
        "m.json",
        concat!(
            r#"{"value":"a","key":"k1","partition":2,"timestamp":1700000000123,"headers":{"z":"1","a":"2"}}"#,
            "\n\n",
            r#"{"value":"b","partition":0}"#,
            "\n",
            r#"{"value":"c","topic":"other","partition":1,"key":null}"#,
            "\n",
            r#"{"value":"d","topic":"third"}"#,
        ),
    );
    assert_eq!(kafka.load_file(&path, &Format::Json, "t").unwrap(), 4);
    let topics = [("other".into(), 3), ("t".into(), 3), ("third".into(), 3)];
    assert_eq!(kafka.topics(), topics);
    let servers = kafka.bootstrap_servers();
    let mut got = consume(&servers, "t", 3, 2);
    got.sort_by_key(|g| g.partition);
    assert_eq!(got[0].value(), "b");
    assert_eq!(got[0].key, None);
    let a = &got[1];
    assert_eq!(
        (a.value(), a.partition, a.timestamp),
        ("a", 2, Some(1_700_000_000_123))
    );
    assert_eq!(a.key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(
        a.headers,
        [("z".into(), b"1".to_vec()), ("a".into(), b"2".to_vec())]
    );
    let other = consume(&servers, "other", 3, 1);
    assert_eq!((other[0].value(), other[0].partition), ("c", 1));
    assert_eq!(values(&consume(&servers, "third", 3, 1)), ["d"]);
}

#[test]
fn flume_lines_are_avro_events_with_headers_key_and_timestamp() {
    let kafka = MockKafka::with_brokers(1).unwrap();
    kafka.create_topic("f", 2).unwrap();
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "f.log", "GET /index.html 200\nPOST /login 302\n");
    let format = Format::Flume {
        headers: vec![
            ("host".into(), "web1".into()),
            ("key".into(), "web1-key".into()),
        ],
    };
    let before = now_millis();
    assert_eq!(kafka.load_file(&path, &format, "f").unwrap(), 2);
    let after = now_millis();
    let got = consume(&kafka.bootstrap_servers(), "f", 2, 2);
    let mut bodies = BTreeSet::new();
    for message in &got {
        let (headers, body) = parse_event(&Bytes::from(message.value.clone())).unwrap();
        bodies.insert(String::from_utf8(body.to_vec()).unwrap());
        let header = |name: &str| match headers.get(name) {
            Some(Value::Str(s)) => s.to_string(),
            other => panic!("header {name}: {other:?}"),
        };
        assert_eq!(headers.len(), 3);
        assert_eq!(header("host"), "web1");
        assert_eq!(header("key"), "web1-key");
        let stamp: i64 = header("timestamp").parse().unwrap();
        assert!((before..=after).contains(&stamp), "{stamp}");
        assert_eq!(message.timestamp, Some(stamp));
        assert_eq!(message.key.as_deref(), Some(&b"web1-key"[..]));
    }
    assert_eq!(
        bodies,
        BTreeSet::from(["GET /index.html 200".into(), "POST /login 302".into()])
    );
}

#[test]
fn produce_sends_built_messages_and_checks_partitions() {
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("p", 2).unwrap();
    let messages = [
        Message::new("one")
            .with_partition(1)
            .with_key("k")
            .with_header("h", "v")
            .with_timestamp(1_600_000_000_000),
        Message::new("two").with_partition(0),
    ];
    assert_eq!(kafka.produce("p", messages).unwrap(), 2);
    let mut got = consume(&kafka.bootstrap_servers(), "p", 2, 2);
    got.sort_by_key(|g| g.partition);
    let expected_one = Got {
        partition: 1,
        value: b"one".to_vec(),
        key: Some(b"k".to_vec()),
        headers: vec![("h".into(), b"v".to_vec())],
        timestamp: Some(1_600_000_000_000),
    };
    assert_eq!(got[1], expected_one);
    assert_eq!((got[0].value(), got[0].partition), ("two", 0));

    let error = kafka
        .produce("p", [Message::new("x").with_partition(2)])
        .unwrap_err();
    assert!(
        matches!(
            error,
            MockKafkaError::Partition {
                partition: 2,
                partitions: 2,
                ..
            }
        ),
        "{error}"
    );
    let error = kafka.create_topic("p", 2).unwrap_err();
    assert!(
        error.to_string().starts_with("cannot create topic p"),
        "{error}"
    );
    assert_eq!(
        kafka.cluster().bootstrap_servers(),
        kafka.bootstrap_servers()
    );
}

/// The error of loading `text` as `format`, checked to be a `Line` error at `line`.
#[test]
fn messages_the_mock_cluster_would_drop_are_an_error_not_a_silent_loss() {
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("small", 1).unwrap();
    // 8 MiB into one partition: more than the mock keeps.
    let big = vec![b'x'; 4096];
    let messages = (0..2048).map(|_| Message::new(big.clone()));
    match kafka.produce("small", messages) {
        Err(MockKafkaError::Trimmed {
            topic,
            partition,
            lost,
        }) => {
            assert_eq!((topic.as_str(), partition), ("small", 0));
            assert!(lost > 0);
        }
        other => panic!("expected the loss to be reported, got {other:?}"),
    }
    // Spread over enough partitions, the same load fits.
    kafka.create_topic("wide", 8).unwrap();
    let messages = (0..2048).map(|i| Message::new(big.clone()).with_partition(i % 8));
    assert_eq!(kafka.produce("wide", messages).unwrap(), 2048);
}

fn line_error(format: &Format, text: &str, line: usize) -> String {
    let kafka = MockKafka::with_brokers(1).unwrap();
    kafka.create_topic("t", 2).unwrap();
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "bad", text);
    let error = kafka.load_file(&path, format, "t").unwrap_err();
    let message = error.to_string();
    let prefix = format!("{}:{line}: ", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        matches!(&error, MockKafkaError::Line { line: l, .. } if *l == line),
        "{error:?}"
    );
    message[prefix.len()..].to_string()
}

#[test]
fn bad_files_name_the_path_and_line() {
    let good = r#"{"value":"ok"}"#;
    let what = line_error(
        &Format::Json,
        &format!("{good}\n{good}\n{{\"value\":\"x\",\"vlaue\":\"y\"}}\n"),
        3,
    );
    assert!(what.starts_with("unknown field `vlaue`"), "{what}");
    let what = line_error(&Format::Json, &format!("{good}\noops\n"), 2);
    assert!(what.starts_with("expected value"), "{what}");
    let what = line_error(&Format::Json, r#"{"key":"k"}"#, 1);
    assert!(what.starts_with("missing field `value`"), "{what}");
    let what = line_error(&Format::Json, r#"{"value":"v","headers":{"a":1}}"#, 1);
    assert!(what.contains("invalid type: integer `1`"), "{what}");
    let what = line_error(
        &Format::Json,
        &format!("{good}\n{{\"value\":\"v\",\"partition\":2}}"),
        2,
    );
    assert_eq!(what, "partition 2 out of range: topic t has 2 partitions");
    let what = line_error(&Format::Json, r#"{"value":"v","partition":-1}"#, 1);
    assert_eq!(what, "partition -1 out of range: topic t has 2 partitions");
    let what = line_error(&Format::Json, r#"{"value":"v","partition":99999999999}"#, 1);
    assert!(what.starts_with("invalid value"), "{what}");
    let what = line_error(&Format::Json, r#"{"value":"v","topic":"a b"}"#, 1);
    assert!(what.starts_with("invalid topic name \"a b\""), "{what}");
    let what = line_error(&Format::Json, r#"{"value":"v","timestamp":-5}"#, 1);
    assert!(what.starts_with("timestamp -5 is negative"), "{what}");

    let kafka = MockKafka::with_brokers(1).unwrap();
    let missing = Path::new("/nonexistent/sandbox/messages.log");
    let error = kafka.load_file(missing, &Format::Lines, "t").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/sandbox/messages.log: "),
        "{error}"
    );
    assert!(MockKafka::with_brokers(0).is_err());
    assert!(kafka.create_topic("z", 0).is_err());
}

// ---- the `sluice` binary ----

/// A child process whose stdout lines arrive on a channel and whose stderr is kept; killed on
/// drop so a failed assert leaves no process behind.
struct Spawned {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    fn new(args: &[&str]) -> Spawned {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if send.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Spawned {
            child,
            lines,
            stderr,
        }
    }

    /// The next stdout line (fails if none comes within the patience).
    fn line(&self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => panic!("no line on stdout ({e}); stderr: {}", self.stderr()),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM (std only sends SIGKILL).
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status (fails if the process is still running after the patience).
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last output.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            assert!(Instant::now() < deadline, "still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox started with `args`, and the bootstrap servers from its first line.
fn sandbox(args: &[&str]) -> (Spawned, String) {
    let mut all = vec!["sandbox", "kafka"];
    all.extend_from_slice(args);
    let sandbox = Spawned::new(&all);
    let first = sandbox.line();
    let servers = first
        .strip_prefix("bootstrap_servers=")
        .unwrap_or_else(|| panic!("first line {first:?}; stderr: {}", sandbox.stderr()))
        .to_string();
    (sandbox, servers)
}

/// The stdout lines after the first, up to the closing "Ctrl-C" line.
fn summary(sandbox: &Spawned) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = sandbox.line();
        let last = line.starts_with("Ctrl-C");
        lines.push(line);
        if last {
            return lines;
        }
    }
}

#[test]
fn the_sandbox_serves_loaded_messages_and_stops_on_sigterm() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "sample.log", "alpha\nbeta\ngamma\n");
    let load = path.to_str().unwrap();
    let (mut sandbox, servers) = sandbox(&["--topic", "t:2", "--topic", "u", "--load", load]);
    assert_eq!(servers.split(',').count(), 3, "{servers}");
    let summary = summary(&sandbox);
    assert!(
        summary.contains(&"topic t: 2 partitions".to_string()),
        "{summary:?}"
    );
    assert!(
        summary.contains(&"topic u: 4 partitions".to_string()),
        "{summary:?}"
    );
    assert!(summary.contains(&format!("loaded 3 messages from {load} into t")));
    let snippet = format!(
        r#"kafka {{ bootstrap_servers => "{servers}" topics => ["t", "u"] auto_offset_reset => "earliest" }}"#
    );
    assert!(summary.iter().any(|l| l.trim() == snippet), "{summary:?}");

    let got = consume(&servers, "t", 2, 3);
    let set: BTreeSet<&str> = values(&got).into_iter().collect();
    assert_eq!(set, BTreeSet::from(["alpha", "beta", "gamma"]));

    sandbox.terminate();
    let status = sandbox.wait();
    assert!(status.success(), "{status:?}; stderr: {}", sandbox.stderr());
}

#[test]
fn a_pipeline_reads_flume_events_from_the_sandbox() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "flume.log", "line one\nline two\nline three\n");
    let (sandbox, servers) = sandbox(&[
        "--brokers",
        "1",
        "--topic",
        "t:2",
        "--format",
        "flume",
        "--header",
        "host=web1",
        "--load",
        path.to_str().unwrap(),
    ]);
    let summary = summary(&sandbox);
    assert!(
        summary.iter().any(|l| l.contains("codec => flume {}")),
        "{summary:?}"
    );
    let config = format!(
        r#"input {{ kafka {{ bootstrap_servers => "{servers}" topics => ["t"] group_id => "x"
            auto_offset_reset => "earliest" codec => flume {{}} }} }}
           output {{ stdout {{ codec => json_lines }} }}"#
    );
    let mut run = Spawned::new(&["run", "-e", &config, "-w", "1"]);
    let mut messages = BTreeSet::new();
    for _ in 0..3 {
        let line = run.line();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        let headers = &event["flume"]["headers"];
        assert_eq!(headers["host"], "web1", "{line}");
        let stamp: i64 = headers["timestamp"].as_str().unwrap().parse().unwrap();
        assert!(stamp > 1_600_000_000_000, "{line}");
        messages.insert(event["message"].as_str().unwrap().to_string());
    }
    assert_eq!(
        messages,
        BTreeSet::from(["line one".into(), "line two".into(), "line three".into()])
    );
    run.terminate();
    let status = run.wait();
    assert!(status.success(), "{status:?}; stderr: {}", run.stderr());
    drop(sandbox);
}

#[test]
fn a_bad_load_file_or_flag_fails_with_its_reason() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "bad.json", "{\"value\":\"a\"}\n{\"value\":\n");
    let load = path.to_str().unwrap();
    let mut bad = Spawned::new(&["sandbox", "kafka", "--format", "json", "--load", load]);
    let status = bad.wait();
    assert!(!status.success());
    assert!(
        bad.stderr().contains(&format!("{load}:2: ")),
        "{}",
        bad.stderr()
    );
    assert!(bad.lines.try_recv().is_err(), "nothing on stdout");

    let mut header = Spawned::new(&["sandbox", "kafka", "--header", "a=b"]);
    assert!(!header.wait().success());
    assert!(header
        .stderr()
        .contains("--header is only for --format flume"));
    let mut topic = Spawned::new(&["sandbox", "kafka", "--topic", "t:0"]);
    assert!(!topic.wait().success());
    assert!(
        topic.stderr().contains("partition count"),
        "{}",
        topic.stderr()
    );
}
