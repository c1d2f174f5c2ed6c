//! The `syslog` input: syslog messages over TCP and UDP on one port at once, as Logstash's
//! listens; [`SyslogInput`] is the built input.
//!
//! Each UDP datagram, and each TCP frame, is one message; TCP framing is detected per frame
//! (octet-counted `LEN SP MSG` when the frame starts with digits and a space, else
//! LF-delimited; a trailing CR or NUL is dropped), as rsyslog's receiver does. The message goes
//! through the codec (default `plain`; it gets one frame at a time, without delimiter), then
//! each event gets `type`/`tags`/`add_field`, the sender's address (`host`, or `[host][ip]`
//! under ECS), and is parsed ([`relay::Relay`], with [`parse::parse`]): RFC 3164 with BSD or
//! ISO8601 timestamps, and RFC 5424.
//!
//! Options (Logstash's): `host` (`0.0.0.0`), `port` (514), `syslog_field` (`message`),
//! `grok_pattern` (parsed by the real grok and date filters), `use_labels`, `facility_labels`,
//! `severity_labels`, `timezone`, `locale` (English month names only, unless with
//! `grok_pattern`), `service_type`, `proxy_protocol` (TCP), `ecs_compatibility`. Ours:
//! `max_message_size` (1 MiB: a longer TCP frame is cut to it, counted in
//! [`NetStats::oversized`], logged at most once a second), `receive_buffer_bytes`,
//! `tcp_keep_alive`, and TLS on the TCP side with the `tcp` input's `ssl_*` options, client
//! certificates included (Logstash's syslog input has no TLS; no subject field is added).
//!
//! Submodules: `parse` (the line parser), `relay` (fields, labels, custom patterns).

pub mod parse;
pub mod relay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::codecs::{Codec, Decoder};
use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, Text};

use super::tcp::framing::{Framer, FramerOptions, Oversize};
use super::tcp::listener::{self, Connection, Connections, Peer, ServerSettings};
use super::tcp::stats::{NetStats, Throttle};
use super::tcp::tls::{self, ClientAuthentication, TlsOptions};
use super::udp::{self, DatagramWorker, Datagrams, IpCache, UdpSettings};
use super::{Input, InputContext, InputError};
use relay::{Relay, RelayOptions, RelayState};

/// The default `max_message_size` of the `syslog` input (TCP frames).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// The longest UDP datagram read whole (Logstash's `recvfrom(65507)`, the UDP maximum).
const UDP_BUFFER_SIZE: usize = 65535;
/// Datagrams waiting for the decoding tasks before more are dropped (the `udp` input's
/// defaults).
const UDP_QUEUE_SIZE: usize = 2000;
const UDP_WORKERS: usize = 2;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_syslog_field")]
    syslog_field: String,
    #[serde(default)]
    grok_pattern: Option<String>,
    #[serde(default)]
    proxy_protocol: bool,
    #[serde(default = "default_true")]
    use_labels: bool,
    #[serde(default)]
    facility_labels: Option<Vec<String>>,
    #[serde(default)]
    severity_labels: Option<Vec<String>>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default = "default_service_type")]
    service_type: String,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
    #[serde(default)]
    max_message_size: Option<usize>,
    #[serde(default)]
    receive_buffer_bytes: Option<u32>,
    #[serde(default)]
    tcp_keep_alive: bool,
    #[serde(default)]
    ssl_enabled: bool,
    #[serde(default)]
    ssl_certificate: Option<String>,
    #[serde(default)]
    ssl_key: Option<String>,
    #[serde(default)]
    ssl_key_passphrase: Option<String>,
    #[serde(default)]
    ssl_extra_chain_certs: OneOrMany<String>,
    #[serde(default)]
    ssl_certificate_authorities: OneOrMany<String>,
    #[serde(default)]
    ssl_client_authentication: Option<ClientAuthentication>,
    #[serde(default)]
    ssl_supported_protocols: OneOrMany<String>,
    #[serde(default)]
    ssl_cipher_suites: OneOrMany<String>,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

fn default_port() -> u16 {
    514
}

fn default_syslog_field() -> String {
    "message".to_string()
}

fn default_true() -> bool {
    true
}

fn default_service_type() -> String {
    "system".to_string()
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    Ok(Box::new(build_syslog(args, codec)?))
}

/// Builds the input itself (for callers that want [`SyslogInput::stats`] or its relay).
pub fn build_syslog(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<SyslogInput, Diagnostics> {
    let options: Options = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let mut errors = Diagnostics::default();
    let max_message_size = options.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
    if max_message_size == 0 {
        errors.extend(args.error(
            "max_message_size",
            "syslog: max_message_size must be at least 1",
        ));
    }
    let tls = tls::acceptor(args, &tls_options(&options)).map_err(|e| errors.extend(e));
    let relay = Relay::build(
        args,
        RelayOptions {
            ecs,
            syslog_field: options.syslog_field.clone(),
            grok_pattern: options.grok_pattern.clone(),
            use_labels: options.use_labels,
            facility_labels: options.facility_labels.clone(),
            severity_labels: options.severity_labels.clone(),
            timezone: options.timezone.clone(),
            locale: options.locale.clone(),
            service_type: options.service_type.clone(),
        },
    )
    .map_err(|e| errors.extend(e));
    let (Ok(tls), Ok(relay), true) = (tls, relay, errors.is_empty()) else {
        return Err(errors);
    };
    let stats = Arc::new(NetStats::default());
    let shared = Arc::new(Shared {
        codec,
        relay,
        max_message_size,
        stats: stats.clone(),
        throttle: Throttle::default(),
    });
    Ok(SyslogInput {
        host: options.host,
        port: options.port,
        receive_buffer_bytes: options.receive_buffer_bytes,
        keep_alive: options.tcp_keep_alive,
        settings: ServerSettings {
            name: "syslog",
            tls,
            proxy_protocol: options.proxy_protocol,
        },
        shared,
        stats,
    })
}

fn tls_options(options: &Options) -> TlsOptions {
    TlsOptions {
        enabled: options.ssl_enabled,
        certificate: options.ssl_certificate.clone(),
        key: options.ssl_key.clone(),
        key_passphrase: options.ssl_key_passphrase.clone(),
        extra_chain_certs: options.ssl_extra_chain_certs.clone(),
        certificate_authorities: options.ssl_certificate_authorities.clone(),
        client_authentication: options.ssl_client_authentication,
        supported_protocols: options.ssl_supported_protocols.clone(),
        cipher_suites: options.ssl_cipher_suites.clone(),
        ..TlsOptions::default()
    }
}

/// The `syslog` input, built.
pub struct SyslogInput {
    host: String,
    port: u16,
    receive_buffer_bytes: Option<u32>,
    keep_alive: bool,
    settings: ServerSettings,
    shared: Arc<Shared>,
    stats: Arc<NetStats>,
}

impl SyslogInput {
    /// The input's counters and, once it runs, its addresses.
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }

    /// The per-event processing (to parse events without the network, e.g. in tests).
    pub fn relay(&self) -> &Relay {
        &self.shared.relay
    }
}

#[async_trait::async_trait]
impl Input for SyslogInput {
    /// Binds TCP, then UDP on the same port (the one TCP got, for port 0), and serves both.
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let SyslogInput {
            host,
            port,
            receive_buffer_bytes,
            keep_alive,
            settings,
            shared,
            stats,
        } = *self;
        let cannot = |proto: &str, e: std::io::Error| {
            InputError::Other(format!(
                "syslog: cannot listen on {proto} {host}:{port}: {e}"
            ))
        };
        let tcp = listener::bind(&host, port, receive_buffer_bytes, keep_alive)
            .await
            .map_err(|e| cannot("TCP", e))?;
        let tcp_addr = tcp.local_addr()?;
        let udp = udp::bind_udp(&host, tcp_addr.port(), receive_buffer_bytes)
            .await
            .map_err(|e| cannot("UDP", e))?;
        let udp_addr: SocketAddr = udp.local_addr()?;
        stats.set_tcp_addr(tcp_addr);
        stats.set_udp_addr(udp_addr);
        tracing::info!(
            "syslog: listening on TCP {tcp_addr}{} and UDP {udp_addr}",
            if settings.tls.is_some() { " (TLS)" } else { "" }
        );
        let udp_settings = UdpSettings {
            name: "syslog",
            buffer_size: UDP_BUFFER_SIZE,
            workers: UDP_WORKERS,
            queue_size: UDP_QUEUE_SIZE,
        };
        let tcp_side = listener::serve(tcp, settings, shared.clone(), ctx.clone(), stats.clone());
        let udp_side = udp::serve_udp(udp, udp_settings, shared, ctx, stats);
        tokio::try_join!(tcp_side, udp_side).map(|_| ())
    }
}

/// What every connection and UDP worker of one input shares.
struct Shared {
    codec: Arc<dyn Codec>,
    relay: Relay,
    max_message_size: usize,
    stats: Arc<NetStats>,
    throttle: Throttle,
}

impl Shared {
    /// Logstash's order for each decoded event: shared options, sender address, parsing.
    fn finish_events(
        &self,
        ctx: &InputContext,
        events: &mut [Event],
        ip: &Text,
        state: &mut RelayState,
    ) {
        ctx.decorate(events);
        for event in events.iter_mut() {
            self.relay.set_source(event, ip);
            self.relay.apply(event, state);
        }
    }

    fn oversized(&self, n: u64, ip: &Text) {
        NetStats::add(&self.stats.oversized, n);
        if self.throttle.ready() {
            tracing::warn!(
                "syslog: a frame from {ip} was longer than max_message_size ({} bytes) and was \
                 truncated ({} so far)",
                self.max_message_size,
                NetStats::get(&self.stats.oversized)
            );
        }
    }
}

impl Connections for Shared {
    type Connection = SyslogConnection;

    fn open(self: Arc<Self>, peer: &Peer) -> SyslogConnection {
        SyslogConnection {
            framer: Framer::new(FramerOptions {
                octet_counting: true,
                syslog_trim: true,
                max_size: self.max_message_size,
                oversize: Oversize::Truncate,
            }),
            decoder: self.codec.decoder(),
            state: self.relay.state(crate::event::Timestamp::now()),
            ip: peer.ip.clone(),
            shared: self,
        }
    }
}

/// One TCP client's framing, decoding and parsing state.
pub struct SyslogConnection {
    shared: Arc<Shared>,
    framer: Framer,
    decoder: Box<dyn Decoder>,
    state: RelayState,
    ip: Text,
}

impl Connection for SyslogConnection {
    fn receive(&mut self, chunk: Bytes, ctx: &InputContext, out: &mut Vec<Event>) {
        let now = ctx.now();
        self.state.set_now(now);
        let start = out.len();
        let decoder = &mut self.decoder;
        let oversized = self
            .framer
            .push(chunk, &mut |frame| decoder.decode(frame, now, out));
        if oversized > 0 {
            self.shared.oversized(oversized, &self.ip);
        }
        self.shared
            .finish_events(ctx, &mut out[start..], &self.ip, &mut self.state);
    }

    fn finish(&mut self, ctx: &InputContext, out: &mut Vec<Event>) {
        let now = ctx.now();
        let start = out.len();
        let decoder = &mut self.decoder;
        let oversized = self
            .framer
            .finish(&mut |frame| decoder.decode(frame, now, out));
        if oversized > 0 {
            self.shared.oversized(oversized, &self.ip);
        }
        self.decoder.flush(now, out);
        self.shared
            .finish_events(ctx, &mut out[start..], &self.ip, &mut self.state);
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.decoder.idle_flush()
    }

    fn idle(&mut self, ctx: &InputContext, out: &mut Vec<Event>) {
        let start = out.len();
        self.decoder.flush(ctx.now(), out);
        self.shared
            .finish_events(ctx, &mut out[start..], &self.ip, &mut self.state);
    }
}

impl Datagrams for Shared {
    type Worker = SyslogWorker;

    fn worker(self: Arc<Self>) -> SyslogWorker {
        SyslogWorker {
            decoder: self.codec.decoder(),
            state: self.relay.state(crate::event::Timestamp::now()),
            ips: IpCache::default(),
            shared: self,
        }
    }
}

/// One UDP decoding task's state.
pub struct SyslogWorker {
    shared: Arc<Shared>,
    decoder: Box<dyn Decoder>,
    state: RelayState,
    ips: IpCache,
}

impl DatagramWorker for SyslogWorker {
    fn receive(
        &mut self,
        mut datagram: Bytes,
        from: SocketAddr,
        ctx: &InputContext,
        out: &mut Vec<Event>,
    ) {
        let now = ctx.now();
        self.state.set_now(now);
        let kept = datagram
            .iter()
            .rposition(|&b| !matches!(b, b'\n' | b'\r' | b'\0'))
            .map_or(0, |i| i + 1);
        datagram.truncate(kept);
        if datagram.is_empty() {
            return;
        }
        let start = out.len();
        self.decoder.decode(datagram, now, out);
        self.decoder.flush(now, out);
        let ip = self.ips.text(from.ip());
        self.shared
            .finish_events(ctx, &mut out[start..], &ip, &mut self.state);
    }
}
