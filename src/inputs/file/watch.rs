//! [`Watcher`]: the tailing machinery. It finds the files the globs match, reads each one's new
//! lines and hands them to a [`TailSink`], follows rotation, and records progress in
//! [`Checkpoints`]. It knows nothing of codecs or events, so any input that reads log files
//! (`file`, and later `docker_logs`, `mesos_sandbox`) can drive it with a sink of its own.
//!
//! The watcher runs on one thread, in rounds ([`Watcher::run`]); each round:
//! 1. discovers files when due (at start, every `discover_interval` × `stat_interval`, and at
//!    once when a watched path is seen to hold another file). A file seen for the first time
//!    starts at its sincedb position; without one, in `tail` mode, files found by the first
//!    discovery start at `start_position` and later ones at their beginning (so the new file
//!    of a rotation is read whole); in `read` mode at their beginning;
//! 2. gives every file a turn: up to `chunks_per_turn` chunks of new data, cut into lines;
//! 3. in `read` mode, completes the files whose every line has been delivered (delete / log);
//! 4. calls [`TailSink::tick`] and saves the sincedb every `sincedb_write_interval`.
//!
//! It sleeps `stat_interval` between rounds unless a file had more data than its turn took.
//!
//! Files are known by inode and device ([`FileId`]), so:
//! - rotation by rename: the open handle keeps reading the renamed file to its end; once it has
//!   been quiet for a `stat_interval` and no glob matches it any more, it is closed, and the new
//!   file at the path, found by discovery, is read from its beginning;
//! - copytruncate: a file found shorter than what was read is read again from 0 (a new
//!   checkpoint generation; lines held for the old content are flushed first);
//! - a deleted file is read to its end, then forgotten.
//!
//! A file forgotten (deleted, or rotated out of every glob and read to its end) loses its
//! sincedb entry, so a new file that later reuses its inode is read from 0 rather than from the
//! old file's position (Logstash keeps such entries until `sincedb_clean_after`).
//!
//! `close_older` closes quiet files (they reopen when they grow), `max_open_files` caps open
//! handles, `ignore_older` starts old files at their end (`tail`) or skips them (`read`). Errors
//! on one file (permissions, a file vanishing, a corrupt gzip) are logged once and never stop
//! the others.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::event::Text;
use crate::inputs::{InputError, Shutdown};

use super::checkpoint::Checkpoints;
use super::discover::{Discoverer, Found, GlobError};
use super::reader::{is_gzip_path, Line, LineReader, ReadOptions, MAX_LINE_BYTES};
use super::sincedb::FileId;

/// `mode`: follow files as they grow, or read whole files once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Tail,
    Read,
}

/// `start_position`: where `tail` mode starts files found at startup with no sincedb entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartPosition {
    Beginning,
    #[default]
    End,
}

/// `file_sort_by`: the order files take their turns in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    LastModified,
    Path,
}

/// What `read` mode does with a file once every line of it has been delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    pub delete: bool,
    /// Appends the file's path to this file.
    pub log: Option<PathBuf>,
}

/// How a [`Watcher`] finds and reads files.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// Globs of the files to read.
    pub paths: Vec<String>,
    /// Globs of file names to leave alone.
    pub exclude: Vec<String>,
    pub mode: Mode,
    pub start_position: StartPosition,
    pub read: ReadOptions,
    /// Chunks one file may read per turn before the others get theirs (`file_chunk_count`).
    pub chunks_per_turn: u64,
    pub stat_interval: Duration,
    /// Discovery runs every this many `stat_interval`s.
    pub discover_interval: u32,
    pub sincedb_write_interval: Duration,
    pub close_older: Option<Duration>,
    pub ignore_older: Option<Duration>,
    pub max_open_files: usize,
    pub sort_by: SortBy,
    pub sort_descending: bool,
    /// `read` mode only.
    pub completion: Completion,
    /// `read` mode only: stop once every file found at startup is complete.
    pub exit_after_read: bool,
}

impl WatchConfig {
    /// Logstash's defaults, for `paths`.
    pub fn new(paths: Vec<String>) -> WatchConfig {
        WatchConfig {
            paths,
            exclude: Vec::new(),
            mode: Mode::Tail,
            start_position: StartPosition::End,
            read: ReadOptions {
                delimiter: Bytes::from_static(b"\n"),
                chunk_size: 32 * 1024,
                max_line: MAX_LINE_BYTES,
            },
            chunks_per_turn: u64::MAX,
            stat_interval: Duration::from_secs(1),
            discover_interval: 15,
            sincedb_write_interval: Duration::from_secs(15),
            close_older: Some(Duration::from_secs(3600)),
            ignore_older: None,
            max_open_files: 4095,
            sort_by: SortBy::LastModified,
            sort_descending: false,
            completion: Completion {
                delete: true,
                log: None,
            },
            exit_after_read: false,
        }
    }
}

/// A file as a sink sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub id: FileId,
    /// The path the file was found at (updated when it is found under another name).
    pub path: Text,
    /// Changes when the file is read again from 0 (it was truncated): pass it to
    /// [`Checkpoints::token`].
    pub generation: u64,
}

/// Receives what a [`Watcher`] reads. Every method may fail with [`InputError::Closed`] (the
/// pipeline is gone), which stops the watcher.
pub trait TailSink {
    /// One line of `file`, in file order. [`Line::end`] is where reading resumes once the line
    /// is delivered (0 for gzip files, which can only be read again from the start).
    fn line(&mut self, file: &FileRef, line: Line) -> Result<(), InputError>;

    /// `file`'s turn is over (no more data at hand, or its share of the round is used): a good
    /// moment to send what has been gathered.
    fn pause(&mut self, file: &FileRef) -> Result<(), InputError>;

    /// No more lines of `file` will follow for now (end of a `read`-mode file, rotated away,
    /// deleted, truncated, closed by `close_older`, or shutdown): release whatever is held for
    /// it (e.g. a codec's buffered lines). `end` is the offset after the last line given; once
    /// what precedes it is delivered, the file's position may move there.
    fn close(&mut self, file: &FileRef, end: u64) -> Result<(), InputError>;

    /// Called once a round, after every file's turn (idle flushes, periodic work).
    fn tick(&mut self) -> Result<(), InputError> {
        Ok(())
    }

    /// How soon the sink needs its next [`TailSink::tick`], if sooner than `stat_interval`
    /// (e.g. a codec's idle flush is due).
    fn tick_within(&self) -> Option<Duration> {
        None
    }
}

/// Where a file stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Reading,
    /// `read` mode: read to the end, waiting for its lines to be delivered.
    Done {
        end: u64,
    },
    /// Nothing more to do (read and completed, skipped, or unreadable in `read` mode).
    Completed,
}

/// What a file's turn ended with.
enum Turn {
    /// Nothing more at hand.
    Idle,
    /// More data is waiting.
    Busy,
    /// No longer watched.
    Gone,
}

struct Watched {
    file: FileRef,
    path: PathBuf,
    /// Whether the last discovery found this file at `path`.
    at_path: bool,
    reader: Option<LineReader>,
    /// Where reading resumes when the file is opened again (a line boundary).
    position: u64,
    gzip: bool,
    phase: Phase,
    modified: SystemTime,
    last_data: Instant,
    /// Since when the file, rotated away or deleted, has had nothing more to read.
    drained_since: Option<Instant>,
    /// The file has no links left.
    deleted: bool,
    /// A problem with this file was logged (cleared when it reads again).
    warned: bool,
}

impl Watched {
    fn warn(&mut self, what: &str, error: &std::io::Error) {
        if !self.warned {
            tracing::warn!(path = %self.path.display(), error = %error, "file: cannot {what}");
            self.warned = true;
        }
    }
}

/// Finds, reads and follows the files of a [`WatchConfig`].
pub struct Watcher {
    config: WatchConfig,
    discoverer: Discoverer,
    checkpoints: Arc<Checkpoints>,
    files: HashMap<FileId, Watched>,
    /// The order files take their turns in.
    order: Vec<FileId>,
    /// Files with an open handle.
    open: usize,
    /// Scratch for the lines of one read.
    lines: Vec<Line>,
    discovered_once: bool,
    last_discovery: Instant,
    /// A watched path was seen to hold another file: discover at the next round.
    rediscover: bool,
    last_persist: Instant,
    warned_max_open: bool,
}

impl Watcher {
    pub fn new(config: WatchConfig, checkpoints: Arc<Checkpoints>) -> Result<Watcher, GlobError> {
        let discoverer = Discoverer::new(&config.paths, &config.exclude)?;
        Ok(Watcher {
            config,
            discoverer,
            checkpoints,
            files: HashMap::new(),
            order: Vec::new(),
            open: 0,
            lines: Vec::with_capacity(1024),
            discovered_once: false,
            last_discovery: Instant::now(),
            rediscover: false,
            last_persist: Instant::now(),
            warned_max_open: false,
        })
    }

    pub fn checkpoints(&self) -> &Arc<Checkpoints> {
        &self.checkpoints
    }

    /// Runs rounds until `shutdown` is requested, the sink fails, or (`exit_after_read`) every
    /// file is complete; then closes every file (so held lines are flushed) and saves the
    /// sincedb.
    pub fn run<S: TailSink>(
        &mut self,
        sink: &mut S,
        shutdown: &Shutdown,
    ) -> Result<(), InputError> {
        let result = self.run_rounds(sink, shutdown);
        let closed = match result {
            Err(InputError::Closed) => Ok(()),
            _ => self.close_all(sink),
        };
        self.persist();
        result.and(closed)
    }

    fn run_rounds<S: TailSink>(
        &mut self,
        sink: &mut S,
        shutdown: &Shutdown,
    ) -> Result<(), InputError> {
        while !shutdown.is_requested() {
            let busy = self.round(sink, shutdown)?;
            if self.read_finished() {
                tracing::info!("file: every file has been read (exit_after_read)");
                return Ok(());
            }
            if !busy {
                let nap = match sink.tick_within() {
                    Some(due) => self.nap().min(due),
                    None => self.nap(),
                };
                sleep(nap, shutdown);
            }
        }
        Ok(())
    }

    /// How long to wait before the next round: `stat_interval`, or less while `read`-mode
    /// files wait for their delivery (completing them promptly).
    fn nap(&self) -> Duration {
        const DELIVERY_POLL: Duration = Duration::from_millis(20);
        let waiting = self
            .files
            .values()
            .any(|w| matches!(w.phase, Phase::Done { .. }));
        if waiting {
            self.config.stat_interval.min(DELIVERY_POLL)
        } else {
            self.config.stat_interval
        }
    }

    /// One round (see the module docs). Returns whether some file has more to read at once.
    pub fn round<S: TailSink>(
        &mut self,
        sink: &mut S,
        shutdown: &Shutdown,
    ) -> Result<bool, InputError> {
        if self.discovery_due() {
            self.discover();
        }
        let busy = self.read_files(sink, shutdown)?;
        self.complete_read_files();
        sink.tick()?;
        if self.last_persist.elapsed() >= self.config.sincedb_write_interval {
            self.persist();
        }
        Ok(busy)
    }

    fn persist(&mut self) {
        if let Err(e) = self.checkpoints.persist() {
            tracing::warn!(error = %e, "file: cannot save the sincedb");
        }
        self.last_persist = Instant::now();
    }

    fn discovery_due(&self) -> bool {
        if !self.discovered_once || self.rediscover {
            return true;
        }
        if self.config.mode == Mode::Read && self.config.exit_after_read {
            return false;
        }
        let every = self
            .config
            .stat_interval
            .checked_mul(self.config.discover_interval.max(1))
            .unwrap_or(Duration::MAX);
        self.last_discovery.elapsed() >= every
    }

    fn discover(&mut self) {
        let initial = !self.discovered_once;
        let found = self.discoverer.discover();
        let mut seen = HashSet::with_capacity(found.len());
        for Found { path, meta } in found {
            let id = FileId::of(&meta);
            if !seen.insert(id) {
                continue;
            }
            match self.files.get_mut(&id) {
                Some(w) => {
                    w.at_path = true;
                    if w.path != path {
                        w.file.path = Text::from(path.to_string_lossy().as_ref());
                        self.checkpoints.set_path(&id, &w.file.path);
                        w.path = path;
                    }
                }
                None => {
                    let w = self.watch_new(id, path, &meta, initial);
                    self.files.insert(id, w);
                }
            }
        }
        for w in self.files.values_mut() {
            w.at_path = seen.contains(&w.file.id);
        }
        self.files
            .retain(|_, w| w.at_path || w.phase != Phase::Completed);
        self.sort();
        self.discovered_once = true;
        self.rediscover = false;
        self.last_discovery = Instant::now();
    }

    fn sort(&mut self) {
        let mut order: Vec<&Watched> = self.files.values().collect();
        match self.config.sort_by {
            SortBy::LastModified => order.sort_by(|a, b| {
                a.modified
                    .cmp(&b.modified)
                    .then_with(|| a.path.cmp(&b.path))
            }),
            SortBy::Path => order.sort_by(|a, b| a.path.cmp(&b.path)),
        }
        if self.config.sort_descending {
            order.reverse();
        }
        self.order = order.into_iter().map(|w| w.file.id).collect();
    }

    /// A file seen for the first time: where to start it.
    fn watch_new(
        &mut self,
        id: FileId,
        path: PathBuf,
        meta: &fs::Metadata,
        initial: bool,
    ) -> Watched {
        let size = meta.len();
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let tail = self.config.mode == Mode::Tail;
        let gzip = !tail && is_gzip_path(&path);
        let ignored = self
            .config
            .ignore_older
            .is_some_and(|limit| modified.elapsed().is_ok_and(|age| age > limit));
        let recorded = self.checkpoints.position(&id);
        let (position, phase) = match recorded {
            _ if ignored && !tail => (recorded.unwrap_or(0), Phase::Completed),
            // A gzip file is either complete or read again from its start.
            Some(p) if gzip && p > 0 && p >= size => (p, Phase::Completed),
            Some(_) if gzip => (0, Phase::Reading),
            Some(p) if !tail && p == size && size > 0 => (p, Phase::Completed),
            Some(p) if p <= size => (p, Phase::Reading),
            // Shorter than what was delivered: not the content the sincedb knew.
            Some(_) => (0, Phase::Reading),
            None if ignored => (size, Phase::Reading),
            None if tail && initial && self.config.start_position == StartPosition::End => {
                (size, Phase::Reading)
            }
            None => (0, Phase::Reading),
        };
        let text = Text::from(path.to_string_lossy().as_ref());
        let generation = self.checkpoints.start(id, &text, position);
        tracing::debug!(path = %path.display(), position, "file: watching");
        Watched {
            file: FileRef {
                id,
                path: text,
                generation,
            },
            path,
            at_path: true,
            reader: None,
            position,
            gzip,
            phase,
            modified,
            last_data: Instant::now(),
            drained_since: None,
            deleted: false,
            warned: false,
        }
    }

    fn read_files<S: TailSink>(
        &mut self,
        sink: &mut S,
        shutdown: &Shutdown,
    ) -> Result<bool, InputError> {
        let mut busy = false;
        for i in 0..self.order.len() {
            if shutdown.is_requested() {
                break;
            }
            let id = self.order[i];
            let Some(mut w) = self.files.remove(&id) else {
                continue;
            };
            let turn = if w.phase == Phase::Reading {
                self.take_turn(&mut w, sink, shutdown)
            } else {
                Ok(Turn::Idle)
            };
            match turn {
                Ok(Turn::Gone) => self.unwatch(w),
                Ok(t) => {
                    busy |= matches!(t, Turn::Busy);
                    self.files.insert(id, w);
                }
                Err(e) => {
                    self.files.insert(id, w);
                    return Err(e);
                }
            }
        }
        let files = &self.files;
        self.order.retain(|id| files.contains_key(id));
        Ok(busy)
    }

    /// Stops watching a file that was deleted or left the globs (after reading it to its end).
    /// Its sincedb entry goes too: nothing will read it again, and a new file that reuses its
    /// inode once it is deleted must not inherit its position.
    fn unwatch(&mut self, w: Watched) {
        if w.reader.is_some() {
            self.open = self.open.saturating_sub(1);
        }
        self.checkpoints.forget(&w.file.id);
        tracing::debug!(path = %w.path.display(), "file: no longer watched");
    }

    fn take_turn<S: TailSink>(
        &mut self,
        w: &mut Watched,
        sink: &mut S,
        shutdown: &Shutdown,
    ) -> Result<Turn, InputError> {
        if let Some(turn) = self.ensure_open(w, sink)? {
            return Ok(turn);
        }
        self.check_shrink(w, sink)?;
        let Some(reader) = w.reader.as_mut() else {
            return Ok(Turn::Idle);
        };
        let mut chunks = 0u64;
        let eof = loop {
            self.lines.clear();
            let n = match reader.read_lines(&mut self.lines) {
                Ok(n) => n,
                Err(e) => return self.read_failed(w, &e),
            };
            for mut line in self.lines.drain(..) {
                if w.gzip {
                    line.end = 0;
                }
                sink.line(&w.file, line)?;
            }
            if n == 0 {
                break true;
            }
            chunks += 1;
            if chunks >= self.config.chunks_per_turn || shutdown.is_requested() {
                break false;
            }
        };
        w.position = reader.position();
        if chunks > 0 {
            w.last_data = Instant::now();
            w.drained_since = None;
            w.warned = false;
        }
        sink.pause(&w.file)?;
        if !eof {
            return Ok(Turn::Busy);
        }
        match self.config.mode {
            Mode::Read => self.finish_read(w, sink),
            Mode::Tail => self.at_end(w, sink),
        }
    }

    /// Opens `w` if it is closed and has something to read. `Some(turn)`: no reading now.
    fn ensure_open<S: TailSink>(
        &mut self,
        w: &mut Watched,
        sink: &mut S,
    ) -> Result<Option<Turn>, InputError> {
        if w.reader.is_some() {
            return Ok(None);
        }
        if !w.at_path {
            return Ok(Some(Turn::Gone));
        }
        let meta = match fs::metadata(&w.path) {
            Ok(meta) => meta,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::NotFound {
                    self.rediscover = true;
                } else {
                    w.warn("read its metadata", &e);
                }
                return Ok(Some(Turn::Idle));
            }
        };
        if FileId::of(&meta) != w.file.id {
            self.rediscover = true;
            return Ok(Some(Turn::Idle));
        }
        if self.config.mode == Mode::Tail && meta.len() == w.position {
            return Ok(Some(Turn::Idle));
        }
        if !w.gzip && meta.len() < w.position {
            self.restart(w, sink)?;
        }
        if self.open >= self.config.max_open_files {
            if !self.warned_max_open {
                tracing::warn!(
                    max_open_files = self.config.max_open_files,
                    "file: too many open files; others wait until some close (close_older)"
                );
                self.warned_max_open = true;
            }
            return Ok(Some(Turn::Idle));
        }
        match LineReader::open(&w.path, w.position, w.gzip, &self.config.read) {
            Ok((reader, meta)) if FileId::of(&meta) == w.file.id => {
                w.reader = Some(reader);
                self.open += 1;
                Ok(None)
            }
            // The path changed hands between the two looks.
            Ok(_) => {
                self.rediscover = true;
                Ok(Some(Turn::Idle))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.rediscover = true;
                Ok(Some(Turn::Idle))
            }
            Err(e) => {
                w.warn("open it", &e);
                if self.config.mode == Mode::Read {
                    w.phase = Phase::Completed;
                }
                Ok(Some(Turn::Idle))
            }
        }
    }

    /// Notices truncation (read again from 0) and deletion of an open plain file.
    fn check_shrink<S: TailSink>(
        &mut self,
        w: &mut Watched,
        sink: &mut S,
    ) -> Result<(), InputError> {
        let Some(reader) = w.reader.as_ref().filter(|r| !r.is_gzip()) else {
            return Ok(());
        };
        match reader.metadata() {
            Ok(meta) => {
                w.deleted = meta.nlink() == 0;
                if meta.len() < reader.offset() {
                    self.restart(w, sink)?;
                }
            }
            Err(e) => w.warn("read its metadata", &e),
        }
        Ok(())
    }

    /// The file was truncated: flush what is held for the old content, start a new
    /// generation at 0.
    fn restart<S: TailSink>(&mut self, w: &mut Watched, sink: &mut S) -> Result<(), InputError> {
        tracing::info!(path = %w.path.display(), "file: truncated; reading it again from the start");
        sink.close(&w.file, w.position)?;
        w.position = 0;
        w.file.generation = self.checkpoints.start(w.file.id, &w.file.path, 0);
        if let Some(reader) = w.reader.as_mut() {
            if let Err(e) = reader.rewind() {
                w.warn("rewind it", &e);
                w.reader = None;
                self.open = self.open.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn read_failed(&mut self, w: &mut Watched, error: &std::io::Error) -> Result<Turn, InputError> {
        w.warn("read it", error);
        w.reader = None;
        self.open = self.open.saturating_sub(1);
        if self.config.mode == Mode::Read {
            // A corrupt gzip or an unreadable file is not completed (not deleted), only skipped.
            w.phase = Phase::Completed;
        }
        Ok(Turn::Idle)
    }

    /// `read` mode at the end of a file: its last line even without a delimiter, then wait
    /// for delivery before completing it.
    fn finish_read<S: TailSink>(
        &mut self,
        w: &mut Watched,
        sink: &mut S,
    ) -> Result<Turn, InputError> {
        let Some(mut reader) = w.reader.take() else {
            return Ok(Turn::Idle);
        };
        self.open = self.open.saturating_sub(1);
        if let Some(mut line) = reader.finish() {
            if w.gzip {
                line.end = 0;
            }
            sink.line(&w.file, line)?;
        }
        let end = if w.gzip {
            reader.metadata().map_or(0, |m| m.len())
        } else {
            reader.position()
        };
        sink.close(&w.file, end)?;
        w.position = end;
        w.phase = Phase::Done { end };
        Ok(Turn::Idle)
    }

    /// `tail` mode at the end of the data for now.
    fn at_end<S: TailSink>(&mut self, w: &mut Watched, sink: &mut S) -> Result<Turn, InputError> {
        if w.at_path && !w.deleted && !self.still_at_path(w) {
            // Renamed or replaced: discovery says whether another glob still matches it.
            self.rediscover = true;
        }
        if w.deleted || !w.at_path {
            // Writers may still append to a file just rotated: allow one quiet interval.
            let since = *w.drained_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.config.stat_interval {
                sink.close(&w.file, w.position)?;
                return Ok(Turn::Gone);
            }
            return Ok(Turn::Idle);
        }
        if self
            .config
            .close_older
            .is_some_and(|limit| w.last_data.elapsed() >= limit)
        {
            sink.close(&w.file, w.position)?;
            w.reader = None;
            self.open = self.open.saturating_sub(1);
        }
        Ok(Turn::Idle)
    }

    fn still_at_path(&self, w: &Watched) -> bool {
        fs::metadata(&w.path).is_ok_and(|meta| FileId::of(&meta) == w.file.id)
    }

    /// `read` mode: runs `file_completed_action` on files whose lines are all delivered.
    fn complete_read_files(&mut self) {
        if self.config.mode != Mode::Read {
            return;
        }
        let mut deleted = Vec::new();
        for w in self.files.values_mut() {
            let Phase::Done { end } = w.phase else {
                continue;
            };
            if self
                .checkpoints
                .position(&w.file.id)
                .is_none_or(|p| p < end)
            {
                continue;
            }
            w.phase = Phase::Completed;
            if let Some(log) = &self.config.completion.log {
                if let Err(e) = append_line(log, &w.file.path) {
                    tracing::warn!(log = %log.display(), error = %e, "file: cannot log a completed file");
                }
            }
            if self.config.completion.delete {
                match fs::remove_file(&w.path) {
                    Ok(()) => deleted.push(w.file.id),
                    Err(e) => w.warn("delete it", &e),
                }
            }
        }
        for id in deleted {
            self.files.remove(&id);
            self.checkpoints.forget(&id);
        }
    }

    fn read_finished(&self) -> bool {
        self.config.mode == Mode::Read
            && self.config.exit_after_read
            && self.discovered_once
            && self.files.values().all(|w| w.phase == Phase::Completed)
    }

    /// At shutdown: every file still being read releases what the sink holds for it.
    fn close_all<S: TailSink>(&mut self, sink: &mut S) -> Result<(), InputError> {
        for id in &self.order {
            if let Some(w) = self.files.get(id).filter(|w| w.phase == Phase::Reading) {
                sink.close(&w.file, w.position)?;
            }
        }
        Ok(())
    }
}

/// Appends `line` and a newline to `path` (created if needed).
fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    file.write_all(text.as_bytes())
}

/// Sleeps `duration`, waking early when shutdown is requested.
fn sleep(duration: Duration, shutdown: &Shutdown) {
    const SLICE: Duration = Duration::from_millis(20);
    let Some(deadline) = Instant::now().checked_add(duration) else {
        return;
    };
    while !shutdown.is_requested() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(SLICE));
    }
}
