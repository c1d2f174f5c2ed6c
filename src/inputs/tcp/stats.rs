//! [`NetStats`]: the counters of one network input (connections, oversized frames, UDP
//! datagrams dropped because the pipeline was full, TLS failures) and the addresses it
//! listens on, readable while it runs; [`Throttle`]: logging a recurring problem at most once
//! a second.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Counters of one `tcp`, `udp` or `syslog` input. Shared by its tasks; every field is a
/// relaxed atomic (they are statistics, not synchronisation).
#[derive(Debug, Default)]
pub struct NetStats {
    tcp_addr: OnceLock<SocketAddr>,
    udp_addr: OnceLock<SocketAddr>,
    /// TCP connections accepted, and those still open.
    pub connections: AtomicU64,
    pub open_connections: AtomicU64,
    /// Events made (after the codec, before the pipeline).
    pub events: AtomicU64,
    /// TCP frames or lines longer than `max_message_size`: truncated (syslog) or dropped (tcp).
    pub oversized: AtomicU64,
    /// TLS handshakes that failed.
    pub tls_failures: AtomicU64,
    /// Connections closed because of a bad PROXY protocol header.
    pub proxy_failures: AtomicU64,
    /// UDP datagrams read from the socket.
    pub datagrams: AtomicU64,
    /// UDP datagrams dropped because `queue_size` datagrams were already waiting for the
    /// pipeline.
    pub datagrams_dropped: AtomicU64,
    /// UDP datagrams longer than `buffer_size`, cut to it.
    pub datagrams_truncated: AtomicU64,
}

impl NetStats {
    /// The address the TCP listener is bound to, once it is (port 0 picks a free port).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr.get().copied()
    }

    /// The address the UDP socket is bound to, once it is.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr.get().copied()
    }

    pub(crate) fn set_tcp_addr(&self, addr: SocketAddr) {
        let _ = self.tcp_addr.set(addr);
    }

    pub(crate) fn set_udp_addr(&self, addr: SocketAddr) {
        let _ = self.udp_addr.set(addr);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Lets a recurring problem be logged at most once a second: [`Throttle::ready`] is true at
/// most once per second (callers log the running total from [`NetStats`], so nothing is
/// hidden by the lines skipped).
#[derive(Debug)]
pub struct Throttle {
    start: Instant,
    /// Milliseconds since `start` of the last log line, plus one (0: never logged).
    last: AtomicU64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl Throttle {
    /// True when nothing was logged in the last second; the caller then logs.
    pub fn ready(&self) -> bool {
        let now = self.start.elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now < last + 1000 {
            return false;
        }
        self.last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_one_line_a_second() {
        let throttle = Throttle::default();
        assert!(throttle.ready());
        assert!(!throttle.ready());
        assert!(!throttle.ready());
    }
}
