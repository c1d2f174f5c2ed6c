//! The `forward` input: a server for fluentd's forward protocol (v1), which is what Docker's
//! `fluentd` log driver, Fluent Bit's and fluentd's `forward` outputs and the fluent-logger
//! libraries speak.
//!
//! ```text
//! input { forward { port => 24224 } }
//! ```
//!
//! All four modes are read (Message, Forward, PackedForward, CompressedPackedForward), in
//! msgpack or JSON; a `chunk` option is acknowledged (`{"ack": chunk}`) once the frame's events
//! are queued. Each record's keys become top-level fields; the entry's time (seconds, or
//! EventTime with nanoseconds) becomes `@timestamp`; the tag is appended to `tags`, as
//! Logstash's `fluent` codec does (`tag_field` puts it elsewhere); the record's `log` (Docker,
//! Fluent Bit) becomes `message` unless the record has a `message` of its own (`log_field`);
//! a record's own `@timestamp` is replaced by the entry's time (as the codec does). Docker's
//! 16 KiB pieces of a long line (`partial_message`, `partial_id`, ...) are joined into one
//! event (`join_partials`); a line whose last piece does not come within `partial_timeout` is
//! sent as it is, tagged `_partial_incomplete` (one longer than `max_message_size`:
//! `_partial_too_long`). Pieces being held are acknowledged before their line is delivered.
//!
//! Options: `host` ("0.0.0.0"), `port` (24224), `tag_field` ("tags"; a field reference, or ""
//! to drop the tag), `log_field` ("log"; "" keeps records as sent), `source_address_field`
//! (none; where the client's IP goes, like fluentd's `source_address_key`),
//! `max_message_size` (16 MiB; the largest frame, and the largest a compressed frame may
//! inflate to), `join_partials` (true), `partial_timeout` (5 seconds), and TLS with the `tcp`
//! input's server options (the shared acceptor of [`crate::inputs::tcp::tls`]):
//! `ssl_enabled`, `ssl_certificate`, `ssl_key` (PKCS#8, PKCS#1 or EC PEM),
//! `ssl_key_passphrase`, `ssl_extra_chain_certs`, `ssl_certificate_authorities`,
//! `ssl_client_authentication` (`none`, `optional`, `required`; `required` by default once
//! authorities are given, as fluentd's `client_cert_auth`), `ssl_supported_protocols`,
//! `ssl_cipher_suites`. Not supported: shared-key authentication (the HELO/PING/PONG
//! handshake), UDP heartbeats, the codec (records are structured already; `codec` is ignored).
//!
//! Bad data never stops the input: a frame that cannot be read closes its connection (logged,
//! counted in [`ForwardStats::protocol_errors`]), other connections go on.
//!
//! Layout: `msgpack` (scanning and reading msgpack), `framing` (cutting a stream into frames),
//! `protocol` (frames to events), `partial` (joining Docker's partial lines), `connection`
//! (one client). This file: options, [`ForwardInput`] and its accept loop.

mod connection;
mod framing;
mod msgpack;
mod partial;
mod protocol;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::FieldRef;
use crate::event::{FieldPath, Text};
use crate::inputs::tcp::tls::{self, ClientAuthentication, TlsAcceptor, TlsError, TlsOptions};

use self::connection::ConnError;
use self::partial::Partials;
use self::protocol::{Shape, TagTarget};
use super::{Input, InputContext, InputError};

/// fluentd's port.
pub const DEFAULT_PORT: u16 = 24224;
const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections get to finish after shutdown is requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The input's options, as written in the config.
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardOptions {
    pub host: String,
    pub port: u16,
    pub tag_field: String,
    pub log_field: String,
    pub source_address_field: Option<String>,
    pub max_message_size: usize,
    pub join_partials: bool,
    pub partial_timeout: f64,
    pub ssl_enabled: bool,
    pub ssl_certificate: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    pub ssl_key_passphrase: Option<String>,
    pub ssl_extra_chain_certs: Vec<PathBuf>,
    pub ssl_certificate_authorities: Vec<PathBuf>,
    pub ssl_client_authentication: Option<ClientAuthentication>,
    pub ssl_supported_protocols: Vec<String>,
    pub ssl_cipher_suites: Vec<String>,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        ForwardOptions {
            host: "0.0.0.0".into(),
            port: DEFAULT_PORT,
            tag_field: "tags".into(),
            log_field: "log".into(),
            source_address_field: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            join_partials: true,
            partial_timeout: 5.0,
            ssl_enabled: false,
            ssl_certificate: None,
            ssl_key: None,
            ssl_key_passphrase: None,
            ssl_extra_chain_certs: Vec::new(),
            ssl_certificate_authorities: Vec::new(),
            ssl_client_authentication: None,
            ssl_supported_protocols: Vec::new(),
            ssl_cipher_suites: Vec::new(),
        }
    }
}

/// Why the options do not make an input.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("tag_field: {0}")]
    TagField(String),
    #[error("source_address_field: {0}")]
    SourceField(String),
    #[error("max_message_size must be at least 1024 bytes")]
    MaxMessageSize,
    #[error("partial_timeout must be a positive number of seconds")]
    PartialTimeout,
    /// The TLS options that cannot work (at least one).
    #[error("{}", join_errors(.0))]
    Tls(Vec<TlsError>),
}

fn join_errors(errors: &[TlsError]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

impl ForwardError {
    /// The option the error is about.
    pub fn option(&self) -> &'static str {
        match self {
            ForwardError::TagField(_) => "tag_field",
            ForwardError::SourceField(_) => "source_address_field",
            ForwardError::MaxMessageSize => "max_message_size",
            ForwardError::PartialTimeout => "partial_timeout",
            ForwardError::Tls(errors) => errors.first().map_or("ssl_enabled", |e| e.option),
        }
    }
}

/// What the input has done, for metrics and tests. Shared by its connections.
#[derive(Debug, Default)]
pub struct ForwardStats {
    pub connections: AtomicU64,
    pub frames: AtomicU64,
    /// Events handed to the pipeline.
    pub events: AtomicU64,
    /// `{"ack": chunk}` answers written.
    pub acks: AtomicU64,
    /// Entries dropped because their time or record had the wrong type.
    pub entries_skipped: AtomicU64,
    /// Connections closed because they sent something that is not the forward protocol.
    pub protocol_errors: AtomicU64,
    /// Events handed on by the partial-line joiner (whole lines, and cut ones).
    pub partials_joined: AtomicU64,
    /// Lines whose last piece never came, given back after `partial_timeout`.
    pub partials_incomplete: AtomicU64,
    /// Connections whose TLS handshake failed (not TLS, a refused client certificate).
    pub tls_failures: AtomicU64,
}

impl ForwardStats {
    /// A counter's value (for tests and metrics).
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What every connection task shares.
struct Shared {
    shape: Shape,
    partials: Option<Mutex<Partials>>,
    partial_timeout: Duration,
    stats: Arc<ForwardStats>,
    tls: Option<TlsAcceptor>,
}

pub fn build(args: &PluginArgs, _codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: ForwardOptions = args.options()?;
    match ForwardInput::new(options) {
        Ok(input) => Ok(Box::new(input)),
        Err(ForwardError::Tls(errors)) => Err(tls::diagnostics(args, &errors)),
        Err(e) => Err(args.error(e.option(), format!("forward: {e}"))),
    }
}

/// The forward input. Binds in [`Input::run`], or earlier with [`ForwardInput::bind`].
pub struct ForwardInput {
    shared: Arc<Shared>,
    host: String,
    port: u16,
    listener: Option<std::net::TcpListener>,
}

impl ForwardInput {
    pub fn new(options: ForwardOptions) -> Result<ForwardInput, ForwardError> {
        if options.max_message_size < 1024 {
            return Err(ForwardError::MaxMessageSize);
        }
        if !(options.partial_timeout > 0.0 && options.partial_timeout < 1e9) {
            return Err(ForwardError::PartialTimeout);
        }
        let shape = Shape {
            tag: tag_target(&options.tag_field)?,
            log_field: (!options.log_field.is_empty()).then(|| Text::new(&options.log_field)),
            source_field: options
                .source_address_field
                .as_deref()
                .map(|f| field_path(f).map_err(ForwardError::SourceField))
                .transpose()?,
            max_message_size: options.max_message_size,
        };
        let partial_timeout = Duration::from_secs_f64(options.partial_timeout);
        let partials = options.join_partials.then(|| {
            let field = if shape.log_field.is_some() {
                Text::from_static("message")
            } else {
                Text::from_static("log")
            };
            Mutex::new(Partials::new(
                field,
                options.max_message_size,
                partial_timeout,
            ))
        });
        Ok(ForwardInput {
            shared: Arc::new(Shared {
                shape,
                partials,
                partial_timeout,
                stats: Arc::default(),
                tls: tls_acceptor(&options)?,
            }),
            host: options.host,
            port: options.port,
            listener: None,
        })
    }

    /// Binds the listening socket now (port 0: any free port) and returns its address.
    pub fn bind(&mut self) -> std::io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind((self.host.as_str(), self.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        self.listener = Some(listener);
        Ok(addr)
    }

    pub fn stats(&self) -> Arc<ForwardStats> {
        self.shared.stats.clone()
    }
}

/// `tags` (append, as Logstash's fluent codec), `""` (drop) or a field reference.
fn tag_target(tag_field: &str) -> Result<TagTarget, ForwardError> {
    match tag_field {
        "" => Ok(TagTarget::Drop),
        "tags" | "[tags]" => Ok(TagTarget::Tags),
        other => field_path(other)
            .map(TagTarget::Field)
            .map_err(ForwardError::TagField),
    }
}

/// A constant field reference (no `%{}`: the field is the same for every event).
fn field_path(reference: &str) -> Result<FieldPath, String> {
    if reference.contains("%{") {
        return Err(format!("{reference:?} must be a plain field reference"));
    }
    FieldRef::parse(reference)?;
    FieldPath::parse(reference).map_err(|e| e.to_string())
}

/// The acceptor for `ssl_enabled`; `ssl_*` options without it are an error.
fn tls_acceptor(options: &ForwardOptions) -> Result<Option<TlsAcceptor>, ForwardError> {
    let paths = |list: &[PathBuf]| list.iter().map(|p| p.display().to_string()).collect();
    let tls = TlsOptions {
        enabled: options.ssl_enabled,
        certificate: options
            .ssl_certificate
            .as_ref()
            .map(|p| p.display().to_string()),
        key: options.ssl_key.as_ref().map(|p| p.display().to_string()),
        key_passphrase: options.ssl_key_passphrase.clone(),
        extra_chain_certs: paths(&options.ssl_extra_chain_certs),
        certificate_authorities: paths(&options.ssl_certificate_authorities),
        client_authentication: options.ssl_client_authentication,
        supported_protocols: options.ssl_supported_protocols.clone(),
        cipher_suites: options.ssl_cipher_suites.clone(),
        ..TlsOptions::default()
    };
    if !options.ssl_enabled {
        let unused: Vec<TlsError> = tls
            .unused()
            .into_iter()
            .map(|option| TlsError {
                option,
                message: "needs ssl_enabled => true".into(),
            })
            .collect();
        return if unused.is_empty() {
            Ok(None)
        } else {
            Err(ForwardError::Tls(unused))
        };
    }
    TlsAcceptor::build(&tls)
        .map(Some)
        .map_err(ForwardError::Tls)
}

#[async_trait::async_trait]
impl Input for ForwardInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let ForwardInput {
            shared,
            host,
            port,
            listener,
        } = *self;
        let listener = match listener {
            Some(listener) => TcpListener::from_std(listener)?,
            None => TcpListener::bind((host.as_str(), port))
                .await
                .map_err(|e| {
                    InputError::Other(format!("forward: cannot listen on {host}:{port}: {e}"))
                })?,
        };
        tracing::info!(address = ?listener.local_addr().ok(), "forward: listening");
        let mut connections = JoinSet::new();
        accept_loop(&listener, &shared, &ctx, &mut connections).await;
        drop(listener);
        // Connections watch the same shutdown; give them a moment to finish their sends.
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
        flush_partials(&shared, &ctx, true).await;
        Ok(())
    }
}

async fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    ctx: &InputContext,
    connections: &mut JoinSet<()>,
) {
    let mut reap = tokio::time::interval((shared.partial_timeout / 2).min(Duration::from_secs(1)));
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ctx.shutdown().requested() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                    let shared = shared.clone();
                    let ctx = ctx.clone();
                    connections.spawn(async move { connection(stream, peer, &shared, &ctx).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "forward: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = reap.tick(), if shared.partials.is_some() => {
                flush_partials(shared, ctx, false).await;
            }
        }
    }
}

/// Runs one connection (TLS first, when enabled) and logs how it ended.
async fn connection(mut stream: TcpStream, peer: SocketAddr, shared: &Shared, ctx: &InputContext) {
    // Acks should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let source = Text::from_string(peer.ip().to_string());
    let Some(acceptor) = &shared.tls else {
        let result = connection::serve(&mut stream, &source, shared, ctx).await;
        // Reported before the socket closes, so a client that sees the close sees the count.
        return report(result, peer, shared);
    };
    match acceptor.accept_within(stream, HANDSHAKE_TIMEOUT).await {
        Ok(mut tls) => {
            let result = connection::serve(&mut tls, &source, shared, ctx).await;
            report(result, peer, shared);
        }
        Err(e) => {
            shared.stats.tls_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(client = %peer, error = %e, "forward: TLS handshake failed");
        }
    }
}

fn report(result: Result<(), ConnError>, peer: SocketAddr, shared: &Shared) {
    match result {
        Ok(()) | Err(ConnError::Shutdown) | Err(ConnError::Closed) => {}
        Err(e) if e.is_protocol() => {
            shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(client = %peer, error = %e, "forward: closing the connection");
        }
        Err(e) => tracing::debug!(client = %peer, error = %e, "forward: connection ended"),
    }
}

/// Sends the lines whose last piece has not come in time (all of them at shutdown).
async fn flush_partials(shared: &Shared, ctx: &InputContext, all: bool) {
    let Some(partials) = &shared.partials else {
        return;
    };
    let events = {
        let mut held = partials.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_empty() {
            return;
        }
        held.expire(Instant::now(), all)
    };
    if events.is_empty() {
        return;
    }
    let n = events.len() as u64;
    shared
        .stats
        .partials_incomplete
        .fetch_add(n, Ordering::Relaxed);
    let batch = crate::event::Batch::new(events);
    let sent = if all {
        // At shutdown the pipeline is draining, so this does not wait long; bound it anyway.
        tokio::time::timeout(DRAIN_TIMEOUT, ctx.send(batch))
            .await
            .unwrap_or(Err(InputError::Closed))
    } else {
        tokio::select! {
            sent = ctx.send(batch) => sent,
            () = ctx.shutdown().requested() => Err(InputError::Closed),
        }
    };
    if sent.is_ok() {
        shared.stats.events.fetch_add(n, Ordering::Relaxed);
    }
}
