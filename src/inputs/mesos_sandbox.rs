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
//! work_dir>` in `$SINCEDB_DIR` or `<path.data>/plugins/inputs/mesos_sandbox`),
//! `sincedb_write_interval`, `sincedb_clean_after`, `stat_interval`, `discover_interval` (5
//! here), `close_older` (5 minutes here), `ignore_older`, `max_open_files`, `file_chunk_size`.
//! Delivery is at-least-once, as for the file input: the sincedb advances over delivered
//! batches only.
//!
//! Not handled: nested containers' own sandboxes (`runs/<id>/containers/<id>/`) unless reached
//! through a `tasks/<id>` folder or link; files rotated by the `LogrotateContainerLogger`
//! (`stdout.1`, ...) other than by following the open file through the rename.
//!
//! Layout: `layout` (globs; path → fields), `sink` ([`sink::TaskFields`]: what events get, the
//! hook of the file input's [`EventSink`](crate::inputs::file::sink::EventSink), which decodes
//! the lines; the input is a [`TailInput`] of it).
//!
//! [`Watcher`]: crate::inputs::file::watch::Watcher

pub mod layout;
pub mod sink;

use std::sync::Arc;
use std::time::Duration;

use crate::codecs::Codec;
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::inputs::file::sink::TailInput;
use crate::inputs::file::tailing::{
    self, HostField, StartOption, TailDefaults, TailOptions, Tailing,
};

use super::Input;
use sink::TaskFields;

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
    tailing::check_folder(args, "work_dir", work_dir)?;
    let tail = options.tail();
    let config = tailing::watch_config(args, layout::globs(work_dir), &tail, &DEFAULTS)?;
    let tailing = Tailing::open(args, config, &tail, work_dir)?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let fields = TaskFields::new(HostField::new(ecs));
    Ok(Box::new(TailInput::new(
        "mesos_sandbox",
        "sluice-mesos",
        tailing,
        codec,
        fields,
    )))
}
