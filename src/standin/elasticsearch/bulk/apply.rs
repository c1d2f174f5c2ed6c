//! Applying parsed items, in order, to the store: injected faults first, then the checks ES
//! makes per item (index name, `require_alias`, data streams, source), then the write itself
//! (`create` conflicts, versions, `_seq_no`, tombstones, partial updates).

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Action, Item};
use crate::standin::elasticsearch::faults::{ItemFault, ItemMatcher};
use crate::standin::elasticsearch::responses::error_object;
use crate::standin::elasticsearch::store::{Doc, Index, Store};
use crate::standin::elasticsearch::{EsVersion, Shared};

/// What happened to one item.
pub(crate) struct Outcome {
    /// The `_id` generated for an item without one.
    pub(super) auto_id: Option<String>,
    /// The backing index a data stream write landed in.
    pub(super) backing: Option<Arc<str>>,
    /// Whether the `_id` is reported (false: failed before an id was assigned: `"_id":null`).
    pub(super) has_id: bool,
    pub(super) result: Result<Written, Failure>,
}

pub(super) struct Written {
    pub(super) result: &'static str,
    pub(super) status: u16,
    pub(super) version: u64,
    pub(super) seq_no: u64,
}

pub(super) struct Failure {
    pub(super) status: u16,
    pub(super) error: Value,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// Applies every item in order, under one lock of the fault script and one of the store.
pub(crate) fn apply(shared: &Shared, items: &[Item<'_>]) -> Vec<Outcome> {
    let mut faults = shared.faults.item_matcher();
    let mut store = shared.store();
    let version = shared.config.version;
    items
        .iter()
        .map(|item| {
            let mut outcome = Outcome {
                auto_id: None,
                backing: None,
                has_id: true,
                result: Err(Failure {
                    status: 500,
                    error: Value::Null,
                }),
            };
            let result = apply_one(&mut store, &mut faults, shared, item, &mut outcome, version);
            outcome.result = result;
            outcome
        })
        .collect()
}

fn apply_one(
    store: &mut Store,
    faults: &mut ItemMatcher<'_>,
    shared: &Shared,
    item: &Item<'_>,
    outcome: &mut Outcome,
    version: EsVersion,
) -> Result<Written, Failure> {
    let name = item
        .index
        .as_deref()
        .expect("validated: every item has an index");
    if item.id.is_none() && item.action != Action::Delete && item.action != Action::Update {
        outcome.auto_id = Some(shared.ids.next());
    }
    let id = outcome
        .auto_id
        .as_deref()
        .or(item.id.as_deref())
        .unwrap_or("");
    if let Some(fault) = faults.next(item.source) {
        return Err(injected(fault, store, name, id, version));
    }
    let early = |outcome: &mut Outcome, f: Failure| {
        outcome.has_id = item.id.is_some();
        Err(f)
    };
    if let Some(reason) = invalid_index_name(name) {
        let extra = json!({"index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(400, "invalid_index_name_exception", &reason, extra),
        );
    }
    if item.require_alias {
        let reason = format!("no such index [{name}] and [require_alias] request flag is [true] and [{name}] is not an alias");
        let extra = json!({"index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(404, "index_not_found_exception", &reason, extra),
        );
    }
    if item.action == Action::Delete && !store.indices.contains_key(name) {
        let reason = format!("no such index [{name}]");
        let extra = json!({"resource.type": "index_expression", "resource.id": name, "index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(404, "index_not_found_exception", &reason, extra),
        );
    }
    let store_sources = store.store_sources;
    let index = store.index_for_write(name);
    if let Some(backing) = &index.backing {
        if !item.create {
            let reason = "only write ops with an op_type of create are allowed in data streams";
            return early(
                outcome,
                failure(400, "illegal_argument_exception", reason, Value::Null),
            );
        }
        outcome.backing = Some(Arc::from(backing.as_str()));
    }
    let shown = outcome.backing.as_deref().unwrap_or(name);
    if let Some(reason) = &item.bad_source {
        return Err(parsing_failure(version, reason));
    }
    if index.backing.is_some() && !has_timestamp(item.source) {
        return Err(parsing_failure(
            version,
            "data stream timestamp field [@timestamp] is missing",
        ));
    }
    if !store_sources {
        return Ok(count_only(index, item));
    }
    match item.action {
        Action::Index | Action::Create => write_doc(index, item, id, shown),
        Action::Delete => Ok(delete_doc(index, id)),
        Action::Update => update_doc(index, item, id, shown, version),
    }
}

fn failure(status: u16, kind: &str, reason: &str, extra: Value) -> Failure {
    Failure {
        status,
        error: error_object(kind, reason, extra),
    }
}

fn shard_extra(index: &Index, shown: &str) -> Value {
    json!({"index_uuid": index.uuid, "shard": "0", "index": shown})
}

/// A source that does not parse: `mapper_parsing_exception`, or its 8.8+ name.
fn parsing_failure(version: EsVersion, reason: &str) -> Failure {
    if version.document_parsing_exception() {
        failure(
            400,
            "document_parsing_exception",
            &format!("[1:1] {reason}"),
            Value::Null,
        )
    } else {
        failure(400, "mapper_parsing_exception", reason, Value::Null)
    }
}

fn has_timestamp(source: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, Value>>(source)
        .is_ok_and(|m| m.contains_key("@timestamp"))
}

/// An injected failure, shaped like the real one.
fn injected(fault: ItemFault, store: &Store, name: &str, id: &str, version: EsVersion) -> Failure {
    let uuid = store.indices.get(name).map_or("_na_", |i| i.uuid.as_str());
    let shard = json!({"index_uuid": uuid, "shard": "0", "index": name});
    match fault {
        ItemFault::MapperParsing => {
            let reason = format!("failed to parse field [message] of type [date] in document with id '{id}'. Preview of field's value: 'standin'");
            let caused = json!({"caused_by": {"type": "illegal_argument_exception", "reason": "failed to parse date field [standin] with format [strict_date_optional_time||epoch_millis]"}});
            if version.document_parsing_exception() {
                failure(400, "document_parsing_exception", &format!("[1:12] {reason}"), caused)
            } else {
                failure(400, "mapper_parsing_exception", &reason, caused)
            }
        }
        ItemFault::IndexNotFound => failure(
            404,
            "index_not_found_exception",
            &format!("no such index [{name}]"),
            json!({"resource.type": "index_expression", "resource.id": name, "index_uuid": "_na_", "index": name}),
        ),
        ItemFault::VersionConflict => failure(
            409,
            "version_conflict_engine_exception",
            &format!("[{id}]: version conflict, document already exists (current version [1])"),
            shard,
        ),
        ItemFault::Rejected => failure(
            429,
            "es_rejected_execution_exception",
            &format!("rejected execution of primary operation [shard_detail=[{name}][0][P], shard_batch_size=1, shard_operation_bytes=512] on EsThreadPoolExecutor[name = standin/write, queue capacity = 10000, task execution EWMA = 1ms]"),
            Value::Null,
        ),
        ItemFault::Internal => failure(500, "illegal_state_exception", "injected by the stand-in", Value::Null),
        ItemFault::Unavailable => failure(
            503,
            "unavailable_shards_exception",
            &format!("[{name}][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[{name}][0]] containing [1] requests]"),
            Value::Null,
        ),
    }
}

/// `MetadataCreateIndexService`'s name checks, in its order; the reason when invalid.
fn invalid_index_name(name: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("Invalid index name [{name}], {why}"));
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',']) {
        return bad("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]");
    }
    if name.contains('#') {
        return bad("must not contain '#'");
    }
    if name.contains(':') {
        return bad("must not contain ':'");
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("must not start with '_', '-', or '+'");
    }
    if name.chars().any(char::is_uppercase) {
        return bad("must be lowercase");
    }
    if name == "." || name == ".." {
        return bad("must not be '.' or '..'");
    }
    if name.len() > 255 {
        return bad(&format!("index name is too long, ({} > 255)", name.len()));
    }
    None
}

fn count_only(index: &mut Index, item: &Item<'_>) -> Written {
    let seq_no = index.next_seq_no();
    let (result, status) = match item.action {
        Action::Delete => ("not_found", 404),
        _ => {
            index.counted += 1;
            ("created", 201)
        }
    };
    Written {
        result,
        status,
        version: 1,
        seq_no,
    }
}

fn write_doc(
    index: &mut Index,
    item: &Item<'_>,
    id: &str,
    shown: &str,
) -> Result<Written, Failure> {
    let existing = index.docs.get(id).map(|d| d.version);
    if let (Some(current), true) = (existing, item.create) {
        // No `[_doc]` prefix in 7.x either: ES PR #37490 removed it before 7.0.
        let reason = format!(
            "[{id}]: version conflict, document already exists (current version [{current}])"
        );
        return Err(failure(
            409,
            "version_conflict_engine_exception",
            &reason,
            shard_extra(index, shown),
        ));
    }
    let seq_no = index.next_seq_no();
    let (doc_version, result, status) = match existing {
        Some(v) => (v + 1, "updated", 200),
        None => (
            index.tombstones.remove(id).map_or(1, |v| v + 1),
            "created",
            201,
        ),
    };
    index.docs.insert(
        id.into(),
        Doc {
            version: doc_version,
            seq_no,
            source: item.source.into(),
        },
    );
    Ok(Written {
        result,
        status,
        version: doc_version,
        seq_no,
    })
}

fn delete_doc(index: &mut Index, id: &str) -> Written {
    let seq_no = index.next_seq_no();
    let (version, result, status) = match index.docs.remove(id) {
        Some(doc) => (doc.version + 1, "deleted", 200),
        None => (
            index.tombstones.get(id).map_or(1, |v| v + 1),
            "not_found",
            404,
        ),
    };
    index.tombstones.insert(id.into(), version);
    Written {
        result,
        status,
        version,
        seq_no,
    }
}

fn update_doc(
    index: &mut Index,
    item: &Item<'_>,
    id: &str,
    shown: &str,
    version: EsVersion,
) -> Result<Written, Failure> {
    let update = item
        .update
        .as_deref()
        .expect("update items carry their body");
    if update.script {
        return Err(failure(
            400,
            "illegal_argument_exception",
            "the stand-in does not run update scripts",
            Value::Null,
        ));
    }
    let Some(doc) = index.docs.get(id) else {
        let inserted = match (&update.upsert, update.doc_as_upsert) {
            (Some(upsert), _) => upsert,
            (None, true) => update.doc.as_ref().expect("validated: doc or script"),
            (None, false) => {
                let reason = match version.major {
                    7 => format!("[_doc][{id}]: document missing"),
                    _ => format!("[{id}]: document missing"),
                };
                return Err(failure(
                    404,
                    "document_missing_exception",
                    &reason,
                    shard_extra(index, shown),
                ));
            }
        };
        let seq_no = index.next_seq_no();
        let doc_version = index.tombstones.remove(id).map_or(1, |v| v + 1);
        let source = serde_json::to_vec(inserted)
            .expect("a Value serializes")
            .into();
        index.docs.insert(
            id.into(),
            Doc {
                version: doc_version,
                seq_no,
                source,
            },
        );
        return Ok(Written {
            result: "created",
            status: 201,
            version: doc_version,
            seq_no,
        });
    };
    let mut merged: Value = serde_json::from_slice(&doc.source).unwrap_or(Value::Null);
    let before = merged.clone();
    merge(
        &mut merged,
        update.doc.as_ref().expect("validated: doc or script"),
    );
    if update.detect_noop && merged == before {
        return Ok(Written {
            result: "noop",
            status: 200,
            version: doc.version,
            seq_no: doc.seq_no,
        });
    }
    let doc_version = doc.version + 1;
    let seq_no = index.next_seq_no();
    let source = serde_json::to_vec(&merged)
        .expect("a Value serializes")
        .into();
    index.docs.insert(
        id.into(),
        Doc {
            version: doc_version,
            seq_no,
            source,
        },
    );
    Ok(Written {
        result: "updated",
        status: 200,
        version: doc_version,
        seq_no,
    })
}

/// A partial-document update: objects merge key by key, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names() {
        assert_eq!(
            invalid_index_name("Logs").unwrap(),
            "Invalid index name [Logs], must be lowercase"
        );
        assert!(invalid_index_name("_x").is_some());
        assert!(invalid_index_name("logs-2024.01.01").is_none());
    }

    #[test]
    fn merge_is_deep() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": 1});
        merge(&mut v, &json!({"a": {"b": 3}, "e": 4}));
        assert_eq!(v, json!({"a": {"b": 3, "c": 2}, "d": 1, "e": 4}));
    }
}
