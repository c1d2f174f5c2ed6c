//! The pipeline runtime, with plans built by hand from test inputs and outputs: no loss or
//! duplication, backpressure, drain on input end and on shutdown, acknowledgements, routing,
//! and the real stdin/generator/file/stdout plugins end to end.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sluice::codecs::Codec;
use sluice::config::ast;
use sluice::config::{PluginArgs, Span, Spanned};
use sluice::event::{AckStatus, AckToken, Acknowledge, Batch, Event, Text, Timestamp, Value};
use sluice::filters::{CommonOptions, Filter};
use sluice::inputs::generator::Generator;
use sluice::inputs::stdin::ReaderInput;
use sluice::inputs::{Decoration, Input, InputContext, InputError};
use sluice::outputs::{stdout, BlockingSink, Output, OutputBatch, OutputError, Threaded};
use sluice::pipeline::{Ordered, Pipeline, PipelineError, PipelineSettings, PipelineStats};
use sluice::plan::{
    Branch, Condition, FilterGraph, FilterNode, FilterStage, InputPlan, OutputGraph, OutputNode,
    OutputPlan, Plan,
};
use sluice::registry;

// ---------------------------------------------------------------------------------------------
// Test inputs and outputs

/// Sends events numbered `0..count` (field `n`, plus `input` and `parity`), `per_batch` to a
/// batch, each batch with an ack token (id = batch number) when `acks` is set. Counts the
/// events the pipeline accepted and the longest time a send waited. `count: None` sends until
/// shutdown is requested.
struct Numbered {
    name: &'static str,
    count: Option<u64>,
    per_batch: u64,
    acks: Option<Arc<dyn Acknowledge>>,
    probe: Probe,
}

#[derive(Clone, Default)]
struct Probe {
    accepted: Arc<AtomicU64>,
    longest_send_nanos: Arc<AtomicU64>,
}

impl Probe {
    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn longest_send(&self) -> Duration {
        Duration::from_nanos(self.longest_send_nanos.load(Ordering::SeqCst))
    }
}

fn numbered(name: &'static str, count: Option<u64>, per_batch: u64) -> Numbered {
    Numbered {
        name,
        count,
        per_batch,
        acks: None,
        probe: Probe::default(),
    }
}

fn numbered_event(input: &str, n: u64) -> Event {
    let mut e = Event::from_message(Text::new(&format!("event {n}")), Timestamp::from_secs(0));
    e.set_field(Text::new("input"), Value::from(input));
    e.set_field(Text::new("n"), Value::Int(n as i64));
    let parity = if n.is_multiple_of(2) { "even" } else { "odd" };
    e.set_field(Text::new("parity"), Value::from(parity));
    e
}

#[async_trait::async_trait]
impl Input for Numbered {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let mut next = 0u64;
        let mut batch_id = 0u64;
        while self.count.is_none_or(|c| next < c) && !ctx.shutdown().is_requested() {
            let end = match self.count {
                Some(c) => (next + self.per_batch).min(c),
                None => next + self.per_batch,
            };
            let events = (next..end).map(|n| numbered_event(self.name, n)).collect();
            let batch = match &self.acks {
                Some(sink) => Batch::with_ack(events, AckToken::new(sink.clone(), batch_id)),
                None => Batch::new(events),
            };
            let started = Instant::now();
            ctx.send(batch).await?;
            let waited = started.elapsed().as_nanos() as u64;
            self.probe
                .longest_send_nanos
                .fetch_max(waited, Ordering::SeqCst);
            self.probe.accepted.fetch_add(end - next, Ordering::SeqCst);
            next = end;
            batch_id += 1;
        }
        Ok(())
    }
}

/// What a [`Recording`] output saw.
#[derive(Clone, Default)]
struct Record {
    events: Arc<Mutex<Vec<Event>>>,
    closed_with: Arc<Mutex<Option<usize>>>,
}

impl Record {
    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// `(input, n)` of every event, sorted.
    fn numbers(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                let input = e.get_field("input").and_then(Value::as_str).unwrap_or("");
                let n = match e.get_field("n") {
                    Some(Value::Int(n)) => *n,
                    _ => -1,
                };
                (input.to_string(), n)
            })
            .collect();
        v.sort();
        v
    }

    /// Events seen when `close` was called.
    fn closed_with(&self) -> Option<usize> {
        *self.closed_with.lock().unwrap()
    }
}

/// Called with each batch and the number of events written before it.
type WriteCheck = Box<dyn Fn(&OutputBatch, usize) + Send>;

/// Records every event it is given, after waiting `delay` per batch; calls `check` first.
struct Recording {
    record: Record,
    delay: Duration,
    check: Option<WriteCheck>,
    fail_if: Option<fn(&Event) -> bool>,
}

fn recording(record: &Record, delay: Duration) -> Recording {
    Recording {
        record: record.clone(),
        delay,
        check: None,
        fail_if: None,
    }
}

#[async_trait::async_trait]
impl Output for Recording {
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        if let Some(check) = &self.check {
            check(batch, self.record.len());
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if let Some(fail_if) = self.fail_if {
            if batch.events().any(fail_if) {
                return Err(OutputError::Other("refused".into()));
            }
        }
        self.record
            .events
            .lock()
            .unwrap()
            .extend(batch.events().cloned());
        Ok(())
    }

    async fn close(&mut self) -> Result<(), OutputError> {
        *self.record.closed_with.lock().unwrap() = Some(self.record.len());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Plan building

fn settings(workers: usize, batch_size: usize) -> PipelineSettings {
    PipelineSettings {
        workers,
        batch_size,
        batch_delay: Duration::from_millis(5),
        ..Default::default()
    }
}

fn input_plan(input: impl Input + 'static) -> InputPlan {
    decorated(input, Decoration::default())
}

fn decorated(input: impl Input + 'static, decoration: Decoration) -> InputPlan {
    InputPlan {
        name: "test".into(),
        id: "test".into(),
        input: Box::new(input),
        decoration,
    }
}

fn output_plan(id: &str, output: impl Output + 'static) -> OutputPlan {
    boxed_output_plan(id, Box::new(output))
}

fn boxed_output_plan(id: &str, output: Box<dyn Output>) -> OutputPlan {
    OutputPlan {
        name: "test".into(),
        id: id.into(),
        output,
    }
}

/// Every output unconditional.
fn plan(inputs: Vec<InputPlan>, outputs: Vec<OutputPlan>) -> Plan {
    let nodes = (0..outputs.len()).map(OutputNode::Output).collect();
    Plan {
        inputs,
        filters: FilterGraph::default(),
        outputs,
        output_routes: OutputGraph { nodes },
    }
}

fn run(plan: Plan, settings: PipelineSettings) -> Arc<PipelineStats> {
    let pipeline = Pipeline::new(plan, settings);
    let stats = pipeline.stats();
    pipeline
        .run_until(std::future::pending())
        .expect("pipeline runs");
    stats
}

fn expected_numbers(input: &str, count: u64) -> Vec<(String, i64)> {
    (0..count as i64).map(|n| (input.to_string(), n)).collect()
}

// ---------------------------------------------------------------------------------------------
// Delivery

#[test]
fn no_event_is_lost_or_duplicated_with_several_workers() {
    let record = Record::default();
    let inputs = ["a", "b", "c"].map(|name| input_plan(numbered(name, Some(20_000), 37)));
    let plan = plan(
        inputs.into(),
        vec![
            output_plan("rec", recording(&record, Duration::ZERO)),
            output_plan("null", sluice::outputs::null::Null),
        ],
    );
    let stats = run(plan, settings(4, 125));
    let mut expected = expected_numbers("a", 20_000);
    expected.extend(expected_numbers("b", 20_000));
    expected.extend(expected_numbers("c", 20_000));
    assert_eq!(record.numbers(), expected);
    assert_eq!(stats.events_in(), 60_000);
    assert_eq!(stats.events_filtered(), 60_000);
    assert_eq!(stats.events_out(), 60_000);
    assert_eq!(stats.events_failed(), 0);
    assert_eq!(stats.outputs()[0].events(), 60_000);
    assert_eq!(stats.outputs()[1].events(), 60_000);
    assert_eq!(stats.outputs()[1].id(), "null");
}

#[test]
fn a_slow_output_bounds_the_events_in_flight_and_blocks_the_input() {
    let (workers, batch) = (2usize, 10u64);
    let settings = settings(workers, batch as usize);
    // Input queue + one batch per worker + the output's queue + the batch being written.
    let bound = (settings.input_queue_capacity() + workers + settings.output_queue_capacity() + 1)
        as u64
        * batch;
    let input = numbered("a", Some(40 * batch), batch);
    let probe = input.probe.clone();
    let record = Record::default();
    let worst = Arc::new(AtomicU64::new(0));
    let deepest_queue = Arc::new(AtomicU64::new(0));
    let stats_cell: Arc<OnceLock<Arc<PipelineStats>>> = Arc::default();
    let mut slow = recording(&record, Duration::from_millis(10));
    let (probe_in_check, worst_in_check) = (probe.clone(), worst.clone());
    let (deepest_in_check, stats_in_check) = (deepest_queue.clone(), stats_cell.clone());
    slow.check = Some(Box::new(move |_, written| {
        let in_flight = probe_in_check.accepted() - written as u64;
        worst_in_check.fetch_max(in_flight, Ordering::SeqCst);
        if let Some(stats) = stats_in_check.get() {
            deepest_in_check.fetch_max(stats.input_queue_len() as u64, Ordering::SeqCst);
        }
    }));
    let pipeline = Pipeline::new(
        plan(vec![input_plan(input)], vec![output_plan("slow", slow)]),
        settings.clone(),
    );
    let stats = pipeline.stats();
    let _ = stats_cell.set(stats.clone());
    pipeline.run_until(std::future::pending()).unwrap();
    assert_eq!(record.len() as u64, 40 * batch);
    let worst = worst.load(Ordering::SeqCst);
    assert!(worst <= bound, "{worst} events in flight, bound {bound}");
    assert!(worst > 0);
    // Once the queues are full the input waits about one output write per send, and the
    // input queue is seen full.
    assert!(
        probe.longest_send() >= Duration::from_millis(5),
        "the input never waited: {:?}",
        probe.longest_send()
    );
    assert_eq!(
        deepest_queue.load(Ordering::SeqCst) as usize,
        stats.input_queue_capacity()
    );
    assert_eq!(stats.events_out(), 40 * batch);
}

#[test]
fn input_end_drains_every_event_before_closing_outputs() {
    let record = Record::default();
    let input = numbered("a", Some(500), 10);
    let plan = plan(
        vec![input_plan(input)],
        vec![output_plan(
            "rec",
            recording(&record, Duration::from_millis(2)),
        )],
    );
    run(plan, settings(2, 25));
    assert_eq!(record.numbers(), expected_numbers("a", 500));
    assert_eq!(record.closed_with(), Some(500));
}

#[test]
fn shutdown_stops_inputs_and_drains_what_they_sent() {
    let record = Record::default();
    let input = numbered("a", None, 10);
    let probe = input.probe.clone();
    let plan = plan(
        vec![input_plan(input)],
        vec![output_plan(
            "rec",
            recording(&record, Duration::from_millis(1)),
        )],
    );
    let pipeline = Pipeline::new(plan, settings(2, 25));
    let stats = pipeline.stats();
    let started = Instant::now();
    pipeline
        // Lazily: the future is first polled inside the pipeline's runtime.
        .run_until(async { tokio::time::sleep(Duration::from_millis(300)).await })
        .expect("pipeline runs");
    assert!(started.elapsed() < Duration::from_secs(20));
    let accepted = probe.accepted();
    assert!(accepted > 0);
    assert_eq!(record.numbers(), expected_numbers("a", accepted));
    assert_eq!(record.closed_with(), Some(accepted as usize));
    assert_eq!(stats.events_out(), accepted);
    assert_eq!(stats.input_queue_len(), 0);
}

// ---------------------------------------------------------------------------------------------
// Acknowledgements

/// Records each token's fate and, at that moment, how many of the token's events every
/// output had already written.
struct AckLog {
    per_batch: u64,
    outputs: Vec<Record>,
    log: Mutex<Vec<(u64, AckStatus, Vec<usize>)>>,
}

impl Acknowledge for AckLog {
    fn acknowledge(&self, id: u64, status: AckStatus) {
        let range = (id * self.per_batch) as i64..((id + 1) * self.per_batch) as i64;
        let written: Vec<usize> = self
            .outputs
            .iter()
            .map(|r| {
                r.events
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(
                        |e| matches!(e.get_field("n"), Some(Value::Int(n)) if range.contains(n)),
                    )
                    .count()
            })
            .collect();
        self.log.lock().unwrap().push((id, status, written));
    }
}

/// An input of `count` numbered events in batches of `per_batch`, acknowledging to the log.
fn acknowledged_input(count: u64, per_batch: u64) -> (Numbered, Arc<AckLog>) {
    let log = Arc::new(AckLog {
        per_batch,
        outputs: vec![],
        log: Mutex::new(Vec::new()),
    });
    let mut input = numbered("a", Some(count), per_batch);
    input.acks = Some(log.clone());
    (input, log)
}

impl AckLog {
    /// Each token's reported status; a token reported twice would shrink the map.
    fn statuses(&self) -> HashMap<u64, AckStatus> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(id, s, _)| (*id, *s))
            .collect()
    }
}

#[test]
fn each_input_batch_is_acknowledged_once_after_every_output_wrote_it() {
    let (fast, slow) = (Record::default(), Record::default());
    let log = Arc::new(AckLog {
        per_batch: 10,
        outputs: vec![fast.clone(), slow.clone()],
        log: Mutex::new(Vec::new()),
    });
    let mut input = numbered("a", Some(1_000), 10);
    input.acks = Some(log.clone());
    let plan = plan(
        vec![input_plan(input)],
        vec![
            output_plan("fast", recording(&fast, Duration::ZERO)),
            output_plan("slow", recording(&slow, Duration::from_millis(2))),
        ],
    );
    run(plan, settings(3, 35));
    let mut entries = log.log.lock().unwrap().clone();
    entries.sort_by_key(|(id, ..)| *id);
    assert_eq!(entries.len(), 100);
    for (i, (id, status, written)) in entries.iter().enumerate() {
        assert_eq!(*id, i as u64);
        assert_eq!(*status, AckStatus::Delivered);
        assert_eq!(
            written,
            &[10, 10],
            "batch {id} acknowledged before both outputs wrote it"
        );
    }
}

#[test]
fn a_failed_write_acknowledges_its_batches_as_failed() {
    let (good, bad) = (Record::default(), Record::default());
    let (input, log) = acknowledged_input(300, 10);
    let mut refusing = recording(&bad, Duration::ZERO);
    refusing.fail_if = Some(|e| matches!(e.get_field("n"), Some(Value::Int(n)) if n % 100 == 0));
    let plan = plan(
        vec![input_plan(input)],
        vec![
            output_plan("good", recording(&good, Duration::ZERO)),
            output_plan("bad", refusing),
        ],
    );
    let stats = run(plan, settings(2, 10));
    assert_eq!(log.log.lock().unwrap().len(), 30);
    let status = log.statuses();
    assert_eq!(status.len(), 30, "a token reported twice");
    for id in [0, 10, 20] {
        assert_eq!(status[&id], AckStatus::Failed, "batch {id}");
    }
    assert!(status.values().any(|s| *s == AckStatus::Delivered));
    assert_eq!(good.len(), 300);
    assert!(stats.outputs()[1].errors() >= 3);
    assert!(stats.events_failed() >= 30);
}

/// A blocking sink that records event numbers on its own thread, refusing batches holding a
/// multiple of 100 and panicking on batches holding 150.
struct PickySink {
    written: Arc<Mutex<Vec<i64>>>,
    thread: Arc<Mutex<Option<std::thread::ThreadId>>>,
}

impl BlockingSink for PickySink {
    fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        *self.thread.lock().unwrap() = Some(std::thread::current().id());
        let numbers: Vec<i64> = batch
            .events()
            .filter_map(|e| match e.get_field("n") {
                Some(Value::Int(n)) => Some(*n),
                _ => None,
            })
            .collect();
        if numbers.contains(&150) {
            panic!("deliberate panic in a blocking sink");
        }
        if numbers.iter().any(|n| n % 100 == 0) {
            return Err(OutputError::Other("refused".into()));
        }
        self.written.lock().unwrap().extend(numbers);
        Ok(())
    }
}

#[test]
fn blocking_sinks_run_on_their_own_thread_and_fail_only_their_batches() {
    let (input, log) = acknowledged_input(300, 10);
    let written = Arc::new(Mutex::new(Vec::new()));
    let thread = Arc::new(Mutex::new(None));
    let sink = PickySink {
        written: written.clone(),
        thread: thread.clone(),
    };
    let plan = plan(
        vec![input_plan(input)],
        vec![output_plan("picky", Threaded::new("picky", sink))],
    );
    let stats = run(plan, settings(2, 10));
    assert_eq!(log.log.lock().unwrap().len(), 30);
    let status = log.statuses();
    assert_eq!(status.len(), 30, "a token reported twice");
    for id in [0, 10, 15, 20] {
        assert_eq!(status[&id], AckStatus::Failed, "batch {id}");
    }
    assert_eq!(
        status
            .values()
            .filter(|s| **s == AckStatus::Delivered)
            .count(),
        26
    );
    assert_eq!(written.lock().unwrap().len(), 260);
    assert_eq!(stats.outputs()[0].errors(), 4);
    let sink_thread = thread.lock().unwrap().expect("the sink wrote");
    assert_ne!(sink_thread, std::thread::current().id());
}

// ---------------------------------------------------------------------------------------------
// Filters and routing

fn selector_equals(field: &str, value: &str) -> Condition {
    let expr = ast::Expr::Compare {
        op: ast::CompareOp::Eq,
        lhs: Spanned::new(ast::RValue::Selector(format!("[{field}]")), Span::default()),
        rhs: Spanned::new(ast::RValue::String(value.into()), Span::default()),
    };
    let env = |_: &str| None;
    Condition::compile(&Spanned::new(expr, Span::default()), &env).expect("condition compiles")
}

#[test]
fn conditional_outputs_get_only_their_events() {
    let (even, odd, all) = (Record::default(), Record::default(), Record::default());
    let mut plan = plan(
        vec![input_plan(numbered("a", Some(1_000), 30))],
        vec![
            output_plan("even", recording(&even, Duration::ZERO)),
            output_plan("odd", recording(&odd, Duration::ZERO)),
            output_plan("all", recording(&all, Duration::ZERO)),
        ],
    );
    plan.output_routes = OutputGraph {
        nodes: vec![
            OutputNode::Branch(Branch {
                arms: vec![(
                    selector_equals("parity", "even"),
                    vec![OutputNode::Output(0)],
                )],
                otherwise: vec![OutputNode::Output(1)],
            }),
            OutputNode::Output(2),
        ],
    };
    let stats = run(plan, settings(2, 50));
    let numbers = |r: &Record| r.numbers().into_iter().map(|(_, n)| n).collect::<Vec<_>>();
    assert_eq!(numbers(&even), (0..1_000).step_by(2).collect::<Vec<_>>());
    assert_eq!(numbers(&odd), (1..1_000).step_by(2).collect::<Vec<_>>());
    assert_eq!(numbers(&all), (0..1_000).collect::<Vec<_>>());
    assert_eq!(stats.outputs()[0].events(), 500);
    assert_eq!(stats.events_out(), 1_000);
}

/// Drops events whose `n` is a multiple of 3; panics on `n == panic_on`.
struct DropThirds {
    panic_on: Option<i64>,
}

impl Filter for DropThirds {
    fn apply(&self, event: &mut Event) -> bool {
        if let Some(Value::Int(n)) = event.get_field("n") {
            let n = *n;
            assert!(Some(n) != self.panic_on, "test filter panics on {n}");
            if n % 3 == 0 {
                event.cancel();
            }
        }
        true
    }
}

fn with_filter(mut plan: Plan, filter: DropThirds) -> Plan {
    plan.filters = FilterGraph {
        nodes: vec![FilterNode::Filter(FilterStage {
            name: "drop_thirds".into(),
            id: "drop_thirds".into(),
            filter: Box::new(filter),
            common: CommonOptions::default(),
            span: Default::default(),
        })],
    };
    plan
}

#[test]
fn filters_run_between_the_queues() {
    let record = Record::default();
    let plan = with_filter(
        plan(
            vec![input_plan(numbered("a", Some(900), 25))],
            vec![output_plan("rec", recording(&record, Duration::ZERO))],
        ),
        DropThirds { panic_on: None },
    );
    let stats = run(plan, settings(3, 100));
    let kept: Vec<i64> = (0..900).filter(|n| n % 3 != 0).collect();
    let seen: Vec<i64> = record.numbers().into_iter().map(|(_, n)| n).collect();
    assert_eq!(seen, kept);
    assert_eq!(stats.events_in(), 900);
    assert_eq!(stats.events_filtered(), 600);
    assert_eq!(stats.events_out(), 600);
}

#[test]
fn a_panicking_filter_costs_its_batch_not_the_pipeline() {
    let record = Record::default();
    let log = Arc::new(AckLog {
        per_batch: 10,
        outputs: vec![],
        log: Mutex::new(Vec::new()),
    });
    let mut input = numbered("a", Some(200), 10);
    input.acks = Some(log.clone());
    let plan = with_filter(
        plan(
            vec![input_plan(input)],
            vec![output_plan("rec", recording(&record, Duration::ZERO))],
        ),
        DropThirds { panic_on: Some(55) },
    );
    // One worker and batches of exactly one input batch: only batch 5 is lost.
    let stats = run(plan, settings(1, 10));
    assert_eq!(stats.worker_panics(), 1);
    let seen: Vec<i64> = record.numbers().into_iter().map(|(_, n)| n).collect();
    let kept: Vec<i64> = (0..200)
        .filter(|n| n % 3 != 0 && !(50..60).contains(n))
        .collect();
    assert_eq!(seen, kept);
    let entries = log.log.lock().unwrap().clone();
    assert_eq!(entries.len(), 20);
    for (id, status, _) in entries {
        let expected = if id == 5 {
            AckStatus::Failed
        } else {
            AckStatus::Delivered
        };
        assert_eq!(status, expected, "batch {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// Real plugins end to end

fn registry_codec(name: &str) -> Arc<dyn Codec> {
    let plugin = ast::Plugin {
        name: Spanned::new(name.into(), Span::default()),
        attributes: vec![],
        span: Span::default(),
    };
    let env = |_: &str| None;
    (registry::codec(name).unwrap().build)(&PluginArgs::new(&plugin, &env)).unwrap()
}

fn registry_output(name: &str, options: &[(&str, &str)], codec: &str) -> Box<dyn Output> {
    let plugin = ast::Plugin {
        name: Spanned::new(name.into(), Span::default()),
        attributes: options
            .iter()
            .map(|(k, v)| ast::Attribute {
                name: Spanned::new(k.to_string(), Span::default()),
                value: Spanned::new(ast::Value::String(v.to_string()), Span::default()),
            })
            .collect(),
        span: Span::default(),
    };
    let env = |_: &str| None;
    let args = PluginArgs::new(&plugin, &env);
    (registry::output(name).unwrap().build)(&args, registry_codec(codec))
        .unwrap_or_else(|d| panic!("{name}: {d:?}"))
}

const APACHE: &str = "../shared/corpus/access/apache/apache_logs";

#[test]
fn stdin_reads_lines_in_order_with_decoration_and_host() {
    let text = std::fs::read(APACHE).expect("the apache corpus");
    let lines: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .map(str::to_string)
        .collect();
    let record = Record::default();
    let reader = ReaderInput::new(registry_codec("line"), Box::new(Cursor::new(text)));
    let decoration =
        Decoration::new(Some("apache"), &["t"], &[("src", "%{type}-x")]).expect("decoration");
    let plan = plan(
        vec![decorated(reader, decoration)],
        vec![output_plan("rec", recording(&record, Duration::ZERO))],
    );
    // One worker: order is kept end to end.
    run(plan, settings(1, 125));
    let events = record.events.lock().unwrap();
    let messages: Vec<&str> = events.iter().map(|e| e.message().unwrap()).collect();
    assert_eq!(messages.len(), 10_000);
    assert_eq!(messages, lines);
    for e in events.iter() {
        assert_eq!(e.get_field("type"), Some(&Value::from("apache")));
        assert_eq!(e.get_field("src"), Some(&Value::from("apache-x")));
        assert_eq!(e.get_field("tags"), Some(&Value::Array(vec!["t".into()])));
        assert!(matches!(e.get_field("host"), Some(Value::Str(h)) if !h.is_empty()));
    }
}

#[test]
fn generator_repeats_its_lines_with_sequence_numbers() {
    let record = Record::default();
    let generator = Generator::new(
        registry_codec("plain"),
        vec!["a".into(), "b".into()],
        Some(3),
    );
    let plan = plan(
        vec![input_plan(generator)],
        vec![output_plan("rec", recording(&record, Duration::ZERO))],
    );
    run(plan, settings(1, 4));
    let events = record.events.lock().unwrap();
    let got: Vec<(&str, i64)> = events
        .iter()
        .map(|e| {
            let seq = match e.get_field("sequence") {
                Some(Value::Int(n)) => *n,
                _ => -1,
            };
            (e.message().unwrap(), seq)
        })
        .collect();
    assert_eq!(
        got,
        [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    );
    assert!(events.iter().all(|e| e.get_field("host").is_some()));
}

#[test]
fn file_output_writes_per_event_paths_and_contains_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let path = format!("{}/%{{type}}/events.log", root.display());
    let web = ReaderInput::new(
        registry_codec("line"),
        Box::new(Cursor::new(b"one\ntwo\n".to_vec())),
    );
    let evil = ReaderInput::new(
        registry_codec("line"),
        Box::new(Cursor::new(b"three\n".to_vec())),
    );
    let plan = plan(
        vec![
            decorated(web, Decoration::new(Some("web"), &[], &[]).unwrap()),
            decorated(evil, Decoration::new(Some("../../x"), &[], &[]).unwrap()),
        ],
        vec![boxed_output_plan(
            "file",
            registry_output("file", &[("path", &path)], "json_lines"),
        )],
    );
    run(plan, settings(1, 10));
    let read_messages = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["message"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(read_messages(&root.join("web/events.log")), ["one", "two"]);
    assert_eq!(read_messages(&root.join("_filepath_failures")), ["three"]);
    assert!(!dir.path().join("x").exists());
}

/// A writer into shared memory.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn stdout_style_output_writes_every_event_encoded() {
    let out = SharedBuf::default();
    let format_codec = {
        let plugin = ast::Plugin {
            name: Spanned::new("line".into(), Span::default()),
            attributes: vec![ast::Attribute {
                name: Spanned::new("format".into(), Span::default()),
                value: Spanned::new(ast::Value::String("%{n}".into()), Span::default()),
            }],
            span: Span::default(),
        };
        let env = |_: &str| None;
        (registry::codec("line").unwrap().build)(&PluginArgs::new(&plugin, &env)).unwrap()
    };
    let plan = plan(
        vec![input_plan(numbered("a", Some(1_000), 7))],
        vec![boxed_output_plan(
            "stdout",
            stdout::to_writer(format_codec, Box::new(out.clone())),
        )],
    );
    run(plan, settings(1, 50));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let expected: String = (0..1_000).map(|n| format!("{n}\n")).collect();
    assert_eq!(text, expected);
}

#[test]
fn a_stopped_pipeline_refuses_input_and_fails_the_refused_batch() {
    let (tx, rx) = async_channel::bounded(1);
    rx.close();
    let log = Arc::new(AckLog {
        per_batch: 1,
        outputs: vec![],
        log: Mutex::new(Vec::new()),
    });
    let ctx = InputContext::new(tx);
    let batch = Batch::with_ack(vec![numbered_event("a", 0)], AckToken::new(log.clone(), 0));
    assert!(matches!(
        ctx.forward_blocking(batch),
        Err(InputError::Closed)
    ));
    let entries = log.log.lock().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, AckStatus::Failed);
}

// ---------------------------------------------------------------------------------------------
// Order

/// Sleeps on the events of every third input batch, so workers finish batches out of order.
struct Jitter;

impl Filter for Jitter {
    fn apply(&self, event: &mut Event) -> bool {
        if let Some(Value::Int(n)) = event.get_field("n") {
            if (n / 10) % 3 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        true
    }
}

/// `n` of every event recorded, in the order the output got them.
fn arrival_order(record: &Record) -> Vec<i64> {
    let events = record.events.lock().unwrap();
    let n = |e: &Event| match e.get_field("n") {
        Some(Value::Int(n)) => *n,
        _ => -1,
    };
    events.iter().map(n).collect()
}

/// 2,000 numbered events in input batches of 10 through the jittery filter on 4 workers.
fn jittered_run(ordered: Ordered) -> Vec<i64> {
    let record = Record::default();
    let mut plan = plan(
        vec![input_plan(numbered("a", Some(2_000), 10))],
        vec![output_plan("rec", recording(&record, Duration::ZERO))],
    );
    plan.filters = FilterGraph {
        nodes: vec![FilterNode::Filter(FilterStage {
            name: "jitter".into(),
            id: "jitter".into(),
            filter: Box::new(Jitter),
            common: CommonOptions::default(),
            span: Default::default(),
        })],
    };
    let settings = PipelineSettings {
        ordered,
        ..settings(4, 10)
    };
    run(plan, settings);
    arrival_order(&record)
}

#[test]
fn an_ordered_pipeline_hands_batches_to_the_outputs_in_input_order() {
    let in_order: Vec<i64> = (0..2_000).collect();
    assert_eq!(jittered_run(Ordered::Always), in_order);
    // The same run unordered shows the jitter does reorder (so the assertion above can fail).
    let unordered = jittered_run(Ordered::Never);
    assert_ne!(unordered, in_order);
    let mut sorted = unordered;
    sorted.sort_unstable();
    assert_eq!(sorted, in_order);
}

/// [`Numbered`], but reading an ordered source (as Kafka's partitions are).
struct OrderedSource(Numbered);

#[async_trait::async_trait]
impl Input for OrderedSource {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        Box::new(self.0).run(ctx).await
    }

    fn ordered(&self) -> bool {
        true
    }
}

#[test]
fn auto_orders_only_pipelines_with_an_ordered_input() {
    let pipeline = |input: InputPlan, ordered: Ordered| {
        let plan = plan(
            vec![input],
            vec![output_plan("null", sluice::outputs::null::Null)],
        );
        Pipeline::new(
            plan,
            PipelineSettings {
                ordered,
                ..settings(2, 10)
            },
        )
        .is_ordered()
    };
    let plain = || input_plan(numbered("a", Some(1), 1));
    let kafka_like = || input_plan(OrderedSource(numbered("a", Some(1), 1)));
    assert!(pipeline(kafka_like(), Ordered::Auto));
    assert!(!pipeline(plain(), Ordered::Auto));
    assert!(pipeline(plain(), Ordered::Always));
    assert!(!pipeline(kafka_like(), Ordered::Never));
}

// ---------------------------------------------------------------------------------------------
// Shutdown timeout

/// Runs an endless input into an output that takes 100 ms a batch, asks for shutdown after
/// 50 ms, and returns how the run ended and how long the shutdown took.
fn slow_shutdown(timeout: Option<Duration>) -> (Result<(), PipelineError>, Duration) {
    let record = Record::default();
    let plan = plan(
        vec![input_plan(numbered("a", None, 10))],
        vec![output_plan(
            "slow",
            recording(&record, Duration::from_millis(100)),
        )],
    );
    let settings = PipelineSettings {
        shutdown_timeout: timeout,
        ..settings(1, 10)
    };
    let asked = Arc::new(Mutex::new(None));
    let asked_in_shutdown = asked.clone();
    let result = Pipeline::new(plan, settings).run_until(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        *asked_in_shutdown.lock().unwrap() = Some(Instant::now());
    });
    let asked = asked.lock().unwrap().expect("shutdown was asked");
    (result, asked.elapsed())
}

#[test]
fn a_drain_longer_than_the_shutdown_timeout_fails_the_run() {
    // Queued batches take about 100 ms each: a drain of ~1 s.
    let (result, took) = slow_shutdown(Some(Duration::from_millis(200)));
    match result {
        Err(PipelineError::ShutdownTimeout { limit, undelivered }) => {
            assert_eq!(limit, Duration::from_millis(200));
            assert!(undelivered > 0);
        }
        other => panic!("expected a shutdown timeout, got {other:?}"),
    }
    assert!(took < Duration::from_millis(900), "{took:?}");
    let (result, _) = slow_shutdown(Some(Duration::from_secs(30)));
    assert!(result.is_ok(), "{result:?}");
}

/// Sends one batch, then fails.
struct FailingInput;

#[async_trait::async_trait]
impl Input for FailingInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        ctx.send(Batch::new(vec![numbered_event("f", 0)])).await?;
        Err(InputError::Other("the source went away".to_string()))
    }
}

#[test]
fn a_failed_input_fails_the_run_after_its_events_are_delivered() {
    let record = Record::default();
    let plan = plan(
        vec![
            input_plan(FailingInput),
            input_plan(numbered("a", Some(5), 5)),
        ],
        vec![output_plan("rec", recording(&record, Duration::ZERO))],
    );
    let result = Pipeline::new(plan, settings(1, 10)).run_until(std::future::pending());
    match result {
        Err(PipelineError::InputFailed { error, .. }) => {
            assert!(error.contains("the source went away"), "{error}")
        }
        other => panic!("expected the input's failure, got {other:?}"),
    }
    let mut expected = expected_numbers("a", 5);
    expected.extend(expected_numbers("f", 1));
    assert_eq!(record.numbers(), expected);
}
