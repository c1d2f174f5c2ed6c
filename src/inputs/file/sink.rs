//! Sinks that turn a [`Watcher`](super::watch::Watcher)'s lines into events.
//!
//! [`EventSink`] is the [`TailSink`] of inputs whose events are a codec's output over each
//! file's lines (`file`, `mesos_sandbox`): each file gets a decoder of its own (so a multiline
//! codec never mixes files), each line goes through it, and the events get what the input adds
//! ([`EventFields`], its hook), the `_line_too_long` tag for a piece of a line cut at
//! [`MAX_LINE_BYTES`](super::reader::MAX_LINE_BYTES), then the shared options. A codec that
//! holds lines back (multiline) is flushed when its file closes and after its `idle_flush`
//! (met exactly: see [`TailSink::tick_within`]).
//!
//! [`TailInput`] is such an input whole: a watcher driving an `EventSink` on a thread of its
//! own.
//!
//! [`Outbox`] is the batch being filled, shared with sinks of their own (`docker_logs`): it
//! holds one file's events and goes out with an acknowledgement token that moves the file's
//! sincedb position once it is delivered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codecs::{Codec, Decoder};
use crate::event::{Batch, Event, Text, Timestamp};
use crate::inputs::{Input, InputContext, InputError};

use super::checkpoint::Checkpoints;
use super::reader::Line;
use super::sincedb::FileId;
use super::tailing::{read_on_thread, Tailing};
use super::watch::{FileRef, TailSink};
use super::LINE_TOO_LONG_TAG;

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

    /// Sends the batch, if it holds anything, with a token for its owner up to `end`. An empty
    /// batch records no progress: its lines may be held by a decoder.
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

/// What an input adds to the events an [`EventSink`] makes of a file's lines.
pub trait EventFields {
    /// What is worked out once per file, when its first line is read (e.g. fields its path
    /// gives).
    type Source;

    fn source(&self, file: &FileRef) -> Self::Source;

    /// Completes one event of a file. `path` is where the file is found now (for events a
    /// codec held back: where it was when their last line was read).
    fn apply(&self, event: &mut Event, source: &Self::Source, path: &Text);
}

/// One file's decoder and what is known of its last lines.
struct Stream<S> {
    decoder: Box<dyn Decoder>,
    generation: u64,
    path: Text,
    source: S,
    /// The offset after the last line decoded.
    end: u64,
    last_data: Instant,
    /// Lines were decoded since the last flush (the decoder may be holding some).
    held: bool,
    /// Lines were decoded since the last pause (`last_data` is then refreshed).
    fresh: bool,
}

/// Turns a watcher's lines into events, batched per file with ack tokens; see the module docs.
pub struct EventSink<'a, F: EventFields> {
    ctx: &'a InputContext,
    codec: &'a dyn Codec,
    fields: &'a F,
    out: Outbox<'a>,
    /// The codec's `idle_flush` (multiline's `auto_flush_interval`).
    idle: Option<Duration>,
    /// Streams of files other than the current one.
    parked: HashMap<FileId, Stream<F::Source>>,
    /// The file whose lines are being read now, and its stream.
    current: Option<(FileId, Stream<F::Source>)>,
    /// The time new events get, read once per [`STAMP_EVERY`] lines of a turn (reading the
    /// clock per line showed in profiles; a turn's lines are read within microseconds).
    now: Timestamp,
    stamped: u32,
}

/// Lines that share one reading of the clock.
const STAMP_EVERY: u32 = 64;

impl<'a, F: EventFields> EventSink<'a, F> {
    pub fn new(
        ctx: &'a InputContext,
        codec: &'a dyn Codec,
        fields: &'a F,
        checkpoints: Arc<Checkpoints>,
    ) -> EventSink<'a, F> {
        EventSink {
            ctx,
            codec,
            fields,
            out: Outbox::new(ctx, checkpoints),
            idle: codec.decoder().idle_flush(),
            parked: HashMap::new(),
            current: None,
            now: ctx.now(),
            stamped: 0,
        }
    }

    /// Makes `file` the current one: another file's batch is sent, its stream parked.
    fn switch_to(&mut self, file: &FileRef) -> Result<(), InputError> {
        self.out.own(file.id, file.generation)?;
        if self
            .current
            .as_ref()
            .is_some_and(|(id, s)| *id == file.id && s.generation == file.generation)
        {
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
                source: self.fields.source(file),
                end: 0,
                last_data: Instant::now(),
                held: false,
                fresh: false,
            },
        };
        self.current = Some((file.id, stream));
        Ok(())
    }

    /// Flushes `stream`'s decoder into the batch (owned by its file), then sends it, or, with
    /// nothing to send, records the progress (nothing is held any more).
    fn flush_stream(
        &mut self,
        id: FileId,
        mut stream: Stream<F::Source>,
    ) -> Result<Stream<F::Source>, InputError> {
        self.out.send()?;
        self.out.own(id, stream.generation)?;
        self.out.end = stream.end;
        stream.decoder.flush(self.ctx.now(), &mut self.out.batch);
        stream.held = false;
        finish(
            self.ctx,
            self.fields,
            &mut self.out.batch,
            &stream.source,
            &stream.path,
            false,
        );
        if self.out.batch.is_empty() {
            self.out
                .checkpoints()
                .advance(id, stream.generation, stream.end);
        }
        self.out.send()?;
        Ok(stream)
    }
}

/// Completes fresh `events` of one file: the input's fields, the split tag, the shared options.
fn finish<F: EventFields>(
    ctx: &InputContext,
    fields: &F,
    events: &mut [Event],
    source: &F::Source,
    path: &Text,
    split: bool,
) {
    for event in events.iter_mut() {
        fields.apply(event, source, path);
        if split {
            event.add_tag(Text::from_static(LINE_TOO_LONG_TAG));
        }
    }
    ctx.decorate(events);
}

impl<F: EventFields> TailSink for EventSink<'_, F> {
    fn line(&mut self, file: &FileRef, line: Line) -> Result<(), InputError> {
        self.switch_to(file)?;
        let Some((_, stream)) = self.current.as_mut() else {
            return Ok(());
        };
        if self.stamped == 0 {
            self.now = self.ctx.now();
        }
        self.stamped = (self.stamped + 1) % STAMP_EVERY;
        let batch = &mut self.out.batch;
        let start = batch.len();
        stream.decoder.decode_line(line.bytes, self.now, batch);
        stream.held = true;
        stream.fresh = true;
        stream.end = line.end;
        if batch.len() > start {
            let events = &mut batch[start..];
            finish(
                self.ctx,
                self.fields,
                events,
                &stream.source,
                &file.path,
                line.split,
            );
        }
        self.out.end = line.end;
        self.out.send_if_full()
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
        self.out.send()
    }

    fn close(&mut self, file: &FileRef, end: u64) -> Result<(), InputError> {
        self.switch_to(file)?;
        if let Some((id, mut stream)) = self.current.take() {
            stream.end = end;
            // Dropped: a file that is read again later gets a fresh stream.
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
        self.out.send()?;
        let Some(idle) = self.idle else {
            return Ok(());
        };
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

/// An input that follows files with a [`Watcher`](super::watch::Watcher) and makes events of
/// their lines with an [`EventSink`] and the fields `F`.
pub struct TailInput<F> {
    /// The plugin's name.
    plugin: &'static str,
    /// The name of its reader thread.
    thread: &'static str,
    tailing: Tailing,
    codec: Arc<dyn Codec>,
    fields: F,
}

impl<F> TailInput<F> {
    pub fn new(
        plugin: &'static str,
        thread: &'static str,
        tailing: Tailing,
        codec: Arc<dyn Codec>,
        fields: F,
    ) -> TailInput<F> {
        TailInput {
            plugin,
            thread,
            tailing,
            codec,
            fields,
        }
    }
}

#[async_trait::async_trait]
impl<F: EventFields + Send + 'static> Input for TailInput<F> {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let (thread, plugin) = (self.thread, self.plugin);
        read_on_thread(thread, plugin, move || self.read(&ctx)).await
    }
}

impl<F: EventFields> TailInput<F> {
    /// Reads on this thread until shutdown (blocking while the queue is full).
    fn read(self, ctx: &InputContext) -> Result<(), InputError> {
        let mut watcher = self.tailing.watcher()?;
        let checkpoints = watcher.checkpoints().clone();
        let mut sink = EventSink::new(ctx, self.codec.as_ref(), &self.fields, checkpoints);
        watcher.run(&mut sink, ctx.shutdown())
    }
}
