//! The Elasticsearch stand-in's `_bulk` tap ([`StandIn::tap_bulk`]): every answered `_bulk`
//! request is reported once, with its status, its decompressed body and when it was answered;
//! other requests are not reported, and nothing is reported before a tap is installed.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use sluice::standin::elasticsearch::{BulkSeen, Config, StandIn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

const NDJSON: (&str, &str) = ("Content-Type", "application/x-ndjson");

/// Sends one request on a fresh connection and returns the answer's status.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    let status_line = String::from_utf8_lossy(&raw[..raw.len().min(32)]).into_owned();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn drain(rx: &mut UnboundedReceiver<BulkSeen>) -> Vec<BulkSeen> {
    let mut seen = Vec::new();
    while let Ok(s) = rx.try_recv() {
        seen.push(s);
    }
    seen
}

const BODY_A: &str = "{\"index\":{\"_index\":\"logs\"}}\n{\"message\":\"a\"}\n";
const BODY_B: &str = "{\"create\":{\"_index\":\"logs\"}}\n{\"message\":\"b\"}\n{\"index\":{\"_index\":\"logs\"}}\n{\"message\":\"c\"}\n";

async fn reports_what_was_sent(store_sources: bool) {
    let es = StandIn::start(Config {
        store_sources,
        ..Config::default()
    })
    .await
    .expect("start the stand-in");
    let addr = es.addr();
    // Before a tap exists nothing is kept for it.
    assert_eq!(
        send(addr, "POST", "/_bulk", &[NDJSON], BODY_A.as_bytes()).await,
        200
    );
    let mut tap = es.tap_bulk();

    let before = Instant::now();
    assert_eq!(
        send(addr, "POST", "/_bulk", &[NDJSON], BODY_A.as_bytes()).await,
        200
    );
    let gz = gzip(BODY_B.as_bytes());
    let gz_headers = [NDJSON, ("Content-Encoding", "gzip")];
    assert_eq!(
        send(addr, "PUT", "/logs/_bulk", &gz_headers, &gz).await,
        200
    );
    // Not `_bulk`: not reported.
    assert_eq!(send(addr, "GET", "/", &[], b"").await, 200);
    // Refused before its body is read: reported with an empty body.
    assert_eq!(
        send(addr, "POST", "/_bulk?bogus=1", &[NDJSON], BODY_A.as_bytes()).await,
        400
    );
    // Refused for its content: reported with the body that was refused.
    let bad = b"{\"index\":{}}\n{\"message\":\"no index\"}\n";
    assert_eq!(send(addr, "POST", "/_bulk", &[NDJSON], bad).await, 400);
    let after = Instant::now();

    let seen = drain(&mut tap);
    let summary: Vec<(u16, &[u8])> = seen.iter().map(|s| (s.status, &s.body[..])).collect();
    assert_eq!(
        summary,
        vec![
            (200, BODY_A.as_bytes()),
            (200, BODY_B.as_bytes()),
            (400, &b""[..]),
            (400, &bad[..]),
        ]
    );
    for s in &seen {
        assert!(
            before <= s.answered && s.answered <= after,
            "answered out of the window"
        );
    }
    assert!(seen.windows(2).all(|w| w[0].answered <= w[1].answered));
    assert_eq!(es.count("logs"), 4, "1 before the tap, 3 after");

    // A new tap replaces the old one: the old channel ends, the new one hears what follows.
    let mut second = es.tap_bulk();
    assert!(tap.recv().await.is_none(), "the replaced tap is closed");
    assert_eq!(
        send(addr, "POST", "/_bulk", &[NDJSON], BODY_A.as_bytes()).await,
        200
    );
    let seen = drain(&mut second);
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].body[..], BODY_A.as_bytes());
    es.stop().await;
}

#[tokio::test]
async fn tap_reports_each_answered_bulk_request_storing_sources() {
    reports_what_was_sent(true).await;
}

#[tokio::test]
async fn tap_reports_each_answered_bulk_request_counting_only() {
    reports_what_was_sent(false).await;
}
