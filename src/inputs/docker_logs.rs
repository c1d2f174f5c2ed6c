//! The `docker_logs` input: follows the logs Docker's `json-file` driver writes under its data
//! root, one event per container output line, with the container's identity, as Heka's
//! DockerLogInput did (but reading the files, not attaching through the Docker API).
//!
//! ```text
//! input { docker_logs { path => "/var/lib/docker/containers" fields_from_env => ["MESOS_TASK_ID"] } }
//! ```
//!
//! It tails `<path>/*/*-json.log` and the first rotated file, `*-json.log.1`, with the file
//! input's [`Watcher`]: containers are found as they start (every `discover_interval` ×
//! `stat_interval`), a rotation by rename is followed (the renamed file is read to its end, the
//! new one from its start), a removed container's files are read to their end and released.
//! Progress goes to a sincedb with the file input's format and options (`sincedb_path`,
//! `start_position`, `stat_interval`, `discover_interval`, `sincedb_write_interval`,
//! `sincedb_clean_after`, `close_older`, `ignore_older`, `max_open_files`, `file_chunk_size`);
//! it advances over delivered batches only, so a restart resumes without loss or repeats.
//!
//! Each line `{"log":"...\n","stream":"stdout","time":"..."}` becomes, through the codec
//! (`plain` by default; `json` or `multiline` apply to the `log` text, per container and
//! stream), an event with `message` (the `log` text without its newline), `@timestamp` (the
//! line's `time`, to the nanosecond), `stream`, `[container][id]`, `[container][name]` (without
//! Docker's leading `/`), `[container][image]`, each variable of `fields_from_env` (default
//! `MESOS_TASK_ID`, `MARATHON_APP_ID`) and each label of `fields_from_labels` as a top-level
//! field of that name (a name the configuration lacks is taken from the line's `attrs` when
//! present), and `host` (`[host][name]` with ECS). Fields an event already has (from a `json`
//! codec) are kept. Lines Docker split at 16 KiB are joined (`join_partials`); one whose last
//! piece does not come within `partial_timeout` goes out as it is, tagged
//! `_partial_incomplete`. A line that is not json-file JSON becomes an event whose `message`
//! is the raw line, tagged `_dockerlogparsefailure`; a bad `time` gives the read time, tagged
//! `_timestampparsefailure`.
//!
//! The container fields come from `<path>/<id>/config.v2.json`, read when the container's
//! first line is, cached, and read again when the file changes (looked at every
//! `discover_interval` × `stat_interval`). While it cannot be read (not
//! yet written, half written), the container's lines wait, for `config_wait` at most; then
//! they go out with `[container][id]` only (the folder's name), tagged `_dockerconfigmissing`.
//!
//! Options besides the tailing ones: `path` (`/var/lib/docker/containers`), `fields_from_env`,
//! `fields_from_labels` ([]), `name_from_env_var` (Heka's: a variable whose value replaces the
//! container name), `read_rotated` (true: also `*-json.log.1`), `join_partials` (true),
//! `partial_timeout` ("5 seconds"), `config_wait` ("10 seconds"), `ecs_compatibility`.
//! Defaults that differ from the file input's: `discover_interval` 5.
//!
//! Layout: `jsonfile` (reading one line, fast), `container` (`config.v2.json`), `sink` (lines
//! to events: [`sink::DockerSink`]). What it shares with the file input and `mesos_sandbox`
//! (tailing options, sincedb, reader thread, batches, `host`) is in
//! [`file::tailing`](crate::inputs::file::tailing) and [`file::sink`](crate::inputs::file::sink).
//!
//! [`Watcher`]: crate::inputs::file::watch::Watcher

pub mod container;
pub mod jsonfile;
pub mod sink;

use std::sync::Arc;
use std::time::Duration;

use crate::codecs::Codec;
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::Text;
use crate::inputs::file::tailing::{
    self, HostField, StartOption, TailDefaults, TailOptions, Tailing,
};
use crate::inputs::file::watch::WatchConfig;

use super::{Input, InputContext, InputError};
use container::FieldSpec;
use sink::{DockerSink, Settings};

/// Docker's default container folder.
pub const DEFAULT_PATH: &str = "/var/lib/docker/containers";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    fields_from_env: Option<Vec<String>>,
    #[serde(default)]
    fields_from_labels: Vec<String>,
    #[serde(default)]
    name_from_env_var: Option<String>,
    #[serde(default)]
    read_rotated: Option<bool>,
    #[serde(default)]
    join_partials: Option<bool>,
    #[serde(default)]
    partial_timeout: Option<String>,
    #[serde(default)]
    config_wait: Option<String>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
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
    close_older: Option<String>,
    #[serde(default)]
    ignore_older: Option<String>,
    #[serde(default)]
    max_open_files: Option<usize>,
    #[serde(default)]
    file_chunk_size: Option<usize>,
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

const DEFAULTS: TailDefaults = TailDefaults {
    discover_interval: 5,
    close_older: Duration::from_secs(3600),
};

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    let root = options
        .path
        .clone()
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    tailing::check_folder(args, "path", &root)?;
    let tail = options.tail();
    let config = tailing::watch_config(args, globs(&root, options.read_rotated), &tail, &DEFAULTS)?;
    let tailing = Tailing::open(args, config, &tail, &root)?;
    let settings = settings(args, &options, tailing.config())?;
    Ok(Box::new(DockerLogsInput {
        tailing,
        codec,
        settings,
    }))
}

/// The log files under `root`.
fn globs(root: &str, read_rotated: Option<bool>) -> Vec<String> {
    let root = root.trim_end_matches('/');
    let mut globs = vec![format!("{root}/*/*-json.log")];
    if read_rotated.unwrap_or(true) {
        globs.push(format!("{root}/*/*-json.log.1"));
    }
    globs
}

fn settings(args: &PluginArgs, o: &Options, config: &WatchConfig) -> Result<Settings, Diagnostics> {
    let env = o
        .fields_from_env
        .clone()
        .unwrap_or_else(|| vec!["MESOS_TASK_ID".into(), "MARATHON_APP_ID".into()]);
    let spec = FieldSpec {
        env: env.iter().map(|n| Text::new(n)).collect(),
        labels: o.fields_from_labels.iter().map(|n| Text::new(n)).collect(),
        name_from_env: o.name_from_env_var.clone().filter(|n| !n.is_empty()),
    };
    let seconds = |name: &str, value: &Option<String>, default: u64| {
        tailing::duration(args, name, value, 1.0).map(|d| d.unwrap_or(Duration::from_secs(default)))
    };
    let ecs = o
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    Ok(Settings {
        spec,
        config_wait: seconds("config_wait", &o.config_wait, 10)?,
        partial_timeout: seconds("partial_timeout", &o.partial_timeout, 5)?,
        join_partials: o.join_partials.unwrap_or(true),
        refresh_every: config
            .stat_interval
            .saturating_mul(config.discover_interval),
        host: HostField::new(ecs),
    })
}

/// The `docker_logs` input.
pub struct DockerLogsInput {
    tailing: Tailing,
    codec: Arc<dyn Codec>,
    settings: Settings,
}

#[async_trait::async_trait]
impl Input for DockerLogsInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        tailing::read_on_thread("sluice-docker", "docker_logs", move || self.read(&ctx)).await
    }
}

impl DockerLogsInput {
    /// Reads on this thread until shutdown (blocking while the queue is full).
    fn read(self, ctx: &InputContext) -> Result<(), InputError> {
        let mut watcher = self.tailing.watcher()?;
        let checkpoints = watcher.checkpoints().clone();
        let mut sink = DockerSink::new(ctx, self.codec.as_ref(), &self.settings, checkpoints);
        let result = watcher.run(&mut sink, ctx.shutdown());
        let finished = match result {
            Err(InputError::Closed) => Ok(()),
            _ => sink.finish(),
        };
        result.and(finished)
    }
}
