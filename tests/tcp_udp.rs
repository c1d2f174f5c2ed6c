//! The `tcp`, `udp` and `syslog` inputs over real sockets on 127.0.0.1 (port 0: the inputs
//! report the port they got through their `NetStats`): codecs, client fields, size limits,
//! TLS (certificates made with rcgen; client certificates required, optional, from a stranger
//! CA, encrypted server keys), the PROXY header, idle flushes, UDP drops while the
//! pipeline is full, malformed and hostile clients, and shutdown.

mod pki;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::codecs::Codec;
use sluice::config::ast::Statement;
use sluice::config::options::EcsCompatibility;
use sluice::config::{parse, Diagnostics, ParseOptions, PluginArgs, SourceMap};
use sluice::event::{Batch, Event, FieldPath, Value};
use sluice::inputs::syslog::build_syslog;
use sluice::inputs::tcp::{build_tcp, NetStats};
use sluice::inputs::udp::build_udp;
use sluice::inputs::{Input, InputContext, InputError, Shutdown, COMMON_NAMES};
use tokio::io::AsyncWriteExt;

use pki::{Identity, Pki};
use tokio::net::{TcpStream, UdpSocket};

/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(5);

fn no_env(_: &str) -> Option<String> {
    None
}

/// Builds plugin `name { options }` with `build` (a `build_*` of an input, or a codec's).
fn build<T>(
    name: &str,
    options: &str,
    ecs: EcsCompatibility,
    build: impl FnOnce(&PluginArgs) -> Result<T, Diagnostics>,
) -> Result<T, String> {
    let text = format!("input {{ {name} {{ {options} }} }}");
    let sources = SourceMap::single("test.conf", &text);
    let ast = parse(&sources, ParseOptions::default()).map_err(|d| d.render(&sources))?;
    let Statement::Plugin(plugin) = &ast.sections[0].body[0] else {
        panic!("not a plugin");
    };
    let mut args = PluginArgs::new(plugin, &no_env).with_ecs_compatibility(ecs);
    let _common = args.split_off(COMMON_NAMES);
    build(&args).map_err(|d| d.render(&sources))
}

fn codec(name: &str, options: &str) -> Arc<dyn Codec> {
    let spec = sluice::registry::codec(name).expect("a codec");
    build(name, options, EcsCompatibility::V8, |args| {
        (spec.build)(args)
    })
    .unwrap()
}

/// An input running on this runtime, feeding a queue of `capacity` batches.
struct Running {
    rx: async_channel::Receiver<Batch>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), InputError>>,
    stats: Arc<NetStats>,
}

impl Running {
    async fn start(input: Box<dyn Input>, stats: Arc<NetStats>, capacity: usize) -> Running {
        Running::start_batched(input, stats, capacity, 125).await
    }

    async fn start_batched(
        input: Box<dyn Input>,
        stats: Arc<NetStats>,
        capacity: usize,
        batch_size: usize,
    ) -> Running {
        let (tx, rx) = async_channel::bounded(capacity);
        let shutdown = Shutdown::new();
        let ctx = InputContext::new(tx)
            .with_shutdown(shutdown.clone())
            .with_batch_size(batch_size);
        let task = tokio::spawn(input.run(ctx));
        let started = Instant::now();
        while stats.tcp_addr().is_none() && stats.udp_addr().is_none() {
            assert!(started.elapsed() < DEADLINE, "the input did not bind");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Running {
            rx,
            shutdown,
            task,
            stats,
        }
    }

    fn tcp(&self) -> SocketAddr {
        self.stats.tcp_addr().expect("a TCP address")
    }

    fn udp(&self) -> SocketAddr {
        self.stats.udp_addr().expect("a UDP address")
    }

    /// The next `n` events (fails after [`DEADLINE`]).
    async fn events(&self, n: usize) -> Vec<Event> {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while events.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(mut batch)) => events.append(&mut batch.events),
                _ => panic!("got {} of {n} events: {events:?}", events.len()),
            }
        }
        events
    }

    /// Asks the input to stop; it must return within a second; returns what it still sent.
    async fn stop(self) -> Vec<Event> {
        self.shutdown.request();
        let result = tokio::time::timeout(Duration::from_secs(1), self.task)
            .await
            .expect("the input stops promptly")
            .expect("the input task");
        result.expect("the input ends without error");
        let mut rest = Vec::new();
        while let Ok(mut batch) = self.rx.try_recv() {
            rest.append(&mut batch.events);
        }
        rest
    }
}

async fn tcp_input(options: &str, codec: Arc<dyn Codec>, ecs: EcsCompatibility) -> Running {
    let input = build("tcp", options, ecs, |a| build_tcp(a, codec)).unwrap();
    let stats = input.stats();
    Running::start(Box::new(input), stats, 64).await
}

fn get<'e>(e: &'e Event, path: &str) -> Option<&'e Value> {
    e.get(&FieldPath::parse(path).unwrap())
}

fn text(e: &Event, path: &str) -> String {
    match get(e, path) {
        Some(Value::Str(s)) => s.to_string(),
        other => panic!("{path}: {other:?} in {e:?}"),
    }
}

fn messages(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| text(e, "message")).collect()
}

fn tags(e: &Event) -> Vec<String> {
    match e.get_field("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

async fn send(addr: SocketAddr, chunks: &[&[u8]]) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for chunk in chunks {
        stream.write_all(chunk).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The server may already have closed a connection it refused.
    let _ = stream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_line_codec_with_legacy_client_fields() {
    let run = tcp_input(
        "port => 0 host => \"127.0.0.1\"",
        codec("line", ""),
        EcsCompatibility::Disabled,
    )
    .await;
    send(
        run.tcp(),
        &[b"first\nsec", b"ond\r\n\n", b"no newline at the end"],
    )
    .await;
    let events = run.events(4).await;
    assert_eq!(
        messages(&events),
        ["first", "second\r", "", "no newline at the end"]
    );
    let e = &events[0];
    assert_eq!(text(e, "host"), "127.0.0.1");
    assert!(matches!(get(e, "port"), Some(Value::Int(p)) if *p > 0));
    assert_eq!(text(e, "[@metadata][ip_address]"), "127.0.0.1");
    assert_eq!(NetStats::get(&run.stats.connections), 1);
    assert!(run.stop().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_ecs_fields_go_to_metadata_and_codec_fields_win() {
    let run = tcp_input("port => 0", codec("json_lines", ""), EcsCompatibility::V8).await;
    send(run.tcp(), &[b"{\"a\":1}\n{\"host\":\"mine\"}\nnot json\n"]).await;
    let events = run.events(3).await;
    assert_eq!(
        text(&events[0], "[@metadata][input][tcp][source][ip]"),
        "127.0.0.1"
    );
    assert_eq!(
        text(&events[0], "[@metadata][input][tcp][source][name]"),
        "127.0.0.1"
    );
    assert!(matches!(
        get(&events[0], "[@metadata][input][tcp][source][port]"),
        Some(Value::Int(_))
    ));
    assert!(get(&events[0], "host").is_none() && get(&events[0], "port").is_none());
    assert_eq!(text(&events[1], "host"), "mine");
    assert_eq!(tags(&events[2]), ["_jsonparsefailure"]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_chunk_codecs_get_one_line_at_a_time() {
    // As Logstash's fix_streaming_codecs: json reads lines, plain too.
    let run = tcp_input("port => 0", codec("json", ""), EcsCompatibility::Disabled).await;
    send(run.tcp(), &[b"{\"n\":1}\n{\"n\"", b":2}\n{\"n\":3}"]).await;
    let events = run.events(3).await;
    let ns: Vec<_> = events.iter().map(|e| get(e, "n").cloned()).collect();
    assert_eq!(
        ns,
        [
            Some(Value::Int(1)),
            Some(Value::Int(2)),
            Some(Value::Int(3))
        ]
    );
    run.stop().await;

    let run = tcp_input("port => 0", codec("plain", ""), EcsCompatibility::Disabled).await;
    send(run.tcp(), &[b"a\nb", b"c\n"]).await;
    assert_eq!(messages(&run.events(2).await), ["a", "bc"]);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_oversized_lines_are_dropped_counted_and_the_stream_goes_on() {
    for codec_name in ["line", "plain"] {
        let run = tcp_input(
            "port => 0 max_message_size => 100",
            codec(codec_name, ""),
            EcsCompatibility::Disabled,
        )
        .await;
        let big = vec![b'x'; 10_000];
        send(run.tcp(), &[b"before\n", &big, &big, b"\nafter\n"]).await;
        let events = run.events(2).await;
        assert_eq!(messages(&events), ["before", "after"], "{codec_name}");
        assert_eq!(NetStats::get(&run.stats.oversized), 1, "{codec_name}");
        run.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_invalid_utf8_is_kept_escaped_and_many_clients_are_independent() {
    let run = tcp_input("port => 0", codec("line", ""), EcsCompatibility::Disabled).await;
    // A client that connects and sends nothing, and one that leaves mid-line.
    let _silent = TcpStream::connect(run.tcp()).await.unwrap();
    send(run.tcp(), &[b"half a li"]).await;
    let mut clients = Vec::new();
    for i in 0..8 {
        let addr = run.tcp();
        clients.push(tokio::spawn(async move {
            let line = format!("client {i} \u{e9}\n");
            send(addr, &[b"bad \xff\xfe byte\n", line.as_bytes()]).await;
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let mut got = messages(&run.events(17).await);
    got.sort();
    assert_eq!(got[0], "bad \\xFF\\xFE byte");
    assert!(got.contains(&"half a li".to_string()));
    assert!(got.contains(&"client 7 \u{e9}".to_string()));
    assert_eq!(got.iter().filter(|m| m.starts_with("bad")).count(), 8);
    // The silent client is still connected: shutdown must not wait for it.
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_shutdown_flushes_a_partial_line_of_an_open_connection() {
    let run = tcp_input("port => 0", codec("line", ""), EcsCompatibility::Disabled).await;
    let mut stream = TcpStream::connect(run.tcp()).await.unwrap();
    stream.write_all(b"complete\npartial").await.unwrap();
    assert_eq!(messages(&run.events(1).await), ["complete"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rest = run.stop().await;
    assert_eq!(messages(&rest), ["partial"]);
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_idle_flush_of_a_multiline_codec_per_connection() {
    let multiline = codec(
        "multiline",
        r#"pattern => "^\s" what => "previous" auto_flush_interval => 0.1"#,
    );
    let run = tcp_input("port => 0", multiline, EcsCompatibility::Disabled).await;
    let mut stream = TcpStream::connect(run.tcp()).await.unwrap();
    stream
        .write_all(b"Exception\n  at a\n  at b\n")
        .await
        .unwrap();
    // Nothing ends the event but the quiet stream.
    let started = Instant::now();
    let events = run.events(1).await;
    assert_eq!(messages(&events), ["Exception\n  at a\n  at b"]);
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "{:?}",
        started.elapsed()
    );
    drop(stream);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_proxy_protocol_names_the_real_client() {
    let run = tcp_input(
        "port => 0 proxy_protocol => true",
        codec("line", ""),
        EcsCompatibility::Disabled,
    )
    .await;
    send(
        run.tcp(),
        &[b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello\n"],
    )
    .await;
    let e = &run.events(1).await[0];
    assert_eq!(text(e, "message"), "hello");
    assert_eq!(text(e, "host"), "192.0.2.1");
    assert_eq!(text(e, "port"), "56324");
    assert_eq!(text(e, "proxy_host"), "198.51.100.2");
    assert_eq!(text(e, "proxy_port"), "443");
    // A connection without the header is refused; others are not affected.
    send(run.tcp(), &[b"GET / HTTP/1.1\r\n\r\n"]).await;
    send(
        run.tcp(),
        &[b"PROXY TCP4 192.0.2.9 198.51.100.2 1 443\r\nagain\n"],
    )
    .await;
    assert_eq!(text(&run.events(1).await[0], "host"), "192.0.2.9");
    assert_eq!(NetStats::get(&run.stats.proxy_failures), 1);
    run.stop().await;
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// A self-signed certificate for `localhost` and its PKCS#8 key, written to a temp dir.
struct Certs {
    dir: tempfile::TempDir,
    cert_pem: String,
}

impl Certs {
    fn new() -> Certs {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(
            dir.path().join("key.pem"),
            certified.key_pair.serialize_pem(),
        )
        .unwrap();
        Certs { dir, cert_pem }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn options(&self) -> String {
        format!(
            "port => 0 ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\"",
            self.path("cert.pem"),
            self.path("key.pem")
        )
    }

    async fn connect(&self, addr: SocketAddr) -> tokio_native_tls::TlsStream<TcpStream> {
        let root = native_tls::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap();
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(root)
            .build()
            .unwrap();
        let connector = tokio_native_tls::TlsConnector::from(connector);
        let tcp = TcpStream::connect(addr).await.unwrap();
        connector
            .connect("localhost", tcp)
            .await
            .expect("TLS handshake")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_over_tls_and_a_plaintext_client_does_not_disturb_it() {
    let certs = Certs::new();
    let run = tcp_input(
        &certs.options(),
        codec("line", ""),
        EcsCompatibility::Disabled,
    )
    .await;
    // A client that speaks plain text to the TLS port fails alone.
    send(run.tcp(), &[b"this is not a TLS hello\n"]).await;
    let mut tls = certs.connect(run.tcp()).await;
    tls.write_all(b"secret one\nsecret two\n").await.unwrap();
    tls.shutdown().await.unwrap();
    assert_eq!(messages(&run.events(2).await), ["secret one", "secret two"]);
    let started = Instant::now();
    while NetStats::get(&run.stats.tls_failures) == 0 {
        assert!(
            started.elapsed() < DEADLINE,
            "the bad handshake was not counted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_with_octet_counting() {
    let certs = Certs::new();
    let input = build("syslog", &certs.options(), EcsCompatibility::V8, |a| {
        build_syslog(a, codec("plain", ""))
    })
    .unwrap();
    let stats = input.stats();
    let run = Running::start(Box::new(input), stats, 64).await;
    let mut tls = certs.connect(run.tcp()).await;
    let frame = "<13>1 2024-01-01T00:00:00Z h app 1 - - over tls";
    tls.write_all(format!("{} {frame}", frame.len()).as_bytes())
        .await
        .unwrap();
    tls.shutdown().await.unwrap();
    let e = &run.events(1).await[0];
    assert_eq!(text(e, "message"), "over tls");
    assert_eq!(text(e, "[process][name]"), "app");
    run.stop().await;
}

/// Waits until the input counted `n` failed TLS handshakes.
async fn wait_for_tls_failures(stats: &NetStats, n: u64) {
    let started = Instant::now();
    while NetStats::get(&stats.tls_failures) < n {
        assert!(
            started.elapsed() < DEADLINE,
            "{} of {n} failed handshakes counted",
            NetStats::get(&stats.tls_failures)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `who` cannot get data through: with TLS 1.3 the server's verdict comes after the client's
/// handshake (the first read fails), with TLS 1.2 the handshake itself fails.
async fn assert_turned_away(pki: &Pki, addr: SocketAddr, who: Identity) {
    match pki.connect_async(addr, who, false).await {
        Err(_) => {}
        Ok(mut tls) => assert!(
            pki::refused_async(&mut tls, b"<13>intruder\n", DEADLINE).await,
            "{who:?} was let in over TLS 1.3"
        ),
    }
    let tls12 = pki.connect_async(addr, who, true).await;
    assert!(tls12.is_err(), "{who:?} was let in over TLS 1.2");
}

/// Sends `data` over TLS as `who` and closes the connection.
async fn send_tls(pki: &Pki, addr: SocketAddr, who: Identity, data: &[u8]) {
    let mut tls = pki
        .connect_async(addr, who, false)
        .await
        .expect("handshake");
    tls.write_all(data).await.unwrap();
    tls.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_required_client_certificates_keep_strangers_out() {
    let pki = Pki::new();
    let options = pki.server_options(&format!(
        "port => 0 ssl_certificate_authorities => [\"{}\"] ssl_client_authentication => \"required\"",
        pki.path("ca.crt")
    ));
    let run = tcp_input(&options, codec("line", ""), EcsCompatibility::Disabled).await;
    assert_turned_away(&pki, run.tcp(), Identity::Stranger).await;
    assert_turned_away(&pki, run.tcp(), Identity::Anonymous).await;
    // The input goes on serving the client it trusts.
    send_tls(&pki, run.tcp(), Identity::Client, b"trusted\n").await;
    let e = &run.events(1).await[0];
    assert_eq!(text(e, "message"), "trusted");
    assert_eq!(text(e, "sslsubject"), pki::CLIENT_SUBJECT_RFC2253);
    wait_for_tls_failures(&run.stats, 4).await;
    assert!(
        run.stop().await.is_empty(),
        "nothing from the refused clients"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_optional_client_certificates_with_an_encrypted_key() {
    let pki = Pki::new();
    // Authorities alone: clients are asked for certificates (Logstash's default, required),
    // here relaxed to optional; the server key is encrypted.
    let options = format!(
        "port => 0 ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\" \
         ssl_key_passphrase => \"{}\" ssl_certificate_authorities => \"{}\" \
         ssl_client_authentication => \"optional\"",
        pki.path("server.crt"),
        pki.path("server-encrypted.key"),
        pki::PASSPHRASE,
        pki.path("ca.crt")
    );
    let run = tcp_input(&options, codec("line", ""), EcsCompatibility::V8).await;
    send_tls(&pki, run.tcp(), Identity::Anonymous, b"anonymous\n").await;
    let anonymous = &run.events(1).await[0];
    assert_eq!(text(anonymous, "message"), "anonymous");
    assert!(get(anonymous, "[@metadata][input][tcp][tls]").is_none());
    send_tls(&pki, run.tcp(), Identity::Client, b"known\n").await;
    let known = &run.events(1).await[0];
    assert_eq!(
        text(known, "[@metadata][input][tcp][tls][client][subject]"),
        pki::CLIENT_SUBJECT_RFC2253
    );
    assert_eq!(
        text(known, "[@metadata][input][tcp][source][ip]"),
        "127.0.0.1"
    );
    // A certificate that is sent must still verify.
    assert_turned_away(&pki, run.tcp(), Identity::Stranger).await;
    assert!(run.stop().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_required_client_certificates() {
    let pki = Pki::new();
    let options = pki.server_options(&format!(
        "port => 0 ssl_certificate_authorities => \"{}\"",
        pki.path("ca.crt")
    ));
    let run = syslog_input(&options, EcsCompatibility::V8).await;
    assert_turned_away(&pki, run.tcp(), Identity::Stranger).await;
    assert_turned_away(&pki, run.tcp(), Identity::Anonymous).await;
    let frame = "<13>1 2024-01-01T00:00:00Z h app 1 - - with a certificate";
    let counted = format!("{} {frame}", frame.len());
    send_tls(&pki, run.tcp(), Identity::Client, counted.as_bytes()).await;
    let e = &run.events(1).await[0];
    assert_eq!(text(e, "message"), "with a certificate");
    wait_for_tls_failures(&run.stats, 4).await;
    assert!(run.stop().await.is_empty());
}

#[test]
fn tls_options_that_cannot_work_are_refused() {
    let certs = Certs::new();
    let pki = Pki::new();
    let line = || codec("line", "");
    let error = |options: String| {
        build("tcp", &options, EcsCompatibility::V8, |a| {
            build_tcp(a, line())
        })
        .err()
        .unwrap_or_else(|| panic!("{options} built"))
    };
    let with = |extra: &str| format!("{} {extra}", certs.options());
    let encrypted = |extra: &str| {
        format!(
            "port => 0 ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\" {extra}",
            pki.path("server.crt"),
            pki.path("server-encrypted.key")
        )
    };
    let cases = [
        (
            with("ssl_client_authentication => \"required\""),
            "ssl_client_authentication: client certificates are verified against \
             ssl_certificate_authorities, which is not set",
        ),
        (
            with(&format!(
                "ssl_certificate_authorities => [\"{}\"]",
                certs.path("key.pem")
            )),
            "ssl_certificate_authorities",
        ),
        (
            with("ssl_certificate_authorities => [\"/nonexistent/ca.pem\"]"),
            "cannot read /nonexistent/ca.pem",
        ),
        (
            with("ssl_cipher_suites => [\"TLS_NOT_A_SUITE\"]"),
            "unknown or unavailable cipher suites",
        ),
        (
            with("ssl_supported_protocols => [\"TLSv1.0\"]"),
            "unknown protocol",
        ),
        (encrypted(""), "is encrypted: set ssl_key_passphrase"),
        (
            encrypted("ssl_key_passphrase => \"wrong\""),
            "ssl_key_passphrase: cannot decrypt",
        ),
        (
            format!(
                "port => 0 ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\"",
                certs.path("cert.pem"),
                pki.path("server.key")
            ),
            "does not belong to the certificate",
        ),
        (
            "port => 0 ssl_enabled => true".to_string(),
            "ssl_certificate: required",
        ),
        (
            format!(
                "port => 0 ssl_enabled => true ssl_certificate => \"{}\" ssl_key => \"{}\"",
                certs.path("cert.pem"),
                certs.path("nope.pem")
            ),
            "cannot read",
        ),
        (
            format!(
                "port => 0 ssl_enabled => true ssl_certificate => \"{0}\" ssl_key => \"{0}\"",
                certs.path("cert.pem")
            ),
            "PKCS#8",
        ),
        (
            "port => 0 mode => \"client\"".to_string(),
            "only \"server\"",
        ),
        ("port => 0 ssl_enable => true".to_string(), "obsolete"),
        ("host => \"x\"".to_string(), "port"),
    ];
    for (options, expected) in cases {
        let e = error(options.clone());
        assert!(e.contains(expected), "{options}: {e}");
    }
    // Authorities with `none`, TLS 1.3 only, IANA and OpenSSL cipher names, and the right
    // passphrase are fine.
    let ok = [
        with(&format!(
            "ssl_certificate_authorities => [\"{}\"] ssl_client_authentication => \"none\" \
             ssl_supported_protocols => [\"TLSv1.3\"]",
            certs.path("cert.pem")
        )),
        with(
            "ssl_cipher_suites => [\"TLS_AES_128_GCM_SHA256\", \
             \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\", \"ECDHE-ECDSA-AES256-GCM-SHA384\"]",
        ),
        encrypted(&format!("ssl_key_passphrase => \"{}\"", pki::PASSPHRASE)),
    ];
    for options in ok {
        let built = build("tcp", &options, EcsCompatibility::V8, |a| {
            build_tcp(a, line())
        });
        assert!(built.is_ok(), "{options}: {:?}", built.err());
    }
}

// ---------------------------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------------------------

async fn udp_input(
    options: &str,
    codec: Arc<dyn Codec>,
    ecs: EcsCompatibility,
    capacity: usize,
) -> Running {
    let input = build("udp", options, ecs, |a| build_udp(a, codec)).unwrap();
    let stats = input.stats();
    Running::start(Box::new(input), stats, capacity).await
}

async fn datagrams(to: SocketAddr, payloads: &[&[u8]]) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for p in payloads {
        socket.send_to(p, to).await.unwrap();
    }
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_with_codecs_and_source_fields() {
    let run = udp_input(
        "port => 0",
        codec("plain", ""),
        EcsCompatibility::Disabled,
        64,
    )
    .await;
    let _s = datagrams(run.udp(), &[b"one", b"two\nlines"]).await;
    let mut events = run.events(2).await;
    events.sort_by_key(|e| text(e, "message"));
    assert_eq!(messages(&events), ["one", "two\nlines"]);
    assert_eq!(text(&events[0], "host"), "127.0.0.1");
    run.stop().await;

    let run = udp_input("port => 0", codec("json", ""), EcsCompatibility::V8, 64).await;
    let _s = datagrams(run.udp(), &[b"{\"k\":\"v\"}"]).await;
    let e = &run.events(1).await[0];
    assert_eq!(
        (text(e, "k"), text(e, "[host][ip]")),
        ("v".into(), "127.0.0.1".into())
    );
    run.stop().await;

    let run = udp_input(
        "port => 0 source_ip_fieldname => \"[client][ip]\"",
        codec("line", ""),
        EcsCompatibility::V8,
        64,
    )
    .await;
    let _s = datagrams(run.udp(), &[b"a\nb\n"]).await;
    let events = run.events(2).await;
    assert_eq!(messages(&events), ["a", "b"]);
    assert_eq!(text(&events[1], "[client][ip]"), "127.0.0.1");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_long_datagrams_are_cut_to_buffer_size() {
    let run = udp_input(
        "port => 0 buffer_size => 10 receive_buffer_bytes => 1048576",
        codec("plain", ""),
        EcsCompatibility::Disabled,
        64,
    )
    .await;
    let _s = datagrams(run.udp(), &[b"0123456789abcdef"]).await;
    assert_eq!(messages(&run.events(1).await), ["0123456789"]);
    assert_eq!(NetStats::get(&run.stats.datagrams_truncated), 1);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_drops_and_counts_while_the_pipeline_is_full_and_never_stops_reading() {
    // A pipeline queue of one batch of one event that nobody takes, and room for 20 waiting
    // datagrams: most of the 300 sent must be dropped, every one read and accounted for.
    let input = build(
        "udp",
        "port => 0 workers => 1 queue_size => 20",
        EcsCompatibility::Disabled,
        |a| build_udp(a, codec("plain", "")),
    )
    .unwrap();
    let stats = input.stats();
    let run = Running::start_batched(Box::new(input), stats, 1, 1).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sent = 300;
    for i in 0..sent {
        socket
            .send_to(format!("datagram {i}").as_bytes(), run.udp())
            .await
            .unwrap();
        if i % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let started = Instant::now();
    while NetStats::get(&run.stats.datagrams) < sent {
        assert!(
            started.elapsed() < DEADLINE,
            "read {} of {sent}",
            NetStats::get(&run.stats.datagrams)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // At most: one batch in the queue, one group held by the blocked worker, `queue_size`
    // waiting.
    let dropped = NetStats::get(&run.stats.datagrams_dropped);
    assert!(dropped >= sent - 41, "dropped {dropped}");
    // Draining the pipeline delivers every datagram that was not dropped.
    let kept = (sent - dropped) as usize;
    let events = run.events(kept).await;
    assert_eq!(events.len(), kept);
    assert!(run.stop().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// syslog over the network
// ---------------------------------------------------------------------------------------------

async fn syslog_input(options: &str, ecs: EcsCompatibility) -> Running {
    let input = build("syslog", options, ecs, |a| {
        build_syslog(a, codec("plain", ""))
    })
    .unwrap();
    let stats = input.stats();
    Running::start(Box::new(input), stats, 64).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_tcp_framings_and_udp_on_one_port() {
    let run = syslog_input(
        "port => 0 host => \"127.0.0.1\"",
        EcsCompatibility::Disabled,
    )
    .await;
    assert_eq!(run.tcp().port(), run.udp().port());
    let octet = "<165>1 2003-10-11T22:14:15.003Z host5424 app 42 ID47 - counted\nframe";
    let octet_frame = format!("{} {octet}", octet.len());
    let stream = format!(
        "<13>Feb  1 10:00:00 h1 lf: first\r\n{octet_frame}<13>Feb  1 10:00:01 h2 lf: last\0\n"
    );
    let bytes = stream.as_bytes();
    // Cut at every third byte, so frames and counts span reads.
    let chunks: Vec<&[u8]> = bytes.chunks(3).collect();
    send(run.tcp(), &chunks).await;
    let _s = datagrams(
        run.udp(),
        &[b"<14>Mar  1 00:00:00 udphost prog[1]: by udp\n"],
    )
    .await;
    let mut events = run.events(4).await;
    events.sort_by_key(|e| text(e, "message"));
    assert_eq!(
        messages(&events),
        ["by udp", "counted\nframe", "first", "last"]
    );
    assert_eq!(text(&events[0], "logsource"), "udphost");
    assert_eq!(text(&events[1], "logsource"), "host5424");
    assert_eq!(text(&events[1], "pid"), "42");
    assert_eq!(text(&events[2], "program"), "lf");
    assert!(events
        .iter()
        .all(|e| text(e, "host") == "127.0.0.1" && tags(e).is_empty()));
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_oversized_frames_are_truncated_and_garbage_is_tagged() {
    let run = syslog_input("port => 0 max_message_size => 40", EcsCompatibility::V8).await;
    let long = format!("<13>Feb  1 10:00:00 h p: {}\n", "x".repeat(1000));
    send(
        run.tcp(),
        &[
            long.as_bytes(),
            b"\xff\xfe garbage\n",
            b"99999999999 not a count\n",
            b"5 abc",
        ],
    )
    .await;
    let events = run.events(4).await;
    assert_eq!(text(&events[0], "message"), "x".repeat(40 - 25));
    assert_eq!(text(&events[0], "[host][hostname]"), "h");
    assert_eq!(tags(&events[1]), ["_grokparsefailure_sysloginput"]);
    assert_eq!(text(&events[1], "message"), "\\xFF\\xFE garbage");
    assert_eq!(text(&events[2], "message"), "99999999999 not a count");
    // A frame cut short by the client leaving is delivered as it arrived.
    assert_eq!(text(&events[3], "message"), "abc");
    assert_eq!(NetStats::get(&run.stats.oversized), 1);
    run.stop().await;
}
