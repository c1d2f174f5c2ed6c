//! The `file` output: events encoded with the codec (`json_lines` by default) and appended to
//! `path`, which may use sprintf (`/var/log/app/%{host}/%{+YYYY-MM-dd}.log`).
//!
//! As in Logstash: parent directories are created; the first component of `path` must not be
//! dynamic, and an event whose rendered path leaves the static part of `path` (through `..`)
//! is written to `filename_failure` (default `_filepath_failures`) in that directory instead;
//! `write_behavior => overwrite` keeps only the last event written; a file deleted while open
//! is created again (`create_if_deleted`, default true); files not written for 10 seconds are
//! closed. `dir_mode` / `file_mode` are read as octal digits (`0750` or `750`).
//!
//! Every batch is written when it arrives, one write per file, so there is nothing left to
//! flush later: `flush_interval` is accepted and has nothing to do.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::Event;

use super::{BlockingSink, Output, OutputBatch, OutputError, Threaded};

/// Files idle this long are closed.
const STALE_AFTER: Duration = Duration::from_secs(10);
/// Past this many distinct rendered paths, the tables are cleared (nothing is pending between
/// batches, so this only closes files).
const MAX_PATHS: usize = 4096;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    path: String,
    #[serde(default)]
    write_behavior: WriteBehavior,
    #[serde(default = "default_failure_name")]
    filename_failure: String,
    #[serde(default = "default_true")]
    create_if_deleted: bool,
    #[serde(default = "default_mode")]
    dir_mode: i64,
    #[serde(default = "default_mode")]
    file_mode: i64,
    /// Accepted and checked; every batch is written as it arrives.
    #[serde(default, rename = "flush_interval")]
    _flush_interval: Option<u64>,
}

#[derive(serde::Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum WriteBehavior {
    #[default]
    Append,
    Overwrite,
}

fn default_failure_name() -> String {
    "_filepath_failures".to_string()
}

fn default_true() -> bool {
    true
}

fn default_mode() -> i64 {
    -1
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    let options: Options = args.options()?;
    let path = Template::parse(&options.path)
        .map_err(|e| args.error("path", format!("file: path: {e}")))?;
    let root = match path.constant() {
        Some(_) => None,
        None => Some(static_root(&options.path).ok_or_else(|| {
            args.error("path", "file: the first part of path must not be dynamic")
        })?),
    };
    let dir_mode = octal_mode(options.dir_mode).map_err(|m| args.error("dir_mode", m))?;
    let file_mode = octal_mode(options.file_mode).map_err(|m| args.error("file_mode", m))?;
    let sink = FileSink {
        failure: root
            .as_ref()
            .map(|r| r.join(&options.filename_failure))
            .unwrap_or_default(),
        path,
        root,
        codec,
        overwrite: options.write_behavior == WriteBehavior::Overwrite,
        create_if_deleted: options.create_if_deleted,
        dir_mode,
        file_mode,
        routes: HashMap::new(),
        targets: HashMap::new(),
        files: Vec::new(),
        scratch: String::new(),
        last_sweep: Instant::now(),
    };
    Ok(Box::new(Threaded::new("file", sink)))
}

/// `750` or `0750` as the mode 0o750; -1 for the system default.
fn octal_mode(n: i64) -> Result<Option<u32>, String> {
    if n < 0 {
        return Ok(None);
    }
    u32::from_str_radix(&n.to_string(), 8)
        .map(Some)
        .map_err(|_| format!("file: mode {n} is not octal (use digits 0-7, e.g. 0640)"))
}

/// The directory above the first dynamic component of `path`, made absolute and normalised;
/// `None` when the path as written starts with a dynamic component (Logstash refuses those).
fn static_root(path: &str) -> Option<PathBuf> {
    let first = path.split('/').find(|part| !part.is_empty())?;
    if first.contains("%{") {
        return None;
    }
    let mut root = PathBuf::new();
    for component in normalize(&std::path::absolute(path).ok()?).components() {
        if component.as_os_str().to_string_lossy().contains("%{") {
            break;
        }
        root.push(component);
    }
    Some(root)
}

/// Resolves `.` and `..` without touching the file system (Ruby's `File.expand_path`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The writing side of the `file` output; runs on its own thread.
struct FileSink {
    path: Template,
    /// Set when `path` is dynamic: rendered paths must stay below it.
    root: Option<PathBuf>,
    failure: PathBuf,
    codec: Arc<dyn Codec>,
    overwrite: bool,
    create_if_deleted: bool,
    dir_mode: Option<u32>,
    file_mode: Option<u32>,
    /// Rendered path -> index into `files`, so a known path costs a lookup, not a check.
    routes: HashMap<String, usize>,
    /// Checked target -> index into `files` (several rendered paths may land on one file).
    targets: HashMap<PathBuf, usize>,
    files: Vec<OpenFile>,
    scratch: String,
    last_sweep: Instant,
}

struct OpenFile {
    path: PathBuf,
    file: Option<File>,
    /// This batch's bytes for the file.
    pending: Vec<u8>,
    last_write: Instant,
}

impl BlockingSink for FileSink {
    fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        self.sweep();
        match self.path.constant().map(PathBuf::from) {
            Some(path) => {
                let index = self.file_index(&path);
                for event in batch.events() {
                    self.encode(index, event);
                }
            }
            None => {
                for event in batch.events() {
                    let index = self.route(event);
                    self.encode(index, event);
                }
            }
        }
        self.write_pending()
    }

    fn close(&mut self) -> Result<(), OutputError> {
        let mut first_error = None;
        for file in self.files.iter_mut().filter_map(|f| f.file.as_mut()) {
            if let Err(e) = file.flush() {
                first_error.get_or_insert(e);
            }
        }
        self.files.clear();
        self.routes.clear();
        self.targets.clear();
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }
}

impl FileSink {
    fn encode(&mut self, index: usize, event: &Event) {
        let pending = &mut self.files[index].pending;
        if self.overwrite {
            pending.clear();
        }
        self.codec.encode(event, pending);
    }

    /// The file for `event`'s rendered path.
    fn route(&mut self, event: &Event) -> usize {
        self.scratch.clear();
        self.path.render_into(event, &mut self.scratch);
        if let Some(&index) = self.routes.get(self.scratch.as_str()) {
            return index;
        }
        let target = match &self.root {
            Some(root) => checked_target(root, &self.scratch).unwrap_or_else(|| {
                tracing::warn!(path = %self.scratch, "file: the event's path leaves the output's directory; writing it to the failure file");
                self.failure.clone()
            }),
            None => PathBuf::from(&self.scratch),
        };
        let index = self.file_index(&target);
        self.routes.insert(self.scratch.clone(), index);
        index
    }

    fn file_index(&mut self, target: &Path) -> usize {
        if let Some(&index) = self.targets.get(target) {
            return index;
        }
        self.files.push(OpenFile {
            path: target.to_path_buf(),
            file: None,
            pending: Vec::new(),
            last_write: Instant::now(),
        });
        let index = self.files.len() - 1;
        self.targets.insert(target.to_path_buf(), index);
        index
    }

    /// Writes every file's pending bytes; returns the first error after trying them all.
    fn write_pending(&mut self) -> Result<(), OutputError> {
        let mut first_error = None;
        let now = Instant::now();
        for index in 0..self.files.len() {
            if self.files[index].pending.is_empty() {
                continue;
            }
            let result = self.write_file(index);
            let file = &mut self.files[index];
            file.pending.clear();
            file.last_write = now;
            if let Err(e) = result {
                tracing::error!(path = %file.path.display(), error = %e, "file: write failed");
                file.file = None;
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }

    fn write_file(&mut self, index: usize) -> std::io::Result<()> {
        let overwrite = self.overwrite;
        self.ensure_open(index)?;
        let entry = &mut self.files[index];
        let Some(file) = entry.file.as_mut() else {
            return Ok(());
        };
        if overwrite {
            file.set_len(0)?;
            file.rewind()?;
        }
        file.write_all(&entry.pending)
    }

    fn ensure_open(&mut self, index: usize) -> std::io::Result<()> {
        let entry = &mut self.files[index];
        if entry.file.is_some() && self.create_if_deleted && !entry.path.exists() {
            entry.file = None;
        }
        if entry.file.is_some() {
            return Ok(());
        }
        if let Some(parent) = entry.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let mut dirs = DirBuilder::new();
            dirs.recursive(true);
            if let Some(mode) = self.dir_mode {
                dirs.mode(mode);
            }
            dirs.create(parent)?;
        }
        let mut options = OpenOptions::new();
        options.create(true);
        if self.overwrite {
            options.write(true);
        } else {
            options.append(true);
        }
        if let Some(mode) = self.file_mode {
            options.mode(mode);
        }
        entry.file = Some(options.open(&entry.path)?);
        Ok(())
    }

    /// Closes files idle for [`STALE_AFTER`]; forgets every path when there are too many.
    fn sweep(&mut self) {
        if self.routes.len() > MAX_PATHS {
            self.routes.clear();
            self.targets.clear();
            self.files.clear();
        }
        let now = Instant::now();
        if now.duration_since(self.last_sweep) < STALE_AFTER {
            return;
        }
        self.last_sweep = now;
        for file in &mut self.files {
            if now.duration_since(file.last_write) >= STALE_AFTER {
                file.file = None;
                file.pending = Vec::new();
            }
        }
    }
}

/// `rendered` made absolute and normalised, if it lies below `root`.
fn checked_target(root: &Path, rendered: &str) -> Option<PathBuf> {
    let target = normalize(&std::path::absolute(rendered).ok()?);
    (target.starts_with(root) && target != root).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_root_is_the_directory_above_the_first_dynamic_part() {
        assert_eq!(
            static_root("/var/log/%{host}/x.log"),
            Some(PathBuf::from("/var/log"))
        );
        assert_eq!(
            static_root("/var/log/app-%{+YYYY}.log"),
            Some(PathBuf::from("/var/log"))
        );
        assert_eq!(static_root("/%{dir}/x.log"), None);
    }

    #[test]
    fn rendered_paths_must_stay_below_the_root() {
        let root = Path::new("/data/out");
        assert_eq!(
            checked_target(root, "/data/out/a/../b.log"),
            Some(PathBuf::from("/data/out/b.log"))
        );
        assert_eq!(checked_target(root, "/data/out/../../etc/passwd"), None);
        assert_eq!(checked_target(root, "/data/out"), None);
    }

    #[test]
    fn modes_are_read_as_octal_digits() {
        assert_eq!(octal_mode(-1), Ok(None));
        assert_eq!(octal_mode(750), Ok(Some(0o750)));
        assert!(octal_mode(789).is_err());
    }
}
