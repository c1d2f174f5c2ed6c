//! The `flume` input over real sockets. A hand-written Avro RPC client (Netty frames, the
//! handshake, `append` and `appendBatch` encoded from the protocol description) checks the
//! handshake (NONE, then the protocol, then BOTH; CLIENT for a wrong server hash; BOTH with
//! the minimal reply on a later connection), events with headers and `@timestamp`, a batch of
//! 1000, deflate, TLS with client certificates, that `OK` waits until the events are queued,
//! that shutdown answers `FAILED`, and that malformed frames close their own connection only.
//! Python's `avro.ipc` requestor (over a Netty-framing transceiver written for it, with
//! Python's zlib for deflate) is a second, independent client.
//!
//! Each test runs the input on a runtime of its own ([`Harness`]) and reads the batches it
//! sends; everything waits with deadlines.

mod common;
mod pki;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use sluice::event::{Batch, Event, Value};

const PATIENCE: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
/// What the test client says its protocol is (any text: the server only hashes it).
const CLIENT_PROTOCOL: &str = r#"{"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","types":[],"messages":{}}"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Harness {
    running: common::input::Running,
    port: u16,
}

impl Harness {
    fn start(options: &str) -> Harness {
        Harness::start_with(options, 64, 125)
    }

    fn start_with(options: &str, capacity: usize, batch_size: usize) -> Harness {
        let port = free_port();
        let config = format!(
            "input {{ flume {{ host => \"127.0.0.1\" port => {port} {options} }} }}\n\
             output {{ null {{}} }}"
        );
        let mut plan = common::plan_of(&config, &common::no_env);
        let planned = plan.inputs.remove(0);
        let decoration = planned.decoration;
        let running = common::input::Running::spawn(planned.input, capacity, |ctx| {
            ctx.with_decoration(decoration).with_batch_size(batch_size)
        });
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nothing listens on {port}");
            std::thread::sleep(Duration::from_millis(10));
        }
        Harness { running, port }
    }

    fn connect(&self) -> Client {
        Client::new(self.port, false)
    }

    fn batch(&self, within: Duration) -> Option<Batch> {
        self.running.next_batch(within)
    }

    fn events(&self, n: usize) -> Vec<Event> {
        self.running.events(n)
    }

    fn stop(&mut self) {
        self.running.shut_down_within(PATIENCE);
    }
}

fn message(e: &Event) -> String {
    common::get(e, "message")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no message in {e:?}"))
        .to_string()
}

// Avro binary encoding, from the specification.

fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// An `AvroFlumeEvent`: `map<string> headers`, `bytes body`.
fn flume_event(out: &mut Vec<u8>, headers: &[(&str, &str)], body: &[u8]) {
    if !headers.is_empty() {
        long(out, headers.len() as i64);
        for (k, v) in headers {
            bytes(out, k.as_bytes());
            bytes(out, v.as_bytes());
        }
    }
    long(out, 0);
    bytes(out, body);
}

/// `appendBatch`'s parameter: an array of events, in blocks of 100 (some with byte sizes).
fn batch_params(bodies: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, chunk) in bodies.chunks(100).enumerate() {
        let mut block = Vec::new();
        for body in chunk {
            flume_event(&mut block, &[], body.as_bytes());
        }
        if i % 2 == 0 {
            long(&mut out, chunk.len() as i64);
        } else {
            long(&mut out, -(chunk.len() as i64));
            long(&mut out, block.len() as i64);
        }
        out.extend(block);
    }
    long(&mut out, 0);
    out
}

struct AvroReader<'a>(&'a [u8]);

impl AvroReader<'_> {
    fn long(&mut self) -> i64 {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let b = self.0[0];
            self.0 = &self.0[1..];
            n |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return (n >> 1) as i64 ^ -((n & 1) as i64);
            }
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = self.long() as usize;
        let out = self.0[..n].to_vec();
        self.0 = &self.0[n..];
        out
    }
}

/// The server's answer to one call.
#[derive(Debug, PartialEq)]
struct Answer {
    serial: i32,
    /// The handshake's match (0 BOTH, 1 CLIENT, 2 NONE), on the first call of a connection.
    handshake: Option<i64>,
    server_protocol: Option<String>,
    server_hash: Option<Vec<u8>>,
    /// The status symbol (0 OK, 1 FAILED), or the error message; neither for a NONE or ping.
    status: Option<i64>,
    error: Option<String>,
    raw: Vec<u8>,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A Flume Avro sink as written for these tests.
struct Client {
    stream: Box<dyn Stream>,
    /// The TCP socket under the stream (to change its read timeout).
    tcp: TcpStream,
    serial: i32,
    handshaken: bool,
    client_hash: [u8; 16],
    server_hash: [u8; 16],
    zlib: Option<(Compress, Decompress)>,
    plain: Vec<u8>,
}

impl Client {
    fn new(port: u16, deflate: bool) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Client::over(Box::new(tcp.try_clone().unwrap()), tcp, deflate)
    }

    fn over(stream: Box<dyn Stream>, tcp: TcpStream, deflate: bool) -> Client {
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let client_hash = [7; 16];
        Client {
            stream,
            tcp,
            serial: 0,
            handshaken: false,
            client_hash,
            // What a Java client guesses first: its own hash.
            server_hash: client_hash,
            zlib: deflate.then(|| {
                (
                    Compress::new(Compression::fast(), true),
                    Decompress::new(true),
                )
            }),
            plain: Vec::new(),
        }
    }

    fn request(&mut self, send_protocol: bool, message: &str, params: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.handshaken {
            out.extend_from_slice(&self.client_hash);
            if send_protocol {
                long(&mut out, 1);
                bytes(&mut out, CLIENT_PROTOCOL.as_bytes());
            } else {
                long(&mut out, 0);
            }
            out.extend_from_slice(&self.server_hash);
            long(&mut out, 0);
        }
        long(&mut out, 0); // call metadata
        bytes(&mut out, message.as_bytes());
        out.extend_from_slice(params);
        out
    }

    /// Sends a payload as a Netty frame cut into buffers of at most 8 KiB (as Avro's Java
    /// transceiver does).
    fn send_frame(&mut self, payload: &[u8]) {
        self.serial += 1;
        let chunks: Vec<&[u8]> = payload.chunks(8192).collect();
        let mut frame = self.serial.to_be_bytes().to_vec();
        frame.extend((chunks.len() as i32).to_be_bytes());
        for c in chunks {
            frame.extend((c.len() as i32).to_be_bytes());
            frame.extend_from_slice(c);
        }
        self.send_raw(&frame);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.zlib {
            None => self.stream.write_all(bytes).unwrap(),
            Some((deflater, _)) => {
                let mut out = Vec::new();
                let mut input = bytes;
                loop {
                    out.reserve(input.len() + 1024);
                    let before = deflater.total_in();
                    deflater
                        .compress_vec(input, &mut out, FlushCompress::Sync)
                        .unwrap();
                    input = &input[(deflater.total_in() - before) as usize..];
                    if input.is_empty() && out.len() < out.capacity() {
                        break;
                    }
                }
                self.stream.write_all(&out).unwrap();
            }
        }
    }

    /// Reads plain bytes until `n` are buffered; false if the server closed first.
    fn fill(&mut self, n: usize) -> bool {
        while self.plain.len() < n {
            let mut chunk = [0; 65536];
            let read = match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(read) => read,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("read failed: {e}"),
            };
            match &mut self.zlib {
                None => self.plain.extend_from_slice(&chunk[..read]),
                Some((_, inflater)) => {
                    let mut out = Vec::with_capacity(read * 20 + 1024);
                    inflater
                        .decompress_vec(&chunk[..read], &mut out, FlushDecompress::Sync)
                        .unwrap();
                    self.plain.extend(out);
                }
            }
        }
        true
    }

    /// The next reply frame's serial and payload; `None` when the server closed.
    fn read_frame(&mut self) -> Option<(i32, Vec<u8>)> {
        if !self.fill(8) {
            return None;
        }
        let serial = i32::from_be_bytes(self.plain[..4].try_into().unwrap());
        let count = i32::from_be_bytes(self.plain[4..8].try_into().unwrap());
        self.plain.drain(..8);
        let mut payload = Vec::new();
        for _ in 0..count {
            assert!(self.fill(4));
            let len = i32::from_be_bytes(self.plain[..4].try_into().unwrap()) as usize;
            assert!(self.fill(4 + len));
            payload.extend_from_slice(&self.plain[4..4 + len]);
            self.plain.drain(..4 + len);
        }
        Some((serial, payload))
    }

    fn answer(&mut self, ping: bool) -> Option<Answer> {
        let (serial, raw) = self.read_frame()?;
        let mut r = AvroReader(&raw);
        let mut answer = Answer {
            serial,
            handshake: None,
            server_protocol: None,
            server_hash: None,
            status: None,
            error: None,
            raw: raw.clone(),
        };
        if !self.handshaken {
            let verdict = r.long();
            answer.handshake = Some(verdict);
            if r.long() == 1 {
                answer.server_protocol = Some(String::from_utf8(r.bytes()).unwrap());
            }
            if r.long() == 1 {
                let hash = r.0[..16].to_vec();
                r.0 = &r.0[16..];
                self.server_hash.copy_from_slice(&hash);
                answer.server_hash = Some(hash);
            }
            assert_eq!(r.long(), 0, "no handshake metadata");
            if verdict == 2 {
                assert!(r.0.is_empty(), "a NONE answer carries nothing else");
                return Some(answer);
            }
            self.handshaken = true;
        }
        if ping {
            return Some(answer);
        }
        assert_eq!(r.long(), 0, "no response metadata");
        match r.long() {
            0 => answer.status = Some(r.long()),
            _ => {
                assert_eq!(r.long(), 0, "the system error branch");
                answer.error = Some(String::from_utf8(r.bytes()).unwrap());
            }
        }
        assert!(r.0.is_empty(), "trailing bytes in {raw:?}");
        Some(answer)
    }

    /// A call as a Java client makes it: without its protocol first, again with it after NONE.
    fn call(&mut self, message: &str, params: &[u8]) -> Answer {
        let payload = self.request(false, message, params);
        self.send_frame(&payload);
        let answer = self.answer(false).expect("an answer");
        if answer.handshake != Some(2) {
            return answer;
        }
        let payload = self.request(true, message, params);
        self.send_frame(&payload);
        self.answer(false).expect("an answer")
    }

    fn append(&mut self, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut params = Vec::new();
        flume_event(&mut params, headers, body.as_bytes());
        self.call("append", &params)
    }

    fn append_batch(&mut self, bodies: &[String]) -> Answer {
        self.call("appendBatch", &batch_params(bodies))
    }

    /// True once the server closed the connection (within PATIENCE).
    fn closed(&mut self) -> bool {
        self.plain.clear();
        !self.fill(1)
    }
}

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

#[test]
fn handshake_then_append_and_a_batch_of_1000() {
    let h = Harness::start("");
    let mut c = h.connect();
    // The first try without the protocol: NONE, with the server's protocol and hash.
    let payload = c.request(false, "append", &{
        let mut p = Vec::new();
        flume_event(&mut p, &[], b"never");
        p
    });
    c.send_frame(&payload);
    let none = c.answer(false).unwrap();
    assert_eq!((none.serial, none.handshake), (1, Some(2)));
    let protocol = none.server_protocol.expect("the server's protocol");
    let parsed: serde_json::Value = serde_json::from_str(&protocol).unwrap();
    assert_eq!(parsed["protocol"], "AvroSourceProtocol");
    assert_eq!(parsed["namespace"], "org.apache.flume.source.avro");
    assert!(parsed["messages"]["appendBatch"].is_object());
    let hash = none.server_hash.expect("the server's hash");
    assert_eq!(hash, md5_of(&protocol));
    assert!(
        h.batch(QUIET).is_none(),
        "a call answered NONE is not processed"
    );

    // Again with the protocol and the server hash it just learnt: BOTH, then OK.
    let payload = c.request(true, "append", &{
        let mut p = Vec::new();
        let headers = [("host", "web1"), ("timestamp", "1700000000123")];
        flume_event(&mut p, &headers, b"hello flume");
        p
    });
    c.send_frame(&payload);
    let first = c.answer(false).unwrap();
    assert_eq!(
        (first.serial, first.handshake, first.status),
        (2, Some(0), Some(0))
    );
    let event = &h.events(1)[0];
    assert_eq!(message(event), "hello flume");
    assert_eq!(
        common::get(event, "[flume][headers][host]").and_then(Value::as_str),
        Some("web1")
    );
    assert_eq!(event.timestamp().unwrap().millis(), 1_700_000_000_123);

    // Later calls carry no handshake.
    let all = bodies("line", 1000);
    let answer = c.append_batch(&all);
    assert_eq!((answer.handshake, answer.status), (None, Some(0)));
    let got: Vec<String> = h.events(1000).iter().map(message).collect();
    assert_eq!(got, all);

    // A new connection from the same client, now with the right server hash: BOTH, and the
    // minimal reply.
    let mut again = h.connect();
    again.server_hash = c.server_hash;
    let answer = again.append(&[], "second connection");
    assert_eq!(answer.handshake, Some(0));
    assert_eq!(answer.raw, [0, 0, 0, 0, 0, 0, 0]);
    let event = &h.events(1)[0];
    assert_eq!(message(event), "second connection");
    assert!(
        common::get(event, "flume").is_none(),
        "no headers, no field"
    );
}

fn md5_of(text: &str) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes()).to_vec()
}

#[test]
fn pings_unknown_messages_and_headers_target() {
    let h = Harness::start(
        "headers_target => \"[meta]\" add_field => { \"from\" => \"%{[meta][app]}\" }",
    );
    let mut c = h.connect();
    let first = c.append(&[("app", "shop")], "x");
    assert_eq!(first.status, Some(0));
    let event = &h.events(1)[0];
    assert_eq!(
        common::get(event, "[meta][app]").and_then(Value::as_str),
        Some("shop")
    );
    // Headers are in place before the shared options apply.
    assert_eq!(
        common::get(event, "from").and_then(Value::as_str),
        Some("shop")
    );

    let unknown = c.call("send", &[]);
    assert_eq!(unknown.status, None);
    assert!(unknown.error.unwrap().contains("send"));
    assert_eq!(c.append(&[], "still served").status, Some(0));
    assert_eq!(message(&h.events(1)[0]), "still served");

    // A handshake-only request on a fresh connection: the handshake answer alone.
    let mut p = h.connect();
    p.server_hash = c.server_hash;
    p.client_hash = c.client_hash;
    let payload = p.request(false, "", &[]);
    p.send_frame(&payload);
    let ping = p.answer(true).unwrap();
    assert_eq!((ping.handshake, ping.raw.len()), (Some(0), 4));
}

#[test]
fn deflate_compresses_both_ways() {
    let h = Harness::start("compression_type => \"deflate\"");
    let mut c = Client::new(h.port, true);
    // Over a megabyte once inflated: more than one inflate step.
    let padding = "z".repeat(4000);
    let all: Vec<String> = bodies("zipped", 300)
        .into_iter()
        .map(|b| format!("{b} {padding}"))
        .collect();
    assert_eq!(c.append_batch(&all).status, Some(0));
    assert_eq!(c.append(&[("k", "v")], "one more").status, Some(0));
    let got: Vec<String> = h.events(301).iter().map(message).collect();
    assert_eq!(&got[..300], &all[..]);
    assert_eq!(got[300], "one more");
}

#[test]
fn ok_waits_until_the_events_are_queued() {
    // A queue of one batch of 10 events, nobody reading it.
    let h = Harness::start_with("", 1, 10);
    let mut c = h.connect();
    let all = bodies("held", 50);
    let payload = c.request(true, "appendBatch", &batch_params(&all));
    c.send_frame(&payload);
    c.tcp.set_read_timeout(Some(QUIET)).unwrap();
    let mut byte = [0; 1];
    let early = c.stream.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered before the events were queued: {early:?}"
    );
    c.tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let got: Vec<String> = h.events(50).iter().map(message).collect();
    assert_eq!(got, all);
    let answer = c.answer(false).unwrap();
    // The client sent its protocol with a wrong guess of the server hash: CLIENT, and the
    // server's hash.
    assert_eq!((answer.handshake, answer.status), (Some(1), Some(0)));
    assert_eq!(answer.server_hash, Some(c.server_hash.to_vec()));
}

#[test]
fn shutdown_answers_failed_when_the_events_cannot_be_queued() {
    let mut h = Harness::start_with("", 1, 10);
    let mut c = h.connect();
    let payload = c.request(true, "appendBatch", &batch_params(&bodies("stuck", 50)));
    c.send_frame(&payload);
    std::thread::sleep(QUIET);
    let idle = h.connect();
    h.stop();
    let answer = c
        .answer(false)
        .expect("an answer before the connection closes");
    assert_eq!(answer.status, Some(1), "FAILED");
    assert!(c.closed());
    let mut idle = idle;
    assert!(idle.closed(), "idle connections are closed at shutdown");
}

#[test]
fn malformed_frames_close_their_connection_only() {
    let h = Harness::start("max_frame_size => 4096");
    let mut good = h.connect();
    assert_eq!(good.append(&[], "before").status, Some(0));

    // A frame that stops halfway stays open without holding anyone up.
    let mut partial = h.connect();
    partial.send_raw(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 100, 1, 2, 3]);

    let bad: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], // negative buffer count
        vec![0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0, 0, 0], // negative length
        vec![0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff], // over max_frame_size
        {
            // A well-framed payload that is not a handshake: a huge protocol length.
            let mut f = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 26];
            f.extend([7; 16]);
            f.extend([2]);
            f.extend([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
            f
        },
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ];
    // (HTTP reads as a frame of 0x2f204854 buffers whose first is too large.)
    for (i, bytes) in bad.iter().enumerate() {
        let mut c = h.connect();
        c.send_raw(bytes);
        assert!(c.closed(), "malformed input {i} closes its connection");
    }
    // A frame declaring a huge number of buffers, then more zero-length ones than fit.
    let mut many = h.connect();
    let mut f = vec![0, 0, 0, 1, 0, 0x10, 0, 0];
    f.extend(vec![0; 4 * 2000]);
    many.send_raw(&f);
    assert!(many.closed(), "empty buffers count against max_frame_size");

    assert_eq!(good.append(&[], "after").status, Some(0));
    let got: Vec<String> = h.events(2).iter().map(message).collect();
    assert_eq!(got, ["before", "after"]);
    assert!(
        h.batch(QUIET).is_none(),
        "nothing from the malformed connections"
    );
    // The half-sent frame's connection is still open, waiting for the rest.
    partial.tcp.set_read_timeout(Some(QUIET)).unwrap();
    let waiting = partial.stream.read(&mut [0; 1]);
    assert!(
        matches!(&waiting, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "{waiting:?}"
    );
}

#[test]
fn tls_with_client_certificates() {
    let pki = pki::Pki::new();
    let options = pki.server_options(&format!(
        "ssl_certificate_authorities => \"{}\" ssl_client_authentication => \"required\"",
        pki.path("ca.crt")
    ));
    let h = Harness::start(&options);
    let tls = pki
        .connect(h.port, pki::Identity::Client, false)
        .expect("the handshake succeeds");
    let tcp = tls.get_ref().try_clone().unwrap();
    let mut c = Client::over(Box::new(tls), tcp, false);
    assert_eq!(c.append_batch(&bodies("secret", 5)).status, Some(0));
    let got: Vec<String> = h.events(5).iter().map(message).collect();
    assert_eq!(got, bodies("secret", 5));

    // Without a certificate the connection is turned away, and nothing arrives.
    if let Ok(mut anonymous) = pki.connect(h.port, pki::Identity::Anonymous, false) {
        assert!(pki::refused(&mut anonymous, &[0, 0, 0, 1]));
    }
    assert!(h.batch(QUIET).is_none());
}

#[test]
fn build_errors() {
    let err = common::build_error(
        "input { flume { port => 1 compression_type => \"gzip\" } } output { null {} }",
        &common::no_env,
    );
    assert!(err.contains("compression_type"), "{err}");
    let err = common::build_error(
        "input { flume { port => 1 headers_target => \"[bad\" } } output { null {} }",
        &common::no_env,
    );
    assert!(err.contains("headers_target"), "{err}");
    let err = common::build_error("input { flume { } } output { null {} }", &common::no_env);
    assert!(err.contains("port"), "{err}");
}

/// Python's avro.ipc requestor: its own handshake and encoding, over a transceiver that
/// speaks Netty framing (one connection per call, as it sends a handshake with every call).
const PYTHON_CLIENT: &str = r#"
import io, socket, struct, sys, zlib
import avro.ipc, avro.protocol

PROTOCOL = avro.protocol.parse('''{"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro",
 "types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},
  {"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}],
 "messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"response":"Status"},
  "appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"response":"Status"}}}''')

class NettyTransceiver:
    remote_name = "flume-under-test"
    def __init__(self, port, deflate):
        self.port = port
        self.serial = 0
        self.deflate = deflate
    def read_exactly(self, sock, n):
        while len(self.buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += self.inflater.decompress(chunk) if self.deflate else chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data
    def transceive(self, request):
        self.serial += 1
        sock = socket.create_connection(("127.0.0.1", self.port))
        self.buf = b""
        frame = struct.pack(">ii", self.serial, 1) + struct.pack(">i", len(request)) + request
        if self.deflate:
            # Each connection is a zlib stream each way.
            deflater = zlib.compressobj(6)
            self.inflater = zlib.decompressobj()
            frame = deflater.compress(frame) + deflater.flush(zlib.Z_SYNC_FLUSH)
        sock.sendall(frame)
        serial, count = struct.unpack(">ii", self.read_exactly(sock, 8))
        assert serial == self.serial, (serial, self.serial)
        payload = b""
        for _ in range(count):
            (n,) = struct.unpack(">i", self.read_exactly(sock, 4))
            payload += self.read_exactly(sock, n)
        sock.close()
        return payload

transceiver = NettyTransceiver(int(sys.argv[1]), sys.argv[2] == "deflate")
requestor = avro.ipc.Requestor(PROTOCOL, transceiver)
print(requestor.request("append", {"event": {"headers": {"via": "python"}, "body": b"from python"}}))
events = [{"headers": {}, "body": ("py %d" % i).encode()} for i in range(20)]
print(requestor.request("appendBatch", {"events": events}))
"#;

#[test]
fn python_avro_ipc_client() {
    python_client("", "none");
}

#[test]
fn python_avro_ipc_client_with_python_zlib() {
    python_client("compression_type => \"deflate\"", "deflate");
}

fn python_client(options: &str, compression: &str) {
    let h = Harness::start(options);
    let output = Command::new("python3")
        .args(["-c", PYTHON_CLIENT, &h.port.to_string(), compression])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["OK", "OK"]);
    let events = h.events(21);
    assert_eq!(message(&events[0]), "from python");
    assert_eq!(
        common::get(&events[0], "[flume][headers][via]").and_then(Value::as_str),
        Some("python")
    );
    let rest: Vec<String> = events[1..].iter().map(message).collect();
    assert_eq!(rest, bodies("py", 20));
}
