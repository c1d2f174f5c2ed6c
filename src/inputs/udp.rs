//! The `udp` input: one datagram, decoded by the codec (default `plain`), gives the events;
//! [`UdpInput`] is the built input. [`serve_udp`] is the datagram server it shares with the
//! `syslog` input.
//!
//! Options (Logstash's): `host` (`0.0.0.0`), `port` (required), `buffer_size` (65536: a longer
//! datagram is cut to it and counted in [`NetStats::datagrams_truncated`]),
//! `receive_buffer_bytes` (`SO_RCVBUF`), `workers` (2), `queue_size` (2000),
//! `source_ip_fieldname`, `ecs_compatibility`.
//!
//! One reader task takes datagrams off the socket into shared buffers and hands them, in
//! groups, to `workers` decoding tasks, which send batches to the pipeline. Logstash's reader
//! blocks when `queue_size` datagrams wait; here the reader never blocks: a datagram that
//! would make the waiting ones exceed `queue_size` (because the pipeline is full) is dropped,
//! counted in [`NetStats::datagrams_dropped`], and logged at most once a second. Reading on is
//! what keeps the kernel's buffer from overflowing unseen.
//!
//! Each datagram is decoded and the decoder flushed (Logstash's order), then the sender's
//! address goes to `host` (`[host][ip]` under ECS, or `source_ip_fieldname`) unless the event
//! has it, after `type`/`tags`/`add_field`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use crate::codecs::{Codec, Decoder};
use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};

use super::tcp::listener::{ip_text, resolve, send_ready};
use super::tcp::stats::{NetStats, Throttle};
use super::{Input, InputContext, InputError};

/// The most datagrams the reader hands to a worker at once.
const GROUP_MAX: usize = 256;
/// The size of the buffers datagrams are read into (each holds many datagrams).
const BUFFER_SIZE: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_host")]
    host: String,
    port: u16,
    #[serde(default = "default_buffer_size")]
    buffer_size: usize,
    #[serde(default)]
    receive_buffer_bytes: Option<u32>,
    #[serde(default = "default_workers")]
    workers: usize,
    #[serde(default = "default_queue_size")]
    queue_size: usize,
    #[serde(default)]
    source_ip_fieldname: Option<String>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

fn default_buffer_size() -> usize {
    65536
}

fn default_workers() -> usize {
    2
}

fn default_queue_size() -> usize {
    2000
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    Ok(Box::new(build_udp(args, codec)?))
}

/// Builds the input itself (for callers that want [`UdpInput::stats`]).
pub fn build_udp(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<UdpInput, Diagnostics> {
    let options: Options = args.options()?;
    let mut errors = Diagnostics::default();
    for (name, value) in [
        ("buffer_size", options.buffer_size),
        ("workers", options.workers),
        ("queue_size", options.queue_size),
    ] {
        if value == 0 {
            errors.extend(args.error(name, format!("udp: {name} must be at least 1")));
        }
    }
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility())
        .is_ecs();
    let source = match options.source_ip_fieldname.as_deref() {
        Some(name) => {
            if ecs {
                tracing::warn!(
                    "udp: source_ip_fieldname is customized; check it is an ECS-compatible name"
                );
            }
            FieldPath::parse(name).map_err(|e| {
                errors.extend(args.error(
                    "source_ip_fieldname",
                    format!("udp: source_ip_fieldname: {e}"),
                ))
            })
        }
        None if ecs => FieldPath::parse("[host][ip]").map_err(|_| ()),
        None => Ok(FieldPath::top("host")),
    };
    let (Ok(source), true) = (source, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(UdpInput {
        host: options.host,
        port: options.port,
        receive_buffer_bytes: options.receive_buffer_bytes,
        settings: UdpSettings {
            name: "udp",
            buffer_size: options.buffer_size,
            workers: options.workers,
            queue_size: options.queue_size,
        },
        decoding: Arc::new(UdpDecoding { codec, source }),
        stats: Arc::new(NetStats::default()),
    })
}

/// The `udp` input, built.
pub struct UdpInput {
    host: String,
    port: u16,
    receive_buffer_bytes: Option<u32>,
    settings: UdpSettings,
    decoding: Arc<UdpDecoding>,
    stats: Arc<NetStats>,
}

impl UdpInput {
    /// The input's counters and, once it runs, its address.
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

#[async_trait::async_trait]
impl Input for UdpInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let UdpInput {
            host,
            port,
            receive_buffer_bytes,
            settings,
            decoding,
            stats,
        } = *self;
        let socket = bind_udp(&host, port, receive_buffer_bytes)
            .await
            .map_err(|e| InputError::Other(format!("udp: cannot listen on {host}:{port}: {e}")))?;
        let addr = socket.local_addr()?;
        stats.set_udp_addr(addr);
        tracing::info!(
            "udp: listening on {addr} (queue_size {}, workers {})",
            settings.queue_size,
            settings.workers
        );
        serve_udp(socket, settings, decoding, ctx, stats).await
    }
}

/// What the `udp` input's workers share.
struct UdpDecoding {
    codec: Arc<dyn Codec>,
    /// Where the sender's address goes.
    source: FieldPath,
}

impl Datagrams for UdpDecoding {
    type Worker = UdpWorker;

    fn worker(self: Arc<Self>) -> UdpWorker {
        UdpWorker {
            decoder: self.codec.decoder(),
            shared: self,
            ips: IpCache::default(),
        }
    }
}

/// One worker's decoder.
pub struct UdpWorker {
    shared: Arc<UdpDecoding>,
    decoder: Box<dyn Decoder>,
    ips: IpCache,
}

impl DatagramWorker for UdpWorker {
    fn receive(
        &mut self,
        datagram: Bytes,
        from: SocketAddr,
        ctx: &InputContext,
        out: &mut Vec<Event>,
    ) {
        let now = ctx.now();
        let start = out.len();
        self.decoder.decode(datagram, now, out);
        self.decoder.flush(now, out);
        let events = &mut out[start..];
        ctx.decorate(events);
        let ip = self.ips.text(from.ip());
        for event in events {
            if event.get(&self.shared.source).is_none() {
                event.insert(&self.shared.source, Value::Str(ip.clone()));
            }
        }
    }
}

/// How a datagram server runs.
#[derive(Clone, Debug)]
pub struct UdpSettings {
    /// The plugin name, for log lines.
    pub name: &'static str,
    /// The longest datagram kept whole.
    pub buffer_size: usize,
    /// Decoding tasks.
    pub workers: usize,
    /// The most datagrams waiting for a worker; more are dropped.
    pub queue_size: usize,
}

/// Makes a [`DatagramWorker`] for each decoding task.
pub trait Datagrams: Send + Sync + 'static {
    type Worker: DatagramWorker;

    fn worker(self: Arc<Self>) -> Self::Worker;
}

/// Turns datagrams into events.
pub trait DatagramWorker: Send + 'static {
    /// Appends the events of one datagram to `out`, decorated and with the input's fields.
    fn receive(
        &mut self,
        datagram: Bytes,
        from: SocketAddr,
        ctx: &InputContext,
        out: &mut Vec<Event>,
    );
}

/// The sender's address as text, remembered for the next datagram (senders repeat).
#[derive(Default)]
pub struct IpCache {
    last: Option<(IpAddr, Text)>,
}

impl IpCache {
    pub fn text(&mut self, ip: IpAddr) -> Text {
        match &self.last {
            Some((last, text)) if *last == ip => text.clone(),
            _ => {
                let text = ip_text(ip);
                self.last = Some((ip, text.clone()));
                text
            }
        }
    }
}

/// Binds a UDP socket on `host:port` (port 0: any free port), with `SO_RCVBUF` when given.
pub async fn bind_udp(
    host: &str,
    port: u16,
    receive_buffer_bytes: Option<u32>,
) -> io::Result<UdpSocket> {
    let addr = resolve(host, port).await?;
    let socket = UdpSocket::bind(addr).await?;
    if let Some(size) = receive_buffer_bytes {
        set_receive_buffer(&socket, size);
    }
    Ok(socket)
}

/// Reads datagrams until shutdown, then lets the workers finish what was read.
pub async fn serve_udp<D: Datagrams>(
    socket: UdpSocket,
    settings: UdpSettings,
    datagrams: Arc<D>,
    ctx: InputContext,
    stats: Arc<NetStats>,
) -> Result<(), InputError> {
    let (tx, rx) = async_channel::unbounded::<Vec<(Bytes, SocketAddr)>>();
    let waiting = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..settings.workers.max(1) {
        let worker = datagrams.clone().worker();
        workers.spawn(run_worker(
            worker,
            rx.clone(),
            ctx.clone(),
            waiting.clone(),
            stats.clone(),
        ));
    }
    drop(rx);
    let mut reader = Reader {
        buffer: RecvBuffer::new(settings.buffer_size),
        settings,
        waiting,
        stats,
        throttle: Throttle::default(),
    };
    let shutdown = ctx.shutdown().clone();
    let result = loop {
        tokio::select! {
            biased;
            () = shutdown.requested() => break Ok(()),
            ready = socket.readable() => if let Err(e) = ready {
                break Err(InputError::Io(e));
            },
        }
        let group = reader.drain(&socket);
        if !group.is_empty() {
            reader.waiting.fetch_add(group.len(), Ordering::Relaxed);
            if tx.send(group).await.is_err() {
                break Err(InputError::Closed);
            }
        }
    };
    drop(tx);
    let mut worker_result = Ok(());
    while let Some(done) = workers.join_next().await {
        if let Ok(Err(e)) = done {
            worker_result = Err(e);
        }
    }
    result.and(worker_result)
}

/// The reading side of [`serve_udp`].
struct Reader {
    buffer: RecvBuffer,
    settings: UdpSettings,
    /// Datagrams handed to workers and not yet taken by one.
    waiting: Arc<AtomicUsize>,
    stats: Arc<NetStats>,
    throttle: Throttle,
}

impl Reader {
    /// Reads the datagrams waiting on the socket (up to [`GROUP_MAX`]), dropping those the
    /// queue has no room for.
    fn drain(&mut self, socket: &UdpSocket) -> Vec<(Bytes, SocketAddr)> {
        let mut group = Vec::new();
        while group.len() < GROUP_MAX {
            let (n, from) = match socket.try_recv_from(self.buffer.space()) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An ICMP error for an earlier datagram, and the like: not fatal.
                    tracing::debug!("{}: receive failed: {e}", self.settings.name);
                    break;
                }
            };
            NetStats::add(&self.stats.datagrams, 1);
            let datagram = self.buffer.take(n, &self.stats);
            if self.waiting.load(Ordering::Relaxed) + group.len() >= self.settings.queue_size {
                self.dropped();
                continue;
            }
            group.push((datagram, from));
        }
        group
    }

    fn dropped(&self) {
        NetStats::add(&self.stats.datagrams_dropped, 1);
        crate::metrics::process::add(&crate::metrics::process::counters().input_dropped, 1);
        if self.throttle.ready() {
            tracing::warn!(
                "{}: the pipeline is full and {} datagrams are waiting: datagrams are dropped \
                 ({} so far)",
                self.settings.name,
                self.settings.queue_size,
                NetStats::get(&self.stats.datagrams_dropped)
            );
        }
    }
}

/// Decodes the groups the reader hands over and sends their events.
async fn run_worker<W: DatagramWorker>(
    mut worker: W,
    rx: async_channel::Receiver<Vec<(Bytes, SocketAddr)>>,
    ctx: InputContext,
    waiting: Arc<AtomicUsize>,
    stats: Arc<NetStats>,
) -> Result<(), InputError> {
    let mut events = Vec::with_capacity(ctx.batch_size());
    while let Ok(group) = rx.recv().await {
        waiting.fetch_sub(group.len(), Ordering::Relaxed);
        for (datagram, from) in group {
            worker.receive(datagram, from, &ctx, &mut events);
        }
        // A partial batch waits only while more datagrams are already queued.
        send_ready(&ctx, &stats, &mut events, !rx.is_empty()).await?;
    }
    send_ready(&ctx, &stats, &mut events, false).await
}

/// Large zeroed buffers that datagrams are received into and split off from, so a datagram
/// costs no allocation of its own.
struct RecvBuffer {
    buf: BytesMut,
    /// `buffer_size + 1`: a datagram filling it was longer than `buffer_size`.
    limit: usize,
}

impl RecvBuffer {
    fn new(buffer_size: usize) -> RecvBuffer {
        RecvBuffer {
            buf: BytesMut::new(),
            limit: buffer_size.saturating_add(1),
        }
    }

    fn space(&mut self) -> &mut [u8] {
        if self.buf.len() < self.limit {
            self.buf = BytesMut::zeroed(BUFFER_SIZE.max(self.limit));
        }
        &mut self.buf[..self.limit]
    }

    /// The `n` bytes just received, cut to `buffer_size` when longer.
    fn take(&mut self, n: usize, stats: &NetStats) -> Bytes {
        let mut datagram = self.buf.split_to(n).freeze();
        if n == self.limit {
            datagram.truncate(self.limit - 1);
            NetStats::add(&stats.datagrams_truncated, 1);
        }
        datagram
    }
}

/// `SO_RCVBUF`, which neither std nor tokio can set on a UDP socket (socket2 can, on every
/// platform). A failure is logged: the OS default size still works.
fn set_receive_buffer(socket: &UdpSocket, size: u32) {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if let Err(e) = socket2::SockRef::from(socket).set_recv_buffer_size(size) {
        tracing::warn!("receive_buffer_bytes: setting SO_RCVBUF to {size} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_datagrams_are_cut_and_counted() {
        let stats = NetStats::default();
        let mut buffer = RecvBuffer::new(4);
        buffer.space()[..5].copy_from_slice(b"abcde");
        assert_eq!(&buffer.take(5, &stats)[..], b"abcd");
        buffer.space()[..3].copy_from_slice(b"xyz");
        assert_eq!(&buffer.take(3, &stats)[..], b"xyz");
        assert_eq!(NetStats::get(&stats.datagrams_truncated), 1);
    }

    #[test]
    fn ip_cache_reuses_the_last_text() {
        let mut cache = IpCache::default();
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(cache.text(a).as_str(), "10.1.2.3");
        assert_eq!(cache.text("::1".parse().unwrap()).as_str(), "::1");
        assert_eq!(cache.text(a).as_str(), "10.1.2.3");
    }
}
