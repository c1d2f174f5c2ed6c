//! The `kafka` output against librdkafka's mock cluster: what arrives (read back with a
//! consumer), when batches are acknowledged (a broker down, a moving leader, slow round trips,
//! broker errors), and option errors.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{build_error, build_plan, no_env};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice::event::{AckStatus, AckToken, Acknowledge, Batch, Event, Timestamp, Value};
use sluice::outputs::{Output, OutputBatch};

type Cluster = MockCluster<'static, DefaultProducerContext>;

#[derive(Default)]
struct Acks(Mutex<Vec<(u64, AckStatus)>>);

impl Acknowledge for Acks {
    fn acknowledge(&self, id: u64, status: AckStatus) {
        self.0.lock().unwrap().push((id, status));
    }
}

impl Acks {
    fn sorted(&self) -> Vec<(u64, AckStatus)> {
        let mut acks = self.0.lock().unwrap().clone();
        acks.sort_by_key(|(id, _)| *id);
        acks
    }
}

/// A mock cluster of `brokers` brokers with the single-partition topics `topics`.
fn cluster(brokers: i32, topics: &[&str]) -> Cluster {
    let cluster = MockCluster::new(brokers).unwrap();
    for topic in topics {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    cluster
}

/// The output built from `kafka { OPTIONS }` pointed at `cluster`.
fn output(cluster: &Cluster, options: &str) -> Box<dyn Output> {
    let text = format!(
        r#"output {{ kafka {{ bootstrap_servers => "{}" {options} }} }}"#,
        cluster.bootstrap_servers()
    );
    let mut plan = build_plan(&text, &no_env).unwrap_or_else(|e| panic!("{e}"));
    plan.outputs.remove(0).output
}

/// Events with `[sequence]` over `seqs` and the given extra string fields, under token `id`.
fn batch(
    acks: &Arc<Acks>,
    id: u64,
    seqs: std::ops::Range<i64>,
    fields: &[(&str, &str)],
) -> OutputBatch {
    let events = seqs
        .map(|seq| {
            let mut event = Event::new(Timestamp::now());
            event.set_field("sequence".into(), Value::Int(seq));
            for (name, value) in fields {
                event.set_field((*name).into(), Value::from(*value));
            }
            event
        })
        .collect();
    let token = AckToken::new(acks.clone(), id);
    OutputBatch::new(Arc::new(Batch::with_ack(events, token)), None)
}

/// Writes `batches`, then closes the output.
fn write_all(output: &mut Box<dyn Output>, batches: Vec<OutputBatch>) {
    runtime().block_on(async {
        output.start().await.unwrap();
        for batch in batches {
            output.write(&batch).await.unwrap();
        }
        output.close().await.unwrap();
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A consumed record: key and payload as text.
#[derive(Debug, PartialEq)]
struct Record {
    key: Option<String>,
    payload: String,
}

/// Reads `count` records of `topic` (partition 0) from the start, failing after 10 s.
fn consume(cluster: &Cluster, topic: &str, count: usize) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "kafka-output-test")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut records = Vec::new();
    while records.len() < count && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let text =
                |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
            records.push(Record {
                key: text(message.key()),
                payload: text(message.payload()).unwrap_or_default(),
            });
        }
    }
    // Anything beyond `count` would be a duplicate: give it a moment to show up.
    if let Some(Ok(message)) = consumer
        .poll(Duration::from_millis(200))
        .map(|m| m.map(|m| m.offset()))
    {
        panic!("more than {count} records in {topic}: offset {message}");
    }
    records
}

fn sequence_of(payload: &str) -> i64 {
    let doc: serde_json::Value = serde_json::from_str(payload).unwrap();
    doc["sequence"].as_i64().unwrap()
}

#[test]
fn every_event_arrives_once_with_the_codec_encoding() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(&cluster, r#"topic_id => "logs" codec => json"#);
    let acks = Arc::new(Acks::default());
    write_all(
        &mut output,
        vec![batch(&acks, 1, 0..50, &[]), batch(&acks, 2, 50..120, &[])],
    );
    let records = consume(&cluster, "logs", 120);
    let sequences: Vec<i64> = records.iter().map(|r| sequence_of(&r.payload)).collect();
    assert_eq!(sequences, (0..120).collect::<Vec<_>>());
    assert!(records.iter().all(|r| r.key.is_none()));
    let delivered = AckStatus::Delivered;
    assert_eq!(acks.sorted(), vec![(1, delivered), (2, delivered)]);
}

#[test]
fn the_default_codec_is_plain() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(&cluster, r#"topic_id => "logs""#);
    let acks = Arc::new(Acks::default());
    let mut event = Event::new(Timestamp::now());
    event.set_field("message".into(), Value::from("hello kafka"));
    let token = AckToken::new(acks.clone(), 1);
    write_all(
        &mut output,
        vec![OutputBatch::new(
            Arc::new(Batch::with_ack(vec![event], token)),
            None,
        )],
    );
    let records = consume(&cluster, "logs", 1);
    assert_eq!(records.len(), 1);
    assert!(records[0].payload.ends_with("hello kafka"), "{records:?}");
}

#[test]
fn topic_id_and_message_key_are_rendered_per_event() {
    let cluster = cluster(1, &["logs-web", "logs-db"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs-%{kind}" message_key => "%{host}-k" codec => json"#,
    );
    let acks = Arc::new(Acks::default());
    write_all(
        &mut output,
        vec![
            batch(&acks, 1, 0..3, &[("kind", "web"), ("host", "a")]),
            batch(&acks, 2, 3..5, &[("kind", "db"), ("host", "b")]),
        ],
    );
    let web = consume(&cluster, "logs-web", 3);
    let db = consume(&cluster, "logs-db", 2);
    let summary = |records: &[Record]| -> Vec<(Option<String>, i64)> {
        records
            .iter()
            .map(|r| (r.key.clone(), sequence_of(&r.payload)))
            .collect()
    };
    let key = |k: &str| Some(k.to_string());
    assert_eq!(
        summary(&web),
        vec![(key("a-k"), 0), (key("a-k"), 1), (key("a-k"), 2)]
    );
    assert_eq!(summary(&db), vec![(key("b-k"), 3), (key("b-k"), 4)]);
}

#[test]
fn compressed_records_arrive_intact() {
    for codec in ["gzip", "snappy", "lz4"] {
        let cluster = cluster(1, &["logs"]);
        let options = format!(r#"topic_id => "logs" codec => json compression_type => "{codec}""#);
        let mut output = output(&cluster, &options);
        let acks = Arc::new(Acks::default());
        write_all(
            &mut output,
            vec![batch(
                &acks,
                1,
                0..40,
                &[("message", "repeat repeat repeat")],
            )],
        );
        let records = consume(&cluster, "logs", 40);
        let sequences: Vec<i64> = records.iter().map(|r| sequence_of(&r.payload)).collect();
        assert_eq!(sequences, (0..40).collect::<Vec<_>>(), "{codec}");
        assert_eq!(acks.sorted(), vec![(1, AckStatus::Delivered)], "{codec}");
    }
}

#[test]
fn a_batch_is_acknowledged_only_after_a_down_broker_took_it() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" codec => json acks => "all" enable_idempotence => true retry_backoff_ms => 20 reconnect_backoff_ms => 20"#,
    );
    let acks = Arc::new(Acks::default());
    let runtime = runtime();
    runtime.block_on(async {
        output.start().await.unwrap();
        // Up once, so the producer knows the topic; then down while the batch is written.
        output.write(&batch(&acks, 1, 0..10, &[])).await.unwrap();
        wait_for(|| acks.sorted().len() == 1).await;
        cluster.broker_down(1).unwrap();
        output.write(&batch(&acks, 2, 10..30, &[])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            acks.sorted().len(),
            1,
            "acknowledged while the broker was down"
        );
        cluster.broker_up(1).unwrap();
        output.close().await.unwrap();
    });
    let delivered = AckStatus::Delivered;
    assert_eq!(acks.sorted(), vec![(1, delivered), (2, delivered)]);
    let records = consume(&cluster, "logs", 30);
    let sequences: Vec<i64> = records.iter().map(|r| sequence_of(&r.payload)).collect();
    assert_eq!(sequences, (0..30).collect::<Vec<_>>());
}

async fn wait_for(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_record_too_large_marks_its_batch_failed() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" codec => json max_request_size => 2000"#,
    );
    let acks = Arc::new(Acks::default());
    let large = "x".repeat(5000);
    write_all(
        &mut output,
        vec![
            batch(&acks, 1, 0..3, &[]),
            batch(&acks, 2, 3..4, &[("message", &large)]),
        ],
    );
    assert_eq!(
        acks.sorted(),
        vec![(1, AckStatus::Delivered), (2, AckStatus::Failed)]
    );
}

#[test]
fn a_permanent_broker_error_marks_its_batch_failed() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = cluster(1, &["logs"]);
    let mut output = output(&cluster, r#"topic_id => "logs" codec => json"#);
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let acks = Arc::new(Acks::default());
    write_all(&mut output, vec![batch(&acks, 1, 0..5, &[])]);
    assert_eq!(acks.sorted(), vec![(1, AckStatus::Failed)]);
}

const PREFIX: &str = "output { kafka { ";

fn option_error(options: &str) -> String {
    build_error(&format!("{PREFIX}{options} }} }}"), &no_env)
}

/// The 1-based column of `option`'s name in `options` and of the value after it.
fn columns(options: &str, option: &str) -> [usize; 2] {
    let name = options.find(&format!("{option} =>")).unwrap();
    let value = name + option.len() + " => ".len();
    [PREFIX.len() + name + 1, PREFIX.len() + value + 1]
}

#[test]
fn option_errors_point_at_the_option() {
    let cases = [
        (
            r#"topic_id => "t" acks => "2""#,
            "acks",
            r#"acks "2" is not"#,
        ),
        (
            r#"topic_id => "t" enable_idempotence => true acks => "1""#,
            "acks",
            r#"enable_idempotence => true needs acks => "all""#,
        ),
        (
            r#"topic_id => "t" compression_type => "brotli""#,
            "compression_type",
            "is not none, gzip",
        ),
        (
            r#"topic_id => "t" security_protocol => "TLS""#,
            "security_protocol",
            "is not PLAINTEXT",
        ),
        (
            r#"topic_id => "t" kafka_properties => { "no.such.property" => "1" }"#,
            "kafka_properties",
            r#"No such configuration property: "no.such.property""#,
        ),
        (
            r#"topic_id => "t" linger_ms => "soon""#,
            "linger_ms",
            "expected a number",
        ),
        (r#"topic_id => """#, "topic_id", "must not be empty"),
        (
            r#"topic_id => "t" partitioner => "hash""#,
            "partitioner",
            "is not default",
        ),
        (
            r#"topic_id => "t" message_headers => { "h" => "%{+ccc}" }"#,
            "message_headers",
            "message_headers",
        ),
    ];
    for (options, option, message) in cases {
        let error = option_error(options);
        let at = columns(options, option).map(|col| format!("test.conf:1:{col}: kafka: "));
        assert!(
            at.iter().any(|at| error.starts_with(at)),
            "{options}: {error}"
        );
        assert!(error.contains(message), "{options}: {error}");
    }
    let error = option_error("codec => json");
    assert!(
        error.contains(r#"missing required option "topic_id""#),
        "{error}"
    );
}

#[test]
fn idempotence_alone_implies_acks_all() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" enable_idempotence => true codec => json"#,
    );
    let acks = Arc::new(Acks::default());
    write_all(&mut output, vec![batch(&acks, 1, 0..5, &[])]);
    assert_eq!(acks.sorted(), vec![(1, AckStatus::Delivered)]);
    assert_eq!(consume(&cluster, "logs", 5).len(), 5);
}

#[test]
fn a_full_producer_queue_makes_write_wait_rather_than_drop() {
    let cluster = cluster(1, &["logs"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" codec => json kafka_properties => { "queue.buffering.max.messages" => "4" }"#,
    );
    let acks = Arc::new(Acks::default());
    write_all(&mut output, vec![batch(&acks, 1, 0..100, &[])]);
    assert_eq!(acks.sorted(), vec![(1, AckStatus::Delivered)]);
    let records = consume(&cluster, "logs", 100);
    let sequences: Vec<i64> = records.iter().map(|r| sequence_of(&r.payload)).collect();
    assert_eq!(sequences, (0..100).collect::<Vec<_>>());
}

#[test]
fn message_headers_are_rendered_per_event() {
    use rdkafka::message::Headers;
    let cluster = cluster(1, &["logs"]);
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" codec => json message_headers => { "origin" => "dc-%{host}" "fixed" => "1" }"#,
    );
    let acks = Arc::new(Acks::default());
    write_all(
        &mut output,
        vec![
            batch(&acks, 1, 0..1, &[("host", "a")]),
            batch(&acks, 2, 1..2, &[("host", "b")]),
        ],
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "kafka-output-test")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset("logs", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            let headers = message.headers().expect("headers");
            let pairs: Vec<(String, String)> = headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap()).into_owned(),
                    )
                })
                .collect();
            seen.push(pairs);
        }
    }
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        seen,
        vec![
            vec![pair("origin", "dc-a"), pair("fixed", "1")],
            vec![pair("origin", "dc-b"), pair("fixed", "1")],
        ]
    );
}

#[test]
fn retriable_broker_errors_are_retried_unless_retries_runs_out() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let retriable = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 3];
    for (retries, expected) in [
        ("", AckStatus::Delivered),
        ("retries => 0", AckStatus::Failed),
    ] {
        let cluster = cluster(1, &["logs"]);
        let options =
            format!(r#"topic_id => "logs" codec => json retry_backoff_ms => 10 {retries}"#);
        let mut output = output(&cluster, &options);
        cluster.request_errors(RDKafkaApiKey::Produce, &retriable);
        let acks = Arc::new(Acks::default());
        write_all(&mut output, vec![batch(&acks, 1, 0..5, &[])]);
        assert_eq!(acks.sorted(), vec![(1, expected)], "{retries}");
        if expected == AckStatus::Delivered {
            assert_eq!(consume(&cluster, "logs", 5).len(), 5);
        }
    }
}

#[test]
fn a_moving_leader_and_slow_round_trips_lose_and_reorder_nothing() {
    let cluster = cluster(3, &["logs"]);
    cluster.partition_leader("logs", 0, Some(1)).unwrap();
    let mut output = output(
        &cluster,
        r#"topic_id => "logs" codec => json acks => "all" enable_idempotence => true retry_backoff_ms => 20"#,
    );
    let acks = Arc::new(Acks::default());
    let slow = Duration::from_millis(300);
    let runtime = runtime();
    let took = runtime.block_on(async {
        output.start().await.unwrap();
        output.write(&batch(&acks, 1, 0..10, &[])).await.unwrap();
        wait_for(|| acks.sorted().len() == 1).await;
        // The leader moves to a slow broker while the next batches are written.
        for broker in 1..=3 {
            cluster.broker_round_trip_time(broker, slow).unwrap();
        }
        cluster.partition_leader("logs", 0, Some(2)).unwrap();
        let written = Instant::now();
        output.write(&batch(&acks, 2, 10..30, &[])).await.unwrap();
        output.write(&batch(&acks, 3, 30..40, &[])).await.unwrap();
        wait_for(|| acks.sorted().len() == 3).await;
        let took = written.elapsed();
        output.close().await.unwrap();
        took
    });
    assert!(took >= slow, "the round trips were not slow: {took:?}");
    let delivered = AckStatus::Delivered;
    let all = vec![(1, delivered), (2, delivered), (3, delivered)];
    assert_eq!(acks.sorted(), all);
    for broker in 1..=3 {
        cluster
            .broker_round_trip_time(broker, Duration::ZERO)
            .unwrap();
    }
    let records = consume(&cluster, "logs", 40);
    let sequences: Vec<i64> = records.iter().map(|r| sequence_of(&r.payload)).collect();
    assert_eq!(sequences, (0..40).collect::<Vec<_>>());
}
