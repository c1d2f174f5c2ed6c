//! The `relp` input: a RELP server (Reliable Event Logging Protocol, what rsyslog's `omrelp`
//! sends), as Logstash's relp input. Main type: [`RelpInput`].
//!
//! Options as Logstash's: `host` (default `0.0.0.0`), `port` (required), `ssl_enable`,
//! `ssl_cert`, `ssl_key`, `ssl_key_passphrase`, `ssl_verify` (default true), `ssl_cacert`;
//! plus `max_data_size` (imrelp's `maxDataSize`, default 128 KiB): longer messages are
//! truncated to it. Each `syslog` frame's data goes through the codec (default `plain`: one
//! event whose `message` is the data); events get the shared options, then `host` = the
//! client's `ip:port`, as Logstash sets it.
//!
//! TLS (`ssl_enable`) is the shared acceptor of [`crate::inputs::tcp::tls`]: keys in PKCS#8,
//! PKCS#1 or EC form, encrypted ones with `ssl_key_passphrase`. With `ssl_verify` (Logstash's
//! default) every client must present a certificate that chains to `ssl_cacert` (a PEM file or
//! a directory of them) or, as in Logstash, to the system's CAs; `ssl_cacert` is required then
//! (without it any publicly issued certificate would do). Events then get `sslsubject`, the
//! client certificate's subject as Ruby writes it (`/C=US/O=Example/CN=client`).
//!
//! Every connection is a [`session::Session`] on a task of its own; the frame syntax is in
//! [`frame`]. A message is acknowledged (`rsp 200 OK`) once its event is
//! in the pipeline's queue, as Logstash does, so a client whose connection breaks sends again
//! whatever was not acknowledged: nothing is lost, though a message may arrive twice.
//!
//! Shutdown stops accepting, lets every session answer what it already queued, tells each
//! client `serverclose`, and returns within a few seconds even if clients stop reading.

mod frame;
mod session;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::Text;
use crate::inputs::tcp::tls::{self, ClientAuthentication, TlsAcceptor, TlsField, TlsOptions};

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
fn build_tls(args: &PluginArgs, options: &Options) -> Result<TlsAcceptor, Diagnostics> {
    if !options.ssl_verify && options.ssl_cacert.is_some() {
        // As in Logstash: the CA only serves to verify clients, which ssl_verify => false skips.
        tracing::warn!("relp: ssl_cacert is ignored when ssl_verify => false");
    }
    let auth = if options.ssl_verify {
        ClientAuthentication::Required
    } else {
        ClientAuthentication::None
    };
    let tls = TlsOptions {
        enabled: true,
        certificate: options.ssl_cert.clone(),
        key: options.ssl_key.clone(),
        key_passphrase: options.ssl_key_passphrase.clone(),
        certificate_authorities: options
            .ssl_cacert
            .iter()
            .filter(|_| options.ssl_verify)
            .cloned()
            .collect(),
        client_authentication: Some(auth),
        trust_system_authorities: options.ssl_verify,
        names: option_name,
        ..TlsOptions::default()
    };
    TlsAcceptor::build(&tls).map_err(|errors| tls::diagnostics(args, &errors))
}

/// Logstash's relp names for the TLS options.
fn option_name(field: TlsField) -> &'static str {
    match field {
        TlsField::Enabled => "ssl_enable",
        TlsField::Certificate => "ssl_cert",
        TlsField::CertificateAuthorities => "ssl_cacert",
        TlsField::ClientAuthentication => "ssl_verify",
        other => other.logstash_name(),
    }
}

/// The `relp` input: listens on `host:port` and serves every connection as a RELP session.
pub struct RelpInput {
    host: String,
    port: u16,
    tls: Option<TlsAcceptor>,
    codec: Arc<dyn Codec>,
    config: SessionConfig,
}

/// What every connection task shares.
struct Shared {
    tls: Option<TlsAcceptor>,
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
    let handshake = acceptor.accept_within(stream, HANDSHAKE_TIMEOUT);
    let stream = tokio::select! {
        () = ctx.shutdown().requested() => return,
        done = handshake => match done {
            Ok(stream) => stream,
            Err(e) => {
                shared.config.counters.tls_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %host, error = %e, "relp: TLS handshake failed");
                return;
            }
        },
    };
    // Logstash's `sslsubject`, with `ssl_verify` (the handshake made sure there is one).
    let subject = acceptor
        .verifies_clients()
        .then(|| tls::client_certificate(&stream))
        .flatten()
        .map(|c| Text::from_string(tls::subject_oneline(&c)));
    Session::new(stream, host, &ctx, &shared.config, decoder)
        .with_subject(subject)
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
        tls_failures = get(&counters.tls_failures),
        io_errors = get(&counters.io_errors),
        "relp: stopped"
    );
}
