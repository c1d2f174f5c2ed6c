//! One Avro RPC connection: [`Session`] reads Netty frames (through [`Zlib`] with
//! `compression_type => "deflate"`), answers the handshake of the first call, turns `append`
//! and `appendBatch` events into pipeline events, and answers every call in order.
//!
//! Each round takes every complete frame the buffer holds (until a batch of events is read),
//! queues their events, and only then writes their answers: `OK` once
//! [`InputContext::send`] returned for all of them, `FAILED` when the pipeline would not take
//! them (shutdown), after which the connection is closed. Flume keeps events whose call was
//! not answered `OK` in its channel and sends them again. A malformed frame or call ends this
//! connection only, after answering what was already queued.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codecs::Decoder;
use crate::event::{Batch, Event, FieldPath, Timestamp, Value};
use crate::inputs::{take_batch, InputContext};

use super::avro::{self, Call, FlumeEvent, HandshakeRequest, Match, Reader, Status};
use super::frame::{write_frame, Frame, FrameReader};

/// How much room a read asks for.
const READ_SIZE: usize = 64 * 1024;
/// About the most one inflate step adds to the frame buffer: frames are checked against
/// `max_frame_size` between steps, so a small compressed stream cannot fill memory.
const INFLATE_STEP: usize = 4 * READ_SIZE;
/// How many client protocol hashes the input remembers.
const MAX_KNOWN_PROTOCOLS: usize = 1024;
/// How long the last writes to a client may take once shutdown was requested.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the input counts, over all its connections.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub calls: AtomicU64,
    pub events: AtomicU64,
    pub failed_calls: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub io_errors: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// What every session shares.
pub struct SessionConfig {
    pub max_frame_size: usize,
    pub deflate: bool,
    pub headers_target: FieldPath,
    /// The hashes of the client protocols this input has seen (Avro's responder cache); it
    /// starts with the server's own.
    pub known: Mutex<HashSet<[u8; 16]>>,
    pub server_hash: [u8; 16],
    pub counters: Counters,
}

/// A reply waiting for its call's events to be queued: its serial and its payload's range in
/// the session's reply bytes; `status` when the call's `Status` must still be appended.
struct Pending {
    serial: i32,
    start: usize,
    end: usize,
    status: bool,
}

/// Why a session stops.
enum Halt {
    /// Broken protocol or connection, or a call answered `FAILED`: close (answers written).
    Close,
}

pub struct Session<'a, S> {
    stream: S,
    peer: String,
    ctx: &'a InputContext,
    config: Arc<SessionConfig>,
    decoder: Box<dyn Decoder>,
    reader: FrameReader,
    zlib: Option<Zlib>,
    buf: BytesMut,
    handshaken: bool,
    events: Vec<Event>,
    payloads: Vec<u8>,
    pending: Vec<Pending>,
    out: Vec<u8>,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Session<'a, S> {
    pub fn new(
        stream: S,
        peer: String,
        ctx: &'a InputContext,
        config: Arc<SessionConfig>,
        decoder: Box<dyn Decoder>,
    ) -> Session<'a, S> {
        Session {
            stream,
            peer,
            ctx,
            reader: FrameReader::new(config.max_frame_size),
            zlib: config.deflate.then(Zlib::new),
            config,
            decoder,
            buf: BytesMut::with_capacity(READ_SIZE),
            handshaken: false,
            events: Vec::with_capacity(ctx.batch_size()),
            payloads: Vec::new(),
            pending: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Serves the connection until the client closes it, breaks the protocol, or shutdown.
    pub async fn run(mut self) {
        let shutdown = self.ctx.shutdown().clone();
        loop {
            let read = tokio::select! {
                biased;
                () = shutdown.requested() => return self.close().await,
                read = self.read() => read,
            };
            match read {
                Ok(0) => return self.client_gone(),
                Ok(_) => {}
                Err(e) => {
                    add(&self.config.counters.io_errors, 1);
                    tracing::debug!(peer = %self.peer, error = %e, "flume: read failed");
                    return;
                }
            }
            if let Err(Halt::Close) = self.serve_buffered().await {
                return self.close().await;
            }
        }
    }

    /// Reads into the frame buffer (through the inflater with deflate).
    async fn read(&mut self) -> std::io::Result<usize> {
        let Some(zlib) = &mut self.zlib else {
            self.buf.reserve(READ_SIZE);
            return self.stream.read_buf(&mut self.buf).await;
        };
        let n = if zlib.more {
            // Inflate what is still in hand before reading more.
            1
        } else {
            zlib.raw.reserve(READ_SIZE);
            self.stream.read_buf(&mut zlib.raw).await?
        };
        if n > 0 {
            zlib.inflate(&mut self.buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        Ok(n)
    }

    /// Handles every complete frame in the buffer, a batch of events at a time.
    async fn serve_buffered(&mut self) -> Result<(), Halt> {
        loop {
            let (broken, more) = self.take_frames();
            self.flush().await?;
            if broken {
                add(&self.config.counters.protocol_errors, 1);
                return Err(Halt::Close);
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Handles frames until the buffer holds no complete one or a batch of events was read.
    /// Returns (the stream is broken, complete frames may be left).
    fn take_frames(&mut self) -> (bool, bool) {
        while self.events.len() < self.ctx.batch_size() {
            match self.reader.next(&mut self.buf) {
                Ok(Some(frame)) => {
                    if let Err(e) = self.handle(frame) {
                        tracing::warn!(peer = %self.peer, error = %e,
                            "flume: malformed call; closing the connection");
                        return (true, false);
                    }
                }
                Ok(None) => return (false, false),
                Err(e) => {
                    tracing::warn!(peer = %self.peer, error = %e,
                        "flume: malformed frame; closing the connection");
                    return (true, false);
                }
            }
        }
        (false, true)
    }

    /// One call: the handshake (first call only), then the message.
    fn handle(&mut self, frame: Frame) -> Result<(), avro::AvroError> {
        add(&self.config.counters.calls, 1);
        let start = self.payloads.len();
        let events_before = self.events.len();
        let mut r = Reader::new(frame.payload);
        let result = self.read_call(&mut r);
        let status = match result {
            Ok(status) => status,
            Err(e) => {
                self.payloads.truncate(start);
                self.events.truncate(events_before);
                return Err(e);
            }
        };
        self.pending.push(Pending {
            serial: frame.serial,
            start,
            end: self.payloads.len(),
            status,
        });
        Ok(())
    }

    /// Reads a call and writes its reply payload; true when the status is still to come.
    fn read_call(&mut self, r: &mut Reader) -> Result<bool, avro::AvroError> {
        if !self.handshaken {
            let request = HandshakeRequest::read(r)?;
            let verdict = self.handshake(&request);
            avro::write_handshake_response(&mut self.payloads, verdict, &self.config.server_hash);
            if verdict == Match::None {
                // The client sends the call again, with its protocol.
                return Ok(false);
            }
            self.handshaken = true;
        }
        let call = avro::read_call(r, |e| self.push(e))?;
        match call {
            Call::Ping => Ok(false),
            Call::Append => {
                avro::write_response_start(&mut self.payloads);
                Ok(true)
            }
            Call::Unknown(name) => {
                tracing::warn!(peer = %self.peer, message = %name, "flume: unknown message");
                avro::write_error(&mut self.payloads, &format!("No such message: {name}"));
                Ok(false)
            }
        }
    }

    /// Avro's responder: a client is known by its protocol's hash (or by the protocol it
    /// sends); `Both` when it also has the right server hash.
    fn handshake(&self, request: &HandshakeRequest) -> Match {
        let mut known = self.config.known.lock().unwrap_or_else(|e| e.into_inner());
        let sent = request.client_protocol.is_some();
        // Flume's clients all speak AvroSourceProtocol; the calls are read with ours. The
        // cache is bounded: clients past it just send their protocol on every connection.
        if sent && known.len() < MAX_KNOWN_PROTOCOLS {
            known.insert(request.client_hash);
        }
        if !sent && !known.contains(&request.client_hash) {
            Match::None
        } else if request.server_hash == self.config.server_hash {
            Match::Both
        } else {
            Match::Client
        }
    }

    /// Decodes one Flume event's body and gives its events the headers.
    fn push(&mut self, flume: FlumeEvent) {
        let start = self.events.len();
        self.decoder
            .decode(flume.body, self.ctx.now(), &mut self.events);
        let timestamp = flume
            .headers
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|ms| ms.unsigned_abs() < i64::MAX as u64 / 1_000_000)
            .map(Timestamp::from_millis);
        let produced = self.events.len() - start;
        add(&self.config.counters.events, produced as u64);
        let mut headers = Some(flume.headers);
        for (i, event) in self.events[start..].iter_mut().enumerate() {
            if let Some(ts) = timestamp {
                event.set_timestamp(ts);
            }
            let map = if i + 1 == produced {
                headers.take()
            } else {
                headers.clone()
            };
            if let Some(map) = map.filter(|m| !m.is_empty()) {
                event.insert(&self.config.headers_target, Value::Map(map));
            }
        }
    }

    /// Queues the round's events, then writes the answers of the round's calls.
    async fn flush(&mut self) -> Result<(), Halt> {
        let status = if self.queue_events().await {
            Status::Ok
        } else {
            Status::Failed
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        self.render_replies(status);
        let shutdown = self.ctx.shutdown().clone();
        let written = tokio::select! {
            biased;
            w = write_flush(&mut self.stream, &self.out) => w,
            // A client that does not read its answers must not hold up shutdown for long.
            () = async {
                shutdown.requested().await;
                tokio::time::sleep(FINAL_WRITE_TIMEOUT).await
            } => Err(std::io::ErrorKind::TimedOut.into()),
        };
        self.out.clear();
        if let Err(e) = written {
            add(&self.config.counters.io_errors, 1);
            tracing::debug!(peer = %self.peer, error = %e, "flume: write failed");
            return Err(Halt::Close);
        }
        match status {
            Status::Ok => Ok(()),
            Status::Failed => Err(Halt::Close),
        }
    }

    /// Sends the round's events in batches; false when some were not queued.
    async fn queue_events(&mut self) -> bool {
        let size = self.ctx.batch_size();
        while let Some(events) = take_batch(&mut self.events, size, false) {
            let sent = tokio::select! {
                biased;
                sent = self.ctx.send(Batch::new(events)) => sent.is_ok(),
                () = self.ctx.shutdown().requested() => false,
            };
            if !sent {
                self.events.clear();
                return false;
            }
        }
        true
    }

    /// Frames every pending reply into `out` (compressed with deflate).
    fn render_replies(&mut self, status: Status) {
        let mut status_bytes = Vec::with_capacity(1);
        avro::write_status(&mut status_bytes, status);
        let mut plain = Vec::with_capacity(self.payloads.len() + 16 * self.pending.len());
        for p in self.pending.drain(..) {
            let call = &self.payloads[p.start..p.end];
            if p.status {
                if status == Status::Failed {
                    add(&self.config.counters.failed_calls, 1);
                }
                write_frame(&mut plain, p.serial, &[call, &status_bytes]);
            } else {
                write_frame(&mut plain, p.serial, &[call]);
            }
        }
        self.payloads.clear();
        match &mut self.zlib {
            Some(zlib) => zlib.deflate(&plain, &mut self.out),
            None => self.out = plain,
        }
    }

    /// Shutdown or a broken call: close the connection (its answers are written).
    async fn close(mut self) {
        let _ = tokio::time::timeout(FINAL_WRITE_TIMEOUT, self.stream.shutdown()).await;
    }

    /// The client closed its side; a partial frame means a broken client.
    fn client_gone(self) {
        if self.reader.in_frame(&self.buf) {
            add(&self.config.counters.protocol_errors, 1);
            tracing::warn!(peer = %self.peer, buffered = self.buf.len(),
                "flume: client disconnected in the middle of a frame");
        }
    }
}

async fn write_flush<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// `compression_type => "deflate"`: both directions are one zlib stream each, flushed (sync)
/// after every reply as Netty's `ZlibEncoder` does.
pub struct Zlib {
    inflater: Decompress,
    deflater: Compress,
    raw: BytesMut,
    scratch: Vec<u8>,
    /// The last inflate step stopped at [`INFLATE_STEP`]: inflate again before reading.
    more: bool,
}

impl Zlib {
    fn new() -> Zlib {
        Zlib {
            inflater: Decompress::new(true),
            deflater: Compress::new(Compression::new(6), true),
            raw: BytesMut::with_capacity(READ_SIZE),
            scratch: Vec::with_capacity(READ_SIZE),
            more: false,
        }
    }

    /// Inflates what `raw` holds onto `out`, about [`INFLATE_STEP`] bytes at most; sets
    /// `more` when it stopped with output still to come.
    fn inflate(&mut self, out: &mut BytesMut) -> Result<(), flate2::DecompressError> {
        let mut produced = 0;
        self.more = false;
        loop {
            self.scratch.clear();
            let before = self.inflater.total_in();
            let status = self.inflater.decompress_vec(
                &self.raw,
                &mut self.scratch,
                FlushDecompress::Sync,
            )?;
            let consumed = (self.inflater.total_in() - before) as usize;
            self.raw.advance(consumed);
            out.extend_from_slice(&self.scratch);
            produced += self.scratch.len();
            if status == flate2::Status::StreamEnd {
                // Nothing follows a finished stream.
                self.raw.clear();
                return Ok(());
            }
            let full = self.scratch.len() == self.scratch.capacity();
            // The inflater may stop at a flush point with input left: go on while it makes
            // progress; with room left and no input, it has nothing more until the next read.
            let progress = consumed > 0 || !self.scratch.is_empty();
            if !progress || (self.raw.is_empty() && !full) {
                return Ok(());
            }
            if produced >= INFLATE_STEP {
                self.more = true;
                return Ok(());
            }
        }
    }

    /// Deflates `input` onto `out`, sync-flushed so the client can read all of it.
    fn deflate(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        loop {
            out.reserve(input.len() + 1024);
            let before = self.deflater.total_in();
            if self
                .deflater
                .compress_vec(input, out, FlushCompress::Sync)
                .is_err()
            {
                return;
            }
            input = &input[(self.deflater.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflating_is_done_in_bounded_steps() {
        let mut zlib = Zlib::new();
        let plain: Vec<u8> = (0..3_000_000u32).map(|i| (i % 7) as u8).collect();
        let mut compressed = Vec::new();
        Zlib::new().deflate(&plain, &mut compressed);
        assert!(compressed.len() < plain.len() / 50);
        zlib.raw.extend_from_slice(&compressed);
        let mut out = BytesMut::new();
        let mut steps = 0;
        loop {
            let before = out.len();
            zlib.inflate(&mut out).unwrap();
            assert!(out.len() - before <= INFLATE_STEP + READ_SIZE);
            steps += 1;
            if !zlib.more {
                break;
            }
        }
        assert!(steps > 3, "{steps} steps");
        assert_eq!(&out[..], &plain[..]);
        assert!(zlib.raw.is_empty());
    }
}
