//! The `tcp` input (server mode): events from TCP clients, decoded by the codec (default
//! `line`), with the client's address in each event. [`TcpInput`] is the built input.
//!
//! Options (Logstash's): `host` (`0.0.0.0`), `port` (required), `proxy_protocol`,
//! `tcp_keep_alive`, `dns_reverse_lookup_enabled`, `ecs_compatibility`, the `ssl_*` server
//! options of [`tls`]; and ours: `max_message_size` (10 MiB: the longest line kept; a longer one
//! is dropped, counted in [`NetStats::oversized`] and logged at most once a second) and
//! `receive_buffer_bytes` (`SO_RCVBUF`). `mode => client` is not supported.
//!
//! As Logstash does (`fix_streaming_codecs`), codecs that decode whole chunks (`plain`,
//! `json`) get one line at a time, cut at LF (a CR before it is kept, as the `line` codec
//! keeps it); streaming codecs (`line`, `json_lines`, `multiline`) get the bytes as read, and
//! their `Decoder::idle_flush` is honoured per connection. Which kind a codec is, is found
//! once at build time by feeding a throwaway decoder (a codec that makes an event of `x` with
//! no delimiter decodes chunks). Memory stays bounded for streaming codecs too: when more than
//! `max_message_size` bytes follow the last LF (the last event, for codecs not cut at LF), the
//! connection's decoder is replaced and the rest of that line skipped.
//!
//! Fields, set unless the event already has them, before `type`/`tags`/`add_field`:
//!
//! | | `ecs_compatibility => disabled` | v1, v8 |
//! |---|---|---|
//! | client address | `host` | `[@metadata][input][tcp][source][name]` |
//! | client address | `[@metadata][ip_address]` | `[@metadata][input][tcp][source][ip]` |
//! | client port | `port` | `[@metadata][input][tcp][source][port]` |
//! | proxy (PROXY header) | `proxy_host`, `proxy_port` | `[@metadata][input][tcp][proxy][ip]`, `[...][port]` |
//! | client certificate subject | `sslsubject` | `[@metadata][input][tcp][tls][client][subject]` |
//!
//! The subject is set when `ssl_client_authentication` is `optional` or `required` and the
//! client sent a (verified) certificate, written as Java's `X500Principal.getName()` writes it
//! (RFC 2253: `CN=client,O=Example`), as Logstash's does.
//!
//! Logstash puts the client's host name in `host` (reverse DNS, on by default); sluice never
//! looks names up: it is the address.
//!
//! Submodules, shared with the `syslog` and `udp` inputs: `listener` (accepting, reading,
//! batching), `framing` (LF and octet-counted frames with a size limit), `tls`, `stats`.

pub mod framing;
pub mod listener;
pub mod stats;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::codecs::{Codec, Decoder};
use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, Map, Text, Timestamp, Value};

use super::{Input, InputContext, InputError};
use framing::{Framer, FramerOptions, Oversize};
use listener::{Connection, Connections, Peer, ServerSettings};
pub use stats::NetStats;
use stats::Throttle;
use tls::{ClientAuthentication, TlsOptions};

/// The default `max_message_size` of the `tcp` input.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_host")]
    host: String,
    port: u16,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    proxy_protocol: bool,
    #[serde(default)]
    tcp_keep_alive: bool,
    #[serde(default)]
    dns_reverse_lookup_enabled: Option<bool>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
    #[serde(default)]
    max_message_size: Option<usize>,
    #[serde(default)]
    receive_buffer_bytes: Option<u32>,
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
    /// Obsolete or client-mode only: refused with a message (see [`build_tcp`]).
    #[serde(default, rename = "ssl_verification_mode")]
    _ssl_verification_mode: Option<IgnoredAny>,
    /// Obsolete or client-mode only: refused with a message (see [`build_tcp`]).
    #[serde(default, rename = "ssl_enable")]
    _ssl_enable: Option<IgnoredAny>,
    /// Obsolete or client-mode only: refused with a message (see [`build_tcp`]).
    #[serde(default, rename = "ssl_verify")]
    _ssl_verify: Option<IgnoredAny>,
    /// Obsolete or client-mode only: refused with a message (see [`build_tcp`]).
    #[serde(default, rename = "ssl_cert")]
    _ssl_cert: Option<IgnoredAny>,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    Ok(Box::new(build_tcp(args, codec)?))
}

/// Builds the input itself (for callers that want [`TcpInput::stats`]).
pub fn build_tcp(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<TcpInput, Diagnostics> {
    let options: Options = args.options()?;
    let mut errors = Diagnostics::default();
    if options.mode.as_deref().is_some_and(|m| m != "server") {
        errors.extend(args.error("mode", "tcp: mode: only \"server\" is supported"));
    }
    for (old, new) in [
        ("ssl_enable", "ssl_enabled"),
        ("ssl_cert", "ssl_certificate"),
        ("ssl_verify", "ssl_client_authentication"),
        (
            "ssl_verification_mode",
            "ssl_client_authentication (server mode)",
        ),
    ] {
        if args.attribute(old).is_some() {
            errors.extend(args.error(old, format!("tcp: {old} is obsolete: use {new}")));
        }
    }
    if options.dns_reverse_lookup_enabled == Some(true) {
        tracing::info!(
            "tcp: dns_reverse_lookup_enabled: names are not looked up; host holds the address"
        );
    }
    let max_message_size = options.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
    if max_message_size == 0 {
        errors.extend(args.error(
            "max_message_size",
            "tcp: max_message_size must be at least 1",
        ));
    }
    let tls = tls::acceptor(args, &tls_options(&options));
    let tls = match tls {
        Ok(tls) if errors.is_empty() => tls,
        Ok(_) => return Err(errors),
        Err(e) => {
            errors.extend(e);
            return Err(errors);
        }
    };
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility())
        .is_ecs();
    let stats = Arc::new(NetStats::default());
    let connections = TcpConnections {
        mode: CodecMode::probe(codec.as_ref()),
        codec,
        max_message_size,
        ecs,
        stats: stats.clone(),
        throttle: Throttle::default(),
    };
    Ok(TcpInput {
        host: options.host,
        port: options.port,
        receive_buffer_bytes: options.receive_buffer_bytes,
        keep_alive: options.tcp_keep_alive,
        settings: ServerSettings {
            name: "tcp",
            tls,
            proxy_protocol: options.proxy_protocol,
        },
        connections: Arc::new(connections),
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

/// The `tcp` input, built.
pub struct TcpInput {
    host: String,
    port: u16,
    receive_buffer_bytes: Option<u32>,
    keep_alive: bool,
    settings: ServerSettings,
    connections: Arc<TcpConnections>,
    stats: Arc<NetStats>,
}

impl TcpInput {
    /// The input's counters and, once it runs, its address.
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

#[async_trait::async_trait]
impl Input for TcpInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let TcpInput {
            host,
            port,
            receive_buffer_bytes,
            keep_alive,
            settings,
            connections,
            stats,
        } = *self;
        let listener = listener::bind(&host, port, receive_buffer_bytes, keep_alive)
            .await
            .map_err(|e| InputError::Other(format!("tcp: cannot listen on {host}:{port}: {e}")))?;
        let addr = listener.local_addr()?;
        stats.set_tcp_addr(addr);
        tracing::info!(
            "tcp: listening on {addr}{}",
            if settings.tls.is_some() { " (TLS)" } else { "" }
        );
        listener::serve(listener, settings, connections, ctx, stats).await
    }
}

/// How a codec wants its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecMode {
    /// It decodes each chunk as one document (`plain`, `json`): the input cuts lines for it.
    Lines,
    /// It cuts LF-delimited lines itself (`line`, `json_lines`).
    Newline,
    /// It keeps bytes across chunks some other way (a custom delimiter, `multiline`).
    Opaque,
}

impl CodecMode {
    /// Finds out by feeding throwaway decoders: `x` alone makes an event only for codecs that
    /// decode chunks; `x\n` then makes one for codecs that end records at LF.
    pub fn probe(codec: &dyn Codec) -> CodecMode {
        let now = Timestamp::from_secs(0);
        let mut out = Vec::new();
        codec
            .decoder()
            .decode(Bytes::from_static(b"x"), now, &mut out);
        if !out.is_empty() {
            return CodecMode::Lines;
        }
        codec
            .decoder()
            .decode(Bytes::from_static(b"x\n"), now, &mut out);
        if out.is_empty() {
            CodecMode::Opaque
        } else {
            CodecMode::Newline
        }
    }
}

/// What every connection of one `tcp` input shares.
struct TcpConnections {
    codec: Arc<dyn Codec>,
    mode: CodecMode,
    max_message_size: usize,
    ecs: bool,
    stats: Arc<NetStats>,
    throttle: Throttle,
}

impl Connections for TcpConnections {
    type Connection = TcpConnection;

    fn open(self: Arc<Self>, peer: &Peer) -> TcpConnection {
        let framer = (self.mode == CodecMode::Lines).then(|| {
            Framer::new(FramerOptions {
                octet_counting: false,
                syslog_trim: false,
                max_size: self.max_message_size,
                oversize: Oversize::Drop,
            })
        });
        TcpConnection {
            decoder: self.codec.decoder(),
            framer,
            tail: 0,
            skipping: false,
            fields: PeerFields::new(peer, self.ecs),
            shared: self,
        }
    }
}

/// One client's decoding state.
pub struct TcpConnection {
    shared: Arc<TcpConnections>,
    decoder: Box<dyn Decoder>,
    /// Cuts lines for [`CodecMode::Lines`] codecs.
    framer: Option<Framer>,
    /// Bytes the decoder holds since the last LF ([`CodecMode::Newline`]) or last event
    /// ([`CodecMode::Opaque`]).
    tail: usize,
    /// The rest of an oversized line is being skipped (up to the next LF).
    skipping: bool,
    fields: PeerFields,
}

impl Connection for TcpConnection {
    fn receive(&mut self, chunk: Bytes, ctx: &InputContext, out: &mut Vec<Event>) {
        let now = ctx.now();
        let start = out.len();
        let oversized = match self.shared.mode {
            CodecMode::Lines => self.feed_lines(chunk, now, out),
            CodecMode::Newline => self.feed_newline(chunk, now, out),
            CodecMode::Opaque => self.feed_opaque(chunk, now, out),
        };
        if oversized > 0 {
            self.oversized(oversized);
        }
        self.finish_events(ctx, &mut out[start..]);
    }

    fn finish(&mut self, ctx: &InputContext, out: &mut Vec<Event>) {
        let now = ctx.now();
        let start = out.len();
        if let Some(framer) = &mut self.framer {
            let decoder = &mut self.decoder;
            let oversized = framer.finish(&mut |line| decoder.decode(line, now, out));
            if oversized > 0 {
                self.oversized(oversized);
            }
        }
        self.decoder.flush(now, out);
        self.finish_events(ctx, &mut out[start..]);
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.decoder.idle_flush()
    }

    fn idle(&mut self, ctx: &InputContext, out: &mut Vec<Event>) {
        let start = out.len();
        self.decoder.flush(ctx.now(), out);
        self.tail = 0;
        self.finish_events(ctx, &mut out[start..]);
    }
}

impl TcpConnection {
    fn feed_lines(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) -> u64 {
        let decoder = &mut self.decoder;
        match &mut self.framer {
            Some(framer) => framer.push(chunk, &mut |line| decoder.decode(line, now, out)),
            None => 0,
        }
    }

    /// Streams bytes to a codec that cuts at LF, replacing it when a line outgrows the limit.
    fn feed_newline(&mut self, mut chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) -> u64 {
        if self.skipping {
            match memchr::memchr(b'\n', &chunk) {
                Some(i) => {
                    self.skipping = false;
                    let _ = chunk.split_to(i + 1);
                }
                None => return 0,
            }
        }
        self.tail = match memchr::memrchr(b'\n', &chunk) {
            Some(i) => chunk.len() - i - 1,
            None => self.tail + chunk.len(),
        };
        self.decoder.decode(chunk, now, out);
        if self.tail <= self.shared.max_message_size {
            return 0;
        }
        self.decoder = self.shared.codec.decoder();
        self.skipping = true;
        self.tail = 0;
        1
    }

    /// Streams bytes to a codec with its own framing; a decoder that held more than the limit
    /// since its last event is replaced (its record is lost; the rest of it may come out as an
    /// event of its own, since the end of a record cannot be found here).
    fn feed_opaque(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) -> u64 {
        let before = out.len();
        let len = chunk.len();
        self.decoder.decode(chunk, now, out);
        self.tail = if out.len() > before {
            0
        } else {
            self.tail + len
        };
        if self.tail <= self.shared.max_message_size {
            return 0;
        }
        self.decoder = self.shared.codec.decoder();
        self.tail = 0;
        1
    }

    fn oversized(&self, n: u64) {
        let stats = &self.shared.stats;
        NetStats::add(&stats.oversized, n);
        if self.shared.throttle.ready() {
            tracing::warn!(
                "tcp: a line from {} was longer than max_message_size ({} bytes) and was dropped \
                 ({} so far)",
                self.fields.ip,
                self.shared.max_message_size,
                NetStats::get(&stats.oversized)
            );
        }
    }

    /// Logstash's order: the client fields (unless present), then `type`/`tags`/`add_field`.
    fn finish_events(&self, ctx: &InputContext, events: &mut [Event]) {
        for event in events.iter_mut() {
            self.fields.apply(event);
        }
        ctx.decorate(events);
    }
}

/// The client fields of one connection, made once.
struct PeerFields {
    ecs: bool,
    ip: Text,
    /// The port: a number, or the PROXY header's text.
    port: Value,
    proxy: Option<(Text, Text)>,
    /// The verified client certificate's subject.
    tls_subject: Option<Text>,
    /// ECS: the whole `[@metadata][input]` value, cloned into events that have none.
    ecs_input: Value,
}

impl PeerFields {
    fn new(peer: &Peer, ecs: bool) -> PeerFields {
        let port = match &peer.proxy {
            Some(proxy) => Value::Str(proxy.client_port.clone()),
            None => Value::Int(i64::from(peer.addr.port())),
        };
        let proxy = peer.proxy.as_ref().map(|p| (p.ip.clone(), p.port.clone()));
        let mut fields = PeerFields {
            ecs,
            ip: peer.ip.clone(),
            port,
            proxy,
            tls_subject: peer.tls_subject.clone(),
            ecs_input: Value::Null,
        };
        if ecs {
            fields.ecs_input = fields.ecs_input_value();
        }
        fields
    }

    fn ecs_input_value(&self) -> Value {
        let mut source = Map::with_capacity(3);
        source.push_new(Text::from_static("name"), Value::Str(self.ip.clone()));
        source.push_new(Text::from_static("ip"), Value::Str(self.ip.clone()));
        source.push_new(Text::from_static("port"), self.port.clone());
        let mut tcp = Map::with_capacity(3);
        tcp.push_new(Text::from_static("source"), Value::Map(source));
        if let Some((ip, port)) = &self.proxy {
            let mut proxy = Map::with_capacity(2);
            proxy.push_new(Text::from_static("ip"), Value::Str(ip.clone()));
            proxy.push_new(Text::from_static("port"), Value::Str(port.clone()));
            tcp.push_new(Text::from_static("proxy"), Value::Map(proxy));
        }
        if let Some(subject) = &self.tls_subject {
            let mut client = Map::with_capacity(1);
            client.push_new(Text::from_static("subject"), Value::Str(subject.clone()));
            let mut tls = Map::with_capacity(1);
            tls.push_new(Text::from_static("client"), Value::Map(client));
            tcp.push_new(Text::from_static("tls"), Value::Map(tls));
        }
        let mut input = Map::with_capacity(1);
        input.push_new(Text::from_static("tcp"), Value::Map(tcp));
        Value::Map(input)
    }

    fn apply(&self, event: &mut Event) {
        if self.ecs {
            self.apply_ecs(event);
            return;
        }
        let fields = event.fields_mut();
        set_absent(fields, "host", || Value::Str(self.ip.clone()));
        set_absent(fields, "port", || self.port.clone());
        if let Some((ip, port)) = &self.proxy {
            set_absent(fields, "proxy_host", || Value::Str(ip.clone()));
            set_absent(fields, "proxy_port", || Value::Str(port.clone()));
        }
        if let Some(subject) = &self.tls_subject {
            set_absent(fields, "sslsubject", || Value::Str(subject.clone()));
        }
        set_absent(event.metadata_mut(), "ip_address", || {
            Value::Str(self.ip.clone())
        });
    }

    /// `[@metadata][input][tcp]...`: the prepared value when the event has no
    /// `[@metadata][input]` (the usual case), leaf by leaf otherwise.
    fn apply_ecs(&self, event: &mut Event) {
        let metadata = event.metadata_mut();
        if !metadata.contains_key("input") {
            metadata.push_new(Text::from_static("input"), self.ecs_input.clone());
            return;
        }
        if let Value::Map(wanted) = &self.ecs_input {
            merge_absent(metadata, "input", wanted);
        }
    }
}

/// Sets `key` to `make()` unless present.
fn set_absent(map: &mut Map, key: &'static str, make: impl FnOnce() -> Value) {
    if !map.contains_key(key) {
        map.push_new(Text::from_static(key), make());
    }
}

/// Merges `wanted` into the map at `key`, keeping every value already there (a non-map
/// value at `key` stays too).
fn merge_absent(map: &mut Map, key: &str, wanted: &Map) {
    let Value::Map(existing) = map.get_or_insert_with(key, || Value::Map(Map::new())) else {
        return;
    };
    for (k, v) in wanted.iter() {
        match (existing.get(k), v) {
            (Some(Value::Map(_)), Value::Map(inner)) => merge_absent(existing, k, inner),
            (Some(_), _) => {}
            (None, v) => existing.push_new(k.clone(), v.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::json::Json;
    use crate::codecs::json_lines::JsonLines;
    use crate::codecs::line::Line;
    use crate::codecs::plain::Plain;

    #[test]
    fn codec_modes() {
        assert_eq!(CodecMode::probe(&Plain::default()), CodecMode::Lines);
        assert_eq!(CodecMode::probe(&Json::default()), CodecMode::Lines);
        assert_eq!(CodecMode::probe(&Line::new("\n")), CodecMode::Newline);
        assert_eq!(CodecMode::probe(&JsonLines::default()), CodecMode::Newline);
        assert_eq!(CodecMode::probe(&Line::new("|")), CodecMode::Opaque);
    }

    #[test]
    fn merge_keeps_existing_values() {
        let mut map = Map::new();
        let mut input = Map::new();
        let mut tcp = Map::new();
        tcp.push_new(Text::from_static("x"), Value::Int(1));
        input.push_new(Text::from_static("tcp"), Value::Map(tcp));
        map.push_new(Text::from_static("input"), Value::Map(input));
        let mut wanted_tcp = Map::new();
        wanted_tcp.push_new(Text::from_static("x"), Value::Int(2));
        wanted_tcp.push_new(Text::from_static("y"), Value::Int(3));
        let mut wanted = Map::new();
        wanted.push_new(Text::from_static("tcp"), Value::Map(wanted_tcp));
        merge_absent(&mut map, "input", &wanted);
        let tcp = map
            .get("input")
            .and_then(Value::as_map)
            .and_then(|m| m.get("tcp"));
        let tcp = tcp.and_then(Value::as_map).unwrap();
        assert_eq!(
            (tcp.get("x"), tcp.get("y")),
            (Some(&Value::Int(1)), Some(&Value::Int(3)))
        );
    }
}
