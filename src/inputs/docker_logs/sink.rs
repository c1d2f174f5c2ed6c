//! [`DockerSink`]: the [`TailSink`] that turns json-file lines into events.
//!
//! State is kept per container (the folder holding `<id>-json.log` and its rotated `.1`), and
//! in it per output stream (stdout, stderr): the codec's decoder and the pieces of a line
//! Docker split at 16 KiB. Keeping them per container rather than per file lets a line (or a
//! multiline event) that straddles a rotation come out whole.
//!
//! Checkpoints: every event goes into a batch of the file its last line came from, with a
//! token for the offset where reading may resume without losing anything not yet in an event
//! (`FileState::safe_end`): the end of the last line read, or the start of the first piece of a
//! split line still being gathered. When pieces from two files (a rotation) make one line, the
//! earlier file's position stays before its pieces until the later file's position has passed
//! the line's end (`Wait`), so a restart never loses the head of a line.
//!
//! A container whose `config.v2.json` cannot be read (not written yet, half written) holds its
//! events (`ConfigState::Waiting`) and retries each round; after `config_wait` (or once it holds
//! [`MAX_HELD`] events) they go out with only `[container][id]` (the folder's name), tagged
//! [`CONFIG_MISSING_TAG`], and so do later lines until a read succeeds. A loaded configuration
//! is read again when the file changes (checked every `refresh_every`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::codecs::{Codec, Decoder};
use crate::event::{Event, Text, Timestamp, Value};
use crate::inputs::file::checkpoint::Checkpoints;
use crate::inputs::file::reader::{Line, MAX_LINE_BYTES};
use crate::inputs::file::sincedb::FileId;
use crate::inputs::file::sink::Outbox;
use crate::inputs::file::tailing::HostField;
use crate::inputs::file::watch::{FileRef, TailSink};
use crate::inputs::{InputContext, InputError};

use super::container::{self, attrs_values, ContainerInfo, FieldSpec, Signature};
use super::jsonfile::{Entry, LineParser, StreamName};

/// The tag of an event made from a line that is not json-file JSON (its raw text).
pub const PARSE_FAILURE_TAG: &str = "_dockerlogparsefailure";
/// The tag of events sent without the container's configuration.
pub const CONFIG_MISSING_TAG: &str = "_dockerconfigmissing";
/// The tag of a split line whose last piece did not come within `partial_timeout`.
pub const PARTIAL_INCOMPLETE_TAG: &str = "_partial_incomplete";
/// The tag of a split line that grew past [`MAX_LINE_BYTES`] (sent as it is so far).
pub const PARTIAL_TOO_LONG_TAG: &str = "_partial_too_long";
/// The tag of an event whose `time` is not RFC 3339 (it gets the time it was read).
pub const TIME_FAILURE_TAG: &str = "_timestampparsefailure";

/// Events one container may hold while its configuration is awaited.
pub const MAX_HELD: usize = 20_000;

const STREAM: Text = Text::from_static("stream");
const CONTAINER: Text = Text::from_static("container");
const STDOUT: Text = Text::from_static("stdout");
const STDERR: Text = Text::from_static("stderr");

/// How the sink behaves (from the input's options).
pub struct Settings {
    pub spec: FieldSpec,
    /// How long events wait for an unreadable configuration.
    pub config_wait: Duration,
    /// How long the pieces of a split line wait for the last one.
    pub partial_timeout: Duration,
    pub join_partials: bool,
    /// How often a loaded configuration is checked for changes, and idle containers dropped.
    pub refresh_every: Duration,
    pub host: HostField,
}

/// A `Vec` whose indices stay valid while other entries come and go.
struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    fn new() -> Slab<T> {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, item: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<T> {
        let item = self.items.get_mut(i)?.take();
        if item.is_some() {
            self.free.push(i);
        }
        item
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)?.as_ref()
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)?.as_mut()
    }

    fn indices(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].is_some())
            .collect()
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().flatten()
    }
}

/// One log file of a container.
struct FileState {
    id: FileId,
    generation: u64,
    container: usize,
    /// The offset after the last line read.
    last_end: u64,
    /// Per stream: where this file's pieces of the line being gathered start.
    pending: [Option<u64>; 2],
    /// Pieces of this file in lines completed in another file not yet known delivered.
    waits: Vec<Wait>,
    /// Closed by the watcher at this offset; kept only until nothing waits on it.
    closed: Option<u64>,
}

impl FileState {
    /// Where reading could resume without losing what no event holds yet.
    fn safe_end(&self) -> u64 {
        let pending = self.pending.iter().flatten().copied();
        let waits = self.waits.iter().map(|w| w.start);
        pending.chain(waits).fold(self.last_end, u64::min)
    }

    fn settled(&self) -> bool {
        self.pending.iter().all(Option::is_none) && self.waits.is_empty()
    }
}

/// Pieces starting at `start` joined into a line of file `on`, delivered once `on`'s position
/// passes `past`.
struct Wait {
    start: u64,
    on: FileId,
    past: u64,
}

enum ConfigState {
    Loaded(Arc<ContainerInfo>),
    /// Unreadable since then: events are held.
    Waiting {
        since: Instant,
    },
    /// Unreadable for too long: events go out with the id only, tagged.
    GaveUp(Arc<ContainerInfo>),
}

/// An event held until the container's configuration is read.
struct Held {
    file: FileId,
    generation: u64,
    end: u64,
    bare: bool,
    additions: Additions,
    event: Event,
}

/// What a line adds to its events besides the container's fields.
#[derive(Clone, Default)]
struct Additions {
    /// `stream`.
    name: Option<Text>,
    tags: [Option<&'static str>; 2],
    /// The line's `attrs`, for wanted names the configuration lacks.
    attrs: Option<Bytes>,
}

/// One output stream of a container.
struct StreamState {
    decoder: Box<dyn Decoder>,
    partial: Option<Partial>,
    /// The `stream` value last seen.
    name: Option<Text>,
    /// The file of the last line decoded (whose batch a flush goes to).
    last_file: Option<usize>,
    last_data: Instant,
    /// Lines were decoded since the last flush (the decoder may hold some).
    held: bool,
    /// Lines were decoded since the last pause.
    fresh: bool,
}

/// The pieces of a line split by Docker, so far.
struct Partial {
    text: BytesMut,
    /// The first piece's `time`.
    time: Option<Option<Timestamp>>,
    /// Each file holding pieces, with where its first piece starts.
    pieces: Vec<(usize, u64)>,
    since: Instant,
}

struct Container {
    dir: PathBuf,
    /// The folder's name: the container id.
    dir_id: String,
    state: ConfigState,
    signature: Option<Signature>,
    checked: Instant,
    warned: bool,
    held: Vec<Held>,
    streams: [StreamState; 2],
    /// Files of this container being tracked.
    files: usize,
}

impl Container {
    fn info(&self) -> Option<(&Arc<ContainerInfo>, bool)> {
        match &self.state {
            ConfigState::Loaded(info) => Some((info, false)),
            ConfigState::GaveUp(info) => Some((info, true)),
            ConfigState::Waiting { .. } => None,
        }
    }

    /// Nothing is held for it: it can be forgotten once it has no files.
    fn idle(&self) -> bool {
        self.held.is_empty() && self.streams.iter().all(|s| s.partial.is_none() && !s.held)
    }
}

/// Which stream slot a line's `stream` uses.
fn slot_of(stream: StreamName) -> usize {
    usize::from(stream == StreamName::Stderr)
}

/// Turns json-file lines into events; see the module docs.
pub struct DockerSink<'a> {
    ctx: &'a InputContext,
    codec: &'a dyn Codec,
    settings: &'a Settings,
    out: Outbox<'a>,
    parser: LineParser,
    /// The codec's `idle_flush` (multiline's `auto_flush_interval`).
    idle: Option<Duration>,
    files: Slab<FileState>,
    file_index: HashMap<FileId, usize>,
    /// The last file looked up, which the next line most likely comes from.
    last: Option<(FileId, usize)>,
    containers: Slab<Container>,
    container_index: HashMap<PathBuf, usize>,
    last_sweep: Instant,
}

impl<'a> DockerSink<'a> {
    pub fn new(
        ctx: &'a InputContext,
        codec: &'a dyn Codec,
        settings: &'a Settings,
        checkpoints: Arc<Checkpoints>,
    ) -> DockerSink<'a> {
        DockerSink {
            ctx,
            codec,
            settings,
            out: Outbox::new(ctx, checkpoints),
            parser: LineParser::new(),
            idle: codec.decoder().idle_flush(),
            files: Slab::new(),
            file_index: HashMap::new(),
            last: None,
            containers: Slab::new(),
            container_index: HashMap::new(),
            last_sweep: Instant::now(),
        }
    }

    /// After the watcher has stopped: events still waiting for a configuration go out (with it
    /// if it can be read now). Pieces of split lines are dropped: the sincedb position of their
    /// files stays before them, so the next run reads them again.
    pub fn finish(&mut self) -> Result<(), InputError> {
        for ci in self.containers.indices() {
            let waiting = self
                .containers
                .get(ci)
                .is_some_and(|c| matches!(c.state, ConfigState::Waiting { .. }));
            if waiting {
                self.retry_config(ci, true)?;
            }
        }
        self.out.send()
    }

    /// The index of `file`'s state, made on first sight.
    fn file_index(&mut self, file: &FileRef) -> usize {
        if let Some((id, fi)) = self.last {
            if id == file.id
                && self
                    .files
                    .get(fi)
                    .is_some_and(|f| f.generation == file.generation)
            {
                return fi;
            }
        }
        let fi = match self.file_index.get(&file.id) {
            Some(&fi) => {
                if let Some(f) = self.files.get_mut(fi) {
                    f.closed = None;
                    if f.generation != file.generation {
                        // Read again from 0 (truncated): what was known of it is void.
                        f.generation = file.generation;
                        f.pending = [None, None];
                        f.waits.clear();
                        f.last_end = 0;
                    }
                }
                fi
            }
            None => self.register(file),
        };
        self.last = Some((file.id, fi));
        fi
    }

    fn register(&mut self, file: &FileRef) -> usize {
        let path = Path::new(file.path.as_str());
        let dir = path.parent().unwrap_or(Path::new("/"));
        let ci = self.container_for(dir);
        if let Some(c) = self.containers.get_mut(ci) {
            c.files += 1;
        }
        let fi = self.files.insert(FileState {
            id: file.id,
            generation: file.generation,
            container: ci,
            last_end: 0,
            pending: [None, None],
            waits: Vec::new(),
            closed: None,
        });
        self.file_index.insert(file.id, fi);
        fi
    }

    fn container_for(&mut self, dir: &Path) -> usize {
        if let Some(&ci) = self.container_index.get(dir) {
            return ci;
        }
        let dir_id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let now = Instant::now();
        let stream = || StreamState {
            decoder: self.codec.decoder(),
            partial: None,
            name: None,
            last_file: None,
            last_data: now,
            held: false,
            fresh: false,
        };
        let mut c = Container {
            dir: dir.to_path_buf(),
            dir_id,
            state: ConfigState::Waiting { since: now },
            signature: None,
            checked: now,
            warned: false,
            held: Vec::new(),
            streams: [stream(), stream()],
            files: 0,
        };
        load_into(&mut c, &self.settings.spec);
        let ci = self.containers.insert(c);
        self.container_index.insert(dir.to_path_buf(), ci);
        ci
    }

    fn entry(&mut self, fi: usize, e: Entry, start: u64, end: u64) -> Result<(), InputError> {
        let Some(ci) = self.files.get(fi).map(|f| f.container) else {
            return Ok(());
        };
        let slot = slot_of(e.stream);
        let name = match e.stream {
            StreamName::Stdout => Some(STDOUT),
            StreamName::Stderr => Some(STDERR),
            StreamName::Other => e.other_stream.map(Text::from_string),
            StreamName::Missing => None,
        };
        let Some(c) = self.containers.get_mut(ci) else {
            return Ok(());
        };
        let stream = &mut c.streams[slot];
        stream.name = name;
        if !self.settings.join_partials {
            return self.decode(fi, slot, e.message, e.time, e.attrs, None);
        }
        if !e.complete {
            let partial = stream.partial.get_or_insert_with(|| Partial {
                text: BytesMut::new(),
                time: e.time,
                pieces: Vec::with_capacity(1),
                since: Instant::now(),
            });
            partial.text.extend_from_slice(&e.message);
            if !partial.pieces.iter().any(|&(f, _)| f == fi) {
                partial.pieces.push((fi, start));
                if let Some(f) = self.files.get_mut(fi) {
                    f.pending[slot] = Some(start);
                }
            }
            if partial.text.len() > MAX_LINE_BYTES {
                return self.release_partial(ci, slot, PARTIAL_TOO_LONG_TAG);
            }
            return Ok(());
        }
        match stream.partial.take() {
            Some(partial) => {
                let mut text = partial.text;
                text.extend_from_slice(&e.message);
                self.settle_pieces(&partial.pieces, slot, fi, end);
                self.decode(fi, slot, text.freeze(), partial.time, e.attrs, None)
            }
            None => self.decode(fi, slot, e.message, e.time, e.attrs, None),
        }
    }

    /// The pieces of a line are in an event of file `into` now, ending at `past`.
    fn settle_pieces(&mut self, pieces: &[(usize, u64)], slot: usize, into: usize, past: u64) {
        let Some(on) = self.files.get(into).map(|f| f.id) else {
            return;
        };
        for &(pfi, start) in pieces {
            if let Some(f) = self.files.get_mut(pfi) {
                f.pending[slot] = None;
                if pfi != into {
                    f.waits.push(Wait { start, on, past });
                }
            }
        }
    }

    /// Sends a split line as gathered so far, tagged, in the batch of its last piece's file.
    fn release_partial(
        &mut self,
        ci: usize,
        slot: usize,
        tag: &'static str,
    ) -> Result<(), InputError> {
        let Some(partial) = self
            .containers
            .get_mut(ci)
            .and_then(|c| c.streams[slot].partial.take())
        else {
            return Ok(());
        };
        let Some(&(last, _)) = partial.pieces.last() else {
            return Ok(());
        };
        let past = self.files.get(last).map_or(0, |f| f.last_end);
        self.settle_pieces(&partial.pieces, slot, last, past);
        let Some((id, generation)) = self.files.get(last).map(|f| (f.id, f.generation)) else {
            return Ok(());
        };
        self.out.own(id, generation)?;
        self.decode(
            last,
            slot,
            partial.text.freeze(),
            partial.time,
            None,
            Some(tag),
        )?;
        if let Some(f) = self.files.get(last) {
            self.out.end = f.safe_end();
        }
        Ok(())
    }

    /// Runs one line's text through the stream's decoder (the batch is `fi`'s already).
    fn decode(
        &mut self,
        fi: usize,
        slot: usize,
        message: Bytes,
        time: Option<Option<Timestamp>>,
        attrs: Option<Bytes>,
        tag: Option<&'static str>,
    ) -> Result<(), InputError> {
        let Some(ci) = self.files.get(fi).map(|f| f.container) else {
            return Ok(());
        };
        let Some(c) = self.containers.get_mut(ci) else {
            return Ok(());
        };
        let stream = &mut c.streams[slot];
        let ts = match time {
            Some(Some(ts)) => ts,
            _ => self.ctx.now(),
        };
        let begin = self.out.batch.len();
        stream.decoder.decode(message, ts, &mut self.out.batch);
        stream.last_file = Some(fi);
        stream.held = true;
        stream.fresh = true;
        let additions = Additions {
            name: stream.name.clone(),
            tags: [tag, matches!(time, Some(None)).then_some(TIME_FAILURE_TAG)],
            attrs,
        };
        self.finish_events(fi, begin, additions);
        Ok(())
    }

    /// A line that is not json-file JSON: its raw text, tagged.
    fn unparsed(&mut self, fi: usize, raw: Bytes) {
        let text = Text::from_utf8(raw.clone())
            .unwrap_or_else(|_| Text::from_string(String::from_utf8_lossy(&raw).into_owned()));
        let begin = self.out.batch.len();
        self.out
            .batch
            .push(Event::from_message(text, self.ctx.now()));
        let additions = Additions {
            tags: [Some(PARSE_FAILURE_TAG), None],
            ..Additions::default()
        };
        self.finish_events(fi, begin, additions);
    }

    /// Completes the events from `begin` on: `stream`, the container's fields, `host`, tags,
    /// then the shared options; or, while the container's configuration is awaited, moves
    /// them to its held list, to be completed once it is read.
    fn finish_events(&mut self, fi: usize, begin: usize, additions: Additions) {
        if self.out.batch.len() == begin {
            return;
        }
        let Some(f) = self.files.get(fi) else {
            return;
        };
        let Some(c) = self.containers.get_mut(f.container) else {
            return;
        };
        match c.info() {
            Some((info, gave_up)) => {
                let events = &mut self.out.batch[begin..];
                for event in events.iter_mut() {
                    let bare = is_bare(event);
                    complete(event, bare, &additions, info, gave_up, &self.settings.host);
                }
                self.ctx.decorate(events);
            }
            None => {
                let end = f.safe_end();
                c.held
                    .extend(self.out.batch.drain(begin..).map(|event| Held {
                        file: f.id,
                        generation: f.generation,
                        end,
                        bare: is_bare(&event),
                        additions: additions.clone(),
                        event,
                    }));
            }
        }
    }

    /// Flushes a stream's decoder into the batch of the file it last read.
    fn flush_stream(&mut self, ci: usize, slot: usize) -> Result<(), InputError> {
        let Some(stream) = self.containers.get_mut(ci).map(|c| &mut c.streams[slot]) else {
            return Ok(());
        };
        let Some(fi) = stream.last_file else {
            return Ok(());
        };
        stream.held = false;
        let Some((id, generation)) = self.files.get(fi).map(|f| (f.id, f.generation)) else {
            return Ok(());
        };
        self.out.own(id, generation)?;
        let Some(stream) = self.containers.get_mut(ci).map(|c| &mut c.streams[slot]) else {
            return Ok(());
        };
        let begin = self.out.batch.len();
        stream.decoder.flush(self.ctx.now(), &mut self.out.batch);
        let additions = Additions {
            name: stream.name.clone(),
            ..Additions::default()
        };
        self.finish_events(fi, begin, additions);
        if let Some(f) = self.files.get(fi) {
            self.out.end = f.safe_end();
        }
        self.out.send_if_full()
    }

    /// Tries to read a waiting container's configuration; sends its held events once it is
    /// read, or, when `give_up` or its wait is over, without it.
    fn retry_config(&mut self, ci: usize, give_up: bool) -> Result<(), InputError> {
        let Some(c) = self.containers.get_mut(ci) else {
            return Ok(());
        };
        let ConfigState::Waiting { since } = c.state else {
            return Ok(());
        };
        load_into(c, &self.settings.spec);
        if matches!(c.state, ConfigState::Waiting { .. })
            && (give_up || since.elapsed() >= self.settings.config_wait || c.held.len() >= MAX_HELD)
        {
            tracing::warn!(
                container = %c.dir.display(),
                "docker_logs: no readable {}; sending its lines without container fields, tagged {CONFIG_MISSING_TAG}",
                container::CONFIG_FILE
            );
            c.state = ConfigState::GaveUp(Arc::new(ContainerInfo::id_only(&c.dir_id)));
        }
        self.release_held(ci)
    }

    /// Sends a container's held events, if it has a configuration state that allows it.
    fn release_held(&mut self, ci: usize) -> Result<(), InputError> {
        let Some(c) = self.containers.get_mut(ci) else {
            return Ok(());
        };
        let Some((info, gave_up)) = c.info().map(|(i, g)| (i.clone(), g)) else {
            return Ok(());
        };
        let held = std::mem::take(&mut c.held);
        for mut h in held {
            self.out.own(h.file, h.generation)?;
            let host = &self.settings.host;
            complete(&mut h.event, h.bare, &h.additions, &info, gave_up, host);
            self.ctx.decorate(std::slice::from_mut(&mut h.event));
            self.out.batch.push(h.event);
            self.out.end = h.end;
            self.out.send_if_full()?;
        }
        self.retire_closed();
        Ok(())
    }

    /// Reads again the configurations that changed (every `refresh_every`).
    fn refresh_configs(&mut self) {
        let every = self.settings.refresh_every;
        for ci in self.containers.indices() {
            let Some(c) = self.containers.get_mut(ci) else {
                continue;
            };
            if matches!(c.state, ConfigState::Waiting { .. }) || c.checked.elapsed() < every {
                continue;
            }
            c.checked = Instant::now();
            let now = Signature::of(&c.dir).ok();
            if now.is_some() && now != c.signature {
                load_into(c, &self.settings.spec);
            }
        }
    }

    fn expire_partials(&mut self) -> Result<(), InputError> {
        let timeout = self.settings.partial_timeout;
        for ci in self.containers.indices() {
            for slot in 0..2 {
                let expired = self.containers.get(ci).is_some_and(|c| {
                    c.streams[slot]
                        .partial
                        .as_ref()
                        .is_some_and(|p| p.since.elapsed() >= timeout)
                });
                if expired {
                    self.release_partial(ci, slot, PARTIAL_INCOMPLETE_TAG)?;
                }
            }
        }
        Ok(())
    }

    fn flush_idle_streams(&mut self) -> Result<(), InputError> {
        let Some(idle) = self.idle else {
            return Ok(());
        };
        for ci in self.containers.indices() {
            for slot in 0..2 {
                let quiet = self.containers.get(ci).is_some_and(|c| {
                    let s = &c.streams[slot];
                    s.held && !s.fresh && s.last_data.elapsed() >= idle
                });
                if quiet {
                    self.flush_stream(ci, slot)?;
                }
            }
        }
        Ok(())
    }

    /// Resolves the waits whose line is known delivered.
    fn settle_waits(&mut self) {
        let checkpoints = self.out.checkpoints().clone();
        for fi in self.files.indices() {
            if let Some(f) = self.files.get_mut(fi) {
                f.waits
                    .retain(|w| checkpoints.position(&w.on).is_some_and(|p| p < w.past));
            }
        }
    }

    /// Drops closed files nothing waits on any more (their position moves to where they were
    /// closed), and containers with no files and nothing held.
    fn retire_closed(&mut self) {
        for fi in self.files.indices() {
            let Some(f) = self.files.get(fi) else {
                continue;
            };
            let Some(end) = f.closed else {
                continue;
            };
            let waiting = self
                .containers
                .get(f.container)
                .is_some_and(|c| c.info().is_none());
            if !f.settled() || waiting || self.out.holds(&f.id) {
                continue;
            }
            self.out.checkpoints().advance(f.id, f.generation, end);
            self.forget_file(fi);
        }
    }

    fn forget_file(&mut self, fi: usize) {
        let Some(f) = self.files.remove(fi) else {
            return;
        };
        self.file_index.remove(&f.id);
        if self.last.is_some_and(|(_, i)| i == fi) {
            self.last = None;
        }
        if let Some(c) = self.containers.get_mut(f.container) {
            c.files = c.files.saturating_sub(1);
            for s in &mut c.streams {
                if s.last_file == Some(fi) {
                    s.last_file = None;
                }
            }
        }
    }

    fn drop_idle_containers(&mut self) {
        for ci in self.containers.indices() {
            let unused = self
                .containers
                .get(ci)
                .is_some_and(|c| c.files == 0 && c.idle());
            if unused {
                if let Some(c) = self.containers.remove(ci) {
                    self.container_index.remove(&c.dir);
                }
            }
        }
    }
}

/// Reads `c`'s configuration; on success it becomes `Loaded`, otherwise it keeps its state
/// (a configuration read before stays in use; a failure to read it again is logged once).
fn load_into(c: &mut Container, spec: &FieldSpec) {
    match container::load(&c.dir, &c.dir_id, spec) {
        Ok((info, signature)) => {
            c.state = ConfigState::Loaded(Arc::new(info));
            c.signature = Some(signature);
            c.warned = false;
        }
        Err(e) => {
            if matches!(c.state, ConfigState::Loaded(_)) && !c.warned {
                tracing::warn!(container = %c.dir.display(), error = %e, "docker_logs: cannot read the container's configuration again; keeping the one read before");
                c.warned = true;
            }
        }
    }
    c.checked = Instant::now();
}

/// Whether the event holds only what a plain decoder makes (`@timestamp`, `@version`,
/// `message`): then none of the fields this input adds is there yet.
fn is_bare(event: &Event) -> bool {
    let fields = event.fields();
    fields.len() == 3
        && fields
            .keys()
            .all(|k| matches!(k.as_str(), "@timestamp" | "@version" | "message"))
}

/// Adds `stream`, `container`, the environment and label fields and `host`, each unless the
/// event has it already (a bare event, see [`is_bare`], is known to have none), then tags.
fn complete(
    event: &mut Event,
    bare: bool,
    additions: &Additions,
    info: &ContainerInfo,
    gave_up: bool,
    host: &HostField,
) {
    let known_absent = bare && info.distinct;
    let fields = event.fields_mut();
    let mut put = |key: &Text, value: &Value| {
        if known_absent || !fields.contains_key(key) {
            fields.push_new(key.clone(), value.clone());
        }
    };
    if let Some(name) = &additions.name {
        put(&STREAM, &Value::Str(name.clone()));
    }
    put(&CONTAINER, &info.container);
    for (name, value) in &info.extra {
        put(name, value);
    }
    if known_absent {
        host.push_new(event.fields_mut());
    } else {
        host.apply(event);
    }
    let missing = &info.missing;
    if let Some(attrs) = additions
        .attrs
        .as_deref()
        .filter(|a| mentions_any(a, missing))
    {
        let fields = event.fields_mut();
        for (name, value) in attrs_values(attrs, missing) {
            if !fields.contains_key(&name) {
                fields.push_new(name, value);
            }
        }
    }
    for tag in additions.tags.iter().flatten() {
        event.add_tag(Text::from_static(tag));
    }
    if gave_up {
        event.add_tag(Text::from_static(CONFIG_MISSING_TAG));
    }
}

/// Whether `attrs` may hold one of `names` (a cheap check before parsing it).
fn mentions_any(attrs: &[u8], names: &[Text]) -> bool {
    names
        .iter()
        .any(|n| memchr::memmem::find(attrs, n.as_bytes()).is_some())
}

impl TailSink for DockerSink<'_> {
    fn line(&mut self, file: &FileRef, line: Line) -> Result<(), InputError> {
        let fi = self.file_index(file);
        self.out.own(file.id, file.generation)?;
        let delimiter = u64::from(!line.split);
        let start = line.end.saturating_sub(line.bytes.len() as u64 + delimiter);
        if let Some(f) = self.files.get_mut(fi) {
            f.last_end = line.end;
        }
        match self.parser.parse(&line.bytes) {
            Some(entry) => self.entry(fi, entry, start, line.end)?,
            None => self.unparsed(fi, line.bytes),
        }
        if let Some(f) = self.files.get(fi) {
            self.out.end = f.safe_end();
        }
        self.out.send_if_full()
    }

    fn pause(&mut self, file: &FileRef) -> Result<(), InputError> {
        if let Some(ci) = self
            .file_index
            .get(&file.id)
            .and_then(|&fi| self.files.get(fi))
            .map(|f| f.container)
        {
            if let Some(c) = self.containers.get_mut(ci) {
                let now = Instant::now();
                for s in c.streams.iter_mut().filter(|s| s.fresh) {
                    s.last_data = now;
                    s.fresh = false;
                }
            }
        }
        self.out.send()
    }

    fn close(&mut self, file: &FileRef, end: u64) -> Result<(), InputError> {
        let Some(&fi) = self.file_index.get(&file.id) else {
            return Ok(());
        };
        let Some(ci) = self.files.get(fi).map(|f| f.container) else {
            return Ok(());
        };
        for slot in 0..2 {
            let last_here = self.containers.get(ci).is_some_and(|c| {
                let s = &c.streams[slot];
                s.last_file == Some(fi) && s.held
            });
            if last_here {
                self.flush_stream(ci, slot)?;
            }
        }
        self.out.send()?;
        if let Some(f) = self.files.get_mut(fi) {
            f.closed = Some(end.max(f.last_end));
        }
        self.retire_closed();
        Ok(())
    }

    /// The nearest of the deadlines [`TailSink::tick`] acts on: a configuration's wait, a
    /// split line's `partial_timeout`, a quiet stream's idle flush.
    fn tick_within(&self) -> Option<Duration> {
        let settings = self.settings;
        let left = |limit: Duration, since: Instant| limit.saturating_sub(since.elapsed());
        let mut due: Option<Duration> = None;
        let mut add = |d: Duration| due = Some(due.map_or(d, |due| due.min(d)));
        for c in self.containers.iter() {
            if let ConfigState::Waiting { since } = c.state {
                add(left(settings.config_wait, since));
            }
            for s in &c.streams {
                if let Some(p) = &s.partial {
                    add(left(settings.partial_timeout, p.since));
                }
                // As `flush_idle_streams` picks them (a stream with no file is never flushed).
                if let Some(idle) = self.idle {
                    if s.held && !s.fresh && s.last_file.is_some() {
                        add(left(idle, s.last_data));
                    }
                }
            }
        }
        due
    }

    fn tick(&mut self) -> Result<(), InputError> {
        self.out.send()?;
        for ci in self.containers.indices() {
            self.retry_config(ci, false)?;
        }
        self.expire_partials()?;
        self.flush_idle_streams()?;
        self.out.send()?;
        if self.last_sweep.elapsed() >= self.settings.refresh_every {
            self.last_sweep = Instant::now();
            self.refresh_configs();
            self.settle_waits();
            self.retire_closed();
            self.drop_idle_containers();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::plain::Plain;
    use crate::config::options::EcsCompatibility;
    use crate::event::Batch;
    use crate::inputs::file::sincedb::Sincedb;

    /// A sink over two files of one container, driven by hand.
    struct Rig {
        _dir: tempfile::TempDir,
        rx: async_channel::Receiver<Batch>,
        ctx: InputContext,
        codec: Plain,
        settings: Settings,
        checkpoints: Arc<Checkpoints>,
        files: [FileRef; 2],
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let container = dir.path().join("c1");
        std::fs::create_dir(&container).unwrap();
        std::fs::write(
            container.join(container::CONFIG_FILE),
            r#"{"ID":"c1","Name":"/one"}"#,
        )
        .unwrap();
        let (tx, rx) = async_channel::bounded(16);
        let checkpoints = Checkpoints::new(Sincedb::in_memory(), None);
        let files = [1, 2].map(|inode| {
            let id = FileId {
                inode,
                major: 0,
                minor: 1,
            };
            let path = container.join(format!("c1-json.log.{inode}"));
            let path = Text::new(&path.to_string_lossy());
            let generation = checkpoints.start(id, &path, 0);
            FileRef {
                id,
                path,
                generation,
            }
        });
        Rig {
            _dir: dir,
            rx,
            ctx: InputContext::new(tx),
            codec: Plain::default(),
            settings: Settings {
                spec: FieldSpec::default(),
                config_wait: Duration::from_secs(10),
                partial_timeout: Duration::from_secs(10),
                join_partials: true,
                refresh_every: Duration::ZERO,
                host: HostField::new(EcsCompatibility::Disabled),
            },
            checkpoints,
            files,
        }
    }

    /// Feeds `text` (json-file lines) as the lines of `file` starting at offset `at`;
    /// returns the offset after them.
    fn feed(sink: &mut DockerSink, file: &FileRef, mut at: u64, text: &str) -> u64 {
        for l in text.lines() {
            at += l.len() as u64 + 1;
            let line = Line {
                bytes: Bytes::copy_from_slice(l.as_bytes()),
                end: at,
                split: false,
            };
            sink.line(file, line).unwrap();
        }
        sink.pause(file).unwrap();
        at
    }

    const PIECE: &str = r#"{"log":"head-","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#;
    const REST: &str = r#"{"log":"tail\n","stream":"stdout","time":"2024-05-01T10:00:01Z"}"#;
    const OTHER: &str = r#"{"log":"err\n","stream":"stderr","time":"2024-05-01T10:00:02Z"}"#;

    fn messages(batch: &Batch) -> Vec<&str> {
        batch.events.iter().filter_map(Event::message).collect()
    }

    #[test]
    fn a_file_position_stays_before_a_line_still_being_gathered() {
        let r = rig();
        let mut sink = DockerSink::new(&r.ctx, &r.codec, &r.settings, r.checkpoints.clone());
        let a = &r.files[0];
        let after_piece = feed(&mut sink, a, 0, PIECE);
        let after_other = feed(&mut sink, a, after_piece, OTHER);
        let batch = r.rx.try_recv().unwrap();
        assert_eq!(messages(&batch), ["err"]);
        drop(batch);
        assert_eq!(
            r.checkpoints.position(&a.id),
            Some(0),
            "delivering the stderr line must not move past the stdout piece before it"
        );
        let end = feed(&mut sink, a, after_other, REST);
        let batch = r.rx.try_recv().unwrap();
        assert_eq!(messages(&batch), ["head-tail"]);
        assert_eq!(
            batch.events[0].timestamp(),
            Timestamp::parse_iso8601("2024-05-01T10:00:00Z")
        );
        drop(batch);
        assert_eq!(r.checkpoints.position(&a.id), Some(end));
    }

    #[test]
    fn pieces_joined_across_files_hold_the_first_file_until_delivery() {
        let r = rig();
        let mut sink = DockerSink::new(&r.ctx, &r.codec, &r.settings, r.checkpoints.clone());
        let (a, b) = (&r.files[0], &r.files[1]);
        let a_end = feed(&mut sink, a, 0, PIECE);
        let b_end = feed(&mut sink, b, 0, REST);
        sink.close(a, a_end).unwrap();
        let batch = r.rx.try_recv().unwrap();
        assert_eq!(messages(&batch), ["head-tail"]);
        sink.tick().unwrap();
        assert_eq!(r.checkpoints.position(&a.id), Some(0), "not delivered yet");
        drop(batch);
        assert_eq!(r.checkpoints.position(&b.id), Some(b_end));
        assert_eq!(
            r.checkpoints.position(&a.id),
            Some(0),
            "until the next sweep"
        );
        sink.tick().unwrap();
        assert_eq!(r.checkpoints.position(&a.id), Some(a_end));
        assert!(r.rx.try_recv().is_err(), "nothing else was sent");
    }
}
