//! The sandbox's HTTP server: the page's assets (compiled into the binary) and the JSON API the
//! module docs of [`super`] describe. [`Sandbox`] holds what the handlers share; [`serve`] runs
//! the router and the watcher that re-reads the `-f` files every [`WATCH_INTERVAL`] (and hands
//! changed filters to the live tap, if any).
//!
//! Runs and grok explanations are CPU work: they run on tokio's blocking threads, inside
//! `catch_unwind`, so a filter that panics on a line answers 500 with the panic's message and
//! the server goes on.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::session::{self, GrokError, GrokRequest, RunRequest, SessionSettings};
use super::tap::{Tap, TapQuery};
use super::workspace::{FileText, SaveError, Workspace};

/// How often the `-f` files are re-read.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(500);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// What the handlers share.
pub struct Sandbox {
    pub workspace: Workspace,
    pub settings: SessionSettings,
    pub tap: Option<Tap>,
}

/// Serves `sandbox` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let watcher = tokio::spawn(watch(sandbox.clone()));
    let result = axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(shutdown)
        .await;
    watcher.abort();
    result
}

/// The page and the API.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/api/files", get(files))
        .route("/api/run", post(run))
        .route("/api/grok", post(grok))
        .route("/api/save", post(save))
        .route("/api/tap", get(tap))
        .with_state(sandbox)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Re-reads the files now and then; new filters go to the tap.
async fn watch(sandbox: Arc<Sandbox>) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    loop {
        ticks.tick().await;
        let sandbox = sandbox.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if sandbox.workspace.refresh() {
                refilter_tap(&sandbox);
            }
        })
        .await;
    }
}

/// Hands the workspace's filters to the tap, when they build.
pub fn refilter_tap(sandbox: &Sandbox) {
    let Some(tap) = &sandbox.tap else {
        return;
    };
    match session::load(&sandbox.workspace.files(), &sandbox.settings) {
        Ok(loaded) => tap.replace_filters(loaded.graph),
        Err(problems) => {
            let first = problems.first().map_or("", |p| p.rendered.as_str());
            tracing::warn!(
                "sandbox: the changed filters do not build; the tap keeps the old ones: {first}"
            );
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// A JSON request body; one that cannot be read answers 400 with why.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(body)) => Ok(Body(body)),
            Err(e) => Err(error(StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
}

/// Runs `work` on a blocking thread, turning a panic into a 500.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    let joined = tokio::task::spawn_blocking(move || catch_unwind(AssertUnwindSafe(work))).await;
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a filter panicked".to_string());
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("a filter panicked: {message}"),
            ))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn files(State(sandbox): State<Arc<Sandbox>>) -> Response {
    Json(sandbox.workspace.snapshot()).into_response()
}

async fn run(State(sandbox): State<Arc<Sandbox>>, Body(request): Body<RunRequest>) -> Response {
    match blocking(move || session::run(&request, &sandbox.settings)).await {
        Ok(response) => Json(response).into_response(),
        Err(response) => response,
    }
}

async fn grok(State(sandbox): State<Arc<Sandbox>>, Body(request): Body<GrokRequest>) -> Response {
    let answer = match blocking(move || session::grok(&request, &sandbox.settings)).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    match answer {
        Ok(response) => Json(response).into_response(),
        Err(GrokError::Config(diagnostics)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "the config has errors", "diagnostics": diagnostics})),
        )
            .into_response(),
        Err(e @ GrokError::NoSuchFilter(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ GrokError::Input(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Deserialize)]
struct SaveRequest {
    files: Vec<FileText>,
}

async fn save(State(sandbox): State<Arc<Sandbox>>, Body(request): Body<SaveRequest>) -> Response {
    let saved = match blocking(move || {
        let saved = sandbox.workspace.save(&request.files);
        if saved.is_ok() {
            refilter_tap(&sandbox);
        }
        saved
    })
    .await
    {
        Ok(saved) => saved,
        Err(response) => return response,
    };
    match saved {
        Ok(version) => Json(json!({"version": version})).into_response(),
        Err(e @ SaveError::ReadOnly) => error(StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ SaveError::NotInWorkspace(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ SaveError::Write { .. }) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
struct TapParams {
    #[serde(rename = "where")]
    where_: Option<String>,
    fields: Option<String>,
    limit: Option<usize>,
}

async fn tap(State(sandbox): State<Arc<Sandbox>>, Query(params): Query<TapParams>) -> Response {
    let Some(tap) = &sandbox.tap else {
        return Json(
            json!({"source": null, "running": false, "error": null, "seen": 0, "events": []}),
        )
        .into_response();
    };
    let query = TapQuery {
        where_: params.where_,
        fields: params
            .fields
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        limit: params.limit,
    };
    match tap.snapshot(&query) {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}
