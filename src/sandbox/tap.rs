//! Following a live source for `sluice sandbox --follow`, like `vector tap`: one input plugin
//! runs through the page's current filters into a ring of the last N events, which the page
//! reads with `GET /api/tap` ([`Tap::snapshot`]), narrowed by a Logstash condition and cut down
//! to some fields ([`TapQuery`]).
//!
//! The events go through the production engine: the source is built by the same registry and
//! plan builder as `sluice run`, and runs in a [`Pipeline`] (one worker, ordered) whose filters
//! the page swaps with a [`FilterSwitch`] ([`Tap::replace_filters`]); the only output is the
//! ring (`RingOutput`), which keeps clones of the events and counts every event it was given.
//!
//! A source is an input plugin in config syntax (`syslog { port => 5514 }`) or a shorthand:
//!
//! - `file:PATH` reads the file (or glob; relative to the working folder) **from the
//!   beginning** and then follows it, without a sincedb: the ring then shows the file's last N
//!   lines and whatever is appended, as `tail -n N -f` does, and a sample file that no longer
//!   grows is not an empty page. For a huge file, write `file { path => "..." }` (which starts
//!   at the end, as Logstash does).
//! - `syslog:PORT`: Logstash's syslog input on `PORT`, TCP and UDP, all interfaces.
//! - `kafka:SERVERS/TOPIC` (`kafka:localhost:9092/logs`): a consumer in a group of its own
//!   (`sluice-tap-...`, so it takes no partitions from real consumers), from the earliest
//!   retained message, so a topic loaded into the mock Kafka shows at once. For a busy topic,
//!   write `kafka { ... auto_offset_reset => "latest" }`.
//!
//! Main types: [`Tap`], [`TapQuery`], [`TapError`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::sync::watch;

use super::view;
use crate::config::ast::{self, SectionKind, Statement};
use crate::config::options::process_env;
use crate::config::{self, Diagnostics, ParseOptions, SourceMap, Span};
use crate::event::{Event, FieldPath, Map, PathError, Timestamp};
use crate::outputs::{Output, OutputBatch, OutputError};
use crate::pipeline::{FilterSwitch, Ordered, Pipeline, PipelineSettings};
use crate::plan::{
    self, Condition, FilterGraph, InputPlan, OutputGraph, OutputNode, OutputPlan, Plan,
};

/// The name the source text goes by in diagnostics (the command-line option that gives it).
pub const SOURCE_NAME: &str = "--follow";
/// The name the `where` condition goes by in diagnostics (the query parameter).
pub const CONDITION_NAME: &str = "where";
/// The name of the text wrapped around the source or the condition to parse it.
const WRAPPER_NAME: &str = "<tap>";

/// How long a stopping tap may take to hand its last events to the ring.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a tap could not start or answer.
#[derive(thiserror::Error, Debug)]
pub enum TapError {
    /// The source is not one input plugin that builds (rendered diagnostics, `path:line:col`).
    #[error("bad source: {0}")]
    Source(String),
    /// The `where` condition does not parse or compile (rendered diagnostics).
    #[error("bad condition: {0}")]
    Condition(String),
    #[error("bad field {field:?}: {source}")]
    Field { field: String, source: PathError },
    #[error("the tap must be started inside a tokio runtime")]
    NoRuntime,
}

/// What `GET /api/tap` asks for.
#[derive(Clone, Debug, Default)]
pub struct TapQuery {
    /// A Logstash condition (`[program] == "cron"`): only events for which it holds.
    pub where_: Option<String>,
    /// Field references (`[host][name]`, `message`): the events cut down to them; all fields
    /// when empty.
    pub fields: Vec<String>,
    /// At most this many of the newest matching events (all the ring holds when `None`).
    pub limit: Option<usize>,
}

/// A live source running through filters into a ring of its last events. Stops when dropped.
pub struct Tap {
    source: String,
    input_config: String,
    ring: Arc<Ring>,
    status: Arc<Status>,
    switch: FilterSwitch,
    stop: watch::Sender<bool>,
}

impl Tap {
    /// Starts following `source` through `filters`, keeping the last `capacity` events (at
    /// least one). Must be called inside a tokio runtime (multi-thread); the pipeline runs on
    /// it until the Tap is dropped or [`Tap::stop`] is called.
    pub fn start(source: &str, filters: FilterGraph, capacity: usize) -> Result<Tap, TapError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TapError::NoRuntime)?;
        let input_config = expand_shorthand(source)?;
        let input = build_input(&input_config)?;
        let ring = Arc::new(Ring::new(capacity));
        let pipeline = Pipeline::new(tap_plan(input, filters, ring.clone()), tap_settings());
        let switch = pipeline.filter_switch();
        let status = Arc::new(Status::default());
        let (stop, mut stopped) = watch::channel(false);
        let finished = status.clone();
        runtime.spawn(async move {
            // Resolves on stop() and when the Tap (the sender) is dropped.
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let result = pipeline.drive(shutdown).await;
            finished.finish(result.err().map(|e| e.to_string()));
        });
        Ok(Tap {
            source: source.to_string(),
            input_config,
            ring,
            status,
            switch,
            stop,
        })
    }

    /// The source as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The input plugin the source stands for (a shorthand expanded).
    pub fn input_config(&self) -> &str {
        &self.input_config
    }

    /// Swaps in new filters (the page's config changed), from the next batch on.
    pub fn replace_filters(&self, filters: FilterGraph) {
        self.switch.replace(filters);
    }

    /// Whether the pipeline still runs (false once stopped, or when its input ended or failed).
    pub fn is_running(&self) -> bool {
        self.status.running.load(Ordering::Acquire)
    }

    /// Why the input failed, if it did.
    pub fn error(&self) -> Option<String> {
        lock(&self.status.error).clone()
    }

    /// Events that reached the ring so far (through the filters), held or not.
    pub fn seen(&self) -> u64 {
        self.ring.lock().seen
    }

    /// The `/api/tap` answer: `{"source", "running", "error", "seen", "events": [{"seq",
    /// "event", "metadata"}]}`, newest last, at most `limit`, only events matching `where_`,
    /// cut down to `fields` when not empty. `seq` numbers events from 1 as they reached the
    /// ring, so the newest's equals `seen`.
    pub fn snapshot(&self, query: &TapQuery) -> Result<Json, TapError> {
        let condition = match query.where_.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(compile_condition(text)?),
            _ => None,
        };
        let fields = parse_fields(&query.fields)?;
        let (seen, picked) = self.ring.pick(condition.as_ref(), query.limit);
        let events: Vec<Json> = picked
            .iter()
            .map(|(seq, event)| entry(*seq, event, &fields))
            .collect();
        // Read after the events: a tap that ended has handed the ring everything it will.
        let running = self.is_running();
        Ok(json!({
            "source": self.source,
            "running": running,
            "error": self.error(),
            "seen": seen,
            "events": events,
        }))
    }

    /// Stops the pipeline (the events it holds still reach the ring).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the pipeline runs, and how it ended.
struct Status {
    running: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            running: AtomicBool::new(true),
            error: Mutex::new(None),
        }
    }
}

impl Status {
    fn finish(&self, error: Option<String>) {
        if let Some(e) = &error {
            tracing::warn!(error = %e, "the sandbox's followed source stopped");
        }
        *lock(&self.error) = error;
        self.running.store(false, Ordering::Release);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent between statements; a panic elsewhere must not end the tap.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The last events, with the count of all.
struct Ring {
    inner: Mutex<RingInner>,
}

struct RingInner {
    capacity: usize,
    /// `(seq, event)`, oldest first.
    events: VecDeque<(u64, Event)>,
    seen: u64,
}

impl Ring {
    fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(1);
        Ring {
            inner: Mutex::new(RingInner {
                capacity,
                events: VecDeque::with_capacity(capacity),
                seen: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RingInner> {
        lock(&self.inner)
    }

    /// Keeps the batch's events (only the last `capacity` of a bigger batch are cloned).
    /// Clones, not the shared batch: holding a batch would hold its acknowledgement, and a
    /// file or Kafka input would never see its events delivered.
    fn push(&self, batch: &OutputBatch) {
        let mut ring = self.lock();
        let skip = batch.len().saturating_sub(ring.capacity);
        for (i, event) in batch.events().enumerate() {
            ring.seen += 1;
            if i < skip {
                continue;
            }
            if ring.events.len() == ring.capacity {
                ring.events.pop_front();
            }
            let seq = ring.seen;
            ring.events.push_back((seq, event.clone()));
        }
    }

    /// `seen`, and the newest `limit` events for which `condition` holds, oldest first.
    fn pick(
        &self,
        condition: Option<&Condition>,
        limit: Option<usize>,
    ) -> (u64, Vec<(u64, Event)>) {
        let ring = self.lock();
        let mut picked: Vec<(u64, Event)> = ring
            .events
            .iter()
            .rev()
            .filter(|(_, event)| condition.is_none_or(|c| c.eval(event)))
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        picked.reverse();
        (ring.seen, picked)
    }
}

/// The pipeline's only output: hands every batch to the ring.
struct RingOutput {
    ring: Arc<Ring>,
}

#[async_trait::async_trait]
impl Output for RingOutput {
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        self.ring.push(batch);
        Ok(())
    }
}

fn tap_plan(input: InputPlan, filters: FilterGraph, ring: Arc<Ring>) -> Plan {
    Plan {
        inputs: vec![input],
        filters,
        outputs: vec![OutputPlan {
            name: "sandbox_tap".to_string(),
            id: "sandbox-tap".to_string(),
            output: Box::new(RingOutput { ring }),
        }],
        output_routes: OutputGraph {
            nodes: vec![OutputNode::Output(0)],
        },
    }
}

/// One worker, ordered: the ring shows events in the order the source gave them.
fn tap_settings() -> PipelineSettings {
    PipelineSettings {
        workers: 1,
        batch_size: 125,
        batch_delay: Duration::from_millis(50),
        ordered: Ordered::Always,
        shutdown_timeout: Some(SHUTDOWN_TIMEOUT),
    }
}

/// The input plugin `source` stands for: itself, or the expansion of a shorthand.
fn expand_shorthand(source: &str) -> Result<String, TapError> {
    let source = source.trim();
    if source.is_empty() {
        return Err(TapError::Source(
            "empty source: expected an input plugin (`file { path => \"/var/log/x.log\" }`), \
             `file:PATH`, `syslog:PORT` or `kafka:HOST:PORT/TOPIC`"
                .to_string(),
        ));
    }
    // Config text has `{`; a shorthand never does (a file path could, but then write it out).
    if source.contains('{') {
        return Ok(source.to_string());
    }
    match source.split_once(':') {
        Some(("file", path)) => file_source(path),
        Some(("syslog", port)) => syslog_source(port),
        Some(("kafka", target)) => kafka_source(target),
        _ => Err(TapError::Source(format!(
            "unknown source {source:?}: expected an input plugin in config syntax \
             (`syslog {{ port => 5514 }}`), `file:PATH`, `syslog:PORT` or \
             `kafka:HOST:PORT/TOPIC`"
        ))),
    }
}

fn file_source(path: &str) -> Result<String, TapError> {
    if path.is_empty() {
        return Err(TapError::Source("file:PATH: the path is empty".to_string()));
    }
    let absolute = std::path::Path::new(path);
    let absolute = if absolute.is_absolute() {
        absolute.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|e| {
            TapError::Source(format!("file:{path}: cannot resolve a relative path: {e}"))
        })?;
        cwd.join(absolute)
    };
    let quoted = quote(&absolute.to_string_lossy())?;
    // Checked four times a second, new files every second: the page should feel live.
    Ok(format!(
        "file {{ path => {quoted} mode => \"tail\" start_position => \"beginning\" \
         sincedb_path => \"/dev/null\" stat_interval => \"250 ms\" discover_interval => 4 }}"
    ))
}

fn syslog_source(port: &str) -> Result<String, TapError> {
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| TapError::Source(format!("syslog:PORT: {port:?} is not a port number")))?;
    Ok(format!("syslog {{ port => {port} }}"))
}

fn kafka_source(target: &str) -> Result<String, TapError> {
    let usage = || {
        TapError::Source(format!(
            "kafka:{target}: expected kafka:HOST:PORT/TOPIC (several servers separated by commas)"
        ))
    };
    let (servers, topic) = target.rsplit_once('/').ok_or_else(usage)?;
    if servers.is_empty() || topic.is_empty() {
        return Err(usage());
    }
    Ok(format!(
        "kafka {{ bootstrap_servers => {servers} topics => [{topic}] group_id => {group} \
         auto_offset_reset => \"earliest\" }}",
        servers = quote(servers)?,
        topic = quote(topic)?,
        group = quote(&throwaway_group())?,
    ))
}

/// A consumer group no one else uses, so the tap never takes partitions from real consumers.
fn throwaway_group() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("sluice-tap-{}-{nanos}-{n}", std::process::id())
}

/// `text` as a config string literal. Escapes are off by default (as in Logstash), so a value
/// is quoted with a quote character it does not hold.
fn quote(text: &str) -> Result<String, TapError> {
    let bad_end = text.ends_with('\\');
    if !text.contains('"') && !bad_end {
        Ok(format!("\"{text}\""))
    } else if !text.contains('\'') && !bad_end {
        Ok(format!("'{text}'"))
    } else {
        Err(TapError::Source(format!(
            "{text:?} cannot be written in a shorthand; write the input plugin out instead"
        )))
    }
}

/// Parses `text` as the body of an input section holding exactly one plugin, and builds it.
fn build_input(text: &str) -> Result<InputPlan, TapError> {
    let mut sources = SourceMap::new();
    sources.add(WRAPPER_NAME, "input {");
    sources.add(SOURCE_NAME, text);
    sources.add(WRAPPER_NAME, "}");
    let rendered = |d: Diagnostics| TapError::Source(d.render(&sources));
    let config = config::parse(&sources, ParseOptions::default()).map_err(rendered)?;
    let one_plugin = match config.sections.as_slice() {
        [section] if section.kind == SectionKind::Input => {
            matches!(section.body.as_slice(), [Statement::Plugin(_)])
        }
        _ => false,
    };
    if !one_plugin {
        return Err(TapError::Source(format!(
            "{SOURCE_NAME}: expected exactly one input plugin, like `file {{ path => \"...\" }}`, \
             got {text:?}"
        )));
    }
    let mut plan = plan::build(&config, &process_env).map_err(rendered)?;
    plan.inputs
        .pop()
        .ok_or_else(|| TapError::Source(format!("{SOURCE_NAME}: no input in {text:?}")))
}

/// Parses `text` as the condition of `if <text> {}` and compiles it.
fn compile_condition(text: &str) -> Result<Condition, TapError> {
    let mut sources = SourceMap::new();
    sources.add(WRAPPER_NAME, "filter { if");
    sources.add(CONDITION_NAME, text);
    sources.add(WRAPPER_NAME, "{} }");
    // Where the condition's text ends: a problem found after it (in the wrapper) is reported
    // there, as the end of the condition, not as the wrapper's `{`.
    let end = sources.text().len() - "{} }\n".len() - 1;
    let rendered = |mut d: Diagnostics| {
        for problem in &mut d.0 {
            if problem.span.start as usize >= end {
                problem.span = Span::new(end, end);
                problem.message = problem
                    .message
                    .replace("found \"{\"", "found the end of the condition");
            }
        }
        TapError::Condition(d.render(&sources))
    };
    let config = config::parse(&sources, ParseOptions::default()).map_err(rendered)?;
    let expr = match config.sections.as_slice() {
        [section] if section.kind == SectionKind::Filter => only_condition(&section.body),
        _ => None,
    };
    let Some(expr) = expr else {
        return Err(TapError::Condition(format!(
            "{CONDITION_NAME}: expected one condition, like `[program] == \"cron\"`, got {text:?}"
        )));
    };
    Condition::compile(expr, &process_env).map_err(rendered)
}

/// The condition of a body that is exactly `if <condition> {}`.
fn only_condition(body: &[Statement]) -> Option<&config::Spanned<ast::Expr>> {
    let [Statement::If(chain)] = body else {
        return None;
    };
    match chain.branches.as_slice() {
        [branch] if branch.body.is_empty() && chain.otherwise.is_none() => Some(&branch.condition),
        _ => None,
    }
}

fn parse_fields(fields: &[String]) -> Result<Vec<FieldPath>, TapError> {
    fields
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .map(|f| {
            FieldPath::parse(f).map_err(|source| TapError::Field {
                field: f.to_string(),
                source,
            })
        })
        .collect()
}

/// One event of the answer: `{"seq", "event", "metadata"}`, cut down to `fields` if any.
fn entry(seq: u64, event: &Event, fields: &[FieldPath]) -> Json {
    let projected;
    let event = if fields.is_empty() {
        event
    } else {
        projected = project(event, fields);
        &projected
    };
    json!({"seq": seq, "event": view::document_value(event), "metadata": view::metadata(event)})
}

/// An event holding only `fields` of `event` (those it has), at the same places.
fn project(event: &Event, fields: &[FieldPath]) -> Event {
    // `@timestamp` comes back only when asked for, like any field.
    let mut cut = Event::new(event.timestamp().unwrap_or_else(Timestamp::now));
    *cut.fields_mut() = Map::new();
    for path in fields {
        if let Some(value) = event.get(path) {
            cut.insert(path, value.clone());
        }
    }
    cut
}
