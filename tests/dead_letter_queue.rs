//! The dead letter queue: the writer (batches, concurrent appends, max_bytes, segment rotation,
//! a crash's partial last line), the reader (order, resuming, following, skipping bad lines),
//! and the `dead_letter_queue` input run in real pipelines built from config text (events and
//! metadata restored, commit_offsets across restarts, start_timestamp, clean_consumed).

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::dlq::{self, DeadLetterQueue, DlqEntry, DlqError, DlqPosition, DlqReader, DlqRecord};
use sluice::event::{Event, Map, Text, Timestamp, Value};
use sluice::pipeline::{self, PipelineSettings};

use common::{get, json, no_env, plan_of, tags};

const MAPPING_ERROR: &str = r#"{"type":"mapper_parsing_exception","reason":"failed to parse field [x]","caused_by":{"type":"illegal_argument_exception"}}"#;

/// An event numbered `n`: `message`, `n`, `tags`, a nested field and metadata.
fn event(n: i64) -> Event {
    let mut fields = Map::new();
    fields.insert(
        Text::new("@timestamp"),
        Value::from("2020-05-06T07:08:09.123Z"),
    );
    fields.insert(Text::new("message"), Value::from(format!("event {n}")));
    fields.insert(Text::new("n"), Value::Int(n));
    fields.insert(Text::new("tags"), Value::Array(vec![Value::from("t1")]));
    let mut nested = Map::new();
    nested.insert(Text::new("x"), Value::from("not a number"));
    fields.insert(Text::new("doc"), Value::Map(nested));
    let mut e = Event::from_fields(fields, Timestamp::from_secs(0));
    e.metadata_mut()
        .insert(Text::new("origin"), Value::from("the first pipeline"));
    e
}

fn entry(event: &Event) -> DlqEntry<'_> {
    DlqEntry {
        event,
        plugin_type: "elasticsearch",
        plugin_id: "es_out",
        index: "logs-2020.05.06",
        status: 400,
        error: MAPPING_ERROR,
    }
}

fn append_events(queue: &DeadLetterQueue, numbers: std::ops::Range<i64>) {
    let events: Vec<Event> = numbers.map(event).collect();
    let entries: Vec<DlqEntry<'_>> = events.iter().map(entry).collect();
    queue.append(&entries).unwrap();
}

/// Every record the reader has now.
fn read_all(reader: &mut DlqReader) -> Vec<DlqRecord> {
    std::iter::from_fn(|| reader.next_record().unwrap()).collect()
}

fn numbers(records: &[DlqRecord]) -> Vec<i64> {
    records
        .iter()
        .map(|r| match r.event.get_field("n") {
            Some(Value::Int(n)) => *n,
            other => panic!("n is {other:?}"),
        })
        .collect()
}

fn segment_lines(dir: &Path) -> Vec<String> {
    dlq::list_segments(dir)
        .unwrap()
        .into_iter()
        .flat_map(|n| {
            let text = std::fs::read_to_string(dlq::segment_path(dir, n)).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Writer and reader

#[test]
fn appended_batches_are_read_back_in_order_with_everything_written() {
    let root = tempfile::tempdir().unwrap();
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    assert_eq!(queue.path(), root.path().join("main"));
    let before = Timestamp::now();
    append_events(&queue, 0..3);
    append_events(&queue, 3..5);

    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    let records = read_all(&mut reader);
    assert_eq!(numbers(&records), [0, 1, 2, 3, 4]);
    let r = &records[0];
    assert_eq!(r.plugin_type, "elasticsearch");
    assert_eq!(r.plugin_id, "es_out");
    assert_eq!(r.index, "logs-2020.05.06");
    assert_eq!(r.status, 400);
    assert!(r.entry_time >= before && r.entry_time <= Timestamp::now());
    assert_eq!(r.error, json(MAPPING_ERROR));
    assert_eq!(
        r.reason(),
        "status 400: mapper_parsing_exception: failed to parse field [x]"
    );
    // The event comes back as it was: fields in order, @timestamp a timestamp, metadata.
    assert_eq!(r.event, event(0));
    assert_eq!(
        r.event.timestamp(),
        Timestamp::parse_iso8601("2020-05-06T07:08:09.123Z")
    );
    assert_eq!(reader.skipped(), 0);
}

#[test]
fn every_line_is_one_json_object_with_the_documented_keys_in_order() {
    let root = tempfile::tempdir().unwrap();
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 0..4);
    let lines = segment_lines(queue.path());
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // serde_json's map is sorted; the order in the text is checked below.
        assert_eq!(keys.len(), 7, "{line}");
        let positions: Vec<usize> = [
            "\"entry_time\":",
            "\"plugin_type\":",
            "\"plugin_id\":",
            "\"index\":",
            "\"status\":",
            "\"error\":",
            "\"event\":",
        ]
        .iter()
        .map(|k| {
            line.find(k)
                .unwrap_or_else(|| panic!("{k} missing: {line}"))
        })
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
        let event = &value["event"];
        assert_eq!(event["@version"], "1");
        assert_eq!(event["@timestamp"], "2020-05-06T07:08:09.123Z");
        assert_eq!(event["tags"][0], "t1");
        assert_eq!(event["@metadata"]["origin"], "the first pipeline");
        assert_eq!(value["error"]["type"], "mapper_parsing_exception");
        let time = value["entry_time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    }
}

#[test]
fn concurrent_appends_never_interleave_lines() {
    const THREADS: i64 = 8;
    const BATCHES: i64 = 40;
    const PER_BATCH: i64 = 10;
    let root = tempfile::tempdir().unwrap();
    // Small segments, so threads also race over rotation.
    let queue = Arc::new(
        DeadLetterQueue::open_with_segment_bytes(root.path(), "main", 1 << 30, 16 * 1024).unwrap(),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for b in 0..BATCHES {
                    let start = (t * BATCHES + b) * PER_BATCH;
                    append_events(&queue, start..start + PER_BATCH);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());

    let lines = segment_lines(queue.path());
    assert_eq!(lines.len() as i64, THREADS * BATCHES * PER_BATCH);
    for line in &lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    let got = numbers(&read_all(&mut reader));
    assert!(dlq::list_segments(queue.path()).unwrap().len() > 1);
    // Each batch is contiguous, and each thread's batches keep their order.
    for chunk in got.chunks(PER_BATCH as usize) {
        assert!(chunk.windows(2).all(|w| w[1] == w[0] + 1), "{chunk:?}");
    }
    for t in 0..THREADS {
        let own: Vec<i64> = got
            .iter()
            .copied()
            .filter(|n| n / (BATCHES * PER_BATCH) == t)
            .collect();
        assert!(own.windows(2).all(|w| w[0] < w[1]));
    }
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..THREADS * BATCHES * PER_BATCH).collect::<Vec<_>>()
    );
}

#[test]
fn a_full_queue_refuses_whole_batches_until_segments_are_deleted() {
    let root = tempfile::tempdir().unwrap();
    let mut one = Vec::new();
    entry(&event(0)).write_line(Timestamp::now(), &mut one);
    let line_len = one.len() as u64;
    // Room for 5 entries; segments of 2.
    let queue = DeadLetterQueue::open_with_segment_bytes(
        root.path(),
        "main",
        line_len * 5 + 2,
        line_len * 2 + 1,
    )
    .unwrap();
    append_events(&queue, 0..4);
    let refused = queue.append(&[entry(&event(4)), entry(&event(5))]);
    match refused {
        Err(DlqError::Full {
            max_bytes,
            size,
            needed,
        }) => {
            assert_eq!(max_bytes, line_len * 5 + 2);
            assert!(size >= line_len * 4);
            assert!(needed >= line_len * 2);
        }
        other => panic!("expected Full, got {other:?}"),
    }
    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(
        numbers(&read_all(&mut reader)),
        [0, 1, 2, 3],
        "nothing of the refused batch"
    );

    // A reader deletes the consumed first segment: the writer sees the room at its next append.
    assert_eq!(dlq::remove_segments_before(queue.path(), 2).unwrap(), 1);
    append_events(&queue, 4..6);
    assert_eq!(numbers(&read_all(&mut reader)), [4, 5]);
}

#[test]
fn segments_rotate_at_the_segment_size_and_are_read_in_order() {
    let root = tempfile::tempdir().unwrap();
    let queue =
        DeadLetterQueue::open_with_segment_bytes(root.path(), "main", 1 << 30, 2000).unwrap();
    for n in 0..30 {
        append_events(&queue, n..n + 1);
    }
    let segments = dlq::list_segments(queue.path()).unwrap();
    assert!(segments.len() > 3, "{segments:?}");
    assert_eq!(segments, (1..=segments.len() as u64).collect::<Vec<_>>());
    for &n in &segments {
        let len = std::fs::metadata(dlq::segment_path(queue.path(), n))
            .unwrap()
            .len();
        assert!(len <= 2000 && len > 0, "segment {n}: {len} bytes");
    }
    // A batch larger than a segment is not split.
    append_events(&queue, 30..40);
    let last = *dlq::list_segments(queue.path()).unwrap().last().unwrap();
    let text = std::fs::read_to_string(dlq::segment_path(queue.path(), last)).unwrap();
    assert_eq!(text.lines().count(), 10);

    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(numbers(&read_all(&mut reader)), (0..40).collect::<Vec<_>>());
}

#[test]
fn a_partial_last_line_is_never_read_and_later_appends_are() {
    let root = tempfile::tempdir().unwrap();
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 0..2);
    let segment = dlq::segment_path(queue.path(), 1);
    drop(queue);
    // A crash in the middle of a write.
    let mut cut = Vec::new();
    entry(&event(99)).write_line(Timestamp::now(), &mut cut);
    cut.truncate(cut.len() / 2);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&cut)
        .unwrap();

    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(numbers(&read_all(&mut reader)), [0, 1]);
    assert_eq!(
        read_all(&mut reader).len(),
        0,
        "the partial line is waited on, not read"
    );

    // The restarted writer cuts the partial line and goes on appending.
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 2..4);
    assert_eq!(numbers(&read_all(&mut reader)), [2, 3]);
    assert_eq!(reader.skipped(), 0);
    let mut fresh = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(numbers(&read_all(&mut fresh)), [0, 1, 2, 3]);
}

#[test]
fn a_partial_line_ending_a_finished_segment_is_skipped() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("main");
    std::fs::create_dir_all(&dir).unwrap();
    let mut first = Vec::new();
    entry(&event(0)).write_line(Timestamp::now(), &mut first);
    let mut cut = Vec::new();
    entry(&event(1)).write_line(Timestamp::now(), &mut cut);
    first.extend_from_slice(&cut[..cut.len() - 10]);
    std::fs::write(dlq::segment_path(&dir, 1), &first).unwrap();
    let mut second = Vec::new();
    entry(&event(2)).write_line(Timestamp::now(), &mut second);
    std::fs::write(dlq::segment_path(&dir, 2), &second).unwrap();

    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(numbers(&read_all(&mut reader)), [0, 2]);
    assert_eq!(reader.skipped(), 1);
}

#[test]
fn malformed_lines_are_skipped_and_reading_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 0..1);
    let segment = dlq::segment_path(queue.path(), 1);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(b"not json\n{\"entry_time\":\"2026-01-01T00:00:00Z\"}\n\n")
        .unwrap();
    drop(file);
    append_events(&queue, 1..2);
    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert_eq!(numbers(&read_all(&mut reader)), [0, 1]);
    assert_eq!(reader.skipped(), 3);
}

#[test]
fn a_reader_resumes_from_a_position_and_follows_new_entries() {
    let root = tempfile::tempdir().unwrap();
    // The reader may start before the queue exists.
    let mut reader = DlqReader::open(root.path(), "main").unwrap();
    assert!(reader.next_record().unwrap().is_none());
    let queue =
        DeadLetterQueue::open_with_segment_bytes(root.path(), "main", 1 << 30, 3000).unwrap();
    append_events(&queue, 0..5);
    let first: Vec<DlqRecord> = (0..2)
        .map(|_| reader.next_record().unwrap().unwrap())
        .collect();
    assert_eq!(numbers(&first), [0, 1]);
    let position = reader.position();
    assert!(position > DlqPosition::default());

    let mut resumed = DlqReader::open_at(root.path(), "main", position).unwrap();
    assert_eq!(numbers(&read_all(&mut resumed)), [2, 3, 4]);
    for n in 5..12 {
        append_events(&queue, n..n + 1);
    }
    assert!(dlq::list_segments(queue.path()).unwrap().len() > 1);
    assert_eq!(
        numbers(&read_all(&mut resumed)),
        (5..12).collect::<Vec<_>>()
    );

    // Resuming in a deleted segment starts at the next one.
    let last = resumed.position();
    dlq::remove_segments_before(queue.path(), last.segment).unwrap();
    let mut from_gone = DlqReader::open_at(
        root.path(),
        "main",
        DlqPosition {
            segment: 1,
            offset: 7,
        },
    )
    .unwrap();
    let rest = read_all(&mut from_gone);
    assert!(!rest.is_empty() && numbers(&rest).last() == Some(&11));
}

// ---------------------------------------------------------------------------------------------
// The input, in a pipeline

fn settings() -> PipelineSettings {
    PipelineSettings {
        workers: 1,
        batch_size: 125,
        batch_delay: Duration::from_millis(10),
        ..Default::default()
    }
}

fn out_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs `input { dead_letter_queue { OPTIONS } }`, copying the entry metadata to `dlq` and the
/// event's own metadata to `origin`, into a JSON-lines file, until it holds `expect` lines and
/// then `linger` longer (to catch extra events); returns the lines as events.
fn run_input(options: &str, out: &Path, expect: usize, linger: Duration) -> Vec<Event> {
    let config = format!(
        r#"input {{ dead_letter_queue {{ {options} }} }}
filter {{ mutate {{ copy => {{
  "[@metadata][dead_letter_queue]" => "dlq"
  "[@metadata][origin]" => "origin"
}} }} }}
output {{ file {{ path => "{}" codec => json_lines }} }}"#,
        out.display()
    );
    let plan = plan_of(&config, &no_env);
    let out_path = out.to_path_buf();
    let until = async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while out_lines(&out_path).len() < expect && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(linger).await;
    };
    pipeline::run_until(plan, settings(), until).unwrap();
    out_lines(out).iter().map(|l| json_event(l)).collect()
}

fn json_event(line: &str) -> Event {
    match json(line) {
        Value::Map(m) => Event::from_fields(m, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

fn ns(events: &[Event]) -> Vec<i64> {
    events
        .iter()
        .map(|e| match e.get_field("n") {
            Some(Value::Int(n)) => *n,
            other => panic!("n is {other:?}"),
        })
        .collect()
}

#[test]
fn the_input_restores_events_with_their_dead_letter_metadata() {
    let root = tempfile::tempdir().unwrap();
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 0..3);
    let out = root.path().join("out.json");
    let events = run_input(
        &format!(
            r#"path => "{}" commit_offsets => false"#,
            root.path().display()
        ),
        &out,
        3,
        Duration::ZERO,
    );
    assert_eq!(ns(&events), [0, 1, 2]);
    let e = &events[0];
    assert_eq!(e.message(), Some("event 0"));
    assert_eq!(tags(e), ["t1"]);
    assert_eq!(get(e, "[doc][x]"), Some(&Value::from("not a number")));
    assert_eq!(
        e.timestamp(),
        Timestamp::parse_iso8601("2020-05-06T07:08:09.123Z")
    );
    assert_eq!(get(e, "origin"), Some(&Value::from("the first pipeline")));
    assert_eq!(
        get(e, "[dlq][plugin_type]"),
        Some(&Value::from("elasticsearch"))
    );
    assert_eq!(get(e, "[dlq][plugin_id]"), Some(&Value::from("es_out")));
    assert_eq!(
        get(e, "[dlq][index]"),
        Some(&Value::from("logs-2020.05.06"))
    );
    assert_eq!(get(e, "[dlq][status]"), Some(&Value::Int(400)));
    assert_eq!(
        get(e, "[dlq][reason]"),
        Some(&Value::from(
            "status 400: mapper_parsing_exception: failed to parse field [x]"
        ))
    );
    let entry_time = get(e, "[dlq][entry_time]").and_then(Value::as_str).unwrap();
    assert!(
        Timestamp::parse_iso8601(entry_time).is_some(),
        "{entry_time}"
    );
}

#[test]
fn the_input_follows_entries_appended_while_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let queue = Arc::new(DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap());
    append_events(&queue, 0..2);
    let writer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            append_events(&queue, 2..5);
        })
    };
    let out = root.path().join("out.json");
    let events = run_input(
        &format!(r#"path => "{}""#, root.path().display()),
        &out,
        5,
        Duration::ZERO,
    );
    writer.join().unwrap();
    assert_eq!(ns(&events), [0, 1, 2, 3, 4]);
}

#[test]
fn a_restart_with_commit_offsets_does_not_read_entries_again() {
    let root = tempfile::tempdir().unwrap();
    let options = format!(r#"path => "{}" pipeline_id => "p1""#, root.path().display());
    let queue = DeadLetterQueue::open(root.path(), "p1", 1 << 20).unwrap();
    append_events(&queue, 0..4);
    let first = run_input(&options, &root.path().join("out1.json"), 4, Duration::ZERO);
    assert_eq!(ns(&first), [0, 1, 2, 3]);
    assert!(root.path().join("p1/.sincedb").exists());

    append_events(&queue, 4..6);
    // Lingers past two polls, so entries read again would show.
    let second = run_input(
        &options,
        &root.path().join("out2.json"),
        2,
        Duration::from_millis(600),
    );
    assert_eq!(ns(&second), [4, 5]);

    // Without commit_offsets everything is read again.
    let all = run_input(
        &format!("{options} commit_offsets => false"),
        &root.path().join("out3.json"),
        6,
        Duration::from_millis(300),
    );
    assert_eq!(ns(&all), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_custom_sincedb_path_is_used() {
    let root = tempfile::tempdir().unwrap();
    let sincedb = root.path().join("state/dlq.db");
    let queue = DeadLetterQueue::open(root.path(), "main", 1 << 20).unwrap();
    append_events(&queue, 0..2);
    let options = format!(
        r#"path => "{}" sincedb_path => "{}""#,
        root.path().display(),
        sincedb.display()
    );
    run_input(&options, &root.path().join("out1.json"), 2, Duration::ZERO);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sincedb).unwrap()).unwrap();
    assert_eq!(saved["segment"], 1);
    assert_eq!(
        saved["offset"],
        std::fs::metadata(dlq::segment_path(queue.path(), 1))
            .unwrap()
            .len()
    );
    assert!(!root.path().join("main/.sincedb").exists());
}

#[test]
fn start_timestamp_skips_older_entries() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("main");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = Vec::new();
    let old = Timestamp::parse_iso8601("2020-01-01T00:00:00Z").unwrap();
    let new = Timestamp::parse_iso8601("2026-01-01T00:00:00Z").unwrap();
    for (n, time) in [(0, old), (1, new), (2, old), (3, new)] {
        entry(&event(n)).write_line(time, &mut lines);
    }
    std::fs::write(dlq::segment_path(&dir, 1), lines).unwrap();
    let options = format!(
        r#"path => "{}" start_timestamp => "2025-06-01T00:00:00" commit_offsets => false"#,
        root.path().display()
    );
    let events = run_input(
        &options,
        &root.path().join("out.json"),
        2,
        Duration::from_millis(300),
    );
    assert_eq!(ns(&events), [1, 3]);
}

#[test]
fn clean_consumed_deletes_finished_segments() {
    let root = tempfile::tempdir().unwrap();
    let queue =
        DeadLetterQueue::open_with_segment_bytes(root.path(), "main", 1 << 30, 2000).unwrap();
    for n in 0..12 {
        append_events(&queue, n..n + 1);
    }
    let segments = dlq::list_segments(queue.path()).unwrap();
    assert!(segments.len() > 2);
    let options = format!(
        r#"path => "{}" clean_consumed => true"#,
        root.path().display()
    );
    let events = run_input(&options, &root.path().join("out.json"), 12, Duration::ZERO);
    assert_eq!(ns(&events), (0..12).collect::<Vec<_>>());
    let left = dlq::list_segments(queue.path()).unwrap();
    assert_eq!(
        left,
        [*segments.last().unwrap()],
        "only the segment still being read"
    );
}

#[test]
fn bad_options_are_build_errors() {
    let err = common::build_error(
        r#"input { dead_letter_queue { path => "/tmp/q" clean_consumed => true commit_offsets => false } }"#,
        &no_env,
    );
    assert!(err.contains("clean_consumed needs commit_offsets"), "{err}");
    let err = common::build_error(
        r#"input { dead_letter_queue { path => "/tmp/q" start_timestamp => "last week" } }"#,
        &no_env,
    );
    assert!(err.contains("not an ISO8601 time"), "{err}");
    let err = common::build_error(
        r#"input { dead_letter_queue { path => "/tmp/q" pipeline_id => "../x" } }"#,
        &no_env,
    );
    assert!(err.contains("cannot be used as a folder name"), "{err}");
    let err = common::build_error(r#"input { dead_letter_queue { } }"#, &no_env);
    assert!(err.contains("path"), "{err}");
}
