//! The `relp` input, over real sockets: a hand-written RELP client checks the protocol (open,
//! syslog, close, a pipelined window answered in order and only once queued, unknown commands,
//! malformed frames, truncation, shutdown), native-tls and OpenSSL clients check `ssl_enable`
//! (client certificates from the right CA, a stranger CA and none; encrypted keys), and the
//! real rsyslog daemon (`rsyslogd` with `omrelp`, fed through `imtcp`) checks that every line
//! arrives — also across a restart of the input, through a slow, full pipeline, and over TLS
//! with a client certificate.
//!
//! Each test builds the input from config text and runs it on a runtime of its own
//! ([`Harness`]); the test reads the batches it sends. Everything waits with deadlines, and
//! [`Rsyslog`] kills the daemon when dropped, so a misbehaving peer fails a test instead of
//! hanging it.

mod common;
mod pki;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sluice::event::{Batch, Event};
use sluice::inputs::{InputContext, InputError};

use pki::{Identity, Pki};

/// How long a test waits for something that should happen well within it.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test waits to be sure something does not happen.
const QUIET: Duration = Duration::from_millis(300);
/// What a hand-written client offers in `open`, as librelp does.
const OFFERS: &str =
    "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A relp input built from `input { relp { ... } }`, running on its own runtime.
struct Harness {
    running: common::input::Running,
    port: u16,
}

impl Harness {
    /// Default queue and batch size, fresh port.
    fn start(options: &str) -> Harness {
        Harness::start_with(free_port(), options, 64, 125)
    }

    /// An input on `port` whose queue holds `capacity` batches of at most `batch_size`.
    fn start_with(port: u16, options: &str, capacity: usize, batch_size: usize) -> Harness {
        let config = format!(
            "input {{ relp {{ host => \"127.0.0.1\" port => {port} {options} }} }}\n\
             output {{ null {{}} }}"
        );
        let mut plan = common::plan_of(&config, &common::no_env);
        let planned = plan.inputs.remove(0);
        let decoration = planned.decoration;
        let running = common::input::Running::spawn(planned.input, capacity, |ctx| {
            ctx.with_decoration(decoration).with_batch_size(batch_size)
        });
        wait_for_listener(port);
        Harness { running, port }
    }

    fn connect(&self) -> Client {
        Client::tcp(self.port)
    }

    /// The next batch, if one comes within `within`.
    fn batch(&self, within: Duration) -> Option<Batch> {
        self.running.next_batch(within)
    }

    /// The next `n` events, in the order sent; fails the test if they do not come in time.
    fn events(&self, n: usize) -> Vec<Event> {
        self.running.events(n)
    }

    /// Requests shutdown and returns how long the input took to return (it must return Ok).
    fn stop(&mut self) -> Duration {
        self.running.shut_down_within(PATIENCE)
    }
}

/// Waits until something accepts connections on `port`.
fn wait_for_listener(port: u16) {
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn message(e: &Event) -> String {
    common::get(e, "message")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no message in {e:?}"))
        .to_string()
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A RELP client written for these tests: it sends raw bytes and reads frames.
struct Client {
    reader: BufReader<Box<dyn Stream>>,
    /// The TCP socket under the stream (to change its read timeout).
    tcp: TcpStream,
}

/// A frame the server sent.
#[derive(Debug, PartialEq)]
struct Reply {
    txnr: u32,
    command: String,
    data: String,
}

impl Reply {
    fn rsp(txnr: u32, data: &str) -> Reply {
        Reply {
            txnr,
            command: "rsp".into(),
            data: data.into(),
        }
    }

    fn serverclose() -> Reply {
        Reply {
            txnr: 0,
            command: "serverclose".into(),
            data: String::new(),
        }
    }
}

impl Client {
    fn tcp(port: u16) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        Client::over(tcp.try_clone().unwrap(), Box::new(tcp))
    }

    fn over(tcp: TcpStream, stream: Box<dyn Stream>) -> Client {
        Client {
            reader: BufReader::new(stream),
            tcp,
        }
    }

    fn local_port(&self) -> u16 {
        self.tcp.local_addr().unwrap().port()
    }

    fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    fn command(&mut self, txnr: u32, command: &str, data: &[u8]) {
        self.send(&frame(txnr, command, data));
    }

    /// Opens the session with librelp's offers and checks the answer.
    fn open(&mut self) {
        self.command(1, "open", OFFERS.as_bytes());
        let reply = self.reply().expect("an answer to open");
        assert_eq!((reply.txnr, reply.command.as_str()), (1, "rsp"));
        assert!(reply.data.starts_with("200 OK\n"), "{reply:?}");
    }

    /// The next frame from the server; `None` at end of stream.
    fn reply(&mut self) -> Option<Reply> {
        let txnr = self.field()?;
        let command = self.field().expect("a command");
        let mut digits = Vec::new();
        loop {
            let mut b = [0u8];
            self.reader.read_exact(&mut b).expect("DATALEN");
            match b[0] {
                b'0'..=b'9' => digits.push(b[0]),
                b' ' | b'\n' => {
                    let len: usize = String::from_utf8(digits).unwrap().parse().unwrap();
                    let mut data = vec![0u8; len];
                    if b[0] == b' ' {
                        self.reader.read_exact(&mut data).unwrap();
                        self.reader.read_exact(&mut b).unwrap();
                    }
                    assert_eq!(b[0], b'\n', "trailer");
                    return Some(Reply {
                        txnr: txnr.parse().unwrap(),
                        command,
                        data: String::from_utf8(data).unwrap(),
                    });
                }
                other => panic!("unexpected byte {other} in DATALEN"),
            }
        }
    }

    /// Reads up to the next space; `None` at end of stream.
    fn field(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b' ', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                assert_eq!(buf.pop(), Some(b' '), "field {buf:?}");
                Some(String::from_utf8(buf).unwrap())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// True if the server sends nothing for [`QUIET`].
    fn quiet(&mut self) -> bool {
        self.tcp.set_read_timeout(Some(QUIET)).unwrap();
        let mut b = [0u8];
        let quiet = match self.reader.read(&mut b) {
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            Ok(_) => false,
        };
        self.tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        quiet
    }

    /// Expects `serverclose`, then the end of the stream.
    fn expect_closed(&mut self) {
        assert_eq!(self.reply(), Some(Reply::serverclose()));
        assert_eq!(self.reply(), None, "the server closes the connection");
    }
}

fn frame(txnr: u32, command: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("{txnr} {command} {}", data.len()).into_bytes();
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
    out
}

// --- protocol -------------------------------------------------------------------------------

#[test]
fn open_syslog_close_round_trip() {
    let h = Harness::start("");
    let mut c = h.connect();
    c.command(1, "open", OFFERS.as_bytes());
    let open = c.reply().unwrap();
    assert_eq!((open.txnr, open.command.as_str()), (1, "rsp"));
    let lines: Vec<&str> = open.data.split('\n').collect();
    assert_eq!(lines[0], "200 OK");
    assert!(lines.contains(&"relp_version=0"), "{lines:?}");
    assert!(lines.contains(&"commands=syslog"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("relp_software=sluice,")));

    c.command(2, "syslog", b"<13>Jan  1 00:00:00 host app: hello relp");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let events = h.events(1);
    assert_eq!(
        message(&events[0]),
        "<13>Jan  1 00:00:00 host app: hello relp"
    );
    let host = format!("127.0.0.1:{}", c.local_port());
    assert_eq!(
        common::get(&events[0], "host").unwrap().as_str(),
        Some(&*host)
    );

    c.command(3, "close", b"");
    assert_eq!(c.reply(), Some(Reply::rsp(3, "200 OK")));
    c.expect_closed();
}

#[test]
fn shared_options_apply_and_host_is_the_client() {
    let h =
        Harness::start(r#"type => "relp" tags => ["t"] add_field => { "host" => "x" "f" => "v" }"#);
    let mut c = h.connect();
    c.open();
    c.command(2, "syslog", b"m");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let e = &h.events(1)[0];
    assert_eq!(common::get(e, "type").unwrap().as_str(), Some("relp"));
    assert_eq!(common::tags(e), ["t"]);
    assert_eq!(common::get(e, "f").unwrap().as_str(), Some("v"));
    // Logstash sets host after decorating: the client's address wins over add_field.
    let host = format!("127.0.0.1:{}", c.local_port());
    assert_eq!(common::get(e, "host").unwrap().as_str(), Some(&*host));
}

#[test]
fn a_pipelined_window_is_queued_in_few_batches_and_answered_in_order() {
    let h = Harness::start_with(free_port(), "", 64, 1000);
    let mut c = h.connect();
    let mut wire = frame(1, "open", OFFERS.as_bytes());
    for txnr in 2..=129 {
        wire.extend(frame(txnr, "syslog", format!("message {txnr}").as_bytes()));
    }
    c.send(&wire);
    let open = c.reply().unwrap();
    assert!(open.data.starts_with("200 OK"), "{open:?}");
    for txnr in 2..=129 {
        assert_eq!(c.reply(), Some(Reply::rsp(txnr, "200 OK")));
    }
    let mut batches = 0;
    let mut got = Vec::new();
    while got.len() < 128 {
        let batch = h.batch(PATIENCE).expect("the window's events");
        batches += 1;
        got.extend(batch.events.iter().map(message));
    }
    let want: Vec<String> = (2..=129).map(|t| format!("message {t}")).collect();
    assert_eq!(got, want);
    // One write of 128 frames: a batch per read, not per frame.
    assert!(batches <= 3, "{batches} batches for one window");
}

#[test]
fn answers_wait_until_the_events_are_queued() {
    // A queue of one batch, which nobody reads yet.
    let h = Harness::start_with(free_port(), "", 1, 125);
    let mut c = h.connect();
    c.open();
    c.command(2, "syslog", b"first");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")), "fits the queue");
    c.command(3, "syslog", b"second");
    assert!(c.quiet(), "no answer while the queue is full");
    let first = h.batch(PATIENCE).unwrap();
    assert_eq!(message(&first.events[0]), "first");
    assert_eq!(
        c.reply(),
        Some(Reply::rsp(3, "200 OK")),
        "answered once queued"
    );
    assert_eq!(message(&h.events(1)[0]), "second");
}

#[test]
fn unknown_commands_get_500_and_the_session_goes_on() {
    let h = Harness::start("");
    let mut c = h.connect();
    c.open();
    c.command(2, "starttls", b"");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "500 command not supported")));
    c.command(3, "open", OFFERS.as_bytes());
    let again = c.reply().unwrap();
    assert!(again.data.starts_with("500 "), "a second open: {again:?}");
    // A hint (transaction 0) is never answered.
    c.command(0, "abort", b"");
    c.command(4, "syslog", b"still here");
    assert_eq!(c.reply(), Some(Reply::rsp(4, "200 OK")));
    assert_eq!(message(&h.events(1)[0]), "still here");
}

#[test]
fn open_without_version_or_syslog_is_refused() {
    let h = Harness::start("");
    for offers in ["commands=syslog", "relp_version=0\ncommands=eventlog"] {
        let mut c = h.connect();
        c.command(1, "open", offers.as_bytes());
        let reply = c.reply().unwrap();
        assert!(reply.data.starts_with("500 "), "{offers:?}: {reply:?}");
        c.expect_closed();
    }
}

#[test]
fn syslog_before_open_is_refused() {
    let h = Harness::start("");
    let mut c = h.connect();
    c.command(1, "syslog", b"too early");
    assert_eq!(c.reply(), Some(Reply::rsp(1, "500 session not open")));
    c.expect_closed();
    assert!(h.batch(QUIET).is_none(), "nothing queued");
}

#[test]
fn malformed_frames_close_only_their_connection() {
    let h = Harness::start("");
    let mut bystander = h.connect();
    bystander.open();
    // After `open` (1) and a good frame (2), each of these is the third frame.
    let cases: &[&[u8]] = &[
        b"x syslog 1 a\n",
        b"3 sys!og 1 a\n",
        b"3 syslog many a\n",
        b"3 syslog 3 abcX\n",
        b"3 syslog 1234567890 a\n",
        b"7 syslog 1 a\n",
        b"2 syslog 1 a\n",
    ];
    for (i, bad) in cases.iter().enumerate() {
        let mut c = h.connect();
        c.open();
        // A good frame in the same write as the bad one is still queued and answered.
        let mut wire = frame(2, "syslog", format!("good {i}").as_bytes());
        wire.extend_from_slice(bad);
        c.send(&wire);
        assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")), "case {i}");
        c.expect_closed();
        assert_eq!(message(&h.events(1)[0]), format!("good {i}"));
    }
    // The other connection never noticed.
    bystander.command(2, "syslog", b"unaffected");
    assert_eq!(bystander.reply(), Some(Reply::rsp(2, "200 OK")));
    assert_eq!(message(&h.events(1)[0]), "unaffected");
}

#[test]
fn a_client_gone_mid_frame_loses_only_that_frame() {
    let h = Harness::start("");
    let mut c = h.connect();
    c.open();
    let mut wire = frame(2, "syslog", b"complete");
    wire.extend_from_slice(b"3 syslog 100 only part of it");
    c.send(&wire);
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    drop(c);
    assert_eq!(message(&h.events(1)[0]), "complete");
    assert!(h.batch(QUIET).is_none(), "the partial frame made no event");
    let mut next = h.connect();
    next.open();
    next.command(2, "syslog", b"next client");
    assert_eq!(next.reply(), Some(Reply::rsp(2, "200 OK")));
    assert_eq!(message(&h.events(1)[0]), "next client");
}

#[test]
fn long_messages_are_truncated_to_max_data_size() {
    let h = Harness::start("max_data_size => 100");
    let mut c = h.connect();
    c.open();
    let long = "0123456789".repeat(50);
    let kept = &long[..100];
    c.command(2, "syslog", long.as_bytes());
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    c.command(3, "syslog", b"short");
    assert_eq!(c.reply(), Some(Reply::rsp(3, "200 OK")));
    let got: Vec<String> = h.events(2).iter().map(message).collect();
    assert_eq!(got, [kept, "short"]);
}

#[test]
fn invalid_utf8_is_accepted_and_answered() {
    let h = Harness::start("");
    let mut c = h.connect();
    c.open();
    c.command(2, "syslog", b"bad \xff\xfe bytes");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let text = message(&h.events(1)[0]);
    assert!(
        text.starts_with("bad ") && text.ends_with(" bytes"),
        "{text:?}"
    );
}

#[test]
fn many_clients_at_once() {
    let h = Harness::start("");
    let threads: Vec<_> = (0..8)
        .map(|client| {
            let port = h.port;
            std::thread::spawn(move || {
                let mut c = Client::tcp(port);
                c.open();
                for n in 0..50u32 {
                    c.command(n + 2, "syslog", format!("c{client} n{n}").as_bytes());
                    assert_eq!(c.reply(), Some(Reply::rsp(n + 2, "200 OK")));
                }
                c.command(52, "close", b"");
                assert_eq!(c.reply(), Some(Reply::rsp(52, "200 OK")));
                c.expect_closed();
            })
        })
        .collect();
    let events = h.events(400);
    threads.into_iter().for_each(|t| t.join().unwrap());
    let mut per_client: HashMap<String, Vec<u32>> = HashMap::new();
    for e in &events {
        let m = message(e);
        let (client, n) = m.split_once(' ').unwrap();
        per_client
            .entry(client.to_string())
            .or_default()
            .push(n[1..].parse().unwrap());
    }
    assert_eq!(per_client.len(), 8);
    for numbers in per_client.values() {
        assert_eq!(
            *numbers,
            (0..50).collect::<Vec<_>>(),
            "each client in order"
        );
    }
}

// --- shutdown -------------------------------------------------------------------------------

#[test]
fn shutdown_says_serverclose_and_returns_promptly() {
    let mut h = Harness::start("");
    let mut c = h.connect();
    c.open();
    c.command(2, "syslog", b"before");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let took = h.stop();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    c.expect_closed();
    assert!(
        TcpStream::connect(("127.0.0.1", h.port)).is_err(),
        "no longer listening"
    );
}

#[test]
fn shutdown_with_a_full_queue_leaves_the_waiting_frame_unanswered() {
    let mut h = Harness::start_with(free_port(), "", 1, 125);
    let mut c = h.connect();
    c.open();
    c.command(2, "syslog", b"queued");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    c.command(3, "syslog", b"waiting");
    assert!(c.quiet(), "the queue is full");
    let took = h.stop();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    // No `rsp` for 3: the client will send it again.
    c.expect_closed();
    let queued = h.batch(PATIENCE).unwrap();
    assert_eq!(
        queued.events.iter().map(message).collect::<Vec<_>>(),
        ["queued"]
    );
    assert!(h.batch(QUIET).is_none());
}

// --- options --------------------------------------------------------------------------------

#[test]
fn option_errors() {
    let error = |options: &str| {
        common::build_error(
            &format!("input {{ relp {{ {options} }} }} output {{ null {{}} }}"),
            &common::no_env,
        )
    };
    assert!(error("").contains("port"), "port is required");
    assert!(error("port => 1 max_data_size => 0").contains("max_data_size"));
    assert!(error("port => 1 prot => 2").contains("prot"));
    // ssl_verify (the default) needs the CA that signs the clients' certificates.
    let verify = error("port => 1 ssl_enable => true ssl_cert => \"c\" ssl_key => \"k\"");
    assert!(
        verify.contains("ssl_verify: client certificates are verified against ssl_cacert"),
        "{verify}"
    );
    let missing = error("port => 1 ssl_enable => true ssl_verify => false");
    assert!(
        missing.contains("ssl_cert: required when ssl_enable"),
        "{missing}"
    );
    assert!(
        missing.contains("ssl_key: required when ssl_enable"),
        "{missing}"
    );
    let pki = Pki::new();
    let encrypted = |extra: &str| {
        error(&format!(
            "port => 1 ssl_enable => true ssl_verify => false ssl_cert => \"{}\" \
             ssl_key => \"{}\" {extra}",
            pki.path("server.crt"),
            pki.path("server-encrypted.key")
        ))
    };
    let no_passphrase = encrypted("");
    assert!(
        no_passphrase.contains("is encrypted: set ssl_key_passphrase"),
        "{no_passphrase}"
    );
    let wrong = encrypted("ssl_key_passphrase => \"nope\"");
    assert!(
        wrong.contains("ssl_key_passphrase: cannot decrypt"),
        "{wrong}"
    );
    let unreadable = error(
        "port => 1 ssl_enable => true ssl_verify => false \
         ssl_cert => \"/nonexistent/c.pem\" ssl_key => \"/nonexistent/k.pem\"",
    );
    assert!(unreadable.contains("/nonexistent/c.pem"), "{unreadable}");
}

#[test]
fn a_port_in_use_fails_the_input() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = format!(
        "input {{ relp {{ host => \"127.0.0.1\" port => {port} }} }} output {{ null {{}} }}"
    );
    let mut plan = common::plan_of(&config, &common::no_env);
    let input = plan.inputs.remove(0).input;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, _rx) = async_channel::bounded(1);
    let result = rt
        .block_on(async { tokio::time::timeout(PATIENCE, input.run(InputContext::new(tx))).await });
    let error = result
        .expect("returns at once")
        .expect_err("the port is taken");
    assert!(matches!(error, InputError::Io(_)), "{error:?}");
}

#[test]
fn ssl_options_are_ignored_without_ssl_enable() {
    // As in Logstash: ssl_enable must be set for the other ssl_ options to take effect.
    let h = Harness::start("ssl_cert => \"/nonexistent\" ssl_verify => true");
    let mut c = h.connect();
    c.open();
}

// --- TLS ------------------------------------------------------------------------------------

fn tls_client(port: u16) -> Client {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let tls = connector
        .connect("localhost", tcp.try_clone().unwrap())
        .unwrap();
    Client::over(tcp, Box::new(tls))
}

fn tls_round_trip(cert: &Path, key: &Path) {
    let h = Harness::start(&format!(
        "ssl_enable => true ssl_verify => false ssl_cert => \"{}\" ssl_key => \"{}\"",
        cert.display(),
        key.display()
    ));
    let mut c = tls_client(h.port);
    c.open();
    c.command(2, "syslog", b"over tls");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    assert_eq!(message(&h.events(1)[0]), "over tls");
    // A client speaking plain RELP to the TLS port gets nowhere and harms nobody.
    let mut plain = h.connect();
    plain.send(&frame(1, "open", OFFERS.as_bytes()));
    assert!(h.batch(QUIET).is_none());
    c.command(3, "close", b"");
    assert_eq!(c.reply(), Some(Reply::rsp(3, "200 OK")));
}

#[test]
fn tls_with_a_pkcs8_key() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    tls_round_trip(&cert, &key);
}

/// Runs the openssl command line (a test dependency: scripts/install-deps.sh).
fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed RSA certificate for `localhost` and its PKCS#8 key, made by openssl.
fn openssl_certificate(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem").to_str().unwrap().to_string();
    let key = dir.join("key8.pem").to_str().unwrap().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &key,
        "-out",
        &cert,
    ]);
    (cert, key)
}

#[test]
fn tls_with_a_pkcs1_rsa_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, pkcs8) = openssl_certificate(dir.path());
    let key = dir.path().join("rsa.pem");
    openssl(&[
        "rsa",
        "-in",
        &pkcs8,
        "-traditional",
        "-out",
        key.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(
        text.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "a PKCS#1 key"
    );
    tls_round_trip(Path::new(&cert), &key);
}

/// A RELP client over TLS presenting `who`'s certificate.
fn pki_client(pki: &Pki, port: u16, who: Identity) -> Client {
    let tls = pki.connect(port, who, false).expect("TLS handshake");
    let tcp = tls.get_ref().try_clone().unwrap();
    Client::over(tcp, Box::new(tls))
}

/// `who` cannot open a session: with TLS 1.3 the server's verdict comes after the client's
/// handshake (the answer to `open` never comes), with TLS 1.2 the handshake itself fails.
fn assert_turned_away(pki: &Pki, port: u16, who: Identity) {
    if let Ok(mut tls) = pki.connect(port, who, false) {
        let open = frame(1, "open", OFFERS.as_bytes());
        assert!(pki::refused(&mut tls, &open), "{who:?} was let in");
    }
    assert!(pki.connect(port, who, true).is_err(), "{who:?} was let in");
}

/// `ssl_enable` with the test PKI's server certificate, plus `extra`.
fn pki_options(pki: &Pki, extra: &str) -> String {
    format!(
        "ssl_enable => true ssl_cert => \"{}\" ssl_key => \"{}\" {extra}",
        pki.path("server.crt"),
        pki.path("server.key")
    )
}

#[test]
fn tls_client_certificates_are_verified_by_default() {
    let pki = Pki::new();
    let h = Harness::start(&pki_options(
        &pki,
        &format!("ssl_cacert => \"{}\"", pki.path("ca.crt")),
    ));
    assert_turned_away(&pki, h.port, Identity::Stranger);
    assert_turned_away(&pki, h.port, Identity::Anonymous);
    let mut c = pki_client(&pki, h.port, Identity::Client);
    c.open();
    c.command(2, "syslog", b"certified");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let e = &h.events(1)[0];
    assert_eq!(message(e), "certified");
    let subject = common::get(e, "sslsubject").and_then(|v| v.as_str());
    assert_eq!(subject, Some(pki::CLIENT_SUBJECT_ONELINE));
    assert!(h.batch(QUIET).is_none(), "nothing from the refused clients");
}

#[test]
fn tls_with_an_encrypted_key_and_a_ca_directory() {
    let pki = Pki::new();
    let cas = tempfile::tempdir().unwrap();
    std::fs::copy(pki.path("ca.crt"), cas.path().join("ca.pem")).unwrap();
    let h = Harness::start(&format!(
        "ssl_enable => true ssl_cert => \"{}\" ssl_key => \"{}\" ssl_key_passphrase => \"{}\" \
         ssl_cacert => \"{}\"",
        pki.path("server.crt"),
        pki.path("server-encrypted.key"),
        pki::PASSPHRASE,
        cas.path().display()
    ));
    let mut c = pki_client(&pki, h.port, Identity::Client);
    c.open();
    c.command(2, "syslog", b"decrypted");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    assert_eq!(message(&h.events(1)[0]), "decrypted");
    assert_turned_away(&pki, h.port, Identity::Stranger);
}

#[test]
fn tls_without_verification_takes_anonymous_clients() {
    let pki = Pki::new();
    let h = Harness::start(&pki_options(&pki, "ssl_verify => false"));
    let mut c = pki_client(&pki, h.port, Identity::Anonymous);
    c.open();
    c.command(2, "syslog", b"anonymous");
    assert_eq!(c.reply(), Some(Reply::rsp(2, "200 OK")));
    let e = &h.events(1)[0];
    assert_eq!(message(e), "anonymous");
    assert!(common::get(e, "sslsubject").is_none());
}

// --- rsyslog --------------------------------------------------------------------------------

/// A real `rsyslogd` forwarding what it receives on an `imtcp` port to our input with
/// `omrelp`. Killed when dropped.
struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    feed_port: u16,
}

impl Rsyslog {
    fn start(relp_port: u16) -> Rsyslog {
        Rsyslog::start_with(relp_port, "", "")
    }

    /// With extra parameters for the omrelp module and action (TLS settings).
    fn start_with(relp_port: u16, module: &str, action: &str) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let feed_port = free_port();
        let d = dir.path().display();
        // No imuxsock (no system sockets); the fed lines go through their own ruleset, the
        // daemon's own messages to a file. %rawmsg% forwards each line exactly as received.
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imtcp")
module(load="omrelp" {module})
template(name="raw" type="string" string="%rawmsg%")
ruleset(name="forward" queue.type="LinkedList") {{
  action(type="omrelp" target="127.0.0.1" port="{relp_port}" template="raw" {action}
         action.resumeRetryCount="-1" action.resumeInterval="1")
}}
input(type="imtcp" port="{feed_port}" ruleset="forward")
*.* action(type="omfile" file="{d}/internal.log")
"#
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("rsyslogd (Debian packages rsyslog and rsyslog-relp) must be installed");
        let mut rsyslog = Rsyslog {
            child,
            dir,
            feed_port,
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", feed_port)).is_err() {
            if let Ok(Some(status)) = rsyslog.child.try_wait() {
                panic!("rsyslogd exited ({status}):\n{}", rsyslog.logs());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd never listened:\n{}",
                rsyslog.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        rsyslog
    }

    /// Sends lines to the daemon's imtcp input.
    fn feed(&self, lines: &[String]) {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.feed_port)).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        tcp.write_all(text.as_bytes()).unwrap();
    }

    fn logs(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "stderr:\n{}\ninternal:\n{}",
            read("stderr.log"),
            read("internal.log")
        )
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

/// Messages from `h` until every one of `want` was seen (or the deadline passes).
fn collect_all(h: &Harness, want: &[String], rsyslog: &Rsyslog) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut missing: std::collections::HashSet<&String> = want.iter().collect();
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(batch) = h.batch(left) else {
            panic!(
                "{} of {} lines missing, e.g. {:?}\n{}",
                missing.len(),
                want.len(),
                missing.iter().next(),
                rsyslog.logs()
            );
        };
        for m in batch.events.iter().map(message) {
            missing.remove(&m);
            got.push(m);
        }
    }
    got
}

#[test]
fn rsyslog_omrelp_delivers_every_line_exactly_once() {
    let h = Harness::start("");
    let rsyslog = Rsyslog::start(h.port);
    let want = lines("exact", 0..1000);
    rsyslog.feed(&want);
    let got = collect_all(&h, &want, &rsyslog);
    assert!(h.batch(QUIET).is_none(), "nothing more");
    assert_eq!(got, want, "every line once, in order");
}

#[test]
fn rsyslog_delivers_everything_across_a_restart_of_the_input() {
    let port = free_port();
    // A queue of one batch of 10: once it is full, rsyslog's window waits unanswered.
    let mut first = Harness::start_with(port, "", 1, 10);
    let rsyslog = Rsyslog::start(port);
    let want = lines("restart", 0..600);
    rsyslog.feed(&want[..300]);
    let mut got: Vec<String> = Vec::new();
    while got.len() < 50 {
        let batch = first.batch(PATIENCE).expect("the first lines");
        got.extend(batch.events.iter().map(message));
    }
    // Stop with the queue full and frames read but not queued: those get no answer.
    std::thread::sleep(QUIET);
    first.stop();
    while let Some(batch) = first.batch(Duration::ZERO) {
        got.extend(batch.events.iter().map(message));
    }
    assert!(
        got.len() < 300,
        "the input stopped before it had everything"
    );
    drop(first);
    rsyslog.feed(&want[300..]);
    let second = Harness::start_with(port, "", 64, 125);
    let seen: std::collections::HashSet<&String> = got.iter().collect();
    let rest: Vec<String> = want.iter().filter(|l| !seen.contains(l)).cloned().collect();
    got.extend(collect_all(&second, &rest, &rsyslog));
    assert!(second.batch(QUIET).is_none(), "nothing more");
    let mut counts: HashMap<&String, usize> = HashMap::new();
    for m in &got {
        *counts.entry(m).or_default() += 1;
    }
    assert!(
        counts.keys().all(|m| want.contains(m)),
        "only the fed lines"
    );
    assert!(want.iter().all(|l| counts.contains_key(l)), "nothing lost");
    // RELP allows duplicates of what was acknowledged but whose answer was lost; here every
    // answer was written before serverclose, and unanswered frames were never queued.
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "duplicates: {twice:?}");
}

#[test]
fn rsyslog_delivers_everything_through_a_slow_full_pipeline() {
    // A queue of one batch of 10, read slowly: the input keeps rsyslog waiting for answers.
    let h = Harness::start_with(free_port(), "", 1, 10);
    let rsyslog = Rsyslog::start(h.port);
    let want = lines("slow", 0..300);
    rsyslog.feed(&want);
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < want.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let batch = h
            .batch(left)
            .unwrap_or_else(|| panic!("{} of 300 lines\n{}", got.len(), rsyslog.logs()));
        assert!(batch.len() <= 10, "batch size honoured");
        got.extend(batch.events.iter().map(message));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.batch(QUIET).is_none(), "nothing more");
    assert_eq!(got, want, "every line once, in order");
}

#[test]
fn rsyslog_omrelp_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_certificate(dir.path());
    let h = Harness::start(&format!(
        "ssl_enable => true ssl_verify => false ssl_cert => \"{cert}\" ssl_key => \"{key}\""
    ));
    // librelp's OpenSSL driver, checking our certificate against itself as the CA.
    let rsyslog = Rsyslog::start_with(
        h.port,
        r#"tls.tlslib="openssl""#,
        &format!(r#"tls="on" tls.caCert="{cert}""#),
    );
    let want = lines("tls", 0..200);
    rsyslog.feed(&want);
    let got = collect_all(&h, &want, &rsyslog);
    assert!(h.batch(QUIET).is_none(), "nothing more");
    assert_eq!(got, want, "every line once, in order");
}

#[test]
fn rsyslog_omrelp_over_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let h = Harness::start(&pki_options(
        &pki,
        &format!("ssl_cacert => \"{}\"", pki.path("ca.crt")),
    ));
    // rsyslog checks our certificate's name, we check its certificate's CA.
    let client = |name: &str| {
        format!(
            r#"tls="on" tls.caCert="{}" tls.myCert="{}" tls.myPrivKey="{}" tls.authMode="name" tls.permittedPeer=["localhost"]"#,
            pki.path("ca.crt"),
            pki.path(&format!("{name}.crt")),
            pki.path(&format!("{name}.key"))
        )
    };
    let rsyslog = Rsyslog::start_with(h.port, r#"tls.tlslib="openssl""#, &client("client"));
    let want = lines("mtls", 0..200);
    rsyslog.feed(&want);
    let got = collect_all(&h, &want, &rsyslog);
    assert!(h.batch(QUIET).is_none(), "nothing more");
    assert_eq!(got, want, "every line once, in order");
    // A daemon with a certificate from another CA gets nothing through, however it retries.
    let stranger = Rsyslog::start_with(h.port, r#"tls.tlslib="openssl""#, &client("stranger"));
    stranger.feed(&lines("stranger", 0..10));
    assert!(
        h.batch(Duration::from_secs(2)).is_none(),
        "the stranger's lines came in:\n{}",
        stranger.logs()
    );
    // The first daemon still delivers.
    let more = lines("after", 0..20);
    rsyslog.feed(&more);
    assert_eq!(collect_all(&h, &more, &rsyslog), more);
}
