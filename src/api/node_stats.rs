//! [`render`]: `GET /_node/stats` in Logstash's shape:
//!
//! ```json
//! { "pipelines": { "main": {
//!     "events": { "in", "filtered", "out", "duration_in_millis" },
//!     "plugins": { "inputs": [{ "id", "name", "events": { "out" } }],
//!                  "filters": [{ "id", "name", "events": { "in", "out", "duration_in_millis" } }],
//!                  "outputs": [{ "id", "name", "events": { "in", "out" } }] },
//!     "queue": { "type": "memory", "events_count", "input": {..}, "outputs": [..] },
//!     "reloads": { "successes", "failures", "last_error": null | { "message" } } } },
//!   "events": { ... the same as the pipeline's ... } }
//! ```
//!
//! Inputs list no events (the pipeline does not count per input); outputs have no
//! `duration_in_millis` (the pipeline-wide `latency.output` covers them).

use serde_json::{json, Value};

use crate::metrics::snapshot::{QueueFigures, PIPELINE_ID};
use crate::metrics::Snapshot;

/// The snapshot as `/_node/stats` JSON.
pub fn render(s: &Snapshot) -> Value {
    let events = json!({
        "in": s.events_in,
        "filtered": s.events_filtered,
        "out": s.events_out,
        "failed": s.events_failed,
        "duration_in_millis": s.duration_millis,
    });
    let inputs: Vec<Value> = s
        .inputs
        .iter()
        .map(|i| json!({ "id": i.id, "name": i.name, "events": { "out": i.events_out } }))
        .collect();
    let filters: Vec<Value> = s
        .filters
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "events": {
                    "in": f.events_in,
                    "out": f.events_out,
                    "duration_in_millis": f.duration_millis,
                },
            })
        })
        .collect();
    let outputs: Vec<Value> = s
        .outputs
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "name": o.name,
                "events": { "in": o.events_in, "out": o.events_out },
                "batches": o.batches,
                "errors": o.errors,
            })
        })
        .collect();
    let output_queues: Vec<Value> = s
        .outputs
        .iter()
        .map(|o| {
            let mut q = queue(o.queue);
            q["id"] = json!(o.id);
            q
        })
        .collect();
    let pipeline = json!({
        "events": events,
        "plugins": { "inputs": inputs, "filters": filters, "outputs": outputs },
        "queue": {
            "type": "memory",
            "events_count": s.events_in_outputs,
            "input": queue(s.input_queue),
            "outputs": output_queues,
        },
        "reloads": {
            "successes": s.reloads.successes,
            "failures": s.reloads.failures,
            "last_error": s.reloads.last_error.as_ref().map(|m| json!({ "message": m })),
        },
        "release": s.release,
    });
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "events": events,
        "pipelines": { PIPELINE_ID: pipeline },
    })
}

fn queue(q: QueueFigures) -> Value {
    json!({ "depth_in_batches": q.depth, "capacity_in_batches": q.capacity })
}
