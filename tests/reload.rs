//! Reloading filters while the pipeline runs: the in-process filter swap
//! ([`sluice::pipeline::FilterSwitch`]) under a continuous input, and `sluice run -r` / SIGHUP
//! reloading its local config files.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
