//! One RELP connection: [`Session`] reads frames, turns `syslog` frames into events, and answers
//! every command in order.
//!
//! Each round reads what the socket has, cuts every complete frame out of it (up to a batch of
//! `syslog` frames), sends their events to the pipeline as one batch, and only once
//! [`InputContext::forward`] has returned (the events are queued) writes the responses of all
//! those frames, in order. A `200 OK` therefore means "queued", as in Logstash's relp input; a
//! frame whose events could not be queued (shutdown while the queue is full) gets no answer,
//! and the client sends it again on its next connection.
//!
//! Errors never escape a session: a malformed frame, a protocol violation or an I/O error ends
//! this connection only (after answering what was already queued), is logged, and is counted
//! in [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codecs::Decoder;
use crate::event::{names, Batch, Event, Text, Value};
use crate::inputs::InputContext;

use super::frame::{next_txnr, write_rsp, write_serverclose, Command, Frame, FrameReader};

/// How much room a read asks for.
const READ_SIZE: usize = 64 * 1024;
/// How long the last writes to a client (answers, `serverclose`) may take once the session
/// ends: a client that stopped reading must not hold up shutdown.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the input counts, over all its connections.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub messages: AtomicU64,
    pub truncated: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub io_errors: AtomicU64,
    /// Connections whose TLS handshake failed (bad or missing client certificate, not TLS).
    pub tls_failures: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a session needs from its input.
pub struct SessionConfig {
    pub max_data_size: usize,
    /// `relp_software` in the `open` answer.
    pub software: &'static str,
    pub counters: Arc<Counters>,
}

/// Why a session ends after the current round.
enum End {
    /// The client sent `close`.
    Closed,
    /// The client broke the protocol; the message says how.
    Violation(String),
}

/// Why a round stops the session early.
enum Halt {
    /// The round's events were not queued: say `serverclose` (nothing else) and close.
    Goodbye,
    /// The connection is broken: drop it.
    Drop,
}

/// One connection's state.
pub struct Session<'a, S> {
    stream: S,
    /// `host` of every event: the client's `ip:port`, as Logstash's relp input sets it.
    peer: Text,
    /// `sslsubject` of every event: the client certificate's subject, when verified.
    subject: Option<Text>,
    ctx: &'a InputContext,
    config: &'a SessionConfig,
    decoder: Box<dyn Decoder>,
    reader: FrameReader,
    buf: BytesMut,
    /// Answers of the frames read this round, written once their events are queued.
    replies: Vec<u8>,
    events: Vec<Event>,
    open: bool,
    expected_txnr: u32,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Session<'a, S> {
    pub fn new(
        stream: S,
        peer: Text,
        ctx: &'a InputContext,
        config: &'a SessionConfig,
        decoder: Box<dyn Decoder>,
    ) -> Session<'a, S> {
        Session {
            stream,
            peer,
            subject: None,
            ctx,
            config,
            decoder,
            reader: FrameReader::new(config.max_data_size),
            buf: BytesMut::with_capacity(READ_SIZE),
            replies: Vec::new(),
            events: Vec::with_capacity(ctx.batch_size()),
            open: false,
            expected_txnr: 1,
        }
    }

    /// Sets `sslsubject` on every event (the verified client certificate's subject).
    pub fn with_subject(mut self, subject: Option<Text>) -> Self {
        self.subject = subject;
        self
    }

    /// Serves the connection until the client closes it, breaks the protocol, or shutdown.
    pub async fn run(mut self) {
        let shutdown = self.ctx.shutdown().clone();
        loop {
            self.buf.reserve(READ_SIZE);
            let read = tokio::select! {
                biased;
                () = shutdown.requested() => return self.close_by_server().await,
                read = self.stream.read_buf(&mut self.buf) => read,
            };
            match read {
                Ok(0) => return self.client_gone().await,
                Ok(_) => {}
                Err(e) => {
                    Counters::add(&self.config.counters.io_errors);
                    tracing::debug!(peer = %self.peer, error = %e, "relp: read failed");
                    return;
                }
            }
            match self.serve_buffered().await {
                Ok(None) => {}
                Ok(Some(end)) => return self.end(end).await,
                Err(Halt::Goodbye) => return self.close_by_server().await,
                Err(Halt::Drop) => return,
            }
        }
    }

    /// Handles every complete frame in the buffer, a batch at a time.
    async fn serve_buffered(&mut self) -> Result<Option<End>, Halt> {
        loop {
            let (end, more) = self.take_frames();
            self.flush().await?;
            if end.is_some() || !more {
                return Ok(end);
            }
        }
    }

    /// Cuts frames out of the buffer until it holds no complete one, a batch of messages was
    /// read, or the session must end. The bool: whether complete frames may be left.
    fn take_frames(&mut self) -> (Option<End>, bool) {
        let batch_size = self.ctx.batch_size();
        while self.events.len() < batch_size {
            match self.reader.next(&mut self.buf) {
                Ok(Some(frame)) => {
                    if let Some(end) = self.handle(frame) {
                        return (Some(end), false);
                    }
                }
                Ok(None) => return (None, false),
                Err(e) => return (Some(End::Violation(format!("malformed frame: {e}"))), false),
            }
        }
        (None, true)
    }

    /// Processes one frame: its events go to `events`, its answer to `replies`.
    fn handle(&mut self, frame: Frame) -> Option<End> {
        if frame.txnr == 0 {
            // A hint from the client: hints are never answered, and the server knows none.
            return None;
        }
        if frame.txnr != self.expected_txnr {
            return Some(End::Violation(format!(
                "transaction number {} where {} was due",
                frame.txnr, self.expected_txnr
            )));
        }
        self.expected_txnr = next_txnr(frame.txnr);
        match frame.command {
            Command::Syslog if self.open => {
                self.message(frame);
                None
            }
            Command::Syslog => {
                write_rsp(&mut self.replies, frame.txnr, b"500 session not open");
                Some(End::Violation("syslog before open".into()))
            }
            Command::Open => self.open(&frame),
            Command::Close => {
                write_rsp(&mut self.replies, frame.txnr, b"200 OK");
                Some(End::Closed)
            }
            Command::Other(name) => {
                tracing::debug!(peer = %self.peer, command = %String::from_utf8_lossy(&name),
                    "relp: unsupported command");
                write_rsp(&mut self.replies, frame.txnr, b"500 command not supported");
                None
            }
        }
    }

    fn message(&mut self, frame: Frame) {
        Counters::add(&self.config.counters.messages);
        if let Some(len) = frame.truncated_from {
            Counters::add(&self.config.counters.truncated);
            tracing::warn!(peer = %self.peer, datalen = len, max_data_size = self.config.max_data_size,
                "relp: message longer than max_data_size, truncated");
        }
        let start = self.events.len();
        self.decoder
            .decode(frame.data, self.ctx.now(), &mut self.events);
        self.finish_events(start);
        write_rsp(&mut self.replies, frame.txnr, b"200 OK");
    }

    /// Logstash's order: the shared options first, then `host` (always the client) and
    /// `sslsubject`.
    fn finish_events(&mut self, start: usize) {
        let events = &mut self.events[start..];
        self.ctx.decorate(events);
        for event in events {
            event.set_field(names::HOST, Value::Str(self.peer.clone()));
            if let Some(subject) = &self.subject {
                event.set_field(Text::from_static("sslsubject"), Value::Str(subject.clone()));
            }
        }
    }

    /// Answers `open` with the offers rsyslog's librelp expects (as librelp's own server does).
    fn open(&mut self, frame: &Frame) -> Option<End> {
        if self.open {
            let text = b"500 protocol error: connection already open";
            write_rsp(&mut self.replies, frame.txnr, text);
            return None;
        }
        match check_offers(&frame.data) {
            Ok(()) => {
                let text = format!(
                    "200 OK\nrelp_version=0\nrelp_software={}\ncommands=syslog",
                    self.config.software
                );
                write_rsp(&mut self.replies, frame.txnr, text.as_bytes());
                self.open = true;
                None
            }
            Err(why) => {
                write_rsp(
                    &mut self.replies,
                    frame.txnr,
                    format!("500 {why}").as_bytes(),
                );
                Some(End::Violation(format!("open refused: {why}")))
            }
        }
    }

    /// Queues the round's events, then writes its answers.
    async fn flush(&mut self) -> Result<(), Halt> {
        if !self.events.is_empty() {
            let events =
                std::mem::replace(&mut self.events, Vec::with_capacity(self.ctx.batch_size()));
            if !queue(self.ctx, events).await {
                // Not queued: no answer, so the client sends these messages again.
                self.replies.clear();
                return Err(Halt::Goodbye);
            }
        }
        if self.replies.is_empty() {
            return Ok(());
        }
        let shutdown = self.ctx.shutdown().clone();
        let written = tokio::select! {
            biased;
            w = write_flush(&mut self.stream, &self.replies) => w,
            // A client that does not read its answers must not hold up shutdown for long.
            () = async {
                shutdown.requested().await;
                tokio::time::sleep(FINAL_WRITE_TIMEOUT).await
            } => Err(std::io::ErrorKind::TimedOut.into()),
        };
        self.replies.clear();
        written.map_err(|e| {
            Counters::add(&self.config.counters.io_errors);
            tracing::debug!(peer = %self.peer, error = %e, "relp: write failed");
            Halt::Drop
        })
    }

    /// The session ends after a `close` or a protocol violation: `serverclose`, then close.
    async fn end(self, end: End) {
        if let End::Violation(why) = &end {
            Counters::add(&self.config.counters.protocol_errors);
            tracing::warn!(peer = %self.peer, "relp: {why}; closing the connection");
        }
        self.close_by_server().await;
    }

    /// Tells the client the server closes the connection, and closes it.
    async fn close_by_server(mut self) {
        write_serverclose(&mut self.replies);
        let goodbye = async {
            write_flush(&mut self.stream, &self.replies).await?;
            self.stream.shutdown().await
        };
        let _ = tokio::time::timeout(FINAL_WRITE_TIMEOUT, goodbye).await;
    }

    /// The client closed its side: queue what the codec still holds, complain about a partial
    /// frame.
    async fn client_gone(mut self) {
        if self.reader.in_frame(&self.buf) {
            Counters::add(&self.config.counters.protocol_errors);
            tracing::warn!(peer = %self.peer, buffered = self.buf.len(),
                "relp: client disconnected in the middle of a frame");
        }
        self.decoder.flush(self.ctx.now(), &mut self.events);
        self.finish_events(0);
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            queue(self.ctx, events).await;
        }
    }
}

/// Sends events to the pipeline, waiting while its queue is full; false when they were not
/// queued (the pipeline is gone, or shutdown came while waiting).
async fn queue(ctx: &InputContext, events: Vec<Event>) -> bool {
    tokio::select! {
        biased;
        sent = ctx.forward(Batch::new(events)) => sent.is_ok(),
        () = ctx.shutdown().requested() => false,
    }
}

async fn write_flush<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Checks the client's `open` offers (one `name[=value[,value]...]` per line): a numeric
/// `relp_version` and `syslog` among the `commands` are required.
fn check_offers(data: &[u8]) -> Result<(), &'static str> {
    let mut version = false;
    let mut syslog = false;
    for line in data.split(|&b| b == b'\n') {
        let (name, values) = match line.iter().position(|&b| b == b'=') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        match name {
            b"relp_version" => {
                version = !values.is_empty() && values.iter().all(u8::is_ascii_digit);
            }
            b"commands" => syslog = values.split(|&b| b == b',').any(|v| v == b"syslog"),
            _ => {}
        }
    }
    match (version, syslog) {
        (false, _) => Err("relp_version offer missing or invalid"),
        (true, false) => Err("required command not supported by client"),
        (true, true) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_offers;

    #[test]
    fn open_needs_a_version_and_the_syslog_command() {
        let librelp = b"relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\n\
                        commands=syslog";
        assert_eq!(check_offers(librelp), Ok(()));
        assert_eq!(
            check_offers(b"commands=eventlog,syslog\nrelp_version=1"),
            Ok(())
        );
        assert!(check_offers(b"commands=syslog").is_err());
        assert!(check_offers(b"relp_version=x\ncommands=syslog").is_err());
        assert!(check_offers(b"relp_version=0\ncommands=eventlog").is_err());
        assert!(check_offers(b"").is_err());
    }
}
