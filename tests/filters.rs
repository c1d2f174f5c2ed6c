//! Behaviour of the `mutate` and `drop` filters and of the options every filter shares, built
//! from config text as a pipeline would build them. Many cases mirror
//! logstash-filter-mutate's `spec/filters/mutate_spec.rb`.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use sluice::event::{Event, FieldPath, Timestamp, Value};

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

/// Asserts that each `(path, JSON)` pair holds in `e`; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, value) in expected {
        let want = value.map(json);
        assert_eq!(get(e, path), want.as_ref(), "field {path}");
    }
}

// ---- case changes -------------------------------------------------------------------------

#[test]
fn case_changes_touch_only_string_elements_of_arrays() {
    let e = run(
        r#"mutate {
            uppercase => ["up"]
            capitalize => ["cap"]
            lowercase => ["low"]
        }"#,
        r#"{"up": ["a", 2, "C"], "cap": ["ab", 2, "CDE"], "low": ["a", 2, "C"]}"#,
    );
    expect(
        &e,
        &[
            ("up", Some(r#"["A", 2, "C"]"#)),
            ("cap", Some(r#"["Ab", 2, "Cde"]"#)),
            ("low", Some(r#"["a", 2, "c"]"#)),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn case_changes_do_not_create_missing_fields() {
    for op in ["lowercase", "uppercase", "capitalize"] {
        let e = run(&format!("mutate {{ {op} => [\"fake_field\"] }}"), "{}");
        expect(&e, &[("fake_field", None)]);
    }
}

#[test]
fn case_changes_handle_multibyte_strings() {
    let e = run(
        r#"mutate {
            lowercase => ["lowerme"]
            uppercase => ["upperme"]
            capitalize => ["capitalizeme"]
        }"#,
        r#"{
            "lowerme": ["АБВГД\u0000MMM", "こにちわ", "XyZółć", "NÎcË GÛŸ"],
            "upperme": ["аБвгд\u0000mmm", "こにちわ", "xYzółć", "Nîcë gûÿ"],
            "capitalizeme": ["АБВГД\u0000mmm", "こにちわ", "xyzółć", "nÎcË gÛŸ"]
        }"#,
    );
    expect(
        &e,
        &[
            (
                "lowerme",
                Some(r#"["абвгд\u0000mmm", "こにちわ", "xyzółć", "nîcë gûÿ"]"#),
            ),
            (
                "upperme",
                Some(r#"["АБВГД\u0000MMM", "こにちわ", "XYZÓŁĆ", "NÎCË GÛŸ"]"#),
            ),
            (
                "capitalizeme",
                Some(r#"["Абвгд\u0000mmm", "こにちわ", "Xyzółć", "Nîcë gûÿ"]"#),
            ),
        ],
    );
}

#[test]
fn the_basics_from_the_logstash_spec() {
    let e = run(
        r#"mutate {
            lowercase => ["lowerme", "Lowerme", "lowerMe"]
            uppercase => ["upperme", "Upperme", "upperMe"]
            capitalize => ["capitalizeme", "Capitalizeme", "capitalizeMe"]
            convert => [ "intme", "integer", "floatme", "float" ]
            rename => [ "rename1", "rename2" ]
            replace => [ "replaceme", "hello world" ]
            replace => [ "newfield", "newnew" ]
            update => [ "nosuchfield", "weee" ]
            update => [ "updateme", "updated" ]
        }"#,
        r#"{
            "lowerme": "example", "upperme": "EXAMPLE", "capitalizeme": "Example",
            "Lowerme": "ExAmPlE", "Upperme": "ExAmPlE", "Capitalizeme": "ExAmPlE",
            "lowerMe": ["ExAmPlE", "example"], "upperMe": ["ExAmPlE", "EXAMPLE"],
            "capitalizeMe": ["ExAmPlE", "Example"],
            "intme": ["1234", "7890.4", "7.9"], "floatme": ["1234.455"],
            "rename1": ["hello world"], "updateme": ["who cares"], "replaceme": ["who cares"]
        }"#,
    );
    expect(
        &e,
        &[
            ("lowerme", Some(r#""example""#)),
            ("upperme", Some(r#""EXAMPLE""#)),
            ("capitalizeme", Some(r#""Example""#)),
            ("Lowerme", Some(r#""example""#)),
            ("Upperme", Some(r#""EXAMPLE""#)),
            ("Capitalizeme", Some(r#""Example""#)),
            ("lowerMe", Some(r#"["example", "example"]"#)),
            ("upperMe", Some(r#"["EXAMPLE", "EXAMPLE"]"#)),
            ("capitalizeMe", Some(r#"["Example", "Example"]"#)),
            ("intme", Some("[1234, 7890, 7]")),
            ("floatme", Some("[1234.455]")),
            ("rename1", None),
            ("rename2", Some(r#"["hello world"]"#)),
            ("replaceme", Some(r#""hello world""#)),
            ("newfield", Some(r#""newnew""#)),
            ("nosuchfield", None),
            ("updateme", Some(r#""updated""#)),
        ],
    );
}

// ---- strip, split, join ---------------------------------------------------------------------

#[test]
fn strip_trims_both_ends() {
    let e = run(
        r#"mutate { strip => ["path", "foo", "bar", "arr"] }"#,
        r#"{"path": " /store.php ", "foo": " /bar.php ", "bar": " foo", "arr": ["\t a \n", "b"]}"#,
    );
    expect(
        &e,
        &[
            ("path", Some(r#""/store.php""#)),
            ("foo", Some(r#""/bar.php""#)),
            ("bar", Some(r#""foo""#)),
            ("arr", Some(r#"["a", "b"]"#)),
        ],
    );
}

#[test]
fn strip_of_an_array_holding_a_non_string_is_a_failure() {
    let e = run(
        r#"mutate { strip => ["arr"] add_tag => ["stripped"] }"#,
        r#"{"arr": [" a ", 1]}"#,
    );
    assert_eq!(tags(&e), ["_mutate_error"]);
    expect(&e, &[("arr", Some(r#"[" a ", 1]"#))]);
}

#[test]
fn split_makes_an_array_and_drops_trailing_empty_parts() {
    let config = r#"mutate { split => { "field" => "," } }"#;
    for (input, output) in [
        (r#""foo,bar,baz""#, r#"["foo", "bar", "baz"]"#),
        (r#""foo""#, r#"["foo"]"#),
        (r#""foo,""#, r#"["foo"]"#),
        (r#"",foo""#, r#"["", "foo"]"#),
        // Not strings: left alone.
        ("null", "null"),
        (r#"["foo", "bar"]"#, r#"["foo", "bar"]"#),
        (r#"{"foo": "bar,baz"}"#, r#"{"foo": "bar,baz"}"#),
    ] {
        let e = run(config, &format!(r#"{{"field": {input}}}"#));
        expect(&e, &[("field", Some(output))]);
    }
}

#[test]
fn split_on_a_space_splits_on_whitespace_runs() {
    let e = run(
        r#"mutate { split => { "f" => " " } }"#,
        r#"{"f": "  a  b\tc "}"#,
    );
    expect(&e, &[("f", Some(r#"["a", "b", "c"]"#))]);
}

#[test]
fn join_turns_an_array_into_a_string() {
    let e = run(
        r#"mutate { join => { "list" => ", " "nested" => "-" "scalar" => "," } }"#,
        r#"{"list": ["a", 1, 2.5, true, null], "nested": ["a", ["b", "c"]], "scalar": "x"}"#,
    );
    expect(
        &e,
        &[
            ("list", Some(r#""a, 1, 2.5, true, ""#)),
            ("nested", Some(r#""a-b-c""#)),
            ("scalar", Some(r#""x""#)),
        ],
    );
}

// ---- copy, merge, coerce, rename, update, replace -------------------------------------------

#[test]
fn copy_makes_an_independent_deep_copy() {
    let config = r#"mutate { copy => { "field" => "target" } }"#;
    for value in [r#""foobar""#, r#"["foo", "bar"]"#, r#"{"foo": "bar"}"#] {
        let mut e = run(config, &format!(r#"{{"field": {value}}}"#));
        expect(&e, &[("target", Some(value))]);
        e.insert(&FieldPath::parse("[field]").unwrap(), Value::Null);
        expect(&e, &[("target", Some(value))]);
    }
    let mut e = run(config, r#"{"field": {"foo": "bar"}}"#);
    e.insert(&FieldPath::parse("[field][foo]").unwrap(), "baz".into());
    expect(&e, &[("[target][foo]", Some(r#""bar""#))]);
    // A missing or null source copies nothing.
    let e = run(config, r#"{"field": null}"#);
    expect(&e, &[("target", None)]);
}

#[test]
fn merge_follows_logstash_array_rules() {
    let config = r#"mutate { merge => [ "list", "foo" ] }"#;
    for (fields, list) in [
        (r#"{"foo": "bar"}"#, r#"["bar"]"#),
        (r#"{"foo": "bar", "list": []}"#, r#"["bar"]"#),
        (r#"{"foo": "bar", "list": ["baz"]}"#, r#"["baz", "bar"]"#),
        (r#"{"foo": ["bar"], "list": ["baz"]}"#, r#"["baz", "bar"]"#),
        (r#"{"foo": [], "list": ["baz"]}"#, r#"["baz"]"#),
        (r#"{"foo": ["bar"], "list": "baz"}"#, r#"["baz", "bar"]"#),
        (r#"{"foo": "bar", "list": "baz"}"#, r#"["baz", "bar"]"#),
    ] {
        let e = run(config, fields);
        expect(&e, &[("list", Some(list))]);
        let foo = json(fields).as_map().unwrap().get("foo").cloned();
        assert_eq!(e.get_field("foo"), foo.as_ref(), "source unchanged");
    }
}

#[test]
fn merge_of_hashes_and_mismatches() {
    let e = run(
        r#"mutate { merge => { "dst" => "src" "h" => "s" } }"#,
        r#"{"dst": {"a": 1, "b": 2}, "src": {"b": 3, "c": 4}, "h": {"a": 1}, "s": "x"}"#,
    );
    expect(
        &e,
        &[
            ("dst", Some(r#"{"a": 1, "b": 3, "c": 4}"#)),
            // A hash and a string cannot merge: left alone, not a failure.
            ("h", Some(r#"{"a": 1}"#)),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn coerce_sets_defaults_for_null_fields_only() {
    let e = run(
        r#"mutate {
            coerce => { "field1" => "Hello" "field2" => "Bye" "field3" => 5 "field4" => false
                        "absent" => "x" }
        }"#,
        r#"{"field1": null, "field2": null, "field3": null, "field4": true}"#,
    );
    expect(
        &e,
        &[
            ("field1", Some(r#""Hello""#)),
            ("field2", Some(r#""Bye""#)),
            ("field3", Some(r#""5""#)),
            ("field4", Some("true")),
            ("absent", None),
        ],
    );
}

#[test]
fn rename_moves_values_including_nested_and_dynamic_names() {
    let e = run(
        r#"mutate { rename => { "nosuchfield" => "hello" } }"#,
        r#"{"message": "whatever"}"#,
    );
    expect(&e, &[("nosuchfield", None), ("hello", None)]);

    let e = run(
        r#"mutate { rename => { "field_%{x}" => "destination" } }"#,
        r#"{"field_one": "value", "x": "one"}"#,
    );
    expect(
        &e,
        &[("field_one", None), ("destination", Some(r#""value""#))],
    );

    let e = run(
        r#"mutate { rename => { "origin" => "field_%{x}" } }"#,
        r#"{"origin": "value", "x": "one"}"#,
    );
    expect(&e, &[("origin", None), ("field_one", Some(r#""value""#))]);

    let e = run(
        r#"mutate { rename => { "[a][b]" => "[c][d]" "top" => "[x][y]" } }"#,
        r#"{"a": {"b": 1, "keep": 2}, "top": "t"}"#,
    );
    expect(
        &e,
        &[
            ("a", Some(r#"{"keep": 2}"#)),
            ("[c][d]", Some("1")),
            ("top", None),
            ("[x][y]", Some(r#""t""#)),
        ],
    );
}

#[test]
fn update_only_touches_existing_fields_and_replace_always_sets() {
    let e = run(
        r#"mutate {
            update => { "present" => "%{message}!" "absent" => "no" "[n][x]" => "nested" }
            replace => { "other" => "%{message}?" "[n][y]" => "%{present}" }
        }"#,
        r#"{"message": "hi", "present": 1, "n": {"x": 0}}"#,
    );
    expect(
        &e,
        &[
            ("present", Some(r#""hi!""#)),
            ("absent", None),
            ("[n][x]", Some(r#""nested""#)),
            ("other", Some(r#""hi?""#)),
            // `replace` runs after `update`, so it sees the updated value.
            ("[n][y]", Some(r#""hi!""#)),
        ],
    );
}

// ---- convert ------------------------------------------------------------------------------

#[test]
fn convert_to_string() {
    let config = r#"mutate { convert => { "a" => "string" } }"#;
    for (input, output) in [
        ("1234", r#""1234""#),
        ("123.0", r#""123.0""#),
        ("123.45", r#""123.45""#),
        ("1.6777217E7", r#""16777217.0""#),
        ("2.147483648E9", r#""2147483648.0""#),
        ("9007199254740993", r#""9007199254740993""#),
        (r#""0x7b""#, r#""0x7b""#),
        (r#""1.230000e+02""#, r#""1.230000e+02""#),
        ("true", r#""true""#),
        ("false", r#""false""#),
        (r#"[1, null, 2.5]"#, r#"["1", null, "2.5"]"#),
        (r#"{"k": 1}"#, r#"{"k": 1}"#),
    ] {
        let e = run(config, &format!(r#"{{"a": {input}}}"#));
        expect(&e, &[("a", Some(output))]);
    }
}

#[test]
fn convert_to_integer() {
    let config = r#"mutate { convert => { "a" => "integer" } }"#;
    for (input, output) in [
        ("123", "123"),
        ("123.0", "123"),
        ("123.45", "123"),
        ("-123.45", "-123"),
        (r#""123""#, "123"),
        (r#""0x7b""#, "123"),
        (r#""123.0""#, "123"),
        (r#""1.230000e+02""#, "123"),
        (r#""123.45""#, "123"),
        (r#""-1.234500e+02""#, "-123"),
        (r#""0x1.edcdp6""#, "123"),
        (r#""-0x1.edcdp6""#, "-123"),
        ("1.6777217E7", "16777217"),
        (r#""2147483648.0""#, "2147483648"),
        (r#""9007199254740993""#, "9007199254740993"),
        (r#""9.007199254740993e+15""#, "9007199254740993"),
        ("true", "1"),
        ("false", "0"),
        (r#"[false, true, "0", "1", "2"]"#, "[0, 1, 0, 1, 2]"),
        (
            r#"["1,000", "1,234,567.8", "123.4"]"#,
            "[1000, 1234567, 123]",
        ),
        ("null", "null"),
    ] {
        let e = run(config, &format!(r#"{{"a": {input}}}"#));
        expect(&e, &[("a", Some(output))]);
        assert!(tags(&e).is_empty(), "{input}");
    }
}

#[test]
fn convert_works_on_nested_fields() {
    let e = run(
        r#"mutate { convert => [ "[foo][bar]", "integer" ] }"#,
        r#"{"foo": {"bar": "1000"}}"#,
    );
    expect(&e, &[("[foo][bar]", Some("1000"))]);
}

#[test]
fn convert_to_float() {
    let config = r#"mutate { convert => { "a" => "float" } }"#;
    for (input, output) in [
        (r#""3141.5926""#, "3141.5926"),
        (r#""3,141.5926""#, "3141.5926"),
        (r#""3,141""#, "3141.0"),
        (r#""3141""#, "3141.0"),
        ("3.1415926", "3.1415926"),
        ("3", "3.0"),
        ("true", "1.0"),
        ("false", "0.0"),
        ("null", "null"),
        (r#""0x7b""#, "123.0"),
        (r#""1.230000e+02""#, "123.0"),
        (r#""0x1.edcdp6""#, "123.4501953125"),
        (r#""-0x1.edcdp6""#, "-123.4501953125"),
        (r#""9007199254740993""#, "9007199254740992.0"),
        (
            r#"["1,000", "1,234,567.8", "123.4"]"#,
            "[1000.0, 1234567.8, 123.4]",
        ),
    ] {
        let e = run(config, &format!(r#"{{"a": {input}}}"#));
        expect(&e, &[("a", Some(output))]);
    }
    // Too large for an integer; compared with Rust's exact parse rather than a JSON literal.
    let e = run(
        config,
        r#"{"a": "680564693277057720000000000000000000000"}"#,
    );
    assert_eq!(get(&e, "a"), Some(&Value::Float(6.805646932770577e38)));
}

#[test]
fn convert_eu_formats() {
    let config = r#"mutate { convert => { "f" => "float_eu" "i" => "integer_eu" } }"#;
    for (input, float, int) in [
        (r#""3141,5926""#, "3141.5926", "3141"),
        (r#""3.141,5926""#, "3141.5926", "3141"),
        (r#""3.141""#, "3141.0", "3141"),
        (r#""3141""#, "3141.0", "3141"),
        ("3.1415926", "3.1415926", "3"),
        ("true", "1.0", "1"),
        (r#""1.234.567,8""#, "1234567.8", "1234567"),
        (r#""123,4""#, "123.4", "123"),
    ] {
        let e = run(config, &format!(r#"{{"f": {input}, "i": {input}}}"#));
        expect(&e, &[("f", Some(float)), ("i", Some(int))]);
    }
}

#[test]
fn convert_to_boolean() {
    let e = run(
        r#"mutate { convert => {
            "t1" => "boolean" "t2" => "boolean" "t3" => "boolean" "t4" => "boolean"
            "t5" => "boolean" "f1" => "boolean" "f2" => "boolean" "f3" => "boolean"
            "f4" => "boolean" "f5" => "boolean" "wrong" => "boolean" "i0" => "boolean"
            "i1" => "boolean" "ineg" => "boolean" "i2" => "boolean" "x1" => "boolean"
            "x0" => "boolean" "xneg" => "boolean" "xwrong" => "boolean" "xwrong2" => "boolean"
            "array" => "boolean" "hash" => "boolean" "empty" => "boolean"
        } }"#,
        r#"{
            "t1": "true", "t2": "True", "t3": "1", "t4": "yes", "t5": "Y",
            "f1": "false", "f2": "False", "f3": "0", "f4": "no", "f5": "N",
            "wrong": "none of the above", "i0": 0, "i1": 1, "ineg": -1, "i2": 2,
            "x1": 1.0, "x0": 0.0, "xneg": -1.0, "xwrong": 1.0123, "xwrong2": 0.01,
            "array": ["1", "0", 0, 1, 2], "hash": {"a": 0}, "empty": ""
        }"#,
    );
    expect(
        &e,
        &[
            ("t1", Some("true")),
            ("t2", Some("true")),
            ("t3", Some("true")),
            ("t4", Some("true")),
            ("t5", Some("true")),
            ("f1", Some("false")),
            ("f2", Some("false")),
            ("f3", Some("false")),
            ("f4", Some("false")),
            ("f5", Some("false")),
            ("wrong", Some(r#""none of the above""#)),
            ("i0", Some("false")),
            ("i1", Some("true")),
            ("ineg", Some("-1")),
            ("i2", Some("2")),
            ("x1", Some("true")),
            ("x0", Some("false")),
            ("xneg", Some("-1.0")),
            ("xwrong", Some("1.0123")),
            ("xwrong2", Some("0.01")),
            ("array", Some("[true, false, false, true, 2]")),
            ("hash", Some(r#"{"a": 0}"#)),
            ("empty", Some("false")),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn a_failed_conversion_tags_the_event_and_stops_the_rest() {
    let config = r#"mutate {
        convert => { "a" => "integer" }
        uppercase => ["b"]
        add_tag => ["converted"]
    }"#;
    for bad in [
        r#""abc""#,
        r#""12abc""#,
        r#""9223372036854775808""#,
        r#"["1", "x"]"#,
    ] {
        let e = run(config, &format!(r#"{{"a": {bad}, "b": "low"}}"#));
        assert_eq!(tags(&e), ["_mutate_error"], "{bad}");
        expect(&e, &[("a", Some(bad)), ("b", Some(r#""low""#))]);
    }
    let e = run(
        r#"mutate { convert => { "a" => "float" } tag_on_failure => "my_custom_tag" }"#,
        r#"{"a": "not a number"}"#,
    );
    assert_eq!(tags(&e), ["my_custom_tag"]);
}

// ---- gsub ---------------------------------------------------------------------------------

#[test]
fn gsub_on_strings_arrays_and_several_fields() {
    let e = run(
        r#"mutate {
            gsub => [ "unicorns", "but extinct", "and common",
                      "list", "extinct", "common",
                      "colors", "red", "blue",
                      "shapes", "square", "circle",
                      "digits", "\d$", "blue",
                      "number", "1", "2" ]
        }"#,
        r#"{
            "unicorns": "Magnificient, but extinct, animals",
            "list": ["Magnificient extinct animals", "Other extinct ideas", 3],
            "colors": "One red car", "shapes": "Four red squares", "digits": "red3",
            "number": 1
        }"#,
    );
    expect(
        &e,
        &[
            ("unicorns", Some(r#""Magnificient, and common, animals""#)),
            (
                "list",
                Some(r#"["Magnificient common animals", "Other common ideas", 3]"#),
            ),
            ("colors", Some(r#""One blue car""#)),
            ("shapes", Some(r#""Four red circles""#)),
            ("digits", Some(r#""redblue""#)),
            ("number", Some("1")),
        ],
    );
}

#[test]
fn gsub_with_dynamic_patterns_and_replacements() {
    let e = run(
        r#"mutate {
            gsub => [ "unicorns", "of type %{unicorn_type}", "green",
                      "unicorns2", "of type %{unicorn_color}", "%{unicorn_color} and green",
                      "unicorns_array", "of type %{color}", "blue and green" ]
        }"#,
        r#"{
            "unicorns": "Unicorns of type blue are common", "unicorn_type": "blue",
            "unicorns2": "Unicorns of type blue are common", "unicorn_color": "blue",
            "unicorns_array": ["Unicorns of type blue are found in Alaska",
                               "Unicorns of type blue are extinct"],
            "color": "blue"
        }"#,
    );
    expect(
        &e,
        &[
            ("unicorns", Some(r#""Unicorns green are common""#)),
            ("unicorns2", Some(r#""Unicorns blue and green are common""#)),
            (
                "unicorns_array",
                Some(
                    r#"["Unicorns blue and green are found in Alaska",
                        "Unicorns blue and green are extinct"]"#,
                ),
            ),
        ],
    );
}

#[test]
fn gsub_replacements_use_ruby_back_references() {
    let e = run(
        r#"mutate {
            gsub => [ "date", "(\d+)/(\d+)/(\d+)", "\3-\1-\2",
                      "named", "(?<word>[a-z]+)=", "\k<word>:",
                      "lines", "^", "> " ]
        }"#,
        r#"{"date": "12/31/2024", "named": "a=1 b=2", "lines": "one\ntwo"}"#,
    );
    expect(
        &e,
        &[
            ("date", Some(r#""2024-12-31""#)),
            ("named", Some(r#""a:1 b:2""#)),
            // `^` matches at every line start, as in Ruby.
            ("lines", Some(r#""> one\n> two""#)),
        ],
    );
}

#[test]
fn gsub_with_a_pattern_that_renders_to_a_bad_regex_is_a_failure() {
    let e = run(
        r#"mutate { gsub => [ "msg", "%{pat}", "x" ] }"#,
        r#"{"msg": "abc", "pat": "("}"#,
    );
    assert_eq!(tags(&e), ["_mutate_error"]);
    expect(&e, &[("msg", Some(r#""abc""#))]);
}

// ---- order, validation ----------------------------------------------------------------------

#[test]
fn operations_run_in_logstash_order_not_config_order() {
    let e = run(
        r#"mutate {
            copy => { "joined" => "copied" }
            join => { "joined" => "-" }
            split => { "joined" => "," }
            lowercase => ["joined"]
            convert => { "n" => "integer" }
            replace => { "n" => "42" }
            update => { "renamed" => "updated" }
            rename => { "orig" => "renamed" }
        }"#,
        r#"{"joined": "A,B", "orig": "x", "n": "1"}"#,
    );
    expect(
        &e,
        &[
            ("joined", Some(r#""a-b""#)),
            ("copied", Some(r#""a-b""#)),
            ("n", Some("42")),
            ("orig", None),
            ("renamed", Some(r#""updated""#)),
        ],
    );
}

#[test]
fn invalid_options_are_reported_at_their_position() {
    let out = build_error(r#"mutate { convert => [ "message", "int" ] }"#);
    assert!(out.contains("test.conf:2:"), "{out}");
    assert!(out.contains("int"), "{out}");
    assert!(out.contains("did you mean \"integer\""), "{out}");

    let out = build_error(r#"mutate { gsub => [ "message", "toreplace" ] }"#);
    assert!(out.contains("gsub"), "{out}");
    assert!(out.contains("triples"), "{out}");

    let out = build_error(r#"mutate { gsub => [ "message", "(", "x" ] }"#);
    assert!(out.contains("not a valid regex"), "{out}");

    let out = build_error(r#"mutate { uppercse => ["a"] }"#);
    assert!(out.contains("unknown option \"uppercse\""), "{out}");
    assert!(out.contains("did you mean \"uppercase\""), "{out}");

    let out = build_error(r#"mutate { rename => { "[a" => "b" } }"#);
    assert!(out.contains("invalid field reference"), "{out}");
}

// ---- common options -------------------------------------------------------------------------

#[test]
fn add_field_sets_new_fields_and_grows_existing_ones_into_arrays() {
    let e = run(
        r#"mutate {
            add_field => {
                "new" => "v"
                "existing" => "second"
                "list" => "c"
                "multi" => ["x", "y"]
                "from_%{type}" => "%{message}!"
                "[nested][f]" => "n"
            }
        }"#,
        r#"{"message": "hi", "type": "web", "existing": "first", "list": ["a", "b"]}"#,
    );
    expect(
        &e,
        &[
            ("new", Some(r#""v""#)),
            ("existing", Some(r#"["first", "second"]"#)),
            ("list", Some(r#"["a", "b", "c"]"#)),
            ("multi", Some(r#"["x", "y"]"#)),
            ("from_web", Some(r#""hi!""#)),
            ("[nested][f]", Some(r#""n""#)),
        ],
    );
}

#[test]
fn remove_field_and_tags_with_sprintf() {
    let e = run(
        r#"mutate {
            remove_field => ["gone", "%{kind}_raw", "[nested][inner]", "[@metadata][secret]"]
            add_tag => ["t_%{kind}", "plain"]
            remove_tag => ["old_%{kind}"]
        }"#,
        r#"{"gone": 1, "kind": "x", "x_raw": 2, "nested": {"inner": 3, "keep": 4},
            "tags": ["old_x", "other"]}"#,
    );
    expect(
        &e,
        &[
            ("gone", None),
            ("x_raw", None),
            ("kind", Some(r#""x""#)),
            ("nested", Some(r#"{"keep": 4}"#)),
        ],
    );
    assert_eq!(tags(&e), ["other", "t_x", "plain"]);
}

#[test]
fn common_options_apply_in_logstash_order() {
    // add_field, then remove_field, then add_tag, then remove_tag.
    let e = run(
        r#"mutate {
            remove_tag => ["t"]
            add_tag => ["t", "u"]
            remove_field => ["f"]
            add_field => { "f" => "1" "g" => "2" }
        }"#,
        "{}",
    );
    expect(&e, &[("f", None), ("g", Some(r#""2""#))]);
    assert_eq!(tags(&e), ["u"]);
}

#[test]
fn common_options_accept_id_enable_metric_and_periodic_flush() {
    let e = run(
        r#"mutate { id => "m1" enable_metric => false periodic_flush => true add_tag => ["ok"] }"#,
        "{}",
    );
    assert_eq!(tags(&e), ["ok"]);
}

#[test]
fn common_options_with_a_bad_field_reference_do_not_build() {
    let out = build_error(r#"mutate { add_field => { "[[a" => "x" } }"#);
    assert!(out.contains("add_field"), "{out}");
    assert!(out.contains("invalid field reference"), "{out}");
}

// ---- drop ---------------------------------------------------------------------------------

#[test]
fn drop_removes_events_and_conditions_choose_which() {
    let g = graph(r#"if [level] == "debug" { drop {} } mutate { add_tag => ["kept"] }"#);
    let mut batch: Vec<Event> = ["debug", "info", "debug", "warn"]
        .iter()
        .map(|l| event(&format!(r#"{{"level": "{l}"}}"#)))
        .collect();
    g.process(&mut batch);
    let levels: Vec<&str> = batch
        .iter()
        .map(|e| e.get_field("level").and_then(Value::as_str).unwrap())
        .collect();
    assert_eq!(levels, ["info", "warn"]);
    assert!(batch.iter().all(|e| e.has_tag("kept")));
}

#[test]
fn drop_percentage() {
    let sample = |percentage: u32| {
        let g = graph(&format!(
            "drop {{ percentage => {percentage} add_tag => [\"x\"] }}"
        ));
        let mut batch: Vec<Event> = (0..4000).map(|_| event("{}")).collect();
        g.process(&mut batch);
        // `drop` never succeeds, so common options never apply to the survivors.
        assert!(batch.iter().all(|e| !e.has_tag("x")));
        batch.len()
    };
    assert_eq!(sample(0), 4000);
    assert_eq!(sample(100), 0);
    let kept = sample(50);
    assert!((1600..2400).contains(&kept), "kept {kept} of 4000");
}

#[test]
fn drop_rejects_bad_options() {
    let out = build_error("drop { percentage => 150 }");
    assert!(out.contains("between 0 and 100"), "{out}");
    let out = build_error("drop { percent => 10 }");
    assert!(out.contains("did you mean \"percentage\""), "{out}");
}
