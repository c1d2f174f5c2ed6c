//! `sluice sandbox --follow`: a live source (a file, a syslog port, the mock Kafka) through the
//! page's filters into the tap's ring, read back as `GET /api/tap` answers it.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sluice::sandbox::tap::{Tap, TapError, TapQuery};
use sluice::standin::kafka::{Message, MockKafka};

use common::{graph, wait_for_value};

/// A runtime like the sandbox server's; the tap's pipeline runs on it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn query(where_: Option<&str>, fields: &[&str], limit: Option<usize>) -> TapQuery {
    TapQuery {
        where_: where_.map(str::to_string),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        limit,
    }
}

fn all(tap: &Tap) -> Json {
    tap.snapshot(&TapQuery::default()).unwrap()
}

/// The answer's events' values at a JSON pointer (`/message`), missing ones as `null`.
fn column(answer: &Json, pointer: &str) -> Vec<Json> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].pointer(pointer).cloned().unwrap_or(Json::Null))
        .collect()
}

fn messages(answer: &Json) -> Vec<String> {
    column(answer, "/message")
        .into_iter()
        .map(|m| m.as_str().unwrap_or("<none>").to_string())
        .collect()
}

fn seqs(answer: &Json) -> Vec<u64> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

fn append(path: &std::path::Path, lines: &[&str]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
}

fn wait_seen(tap: &Tap, n: u64) {
    wait_for_value("events seen by the tap", n, || tap.seen());
}

/// A log file in a temporary folder, and its `file:` source.
fn log_file(lines: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, lines);
    let source = format!("file:{}", path.display());
    (dir, path, source)
}

#[test]
fn a_tap_is_shareable_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Tap>();
}

#[test]
fn a_file_is_read_from_the_start_then_followed_through_the_filters_into_a_bounded_ring() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let (_dir, path, source) = log_file(&["old 1", "old 2"]);
    let filters = graph(r#"mutate { add_field => { "via" => "tap %{message}" } }"#);
    let tap = Tap::start(&source, filters, 5).unwrap();
    assert_eq!(tap.source(), source);
    wait_seen(&tap, 2);
    assert_eq!(messages(&all(&tap)), ["old 1", "old 2"]);

    let new: Vec<String> = (1..=8).map(|i| format!("new {i}")).collect();
    append(&path, &new.iter().map(String::as_str).collect::<Vec<_>>());
    wait_seen(&tap, 10);
    let answer = all(&tap);
    assert_eq!(answer["source"], source.as_str());
    assert_eq!(answer["running"], true);
    assert_eq!(answer["error"], Json::Null);
    assert_eq!(answer["seen"], 10);
    assert_eq!(
        messages(&answer),
        ["new 4", "new 5", "new 6", "new 7", "new 8"]
    );
    assert_eq!(seqs(&answer), [6, 7, 8, 9, 10]);
    let via: Vec<Json> = column(&answer, "/via");
    let expected: Vec<Json> = (4..=8)
        .map(|i| Json::from(format!("tap new {i}")))
        .collect();
    assert_eq!(via, expected);
    // The file input's fields are there too: the event is what the pipeline made.
    let first = &answer["events"][0]["event"];
    assert!(first["@timestamp"].is_string(), "{first}");
}

#[test]
fn where_limit_and_fields_narrow_the_answer() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let lines = [
        "cron job 1 ran",
        "sshd login 2",
        "cron job 3 ran",
        "kernel oops 4",
        "cron job 5 ran",
    ];
    let (_dir, _path, source) = log_file(&lines);
    let filters = graph(
        r#"grok { match => { "message" => "%{WORD:program} %{WORD:what} %{INT:n:int}" } }
           mutate { add_field => { "[extra][tapped]" => "yes" "[@metadata][kind]" => "%{program}" } }"#,
    );
    let tap = Tap::start(&source, filters, 100).unwrap();
    wait_seen(&tap, 5);

    let cron = tap
        .snapshot(&query(Some(r#"[program] == "cron""#), &[], None))
        .unwrap();
    assert_eq!(
        messages(&cron),
        ["cron job 1 ran", "cron job 3 ran", "cron job 5 ran"]
    );
    assert_eq!(seqs(&cron), [1, 3, 5]);
    assert_eq!(cron["seen"], 5, "seen counts every event, matching or not");
    assert_eq!(cron["events"][0]["metadata"]["kind"], "cron");

    let newest = tap
        .snapshot(&query(
            Some("[n] > 1 and [program] != \"kernel\""),
            &[],
            Some(2),
        ))
        .unwrap();
    assert_eq!(messages(&newest), ["cron job 3 ran", "cron job 5 ran"]);

    let cut = tap
        .snapshot(&query(
            Some("[what] == \"login\""),
            &["program", "[extra][tapped]", "[n]", "[no][such]"],
            None,
        ))
        .unwrap();
    let events = cut["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["event"],
        serde_json::json!({"program": "sshd", "extra": {"tapped": "yes"}, "n": 2})
    );

    let meta = tap
        .snapshot(&query(None, &["[@metadata][kind]"], Some(1)))
        .unwrap();
    assert_eq!(meta["events"][0]["event"], serde_json::json!({}));
    assert_eq!(
        meta["events"][0]["metadata"],
        serde_json::json!({"kind": "cron"})
    );

    let none = tap
        .snapshot(&query(Some("[program] =~ /^zzz/"), &[], None))
        .unwrap();
    assert_eq!(none["events"], serde_json::json!([]));
    let blank = tap.snapshot(&query(Some("  "), &[" "], Some(1))).unwrap();
    assert_eq!(
        messages(&blank),
        ["cron job 5 ran"],
        "blank where/fields mean none"
    );
}

#[test]
fn replaced_filters_apply_to_later_events() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let (_dir, path, source) = log_file(&["before"]);
    let tap = Tap::start(
        &source,
        graph(r#"mutate { add_field => { "stage" => "one" } }"#),
        10,
    )
    .unwrap();
    wait_seen(&tap, 1);
    tap.replace_filters(graph(
        r#"mutate { add_field => { "stage" => "two" } add_tag => ["replaced"] }"#,
    ));
    append(&path, &["after"]);
    wait_seen(&tap, 2);
    let answer = all(&tap);
    assert_eq!(messages(&answer), ["before", "after"]);
    assert_eq!(column(&answer, "/stage"), ["one", "two"]);
    assert_eq!(
        column(&answer, "/tags"),
        [Json::Null, serde_json::json!(["replaced"])]
    );
}

#[test]
fn a_dropping_filter_keeps_events_out_of_the_ring() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let (_dir, path, source) = log_file(&["keep 1", "noise", "keep 2"]);
    let tap = Tap::start(&source, graph(r#"if [message] == "noise" { drop {} }"#), 10).unwrap();
    wait_seen(&tap, 2);
    append(&path, &["keep 3"]);
    wait_seen(&tap, 3);
    assert_eq!(messages(&all(&tap)), ["keep 1", "keep 2", "keep 3"]);
}

#[test]
fn stop_ends_the_pipeline_and_keeps_the_events() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let (_dir, _path, source) = log_file(&["only line"]);
    let tap = Tap::start(&source, graph(""), 10).unwrap();
    wait_seen(&tap, 1);
    assert!(tap.is_running());
    tap.stop();
    wait_for_value("running after stop", false, || tap.is_running());
    let answer = all(&tap);
    assert_eq!(answer["running"], false);
    assert_eq!(answer["error"], Json::Null, "stopping is not an error");
    assert_eq!(messages(&answer), ["only line"]);
}

/// A port free on both TCP and UDP (for a moment).
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// Runs `attempt` (which sends something) until `done` holds, for up to 10 s: a datagram sent
/// before the input listens is lost.
fn retry_until(what: &str, mut attempt: impl FnMut(), mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        attempt();
        let round = Instant::now() + Duration::from_millis(300);
        while Instant::now() < round {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(Instant::now() < deadline, "{what}: not seen in time");
    }
}

#[test]
fn a_syslog_port_takes_messages_over_udp_and_tcp() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let port = free_port();
    let tap = Tap::start(
        &format!("syslog:{port}"),
        graph(r#"mutate { add_field => { "via" => "tap" } }"#),
        10,
    )
    .unwrap();
    assert_eq!(tap.input_config(), format!("syslog {{ port => {port} }}"));
    let tap = &tap;
    let has = |needle: &str| {
        let needle = needle.to_string();
        move || {
            let answer = tap.snapshot(&TapQuery::default()).unwrap();
            answer["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"].to_string().contains(&needle))
        }
    };

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = "<13>Nov 21 10:00:00 web1 cron[12]: udp job done";
    retry_until(
        "the UDP message",
        || {
            udp.send_to(datagram.as_bytes(), ("127.0.0.1", port))
                .unwrap();
        },
        has("udp job done"),
    );

    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.write_all(b"<14>Nov 21 10:00:01 web2 sshd[7]: tcp login ok\n")
        .unwrap();
    tcp.flush().unwrap();
    wait_for_value("the TCP message", true, has("tcp login ok"));

    let answer = tap
        .snapshot(&query(Some(r#"[message] =~ /tcp login/"#), &[], None))
        .unwrap();
    let events = answer["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer}");
    let event = &events[0]["event"];
    assert_eq!(event["via"], "tap");
    let text = event.to_string();
    // Parsed by the syslog input: the program and the host are fields of their own.
    assert!(text.contains("sshd") && text.contains("web2"), "{text}");
    assert_eq!(answer["running"], true);
}

#[test]
fn a_source_that_fails_is_reported_not_running_with_its_error() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    // The syslog input cannot listen on a port someone else holds.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let tap = Tap::start(&format!("syslog:{port}"), graph(""), 10).unwrap();
    wait_for_value("running with the port taken", false, || tap.is_running());
    let answer = all(&tap);
    assert_eq!(answer["running"], false);
    let error = answer["error"].as_str().expect("an error message");
    assert!(error.contains("syslog"), "{error}");
}

#[test]
fn a_kafka_topic_of_the_mock_cluster_is_read_from_its_start() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let cluster = MockKafka::new().unwrap();
    cluster.create_topic("logs", 1).unwrap();
    let first: Vec<String> = (0..5).map(|i| format!("k-{i}")).collect();
    cluster
        .produce("logs", first.iter().map(|m| Message::new(m.as_bytes())))
        .unwrap();
    let source = format!("kafka:{}/logs", cluster.bootstrap_servers());
    let tap = Tap::start(&source, graph(r#"mutate { uppercase => ["message"] }"#), 4).unwrap();
    wait_seen(&tap, 5);
    assert_eq!(messages(&all(&tap)), ["K-1", "K-2", "K-3", "K-4"]);
    cluster
        .produce("logs", ["k-5", "k-6"].map(|m| Message::new(m.as_bytes())))
        .unwrap();
    wait_seen(&tap, 7);
    let answer = all(&tap);
    assert_eq!(messages(&answer), ["K-3", "K-4", "K-5", "K-6"]);
    assert_eq!(seqs(&answer), [4, 5, 6, 7]);
    // Stopped while the cluster is still up, the consumer leaves its group cleanly.
    tap.stop();
    wait_for_value("running after stop", false, || tap.is_running());
    assert_eq!(all(&tap)["error"], Json::Null);
}

#[test]
fn a_full_input_plugin_is_built_like_sluice_run_builds_it() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let tap = Tap::start(
        r#"generator { lines => ["a", "b", "c"] count => 2 }"#,
        graph(""),
        10,
    )
    .unwrap();
    wait_seen(&tap, 6);
    // The generator ends after its count: the tap stops on its own, without an error.
    wait_for_value("running after the input ended", false, || tap.is_running());
    let answer = all(&tap);
    assert_eq!(messages(&answer), ["a", "b", "c", "a", "b", "c"]);
    assert_eq!(answer["error"], Json::Null);
}

#[test]
fn a_relative_file_path_is_resolved_from_the_working_folder() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let tap = Tap::start("file:not-there-yet/app.log", graph(""), 10).unwrap();
    let absolute = std::env::current_dir()
        .unwrap()
        .join("not-there-yet/app.log");
    let config = tap.input_config();
    assert!(config.starts_with("file {"), "{config}");
    assert!(
        config.contains(&format!("path => \"{}\"", absolute.display())),
        "{config}"
    );
    assert!(
        config.contains("start_position => \"beginning\""),
        "{config}"
    );
    // A file that does not exist yet is waited for, not an error.
    assert!(tap.is_running());
    assert_eq!(all(&tap)["seen"], 0);
}

fn start_error(source: &str) -> String {
    match Tap::start(source, graph(""), 10) {
        Ok(_) => panic!("{source:?} should not start"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_sources_are_errors_with_their_place() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let unknown = start_error("sislog { port => 5514 }");
    assert!(unknown.contains("--follow:1:1:"), "{unknown}");
    assert!(unknown.contains("unknown input plugin"), "{unknown}");
    assert!(unknown.contains("did you mean \"syslog\""), "{unknown}");

    let option = start_error(r#"file { path => "/tmp/x.log" mdoe => "tail" }"#);
    assert!(option.contains("--follow:1:"), "{option}");
    assert!(option.contains("mdoe"), "{option}");

    let syntax = start_error("file { path => }");
    assert!(syntax.contains("--follow:1:"), "{syntax}");

    let two = start_error("stdin {} stdin {}");
    assert!(two.contains("exactly one input plugin"), "{two}");
    let escape = start_error("stdin {} } filter { mutate {} ");
    assert!(escape.contains("exactly one input plugin"), "{escape}");

    let port = start_error("syslog:70000");
    assert!(port.contains("not a port number"), "{port}");
    let kafka = start_error("kafka:localhost:9092");
    assert!(kafka.contains("kafka:HOST:PORT/TOPIC"), "{kafka}");
    let shorthand = start_error("ftp:somewhere");
    assert!(shorthand.contains("unknown source"), "{shorthand}");
    assert!(start_error("  ").contains("empty source"));
    assert!(start_error("file:").contains("path is empty"));
}

#[test]
fn bad_conditions_and_fields_are_errors() {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let (_dir, _path, source) = log_file(&["x"]);
    let tap = Tap::start(&source, graph(""), 10).unwrap();
    let error = |q: TapQuery| match tap.snapshot(&q) {
        Ok(answer) => panic!("should fail: {answer}"),
        Err(e) => e,
    };

    let syntax = error(query(Some("[a] =="), &[], None));
    assert!(matches!(syntax, TapError::Condition(_)), "{syntax}");
    assert!(
        syntax
            .to_string()
            .contains("where:1:7: expected a value after \"==\", found the end of the condition"),
        "{syntax}"
    );

    let regex = error(query(Some("[a] =~ /(/"), &[], None));
    assert!(matches!(regex, TapError::Condition(_)), "{regex}");
    assert!(regex.to_string().contains("where:1:8:"), "{regex}");

    let escape = error(query(Some("[a] {} } filter { if [b]"), &[], None));
    assert!(
        escape.to_string().contains("expected one condition"),
        "{escape}"
    );

    let field = error(query(None, &["[a"], None));
    assert!(matches!(field, TapError::Field { .. }), "{field}");
    assert!(field.to_string().contains("[a"), "{field}");
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    match Tap::start("syslog:5514", graph(""), 10) {
        Err(TapError::NoRuntime) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("started without a runtime"),
    }
}
