//! Behaviour of the `translate` filter, built from config text as a pipeline builds it. Many
//! cases mirror logstash-filter-translate's `spec/filters/translate_spec.rb`; dictionary files
//! are written to a temporary folder by each test.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluice::event::{Event, Timestamp, Value};
use sluice::plan::FilterGraph;

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

fn process(graph: &FilterGraph, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph.process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// Runs one event through `filters`; it must survive.
fn run(filters: &str, fields: &str) -> Event {
    process(&graph(filters), fields)
}

/// Asserts that each `(path, JSON)` pair holds in `e`; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, value) in expected {
        let want = value.map(json);
        assert_eq!(get(e, path), want.as_ref(), "field {path}");
    }
}

/// Writes `content` to `name` in `dir` and returns the path as config text.
fn write(dir: &Path, name: &str, content: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_string()
}

const STATUS_DICT: &str = r#"dictionary => [ "200", "OK", "300", "Redirect", "400", "Client Error", "500", "Server Error" ]"#;

// ---- matching ------------------------------------------------------------------------------

#[test]
fn exact_translation_coerces_the_source_to_text() {
    let e = run(
        &format!(r#"translate {{ source => "status" target => "translation" {STATUS_DICT} }}"#),
        r#"{"status": 200}"#,
    );
    expect(&e, &[("translation", Some(r#""OK""#))]);
    // An array source uses its first element.
    let e = run(
        &format!(r#"translate {{ source => "status" target => "translation" {STATUS_DICT} }}"#),
        r#"{"status": ["500", "200"]}"#,
    );
    expect(&e, &[("translation", Some(r#""Server Error""#))]);
}

#[test]
fn regex_keys_do_not_match_without_regex() {
    let e = run(
        r#"translate { source => "status" target => "translation" dictionary => { "^2\d\d" => "OK" } }"#,
        r#"{"status": 200}"#,
    );
    expect(&e, &[("translation", None)]);
}

#[test]
fn exact_false_replaces_every_key_inside_the_value() {
    let e = run(
        &format!(
            r#"translate {{ source => "status" target => "translation" exact => false {STATUS_DICT} }}"#
        ),
        r#"{"status": "200 & 500"}"#,
    );
    expect(&e, &[("translation", Some(r#""OK & Server Error""#))]);
    // Keys are literal text, not regexes.
    let e = run(
        r#"translate { source => "s" target => "t" exact => false dictionary => { "a.c" => "X" } }"#,
        r#"{"s": "abc a.c"}"#,
    );
    expect(&e, &[("t", Some(r#""abc X""#))]);
    let e = run(
        r#"translate { source => "s" target => "t" exact => false dictionary => { "zzz" => "X" } }"#,
        r#"{"s": "abc"}"#,
    );
    expect(&e, &[("t", None)]);
}

#[test]
fn regex_translation_uses_the_first_matching_key() {
    let e = run(
        r#"translate { source => "status" target => "translation" regex => true
            dictionary => { "^2[0-9][0-9]$" => "OK" "^[0-9]+$" => "Number" "^5[0-9][0-9]$" => "Server Error" } }"#,
        r#"{"status": "200"}"#,
    );
    expect(&e, &[("translation", Some(r#""OK""#))]);
    let e = run(
        r#"translate { source => "status" target => "translation" regex => true
            dictionary => { "^2[0-9][0-9]$" => "OK" "^[0-9]+$" => "Number" "^5[0-9][0-9]$" => "Server Error" } }"#,
        r#"{"status": "503"}"#,
    );
    expect(&e, &[("translation", Some(r#""Number""#))]);
    // Lookaround needs the backtracking engine.
    let e = run(
        r#"translate { source => "s" target => "t" regex => true dictionary => { "foo(?=bar)" => "yes" } }"#,
        r#"{"s": "xfoobar"}"#,
    );
    expect(&e, &[("t", Some(r#""yes""#))]);
}

#[test]
fn an_invalid_regex_key_is_a_config_error() {
    let e =
        build_error(r#"translate { source => "s" regex => true dictionary => { "a(b" => "x" } }"#);
    assert!(e.contains("a(b"), "{e}");
}

#[test]
fn inline_numbers_stay_numbers() {
    let e = run(
        r#"translate { source => "s" target => "t" dictionary => { "a" => 1 "b" => 2.5 } }"#,
        r#"{"s": "b"}"#,
    );
    expect(&e, &[("t", Some("2.5"))]);
}

// ---- fallback, override, targets ------------------------------------------------------------

#[test]
fn fallback_is_used_when_nothing_matches_and_may_use_sprintf() {
    let e = run(
        r#"translate { source => "status" target => "translation" fallback => "no match" }"#,
        r#"{"status": "200"}"#,
    );
    expect(&e, &[("translation", Some(r#""no match""#))]);
    let e = run(
        r#"translate { source => "status" target => "translation" fallback => "%{missing_translation}" }"#,
        r#"{"status": "200", "missing_translation": "missing no match"}"#,
    );
    expect(&e, &[("translation", Some(r#""missing no match""#))]);
}

#[test]
fn an_existing_target_is_kept_unless_override() {
    let config = |over: &str| {
        format!(
            r#"translate {{ source => "s" target => "t" dictionary => {{ "a" => "A" }} add_tag => ["done"] {over} }}"#
        )
    };
    let e = run(&config(""), r#"{"s": "a", "t": "old"}"#);
    expect(&e, &[("t", Some(r#""old""#))]);
    assert!(tags(&e).is_empty());
    let e = run(&config("override => true"), r#"{"s": "a", "t": "old"}"#);
    expect(&e, &[("t", Some(r#""A""#))]);
    assert_eq!(tags(&e), ["done"]);
}

#[test]
fn no_match_without_fallback_skips_the_common_options_unless_in_place() {
    let e = run(
        r#"translate { source => "s" target => "t" dictionary => { "a" => "A" } add_tag => ["done"] }"#,
        r#"{"s": "b"}"#,
    );
    assert!(tags(&e).is_empty());
    expect(&e, &[("t", None)]);
    let e = run(
        r#"translate { source => "s" target => "s" dictionary => { "a" => "A" } add_tag => ["done"] }"#,
        r#"{"s": "b"}"#,
    );
    assert_eq!(tags(&e), ["done"]);
    expect(&e, &[("s", Some(r#""b""#))]);
    // A missing source skips the event entirely.
    let e = run(
        r#"translate { source => "s" target => "s" fallback => "x" add_tag => ["done"] }"#,
        r#"{}"#,
    );
    assert!(tags(&e).is_empty());
    expect(&e, &[("s", None)]);
}

#[test]
fn the_default_target_follows_ecs_compatibility() {
    let config = |ecs: &str| {
        format!(
            r#"translate {{ source => "message" dictionary => {{ "foo" => "bar" }} ecs_compatibility => {ecs} }}"#
        )
    };
    let e = run(&config("disabled"), r#"{"message": "foo"}"#);
    expect(
        &e,
        &[
            ("translation", Some(r#""bar""#)),
            ("message", Some(r#""foo""#)),
        ],
    );
    for ecs in ["v1", "v8"] {
        let e = run(&config(ecs), r#"{"message": "foo"}"#);
        expect(&e, &[("translation", None), ("message", Some(r#""bar""#))]);
    }
}

#[test]
fn field_and_destination_are_accepted_as_old_names() {
    let e = run(
        r#"translate { field => "foo" destination => "bar" dictionary => { "nine" => "9" } }"#,
        r#"{"foo": "nine"}"#,
    );
    expect(&e, &[("bar", Some(r#""9""#))]);
    let e = run(
        r#"translate { field => "foo" destination => "foo" override => true dictionary => { "nine" => "9" } }"#,
        r#"{"foo": "nine"}"#,
    );
    expect(&e, &[("foo", Some(r#""9""#))]);
}

#[test]
fn config_mistakes_are_reported() {
    for (config, needle) in [
        (
            r#"translate { target => "bar" }"#,
            "provide the `source => ...` option",
        ),
        (
            r#"translate { source => "a" field => "b" }"#,
            "remove `field =>",
        ),
        (
            r#"translate { source => "a" target => "b" destination => "c" }"#,
            "remove `destination =>",
        ),
        (
            r#"translate { source => "a" target => "a" override => false }"#,
            "override => false",
        ),
        (r#"translate { source => "a" exact => maybe }"#, "exact"),
        (
            r#"translate { source => "a" refresh_behaviour => "sometimes" }"#,
            "sometimes",
        ),
        (
            r#"translate { source => "a" dictionry => {} }"#,
            "did you mean \"dictionary\"",
        ),
    ] {
        let e = build_error(config);
        assert!(e.contains(needle), "{config}: {e}");
    }
}

// ---- dictionary files ---------------------------------------------------------------------

#[test]
fn yaml_json_and_csv_files_translate() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(
        dir.path(),
        "dict.yml",
        "a : 1\nb : 2\nc : 3\nd : { \"e\": [1, \"hello\", true, \"false\", \"1\", \"1.1\"] }\n",
    );
    let json_path = write(dir.path(), "dict.json", r#"{"a": 10, "b": 20, "c": 30}"#);
    let csv = write(
        dir.path(),
        "dict.csv",
        "\u{feff}\"a\",100\n\"b\",200\n\"c\",300\n",
    );
    for (path, status, want) in [
        (&yaml, "a", "1"),
        (
            &yaml,
            "d",
            r#"{"e": [1, "hello", true, "false", "1", "1.1"]}"#,
        ),
        (&json_path, "b", "20"),
        (&csv, "a", r#""100""#),
        (&csv, "c", r#""300""#),
    ] {
        let e = run(
            &format!(
                r#"translate {{ source => "status" target => "translation" dictionary_path => "{path}" }}"#
            ),
            &format!(r#"{{"status": "{status}"}}"#),
        );
        expect(&e, &[("translation", Some(want))]);
    }
}

#[test]
fn tagged_yaml_maps_and_omaps_load() {
    let dir = tempfile::tempdir().unwrap();
    let map = write(
        dir.path(),
        "tag-map.yml",
        "---\n!!map {\n  ? !!str \"nine\"\n  : !!str \"val-9-1|val-9-2\",\n  ? !!str \"six\"\n  : !!str \"val-6-1|val-6-2\",\n}\n",
    );
    let omap = write(
        dir.path(),
        "tag-omap.yml",
        "--- !!omap\n- nine: val-9-1|val-9-2\n- six: val-6-1|val-6-2\n",
    );
    for path in [map, omap] {
        let e = run(
            &format!(
                r#"translate {{ source => "status" target => "translation" dictionary_path => "{path}" }}"#
            ),
            r#"{"status": "six"}"#,
        );
        expect(&e, &[("translation", Some(r#""val-6-1|val-6-2""#))]);
    }
}

#[test]
fn regex_and_union_modes_work_with_files() {
    let dir = tempfile::tempdir().unwrap();
    let regexes = write(
        dir.path(),
        "regex.csv",
        "\"^2[0-9][0-9]$\",\"OK\"\n\"^5[0-9][0-9]$\",\"Server Error\"\n",
    );
    let e = run(
        &format!(
            r#"translate {{ source => "status" target => "translation" regex => true dictionary_path => "{regexes}" refresh_interval => 0 }}"#
        ),
        r#"{"status": "200"}"#,
    );
    expect(&e, &[("translation", Some(r#""OK""#))]);
    let union = write(
        dir.path(),
        "union.csv",
        "\"200\",\"OK\"\n\"500\",\"Server Error\"\n",
    );
    let e = run(
        &format!(
            r#"translate {{ source => "status" target => "translation" exact => false dictionary_path => "{union}" }}"#
        ),
        r#"{"status": "200 & 500"}"#,
    );
    expect(&e, &[("translation", Some(r#""OK & Server Error""#))]);
}

#[test]
fn empty_dictionary_files_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["e.yml", "e.json", "e.csv"] {
        let path = write(dir.path(), name, "");
        let e = run(
            &format!(
                r#"translate {{ source => "status" target => "translation" dictionary_path => "{path}" fallback => "no match" }}"#
            ),
            r#"{"status": "a"}"#,
        );
        expect(&e, &[("translation", Some(r#""no match""#))]);
    }
}

#[test]
fn file_problems_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let other = write(dir.path(), "dict.other", "a: 1");
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{other}" }}"#
    ));
    assert!(e.contains("non valid format"), "{e}");
    let wrong = write(dir.path(), "wrong.yml", "a: b: c: [\n");
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{wrong}" }}"#
    ));
    assert!(e.contains("when loading dictionary file"), "{e}");
    let e =
        build_error(r#"translate { source => "s" dictionary_path => "/nonexistent/dict.yml" }"#);
    assert!(e.contains("/nonexistent/dict.yml"), "{e}");
    let csv = write(dir.path(), "d.csv", "a,b\n");
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{csv}" dictionary => {{ "a" => "b" }} }}"#
    ));
    assert!(e.contains("mutually exclusive"), "{e}");
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{other}.json" }}"#
    ));
    assert!(e.contains("when loading dictionary file"), "{e}");
}

#[test]
fn yaml_code_point_limit() {
    let dir = tempfile::tempdir().unwrap();
    let content = "a : 1\nb : 2\nc : 3\n";
    let yaml = write(dir.path(), "dict.yml", content);
    let size = content.chars().count();
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{yaml}" yaml_dictionary_code_point_limit => {} }}"#,
        size / 2
    ));
    assert!(e.contains("exceeds the limit"), "{e}");
    let e = run(
        &format!(
            r#"translate {{ source => "s" target => "t" dictionary_path => "{yaml}" yaml_dictionary_code_point_limit => {size} }}"#
        ),
        r#"{"s": "a"}"#,
    );
    expect(&e, &[("t", Some("1"))]);
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{yaml}" yaml_dictionary_code_point_limit => 0 }}"#
    ));
    assert!(e.contains("positive number"), "{e}");
    let json_path = write(dir.path(), "dict.json", "{}");
    let e = build_error(&format!(
        r#"translate {{ source => "s" dictionary_path => "{json_path}" yaml_dictionary_code_point_limit => 100 }}"#
    ));
    assert!(
        e.contains("please remove `yaml_dictionary_code_point_limit`"),
        "{e}"
    );
    // Both load strategies read the same dictionary.
    for strategy in ["one_shot", "streaming"] {
        let e = run(
            &format!(
                r#"translate {{ source => "s" target => "t" dictionary_path => "{yaml}" yaml_load_strategy => "{strategy}" }}"#
            ),
            r#"{"s": "c"}"#,
        );
        expect(&e, &[("t", Some("3"))]);
    }
}

/// Runs `fields` through `graph` until `field` holds `want` (the refresh thread runs on its own
/// clock), failing after a few seconds.
fn wait_for(graph: &FilterGraph, fields: &str, field: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = process(graph, fields);
        if get(&e, field) == Some(&json(want)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{field} never became {want}: {:?}",
            get(&e, field)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn refresh_merge_keeps_removed_keys_and_replace_drops_them() {
    for (behaviour, c_after) in [("merge", "3"), ("replace", r#""no match""#)] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "dict.yml", "a : 1\nb : 2\nc : 3\n");
        let g = graph(&format!(
            r#"translate {{ source => "status" target => "translation" dictionary_path => "{path}"
                refresh_interval => 0.1 refresh_behaviour => "{behaviour}" fallback => "no match" }}"#
        ));
        expect(
            &process(&g, r#"{"status": "b"}"#),
            &[("translation", Some("2"))],
        );
        expect(
            &process(&g, r#"{"status": "c"}"#),
            &[("translation", Some("3"))],
        );
        // Make sure the new file has a different modification time.
        std::thread::sleep(Duration::from_millis(20));
        write(dir.path(), "dict.yml", "a : 1\nb : 4\n");
        wait_for(&g, r#"{"status": "b"}"#, "translation", "4");
        expect(
            &process(&g, r#"{"status": "c"}"#),
            &[("translation", Some(c_after))],
        );
    }
}

#[test]
fn a_broken_file_on_refresh_keeps_the_old_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "dict.json", r#"{"a": "one"}"#);
    let g = graph(&format!(
        r#"translate {{ source => "s" target => "t" dictionary_path => "{path}" refresh_interval => 0.1 }}"#
    ));
    write(dir.path(), "dict.json", r#"{"a": "#);
    std::thread::sleep(Duration::from_millis(400));
    expect(&process(&g, r#"{"s": "a"}"#), &[("t", Some(r#""one""#))]);
    std::fs::remove_file(dir.path().join("dict.json")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    expect(&process(&g, r#"{"s": "a"}"#), &[("t", Some(r#""one""#))]);
    // A good file again is picked up.
    write(dir.path(), "dict.json", r#"{"a": "uno"}"#);
    wait_for(&g, r#"{"s": "a"}"#, "t", r#""uno""#);
}

// ---- iterate_on -----------------------------------------------------------------------------

#[test]
fn iterate_on_the_source_translates_each_value_into_an_array() {
    let dict = r#"dictionary => { "nine" => "9" "eight" => "8" "200" => "OK" }"#;
    let e = run(
        &format!(
            r#"translate {{ iterate_on => "foo" source => "foo" target => "baz" fallback => "nooo" {dict} }}"#
        ),
        r#"{"foo": ["nine", "eight", "seven", 200]}"#,
    );
    expect(&e, &[("baz", Some(r#"["9", "8", "nooo", "OK"]"#))]);
    let e = run(
        &format!(
            r#"translate {{ iterate_on => "foo" source => "foo" target => "baz" add_tag => ["done"] {dict} }}"#
        ),
        r#"{"foo": ["seven", "nine"]}"#,
    );
    expect(&e, &[("baz", Some(r#"[null, "9"]"#))]);
    assert_eq!(tags(&e), ["done"]);
    // Nothing translated and no fallback: an array of nulls, and no match.
    let e = run(
        &format!(
            r#"translate {{ iterate_on => "foo" source => "foo" target => "baz" add_tag => ["done"] {dict} }}"#
        ),
        r#"{"foo": ["seven"]}"#,
    );
    expect(&e, &[("baz", Some("[null]"))]);
    assert!(tags(&e).is_empty());
}

#[test]
fn iterate_on_objects_translates_a_key_of_each() {
    let dict = r#"dictionary => { "two" => "2" "one" => "1" "200" => "OK" }"#;
    let e = run(
        &format!(
            r#"translate {{ iterate_on => "foo" source => "bar" target => "[baz][x]" fallback => "nooo" {dict} }}"#
        ),
        r#"{"foo": [{"bar": "two"}, {"bar": 200}, {"bar": "six"}, {"other": 1}, "not an object"]}"#,
    );
    expect(
        &e,
        &[(
            "foo",
            Some(
                r#"[{"bar": "two", "baz": {"x": "2"}}, {"bar": 200, "baz": {"x": "OK"}},
                    {"bar": "six", "baz": {"x": "nooo"}}, {"other": 1}, "not an object"]"#,
            ),
        )],
    );
}

#[test]
fn iterate_on_objects_ignores_override() {
    let e = run(
        r#"translate { iterate_on => "foo" source => "bar" target => "baz" dictionary => { "one" => "1" } }"#,
        r#"{"foo": [{"bar": "one", "baz": "old"}]}"#,
    );
    expect(&e, &[("[foo][0][baz]", Some(r#""1""#))]);
}

// ---- bad data -------------------------------------------------------------------------------

#[test]
fn odd_source_values_never_lose_the_event() {
    for value in [r#"{"k": "v"}"#, "[]", "null", "true", "1.5"] {
        let e = run(
            r#"translate { source => "s" target => "t" dictionary => { "true" => "yes" "1.5" => "one and a half" } fallback => "?" }"#,
            &format!(r#"{{"s": {value}}}"#),
        );
        let want = match value {
            "true" => r#""yes""#,
            "1.5" => r#""one and a half""#,
            _ => r#""?""#,
        };
        expect(&e, &[("t", Some(want))]);
    }
}
