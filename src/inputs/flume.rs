//! The `flume` input: an Avro RPC server for Flume's Avro sink (what Flume's own Avro source
//! is). Main type: [`FlumeInput`].
//!
//! Options: `host` (default `0.0.0.0`), `port` (required), `compression_type` (`"none"`, the
//! default, or `"deflate"`: the Avro sink's `compression-type = deflate`, a zlib stream each
//! way), `max_frame_size` (default 64 MiB: a larger frame ends its connection before its
//! bytes are buffered), `headers_target` (default `[flume][headers]`); TLS with the tcp
//! input's `ssl_enabled`, `ssl_certificate`, `ssl_key`, `ssl_key_passphrase`,
//! `ssl_certificate_authorities` and `ssl_client_authentication` (the shared acceptor of
//! [`crate::inputs::tcp::tls`]; Flume's sink has `ssl`, `truststore` and `trust-all-certs`).
//!
//! Each `AvroFlumeEvent` body goes through the codec (default `plain`: `message` is the body);
//! its headers (all strings) go to `headers_target` as a map (left out when there are none),
//! and Flume's `timestamp` header (epoch milliseconds, set by Flume's timestamp interceptor)
//! becomes `@timestamp` when it is a number. The shared options apply after that.
//!
//! A call is answered `OK` only once all its events are in the pipeline's queue, and `FAILED`
//! when they could not be queued (shutdown), so Flume keeps them in its channel and sends
//! them again. Delivery is at least once: an `appendBatch` larger than the pipeline's batch
//! size is queued in several batches, and when a later one is refused the earlier ones stay
//! queued; a sink whose `request-timeout` (20 s in Flume) passes while the queue is full also
//! sends its batch again. A malformed frame or call (bad counts, lengths over
//! `max_frame_size`, bytes that are not Avro) closes that connection only; an unknown message
//! gets an Avro error answer. The handshake follows Avro's responder: `NONE` for an unknown
//! client hash without a protocol, `CLIENT` (with the server's protocol and hash) for a wrong
//! server hash, else `BOTH`; the server hash is the MD5 of `avro::PROTOCOL`.
//!
//! The wire format: Netty framing in `frame`, the Avro encoding, protocol and handshake in
//! `avro`, one connection in `session`.

mod avro;
mod frame;
mod session;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::codecs::Codec;
use crate::config::options::OneOrMany;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::FieldPath;
use crate::inputs::tcp::tls::{self, ClientAuthentication, TlsAcceptor, TlsOptions};

use self::session::{Counters, Session, SessionConfig};
use super::{Input, InputContext, InputError};

/// The default `max_frame_size`: far above what Flume's sink sends (a batch of 100 events).
const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;
/// How long shutdown waits for connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before accepting again after `accept` failed (e.g. out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CompressionType {
    None,
    Deflate,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_host")]
    host: String,
    port: u16,
    #[serde(default = "default_compression")]
    compression_type: CompressionType,
    #[serde(default = "default_max_frame_size")]
    max_frame_size: usize,
    #[serde(default = "default_headers_target")]
    headers_target: String,
    #[serde(default)]
    ssl_enabled: bool,
    #[serde(default)]
    ssl_certificate: Option<String>,
    #[serde(default)]
    ssl_key: Option<String>,
    #[serde(default)]
    ssl_key_passphrase: Option<String>,
    #[serde(default)]
    ssl_certificate_authorities: OneOrMany<String>,
    #[serde(default)]
    ssl_client_authentication: Option<ClientAuthentication>,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

fn default_compression() -> CompressionType {
    CompressionType::None
}

fn default_max_frame_size() -> usize {
    DEFAULT_MAX_FRAME_SIZE
}

fn default_headers_target() -> String {
    "[flume][headers]".to_string()
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    if options.max_frame_size < 16 {
        return Err(args.error(
            "max_frame_size",
            "flume: max_frame_size must be at least 16",
        ));
    }
    let headers_target = FieldPath::parse(&options.headers_target)
        .map_err(|e| args.error("headers_target", format!("flume: headers_target: {e}")))?;
    let tls = tls::acceptor(args, &tls_options(&options))?;
    let server_hash = avro::protocol_hash();
    Ok(Box::new(FlumeInput {
        host: options.host,
        port: options.port,
        tls: tls.map(Arc::new),
        codec,
        config: Arc::new(SessionConfig {
            max_frame_size: options.max_frame_size,
            deflate: options.compression_type == CompressionType::Deflate,
            headers_target,
            known: Mutex::new(HashSet::from([server_hash])),
            server_hash,
            counters: Counters::default(),
        }),
    }))
}

fn tls_options(options: &Options) -> TlsOptions {
    TlsOptions {
        enabled: options.ssl_enabled,
        certificate: options.ssl_certificate.clone(),
        key: options.ssl_key.clone(),
        key_passphrase: options.ssl_key_passphrase.clone(),
        certificate_authorities: options.ssl_certificate_authorities.clone(),
        client_authentication: options.ssl_client_authentication,
        ..TlsOptions::default()
    }
}

/// The `flume` input: listens on `host:port` and serves every connection as an Avro RPC
/// session.
pub struct FlumeInput {
    host: String,
    port: u16,
    tls: Option<Arc<TlsAcceptor>>,
    codec: Arc<dyn Codec>,
    config: Arc<SessionConfig>,
}

#[async_trait::async_trait]
impl Input for FlumeInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let listener = TcpListener::bind((self.host.as_str(), self.port)).await?;
        tracing::info!(address = %listener.local_addr()?, deflate = self.config.deflate,
            tls = self.tls.is_some(), "flume: listening");
        let mut sessions = JoinSet::new();
        self.accept_loop(&listener, &ctx, &mut sessions).await;
        drop(listener);
        // Sessions watch the same shutdown: they answer what they queued and close.
        let drain = async { while sessions.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("flume: some connections did not close in time; dropping them");
        }
        log_totals(&self.config.counters);
        Ok(())
    }
}

impl FlumeInput {
    /// Accepts connections until shutdown, reaping finished sessions as it goes.
    async fn accept_loop(
        &self,
        listener: &TcpListener,
        ctx: &InputContext,
        sessions: &mut JoinSet<()>,
    ) {
        let shutdown = ctx.shutdown().clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.requested() => return,
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let decoder = self.codec.decoder();
                        let config = self.config.clone();
                        let ctx = ctx.clone();
                        let peer = peer.to_string();
                        let tls = self.tls.clone();
                        sessions.spawn(async move {
                            serve(stream, peer, tls, ctx, config, decoder).await
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "flume: accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        }
    }
}

/// Serves one connection (after the TLS handshake, with `ssl_enabled`).
async fn serve(
    stream: TcpStream,
    peer: String,
    tls: Option<Arc<TlsAcceptor>>,
    ctx: InputContext,
    config: Arc<SessionConfig>,
    decoder: Box<dyn crate::codecs::Decoder>,
) {
    config.counters.connections.fetch_add(1, Ordering::Relaxed);
    // Answers are small and the client waits for them.
    let _ = stream.set_nodelay(true);
    tracing::debug!(peer = %peer, "flume: connection accepted");
    let Some(acceptor) = tls else {
        return Session::new(stream, peer, &ctx, config, decoder)
            .run()
            .await;
    };
    let handshake = acceptor.accept_within(stream, TLS_HANDSHAKE_TIMEOUT);
    let stream = tokio::select! {
        () = ctx.shutdown().requested() => return,
        done = handshake => match done {
            Ok(stream) => stream,
            Err(e) => {
                config.counters.io_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer, error = %e, "flume: TLS handshake failed");
                return;
            }
        },
    };
    Session::new(stream, peer, &ctx, config, decoder)
        .run()
        .await;
}

fn log_totals(counters: &Counters) {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    tracing::info!(
        connections = get(&counters.connections),
        calls = get(&counters.calls),
        events = get(&counters.events),
        failed_calls = get(&counters.failed_calls),
        protocol_errors = get(&counters.protocol_errors),
        io_errors = get(&counters.io_errors),
        "flume: stopped"
    );
}
