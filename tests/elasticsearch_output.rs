//! The `elasticsearch` output, run in real pipelines against the Elasticsearch stand-in
//! (`sluice::standin::elasticsearch`) over real HTTP: every event must end up indexed exactly
//! once or dead-lettered, whatever faults the stand-in is scripted to inject.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::no_env;
use sluice::dlq::{DeadLetterQueue, DlqReader};
use sluice::pipeline::{self, PipelineSettings};
use sluice::plan::{build_with, BuildSettings, Plan};
use sluice::standin::elasticsearch::{
    Config, EsVersion, ItemFault, RequestFault, Scope, StandIn, Times,
};

/// A stand-in on a runtime of its own, so a pipeline (which runs its own) can talk to it.
struct Es {
    standin: StandIn,
    _runtime: tokio::runtime::Runtime,
}

fn es(config: Config) -> Es {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let standin = runtime
        .block_on(StandIn::start(config))
        .expect("stand-in starts");
    Es {
        standin,
        _runtime: runtime,
    }
}

fn es8() -> Es {
    es(Config::default())
}

/// `count` generator events numbered by `[seq]` (0..count) into `output { elasticsearch {..} }`.
fn config(count: usize, es_options: &str) -> String {
    format!(
        r#"input {{ generator {{ count => {count} message => "line" }} }}
           output {{ elasticsearch {{ {es_options} }} }}"#
    )
}

fn plan(text: &str, dlq: Option<Arc<DeadLetterQueue>>) -> Result<Plan, String> {
    build(text, dlq)
}

/// The build error of `text`.
fn build_error(text: &str) -> String {
    match build(text, None) {
        Ok(_) => panic!("built: {text}"),
        Err(e) => e,
    }
}

fn build(text: &str, dlq: Option<Arc<DeadLetterQueue>>) -> Result<Plan, String> {
    let sources = sluice::config::SourceMap::single("test.conf", text);
    let ast =
        sluice::config::parse(&sources, Default::default()).map_err(|d| d.render(&sources))?;
    let settings = BuildSettings {
        dead_letter_queue: dlq,
        ..BuildSettings::default()
    };
    build_with(&ast, &no_env, settings).map_err(|d| d.render(&sources))
}

fn run(text: &str, dlq: Option<Arc<DeadLetterQueue>>) -> Result<(), String> {
    let plan = plan(text, dlq)?;
    let settings = PipelineSettings {
        workers: 1,
        batch_size: 50,
        batch_delay: Duration::from_millis(5),
        ..Default::default()
    };
    pipeline::run(plan, settings).map_err(|e| e.to_string())
}

/// Options every test uses: the stand-in's URL, a fixed index, fast retries.
fn options(es: &Es, extra: &str) -> String {
    format!(
        r#"hosts => ["{}"] index => "logs" document_id => "%{{[sequence]}}"
           retry_initial_interval => 0.01 retry_max_interval => 0.05 {extra}"#,
        es.standin.url()
    )
}

/// Every document id 0..n is in `index` exactly once (ids are unique keys, so also checks the
/// count matches).
fn assert_all_indexed(es: &Es, index: &str, n: usize) {
    assert_eq!(es.standin.count(index), n, "documents in {index}");
    for i in 0..n {
        assert!(
            es.standin.doc(index, &i.to_string()).is_some(),
            "document {i} missing"
        );
    }
}

#[test]
fn every_event_is_indexed_with_its_fields() {
    let es = es8();
    run(&config(500, &options(&es, "")), None).unwrap();
    assert_all_indexed(&es, "logs", 500);
    let doc = es.standin.doc("logs", "7").unwrap();
    assert_eq!(doc["message"], "line");
    assert_eq!(doc["sequence"], 7);
    assert!(doc["@timestamp"].is_string(), "{doc}");
    let bulks: Vec<_> = es
        .standin
        .requests()
        .into_iter()
        .filter(|r| r.path == "/_bulk")
        .collect();
    assert!(!bulks.is_empty());
    for r in &bulks {
        assert_eq!(r.method, "POST");
        let query = r.query.as_deref().unwrap_or_default();
        assert!(query.contains("filter_path="), "{query}");
    }
}

#[test]
fn works_unchanged_against_7x() {
    let es7 = es(Config {
        version: EsVersion::V7,
        ..Config::default()
    });
    run(&config(200, &options(&es7, "")), None).unwrap();
    assert_all_indexed(&es7, "logs", 200);
    let old = es(Config {
        version: EsVersion::new(7, 10, 2),
        ..Config::default()
    });
    run(&config(10, &options(&old, "")), None).unwrap();
    assert_all_indexed(&old, "logs", 10);
}

#[test]
fn refuses_to_start_against_something_that_is_not_elasticsearch() {
    let fake = es(Config {
        product_header: false,
        ..Config::default()
    });
    let err = run(&config(10, &options(&fake, "")), None).unwrap_err();
    assert!(err.contains("not Elasticsearch"), "{err}");
    assert!(err.contains("X-elastic-product"), "{err}");
    assert_eq!(fake.standin.count("logs"), 0);
}

#[test]
fn retried_items_are_indexed_once_and_only_they_are_resent() {
    let es = es8();
    es.standin
        .faults()
        .fail_items(ItemFault::Rejected, Times::Count(30));
    es.standin
        .faults()
        .fail_items(ItemFault::Unavailable, Times::Count(20));
    run(&config(300, &options(&es, "")), None).unwrap();
    assert_all_indexed(&es, "logs", 300);
    let sent: usize = es
        .standin
        .requests()
        .iter()
        .filter(|r| r.path == "/_bulk")
        .map(|r| r.items)
        .sum();
    assert_eq!(sent, 300 + 50, "only the failed items are sent again");
}

#[test]
fn whole_request_failures_are_retried() {
    let es = es8();
    let faults = es.standin.faults();
    faults.fail_requests(RequestFault::CircuitBreaking, Times::Count(2));
    faults.fail_requests(RequestFault::Unavailable, Times::Count(2));
    faults.fail_requests(RequestFault::Unauthorized, Times::Count(1));
    faults.drop_connections(Times::Count(2), Scope::Bulk);
    run(&config(200, &options(&es, "")), None).unwrap();
    assert_all_indexed(&es, "logs", 200);
}

#[test]
fn a_request_answered_later_than_timeout_is_sent_again() {
    let es = es8();
    es.standin
        .faults()
        .delay(Duration::from_millis(1500), Times::Count(1), Scope::Bulk);
    let started = Instant::now();
    run(&config(50, &options(&es, "timeout => 0.3")), None).unwrap();
    // Done long before the slow answer would have come.
    assert!(started.elapsed() < Duration::from_millis(1400));
    // The abandoned request may still be applied, as Elasticsearch would: the document ids
    // make the second sending overwrite it, so each event is in the index once.
    assert_all_indexed(&es, "logs", 50);
}

#[test]
fn a_too_large_request_is_split_until_it_fits() {
    let es = es8();
    es.standin
        .faults()
        .fail_requests(RequestFault::TooLarge, Times::Count(3));
    run(&config(100, &options(&es, "")), None).unwrap();
    assert_all_indexed(&es, "logs", 100);
    let statuses: Vec<u16> = es
        .standin
        .requests()
        .iter()
        .filter(|r| r.path == "/_bulk")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 413).count(), 3);
}

#[test]
fn elasticsearch_down_for_a_while_loses_nothing() {
    let es = es8();
    es.standin.faults().down_for(Duration::from_millis(400));
    let started = Instant::now();
    run(&config(300, &options(&es, "")), None).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_all_indexed(&es, "logs", 300);
}

/// `config` with both stand-ins as hosts, in small batches so there are many requests.
fn two_host_run(a: &Es, b: &Es, count: usize) {
    let text = format!(
        r#"input {{ generator {{ count => {count} message => "line" }} }}
           output {{ elasticsearch {{ hosts => ["{}", "{}"] index => "logs"
               document_id => "%{{[sequence]}}" flush_size => 20
               retry_initial_interval => 0.01 retry_max_interval => 0.05 }} }}"#,
        a.standin.url(),
        b.standin.url()
    );
    run(&text, None).unwrap();
}

/// Every id 0..n is in exactly one of the two stand-ins.
fn assert_split_between(a: &Es, b: &Es, n: usize) {
    assert_eq!(a.standin.count("logs") + b.standin.count("logs"), n);
    for i in 0..n {
        let id = i.to_string();
        let copies = [a, b]
            .iter()
            .filter(|es| es.standin.doc("logs", &id).is_some())
            .count();
        assert_eq!(copies, 1, "document {i}");
    }
}

#[test]
fn requests_spread_over_the_hosts() {
    let (a, b) = (es8(), es8());
    two_host_run(&a, &b, 400);
    assert_split_between(&a, &b, 400);
    assert!(a.standin.count("logs") > 0 && b.standin.count("logs") > 0);
}

#[test]
fn a_host_that_is_down_is_skipped_and_nothing_is_lost() {
    let (a, b) = (es8(), es8());
    b.standin.faults().down_for(Duration::from_secs(30));
    two_host_run(&a, &b, 400);
    assert_eq!(a.standin.count("logs"), 400);
    assert_split_between(&a, &b, 400);
}

#[test]
fn create_conflicts_count_as_done() {
    let es = es8();
    run(&config(50, &options(&es, r#"action => "create""#)), None).unwrap();
    // The same ids again: every item answers 409, which means already indexed.
    run(&config(50, &options(&es, r#"action => "create""#)), None).unwrap();
    assert_all_indexed(&es, "logs", 50);
}

fn dlq(dir: &Path) -> Arc<DeadLetterQueue> {
    Arc::new(DeadLetterQueue::open(dir, "main", 1 << 30).unwrap())
}

#[test]
fn refused_items_go_to_the_dead_letter_queue_with_the_reason() {
    let es = es8();
    let dir = tempfile::tempdir().unwrap();
    es.standin.faults().fail_items_containing(
        "\"sequence\":13}",
        ItemFault::MapperParsing,
        Times::Forever,
    );
    es.standin.faults().fail_items_containing(
        "\"sequence\":42}",
        ItemFault::IndexNotFound,
        Times::Forever,
    );
    run(&config(100, &options(&es, "")), Some(dlq(dir.path()))).unwrap();
    assert_eq!(es.standin.count("logs"), 98);
    let mut reader = DlqReader::open(dir.path(), "main").unwrap();
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        records.push(record);
    }
    assert_eq!(records.len(), 2, "{records:?}");
    let mut statuses: Vec<u16> = records.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [400, 404]);
    for record in &records {
        assert_eq!(record.index, "logs");
        assert_eq!(record.plugin_type, "elasticsearch");
        let reason = record.reason();
        assert!(
            reason.contains("parsing_exception") || reason.contains("index_not_found"),
            "{reason}"
        );
    }
}

#[test]
fn without_a_dead_letter_queue_refused_items_are_dropped_not_retried() {
    let es = es8();
    es.standin.faults().fail_items_containing(
        "\"sequence\":5}",
        ItemFault::MapperParsing,
        Times::Forever,
    );
    run(&config(20, &options(&es, "")), None).unwrap();
    assert_eq!(es.standin.count("logs"), 19);
}

#[test]
fn index_action_and_routing_are_sprintf() {
    let es = es8();
    let text = format!(
        r#"input {{ generator {{ count => 6 message => "line" }} }}
           filter {{ mutate {{ add_field => {{ "app" => "web" }} }} }}
           output {{ elasticsearch {{ hosts => ["{}"] index => "logs-%{{app}}-%{{+YYYY}}"
               document_id => "%{{sequence}}" routing => "%{{app}}" }} }}"#,
        es.standin.url()
    );
    run(&text, None).unwrap();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_all_indexed(&es, &format!("logs-web-{year}"), 6);
}

#[test]
fn update_with_doc_as_upsert_and_delete() {
    let es = es8();
    run(
        &config(
            5,
            &options(&es, r#"action => "update" doc_as_upsert => true"#),
        ),
        None,
    )
    .unwrap();
    assert_all_indexed(&es, "logs", 5);
    run(&config(5, &options(&es, r#"action => "delete""#)), None).unwrap();
    assert_eq!(es.standin.count("logs"), 0);
}

#[test]
fn data_streams_take_create_and_are_named_from_the_options() {
    let es = es8();
    let text = format!(
        r#"input {{ generator {{ count => 3 message => "line" }} }}
           output {{ elasticsearch {{ hosts => ["{}"] data_stream => "true"
               data_stream_dataset => "nginx" }} }}"#,
        es.standin.url()
    );
    run(&text, None).unwrap();
    assert_eq!(es.standin.count("logs-nginx-default"), 3);
    let err =
        build_error(r#"output { elasticsearch { data_stream => "true" action => "index" } }"#);
    assert!(err.contains("only the create action"), "{err}");
}

#[test]
fn data_stream_fields_route_events_and_are_synced_to_the_name() {
    let es = es8();
    let text = format!(
        r#"input {{ generator {{ count => 4 message => "line" }} }}
           filter {{
             if [sequence] >= 2 {{
               mutate {{ add_field => {{ "[data_stream][dataset]" => "web" "[data_stream][extra]" => "x" }} }}
             }}
           }}
           output {{ elasticsearch {{ hosts => ["{}"] data_stream => "true"
               data_stream_dataset => "nginx" }} }}"#,
        es.standin.url()
    );
    run(&text, None).unwrap();
    assert_eq!(es.standin.count("logs-nginx-default"), 2);
    assert_eq!(es.standin.count("logs-web-default"), 2);
    for (_, doc) in es.standin.docs("logs-nginx-default") {
        let expected =
            serde_json::json!({"type": "logs", "dataset": "nginx", "namespace": "default"});
        assert_eq!(doc["data_stream"], expected, "{doc}");
    }
    for (_, doc) in es.standin.docs("logs-web-default") {
        let expected = serde_json::json!(
            {"type": "logs", "dataset": "web", "namespace": "default", "extra": "x"});
        assert_eq!(doc["data_stream"], expected, "{doc}");
    }
}

#[test]
fn without_auto_routing_and_sync_the_options_name_the_stream_and_events_are_kept_as_they_are() {
    let es = es8();
    let text = format!(
        r#"input {{ generator {{ count => 2 message => "line" }} }}
           filter {{ mutate {{ add_field => {{ "[data_stream][dataset]" => "web" }} }} }}
           output {{ elasticsearch {{ hosts => ["{}"] data_stream => "true"
               data_stream_dataset => "nginx" data_stream_auto_routing => false
               data_stream_sync_fields => false }} }}"#,
        es.standin.url()
    );
    run(&text, None).unwrap();
    assert_eq!(es.standin.count("logs-nginx-default"), 2);
    for (_, doc) in es.standin.docs("logs-nginx-default") {
        assert_eq!(
            doc["data_stream"],
            serde_json::json!({"dataset": "web"}),
            "{doc}"
        );
    }
}

#[test]
fn compression_level_zero_sends_plain_bodies_and_above_nine_is_refused() {
    let es = es8();
    let extra = "http_compression => true compression_level => 0";
    run(&config(5, &options(&es, extra)), None).unwrap();
    assert_all_indexed(&es, "logs", 5);
    let bulk = es
        .standin
        .requests()
        .into_iter()
        .find(|r| r.path == "/_bulk");
    assert_eq!(bulk.unwrap().header("content-encoding"), None);
    let err = build_error(r#"output { elasticsearch { compression_level => 10 } }"#);
    assert!(
        err.contains("compression_level 10 is not between 0 and 9"),
        "{err}"
    );
}

#[test]
fn gzip_and_credentials_reach_the_server() {
    let es = es8();
    run(
        &config(
            20,
            &options(
                &es,
                r#"http_compression => true user => "elastic" password => "s3cret""#,
            ),
        ),
        None,
    )
    .unwrap();
    assert_all_indexed(&es, "logs", 20);
    let bulk = es
        .standin
        .requests()
        .into_iter()
        .find(|r| r.path == "/_bulk")
        .unwrap();
    assert_eq!(bulk.header("content-encoding"), Some("gzip"));
    assert_eq!(bulk.header("x-elastic-event-count"), Some("20"));
    let uncompressed = bulk.header("x-elastic-uncompressed-request-length");
    assert_eq!(uncompressed, Some(bulk.body_len.to_string().as_str()));
    assert!(bulk
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
}

#[test]
fn a_template_is_installed_at_startup() {
    let es = es8();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.json");
    std::fs::write(
        &path,
        r#"{"index_patterns":["logs*"],"template":{"settings":{"number_of_shards":1}}}"#,
    )
    .unwrap();
    let extra = format!(
        r#"template => "{}" template_name => "mine""#,
        path.display()
    );
    run(&config(3, &options(&es, &extra)), None).unwrap();
    let templates = es.standin.templates();
    assert!(
        templates.iter().any(|(name, _)| name == "mine"),
        "{templates:?}"
    );
}

#[test]
fn the_built_in_template_is_installed_unless_told_otherwise() {
    let es = es8();
    run(&config(2, &options(&es, "")), None).unwrap();
    let templates = es.standin.templates();
    let (name, body) = &templates[0];
    assert_eq!(name, "ecs-logstash");
    assert_eq!(
        body["index_patterns"],
        serde_json::json!(["ecs-logstash-*"])
    );
    let keyword = &body["template"]["mappings"]["dynamic_templates"][1]["string_fields"];
    assert_eq!(keyword["mapping"]["fields"]["keyword"]["type"], "keyword");

    let legacy = es8();
    let text = config(2, &options(&legacy, "ecs_compatibility => disabled"));
    run(&text, None).unwrap();
    assert_eq!(legacy.standin.templates()[0].0, "logstash");

    let off = es8();
    run(&config(2, &options(&off, "manage_template => false")), None).unwrap();
    assert!(off.standin.templates().is_empty());
    assert_all_indexed(&off, "logs", 2);
}

#[test]
fn bad_options_are_reported_at_their_place() {
    for (options, expected) in [
        (
            r#"action => "upsert""#,
            "is not index, create, update or delete",
        ),
        (r#"hosts => ["ftp://x"]"#, "must be http or https"),
        (r#"retry_max_interval => 0"#, "must be positive"),
        (
            r#"user => "u" api_key => "k""#,
            "either user/password or api_key",
        ),
        (r#"indx => "x""#, "indx"),
    ] {
        let err = build_error(&format!("output {{ elasticsearch {{ {options} }} }}"));
        assert!(err.contains(expected), "{options}: {err}");
        assert!(err.contains("test.conf:1:"), "{err}");
    }
}

#[test]
fn retries_back_off_exponentially_up_to_the_cap() {
    let es = es8();
    es.standin
        .faults()
        .fail_requests(RequestFault::Unavailable, Times::Count(5));
    let extra = r#"retry_initial_interval => 0.04 retry_max_interval => 0.16"#;
    let text = config(
        1,
        &format!(
            r#"hosts => ["{}"] index => "logs" document_id => "%{{[sequence]}}" {extra}"#,
            es.standin.url()
        ),
    );
    run(&text, None).unwrap();
    assert_all_indexed(&es, "logs", 1);
    let arrivals: Vec<Instant> = es
        .standin
        .requests()
        .iter()
        .filter(|r| r.path == "/_bulk")
        .map(|r| r.arrived)
        .collect();
    assert_eq!(arrivals.len(), 6, "5 failures, then success");
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    // Each wait is drawn from the upper half of 40, 80, 160, 160, 160 ms.
    let at_least_ms = [20, 40, 80, 80, 80];
    for (gap, min) in gaps.iter().zip(at_least_ms) {
        assert!(gap.as_millis() >= min, "{gaps:?}");
    }
    assert!(gaps.iter().all(|g| g.as_millis() < 1_000), "{gaps:?}");
}

/// Counts acknowledgements, as an input that commits progress would.
#[derive(Default)]
struct Acks(std::sync::Mutex<Vec<(u64, sluice::event::AckStatus)>>);

impl sluice::event::Acknowledge for Acks {
    fn acknowledge(&self, id: u64, status: sluice::event::AckStatus) {
        self.0.lock().unwrap().push((id, status));
    }
}

/// A batch of events whose `[sequence]` runs over `seqs`, with a token `id` in `partition`.
fn partition_batch(
    acks: &Arc<Acks>,
    id: u64,
    partition: Option<u64>,
    seqs: std::ops::Range<i64>,
) -> sluice::outputs::OutputBatch {
    use sluice::event::{AckToken, Batch, Event, Timestamp, Value};
    let events = seqs
        .map(|seq| {
            let mut event = Event::new(Timestamp::now());
            event.set_field("sequence".into(), Value::Int(seq));
            event
        })
        .collect();
    let mut token = AckToken::new(acks.clone(), id);
    if let Some(key) = partition {
        token = token.in_partition(key);
    }
    sluice::outputs::OutputBatch::new(Arc::new(Batch::with_ack(events, token)), None)
}

#[test]
fn a_partition_is_delivered_in_order_while_other_requests_run_alongside() {
    let es = es8();
    // The first bulk request (partition 7's first batch) is answered late.
    es.standin
        .faults()
        .delay(Duration::from_millis(600), Times::Count(1), Scope::Bulk);
    let text = config(
        0,
        &options(&es, "flush_size => 10 max_in_flight_requests => 4"),
    );
    let mut plan = plan(&text, None).unwrap();
    let mut output = plan.outputs.remove(0).output;
    let acks = Arc::new(Acks::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        output.start().await.unwrap();
        output
            .write(&partition_batch(&acks, 1, Some(7), 0..10))
            .await
            .unwrap();
        // Let the first request reach the stand-in (and its delay) before the others exist.
        tokio::time::sleep(Duration::from_millis(150)).await;
        output
            .write(&partition_batch(&acks, 2, None, 100..110))
            .await
            .unwrap();
        output
            .write(&partition_batch(&acks, 3, Some(7), 10..20))
            .await
            .unwrap();
        output.close().await.unwrap();
    });
    let order: Vec<i64> = es
        .standin
        .docs("logs")
        .iter()
        .map(|(_, doc)| doc["sequence"].as_i64().unwrap())
        .collect();
    let position = |seq: i64| order.iter().position(|&s| s == seq).unwrap();
    assert_eq!(order.len(), 30, "{order:?}");
    // Partition 7's second batch waited for the first, delayed one...
    assert!(position(9) < position(10), "{order:?}");
    // ... while the batch without a partition went ahead of it.
    assert!(position(109) < position(0), "{order:?}");
    let mut acked = acks.0.lock().unwrap().clone();
    acked.sort_by_key(|(id, _)| *id);
    let delivered = sluice::event::AckStatus::Delivered;
    assert_eq!(acked, vec![(1, delivered), (2, delivered), (3, delivered)]);
}

#[test]
fn events_being_retried_stay_counted_until_indexed() {
    let es = es8();
    // Every bulk request fails until the fault is lifted.
    es.standin
        .faults()
        .fail_requests(RequestFault::Unavailable, Times::Forever);
    let pipeline = pipeline::Pipeline::new(
        plan(&config(120, &options(&es, "")), None).unwrap(),
        PipelineSettings {
            workers: 1,
            batch_size: 50,
            batch_delay: Duration::from_millis(5),
            ..Default::default()
        },
    );
    let stats = pipeline.stats();
    let running = std::thread::spawn(move || pipeline.run_until(std::future::pending()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.events_filtered() < 120 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Give the output time to retry a few times: the events are still held, none lost.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(stats.events_in_outputs(), 120);
    assert_eq!(es.standin.count("logs"), 0);
    es.standin.faults().clear();
    running.join().unwrap().unwrap();
    assert_eq!(stats.events_in_outputs(), 0);
    assert_eq!(stats.events_out(), 120);
    assert_all_indexed(&es, "logs", 120);
}
