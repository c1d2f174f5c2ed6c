//! Inputs: where events come from. An input runs as a tokio task, reads its source, decodes it
//! with its codec and sends [`Batch`]es through its [`InputContext`], which applies the options
//! every input shares ([`Decoration`]: `type`, `tags`, `add_field`) and blocks when the queue is
//! full (backpressure). Every input watches the context's [`Shutdown`] and returns soon after it
//! is requested; the pipeline then drains what the input already sent. One file per plugin,
//! named after its Logstash name.
//!
//! The types here are all an input needs: inputs never import the pipeline runtime.

pub mod dead_letter_queue;
pub mod docker_logs;
pub mod file;
pub mod flume;
pub mod forward;
pub mod generator;
pub mod kafka;
pub mod mesos_sandbox;
pub mod relp;
pub mod stdin;
pub mod syslog;
pub mod tcp;
pub mod udp;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::options::OneOrMany;
use crate::config::options::Pairs;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::{FieldRef, Template};
use crate::event::{names, Batch, Event, Text, Timestamp, Value};

/// The batch size an [`InputContext`] reports unless told otherwise (Logstash's
/// `pipeline.batch.size` default).
pub const DEFAULT_BATCH_SIZE: usize = 125;

/// The next batch to send from `events`: the first `size` of them when there are that many,
/// else (unless `keep_partial`, which holds a partial batch back for more events) all there
/// are; `None` when nothing is due. `events` is left with room for a batch.
pub fn take_batch(events: &mut Vec<Event>, size: usize, keep_partial: bool) -> Option<Vec<Event>> {
    if events.len() < size && (keep_partial || events.is_empty()) {
        return None;
    }
    let rest = if events.len() > size {
        events.split_off(size)
    } else {
        Vec::with_capacity(size)
    };
    Some(std::mem::replace(events, rest))
}

/// Why an input stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The pipeline stopped taking events (it is shutting down).
    #[error("the pipeline no longer accepts events")]
    Closed,
    #[error("{0}")]
    Other(String),
}

/// A request to stop, shared by the pipeline and every input. Cheap to clone.
///
/// Async inputs `select!` on [`Shutdown::requested`]; inputs reading on a thread of their own
/// poll [`Shutdown::is_requested`] between reads.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<ShutdownState>);

#[derive(Debug, Default)]
struct ShutdownState {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks every holder to stop. Idempotent.
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::Acquire)
    }

    /// Resolves once [`Shutdown::request`] has been called (at once if it already was).
    pub async fn requested(&self) {
        loop {
            // Registered before the flag is checked, so a request between the check and the
            // await still wakes us (`notify_waiters` reaches every `Notified` already created).
            let notified = self.0.notify.notified();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// What an input is given to run: where to send batches, the options every input shares, the
/// batch size to aim for, and when to stop.
#[derive(Clone)]
pub struct InputContext {
    sender: async_channel::Sender<Batch>,
    decoration: Arc<Decoration>,
    batch_size: usize,
    shutdown: Shutdown,
    /// Where the events sent are counted (the input's `events.out`), once per batch.
    sent: Option<Arc<AtomicU64>>,
}

impl InputContext {
    /// A context with no decoration, [`DEFAULT_BATCH_SIZE`] and a fresh [`Shutdown`].
    pub fn new(sender: async_channel::Sender<Batch>) -> InputContext {
        InputContext {
            sender,
            decoration: Arc::new(Decoration::default()),
            batch_size: DEFAULT_BATCH_SIZE,
            shutdown: Shutdown::new(),
            sent: None,
        }
    }

    pub fn with_decoration(mut self, decoration: Decoration) -> InputContext {
        self.decoration = Arc::new(decoration);
        self
    }

    pub fn with_batch_size(mut self, batch_size: usize) -> InputContext {
        self.batch_size = batch_size.max(1);
        self
    }

    pub fn with_shutdown(mut self, shutdown: Shutdown) -> InputContext {
        self.shutdown = shutdown;
        self
    }

    /// Counts the events sent in `counter`.
    pub fn with_sent_counter(mut self, counter: Arc<AtomicU64>) -> InputContext {
        self.sent = Some(counter);
        self
    }

    /// How many events a batch should hold (`pipeline.batch.size`); inputs send batches of about
    /// this size, or smaller ones when no more data is at hand.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// The time to stamp new events with.
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// Applies `type`, `add_field` and `tags` to `events`, as Logstash's `decorate` does.
    pub fn decorate(&self, events: &mut [Event]) {
        if self.decoration.is_empty() {
            return;
        }
        for event in events {
            self.decoration.apply(event);
        }
    }

    /// Decorates the batch's events and sends it, waiting while the queue is full. Fails only
    /// when the pipeline is gone.
    pub async fn send(&self, mut batch: Batch) -> Result<(), InputError> {
        self.decorate(&mut batch.events);
        self.forward(batch).await
    }

    /// Sends a batch whose events the input already passed through [`InputContext::decorate`]
    /// (inputs that add fields of their own after decoration, as Logstash's do).
    pub async fn forward(&self, batch: Batch) -> Result<(), InputError> {
        let events = batch.len();
        self.sender
            .send(batch)
            .await
            .map_err(|e| undelivered(e.0))?;
        self.count_sent(events);
        Ok(())
    }

    /// [`InputContext::forward`] for inputs that read on a thread of their own; blocks the
    /// thread while the queue is full. Never call it from an async task.
    pub fn forward_blocking(&self, batch: Batch) -> Result<(), InputError> {
        let events = batch.len();
        self.sender
            .send_blocking(batch)
            .map_err(|e| undelivered(e.0))?;
        self.count_sent(events);
        Ok(())
    }

    fn count_sent(&self, events: usize) {
        if let Some(sent) = &self.sent {
            sent.fetch_add(events as u64, Ordering::Relaxed);
        }
    }
}

/// A batch the pipeline refused: its tokens must say "not delivered", not "delivered", so an
/// input that commits progress does not commit past it.
fn undelivered(batch: Batch) -> InputError {
    batch.mark_failed();
    InputError::Closed
}

/// Sets `host` to `host` on the events that have none, as Logstash's stdin input does.
pub fn set_host_if_missing(events: &mut [Event], host: &Text) {
    for event in events {
        if !event.fields().contains_key("host") {
            event.set_field(names::HOST, Value::Str(host.clone()));
        }
    }
}

/// This machine's name, as inputs put it in `host` (Ruby's `Socket.gethostname`); read once.
pub fn hostname() -> Text {
    static NAME: OnceLock<Text> = OnceLock::new();
    NAME.get_or_init(|| {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let name = read("/proc/sys/kernel/hostname")
            .or_else(|| read("/etc/hostname"))
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        Text::from_string(name)
    })
    .clone()
}

/// An input plugin instance.
#[async_trait::async_trait]
pub trait Input: Send {
    /// Reads until the source ends or [`InputContext::shutdown`] is requested.
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError>;

    /// How far behind its source's partitions the input is, for inputs that read partitioned
    /// logs (Kafka); taken once before the input runs and read while it runs.
    fn partition_lag(&self) -> Option<Arc<dyn PartitionLag>> {
        None
    }

    /// Whether the input reads ordered partitions (Kafka's) whose order the outputs should
    /// keep: with `pipeline.ordered => auto`, such an input makes the workers hand batches to
    /// the outputs in the order they took them.
    fn ordered(&self) -> bool {
        false
    }
}

/// Messages an input still has to deliver, per source partition it owns now.
pub trait PartitionLag: Send + Sync {
    /// `((topic, partition), messages behind)` for each owned partition; -1 where the source
    /// has not reported it yet.
    fn partitions(&self) -> Vec<((Arc<str>, i32), i64)>;
}

/// The names of the options every input shares.
pub const COMMON_NAMES: &[&str] = &["type", "tags", "add_field", "codec", "id", "enable_metric"];

/// The shared options as written in the config (`codec` and `id` are the plan's business).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawDecoration {
    #[serde(rename = "type")]
    kind: Option<String>,
    tags: Vec<String>,
    add_field: Pairs<OneOrMany<String>>,
    #[serde(rename = "codec")]
    _codec: Option<serde::de::IgnoredAny>,
    #[serde(rename = "id")]
    _id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "enable_metric")]
    _enable_metric: Option<bool>,
}

/// Why a [`Decoration`] could not be built: a bad field reference or sprintf template.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecorationError(String);

/// The options every input shares, applied to each event it produces: `type` (only if the event
/// has none), `add_field`, then `tags` (all but `type` sprintf).
#[derive(Debug, Default)]
pub struct Decoration {
    kind: Option<Text>,
    add_field: Vec<(FieldRef, Vec<Template>)>,
    tags: Vec<Template>,
}

impl Decoration {
    /// Reads `type`, `tags` and `add_field` from the args split off with [`COMMON_NAMES`].
    pub fn build(args: &PluginArgs) -> Result<Decoration, Diagnostics> {
        let raw: RawDecoration = args.options()?;
        let mut errors = Diagnostics::default();
        let mut decoration = Decoration {
            kind: raw.kind.as_deref().map(Text::new),
            ..Decoration::default()
        };
        for (name, values) in &raw.add_field.0 {
            if let Err(e) = decoration.push_field(name, values.iter().map(String::as_str)) {
                errors.extend(args.error("add_field", format!("add_field: {e}")));
            }
        }
        for tag in &raw.tags {
            if let Err(e) = decoration.push_tag(tag) {
                errors.extend(args.error("tags", format!("tags: {e}")));
            }
        }
        if errors.is_empty() {
            Ok(decoration)
        } else {
            Err(errors)
        }
    }

    /// Builds a decoration from plain strings (for inputs made in code, and tests).
    pub fn new(
        kind: Option<&str>,
        tags: &[&str],
        add_field: &[(&str, &str)],
    ) -> Result<Decoration, DecorationError> {
        let mut decoration = Decoration {
            kind: kind.map(Text::new),
            ..Decoration::default()
        };
        for (name, value) in add_field {
            decoration.push_field(name, [*value])?;
        }
        for tag in tags {
            decoration.push_tag(tag)?;
        }
        Ok(decoration)
    }

    fn push_field<'a>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), DecorationError> {
        let field = FieldRef::parse(name).map_err(DecorationError)?;
        let values = values
            .into_iter()
            .map(|v| Template::parse(v).map_err(|e| DecorationError(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        self.add_field.push((field, values));
        Ok(())
    }

    fn push_tag(&mut self, tag: &str) -> Result<(), DecorationError> {
        self.tags
            .push(Template::parse(tag).map_err(|e| DecorationError(e.to_string()))?);
        Ok(())
    }

    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.add_field.is_empty() && self.tags.is_empty()
    }

    /// Applies the options to one event.
    pub fn apply(&self, event: &mut Event) {
        if let Some(kind) = &self.kind {
            if !event.fields().contains_key("type") {
                event.set_field(names::TYPE, Value::Str(kind.clone()));
            }
        }
        for (field, values) in &self.add_field {
            let Some(path) = field.resolve(event) else {
                continue;
            };
            for value in values {
                let text = value.render(event);
                event.add_value(&path, Value::Str(text));
            }
        }
        if !self.tags.is_empty() {
            self.add_tags(event);
        }
    }

    /// Logstash's input `add_tags`: appends every tag, without removing duplicates; a single
    /// string `tags` becomes a list.
    fn add_tags(&self, event: &mut Event) {
        let tags = event
            .fields_mut()
            .get_or_insert_with("tags", || Value::Array(Vec::new()));
        if !matches!(tags, Value::Array(_)) {
            let old = std::mem::replace(tags, Value::Null);
            let items = if matches!(old, Value::Null) {
                vec![]
            } else {
                vec![old]
            };
            *tags = Value::Array(items);
        }
        for tag in &self.tags {
            let text = tag.render(event);
            if let Some(Value::Array(items)) = event.fields_mut().get_mut("tags") {
                items.push(Value::Str(text));
            }
        }
    }
}
