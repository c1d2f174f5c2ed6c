//! The `syslog` input fed by the real rsyslog daemon (`/usr/sbin/rsyslogd`, installed by
//! `scripts/install-deps.sh`): rsyslog reads lines from files (imfile) and forwards them with
//! omfwd four ways - UDP with RSYSLOG_TraditionalForwardFormat (RFC 3164, BSD timestamp), UDP
//! with RSYSLOG_ForwardFormat (RFC 3339 timestamp), TCP octet-counted with
//! RSYSLOG_SyslogProtocol23Format (RFC 5424) and TCP LF-delimited with RSYSLOG_ForwardFormat.
//! Every line must arrive once, parsed: program, host, facility, severity, message, time.
//!
//! The daemon runs with its own config and work directory in a temp dir (`-n -f CONF -i
//! PIDFILE`), no system sockets (no imuxsock, imklog), and is killed when the test ends.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sluice::codecs::plain::Plain;
use sluice::config::ast::Statement;
use sluice::config::options::EcsCompatibility;
use sluice::config::{parse, ParseOptions, PluginArgs, SourceMap};
use sluice::event::{Event, FieldPath, Timestamp, Value};
use sluice::inputs::syslog::build_syslog;
use sluice::inputs::{Input, InputContext, Shutdown, COMMON_NAMES};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const LINES_PER_PATH: usize = 20;

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

/// The rsyslog daemon, killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

fn config(dir: &Path, port: u16) -> String {
    let mut conf = format!(
        "global(workDirectory=\"{}\" localHostname=\"rsyshost\" maxMessageSize=\"64k\")\n\
         module(load=\"imfile\")\n",
        dir.join("work").display()
    );
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
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} is missing: run scripts/install-deps.sh"
    );
    std::fs::create_dir_all(dir.join("work")).unwrap();
    for (i, p) in PATHS.iter().enumerate() {
        let mut text = lines_for(i).join("\n");
        text.push('\n');
        std::fs::write(dir.join(format!("{}.log", p.name)), text).unwrap();
    }
    let conf = dir.join("rsyslog.conf");
    std::fs::write(&conf, config(dir, port)).unwrap();
    let child = Command::new(RSYSLOGD)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslog.pid"))
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    Daemon(child)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_udp_and_tcp_in_every_format() {
    let text_conf = r#"input { syslog { host => "127.0.0.1" port => 0 timezone => "UTC" } }"#;
    let sources = SourceMap::single("test.conf", text_conf);
    let ast = parse(&sources, ParseOptions::default()).unwrap();
    let Statement::Plugin(plugin) = &ast.sections[0].body[0] else {
        panic!("not a plugin");
    };
    let mut args = PluginArgs::new(plugin, &no_env).with_ecs_compatibility(EcsCompatibility::V8);
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
    let port = stats.tcp_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let started = Timestamp::now();
    let _daemon = start_rsyslog(dir.path(), port);

    let expected = PATHS.len() * LINES_PER_PATH;
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while events.len() < expected {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(mut batch)) => events.append(&mut batch.events),
            _ => panic!("{} of {expected} events arrived: {events:#?}", events.len()),
        }
    }
    // Nothing more (no duplicates) within a short while.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.try_recv().is_err(), "more events than lines written");

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
    assert!(stats.datagrams.load(std::sync::atomic::Ordering::Relaxed) >= 40);
    assert!(stats.connections.load(std::sync::atomic::Ordering::Relaxed) >= 2);

    shutdown.request();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the input stops")
        .unwrap()
        .unwrap();
}
