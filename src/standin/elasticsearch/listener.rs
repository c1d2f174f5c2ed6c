//! The listening socket and the connections it accepts, with the two powers faults need that
//! axum does not give: closing a connection without answering ([`Conn::kill`]) and closing the
//! listening socket for a while, then listening again on the same port ([`StandInListener`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::{lock, Shared};

/// One accepted connection's kill switch.
#[derive(Debug, Default)]
pub(super) struct Conn {
    killed: AtomicBool,
    /// The reader's waker, so a kill wakes a connection idling between requests.
    waker: Mutex<Option<Waker>>,
}

impl Conn {
    /// Makes every further read and write fail, so hyper drops the connection unanswered.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        if let Some(w) = lock(&self.waker).take() {
            w.wake();
        }
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

/// Every live connection, so a downtime or a stop can close them all.
#[derive(Debug, Default)]
pub(super) struct Connections {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Weak<Conn>>>,
}

impl Connections {
    fn register(self: &Arc<Self>, stream: TcpStream) -> (ConnIo, ConnHandle) {
        let conn = Arc::new(Conn::default());
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.live).insert(key, Arc::downgrade(&conn));
        let io = ConnIo {
            stream,
            conn: conn.clone(),
            key,
            registry: self.clone(),
        };
        (io, ConnHandle(conn))
    }

    /// Kills every open connection.
    pub fn kill_all(&self) {
        let live: Vec<_> = lock(&self.live)
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for conn in live {
            conn.kill();
        }
    }
}

/// The handler's view of its connection (axum's `ConnectInfo`).
#[derive(Clone, Debug)]
pub(super) struct ConnHandle(pub Arc<Conn>);

impl Connected<IncomingStream<'_, StandInListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, StandInListener>) -> ConnHandle {
        stream.remote_addr().clone()
    }
}

/// A TCP stream whose reads and writes fail once its [`Conn`] is killed.
pub(super) struct ConnIo {
    stream: TcpStream,
    conn: Arc<Conn>,
    key: u64,
    registry: Arc<Connections>,
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        lock(&self.registry.live).remove(&self.key);
    }
}

fn killed_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "closed by the stand-in")
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        {
            // Register before checking, so a kill between the two still wakes us.
            let mut w = lock(&this.conn.waker);
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        if this.conn.is_killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.conn.is_killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.is_killed() {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The listening socket, closed while the fault script says the server is down.
pub(super) struct StandInListener {
    tcp: Option<TcpListener>,
    addr: SocketAddr,
    shared: Arc<Shared>,
    connections: Arc<Connections>,
}

impl StandInListener {
    pub fn new(
        tcp: TcpListener,
        addr: SocketAddr,
        shared: Arc<Shared>,
        connections: Arc<Connections>,
    ) -> StandInListener {
        StandInListener {
            tcp: Some(tcp),
            addr,
            shared,
            connections,
        }
    }

    /// Closes the socket until the downtime ends (or is cleared), then binds the same address.
    async fn stay_down(&mut self) {
        self.tcp = None;
        let faults = &self.shared.faults;
        while let Some(until) = faults.down_until() {
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = faults.down_changed().notified() => {}
            }
        }
        while self.tcp.is_none() {
            match TcpListener::bind(self.addr).await {
                Ok(tcp) => self.tcp = Some(tcp),
                Err(e) => {
                    tracing::warn!("stand-in: cannot listen again on {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

impl Listener for StandInListener {
    type Io = ConnIo;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (ConnIo, ConnHandle) {
        loop {
            if self.shared.faults.is_down() || self.tcp.is_none() {
                self.stay_down().await;
                continue;
            }
            let Some(tcp) = &self.tcp else { continue };
            let accepted = tokio::select! {
                r = tcp.accept() => r,
                _ = self.shared.faults.down_changed().notified() => continue,
            };
            match accepted {
                // Accepted in the instant between `down_for` and closing the socket: refuse.
                Ok(_) if self.shared.faults.is_down() => continue,
                Ok((stream, _)) => {
                    // Bulk answers are small writes; do not let Nagle hold them back.
                    let _ = stream.set_nodelay(true);
                    return self.connections.register(stream);
                }
                Err(e) => {
                    tracing::debug!("stand-in: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnHandle> {
        Err(io::Error::other(
            "the stand-in's connections have handles, not addresses",
        ))
    }
}
