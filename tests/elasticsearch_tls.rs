//! The `elasticsearch` output over real TLS: certificates are made at test time (rcgen), and a
//! small TLS front ([`Front`], native-tls like the output's client) relays to the plain-HTTP
//! Elasticsearch stand-in. The output's hosts name only the front, so whatever the stand-in
//! receives went through a TLS session the output accepted.
//!
//! Covered: a trusted CA (from one file, or the second of two), an untrusted CA or a
//! certificate for another name under `ssl_verification_mode => "full"` (nothing delivered,
//! nothing lost: the output keeps retrying and delivers once the server presents a trusted
//! certificate), `ssl_verification_mode => "none"`, credentials and API keys over https, and
//! build errors for CA files that are missing or not PEM.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{build_error, no_env, plan_of};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use sluice::pipeline::{self, PipelineError, PipelineSettings};
use sluice::standin::elasticsearch::{Config, StandIn};
use tokio::net::{TcpListener, TcpStream};
use tokio_native_tls::{native_tls, TlsAcceptor};

/// How long a test waits for something that should happen well within it.
const PATIENCE: Duration = Duration::from_secs(10);

/// A certificate authority made for one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names, so no verifier can mistake one CA for the other.
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server identity for `names` (DNS names or IP addresses), signed by this CA.
    fn server(&self, names: &[&str]) -> native_tls::Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "sluice test server");
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        native_tls::Identity::from_pkcs8(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
            .unwrap()
    }

    /// The usual server identity: `localhost` and 127.0.0.1.
    fn localhost(&self) -> native_tls::Identity {
        self.server(&["localhost", "127.0.0.1"])
    }
}

/// The stand-in behind a TLS front, both on a runtime of their own (a pipeline runs its own).
struct Tls {
    standin: StandIn,
    front: Front,
    _runtime: tokio::runtime::Runtime,
}

/// Accepts TLS with the identity of the moment and relays each session to the stand-in.
struct Front {
    port: u16,
    acceptor: Arc<Mutex<TlsAcceptor>>,
    handshakes: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl Front {
    /// Presents `identity` to connections accepted from now on.
    fn present(&self, identity: native_tls::Identity) {
        *self.acceptor.lock().unwrap() = acceptor(identity);
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Handshakes that failed (the client refused the certificate).
    fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

fn acceptor(identity: native_tls::Identity) -> TlsAcceptor {
    native_tls::TlsAcceptor::new(identity).unwrap().into()
}

fn tls(identity: native_tls::Identity) -> Tls {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let standin = runtime
        .block_on(StandIn::start(Config::default()))
        .expect("stand-in starts");
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let front = Front {
        port: listener.local_addr().unwrap().port(),
        acceptor: Arc::new(Mutex::new(acceptor(identity))),
        handshakes: Arc::default(),
        refused: Arc::default(),
    };
    runtime.spawn(relay(
        listener,
        standin.addr(),
        front.acceptor.clone(),
        front.handshakes.clone(),
        front.refused.clone(),
    ));
    Tls {
        standin,
        front,
        _runtime: runtime,
    }
}

async fn relay(
    listener: TcpListener,
    backend: std::net::SocketAddr,
    acceptor: Arc<Mutex<TlsAcceptor>>,
    handshakes: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let acceptor = acceptor.lock().unwrap().clone();
        let (handshakes, refused) = (handshakes.clone(), refused.clone());
        tokio::spawn(async move {
            let Ok(mut session) = acceptor.accept(tcp).await else {
                refused.fetch_add(1, Ordering::SeqCst);
                return;
            };
            handshakes.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut upstream) = TcpStream::connect(backend).await {
                // Either side closing ends the relay; the error says only which one did.
                let _ = tokio::io::copy_bidirectional(&mut session, &mut upstream).await;
            }
        });
    }
}

/// PEM files in a temporary folder; `path` gives their names for the config.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }
}

/// `count` generator events into an elasticsearch output with fast retries and `options`.
fn config(count: usize, options: &str) -> String {
    format!(
        r#"input {{ generator {{ count => {count} message => "line" }} }}
           output {{ elasticsearch {{ index => "logs" document_id => "%{{[sequence]}}"
               retry_initial_interval => 0.05 retry_max_interval => 0.2 {options} }} }}"#
    )
}

fn settings() -> PipelineSettings {
    PipelineSettings {
        workers: 1,
        batch_size: 50,
        batch_delay: Duration::from_millis(5),
        ..Default::default()
    }
}

/// Runs the pipeline of `text` to its end (every event delivered) within [`PATIENCE`]; a
/// pipeline that cannot deliver would retry forever, so it is left behind and the test fails.
fn run(text: &str) {
    let running = spawn(text);
    assert!(
        eventually(|| running.is_finished()),
        "not delivered in {PATIENCE:?}"
    );
    running
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("pipeline failed: {e}"));
}

/// Starts the pipeline of `text` on a thread of its own (for runs that cannot end yet).
fn spawn(text: &str) -> JoinHandle<Result<(), PipelineError>> {
    let plan = plan_of(text, &no_env);
    std::thread::spawn(move || pipeline::run_until(plan, settings(), std::future::pending()))
}

/// Polls `done` until it holds or [`PATIENCE`] runs out; returns whether it held.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// Every document 0..n is in `logs`, and the stand-in saw the bulk requests carrying them.
fn assert_all_indexed(tls: &Tls, n: usize) {
    assert_eq!(tls.standin.count("logs"), n, "documents indexed");
    for i in 0..n {
        let doc = tls.standin.doc("logs", &i.to_string());
        assert!(doc.is_some_and(|d| d["message"] == "line"), "document {i}");
    }
    let requests = tls.standin.requests();
    assert!(requests.iter().any(|r| r.path == "/_bulk"), "{requests:?}");
    assert!(tls.front.handshakes() >= 1, "no TLS session was made");
}

/// Log lines of the whole test binary (WARN and above), captured so a test can read what the
/// output said; lines are told apart by the front's port, which every test has its own of.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .init();
    });
}

/// Captured log lines that mention `needle`.
fn log_lines_with(needle: &str) -> Vec<String> {
    String::from_utf8_lossy(&LOGS.lock().unwrap())
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_trusted_ca_lets_every_event_through() {
    let ca = Ca::new("sluice test CA");
    let files = Files::new();
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(ca.localhost());
    let options = format!(
        r#"ssl_enabled => true hosts => ["localhost:{}"]
           ssl_certificate_authorities => ["{ca_pem}"]"#,
        tls.front.port
    );
    run(&config(200, &options));
    assert_all_indexed(&tls, 200);
    let requests = tls.standin.requests();
    assert!(
        requests.iter().any(|r| r.method == "GET" && r.path == "/"),
        "the product check went through TLS too: {requests:?}"
    );
    assert_eq!(tls.front.refused(), 0);
}

#[test]
fn every_ca_file_is_trusted_not_only_the_first() {
    let ca = Ca::new("sluice test CA");
    let other = Ca::new("unrelated CA");
    let files = Files::new();
    let other_pem = files.write("other.pem", &other.pem());
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(ca.localhost());
    let options = format!(
        r#"ssl_enabled => true hosts => ["localhost:{}"]
           ssl_certificate_authorities => ["{other_pem}", "{ca_pem}"]"#,
        tls.front.port
    );
    run(&config(50, &options));
    assert_all_indexed(&tls, 50);
}

/// Runs 30 events against a front presenting `refused` (which the output must not accept),
/// checks that nothing is delivered while the pipeline keeps running and retrying, then
/// presents `trusted` and checks that every event arrives: nothing was lost meanwhile.
fn refused_then_recovers(tls: &Tls, options: &str, trusted: native_tls::Identity) {
    capture_logs();
    let running = spawn(&config(30, options));
    // Several refused handshakes: the startup check and then retried bulk requests.
    assert!(
        eventually(|| tls.front.refused() >= 4),
        "the output stopped trying: {} refused handshakes",
        tls.front.refused()
    );
    assert_eq!(tls.front.handshakes(), 0, "a TLS session was accepted");
    assert!(tls.standin.requests().is_empty(), "a request got through");
    assert_eq!(tls.standin.count("logs"), 0);
    assert!(
        !running.is_finished(),
        "the pipeline gave up or dropped events"
    );
    let port = format!(":{}/", tls.front.port);
    let said = log_lines_with(&port);
    assert!(
        said.iter().any(|l| l.contains("will retry"))
            && said.iter().any(|l| l.contains("retrying")),
        "the startup check and the bulk requests should say they retry: {said:#?}"
    );
    assert!(
        said.iter().any(|l| l.contains("certificate")),
        "the log should say the certificate is the problem: {said:#?}"
    );

    tls.front.present(trusted);
    assert!(eventually(|| running.is_finished()), "never delivered");
    running.join().unwrap().unwrap();
    assert_all_indexed(tls, 30);
}

#[test]
fn an_untrusted_ca_delivers_nothing_and_loses_nothing() {
    let ca = Ca::new("sluice test CA");
    let stranger = Ca::new("untrusted CA");
    let files = Files::new();
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(stranger.localhost());
    let options = format!(
        r#"ssl_enabled => true hosts => ["localhost:{}"] ssl_verification_mode => "full"
           ssl_certificate_authorities => ["{ca_pem}"]"#,
        tls.front.port
    );
    refused_then_recovers(&tls, &options, ca.localhost());
}

#[test]
fn a_certificate_for_another_name_is_refused_under_full_verification() {
    let ca = Ca::new("sluice test CA");
    let files = Files::new();
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(ca.server(&["elsewhere.example"]));
    let options = format!(
        r#"hosts => ["https://localhost:{}"] ssl_certificate_authorities => ["{ca_pem}"]"#,
        tls.front.port
    );
    refused_then_recovers(&tls, &options, ca.localhost());
}

#[test]
fn verification_none_accepts_an_untrusted_certificate() {
    let stranger = Ca::new("untrusted CA");
    let tls = tls(stranger.server(&["elsewhere.example"]));
    let options = format!(
        r#"ssl_enabled => true hosts => ["localhost:{}"] ssl_verification_mode => "none""#,
        tls.front.port
    );
    run(&config(40, &options));
    assert_all_indexed(&tls, 40);
}

#[test]
fn credentials_travel_over_https() {
    let ca = Ca::new("sluice test CA");
    let files = Files::new();
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(ca.localhost());
    let options = format!(
        r#"hosts => ["https://127.0.0.1:{}"] ssl_certificate_authorities => ["{ca_pem}"]
           user => "elastic" password => "s3cret""#,
        tls.front.port
    );
    run(&config(10, &options));
    assert_all_indexed(&tls, 10);
    // base64("elastic:s3cret")
    let expected = "Basic ZWxhc3RpYzpzM2NyZXQ=";
    for r in tls.standin.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(expected),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn an_api_key_travels_over_https() {
    let ca = Ca::new("sluice test CA");
    let files = Files::new();
    let ca_pem = files.write("ca.pem", &ca.pem());
    let tls = tls(ca.localhost());
    let options = format!(
        r#"hosts => ["https://localhost:{}"] ssl_certificate_authorities => ["{ca_pem}"]
           api_key => "my-id:my-key""#,
        tls.front.port
    );
    run(&config(10, &options));
    assert_all_indexed(&tls, 10);
    // Logstash sends base64("id:key").
    let expected = "ApiKey bXktaWQ6bXkta2V5";
    for r in tls.standin.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(expected),
            "{} {}",
            r.method,
            r.path
        );
    }
}

/// The diagnostic `err` is placed on line 2 and its carets start under the value of
/// `ssl_certificate_authorities` (the option's name alone would show in any excerpt).
fn assert_points_at_the_ca_option(err: &str) {
    assert!(err.starts_with("test.conf:2:"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let source = lines
        .iter()
        .position(|l| l.contains("ssl_certificate_authorities =>"))
        .unwrap_or_else(|| panic!("no excerpt of the option: {err}"));
    let value_at = lines[source].find('[').unwrap();
    let caret_at = lines.get(source + 1).and_then(|l| l.find('^'));
    assert_eq!(caret_at, Some(value_at), "{err}");
}

#[test]
fn a_missing_or_non_pem_ca_file_is_a_build_error() {
    let ca = Ca::new("sluice test CA");
    let files = Files::new();
    let good = files.write("ca.pem", &ca.pem());
    let text = files.write("notes.txt", "this is not a certificate\n");
    let armoured = files.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    let missing = files.path("missing.pem");
    for bad in [&missing, &text, &armoured] {
        // The bad file is second, so a check of only the first would miss it.
        let err = build_error(
            &format!(
                r#"output {{ elasticsearch {{ ssl_enabled => true
                   ssl_certificate_authorities => ["{good}", "{bad}"] }} }}"#
            ),
            &no_env,
        );
        assert!(err.contains(bad.as_str()), "the file is named: {err}");
        assert_points_at_the_ca_option(&err);
    }
}
