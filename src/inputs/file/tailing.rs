//! What the inputs that tail log files with a [`Watcher`] (`file`, `docker_logs`,
//! `mesos_sandbox`) share around it: the tailing options with the file input's names and
//! meanings ([`TailOptions`] → [`WatchConfig`] by [`watch_config`]), the sincedb and its
//! default location ([`Tailing`]), the reader thread ([`read_on_thread`]), and [`HostField`]
//! (`host` or `[host][name]`).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, Map, Text, Value};
use crate::inputs::{hostname, InputError};

use super::checkpoint::Checkpoints;
use super::duration::parse_duration;
use super::sincedb::Sincedb;
use super::watch::{StartPosition, WatchConfig, Watcher};

/// `start_position`, as written.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StartOption {
    Beginning,
    End,
}

/// The tailing options, as the config gave them (copied out of each input's own options
/// struct, which lists them: serde cannot flatten with `deny_unknown_fields`).
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

/// The defaults that differ between the inputs.
pub struct TailDefaults {
    /// Discovery every this many `stat_interval`s.
    pub discover_interval: u32,
    /// `close_older`.
    pub close_older: Duration,
}

impl TailDefaults {
    /// Logstash's file input's.
    pub const FILE: TailDefaults = TailDefaults {
        discover_interval: 15,
        close_older: Duration::from_secs(3600),
    };
}

/// The watcher's settings for `paths` (read in `tail` mode, lines ending in `\n`).
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
    c.read.chunk_size = positive(args, "file_chunk_size", o.file_chunk_size, 32 * 1024)?;
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
    c.max_open_files = positive(args, "max_open_files", o.max_open_files, 4095)?;
    Ok(c)
}

/// A tailing input's watcher settings and sincedb, ready to run.
pub struct Tailing {
    config: WatchConfig,
    sincedb: Sincedb,
    clean_after: Duration,
}

impl Tailing {
    /// Opens the sincedb (`sincedb_path`, or one named after `key` in the default folder) for
    /// a watcher with `config`.
    pub fn open(
        args: &PluginArgs,
        config: WatchConfig,
        o: &TailOptions,
        key: &str,
    ) -> Result<Tailing, Diagnostics> {
        let path = match &o.sincedb_path {
            Some(p) => PathBuf::from(p),
            None => default_sincedb_path(args, key),
        };
        let sincedb =
            Sincedb::open(&path).map_err(|e| error(args, "sincedb_path", &e.to_string()))?;
        Ok(Tailing {
            config,
            sincedb,
            clean_after: clean_after(args, o)?,
        })
    }

    pub fn config(&self) -> &WatchConfig {
        &self.config
    }

    /// The watcher, over checkpoints that start from the sincedb.
    pub fn watcher(self) -> Result<Watcher, InputError> {
        let checkpoints = Checkpoints::new(self.sincedb, Some(self.clean_after));
        Watcher::new(self.config, checkpoints).map_err(|e| InputError::Other(e.to_string()))
    }
}

/// `sincedb_clean_after` (a bare number counts days), 14 days by default.
fn clean_after(args: &PluginArgs, o: &TailOptions) -> Result<Duration, Diagnostics> {
    Ok(duration(
        args,
        "sincedb_clean_after",
        &o.sincedb_clean_after,
        86_400.0,
    )?
    .unwrap_or(Duration::from_secs(14 * 86_400)))
}

/// Logstash's default: `.sincedb_` and the MD5 of `key`, in `$SINCEDB_DIR` or
/// `<path.data>/plugins/inputs/<plugin name>`.
fn default_sincedb_path(args: &PluginArgs, key: &str) -> PathBuf {
    use md5::Digest as _;
    let dir = (args.env())("SINCEDB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.data_path().join("plugins/inputs").join(args.name()));
    let digest = md5::Md5::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!(".sincedb_{hex}"))
}

/// A folder option whose files the input finds itself: absolute, and no glob.
pub fn check_folder(args: &PluginArgs, name: &str, folder: &str) -> Result<(), Diagnostics> {
    if !std::path::Path::new(folder).is_absolute() {
        return Err(error(args, name, "must be an absolute folder"));
    }
    if folder.contains(['*', '?', '[', '{']) {
        return Err(error(args, name, "must be a folder, not a glob"));
    }
    Ok(())
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

/// A count option that must not be 0.
pub fn positive(
    args: &PluginArgs,
    name: &str,
    value: Option<usize>,
    default: usize,
) -> Result<usize, Diagnostics> {
    match value {
        Some(0) => Err(error(args, name, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// A diagnostic at option `name`, prefixed with the plugin's name.
pub fn error(args: &PluginArgs, name: &str, message: &str) -> Diagnostics {
    args.error(name, format!("{}: {name}: {message}", args.name()))
}

/// Runs `read` on a thread of its own named `thread` (a watcher blocks: on files, between
/// rounds, and on the queue while it is full) and waits for it. The thread watches the
/// shutdown request itself and returns once it has sent what it holds, so the pipeline never
/// closes the queue under it.
pub async fn read_on_thread(
    thread: &str,
    plugin: &str,
    read: impl FnOnce() -> Result<(), InputError> + Send + 'static,
) -> Result<(), InputError> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            let _ = done_tx.send(read());
        })?;
    done_rx.await.unwrap_or_else(|_| {
        Err(InputError::Other(format!(
            "the {plugin} reader thread panicked"
        )))
    })
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
