//! The `multiline` codec: Java stack traces with `^\s` / `previous` and with
//! `^%{TIMESTAMP_ISO8601}` negated, `next` continuations, limits, streams cut anywhere, ECS
//! fields, and `auto_flush_interval` through the stdin input.

mod common;

use std::io::Read;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sluice::codecs::Codec;
use sluice::config::ast::{self, Attribute};
use sluice::config::{Diagnostics, PluginArgs, Span, Spanned};
use sluice::event::{Event, Timestamp, Value};
use sluice::inputs::stdin::ReaderInput;
use sluice::inputs::{Input, InputContext, Shutdown};
use sluice::registry;

const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

const JAVA_TRACE: &str = "\
2024-05-01 10:00:00,123 ERROR [main] c.e.Service - request failed
java.lang.IllegalStateException: boom
\tat com.example.Service.handle(Service.java:42)
\tat com.example.Server.lambda$run$0(Server.java:17)
\tat java.base/java.lang.Thread.run(Thread.java:833)
Caused by: java.io.IOException: disk full
\tat com.example.Store.write(Store.java:88)
\t... 3 more
2024-05-01 10:00:01,000 INFO  [main] c.e.Service - recovered
2024-05-01 10:00:02,000 INFO  [main] c.e.Service - next request
";

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn string(s: &str) -> ast::Value {
    ast::Value::String(s.to_string())
}

fn try_codec(options: &[(&str, ast::Value)]) -> Result<Arc<dyn Codec>, Diagnostics> {
    let plugin = ast::Plugin {
        name: spanned("multiline".to_string()),
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
    (registry::codec("multiline").expect("registered").build)(&args)
}

fn codec(options: &[(&str, ast::Value)]) -> Arc<dyn Codec> {
    try_codec(options).unwrap_or_else(|d| panic!("{d:?}"))
}

/// Decodes `text` one line per call, as the file input hands lines over, then flushes.
fn decode_lines(codec: &dyn Codec, text: &str) -> Vec<Event> {
    let mut decoder = codec.decoder();
    let mut events = Vec::new();
    for line in text.lines() {
        decoder.decode(Bytes::copy_from_slice(line.as_bytes()), T0, &mut events);
    }
    decoder.flush(T0, &mut events);
    events
}

/// Decodes `text` as a stream: its first line (with the newline that tells the codec it reads
/// a stream), then the rest cut into chunks of `size` bytes; then flushes.
fn decode_stream(codec: &dyn Codec, text: &str, size: usize) -> Vec<Event> {
    let mut decoder = codec.decoder();
    let mut events = Vec::new();
    let first = text.find('\n').map_or(text.len(), |i| i + 1);
    decoder.decode(
        Bytes::copy_from_slice(&text.as_bytes()[..first]),
        T0,
        &mut events,
    );
    for chunk in text.as_bytes()[first..].chunks(size) {
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

fn trace_events() -> [String; 3] {
    let lines: Vec<&str> = JAVA_TRACE.lines().collect();
    [
        lines[..8].join("\n"),
        lines[8].to_string(),
        lines[9].to_string(),
    ]
}

#[test]
fn a_java_stack_trace_is_one_event_with_leading_whitespace_previous() {
    // Lines that do not start with whitespace (the exception, "Caused by") start new events.
    let c = codec(&[("pattern", string(r"^\s")), ("what", string("previous"))]);
    let events = decode_lines(c.as_ref(), JAVA_TRACE);
    let lines: Vec<&str> = JAVA_TRACE.lines().collect();
    let want = [
        lines[0].to_string(),
        lines[1..5].join("\n"),
        lines[5..8].join("\n"),
        lines[8].to_string(),
        lines[9].to_string(),
    ];
    assert_eq!(messages(&events), want);
    assert_eq!(common::tags(&events[1]), ["multiline"]);
    assert!(common::tags(&events[0]).is_empty(), "one line: no tag");
}

#[test]
fn a_java_stack_trace_is_one_event_with_a_negated_timestamp_pattern() {
    let c = codec(&[
        ("pattern", string("^%{TIMESTAMP_ISO8601} ")),
        ("negate", ast::Value::Bareword("true".into())),
        ("what", string("previous")),
    ]);
    let events = decode_lines(c.as_ref(), JAVA_TRACE);
    assert_eq!(messages(&events), trace_events());
    assert_eq!(events[0].timestamp(), Some(T0));
    // The same stream cut at every awkward place gives the same events.
    for size in [1, 7, 64, 4096] {
        let streamed = decode_stream(c.as_ref(), JAVA_TRACE, size);
        assert_eq!(messages(&streamed), trace_events(), "chunks of {size}");
    }
}

#[test]
fn what_next_joins_continued_lines() {
    let c = codec(&[("pattern", string(r"\\$")), ("what", string("next"))]);
    let events = decode_lines(c.as_ref(), "a \\\nb \\\nc\nd\n");
    assert_eq!(messages(&events), ["a \\\nb \\\nc", "d"]);
}

#[test]
fn max_lines_and_max_bytes_cut_events_and_tag_them() {
    let c = codec(&[
        ("pattern", string(r"^\s")),
        ("what", string("previous")),
        ("max_lines", ast::Value::Number(ast::Number::Int(3))),
    ]);
    let events = decode_lines(c.as_ref(), "start\n 1\n 2\n 3\n 4\nnext\n");
    assert_eq!(messages(&events), ["start\n 1\n 2", " 3\n 4", "next"]);
    assert!(common::tags(&events[0]).contains(&"multiline_codec_max_lines_reached".to_string()));
    assert!(!common::tags(&events[1]).contains(&"multiline_codec_max_lines_reached".to_string()));

    let c = codec(&[
        ("pattern", string(r"^\s")),
        ("what", string("previous")),
        ("max_bytes", string("10 b")),
    ]);
    let events = decode_lines(c.as_ref(), "abcdef\n ghijk\n l\n");
    assert_eq!(messages(&events), ["abcdef\n ghijk", " l"]);
    assert!(common::tags(&events[0]).contains(&"multiline_codec_max_bytes_reached".to_string()));
}

#[test]
fn ecs_mode_keeps_the_original_and_legacy_does_not() {
    let ecs = codec(&[("pattern", string(r"^\s")), ("what", string("previous"))]);
    let e = &decode_lines(ecs.as_ref(), "a\n b\n")[0];
    assert_eq!(
        common::get(e, "[event][original]").and_then(Value::as_str),
        Some("a\n b")
    );
    let legacy = codec(&[
        ("pattern", string(r"^\s")),
        ("what", string("previous")),
        ("ecs_compatibility", string("disabled")),
        ("multiline_tag", string("joined")),
    ]);
    let e = &decode_lines(legacy.as_ref(), "a\n b\n")[0];
    assert!(common::get(e, "[event][original]").is_none());
    assert_eq!(common::tags(e), ["joined"]);
}

#[test]
fn invalid_utf8_is_escaped_not_fatal() {
    let c = codec(&[("pattern", string(r"^\s")), ("what", string("previous"))]);
    let mut decoder = c.decoder();
    let mut events = Vec::new();
    decoder.decode(
        Bytes::from_static(b"bad \xff\n \xfe cont\n"),
        T0,
        &mut events,
    );
    decoder.flush(T0, &mut events);
    assert_eq!(messages(&events), ["bad \\xFF\n \\xFE cont"]);
}

#[test]
fn bad_options_are_reported() {
    let err = try_codec(&[
        ("pattern", string("%{NOSUCH}")),
        ("what", string("previous")),
    ])
    .err()
    .expect("unknown pattern");
    assert!(format!("{err:?}").contains("NOSUCH"));
    let err = try_codec(&[("pattern", string("x")), ("what", string("sideways"))])
        .err()
        .expect("bad what");
    assert!(format!("{err:?}").contains("previous"));
    assert!(
        try_codec(&[("pattern", string("x"))]).is_err(),
        "what is required"
    );
}

/// A blocking reader fed by the test, ending when the sender is dropped.
struct Fed(mpsc::Receiver<Vec<u8>>);

impl Read for Fed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.recv() {
            Ok(data) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Ok(n)
            }
            Err(_) => Ok(0),
        }
    }
}

#[test]
fn stdin_flushes_the_pending_event_after_auto_flush_interval() {
    let c = codec(&[
        ("pattern", string("^%{TIMESTAMP_ISO8601} ")),
        ("negate", ast::Value::Bareword("true".into())),
        ("what", string("previous")),
        (
            "auto_flush_interval",
            ast::Value::Number(ast::Number::Float(0.2)),
        ),
    ]);
    let (feed, fed) = mpsc::channel();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = async_channel::bounded(16);
    let shutdown = Shutdown::new();
    let ctx = InputContext::new(tx).with_shutdown(shutdown.clone());
    let input: Box<dyn Input> = Box::new(ReaderInput::new(c, Box::new(Fed(fed))));
    let task = rt.spawn(input.run(ctx));
    feed.send(JAVA_TRACE.as_bytes().to_vec()).unwrap();
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < 3 {
        let batch = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), rx.recv()).await })
            .expect("the pending event is flushed while the stream stays open")
            .unwrap();
        got.extend(
            batch
                .events
                .iter()
                .map(|e| e.message().unwrap().to_string()),
        );
    }
    assert_eq!(got, trace_events());
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "not before the interval"
    );
    drop(feed);
    rt.block_on(task).unwrap().unwrap();
}
