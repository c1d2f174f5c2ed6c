//! One client connection: read, cut frames, decode, join Docker's partial lines, send batches,
//! then acknowledge ([`serve`]).
//!
//! Everything decoded from one read goes to the pipeline together, in batches of the pipeline's
//! batch size; a frame's `{"ack": chunk}` is written only after every event before it has been
//! handed to the pipeline ([`InputContext::send`] returned), so a client that waits for acks
//! resends what a crash lost. A frame that cannot be decoded closes the connection, after the
//! events decoded before the error have been sent and the frames before it acknowledged (the
//! bad frame is not: a client that resends it gets its first entries twice, which beats losing
//! the frames before it). A large frame is decoded a batch at a time, each batch sent before
//! the next is decoded, so its events are never all in memory at once.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::event::{Batch, Event, Text};
use crate::inputs::InputContext;

use super::framing::{Frame, Framer, FramingError, Mode};
use super::partial::{part_of, Partials};
use super::protocol::{decode_json, FrameError, FrameInfo, MsgpackFrame, Origin};
use super::Shared;

/// How much a read asks for.
const READ_SIZE: usize = 64 * 1024;
/// Below this much free space the buffer is grown before reading.
const MIN_READ: usize = 8 * 1024;

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("a JSON frame is not UTF-8")]
    Utf8,
    /// The pipeline no longer takes events.
    #[error("the pipeline no longer accepts events")]
    Closed,
    /// Shutdown was requested (not an error to report).
    #[error("shutting down")]
    Shutdown,
}

impl ConnError {
    /// True for errors caused by what the client sent (counted as protocol errors).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            ConnError::Framing(_) | ConnError::Frame(_) | ConnError::Utf8
        )
    }
}

/// Serves one connection until the client closes it, it sends something unreadable, or
/// shutdown is requested.
pub async fn serve<S>(
    mut stream: S,
    source: &Text,
    shared: &Shared,
    ctx: &InputContext,
) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framer = Framer::new(READ_SIZE, shared.shape.max_message_size);
    let mut events: Vec<Event> = Vec::with_capacity(ctx.batch_size());
    let mut acks: Vec<u8> = Vec::new();
    loop {
        if framer.buf.capacity() - framer.buf.len() < MIN_READ {
            framer.buf.reserve(READ_SIZE);
        }
        let n = tokio::select! {
            read = stream.read_buf(&mut framer.buf) => read?,
            () = ctx.shutdown().requested() => return Ok(()),
        };
        if n == 0 {
            framer.finish()?;
            return Ok(());
        }
        let mut pending = Pending {
            events: &mut events,
            acks: &mut acks,
            count: 0,
        };
        let decoded = decode_ready(&mut framer, source, shared, ctx, &mut pending).await;
        // What was decoded before an error is delivered and acknowledged all the same.
        let delivered = send(ctx, shared, pending.events).await;
        if delivered.is_ok() && !pending.acks.is_empty() {
            stream.write_all(pending.acks).await?;
            stream.flush().await?;
            shared
                .stats
                .acks
                .fetch_add(pending.count, Ordering::Relaxed);
            pending.acks.clear();
        }
        delivered?;
        decoded?;
    }
}

/// Events decoded and acknowledgements owed, not yet sent.
struct Pending<'a> {
    events: &'a mut Vec<Event>,
    acks: &'a mut Vec<u8>,
    count: u64,
}

/// Decodes every complete frame in the buffer, sending batches as they fill up.
async fn decode_ready(
    framer: &mut Framer,
    source: &Text,
    shared: &Shared,
    ctx: &InputContext,
    pending: &mut Pending<'_>,
) -> Result<(), ConnError> {
    let origin = Origin {
        now: ctx.now(),
        source: shared.shape.source_field.as_ref().map(|_| source),
    };
    while let Some(frame) = framer.next_frame()? {
        let info = decode_frame(frame, shared, ctx, &origin, pending.events).await?;
        shared.stats.frames.fetch_add(1, Ordering::Relaxed);
        if info.skipped > 0 {
            shared
                .stats
                .entries_skipped
                .fetch_add(info.skipped as u64, Ordering::Relaxed);
            tracing::warn!(
                client = %source,
                skipped = info.skipped,
                "forward: skipped entries whose time or record has the wrong type"
            );
        }
        if let Some(chunk) = info.chunk {
            write_ack(framer.mode(), &chunk, pending.acks);
            pending.count += 1;
        }
    }
    Ok(())
}

/// Decodes one frame into `events`, sending full batches on the way (a large frame is never
/// all in memory as events) and joining partial lines.
async fn decode_frame(
    frame: Frame,
    shared: &Shared,
    ctx: &InputContext,
    origin: &Origin<'_>,
    events: &mut Vec<Event>,
) -> Result<FrameInfo, ConnError> {
    let shape = &shared.shape;
    let size = ctx.batch_size();
    let bytes = match frame {
        Frame::Msgpack(bytes) => bytes,
        Frame::Json(bytes) => {
            let text = Text::from_utf8(bytes).map_err(|_| ConnError::Utf8)?;
            let start = events.len();
            let info = decode_json(&text, shape, origin, events);
            joined(shared, events, start);
            send_full(ctx, shared, events).await?;
            return Ok(info?);
        }
    };
    let mut start = events.len();
    let mut decoding = MsgpackFrame::open(bytes, shape, origin, events)?;
    loop {
        let decoded = decoding.decode(shape, origin, events, size);
        // What decoded before an error is joined and delivered like the rest.
        joined(shared, events, start);
        decoded?;
        send_full(ctx, shared, events).await?;
        if decoding.is_done() {
            return Ok(decoding.finish());
        }
        start = events.len();
    }
}

/// Passes the events from `start` on through the partial-line joiner, if it is on.
fn joined(shared: &Shared, events: &mut Vec<Event>, start: usize) {
    if let Some(partials) = &shared.partials {
        join_partials(partials, events, start, shared);
    }
}

/// Sends what fills whole batches, keeping the rest for later.
async fn send_full(
    ctx: &InputContext,
    shared: &Shared,
    events: &mut Vec<Event>,
) -> Result<(), ConnError> {
    if events.len() >= ctx.batch_size() {
        send(ctx, shared, events).await?;
    }
    Ok(())
}

/// Hands the events from `start` on that are pieces of a split line to the joiner, keeping
/// the others (and the lines it completes) in order.
fn join_partials(
    partials: &Mutex<Partials>,
    events: &mut Vec<Event>,
    start: usize,
    shared: &Shared,
) {
    // Almost no record is a piece: look before taking anything apart.
    if !events[start..]
        .iter()
        .any(|e| e.fields().contains_key("partial_message"))
    {
        return;
    }
    let pieces: Vec<Event> = events.drain(start..).collect();
    let now = Instant::now();
    let mut held = partials.lock().unwrap_or_else(PoisonError::into_inner);
    for event in pieces {
        match part_of(&event) {
            Some(part) => {
                if let Some(line) = held.absorb(event, part, now) {
                    shared.stats.partials_joined.fetch_add(1, Ordering::Relaxed);
                    events.push(line);
                }
            }
            None => events.push(event),
        }
    }
}

/// Sends `events` in batches of the pipeline's size, leaving it empty.
pub async fn send(
    ctx: &InputContext,
    shared: &Shared,
    events: &mut Vec<Event>,
) -> Result<(), ConnError> {
    let size = ctx.batch_size();
    while !events.is_empty() {
        let rest = if events.len() > size {
            events.split_off(size)
        } else {
            Vec::with_capacity(size)
        };
        let batch = std::mem::replace(events, rest);
        let n = batch.len() as u64;
        tokio::select! {
            sent = ctx.send(Batch::new(batch)) => sent.map_err(|_| ConnError::Closed)?,
            () = ctx.shutdown().requested() => return Err(ConnError::Shutdown),
        }
        shared.stats.events.fetch_add(n, Ordering::Relaxed);
    }
    Ok(())
}

/// Appends `{"ack": chunk}` in the connection's encoding (JSON clients get JSON, as fluentd
/// answers them).
fn write_ack(mode: Option<Mode>, chunk: &Bytes, out: &mut Vec<u8>) {
    if mode == Some(Mode::Json) {
        out.extend_from_slice(b"{\"ack\":");
        crate::event::json::write_str(&String::from_utf8_lossy(chunk), out);
        out.push(b'}');
        return;
    }
    out.extend_from_slice(b"\x81\xa3ack");
    let len = chunk.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len < 256 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 65_536 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_in_both_encodings() {
        let mut out = Vec::new();
        write_ack(Some(Mode::Msgpack), &Bytes::from_static(b"abc"), &mut out);
        assert_eq!(out, b"\x81\xa3ack\xa3abc");
        out.clear();
        let long = Bytes::from(vec![b'x'; 40]);
        write_ack(Some(Mode::Msgpack), &long, &mut out);
        assert_eq!(&out[..7], b"\x81\xa3ack\xd9\x28");
        out.clear();
        write_ack(Some(Mode::Json), &Bytes::from_static(b"a\"b"), &mut out);
        assert_eq!(out, br#"{"ack":"a\"b"}"#);
    }
}
