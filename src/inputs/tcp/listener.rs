//! The TCP server shared by the `tcp` and `syslog` inputs: [`serve`] accepts connections
//! (optionally TLS, optionally behind a PROXY protocol v1 header) and runs each in a task of
//! its own, reading chunks and handing them to the input's [`Connection`], which turns bytes
//! into events. This module owns everything connection-shaped: buffers, batching, backpressure,
//! idle flushes, shutdown.
//!
//! Reads go into a buffer shared by many reads (16 KiB at first, growing to 1 MiB for busy
//! connections), so frames cut from a read are slices of it. After each read the events it
//! completed are sent in batches of the pipeline's batch size; a read that did not fill the
//! buffer (nothing more waiting) sends the rest at once. While the pipeline is full a send
//! waits, the connection stops reading, and TCP flow control pushes back on the client.
//!
//! One connection's problems (bad TLS, a bad PROXY header, reset, garbage) end that connection
//! only. On shutdown the listener stops accepting, every connection flushes what it holds (a
//! last line without delimiter, a partial frame) and ends.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::event::{Batch, Event, Text};
use crate::inputs::take_batch;
use crate::inputs::{InputContext, InputError};

use super::stats::{NetStats, Throttle};
use super::tls::{self, TlsAcceptor};

/// The first buffer of a connection; small, so idle connections cost little.
const FIRST_BUFFER: usize = 16 * 1024;
/// The largest buffer a busy connection reads into.
const MAX_BUFFER: usize = 1024 * 1024;
/// A fresh buffer is taken when less than this is left in the current one.
const MIN_READ: usize = 4 * 1024;
/// How long a TLS handshake or a PROXY header may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest PROXY protocol v1 header (the spec's 107 bytes, and some slack).
const MAX_PROXY_HEADER: usize = 128;
/// How long to wait before accepting again after `accept` failed (out of file descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The other end of a connection.
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The address as text (`127.0.0.1`, `::1`), IPv4-mapped IPv6 shown as IPv4.
    pub ip: Text,
    /// The proxy's address, when a PROXY header named the real client.
    pub proxy: Option<ProxyInfo>,
    /// The subject of the client's verified TLS certificate (RFC 2253, as Java writes it),
    /// when client certificates are asked for and one was sent.
    pub tls_subject: Option<Text>,
}

/// What a PROXY protocol v1 header said, as text (Logstash keeps these as strings).
#[derive(Clone, Debug)]
pub struct ProxyInfo {
    /// The address the proxy received the connection on.
    pub ip: Text,
    pub port: Text,
    /// The client's port as the header wrote it.
    pub client_port: Text,
}

/// Turns one connection's bytes into events.
pub trait Connection: Send + 'static {
    /// Consumes a chunk of the stream, appending the events it completes to `out`, decorated
    /// and with the input's fields.
    fn receive(&mut self, chunk: Bytes, ctx: &InputContext, out: &mut Vec<Event>);

    /// The stream ended (or the input stops): appends what is still buffered.
    fn finish(&mut self, ctx: &InputContext, out: &mut Vec<Event>);

    /// How long the stream may stay quiet before [`Connection::idle`] is called (the codec's
    /// `Decoder::idle_flush`).
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }

    /// The stream has been quiet for [`Connection::idle_timeout`].
    fn idle(&mut self, _ctx: &InputContext, _out: &mut Vec<Event>) {}
}

/// Makes a [`Connection`] for each accepted client.
pub trait Connections: Send + Sync + 'static {
    type Connection: Connection;

    fn open(self: Arc<Self>, peer: &Peer) -> Self::Connection;
}

/// How a TCP listener runs.
#[derive(Clone)]
pub struct ServerSettings {
    /// The plugin name, for log lines.
    pub name: &'static str,
    pub tls: Option<TlsAcceptor>,
    pub proxy_protocol: bool,
}

/// Binds a listener on `host:port` (port 0: any free port), with `SO_RCVBUF` when given.
pub async fn bind(
    host: &str,
    port: u16,
    receive_buffer_bytes: Option<u32>,
    keep_alive: bool,
) -> io::Result<TcpListener> {
    let addr = resolve(host, port).await?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if let Some(size) = receive_buffer_bytes {
        socket.set_recv_buffer_size(size)?;
    }
    // Accepted sockets inherit the listener's SO_KEEPALIVE.
    socket.set_keepalive(keep_alive)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The first address `host` names.
pub async fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address")))
}

/// Accepts connections until shutdown, then waits for every connection to flush and end.
pub async fn serve<C: Connections>(
    listener: TcpListener,
    settings: ServerSettings,
    connections: Arc<C>,
    ctx: InputContext,
    stats: Arc<NetStats>,
) -> Result<(), InputError> {
    let settings = Arc::new(settings);
    let throttle = Arc::new(Throttle::default());
    let mut tasks = JoinSet::new();
    let shutdown = ctx.shutdown().clone();
    loop {
        tokio::select! {
            () = shutdown.requested() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    NetStats::add(&stats.connections, 1);
                    let job = Accepted {
                        stream,
                        addr,
                        settings: settings.clone(),
                        ctx: ctx.clone(),
                        stats: stats.clone(),
                        throttle: throttle.clone(),
                    };
                    tasks.spawn(job.run(connections.clone()));
                }
                Err(e) => {
                    tracing::warn!("{}: accept failed: {e}", settings.name);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// A connection just accepted, before its handshake.
struct Accepted {
    stream: TcpStream,
    addr: SocketAddr,
    settings: Arc<ServerSettings>,
    ctx: InputContext,
    stats: Arc<NetStats>,
    throttle: Arc<Throttle>,
}

/// A connection's stream once its handshakes are done, and what they told.
struct Ready {
    stream: Box<dyn AsyncRead + Send + Unpin>,
    peer: Peer,
    reader: ChunkReader,
    /// Bytes read past the PROXY header.
    first: Option<Bytes>,
}

impl Accepted {
    async fn run<C: Connections>(self, connections: Arc<C>) {
        let name = self.settings.name;
        let addr = self.addr;
        let stats = self.stats.clone();
        NetStats::add(&stats.open_connections, 1);
        let _open = OpenGuard(stats.clone());
        let shutdown = self.ctx.shutdown().clone();
        let ctx = self.ctx.clone();
        // Only the handshakes race shutdown: a running connection flushes before it ends.
        let ready = tokio::select! {
            () = shutdown.requested() => return,
            ready = self.handshake() => ready,
        };
        let result = match ready {
            Ok(ready) => {
                let conn = connections.open(&ready.peer);
                run_connection(ready, conn, &ctx, &stats).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::debug!("{name}: connection from {addr} ended: {e}");
        }
    }

    /// TLS, then the PROXY header, each within [`HANDSHAKE_TIMEOUT`].
    async fn handshake(self) -> Result<Ready, InputError> {
        let Accepted {
            stream,
            addr,
            settings,
            stats,
            throttle,
            ..
        } = self;
        let _ = stream.set_nodelay(true);
        let (mut stream, tls_subject): (Box<dyn AsyncRead + Send + Unpin>, _) = match &settings.tls
        {
            None => (Box::new(stream), None),
            Some(acceptor) => match acceptor.accept_within(stream, HANDSHAKE_TIMEOUT).await {
                Ok(tls) => {
                    let subject = acceptor
                        .verifies_clients()
                        .then(|| tls::client_certificate(&tls))
                        .flatten()
                        .map(|c| Text::from_string(tls::subject_rfc2253(&c)));
                    (Box::new(tls), subject)
                }
                Err(e) => return Err(tls_failed(&settings, &stats, &throttle, addr, &e)),
            },
        };
        let mut ready = Ready {
            stream: Box::new(tokio::io::empty()),
            peer: Peer {
                addr,
                ip: ip_text(addr.ip()),
                proxy: None,
                tls_subject,
            },
            reader: ChunkReader::default(),
            first: None,
        };
        if settings.proxy_protocol {
            let header = read_proxy_header(&mut stream, &mut ready.reader);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, header).await {
                Ok(Ok((info, rest))) => {
                    info.apply(&mut ready.peer);
                    ready.first = Some(rest);
                }
                Ok(Err(e)) => {
                    NetStats::add(&stats.proxy_failures, 1);
                    tracing::error!(
                        "{}: {addr}: invalid PROXY protocol header: {e}",
                        settings.name
                    );
                    return Err(InputError::Io(e));
                }
                Err(_) => return Err(InputError::Other("PROXY header timed out".into())),
            }
        }
        ready.stream = stream;
        Ok(ready)
    }
}

/// Keeps [`NetStats::open_connections`] right however a connection ends.
struct OpenGuard(Arc<NetStats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .open_connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn tls_failed(
    settings: &ServerSettings,
    stats: &NetStats,
    throttle: &Throttle,
    addr: SocketAddr,
    e: &dyn std::fmt::Display,
) -> InputError {
    NetStats::add(&stats.tls_failures, 1);
    if throttle.ready() {
        tracing::warn!(
            "{}: TLS handshake with {addr} failed: {e} ({} failures so far)",
            settings.name,
            NetStats::get(&stats.tls_failures)
        );
    }
    InputError::Other(format!("TLS handshake failed: {e}"))
}

/// Reads, decodes and sends until the stream ends or shutdown.
async fn run_connection<C: Connection>(
    ready: Ready,
    mut conn: C,
    ctx: &InputContext,
    stats: &NetStats,
) -> Result<(), InputError> {
    let Ready {
        mut stream,
        mut reader,
        first,
        ..
    } = ready;
    let mut events = Vec::with_capacity(ctx.batch_size());
    if let Some(chunk) = first.filter(|c| !c.is_empty()) {
        conn.receive(chunk, ctx, &mut events);
    }
    let idle = conn.idle_timeout();
    let sleep = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(sleep);
    let mut armed = false;
    let shutdown = ctx.shutdown().clone();
    let result = loop {
        tokio::select! {
            biased;
            () = shutdown.requested() => break Ok(()),
            read = reader.read(&mut stream) => match read {
                Ok(Some((chunk, more))) => {
                    conn.receive(chunk, ctx, &mut events);
                    send_ready(ctx, stats, &mut events, more).await?;
                    if let Some(d) = idle {
                        sleep.as_mut().reset(tokio::time::Instant::now() + d);
                        armed = true;
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(InputError::Io(e)),
            },
            () = &mut sleep, if armed => {
                armed = false;
                conn.idle(ctx, &mut events);
                send_ready(ctx, stats, &mut events, false).await?;
            }
        }
    };
    // What the connection holds is sent whether it ended well or not.
    conn.finish(ctx, &mut events);
    send_ready(ctx, stats, &mut events, false).await?;
    result
}

/// Sends full batches, and the rest too unless `keep_partial`.
pub async fn send_ready(
    ctx: &InputContext,
    stats: &NetStats,
    events: &mut Vec<Event>,
    keep_partial: bool,
) -> Result<(), InputError> {
    while let Some(batch) = take_batch(events, ctx.batch_size(), keep_partial) {
        NetStats::add(&stats.events, batch.len() as u64);
        ctx.forward(Batch::new(batch)).await?;
    }
    Ok(())
}

/// Reads a stream in chunks that share large buffers.
struct ChunkReader {
    buf: BytesMut,
    /// The size of the next buffer to take; doubles while reads fill what they are given.
    size: usize,
}

impl Default for ChunkReader {
    fn default() -> Self {
        ChunkReader {
            buf: BytesMut::new(),
            size: FIRST_BUFFER,
        }
    }
}

impl ChunkReader {
    /// The next chunk and whether more data seems to be waiting (the read filled the space it
    /// had); `None` at end of stream.
    async fn read(
        &mut self,
        stream: &mut (dyn AsyncRead + Send + Unpin),
    ) -> io::Result<Option<(Bytes, bool)>> {
        if self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf = BytesMut::with_capacity(self.size);
        }
        let room = self.buf.capacity() - self.buf.len();
        let n = stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Ok(None);
        }
        let full = n == room;
        if full {
            self.size = (self.size * 2).min(MAX_BUFFER);
        }
        Ok(Some((self.buf.split().freeze(), full)))
    }
}

/// A PROXY protocol v1 header's contents.
struct ProxyHeader {
    client_ip: Text,
    client_port: Text,
    proxy_ip: Text,
    proxy_port: Text,
}

impl ProxyHeader {
    fn apply(self, peer: &mut Peer) {
        if let (Ok(ip), Ok(port)) = (
            self.client_ip.parse::<IpAddr>(),
            self.client_port.parse::<u16>(),
        ) {
            peer.addr = SocketAddr::new(ip, port);
        }
        peer.ip = self.client_ip;
        peer.proxy = Some(ProxyInfo {
            ip: self.proxy_ip,
            port: self.proxy_port,
            client_port: self.client_port,
        });
    }
}

/// Reads `PROXY TCP4 CLIENT PROXY CPORT PPORT\r\n`; returns it and the bytes after it.
async fn read_proxy_header(
    stream: &mut (dyn AsyncRead + Send + Unpin),
    reader: &mut ChunkReader,
) -> io::Result<(ProxyHeader, Bytes)> {
    let mut head = BytesMut::new();
    loop {
        if let Some(end) = memchr::memmem::find(&head, b"\r\n") {
            let rest = head.split_off(end + 2).freeze();
            return parse_proxy_header(&head[..end]).map(|h| (h, rest));
        }
        if head.len() > MAX_PROXY_HEADER {
            return Err(bad_proxy("no CRLF within 107 bytes"));
        }
        match reader.read(stream).await? {
            Some((chunk, _)) => head.extend_from_slice(&chunk),
            None => return Err(bad_proxy("connection closed before the header ended")),
        }
    }
}

fn parse_proxy_header(line: &[u8]) -> io::Result<ProxyHeader> {
    let line = std::str::from_utf8(line).map_err(|_| bad_proxy("not ASCII"))?;
    let mut parts = line.split(' ');
    if parts.next() != Some("PROXY") {
        return Err(bad_proxy("it does not start with \"PROXY\""));
    }
    let fields: Vec<&str> = parts.collect();
    match fields.as_slice() {
        [_proto, client, proxy, client_port, proxy_port] => Ok(ProxyHeader {
            client_ip: Text::new(client),
            client_port: Text::new(client_port),
            proxy_ip: Text::new(proxy),
            proxy_port: Text::new(proxy_port),
        }),
        _ => Err(bad_proxy("expected PROXY PROTO CLIENT PROXY CPORT PPORT")),
    }
}

fn bad_proxy(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

/// An IP address as text, without allocating for IPv4 (IPv4-mapped IPv6 shown as IPv4).
pub fn ip_text(ip: IpAddr) -> Text {
    use std::io::Write;
    let ip = ip.to_canonical();
    let mut buf = [0u8; 48];
    let mut cursor = io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{ip}").is_err() {
        return Text::from_string(ip.to_string());
    }
    let len = cursor.position() as usize;
    std::str::from_utf8(&buf[..len]).map_or_else(|_| Text::from_string(ip.to_string()), Text::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_headers() {
        let h = parse_proxy_header(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443").unwrap();
        assert_eq!(
            (
                h.client_ip.as_str(),
                h.client_port.as_str(),
                h.proxy_ip.as_str(),
                h.proxy_port.as_str()
            ),
            ("192.0.2.1", "56324", "198.51.100.2", "443")
        );
        assert!(parse_proxy_header(b"GET / HTTP/1.1").is_err());
        assert!(parse_proxy_header(b"PROXY TCP4 1.2.3.4").is_err());
    }

    #[test]
    fn batches_are_cut_at_the_size_and_partial_ones_wait_when_asked() {
        let mut held: Vec<Event> = (0..5)
            .map(|_| Event::new(crate::event::Timestamp::from_secs(0)))
            .collect();
        let sizes: Vec<_> = std::iter::from_fn(|| take_batch(&mut held, 2, true))
            .map(|b| b.len())
            .collect();
        assert_eq!((sizes, held.len()), (vec![2, 2], 1));
        assert_eq!(take_batch(&mut held, 2, false).map(|b| b.len()), Some(1));
        assert!(take_batch(&mut held, 2, false).is_none(), "nothing left");
        assert!(held.capacity() >= 2, "room for the next batch");
    }

    #[test]
    fn ip_texts() {
        assert_eq!(ip_text("127.0.0.1".parse().unwrap()).as_str(), "127.0.0.1");
        assert_eq!(
            ip_text("::ffff:10.0.0.1".parse().unwrap()).as_str(),
            "10.0.0.1"
        );
        assert_eq!(
            ip_text("2001:db8::1".parse().unwrap()).as_str(),
            "2001:db8::1"
        );
    }
}
