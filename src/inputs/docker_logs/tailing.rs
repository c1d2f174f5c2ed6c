//! What the inputs built on the file input's [`Watcher`](crate::inputs::file::watch::Watcher)
//! (`docker_logs`, `mesos_sandbox`) share: the tailing options with the file input's names and
//! meanings ([`TailOptions`] → [`WatchConfig`]), the default sincedb location, [`Outbox`] (a
//! batch being filled for one file, sent with an acknowledgement token that moves the file's
//! sincedb position once delivered), and [`HostField`] (`host` or `[host][name]`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Batch, Event, Map, Text, Value};
use crate::inputs::file::checkpoint::Checkpoints;
use crate::inputs::file::duration::parse_duration;
use crate::inputs::file::reader::{ReadOptions, MAX_LINE_BYTES};
use crate::inputs::file::sincedb::{FileId, Sincedb};
use crate::inputs::file::watch::{StartPosition, WatchConfig};
use crate::inputs::{hostname, InputContext, InputError};

/// `start_position`, as written.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StartOption {
    Beginning,
    End,
}

/// The file input's tailing options, as the config gave them (copied out of each input's
/// own options struct, which lists them: serde cannot flatten with `deny_unknown_fields`).
#[derive(Default, Debug, Clone)]
pub struct TailOptions {
    pub start_position: Option<StartOption>,
    pub sincedb_path: Option<String>,
    pub sincedb_write_interval: Option<String>,
    pub sincedb_clean_after: Option<String>,
    pub stat_interval: Option<String>,
    pub discover_interval: Option<u32>,
    pub close_older: Option<String>,
    pub ignore_older: Option<String>,
    pub max_open_files: Option<usize>,
    pub file_chunk_size: Option<usize>,
}

/// Defaults that differ from the file input's.
pub struct TailDefaults {
    /// Discovery every this many `stat_interval`s (the file input: 15).
    pub discover_interval: u32,
    /// `close_older` (the file input: 1 hour).
    pub close_older: Duration,
}

/// The watcher's settings for `paths`.
pub fn watch_config(
    args: &PluginArgs,
    paths: Vec<String>,
    o: &TailOptions,
    defaults: &TailDefaults,
) -> Result<WatchConfig, Diagnostics> {
    let mut c = WatchConfig::new(paths);
    c.start_position = match o.start_position {
        Some(StartOption::Beginning) => StartPosition::Beginning,
        _ => StartPosition::End,
    };
    let chunk_size = match o.file_chunk_size {
        Some(0) => return Err(error(args, "file_chunk_size", "must be at least 1")),
        Some(n) => n,
        None => 32 * 1024,
    };
    c.read = ReadOptions {
        delimiter: bytes::Bytes::from_static(b"\n"),
        chunk_size,
        max_line: MAX_LINE_BYTES,
    };
    if let Some(d) = duration(args, "stat_interval", &o.stat_interval, 1.0)? {
        c.stat_interval = d.max(Duration::from_millis(1));
    }
    c.discover_interval = o
        .discover_interval
        .unwrap_or(defaults.discover_interval)
        .max(1);
    if let Some(d) = duration(
        args,
        "sincedb_write_interval",
        &o.sincedb_write_interval,
        1.0,
    )? {
        c.sincedb_write_interval = d;
    }
    c.close_older =
        Some(duration(args, "close_older", &o.close_older, 1.0)?.unwrap_or(defaults.close_older));
    c.ignore_older = duration(args, "ignore_older", &o.ignore_older, 1.0)?;
    c.max_open_files = match o.max_open_files {
        Some(0) => return Err(error(args, "max_open_files", "must be at least 1")),
        Some(n) => n,
        None => 4095,
    };
    Ok(c)
}

/// `sincedb_clean_after` (a bare number counts days), 14 days by default.
pub fn clean_after(args: &PluginArgs, o: &TailOptions) -> Result<Duration, Diagnostics> {
    Ok(duration(
        args,
        "sincedb_clean_after",
        &o.sincedb_clean_after,
        86_400.0,
    )?
    .unwrap_or(Duration::from_secs(14 * 86_400)))
}

/// Opens the sincedb: `sincedb_path`, or `.sincedb_<md5 of key>` in `$SINCEDB_DIR` or
/// `data/plugins/inputs/<plugin name>`.
pub fn open_sincedb(args: &PluginArgs, o: &TailOptions, key: &str) -> Result<Sincedb, Diagnostics> {
    let path = match &o.sincedb_path {
        Some(p) => PathBuf::from(p),
        None => {
            use md5::Digest as _;
            let dir = (args.env())("SINCEDB_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("data/plugins/inputs").join(args.name()));
            let digest = md5::Md5::digest(key.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            dir.join(format!(".sincedb_{hex}"))
        }
    };
    Sincedb::open(&path).map_err(|e| error(args, "sincedb_path", &e.to_string()))
}

/// A duration option; a bare number counts `unit` seconds.
pub fn duration(
    args: &PluginArgs,
    name: &str,
    value: &Option<String>,
    unit: f64,
) -> Result<Option<Duration>, Diagnostics> {
    value
        .as_deref()
        .map(|v| parse_duration(v, unit).map_err(|e| error(args, name, &e)))
        .transpose()
}

/// A diagnostic at option `name`, prefixed with the plugin's name.
pub fn error(args: &PluginArgs, name: &str, message: &str) -> Diagnostics {
    args.error(name, format!("{}: {name}: {message}", args.name()))
}

/// `host` (legacy) or `[host][name]` (ECS): this machine's name, set on events that lack it.
pub struct HostField {
    /// The value of `host`, built once.
    value: Value,
}

const HOST: Text = Text::from_static("host");
const NAME: Text = Text::from_static("name");

impl HostField {
    pub fn new(ecs: EcsCompatibility) -> HostField {
        let name = Value::Str(hostname());
        let value = if ecs.is_ecs() {
            let mut map = Map::with_capacity(1);
            map.push_new(NAME, name);
            Value::Map(map)
        } else {
            name
        };
        HostField { value }
    }

    /// Sets the host unless the event has a `host` field already.
    pub fn apply(&self, event: &mut Event) {
        if !event.fields().contains_key("host") {
            self.push_new(event.fields_mut());
        }
    }

    /// Sets the host in fields known to have no `host`.
    pub fn push_new(&self, fields: &mut Map) {
        fields.push_new(HOST, self.value.clone());
    }
}

/// The batch being filled: events of one file (its owner), sent with a token for the offset
/// after the last line behind them.
pub struct Outbox<'a> {
    ctx: &'a InputContext,
    checkpoints: Arc<Checkpoints>,
    /// Decorated events of `owner`.
    pub batch: Vec<Event>,
    owner: Option<(FileId, u64)>,
    /// Where the owner's reading may resume once `batch` is delivered.
    pub end: u64,
}

impl<'a> Outbox<'a> {
    pub fn new(ctx: &'a InputContext, checkpoints: Arc<Checkpoints>) -> Outbox<'a> {
        Outbox {
            ctx,
            checkpoints,
            batch: Vec::with_capacity(ctx.batch_size()),
            owner: None,
            end: 0,
        }
    }

    pub fn checkpoints(&self) -> &Arc<Checkpoints> {
        &self.checkpoints
    }

    /// Makes the batch `id`'s (generation `generation`), sending another file's first.
    pub fn own(&mut self, id: FileId, generation: u64) -> Result<(), InputError> {
        if self.owner != Some((id, generation)) {
            self.send()?;
            self.owner = Some((id, generation));
        }
        Ok(())
    }

    /// Whether the batch holds events of `id` not sent yet.
    pub fn holds(&self, id: &FileId) -> bool {
        !self.batch.is_empty() && self.owner.is_some_and(|(o, _)| o == *id)
    }

    /// Sends the batch, if it holds anything, with a token for its owner up to `end`.
    pub fn send(&mut self) -> Result<(), InputError> {
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

    /// Sends the batch once it is full.
    pub fn send_if_full(&mut self) -> Result<(), InputError> {
        if self.batch.len() >= self.ctx.batch_size() {
            self.send()?;
        }
        Ok(())
    }
}
