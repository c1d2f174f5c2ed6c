//! The `kv` filter, built from config text as a pipeline builds it. Most cases mirror
//! logstash-filter-kv's `spec/filters/kv_spec.rb`.

mod common;

use common::{event_with, filter_build_error as build_error, get, json, run_event, tags};

use sluice::event::{Event, Map, Text, Timestamp, Value};

/// Runs `filters` on an event whose `message` is `message`.
fn run(filters: &str, message: &str) -> Event {
    run_event(filters, event_with("message", Value::from(message)))
}

/// Runs `filters` on an event with the fields of the JSON object `fields`.
fn run_fields(filters: &str, fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => run_event(filters, Event::from_fields(map, Timestamp::from_secs(0))),
        other => panic!("not an object: {other:?}"),
    }
}

/// Asserts string fields; `None` means absent.
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, want) in expected {
        assert_eq!(
            get(e, path).map(|v| v.as_str().unwrap_or("<not a string>")),
            *want,
            "field {path} in {e:?}"
        );
    }
}

/// The non-standard fields, sorted.
fn parsed_keys(e: &Event) -> Vec<String> {
    let mut keys: Vec<String> = e
        .fields()
        .keys()
        .map(|k| k.to_string())
        .filter(|k| !["@timestamp", "@version", "message", "tags"].contains(&k.as_str()))
        .collect();
    keys.sort();
    keys
}

const QUOTED: &str = "hello=world foo=bar baz=fizz doublequoted=\"hello world\" singlequoted='hello world' bracketsone=(hello world) bracketstwo=[hello world] bracketsthree=<hello world>";

#[test]
fn defaults_parse_unquoted_quoted_and_bracketed_values() {
    let e = run("kv { }", QUOTED);
    expect(
        &e,
        &[
            ("hello", Some("world")),
            ("foo", Some("bar")),
            ("baz", Some("fizz")),
            ("doublequoted", Some("hello world")),
            ("singlequoted", Some("hello world")),
            ("bracketsone", Some("hello world")),
            ("bracketstwo", Some("hello world")),
            ("bracketsthree", Some("hello world")),
        ],
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn include_brackets_false_keeps_brackets_as_text() {
    let e = run(
        r#"kv { include_brackets => false }"#,
        "bracketsone=(hello world) bracketstwo=[hello world]",
    );
    expect(
        &e,
        &[
            ("bracketsone", Some("(hello")),
            ("bracketstwo", Some("[hello")),
            ("world)", None),
        ],
    );
}

#[test]
fn transforms_keys_and_values() {
    let text = "hello = world Foo =Bar BAZ= FIZZ doublequoteD = \"hellO worlD\" Singlequoted= 'Hello World' brAckets =(hello World)";
    let e = run(
        r#"kv { transform_key => "uppercase" transform_value => "lowercase" }"#,
        text,
    );
    expect(
        &e,
        &[
            ("HELLO", Some("world")),
            ("FOO", Some("bar")),
            ("BAZ", Some("fizz")),
            ("DOUBLEQUOTED", Some("hello world")),
            ("SINGLEQUOTED", Some("hello world")),
            ("BRACKETS", Some("hello world")),
        ],
    );
    let text = "Hello = World fOo =bar baz= FIZZ DOUBLEQUOTED = \"hellO worlD\" singlequoted= 'hEllo wOrld' brackets =(HELLO world)";
    let e = run(
        r#"kv { transform_key => "capitalize" transform_value => "capitalize" }"#,
        text,
    );
    expect(
        &e,
        &[
            ("Hello", Some("World")),
            ("Foo", Some("Bar")),
            ("Baz", Some("Fizz")),
            ("Doublequoted", Some("Hello world")),
            ("Singlequoted", Some("Hello world")),
            ("Brackets", Some("Hello world")),
        ],
    );
}

#[test]
fn lenient_whitespace_allows_spaces_around_the_separator() {
    let e = run(
        "kv { }",
        "hello = world foo =bar baz= fizz doublequoted = \"hello world\" singlequoted= 'hello world' brackets =(hello world)",
    );
    expect(
        &e,
        &[
            ("hello", Some("world")),
            ("foo", Some("bar")),
            ("baz", Some("fizz")),
            ("doublequoted", Some("hello world")),
            ("singlequoted", Some("hello world")),
            ("brackets", Some("hello world")),
        ],
    );
}

#[test]
fn strict_whitespace_takes_only_the_unambiguous_pairs() {
    let e = run(
        "kv { whitespace => strict }",
        "IN=eth0 OUT= MAC=0f:5f:5e:aa:d3:a2:21:ff:09:00:0f:e1:c8:17 SRC=192.168.0.1",
    );
    expect(
        &e,
        &[
            ("IN", Some("eth0")),
            ("OUT", None),
            ("MAC", Some("0f:5f:5e:aa:d3:a2:21:ff:09:00:0f:e1:c8:17")),
            ("SRC", Some("192.168.0.1")),
        ],
    );
    let e = run(
        "kv { whitespace => strict }",
        r#"hello=world goodbye=cruel\ world empty_quoted="" quoted="value1" empty_unquoted= unquoted=value2 empty_bracketed=[] bracketed=[value3] cake=delicious"#,
    );
    expect(
        &e,
        &[
            ("hello", Some("world")),
            ("goodbye", Some(r"cruel\ world")),
            ("empty_quoted", None),
            ("quoted", Some("value1")),
            ("empty_unquoted", None),
            ("unquoted", Some("value2")),
            ("empty_bracketed", None),
            ("bracketed", Some("value3")),
            ("cake", Some("delicious")),
        ],
    );
    let e = run(
        "kv { whitespace => strict }",
        "hello = world foo =bar baz= fizz whitespace=none doublequoted = \"hello world\" singlequoted= 'hello world' brackets =(hello world) strict=true",
    );
    assert_eq!(parsed_keys(&e), ["strict", "whitespace"]);
}

#[test]
fn escaped_separators_stay_in_keys_and_values() {
    let e = run(
        r#"kv { value_split => ":" }"#,
        r"IKE:=Quick\ Mode\ completion IKE\ IDs:=subnet:\ x.x.x.x\ (mask=\ 255.255.255.254)\ and\ host:\ y.y.y.y",
    );
    expect(
        &e,
        &[
            ("IKE", Some(r"=Quick\ Mode\ completion")),
            (
                r"IKE\ IDs",
                Some(r"=subnet:\ x.x.x.x\ (mask=\ 255.255.255.254)\ and\ host:\ y.y.y.y"),
            ),
        ],
    );
}

#[test]
fn value_split_and_field_split_are_character_sets() {
    let e = run(
        r#"kv { value_split => ":" }"#,
        "hello:=world foo:bar baz=:fizz doublequoted:\"hello world\" singlequoted:'hello world' brackets:(hello world)",
    );
    expect(
        &e,
        &[
            ("hello", Some("=world")),
            ("foo", Some("bar")),
            ("baz=", Some("fizz")),
            ("doublequoted", Some("hello world")),
            ("brackets", Some("hello world")),
        ],
    );
    let e = run(
        r#"kv { field_split => "?&" }"#,
        "?hello=world&foo=bar&baz=fizz&doublequoted=\"hello world\"&singlequoted='hello world'&ignoreme&foo12=bar12",
    );
    expect(
        &e,
        &[
            ("hello", Some("world")),
            ("foo", Some("bar")),
            ("baz", Some("fizz")),
            ("doublequoted", Some("hello world")),
            ("singlequoted", Some("hello world")),
            ("foo12", Some("bar12")),
            ("ignoreme", None),
        ],
    );
    let e = run(
        r#"kv { field_split => "|" }"#,
        "field1=test|field2=another test|field3=test3",
    );
    expect(
        &e,
        &[
            ("field1", Some("test")),
            ("field2", Some("another test")),
            ("field3", Some("test3")),
        ],
    );
}

#[test]
fn class_escapes_in_config_strings() {
    // Without config.support_escapes, "\t" reaches the filter as backslash-t, which the
    // character class reads as a tab, as Ruby does.
    let e = run(r#"kv { field_split => "\t" }"#, "a=1\tb=2 c\tc=3");
    expect(
        &e,
        &[("a", Some("1")), ("b", Some("2 c")), ("c", Some("3"))],
    );
    let e = run_fields(
        r#"kv { source => "m" field_split => "\r\n" value_split => " " trim_key => ":" }"#,
        r#"{"m": "AccountStatus: 4\r\nAdditionalInformation\r\n\r\nCode: \r\nHttpStatusCode: \r\nIsSuccess: True\r\nMessage: \r\n"}"#,
    );
    assert_eq!(parsed_keys(&e), ["AccountStatus", "IsSuccess", "m"]);
    expect(
        &e,
        &[("AccountStatus", Some("4")), ("IsSuccess", Some("True"))],
    );
}

#[test]
fn prefix_target_and_source() {
    let e = run(r#"kv { prefix => "__" }"#, "hello=world foo=bar");
    expect(
        &e,
        &[
            ("__hello", Some("world")),
            ("__foo", Some("bar")),
            ("hello", None),
        ],
    );
    let e = run(
        r#"kv { target => "kv" }"#,
        "hello=world foo=bar baz=fizz doublequoted=\"hello world\" singlequoted='hello world'",
    );
    assert_eq!(get(&e, "kv").and_then(Value::as_map).map(Map::len), Some(5));
    expect(
        &e,
        &[("[kv][doublequoted]", Some("hello world")), ("hello", None)],
    );
    let e = run(r#"kv { target => "kv" }"#, "hello:world:foo:bar:baz:fizz");
    expect(&e, &[("kv", None)]);
    let e = run_fields(
        r#"kv { source => "@data" }"#,
        r#"{"@data": "hello=world foo=bar"}"#,
    );
    expect(&e, &[("hello", Some("world")), ("foo", Some("bar"))]);
    let e = run_fields(
        r#"kv { source => "happy" target => "happy" }"#,
        r#"{"happy": "foo=bar baz=fizz"}"#,
    );
    expect(
        &e,
        &[
            ("[happy][foo]", Some("bar")),
            ("[happy][baz]", Some("fizz")),
        ],
    );
    let e = run(r#"kv { source => "non-existing" target => "kv" }"#, "a=b");
    expect(&e, &[("kv", None), ("non-existing", None)]);
    assert!(tags(&e).is_empty());
}

#[test]
fn a_dynamic_prefix_is_rendered_per_event() {
    let e = run_fields(
        r#"kv { source => "data" prefix => "%{kind}_" }"#,
        r#"{"data": "a=1", "kind": "web"}"#,
    );
    expect(&e, &[("web_a", Some("1"))]);
}

#[test]
fn an_array_source_is_parsed_element_by_element() {
    let e = run_fields(
        r#"kv { source => "data" }"#,
        r#"{"data": ["a=1 b=2", 5, "a=3"]}"#,
    );
    assert_eq!(get(&e, "a"), Some(&json(r#"["1", "3"]"#)));
    expect(&e, &[("b", Some("2"))]);
}

#[test]
fn include_and_exclude_keys() {
    let text =
        "hello=world foo=bar baz=fizz doublequoted=\"hello world\" singlequoted='hello world'";
    let e = run(r#"kv { include_keys => [ "foo", "singlequoted" ] }"#, text);
    assert_eq!(parsed_keys(&e), ["foo", "singlequoted"]);
    let e = run(r#"kv { exclude_keys => [ "foo", "singlequoted" ] }"#, text);
    assert_eq!(parsed_keys(&e), ["baz", "doublequoted", "hello"]);
    let e = run(
        r#"kv { include_keys => [ "foo", "singlequoted" ] prefix => "__" }"#,
        text,
    );
    assert_eq!(parsed_keys(&e), ["__foo", "__singlequoted"]);
    let e = run(
        r#"kv { exclude_keys => [ "foo", "singlequoted" ] prefix => "__" }"#,
        text,
    );
    assert_eq!(parsed_keys(&e), ["__baz", "__doublequoted", "__hello"]);
    let e = run(
        r#"kv { include_keys => [ "foo", "singlequoted" ] exclude_keys => [ "foo", "singlequoted" ] add_tag => ["t"] }"#,
        text,
    );
    assert!(parsed_keys(&e).is_empty());
    assert!(tags(&e).is_empty(), "nothing found is no success");
}

#[test]
fn include_and_exclude_keys_may_be_dynamic() {
    let e = run_fields(
        r#"kv { source => "data" include_keys => [ "%{key}" ] }"#,
        r#"{"data": "foo=bar baz=fizz", "key": "foo"}"#,
    );
    expect(&e, &[("foo", Some("bar")), ("baz", None)]);
    let e = run_fields(
        r#"kv { source => "data" exclude_keys => [ "%{key}" ] }"#,
        r#"{"data": "foo=bar baz=fizz", "key": "foo"}"#,
    );
    expect(&e, &[("foo", None), ("baz", Some("fizz"))]);
}

#[test]
fn default_keys_fill_in_what_is_missing() {
    let e = run(
        r#"kv { default_keys => [ "foo", "xxx", "goo", "yyy" ] }"#,
        "hello=world foo=bar",
    );
    expect(
        &e,
        &[
            ("hello", Some("world")),
            ("foo", Some("bar")),
            ("goo", Some("yyy")),
        ],
    );
    // Defaults alone are a success.
    let e = run(
        r#"kv { default_keys => { "d" => "v" } add_tag => ["kv"] }"#,
        "no pairs here",
    );
    expect(&e, &[("d", Some("v"))]);
    assert_eq!(tags(&e), ["kv"]);
}

#[test]
fn duplicate_keys_collect_values() {
    let e = run_fields(
        r#"kv { field_split => "&" source => "source" }"#,
        r#"{"source": "foo=bar&foo=yeah&foo=yeah"}"#,
    );
    assert_eq!(get(&e, "foo"), Some(&json(r#"["bar", "yeah", "yeah"]"#)));
    let e = run_fields(
        r#"kv { field_split => "&" source => "source" allow_duplicate_values => false }"#,
        r#"{"source": "foo=bar&foo=yeah&foo=yeah"}"#,
    );
    assert_eq!(get(&e, "foo"), Some(&json(r#"["bar", "yeah"]"#)));
    // Ruby's String#include?: a value inside the first one counts as a duplicate.
    let e = run(r#"kv { allow_duplicate_values => false }"#, "k=abc k=b k=x");
    assert_eq!(get(&e, "k"), Some(&json(r#"["abc", "x"]"#)));
}

#[test]
fn empty_values_when_allowed() {
    let e = run_fields(
        r#"kv { field_split => " " source => "source" allow_empty_values => true whitespace => strict }"#,
        r#"{"source": "present=one empty= emptyquoted='' present=two emptybracketed=[] endofinput="}"#,
    );
    assert_eq!(get(&e, "present"), Some(&json(r#"["one", "two"]"#)));
    expect(
        &e,
        &[
            ("empty", Some("")),
            ("emptyquoted", Some("")),
            ("emptybracketed", Some("")),
            ("endofinput", Some("")),
        ],
    );
    for splitters in [
        r#"field_split => "|" value_split => "=""#,
        r#"field_split_pattern => '\|' value_split_pattern => "=""#,
    ] {
        let e = run(&format!("kv {{ {splitters} }}"), "a=1|b=|c=3");
        expect(&e, &[("a", Some("1")), ("b", None), ("c", Some("3"))]);
    }
}

#[test]
fn trim_and_remove_characters() {
    let text = "key1= value1 with spaces | key2 with spaces =value2";
    let e = run(
        r#"kv { field_split => "|" value_split => "=" trim_value => " " trim_key => " " }"#,
        text,
    );
    expect(
        &e,
        &[
            ("key1", Some("value1 with spaces")),
            ("key2 with spaces", Some("value2")),
        ],
    );
    let e = run(
        r#"kv { field_split => "|" value_split => "=" trim_value => " " trim_key => " " }"#,
        "key1=  value1 with spaces    |  key2 with spaces  =value2",
    );
    expect(
        &e,
        &[
            ("key1", Some("value1 with spaces")),
            ("key2 with spaces", Some("value2")),
        ],
    );
    let e = run(
        r#"kv { field_split => "|" value_split => "=" remove_char_value => " " remove_char_key => " " }"#,
        text,
    );
    expect(
        &e,
        &[
            ("key1", Some("value1withspaces")),
            ("key2withspaces", Some("value2")),
        ],
    );
    let e = run(
        r#"kv { field_split => " " value_split => "=" trim_value => "<>," trim_key => "%+" }"#,
        "to=<foo@example.com>, orig_to=<bar@example.com>, %+relay=mail.example.com[private/dovecot-lmtp], delay=2.2, delays=1.9/0.01/0.01/0.21, dsn=2.0.0, status=sent (250 2.0.0 <foo@example.com> YERDHejiRSXFDSdfUXTV Saved) ",
    );
    expect(
        &e,
        &[
            ("to", Some("foo@example.com")),
            ("orig_to", Some("bar@example.com")),
            ("relay", Some("mail.example.com[private/dovecot-lmtp]")),
            ("delay", Some("2.2")),
            ("delays", Some("1.9/0.01/0.01/0.21")),
            ("dsn", Some("2.0.0")),
            ("status", Some("sent")),
        ],
    );
    let e = run(r#"kv { trim_value => "<>\[\]," }"#, "a=[x], b=<y>");
    expect(&e, &[("a", Some("x")), ("b", Some("y"))]);
}

#[test]
fn recursive_values_become_hashes() {
    let e = run(
        "kv { recursive => true }",
        r"IKE='Quick Mode completion' IKE\ IDs = (subnet= x.x.x.x mask= 255.255.255.254 and host=y.y.y.y)",
    );
    expect(
        &e,
        &[
            ("IKE", Some("Quick Mode completion")),
            (r"[IKE\ IDs][subnet]", Some("x.x.x.x")),
            (r"[IKE\ IDs][mask]", Some("255.255.255.254")),
            (r"[IKE\ IDs][host]", Some("y.y.y.y")),
        ],
    );
    let e = run("kv { recursive => true }", "foo=1 bar=(baz=2)");
    expect(&e, &[("foo", Some("1")), ("[bar][baz]", Some("2"))]);
    // Without a separator inside, the value stays a string.
    let e = run("kv { recursive => true }", "foo=bar");
    expect(&e, &[("foo", Some("bar"))]);
}

#[test]
fn split_patterns() {
    let all = [
        ("hello", "world"),
        ("foo", "bar"),
        ("baz", "fizz"),
        ("doublequoted", "hello world"),
        ("singlequoted", "hello world"),
        ("bracketsone", "hello world"),
        ("bracketstwo", "hello world"),
        ("bracketsthree", "hello world"),
    ];
    let cases = [
        (r#"field_split => " " value_split => ":""#, "hello:world foo:bar baz:fizz doublequoted:\"hello world\" singlequoted:'hello world' bracketsone:(hello world) bracketstwo:[hello world] bracketsthree:<hello world>"),
        (r#"field_split => " " value_split_pattern => "::""#, "hello::world foo::bar baz::fizz doublequoted::\"hello world\" singlequoted::'hello world' bracketsone::(hello world) bracketstwo::[hello world] bracketsthree::<hello world>"),
        (r#"field_split_pattern => "__" value_split_pattern => "::""#, "hello::world__foo::bar__baz::fizz__doublequoted::\"hello world\"__singlequoted::'hello world'__bracketsone::(hello world)__bracketstwo::[hello world]__bracketsthree::<hello world>"),
        (r#"field_split_pattern => "_+" value_split_pattern => ":+""#, "hello:world_foo::bar__baz:::fizz___doublequoted:::\"hello world\"____singlequoted:::::'hello world'____bracketsone:::(hello world)__bracketstwo:[hello world]_bracketsthree::::::<hello world>"),
        (r#"field_split_pattern => " " value_split_pattern => ":""#, "hello:world foo:bar baz:fizz doublequoted:\"hello world\" singlequoted:'hello world' bracketsone:(hello world) bracketstwo:[hello world] bracketsthree:<hello world>"),
        (r#"field_split_pattern => "\?\?" value_split_pattern => "\+\+""#, "hello++world??foo++bar??baz++fizz??doublequoted++\"hello world\"??singlequoted++'hello world'??bracketsone++(hello world)??bracketstwo++[hello world]??bracketsthree++<hello world>"),
    ];
    for (options, text) in cases {
        let e = run(&format!("kv {{ {options} }}"), text);
        for (k, v) in all {
            assert_eq!(
                get(&e, k).and_then(Value::as_str),
                Some(v),
                "{options}: {k}"
            );
        }
    }
}

#[test]
fn quoted_values_followed_by_more_text() {
    let e = run(
        r#"kv { field_split_pattern => "!!!!!" }"#,
        r#"foo=bar!!!!!baz="quoted stuff" and more unquoted!!!!!msg="fully-quoted with a part! of the separator"!!!!!blip="this!!!!!is it"!!!!!empty=""!!!!!non-empty="foo""#,
    );
    expect(
        &e,
        &[
            ("foo", Some("bar")),
            ("baz", Some(r#""quoted stuff" and more unquoted"#)),
            ("msg", Some("fully-quoted with a part! of the separator")),
            ("blip", Some("this!!!!!is it")),
            ("empty", None),
            ("non-empty", Some("foo")),
        ],
    );
    let e = run(
        "kv { }",
        r#"foo=bar baz="quoted stuff" and more unquoted msg="some fully-quoted message " empty="" non-empty="foo""#,
    );
    expect(
        &e,
        &[
            ("foo", Some("bar")),
            ("baz", Some("quoted stuff")),
            ("msg", Some("some fully-quoted message ")),
            ("empty", None),
            ("non-empty", Some("foo")),
        ],
    );
}

#[test]
fn patterns_with_lookahead() {
    let e = run(
        r#"kv { field_split_pattern => ";\s*(?=key.+?:)|;$" value_split_pattern => ":\s+" }"#,
        r#"key1: val1; key2: val2; key3:  https://site/?g={......"...;  CLR  rv:11.0)"..}; key4: val4;"#,
    );
    expect(
        &e,
        &[
            ("key1", Some("val1")),
            ("key2", Some("val2")),
            (
                "key3",
                Some(r#"https://site/?g={......"...;  CLR  rv:11.0)"..}"#),
            ),
            ("key4", Some("val4")),
        ],
    );
    let e = run_fields(
        r#"kv { source => headers field_split_pattern => "\\r\\n" value_split_pattern => ": " whitespace => strict target => headerskv }"#,
        r#"{"headers": "Host: foo.com\\r\\nUser-Agent: Qwerty/1.2.3 (www.qwerty.org)\\r\\nContent-Type: text/xml; charset=utf-8\\r\\nAccept: */*\\r\\nX-UUID: 0:15713435944943992\\r\\n\\r\\n"}"#,
    );
    expect(
        &e,
        &[
            ("[headerskv][Host]", Some("foo.com")),
            (
                "[headerskv][User-Agent]",
                Some("Qwerty/1.2.3 (www.qwerty.org)"),
            ),
            ("[headerskv][Content-Type]", Some("text/xml; charset=utf-8")),
            ("[headerskv][Accept]", Some("*/*")),
            ("[headerskv][X-UUID]", Some("0:15713435944943992")),
        ],
    );
}

#[test]
fn common_options_apply_only_on_success() {
    let e = run(
        r#"kv { add_tag => "hello" add_field => ["whoa", "fancypants"] }"#,
        "hello=world",
    );
    expect(
        &e,
        &[("hello", Some("world")), ("whoa", Some("fancypants"))],
    );
    assert_eq!(tags(&e), ["hello"]);
    let e = run(
        r#"kv { add_tag => "hello" add_field => ["whoa", "fancypants"] }"#,
        "this is not key value",
    );
    assert!(tags(&e).is_empty());
    expect(&e, &[("whoa", None)]);
}

#[test]
fn keys_are_field_references() {
    let e = run("kv { }", "[a][b]=1 c=2");
    expect(&e, &[("[a][b]", Some("1")), ("c", Some("2"))]);
    let e = run(r#"kv { add_tag => ["ok"] }"#, "x=1 a[b=2");
    assert_eq!(tags(&e), ["_kv_filter_error"]);
    let e = run(r#"kv { tag_on_failure => ["KV-ERROR"] }"#, "a[b=2");
    assert_eq!(tags(&e), ["KV-ERROR"]);
    let e = run(r#"kv { tag_on_failure => ["one", "two"] }"#, "a]=2");
    assert_eq!(tags(&e), ["one", "two"]);
    // Under a target, keys are plain hash keys.
    let e = run(r#"kv { target => "t" }"#, "a[b=2");
    let t = get(&e, "t").and_then(Value::as_map).unwrap();
    assert_eq!(t.get("a[b"), Some(&Value::from("2")));
}

#[test]
fn a_runaway_pattern_times_out() {
    // 200,000 pairs through a backtracking pattern take far longer than a millisecond.
    let text = "k=v;".repeat(200_000);
    let filter = r#"kv { field_split_pattern => ";" timeout_millis => 1 default_keys => { "default" => "key" } add_field => { "kv" => "success" } }"#;
    let e = run(filter, &text);
    assert_eq!(tags(&e), ["_kv_filter_timeout"]);
    expect(&e, &[("k", None), ("default", None), ("kv", None)]);
    let e = run(
        r#"kv { field_split_pattern => ";" timeout_millis => 1 tag_on_timeout => "BADKV" }"#,
        &text,
    );
    assert_eq!(tags(&e), ["BADKV"]);
    // A short text finishes in time; timeout_millis => 0 disables the check.
    let e = run(
        r#"kv { value_split_pattern => "(?:=+=+)+:" timeout_millis => 250 }"#,
        "foo==:bar baz==:bingo",
    );
    expect(&e, &[("foo", Some("bar")), ("baz", Some("bingo"))]);
    let shorter = "k=v;".repeat(2_000);
    let e = run(
        r#"kv { field_split_pattern => ";" timeout_millis => 0 }"#,
        &shorter,
    );
    assert!(tags(&e).is_empty());
    assert_eq!(
        get(&e, "k").and_then(Value::as_array).map(<[Value]>::len),
        Some(2_000)
    );
}

#[test]
fn long_values_share_the_source_buffer() {
    let long = "v".repeat(64);
    let message = Text::from_string(format!("a={long} b=2"));
    let e = run_event("kv { }", event_with("message", Value::Str(message.clone())));
    let a = get(&e, "a").and_then(Value::as_str).unwrap();
    assert_eq!(a, long);
    assert_eq!(a.as_ptr() as usize, message.as_ptr() as usize + 2);
}

#[test]
fn config_errors() {
    let err = build_error(r#"kv { value_split => "" }"#);
    assert!(
        err.contains("value_split must be a non-empty string"),
        "{err}"
    );
    let err = build_error(r#"kv { value_split_pattern => "" }"#);
    assert!(
        err.contains("value_split_pattern must be a non-empty string"),
        "{err}"
    );
    let err = build_error(r#"kv { field_split_pattern => "" }"#);
    assert!(
        err.contains("field_split_pattern must be a non-empty string"),
        "{err}"
    );
    let err = build_error(r#"kv { field_split_pattern => "(" }"#);
    assert!(err.contains("field_split_pattern"), "{err}");
    let err = build_error(r#"kv { transform_key => "titlecase" }"#);
    assert!(err.contains("transform_key"), "{err}");
    let err = build_error(r#"kv { whitespace => "loose" }"#);
    assert!(err.contains("whitespace"), "{err}");
    let err = build_error(r#"kv { feild_split => "," }"#);
    assert!(err.contains("did you mean \"field_split\""), "{err}");
    for ecs in ["disabled", "v1", "v8"] {
        let e = run(
            &format!(r#"kv {{ ecs_compatibility => "{ecs}" target => "t" }}"#),
            "a=1",
        );
        expect(&e, &[("[t][a]", Some("1"))]);
    }
}
