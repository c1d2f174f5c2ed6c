//! Codecs both ways, built through the registry from options as a config would give them.

use std::sync::Arc;

use bytes::Bytes;
use sluice::codecs::Codec;
use sluice::config::ast::{self, Attribute};
use sluice::config::{Diagnostics, PluginArgs, Span, Spanned};
use sluice::event::{json, Event, FieldPath, Map, Text, Timestamp, Value};
use sluice::registry;

/// 2026-11-21T05:24:00Z.
const T0: Timestamp = Timestamp::from_secs(1_795_238_640);

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn string(s: &str) -> ast::Value {
    ast::Value::String(s.to_string())
}

fn try_codec(name: &str, options: &[(&str, ast::Value)]) -> Result<Arc<dyn Codec>, Diagnostics> {
    let plugin = ast::Plugin {
        name: spanned(name.to_string()),
        attributes: options
            .iter()
            .map(|(k, v)| Attribute {
                name: spanned(k.to_string()),
                value: spanned(v.clone()),
            })
            .collect(),
        span: Span::default(),
    };
    let env = |_: &str| None;
    let args = PluginArgs::new(&plugin, &env);
    (registry::codec(name).expect("registered codec").build)(&args)
}

fn codec(name: &str, options: &[(&str, ast::Value)]) -> Arc<dyn Codec> {
    try_codec(name, options).unwrap_or_else(|d| panic!("{name}: {d:?}"))
}

fn decode(codec: &dyn Codec, chunks: &[&[u8]]) -> Vec<Event> {
    let mut decoder = codec.decoder();
    let mut events = Vec::new();
    for chunk in chunks {
        decoder.decode(Bytes::copy_from_slice(chunk), T0, &mut events);
    }
    decoder.flush(T0, &mut events);
    events
}

fn messages(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.message().unwrap_or("<none>"))
        .collect()
}

fn encode(codec: &dyn Codec, events: &[Event]) -> String {
    let mut buf = Vec::new();
    for event in events {
        codec.encode(event, &mut buf);
    }
    String::from_utf8(buf).expect("codecs write UTF-8")
}

fn event(message: &str) -> Event {
    Event::from_message(Text::new(message), T0)
}

#[test]
fn line_joins_partial_lines_across_chunks_and_flushes_the_last() {
    let line = codec("line", &[]);
    let events = decode(&*line, &[b"first li", b"ne\nsecond\n\nthi", b"rd"]);
    assert_eq!(messages(&events), ["first line", "second", "", "third"]);
    assert!(events.iter().all(|e| e.timestamp() == Some(T0)));
}

#[test]
fn line_keeps_the_carriage_return_of_crlf_as_logstash_does() {
    let line = codec("line", &[]);
    let events = decode(&*line, &[b"a\r\nb\r", b"\n"]);
    assert_eq!(messages(&events), ["a\r", "b\r"]);
    let crlf = codec("line", &[("delimiter", string("\r\n"))]);
    let events = decode(&*crlf, &[b"a\r", b"\nb\r\n"]);
    assert_eq!(messages(&events), ["a", "b"]);
}

#[test]
fn line_escapes_invalid_utf8_like_logstash() {
    let line = codec("line", &[]);
    let events = decode(&*line, &[b"ok \xc3\xa9\nbad \xff \"q\"\n"]);
    assert_eq!(messages(&events), ["ok é", "bad \\xFF \\\"q\\\""]);
}

#[test]
fn line_encodes_format_or_timestamp_host_message() {
    let mut e = event("hello");
    e.set_field(Text::new("host"), Value::from("web-1"));
    let plain = codec("line", &[]);
    assert_eq!(
        encode(&*plain, &[e.clone()]),
        "2026-11-21T05:24:00.000Z web-1 hello\n"
    );
    let formatted = codec(
        "line",
        &[
            ("format", string("%{host}: %{message}")),
            ("delimiter", string("|")),
        ],
    );
    assert_eq!(
        encode(&*formatted, &[e.clone(), e]),
        "web-1: hello|web-1: hello|"
    );
}

#[test]
fn plain_is_one_event_per_chunk_and_encodes_without_delimiter() {
    let plain = codec("plain", &[]);
    let events = decode(&*plain, &[b"a\nb", b"c"]);
    assert_eq!(messages(&events), ["a\nb", "c"]);
    // Logstash's Event#to_s writes a placeholder for a missing host.
    assert_eq!(
        encode(&*plain, &[event("x")]),
        "2026-11-21T05:24:00.000Z %{host} x"
    );
    let formatted = codec("plain", &[("format", string("<%{message}>"))]);
    assert_eq!(encode(&*formatted, &[event("x"), event("y")]), "<x><y>");
}

#[test]
fn json_decodes_objects_arrays_and_keeps_bad_input_as_a_tagged_message() {
    let json = codec("json", &[]);
    let events = decode(
        &*json,
        &[br#"{"a":1,"b":{"c":"d"},"@timestamp":"2020-01-02T03:04:05.678Z"}"#],
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get_field("a"), Some(&Value::Int(1)));
    let c = FieldPath::parse("[b][c]").unwrap();
    assert_eq!(events[0].get(&c), Some(&Value::from("d")));
    assert_eq!(
        events[0].timestamp().unwrap().to_string(),
        "2020-01-02T03:04:05.678Z"
    );

    let events = decode(&*json, &[br#"[{"n":1},{"n":2}]"#]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].get_field("n"), Some(&Value::Int(2)));

    for bad in [&b"{\"a\":"[..], b"42", b"[1, {\"a\":1}]"] {
        let events = decode(&*json, &[bad]);
        assert_eq!(events.len(), 1, "{bad:?}");
        assert_eq!(events[0].message(), Some(std::str::from_utf8(bad).unwrap()));
        assert!(events[0].has_tag("_jsonparsefailure"));
    }
    assert!(decode(&*json, &[b"  \n"]).is_empty());
}

#[test]
fn json_encodes_compact_event_json_without_delimiter() {
    let json = codec("json", &[]);
    let mut e = event("hi");
    e.metadata_mut()
        .insert(Text::new("secret"), Value::from("x"));
    let expected = json::event_to_string(&e);
    assert!(!expected.contains("secret"));
    assert_eq!(
        encode(&*json, &[e.clone(), e]),
        format!("{expected}{expected}")
    );
}

#[test]
fn json_lines_decodes_per_line_skipping_blank_ones_and_tagging_bad_ones() {
    let codec = codec("json_lines", &[]);
    let events = decode(
        &*codec,
        &[b"{\"n\":1}\n\n{\"n\":", b"2}\nnot json\n{\"n\":3}"],
    );
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].get_field("n"), Some(&Value::Int(1)));
    assert_eq!(events[1].get_field("n"), Some(&Value::Int(2)));
    assert_eq!(events[2].message(), Some("not json"));
    assert!(events[2].has_tag("_jsonparsefailure"));
    assert_eq!(events[3].get_field("n"), Some(&Value::Int(3)));
}

#[test]
fn json_codecs_put_the_document_under_target_when_given() {
    let path = |s: &str| FieldPath::parse(s).unwrap();
    for name in ["json", "json_lines"] {
        let codec = codec(name, &[("target", string("[doc][raw]"))]);
        let events = decode(&*codec, &[b"{\"n\":1,\"@timestamp\":\"x\"}\n"]);
        assert_eq!(events.len(), 1, "{name}");
        let e = &events[0];
        assert_eq!(
            e.get(&path("[doc][raw][n]")),
            Some(&Value::Int(1)),
            "{name}"
        );
        assert_eq!(
            e.get(&path("[doc][raw][@timestamp]")),
            Some(&Value::from("x"))
        );
        assert!(e.get_field("n").is_none(), "{name}");
        assert!(e.timestamp().is_some() && !e.has_tag("_timestampparsefailure"));
    }
    let err = try_codec("json", &[("target", string("[bad"))])
        .err()
        .expect("bad target");
    assert!(err.0[0].message.contains("field reference"), "{:?}", err);
}

#[test]
fn json_lines_round_trips() {
    let codec = codec("json_lines", &[]);
    let mut original = event("round trip");
    original.set_field(Text::new("n"), Value::Int(7));
    original.set_field(
        Text::new("list"),
        Value::Array(vec![Value::from("a"), Value::Float(1.5)]),
    );
    let text = encode(&*codec, &[original.clone(), original.clone()]);
    assert_eq!(text.matches('\n').count(), 2);
    assert!(text.ends_with('\n'));
    let decoded = decode(&*codec, &[text.as_bytes()]);
    assert_eq!(decoded, [original.clone(), original]);
}

fn sample_event() -> Event {
    let mut e = event("hello \"world\"");
    let mut host = Map::new();
    host.insert(Text::new("name"), Value::from("web-1"));
    e.set_field(Text::new("host"), Value::Map(host));
    e.set_field(
        Text::new("tags"),
        Value::Array(vec![Value::from("a"), Value::from("b")]),
    );
    e.set_field(Text::new("n"), Value::Int(42));
    e.set_field(Text::new("ratio"), Value::Float(0.5));
    e.set_field(Text::new("none"), Value::Null);
    e.set_field(Text::new("ok"), Value::Bool(true));
    e.set_field(Text::new("empty"), Value::Array(vec![]));
    e.metadata_mut()
        .insert(Text::new("index"), Value::from("logs"));
    e
}

#[test]
fn rubydebug_prints_amazing_print_layout() {
    let rubydebug = codec("rubydebug", &[]);
    let expected = r#"{
    "@timestamp" => 2026-11-21T05:24:00.000Z,
      "@version" => "1",
       "message" => "hello \"world\"",
          "host" => {
        "name" => "web-1"
    },
          "tags" => [
        [0] "a",
        [1] "b"
    ],
             "n" => 42,
         "ratio" => 0.5,
          "none" => nil,
            "ok" => true,
         "empty" => []
}
"#;
    assert_eq!(encode(&*rubydebug, &[sample_event()]), expected);
}

#[test]
fn rubydebug_shows_metadata_only_when_asked() {
    let with = codec(
        "rubydebug",
        &[("metadata", ast::Value::Bareword("true".into()))],
    );
    let text = encode(&*with, &[sample_event()]);
    assert!(
        text.ends_with("     \"@metadata\" => {\n        \"index\" => \"logs\"\n    }\n}\n"),
        "{text}"
    );
    let without = codec("rubydebug", &[]);
    assert!(!encode(&*without, &[sample_event()]).contains("@metadata"));
    // No metadata, no key, even when asked.
    assert!(!encode(&*with, &[event("x")]).contains("@metadata"));
}

#[test]
fn bad_codec_options_are_reported() {
    let err = |name: &str, options: &[(&str, ast::Value)]| {
        let d = try_codec(name, options).err().expect("an error");
        d.0.iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(err("line", &[("charset", string("EBCDIC"))]).contains("unsupported charset"));
    assert!(err("line", &[("delimiter", string(""))]).contains("delimiter"));
    assert!(err("json_lines", &[("nope", string("x"))]).contains("unknown option"));
    assert!(err("plain", &[("format", string("%{[bad}"))]).contains("format"));
}
