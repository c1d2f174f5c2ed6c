//! The `mesos_sandbox` input end to end, on Mesos agent work folders built in temporary
//! folders: every line of every executor and task sandbox arrives once with its task's fields
//! (`latest` links included, so nothing is read twice), new runs are picked up, removed ones
//! released, quiet files closed and reopened, a restart resumes from the sincedb, and a
//! multiline codec joins lines per file.
//!
//! The inputs run with short `stat_interval`s and are polled with deadlines.

mod common;

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluice::event::{Batch, Event, Value};
use sluice::inputs::{InputContext, InputError, Shutdown};

const PATIENCE: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
const FAST: &str =
    r#"stat_interval => "20 ms" discover_interval => 1 sincedb_write_interval => "20 ms""#;

struct Running {
    rx: async_channel::Receiver<Batch>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), InputError>>,
    rt: tokio::runtime::Runtime,
}

fn start(options: &str) -> Running {
    let config = format!("input {{ mesos_sandbox {{ {options} {FAST} }} }}");
    let mut plan = common::plan_of(&config, &common::no_env);
    let input = plan.inputs.remove(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = async_channel::bounded(64);
    let shutdown = Shutdown::new();
    let ctx = InputContext::new(tx)
        .with_decoration(input.decoration)
        .with_batch_size(50)
        .with_shutdown(shutdown.clone());
    let task = rt.spawn(input.input.run(ctx));
    Running {
        rx,
        shutdown,
        task,
        rt,
    }
}

impl Running {
    fn next_batch(&self, wait: Duration) -> Option<Batch> {
        self.rt
            .block_on(async { tokio::time::timeout(wait, self.rx.recv()).await })
            .ok()
            .and_then(Result::ok)
    }

    fn events(&self, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + PATIENCE;
        let mut events = Vec::new();
        while events.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(mut batch) = self.next_batch(left) else {
                panic!(
                    "{} of {n} events arrived: {:?}",
                    events.len(),
                    messages(&events)
                );
            };
            events.append(&mut batch.events);
        }
        assert_eq!(events.len(), n, "too many: {:?}", messages(&events));
        events
    }

    fn nothing_more(&self) {
        if let Some(batch) = self.next_batch(QUIET) {
            panic!("unexpected events: {:?}", messages(&batch.events));
        }
    }

    fn stop(self) -> Vec<Event> {
        self.shutdown.request();
        let mut rest = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the input did not stop");
            match self
                .rt
                .block_on(async { tokio::time::timeout(left, self.rx.recv()).await })
            {
                Ok(Ok(mut batch)) => rest.append(&mut batch.events),
                Ok(Err(_)) => break,
                Err(_) => panic!("the input did not stop"),
            }
        }
        self.rt.block_on(self.task).unwrap().unwrap();
        rest
    }
}

fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.message().unwrap_or("<none>").to_string())
        .collect()
}

fn str_at<'e>(e: &'e Event, path: &str) -> Option<&'e str> {
    common::get(e, path).and_then(Value::as_str)
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

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
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
fn work_dir_is_required_and_absolute() {
    let err = common::build_error("input { mesos_sandbox { } }", &common::no_env);
    assert!(err.contains("work_dir"), "{err}");
    let err = common::build_error(
        r#"input { mesos_sandbox { work_dir => "relative/dir" } }"#,
        &common::no_env,
    );
    assert!(err.contains("absolute"), "{err}");
}
