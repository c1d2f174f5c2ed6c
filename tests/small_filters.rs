//! The `urldecode`, `truncate`, `prune`, `split` and `clone` filters, built from config text as a
//! pipeline builds them. Cases mirror each plugin's Logstash spec; `split` and `clone` also
//! check that the events they create follow their original in the batch.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use sluice::event::{Event, Timestamp, Value};

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs a batch of events (JSON objects) through `filters`.
fn run_batch(filters: &str, events: &[&str]) -> Vec<Event> {
    let mut batch: Vec<Event> = events.iter().map(|e| event(e)).collect();
    graph(filters).process(&mut batch);
    batch
}

/// Runs one event through `filters`; it must come out alone.
fn run(filters: &str, fields: &str) -> Event {
    let mut out = run_batch(filters, &[fields]);
    assert_eq!(out.len(), 1, "expected one event out, got {out:?}");
    out.pop().unwrap()
}

/// Asserts each `(path, JSON)` pair; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, value) in expected {
        let want = value.map(json);
        assert_eq!(get(e, path), want.as_ref(), "field {path} in {e:?}");
    }
}

/// The string at `field` in each event.
fn column(events: &[Event], field: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            get(e, field)
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_string()
        })
        .collect()
}

// ---- urldecode --------------------------------------------------------------------------------

#[test]
fn urldecode_decodes_the_message() {
    let e = run(
        "urldecode { add_tag => ['decoded'] }",
        r#"{"message": "http%3A%2F%2Flogstash.net%2Fdocs%2F1.3.2%2Ffilters%2Furldecode+x"}"#,
    );
    expect(
        &e,
        &[(
            "message",
            Some(r#""http://logstash.net/docs/1.3.2/filters/urldecode+x""#),
        )],
    );
    assert_eq!(tags(&e), ["decoded"]);
    let plain = run(
        "urldecode {}",
        r#"{"message": "http://logstash.net/a%zzb%"}"#,
    );
    expect(
        &plain,
        &[("message", Some(r#""http://logstash.net/a%zzb%""#))],
    );
    assert!(tags(&plain).is_empty());
}

#[test]
fn urldecode_a_named_field_with_mixed_text() {
    let e = run(
        r#"urldecode { field => "url" }"#,
        r#"{"url": "http%3A%2F%2Fl%C3%B8gstash.net%2Fd%C3%B8cs%2F1.3.2%2Ffilters%2Furldecøde?name=frødø%20båggins", "message": "a%20b"}"#,
    );
    expect(
        &e,
        &[
            (
                "url",
                Some(r#""http://løgstash.net/døcs/1.3.2/filters/urldecøde?name=frødø båggins""#),
            ),
            ("message", Some(r#""a%20b""#)),
        ],
    );
}

#[test]
fn urldecode_all_fields_hashes_and_arrays() {
    let e = run(
        "urldecode { all_fields => true }",
        r#"{"message": "a%2Fb", "nonencoded": "plain", "n": 5, "h": {"u": "%41"}, "l": ["%42", 1]}"#,
    );
    expect(
        &e,
        &[
            ("message", Some(r#""a/b""#)),
            ("nonencoded", Some(r#""plain""#)),
            ("n", Some("5")),
            ("[h][u]", Some(r#""A""#)),
            ("l", Some(r#"["B", 1]"#)),
        ],
    );
    assert!(e.timestamp().is_some(), "@timestamp is left a timestamp");
    let nested = run(
        "urldecode {}",
        r#"{"message": {"url": "%2F"}, "other": "%2F"}"#,
    );
    expect(
        &nested,
        &[
            ("[message][url]", Some(r#""/""#)),
            ("other", Some(r#""%2F""#)),
        ],
    );
}

#[test]
fn urldecode_writes_invalid_utf8_as_ruby_escapes() {
    let e = run(
        "urldecode {}",
        r#"{"message": "/a/sa/search?rgu=0;+%C3%BB%D3%D0%D5%D2%B5%BD=;+%B7%A2%CB%CD="}"#,
    );
    assert_eq!(
        get(&e, "message").and_then(Value::as_str),
        Some(r"/a/sa/search?rgu=0;+û\xD3\xD0\xD5ҵ\xBD=;+\xB7\xA2\xCB\xCD=")
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn urldecode_charsets() {
    let e = run(
        r#"urldecode { charset => "ISO-8859-1" }"#,
        r#"{"message": "caf%E9"}"#,
    );
    expect(&e, &[("message", Some(r#""café""#))]);
    let e = run(
        r#"urldecode { charset => "Windows-1252" }"#,
        r#"{"message": "%80%20%93q%94"}"#,
    );
    expect(&e, &[("message", Some(r#""€ “q”""#))]);
    let err = build_error(r#"urldecode { charset => "KOI8-R" }"#);
    assert!(err.contains("charset \"KOI8-R\" is not supported"), "{err}");
}

#[test]
fn urldecode_a_missing_field_becomes_null_and_bad_names_are_tagged() {
    let e = run(r#"urldecode { field => "absent" }"#, r#"{"message": "x"}"#);
    expect(&e, &[("absent", Some("null"))]);
    let e = run(
        r#"urldecode { all_fields => true tag_on_failure => ["bad"] }"#,
        r#"{"a[b": "%41", "message": "%41"}"#,
    );
    assert_eq!(tags(&e), ["bad"]);
    let e = run("urldecode { all_fields => true }", r#"{"a[b": "%41"}"#);
    assert_eq!(tags(&e), ["_urldecodefailure"]);
}

// ---- truncate ---------------------------------------------------------------------------------

#[test]
fn truncate_every_field_including_nested_ones() {
    let data = format!(
        r#"{{"foo": {{"bar": "{}"}}, "one": {{"two": {{"three": "{}"}}}}, "baz": "{}", "n": 123456}}"#,
        "a".repeat(500),
        "b".repeat(600),
        "c".repeat(700)
    );
    let e = run("truncate { length_bytes => 450 add_tag => ['cut'] }", &data);
    for field in ["[foo][bar]", "[one][two][three]", "baz"] {
        assert_eq!(
            get(&e, field).and_then(Value::as_str).map(str::len),
            Some(450)
        );
    }
    expect(&e, &[("n", Some("123456"))]);
    assert_eq!(tags(&e), ["cut"]);
}

#[test]
fn truncate_only_counts_as_success_when_it_cuts() {
    let data = format!(
        r#"{{"baz": "{}", "foo": {{"bar": "{}"}}}}"#,
        "c".repeat(450),
        "a".repeat(350)
    );
    let e = run("truncate { length_bytes => 450 add_tag => ['cut'] }", &data);
    assert!(tags(&e).is_empty());
    assert_eq!(
        get(&e, "baz").and_then(Value::as_str).map(str::len),
        Some(450)
    );
}

#[test]
fn truncate_named_fields_keeps_utf8_whole() {
    let e = run(
        r#"truncate { fields => ["example", "list", "[nested][x]"] length_bytes => 5 }"#,
        r#"{"message": "ééééé", "example": "aé€😀", "list": ["abcdefgh", 7, "xé€"], "nested": {"x": "0123456789"}, "n": 3}"#,
    );
    expect(
        &e,
        &[
            ("message", Some(r#""ééééé""#)),
            ("example", Some(r#""aé""#)),
            ("list", Some(r#"["abcde", 7, "xé"]"#)),
            ("[nested][x]", Some(r#""01234""#)),
        ],
    );
    let zero = run(
        r#"truncate { fields => "example" length_bytes => 0 }"#,
        r#"{"example": "abc"}"#,
    );
    expect(&zero, &[("example", Some(r#""""#))]);
    let number = run(
        r#"truncate { fields => "example" length_bytes => 1 add_tag => ['cut'] }"#,
        r#"{"example": -500}"#,
    );
    expect(&number, &[("example", Some("-500"))]);
    assert!(tags(&number).is_empty());
}

#[test]
fn truncate_options_are_checked() {
    assert!(build_error("truncate { }").contains("missing required option \"length_bytes\""));
    assert!(build_error("truncate { length_bytes => -1 }").contains("0 or more"));
    assert!(build_error(r#"truncate { length_bytes => 1 fields => "[a" }"#).contains("fields"));
}

// ---- prune ------------------------------------------------------------------------------------

const BORAT: &str = r#"{
    "firstname": "Borat", "lastname": "Sagdiyev", "fullname": "Borat Sagdiyev",
    "country": "Kazakhstan", "location": "Somethere in Kazakhstan", "hobby": "Cloud",
    "status": "200",
    "Borat_saying": "Cloud is not ready for enterprise if is not integrate with single server running Active Directory.",
    "%{hmm}": "doh"
}"#;

fn kept(e: &Event) -> Vec<String> {
    let mut keys: Vec<String> = e.fields().keys().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

#[test]
fn prune_by_default_drops_unresolved_references_only() {
    let e = run("prune { add_tag => ['pruned'] }", BORAT);
    assert!(get(&e, "firstname").is_some() && get(&e, "Borat_saying").is_some());
    assert!(e.get_field("%{hmm}").is_none());
    assert!(e.timestamp().is_some());
    assert_eq!(tags(&e), ["pruned"]);
}

#[test]
fn prune_whitelist_names() {
    let e = run(
        r#"prune { whitelist_names => [ "firstname", "(hobby|status)", "%{firstname}_saying" ] }"#,
        BORAT,
    );
    assert_eq!(kept(&e), ["firstname", "hobby", "status"]);
    let e = run(
        r#"prune { whitelist_names => [ "firstname", "%{firstname}_saying" ] interpolate => true }"#,
        BORAT,
    );
    assert_eq!(kept(&e), ["Borat_saying", "firstname"]);
    // Unanchored: "name" matches every field with "name" in it.
    let e = run(r#"prune { whitelist_names => [ "name", "^@" ] }"#, BORAT);
    assert_eq!(
        kept(&e),
        [
            "@timestamp",
            "@version",
            "firstname",
            "fullname",
            "lastname"
        ]
    );
}

#[test]
fn prune_blacklist_names() {
    let e = run(
        r#"prune { blacklist_names => [ "firstname", "(hobby|status)", "%{firstname}_saying" ] }"#,
        BORAT,
    );
    for gone in ["firstname", "hobby", "status"] {
        assert!(e.get_field(gone).is_none(), "{gone}");
    }
    // A user blacklist replaces the default one.
    assert_eq!(e.get_field("%{hmm}"), Some(&Value::from("doh")));
    assert!(e.get_field("Borat_saying").is_some());
    let e = run(
        r#"prune { blacklist_names => [ "%{firstname}_saying" ] interpolate => true }"#,
        BORAT,
    );
    assert!(e.get_field("Borat_saying").is_none());
    assert!(e.get_field("firstname").is_some());
}

const VALUES: &str = r#"{
    "firstname" => "^Borat$"
    "fullname" => "%{firstname} Sagdiyev"
    "location" => "no no no"
    "status" => "^2"
    "%{firstname}_saying" => "%{hobby}.*Active"
}"#;

#[test]
fn prune_whitelist_values() {
    let e = run(&format!("prune {{ whitelist_values => {VALUES} }}"), BORAT);
    for kept in [
        "firstname",
        "status",
        "lastname",
        "country",
        "hobby",
        "Borat_saying",
    ] {
        assert!(e.get_field(kept).is_some(), "{kept}");
    }
    for gone in ["fullname", "location"] {
        assert!(e.get_field(gone).is_none(), "{gone}");
    }
    let e = run(
        &format!("prune {{ whitelist_values => {VALUES} interpolate => true }}"),
        BORAT,
    );
    assert!(e.get_field("fullname").is_some());
    assert!(e.get_field("Borat_saying").is_some());
    assert!(e.get_field("location").is_none());
}

#[test]
fn prune_blacklist_values() {
    let e = run(&format!("prune {{ blacklist_values => {VALUES} }}"), BORAT);
    for gone in ["firstname", "status"] {
        assert!(e.get_field(gone).is_none(), "{gone}");
    }
    for kept in ["fullname", "location"] {
        assert!(e.get_field(kept).is_some(), "{kept}");
    }
    let e = run(
        &format!("prune {{ blacklist_values => {VALUES} interpolate => true }}"),
        BORAT,
    );
    assert!(e.get_field("fullname").is_none());
    assert!(e.get_field("Borat_saying").is_none());
}

const ARRAYS: &str = r#"{
    "blah": "foo",
    "xxx": [ "1 2 3", "3 4 5" ],
    "status": [ "100", "200", "300", "400", "500" ],
    "error": [ "This is foolish" , "Need smthing smart too" ],
    "code": 404
}"#;

#[test]
fn prune_values_in_arrays() {
    let rules = r#"{ "status" => "^(1|2|3)" "xxx" => "3" "error" => "%{blah}" "code" => "^4" }"#;
    let e = run(&format!("prune {{ whitelist_values => {rules} }}"), ARRAYS);
    expect(
        &e,
        &[
            ("error", None),
            ("status", Some(r#"["100", "200", "300"]"#)),
            ("xxx", Some(r#"["1 2 3", "3 4 5"]"#)),
            ("code", Some("404")),
        ],
    );
    let e = run(
        &format!("prune {{ whitelist_values => {rules} interpolate => true }}"),
        ARRAYS,
    );
    expect(&e, &[("error", Some(r#"["This is foolish"]"#))]);
    let e = run(&format!("prune {{ blacklist_values => {rules} }}"), ARRAYS);
    expect(
        &e,
        &[
            ("xxx", None),
            (
                "error",
                Some(r#"["This is foolish", "Need smthing smart too"]"#),
            ),
            ("status", Some(r#"["400", "500"]"#)),
            ("code", None),
        ],
    );
    let e = run(
        &format!("prune {{ blacklist_values => {rules} interpolate => true }}"),
        ARRAYS,
    );
    expect(&e, &[("error", Some(r#"["Need smthing smart too"]"#))]);
}

#[test]
fn prune_with_an_interpolated_pattern_that_is_not_a_regex_keeps_going() {
    let e = run(
        r#"prune { blacklist_names => ["%{bad}", "^drop"] interpolate => true }"#,
        r#"{"bad": "(", "drop_me": 1, "keep": 2}"#,
    );
    assert!(e.get_field("drop_me").is_none());
    assert!(e.get_field("keep").is_some());
}

#[test]
fn prune_options_are_checked() {
    let err = build_error(r#"prune { whitelist_names => ["(unclosed"] }"#);
    assert!(
        err.contains("whitelist_names") && err.contains("not a valid regex"),
        "{err}"
    );
    let err = build_error(r#"prune { blacklist_values => { "a" => "[" } }"#);
    assert!(err.contains("blacklist_values"), "{err}");
}

// ---- split ------------------------------------------------------------------------------------

#[test]
fn split_lines_into_events_in_place() {
    let out = run_batch(
        "split { add_tag => ['split'] }",
        &[
            r#"{"message": "before"}"#,
            r#"{"message": "big\nbird\nsesame street", "n": 1}"#,
            r#"{"message": "after"}"#,
        ],
    );
    assert_eq!(
        column(&out, "message"),
        ["before", "big", "bird", "sesame street", "after"]
    );
    for e in &out[1..4] {
        expect(e, &[("n", Some("1"))]);
        assert_eq!(tags(e), ["split"]);
    }
    assert!(
        tags(&out[0]).is_empty(),
        "a text without terminator is left alone"
    );
}

#[test]
fn split_skips_empty_pieces() {
    let out = run_batch("split {}", &[r#"{"message": "big\n"}"#]);
    assert_eq!(column(&out, "message"), ["big"]);
    let out = run_batch("split {}", &[r#"{"message": "a\n\nb"}"#]);
    assert_eq!(column(&out, "message"), ["a", "b"]);
}

#[test]
fn split_on_a_custom_terminator_and_field() {
    let out = run_batch(
        r#"split { terminator => "," field => "custom" }"#,
        &[r#"{"custom": "big,bird,sesame street", "do_not_touch": "1,2,3"}"#],
    );
    assert_eq!(column(&out, "custom"), ["big", "bird", "sesame street"]);
    assert_eq!(column(&out, "do_not_touch"), ["1,2,3"; 3]);
    let out = run_batch(
        r#"split { terminator => "::" }"#,
        &[r#"{"message": "a::b::c"}"#],
    );
    assert_eq!(column(&out, "message"), ["a", "b", "c"]);
}

#[test]
fn split_arrays() {
    let out = run_batch(
        r#"split { field => "array" }"#,
        &[r#"{"array": ["big", null, "bird", "", "sesame street"], "untouched": "1\n2"}"#],
    );
    assert_eq!(column(&out, "array"), ["big", "bird", "sesame street"]);
    assert_eq!(column(&out, "untouched"), ["1\n2"; 3]);
    let single = run(
        r#"split { field => "array" }"#,
        r#"{"array": ["single-element"]}"#,
    );
    expect(&single, &[("array", Some(r#""single-element""#))]);
}

#[test]
fn split_arrays_into_a_target() {
    let out = run_batch(
        r#"split { field => "array" target => "element" }"#,
        &[r#"{"array": [1, 2, "three", ""]}"#],
    );
    let elements: Vec<Option<&Value>> = out.iter().map(|e| get(e, "element")).collect();
    assert_eq!(
        elements,
        [
            Some(&Value::Int(1)),
            Some(&Value::Int(2)),
            Some(&Value::from("three"))
        ]
    );
    for e in &out {
        expect(e, &[("array", Some(r#"[1, 2, "three", ""]"#))]);
    }
}

#[test]
fn split_of_a_field_that_is_not_splittable_is_tagged() {
    for data in [
        r#"{"field": 10}"#,
        r#"{"field": {"a": 1}}"#,
        r#"{"other": 1}"#,
    ] {
        let e = run(r#"split { field => "field" add_tag => ['split'] }"#, data);
        assert_eq!(tags(&e), ["_split_type_failure"], "{data}");
    }
}

#[test]
fn split_of_nothing_yields_no_event_as_in_logstash() {
    let out = run_batch(
        "split {}",
        &[
            r#"{"message": "keep"}"#,
            r#"{"message": ""}"#,
            r#"{"message": "\n\n"}"#,
        ],
    );
    assert_eq!(column(&out, "message"), ["keep"]);
    let out = run_batch(r#"split { field => "a" }"#, &[r#"{"a": []}"#]);
    assert!(out.is_empty());
}

#[test]
fn split_inside_a_conditional_keeps_the_pieces_in_place() {
    let out = run_batch(
        r#"if [kind] == "multi" { split { } } else { mutate { add_tag => ["single"] } }"#,
        &[
            r#"{"kind": "one", "message": "first"}"#,
            r#"{"kind": "multi", "message": "a\nb"}"#,
            r#"{"kind": "one", "message": "middle"}"#,
            r#"{"kind": "multi", "message": "c\nd\ne"}"#,
            r#"{"kind": "one", "message": "last"}"#,
        ],
    );
    assert_eq!(
        column(&out, "message"),
        ["first", "a", "b", "middle", "c", "d", "e", "last"]
    );
}

#[test]
fn split_on_a_single_space_splits_on_whitespace_runs() {
    let out = run_batch(
        r#"split { terminator => " " }"#,
        &[r#"{"message": "  a \t b\nc  "}"#],
    );
    assert_eq!(column(&out, "message"), ["a", "b", "c"]);
}

// ---- clone ------------------------------------------------------------------------------------

#[test]
fn clone_in_ecs_mode_tags_the_copies() {
    let out = run_batch(
        r#"clone { clones => ["clone", "clone", "clone"] }"#,
        &[r#"{"message": "hello world", "type": "original"}"#],
    );
    assert_eq!(out.len(), 4);
    assert!(tags(&out[0]).is_empty());
    for e in &out {
        expect(
            e,
            &[
                ("type", Some(r#""original""#)),
                ("message", Some(r#""hello world""#)),
            ],
        );
    }
    for e in &out[1..] {
        assert_eq!(tags(e), ["clone"]);
    }
}

#[test]
fn clone_without_ecs_sets_the_type() {
    let out = run_batch(
        r#"clone { clones => ["clone", "clone", "clone"] ecs_compatibility => disabled }"#,
        &[r#"{"message": "hello world", "type": "original"}"#],
    );
    assert_eq!(
        column(&out, "type"),
        ["original", "clone", "clone", "clone"]
    );
    assert!(out.iter().all(|e| tags(e).is_empty()));
}

#[test]
fn clone_applies_common_options_to_copies_only() {
    let filter = |ecs: &str| {
        format!(
            r#"clone {{ clones => ["nginx-access-clone1", "nginx-access-clone2"]
                add_tag => ['RABBIT','NO_ES'] remove_tag => ["TESTLOG"] ecs_compatibility => {ecs} }}"#
        )
    };
    let data =
        r#"{"type": "nginx-access", "tags": ["TESTLOG"], "message": "hello world", "number": 5}"#;
    let out = run_batch(&filter("disabled"), &[data]);
    assert_eq!(
        column(&out, "type"),
        ["nginx-access", "nginx-access-clone1", "nginx-access-clone2"]
    );
    assert_eq!(tags(&out[0]), ["TESTLOG"]);
    for e in &out[1..] {
        assert_eq!(tags(e), ["RABBIT", "NO_ES"]);
        expect(e, &[("number", Some("5"))]);
    }
    let out = run_batch(&filter("v1"), &[data]);
    assert_eq!(column(&out, "type"), ["nginx-access"; 3]);
    assert_eq!(tags(&out[0]), ["TESTLOG"]);
    assert_eq!(tags(&out[1]), ["nginx-access-clone1", "RABBIT", "NO_ES"]);
    assert_eq!(tags(&out[2]), ["nginx-access-clone2", "RABBIT", "NO_ES"]);
}

#[test]
fn clones_follow_their_original_in_the_batch() {
    let out = run_batch(
        r#"clone { clones => ["x", "y"] ecs_compatibility => disabled }"#,
        &[r#"{"message": "1"}"#, r#"{"message": "2"}"#],
    );
    assert_eq!(column(&out, "message"), ["1", "1", "1", "2", "2", "2"]);
    assert_eq!(
        column(&out, "type"),
        ["<none>", "x", "y", "<none>", "x", "y"]
    );
    // Inside a conditional too.
    let out = run_batch(
        r#"if [message] == "2" { clone { clones => ["c"] } }"#,
        &[
            r#"{"message": "1"}"#,
            r#"{"message": "2"}"#,
            r#"{"message": "3"}"#,
        ],
    );
    assert_eq!(column(&out, "message"), ["1", "2", "2", "3"]);
    assert_eq!(tags(&out[2]), ["c"]);
}

#[test]
fn clone_appends_to_a_single_string_tag() {
    let e = run_batch(r#"clone { clones => ["c"] }"#, &[r#"{"tags": "one"}"#]);
    assert_eq!(tags(&e[1]), ["one", "c"]);
    assert_eq!(e[0].get_field("tags"), Some(&Value::from("one")));
}

#[test]
fn clone_options_are_checked() {
    let err = build_error("clone { }");
    assert!(err.contains("missing required option \"clones\""), "{err}");
    let out = run_batch("clone { clones => [] }", &[r#"{"message": "1"}"#]);
    assert_eq!(out.len(), 1);
}
