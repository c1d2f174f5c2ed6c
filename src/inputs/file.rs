//! The `file` input: follows log files (`mode => tail`, the default) or reads whole files once
//! (`mode => read`, gzip files too), one event per line, as logstash-input-file does.
//!
//! The reusable machinery lives in submodules, so other inputs that read log files
//! (`docker_logs`, `mesos_sandbox`) can drive it with fields or a sink of their own:
//! - `watch`: [`watch::Watcher`] (discovery, reading, rotation, truncation, read-mode
//!   completion) and the [`watch::TailSink`] it feeds lines to;
//! - `sink`: [`sink::EventSink`], the sink that decodes each file's lines into events, with
//!   [`sink::EventFields`] as the hook for what an input adds to them; [`sink::TailInput`], an
//!   input made of a watcher and that sink; [`sink::Outbox`], the batch of one file sent with
//!   an acknowledgement token;
//! - `tailing`: the tailing options ([`tailing::TailOptions`] → [`watch::WatchConfig`]), the
//!   sincedb and its default location ([`tailing::Tailing`]), the reader thread
//!   ([`tailing::read_on_thread`]);
//! - `reader`: [`reader::LineReader`] and [`reader::LineCutter`], lines cut from shared chunks;
//! - `checkpoint`: [`checkpoint::Checkpoints`], positions advanced by batch acknowledgements;
//! - `sincedb`: [`sincedb::Sincedb`], Logstash's position file, written atomically;
//! - `discover`: [`discover::Discoverer`], `path` / `exclude` globs;
//! - `duration`: Logstash's friendly durations (`"500 ms"`, `"1 hour"`).
//!
//! This file holds the options and the fields events get (`SourceFields`, the sink's hook):
//! each file gets a decoder of its own (so a multiline codec never mixes files), each line goes
//! through it, and the events get `[@metadata][path]`, `[@metadata][host]`, then `path` and
//! `host` (`[log][file][path]` and `[host][name]` with ECS) unless present, then the shared
//! options. A batch holds one file's events and an acknowledgement token: the sincedb advances
//! only over delivered batches (at-least-once; a restart resumes after the last delivered line,
//! partial lines included in neither run). A codec that holds lines back (multiline) is flushed
//! when its file closes, after its `auto_flush_interval`, and at shutdown; a batch it releases
//! meanwhile carries the offset of the last line read, so lines it holds when the process is
//! killed are lost, as in Logstash. The reader runs on a thread of its own and blocks while the
//! queue is full.
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
pub mod sink;
pub mod tailing;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Map, Text, Value};

use super::{hostname, Input};
use sink::{EventFields, TailInput};
use tailing::{StartOption, TailDefaults, TailOptions, Tailing};
use watch::{Completion, FileRef, Mode, SortBy, WatchConfig};

/// The tag of events made from a piece of a line longer than [`reader::MAX_LINE_BYTES`].
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

impl Options {
    fn tail(&self) -> TailOptions {
        TailOptions {
            start_position: self.start_position,
            sincedb_path: self.sincedb_path.clone(),
            sincedb_write_interval: self.sincedb_write_interval.clone(),
            sincedb_clean_after: self.sincedb_clean_after.clone(),
            stat_interval: self.stat_interval.clone(),
            discover_interval: self.discover_interval,
            close_older: self.close_older.clone(),
            ignore_older: self.ignore_older.clone(),
            max_open_files: self.max_open_files,
            file_chunk_size: self.file_chunk_size,
        }
    }
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
    let tail = options.tail();
    let config = watch_config(args, &options, &tail)?;
    discover::Discoverer::new(&config.paths, &config.exclude)
        .map_err(|e| args.error("path", format!("file: {e}")))?;
    let tailing = Tailing::open(args, config, &tail, &options.path.join(","))?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let fields = SourceFields::new(ecs);
    Ok(Box::new(TailInput::new(
        "file",
        "sluice-file",
        tailing,
        codec,
        fields,
    )))
}

/// The watcher's settings from the options, with Logstash's defaults: the tailing options
/// shared with the other inputs, then the file input's own.
fn watch_config(
    args: &PluginArgs,
    o: &Options,
    tail: &TailOptions,
) -> Result<WatchConfig, Diagnostics> {
    if o.path.is_empty() {
        return Err(args.error("path", "file: path must name at least one file or glob"));
    }
    if let Some(relative) = o.path.iter().find(|p| !Path::new(p).is_absolute()) {
        return Err(args.error(
            "path",
            format!("file: paths must be absolute, relative path specified: {relative}"),
        ));
    }
    let mut c = tailing::watch_config(args, o.path.clone(), tail, &TailDefaults::FILE)?;
    c.exclude = o.exclude.clone();
    c.mode = match o.mode {
        Some(ModeOption::Read) => Mode::Read,
        _ => Mode::Tail,
    };
    let delimiter = o.delimiter.clone().unwrap_or_else(|| "\n".to_string());
    if delimiter.is_empty() {
        return Err(args.error("delimiter", "file: delimiter must not be empty"));
    }
    c.read.delimiter = bytes::Bytes::from(delimiter.into_bytes());
    c.chunks_per_turn = o.file_chunk_count.unwrap_or(u64::MAX).max(1);
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
    fn apply(&self, event: &mut Event, path: &Text) {
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
    }
}

/// The file input's hook of the shared sink: the fields come from the path alone.
impl EventFields for SourceFields {
    type Source = ();

    fn source(&self, _: &FileRef) {}

    fn apply(&self, event: &mut Event, _: &(), path: &Text) {
        SourceFields::apply(self, event, path);
    }
}

/// `{ key => value }`.
fn nest(key: Text, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.push_new(key, value);
    Value::Map(map)
}
