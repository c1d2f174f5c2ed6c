//! End-to-end: Kafka (the mock cluster) -> flume codec -> grok -> the Elasticsearch stand-in.
//!
//! Everything but sluice runs in this process: librdkafka's mock cluster ([`MockKafka`], three
//! brokers, on librdkafka's own threads) and the Elasticsearch stand-in (`support::es`, count-only
//! mode on a one-thread runtime of its own). sluice is the release binary, a child process,
//! running this pipeline (a fresh consumer group each run):
//!
//! ```text
//! input { kafka { bootstrap_servers => MOCK topics => [T, ...] group_id => FRESH
//!   auto_offset_reset => "earliest" codec => flume {} session_timeout_ms => 6000 } }
//! filter { grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
//!          date { match => [ "timestamp", "dd/MMM/yyyy:HH:mm:ss Z" ] } }
//! output { elasticsearch { hosts => [STAND-IN] index => "bench" } }
//! ```
//!
//! - **Throughput.** N real Apache lines (../shared/corpus/access/apache/apache_logs repeated to
//!   N) are produced as Flume `AvroFlumeEvent`s (headers `host`, `topic` and `timestamp`, as
//!   Flume's Kafka sink writes with `useFlumeEventFormat`) *before* sluice starts, into
//!   4-partition topics of 40,000 events each ([`EVENTS_PER_TOPIC`]: the mock cluster keeps
//!   only 5 MiB per partition and drops the oldest messages beyond, so 1,000,000 events take 25
//!   topics, all in the input's `topics`; the bench checks that every partition still starts at
//!   offset 0). Then `sluice run -w W` (W = 1, 2; default batch size) drains them. Joining the
//!   group on the mock cluster takes seconds, so the span measured runs from the first `_bulk`
//!   answered to the one that brings the count to N (both from the stand-in's tap), and
//!   events/s is over that span, the first request's events left out. sluice's CPU (user + system, all threads, read from `/proc/PID/stat` when it has
//!   exited, so it includes start-up, the group join and shutdown) per event, its peak RSS
//!   (`VmHWM`, polled) and the CPU this process spent (mock cluster + stand-in) go with it.
//!   Afterwards sluice gets SIGTERM (it reads Kafka forever) and must exit 0; the stand-in's
//!   count must be exactly N. Each row is the run of median events/s of `--repeats` (3).
//! - **Latency.** sluice (-w 1) is started on a fresh topic and a warm-up message per partition is
//!   produced and awaited (so the group join is not measured); then a producer paced at R
//!   messages/s (every millisecond it sends what has come due) sends Apache lines for 3 s as
//!   Flume events whose headers `seq` and `sent_ns` carry the sequence number and the time of
//!   the produce call (ns on this process's clock). They come back in the tapped bulk bodies
//!   under `[flume][headers]`; an event's latency is its bulk request's answer minus its
//!   produce call. Prints p50/p90/p99/p99.9/max and the share under 100 ms per rate, and fails
//!   unless every message arrived exactly once.
//!
//! What the latency is made of. The producer (this bench's own rdkafka producer) runs with
//! `linger.ms=1` ([`PRODUCER_LINGER_MS`]; librdkafka's default is 5 ms) so that its batching
//! adds at most a millisecond. The consumer prefetches: librdkafka keeps a fetch outstanding per
//! broker, and a broker answers it once `fetch.min.bytes` (1) is there or `fetch.wait.max.ms`
//! is up (sluice's `fetch_max_wait_ms`, 500 ms by default as in Logstash). Kafka answers a
//! waiting fetch as soon as data arrives; librdkafka's mock cluster does not (a fetch that
//! finds no data is answered after the whole `MaxWait`), so against the mock a message that
//! arrives while its broker holds an empty fetch waits for the rest of it: up to 500 ms, about
//! 250 ms on average, at every rate (even at 50,000/s the next fetch goes out right after an
//! answer, usually before the producer's next batch reaches that broker). That is the mock,
//! not sluice, so the latency table is printed twice: with the default, and with
//! `fetch_max_wait_ms => 10` ([`LOW_FETCH_WAIT_MS`]), which approximates a real broker. After
//! the fetch come the input's poll (`poll_timeout_ms`, 100 ms, only bounds a round that finds
//! nothing; each round's messages go on as batches of one partition each), the worker's batch
//! (it waits up to `pipeline.batch.delay`, 50 ms, for `pipeline.batch.size`, 125, events: at
//! low rates this wait dominates once the fetch wait is short), the filters and the output's
//! bulk request.
//!
//! ```text
//! cargo bench --bench kafka                              # both, 1,000,000 lines; 1k/10k/50k/s
//! cargo bench --bench kafka -- throughput --lines 200000 --repeats 1
//! cargo bench --bench kafka -- latency 1000 50000
//! ```
//! Under `cargo test --benches` (no `--bench` argument) it runs a smoke test instead: 20,000
//! events with -w 1 and one latency stream at 1,000/s for 1 s, failing on any event lost or
//! duplicated.

#[path = "support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use sluice::codecs::flume::write_event;
use sluice::standin::elasticsearch::{BulkSeen, StandIn};
use sluice::standin::kafka::{Message, MockKafka};
use support::es::{bulk_items, sources, EsRuntime};
use support::{own_cpu, Args, LatencyReport, Proc, ALL_PERCENTILES};
use tokio::sync::mpsc::UnboundedReceiver;

const INDEX: &str = "bench";
const PARTITIONS: i32 = 4;
const FILTERS: &str = r#"filter {
  grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
  date { match => [ "timestamp", "dd/MMM/yyyy:HH:mm:ss Z" ] }
}"#;
/// The bench producer's `linger.ms`: low, so that the latency is sluice's, not the producer's.
const PRODUCER_LINGER_MS: u32 = 1;
/// How often a running sluice and the stand-in's tap are polled.
const POLL: Duration = Duration::from_millis(2);
/// Peak RSS is read every this many polls (reading `status` costs more than `stat`).
const RSS_EVERY: u32 = 10;
/// A run that takes longer than this is stuck: kill it and fail.
const DEADLINE: Duration = Duration::from_secs(600);
/// The longest wait for the consumer group to form and the first events to come through.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long sluice may take to exit after SIGTERM.
const EXIT_DEADLINE: Duration = Duration::from_secs(60);
/// How long to keep watching for duplicates once every event has arrived.
const SETTLE: Duration = Duration::from_millis(500);
/// The consumer's `fetch.wait.max.ms` of the second latency table: short, as if the broker
/// answered a waiting fetch as soon as data came (as Kafka does and the mock cluster does not).
const LOW_FETCH_WAIT_MS: u32 = 10;
/// Events per topic of the throughput run. The mock cluster keeps at most 5 MiB (and 100,000
/// messages) per partition, dropping the oldest beyond, so N events go to as many topics of
/// [`PARTITIONS`] partitions as needed: 10,000 Flume events of ~330 bytes per partition.
const EVENTS_PER_TOPIC: u64 = 40_000;
/// The paced producer's tick.
const TICK: Duration = Duration::from_millis(1);

fn main() {
    let args = Args::parse("kafka", std::env::args().skip(1), &[1_000, 10_000, 50_000]);
    let es = EsRuntime::new();
    let kafka = MockKafka::new().expect("start the mock Kafka cluster");
    let clock = Instant::now();
    if !args.bench {
        smoke(&es, &kafka, clock);
        return;
    }
    if args.throughput {
        throughput(&es, &kafka, args.lines, args.repeats);
    }
    if args.latency {
        latency(&es, &kafka, clock, &args.rates);
    }
}

fn smoke(es: &EsRuntime, kafka: &MockKafka, clock: Instant) {
    let lines = 20_000;
    let topics = load_topics(kafka, lines);
    let row = throughput_run(es, kafka, &topics, 1, lines);
    println!("smoke throughput: {}", row.line());
    let span = Duration::from_secs(1);
    let report = measure_latency(es, kafka, clock, 1_000, span, FetchWait::Default);
    println!("smoke latency: {}", report.line(ALL_PERCENTILES));
}

// ---------------------------------------------------------------------------------------------
// The pipeline and the sluice process

/// A consumer group no earlier run used.
fn fresh_group(what: &str) -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    format!("bench-{what}-{}-{run}", std::process::id())
}

/// The pipeline over `topics`, with `fetch_max_wait_ms` when given (librdkafka's 500 if not).
fn pipeline_config(
    kafka: &MockKafka,
    topics: &[String],
    group: &str,
    es: &StandIn,
    fetch_wait: FetchWait,
) -> String {
    let fetch = match fetch_wait {
        FetchWait::Default => String::new(),
        FetchWait::Ms(ms) => format!(" fetch_max_wait_ms => {ms}"),
    };
    let topics = topics
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"input {{ kafka {{
  bootstrap_servers => "{servers}" topics => [{topics}] group_id => "{group}"
  auto_offset_reset => "earliest" codec => flume {{}} session_timeout_ms => 6000{fetch}
}} }}
{FILTERS}
output {{ elasticsearch {{ hosts => ["{url}"] index => "{INDEX}" }} }}"#,
        servers = kafka.bootstrap_servers(),
        url = es.url()
    )
}

/// The consumer's `fetch.wait.max.ms`: how long a broker may hold a fetch that finds no data.
#[derive(Clone, Copy)]
enum FetchWait {
    /// librdkafka's (and logstash-input-kafka's) 500 ms.
    Default,
    Ms(u32),
}

impl FetchWait {
    fn describe(self) -> String {
        match self {
            FetchWait::Default => "fetch_max_wait_ms default (500)".to_string(),
            FetchWait::Ms(ms) => format!("fetch_max_wait_ms => {ms}"),
        }
    }
}

/// A running sluice: its `/proc` files and its peak RSS so far.
struct Running {
    child: Child,
    proc: Proc,
    peak_rss_kb: u64,
    polls: u32,
    started: Instant,
}

impl Running {
    fn start(config: &str, workers: usize) -> Running {
        let started = Instant::now();
        let child = support::spawn_sluice(config, workers, Stdio::null(), Stdio::null());
        Running {
            proc: Proc::of(child.id()),
            child,
            peak_rss_kb: 0,
            polls: 0,
            started,
        }
    }

    /// Reads its peak RSS now and then; fails if it exited or ran past [`DEADLINE`].
    fn check(&mut self) {
        if let Some(exit) = self.child.try_wait().expect("wait for sluice") {
            panic!("sluice exited early with {exit}");
        }
        if self.polls.is_multiple_of(RSS_EVERY) {
            let rss = self.proc.peak_rss_kb().unwrap_or(0);
            self.peak_rss_kb = self.peak_rss_kb.max(rss);
        }
        self.polls += 1;
        if self.started.elapsed() > DEADLINE {
            self.kill();
            panic!("sluice still running after {DEADLINE:?}");
        }
    }

    /// SIGTERM, then waits for it to exit; fails unless it exits 0 in [`EXIT_DEADLINE`].
    /// Gives its CPU time, read when it has exited but is not yet reaped.
    fn terminate(mut self) -> Duration {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(kill.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let signalled = Instant::now();
        let mut cpu = Duration::ZERO;
        while let Some((state, now)) = self.proc.stat() {
            cpu = now;
            if state == 'Z' || state == 'X' {
                break;
            }
            if signalled.elapsed() > EXIT_DEADLINE {
                self.kill();
                panic!("sluice did not exit within {EXIT_DEADLINE:?} of SIGTERM");
            }
            thread::sleep(POLL);
        }
        let exit = self.child.wait().expect("wait for sluice");
        assert!(exit.success(), "sluice exited with {exit} after SIGTERM");
        cpu
    }

    fn kill(&mut self) {
        // Killing the process we started; it may have just exited, which is fine too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Throughput

/// Loads `lines` Apache lines (the corpus repeated) as Flume events into fresh 4-partition
/// topics of [`EVENTS_PER_TOPIC`] events each; gives their names. Fails unless the cluster kept
/// every message.
fn load_topics(kafka: &MockKafka, lines: u64) -> Vec<String> {
    let corpus = support::apache_lines();
    let topics: Vec<String> = (0..lines.div_ceil(EVENTS_PER_TOPIC))
        .map(|i| format!("apache-flume-{lines}-{i}"))
        .collect();
    for topic in &topics {
        kafka
            .create_topic(topic, PARTITIONS)
            .expect("create a topic");
    }
    let started = Instant::now();
    let millis = now_millis();
    let stamp = millis.parse().expect("milliseconds");
    let messages = (0..lines).map(|i| {
        let line = &corpus[i as usize % corpus.len()];
        let mut value = Vec::with_capacity(line.len() + 64);
        let headers = [
            ("host", "web-1"),
            ("topic", "apache"),
            ("timestamp", millis.as_str()),
        ];
        write_event(headers.into_iter(), line, &mut value);
        let topic = &topics[(i / EVENTS_PER_TOPIC) as usize];
        // Spread evenly: the default partitioner sticks to one partition for a while, which
        // would overfill it.
        let partition = (i % PARTITIONS as u64) as i32;
        Message::new(value)
            .with_timestamp(stamp)
            .with_partition(partition)
            .to_topic(topic)
    });
    let loaded = kafka
        .produce(&topics[0], messages)
        .expect("load the topics");
    assert_eq!(loaded as u64, lines, "messages loaded");
    check_retained(kafka, &topics, lines);
    println!(
        "loaded {lines} Apache lines ({}) as Flume events into {} topic(s) of {PARTITIONS} partitions in {:.1} s",
        support::APACHE_CORPUS,
        topics.len(),
        started.elapsed().as_secs_f64()
    );
    topics
}

/// Fails unless the partitions of `topics` hold `lines` messages from offset 0: the mock
/// cluster drops a partition's oldest messages beyond 5 MiB.
fn check_retained(kafka: &MockKafka, topics: &[String], lines: u64) {
    let client: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .expect("create a client");
    let mut total = 0;
    for topic in topics {
        for partition in 0..PARTITIONS {
            let (low, high) = client
                .client()
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .expect("fetch the watermarks");
            assert_eq!(
                low, 0,
                "the mock cluster dropped the oldest messages of {topic} [{partition}]"
            );
            total += high as u64;
        }
    }
    assert_eq!(total, lines, "messages in the topics");
}

/// One throughput measurement.
struct Row {
    workers: usize,
    lines: u64,
    /// From sluice's start to the first `_bulk` answered: the group join and the first batch.
    first_bulk: Duration,
    /// From the first `_bulk` answered to the one that completed the count.
    span: Duration,
    /// Events in the first `_bulk` request, which the span leaves out.
    first_items: u64,
    cpu: Duration,
    peak_rss_kb: u64,
    /// CPU this process spent meanwhile: the mock cluster and the stand-in.
    own_cpu: Duration,
    bulks: u64,
}

impl Row {
    const HEADER: &'static str = "workers   first bulk s   span s     events/s  sluice cpu s  cpu us/ev  peak RSS MB  mock+stand-in cpu s  events/bulk";

    fn events_per_s(&self) -> f64 {
        (self.lines - self.first_items) as f64 / self.span.as_secs_f64().max(1e-9)
    }

    fn line(&self) -> String {
        format!(
            "{:>7} {:>14.2} {:>8.3} {:>12.0} {:>13.2} {:>10.2} {:>12.1} {:>20.2} {:>12.0}",
            self.workers,
            self.first_bulk.as_secs_f64(),
            self.span.as_secs_f64(),
            self.events_per_s(),
            self.cpu.as_secs_f64(),
            self.cpu.as_secs_f64() * 1e6 / self.lines as f64,
            self.peak_rss_kb as f64 / 1024.0,
            self.own_cpu.as_secs_f64(),
            self.lines as f64 / self.bulks.max(1) as f64,
        )
    }
}

fn throughput(es: &EsRuntime, kafka: &MockKafka, lines: u64, repeats: usize) {
    let topics = load_topics(kafka, lines);
    println!(
        "throughput: kafka (flume) -> grok+date -> es, {lines} events, the run of median events/s of {repeats}"
    );
    println!("{}", Row::HEADER);
    for workers in [1, 2] {
        let mut runs: Vec<Row> = (0..repeats)
            .map(|_| throughput_run(es, kafka, &topics, workers, lines))
            .collect();
        runs.sort_by(|a, b| a.events_per_s().total_cmp(&b.events_per_s()));
        println!("{}", runs.swap_remove(repeats / 2).line());
    }
}

/// Runs sluice over the `lines` events of `topics` with a fresh group; fails unless the
/// stand-in counted exactly `lines` documents and sluice exits 0 on SIGTERM.
fn throughput_run(
    es: &EsRuntime,
    kafka: &MockKafka,
    topics: &[String],
    workers: usize,
    lines: u64,
) -> Row {
    let standin = es.start();
    let mut tap = standin.tap_bulk();
    let group = fresh_group("throughput");
    let config = pipeline_config(kafka, topics, &group, &standin, FetchWait::Default);
    let cpu_before = own_cpu();
    let mut sluice = Running::start(&config, workers);
    let mut count = Count::default();
    let mut progress = (0, Instant::now());
    while count.items < lines {
        count.drain(&mut tap);
        sluice.check();
        if count.items != progress.0 {
            progress = (count.items, Instant::now());
        } else if progress.1.elapsed() > JOIN_DEADLINE {
            sluice.kill();
            panic!(
                "-w {workers}: {} of {lines} events indexed, none in the last {JOIN_DEADLINE:?}",
                count.items
            );
        }
        thread::sleep(POLL);
    }
    // Anything more would be a duplicate.
    thread::sleep(SETTLE);
    count.drain(&mut tap);
    let peak_rss_kb = sluice.peak_rss_kb;
    let started = sluice.started;
    let cpu = sluice.terminate();
    let own = own_cpu().saturating_sub(cpu_before);
    count.drain(&mut tap);
    let indexed = standin.count(INDEX) as u64;
    es.stop(standin);
    assert_eq!(
        (count.items, indexed),
        (lines, lines),
        "-w {workers}: (documents sent in bulk requests, counted by the stand-in) of {lines} events"
    );
    let (first, first_items) = count.first.expect("a bulk request");
    Row {
        workers,
        lines,
        first_bulk: first.duration_since(started),
        span: count.last.duration_since(first),
        first_items,
        cpu,
        peak_rss_kb,
        own_cpu: own,
        bulks: count.bulks,
    }
}

/// The tapped bulk requests so far, counted.
struct Count {
    /// When the first was answered, and its events.
    first: Option<(Instant, u64)>,
    /// When the latest was answered.
    last: Instant,
    items: u64,
    bulks: u64,
}

impl Default for Count {
    fn default() -> Count {
        Count {
            first: None,
            last: Instant::now(),
            items: 0,
            bulks: 0,
        }
    }
}

impl Count {
    fn drain(&mut self, tap: &mut UnboundedReceiver<BulkSeen>) {
        while let Ok(bulk) = tap.try_recv() {
            assert_eq!(bulk.status, 200, "a bulk request was refused");
            let items = bulk_items(&bulk.body);
            self.first.get_or_insert((bulk.answered, items));
            self.last = bulk.answered;
            self.items += items;
            self.bulks += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Latency

fn latency(es: &EsRuntime, kafka: &MockKafka, clock: Instant, rates: &[u64]) {
    for fetch_wait in [FetchWait::Default, FetchWait::Ms(LOW_FETCH_WAIT_MS)] {
        println!(
            "latency: produce call -> bulk answered, kafka (flume, {PARTITIONS} partitions) -> grok+date -> es, -w 1; \
             producer linger.ms={PRODUCER_LINGER_MS}; {}",
            fetch_wait.describe()
        );
        println!("{}", LatencyReport::header(ALL_PERCENTILES));
        for &rate in rates {
            let span = Duration::from_secs(3);
            let report = measure_latency(es, kafka, clock, rate, span, fetch_wait);
            println!("{}", report.line(ALL_PERCENTILES));
        }
    }
}

/// Starts sluice on a fresh topic, waits until a warm-up message per partition is indexed,
/// then produces `rate` messages a second for `duration` and times each from its produce call
/// to its bulk request's answer.
fn measure_latency(
    es: &EsRuntime,
    kafka: &MockKafka,
    clock: Instant,
    rate: u64,
    duration: Duration,
    fetch_wait: FetchWait,
) -> LatencyReport {
    let topic = format!("latency-{rate}-{}", fresh_group("t"));
    kafka
        .create_topic(&topic, PARTITIONS)
        .expect("create the topic");
    let standin = es.start();
    let mut tap = standin.tap_bulk();
    let group = fresh_group("latency");
    let config = pipeline_config(
        kafka,
        std::slice::from_ref(&topic),
        &group,
        &standin,
        fetch_wait,
    );
    let mut sluice = Running::start(&config, 1);
    let producer = Paced::new(kafka, &topic);
    producer.warm_up(&mut sluice, &mut tap);
    let total = rate * duration.as_millis() as u64 / 1000;
    producer.run(clock, rate, total);
    let bulks = collect(&mut sluice, &mut tap, total);
    sluice.terminate();
    es.stop(standin);
    LatencyReport::new(rate, latencies(&bulks, clock, total))
}

/// This bench's producer: Flume events of Apache lines, to the partitions in turn.
struct Paced<'t> {
    producer: BaseProducer,
    topic: &'t str,
    lines: Vec<Vec<u8>>,
}

impl<'t> Paced<'t> {
    fn new(kafka: &MockKafka, topic: &'t str) -> Paced<'t> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .set("linger.ms", PRODUCER_LINGER_MS.to_string())
            .create()
            .expect("create the bench's producer");
        Paced {
            producer,
            topic,
            lines: support::apache_lines(),
        }
    }

    /// Sends a message to each partition with a `warmup` header and waits until the stand-in
    /// has them all: the group has formed and every partition is being fetched.
    fn warm_up(&self, sluice: &mut Running, tap: &mut UnboundedReceiver<BulkSeen>) {
        let mut value = Vec::new();
        for partition in 0..PARTITIONS {
            value.clear();
            let timestamp = now_millis();
            let headers = [("warmup", "1"), ("timestamp", timestamp.as_str())];
            write_event(headers.into_iter(), &self.lines[0], &mut value);
            self.send(&value, partition);
        }
        self.producer
            .flush(Duration::from_secs(10))
            .expect("flush the warm-up messages");
        let mut seen = 0;
        while seen < PARTITIONS as u64 {
            while let Ok(bulk) = tap.try_recv() {
                assert_eq!(bulk.status, 200, "a bulk request was refused");
                seen += bulk_items(&bulk.body);
            }
            sluice.check();
            if sluice.started.elapsed() > JOIN_DEADLINE {
                sluice.kill();
                panic!("warm-up not indexed within {JOIN_DEADLINE:?} of sluice's start");
            }
            thread::sleep(POLL);
        }
        assert_eq!(seen, PARTITIONS as u64, "warm-up messages indexed");
    }

    /// Produces `total` messages at `rate` a second from now: each [`TICK`] it sends those that
    /// have come due, each stamped (`sent_ns`) just before its produce call. Then flushes.
    fn run(&self, clock: Instant, rate: u64, total: u64) {
        let mut value = Vec::with_capacity(1024);
        let begun = Instant::now();
        let mut seq = 0;
        let timestamp = now_millis();
        while seq < total {
            let since_begun = begun.elapsed().as_nanos();
            let due = (since_begun * rate as u128 / 1_000_000_000).min(total as u128) as u64;
            while seq < due {
                let line = &self.lines[seq as usize % self.lines.len()];
                let seq_text = seq.to_string();
                let sent = (clock.elapsed().as_nanos() as u64).to_string();
                value.clear();
                let headers = [
                    ("host", "web-1"),
                    ("timestamp", timestamp.as_str()),
                    ("seq", seq_text.as_str()),
                    ("sent_ns", sent.as_str()),
                ];
                write_event(headers.into_iter(), line, &mut value);
                self.send(&value, (seq % PARTITIONS as u64) as i32);
                seq += 1;
            }
            self.producer.poll(Duration::ZERO);
            thread::sleep(TICK);
        }
        self.producer
            .flush(Duration::from_secs(30))
            .expect("flush the bench's producer");
    }

    /// Hands one message to the producer, waiting for room in its queue when it is full.
    fn send(&self, value: &[u8], partition: i32) {
        let mut record = BaseRecord::<[u8], [u8]>::to(self.topic)
            .payload(value)
            .partition(partition);
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce to {}: {e}", self.topic),
            }
        }
    }
}

/// Milliseconds since 1970, as Flume's timestamp interceptor writes them.
fn now_millis() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis()).to_string()
}

/// The bulk requests that carry the `total` messages, and any that come within [`SETTLE`]
/// after (duplicates).
fn collect(
    sluice: &mut Running,
    tap: &mut UnboundedReceiver<BulkSeen>,
    total: u64,
) -> Vec<BulkSeen> {
    let mut bulks = Vec::new();
    let mut items = 0;
    let waiting = Instant::now();
    loop {
        items += take(&mut bulks, tap);
        if items >= total {
            break;
        }
        sluice.check();
        if waiting.elapsed() > JOIN_DEADLINE {
            sluice.kill();
            panic!("only {items} of {total} messages indexed {JOIN_DEADLINE:?} after the last was produced");
        }
        thread::sleep(POLL);
    }
    thread::sleep(SETTLE);
    take(&mut bulks, tap);
    bulks
}

/// Moves the requests tapped so far into `bulks`; gives the events they carry.
fn take(bulks: &mut Vec<BulkSeen>, tap: &mut UnboundedReceiver<BulkSeen>) -> u64 {
    let mut items = 0;
    while let Ok(bulk) = tap.try_recv() {
        items += bulk_items(&bulk.body);
        bulks.push(bulk);
    }
    items
}

/// Every message's latency (ns) from the tapped bulk requests; fails unless each of the
/// `total` messages came exactly once, in a request answered 200.
fn latencies(bulks: &[BulkSeen], clock: Instant, total: u64) -> Vec<u64> {
    let mut seen = vec![false; total as usize];
    let mut latencies = Vec::with_capacity(total as usize);
    for bulk in bulks {
        assert_eq!(bulk.status, 200, "a bulk request was refused");
        let answered = bulk.answered.duration_since(clock).as_nanos() as u64;
        for source in sources(&bulk.body) {
            let (seq, sent) = seq_sent(source);
            let slot = seen
                .get_mut(seq as usize)
                .unwrap_or_else(|| panic!("message {seq} was never sent"));
            assert!(!*slot, "message {seq} indexed twice");
            *slot = true;
            latencies.push(answered.saturating_sub(sent));
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(
        missing, 0,
        "{missing} of {total} messages never reached the stand-in"
    );
    latencies
}

/// `(SEQ, SENT_NANOS)` from a document's Flume headers `seq` and `sent_ns`.
fn seq_sent(source: &[u8]) -> (u64, u64) {
    let doc: serde_json::Value = serde_json::from_slice(source).expect("a JSON document");
    let headers = &doc["flume"]["headers"];
    let number = |name: &str| -> u64 {
        let text = headers[name]
            .as_str()
            .unwrap_or_else(|| panic!("no [flume][headers][{name}] in {doc}"));
        text.parse()
            .unwrap_or_else(|_| panic!("[flume][headers][{name}] is {text:?}"))
    };
    (number("seq"), number("sent_ns"))
}
