//! The `stdin` input, and [`ReaderInput`], which it is: any blocking byte stream read on a
//! thread of its own.
//!
//! The thread reads 64 KiB at a time into a large shared buffer, so the lines a codec cuts out
//! of a read are slices of that buffer rather than copies. Decoded events get the shared
//! options, then `host` (this machine's name) unless they already have one, as Logstash's stdin
//! does. Batches go to the pipeline straight from the thread; a batch smaller than the batch
//! size is sent as soon as a read comes back short (no more data at hand), so interactive input
//! is not held back. The stream's end ends the input (the codec is flushed first).
//!
//! A shutdown request ends the input at once; the thread, which may be blocked in `read`, stops
//! at its next read or send.
//!
//! A codec that wants to be flushed after a quiet spell ([`Decoder::idle_flush`]: multiline's
//! `auto_flush_interval`) gets a second thread: one reads and hands chunks over a channel, the
//! other decodes and, when nothing has come for that long, calls the decoder's `flush`.

use std::io::{ErrorKind, Read};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::codecs::{Codec, Decoder};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Batch, Event, Text};

use super::take_batch;
use super::{hostname, set_host_if_missing, Input, InputContext, InputError};

/// How much one `read` asks for (a pipe's buffer holds 64 KiB).
const READ_SIZE: usize = 64 * 1024;
/// The buffer reads go into; a new one is allocated when less than [`READ_SIZE`] is left.
const BUFFER_SIZE: usize = 1024 * 1024;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let _: Options = args.options()?;
    Ok(Box::new(ReaderInput::new(
        codec,
        Box::new(std::io::stdin()),
    )))
}

/// An input reading a blocking byte stream (stdin; a file or socket in tests).
pub struct ReaderInput {
    codec: Arc<dyn Codec>,
    reader: Box<dyn Read + Send>,
}

impl ReaderInput {
    pub fn new(codec: Arc<dyn Codec>, reader: Box<dyn Read + Send>) -> ReaderInput {
        ReaderInput { codec, reader }
    }
}

#[async_trait::async_trait]
impl Input for ReaderInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let shutdown = ctx.shutdown().clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let ReaderInput { codec, mut reader } = *self;
        std::thread::Builder::new()
            .name("sluice-stdin".into())
            .spawn(move || {
                let decoder = codec.decoder();
                let result = match decoder.idle_flush() {
                    None => read_loop(&mut *reader, decoder, &ctx),
                    Some(idle) => read_loop_flushing(reader, decoder, idle, &ctx),
                };
                let _ = done_tx.send(result);
            })?;
        tokio::select! {
            result = done_rx => result
                .unwrap_or_else(|_| Err(InputError::Other("the reader thread panicked".into()))),
            () = shutdown.requested() => Ok(()),
        }
    }
}

fn read_loop(
    reader: &mut dyn Read,
    decoder: Box<dyn Decoder>,
    ctx: &InputContext,
) -> Result<(), InputError> {
    let mut decoding = Decoding::new(decoder, ctx);
    let mut buf = BytesMut::new();
    while !ctx.shutdown().is_requested() {
        let Some(chunk) = read_chunk(reader, &mut buf)? else {
            break;
        };
        decoding.decode(chunk)?;
    }
    decoding.flush()
}

/// Chunks in flight between the reading thread and the decoding one.
const CHUNKS_IN_FLIGHT: usize = 4;

/// How often the decoding thread looks at the clock (and the shutdown request) while waiting.
const WAKE_UP: Duration = Duration::from_millis(100);

/// [`read_loop`] for a decoder that wants `flush` after `idle` without data: a thread of its
/// own reads, this one decodes and flushes when the stream has been quiet that long.
fn read_loop_flushing(
    mut reader: Box<dyn Read + Send>,
    decoder: Box<dyn Decoder>,
    idle: Duration,
    ctx: &InputContext,
) -> Result<(), InputError> {
    let chunks = spawn_reader(move |buf| read_chunk(&mut *reader, buf))?;
    let mut decoding = Decoding::new(decoder, ctx);
    let mut last_data = Instant::now();
    let mut held = false;
    while !ctx.shutdown().is_requested() {
        let wait = if held {
            idle.saturating_sub(last_data.elapsed()).min(WAKE_UP)
        } else {
            WAKE_UP
        };
        let chunk = match chunks.recv_timeout(wait) {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Err(e)) => return Err(e.into()),
            Err(RecvTimeoutError::Timeout) => {
                if held && last_data.elapsed() >= idle {
                    decoding.flush()?;
                    held = false;
                }
                continue;
            }
        };
        last_data = Instant::now();
        held = true;
        decoding.decode(chunk)?;
    }
    decoding.flush()
}

/// A decoder and the events it made that are not sent yet; what it makes is finished
/// ([`finish_events`]) and sent in batches.
struct Decoding<'a> {
    decoder: Box<dyn Decoder>,
    ctx: &'a InputContext,
    host: Text,
    events: Vec<Event>,
}

impl<'a> Decoding<'a> {
    fn new(decoder: Box<dyn Decoder>, ctx: &'a InputContext) -> Decoding<'a> {
        Decoding {
            decoder,
            ctx,
            host: hostname(),
            events: Vec::with_capacity(ctx.batch_size()),
        }
    }

    /// Decodes a chunk read from the stream.
    fn decode(&mut self, chunk: Bytes) -> Result<(), InputError> {
        // A full read suggests more data is waiting: keep a partial batch for it.
        let more_waiting = chunk.len() == READ_SIZE;
        let start = self.events.len();
        self.decoder.decode(chunk, self.ctx.now(), &mut self.events);
        self.send(start, more_waiting)
    }

    /// Flushes the decoder (a quiet spell, or the stream's end) and sends everything.
    fn flush(&mut self) -> Result<(), InputError> {
        let start = self.events.len();
        self.decoder.flush(self.ctx.now(), &mut self.events);
        self.send(start, false)
    }

    /// Finishes the events from `start` on and sends what [`take_batch`] says is ready.
    fn send(&mut self, start: usize, keep_partial: bool) -> Result<(), InputError> {
        finish_events(self.ctx, &mut self.events[start..], &self.host);
        let size = self.ctx.batch_size();
        while let Some(batch) = take_batch(&mut self.events, size, keep_partial) {
            self.ctx.forward_blocking(Batch::new(batch))?;
        }
        Ok(())
    }
}

type ChunkResult = std::io::Result<Option<Bytes>>;

/// Runs `read` on a thread of its own until the stream ends or fails, passing each result
/// over a small channel (so a slow pipeline holds the reader back).
fn spawn_reader(
    mut read: impl FnMut(&mut BytesMut) -> ChunkResult + Send + 'static,
) -> std::io::Result<Receiver<ChunkResult>> {
    let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
    std::thread::Builder::new()
        .name("sluice-stdin-read".into())
        .spawn(move || {
            let mut buf = BytesMut::new();
            loop {
                let result = read(&mut buf);
                let last = !matches!(result, Ok(Some(_)));
                if tx.send(result).is_err() || last {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// The next chunk of the stream, sharing `buf`'s allocation; `None` at its end.
fn read_chunk(reader: &mut dyn Read, buf: &mut BytesMut) -> std::io::Result<Option<Bytes>> {
    if buf.capacity() < READ_SIZE {
        *buf = BytesMut::with_capacity(BUFFER_SIZE);
    }
    buf.resize(READ_SIZE, 0);
    loop {
        match reader.read(&mut buf[..]) {
            Ok(0) => {
                buf.clear();
                return Ok(None);
            }
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf.split().freeze()));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Logstash's order: the shared options first, then `host` if the event has none.
fn finish_events(ctx: &InputContext, events: &mut [Event], host: &Text) {
    ctx.decorate(events);
    set_host_if_missing(events, host);
}
