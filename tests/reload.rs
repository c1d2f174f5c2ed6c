//! Reloading filters while the pipeline runs: the in-process filter swap
//! ([`sluice::pipeline::FilterSwitch`]) under a continuous input, and `sluice run -r` / SIGHUP
//! reloading its local config files.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::worker::Worker;
use sluice::event::{Batch, Event, Text, Timestamp, Value};
use sluice::inputs::{Decoration, Input, InputContext, InputError};
use sluice::outputs::{Output, OutputBatch, OutputError};
use sluice::pipeline::{Ordered, Pipeline, PipelineSettings};
use sluice::plan::{InputPlan, OutputGraph, OutputNode, OutputPlan, Plan};

// ---------------------------------------------------------------------------------------------
// In process: the swap

/// Sends numbered events (field `n`) until shutdown, counting what the pipeline accepted.
struct Endless {
    accepted: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Input for Endless {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let mut next = 0u64;
        while !ctx.shutdown().is_requested() {
            let events = (next..next + 7)
                .map(|n| {
                    let mut e = Event::new(Timestamp::from_secs(0));
                    e.set_field(Text::new("n"), Value::Int(n as i64));
                    e
                })
                .collect();
            ctx.send(Batch::new(events)).await?;
            next += 7;
            self.accepted.store(next, Ordering::SeqCst);
            tokio::task::yield_now().await;
        }
        Ok(())
    }
}

/// Every event's `(n, mark)` in the order the output got them; `mixed` is set if one batch
/// held two marks.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<(i64, String)>>>,
    mixed: Arc<AtomicBool>,
}

impl Seen {
    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn count_marked(&self, mark: &str) -> usize {
        let events = self.events.lock().unwrap();
        events.iter().filter(|(_, m)| m == mark).count()
    }
}

struct Recorder(Seen);

#[async_trait::async_trait]
impl Output for Recorder {
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        let marked: Vec<(i64, String)> = batch
            .events()
            .map(|e| {
                let n = match e.get_field("n") {
                    Some(Value::Int(n)) => *n,
                    _ => -1,
                };
                let mark = e.get_field("mark").and_then(Value::as_str).unwrap_or("");
                (n, mark.to_string())
            })
            .collect();
        if marked.windows(2).any(|w| w[0].1 != w[1].1) {
            self.0.mixed.store(true, Ordering::SeqCst);
        }
        self.0.events.lock().unwrap().extend(marked);
        Ok(())
    }
}

fn marking(mark: &str) -> sluice::plan::FilterGraph {
    common::graph(&format!(
        "mutate {{ add_field => {{ \"mark\" => \"{mark}\" }} }}"
    ))
}

fn endless_plan(accepted: &Arc<AtomicU64>, seen: &Seen) -> Plan {
    Plan {
        inputs: vec![InputPlan {
            name: "endless".into(),
            id: "endless".into(),
            input: Box::new(Endless {
                accepted: accepted.clone(),
            }),
            decoration: Decoration::default(),
        }],
        filters: marking("old"),
        outputs: vec![OutputPlan {
            name: "recorder".into(),
            id: "recorder".into(),
            output: Box::new(Recorder(seen.clone())),
        }],
        output_routes: OutputGraph {
            nodes: vec![OutputNode::Output(0)],
        },
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a continuous pipeline, swaps `old` for `new` once some events went through, stops
/// after more went through, and returns what the output saw with the number accepted.
fn run_with_swap(ordered: Ordered) -> (Seen, u64) {
    let accepted = Arc::new(AtomicU64::new(0));
    let seen = Seen::default();
    let settings = PipelineSettings {
        workers: 4,
        batch_size: 50,
        batch_delay: Duration::from_millis(1),
        ordered,
        ..Default::default()
    };
    let pipeline = Pipeline::new(endless_plan(&accepted, &seen), settings);
    let switch = pipeline.filter_switch();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        pipeline.run_until(async {
            let _ = stop_rx.await;
        })
    });
    wait_until("events with the old filters", || seen.len() >= 5_000);
    assert_eq!(switch.generation(), 0);
    assert_eq!(switch.replace(marking("new")), 1);
    wait_until("events with the new filters", || {
        seen.count_marked("new") >= 5_000
    });
    stop_tx.send(()).unwrap();
    running.join().unwrap().expect("the pipeline runs");
    let accepted = accepted.load(Ordering::SeqCst);
    (seen, accepted)
}

fn assert_each_event_once(seen: &Seen, accepted: u64) {
    let mut numbers: Vec<i64> = seen.events.lock().unwrap().iter().map(|e| e.0).collect();
    numbers.sort_unstable();
    assert_eq!(numbers.len() as u64, accepted, "events out vs accepted");
    assert!(
        numbers.iter().enumerate().all(|(i, n)| *n == i as i64),
        "every accepted event comes out exactly once"
    );
}

#[test]
fn an_ordered_pipeline_switches_filters_at_one_point_without_loss() {
    let (seen, accepted) = run_with_swap(Ordered::Always);
    assert_each_event_once(&seen, accepted);
    assert!(!seen.mixed.load(Ordering::SeqCst), "a batch mixed marks");
    let events = seen.events.lock().unwrap();
    // In order, the marks are old...old new...new: one cut.
    let first_new = events.iter().position(|e| e.1 == "new").unwrap();
    assert!(first_new >= 5_000, "the old filters ran until the switch");
    assert!(events[..first_new].iter().all(|e| e.1 == "old"));
    assert!(events[first_new..].iter().all(|e| e.1 == "new"));
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "order kept");
}

#[test]
fn an_unordered_pipeline_switches_filters_between_batches_without_loss() {
    let (seen, accepted) = run_with_swap(Ordered::Never);
    assert_each_event_once(&seen, accepted);
    assert!(!seen.mixed.load(Ordering::SeqCst), "a batch mixed marks");
    assert!(seen.count_marked("old") >= 5_000);
    assert!(seen.count_marked("new") >= 5_000);
    assert_eq!(
        seen.count_marked("old") + seen.count_marked("new"),
        seen.len(),
        "every event went through one of the graphs"
    );
    // Batches started before the swap may finish after a new one, but not long after: the
    // last events are all new.
    let events = seen.events.lock().unwrap();
    assert!(events[events.len() - 1_000..].iter().all(|e| e.1 == "new"));
}

// ---------------------------------------------------------------------------------------------
// A real `sluice run` reloading its config file

/// `sluice run ARGS` reading numbered lines (see [`Worker`]), marking events in `mark`,
/// ordered, with its API on any free port.
fn start(args: &[&str]) -> Worker {
    let mut all = args.to_vec();
    all.extend(["--http.port", "0", "--pipeline.ordered", "true"]);
    Worker::start(&all, "mark")
}

/// Ends the worker; checks it exited 0 and every line came out once, in order. Returns the
/// marks in order, deduplicated.
fn finish(worker: Worker) -> Vec<String> {
    let events = worker.finish_in_order();
    let mut marks: Vec<String> = events
        .iter()
        .map(|e| e["mark"].as_str().unwrap_or("").to_string())
        .collect();
    marks.dedup();
    marks
}

const OUTPUT: &str = "output { stdout { codec => json_lines } }\n";

fn write_config(path: &std::path::Path, filters: &str, output: &str) {
    let text = format!("input {{ stdin {{}} }}\nfilter {{\n{filters}\n}}\n{output}");
    // Written whole then renamed, so the watcher never reads half a file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

fn mark(mark: &str) -> String {
    format!("  mutate {{ add_field => {{ \"mark\" => \"{mark}\" }} }}")
}

#[test]
fn automatic_reload_swaps_filters_and_refuses_broken_or_io_changes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("main.conf");
    write_config(&config, &mark("a"), OUTPUT);
    let mut worker = start(&[
        "-f",
        config.to_str().unwrap(),
        "-r",
        "--config.reload.interval",
        "100ms",
    ]);
    worker.feed_until("filters a", |w| w.last_mark().as_deref() == Some("a"));

    write_config(&config, &mark("b"), OUTPUT);
    worker.feed_until("filters b", |w| w.last_mark().as_deref() == Some("b"));
    assert!(worker.log().contains("config reloaded: filters switched"));

    // A broken filter is refused with its position; b keeps running.
    write_config(
        &config,
        "  mutate { add_feild => { \"mark\" => \"c\" } }",
        OUTPUT,
    );
    worker.feed_until("the refusal", |w| w.log().contains("config reload refused"));
    let log = worker.log();
    assert!(log.contains("main.conf:3:12"), "{log}");
    assert!(log.contains("add_feild"), "{log}");
    assert!(worker.marks_of_next(30).iter().all(|m| m == "b"));

    // A changed output is refused: a pipeline reading stdin is not restarted (as in Logstash).
    let other_output = "output { stdout { codec => json_lines } stdout { codec => line } }\n";
    write_config(&config, &mark("d"), other_output);
    worker.feed_until("the second refusal", |w| {
        w.log().contains("the input or output sections changed")
    });
    assert!(worker.marks_of_next(30).iter().all(|m| m == "b"));

    // Fixed again: the filters change, the output is as it runs.
    write_config(&config, &mark("e"), OUTPUT);
    worker.feed_until("filters e", |w| w.last_mark().as_deref() == Some("e"));
    assert_eq!(finish(worker), ["a", "b", "e"]);
}

#[test]
fn sighup_reloads_without_automatic_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("main.conf");
    write_config(&config, &mark("a"), OUTPUT);
    let mut worker = start(&["-f", config.to_str().unwrap()]);
    worker.feed_until("filters a", |w| w.last_mark().as_deref() == Some("a"));

    // Without -r a change waits for SIGHUP.
    write_config(&config, &mark("b"), OUTPUT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(worker.marks_of_next(30).iter().all(|m| m == "a"));
    worker.hang_up();
    worker.feed_until("filters b", |w| w.last_mark().as_deref() == Some("b"));
    // SIGHUP again with nothing changed: nothing happens, and the process lives on.
    worker.hang_up();
    assert!(worker.marks_of_next(30).iter().all(|m| m == "b"));
    assert_eq!(finish(worker), ["a", "b"]);
}

/// The lines of the JSON-lines file at `path` (none while it does not exist).
fn messages_in(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).unwrap();
            event["message"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_changed_output_restarts_the_pipeline_without_losing_a_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (log, config) = (dir.path().join("app.log"), dir.path().join("main.conf"));
    let (first, second) = (
        dir.path().join("first.json"),
        dir.path().join("second.json"),
    );
    let pipeline = |out: &std::path::Path| {
        format!(
            r#"input {{ file {{ path => "{log}" start_position => "beginning"
                     stat_interval => "20 ms" discover_interval => 1 sincedb_write_interval => "20 ms" }} }}
               output {{ file {{ path => "{out}" codec => json_lines }} }}"#,
            log = log.display(),
            out = out.display()
        )
    };
    let append = |from: u32, to: u32| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for n in from..to {
            writeln!(file, "{n}").unwrap();
        }
    };
    std::fs::write(&config, pipeline(&first)).unwrap();
    append(0, 50);
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            "-r",
            "--config.reload.interval",
            "100ms",
            "--http.port",
            "0",
        ])
        .args([
            "-f",
            config.to_str().unwrap(),
            "--path.data",
            data.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let kill = scopeguard(&mut child);
    wait_until("the first 50 lines", || messages_in(&first).len() == 50);

    // New output: the pipeline drains, stops and starts again writing to the second file.
    let partial = config.with_extension("partial");
    std::fs::write(&partial, pipeline(&second)).unwrap();
    std::fs::rename(&partial, &config).unwrap();
    let mut next = 50;
    wait_until("lines in the second output", || {
        append(next, next + 5);
        next += 5;
        std::thread::sleep(Duration::from_millis(20));
        !messages_in(&second).is_empty()
    });
    append(next, next + 50);
    next += 50;
    let total = next as usize;
    wait_until("every line", || {
        messages_in(&first).len() + messages_in(&second).len() >= total
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut all = messages_in(&first);
    all.extend(messages_in(&second));
    let numbers: Vec<u32> = all.iter().map(|m| m.parse().unwrap()).collect();
    // Nothing lost; lines delivered just before the restart may come again (the file input's
    // position is saved at least once, as Logstash's sincedb). Order is not checked: the file
    // input can send its last two batches out of order when stopped mid-read (noted for later).
    let distinct: std::collections::BTreeSet<u32> = numbers.iter().copied().collect();
    assert_eq!(distinct, (0..next).collect(), "every line arrived");
    assert!(
        numbers.len() - distinct.len() <= 50,
        "replayed too much: {numbers:?}"
    );
    assert!(!messages_in(&first).is_empty() && !messages_in(&second).is_empty());
    drop(kill);
}

/// Kills the child when dropped (a failed assertion must not leave it running).
fn scopeguard(child: &mut std::process::Child) -> impl Drop + '_ {
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    Kill(child)
}
