//! The `json` filter, built from config text as a pipeline builds it. Many cases mirror
//! logstash-filter-json's `spec/filters/json_spec.rb`.

mod common;

use common::{event_with, filter_build_error as build_error, get, graph, json, run_event, tags};

use sluice::event::json::event_to_string;
use sluice::event::{Event, Text, Timestamp, Value};

/// Runs `filters` on an event whose `message` is `message`.
fn run(filters: &str, message: &str) -> Event {
    run_event(filters, event_with("message", Value::from(message)))
}

#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, value) in expected {
        let want = value.map(json);
        assert_eq!(get(e, path), want.as_ref(), "field {path} in {e:?}");
    }
}

const SAMPLE: &str = r#"{ "hello": "world", "list": [ 1, 2, 3 ], "hash": { "k": "v" } }"#;

#[test]
fn parses_into_the_event_root() {
    let e = run(
        r#"json { source => "message" add_tag => ["parsed"] }"#,
        SAMPLE,
    );
    expect(
        &e,
        &[
            ("hello", Some(r#""world""#)),
            ("list", Some("[1, 2, 3]")),
            ("hash", Some(r#"{"k": "v"}"#)),
            ("message", Some(&format!("{:?}", SAMPLE))),
        ],
    );
    assert_eq!(tags(&e), ["parsed"]);
}

#[test]
fn parses_into_a_target() {
    let e = run(
        r#"json { source => "message" target => "[data][json]" }"#,
        SAMPLE,
    );
    expect(
        &e,
        &[
            ("[data][json][hello]", Some(r#""world""#)),
            ("[data][json][list]", Some("[1, 2, 3]")),
            ("hello", None),
        ],
    );
    let arrays = run(
        r#"json { source => "message" target => "data" }"#,
        r#"[ { "k": "v" }, { "l": [1, 2, 3] } ]"#,
    );
    expect(
        &arrays,
        &[("data", Some(r#"[{"k": "v"}, {"l": [1, 2, 3]}]"#))],
    );
    let scalar = run(r#"json { source => "message" target => "n" }"#, "42");
    expect(&scalar, &[("n", Some("42"))]);
}

#[test]
fn source_may_be_its_own_target() {
    let e = run_event(
        r#"json { source => "example" target => "example" }"#,
        event_with("example", Value::from(r#"{ "hello": "world" }"#)),
    );
    expect(&e, &[("example", Some(r#"{"hello": "world"}"#))]);
}

#[test]
fn invalid_json_is_tagged_and_left_alone() {
    let e = run(
        r#"json { source => "message" target => "data" remove_field => ["message"] }"#,
        "invalid json",
    );
    assert_eq!(tags(&e), ["_jsonparsefailure"]);
    expect(
        &e,
        &[("message", Some(r#""invalid json""#)), ("data", None)],
    );
    let custom = run(
        r#"json { source => "message" tag_on_failure => ["_jsonparsefailure", "_custom_failure_tag"] }"#,
        "{\"truncated\": ",
    );
    assert_eq!(tags(&custom), ["_jsonparsefailure", "_custom_failure_tag"]);
}

#[test]
fn failure_tags_add_to_existing_ones() {
    let mut e = event_with("message", Value::from("random_message"));
    e.add_tag(Text::new("_anotherkinfoffailure"));
    let e = run_event(r#"json { source => "message" }"#, e);
    assert_eq!(tags(&e), ["_anotherkinfoffailure", "_jsonparsefailure"]);
}

#[test]
fn skip_on_invalid_json_leaves_no_tag_and_no_common_options() {
    let filter =
        r#"json { source => "message" remove_field => ["message"] skip_on_invalid_json => true }"#;
    let e = run(filter, "this is not a json message");
    assert!(tags(&e).is_empty());
    expect(&e, &[("message", Some(r#""this is not a json message""#))]);
    // Valid JSON still parses, and the common options apply.
    let ok = run(filter, r#"{"a": 1}"#);
    expect(&ok, &[("a", Some("1")), ("message", None)]);
}

#[test]
fn a_non_object_without_target_is_a_failure() {
    for text in ["[1, 2, 3]", "\"text\"", "12", "null", "true"] {
        let e = run(r#"json { source => "message" add_tag => ["ok"] }"#, text);
        assert_eq!(tags(&e), ["_jsonparsefailure"], "{text}");
    }
    // skip_on_invalid_json only covers text that is not JSON.
    let e = run(
        r#"json { source => "message" skip_on_invalid_json => true }"#,
        "[1]",
    );
    assert_eq!(tags(&e), ["_jsonparsefailure"]);
}

#[test]
fn empty_text_is_null() {
    let e = run(r#"json { source => "message" }"#, "");
    assert_eq!(tags(&e), ["_jsonparsefailure"]);
    let e = run(r#"json { source => "message" target => "t" }"#, "  ");
    expect(&e, &[("t", Some("null"))]);
    assert!(tags(&e).is_empty());
}

#[test]
fn a_missing_source_is_neither_failure_nor_success() {
    let e = run_event(
        r#"json { source => "nope" add_tag => ["ok"] }"#,
        event_with("message", Value::from("{}")),
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn a_source_that_is_not_text_is_a_failure() {
    let e = run_event(r#"json { source => "n" }"#, event_with("n", Value::Int(5)));
    assert_eq!(tags(&e), ["_jsonparsefailure"]);
}

#[test]
fn a_valid_timestamp_becomes_the_event_time() {
    let e = run(
        r#"json { source => "message" }"#,
        r#"{"foo":"bar", "@timestamp":"2015-12-02T17:40:00.666Z"}"#,
    );
    let expected = Timestamp::parse_iso8601("2015-12-02T17:40:00.666Z").unwrap();
    assert_eq!(e.timestamp(), Some(expected));
    assert!(event_to_string(&e).contains(r#""@timestamp":"2015-12-02T17:40:00.666Z""#));
    assert!(tags(&e).is_empty());
    expect(&e, &[("foo", Some(r#""bar""#)), ("_@timestamp", None)]);
}

#[test]
fn an_invalid_timestamp_is_moved_aside_and_tagged() {
    let before = Timestamp::now();
    let e = run(
        r#"json { source => "message" }"#,
        r#"{"foo":"bar", "@timestamp":"foobar"}"#,
    );
    assert_eq!(tags(&e), ["_timestampparsefailure"]);
    expect(
        &e,
        &[
            ("_@timestamp", Some(r#""foobar""#)),
            ("foo", Some(r#""bar""#)),
        ],
    );
    let ts = e.timestamp().expect("a timestamp");
    assert!(ts >= before, "set to the current time");
    let numeric = run(r#"json { source => "message" }"#, r#"{"@timestamp": 123}"#);
    expect(&numeric, &[("_@timestamp", Some(r#""123""#))]);
    assert_eq!(tags(&numeric), ["_timestampparsefailure"]);
    // null leaves the event's time alone.
    let null = run(r#"json { source => "message" }"#, r#"{"@timestamp": null}"#);
    assert_eq!(null.timestamp(), Some(Timestamp::from_secs(0)));
    assert!(tags(&null).is_empty());
}

#[test]
fn a_timestamp_under_a_target_is_plain_data() {
    let e = run(
        r#"json { source => "message" target => "t" }"#,
        r#"{"@timestamp": "foobar"}"#,
    );
    expect(&e, &[("[t][@timestamp]", Some(r#""foobar""#))]);
    assert_eq!(e.timestamp(), Some(Timestamp::from_secs(0)));
    assert!(tags(&e).is_empty());
}

#[test]
fn keys_are_field_references() {
    let e = run(
        r#"json { source => "message" }"#,
        r#"{"[what][is][this]": "five", "plain.dots": 1, "": "empty", "[@metadata][m]": "hidden"}"#,
    );
    expect(
        &e,
        &[
            ("[what][is][this]", Some(r#""five""#)),
            ("plain.dots", Some("1")),
            ("[@metadata][m]", Some(r#""hidden""#)),
        ],
    );
    assert_eq!(e.get_field(""), Some(&Value::from("empty")));
    assert_eq!(e.metadata().get("m"), Some(&Value::from("hidden")));
    assert!(e.get_field("[@metadata][m]").is_none() && e.get_field("@metadata").is_none());
    let bad = run(
        r#"json { source => "message" }"#,
        r#"{"okay": true, "un[sup]]ported": "foo"}"#,
    );
    assert_eq!(tags(&bad), ["_jsonparsefailure"]);
    // Under a target, keys are plain keys.
    let target = run(
        r#"json { source => "message" target => "t" }"#,
        r#"{"un[sup]]ported": "foo"}"#,
    );
    assert!(tags(&target).is_empty());
    let inner = get(&target, "t").and_then(Value::as_map).unwrap();
    assert_eq!(inner.get("un[sup]]ported"), Some(&Value::from("foo")));
}

#[test]
fn existing_fields_are_overwritten_in_place() {
    let mut e = event_with("message", Value::from(r#"{"a": {"new": 1}, "b": 2}"#));
    e.set_field(Text::new("a"), Value::from("old"));
    let e = run_event(r#"json { source => "message" }"#, e);
    expect(&e, &[("a", Some(r#"{"new": 1}"#)), ("b", Some("2"))]);
    let keys: Vec<&str> = e.fields().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["message", "@timestamp", "@version", "a", "b"]);
}

#[test]
fn numbers_strings_and_nesting_survive() {
    let text = r#"{"i": -9223372036854775808, "u": 18446744073709551615, "big": 123456789012345678901234567890,
        "f": 0.1, "e": 1e-7, "s": "tab\tquote\"uni\u00e9\ud83d\ude00", "deep": [[[{"x": [null, false]}]]]}"#;
    let e = run(r#"json { source => "message" }"#, text);
    assert_eq!(get(&e, "i"), Some(&Value::Int(i64::MIN)));
    assert_eq!(get(&e, "u"), Some(&Value::Float(18446744073709551615.0)));
    assert_eq!(get(&e, "big"), Some(&Value::Float(1.2345678901234568e29)));
    assert_eq!(get(&e, "f"), Some(&Value::Float(0.1)));
    assert_eq!(get(&e, "e"), Some(&Value::Float(1e-7)));
    assert_eq!(
        get(&e, "s"),
        Some(&Value::from("tab\tquote\"uni\u{e9}\u{1f600}"))
    );
    expect(&e, &[("deep", Some(r#"[[[{"x": [null, false]}]]]"#))]);
    assert!(tags(&e).is_empty());
}

#[test]
fn hostile_input_is_a_failure_not_a_crash() {
    let deep = "[".repeat(50_000);
    let e = run(r#"json { source => "message" target => "t" }"#, &deep);
    assert_eq!(tags(&e), ["_jsonparsefailure"]);
    let bad_utf8_escape = run(r#"json { source => "message" }"#, r#"{"a": "\ud800"}"#);
    assert_eq!(tags(&bad_utf8_escape), ["_jsonparsefailure"]);
}

#[test]
fn every_line_of_a_batch_is_parsed() {
    let lines: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"n": {i}, "text": "{}"}}"#, "y".repeat(i % 70)))
        .collect();
    let mut batch: Vec<Event> = lines
        .iter()
        .map(|l| event_with("message", Value::from(l.as_str())))
        .collect();
    graph(r#"json { source => "message" }"#).process(&mut batch);
    assert_eq!(batch.len(), 300);
    for (i, e) in batch.iter().enumerate() {
        assert_eq!(get(e, "n"), Some(&Value::Int(i as i64)));
        assert_eq!(get(e, "text"), Some(&Value::from("y".repeat(i % 70))));
    }
}

#[test]
fn options_are_checked() {
    let err = build_error(r#"json { }"#);
    assert!(err.contains("missing required option \"source\""), "{err}");
    let err = build_error(r#"json { source => "message" targt => "x" }"#);
    assert!(err.contains("did you mean \"target\""), "{err}");
    let err = build_error(r#"json { source => "[a" }"#);
    assert!(err.contains("invalid field reference"), "{err}");
    let err = build_error(r#"json { source => "message" ecs_compatibility => "v2" }"#);
    assert!(err.contains("ecs_compatibility"), "{err}");
    for ecs in ["disabled", "v1", "v8"] {
        let e = run(
            &format!(r#"json {{ source => "message" ecs_compatibility => "{ecs}" }}"#),
            r#"{"foo": "bar"}"#,
        );
        expect(&e, &[("foo", Some(r#""bar""#))]);
    }
}
