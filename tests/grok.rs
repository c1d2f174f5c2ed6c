//! Behaviour of the `grok` filter, built from config text as a pipeline builds it. Many cases
//! mirror logstash-filter-grok's `spec/filters/grok_spec.rb`; the rest pin down Oniguruma
//! semantics, zero-copy captures, timeouts and build-time errors.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use std::process::Command;

use bytes::Bytes;
use sluice::event::{Event, Text, Timestamp, Value};

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs one event through `filters`; it must survive.
fn run(filters: &str, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph(filters).process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// Runs `{"message": message}` through `grok { OPTIONS }`.
fn grok(options: &str, message: &str) -> Event {
    let mut fields = sluice::event::Map::new();
    fields.insert(Text::from("message"), Value::from(message));
    let mut batch = vec![Event::from_fields(fields, Timestamp::from_secs(0))];
    graph(&format!("grok {{ {options} }}")).process(&mut batch);
    batch.pop().expect("the event was dropped")
}

/// Asserts that each `(path, JSON)` pair holds in `e`; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, value) in expected {
        let want = value.map(json);
        assert_eq!(get(e, path), want.as_ref(), "field {path}");
    }
}

// ---- the spec's samples ---------------------------------------------------------------------

const SYSLOG: &str =
    "Mar 16 00:01:25 evita postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]";

#[test]
fn syslogline_with_overwrite_replaces_the_message() {
    let e = grok(
        r#"match => { "message" => "%{SYSLOGLINE}" } overwrite => ["message"]
           ecs_compatibility => disabled"#,
        SYSLOG,
    );
    assert!(tags(&e).is_empty());
    expect(
        &e,
        &[
            ("logsource", Some(r#""evita""#)),
            ("timestamp", Some(r#""Mar 16 00:01:25""#)),
            (
                "message",
                Some(r#""connect from camomile.cloud9.net[168.100.1.3]""#),
            ),
            ("program", Some(r#""postfix/smtpd""#)),
            ("pid", Some(r#""1713""#)),
        ],
    );
}

#[test]
fn without_overwrite_a_capture_into_an_existing_string_makes_an_array() {
    let e = grok(r#"match => { "message" => "%{SYSLOGLINE}" }"#, SYSLOG);
    let expected = format!(r#"["{SYSLOG}", "connect from camomile.cloud9.net[168.100.1.3]"]"#);
    expect(&e, &[("message", Some(&expected))]);
}

#[test]
fn target_puts_captures_under_a_field() {
    for (target, root) in [
        ("grok", "[grok]"),
        ("[@metadata][grok]", "[@metadata][grok]"),
    ] {
        let e = grok(
            &format!(
                r#"match => {{ "message" => "%{{SYSLOGLINE}}" }} target => "{target}"
                   ecs_compatibility => disabled"#
            ),
            SYSLOG,
        );
        assert!(tags(&e).is_empty());
        let message = format!(r#""{SYSLOG}""#);
        expect(
            &e,
            &[
                ("message", Some(&message)),
                (&format!("{root}[timestamp]"), Some(r#""Mar 16 00:01:25""#)),
                (
                    &format!("{root}[message]"),
                    Some(r#""connect from camomile.cloud9.net[168.100.1.3]""#),
                ),
                (&format!("{root}[pid]"), Some(r#""1713""#)),
            ],
        );
    }
}

#[test]
fn syslog5424_optional_parts_that_did_not_take_part_are_not_set() {
    let e = grok(
        r#"match => { "message" => "%{SYSLOG5424LINE}" } ecs_compatibility => disabled"#,
        "<191>1 2009-06-30T18:30:00+02:00 paxton.local grokdebug - - [id1 foo=\"bar\"] No process ID.",
    );
    assert!(tags(&e).is_empty());
    expect(
        &e,
        &[
            ("syslog5424_pri", Some(r#""191""#)),
            ("syslog5424_app", Some(r#""grokdebug""#)),
            ("syslog5424_proc", None),
            ("syslog5424_msgid", None),
            ("syslog5424_sd", Some(r#""[id1 foo=\"bar\"]""#)),
            ("syslog5424_msg", Some(r#""No process ID.""#)),
        ],
    );
}

#[test]
fn an_array_field_is_matched_element_by_element() {
    let e = run(
        r#"grok { match => { "message" => "(?:hello|world) %{NUMBER:num}" } }"#,
        r#"{"message": ["hello 12345", "world 23456"]}"#,
    );
    expect(&e, &[("num", Some(r#"["12345", "23456"]"#))]);
}

#[test]
fn int_and_float_suffixes_convert() {
    let e = grok(
        r#"match => { "message" => "%{NUMBER:foo:int} %{NUMBER:bar:float} %{NUMBER:baz:other}" }"#,
        "400 454.33 7",
    );
    expect(
        &e,
        &[
            ("foo", Some("400")),
            ("bar", Some("454.33")),
            ("baz", Some(r#""7""#)),
        ],
    );
}

#[test]
fn inline_pattern_definitions() {
    let e = grok(
        r#"match => { "message" => "%{FIZZLE=\d+}" } named_captures_only => false"#,
        "hello 1234",
    );
    expect(&e, &[("FIZZLE", Some(r#""1234""#))]);
}

#[test]
fn several_fields_with_break_on_match_false() {
    let e = run(
        r#"grok {
            match => { "message" => "%{WORD:word}" "examplefield" => "%{NUMBER:num}" }
            break_on_match => false
        }"#,
        r#"{"message": "hello world", "examplefield": "12345"}"#,
    );
    expect(
        &e,
        &[("word", Some(r#""hello""#)), ("num", Some(r#""12345""#))],
    );
}

#[test]
fn add_field_applies_on_match_only() {
    let filter = r#"match => { "message" => "matchme %{NUMBER:fancy}" }
                    add_field => [ "new_field", "%{fancy}" ]"#;
    let e = grok(filter, "matchme 1234");
    assert!(tags(&e).is_empty());
    expect(&e, &[("new_field", Some(r#""1234""#))]);
    let e = grok(filter, "this will not be matched");
    assert_eq!(tags(&e), ["_grokparsefailure"]);
    expect(&e, &[("new_field", None)]);
}

#[test]
fn captures_that_did_not_participate_are_dropped_unless_kept() {
    let pattern = r#"match => { "message" => "1=%{WORD:foo1} *(2=%{WORD:foo2})?" }"#;
    let e = grok(pattern, "1=test");
    assert!(tags(&e).is_empty());
    expect(&e, &[("foo1", Some(r#""test""#)), ("foo2", None)]);
    assert!(!e.fields().contains_key("foo2"));

    let e = grok(&format!("{pattern} keep_empty_captures => true"), "1=test");
    expect(&e, &[("foo1", Some(r#""test""#)), ("foo2", Some("null"))]);
}

#[test]
fn named_captures_only_false_captures_unnamed_references_by_pattern_name() {
    let e = grok(
        r#"match => { "message" => "Hello %{WORD}. %{WORD:foo}" } named_captures_only => false"#,
        "Hello World, yo!",
    );
    expect(
        &e,
        &[("WORD", Some(r#""World""#)), ("foo", Some(r#""yo""#))],
    );
    let e = grok(
        r#"match => { "message" => "Hello %{WORD}. %{WORD:foo}" }"#,
        "Hello World, yo!",
    );
    expect(&e, &[("WORD", None), ("foo", Some(r#""yo""#))]);
}

#[test]
fn oniguruma_named_groups_capture() {
    let e = grok(r#"match => { "message" => "(?<foo>\w+)" }"#, "hello world");
    expect(&e, &[("foo", Some(r#""hello""#))]);
    let e = grok(
        r#"match => { "message" => "(?<timestamp>%{DATE_EU} %{TIME})" }"#,
        "fancy 12-12-12 12:12:12",
    );
    assert!(tags(&e).is_empty());
    expect(&e, &[("timestamp", Some(r#""12-12-12 12:12:12""#))]);
}

#[test]
fn numbers_are_matched_as_their_text() {
    let e = run(
        r#"grok { match => { "status" => "^403$" } add_tag => "four_oh_three" }"#,
        r#"{"status": 403}"#,
    );
    assert_eq!(tags(&e), ["four_oh_three"]);
    let e = run(
        r#"grok { match => { "version" => "^1.0$" } add_tag => "one_point_oh" }"#,
        r#"{"version": 1.0}"#,
    );
    assert_eq!(tags(&e), ["one_point_oh"]);
}

#[test]
fn a_missing_field_is_matched_as_an_empty_string() {
    let e = run(
        r#"grok { match => { "nothere" => "^$" } add_tag => "empty" }"#,
        r#"{"message": "x"}"#,
    );
    assert_eq!(tags(&e), ["empty"]);
    let e = run(
        r#"grok { match => { "nothere" => "%{WORD:w}" } }"#,
        r#"{"message": "x"}"#,
    );
    assert_eq!(tags(&e), ["_grokparsefailure"]);
}

#[test]
fn loglevel_names() {
    let names = "trace Trace TRACE debug Debug DEBUG notice Notice info Info INFO warn warning \
                 Warn Warning WARN WARNING err error Err Error ERR ERROR crit critical Crit \
                 Critical CRIT CRITICAL fatal Fatal FATAL severe Severe SEVERE emerg emergency \
                 Emerg Emergency EMERG EMERGENCY";
    let g = graph(r#"grok { match => { "message" => "%{LOGLEVEL:level}: error!" } }"#);
    for name in names.split_whitespace() {
        let mut batch = vec![event(&format!(r#"{{"message": "{name}: error!"}}"#))];
        g.process(&mut batch);
        assert_eq!(
            get(&batch[0], "level").and_then(Value::as_str),
            Some(name),
            "{name}"
        );
    }
}

#[test]
fn tag_on_failure_replaces_the_default_tag() {
    let filter = r#"match => { "message" => "matchme %{NUMBER:fancy}" } tag_on_failure => ["not_a_match", "x"]"#;
    assert!(tags(&grok(filter, "matchme 1234")).is_empty());
    assert_eq!(tags(&grok(filter, "no")), ["not_a_match", "x"]);
    let e = grok(
        r#"match => { "message" => "x" } tag_on_failure => []"#,
        "no",
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn capture_names_may_hold_dashes_and_field_references() {
    let e = grok(
        r#"match => { "message" => "%{WORD:foo-bar}" }"#,
        "hello world",
    );
    expect(&e, &[("foo-bar", Some(r#""hello""#))]);
    let e = grok(
        r#"match => { "message" => "%{IP:[source][address]} %{INT:[source][port]:int}" }"#,
        "10.0.0.1 443",
    );
    expect(
        &e,
        &[("source", Some(r#"{"address": "10.0.0.1", "port": 443}"#))],
    );
}

#[test]
fn duplicate_names_in_alternatives_store_one_value() {
    let filter = r#"match => { "message" => "%{INT:foo}|%{WORD:foo}" }"#;
    expect(&grok(filter, "hello world"), &[("foo", Some(r#""hello""#))]);
    expect(&grok(filter, "123 world"), &[("foo", Some(r#""123""#))]);
}

#[test]
fn repeated_captures_make_arrays_unless_overwritten() {
    let pattern = r#"match => { "message" => "%{WORD:w} %{WORD:w} %{WORD:w}" }"#;
    expect(
        &grok(pattern, "a b c"),
        &[("w", Some(r#"["a", "b", "c"]"#))],
    );
    let e = grok(&format!("{pattern} overwrite => [\"w\"]"), "a b c");
    expect(&e, &[("w", Some(r#""c""#))]);
    // A converted value is not a string: Logstash keeps the first and drops the rest.
    let e = grok(
        r#"match => { "message" => "%{INT:n:int} %{INT:n:int}" }"#,
        "1 2",
    );
    expect(&e, &[("n", Some("1"))]);
}

#[test]
fn break_on_match_stops_at_the_first_matching_field() {
    let data = r#"{"message": "hello world 123", "somefield": "testme abc 999"}"#;
    let matches = r#"match => { "message" => "%{INT:foo}" "somefield" => "%{INT:bar}" }"#;
    let e = run(&format!("grok {{ {matches} }}"), data);
    expect(&e, &[("foo", Some(r#""123""#)), ("bar", None)]);
    let e = run(
        &format!("grok {{ {matches} break_on_match => false }}"),
        data,
    );
    expect(&e, &[("foo", Some(r#""123""#)), ("bar", Some(r#""999""#))]);
}

#[test]
fn break_on_match_with_array_input_and_pattern_lists() {
    let one = r#"match => { "message" => "%{INT:foo}" } break_on_match => false"#;
    let e = run(
        &format!("grok {{ {one} }}"),
        r#"{"message": ["hello world 123", "line 23"]}"#,
    );
    expect(&e, &[("foo", Some(r#"["123", "23"]"#))]);
    assert!(tags(&e).is_empty());
    let e = run(
        &format!("grok {{ {one} }}"),
        r#"{"message": ["hello world 123", "abc"]}"#,
    );
    expect(&e, &[("foo", Some(r#""123""#))]);
    assert!(tags(&e).is_empty());

    let two = r#"match => { "message" => ["%{INT:foo}", "%{WORD:bar}"] }"#;
    let e = run(
        &format!("grok {{ {two} }}"),
        r#"{"message": ["hello world 123", "line 23"]}"#,
    );
    expect(&e, &[("foo", Some(r#"["123", "23"]"#)), ("bar", None)]);
    let e = run(
        &format!("grok {{ {two} }}"),
        r#"{"message": ["hello world", "line 23"]}"#,
    );
    expect(&e, &[("bar", Some(r#""hello""#)), ("foo", Some(r#""23""#))]);

    let e = run(
        &format!("grok {{ {two} break_on_match => false }}"),
        r#"{"message": ["hello world 123", "line 23"]}"#,
    );
    expect(
        &e,
        &[
            ("foo", Some(r#"["123", "23"]"#)),
            ("bar", Some(r#"["hello", "line"]"#)),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn with_break_on_match_false_the_last_pattern_decides_the_result() {
    // LOGSTASH-1547: every pattern runs; as in Logstash, the field counts as matched only
    // when the last pattern tried matched.
    let filter = r#"match => { "message" => ["%{GREEDYDATA:name1}beard", "tree%{GREEDYDATA:name2}"] }
                    break_on_match => false"#;
    let e = grok(filter, "treebeard");
    expect(
        &e,
        &[("name1", Some(r#""tree""#)), ("name2", Some(r#""beard""#))],
    );
    assert!(tags(&e).is_empty());
    let e = grok(filter, "treebranch");
    expect(&e, &[("name2", Some(r#""branch""#))]);
    assert!(tags(&e).is_empty());
    let e = grok(filter, "bushbeard");
    expect(&e, &[("name1", Some(r#""bush""#))]);
    assert_eq!(tags(&e), ["_grokparsefailure"]);
}

#[test]
fn a_nil_coerced_value_is_not_stored() {
    let filter = r#"match => { "message" => "test (N/A|%{BASE10NUM:duration:float}ms)" }"#;
    let e = grok(filter, "test 28.4ms");
    expect(&e, &[("duration", Some("28.4"))]);
    assert!(tags(&e).is_empty());
    let e = grok(filter, "test N/A");
    expect(&e, &[("duration", None)]);
    assert!(tags(&e).is_empty());
    let e = grok(filter, "test abc");
    assert_eq!(tags(&e), ["_grokparsefailure"]);
    let e = grok(&format!("{filter} keep_empty_captures => true"), "test N/A");
    expect(&e, &[("duration", Some("null"))]);
}

#[test]
fn pattern_definitions_add_and_replace_patterns() {
    let e = grok(
        r#"match => { "message" => "%{APACHE_TIME:timestamp} %{LOGLEVEL:level} %{MY_PATTERN:hindsight}" }
           pattern_definitions => {
             "APACHE_TIME" => "%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}"
             "MY_PATTERN" => "%{YEAR}"
           }"#,
        "Mon Dec 26 16:22:08 2016 error 2020",
    );
    expect(
        &e,
        &[
            ("timestamp", Some(r#""Mon Dec 26 16:22:08 2016""#)),
            ("level", Some(r#""error""#)),
            ("hindsight", Some(r#""2020""#)),
        ],
    );
    let e = grok(
        r#"match => { "message" => "%{APACHE_TIME:timestamp} %{LOGLEVEL:level}" }
           pattern_definitions => {
             "APACHE_TIME" => "%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}"
             "LOGLEVEL" => "%{NUMBER}"
           }"#,
        "Mon Dec 26 16:22:08 2016 9999",
    );
    expect(&e, &[("level", Some(r#""9999""#))]);
}

#[test]
fn patterns_dir_files_override_built_in_patterns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grok.pattern"), "WORD \\b[0-1]\\b\n").unwrap();
    std::fs::write(dir.path().join("grok.pattern.old"), "WORD \\b[2-5]\\b\n").unwrap();
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    let path = dir.path().display().to_string();
    let with_glob = format!(
        r#"patterns_dir => "{path}" patterns_files_glob => "*.pattern"
           match => {{ "message" => "%{{WORD:word}}" }}"#
    );
    assert!(tags(&grok(&with_glob, "0")).is_empty());
    assert_eq!(tags(&grok(&with_glob, "hello")), ["_grokparsefailure"]);
    // Every file is read in order ("grok.pattern" then "grok.pattern.old"), the last wins;
    // the sub-directory is skipped.
    let all = format!(r#"patterns_dir => ["{path}"] match => {{ "message" => "%{{WORD:word}}" }}"#);
    expect(&grok(&all, "3"), &[("word", Some(r#""3""#))]);
    // A pattern file may hold a glob of its own.
    let file = format!(
        r#"patterns_dir => "{path}/*.pattern" match => {{ "message" => "%{{WORD:word}}" }}"#
    );
    assert!(tags(&grok(&file, "1")).is_empty());
}

// ---- Oniguruma semantics --------------------------------------------------------------------

#[test]
fn dot_matches_newlines_and_anchors_work_per_line() {
    let e = grok(r#"match => { "message" => "a(?<rest>.*)z" }"#, "a\nb\nz");
    expect(&e, &[("rest", Some(r#""\nb\n""#))]);
    let e = grok(r#"match => { "message" => "^(?<line>b)$" }"#, "a\nb\nc");
    expect(&e, &[("line", Some(r#""b""#))]);
    let e = grok(
        r#"match => { "message" => "(?-m:a(?<rest>.*))" }"#,
        "ab\ncd",
    );
    expect(&e, &[("rest", Some(r#""b""#))]);
}

#[test]
fn perl_classes_are_ascii_and_posix_classes_unicode() {
    let e = grok(r#"match => { "message" => "(?<d>\d+)" }"#, "٣٤ 12");
    expect(&e, &[("d", Some(r#""12""#))]);
    let e = grok(r#"match => { "message" => "(?<w>\w+)" }"#, "é ab");
    expect(&e, &[("w", Some(r#""ab""#))]);
    let e = grok(r#"match => { "message" => "(?<a>[[:alpha:]]+)" }"#, "1 été");
    expect(&e, &[("a", Some(r#""été""#))]);
    let e = grok(r#"match => { "message" => "(?<h>\h+)" }"#, " xyz BEEF");
    expect(&e, &[("h", Some(r#""BEEF""#))]);
}

#[test]
fn ruby_quantifier_and_group_rules() {
    // `{2}+` repeats a repetition in Ruby (possessive in PCRE2).
    let e = grok(
        r#"match => { "message" => "^(?<x>(?:ab){1}+)$" }"#,
        "ababab",
    );
    expect(&e, &[("x", Some(r#""ababab""#))]);
    // An inline (?i) spans the rest of the group, alternatives included: `x(?i:a|B$)`.
    let filter = r#"match => { "message" => "^x(?i)a|(?<b>B)$" }"#;
    assert_eq!(tags(&grok(filter, "b")), ["_grokparsefailure"]);
    expect(&grok(filter, "xb"), &[("b", Some(r#""b""#))]);
    // Atomic groups do not give back.
    let e = grok(r#"match => { "message" => "(?<n>(?>\d+))5" }"#, "12345");
    assert_eq!(tags(&e), ["_grokparsefailure"]);
    // Lookbehind, as in BASE10NUM.
    let e = grok(r#"match => { "message" => "%{NUMBER:n}" }"#, "a1.5.3 -7");
    expect(&e, &[("n", Some(r#""1.5""#))]);
}

#[test]
fn long_captures_share_the_message_buffer() {
    let line = format!("GET {} HTTP/1.1", "/x".repeat(40));
    let text = Text::from_utf8(Bytes::from(line.clone())).unwrap();
    let mut batch = vec![Event::from_message(text, Timestamp::from_secs(0))];
    graph(r#"grok { match => { "message" => "%{WORD:verb} %{NOTSPACE:request}" } }"#)
        .process(&mut batch);
    let message = batch[0].message().unwrap();
    let request = get(&batch[0], "request").and_then(Value::as_str).unwrap();
    assert_eq!(request, "/x".repeat(40));
    let inside = message.as_ptr() as usize..message.as_ptr() as usize + message.len();
    assert!(
        inside.contains(&(request.as_ptr() as usize)),
        "the capture was copied instead of pointing into the message"
    );
}

#[test]
fn patterns_too_large_for_pcre2_share_their_repeated_parts() {
    // Eight full Apache patterns in one regex: about 70 KiB of PCRE2 code written out.
    let apache = "%{COMBINEDAPACHELOG}";
    let pattern = format!("{}|x %{{WORD:w}}", [apache; 8].join("|"));
    let line = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a.png HTTP/1.1" 200 203023 "-" "Mozilla/5.0""#;
    let options =
        format!("match => {{ \"message\" => '{pattern}' }} ecs_compatibility => disabled");
    let e = grok(&options, line);
    assert!(tags(&e).is_empty(), "{:?}", tags(&e));
    expect(
        &e,
        &[
            ("clientip", Some(r#""83.149.9.216""#)),
            ("bytes", Some(r#""203023""#)),
            ("agent", Some(r#""\"Mozilla/5.0\"""#)),
        ],
    );
    expect(
        &grok(
            &format!("match => {{ \"message\" => '{pattern}' }}"),
            "x yz",
        ),
        &[("w", Some(r#""yz""#))],
    );
}

// ---- timeouts -------------------------------------------------------------------------------

#[test]
fn a_runaway_pattern_is_stopped_and_tagged() {
    let e = grok(
        r#"match => { "message" => "(.*a){30}" } timeout_millis => 100"#,
        &"a".repeat(68),
    );
    assert_eq!(tags(&e), ["_groktimeout"]);
    let e = grok(
        r#"match => { "message" => "^(\w+\s?)*$" } tag_on_timeout => "slow" add_tag => "x""#,
        &format!("{}!", "ab ".repeat(30)),
    );
    assert_eq!(tags(&e), ["slow"], "no failure tag and no common options");
    // timeout_millis => 0 turns Logstash's timer off; PCRE2's own step limit still applies.
    let e = grok(
        r#"match => { "message" => "(.*a){30}" } timeout_millis => 0"#,
        &"a".repeat(68),
    );
    assert_eq!(tags(&e), ["_groktimeout"]);
}

#[test]
fn the_worker_carries_on_after_a_timeout() {
    let g = graph(r#"grok { match => { "message" => "^(\w+\s?)*$" } timeout_millis => 10 }"#);
    let mut batch = vec![
        event(&format!(r#"{{"message": "{}!"}}"#, "ab ".repeat(30))),
        event(r#"{"message": "ab ab"}"#),
        event(r#"{"message": "a!b"}"#),
    ];
    g.process(&mut batch);
    assert_eq!(tags(&batch[0]), ["_groktimeout"]);
    assert!(tags(&batch[1]).is_empty());
    assert_eq!(tags(&batch[2]), ["_grokparsefailure"]);
}

#[test]
fn timeout_scope_event_bounds_all_patterns_of_a_value() {
    let patterns = r#"["(.*f){20}", "(.*e){20}", "(.*d){20}", "(.*c){20}", "(.*b){20}",
        "(.*a){25}", "(.*a){24}", "(.*a){23}", "(.*a){22}", "(.*a){21}",
        "(.*a){25}", "(.*a){24}", "(.*a){23}", "(.*a){22}", "(.*a){21}",
        "(.*a){25}", "(.*a){24}", "(.*a){23}", "(.*a){22}", "(.*a){21}", "(.*a){20}"]"#;
    let message = format!(
        "{}{}{}{} {}",
        "b".repeat(15),
        "c".repeat(15),
        "d".repeat(15),
        "e".repeat(15),
        "a".repeat(20)
    );
    // Each pattern alone stays well inside its own limit ...
    let e = grok(
        &format!(
            r#"match => {{ "message" => {patterns} }} timeout_millis => 10 timeout_scope => "pattern""#
        ),
        &message,
    );
    assert!(tags(&e).is_empty(), "{:?}", tags(&e));
    // ... but together they take longer than 10 ms.
    let e = grok(
        &format!(
            r#"match => {{ "message" => {patterns} }} timeout_millis => 10 timeout_scope => "event""#
        ),
        &message,
    );
    assert_eq!(tags(&e), ["_groktimeout"]);
}

// ---- build-time errors ----------------------------------------------------------------------

#[test]
fn unknown_patterns_are_reported_at_the_pattern_with_a_suggestion() {
    let err = build_error(
        r#"grok { match => { "message" => ["%{WORD:a}", "%{IPV44:client} %{WORD:w}"] } }"#,
    );
    assert!(
        err.starts_with(
            "test.conf:2:46: grok: unknown grok pattern \"IPV44\" in \"%{IPV44:client} %{WORD:w}\""
        ),
        "{err}"
    );
    assert!(err.contains("did you mean \"IPV4\"?"), "{err}");
    let err = build_error(
        r#"grok { match => { "message" => "%{A}" } pattern_definitions => { "A" => "x%{A}" } }"#,
    );
    assert!(err.contains("refers to itself"), "{err}");
}

#[test]
fn invalid_regexes_and_field_names_are_build_errors() {
    let err = build_error(r#"grok { match => { "message" => "(?<x>a" } }"#);
    assert!(err.contains("grok: invalid regex in \"(?<x>a\""), "{err}");
    let err = build_error(r#"grok { match => { "message" => "a{2,1}" } }"#);
    assert!(
        err.contains("upper bound must be greater than lower bound"),
        "{err}"
    );
    let err = build_error(r#"grok { match => { "message" => "*a" } }"#);
    assert!(
        err.contains("target of repeat operator is not specified"),
        "{err}"
    );
    let err = build_error(r#"grok { match => { "message" => "(?<a[b>x)" } }"#);
    assert!(err.contains("invalid field name \"a[b\""), "{err}");
}

#[test]
fn a_missing_patterns_dir_is_a_build_error() {
    let err = build_error(
        r#"grok { patterns_dir => ["/no/such/dir"] match => { "message" => "%{WORD:w}" } }"#,
    );
    assert!(
        err.contains("grok: patterns_dir \"/no/such/dir\" does not exist"),
        "{err}"
    );
    let err = build_error(r#"grok { match => { "message" => "x" } timeout_scope => "line" }"#);
    assert!(err.contains("timeout_scope"), "{err}");
}

// ---- the ECS pattern set --------------------------------------------------------------------

#[test]
fn ecs_modes_use_the_ecs_v1_set() {
    for mode in ["v1", "v8"] {
        let e = grok(
            &format!(
                r#"match => {{ "message" => "%{{SYSLOGLINE}}" }} ecs_compatibility => {mode}"#
            ),
            SYSLOG,
        );
        assert!(tags(&e).is_empty(), "{:?}", tags(&e));
        expect(
            &e,
            &[
                ("[host][hostname]", Some(r#""evita""#)),
                ("[process][name]", Some(r#""postfix/smtpd""#)),
                ("[process][pid]", Some("1713")),
                ("timestamp", Some(r#""Mar 16 00:01:25""#)),
                ("logsource", None),
                ("program", None),
            ],
        );
    }
}

#[test]
fn the_ecs_set_reads_elasticsearch_dotted_names_as_nested_fields() {
    let line = r#"83.149.9.216 - a.user [17/May/2015:10:05:03 +0000] "GET /a.png HTTP/1.1" 200 203023 "-" "Mozilla/5.0""#;
    let e = grok(
        r#"match => { "message" => "%{COMBINEDAPACHELOG}" } ecs_compatibility => v8"#,
        line,
    );
    assert!(tags(&e).is_empty(), "{:?}", tags(&e));
    expect(
        &e,
        &[
            ("[source][address]", Some(r#""83.149.9.216""#)),
            ("[user][name]", Some(r#""a.user""#)),
            ("[http][request][method]", Some(r#""GET""#)),
            ("[http][response][status_code]", Some("200")),
            // `:long` in Elasticsearch's copy, `:int` in Logstash's: a number either way.
            ("[http][response][body][bytes]", Some("203023")),
            ("[user_agent][original]", Some(r#""Mozilla/5.0""#)),
            ("clientip", None),
        ],
    );
}

/// `sluice run` with `-e`, one line on stdin, events as JSON lines.
fn run_cli(extra: &[&str], config: &str, line: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-e", config])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sluice");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("sluice ends");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_pipeline_setting_chooses_the_set_grok_starts_from() {
    let config = r#"input { stdin {} }
        filter { grok { match => { "message" => "%{SYSLOGLINE}" } } }
        output { stdout { codec => json_lines } }"#;
    let default = run_cli(&[], config, SYSLOG);
    assert!(
        default.contains(r#""process":{"name":"postfix/smtpd","pid":1713}"#),
        "{default}"
    );
    assert!(!default.contains(r#""program""#), "{default}");
    let legacy = run_cli(
        &["--pipeline.ecs_compatibility", "disabled"],
        config,
        SYSLOG,
    );
    assert!(legacy.contains(r#""program":"postfix/smtpd""#), "{legacy}");
    assert!(legacy.contains(r#""logsource":"evita""#), "{legacy}");
    assert!(!legacy.contains(r#""process""#), "{legacy}");
}
