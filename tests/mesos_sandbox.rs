//! The `mesos_sandbox` input end to end, on Mesos agent work folders built in temporary
//! folders: every line of every executor and task sandbox arrives once with its task's fields
//! (`latest` links included, so nothing is read twice), new runs are picked up, removed ones
//! released, quiet files closed and reopened, a restart resumes from the sincedb, and a
//! multiline codec joins lines per file.
//!
//! The inputs run with short `stat_interval`s and are polled with deadlines.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::input::{
    append, assert_on_time, input_config, messages, str_at, Running, FAST_TAILING,
};
use sluice::event::{Event, Value};

/// Runs `input { mesos_sandbox { OPTIONS } }`, polling fast unless OPTIONS say otherwise.
fn start(options: &str) -> Running {
    let config = input_config("mesos_sandbox", options, FAST_TAILING);
    Running::config(&config, &common::no_env, 50, 64)
}

/// A Mesos agent work folder.
struct WorkDir {
    dir: tempfile::TempDir,
}

const AGENT: &str = "5a1e7c1d-0000-4000-8000-00000000a9e1-S0";
const FRAMEWORK: &str = "0f3c2b1a-0000-4000-8000-00000000f00d-0000";

impl WorkDir {
    fn new() -> WorkDir {
        let w = WorkDir {
            dir: tempfile::tempdir().unwrap(),
        };
        let slaves = w.root().join("slaves");
        fs::create_dir_all(slaves.join(AGENT)).unwrap();
        std::os::unix::fs::symlink(slaves.join(AGENT), slaves.join("latest")).unwrap();
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn options(&self) -> String {
        format!(
            r#"work_dir => "{}" sincedb_path => "{}" start_position => "beginning""#,
            self.root().display(),
            self.dir.path().join("sincedb").display()
        )
    }

    fn runs(&self, executor: &str) -> PathBuf {
        self.root()
            .join("slaves")
            .join(AGENT)
            .join("frameworks")
            .join(FRAMEWORK)
            .join("executors")
            .join(executor)
            .join("runs")
    }

    /// A new run of `executor`, which `runs/latest` then points to.
    fn run(&self, executor: &str, run: &str) -> PathBuf {
        let runs = self.runs(executor);
        let dir = runs.join(run);
        fs::create_dir_all(&dir).unwrap();
        let latest = runs.join("latest");
        let _ = fs::remove_file(&latest);
        std::os::unix::fs::symlink(&dir, latest).unwrap();
        dir
    }
}

fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

/// Messages grouped by `[mesos][container_id]` and `stream`, in arrival order.
fn by_file(events: &[Event]) -> HashMap<(String, String), Vec<String>> {
    let mut out: HashMap<(String, String), Vec<String>> = HashMap::new();
    for e in events {
        let key = (
            str_at(e, "[mesos][container_id]")
                .unwrap_or("?")
                .to_string(),
            str_at(e, "stream").unwrap_or("?").to_string(),
        );
        out.entry(key)
            .or_default()
            .push(e.message().unwrap_or("").to_string());
    }
    out
}

fn key(run: &str, stream: &str) -> (String, String) {
    (run.to_string(), stream.to_string())
}

#[test]
fn every_sandbox_line_once_with_its_task() {
    let w = WorkDir::new();
    let old = w.run("web.t1", "r1-old");
    let current = w.run("web.t1", "r2-new");
    let db = w.run("db.t2", "r3");
    let pod = w.run("pod-executor", "r4");
    let task = pod.join("tasks").join("pod.task-a");
    fs::create_dir_all(&task).unwrap();
    append(&old.join("stdout"), &lines("old", 0..5));
    append(&current.join("stdout"), &lines("web", 0..40));
    append(&current.join("stderr"), &lines("web-err", 0..3));
    append(&db.join("stdout"), &lines("db", 0..7));
    append(&pod.join("stderr"), &lines("executor", 0..2));
    append(&task.join("stdout"), &lines("task", 0..4));
    let run = start(&w.options());
    let events = run.events(61);
    run.nothing_more();
    let files = by_file(&events);
    assert_eq!(files[&key("r1-old", "stdout")], numbered("old", 0..5));
    assert_eq!(files[&key("r2-new", "stdout")], numbered("web", 0..40));
    assert_eq!(files[&key("r2-new", "stderr")], numbered("web-err", 0..3));
    assert_eq!(files[&key("r3", "stdout")], numbered("db", 0..7));
    assert_eq!(files[&key("r4", "stderr")], numbered("executor", 0..2));
    assert_eq!(files[&key("r4", "stdout")], numbered("task", 0..4));

    let web = events
        .iter()
        .find(|e| e.message() == Some("web 0"))
        .unwrap();
    assert_eq!(str_at(web, "MESOS_TASK_ID"), Some("web.t1"));
    assert_eq!(str_at(web, "[mesos][agent_id]"), Some(AGENT));
    assert_eq!(str_at(web, "[mesos][framework_id]"), Some(FRAMEWORK));
    assert_eq!(str_at(web, "[mesos][executor_id]"), Some("web.t1"));
    assert_eq!(str_at(web, "[mesos][container_id]"), Some("r2-new"));
    assert_eq!(str_at(web, "stream"), Some("stdout"));
    assert!(common::get(web, "[host][name]").is_some());
    let t = events
        .iter()
        .find(|e| e.message() == Some("task 0"))
        .unwrap();
    assert_eq!(str_at(t, "MESOS_TASK_ID"), Some("pod.task-a"));
    assert_eq!(str_at(t, "[mesos][task_id]"), Some("pod.task-a"));
    assert_eq!(str_at(t, "[mesos][executor_id]"), Some("pod-executor"));

    // A new run (the task restarted) is read from its start, once, `latest` now pointing to it.
    let next = w.run("web.t1", "r5-restart");
    append(&next.join("stdout"), &lines("restarted", 0..10));
    let events = run.events(10);
    assert_eq!(
        by_file(&events)[&key("r5-restart", "stdout")],
        numbered("restarted", 0..10)
    );
    assert_eq!(str_at(&events[0], "MESOS_TASK_ID"), Some("web.t1"));

    // The agent removes an old sandbox: it is released; the others go on.
    fs::remove_dir_all(&old).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    append(&db.join("stdout"), &lines("db", 7..9));
    assert_eq!(messages(&run.events(2)), numbered("db", 7..9));
    run.nothing_more();
    run.stop();
}

#[test]
fn quiet_files_close_and_a_restart_resumes_from_the_sincedb() {
    let w = WorkDir::new();
    let r = w.run("job.1", "run-a");
    append(&r.join("stdout"), &lines("out", 0..20));
    append(&r.join("stderr"), &lines("err", 0..5));
    let options = format!(r#"{} close_older => "100 ms""#, w.options());
    let run = start(&options);
    let events = run.events(25);
    let files = by_file(&events);
    assert_eq!(files[&key("run-a", "stdout")], numbered("out", 0..20));
    // Closed while quiet, reopened when it grows.
    std::thread::sleep(Duration::from_millis(300));
    append(&r.join("stdout"), &lines("out", 20..25));
    assert_eq!(messages(&run.events(5)), numbered("out", 20..25));
    assert!(run.stop().is_empty());

    append(&r.join("stdout"), &lines("out", 25..30));
    append(&r.join("stderr"), &lines("err", 5..7));
    let later = w.run("job.1", "run-b");
    append(&later.join("stdout"), &lines("b", 0..3));
    let run = start(&options);
    let events = run.events(10);
    run.nothing_more();
    let files = by_file(&events);
    assert_eq!(files[&key("run-a", "stdout")], numbered("out", 25..30));
    assert_eq!(files[&key("run-a", "stderr")], numbered("err", 5..7));
    assert_eq!(files[&key("run-b", "stdout")], numbered("b", 0..3));
    run.stop();
}

#[test]
fn multiline_joins_lines_per_file() {
    let w = WorkDir::new();
    let a = w.run("svc.a", "ra");
    let b = w.run("svc.b", "rb");
    append(
        &a.join("stderr"),
        "Exception in thread main\n  at A.f\n  at A.g\nnext a\n",
    );
    append(&b.join("stderr"), "Error B\n  at B.h\n");
    let options = format!(
        r#"{} codec => multiline {{ pattern => "^\s" what => "previous" auto_flush_interval => 0.2 }}"#,
        w.options()
    );
    let run = start(&options);
    let events = run.events(3);
    run.nothing_more();
    let files = by_file(&events);
    assert_eq!(
        files[&key("ra", "stderr")],
        ["Exception in thread main\n  at A.f\n  at A.g", "next a"]
    );
    assert_eq!(files[&key("rb", "stderr")], ["Error B\n  at B.h"]);
    let joined = events
        .iter()
        .find(|e| e.message() == Some("Error B\n  at B.h"))
        .unwrap();
    assert_eq!(str_at(joined, "MESOS_TASK_ID"), Some("svc.b"));
    assert_eq!(common::tags(joined), ["multiline"]);
    run.stop();
}

#[test]
fn a_multiline_event_is_released_after_auto_flush_interval_between_slow_rounds() {
    let w = WorkDir::new();
    let r = w.run("svc.slow", "rs");
    append(&r.join("stdout"), "Error S\n  at S.f\n");
    // A slow stat_interval: the flush is due sooner, and the watcher wakes up for it.
    let options = format!(
        r#"{} stat_interval => 3
           codec => multiline {{ pattern => "^\s" what => "previous" auto_flush_interval => 0.2 }}"#,
        w.options()
    );
    let started = Instant::now();
    let run = start(&options);
    assert_eq!(run.lines(1), ["Error S\n  at S.f"]);
    assert_on_time(started, Duration::from_millis(200));
    run.stop();
}

#[test]
fn a_line_oriented_codec_takes_each_file_line_as_one_line() {
    let w = WorkDir::new();
    let r = w.run("svc.json", "rj");
    append(&r.join("stdout"), "{\"n\":1}\n{\"n\":2}\n");
    let run = start(&format!("{} codec => json_lines", w.options()));
    let events = run.events(2);
    let numbers: Vec<_> = events
        .iter()
        .map(|e| common::get(e, "n").cloned())
        .collect();
    assert_eq!(numbers, [Some(Value::Int(1)), Some(Value::Int(2))]);
    assert_eq!(str_at(&events[0], "MESOS_TASK_ID"), Some("svc.json"));
    run.nothing_more();
    run.stop();
}

#[test]
fn work_dir_is_required_and_absolute() {
    let err = common::build_error("input { mesos_sandbox { } }", &common::no_env);
    assert!(err.contains("work_dir"), "{err}");
    let err = common::build_error(
        r#"input { mesos_sandbox { work_dir => "relative/dir" } }"#,
        &common::no_env,
    );
    assert!(err.contains("absolute"), "{err}");
}
