//! The `mesos_sandbox` input: follows the `stdout` and `stderr` files a Mesos agent writes in
//! its task sandboxes, one event per line (through the codec: `plain` by default, `multiline`
//! usable, one decoder per file), with the task's identity.
//!
//! ```text
//! input { mesos_sandbox { work_dir => "/var/lib/mesos" } }
//! ```
//!
//! It tails `<work_dir>/slaves/*/frameworks/*/executors/*/runs/*/{stdout,stderr}` and, for
//! executors that run several tasks each in a sandbox of its own (the default executor's task
//! groups), `.../runs/*/tasks/*/{stdout,stderr}`, with the file input's [`Watcher`]. The
//! `latest` links (`slaves/latest`, `runs/latest`) match the globs too, but the watcher knows
//! files by inode, so nothing is read twice, and fields never name `latest` (the link is
//! resolved). New runs are found every `discover_interval` × `stat_interval`; a finished run's
//! files are closed once quiet for `close_older` (5 minutes here) and released when the agent
//! removes the sandbox (its files are read to their end first).
//!
//! Each event gets `MESOS_TASK_ID` (the task folder's name in a task sandbox; otherwise the
//! executor id, which for a command task is the task id), `[mesos][agent_id]`,
//! `[mesos][framework_id]`, `[mesos][executor_id]`, `[mesos][container_id]` (the run),
//! `[mesos][task_id]` (task sandboxes only), `stream` (`stdout` / `stderr`) and `host`
//! (`[host][name]` with ECS), unless the codec made them already; then the shared options.
//!
//! Options: `work_dir` (required), `ecs_compatibility`, and the file input's tailing options
//! with its meanings: `start_position` ("end"), `sincedb_path` (default: `.sincedb_<md5 of
//! work_dir>` in `$SINCEDB_DIR` or `data/plugins/inputs/mesos_sandbox`), `sincedb_write_interval`,
//! `sincedb_clean_after`, `stat_interval`, `discover_interval` (5 here), `close_older` (5
//! minutes here), `ignore_older`, `max_open_files`, `file_chunk_size`. Delivery is
//! at-least-once, as for the file input: the sincedb advances over delivered batches only.
//!
//! Not handled: nested containers' own sandboxes (`runs/<id>/containers/<id>/`) unless reached
//! through a `tasks/<id>` folder or link; files rotated by the `LogrotateContainerLogger`
//! (`stdout.1`, ...) other than by following the open file through the rename.
//!
//! Layout: `layout` (globs; path → fields), `sink` ([`sink::MesosSink`]: lines to events).

pub mod layout;
pub mod sink;

use std::sync::Arc;
use std::time::Duration;

use crate::codecs::Codec;
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::inputs::docker_logs::tailing::{
    self, HostField, StartOption, TailDefaults, TailOptions,
};
use crate::inputs::file::checkpoint::Checkpoints;
use crate::inputs::file::sincedb::Sincedb;
use crate::inputs::file::watch::{WatchConfig, Watcher};

use super::{Input, InputContext, InputError};
use sink::MesosSink;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    work_dir: String,
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

/// Sandboxes are many and short-lived: their files are closed sooner than the file input's.
const DEFAULTS: TailDefaults = TailDefaults {
    discover_interval: 5,
    close_older: Duration::from_secs(300),
};

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    let work_dir = &options.work_dir;
    if !std::path::Path::new(work_dir).is_absolute() {
        return Err(tailing::error(
            args,
            "work_dir",
            "must be an absolute folder",
        ));
    }
    if work_dir.contains(['*', '?', '[', '{']) {
        return Err(tailing::error(
            args,
            "work_dir",
            "must be a folder, not a glob",
        ));
    }
    let tail = options.tail();
    let config = tailing::watch_config(args, layout::globs(work_dir), &tail, &DEFAULTS)?;
    let sincedb = tailing::open_sincedb(args, &tail, work_dir)?;
    let clean_after = tailing::clean_after(args, &tail)?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    Ok(Box::new(MesosSandboxInput {
        config,
        sincedb,
        clean_after,
        codec,
        host: HostField::new(ecs),
    }))
}

/// The `mesos_sandbox` input.
pub struct MesosSandboxInput {
    config: WatchConfig,
    sincedb: Sincedb,
    clean_after: Duration,
    codec: Arc<dyn Codec>,
    host: HostField,
}

#[async_trait::async_trait]
impl Input for MesosSandboxInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sluice-mesos".into())
            .spawn(move || {
                let _ = done_tx.send(self.read(&ctx));
            })?;
        done_rx.await.unwrap_or_else(|_| {
            Err(InputError::Other(
                "the mesos_sandbox reader thread panicked".into(),
            ))
        })
    }
}

impl MesosSandboxInput {
    /// Reads on this thread until shutdown (blocking while the queue is full).
    fn read(self, ctx: &InputContext) -> Result<(), InputError> {
        let checkpoints = Checkpoints::new(self.sincedb, Some(self.clean_after));
        let mut watcher = Watcher::new(self.config, checkpoints.clone())
            .map_err(|e| InputError::Other(e.to_string()))?;
        let mut sink = MesosSink::new(ctx, self.codec.as_ref(), &self.host, checkpoints);
        watcher.run(&mut sink, ctx.shutdown())
    }
}
