//! The `flume` codec against Apache's Python `avro` package (tests/support/flume_encode.py) as
//! an independent AvroFlumeEvent encoder and decoder, plus hand-written multi-block maps,
//! non-Flume messages and garbage.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use sluice::codecs::{Charset, Codec};
use sluice::config::ast::{self, Attribute};
use sluice::config::{Diagnostics, PluginArgs, Span, Spanned};
use sluice::event::{json, Event, FieldPath, Map, Text, Timestamp, Value};
use sluice::registry;

/// 2026-11-21T05:24:00Z.
const T0: Timestamp = Timestamp::from_secs(1_795_238_640);
const FAILURE: &str = "_flumeparsefailure";

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn try_codec(options: &[(&str, &str)]) -> Result<Arc<dyn Codec>, Diagnostics> {
    let plugin = ast::Plugin {
        name: spanned("flume".to_string()),
        attributes: options
            .iter()
            .map(|(k, v)| Attribute {
                name: spanned(k.to_string()),
                value: spanned(ast::Value::String(v.to_string())),
            })
            .collect(),
        span: Span::default(),
    };
    let env = |_: &str| None;
    let args = PluginArgs::new(&plugin, &env);
    (registry::codec("flume").expect("registered codec").build)(&args)
}

fn codec(options: &[(&str, &str)]) -> Arc<dyn Codec> {
    try_codec(options).unwrap_or_else(|d| panic!("flume: {d:?}"))
}

/// The events one Kafka message decodes to.
fn decode(codec: &dyn Codec, message: &Bytes) -> Vec<Event> {
    let mut decoder = codec.decoder();
    let mut events = Vec::new();
    decoder.decode(message.clone(), T0, &mut events);
    decoder.flush(T0, &mut events);
    events
}

fn path(s: &str) -> FieldPath {
    FieldPath::parse(s).expect("field path")
}

/// The string headers at `target`, in order.
fn headers_at(event: &Event, target: &str) -> Vec<(String, String)> {
    let map = event
        .get(&path(target))
        .and_then(Value::as_map)
        .unwrap_or_else(|| panic!("no header map at {target}"));
    map.iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.as_str().expect("string header").to_string(),
            )
        })
        .collect()
}

fn headers(event: &Event) -> Vec<(String, String)> {
    headers_at(event, "[flume][headers]")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs tests/support/flume_encode.py `command` with `lines` on stdin; its stdout lines.
fn python(command: &str, lines: &[String]) -> Vec<String> {
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/flume_encode.py"
        ))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(lines.join("\n").as_bytes())
        .expect("write to python");
    drop(stdin);
    let output = child.wait_with_output().expect("python output");
    assert!(
        output.status.success(),
        "flume_encode.py {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Flume events encoded by Python's avro: (headers, body) each.
/// A Flume event to encode: its headers and body.
type Spec<'a> = (&'a [(&'a str, &'a str)], &'a [u8]);

/// A decoded Flume event: its headers and body.
type Decoded = (Vec<(String, String)>, Vec<u8>);

fn python_encode(events: &[Spec]) -> Vec<Bytes> {
    let lines: Vec<String> = events
        .iter()
        .map(|(headers, body)| {
            let headers: serde_json::Map<String, serde_json::Value> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            serde_json::json!({"headers": headers, "body": b64(body)}).to_string()
        })
        .collect();
    let encoded = python("encode", &lines);
    assert_eq!(encoded.len(), events.len());
    encoded.iter().map(|h| Bytes::from(unhex(h))).collect()
}

/// What Python's avro reads from our encodings: (headers, body) each.
fn python_decode(messages: &[Vec<u8>]) -> Vec<Decoded> {
    let lines: Vec<String> = messages.iter().map(|m| hex(m)).collect();
    python("decode", &lines)
        .iter()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON from python");
            let headers = v["headers"]
                .as_object()
                .expect("headers")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
                .collect();
            let body = base64::engine::general_purpose::STANDARD
                .decode(v["body"].as_str().expect("body"))
                .expect("base64");
            (headers, body)
        })
        .collect()
}

/// Whether `s` lies inside `buf` (a slice of it, not a copy).
fn points_into(s: &str, buf: &Bytes) -> bool {
    let start = buf.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    p >= start && p + s.len() <= start + buf.len()
}

#[test]
fn python_encoded_events_decode_to_headers_and_message() {
    let long_value = "a header value longer than thirty bytes, shared";
    let long_body = "a body longer than thirty bytes: GET /index.html 200";
    let messages = python_encode(&[
        (
            &[
                ("host", "web-1"),
                ("timestamp", "1763700000000"),
                ("topic", "logs"),
            ],
            b"hello",
        ),
        (&[], b"no headers"),
        (
            &[("h\u{e9}", "caf\u{e9} \u{2603}")],
            "\u{fc}ber \u{1f600}".as_bytes(),
        ),
        (&[("long", long_value)], long_body.as_bytes()),
        (&[("k", "v")], b""),
    ]);
    let flume = codec(&[]);
    let decoded: Vec<Event> = messages
        .iter()
        .map(|m| {
            let events = decode(&*flume, m);
            assert_eq!(events.len(), 1);
            assert!(!events[0].has_tag(FAILURE), "{m:?}");
            assert_eq!(events[0].timestamp(), Some(T0));
            events.into_iter().next().expect("one event")
        })
        .collect();
    assert_eq!(
        headers(&decoded[0]),
        pairs(&[
            ("host", "web-1"),
            ("timestamp", "1763700000000"),
            ("topic", "logs")
        ])
    );
    assert_eq!(decoded[0].message(), Some("hello"));
    assert_eq!(headers(&decoded[1]), pairs(&[]));
    assert_eq!(decoded[1].message(), Some("no headers"));
    assert_eq!(
        headers(&decoded[2]),
        pairs(&[("h\u{e9}", "caf\u{e9} \u{2603}")])
    );
    assert_eq!(decoded[2].message(), Some("\u{fc}ber \u{1f600}"));
    assert_eq!(decoded[4].message(), Some(""));
    assert_eq!(headers(&decoded[4]), pairs(&[("k", "v")]));

    // Long strings are slices of the Kafka message, not copies.
    assert_eq!(decoded[3].message(), Some(long_body));
    assert!(points_into(
        decoded[3].message().unwrap_or(""),
        &messages[3]
    ));
    let long = decoded[3]
        .get(&path("[flume][headers][long]"))
        .and_then(Value::as_str)
        .expect("long header");
    assert_eq!(long, long_value);
    assert!(points_into(long, &messages[3]));
}

#[test]
fn binary_body_is_kept_as_the_plain_codec_keeps_it() {
    let body: &[u8] = b"\x00\x01bin\xff\xfe";
    let messages = python_encode(&[(&[("type", "binary")], body)]);
    let events = decode(&*codec(&[]), &messages[0]);
    assert!(!events[0].has_tag(FAILURE));
    let plain = Charset::Utf8.text(Bytes::from_static(body));
    assert_eq!(events[0].message(), Some(plain.as_str()));
    assert!(events[0].message().unwrap_or("").contains("bin"));

    let latin1 = decode(
        &*codec(&[("charset", "ISO-8859-1")]),
        &python_encode(&[(&[], b"caf\xe9")])[0],
    );
    assert_eq!(latin1[0].message(), Some("caf\u{e9}"));
}

#[test]
fn json_body_codec_decodes_the_body_and_every_event_gets_the_headers() {
    let messages = python_encode(&[
        (
            &[("host", "a")],
            br#"{"status": 200, "path": "/x", "flume": {"other": 1}}"#,
        ),
        (&[("host", "b")], br#"[{"n": 1}, {"n": 2}]"#),
        (&[("host", "c")], b"not json"),
        (&[("host", "d")], b"  "),
    ]);
    let flume = codec(&[("body_codec", "json")]);

    let object = decode(&*flume, &messages[0]);
    assert_eq!(object.len(), 1);
    assert_eq!(object[0].get_field("status"), Some(&Value::Int(200)));
    assert_eq!(object[0].get(&path("[flume][other]")), Some(&Value::Int(1)));
    assert_eq!(headers(&object[0]), pairs(&[("host", "a")]));
    assert_eq!(object[0].message(), None);

    let array = decode(&*flume, &messages[1]);
    assert_eq!(array.len(), 2);
    for (i, event) in array.iter().enumerate() {
        assert_eq!(event.get_field("n"), Some(&Value::Int(i as i64 + 1)));
        assert_eq!(headers(event), pairs(&[("host", "b")]));
    }

    let invalid = decode(&*flume, &messages[2]);
    assert_eq!(invalid.len(), 1);
    assert!(invalid[0].has_tag("_jsonparsefailure"));
    assert!(!invalid[0].has_tag(FAILURE));
    assert_eq!(invalid[0].message(), Some("not json"));
    assert_eq!(headers(&invalid[0]), pairs(&[("host", "c")]));

    let blank = decode(&*flume, &messages[3]);
    assert_eq!(blank.len(), 1, "a blank body still keeps the headers");
    assert_eq!(headers(&blank[0]), pairs(&[("host", "d")]));
}

#[test]
fn target_option_moves_the_headers() {
    let messages = python_encode(&[(&[("host", "a")], b"x")]);
    let events = decode(&*codec(&[("target", "[kafka][flume]")]), &messages[0]);
    assert_eq!(
        headers_at(&events[0], "[kafka][flume]"),
        pairs(&[("host", "a")])
    );
    assert!(events[0].get_field("flume").is_none());
}

#[test]
fn hand_written_multi_block_maps_with_negative_counts_decode() {
    // Block 1: count -2 (zigzag 3), byte size 10 (zigzag 20): "a"->"1", "bb"->"22".
    // Block 2: count 1: "c"->"3".
    // Block 3: count -1, byte size 5 (zigzag 10): "a"->"99", replacing the first "a".
    // End: 0. Body: "hi".
    let message: &[u8] = &[
        3, 20, 2, b'a', 2, b'1', 4, b'b', b'b', 4, b'2', b'2', //
        2, 2, b'c', 2, b'3', //
        1, 10, 2, b'a', 4, b'9', b'9', //
        0, 4, b'h', b'i',
    ];
    let events = decode(&*codec(&[]), &Bytes::from_static(message));
    assert!(!events[0].has_tag(FAILURE));
    assert_eq!(
        headers(&events[0]),
        pairs(&[("a", "99"), ("bb", "22"), ("c", "3")])
    );
    assert_eq!(events[0].message(), Some("hi"));

    // The same map with the first block's byte size off by one is not a Flume event.
    let mut wrong = message.to_vec();
    wrong[1] = 22;
    let events = decode(&*codec(&[]), &Bytes::from(wrong));
    assert!(events[0].has_tag(FAILURE));
}

#[test]
fn non_flume_messages_pass_as_plain_tagged() {
    let valid = python_encode(&[(&[("k", "v")], b"body")]).remove(0);
    let mut trailing = valid.to_vec();
    trailing.push(b'!');
    let cases: Vec<Vec<u8>> = vec![
        b"a plain log line from some producer".to_vec(),
        br#"{"message": "json, not flume"}"#.to_vec(),
        Vec::new(),
        trailing,
        // A negative body length.
        vec![0, 3, b'x'],
        // A body length past the end.
        vec![0, 40, b'x'],
        // A header key that is not UTF-8.
        vec![2, 2, 0xff, 0, 0, 0],
    ];
    let flume = codec(&[]);
    for case in cases {
        let events = decode(&*flume, &Bytes::from(case.clone()));
        assert_eq!(events.len(), 1, "{case:?}");
        assert!(events[0].has_tag(FAILURE), "{case:?}");
        let kept = Charset::Utf8.text(Bytes::from(case.clone()));
        assert_eq!(events[0].message(), Some(kept.as_str()));
        assert!(events[0].get_field("flume").is_none());
    }
}

#[test]
fn garbage_and_truncations_never_panic_and_keep_the_message() {
    let flume = codec(&[]);
    let json_flume = codec(&[("body_codec", "json")]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    for _ in 0..3000 {
        let len = rng.gen_range(0..48);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let message = Bytes::from(bytes);
        let events = decode(&*flume, &message);
        assert_eq!(events.len(), 1);
        if events[0].has_tag(FAILURE) {
            let kept = Charset::Utf8.text(message.clone());
            assert_eq!(events[0].message(), Some(kept.as_str()));
        }
        assert!(!decode(&*json_flume, &message).is_empty());
    }

    let valid = python_encode(&[
        (
            &[("host", "web-1"), ("path", "/var/log/x")],
            b"a line of text",
        ),
        (&[("k", "v")], &[0x80; 200]),
    ]);
    for message in &valid {
        // Every strict prefix is truncated, hence not a Flume event.
        for end in 0..message.len() {
            let events = decode(&*flume, &message.slice(..end));
            assert_eq!(events.len(), 1);
            assert!(events[0].has_tag(FAILURE), "prefix of {end} bytes");
        }
        // Any single byte changed: one event, whatever it decodes to.
        for i in 0..message.len() {
            let mut changed = message.to_vec();
            changed[i] = rng.gen();
            assert_eq!(decode(&*flume, &Bytes::from(changed)).len(), 1);
        }
    }

    // Huge counts and lengths are refused before anything is allocated for them.
    for huge in [
        &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..],
        &[0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 0][..],
        &[0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f][..],
        &[0xff; 11][..],
    ] {
        let events = decode(&*flume, &Bytes::copy_from_slice(huge));
        assert!(events[0].has_tag(FAILURE), "{huge:?}");
    }
}

fn event_with(message: Option<Value>, headers: &[(&str, Value)]) -> Event {
    let mut event = Event::new(T0);
    if let Some(message) = message {
        event.set_field(Text::from_static("message"), message);
    }
    let mut map = Map::new();
    for (k, v) in headers {
        map.insert(Text::new(k), v.clone());
    }
    event.insert(&path("[flume][headers]"), Value::Map(map));
    event
}

fn encode(codec: &dyn Codec, event: &Event) -> Vec<u8> {
    let mut buf = Vec::new();
    codec.encode(event, &mut buf);
    buf
}

#[test]
fn python_decodes_what_we_encode() {
    let flume = codec(&[]);
    let long = "x".repeat(300);
    let events = [
        event_with(
            Some(Value::Str(Text::new("hello \u{2603}"))),
            &[
                ("host", Value::Str(Text::new("web-1"))),
                ("count", Value::Int(42)),
                ("ok", Value::Bool(true)),
            ],
        ),
        event_with(Some(Value::Str(Text::new(&long))), &[]),
        event_with(None, &[("k", Value::Str(Text::new("v")))]),
        Event::from_message(Text::new("no header map"), T0),
    ];
    let encoded: Vec<Vec<u8>> = events.iter().map(|e| encode(&*flume, e)).collect();
    let decoded = python_decode(&encoded);
    assert_eq!(decoded.len(), 4);
    let mut first = decoded[0].0.clone();
    first.sort();
    assert_eq!(
        first,
        pairs(&[("count", "42"), ("host", "web-1"), ("ok", "true")])
    );
    assert_eq!(decoded[0].1, "hello \u{2603}".as_bytes());
    assert_eq!(decoded[1], (pairs(&[]), long.into_bytes()));
    assert_eq!(decoded[2], (pairs(&[("k", "v")]), Vec::new()));
    assert_eq!(decoded[3], (pairs(&[]), b"no header map".to_vec()));
}

#[test]
fn json_body_codec_encodes_the_event_as_the_body() {
    let flume = codec(&[("body_codec", "json")]);
    let mut event = event_with(None, &[("host", Value::Str(Text::new("a")))]);
    event.set_field(Text::from_static("status"), Value::Int(200));
    let decoded = python_decode(&[encode(&*flume, &event)]);
    assert_eq!(decoded[0].0, pairs(&[("host", "a")]));
    let body = json::parse_value(&decoded[0].1).expect("JSON body");
    assert_eq!(
        body.as_map().and_then(|m| m.get("status")),
        Some(&Value::Int(200))
    );
}

#[test]
fn encode_then_decode_round_trips() {
    let flume = codec(&[]);
    let original = event_with(
        Some(Value::Str(Text::new("round trip \u{e9}"))),
        &[
            ("a", Value::Str(Text::new("1"))),
            ("b", Value::Str(Text::new("two"))),
        ],
    );
    let events = decode(&*flume, &Bytes::from(encode(&*flume, &original)));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0], original);
}

#[test]
fn options_are_checked() {
    let err = try_codec(&[("body_codec", "xml")])
        .err()
        .expect("xml refused");
    assert!(format!("{err:?}").contains("body_codec"), "{err:?}");
    assert!(try_codec(&[("headers_target", "[x]")]).is_err());
    assert!(try_codec(&[("charset", "EBCDIC")]).is_err());
    assert!(try_codec(&[("body_codec", "plain"), ("charset", "UTF-8")]).is_ok());
}
