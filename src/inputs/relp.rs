//! The `relp` input: a RELP server (Reliable Event Logging Protocol, what rsyslog's `omrelp`
//! sends), as Logstash's relp input. Main type: [`RelpInput`].
//!
//! Options as Logstash's: `host` (default `0.0.0.0`), `port` (required), `ssl_enable`,
//! `ssl_cert`, `ssl_key`, `ssl_verify`, `ssl_cacert`, `ssl_key_passphrase`; plus
//! `max_data_size` (imrelp's `maxDataSize`, default 128 KiB): longer messages are truncated to
//! it. Each `syslog` frame's data goes through the codec (default `plain`: one event whose
//! `message` is the data); events get the shared options, then `host` = the client's
//! `ip:port`, as Logstash sets it.
//!
//! Every connection is a [`session::Session`] on a task of its own; the frame syntax is in
//! [`frame`], TLS set-up in [`tls`]. A message is acknowledged (`rsp 200 OK`) once its event is
//! in the pipeline's queue, as Logstash does, so a client whose connection breaks sends again
//! whatever was not acknowledged: nothing is lost, though a message may arrive twice.
//!
//! Shutdown stops accepting, lets every session answer what it already queued, tells each
//! client `serverclose`, and returns within a few seconds even if clients stop reading.

mod frame;
mod session;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::Text;

use self::session::{Counters, Session, SessionConfig};
use super::{Input, InputContext, InputError};

/// librelp's default maximum DATALEN (RELP version 1 fixes it at 128K).
const DEFAULT_MAX_DATA_SIZE: usize = 128 * 1024;
/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for sessions to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before accepting again after `accept` failed (e.g. out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// `relp_software` in the `open` answer: name and version, as librelp's `librelp,1.11.0`.
const SOFTWARE: &str = concat!("sluice,", env!("CARGO_PKG_VERSION"));

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_host")]
    host: String,
    port: u16,
    #[serde(default)]
    ssl_enable: bool,
    #[serde(default = "default_true")]
    ssl_verify: bool,
    #[serde(default)]
    ssl_cacert: Option<String>,
    #[serde(default)]
    ssl_cert: Option<String>,
    #[serde(default)]
    ssl_key: Option<String>,
    #[serde(default)]
    ssl_key_passphrase: Option<String>,
    #[serde(default = "default_max_data_size")]
    max_data_size: usize,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

fn default_true() -> bool {
    true
}

fn default_max_data_size() -> usize {
    DEFAULT_MAX_DATA_SIZE
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    if options.max_data_size == 0 {
        return Err(args.error("max_data_size", "relp: max_data_size must be at least 1"));
    }
    let tls = if options.ssl_enable {
        Some(build_tls(args, &options)?)
    } else {
        None
    };
    Ok(Box::new(RelpInput {
        host: options.host,
        port: options.port,
        tls,
        codec,
        config: SessionConfig {
            max_data_size: options.max_data_size,
            software: SOFTWARE,
            counters: Arc::new(Counters::default()),
        },
    }))
}

/// The TLS acceptor for `ssl_enable => true`, or why the options cannot work.
fn build_tls(
    args: &PluginArgs,
    options: &Options,
) -> Result<tokio_native_tls::TlsAcceptor, Diagnostics> {
    if options.ssl_verify {
        return Err(args.error(
            "ssl_verify",
            "relp: ssl_verify => true (the default) asks clients for certificates, which this \
             input cannot verify (native-tls servers do not request client certificates); set \
             ssl_verify => false",
        ));
    }
    if options.ssl_key_passphrase.is_some() {
        return Err(args.error(
            "ssl_key_passphrase",
            "relp: encrypted keys are not supported; decrypt the key \
             (openssl pkcs8 -topk8 -nocrypt) and remove ssl_key_passphrase",
        ));
    }
    if options.ssl_cacert.is_some() {
        // As in Logstash: the CA only serves to verify clients, which ssl_verify => false skips.
        tracing::warn!("relp: ssl_cacert is ignored when ssl_verify => false");
    }
    let (Some(cert), Some(key)) = (&options.ssl_cert, &options.ssl_key) else {
        return Err(args.error(
            "ssl_enable",
            "relp: ssl_enable => true needs ssl_cert and ssl_key",
        ));
    };
    tls::acceptor(cert, key)
        .map(tokio_native_tls::TlsAcceptor::from)
        .map_err(|e| args.error("ssl_key", format!("relp: {e}")))
}

/// The `relp` input: listens on `host:port` and serves every connection as a RELP session.
pub struct RelpInput {
    host: String,
    port: u16,
    tls: Option<tokio_native_tls::TlsAcceptor>,
    codec: Arc<dyn Codec>,
    config: SessionConfig,
}

/// What every connection task shares.
struct Shared {
    tls: Option<tokio_native_tls::TlsAcceptor>,
    codec: Arc<dyn Codec>,
    config: SessionConfig,
}

#[async_trait::async_trait]
impl Input for RelpInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let listener = TcpListener::bind((self.host.as_str(), self.port)).await?;
        tracing::info!(address = %listener.local_addr()?, tls = self.tls.is_some(),
            "relp: listening");
        let shared = Arc::new(Shared {
            tls: self.tls,
            codec: self.codec,
            config: self.config,
        });
        let mut sessions = JoinSet::new();
        accept_loop(&listener, &shared, &ctx, &mut sessions).await;
        drop(listener);
        // Sessions watch the same shutdown: they answer what they queued and close.
        let drain = async { while sessions.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("relp: some connections did not close in time; dropping them");
        }
        log_totals(&shared.config.counters);
        Ok(())
    }
}

/// Accepts connections until shutdown, reaping finished sessions as it goes.
async fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
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
                    sessions.spawn(serve(stream, peer, shared.clone(), ctx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "relp: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// Serves one connection (after the TLS handshake, with `ssl_enable`).
async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, ctx: InputContext) {
    shared
        .config
        .counters
        .connections
        .fetch_add(1, Ordering::Relaxed);
    // Answers are small and the client waits for them.
    let _ = stream.set_nodelay(true);
    // Logstash's `host`: the peer's address and port joined by ':' (no IPv6 brackets).
    let host = Text::from_string(format!("{}:{}", peer.ip(), peer.port()));
    tracing::debug!(peer = %host, "relp: connection accepted");
    let decoder = shared.codec.decoder();
    let Some(acceptor) = &shared.tls else {
        return Session::new(stream, host, &ctx, &shared.config, decoder)
            .run()
            .await;
    };
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        () = ctx.shutdown().requested() => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::warn!(peer = %host, error = %e, "relp: TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::warn!(peer = %host, "relp: TLS handshake timed out");
                return;
            }
        },
    };
    Session::new(stream, host, &ctx, &shared.config, decoder)
        .run()
        .await;
}

fn log_totals(counters: &Counters) {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    tracing::info!(
        connections = get(&counters.connections),
        messages = get(&counters.messages),
        truncated = get(&counters.truncated),
        protocol_errors = get(&counters.protocol_errors),
        io_errors = get(&counters.io_errors),
        "relp: stopped"
    );
}
