//! The `docker_logs` input end to end, on json-file layouts built in temporary folders: every
//! line arrives once with its container's fields, across containers that start after the
//! input, rotation by rename while reading, removed containers, 16 KiB split lines (also across
//! a rotation and a restart), bad lines, missing / half-written / changed `config.v2.json`,
//! and restarts that resume from the sincedb.
//!
//! The inputs run with short `stat_interval`s and are polled with deadlines.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::input::{
    append, assert_on_time, input_config, messages, str_at, Running, FAST_TAILING,
};
use sluice::event::{Event, Timestamp};

/// Runs `input { docker_logs { OPTIONS } }`, polling fast unless OPTIONS say otherwise.
fn start(options: &str) -> Running {
    let config = input_config("docker_logs", options, FAST_TAILING);
    Running::config(&config, &common::no_env, 50, 64)
}

/// A Docker data root with containers in it.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        Root {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Options pointing the input at this root, with its sincedb next to it.
    fn options(&self) -> String {
        format!(
            r#"path => "{}" sincedb_path => "{}" start_position => "beginning""#,
            self.path().join("containers").display(),
            self.path().join("sincedb").display()
        )
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.path().join("containers").join(id)
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// Creates a container folder with its configuration.
    fn container(&self, id: &str, name: &str, env: &[&str], labels: &[(&str, &str)]) {
        fs::create_dir_all(self.container_dir(id)).unwrap();
        self.write_config(id, name, env, labels);
    }

    fn write_config(&self, id: &str, name: &str, env: &[&str], labels: &[(&str, &str)]) {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        let config = serde_json::json!({
            "ID": id,
            "Name": format!("/{name}"),
            "Image": "sha256:0123",
            "LogPath": self.log_path(id),
            "Config": { "Image": format!("{name}-image:1.0"), "Env": env, "Labels": labels },
        });
        // As Docker does: a new file renamed over the old one.
        let dir = self.container_dir(id);
        let tmp = dir.join(".config.v2.json.tmp");
        fs::write(&tmp, serde_json::to_vec(&config).unwrap()).unwrap();
        fs::rename(tmp, dir.join("config.v2.json")).unwrap();
    }

    fn append(&self, id: &str, text: &str) {
        append(&self.log_path(id), text);
    }
}

/// One json-file line (with its newline) of `log` (which carries its own `\n` if complete).
fn line(log: &str, stream: &str, time: &str) -> String {
    let record = serde_json::json!({ "log": log, "stream": stream, "time": time });
    format!("{record}\n")
}

/// `n` complete stdout lines `<prefix> <i>`, one millisecond apart.
fn lines(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let time = format!("2024-05-01T10:00:{:02}.{:03}000001Z", i / 1000, i % 1000);
            line(&format!("{prefix} {i}\n"), "stdout", &time)
        })
        .collect()
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

/// The messages of the events of one container, in arrival order.
fn of_container(events: &[Event], id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| str_at(e, "[container][id]") == Some(id))
        .map(|e| e.message().unwrap_or("").to_string())
        .collect()
}

fn cid(n: u32) -> String {
    format!("{n:064x}")
}

#[test]
fn lines_get_the_container_fields() {
    let root = Root::new();
    let (a, b) = (cid(0xa), cid(0xb));
    root.container(
        &a,
        "web",
        &[
            "PATH=/bin",
            "MESOS_TASK_ID=web.1234",
            "MARATHON_APP_ID=/shop/web",
        ],
        &[("team", "core"), ("other", "x")],
    );
    root.container(&b, "db", &["PATH=/bin"], &[("host", "from-label")]);
    root.append(
        &a,
        &(line(
            "hello \"world\" <tag>\n",
            "stdout",
            "2024-05-01T10:00:00.123456789Z",
        ) + &line("oops\n", "stderr", "2024-05-01T10:00:01Z")
            + "this is not json\n"
            + &line("bad time\n", "stdout", "yesterday")),
    );
    root.append(&b, &line("db up\n", "stdout", "2024-05-01T10:00:02.5Z"));
    let run = start(&format!(
        r#"{} fields_from_labels => ["team", "absent", "host"] add_field => {{ "src" => "%{{[container][name]}}" }}"#,
        root.options()
    ));
    let events = run.events(5);
    run.nothing_more();
    let hello = events
        .iter()
        .find(|e| e.message() == Some("hello \"world\" <tag>"))
        .expect("the first line");
    assert_eq!(str_at(hello, "[container][id]"), Some(a.as_str()));
    assert_eq!(str_at(hello, "[container][name]"), Some("web"));
    assert_eq!(str_at(hello, "[container][image]"), Some("web-image:1.0"));
    assert_eq!(str_at(hello, "stream"), Some("stdout"));
    assert_eq!(str_at(hello, "MESOS_TASK_ID"), Some("web.1234"));
    assert_eq!(str_at(hello, "MARATHON_APP_ID"), Some("/shop/web"));
    assert_eq!(str_at(hello, "team"), Some("core"));
    assert_eq!(hello.get_field("absent"), None);
    assert_eq!(hello.get_field("other"), None);
    assert_eq!(
        str_at(hello, "src"),
        Some("web"),
        "shared options see the fields"
    );
    assert!(common::get(hello, "[host][name]").is_some());
    assert_eq!(
        hello.timestamp(),
        Timestamp::parse_iso8601("2024-05-01T10:00:00.123456789Z")
    );
    assert!(common::tags(hello).is_empty());

    let oops = events.iter().find(|e| e.message() == Some("oops")).unwrap();
    assert_eq!(str_at(oops, "stream"), Some("stderr"));
    let raw = events
        .iter()
        .find(|e| e.message() == Some("this is not json"))
        .expect("the bad line is kept");
    assert_eq!(common::tags(raw), ["_dockerlogparsefailure"]);
    assert_eq!(str_at(raw, "[container][name]"), Some("web"));
    let bad_time = events
        .iter()
        .find(|e| e.message() == Some("bad time"))
        .unwrap();
    assert_eq!(common::tags(bad_time), ["_timestampparsefailure"]);

    let db = events
        .iter()
        .find(|e| e.message() == Some("db up"))
        .unwrap();
    assert_eq!(str_at(db, "[container][name]"), Some("db"));
    assert_eq!(db.get_field("MESOS_TASK_ID"), None);
    assert_eq!(
        str_at(db, "host"),
        Some("from-label"),
        "a label named like a field the input sets wins, once"
    );
    assert_eq!(
        db.fields().keys().filter(|k| k.as_str() == "host").count(),
        1
    );
    run.stop();
}

#[test]
fn containers_starting_later_rotation_and_removal() {
    let root = Root::new();
    let (a, b) = (cid(1), cid(2));
    root.container(&a, "first", &[], &[]);
    root.append(&a, &lines("a", 100));
    let run = start(&root.options());
    assert_eq!(of_container(&run.events(100), &a), numbered("a", 0..100));

    // A container started after the input is read from its start.
    root.container(&b, "late", &[], &[]);
    root.append(&b, &lines("b", 30));
    let events = run.events(30);
    assert_eq!(of_container(&events, &b), numbered("b", 0..30));
    assert_eq!(str_at(&events[0], "[container][name]"), Some("late"));

    // Rotation by rename while reading: lines written before and after it arrive once each.
    let log = root.log_path(&a);
    let mut text = lines("a", 300);
    let middle = text[..text.len() / 2].rfind('\n').unwrap() + 1;
    let tail = text.split_off(middle);
    append(&log, &text);
    fs::rename(&log, log.with_extension("log.1")).unwrap();
    append(&log, &tail);
    let all = lines("a", 300);
    let expected: Vec<String> = all
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["log"].as_str().unwrap().trim_end().to_string()
        })
        .collect();
    let events = run.events(300);
    assert_eq!(of_container(&events, &a), expected);
    // And a second rotation: `.1` goes to `.2` (no longer read), the new file is read whole.
    fs::rename(log.with_extension("log.1"), log.with_extension("log.2")).unwrap();
    fs::rename(&log, log.with_extension("log.1")).unwrap();
    root.append(&a, &lines("again", 5));
    assert_eq!(of_container(&run.events(5), &a), numbered("again", 0..5));

    // A removed container goes away quietly; the others go on.
    fs::remove_dir_all(root.container_dir(&b)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    root.append(&a, &lines("after", 3));
    assert_eq!(of_container(&run.events(3), &a), numbered("after", 0..3));
    run.nothing_more();
    run.stop();
}

/// Docker's pieces of a line longer than 16 KiB: all but the last lack the newline.
fn split_line(text: &str, stream: &str, time: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16 * 1024).enumerate() {
        let piece = std::str::from_utf8(chunk).unwrap();
        let last = (i + 1) * 16 * 1024 >= bytes.len();
        let log = if last {
            format!("{piece}\n")
        } else {
            piece.to_string()
        };
        out.push_str(&line(&log, stream, time));
    }
    out
}

fn long_text(seed: char, len: usize) -> String {
    (0..len)
        .map(|i| if i % 97 == 0 { ' ' } else { seed })
        .collect()
}

#[test]
fn split_lines_are_joined_even_across_a_rotation() {
    let root = Root::new();
    let a = cid(3);
    root.container(&a, "big", &[], &[]);
    let long = long_text('x', 40_000);
    let err = long_text('e', 20_000);
    // stdout pieces with a whole stderr line and a split stderr line in between.
    let out_pieces = split_line(&long, "stdout", "2024-05-01T10:00:00.5Z");
    let err_pieces = split_line(&err, "stderr", "2024-05-01T10:00:00.6Z");
    let mut parts = out_pieces.lines().map(|l| format!("{l}\n"));
    let mut text = parts.next().unwrap();
    text.push_str(&line("between\n", "stderr", "2024-05-01T10:00:00.55Z"));
    text.push_str(&err_pieces);
    text.extend(parts);
    root.append(&a, &text);
    let run = start(&root.options());
    let events = run.events(3);
    let messages = messages(&events);
    assert_eq!(messages[0], "between");
    assert_eq!(messages[1], err);
    assert_eq!(messages[2], long);
    let joined = &events[2];
    assert_eq!(str_at(joined, "stream"), Some("stdout"));
    assert_eq!(
        joined.timestamp(),
        Timestamp::parse_iso8601("2024-05-01T10:00:00.5Z"),
        "the first piece's time"
    );
    assert!(common::tags(joined).is_empty());

    // A line whose pieces are split by a rotation comes out whole.
    let log = root.log_path(&a);
    let pieces = split_line(&long_text('r', 33_000), "stdout", "2024-05-01T10:00:01Z");
    let pieces: Vec<&str> = pieces.lines().collect();
    append(&log, &format!("{}\n", pieces[0]));
    std::thread::sleep(Duration::from_millis(100));
    fs::rename(&log, log.with_extension("log.1")).unwrap();
    append(&log, &format!("{}\n{}\n", pieces[1], pieces[2]));
    assert_eq!(messages_of(&run.events(1)), [long_text('r', 33_000)]);
    run.nothing_more();
    run.stop();
}

fn messages_of(events: &[Event]) -> Vec<String> {
    messages(events)
}

#[test]
fn a_last_piece_that_never_comes_is_sent_after_the_timeout() {
    let root = Root::new();
    let a = cid(4);
    root.container(&a, "quitter", &[], &[]);
    root.append(
        &a,
        &line("no newline at exit", "stdout", "2024-05-01T10:00:00Z"),
    );
    let run = start(&format!(
        r#"{} partial_timeout => "200 ms""#,
        root.options()
    ));
    let events = run.events(1);
    assert_eq!(messages(&events), ["no newline at exit"]);
    assert_eq!(common::tags(&events[0]), ["_partial_incomplete"]);
    assert_eq!(str_at(&events[0], "[container][name]"), Some("quitter"));
    run.stop();
}

#[test]
fn partial_and_config_deadlines_are_met_between_slow_rounds() {
    let root = Root::new();
    let (pieces, unnamed) = (cid(40), cid(41));
    root.container(&pieces, "pieces", &[], &[]);
    fs::create_dir_all(root.container_dir(&unnamed)).unwrap();
    root.append(
        &pieces,
        &line("head only", "stdout", "2024-05-01T10:00:00Z"),
    );
    root.append(&unnamed, &lines("unnamed", 1));
    // A slow stat_interval: both deadlines are due sooner, and the watcher wakes up for them.
    let options = format!(
        r#"{} stat_interval => 3 partial_timeout => "200 ms" config_wait => "400 ms""#,
        root.options()
    );
    let started = Instant::now();
    let run = start(&options);
    let events = run.events(2);
    assert_on_time(started, Duration::from_millis(400));
    assert_eq!(of_container(&events, &pieces), ["head only"]);
    assert_eq!(of_container(&events, &unnamed), numbered("unnamed", 0..1));
    let tags: Vec<_> = events.iter().map(common::tags).collect();
    assert!(
        tags.contains(&vec!["_partial_incomplete".to_string()]),
        "{tags:?}"
    );
    assert!(
        tags.contains(&vec!["_dockerconfigmissing".to_string()]),
        "{tags:?}"
    );
    run.stop();
}

#[test]
fn a_multiline_event_is_released_after_auto_flush_interval_between_slow_rounds() {
    let root = Root::new();
    let a = cid(42);
    root.container(&a, "traces", &[], &[]);
    root.append(&a, &line("Error T\n", "stderr", "2024-05-01T10:00:00Z"));
    root.append(&a, &line("  at T.f\n", "stderr", "2024-05-01T10:00:01Z"));
    let options = format!(
        r#"{} stat_interval => 3
           codec => multiline {{ pattern => "^\s" what => "previous" auto_flush_interval => 0.2 }}"#,
        root.options()
    );
    let started = Instant::now();
    let run = start(&options);
    assert_eq!(run.lines(1), ["Error T\n  at T.f"]);
    assert_on_time(started, Duration::from_millis(200));
    run.stop();
}

#[test]
fn lines_wait_for_a_missing_or_half_written_config() {
    let root = Root::new();
    let (late, broken, never) = (cid(5), cid(6), cid(7));
    for id in [&late, &broken, &never] {
        fs::create_dir_all(root.container_dir(id)).unwrap();
    }
    fs::write(
        root.container_dir(&broken).join("config.v2.json"),
        br#"{"ID":"x","Name":"/bro"#,
    )
    .unwrap();
    root.append(&late, &lines("late", 3));
    root.append(&broken, &lines("broken", 2));
    root.append(&never, &lines("never", 2));
    let run = start(&format!(r#"{} config_wait => "1500 ms""#, root.options()));
    // Nothing goes out while the configurations are awaited...
    run.nothing_more();
    root.container(&late, "late-name", &["MESOS_TASK_ID=t-late"], &[]);
    root.write_config(&broken, "fixed", &[], &[]);
    let events = run.events(5);
    for e in &events {
        assert!(common::tags(e).is_empty(), "{e:?}");
        assert!(str_at(e, "[container][name]").is_some());
    }
    let late_events: Vec<_> = events
        .iter()
        .filter(|e| str_at(e, "[container][name]") == Some("late-name"))
        .collect();
    assert_eq!(late_events.len(), 3);
    assert_eq!(str_at(late_events[0], "MESOS_TASK_ID"), Some("t-late"));
    assert_eq!(of_container(&events, &broken), numbered("broken", 0..2));
    // ... and after `config_wait`, the lines of a container without one go out, tagged.
    let events = run.events(2);
    assert_eq!(of_container(&events, &never), numbered("never", 0..2));
    for e in &events {
        assert_eq!(common::tags(e), ["_dockerconfigmissing"]);
        assert_eq!(common::get(e, "[container][name]"), None);
    }
    // Later lines of that container are tagged too, until its configuration appears.
    root.append(&never, &lines("still", 1));
    assert_eq!(common::tags(&run.events(1)[0]), ["_dockerconfigmissing"]);
    root.container(&never, "finally", &[], &[]);
    std::thread::sleep(Duration::from_millis(200));
    root.append(&never, &lines("named", 1));
    let e = run.events(1);
    assert_eq!(str_at(&e[0], "[container][name]"), Some("finally"));
    assert!(common::tags(&e[0]).is_empty());
    run.stop();
}

#[test]
fn a_changed_config_is_read_again() {
    let root = Root::new();
    let a = cid(8);
    root.container(&a, "before", &["MESOS_TASK_ID=one"], &[]);
    root.append(&a, &lines("x", 1));
    let run = start(&root.options());
    assert_eq!(
        str_at(&run.events(1)[0], "[container][name]"),
        Some("before")
    );
    root.write_config(&a, "after", &["MESOS_TASK_ID=two"], &[]);
    std::thread::sleep(Duration::from_millis(200));
    root.append(&a, &lines("y", 1));
    let e = run.events(1);
    assert_eq!(str_at(&e[0], "[container][name]"), Some("after"));
    assert_eq!(str_at(&e[0], "MESOS_TASK_ID"), Some("two"));
    // A half-written new version keeps the last good one in use.
    fs::write(root.container_dir(&a).join("config.v2.json"), "{\"Na").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    root.append(&a, &lines("z", 1));
    let e = run.events(1);
    assert_eq!(str_at(&e[0], "[container][name]"), Some("after"));
    assert!(common::tags(&e[0]).is_empty());
    run.stop();
}

#[test]
fn a_restart_resumes_from_the_sincedb_without_loss_or_repeats() {
    let root = Root::new();
    let (a, b) = (cid(9), cid(10));
    root.container(&a, "a", &[], &[]);
    root.container(&b, "b", &[], &[]);
    root.append(&a, &lines("a", 40));
    root.append(&b, &lines("b", 10));
    let run = start(&root.options());
    let events = run.events(50);
    assert_eq!(of_container(&events, &a), numbered("a", 0..40));
    // The first piece of a split line is read but not complete when the input stops.
    let pieces = split_line(&long_text('p', 20_000), "stdout", "2024-05-01T10:00:03Z");
    let pieces: Vec<&str> = pieces.lines().collect();
    append(&root.log_path(&b), &format!("{}\n", pieces[0]));
    std::thread::sleep(Duration::from_millis(150));
    assert!(run.stop().is_empty());

    // While it is down: more lines, the rest of the split line, and a rotation.
    let log = root.log_path(&a);
    let more: String = (40..60)
        .map(|i| line(&format!("a {i}\n"), "stdout", "2024-05-01T10:01:00Z"))
        .collect();
    append(&log, &more);
    fs::rename(&log, log.with_extension("log.1")).unwrap();
    // Files take their turns oldest first: the rotated file is older than the new one.
    std::thread::sleep(Duration::from_millis(50));
    append(&log, &lines("new", 5));
    append(&root.log_path(&b), &format!("{}\n", pieces[1]));

    let run = start(&root.options());
    let events = run.events(26);
    run.nothing_more();
    let mut expected = numbered("a", 40..60);
    expected.extend(numbered("new", 0..5));
    assert_eq!(of_container(&events, &a), expected);
    assert_eq!(of_container(&events, &b), [long_text('p', 20_000)]);
    run.stop();
}

#[test]
fn start_position_end_and_the_json_codec() {
    let root = Root::new();
    let a = cid(11);
    root.container(&a, "app", &[], &[]);
    root.append(&a, &lines("old", 3));
    let options = format!(
        r#"path => "{}" sincedb_path => "{}" codec => json"#,
        root.path().join("containers").display(),
        root.path().join("sincedb").display()
    );
    let run = start(&options);
    run.nothing_more();
    root.append(
        &a,
        &line(
            "{\"level\":\"info\",\"stream\":\"mine\"}\n",
            "stderr",
            "2024-05-01T10:00:00Z",
        ),
    );
    let e = &run.events(1)[0];
    assert_eq!(str_at(e, "level"), Some("info"));
    assert_eq!(
        str_at(e, "stream"),
        Some("mine"),
        "the event's own field is kept"
    );
    assert_eq!(str_at(e, "[container][name]"), Some("app"));
    run.nothing_more();
    run.stop();
}

#[test]
fn bad_options_are_reported() {
    let err = common::build_error(
        r#"input { docker_logs { path => "containers" } }"#,
        &common::no_env,
    );
    assert!(err.contains("absolute"), "{err}");
    let err = common::build_error(
        r#"input { docker_logs { path => "/x" config_wait => "soon" sincedb_path => "/dev/null" } }"#,
        &common::no_env,
    );
    assert!(err.contains("config_wait"), "{err}");
    let err = common::build_error(
        r#"input { docker_logs { path => "/x" fields_from_env => ["A"] unknown => 1 } }"#,
        &common::no_env,
    );
    assert!(err.contains("unknown"), "{err}");
}
