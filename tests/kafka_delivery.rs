//! Delivery guarantees of the `kafka` input proven with real `sluice` processes: workers run as
//! child processes ([`Worker`]) against librdkafka's mock cluster (in this process, on real TCP
//! ports) and the Elasticsearch stand-in (in this process, on a runtime of its own: [`Es`]),
//! and are stopped with SIGTERM or killed with SIGKILL mid-stream.
//!
//! - Effectively once: `decorate_events` and a `document_id` of topic-partition-offset make a
//!   replay after `kill -9` overwrite documents instead of duplicating them.
//! - At least once: without `document_id`, a `kill -9` loses nothing; the duplicates a replay
//!   makes are bounded by the in-flight window ([`window`]).
//! - Scale-out: three workers in one group share the partitions; one stopped with SIGTERM
//!   (exits 0, commits what it delivered: its successor starts right after its last document)
//!   and one killed with SIGKILL are taken over, and the survivor ends up consuming everything.
//! - Order: with one filter worker, each partition is indexed in offset order.
//!
//! Takeovers are slow on the mock cluster by its design, not sluice's: after a member leaves,
//! the group waits its session timeout less 1 s for the others to rejoin (about 5 s here); a
//! killed member first holds its partitions for the whole session timeout (about 11 s in all).
//!
//! Replays are made certain, not left to timing: the stand-in answers bulk requests late (so
//! batches are in flight) and rejects one item with 429 just before the kill, so the request
//! holding it is stored in part and its batches can never be acknowledged (the output waits
//! `retry_initial_interval`, far longer than the test, before retrying that item).
//!
//! What the stand-in applied is read from its bulk tap ([`Es::ops`]): every applied request's
//! body, so every index operation with its document id, message and the worker that sent it.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, DeliveryResult, Producer, ProducerContext,
};
use rdkafka::{ClientContext, Message};
use serde_json::Value;
use sluice::standin::elasticsearch::{BulkSeen, ItemFault, Scope, Times};
use tokio::sync::mpsc::UnboundedReceiver;

type Cluster = MockCluster<'static, DefaultProducerContext>;

/// Partitions of topic `t`.
const PARTITIONS: i32 = 4;

/// `-w`: filter worker threads of each sluice process.
const WORKERS: usize = 2;
/// `-b`: the pipeline batch size, also the most events in one batch of the kafka input.
const BATCH: usize = 100;
/// The elasticsearch output's `flush_size`: the most events in one bulk request.
const FLUSH: usize = 200;
/// The elasticsearch output's `max_in_flight_requests`.
const IN_FLIGHT: usize = 2;

/// The session timeout the group runs with (the mock cluster's shortest): a member killed
/// with SIGKILL keeps its partitions this long.
const SESSION: Duration = Duration::from_secs(6);

/// How long any one awaited step may take (a rejoin after a kill takes [`SESSION`] and more).
const PATIENCE: Duration = Duration::from_secs(30);

/// Events one sluice process can have taken from Kafka and sent on without their offsets
/// being committed, from the queues of `src/pipeline` and the output's dispatcher: what a
/// `kill -9` can make it read again.
///
/// - the input queue (2 batches per worker) and the input's send blocked on it: `(2W + 1) * B`;
/// - a batch each worker gathered (topped up to `B` events with whole input batches, so
///   fewer than `2B`) and is blocked handing on: `W * 2B`;
/// - the output's queue (2 per worker), the batch its `write` hands the dispatcher, the
///   dispatcher's queue (2 per request slot) and the batch waiting for a slot, each at most
///   one gathered batch: `(2W + 1 + 2F + 1) * 2B`;
/// - the requests in flight: `F * flush_size`;
/// - acknowledged but not yet committed: `auto.commit.interval.ms` is 100 ms; with every bulk
///   request answered [`SLOW`] late at most `F` requests finish within one commit interval
///   (where messages are produced as the test runs, about 100 arrive in one), twice that for
///   the commit's own round trip.
fn window() -> usize {
    let input = (2 * WORKERS + 1) * BATCH;
    let gathered = WORKERS * 2 * BATCH;
    let output = (2 * WORKERS + 1 + 2 * IN_FLIGHT + 1) * 2 * BATCH;
    let requests = IN_FLIGHT * FLUSH;
    let uncommitted = 2 * IN_FLIGHT * FLUSH;
    input + gathered + output + requests + uncommitted
}

/// How late the stand-in answers bulk requests while a replay is being bounded.
const SLOW: Duration = Duration::from_millis(100);

/// A retry interval no test outlives: a rejected item is never retried before the kill.
const NEVER_RETRY: &str = "retry_initial_interval => 600 retry_max_interval => 600";
/// Quick retries for runs that are meant to finish.
const QUICK_RETRY: &str = "retry_initial_interval => 0.1 retry_max_interval => 1";
/// Documents named by topic, partition and offset: a replay overwrites them.
const DOCUMENT_ID: &str = r#"document_id => "%{[@metadata][kafka][topic]}-%{[@metadata][kafka][partition]}-%{[@metadata][kafka][offset]}""#;

// --- Kafka --------------------------------------------------------------------------------------

/// A mock cluster of 3 brokers with topic `t` of [`PARTITIONS`] partitions.
fn cluster() -> Cluster {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic("t", PARTITIONS, 1).unwrap();
    cluster
}

/// What reached the cluster: document id `t-PARTITION-OFFSET` -> message.
type Produced = BTreeMap<String, String>;

/// Records each message the cluster acknowledged, with the offset it got.
struct Recorder {
    delivered: Arc<Mutex<Produced>>,
    failed: Arc<AtomicUsize>,
}

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let id = doc_id(m.topic(), m.partition(), m.offset());
                let payload = String::from_utf8_lossy(m.payload().unwrap_or_default());
                let mut delivered = self.delivered.lock().unwrap();
                delivered.insert(id, payload.into_owned());
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A producer of messages `m0`, `m1`, ... spread over every partition in turn.
struct Feed {
    producer: BaseProducer<Recorder>,
    delivered: Arc<Mutex<Produced>>,
    failed: Arc<AtomicUsize>,
    next: u64,
}

impl Feed {
    fn new(servers: &str) -> Feed {
        let delivered = Arc::new(Mutex::new(Produced::new()));
        let failed = Arc::new(AtomicUsize::new(0));
        let context = Recorder {
            delivered: delivered.clone(),
            failed: failed.clone(),
        };
        let producer = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .set("linger.ms", "5")
            .create_with_context(context)
            .unwrap();
        Feed {
            producer,
            delivered,
            failed,
            next: 0,
        }
    }

    /// One message to each partition.
    fn round(&mut self) {
        for partition in 0..PARTITIONS {
            let payload = format!("m{}", self.next);
            self.next += 1;
            let mut record = BaseRecord::<(), _>::to("t")
                .partition(partition)
                .payload(&payload);
            while let Err((_, back)) = self.producer.send(record) {
                // The local queue is full: let deliveries drain it.
                self.producer.poll(Duration::from_millis(10));
                record = back;
            }
        }
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until every message is acknowledged; what the cluster holds.
    fn finish(self) -> Produced {
        self.producer.flush(PATIENCE).unwrap();
        assert_eq!(
            self.failed.load(Ordering::Relaxed),
            0,
            "messages not produced"
        );
        let delivered = std::mem::take(&mut *self.delivered.lock().unwrap());
        assert_eq!(
            delivered.len() as u64,
            self.next,
            "delivery reports missing"
        );
        delivered
    }
}

/// Produces `rounds` messages to each partition and waits until the cluster has them.
fn produce(cluster: &Cluster, rounds: usize) -> Produced {
    let mut feed = Feed::new(&cluster.bootstrap_servers());
    for _ in 0..rounds {
        feed.round();
    }
    feed.finish()
}

/// Messages produced on a thread of its own, about 1000 a second, until [`Production::finish`].
struct Production {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Produced>>,
}

impl Production {
    fn start(cluster: &Cluster) -> Production {
        let servers = cluster.bootstrap_servers();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut feed = Feed::new(&servers);
            while !stopping.load(Ordering::Relaxed) {
                feed.round();
                std::thread::sleep(Duration::from_millis(4));
            }
            feed.finish()
        });
        Production {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops producing; everything produced.
    fn finish(mut self) -> Produced {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().unwrap();
        thread.join().expect("the producer thread panicked")
    }
}

impl Drop for Production {
    /// A failed test: stop producing while the cluster is still there to flush to.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn doc_id(topic: &str, partition: i32, offset: i64) -> String {
    format!("{topic}-{partition}-{offset}")
}

/// `(partition, offset)` of a document id `t-P-O`.
fn position(id: &str) -> (i32, i64) {
    let mut parts = id.rsplitn(3, '-');
    let offset = parts.next().and_then(|o| o.parse().ok());
    let partition = parts.next().and_then(|p| p.parse().ok());
    match (partition, offset) {
        (Some(p), Some(o)) => (p, o),
        _ => panic!("not a topic-partition-offset id: {id}"),
    }
}

// --- Elasticsearch ------------------------------------------------------------------------------

/// One index operation the stand-in applied (as its bulk tap reported it).
#[derive(Clone, Debug)]
struct Op {
    id: Option<String>,
    message: Option<String>,
    worker: Option<String>,
    answered: Instant,
}

impl Op {
    fn position(&self) -> (i32, i64) {
        position(self.id.as_deref().expect("an op with a document id"))
    }

    fn by(&self, worker: &str) -> bool {
        self.worker.as_deref() == Some(worker)
    }
}

/// The stand-in on a runtime of its own, with its bulk tap read into [`Op`]s.
struct Tapped {
    es: common::Es,
    tap: RefCell<UnboundedReceiver<BulkSeen>>,
    ops: RefCell<Vec<Op>>,
}

impl Tapped {
    fn start() -> Tapped {
        let es = common::es();
        let tap = RefCell::new(es.standin.tap_bulk());
        Tapped {
            es,
            tap,
            ops: RefCell::new(Vec::new()),
        }
    }

    fn count(&self) -> usize {
        self.es.standin.count("logs")
    }

    /// Every index operation applied so far, in the order they were answered.
    fn ops(&self) -> Vec<Op> {
        let mut tap = self.tap.borrow_mut();
        let mut ops = self.ops.borrow_mut();
        while let Ok(seen) = tap.try_recv() {
            ops.extend(parse_bulk(&seen));
        }
        ops.clone()
    }

    /// The stored documents of `logs`: id -> message.
    fn messages(&self) -> BTreeMap<String, String> {
        self.es
            .standin
            .docs("logs")
            .into_iter()
            .map(|(id, doc)| {
                let message = doc["message"].as_str().unwrap_or("(none)").to_string();
                (id, message)
            })
            .collect()
    }

    /// A one-line account for failure messages.
    fn summary(&self) -> String {
        let ops = self.ops();
        let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
        for op in ops.iter() {
            let worker = op.worker.clone().unwrap_or_default();
            *by_worker.entry(worker).or_default() += 1;
        }
        format!(
            "{} documents, {} index operations (by worker: {by_worker:?}), {} requests",
            self.count(),
            ops.len(),
            self.es.standin.requests().len()
        )
    }
}

/// The index operations of one answered bulk request: action and source line pairs.
fn parse_bulk(seen: &BulkSeen) -> Vec<Op> {
    if seen.status != 200 {
        return Vec::new();
    }
    let mut lines = seen
        .body
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty());
    let mut ops = Vec::new();
    while let (Some(action), Some(source)) = (lines.next(), lines.next()) {
        let action: Value = serde_json::from_slice(action).expect("an action line");
        let source: Value = serde_json::from_slice(source).expect("a source line");
        let meta = action.as_object().and_then(|a| a.get("index"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        ops.push(Op {
            id: text(meta.and_then(|m| m.get("_id"))),
            message: text(source.get("message")),
            worker: text(source.get("worker")),
            answered: seen.answered,
        });
    }
    ops
}

// --- sluice processes ---------------------------------------------------------------------------

/// A `sluice run` child process, killed when dropped (its stderr printed if a test failed).
struct Worker {
    name: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Worker {
    /// `sluice run` with [`WORKERS`] filter workers.
    fn spawn(name: &str, config: &str) -> Worker {
        Worker::spawn_with(name, config, WORKERS)
    }

    fn spawn_with(name: &str, config: &str, workers: usize) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let stderr = File::create(dir.path().join("stderr")).unwrap();
        let (workers, batch) = (workers.to_string(), BATCH.to_string());
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "-e", config, "-w", &workers, "-b", &batch])
            .arg("--path.data")
            .arg(&data)
            .args(["--log.level", "warn"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn sluice");
        Worker {
            name: name.to_string(),
            child,
            dir,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Panics (with its stderr) if the process ended.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "worker {} exited ({status}); stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// `kill -9`.
    fn kill9(&mut self) {
        self.assert_running();
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the process to finish what it accepted and exit.
    fn terminate(&mut self) -> ExitStatus {
        self.assert_running();
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "worker {} did not exit within {PATIENCE:?} of SIGTERM; stderr:\n{}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- stderr of worker {}:\n{}", self.name, self.stderr());
        }
    }
}

/// The pipeline each worker runs: topic `t` in `group` into index `logs`, each event tagged
/// with the worker's name.
fn pipeline(cluster: &Cluster, es: &Tapped, worker: &str, es_extra: &str) -> String {
    format!(
        r#"input {{ kafka {{
            bootstrap_servers => "{servers}" topics => ["t"] group_id => "g"
            auto_offset_reset => "earliest" decorate_events => true
            add_field => {{ "worker" => "{worker}" }}
            kafka_properties => {{
                "session.timeout.ms" => "{session}" "max.poll.interval.ms" => "{session}"
                "heartbeat.interval.ms" => "100" "auto.commit.interval.ms" => "100"
            }}
        }} }}
        output {{ elasticsearch {{
            hosts => ["{url}"] index => "logs"
            flush_size => {FLUSH} max_in_flight_requests => {IN_FLIGHT}
            {es_extra}
        }} }}"#,
        servers = cluster.bootstrap_servers(),
        session = SESSION.as_millis(),
        url = es.es.standin.url(),
    )
}

// --- waiting ------------------------------------------------------------------------------------

/// Polls `check` until it says done (`Ok`), for at most `limit`; panics with its last account
/// of what is missing.
fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(done) => return done,
            Err(why) if Instant::now() >= deadline => {
                panic!("waited {limit:?} for {what}: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Waits until exactly `workers` share the partitions with no owner changing: for the last
/// [`STABLE`] (all after `after`), each partition was indexed by exactly one of them and each
/// indexed some. Returns when that window began and each partition's owner.
fn wait_stable(es: &Tapped, workers: &[&str], after: Instant) -> (Instant, BTreeMap<i32, String>) {
    let wanted: BTreeSet<String> = workers.iter().map(|w| w.to_string()).collect();
    wait_for(
        PATIENCE,
        &format!("{wanted:?} to share the partitions"),
        || {
            let since = Instant::now()
                .checked_sub(STABLE)
                .filter(|&since| since > after)
                .ok_or("not long enough yet")?;
            let mut owners: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
            for op in es.ops().iter().filter(|op| op.answered >= since) {
                let (partition, _) = op.position();
                let worker = op.worker.clone().unwrap_or_default();
                owners.entry(partition).or_default().insert(worker);
            }
            let single =
                owners.len() == PARTITIONS as usize && owners.values().all(|w| w.len() == 1);
            let present: BTreeSet<String> = owners.values().flatten().cloned().collect();
            if single && present == wanted {
                let owners = owners
                    .into_iter()
                    .map(|(p, w)| (p, w.into_iter().next().unwrap()))
                    .collect();
                Ok((since, owners))
            } else {
                Err(format!("owners lately: {owners:?}; {}", es.summary()))
            }
        },
    )
}

/// How long the partition owners must stay the same to count as settled.
const STABLE: Duration = Duration::from_millis(1500);

/// Waits until the stand-in holds `n` documents or more.
fn wait_for_count(es: &Tapped, n: usize, workers: &mut [&mut Worker]) {
    wait_for(PATIENCE * 2, &format!("{n} documents"), || {
        for worker in workers.iter_mut() {
            worker.assert_running();
        }
        if es.count() >= n {
            Ok(())
        } else {
            Err(es.summary())
        }
    });
}

/// Kills `worker` with SIGKILL while a bulk request of it is surely stored only in part: one
/// item of the next request is rejected (429), and the output holds that request's batches
/// (unacknowledged) until a retry that comes only after [`NEVER_RETRY`]'s interval. Returns
/// when the process died.
fn kill_with_a_request_in_flight(es: &Tapped, worker: &mut Worker) -> Instant {
    let before = es.es.standin.faults().pending();
    es.es
        .standin
        .faults()
        .fail_items(ItemFault::Rejected, Times::Count(1));
    wait_for(PATIENCE, "a bulk item to be rejected", || {
        worker.assert_running();
        if es.es.standin.faults().pending() == before {
            Ok(())
        } else {
            Err(es.summary())
        }
    });
    worker.kill9();
    Instant::now()
}

/// Every operation (replays included) wrote the message produced at its document's offset.
fn assert_ops_carry_their_messages(ops: &[Op], produced: &Produced) {
    for op in ops {
        let id = op.id.as_deref().unwrap_or_default();
        assert_eq!(
            op.message.as_ref(),
            produced.get(id),
            "operation on {id} by {:?}",
            op.worker
        );
    }
}

/// Ids in `expected` but not in `got`, the first few.
fn missing<'a>(
    expected: impl IntoIterator<Item = &'a String>,
    got: &BTreeSet<&str>,
) -> Vec<&'a String> {
    expected
        .into_iter()
        .filter(|id| !got.contains(id.as_str()))
        .take(20)
        .collect()
}

// --- tests --------------------------------------------------------------------------------------

#[test]
fn a_kill_9_mid_stream_replays_into_the_same_documents() {
    let cluster = cluster();
    let produced = produce(&cluster, 3000);
    let n = produced.len();
    let es = Tapped::start();
    es.es
        .standin
        .faults()
        .delay(SLOW, Times::Forever, Scope::Bulk);

    let extra = format!("{DOCUMENT_ID} {NEVER_RETRY}");
    let mut first = Worker::spawn("first", &pipeline(&cluster, &es, "first", &extra));
    wait_for_count(&es, n / 4, &mut [&mut first]);
    let killed = kill_with_a_request_in_flight(&es, &mut first);
    let indexed_by_first = es.count();
    assert!(
        indexed_by_first < n,
        "the kill came after the end of the stream"
    );
    es.es.standin.faults().clear();

    let extra = format!("{DOCUMENT_ID} {QUICK_RETRY}");
    let mut second = Worker::spawn("second", &pipeline(&cluster, &es, "second", &extra));
    wait_for_count(&es, n, &mut [&mut second]);
    // Everything consumed: a graceful stop drains what is still in flight (replays included).
    assert!(second.terminate().success(), "{}", second.stderr());

    let documents = es.messages();
    let ids: BTreeSet<&str> = documents.keys().map(String::as_str).collect();
    assert_eq!(
        documents.len(),
        n,
        "missing: {:?}",
        missing(produced.keys(), &ids)
    );
    for (id, message) in &produced {
        assert_eq!(documents.get(id), Some(message), "document {id}");
    }

    // One item of the request in flight was rejected, so it was never applied.
    let ops = es.ops();
    assert_ops_carry_their_messages(&ops, &produced);
    let applied = ops.len() - 1;
    let replayed = applied - n;
    let rejoined = ops
        .iter()
        .find(|op| op.by("second"))
        .map(|op| op.answered - killed);
    eprintln!(
        "effectively once: {n} messages, {indexed_by_first} indexed before the kill, \
         {applied} index operations, {replayed} replayed (window {}), second worker's first \
         document {rejoined:?} after the kill",
        window()
    );
    assert!(
        replayed > 0,
        "the kill replayed nothing: no batch was in flight"
    );
    assert!(
        replayed <= window(),
        "{replayed} replayed, more than the in-flight window {}",
        window()
    );
    // Per partition, the second worker resumed at the first one's last commit: at or before
    // the end of what the first one indexed, never after it.
    let mut last_by_first: BTreeMap<i32, i64> = BTreeMap::new();
    let mut resumed_at: BTreeMap<i32, i64> = BTreeMap::new();
    for op in &ops {
        let (p, o) = op.position();
        if op.by("first") {
            let last = last_by_first.entry(p).or_insert(o);
            *last = (*last).max(o);
        } else {
            let resumed = resumed_at.entry(p).or_insert(o);
            *resumed = (*resumed).min(o);
        }
    }
    eprintln!("  first indexed up to {last_by_first:?}, second resumed at {resumed_at:?}");
    for (p, resumed) in &resumed_at {
        let last = last_by_first.get(p).copied().unwrap_or(-1);
        assert!(
            *resumed <= last + 1,
            "partition {p}: the second worker resumed at {resumed}, the first indexed up to {last}"
        );
    }
}

#[test]
fn a_kill_9_loses_nothing_and_replays_a_bounded_amount() {
    let cluster = cluster();
    let production = Production::start(&cluster);
    let es = Tapped::start();
    es.es
        .standin
        .faults()
        .delay(SLOW, Times::Forever, Scope::Bulk);

    let mut first = Worker::spawn("first", &pipeline(&cluster, &es, "first", NEVER_RETRY));
    wait_for_count(&es, 2000, &mut [&mut first]);
    let killed = kill_with_a_request_in_flight(&es, &mut first);
    let before_restart = es.count();
    es.es.standin.faults().clear();

    let mut second = Worker::spawn("second", &pipeline(&cluster, &es, "second", QUICK_RETRY));
    let rejoined = wait_for(PATIENCE, "the restarted worker to index", || {
        second.assert_running();
        match es.ops().iter().find(|op| op.by("second")) {
            Some(op) => Ok(op.answered - killed),
            None => Err(es.summary()),
        }
    });
    let produced = production.finish();
    let expected: BTreeSet<&str> = produced.values().map(String::as_str).collect();
    let n = expected.len();
    wait_for(PATIENCE, "every message indexed", || {
        second.assert_running();
        let got = es.messages();
        let got: BTreeSet<&str> = got.values().map(String::as_str).collect();
        match expected.difference(&got).next() {
            None => Ok(()),
            Some(first_missing) => Err(format!("{first_missing} missing; {}", es.summary())),
        }
    });
    assert!(second.terminate().success(), "{}", second.stderr());

    let documents = es.messages();
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for message in documents.values() {
        *copies.entry(message.as_str()).or_default() += 1;
    }
    let foreign: Vec<_> = copies.keys().filter(|m| !expected.contains(*m)).collect();
    assert!(foreign.is_empty(), "never produced: {foreign:?}");
    assert_eq!(copies.len(), n, "distinct messages indexed");
    let duplicates = documents.len() - n;
    let twice = copies.values().filter(|&&c| c > 1).count();
    eprintln!(
        "at least once: {n} messages, {before_restart} indexed before the restart, {} documents, \
         {duplicates} duplicates ({twice} messages more than once; window {}), restarted worker's \
         first document {rejoined:?} after the kill",
        documents.len(),
        window()
    );
    assert!(
        duplicates > 0,
        "the kill replayed nothing: no batch was in flight"
    );
    assert!(
        duplicates <= window(),
        "{duplicates} duplicates, more than the in-flight window {}",
        window()
    );
    assert!(
        copies.values().all(|&c| c <= 2),
        "one kill replays a message at most once"
    );
}

#[test]
fn workers_in_one_group_share_partitions_and_take_over_when_one_stops_or_dies() {
    let cluster = cluster();
    let es = Tapped::start();
    // Bulk answers late: the stopped worker has requests in flight to finish, and the killed
    // one's replay is bounded by [`window`].
    es.es
        .standin
        .faults()
        .delay(SLOW, Times::Forever, Scope::Bulk);
    let production = Production::start(&cluster);
    let config =
        |name: &str| pipeline(&cluster, &es, name, &format!("{DOCUMENT_ID} {QUICK_RETRY}"));
    let start = Instant::now();
    let mut w1 = Worker::spawn("w1", &config("w1"));
    let mut w2 = Worker::spawn("w2", &config("w2"));
    let mut w3 = Worker::spawn("w3", &config("w3"));

    let (settled, owners) = wait_stable(&es, &["w1", "w2", "w3"], start);
    let shared_after = settled + STABLE - start;

    // SIGTERM: w2 finishes what it took, commits it and leaves the group.
    let terminated = Instant::now();
    let status = w2.terminate();
    let exited = Instant::now();
    assert!(
        status.success(),
        "w2 exited with {status}:\n{}",
        w2.stderr()
    );
    let w2_partitions: Vec<i32> = owners
        .iter()
        .filter(|(_, w)| *w == "w2")
        .map(|(p, _)| *p)
        .collect();
    let (_, owners) = wait_stable(&es, &["w1", "w3"], exited);
    for &p in &w2_partitions {
        let ops = es.ops();
        let last_by_w2 = ops
            .iter()
            .filter(|op| op.by("w2") && op.position().0 == p)
            .map(|op| op.position().1)
            .max()
            .expect("w2 indexed its partition");
        let successor = ops
            .iter()
            .filter(|op| op.answered >= settled && !op.by("w2") && op.position().0 == p)
            .min_by_key(|op| op.position().1)
            .expect("w2's partition taken over");
        assert_eq!(
            successor.position().1,
            last_by_w2 + 1,
            "partition {p}: w2 indexed up to offset {last_by_w2} and left; its successor {:?} \
             started at {} (lower: w2 did not commit what it delivered; higher: lost)",
            successor.worker,
            successor.position().1
        );
    }
    let taken_after_term = es
        .ops()
        .iter()
        .filter(|op| op.answered >= exited && w2_partitions.contains(&op.position().0))
        .map(|op| op.answered - exited)
        .next()
        .expect("w2's partitions taken over");
    // w2 left the group on its way out: the mock cluster hands a leaver's partitions on after
    // its rebalance wait (session timeout - 1 s); a member that just vanished would hold them
    // for its whole session timeout first, then that wait (11 s).
    assert!(
        taken_after_term < SESSION + Duration::from_secs(2),
        "w2's partitions were taken {taken_after_term:?} after its exit: it did not leave the group"
    );

    // SIGKILL: w3's partitions go to w1 once the group gives up on w3.
    let w3_partitions: Vec<i32> = owners
        .iter()
        .filter(|(_, w)| *w == "w3")
        .map(|(p, _)| *p)
        .collect();
    assert!(!w3_partitions.is_empty(), "w3 owns nothing: {owners:?}");
    w3.kill9();
    let killed = Instant::now();
    let taken_after_kill = wait_for(PATIENCE, "w1 to take w3's partitions", || {
        w1.assert_running();
        let taken: BTreeSet<i32> = es
            .ops()
            .iter()
            .filter(|op| op.answered > killed && op.by("w1"))
            .map(|op| op.position().0)
            .filter(|p| w3_partitions.contains(p))
            .collect();
        if taken.len() == w3_partitions.len() {
            Ok(Instant::now() - killed)
        } else {
            Err(format!("taken: {taken:?}; {}", es.summary()))
        }
    });

    let produced = production.finish();
    let n = produced.len();
    wait_for_count(&es, n, &mut [&mut w1]);
    assert!(w1.terminate().success(), "{}", w1.stderr());

    // The union of what every worker indexed is what was produced, each exactly once.
    let ops = es.ops();
    let union: BTreeSet<&str> = ops.iter().filter_map(|op| op.id.as_deref()).collect();
    assert_eq!(
        union.len(),
        n,
        "missing: {:?}",
        missing(produced.keys(), &union)
    );
    let documents = es.messages();
    assert_eq!(documents, produced);
    assert_ops_carry_their_messages(&ops, &produced);
    for worker in ["w1", "w2", "w3"] {
        assert!(
            ops.iter().any(|op| op.by(worker)),
            "{worker} indexed nothing"
        );
    }
    // The survivor consumed everything from the kill's takeover on, up to each partition's end.
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for id in produced.keys() {
        let (p, o) = position(id);
        let end = ends.entry(p).or_insert(o);
        *end = (*end).max(o);
    }
    let after_takeover: Vec<&Op> = ops
        .iter()
        .filter(|op| op.answered > killed + taken_after_kill)
        .collect();
    let others: Vec<_> = after_takeover.iter().filter(|op| !op.by("w1")).collect();
    assert!(
        others.is_empty(),
        "after the takeover, not by w1: {others:?}"
    );
    for (p, end) in &ends {
        let last = ops
            .iter()
            .filter(|op| op.position().0 == *p)
            .max_by_key(|op| op.position().1)
            .unwrap();
        assert_eq!(last.position().1, *end);
        assert!(last.by("w1"), "partition {p} ended with {:?}", last.worker);
    }
    // What the kill made w1 read again is bounded by the in-flight window.
    let mut replayed = 0;
    for &p in &w3_partitions {
        let last_by_w3 = ops
            .iter()
            .filter(|op| op.by("w3") && op.position().0 == p)
            .map(|op| op.position().1)
            .max()
            .unwrap_or(-1);
        let resumed = ops
            .iter()
            .filter(|op| op.answered > killed && op.by("w1") && op.position().0 == p)
            .map(|op| op.position().1)
            .min()
            .unwrap();
        assert!(resumed <= last_by_w3 + 1, "partition {p}: a gap");
        replayed += (last_by_w3 + 1 - resumed) as usize;
    }
    eprintln!(
        "scale-out: {n} messages, {} index operations; all three sharing {shared_after:?} after \
         start; w2 drained and exited {:?} after SIGTERM, its partitions {w2_partitions:?} \
         indexed by others {taken_after_term:?} after its exit, replaying nothing; w3's \
         partitions {w3_partitions:?} taken by w1 {taken_after_kill:?} after SIGKILL, \
         {replayed} messages replayed (window {})",
        ops.len(),
        exited - terminated,
        window()
    );
    assert!(replayed <= window());
}

/// Runs one worker with `workers` filter threads over a backlog, into a slow Elasticsearch;
/// each partition's documents must be indexed in offset order, once each.
fn each_partition_indexed_in_order(workers: usize) {
    let cluster = cluster();
    let produced = produce(&cluster, 2500);
    let es = Tapped::start();
    es.es
        .standin
        .faults()
        .delay(SLOW, Times::Forever, Scope::Bulk);
    let extra = format!("{DOCUMENT_ID} {QUICK_RETRY}");
    let config = pipeline(&cluster, &es, "only", &extra);
    let mut only = Worker::spawn_with("only", &config, workers);
    wait_for_count(&es, produced.len(), &mut [&mut only]);
    assert!(only.terminate().success(), "{}", only.stderr());
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for op in es.ops() {
        let (p, o) = op.position();
        offsets.entry(p).or_default().push(o);
    }
    for (p, got) in &offsets {
        let out_of_order: Vec<_> = got
            .windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .take(10)
            .collect();
        assert!(
            out_of_order.is_empty(),
            "partition {p} indexed out of order with {workers} workers: {out_of_order:?}"
        );
    }
}

/// One filter worker: the input sends each partition's batches in order and the output never
/// has two requests of a partition in flight.
#[test]
fn one_filter_worker_indexes_each_partition_in_order() {
    each_partition_indexed_in_order(1);
}

/// Several filter workers: with a Kafka input the pipeline is ordered (`pipeline.ordered =>
/// auto`), so batches filtered side by side still reach the output in the order taken.
#[test]
fn two_filter_workers_index_each_partition_in_order() {
    each_partition_indexed_in_order(2);
}
