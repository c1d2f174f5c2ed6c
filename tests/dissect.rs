//! The `dissect` filter, built from config text as a pipeline builds it: the 15 fixture cases of
//! logstash-filter-dissect (`../shared/compat/dissect_tests.json`), its spec and its Java unit
//! tests' cases, conversions, failure tags, and config errors.

mod common;

use common::{filter_build_error as build_error, get, graph, json, run_event, tags};

use sluice::event::{Event, Map, Text, Timestamp, Value};

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

fn message_event(message: &str) -> Event {
    let mut map = Map::new();
    map.insert(Text::new("message"), Value::from(message));
    Event::from_fields(map, Timestamp::from_secs(0))
}

fn run(filters: &str, fields: &str) -> Event {
    run_event(filters, event(fields))
}

/// `dissect { mapping => { "message" => PATTERN } }` on a message.
fn dissect(pattern: &str, message: &str) -> Event {
    let quote = if pattern.contains('"') { '\'' } else { '"' };
    assert!(
        !pattern.contains(quote),
        "pattern needs both quotes: {pattern}"
    );
    run_event(
        &format!("dissect {{ mapping => {{ \"message\" => {quote}{pattern}{quote} }} }}"),
        message_event(message),
    )
}

fn str_of<'e>(e: &'e Event, path: &str) -> Option<&'e str> {
    get(e, path).and_then(Value::as_str)
}

/// Asserts `(field, value)` pairs; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, want) in expected {
        assert_eq!(str_of(e, path), *want, "field {path} in {e:?}");
    }
}

// ---- the compatibility fixture --------------------------------------------------------------

#[test]
fn every_fixture_case_of_logstash_filter_dissect_passes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/compat/dissect_tests.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let Value::Array(cases) = json(&text) else {
        panic!("fixture is not an array");
    };
    assert_eq!(cases.len(), 15);
    for case in &cases {
        let case = case.as_map().unwrap();
        let name = case.get("name").and_then(Value::as_str).unwrap();
        if case.get("skip") == Some(&Value::Bool(true)) {
            continue;
        }
        let tok = case.get("tok").and_then(Value::as_str).unwrap();
        let msg = case.get("msg").and_then(Value::as_str).unwrap();
        let e = dissect(tok, msg);
        assert!(tags(&e).is_empty(), "{name}: tagged {:?}", tags(&e));
        let expected = case.get("expected").and_then(Value::as_map).unwrap();
        assert!(!expected.is_empty(), "{name}");
        for (field, value) in expected.iter() {
            assert_eq!(e.get_field(field), Some(value), "{name}: field {field}");
        }
    }
}

// ---- cases from the Logstash spec and the Java unit tests -----------------------------------

#[test]
fn basic_dissection_with_padding() {
    let e = dissect(
        "[%{occurred_at}] %{code} %{service->} %{ic} %{svc_message}",
        "[25/05/16 09:10:38:425 BST] 00000001 SystemOut     O java.lang:type=MemoryPool,name=class storage",
    );
    expect(
        &e,
        &[
            ("occurred_at", Some("25/05/16 09:10:38:425 BST")),
            ("code", Some("00000001")),
            ("service", Some("SystemOut")),
            ("ic", Some("O")),
            (
                "svc_message",
                Some("java.lang:type=MemoryPool,name=class storage"),
            ),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn csv_like_with_missing_fields_and_an_empty_rest() {
    let e = dissect(
        r#"[%{occurred_at}] %{code} %{service} values: "%{v1}","%{v2}","%{v3}"%{rest}"#,
        r#"[25/05/16 09:10:38:425 BST] 00000001 SystemOut values: "f1","","f3""#,
    );
    expect(
        &e,
        &[
            ("v1", Some("f1")),
            ("v2", Some("")),
            ("v3", Some("f3")),
            ("rest", Some("")),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn skip_append_and_add_field() {
    let e = run_event(
        r#"dissect {
            mapping => { "message" => "%{timestamp} %{+timestamp} %{+timestamp} %{logsource} %{} %{program}[%{pid}]: %{msg}" }
            add_field => { favorite_filter => "why, dissect of course" }
        }"#,
        message_event("Mar 16 00:01:25 evita skip-this postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]"),
    );
    expect(
        &e,
        &[
            ("timestamp", Some("Mar 16 00:01:25")),
            ("logsource", Some("evita")),
            ("program", Some("postfix/smtpd")),
            ("pid", Some("1713")),
            ("msg", Some("connect from camomile.cloud9.net[168.100.1.3]")),
            ("favorite_filter", Some("why, dissect of course")),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn delimiters_may_contain_braces() {
    let e = dissect("{%{a}}{%{b}}%{rest}", "{foo}{bar}");
    expect(
        &e,
        &[("a", Some("foo")), ("b", Some("bar")), ("rest", Some(""))],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn multibyte_delimiters() {
    let e = dissect(
        "[%{occurred_at}]྿྿྿%{code}྿%{service}྿྿྿྿%{?ic}=%{&ic}%྿྿%{svc_message}",
        "[25/05/16 09:10:38:425 BST]྿྿྿00000001྿SystemOut྿྿྿྿cpu=95.43%྿྿java.lang:type=MemoryPool,name=class storage",
    );
    expect(
        &e,
        &[
            ("code", Some("00000001")),
            ("service", Some("SystemOut")),
            ("cpu", Some("95.43")),
            (
                "svc_message",
                Some("java.lang:type=MemoryPool,name=class storage"),
            ),
        ],
    );
}

#[test]
fn append_order_and_reordering() {
    expect(
        &dissect("%{a} %{b} %{+b} %{z}", "foo bar baz quux"),
        &[
            ("a", Some("foo")),
            ("b", Some("bar baz")),
            ("z", Some("quux")),
        ],
    );
    expect(
        &dissect("%{a} %{b} %{+a}", "foo bar baz quux"),
        &[("a", Some("foo baz quux")), ("b", Some("bar"))],
    );
    // The normal field is saved first, then the appends in pattern order.
    expect(
        &dissect("%{+a} %{a} %{+a} %{b}", "December 31 1999 quux"),
        &[("a", Some("31 December 1999")), ("b", Some("quux"))],
    );
    expect(
        &dissect("%{+a/2} %{+a/4} %{+a/1} %{+a/3}", "bar quux foo baz"),
        &[("a", Some("foo bar baz quux"))],
    );
    // The delimiter before an append field joins it.
    expect(
        &dissect("%{a}-%{+a}-%{+a}", "1-2-3"),
        &[("a", Some("1-2-3"))],
    );
    expect(
        &dissect("%{+a} %{b} %{+a} %{c}", "foo bar baz quux"),
        &[
            ("a", Some("foo baz")),
            ("b", Some("bar")),
            ("c", Some("quux")),
        ],
    );
}

#[test]
fn append_extends_a_field_the_event_already_has() {
    let e = run(
        r#"dissect { mapping => { "message" => "%{+a} %{b}" } }"#,
        r#"{"message": "x y", "a": "start"}"#,
    );
    expect(&e, &[("a", Some("start x")), ("b", Some("y"))]);
}

#[test]
fn indirect_fields() {
    expect(
        &dissect("%{k1}=%{&k1}, %{k2}=%{&k2}", "foo=bar, baz=quux"),
        &[
            ("k1", Some("foo")),
            ("k2", Some("baz")),
            ("foo", Some("bar")),
            ("baz", Some("quux")),
        ],
    );
    let e = dissect("%{?k1}=%{&k1}, %{?k2}=%{&k2}", "foo=bar, baz=quux");
    expect(
        &e,
        &[("foo", Some("bar")), ("baz", Some("quux")), ("k1", None)],
    );
    // No field of that name: nothing is set.
    let e = dissect("%{?k1}=%{&k3}, %{?k2}=%{&k4}", "foo=bar, baz=quux");
    expect(&e, &[("foo", None), ("k3", None), ("k1", None)]);
    assert!(tags(&e).is_empty());
    // Names taken from fields the event already has.
    let e = run(
        r#"dissect { mapping => { "message" => "%{&k1}, %{&k2}" } }"#,
        r#"{"message": "foo, bar", "k1": "a", "k2": "b"}"#,
    );
    expect(&e, &[("a", Some("foo")), ("b", Some("bar"))]);
}

#[test]
fn an_indirect_name_that_is_not_a_field_reference_tags_the_event() {
    let e = dissect("%{?k}=%{&k}", "a[b=value");
    assert_eq!(tags(&e), ["_dissectfailure"]);
    let e = dissect("%{?k}=%{&k}", "[a][b]=value");
    expect(&e, &[("[a][b]", Some("value"))]);
}

#[test]
fn skip_fields_and_padding() {
    expect(
        &dissect("%{a} %{} %{c}", "foo bar baz"),
        &[("a", Some("foo")), ("c", Some("baz"))],
    );
    let e = dissect("%{a}------->%{}", "foo------->bar baz quux");
    expect(&e, &[("a", Some("foo"))]);
    assert_eq!(e.fields().len(), 4, "{e:?}");
    expect(
        &dissect(
            "%{a->}   %{b->}---%{c}",
            "foo            bar------------baz",
        ),
        &[("a", Some("foo")), ("b", Some("bar")), ("c", Some("baz"))],
    );
    expect(&dissect("%{?->}-%{a}", "-----666"), &[("a", Some("666"))]);
    expect(
        &dissect("XXX %{y->} ZZZ", "XXX YYY ZZZ"),
        &[("y", Some("YYY"))],
    );
    expect(
        &dissect("XXX %{y->} %{z}", "XXX YYY   ZZZ"),
        &[("y", Some("YYY")), ("z", Some("ZZZ"))],
    );
    // Without padding, repeated delimiters are empty fields.
    expect(
        &dissect("%{a}-%{b}", "foo------bar"),
        &[("a", Some("foo")), ("b", Some("-----bar"))],
    );
}

#[test]
fn text_after_the_last_field_is_not_checked() {
    expect(
        &dissect("/var/%{key}/log", "/var/foobar/log/extra"),
        &[("key", Some("foobar"))],
    );
}

#[test]
fn nested_field_names() {
    let e = dissect("%{[a][b]} %{[a][c]}", "1 2");
    expect(&e, &[("[a][b]", Some("1")), ("[a][c]", Some("2"))]);
}

#[test]
fn complex_firewall_line() {
    let e = dissect(
        "%{} %{syslog_timestamp} %{hostname} %{rt}: %{reason} %{+reason} %{src_ip}/%{src_port}->%{dst_ip}/%{dst_port} %{polrt} %{+polrt} %{+polrt} %{from_zone} %{to_zone} %{rest}",
        "42 2016-05-25T14:47:23Z host.name.com RT_FLOW - RT_FLOW_SESSION_DENY: session denied 2.2.2.20/60000->1.1.1.10/8090 None 6(0) DEFAULT-DENY ZONE-UNTRUST ZONE-DMZ UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0",
    );
    expect(
        &e,
        &[
            ("syslog_timestamp", Some("2016-05-25T14:47:23Z")),
            ("hostname", Some("host.name.com")),
            ("rt", Some("RT_FLOW - RT_FLOW_SESSION_DENY")),
            ("reason", Some("session denied")),
            ("src_ip", Some("2.2.2.20")),
            ("src_port", Some("60000")),
            ("dst_ip", Some("1.1.1.10")),
            ("dst_port", Some("8090")),
            ("polrt", Some("None 6(0) DEFAULT-DENY")),
            ("from_zone", Some("ZONE-UNTRUST")),
            ("to_zone", Some("ZONE-DMZ")),
            ("rest", Some("UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0")),
        ],
    );
}

#[test]
fn long_values_share_the_source_buffer() {
    let long = "x".repeat(100);
    let message = Text::from_string(format!("{long} tail"));
    let mut map = Map::new();
    map.insert(Text::new("message"), Value::Str(message.clone()));
    let e = run_event(
        r#"dissect { mapping => { "message" => "%{a} %{b}" } }"#,
        Event::from_fields(map, Timestamp::from_secs(0)),
    );
    let a = str_of(&e, "a").unwrap();
    assert_eq!(a, long);
    assert_eq!(a.as_ptr(), message.as_ptr());
}

// ---- failures ---------------------------------------------------------------------------------

#[test]
fn a_pattern_that_does_not_match_tags_the_event_and_changes_nothing() {
    let e = run_event(
        r#"dissect {
            mapping => { "message" => "%{a} %{b} %{c}" }
            add_tag => ["dissected"]
        }"#,
        message_event("only-one-word"),
    );
    assert_eq!(tags(&e), ["_dissectfailure"]);
    expect(&e, &[("a", None), ("message", Some("only-one-word"))]);
    // Adjacent fields never match; nor does a missing leading delimiter.
    assert_eq!(
        tags(&dissect("%{a}%{b} %{c}", "foo bar   baz")),
        ["_dissectfailure"]
    );
    assert_eq!(tags(&dissect("[%{a}] %{b}", "x[1] 2")), ["_dissectfailure"]);
}

#[test]
fn custom_failure_tags() {
    let e = run_event(
        r#"dissect {
            mapping => { "message" => "%{a} %{b}" }
            tag_on_failure => ["one", "two"]
        }"#,
        message_event("nospace"),
    );
    assert_eq!(tags(&e), ["one", "two"]);
}

#[test]
fn an_empty_source_is_a_failure_and_a_missing_one_is_skipped() {
    let filter = r#"dissect { mapping => { "message" => "%{a} %{b}" } add_tag => ["ok"] }"#;
    assert_eq!(
        tags(&run(filter, r#"{"message": ""}"#)),
        ["_dissectfailure"]
    );
    assert!(tags(&run(filter, "{}")).is_empty());
    assert_eq!(
        tags(&run(filter, r#"{"message": null}"#)),
        ["_dissectfailure"]
    );
    // A number is dissected as its text.
    let e = run(
        r#"dissect { mapping => { "n" => "%{a}.%{b}" } }"#,
        r#"{"n": 12.5}"#,
    );
    expect(&e, &[("a", Some("12")), ("b", Some("5"))]);
}

#[test]
fn common_options_apply_once_per_matching_pattern() {
    let e = run(
        r#"dissect {
            mapping => { "a" => "%{x} %{y}" "b" => "%{z}-%{w}" "c" => "%{p}:%{q}" }
            add_field => { "seen" => "yes" }
        }"#,
        r#"{"a": "1 2", "b": "3-4", "c": "no colon"}"#,
    );
    expect(
        &e,
        &[
            ("x", Some("1")),
            ("y", Some("2")),
            ("z", Some("3")),
            ("w", Some("4")),
        ],
    );
    assert_eq!(get(&e, "seen"), Some(&json(r#"["yes", "yes"]"#)));
    assert_eq!(tags(&e), ["_dissectfailure"]);
}

#[test]
fn an_empty_pattern_is_ignored() {
    let e = run(
        r#"dissect { mapping => { "message" => "" } add_tag => ["t"] }"#,
        r#"{"message": "x"}"#,
    );
    assert!(tags(&e).is_empty());
}

// ---- convert_datatype -------------------------------------------------------------------------

#[test]
fn conversions_after_dissection() {
    let e = run_event(
        r#"dissect {
            mapping => { "message" => "[%{occurred_at}] %{code} %{service} %{?ic}=%{&ic}% %{svc_message}" }
            convert_datatype => { cpu => "float" code => "int" }
        }"#,
        message_event("[25/05/16 09:10:38:425 BST] 00000001 SystemOut cpu=95.43% java.lang:type=MemoryPool,name=class storage"),
    );
    assert_eq!(get(&e, "code"), Some(&Value::Int(1)));
    assert_eq!(get(&e, "cpu"), Some(&Value::Float(95.43)));
    assert!(tags(&e).is_empty());
}

#[test]
fn failed_conversions_tag_per_field() {
    let e = run(
        r#"dissect {
            mapping => { "message" => "%{code} %{rest}" }
            convert_datatype => { "ccu" => "float" "other" => "int" "rest" => "INT" }
        }"#,
        r#"{"message": "00000001 abc", "other": {}}"#,
    );
    assert_eq!(str_of(&e, "code"), Some("00000001"));
    assert_eq!(
        tags(&e),
        [
            "_dataconversionnullvalue_ccu_float",
            "_dataconversionuncoercible_other_int",
            "_dataconversionuncoercible_rest_INT"
        ]
    );
}

#[test]
fn conversions_run_without_mappings_and_handle_big_and_decimal_numbers() {
    let e = run(
        r#"dissect { convert_datatype => { "a" => "int" "b" => "float" "c" => "int" "d" => "int" "e" => "float" } }"#,
        r#"{"a": "12.7", "b": "1e3", "c": "43947404257507186289", "d": -3, "e": "+.5"}"#,
    );
    assert_eq!(get(&e, "a"), Some(&Value::Int(12)));
    assert_eq!(get(&e, "b"), Some(&Value::Float(1000.0)));
    assert_eq!(get(&e, "c"), Some(&Value::Float(43947404257507186289.0)));
    assert_eq!(get(&e, "d"), Some(&Value::Int(-3)));
    assert_eq!(get(&e, "e"), Some(&Value::Float(0.5)));
}

// ---- config errors ----------------------------------------------------------------------------

#[test]
fn invalid_patterns_and_types_are_config_errors() {
    let err = build_error(r#"dissect { mapping => { "message" => "%{+&timestamp}" } }"#);
    assert!(err.contains("Append and Indirect Prefix (+&)"), "{err}");
    let err = build_error(r#"dissect { mapping => { "message" => "%{&+timestamp}" } }"#);
    assert!(err.contains("(&+)"), "{err}");
    let err = build_error(r#"dissect { mapping => { "message" => "%{+/2}" } }"#);
    assert!(err.contains("without a name section"), "{err}");
    let err = build_error(r#"dissect { mapping => { "message" => "%{+}" } }"#);
    assert!(err.contains("prefix on its own"), "{err}");
    let err = build_error(r#"dissect { mapping => { "message" => "no fields here" } }"#);
    assert!(err.contains("no `%{field}`"), "{err}");
    let err = build_error(r#"dissect { convert_datatype => { "code" => "integer" } }"#);
    assert!(err.contains("datatype not supported: integer"), "{err}");
    let err = build_error(r#"dissect { mapping => { "message" => "%{a[b} %{c}" } }"#);
    assert!(err.contains("a[b"), "{err}");
    let err = build_error(r#"dissect { mappings => {} }"#);
    assert!(err.contains("did you mean \"mapping\""), "{err}");
    // A valid pattern with every notation builds.
    graph(
        r#"dissect { mapping => { "message" => "%{+timestamp/2} %{+timestamp/1} %{?no_name} %{&no_name} %{} %{program}[%{pid}]: %{msg}" } }"#,
    );
}
