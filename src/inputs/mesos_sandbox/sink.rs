//! [`MesosSink`]: the [`TailSink`] that turns sandbox lines into events: each file gets a
//! decoder of its own (so a multiline codec never mixes tasks or streams) and the fields its
//! path gives ([`RunFields`]), worked out once when the file is first read. Batches hold one
//! file's events and carry a token that moves its sincedb position once they are delivered.
//! A file's state goes when the watcher closes it (run finished and quiet, or removed).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codecs::{Codec, Decoder};
use crate::event::{Event, Text, Timestamp, Value};
use crate::inputs::docker_logs::tailing::{HostField, Outbox};
use crate::inputs::file::checkpoint::Checkpoints;
use crate::inputs::file::reader::Line;
use crate::inputs::file::sincedb::FileId;
use crate::inputs::file::watch::{FileRef, TailSink};
use crate::inputs::file::LINE_TOO_LONG_TAG;
use crate::inputs::{InputContext, InputError};

use super::layout::RunFields;

const MESOS_TASK_ID: Text = Text::from_static("MESOS_TASK_ID");
const MESOS: Text = Text::from_static("mesos");
const STREAM: Text = Text::from_static("stream");

/// Lines that share one reading of the clock (a turn's lines are read within microseconds).
const STAMP_EVERY: u32 = 64;

/// One file's decoder and fields.
struct Stream {
    decoder: Box<dyn Decoder>,
    generation: u64,
    fields: Arc<RunFields>,
    /// The offset after the last line decoded.
    end: u64,
    last_data: Instant,
    /// Lines were decoded since the last flush (the decoder may hold some).
    held: bool,
    /// Lines were decoded since the last pause.
    fresh: bool,
}

/// Turns sandbox lines into events; see the module docs.
pub struct MesosSink<'a> {
    ctx: &'a InputContext,
    codec: &'a dyn Codec,
    host: &'a HostField,
    out: Outbox<'a>,
    streams: HashMap<FileId, Stream>,
    /// The file whose lines are being read now, and its stream (taken out of `streams`).
    current: Option<(FileId, Stream)>,
    /// The codec's `idle_flush` (multiline's `auto_flush_interval`).
    idle: Option<Duration>,
    now: Timestamp,
    stamped: u32,
}

impl<'a> MesosSink<'a> {
    pub fn new(
        ctx: &'a InputContext,
        codec: &'a dyn Codec,
        host: &'a HostField,
        checkpoints: Arc<Checkpoints>,
    ) -> MesosSink<'a> {
        MesosSink {
            ctx,
            codec,
            host,
            out: Outbox::new(ctx, checkpoints),
            streams: HashMap::new(),
            current: None,
            idle: codec.decoder().idle_flush(),
            now: ctx.now(),
            stamped: 0,
        }
    }

    /// Makes `file` the current one (its batch, its stream).
    fn switch_to(&mut self, file: &FileRef) -> Result<(), InputError> {
        self.out.own(file.id, file.generation)?;
        let current = match self.current.take() {
            Some((id, s)) if id == file.id && s.generation == file.generation => (id, s),
            other => {
                if let Some((id, s)) = other {
                    self.streams.insert(id, s);
                }
                let stream = match self.streams.remove(&file.id) {
                    Some(s) if s.generation == file.generation => s,
                    _ => Stream {
                        decoder: self.codec.decoder(),
                        generation: file.generation,
                        fields: Arc::new(RunFields::of(Path::new(file.path.as_str()))),
                        end: 0,
                        last_data: Instant::now(),
                        held: false,
                        fresh: false,
                    },
                };
                (file.id, stream)
            }
        };
        self.current = Some(current);
        Ok(())
    }

    /// Flushes the current stream's decoder into the batch, then sends it, or, with nothing
    /// to send, records its end as delivered (nothing is held for the file any more).
    fn flush_current(&mut self) -> Result<(), InputError> {
        let Some((id, stream)) = self.current.as_mut() else {
            return Ok(());
        };
        let (id, generation, end) = (*id, stream.generation, stream.end);
        self.out.own(id, generation)?;
        let begin = self.out.batch.len();
        stream.decoder.flush(self.ctx.now(), &mut self.out.batch);
        stream.held = false;
        let fields = stream.fields.clone();
        self.finish_events(begin, &fields, false);
        self.out.end = end;
        let nothing = self.out.batch.is_empty();
        self.out.send()?;
        if nothing {
            self.out.checkpoints().advance(id, generation, end);
        }
        Ok(())
    }

    fn finish_events(&mut self, begin: usize, fields: &RunFields, split: bool) {
        let events = &mut self.out.batch[begin..];
        for event in events.iter_mut() {
            add_fields(event, fields);
            self.host.apply(event);
            if split {
                event.add_tag(Text::from_static(LINE_TOO_LONG_TAG));
            }
        }
        self.ctx.decorate(events);
    }
}

/// `MESOS_TASK_ID`, `mesos` and `stream`, unless the event has them already.
fn add_fields(event: &mut Event, run: &RunFields) {
    let fields = event.fields_mut();
    if let Some(task) = &run.task_id {
        if !fields.contains_key("MESOS_TASK_ID") {
            fields.push_new(MESOS_TASK_ID, Value::Str(task.clone()));
        }
    }
    if !fields.contains_key("mesos") {
        fields.push_new(MESOS, run.mesos.clone());
    }
    if !fields.contains_key("stream") {
        fields.push_new(STREAM, Value::Str(run.stream.clone()));
    }
}

impl TailSink for MesosSink<'_> {
    fn line(&mut self, file: &FileRef, line: Line) -> Result<(), InputError> {
        if self.stamped == 0 {
            self.now = self.ctx.now();
        }
        self.stamped = (self.stamped + 1) % STAMP_EVERY;
        let now = self.now;
        self.switch_to(file)?;
        let Some((_, stream)) = self.current.as_mut() else {
            return Ok(());
        };
        let begin = self.out.batch.len();
        stream.decoder.decode(line.bytes, now, &mut self.out.batch);
        stream.held = true;
        stream.fresh = true;
        stream.end = line.end;
        let fields = stream.fields.clone();
        self.out.end = line.end;
        if self.out.batch.len() > begin {
            self.finish_events(begin, &fields, line.split);
        }
        self.out.send_if_full()
    }

    fn pause(&mut self, file: &FileRef) -> Result<(), InputError> {
        self.stamped = 0;
        if let Some((id, stream)) = self.current.as_mut() {
            if *id == file.id && stream.fresh {
                stream.last_data = Instant::now();
                stream.fresh = false;
            }
        }
        self.out.send()
    }

    fn close(&mut self, file: &FileRef, end: u64) -> Result<(), InputError> {
        self.switch_to(file)?;
        if let Some((_, stream)) = self.current.as_mut() {
            stream.end = end;
        }
        self.flush_current()?;
        // Closed: the run is over or quiet; a file that grows again gets a fresh stream.
        self.current = None;
        Ok(())
    }

    fn tick(&mut self) -> Result<(), InputError> {
        self.out.send()?;
        let Some(idle) = self.idle else {
            return Ok(());
        };
        if let Some((id, stream)) = self.current.take() {
            self.streams.insert(id, stream);
        }
        let quiet: Vec<FileId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.held && s.last_data.elapsed() >= idle)
            .map(|(id, _)| *id)
            .collect();
        for id in quiet {
            let Some(stream) = self.streams.remove(&id) else {
                continue;
            };
            self.current = Some((id, stream));
            self.flush_current()?;
            if let Some((id, stream)) = self.current.take() {
                self.streams.insert(id, stream);
            }
        }
        Ok(())
    }
}
