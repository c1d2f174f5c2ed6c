//! The `syslog` input fed by the real rsyslog daemon (`/usr/sbin/rsyslogd`, installed by
//! `scripts/install-deps.sh`): rsyslog reads lines from files (imfile) and forwards them with
//! omfwd four ways - UDP with RSYSLOG_TraditionalForwardFormat (RFC 3164, BSD timestamp), UDP
//! with RSYSLOG_ForwardFormat (RFC 3339 timestamp), TCP octet-counted with
//! RSYSLOG_SyslogProtocol23Format (RFC 5424) and TCP LF-delimited with RSYSLOG_ForwardFormat.
//! Every line must arrive once, parsed: program, host, facility, severity, message, time.
//!
//! Then over TLS (rsyslog's OpenSSL stream driver, `rsyslog-openssl`): omfwd with
//! `StreamDriver="ossl"`, octet-counted, presenting a client certificate (the global
//! `DefaultNetstreamDriver*File` settings) to an input that requires one. rsyslog checks our
//! certificate's name (`x509/name`) or nothing (`anon`), over TLS 1.3 or (our side limited to
//! it) TLS 1.2. Once the good daemon has delivered, a second one whose certificate comes from
//! another CA starts beside it and gets nothing through, while the good one keeps delivering.
//! The certificates come from `pki` ([`Pki`]).
//!
//! Each daemon runs with its own config and work directory in a temp dir (`-n -f CONF -i
//! PIDFILE`), no system sockets (no imuxsock, imklog), its own messages to a file shown when a
//! test fails, and is killed when the test ends.

mod pki;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sluice::codecs::plain::Plain;
use sluice::config::ast::Statement;
use sluice::config::options::EcsCompatibility;
use sluice::config::{parse, ParseOptions, PluginArgs, SourceMap};
use sluice::event::{Batch, Event, FieldPath, Timestamp, Value};
use sluice::inputs::syslog::build_syslog;
use sluice::inputs::tcp::stats::NetStats;
use sluice::inputs::{Input, InputContext, InputError, Shutdown, COMMON_NAMES};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use pki::Pki;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const LINES_PER_PATH: usize = 20;
/// How long nothing more may arrive once everything expected has.
const QUIET: Duration = Duration::from_millis(300);
/// How often a wait for events looks at its condition even though none came.
const RECHECK: Duration = Duration::from_millis(10);

/// One way rsyslog forwards: the file it reads, the tag it gives, the action that sends.
struct Path4 {
    name: &'static str,
    program: &'static str,
    facility: (&'static str, i64),
    severity: (&'static str, i64),
    action: &'static str,
}

const PATHS: [Path4; 4] = [
    Path4 {
        name: "udp-traditional",
        program: "udptrad",
        facility: ("local3", 19),
        severity: ("warning", 4),
        action: r#"protocol="udp" template="RSYSLOG_TraditionalForwardFormat""#,
    },
    Path4 {
        name: "udp-forward",
        program: "udpfwd",
        facility: ("daemon", 3),
        severity: ("notice", 5),
        action: r#"protocol="udp" template="RSYSLOG_ForwardFormat""#,
    },
    Path4 {
        name: "tcp-octet-5424",
        program: "octet5424",
        facility: ("local4", 20),
        severity: ("err", 3),
        action: r#"protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format""#,
    },
    Path4 {
        name: "tcp-lf-forward",
        program: "tcplf",
        facility: ("user", 1),
        severity: ("info", 6),
        action: r#"protocol="tcp" template="RSYSLOG_ForwardFormat""#,
    },
];

/// An rsyslog daemon, killed on drop; its stderr and its own messages go to files in `dir`.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    /// Starts `rsyslogd` on `conf` (which should log `*.*` to `DIR/internal.log`).
    fn start(dir: &Path, conf: &str) -> Daemon {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: run scripts/install-deps.sh"
        );
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start rsyslogd");
        Daemon {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// What the daemon said, and what it read (TLS daemons), for failure messages.
    fn logs(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "{}: stderr:\n{}\ninternal:\n{}\nread:\n{}",
            self.dir.display(),
            read("stderr.log"),
            read("internal.log"),
            read("read.log")
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines written for path `p`: plain text, punctuation that looks like syslog syntax,
/// Unicode, and one long line.
fn lines_for(p: usize) -> Vec<String> {
    (0..LINES_PER_PATH)
        .map(|i| match i {
            0 => format!("path {p} line {i}: plain"),
            1 => format!("path {p} line {i} [brackets] and \"quotes\" and a: colon"),
            2 => format!("path {p} line {i} ünïcödé ✓ 日本"),
            3 => format!("path {p} line {i} {}", "long ".repeat(1000)),
            4 => format!("<13>path {p} line {i} looks like a PRI"),
            _ => format!("path {p} line {i} key=value other=\"x y\""),
        })
        .collect()
}

/// Appends `lines` to the file at `path` (imfile picks them up).
fn append_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// The global settings every daemon gets (plus `extra`), imfile, and the daemon's own messages
/// to a file. Debian's rsyslog is built with journal support and then sends its own messages
/// to the journal, not through its rules, unless `processInternalMessages` is on.
fn preamble(dir: &Path, extra: &str) -> String {
    format!(
        "global(workDirectory=\"{}\" localHostname=\"rsyshost\" maxMessageSize=\"64k\" \
         processInternalMessages=\"on\" {extra})\n\
         module(load=\"imfile\")\n\
         *.* action(type=\"omfile\" file=\"{}\")\n",
        dir.join("work").display(),
        dir.join("internal.log").display()
    )
}

fn config(dir: &Path, port: u16) -> String {
    let mut conf = preamble(dir, "");
    for (i, p) in PATHS.iter().enumerate() {
        conf.push_str(&format!(
            "ruleset(name=\"r{i}\") {{ action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{port}\" {}) }}\n\
             input(type=\"imfile\" file=\"{}\" tag=\"{}:\" facility=\"{}\" severity=\"{}\" ruleset=\"r{i}\")\n",
            p.action,
            dir.join(format!("{}.log", p.name)).display(),
            p.program,
            p.facility.0,
            p.severity.0,
        ));
    }
    conf
}

fn start_rsyslog(dir: &Path, port: u16) -> Daemon {
    for (i, p) in PATHS.iter().enumerate() {
        append_lines(&dir.join(format!("{}.log", p.name)), &lines_for(i));
    }
    Daemon::start(dir, &config(dir, port))
}

/// How a TLS-forwarding daemon checks the server's certificate.
#[derive(Clone, Copy)]
enum AuthMode {
    /// `x509/name`: signed by the CA and named `localhost`.
    Name,
    /// `anon`: not at all.
    Anon,
}

/// The file a TLS-forwarding daemon in `dir` reads.
fn tls_input_file(dir: &Path) -> PathBuf {
    dir.join("in.log")
}

/// A daemon forwarding `DIR/in.log` (tagged `program`, local5.notice) over TLS to `port`,
/// presenting `NAME.crt` from `pki` as its client certificate. It retries a refused
/// connection every second, and writes what it read to `DIR/read.log` before forwarding it
/// (for failure messages: read but not received, or never read).
fn start_tls_rsyslog(
    dir: &Path,
    port: u16,
    pki: &Pki,
    name: &str,
    mode: AuthMode,
    program: &str,
    lines: &[String],
) -> Daemon {
    let input = tls_input_file(dir);
    append_lines(&input, lines);
    let global = format!(
        "DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" \
         DefaultNetstreamDriverKeyFile=\"{}\"",
        pki.path("ca.crt"),
        pki.path(&format!("{name}.crt")),
        pki.path(&format!("{name}.key")),
    );
    let auth = match mode {
        AuthMode::Name => {
            r#"StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost""#
        }
        AuthMode::Anon => r#"StreamDriverAuthMode="anon""#,
    };
    let conf = format!(
        "{}ruleset(name=\"tls\") {{ action(type=\"omfile\" file=\"{}\" template=\"RSYSLOG_FileFormat\") \
         action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{port}\" \
         protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\" \
         StreamDriver=\"ossl\" StreamDriverMode=\"1\" {auth} \
         action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\") }}\n\
         input(type=\"imfile\" file=\"{}\" tag=\"{program}:\" facility=\"local5\" \
         severity=\"notice\" ruleset=\"tls\")\n",
        preamble(dir, &global),
        dir.join("read.log").display(),
        input.display(),
    );
    Daemon::start(dir, &conf)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn get<'e>(e: &'e Event, path: &str) -> Option<&'e Value> {
    e.get(&FieldPath::parse(path).unwrap())
}

fn text(e: &Event, path: &str) -> Option<String> {
    get(e, path).and_then(Value::as_str).map(str::to_string)
}

fn int(e: &Event, path: &str) -> Option<i64> {
    match get(e, path) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// A running `syslog` input.
struct Running {
    rx: async_channel::Receiver<Batch>,
    stats: Arc<NetStats>,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), InputError>>,
}

impl Running {
    /// Builds `syslog { OPTIONS }` (ECS v8) and runs it until it listens.
    async fn start(options: &str) -> Running {
        let text_conf = format!("input {{ syslog {{ {options} }} }}");
        let sources = SourceMap::single("test.conf", &text_conf);
        let ast = parse(&sources, ParseOptions::default()).unwrap();
        let Statement::Plugin(plugin) = &ast.sections[0].body[0] else {
            panic!("not a plugin");
        };
        let mut args =
            PluginArgs::new(plugin, &no_env).with_ecs_compatibility(EcsCompatibility::V8);
        let _common = args.split_off(COMMON_NAMES);
        let input = build_syslog(&args, Arc::new(Plain::default())).unwrap();
        let stats = input.stats();
        let (tx, rx) = async_channel::bounded(64);
        let shutdown = Shutdown::new();
        let ctx = InputContext::new(tx).with_shutdown(shutdown.clone());
        let task = tokio::spawn(Box::new(input).run(ctx));
        while stats.udp_addr().is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Running {
            rx,
            stats,
            shutdown,
            task,
        }
    }

    fn port(&self) -> u16 {
        self.stats.tcp_addr().unwrap().port()
    }

    /// Adds events to `events` until `done` holds (of them, or of anything else: it is asked
    /// again at least every [`RECHECK`]); panics with `why()` at `deadline`.
    async fn collect_until(
        &self,
        events: &mut Vec<Event>,
        deadline: Instant,
        done: impl Fn(&[Event]) -> bool,
        why: impl Fn() -> String,
    ) {
        while !done(events) {
            let wait = deadline.min(Instant::now() + RECHECK);
            match tokio::time::timeout_at(wait, self.rx.recv()).await {
                Ok(Ok(mut batch)) => events.append(&mut batch.events),
                Err(_) if Instant::now() < deadline => {}
                _ => panic!(
                    "{} events arrived: {:#?}\n{}",
                    events.len(),
                    messages_by_program(events),
                    why()
                ),
            }
        }
    }

    /// Asserts that nothing more arrives for [`QUIET`].
    async fn assert_quiet(&self) {
        tokio::time::sleep(QUIET).await;
        assert!(
            self.rx.try_recv().is_err(),
            "more events than lines written"
        );
    }

    async fn stop(self) {
        self.shutdown.request();
        tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .expect("the input stops")
            .unwrap()
            .unwrap();
    }
}

/// The messages of `events` (first 40 characters) by program, for failure messages.
fn messages_by_program(events: &[Event]) -> HashMap<String, Vec<String>> {
    let mut by = HashMap::<String, Vec<String>>::new();
    for e in events {
        let program = text(e, "[process][name]").unwrap_or_default();
        let message = text(e, "message").unwrap_or_default();
        by.entry(program)
            .or_default()
            .push(message.chars().take(40).collect());
    }
    by
}

/// How many of `events` came from `program`.
fn count_from(events: &[Event], program: &str) -> usize {
    events
        .iter()
        .filter(|e| text(e, "[process][name]").as_deref() == Some(program))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_udp_and_tcp_in_every_format() {
    let input = Running::start(r#"host => "127.0.0.1" port => 0 timezone => "UTC""#).await;
    let dir = tempfile::tempdir().unwrap();
    let started = Timestamp::now();
    let daemon = start_rsyslog(dir.path(), input.port());

    let expected = PATHS.len() * LINES_PER_PATH;
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    input
        .collect_until(
            &mut events,
            deadline,
            |got| got.len() >= expected,
            || daemon.logs(),
        )
        .await;
    // Nothing more (no duplicates) within a short while.
    input.assert_quiet().await;

    let mut by_program: HashMap<String, Vec<&Event>> = HashMap::new();
    for e in &events {
        let tags = get(e, "tags");
        assert!(tags.is_none(), "not parsed: {e:?}");
        let program = text(e, "[process][name]").unwrap_or_else(|| panic!("no program: {e:?}"));
        by_program.entry(program).or_default().push(e);
    }
    let now = Timestamp::now();
    for (i, path) in PATHS.iter().enumerate() {
        let got = by_program
            .get(path.program)
            .unwrap_or_else(|| panic!("{}: nothing arrived", path.name));
        let mut messages: Vec<String> = got.iter().map(|e| text(e, "message").unwrap()).collect();
        messages.sort();
        let mut written = lines_for(i);
        written.sort();
        assert_eq!(messages, written, "{}", path.name);
        for e in got {
            let what = path.name;
            assert_eq!(
                text(e, "[host][hostname]").as_deref(),
                Some("rsyshost"),
                "{what}"
            );
            assert_eq!(
                text(e, "[host][ip]").as_deref(),
                Some("127.0.0.1"),
                "{what}"
            );
            assert_eq!(
                int(e, "[log][syslog][facility][code]"),
                Some(path.facility.1),
                "{what}"
            );
            assert_eq!(
                int(e, "[log][syslog][severity][code]"),
                Some(path.severity.1),
                "{what}"
            );
            assert_eq!(
                int(e, "[log][syslog][priority]"),
                Some(path.facility.1 * 8 + path.severity.1),
                "{what}"
            );
            // BSD timestamps have whole seconds: the time is within a second of the run.
            let ts = e.timestamp().unwrap();
            assert!(
                ts.secs() >= started.secs() - 1 && ts <= now,
                "{what}: @timestamp {ts:?} outside the run"
            );
        }
    }
    let udp_fwd = by_program["udpfwd"][0];
    assert!(
        text(udp_fwd, "[event][original]").unwrap().contains("T"),
        "RFC 3339 time"
    );
    let octet = by_program["octet5424"][0];
    assert!(
        text(octet, "[system][syslog][version]").is_some(),
        "read as RFC 5424"
    );
    assert!(input.stats.datagrams.load(Ordering::Relaxed) >= 40);
    assert!(input.stats.connections.load(Ordering::Relaxed) >= 2);
    input.stop().await;
}

/// The `syslog` options for TLS with client certificates required, signed by the test CA,
/// plus `extra`.
fn tls_input_options(pki: &Pki, extra: &str) -> String {
    format!(
        "host => \"127.0.0.1\" port => 0 timezone => \"UTC\" {}",
        pki.server_options(&format!(
            "ssl_certificate_authorities => [\"{}\"] ssl_client_authentication => \"required\" \
             {extra}",
            pki.path("ca.crt")
        ))
    )
}

/// Asserts that `events` are exactly `lines` (once each, any order), every one parsed as
/// rsyslog's RFC 5424 rendering of a local5.notice line tagged `program` from `rsyshost`.
fn assert_tls_events(events: &[Event], program: &str, lines: &[String]) {
    let mut messages = Vec::new();
    for e in events {
        assert!(get(e, "tags").is_none(), "not parsed: {e:?}");
        assert_eq!(text(e, "[process][name]").as_deref(), Some(program));
        assert_eq!(text(e, "[host][hostname]").as_deref(), Some("rsyshost"));
        assert_eq!(text(e, "[host][ip]").as_deref(), Some("127.0.0.1"));
        assert_eq!(int(e, "[log][syslog][facility][code]"), Some(21));
        assert_eq!(int(e, "[log][syslog][severity][code]"), Some(5));
        assert_eq!(
            text(e, "[log][syslog][severity][name]").as_deref(),
            Some("Notice")
        );
        assert!(
            text(e, "[system][syslog][version]").is_some(),
            "read as RFC 5424"
        );
        messages.push(text(e, "message").unwrap());
    }
    messages.sort();
    let mut written = lines.to_vec();
    written.sort();
    assert_eq!(messages, written, "{program}: every line once");
}

/// A good daemon (checking our certificate as `mode` says) sends to an input with the `extra`
/// options; then a stranger starts beside it and is turned away at least once; then the good
/// one is given more lines, which arrive too. Every good line arrives once, parsed; nothing
/// from the stranger ever does.
async fn tls_with_a_stranger(mode: AuthMode, program: &str, extra: &str) {
    let pki = Pki::new();
    let input = Running::start(&tls_input_options(&pki, extra)).await;
    let failures = || input.stats.tls_failures.load(Ordering::Relaxed);
    let state = || {
        let stats = &input.stats;
        format!(
            "{} connections, {} open, {} TLS failures",
            stats.connections.load(Ordering::Relaxed),
            stats.open_connections.load(Ordering::Relaxed),
            failures(),
        )
    };
    let good_dir = tempfile::tempdir().unwrap();
    let first = lines_for(10);
    let good = start_tls_rsyslog(
        good_dir.path(),
        input.port(),
        &pki,
        "client",
        mode,
        program,
        &first,
    );
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    input
        .collect_until(
            &mut events,
            deadline,
            |got| count_from(got, program) >= first.len(),
            || format!("{}\n{}", state(), good.logs()),
        )
        .await;
    assert_eq!(failures(), 0, "the good daemon was turned away");

    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger_lines: Vec<String> = (0..5).map(|i| format!("stranger line {i}")).collect();
    let stranger = start_tls_rsyslog(
        stranger_dir.path(),
        input.port(),
        &pki,
        "stranger",
        mode,
        "stranger",
        &stranger_lines,
    );
    let logs = || format!("{}\n{}\n{}", state(), good.logs(), stranger.logs());
    let deadline = Instant::now() + Duration::from_secs(3);
    input
        .collect_until(&mut events, deadline, |_| failures() >= 1, &logs)
        .await;

    let later: Vec<String> = (0..LINES_PER_PATH)
        .map(|i| format!("later line {i}"))
        .collect();
    append_lines(&tls_input_file(good_dir.path()), &later);
    let deadline = Instant::now() + Duration::from_secs(3);
    input
        .collect_until(
            &mut events,
            deadline,
            |got| count_from(got, program) >= first.len() + later.len(),
            &logs,
        )
        .await;
    input.assert_quiet().await;

    assert_eq!(count_from(&events, "stranger"), 0, "the stranger got in");
    let all: Vec<String> = first.iter().chain(&later).cloned().collect();
    assert_tls_events(&events, program, &all);
    input.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tls_checking_our_name_with_a_client_certificate() {
    tls_with_a_stranger(AuthMode::Name, "tlsname", "").await;
}

/// With TLS 1.3 the stranger's handshake completes on its side and the refusal shows when it
/// writes; with TLS 1.2 only, the handshake itself fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tls_1_2_with_a_client_certificate() {
    tls_with_a_stranger(
        AuthMode::Name,
        "tls12",
        r#"ssl_supported_protocols => ["TLSv1.2"]"#,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tls_anonymously_with_a_client_certificate() {
    tls_with_a_stranger(AuthMode::Anon, "tlsanon", "").await;
}
