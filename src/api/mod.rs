//! The node API (`http.host`/`http.port`, default 127.0.0.1:9600, as Logstash's), served by
//! [`Server`] on a thread of its own:
//!
//! - `GET /`: version, the filter release running, uptime;
//! - `GET /_node/stats`: Logstash's shape (`pipelines.main.events`, per-plugin `events`,
//!   `queue`, `reloads`);
//! - `GET /health`: 200 `{"status":"green"}`, or 503 `{"status":"red","reasons":[...]}` (see
//!   `health`);
//! - `GET /metrics`: Prometheus text (see `prometheus`).
//!
//! As Logstash, when the port is taken the next ones are tried, up to 9700 (many workers share
//! a host); the address bound is logged and printed to stderr.

pub mod health;
pub mod node_stats;
pub mod prometheus;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::metrics::Snapshot;
use crate::pipeline::PipelineStats;

use health::Health;

/// The default port, and the last one tried when it is taken.
pub const DEFAULT_PORT: u16 = 9600;
pub const LAST_PORT: u16 = 9700;

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("node API: no free port on {host} from {first} to {last}: {source}")]
    NoPort {
        host: String,
        first: u16,
        last: u16,
        source: std::io::Error,
    },
    #[error("node API: {0}")]
    Io(#[from] std::io::Error),
}

/// What the handlers share.
struct ApiState {
    stats: Arc<PipelineStats>,
    health: Health,
    address: SocketAddr,
}

/// The running API; stops when dropped.
pub struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `host:port` (or the next free port up to [`LAST_PORT`]) and serves `stats`.
    pub fn start(host: &str, port: u16, stats: Arc<PipelineStats>) -> Result<Server, ApiError> {
        let listener = bind(host, port)?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::new(ApiState {
            stats,
            health: Health::default(),
            address,
        });
        let thread = std::thread::Builder::new()
            .name("sluice-api".into())
            .spawn(move || runtime.block_on(serve(listener, state, stopped)))?;
        tracing::info!(%address, "node API listening");
        eprintln!("sluice: node API listening on http://{address}");
        Ok(Server {
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The first port from `port` up to [`LAST_PORT`] that binds (only `port` when it is above).
fn bind(host: &str, port: u16) -> Result<TcpListener, ApiError> {
    let last = port.max(LAST_PORT);
    let mut error = None;
    for candidate in port..=last {
        match TcpListener::bind((host, candidate)) {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => error = Some(e),
            Err(e) => return Err(ApiError::Io(e)),
        }
    }
    Err(ApiError::NoPort {
        host: host.to_string(),
        first: port,
        last,
        source: error.unwrap_or_else(|| std::io::ErrorKind::AddrInUse.into()),
    })
}

async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(error = %e, "node API could not listen");
            return;
        }
    };
    // Samples delivery progress every second, so a stall is seen even between requests.
    let ticker = tokio::spawn(tick(state.clone()));
    let app = Router::new()
        .route("/", get(root))
        .route("/_node/stats", get(stats))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await;
    ticker.abort();
    if let Err(e) = served {
        tracing::error!(error = %e, "node API failed");
    }
}

async fn tick(state: Arc<ApiState>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        state
            .health
            .check(&Snapshot::take(&state.stats), Instant::now());
    }
}

async fn root(State(state): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    let snapshot = Snapshot::take(&state.stats);
    Json(json!({
        "host": crate::metrics::reporter::default_tags(None)[0].1,
        "version": env!("CARGO_PKG_VERSION"),
        "http_address": state.address.to_string(),
        "release": snapshot.release,
        "uptime_in_millis": snapshot.uptime_millis,
        "pipeline": { "id": crate::metrics::snapshot::PIPELINE_ID },
    }))
}

async fn stats(State(state): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    Json(node_stats::render(&Snapshot::take(&state.stats)))
}

async fn health(State(state): State<Arc<ApiState>>) -> Response {
    let reasons = state
        .health
        .check(&Snapshot::take(&state.stats), Instant::now());
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "green" }))).into_response()
    } else {
        let body = json!({ "status": "red", "reasons": reasons });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let text = prometheus::render(&Snapshot::take(&state.stats));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
