//! The `forward` input against real clients: Python's `fluent-logger` (FluentSender, with
//! nanosecond EventTime and with its buffer_overflow_handler), frames crafted with Python's
//! `msgpack` (Forward, PackedForward, CompressedPackedForward, Message, `chunk` acks), a stream
//! shaped like Docker's fluentd log driver (env extras, 16 KiB partial pieces), JSON frames,
//! TLS (client certificates required and optional, from a stranger CA, an encrypted server key),
//! and malformed input that must close only its own connection.
//!
//! Each test runs the input on its own runtime, bound to a free port on 127.0.0.1, and reads
//! the batches it sends; the Python clients live in `tests/support/fluent_send.py`.

mod common;
mod pki;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::input::{Running, PATIENCE};
use pki::{Identity, Pki};
use sluice::event::{Batch, Event, Timestamp, Value};
use sluice::inputs::forward::{ForwardInput, ForwardOptions, ForwardStats};
use sluice::inputs::tcp::tls::ClientAuthentication;

const BASE: i64 = 1_700_000_000;

/// A running input, the address it listens on and its counters.
struct Server {
    addr: SocketAddr,
    stats: Arc<ForwardStats>,
    input: Running,
}

impl std::ops::Deref for Server {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.input
    }
}

fn start(options: ForwardOptions) -> Server {
    start_with_queue(options, 64)
}

fn start_with_queue(options: ForwardOptions, queue: usize) -> Server {
    let mut input = ForwardInput::new(ForwardOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..options
    })
    .unwrap();
    let addr = input.bind().unwrap();
    start_bound(input, addr, queue)
}

fn start_bound(input: ForwardInput, addr: SocketAddr, queue: usize) -> Server {
    let stats = input.stats();
    Server {
        addr,
        stats,
        input: Running::spawn(Box::new(input), queue, |ctx| ctx),
    }
}

impl Server {
    fn count(&self, counter: fn(&ForwardStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        ForwardStats::get(counter(&self.stats))
    }

    /// Requests shutdown; the input must return within a second.
    fn stop(self) -> async_channel::Receiver<Batch> {
        self.input.stop_within(Duration::from_secs(1))
    }
}

fn python(args: &[&str]) -> serde_json::Value {
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/fluent_send.py"
        ))
        .args(args)
        .output()
        .expect("python3");
    last_json(&output.stdout, &output.stderr, output.status.success())
}

fn last_json(stdout: &[u8], stderr: &[u8], ok: bool) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(stdout);
    assert!(
        ok,
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

fn field<'e>(e: &'e Event, path: &str) -> &'e Value {
    common::get(e, path).unwrap_or_else(|| panic!("no {path} in {e:?}"))
}

fn text<'e>(e: &'e Event, path: &str) -> &'e str {
    field(e, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string in {e:?}"))
}

fn stamp(e: &Event) -> Timestamp {
    match field(e, "@timestamp") {
        Value::Timestamp(ts) => *ts,
        other => panic!("@timestamp is {other:?}"),
    }
}

fn with_tag<'e>(events: &'e [Event], tag: &str) -> Vec<&'e Event> {
    events
        .iter()
        .filter(|e| common::tags(e).iter().any(|t| t == tag))
        .collect()
}

// A little msgpack for frames the tests craft themselves.

fn mp_str(s: &str) -> Vec<u8> {
    let mut out = match s.len() {
        n if n < 32 => vec![0xa0 | n as u8],
        n if n < 256 => vec![0xd9, n as u8],
        n => {
            let mut v = vec![0xdb];
            v.extend_from_slice(&(n as u32).to_be_bytes());
            v
        }
    };
    out.extend_from_slice(s.as_bytes());
    out
}

fn mp_int(n: u32) -> Vec<u8> {
    let mut out = vec![0xce];
    out.extend_from_slice(&n.to_be_bytes());
    out
}

fn mp_array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0xdc];
    out.extend_from_slice(&(items.len() as u16).to_be_bytes());
    items.iter().for_each(|i| out.extend_from_slice(i));
    out
}

fn mp_map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0xde];
    out.extend_from_slice(&(pairs.len() as u16).to_be_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&mp_str(k));
        out.extend_from_slice(v);
    }
    out
}

/// `[tag, BASE, {"log": log}, {"chunk": chunk}?]`
fn message(tag: &str, log: &str, chunk: Option<&str>) -> Vec<u8> {
    let mut items = vec![
        mp_str(tag),
        mp_int(BASE as u32),
        mp_map(&[("log", mp_str(log))]),
    ];
    if let Some(chunk) = chunk {
        items.push(mp_map(&[("chunk", mp_str(chunk))]));
    }
    mp_array(&items)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads what the server sends until it closes the connection; fails if it does not.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => got,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => got,
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
}

#[test]
fn fluent_logger_records_become_events() {
    let server = start(ForwardOptions::default());
    let port = server.addr.port().to_string();
    let before = Timestamp::now();
    let sent = python(&["logger", &port, "150"]);
    assert_eq!(sent["sent"], 301);
    let events = server.events(301);

    let nano = with_tag(&events, "app.nano");
    assert_eq!(nano.len(), 150);
    for (i, e) in nano.iter().enumerate() {
        assert_eq!(field(e, "seq"), &Value::Int(i as i64), "order kept");
        assert_eq!(
            stamp(e),
            Timestamp::from_nanos((BASE + i as i64) * 1_000_000_000 + 123_456_789)
        );
        assert_eq!(text(e, "msg"), format!("hello {i}"));
        assert_eq!(
            field(e, "[nested][list]"),
            &Value::Array(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Null,
                Value::Bool(true)
            ])
        );
        assert_eq!(text(e, "[nested][deep][k]"), "v");
        assert_eq!(text(e, "raw"), "\u{fffd}\u{fffd}ok", "binary: lossy UTF-8");
        assert_eq!(text(e, "unicode"), "h\u{e9}llo \u{2603}");
        assert_eq!(common::tags(e), vec!["app.nano"]);
        assert!(e.get_field("message").is_none(), "no log, no message");
    }

    let secs = with_tag(&events, "app.secs");
    assert_eq!(secs.len(), 150);
    for (i, e) in secs.iter().enumerate() {
        assert_eq!(stamp(e), Timestamp::from_secs(BASE + i as i64));
        assert_eq!(
            text(e, "message"),
            format!("line {i}"),
            "log becomes message"
        );
        assert!(e.get_field("log").is_none());
    }

    let now = with_tag(&events, "app.now");
    assert_eq!(now.len(), 1);
    let ts = stamp(now[0]);
    assert!(ts >= Timestamp::from_millis(before.millis() - 1000) && ts <= Timestamp::now());
    assert!(server.count(|s| &s.connections) >= 2);
    assert_eq!(server.count(|s| &s.protocol_errors), 0);
    server.stop();
}

#[test]
fn fluent_logger_buffers_across_a_restart_and_overflow_bytes_replay() {
    // A port with nothing behind it yet: the client's first emit fails and is buffered.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/fluent_send.py"
        ))
        .args(["reconnect", &addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "buffered");

    let mut input = ForwardInput::new(ForwardOptions {
        host: "127.0.0.1".into(),
        port: addr.port(),
        ..ForwardOptions::default()
    })
    .unwrap();
    input.bind().unwrap();
    let server = start_bound(input, addr, 64);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let result = last_json(&rest, &stderr, status.success());
    assert_eq!(
        result["first"], false,
        "nothing listened for the first emit"
    );
    assert_eq!(result["second"], true);
    assert_eq!(result["overflows"], 0);
    assert_eq!(result["tiny_overflows"], 1);

    let events = server.events(4);
    let buffered: Vec<_> = with_tag(&events, "re.buffered")
        .iter()
        .map(|e| field(e, "n").clone())
        .collect();
    assert_eq!(buffered, vec![Value::Int(1), Value::Int(2)]);
    let replayed: Vec<_> = with_tag(&events, "re.overflowed")
        .iter()
        .map(|e| field(e, "n").clone())
        .collect();
    assert_eq!(replayed, vec![Value::Int(3), Value::Int(4)]);
    server.stop();
}

#[test]
fn every_mode_with_acks_and_batching() {
    let server = start(ForwardOptions::default());
    let result = python(&["frames", &server.addr.port().to_string()]);
    assert_eq!(
        result["acks"],
        serde_json::json!([{"ack": "fwd-1"}, {"ack": "packed-1"}, {"ack": "gzip-1"}, {"ack": "msg-1"}])
    );
    let batches = server.batches(3 + 300 + 10 + 1 + 1);
    // Several frames per read: batches hold many entries, never more than the batch size.
    assert!(batches.len() < 20, "{} batches", batches.len());
    assert!(batches.iter().all(|b| b.len() <= 125));
    let events: Vec<Event> = batches
        .into_iter()
        .flat_map(|mut b| std::mem::take(&mut b.events))
        .collect();

    let forward = with_tag(&events, "mode.forward");
    let stamps: Vec<_> = forward.iter().map(|e| stamp(e)).collect();
    assert_eq!(
        stamps,
        vec![
            Timestamp::from_nanos(BASE * 1_000_000_000 + 5),
            Timestamp::from_secs(BASE + 1),
            Timestamp::from_millis((BASE + 2) * 1000 + 250),
        ]
    );
    assert_eq!(text(forward[2], "message"), "fwd 2");

    let packed = with_tag(&events, "mode.packed");
    assert_eq!(packed.len(), 300);
    assert_eq!(text(packed[299], "message"), "packed 299");
    assert_eq!(stamp(packed[299]), Timestamp::from_secs(BASE + 299));

    let gz = with_tag(&events, "mode.gzip");
    let logs: Vec<_> = gz.iter().map(|e| text(e, "message")).collect();
    assert_eq!(logs, (0..10).map(|i| format!("gz {i}")).collect::<Vec<_>>());
    assert_eq!(
        stamp(gz[9]),
        Timestamp::from_nanos(BASE * 1_000_000_000 + 9)
    );

    let message = with_tag(&events, "mode.message");
    assert_eq!(field(message[0], "n"), &Value::Int(1));
    assert_eq!(
        text(with_tag(&events, "mode.packedstr")[0], "message"),
        "as str"
    );
    assert_eq!(server.count(|s| &s.acks), 4);
    assert_eq!(server.count(|s| &s.frames), 5);
    server.stop();
}

#[test]
fn ack_waits_until_the_events_are_queued() {
    // A queue of one batch, which the test does not read at first.
    let server = start_with_queue(ForwardOptions::default(), 1);
    let mut client = connect(server.addr);
    client.write_all(&message("q", "one", Some("c1"))).unwrap();
    let mut ack = [0u8; 8];
    client.read_exact(&mut ack).unwrap();
    assert_eq!(
        &ack, b"\x81\xa3ack\xa2c1",
        "the first batch fits in the queue"
    );

    client.write_all(&message("q", "two", Some("c2"))).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let early = client.read(&mut ack);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "no ack while the queue is full: {early:?}"
    );
    let first = server.events(1);
    assert_eq!(text(&first[0], "message"), "one");
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"\x81\xa3ack\xa2c2");
    assert_eq!(text(&server.events(1)[0], "message"), "two");
    server.stop();
}

#[test]
fn docker_fluentd_driver_stream() {
    let server = start(ForwardOptions::default());
    let result = python(&["docker", &server.addr.port().to_string()]);
    assert_eq!(result["pieces"], 3);
    assert_eq!(result["sent"], 6);
    // 6 records: 1 line, 3 pieces of one line, another container's line, 1 line.
    let events = server.events(4);
    let messages: Vec<_> = events.iter().map(|e| text(e, "message").len()).collect();
    assert_eq!(messages, vec![11, 4, 40000, 4]);

    let first = &events[0];
    assert_eq!(text(first, "message"), "starting up");
    assert_eq!(text(first, "container_id"), "a".repeat(64));
    assert_eq!(text(first, "container_name"), "/webshop-db.1");
    assert_eq!(text(first, "source"), "stdout");
    assert_eq!(
        text(first, "MESOS_TASK_ID"),
        "webshop_db.d10caa92-2a48-11e7-9f2d-02425eb2d6f3"
    );
    assert_eq!(text(first, "MARATHON_APP_ID"), "/webshop/db");
    assert_eq!(common::tags(first), vec!["docker.a"]);
    assert_eq!(
        stamp(first),
        Timestamp::from_nanos(BASE * 1_000_000_000 + 500)
    );

    let other = &events[1];
    assert_eq!(text(other, "container_id"), "b".repeat(64));
    assert_eq!(text(other, "source"), "stderr");

    let joined = &events[2];
    let expected: String = (0..40000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    assert_eq!(text(joined, "message"), expected);
    assert_eq!(
        stamp(joined),
        Timestamp::from_nanos((BASE + 1) * 1_000_000_000 + 500),
        "the first piece's time"
    );
    for name in [
        "partial_message",
        "partial_id",
        "partial_ordinal",
        "partial_last",
    ] {
        assert!(joined.get_field(name).is_none(), "{name} left");
    }
    assert_eq!(text(joined, "MARATHON_APP_ID"), "/webshop/db");
    assert_eq!(text(&events[3], "message"), "done");
    assert_eq!(server.count(|s| &s.acks), 6);
    assert_eq!(server.count(|s| &s.partials_joined), 1);
    server.stop();
}

#[test]
fn an_unfinished_partial_line_is_given_back_after_the_timeout_and_at_shutdown() {
    let server = start(ForwardOptions {
        partial_timeout: 0.2,
        ..ForwardOptions::default()
    });
    let piece = |id: &str, ordinal: &str, log: &str| {
        mp_array(&[
            mp_str("docker"),
            mp_int(BASE as u32),
            mp_map(&[
                ("container_id", mp_str("c")),
                ("log", mp_str(log)),
                ("partial_message", mp_str("true")),
                ("partial_id", mp_str(id)),
                ("partial_ordinal", mp_str(ordinal)),
                ("partial_last", mp_str("false")),
            ]),
        ])
    };
    let mut client = connect(server.addr);
    client.write_all(&piece("p1", "1", "abc")).unwrap();
    client.write_all(&piece("p1", "2", "def")).unwrap();
    let started = Instant::now();
    let events = server.events(1);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(text(&events[0], "message"), "abcdef");
    assert!(common::tags(&events[0]).contains(&"_partial_incomplete".to_string()));

    client.write_all(&piece("p2", "1", "xyz")).unwrap();
    // Wait until the input has read it (it is held, so only the frame count shows it).
    let deadline = Instant::now() + PATIENCE;
    while server.count(|s| &s.frames) < 3 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = server.stats.clone();
    let rx = server.stop();
    let flushed = rx.try_recv().expect("held piece flushed at shutdown");
    assert_eq!(text(&flushed.events[0], "message"), "xyz");
    assert_eq!(ForwardStats::get(&stats.partials_incomplete), 2);
}

#[test]
fn malformed_input_closes_only_its_own_connection() {
    let server = start(ForwardOptions {
        max_message_size: 64 * 1024,
        ..ForwardOptions::default()
    });
    let mut good = connect(server.addr);
    good.write_all(&message("good", "before", None)).unwrap();
    assert_eq!(text(&server.events(1)[0], "message"), "before");

    let oversized = message("big", &"x".repeat(100 * 1024), None);
    let compressed = |method: &str, payload: &[u8]| {
        let mut f = vec![0x93];
        f.extend_from_slice(&mp_str("t"));
        f.extend_from_slice(&[0xc4, payload.len() as u8]);
        f.extend_from_slice(payload);
        f.extend_from_slice(&mp_map(&[("compressed", mp_str(method))]));
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "4 GiB binary declared",
            vec![0x93, 0xa1, b't', 0xc6, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "4G-item array declared",
            vec![0x92, 0xa1, b't', 0xdd, 0xff, 0xff, 0xff, 0xff],
        ),
        ("frame over max_message_size", oversized),
        (
            "tag not a string",
            mp_array(&[mp_int(1), mp_int(2), mp_map(&[])]),
        ),
        ("frame not an array", mp_map(&[("log", mp_str("x"))])),
        ("invalid gzip", compressed("gzip", b"abc")),
        ("unknown compression", compressed("zstd", b"\x90")),
        (
            "packed entries that are not msgpack",
            compressed("text", b"\x92\xc1"),
        ),
    ];
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let mut bad = connect(server.addr);
        // A good frame first, answered as usual.
        bad.write_all(&message("ok", name, Some("k"))).unwrap();
        let mut ack = [0u8; 7];
        bad.read_exact(&mut ack).unwrap();
        assert_eq!(&ack, b"\x81\xa3ack\xa1k", "{name}");
        assert_eq!(text(&server.events(1)[0], "message"), *name);
        let started = Instant::now();
        // The server may close before taking everything: a failed write is expected.
        let _ = bad.write_all(bytes);
        let answer = read_until_closed(&mut bad);
        assert!(answer.is_empty(), "{name}: answered {answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: closed at once, no waiting for declared bytes"
        );
        assert_eq!(
            server.count(|s| &s.protocol_errors),
            i as u64 + 1,
            "{name}: counted"
        );
    }
    let mut errors = cases.len() as u64;

    // A good frame and garbage in one write: the good one is delivered and acked, then the
    // connection closes.
    let mut mixed = connect(server.addr);
    let mut bytes = message("ok", "then garbage", Some("m"));
    bytes.extend_from_slice(&[0xc1, 0x00]);
    mixed.write_all(&bytes).unwrap();
    assert_eq!(read_until_closed(&mut mixed), b"\x81\xa3ack\xa1m");
    assert_eq!(text(&server.events(1)[0], "message"), "then garbage");
    errors += 1;

    // Not JSON after all.
    let mut json = connect(server.addr);
    json.write_all(b"[\"t\", 1, {\"a\": nope}]").unwrap();
    assert!(read_until_closed(&mut json).is_empty());
    errors += 1;
    assert_eq!(server.count(|s| &s.protocol_errors), errors);

    // A frame cut short by the client closing.
    let mut cut = connect(server.addr);
    cut.write_all(&message("cut", "never", None)[..10]).unwrap();
    cut.shutdown(std::net::Shutdown::Write).unwrap();
    read_until_closed(&mut cut);
    let deadline = Instant::now() + PATIENCE;
    while server.count(|s| &s.protocol_errors) < errors + 1 {
        assert!(Instant::now() < deadline, "truncation not counted");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Wrongly typed entries are skipped, the rest of the frame kept.
    let mut typed = connect(server.addr);
    typed
        .write_all(&mp_array(&[
            mp_str("typed"),
            mp_array(&[
                mp_array(&[mp_str("not a time"), mp_map(&[])]),
                mp_array(&[mp_int(BASE as u32), mp_str("not a record")]),
                mp_array(&[mp_int(BASE as u32), mp_map(&[("log", mp_str("kept"))])]),
            ]),
        ]))
        .unwrap();
    assert_eq!(text(&server.events(1)[0], "message"), "kept");
    assert_eq!(server.count(|s| &s.entries_skipped), 2);

    // The first connection never noticed.
    good.write_all(&message("good", "after", Some("g")))
        .unwrap();
    let mut ack = [0u8; 7];
    good.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"\x81\xa3ack\xa1g");
    assert_eq!(text(&server.events(1)[0], "message"), "after");
    server.nothing_within(Duration::from_millis(100));
    server.stop();
}

#[test]
fn json_frames_get_json_acks() {
    let server = start(ForwardOptions::default());
    let mut client = connect(server.addr);
    client
        .write_all(
            b"[\"j\", 1700000000, {\"log\": \"one\"}, {\"chunk\": \"j1\"}]\n\
              [\"j\", [[1700000001, {\"log\": \"two\"}], [1700000002.5, {\"log\": \"three\"}]]]\n",
        )
        .unwrap();
    let mut ack = [0u8; 12];
    client.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, br#"{"ack":"j1"}"#);
    let events = server.events(3);
    let logs: Vec<_> = events.iter().map(|e| text(e, "message")).collect();
    assert_eq!(logs, vec!["one", "two", "three"]);
    assert_eq!(
        stamp(&events[2]),
        Timestamp::from_millis((BASE + 2) * 1000 + 500)
    );
    server.stop();
}

#[test]
fn tag_log_source_address_and_join_options() {
    let server = start(ForwardOptions {
        tag_field: "[fluentd][tag]".into(),
        log_field: String::new(),
        source_address_field: Some("[host][ip]".into()),
        join_partials: false,
        ..ForwardOptions::default()
    });
    let mut client = connect(server.addr);
    client
        .write_all(&message("my.tag", "as sent", None))
        .unwrap();
    let events = server.events(1);
    let e = &events[0];
    assert_eq!(text(e, "[fluentd][tag]"), "my.tag");
    assert!(e.get_field("tags").is_none());
    assert_eq!(text(e, "log"), "as sent");
    assert!(e.get_field("message").is_none());
    assert_eq!(text(e, "[host][ip]"), "127.0.0.1");

    // Without joining, a piece of a split line is passed on as sent.
    client
        .write_all(&mp_array(&[
            mp_str("docker"),
            mp_int(BASE as u32),
            mp_map(&[
                ("log", mp_str("piece")),
                ("partial_message", mp_str("true")),
                ("partial_id", mp_str("p")),
                ("partial_ordinal", mp_str("1")),
                ("partial_last", mp_str("false")),
            ]),
        ]))
        .unwrap();
    let events = server.events(1);
    assert_eq!(text(&events[0], "log"), "piece");
    assert_eq!(text(&events[0], "partial_id"), "p");
    server.stop();
}

#[test]
fn shutdown_is_prompt_with_idle_and_half_sent_connections() {
    let server = start(ForwardOptions::default());
    let _idle = connect(server.addr);
    let mut half = connect(server.addr);
    half.write_all(&message("t", "x", None)[..5]).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while server.count(|s| &s.connections) < 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stop();
}

#[test]
fn tls_connections() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        certified.key_pair.serialize_pem(),
    )
    .unwrap();
    let server = start(ForwardOptions {
        ssl_enabled: true,
        ssl_certificate: Some(dir.path().join("cert.pem")),
        ssl_key: Some(dir.path().join("key.pem")),
        ..ForwardOptions::default()
    });
    let connector = tokio_native_tls::native_tls::TlsConnector::builder()
        .add_root_certificate(
            tokio_native_tls::native_tls::Certificate::from_pem(cert_pem.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let mut tls = connector
        .connect("localhost", connect(server.addr))
        .unwrap();
    tls.write_all(&message("secure", "over tls", Some("t1")))
        .unwrap();
    let mut ack = [0u8; 8];
    tls.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"\x81\xa3ack\xa2t1");
    assert_eq!(text(&server.events(1)[0], "message"), "over tls");

    // A plain-text client is refused without disturbing anything.
    let mut plain = connect(server.addr);
    plain.write_all(&message("plain", "no", None)).unwrap();
    read_until_closed(&mut plain);
    server.nothing_within(Duration::from_millis(100));
    server.stop();
}

#[test]
fn options_are_checked_when_the_config_is_built() {
    let env = &common::no_env;
    common::plan_of(
        "input { forward { port => 24224 tag_field => \"[fluentd][tag]\" max_message_size => 1048576 partial_timeout => 2.5 } }",
        env,
    );
    let typo = common::build_error("input { forward { tag_feild => \"x\" } }", env);
    assert!(typo.contains("tag_field"), "{typo}");
    let tls = common::build_error("input { forward { ssl_enabled => true } }", env);
    assert!(
        tls.contains("ssl_certificate: required when ssl_enabled is true")
            && tls.contains("ssl_key: required"),
        "{tls}"
    );
    let off = common::build_error("input { forward { ssl_key_passphrase => \"x\" } }", env);
    assert!(
        off.contains("ssl_key_passphrase: needs ssl_enabled => true"),
        "{off}"
    );
    let pki = Pki::new();
    let auth = common::build_error(
        &format!(
            "input {{ forward {{ {} ssl_client_authentication => \"required\" }} }}",
            pki.server_options("")
        ),
        env,
    );
    assert!(
        auth.contains("ssl_client_authentication: client certificates are verified against ssl_certificate_authorities"),
        "{auth}"
    );
    let stranger_key = common::build_error(
        &format!(
            "input {{ forward {{ ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\" }} }}",
            pki.path("server.crt"),
            pki.path("client.key")
        ),
        env,
    );
    assert!(
        stranger_key.contains("ssl_key: the key does not belong to the certificate"),
        "{stranger_key}"
    );
    let size = common::build_error("input { forward { max_message_size => 10 } }", env);
    assert!(size.contains("at least 1024"), "{size}");
    let tag = common::build_error("input { forward { tag_field => \"[a][%{b}]\" } }", env);
    assert!(tag.contains("plain field reference"), "{tag}");
}

/// `who` gets nothing through: with TLS 1.3 the server's verdict comes after the client's
/// handshake (no ack comes), with TLS 1.2 the handshake itself fails.
fn assert_turned_away(pki: &Pki, port: u16, who: Identity) {
    if let Ok(mut tls) = pki.connect(port, who, false) {
        let probe = message("intruder", "no", Some("x1"));
        assert!(pki::refused(&mut tls, &probe), "{who:?} was let in");
    }
    assert!(pki.connect(port, who, true).is_err(), "{who:?} was let in");
}

/// Sends one acknowledged message as `who` and checks the ack.
fn send_acked(pki: &Pki, port: u16, who: Identity, log: &str) {
    let mut tls = pki.connect(port, who, false).expect("TLS handshake");
    tls.write_all(&message("mtls", log, Some("c1"))).unwrap();
    let mut ack = [0u8; 8];
    tls.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"\x81\xa3ack\xa2c1");
}

#[test]
fn tls_client_certificates_required_and_optional() {
    let pki = Pki::new();
    for auth in [
        ClientAuthentication::Required,
        ClientAuthentication::Optional,
    ] {
        let server = start(ForwardOptions {
            ssl_enabled: true,
            ssl_certificate: Some(pki.path("server.crt").into()),
            ssl_key: Some(pki.path("server-encrypted.key").into()),
            ssl_key_passphrase: Some(pki::PASSPHRASE.into()),
            ssl_certificate_authorities: vec![pki.path("ca.crt").into()],
            ssl_client_authentication: Some(auth),
            ..ForwardOptions::default()
        });
        let port = server.addr.port();
        // A certificate from another CA never gets in; no certificate only when optional.
        assert_turned_away(&pki, port, Identity::Stranger);
        let mut refused = 2;
        if auth == ClientAuthentication::Required {
            assert_turned_away(&pki, port, Identity::Anonymous);
            refused += 2;
        } else {
            send_acked(&pki, port, Identity::Anonymous, "anonymous");
            assert_eq!(text(&server.events(1)[0], "message"), "anonymous");
        }
        send_acked(&pki, port, Identity::Client, "certified");
        assert_eq!(text(&server.events(1)[0], "message"), "certified");
        server.nothing_within(Duration::from_millis(100));
        let deadline = Instant::now() + PATIENCE;
        while server.count(|s| &s.tls_failures) < refused {
            assert!(Instant::now() < deadline, "{auth:?}: failures not counted");
            std::thread::sleep(Duration::from_millis(5));
        }
        server.stop();
    }
}
