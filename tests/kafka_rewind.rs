//! `sluice kafka rewind` against librdkafka's in-process mock cluster, run as the real binary:
//! the dry run's table (NEW computed from the timestamps produced) commits nothing, `--execute`
//! makes the group replay exactly the messages at or after the time, `--to-earliest`,
//! `--to-latest`, `--by-duration`, the refusal while another member is active, and argument
//! errors.
//!
//! The mock cluster answers offsets-for-times with "the end" for any time, so these tests also
//! exercise the verification and the binary search over message timestamps.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

type Cluster = MockCluster<'static, DefaultProducerContext>;

/// How long a test waits for messages or a group's assignment.
const PATIENCE: Duration = Duration::from_secs(20);

/// 2026-11-21T10:00:00Z in milliseconds.
const BASE: i64 = 1_795_255_200_000;

/// A mock cluster with topic `t` of `partitions` partitions.
fn cluster(partitions: i32) -> Cluster {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("t", partitions, 1).unwrap();
    cluster
}

/// Messages per partition: their timestamps in milliseconds, in offset order.
type Stamps = Vec<Vec<i64>>;

/// Produces `p<partition>-<index>` to each partition of `t`, stamped with `stamps`.
fn produce(cluster: &Cluster, stamps: &Stamps) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    for (p, times) in stamps.iter().enumerate() {
        for (i, &time) in times.iter().enumerate() {
            let payload = format!("p{p}-{i}");
            let record = BaseRecord::<(), _>::to("t")
                .partition(p as i32)
                .payload(&payload)
                .timestamp(time);
            producer.send(record).unwrap();
        }
    }
    producer.flush(PATIENCE).unwrap();
}

/// A consumer of `group`, fast to join the mock's groups.
fn consumer(cluster: &Cluster, group: &str) -> BaseConsumer {
    consumer_at(&cluster.bootstrap_servers(), group)
}

fn consumer_at(servers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "100")
        .create()
        .unwrap()
}

/// Payloads by partition, in arrival order.
type Received = BTreeMap<i32, Vec<String>>;

/// Polls `consumer` until `n` messages came, then a little longer to catch any extra one.
fn receive(consumer: &BaseConsumer, n: usize) -> Received {
    let mut got = Received::new();
    let mut count = 0;
    let deadline = Instant::now() + PATIENCE;
    let mut settle = None;
    while settle.is_none_or(|end| Instant::now() < end) {
        assert!(
            Instant::now() < deadline,
            "{count} of {n} messages: {got:?}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let payload = String::from_utf8(message.payload().unwrap().to_vec()).unwrap();
            got.entry(message.partition()).or_default().push(payload);
            count += 1;
        }
        if count >= n && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(700));
        }
    }
    got
}

/// Consumes all `n` messages as `group` and commits its position, as the group's workers did
/// before the bad release; leaves the group.
fn consume_and_commit(cluster: &Cluster, group: &str, n: usize) {
    let consumer = consumer(cluster, group);
    consumer.subscribe(&["t"]).unwrap();
    assert_eq!(
        receive(&consumer, n).values().map(Vec::len).sum::<usize>(),
        n
    );
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
}

/// What a fresh consumer of `group` receives: `n` messages, and nothing more.
fn replayed(cluster: &Cluster, group: &str, n: usize) -> Received {
    let consumer = consumer(cluster, group);
    consumer.subscribe(&["t"]).unwrap();
    receive(&consumer, n)
}

/// The group's committed offset of each of partitions `0..partitions` (`None`: none).
fn committed(cluster: &Cluster, group: &str, partitions: i32) -> Vec<Option<i64>> {
    let consumer = consumer(cluster, group);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset("t", p, Offset::Invalid).unwrap();
    }
    let tpl = consumer.committed_offsets(tpl, PATIENCE).unwrap();
    let offset = |p| match tpl.find_partition("t", p).unwrap().offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    };
    (0..partitions).map(offset).collect()
}

/// Runs `sluice kafka rewind` with `args`.
fn rewind(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["kafka", "rewind"])
        .args(args)
        .output()
        .unwrap()
}

/// The mock cluster's shortest session timeout. When the last member leaves a group, the mock
/// waits for its session timeout less 1 s before it takes the next join: with librdkafka's
/// default (45 s), a consumer after the tool would wait 44 s.
const SHORT_SESSION: &str = "session.timeout.ms=6000";

/// `rewind` on `cluster`'s topic `t` for `group`, expected to succeed.
fn rewind_ok(cluster: &Cluster, group: &str, args: &[&str]) -> Output {
    let servers = cluster.bootstrap_servers();
    let common = [
        "--bootstrap-servers",
        &servers,
        "--group",
        group,
        "--topic",
        "t",
        "--kafka-property",
        SHORT_SESSION,
    ];
    let output = rewind(&[&common[..], args].concat());
    assert!(output.status.success(), "{}", describe(&output));
    output
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The table's rows: (topic, partition, CURRENT, NEW).
fn table(output: &Output) -> Vec<(String, i32, String, i64)> {
    let text = stdout(output);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["TOPIC", "PARTITION", "CURRENT", "NEW"]);
    lines
        .map_while(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let [topic, p, current, new] = cells[..] else {
                return None;
            };
            Some((
                topic.into(),
                p.parse().ok()?,
                current.into(),
                new.parse().ok()?,
            ))
        })
        .collect()
}

/// The first offset of each partition whose timestamp is at or after `target` (the end when
/// none is).
fn first_at_or_after(stamps: &Stamps, target: i64) -> Vec<i64> {
    let first = |times: &Vec<i64>| {
        times
            .iter()
            .position(|&t| t >= target)
            .unwrap_or(times.len())
    };
    stamps.iter().map(|times| first(times) as i64).collect()
}

/// The payloads of each partition from `from[p]` on.
fn payloads_from(stamps: &Stamps, from: &[i64]) -> Received {
    let mut expected = Received::new();
    for (p, times) in stamps.iter().enumerate() {
        let payloads: Vec<String> = (from[p] as usize..times.len())
            .map(|i| format!("p{p}-{i}"))
            .collect();
        if !payloads.is_empty() {
            expected.insert(p as i32, payloads);
        }
    }
    expected
}

fn total(stamps: &Stamps) -> usize {
    stamps.iter().map(Vec::len).sum()
}

/// Four partitions whose messages cross `BASE + 270 s` at different offsets: one exactly at
/// it, one never (its new offset is the end).
fn stamps() -> Stamps {
    let seconds = |list: &[i64]| list.iter().map(|s| BASE + s * 1000).collect();
    vec![
        seconds(&[0, 60, 120, 180, 240, 300, 360, 420, 480, 540]),
        seconds(&[30, 150, 270, 390, 510, 630]),
        seconds(&[0, 30, 60, 90, 120, 150, 180, 210, 240, 270]),
        seconds(&[0, 10, 20, 30, 40]),
    ]
}

#[test]
fn to_datetime_dry_run_commits_nothing_and_execute_replays_from_the_time() {
    let cluster = cluster(4);
    let stamps = stamps();
    produce(&cluster, &stamps);
    consume_and_commit(&cluster, "g", total(&stamps));
    let ends: Vec<Option<i64>> = stamps.iter().map(|t| Some(t.len() as i64)).collect();
    assert_eq!(committed(&cluster, "g", 4), ends);

    // 2026-11-21T10:04:30Z = BASE + 270 s, in another zone's notation.
    let target = BASE + 270_000;
    let expected = first_at_or_after(&stamps, target);
    assert_eq!(expected, [5, 2, 9, 5]);
    let dry = rewind_ok(
        &cluster,
        "g",
        &["--to-datetime", "2026-11-21T11:04:30+01:00"],
    );
    let rows = table(&dry);
    for (p, row) in rows.iter().enumerate() {
        let current = stamps[p].len().to_string();
        assert_eq!(row, &("t".into(), p as i32, current, expected[p]));
    }
    assert_eq!(rows.len(), 4);
    assert!(stdout(&dry).contains("dry run: nothing committed; add --execute to commit"));
    assert_eq!(committed(&cluster, "g", 4), ends, "the dry run committed");
    // The mock answers "the end" for any time: right for partition 3 only.
    let log = stderr(&dry);
    assert!(
        log.contains("t/3: 5 (offsets-for-times, verified)"),
        "{log}"
    );
    assert!(
        log.contains("t/0: 5 (offsets-for-times answered 10, but"),
        "{log}"
    );
    assert!(log.contains("binary search read"), "{log}");

    let some = rewind_ok(
        &cluster,
        "g",
        &[
            "--to-datetime",
            "2026-11-21T10:04:30Z",
            "--partitions",
            "0,2",
        ],
    );
    let rows: Vec<(i32, i64)> = table(&some).iter().map(|r| (r.1, r.3)).collect();
    assert_eq!(rows, [(0, 5), (2, 9)]);

    let done = rewind_ok(
        &cluster,
        "g",
        &["--to-datetime", "2026-11-21T10:04:30Z", "--execute"],
    );
    assert_eq!(table(&done), rows_of(&stamps, &expected));
    assert!(
        stdout(&done).contains("committed: group g"),
        "{}",
        describe(&done)
    );
    let expected_offsets: Vec<Option<i64>> = expected.iter().map(|&o| Some(o)).collect();
    assert_eq!(committed(&cluster, "g", 4), expected_offsets);
    let want = payloads_from(&stamps, &expected);
    let n = want.values().map(Vec::len).sum();
    assert_eq!(replayed(&cluster, "g", n), want);
}

/// The table `--execute` prints: CURRENT is where the group was (the end).
fn rows_of(stamps: &Stamps, new: &[i64]) -> Vec<(String, i32, String, i64)> {
    let row = |(p, times): (usize, &Vec<i64>)| {
        ("t".to_string(), p as i32, times.len().to_string(), new[p])
    };
    stamps.iter().enumerate().map(row).collect()
}

#[test]
fn to_earliest_replays_everything_and_to_latest_skips_it() {
    let cluster = cluster(2);
    let stamps: Stamps = vec![(0..5).map(|i| BASE + i).collect(); 2];
    produce(&cluster, &stamps);
    cluster.create_topic("u", 1, 1).unwrap();
    // The group never committed: CURRENT is `-`. Topics in a list, `t` named twice.
    let dry = rewind_ok(&cluster, "e", &["--to-latest", "--topic", "u,t"]);
    let rows: Vec<(String, i32, String, i64)> = table(&dry);
    let row = |topic: &str, p, new| (topic.to_string(), p, "-".to_string(), new);
    assert_eq!(rows, [row("t", 0, 5), row("t", 1, 5), row("u", 0, 0)]);
    assert!(stderr(&dry).contains("t/1: 5 (latest: the end (high watermark))"));

    consume_and_commit(&cluster, "e", 10);
    let done = rewind_ok(&cluster, "e", &["--to-earliest", "--execute"]);
    assert_eq!(table(&done), rows_of(&stamps, &[0, 0]));
    assert_eq!(replayed(&cluster, "e", 10), payloads_from(&stamps, &[0, 0]));
}

#[test]
fn by_duration_replays_the_last_stretch() {
    let cluster = cluster(2);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let minutes_ago = |list: &[i64]| list.iter().map(|m| now - m * 60_000).collect();
    let stamps: Stamps = vec![
        minutes_ago(&[180, 150, 120, 90, 60, 30]),
        minutes_ago(&[170, 100, 80, 5]),
    ];
    produce(&cluster, &stamps);
    consume_and_commit(&cluster, "d", 10);
    let done = rewind_ok(&cluster, "d", &["--by-duration", "1h45m", "--execute"]);
    assert_eq!(table(&done), rows_of(&stamps, &[3, 1]));
    let want = payloads_from(&stamps, &[3, 1]);
    assert_eq!(replayed(&cluster, "d", 6), want);
}

/// A worker of `group` that consumes all `n` messages, commits, and stays a member (polling)
/// until `stop` is set. Returns once it committed.
fn active_worker(
    cluster: &Cluster,
    group: &str,
    n: usize,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (servers, group) = (cluster.bootstrap_servers(), group.to_string());
    let (ready, is_ready) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let consumer = consumer_at(&servers, &group);
        consumer.subscribe(&["t"]).unwrap();
        receive(&consumer, n);
        consumer.commit_consumer_state(CommitMode::Sync).unwrap();
        ready.send(()).unwrap();
        while !stop.load(Ordering::Relaxed) {
            consumer.poll(Duration::from_millis(50));
        }
    });
    is_ready
        .recv_timeout(PATIENCE)
        .expect("the worker consumed and committed");
    handle
}

#[test]
fn an_active_member_makes_execute_refuse_and_commit_nothing() {
    let cluster = cluster(2);
    let stamps: Stamps = vec![(0..4).map(|i| BASE + i).collect(); 2];
    produce(&cluster, &stamps);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = active_worker(&cluster, "busy", 8, stop.clone());
    assert_eq!(committed(&cluster, "busy", 2), [Some(4), Some(4)]);
    let started = Instant::now();
    let servers = cluster.bootstrap_servers();
    let output = rewind(&[
        "--bootstrap-servers",
        &servers,
        "--group",
        "busy",
        "--topic",
        "t",
        "--to-earliest",
        "--execute",
        "--timeout",
        "6s",
        "--kafka-property",
        SHORT_SESSION,
    ]);
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let error = stderr(&output);
    let expected = "group busy has other active members holding partitions [t/";
    assert!(error.contains(expected), "{error}");
    assert!(error.contains("nothing committed"), "{error}");
    assert!(
        error.contains("scale the Marathon app to 0 instances"),
        "{error}"
    );
    assert!(!stdout(&output).contains("committed:"));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(committed(&cluster, "busy", 2), [Some(4), Some(4)]);
}

/// A failing `rewind`: its exit status and stderr.
fn rewind_error(args: &[&str]) -> (Option<i32>, String) {
    let output = rewind(args);
    assert!(output.stdout.is_empty(), "{}", describe(&output));
    (output.status.code(), stderr(&output))
}

#[test]
fn usage_errors_exit_2() {
    let common = [
        "--bootstrap-servers",
        "localhost:1",
        "--group",
        "g",
        "--topic",
        "t",
    ];
    let cases: [(&[&str], &str); 5] = [
        (&[], "--to-datetime"),
        (&["--to-earliest", "--to-latest"], "cannot be used with"),
        (&["--to-datetime", "yesterday"], "is not a time"),
        (&["--by-duration", "2x"], "is not a duration"),
        (
            &["--to-earliest", "--kafka-property", "group.id=x"],
            "set by the tool",
        ),
    ];
    for (args, expected) in cases {
        let (status, error) = rewind_error(&[&common[..], args].concat());
        assert_eq!(status, Some(2), "{args:?}: {error}");
        assert!(error.contains(expected), "{args:?}: {error}");
    }
    let (status, error) = rewind_error(&["--group", "g", "--to-earliest"]);
    assert_eq!(status, Some(2));
    assert!(error.contains("--bootstrap-servers"), "{error}");
}

#[test]
fn cluster_errors_exit_1_with_what_went_wrong() {
    let cluster = cluster(2);
    let servers = cluster.bootstrap_servers();
    let run = |topic: &str, extra: &[&str]| {
        let args = [
            "--bootstrap-servers",
            &servers,
            "--group",
            "g",
            "--topic",
            topic,
        ];
        rewind_error(&[&args[..], &["--to-earliest", "--timeout", "5s"], extra].concat())
    };
    let (status, error) = run("nope", &[]);
    assert_eq!(status, Some(1));
    assert!(error.contains("topic `nope` does not exist"), "{error}");
    let (status, error) = run("t", &["--partitions", "0,7"]);
    assert_eq!(status, Some(1));
    assert!(error.contains("topic `t` has no partition 7"), "{error}");
    let (status, error) = run("t", &["--kafka-property", "no.such.property=1"]);
    assert_eq!(status, Some(1));
    assert!(error.contains("no.such.property"), "{error}");

    // Nothing listens on port 1: a timeout, not a hang.
    let started = Instant::now();
    let (status, error) = rewind_error(&[
        "--bootstrap-servers",
        "127.0.0.1:1",
        "--group",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--timeout",
        "2s",
    ]);
    assert_eq!(status, Some(1));
    assert!(
        error.contains("no answer from the Kafka brokers at 127.0.0.1:1"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
