//! `/_standin/...`: the fault script and the store over HTTP, for a stand-in in another process
//! (the `es-standin` binary). The JSON formats are in the module docs of the parent.

use std::time::{Duration, Instant};

use axum::body::Body as HttpBody;
use axum::http::Method;
use serde_json::{json, Value};

use super::faults::FaultSpecs;
use super::responses::{simple_error, Reply};
use super::{lock, RequestRecord, Shared};

/// `/_standin/...`: the fault script and the store over HTTP.
pub(super) async fn control(shared: &Shared, method: &Method, path: &str, body: HttpBody) -> Reply {
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return simple_error(413, "control request too large");
    };
    match (method.as_str(), path.trim_end_matches('/')) {
        ("POST" | "PUT", "/_standin/faults") => match serde_json::from_slice::<FaultSpecs>(&body) {
            Ok(specs) => {
                let specs = match specs {
                    FaultSpecs::One(s) => vec![s],
                    FaultSpecs::Many(v) => v,
                };
                for spec in specs {
                    if let Err(e) = shared.faults.apply(spec) {
                        return simple_error(400, &e);
                    }
                }
                Reply::acknowledged()
            }
            Err(e) => simple_error(400, &format!("bad fault: {e}")),
        },
        ("DELETE", "/_standin/faults") => {
            shared.faults.clear();
            Reply::acknowledged()
        }
        ("GET", "/_standin/stats") => Reply::ok(stats(shared)),
        ("GET", "/_standin/requests") => {
            let list: Vec<Value> = lock(&shared.requests)
                .iter()
                .map(|r| record_json(r, shared.started))
                .collect();
            Reply::ok(Value::Array(list))
        }
        ("DELETE", "/_standin/data") => {
            shared.store().clear();
            lock(&shared.requests).clear();
            Reply::acknowledged()
        }
        _ => simple_error(
            400,
            &format!("no stand-in control endpoint [{method} {path}]"),
        ),
    }
}

fn stats(shared: &Shared) -> Value {
    let (requests, bulk_requests, items) = {
        let reqs = lock(&shared.requests);
        let bulk = reqs.iter().filter(|r| r.path.ends_with("/_bulk")).count();
        (
            reqs.len(),
            bulk,
            reqs.iter().map(|r| r.items).sum::<usize>(),
        )
    };
    let store = shared.store();
    let indices: serde_json::Map<String, Value> = store
        .indices
        .iter()
        .map(|(n, i)| (n.clone(), json!(i.count())))
        .collect();
    json!({"requests": requests, "bulk_requests": bulk_requests, "items": items, "indices": indices})
}

fn record_json(r: &RequestRecord, started: Instant) -> Value {
    let at = r.arrived.saturating_duration_since(started);
    json!({
        "method": r.method, "path": r.path, "query": r.query, "content_type": r.content_type,
        "content_encoding": r.content_encoding, "body_len": r.body_len, "items": r.items,
        "status": r.status, "at_ms": Duration::as_secs_f64(&at) * 1000.0
    })
}
