//! The `kafka` input against librdkafka's in-process mock cluster: messages of every partition
//! arrive, `decorate_events`, offsets committed only over delivered batches (a crash replays the
//! unacknowledged messages, a failed batch blocks its partition's commit), two inputs sharing a
//! group's partitions, and option errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};

use common::input::{messages, Running, PATIENCE};
use common::kafka::{
    cluster, committed, config, config_with, produce, producer, SHORT_SESSION,
    SHORT_SESSION_OPTIONS,
};
use common::{build_error, get, no_env, wait_for_value};
use sluice::event::{Batch, Event, Value};
use sluice::pipeline::{PartitionLagReading, Pipeline, PipelineSettings};
use sluice::standin::kafka::Message;

fn run(config: &str, batch_size: usize) -> Running {
    Running::config(config, &no_env, batch_size, 64)
}

/// The messages of `events`, grouped by their `p<partition>` prefix, in arrival order.
fn by_partition(events: &[Event]) -> BTreeMap<String, Vec<String>> {
    let mut parts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for message in messages(events) {
        let p = message.split('-').next().unwrap().to_string();
        parts.entry(p).or_default().push(message);
    }
    parts
}

/// A batch's events (the batch is then dropped: acknowledged).
fn events_of(mut batch: Batch) -> Vec<Event> {
    std::mem::take(&mut batch.events)
}

/// Batches until `n` events came (panics on fewer within the patience).
fn take(input: &Running, n: usize) -> Vec<Batch> {
    input.batches(n)
}

#[test]
fn every_message_of_every_partition_arrives_in_partition_order() {
    let cluster = cluster(3);
    let sent = produce(&cluster, 3, 20);
    let input = run(&config(&cluster, "g", ""), 7);
    let batches = take(&input, 60);
    for batch in &batches {
        let parts = by_partition(&batch.events);
        assert!(parts.len() <= 1, "a batch mixes partitions: {parts:?}");
        assert!(batch.acks.len() == 1 && batch.acks[0].partition().is_some());
    }
    let events: Vec<Event> = batches.into_iter().flat_map(events_of).collect();
    assert_eq!(messages(&events).into_iter().collect::<BTreeSet<_>>(), sent);
    for (p, got) in by_partition(&events) {
        let expected: Vec<String> = (0..20).map(|i| format!("{p}-{i}")).collect();
        assert_eq!(got, expected);
    }
    input.nothing_more();
    assert!(input.stop().is_empty());
}

#[test]
fn decorate_events_adds_kafka_metadata() {
    let cluster = cluster(2);
    let producer = producer(&cluster);
    let headers = OwnedHeaders::new().insert(Header {
        key: "trace",
        value: Some("abc"),
    });
    let record = BaseRecord::to("t")
        .partition(1)
        .key("k1")
        .payload("hello")
        .timestamp(1_700_000_000_123)
        .headers(headers);
    producer.send(record).unwrap();
    producer.flush(PATIENCE).unwrap();

    let input = run(&config(&cluster, "deco", "decorate_events => true"), 10);
    let events = input.events(1);
    let e = &events[0];
    assert_eq!(e.message(), Some("hello"));
    let meta = |name: &str| get(e, &format!("[@metadata][kafka][{name}]")).cloned();
    assert_eq!(meta("topic"), Some(Value::Str("t".into())));
    assert_eq!(meta("partition"), Some(Value::Int(1)));
    assert_eq!(meta("offset"), Some(Value::Int(0)));
    assert_eq!(meta("key"), Some(Value::Str("k1".into())));
    assert_eq!(meta("timestamp"), Some(Value::Int(1_700_000_000_123)));
    assert_eq!(meta("consumer_group"), Some(Value::Str("deco".into())));
    assert_eq!(meta("headers"), None, "headers only with extended");
    input.stop();

    let input = run(
        &config(&cluster, "ext", r#"decorate_events => "extended""#),
        10,
    );
    let events = input.events(1);
    let header = get(&events[0], "[@metadata][kafka][headers][trace]").cloned();
    assert_eq!(header, Some(Value::Str("abc".into())));
    input.stop();

    let input = run(&config(&cluster, "plain", ""), 10);
    let events = input.events(1);
    assert!(events[0].metadata().is_empty());
    input.stop();
}

/// The next `n` events of an input that joins a group whose previous member went away: its
/// partitions come only after the group gave up on that member.
fn rejoined(input: &Running, n: usize) -> Vec<Event> {
    let deadline = Instant::now() + 3 * PATIENCE;
    let mut events = Vec::new();
    while events.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(batch) = input.next_batch(left) else {
            panic!(
                "{} of {n} events arrived: {:?}",
                events.len(),
                messages(&events)
            );
        };
        events.extend(events_of(batch));
    }
    events
}

/// Waits until the group's committed offsets have surely been written (auto-commit runs every
/// 100 ms in these tests).
fn let_commits_happen() {
    std::thread::sleep(Duration::from_millis(600));
}

#[test]
fn a_crash_replays_exactly_the_unacknowledged_partition() {
    let cluster = cluster(3);
    produce(&cluster, 3, 10);
    let input = run(&config_with(&cluster, "crash", "", SHORT_SESSION), 5);
    let mut batches = take(&input, 30);
    // Hold the first batch of partition 0; acknowledge every other batch.
    let held_at = batches
        .iter()
        .position(|b| messages(&b.events).first().is_some_and(|m| m == "p0-0"))
        .expect("p0-0 starts a batch");
    let held = batches.remove(held_at);
    drop(batches);
    let_commits_happen();
    assert!(input.stop().is_empty());
    // The held batch is never acknowledged: as if the process died with it in flight.
    std::mem::forget(held);

    let again = run(&config_with(&cluster, "crash", "", SHORT_SESSION), 5);
    let events = rejoined(&again, 10);
    let expected: Vec<String> = (0..10).map(|i| format!("p0-{i}")).collect();
    assert_eq!(messages(&events), expected);
    again.nothing_more();
    again.stop();
}

#[test]
fn a_failed_batch_blocks_its_partition_commit() {
    let cluster = cluster(2);
    produce(&cluster, 2, 6);
    let input = run(&config(&cluster, "fail", SHORT_SESSION_OPTIONS), 3);
    let batches = take(&input, 12);
    for batch in &batches {
        if messages(&batch.events).contains(&"p1-3".to_string()) {
            batch.mark_failed();
        }
    }
    drop(batches);
    assert!(input.stop().is_empty());

    // Partition 1 resumes after the last delivered batch before the failed one.
    let again = run(&config(&cluster, "fail", SHORT_SESSION_OPTIONS), 3);
    let events = rejoined(&again, 3);
    assert_eq!(messages(&events), ["p1-3", "p1-4", "p1-5"]);
    again.nothing_more();
    again.stop();
}

#[test]
fn two_inputs_in_one_group_share_the_partitions() {
    let cluster = cluster(4);
    let text = config(&cluster, "shared", "");
    let (a, b) = (run(&text, 50), run(&text, 50));
    let producer = producer(&cluster);
    let mut sent = BTreeSet::new();
    let mut got: [BTreeSet<String>; 2] = Default::default();
    let deadline = Instant::now() + PATIENCE;
    // Produce round after round until both members consume (each owns some partitions).
    let mut round = 0;
    while got.iter().any(BTreeSet::is_empty) {
        assert!(Instant::now() < deadline, "one input got nothing: {got:?}");
        for p in 0..4 {
            let payload = format!("p{p}-{round}");
            let record = BaseRecord::<(), _>::to("t").partition(p).payload(&payload);
            producer.send(record).unwrap();
            sent.insert(payload);
        }
        producer.flush(PATIENCE).unwrap();
        round += 1;
        for (input, seen) in [&a, &b].into_iter().zip(got.iter_mut()) {
            while let Some(batch) = input.next_batch(Duration::from_millis(50)) {
                seen.extend(messages(&batch.events));
            }
        }
    }
    while got[0].union(&got[1]).count() < sent.len() {
        assert!(Instant::now() < deadline, "not everything arrived");
        for (input, seen) in [&a, &b].into_iter().zip(got.iter_mut()) {
            while let Some(batch) = input.next_batch(Duration::from_millis(50)) {
                seen.extend(messages(&batch.events));
            }
        }
    }
    let union: BTreeSet<String> = got[0].union(&got[1]).cloned().collect();
    assert_eq!(union, sent);
    a.stop();
    b.stop();
}

#[test]
fn option_errors_point_at_their_option() {
    let cases = [
        (
            "consumer_threads => 0",
            "consumer_threads must be at least 1",
        ),
        (
            "max_poll_records => -5",
            "max_poll_records must be at least 1",
        ),
        (
            r#"kafka_properties => { "no.such.property" => "1" }"#,
            "kafka_properties: ",
        ),
        (
            r#"kafka_properties => { "enable.auto.offset.store" => "true" }"#,
            "is set by the input",
        ),
        (r#"topics_pattern => "(unclosed""#, "topics_pattern: "),
        (r#"decorate_events => "sideways""#, "sideways"),
        (r#"auto_offset_reset => "sometime""#, "auto_offset_reset: "),
        (r#"topics => []"#, "name at least one topic"),
        (r#"bootstrap_server => "x:1""#, "bootstrap_servers"),
        (r#"session_timeout_ms => "soon""#, "session_timeout_ms: "),
        (r#"isolation_level => "sometimes""#, "isolation_level: "),
        (
            r#"fetch_min_bytes => [1]"#,
            "fetch_min_bytes: expected a number",
        ),
        (
            r#"partition_assignment_strategy => "sticky""#,
            "use \"cooperative_sticky\"",
        ),
        (
            r#"partition_assignment_strategy => "random""#,
            "expected range, round_robin or cooperative_sticky",
        ),
        (
            r#"ssl_truststore_type => "jks""#,
            "PEM file of CA certificates",
        ),
        (r#"ssl_keystore_type => "JKS""#, "convert it to PKCS12"),
        (
            r#"schema_registry_url => "http://registry:8081""#,
            "setting of Kafka's Java client",
        ),
        (r#"jaas_path => "/etc/jaas.conf""#, "sasl_jaas_config"),
        (
            r#"value_deserializer_class => "io.confluent.kafka.serializers.KafkaAvroDeserializer""#,
            "is Java code",
        ),
        (
            r#"poll_timeout_ms => 0"#,
            "poll_timeout_ms must be at least 1",
        ),
    ];
    for (options, expected) in cases {
        let text = format!("input {{ kafka {{ {options} }} }}");
        let error = build_error(&text, &no_env);
        assert!(
            error.contains(expected),
            "{options}: expected {expected:?} in:\n{error}"
        );
    }
}

#[test]
fn logstash_options_reach_librdkafka() {
    let cluster = cluster(1);
    produce(&cluster, 1, 3);
    // Each option is checked by librdkafka itself, so a value it refuses would fail the build.
    let options = r#"
        fetch_min_bytes => 1 fetch_max_wait_ms => "50" max_partition_fetch_bytes => 1048576
        check_crcs => true isolation_level => "read_committed" client_rack => "rack-1"
        partition_assignment_strategy => "round_robin" client_dns_lookup => "use_all_dns_ips"
        key_deserializer_class => "org.apache.kafka.common.serialization.StringDeserializer"
        ssl_keystore_type => "pkcs12" exclude_internal_topics => true poll_timeout_ms => 20
    "#;
    let input = run(&config(&cluster, "opts", options), 10);
    let events = input.events(3);
    assert_eq!(messages(&events), ["p0-0", "p0-1", "p0-2"]);
    input.stop();
}

#[test]
fn without_auto_commit_each_delivery_commits_at_once() {
    let cluster = cluster(2);
    produce(&cluster, 2, 5);
    // A timer that never fires within the test: only delivery can commit.
    let options = "enable_auto_commit => false auto_commit_interval_ms => 600000";
    let text =
        config(&cluster, "manual", options).replace(r#"auto_commit_interval_ms => "100""#, "");
    let input = run(&text, 5);
    let mut batches = take(&input, 10);
    let p1 = batches
        .iter()
        .position(|b| {
            messages(&b.events)
                .first()
                .is_some_and(|m| m.starts_with("p1"))
        })
        .unwrap();
    let held = batches.remove(p1);
    drop(batches);
    let commits = || committed(&cluster, "manual", 2);
    wait_for_value("commits", vec![5, -1], commits);
    drop(held);
    wait_for_value("commits", vec![5, 5], commits);
    input.stop();
}

#[test]
fn consumer_lag_counts_undelivered_messages_of_owned_partitions() {
    let cluster = cluster(2);
    produce(&cluster, 1, 30);
    let stats = r#""statistics.interval.ms" => "100""#;
    let mut plan = common::plan_of(&config_with(&cluster, "lag", "", stats), &no_env);
    let input = plan.inputs.remove(0);
    let lag = input.input.partition_lag().expect("kafka reports lag");
    let decoration = input.decoration;
    let running = Running::spawn(input.input, 64, |ctx| {
        ctx.with_decoration(decoration).with_batch_size(10)
    });
    let p = |n: i32| (std::sync::Arc::<str>::from("t"), n);
    let lag_of = |partition: i32| {
        lag.partitions()
            .into_iter()
            .find(|(owned, _)| *owned == p(partition))
            .map(|(_, lag)| lag)
    };
    let wait_for = |partition: i32, expected: i64| {
        wait_for_value(
            &format!("lag of partition {partition}"),
            Some(expected),
            || lag_of(partition),
        );
    };
    let mut batches = running.batches(30);
    // Delivered: the first 10; the other 20 are in flight.
    drop(batches.remove(0));
    wait_for(0, 20);
    // Partition 1 is owned, empty, and nothing was ever stored or committed there.
    wait_for(1, -1);
    drop(batches);
    wait_for(0, 0);
    running.stop();
}

#[test]
fn pipeline_stats_name_the_input_of_each_lag_reading() {
    let cluster = cluster(2);
    produce(&cluster, 2, 4);
    let stats = r#""statistics.interval.ms" => "100""#;
    let text = config_with(&cluster, "stats", r#"id => "business""#, stats) + " output { null {} }";
    let plan = common::plan_of(&text, &no_env);
    let pipeline = Pipeline::new(
        plan,
        PipelineSettings {
            workers: 1,
            batch_size: 10,
            batch_delay: Duration::from_millis(5),
            ..Default::default()
        },
    );
    let stats = pipeline.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        pipeline.run_until(async move {
            let _ = stopped.await;
        })
    });
    let expected: Vec<_> = (0..2)
        .map(|partition| PartitionLagReading {
            input: "business".to_string(),
            topic: "t".into(),
            partition,
            lag: 0,
        })
        .collect();
    wait_for_value("lag readings", expected, || stats.partition_lag());
    assert_eq!(stats.events_out(), 8);
    stop.send(()).unwrap();
    thread.join().unwrap().unwrap();
}

#[test]
fn a_rebalance_replays_what_was_in_flight_and_commits_only_delivered_offsets() {
    let cluster = cluster(4);
    let sent = produce(&cluster, 4, 10);
    let text = config(&cluster, "rebalance", SHORT_SESSION_OPTIONS);
    let a = run(&text, 10);
    // Everything is in flight at `a`, never acknowledged before the rebalance.
    let held = take(&a, 40);
    let b = run(&text, 10);
    // The rebalance revokes `a`'s partitions: their batches in flight count for nothing, and
    // both members read again from the group's committed offsets (none yet).
    let mut again: BTreeSet<String> = BTreeSet::new();
    let mut from_b = 0;
    let deadline = Instant::now() + 3 * PATIENCE;
    while again != sent {
        assert!(Instant::now() < deadline, "replayed: {again:?}");
        for (input, is_b) in [(&a, false), (&b, true)] {
            while let Some(batch) = input.next_batch(Duration::from_millis(50)) {
                let got = messages(&batch.events);
                from_b += usize::from(is_b) * got.len();
                again.extend(got);
            }
        }
    }
    assert!(from_b > 0, "the second member took no partition");
    // The replays alone carry the commits to the end, while the first deliveries are still
    // held; acknowledged after their revocation, those change nothing.
    let commits = || committed(&cluster, "rebalance", 4);
    wait_for_value("committed offsets", vec![10; 4], commits);
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(commits(), vec![10; 4]);
    a.stop();
    b.stop();
}

#[test]
fn topics_pattern_subscribes_to_every_matching_topic_and_only_those() {
    let cluster = cluster(1);
    for topic in ["logs-a", "logs-b", "logs-bx", "metrics"] {
        cluster.create_topic(topic, 1).unwrap();
        let message = Message::new(format!("from {topic}").into_bytes());
        cluster.produce(topic, [message]).unwrap();
    }
    let text = config(&cluster, "pattern", r#"topics_pattern => "logs-a|logs-b""#)
        .replace(r#"topics => ["t"]"#, "");
    let input = run(&text, 10);
    let mut got = messages(&input.events(2));
    got.sort();
    assert_eq!(got, ["from logs-a", "from logs-b"]);
    input.nothing_more();
    input.stop();
}
