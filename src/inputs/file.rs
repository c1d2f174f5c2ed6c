//! The `file` input: follows log files (`mode => tail`, the default) or reads whole files once
//! (`mode => read`, gzip files too), one event per line, as logstash-input-file does.
//!
//! The reusable machinery lives in submodules, so other inputs that read log files can drive it
//! with a sink of their own:
//! - `watch`: [`watch::Watcher`] (discovery, reading, rotation, truncation, read-mode
//!   completion) and the [`watch::TailSink`] it feeds lines to;
//! - `reader`: [`reader::LineReader`] and [`reader::LineCutter`], lines cut from shared chunks;
//! - `checkpoint`: [`checkpoint::Checkpoints`], positions advanced by batch acknowledgements;
//! - `sincedb`: [`sincedb::Sincedb`], Logstash's position file, written atomically;
//! - `discover`: [`discover::Discoverer`], `path` / `exclude` globs;
//! - `duration`: Logstash's friendly durations (`"500 ms"`, `"1 hour"`).
//!
//! This file holds the options and the sink that makes events: each file gets a decoder of its
//! own (so a multiline codec never mixes files), each line goes through it, and the events get
//! `[@metadata][path]`, `[@metadata][host]`, then `path` and `host` (`[log][file][path]` and
//! `[host][name]` with ECS) unless present, then the shared options. A batch holds one file's
//! events and an acknowledgement token: the sincedb advances only over delivered batches
//! (at-least-once; a restart resumes after the last delivered line, partial lines included in
//! neither run). A codec that holds lines back (multiline) is flushed when its file closes,
//! after its `auto_flush_interval`, and at shutdown; a batch it releases meanwhile carries the
//! offset of the last line read, so lines it holds when the process is killed are lost, as in
//! Logstash. The reader runs on a thread of its own and blocks while the queue is full.
//!
//! Deliberate differences from Logstash: a line longer than 16 MiB is cut into pieces tagged
//! `_line_too_long` (Logstash keeps it whole, however large); the sincedb entry of a file
//! deleted or rotated out of every glob is dropped once it has been read (so a new file reusing
//! the inode is read from 0); read mode completes (deletes / logs) a file only after every line
//! of it has been delivered; there is no `path.data` setting yet: the default sincedb folder is
//! `$SINCEDB_DIR` or `<path.data>/plugins/inputs/file` (`path.data` defaults to `data`).

pub mod checkpoint;
pub mod discover;
pub mod duration;
pub mod reader;
pub mod sincedb;
pub mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codecs::{Codec, Decoder};
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Batch, Event, FieldPath, Map, Text, Timestamp, Value};

use super::{hostname, Input, InputContext, InputError};
use checkpoint::Checkpoints;
use reader::{Line, ReadOptions, MAX_LINE_BYTES};
use sincedb::{FileId, Sincedb};
use watch::{Completion, FileRef, Mode, SortBy, StartPosition, TailSink, WatchConfig, Watcher};

/// The tag of events made from a piece of a line longer than [`MAX_LINE_BYTES`].
pub const LINE_TOO_LONG_TAG: &str = "_line_too_long";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    path: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    start_position: Option<StartOption>,
    #[serde(default)]
    sincedb_path: Option<String>,
    #[serde(default)]
    sincedb_write_interval: Option<String>,
    #[serde(default)]
    sincedb_clean_after: Option<String>,
    #[serde(default)]
    stat_interval: Option<String>,
    #[serde(default)]
    discover_interval: Option<u32>,
    #[serde(default)]
    mode: Option<ModeOption>,
    #[serde(default)]
    file_completed_action: Option<CompletedAction>,
    #[serde(default)]
    file_completed_log_path: Option<String>,
    #[serde(default)]
    close_older: Option<String>,
    #[serde(default)]
    ignore_older: Option<String>,
    #[serde(default)]
    max_open_files: Option<usize>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    file_chunk_size: Option<usize>,
    #[serde(default)]
    file_chunk_count: Option<u64>,
    #[serde(default)]
    file_sort_by: Option<SortOption>,
    #[serde(default)]
    file_sort_direction: Option<DirectionOption>,
    #[serde(default)]
    exit_after_read: Option<bool>,
    /// Accepted for compatibility: a corrupt gzip file is always skipped (never deleted).
    #[serde(default)]
    check_archive_validity: Option<bool>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum StartOption {
    Beginning,
    End,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ModeOption {
    Tail,
    Read,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum CompletedAction {
    Delete,
    Log,
    LogAndDelete,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum SortOption {
    LastModified,
    Path,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum DirectionOption {
    Asc,
    Desc,
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    let _ = options.check_archive_validity;
    let config = watch_config(args, &options)?;
    discover::Discoverer::new(&config.paths, &config.exclude)
        .map_err(|e| args.error("path", format!("file: {e}")))?;
    let path = match &options.sincedb_path {
        Some(p) => PathBuf::from(p),
        None => default_sincedb_path(args, &options.path),
    };
    let sincedb =
        Sincedb::open(&path).map_err(|e| args.error("sincedb_path", format!("file: {e}")))?;
    let clean_after = duration(
        args,
        "sincedb_clean_after",
        &options.sincedb_clean_after,
        86_400.0,
    )?
    .or(Some(Duration::from_secs(14 * 86_400)));
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    Ok(Box::new(FileInput {
        config,
        sincedb,
        clean_after,
        codec,
        fields: SourceFields::new(ecs),
    }))
}

/// The watcher's settings from the options, with Logstash's defaults.
fn watch_config(args: &PluginArgs, o: &Options) -> Result<WatchConfig, Diagnostics> {
    if o.path.is_empty() {
        return Err(args.error("path", "file: path must name at least one file or glob"));
    }
    if let Some(relative) = o.path.iter().find(|p| !Path::new(p).is_absolute()) {
        return Err(args.error(
            "path",
            format!("file: paths must be absolute, relative path specified: {relative}"),
        ));
    }
    let mut c = WatchConfig::new(o.path.clone());
    c.exclude = o.exclude.clone();
    c.mode = match o.mode {
        Some(ModeOption::Read) => Mode::Read,
        _ => Mode::Tail,
    };
    c.start_position = match o.start_position {
        Some(StartOption::Beginning) => StartPosition::Beginning,
        _ => StartPosition::End,
    };
    let delimiter = o.delimiter.clone().unwrap_or_else(|| "\n".to_string());
    if delimiter.is_empty() {
        return Err(args.error("delimiter", "file: delimiter must not be empty"));
    }
    c.read = ReadOptions {
        delimiter: bytes::Bytes::from(delimiter.into_bytes()),
        chunk_size: positive(args, "file_chunk_size", o.file_chunk_size, 32 * 1024)?,
        max_line: MAX_LINE_BYTES,
    };
    c.chunks_per_turn = o.file_chunk_count.unwrap_or(u64::MAX).max(1);
    if let Some(d) = duration(args, "stat_interval", &o.stat_interval, 1.0)? {
        c.stat_interval = d.max(Duration::from_millis(1));
    }
    c.discover_interval = o.discover_interval.unwrap_or(15).max(1);
    if let Some(d) = duration(
        args,
        "sincedb_write_interval",
        &o.sincedb_write_interval,
        1.0,
    )? {
        c.sincedb_write_interval = d;
    }
    if let Some(d) = duration(args, "close_older", &o.close_older, 1.0)? {
        c.close_older = Some(d);
    }
    c.ignore_older = duration(args, "ignore_older", &o.ignore_older, 1.0)?;
    c.max_open_files = positive(args, "max_open_files", o.max_open_files, 4095)?;
    c.sort_by = match o.file_sort_by {
        Some(SortOption::Path) => SortBy::Path,
        _ => SortBy::LastModified,
    };
    c.sort_descending = o.file_sort_direction == Some(DirectionOption::Desc);
    c.completion = completion(args, o)?;
    c.exit_after_read = o.exit_after_read.unwrap_or(false);
    if c.exit_after_read && c.mode == Mode::Tail {
        return Err(args.error(
            "exit_after_read",
            "file: exit_after_read only works when mode is \"read\"",
        ));
    }
    Ok(c)
}

fn completion(args: &PluginArgs, o: &Options) -> Result<Completion, Diagnostics> {
    let action = o.file_completed_action.unwrap_or(CompletedAction::Delete);
    let logs = matches!(action, CompletedAction::Log | CompletedAction::LogAndDelete);
    let log = match (&o.file_completed_log_path, logs) {
        (Some(p), true) => Some(PathBuf::from(p)),
        (None, true) => {
            return Err(args.error(
                "file_completed_action",
                "file: file_completed_log_path must be set when file_completed_action is \
                 \"log\" or \"log_and_delete\"",
            ))
        }
        (_, false) => None,
    };
    Ok(Completion {
        delete: matches!(
            action,
            CompletedAction::Delete | CompletedAction::LogAndDelete
        ),
        log,
    })
}

/// A duration option; a bare number counts `unit` seconds.
fn duration(
    args: &PluginArgs,
    name: &str,
    value: &Option<String>,
    unit: f64,
) -> Result<Option<Duration>, Diagnostics> {
    value
        .as_deref()
        .map(|v| {
            duration::parse_duration(v, unit)
                .map_err(|e| args.error(name, format!("file: {name}: {e}")))
        })
        .transpose()
}

fn positive(
    args: &PluginArgs,
    name: &str,
    value: Option<usize>,
    default: usize,
) -> Result<usize, Diagnostics> {
    match value {
        Some(0) => Err(args.error(name, format!("file: {name} must be at least 1"))),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// Logstash's default: `.sincedb_` and the MD5 of the paths joined by commas, in `$SINCEDB_DIR`
/// or `<path.data>/plugins/inputs/file`.
fn default_sincedb_path(args: &PluginArgs, paths: &[String]) -> PathBuf {
    use md5::Digest as _;
    let dir = (args.env())("SINCEDB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.data_path().join("plugins/inputs/file"));
    let digest = md5::Md5::digest(paths.join(",").as_bytes());
    let mut name = String::from(".sincedb_");
    for byte in digest.iter() {
        name.push_str(&format!("{byte:02x}"));
    }
    dir.join(name)
}

/// The fields the input sets on each event, by `ecs_compatibility`.
struct SourceFields {
    ecs: bool,
    host: FieldPath,
    path: FieldPath,
    meta_host: FieldPath,
    meta_path: FieldPath,
    host_name: Text,
}

const HOST: Text = Text::from_static("host");
const PATH: Text = Text::from_static("path");
const NAME: Text = Text::from_static("name");
const LOG: Text = Text::from_static("log");
const FILE: Text = Text::from_static("file");

impl SourceFields {
    fn new(ecs: EcsCompatibility) -> SourceFields {
        let parse = |p: &str| FieldPath::parse(p).expect("a valid constant field reference");
        let (host, path) = if ecs.is_ecs() {
            (parse("[host][name]"), parse("[log][file][path]"))
        } else {
            (parse("host"), parse("path"))
        };
        SourceFields {
            ecs: ecs.is_ecs(),
            host,
            path,
            meta_host: parse("[@metadata][host]"),
            meta_path: parse("[@metadata][path]"),
            host_name: hostname(),
        }
    }

    /// Logstash's `post_process_this`: metadata always, `host` and `path` unless present.
    /// Events fresh from a codec take a fast path (the top-level fields are simply absent).
    fn apply(&self, event: &mut Event, path: &Text, split: bool) {
        let host = Value::Str(self.host_name.clone());
        if event.metadata().is_empty() {
            let meta = event.metadata_mut();
            meta.push_new(PATH, Value::Str(path.clone()));
            meta.push_new(HOST, host.clone());
        } else {
            event.insert(&self.meta_path, Value::Str(path.clone()));
            event.insert(&self.meta_host, host.clone());
        }
        let (host_key, path_key) = if self.ecs { (HOST, LOG) } else { (HOST, PATH) };
        if !event.fields().contains_key(&host_key) {
            let value = if self.ecs { nest(NAME, host) } else { host };
            event.fields_mut().push_new(host_key, value);
        } else if !event.contains(&self.host) {
            event.insert(&self.host, host);
        }
        let path_value = Value::Str(path.clone());
        if !event.fields().contains_key(&path_key) {
            let value = if self.ecs {
                nest(FILE, nest(PATH, path_value))
            } else {
                path_value
            };
            event.fields_mut().push_new(path_key, value);
        } else if !event.contains(&self.path) {
            event.insert(&self.path, path_value);
        }
        if split {
            event.add_tag(Text::from_static(LINE_TOO_LONG_TAG));
        }
    }
}

/// `{ key => value }`.
fn nest(key: Text, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.push_new(key, value);
    Value::Map(map)
}

/// The `file` input.
pub struct FileInput {
    config: WatchConfig,
    sincedb: Sincedb,
    clean_after: Option<Duration>,
    codec: Arc<dyn Codec>,
    fields: SourceFields,
}

#[async_trait::async_trait]
impl Input for FileInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sluice-file".into())
            .spawn(move || {
                let _ = done_tx.send(self.read(&ctx));
            })?;
        // The thread watches the shutdown request itself and returns once it has sent what it
        // holds, so the pipeline never closes the queue under it.
        done_rx
            .await
            .unwrap_or_else(|_| Err(InputError::Other("the file reader thread panicked".into())))
    }
}

impl FileInput {
    fn read(self, ctx: &InputContext) -> Result<(), InputError> {
        let FileInput {
            config,
            sincedb,
            clean_after,
            codec,
            fields,
        } = self;
        let checkpoints = Checkpoints::new(sincedb, clean_after);
        let mut watcher = Watcher::new(config, checkpoints.clone())
            .map_err(|e| InputError::Other(e.to_string()))?;
        let mut sink = EventSink::new(ctx, codec.as_ref(), checkpoints, &fields);
        watcher.run(&mut sink, ctx.shutdown())
    }
}

/// One file's decoder and what is known of its last lines.
struct Stream {
    decoder: Box<dyn Decoder>,
    generation: u64,
    path: Text,
    /// The offset after the last line decoded.
    end: u64,
    last_data: Instant,
    /// Lines were decoded since the last flush (the decoder may be holding some).
    held: bool,
    /// Lines were decoded since the last pause (`last_data` is then refreshed).
    fresh: bool,
}

/// Turns a watcher's lines into decorated events, batched per file with ack tokens.
struct EventSink<'a> {
    ctx: &'a InputContext,
    codec: &'a dyn Codec,
    checkpoints: Arc<Checkpoints>,
    fields: &'a SourceFields,
    /// The codec's `idle_flush` (multiline's `auto_flush_interval`).
    idle: Option<Duration>,
    /// Streams of files other than the current one.
    parked: HashMap<FileId, Stream>,
    /// The file whose lines are being read now, and its stream.
    current: Option<(FileId, Stream)>,
    batch: Vec<Event>,
    /// Whose events `batch` holds: file and generation.
    owner: Option<(FileId, u64)>,
    /// The offset after the last line behind `batch`.
    end: u64,
    /// The time new events get, read once per [`STAMP_EVERY`] lines of a turn (reading the
    /// clock per line showed in profiles; a turn's lines are read within microseconds).
    now: Timestamp,
    stamped: u32,
}

/// Lines that share one reading of the clock.
const STAMP_EVERY: u32 = 64;

impl<'a> EventSink<'a> {
    fn new(
        ctx: &'a InputContext,
        codec: &'a dyn Codec,
        checkpoints: Arc<Checkpoints>,
        fields: &'a SourceFields,
    ) -> EventSink<'a> {
        EventSink {
            ctx,
            codec,
            checkpoints,
            fields,
            idle: codec.decoder().idle_flush(),
            parked: HashMap::new(),
            current: None,
            batch: Vec::with_capacity(ctx.batch_size()),
            owner: None,
            end: 0,
            now: ctx.now(),
            stamped: 0,
        }
    }

    /// Makes `file` the current one: another file's batch is sent, its stream parked.
    fn switch_to(&mut self, file: &FileRef) -> Result<(), InputError> {
        if self.owner != Some((file.id, file.generation)) {
            self.send()?;
            self.owner = Some((file.id, file.generation));
        }
        if self.current.as_ref().is_some_and(|(id, _)| *id == file.id) {
            return Ok(());
        }
        if let Some((id, stream)) = self.current.take() {
            self.parked.insert(id, stream);
        }
        let stream = match self.parked.remove(&file.id) {
            Some(s) if s.generation == file.generation => s,
            _ => Stream {
                decoder: self.codec.decoder(),
                generation: file.generation,
                path: file.path.clone(),
                end: 0,
                last_data: Instant::now(),
                held: false,
                fresh: false,
            },
        };
        self.current = Some((file.id, stream));
        Ok(())
    }

    /// Sends `batch` with a token for its file. An empty batch sends nothing and records no
    /// progress: its lines may be held by the decoder.
    fn send(&mut self) -> Result<(), InputError> {
        let Some((id, generation)) = self.owner else {
            return Ok(());
        };
        if self.batch.is_empty() {
            return Ok(());
        }
        let events = std::mem::replace(&mut self.batch, Vec::with_capacity(self.ctx.batch_size()));
        let token = self.checkpoints.token(id, generation, self.end);
        self.ctx.forward_blocking(Batch::with_ack(events, token))
    }

    /// Flushes `stream`'s decoder into the batch (owned by its file), then sends it, or, with
    /// nothing to send, records the progress (nothing is held any more).
    fn flush_stream(&mut self, id: FileId, mut stream: Stream) -> Result<Stream, InputError> {
        self.send()?;
        self.owner = Some((id, stream.generation));
        self.end = stream.end;
        let start = self.batch.len();
        stream.decoder.flush(self.ctx.now(), &mut self.batch);
        stream.held = false;
        self.finish_events(start, &stream.path, false);
        if self.batch.is_empty() {
            self.checkpoints.advance(id, stream.generation, stream.end);
        }
        self.send()?;
        Ok(stream)
    }

    fn finish_events(&mut self, start: usize, path: &Text, split: bool) {
        let events = &mut self.batch[start..];
        for event in events.iter_mut() {
            self.fields.apply(event, path, split);
        }
        self.ctx.decorate(events);
    }
}

impl TailSink for EventSink<'_> {
    fn line(&mut self, file: &FileRef, line: Line) -> Result<(), InputError> {
        self.switch_to(file)?;
        let Some((_, stream)) = self.current.as_mut() else {
            return Ok(());
        };
        if self.stamped == 0 {
            self.now = self.ctx.now();
        }
        self.stamped = (self.stamped + 1) % STAMP_EVERY;
        let start = self.batch.len();
        stream
            .decoder
            .decode_line(line.bytes, self.now, &mut self.batch);
        stream.held = true;
        stream.fresh = true;
        stream.end = line.end;
        self.end = line.end;
        if self.batch.len() > start {
            self.finish_events(start, &file.path, line.split);
        }
        if self.batch.len() >= self.ctx.batch_size() {
            self.send()?;
        }
        Ok(())
    }

    fn pause(&mut self, file: &FileRef) -> Result<(), InputError> {
        self.stamped = 0;
        if let Some((id, stream)) = self.current.as_mut() {
            if *id == file.id && stream.fresh {
                stream.last_data = Instant::now();
                stream.fresh = false;
                if stream.path != file.path {
                    // Found under another name: events the codec still holds get the new one.
                    stream.path = file.path.clone();
                }
            }
        }
        self.send()
    }

    fn close(&mut self, file: &FileRef, end: u64) -> Result<(), InputError> {
        self.switch_to(file)?;
        if let Some((id, mut stream)) = self.current.take() {
            stream.end = end;
            self.flush_stream(id, stream)?;
        }
        Ok(())
    }

    fn tick_within(&self) -> Option<Duration> {
        let idle = self.idle?;
        let current = self.current.iter().map(|(_, s)| s);
        current
            .chain(self.parked.values())
            .filter(|s| s.held)
            .map(|s| idle.saturating_sub(s.last_data.elapsed()))
            .min()
    }

    fn tick(&mut self) -> Result<(), InputError> {
        let Some(idle) = self.idle else {
            return Ok(());
        };
        self.send()?;
        if let Some((id, stream)) = self.current.take() {
            self.parked.insert(id, stream);
        }
        let quiet: Vec<FileId> = self
            .parked
            .iter()
            .filter(|(_, s)| s.held && s.last_data.elapsed() >= idle)
            .map(|(id, _)| *id)
            .collect();
        for id in quiet {
            if let Some(stream) = self.parked.remove(&id) {
                let stream = self.flush_stream(id, stream)?;
                self.parked.insert(id, stream);
            }
        }
        Ok(())
    }
}
