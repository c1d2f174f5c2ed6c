//! A faithful Elasticsearch stand-in: an in-process HTTP server that answers the requests a
//! log shipper sends (`HEAD /`, `GET /`, `_license`, `_cluster/health`, index templates,
//! `_bulk`, `_count`, `_search`) the way Elasticsearch 7.x or 8.x does, stores what it is sent,
//! and fails on command ([`Faults`]), so the elasticsearch output can be tested and benchmarked
//! on machines where Elasticsearch cannot run.
//!
//! # Overview
//! - [`StandIn`]: a running server ([`StandIn::start`]); inspect what it stored
//!   ([`StandIn::docs`], [`StandIn::count`]) and what it was asked ([`StandIn::requests`]).
//! - [`StandIn::tap_bulk`]: a channel that reports every answered `_bulk` request as a
//!   [`BulkSeen`] (when it was answered, the status, the decompressed NDJSON body), for
//!   measuring end-to-end latency without storing sources. Nothing is sent, and no lock is
//!   taken per item, unless a tap is installed; one lock per `_bulk` request when it is.
//! - [`Config`]: version to imitate ([`EsVersion`]), product header, size limit, address.
//! - [`Faults`]: a deterministic fault script: per-item failures, whole-request failures, slow
//!   answers, dropped connections, downtime. Also scriptable over HTTP (below), for the
//!   `es-standin` binary.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use sluice::standin::elasticsearch::{Config, EsVersion, ItemFault, StandIn, Times};
//! let es = StandIn::start(Config { version: EsVersion::V7, ..Config::default() }).await?;
//! es.faults().fail_items(ItemFault::Rejected, Times::Count(2)); // next 2 items: 429
//! // ... point the output at es.url(), run it ...
//! assert_eq!(es.count("logs"), 10);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `routes`: the one axum handler: fault script, routing, query parameters, content types,
//!   body size and encoding, and the common finish (headers, `filter_path`, gzip).
//! - `endpoints`: the Elasticsearch endpoints; `control`: the `/_standin/` ones.
//! - `bulk`: `_bulk` parsing (`action_line`), validation, applying (`apply`), answer (`response`).
//! - `store` (indices, documents, templates), `search` (queries), `filter_path`, `faults`,
//!   `listener` (killable connections, downtime), `responses` (error shapes).
//!
//! # Faithful (checked against Elasticsearch's sources and docs)
//! - `_bulk` parsing follows `BulkRequestParser`: the trailing-newline rule, `\r\n`, blank
//!   lines, `delete` without a source line, an action at the very end without its source line
//!   silently dropped, unknown actions skipped with their source line, `null` metadata values
//!   ignored, the exact messages for unknown metadata keys (`_type` is one in 8.x), arrays and
//!   objects as metadata values, and "Update requests do not support versioning". Then
//!   `BulkRequest.validate`: "index is missing", "id is missing", "no requests added" as one
//!   whole-request `action_request_validation_exception`.
//! - Headers: the Content-Type rules (406 with ES's simple error body, "Content-Type header is
//!   missing"), `Content-Encoding: gzip`/`deflate`, `http.max_content_length` on the
//!   uncompressed size (413, empty body; 417 for `Expect: 100-continue`), gzip responses when
//!   the client accepts them, `X-elastic-product` only from 7.14 on.
//! - Unknown query parameters: 400 "request [/_bulk] contains unrecognized parameter: [x] ->
//!   did you mean [y]?", with Lucene's Levenshtein similarity above 0.5 as in ES.
//! - Items: `_type: _doc` only in 7.x; `_version`, `_seq_no` (per index), `result`
//!   created/updated/deleted/not_found/noop, 201/200/404; `create` on an existing id is 409
//!   `version_conflict_engine_exception`; re-creating a deleted id continues its version;
//!   invalid index names fail per item (`invalid_index_name_exception`); `require_alias` fails
//!   every item (the stand-in has no aliases); data streams (an index matching a composable
//!   template with `data_stream`) take only op_type `create`, need `@timestamp`, and answer
//!   with their `.ds-` backing index; `mapper_parsing_exception` becomes
//!   `document_parsing_exception` from 8.8.
//! - `filter_path`: comma-separated dotted patterns with `*` inside names and `**` for any depth,
//!   `-` exclusions; arrays are transparent; elements and objects left empty are dropped.
//!
//! # Simplified (say so in a test that relies on them)
//! - One node, one shard per index: `_shards` is always `{"total":2,"successful":1,"failed":0}`
//!   yet health is green; `_primary_term` is 1; no refresh delay (documents are searchable at
//!   once).
//! - No mappings: a source is only checked to be a JSON object; a type clash can only be
//!   injected ([`ItemFault::MapperParsing`]). `version`/`version_type`/`if_seq_no` are accepted
//!   and ignored; update scripts fail per item; ingest pipelines are not run.
//! - Malformed JSON in an action line is a 400 `x_content_parse_exception` (7.x:
//!   `json_parse_exception`) whose reason is serde_json's, not Jackson's.
//! - `_search`/`_count` know `match_all`, `term`, `terms`, `match` (any lowercase word),
//!   `exists`, `range` (numbers/strings) and `bool` (`must`/`filter`/`should`/`must_not`) on
//!   dotted fields; `sort` by one or more fields; no scoring (`_score` 1.0).
//! - Injected error reasons are plausible but fixed texts.
//! - Keys of answers other than `_bulk`'s (and of error objects) come in alphabetical order:
//!   serde_json's map sorts them unless its `preserve_order` feature is on. JSON readers do not
//!   care; a client matching substrings of an error object might.
//! - With [`Config::store_sources`] false only counts are kept: no `create` conflicts, no
//!   updates or deletes of stored documents, `doc`/`docs` return nothing.
//!
//! # Control endpoints (for another process, e.g. the e2e benchmark)
//! Not recorded in [`StandIn::requests`], never faulted.
//!
//! ```text
//! POST   /_standin/faults    one fault or an array of them, each one of:
//!   {"fault":"item","status":429,"times":3}                 next 3 items (400|404|409|429|500|503)
//!   {"fault":"item","status":400,"marker":"poison","times":"forever"}  items whose source contains it
//!   {"fault":"request","status":503,"times":2}             next 2 bulk requests (401|403|413|429|503)
//!   {"fault":"slow","delay_ms":500,"times":2,"scope":"bulk"}  scope "bulk" (default) or "all"
//!   {"fault":"drop","times":1,"scope":"all"}                close without answering
//!   {"fault":"down","for_ms":2000}                         refuse connections, then come back
//!   ("times" defaults to 1.)                 -> {"acknowledged":true}
//! DELETE /_standin/faults    forget every scripted fault -> {"acknowledged":true}
//! GET    /_standin/stats     {"requests":N,"bulk_requests":N,"items":N,"indices":{"name":count}}
//! GET    /_standin/requests  [{"method","path","query","content_type","content_encoding",
//!                              "body_len","items","status","at_ms"}, ...]
//! DELETE /_standin/data      forget documents, templates and recorded requests
//! ```

mod bulk;
mod control;
mod endpoints;
mod faults;
mod filter_path;
mod listener;
mod responses;
mod routes;
mod search;
mod store;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use faults::{Faults, ItemFault, RequestFault, Scope, Times};

/// An Elasticsearch version to imitate: the number `GET /` reports and the behaviours that
/// changed between versions (`_type`, product header, `document_parsing_exception`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EsVersion {
    /// Major version: 7 or 8 (others are accepted and treated as the nearest).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch version.
    pub patch: u8,
}

impl EsVersion {
    /// The last 7.x: 7.17.18.
    pub const V7: EsVersion = EsVersion::new(7, 17, 18);
    /// A recent 8.x: 8.15.0.
    pub const V8: EsVersion = EsVersion::new(8, 15, 0);

    /// A version from its three numbers.
    pub const fn new(major: u8, minor: u8, patch: u8) -> EsVersion {
        EsVersion {
            major,
            minor,
            patch,
        }
    }

    /// 7.14 added the `X-elastic-product` header.
    fn sends_product_header(self) -> bool {
        self >= EsVersion::new(7, 14, 0)
    }

    /// 8.8 renamed `mapper_parsing_exception` (ES PR #92646).
    fn document_parsing_exception(self) -> bool {
        self >= EsVersion::new(8, 8, 0)
    }

    /// Mapping types show in responses (`"_type":"_doc"`) before 8.0.
    fn has_types(self) -> bool {
        self.major < 8
    }
}

impl fmt::Display for EsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why a version string was not understood.
#[derive(Debug, thiserror::Error)]
#[error("not an Elasticsearch version: {0:?} (expected 7, 8 or X.Y.Z)")]
pub struct VersionError(String);

impl FromStr for EsVersion {
    type Err = VersionError;

    /// `"7"` and `"8"` mean [`EsVersion::V7`] and [`EsVersion::V8`]; `"7.10.2"` is exact.
    fn from_str(s: &str) -> Result<EsVersion, VersionError> {
        let err = || VersionError(s.to_string());
        match s {
            "7" => return Ok(EsVersion::V7),
            "8" => return Ok(EsVersion::V8),
            _ => {}
        }
        let mut parts = s.split('.').map(|p| p.parse::<u8>().map_err(|_| err()));
        let major = parts.next().ok_or_else(err)??;
        let minor = parts.next().ok_or_else(err)??;
        let patch = parts.next().unwrap_or(Ok(0))?;
        if parts.next().is_some() || !(5..=9).contains(&major) {
            return Err(err());
        }
        Ok(EsVersion::new(major, minor, patch))
    }
}

/// How a [`StandIn`] behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The version to imitate.
    pub version: EsVersion,
    /// False: pretend to be something else (no `X-elastic-product` header, no tagline), so an
    /// output's product check can be tested.
    pub product_header: bool,
    /// `http.max_content_length`, applied to the uncompressed body (default 100 MiB).
    pub max_content_length: usize,
    /// Where to listen (default 127.0.0.1, any free port).
    pub addr: Option<SocketAddr>,
    /// False: keep only per-index counts (benchmarks); see the module docs for what is lost.
    pub store_sources: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            version: EsVersion::V8,
            product_header: true,
            max_content_length: 100 * 1024 * 1024,
            addr: None,
            store_sources: true,
        }
    }
}

/// One request as the stand-in received it (control endpoints excluded).
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Content-Encoding` header.
    pub content_encoding: Option<String>,
    /// Every header, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body's size after decompression.
    pub body_len: usize,
    /// For `_bulk`: the number of items parsed (0 when the request failed as a whole).
    pub items: usize,
    /// The status answered; 0 when the connection was closed without an answer.
    pub status: u16,
    /// When the request arrived.
    pub arrived: Instant,
}

impl RequestRecord {
    /// The value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One answered `_bulk` request, as reported by [`StandIn::tap_bulk`].
#[derive(Clone, Debug)]
pub struct BulkSeen {
    /// When the answer was ready to go out (after the items were applied and the response
    /// built): the moment the client's events count as acknowledged.
    pub answered: Instant,
    /// The status answered (200 even when some items failed; see the body of the answer).
    pub status: u16,
    /// The request body after decompression: action and source lines as sent. Empty when the
    /// request failed before its body was read (e.g. a bad query parameter).
    pub body: Bytes,
}

/// State shared by the listener, the handlers and the [`StandIn`] handle.
struct Shared {
    config: Config,
    faults: Faults,
    store: Mutex<store::Store>,
    requests: Mutex<Vec<RequestRecord>>,
    /// Where answered `_bulk` requests are reported, once [`StandIn::tap_bulk`] was called.
    tap: Mutex<Option<mpsc::UnboundedSender<BulkSeen>>>,
    ids: store::IdGenerator,
    /// Reported by `GET /`; random per server like a fresh cluster's.
    cluster_uuid: String,
    started: Instant,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, store::Store> {
        lock(&self.store)
    }
}

/// Locks a mutex, ignoring poisoning: a panicking handler leaves consistent data behind
/// (every mutation is a single insert or removal).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running stand-in. Stops when dropped, or with [`StandIn::stop`].
pub struct StandIn {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Binds the address and starts serving on the current tokio runtime.
    pub async fn start(config: Config) -> std::io::Result<StandIn> {
        let bind = config
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let tcp = tokio::net::TcpListener::bind(bind).await?;
        let addr = tcp.local_addr()?;
        let connections = Arc::new(listener::Connections::default());
        let shared = Arc::new(Shared {
            faults: Faults::new(connections.clone()),
            store: Mutex::new(store::Store::new(config.store_sources)),
            requests: Mutex::new(Vec::new()),
            tap: Mutex::new(None),
            ids: store::IdGenerator::new(),
            cluster_uuid: store::random_base64(16),
            started: Instant::now(),
            config,
        });
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(routes::serve(
            listener::StandInListener::new(tcp, addr, shared.clone(), connections),
            shared.clone(),
            stop,
        ));
        Ok(StandIn {
            shared,
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn stop(mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            // The task only ends by finishing or by this abort; neither is an error here.
            let _ = task.await;
        }
    }

    fn signal_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The receiver is gone only when the server already stopped.
            let _ = tx.send(());
        }
        self.shared.faults.connections().kill_all();
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The fault script; callable while the server runs.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Documents in an index (or data stream).
    pub fn count(&self, index: &str) -> usize {
        self.shared.store().count(index)
    }

    /// One stored document's source.
    pub fn doc(&self, index: &str, id: &str) -> Option<serde_json::Value> {
        self.shared.store().doc(index, id)
    }

    /// Every stored document of an index as `(_id, source)`, in `_seq_no` order: the order of
    /// each document's last write (arrival order when nothing was overwritten).
    pub fn docs(&self, index: &str) -> Vec<(String, serde_json::Value)> {
        self.shared.store().docs(index)
    }

    /// Names of the indices and data streams that hold or held documents, sorted.
    pub fn indices(&self) -> Vec<String> {
        self.shared.store().index_names()
    }

    /// Whether `name` is a data stream.
    pub fn is_data_stream(&self, name: &str) -> bool {
        self.shared.store().is_data_stream(name)
    }

    /// Every request received so far (control endpoints excluded), in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    /// Reports every `_bulk` request answered from now on (not those dropped unanswered), in
    /// the order they were answered. Replaces an earlier tap; dropping the receiver stops the
    /// reports. The channel is unbounded: drain it, or drop it when done.
    pub fn tap_bulk(&self) -> mpsc::UnboundedReceiver<BulkSeen> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.shared.tap) = Some(tx);
        rx
    }

    /// Stored composable index templates (`_index_template`), sorted by name.
    pub fn templates(&self) -> Vec<(String, serde_json::Value)> {
        self.shared.store().templates(store::Kind::IndexTemplate)
    }

    /// Stored legacy templates (`_template`), sorted by name.
    pub fn legacy_templates(&self) -> Vec<(String, serde_json::Value)> {
        self.shared.store().templates(store::Kind::LegacyTemplate)
    }

    /// Forgets documents, templates and recorded requests (not the fault script).
    pub fn reset(&self) {
        self.shared.store().clear();
        lock(&self.shared.requests).clear();
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
