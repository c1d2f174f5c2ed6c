//! The life of one bulk request: send, read the answer item by item, retry what can be
//! retried (only those items, with backoff), dead-letter what never will be indexed, and let go
//! of the batches when every item is done, which acknowledges them to the inputs.
//!
//! Whole-request failures are retried the same way (connection refused, timeouts, 429, 5xx,
//! 401/403 while credentials are fixed); a 413 (body too large) or 400 (a body Elasticsearch
//! cannot parse) splits the request in halves, down to single items, and a single item that
//! still gets one of those is dead-lettered with that status. Nothing is ever dropped: the loop
//! runs for as long as it takes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_ENCODING};
use elasticsearch::http::Method;
use rand::Rng;

use crate::dlq::{DeadLetterQueue, DlqEntry};
use crate::metrics::process;

use super::bulk::{BulkRequest, Item};
use super::client::{Answer, Hosts, SendError};
use super::response::{self, describe, Outcome};

/// What every request of one output shares.
pub struct Shared {
    pub hosts: Hosts,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub dead_letter_codes: Vec<u16>,
    pub dead_letter_queue: Option<Arc<DeadLetterQueue>>,
    pub plugin_id: String,
    /// gzip level of request bodies; 0: sent as they are.
    pub compression_level: u32,
    pub stats: Stats,
}

/// Counters an output keeps (metrics read them).
#[derive(Debug, Default)]
pub struct Stats {
    pub bulk_requests: AtomicU64,
    pub bulk_retries: AtomicU64,
    pub bulk_failures: AtomicU64,
    pub docs_indexed: AtomicU64,
    pub docs_dead_lettered: AtomicU64,
    pub docs_dropped: AtomicU64,
}

/// Exponential backoff with jitter: each wait is drawn from the upper half of an interval
/// that doubles from `initial` up to `max`.
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { next: initial, max }
    }

    pub fn next_wait(&mut self) -> Duration {
        let interval = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = interval / 2;
        half + half.mul_f64(rand::thread_rng().gen::<f64>())
    }

    pub fn reset(&mut self, initial: Duration) {
        self.next = initial;
    }
}

/// Delivers `request` completely; returns when every item is indexed or dead-lettered.
pub async fn deliver(shared: &Shared, request: BulkRequest) {
    dead_letter_refused(shared, &request).await;
    // Each request with its body as sent (gzipped once, reused when sent again whole).
    let mut pending = vec![(request, None)];
    let mut backoff = Backoff::new(shared.retry_initial, shared.retry_max);
    while let Some((request, encoded)) = pending.pop() {
        if request.items.is_empty() {
            continue;
        }
        let payload = match encoded {
            Some(payload) => payload,
            None => Payload::encode(&request, shared.compression_level).await,
        };
        match attempt(shared, &request, &payload).await {
            Attempt::Finished => backoff.reset(shared.retry_initial),
            Attempt::Split => {
                let (left, right) = request.items.split_at(request.items.len() / 2);
                pending.push((request.subset(right), None));
                pending.push((request.subset(left), None));
            }
            Attempt::Again(retry) => {
                shared.stats.bulk_retries.fetch_add(1, Ordering::Relaxed);
                process::add(&process::counters().es_bulk_retries, 1);
                tokio::time::sleep(backoff.next_wait()).await;
                match retry {
                    Some(some_items) => pending.push((some_items, None)),
                    None => pending.push((request, Some(payload))),
                }
            }
        }
    }
}

/// A request body as it goes on the wire, with the headers that describe it (those
/// logstash-output-elasticsearch sends).
#[derive(Clone)]
struct Payload {
    body: Bytes,
    headers: HeaderMap,
}

impl Payload {
    /// gzips on a blocking thread: a 20 MiB body takes ~100 ms to compress, which must not
    /// hold up a runtime thread that inputs and other requests share.
    async fn encode(request: &BulkRequest, level: u32) -> Payload {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-elastic-event-count",
            HeaderValue::from(request.items.len()),
        );
        if level == 0 {
            return Payload {
                body: request.body.clone(),
                headers,
            };
        }
        let plain = request.body.clone();
        let gzipped = tokio::task::spawn_blocking(move || gzip(&plain, level)).await;
        // gzip into memory does not fail; if it ever did, send the body as it is.
        let Ok(Ok(gzipped)) = gzipped else {
            return Payload {
                body: request.body.clone(),
                headers,
            };
        };
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(
            "x-elastic-uncompressed-request-length",
            HeaderValue::from(request.body.len()),
        );
        Payload {
            body: gzipped,
            headers,
        }
    }
}

fn gzip(data: &[u8], level: u32) -> std::io::Result<Bytes> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(level),
    );
    encoder.write_all(data)?;
    Ok(Bytes::from(encoder.finish()?))
}

enum Attempt {
    /// Every item is done or dead-lettered.
    Finished,
    /// Too large or unparseable as a whole: try the halves.
    Split,
    /// Some items (`Some`) or the whole request (`None`) must be sent again after a wait.
    Again(Option<BulkRequest>),
}

async fn attempt(shared: &Shared, request: &BulkRequest, payload: &Payload) -> Attempt {
    let Some(host) = shared.hosts.pick() else {
        tracing::error!(
            output = shared.plugin_id,
            "{}; events wait until a host is fixed",
            SendError::NoUsableHost
        );
        return Attempt::Again(None);
    };
    shared.stats.bulk_requests.fetch_add(1, Ordering::Relaxed);
    process::add(&process::counters().es_bulk_requests, 1);
    let query = [("filter_path", response::FILTER_PATH)];
    let sent = host
        .send_with(
            Method::Post,
            "/_bulk",
            &query,
            Some(payload.body.clone()),
            payload.headers.clone(),
        )
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            shared.stats.bulk_failures.fetch_add(1, Ordering::Relaxed);
            process::add(&process::counters().es_bulk_failures, 1);
            host.failed(shared.retry_initial, shared.retry_max);
            tracing::warn!(output = shared.plugin_id, error = %e, "bulk request failed; retrying");
            return Attempt::Again(None);
        }
    };
    if (500..600).contains(&answer.status) {
        host.failed(shared.retry_initial, shared.retry_max);
    } else {
        host.succeeded();
    }
    handle_answer(shared, request, answer).await
}

async fn handle_answer(shared: &Shared, request: &BulkRequest, answer: Answer) -> Attempt {
    let status = answer.status;
    if !(200..300).contains(&status) {
        shared.stats.bulk_failures.fetch_add(1, Ordering::Relaxed);
        process::add(&process::counters().es_bulk_failures, 1);
        return whole_request_failed(shared, request, &answer).await;
    }
    let items = match response::parse(&answer.body, request.items.len()) {
        Ok(items) => items,
        Err(e) => {
            shared.stats.bulk_failures.fetch_add(1, Ordering::Relaxed);
            process::add(&process::counters().es_bulk_failures, 1);
            tracing::error!(output = shared.plugin_id, error = %e, "bad bulk response; retrying");
            return Attempt::Again(None);
        }
    };
    let mut retry: Vec<Item> = Vec::new();
    let mut dead: Vec<(Item, u16, String)> = Vec::new();
    let mut last_retry_error = None;
    let mut indexed = 0u64;
    for (item, answer) in request.items.iter().zip(items) {
        let outcome = response::outcome(answer.status, answer.error, &shared.dead_letter_codes);
        match outcome {
            Outcome::Done => {
                if answer.status == 409 && item.op != super::bulk::Op::Create {
                    shared.stats.docs_dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    indexed += 1;
                }
            }
            Outcome::DeadLetter { status, error } => dead.push((item.clone(), status, error)),
            Outcome::Retry { status, error } => {
                last_retry_error = Some((status, error));
                retry.push(item.clone());
            }
        }
    }
    // One add per answer, not per document.
    shared
        .stats
        .docs_indexed
        .fetch_add(indexed, Ordering::Relaxed);
    process::add(&process::counters().es_docs_indexed, indexed);
    let letters: Vec<Letter> = dead
        .iter()
        .map(|(item, status, error)| Letter::of_item(request, item, *status, error))
        .collect();
    dead_letter(shared, request, &letters).await;
    if retry.is_empty() {
        return Attempt::Finished;
    }
    if let Some((status, error)) = last_retry_error {
        tracing::warn!(
            output = shared.plugin_id,
            items = retry.len(),
            status,
            error = describe(&error),
            "retrying bulk items"
        );
    }
    Attempt::Again(Some(request.subset(&retry)))
}

async fn whole_request_failed(shared: &Shared, request: &BulkRequest, answer: &Answer) -> Attempt {
    let status = answer.status;
    let detail = String::from_utf8_lossy(&answer.body[..answer.body.len().min(512)]).into_owned();
    match status {
        413 | 400 if request.items.len() > 1 => {
            tracing::warn!(
                output = shared.plugin_id,
                status,
                items = request.items.len(),
                "bulk request refused as a whole; splitting it"
            );
            Attempt::Split
        }
        413 | 400 => {
            let error = serde_json::Value::String(format!("bulk request refused: {detail}"));
            let error = error.to_string();
            let letter = Letter::of_item(request, &request.items[0], status, &error);
            dead_letter(shared, request, &[letter]).await;
            Attempt::Finished
        }
        _ => {
            tracing::warn!(
                output = shared.plugin_id,
                status,
                body = detail,
                "bulk request failed; retrying"
            );
            Attempt::Again(None)
        }
    }
}

/// One event for the dead letter queue: where it lies in its request, and why.
struct Letter<'r> {
    batch: u32,
    event: u32,
    index: &'r str,
    status: u16,
    /// Elasticsearch's error object (or a JSON string) as JSON text.
    error: &'r str,
}

impl<'r> Letter<'r> {
    fn of_item(request: &'r BulkRequest, item: &Item, status: u16, error: &'r str) -> Self {
        Letter {
            batch: item.batch,
            event: item.event,
            index: request.index_of(item),
            status,
            error,
        }
    }
}

/// Events whose action could not even be written go to the dead letter queue at once.
async fn dead_letter_refused(shared: &Shared, request: &BulkRequest) {
    let letters: Vec<Letter> = request
        .refused
        .iter()
        .map(|r| Letter {
            batch: r.batch,
            event: r.event,
            index: &r.index,
            status: 400,
            error: &r.error,
        })
        .collect();
    dead_letter(shared, request, &letters).await;
}

async fn dead_letter(shared: &Shared, request: &BulkRequest, letters: &[Letter<'_>]) {
    if letters.is_empty() {
        return;
    }
    let entries: Vec<DlqEntry> = letters
        .iter()
        .filter_map(|letter| {
            Some(DlqEntry {
                event: request.event_of(letter.batch, letter.event)?,
                plugin_type: "elasticsearch",
                plugin_id: &shared.plugin_id,
                index: letter.index,
                status: letter.status,
                error: letter.error,
            })
        })
        .collect();
    write_dead_letters(shared, &entries).await;
}

/// Appends `entries` to the dead letter queue, retrying until the write succeeds (a full
/// disk must not lose them); without a queue, logs them and lets them go, as Logstash does.
async fn write_dead_letters(shared: &Shared, entries: &[DlqEntry<'_>]) {
    let Some(queue) = &shared.dead_letter_queue else {
        for entry in entries {
            tracing::warn!(
                output = shared.plugin_id,
                index = entry.index,
                status = entry.status,
                error = describe(entry.error),
                "event refused by Elasticsearch and dropped (dead_letter_queue.enable is off)"
            );
        }
        shared
            .stats
            .docs_dropped
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        return;
    };
    let mut backoff = Backoff::new(shared.retry_initial, shared.retry_max);
    loop {
        match blocking(|| queue.append(entries)) {
            Ok(()) => {
                shared
                    .stats
                    .docs_dead_lettered
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                tracing::error!(output = shared.plugin_id, error = %e, "cannot write the dead letter queue; retrying");
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    }
}

/// Runs `f` (a short blocking call: a write and an fsync) without stalling the other tasks of a
/// multi-threaded runtime; on a current-thread runtime there are none to stall.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<Duration> = (0..5).map(|_| b.next_wait()).collect();
        let bounds = [(50, 100), (100, 200), (175, 350), (175, 350), (175, 350)];
        for (wait, (lo, hi)) in waits.iter().zip(bounds) {
            let ms = wait.as_millis();
            assert!(ms >= lo && ms <= hi, "{waits:?}");
        }
    }
}
