//! What an Elasticsearch answer to a bulk request means for each item.
//!
//! The request asks for `filter_path=errors,items.*.error,items.*.status` (as Logstash does),
//! so a response is small: `{"errors":false,"items":[{"index":{"status":201}},...]}`. Items come
//! back in request order; a response with another number of items is an error, never a success.

use serde::Deserialize;

/// The query string of every bulk request.
pub const FILTER_PATH: &str = "errors,items.*.error,items.*.status";

/// What happens to one item after a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Indexed (2xx), or already there (409 on `create`), or given up on as Logstash does (409
    /// on other actions: a version conflict nobody can fix by retrying).
    Done,
    /// Refused for good (400, 404, or a code in `dlq_custom_codes`): to the dead letter queue.
    DeadLetter { status: u16, error: String },
    /// Refused for now (429, 5xx, anything else): send again later.
    Retry { status: u16, error: String },
}

/// The items of a bulk response, each with its status and error.
#[derive(Debug)]
pub struct ItemStatus {
    pub status: u16,
    /// Elasticsearch's `error` object as JSON text, `""` when none.
    pub error: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    #[error("the bulk response is not valid JSON: {0}")]
    Json(String),
    #[error("the bulk response has {got} items for {sent} sent")]
    ItemCount { got: usize, sent: usize },
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, RawItem>>,
}

#[derive(Deserialize)]
struct RawItem {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Parses a 2xx bulk response that answers `sent` items.
pub fn parse(body: &[u8], sent: usize) -> Result<Vec<ItemStatus>, ResponseError> {
    let parsed: Body =
        serde_json::from_slice(body).map_err(|e| ResponseError::Json(e.to_string()))?;
    if parsed.items.len() != sent {
        return Err(ResponseError::ItemCount {
            got: parsed.items.len(),
            sent,
        });
    }
    Ok(parsed
        .items
        .into_iter()
        .map(|item| {
            // One key per item (the action); an empty object counts as a malformed item.
            let raw = item.into_values().next();
            match raw {
                Some(raw) => ItemStatus {
                    status: raw.status,
                    error: raw.error.map(|e| e.to_string()).unwrap_or_default(),
                },
                None => ItemStatus {
                    status: 500,
                    error: "\"empty item in the bulk response\"".into(),
                },
            }
        })
        .collect())
}

/// What `status` means for an item.
pub fn outcome(status: u16, error: String, dead_letter_codes: &[u16]) -> Outcome {
    match status {
        200..=299 => Outcome::Done,
        // On `create` the document is already there; on other actions Logstash gives up too.
        409 => Outcome::Done,
        s if s == 400 || s == 404 || dead_letter_codes.contains(&s) => {
            Outcome::DeadLetter { status, error }
        }
        _ => Outcome::Retry { status, error },
    }
}

/// `type: reason` from an error object's JSON text, for logs.
pub fn describe(error: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(error) else {
        return error.to_string();
    };
    let kind = value.get("type").and_then(|v| v.as_str());
    let reason = value.get("reason").and_then(|v| v.as_str());
    match (kind, reason) {
        (Some(k), Some(r)) => format!("{k}: {r}"),
        (Some(k), None) => k.to_string(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_order_status_and_error() {
        let body = br#"{"errors":true,"items":[{"index":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"x"}}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}}]}"#;
        let items = parse(body, 3).unwrap();
        assert_eq!(items[0].status, 201);
        assert_eq!(items[1].status, 409);
        assert_eq!(
            describe(&items[2].error),
            "es_rejected_execution_exception: busy"
        );
    }

    #[test]
    fn a_wrong_item_count_is_an_error() {
        let body = br#"{"errors":false,"items":[{"index":{"status":201}}]}"#;
        assert_eq!(
            parse(body, 2).unwrap_err(),
            ResponseError::ItemCount { got: 1, sent: 2 }
        );
        assert!(parse(b"<html>", 1).is_err());
    }

    #[test]
    fn statuses_map_to_logstash_outcomes() {
        let e = String::new;
        assert_eq!(outcome(201, e(), &[]), Outcome::Done);
        assert_eq!(outcome(409, e(), &[]), Outcome::Done);
        assert!(matches!(
            outcome(400, e(), &[]),
            Outcome::DeadLetter { status: 400, .. }
        ));
        assert!(matches!(
            outcome(404, e(), &[]),
            Outcome::DeadLetter { status: 404, .. }
        ));
        assert!(matches!(
            outcome(403, e(), &[403]),
            Outcome::DeadLetter { status: 403, .. }
        ));
        for status in [429, 500, 503, 403] {
            assert!(matches!(outcome(status, e(), &[]), Outcome::Retry { .. }));
        }
    }
}
