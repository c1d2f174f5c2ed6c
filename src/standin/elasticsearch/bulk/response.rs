//! The bulk answer, written by hand: `{"took":..,"errors":..,"items":[..]}`, compact, with
//! `filter_path` decided once per request for every (action, field) pair rather than per item.

use serde_json::{json, Value};

use super::apply::{Failure, Outcome, Written};
use super::{Action, Item};
use crate::standin::elasticsearch::filter_path::{FilterPath, Keep};
use crate::standin::elasticsearch::responses::{push_json_str, push_u64};
use crate::standin::elasticsearch::EsVersion;

/// The fields of an item answer, in ES's order.
const FIELDS: [&str; 10] = [
    "_index",
    "_type",
    "_id",
    "_version",
    "result",
    "_shards",
    "_seq_no",
    "_primary_term",
    "status",
    "error",
];

/// `filter_path`'s verdict on every part of a bulk answer, worked out once per request.
struct Mask<'f> {
    filter: Option<&'f FilterPath>,
    took: Keep,
    errors: Keep,
    items: Keep,
    actions: [Keep; 4],
    fields: [[Keep; FIELDS.len()]; 4],
}

impl<'f> Mask<'f> {
    fn new(filter: Option<&'f FilterPath>) -> Mask<'f> {
        let Some(fp) = filter else {
            return Mask {
                filter,
                took: Keep::All,
                errors: Keep::All,
                items: Keep::All,
                actions: [Keep::All; 4],
                fields: [[Keep::All; FIELDS.len()]; 4],
            };
        };
        let mut mask = Mask {
            filter,
            took: fp.keep(&["took"]),
            errors: fp.keep(&["errors"]),
            items: fp.keep(&["items"]),
            actions: [Keep::None; 4],
            fields: [[Keep::None; FIELDS.len()]; 4],
        };
        for (a, action) in Action::ALL.iter().enumerate() {
            mask.actions[a] = fp.keep(&["items", action.name()]);
            for (f, field) in FIELDS.iter().enumerate() {
                mask.fields[a][f] = fp.keep(&["items", action.name(), field]);
            }
        }
        mask
    }
}

/// Writes `{"took":..,"errors":..,"items":[..]}`, compact, `filter_path` applied.
pub(crate) fn write_response(
    took: u64,
    items: &[Item<'_>],
    outcomes: &[Outcome],
    version: EsVersion,
    filter: Option<&FilterPath>,
) -> String {
    let mask = Mask::new(filter);
    let errors = outcomes.iter().any(Outcome::failed);
    let mut out = String::with_capacity(40 + items.len() * 190);
    out.push('{');
    let mut obj = ObjWriter::default();
    if mask.took != Keep::None {
        obj.key(&mut out, "took");
        push_u64(&mut out, took);
    }
    if mask.errors != Keep::None {
        obj.key(&mut out, "errors");
        out.push_str(if errors { "true" } else { "false" });
    }
    if mask.items != Keep::None {
        let rollback = out.len();
        obj.key(&mut out, "items");
        out.push('[');
        let mut any = false;
        for (item, outcome) in items.iter().zip(outcomes) {
            let at = out.len();
            if any {
                out.push(',');
            }
            if write_item(&mut out, item, outcome, &mask, version) {
                any = true;
            } else {
                out.truncate(at);
            }
        }
        out.push(']');
        if !any && mask.items == Keep::Some {
            out.truncate(rollback);
        }
    }
    out.push('}');
    out
}

/// Comma bookkeeping for hand-written objects.
#[derive(Default)]
struct ObjWriter {
    started: bool,
}

impl ObjWriter {
    fn key(&mut self, out: &mut String, key: &str) {
        if self.started {
            out.push(',');
        }
        self.started = true;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
    }
}

/// Writes one `{"<action>":{..}}`; false when the filter left nothing of it.
fn write_item(
    out: &mut String,
    item: &Item<'_>,
    outcome: &Outcome,
    mask: &Mask<'_>,
    version: EsVersion,
) -> bool {
    let a = item.action as usize;
    if mask.actions[a] == Keep::None {
        return false;
    }
    let start = out.len();
    out.push_str("{\"");
    out.push_str(item.action.name());
    out.push_str("\":{");
    let mut obj = ObjWriter::default();
    let index = outcome
        .backing
        .as_deref()
        .or(item.index.as_deref())
        .unwrap_or("");
    let id = outcome
        .auto_id
        .as_deref()
        .or(item.id.as_deref())
        .filter(|_| outcome.has_id);
    for (f, field) in FIELDS.iter().enumerate() {
        let keep = mask.fields[a][f];
        if keep == Keep::None {
            continue;
        }
        write_field(
            out, &mut obj, field, keep, index, id, outcome, mask, item, version,
        );
    }
    if !obj.started && mask.actions[a] == Keep::Some {
        out.truncate(start);
        return false;
    }
    out.push_str("}}");
    true
}

#[allow(clippy::too_many_arguments)]
fn write_field(
    out: &mut String,
    obj: &mut ObjWriter,
    field: &str,
    keep: Keep,
    index: &str,
    id: Option<&str>,
    outcome: &Outcome,
    mask: &Mask<'_>,
    item: &Item<'_>,
    version: EsVersion,
) {
    let nested = |value: Value, out: &mut String, obj: &mut ObjWriter| {
        let kept = match (keep, mask.filter) {
            (Keep::Some, Some(fp)) => {
                fp.filter(&value, &mut vec!["items", item.action.name(), field])
            }
            _ => Some(value),
        };
        if let Some(v) = kept {
            obj.key(out, field);
            out.push_str(&v.to_string());
        }
    };
    match (field, &outcome.result) {
        ("_index", _) => {
            obj.key(out, field);
            push_json_str(out, index);
        }
        ("_type", _) if version.has_types() => {
            obj.key(out, field);
            out.push_str("\"_doc\"");
        }
        ("_id", _) => {
            obj.key(out, field);
            match id {
                Some(id) => push_json_str(out, id),
                None => out.push_str("null"),
            }
        }
        ("_version", Ok(w)) => {
            obj.key(out, field);
            push_u64(out, w.version);
        }
        ("result", Ok(w)) => {
            obj.key(out, field);
            push_json_str(out, w.result);
        }
        ("_shards", Ok(w)) => {
            let shards = if w.result == "noop" {
                json!({"total": 0, "successful": 0, "failed": 0})
            } else {
                json!({"total": 2, "successful": 1, "failed": 0})
            };
            if keep == Keep::All {
                obj.key(out, field);
                out.push_str(&shards.to_string());
            } else {
                nested(shards, out, obj);
            }
        }
        ("_seq_no", Ok(w)) => {
            obj.key(out, field);
            push_u64(out, w.seq_no);
        }
        ("_primary_term", Ok(_)) => {
            obj.key(out, field);
            out.push('1');
        }
        ("status", Ok(Written { status, .. }) | Err(Failure { status, .. })) => {
            obj.key(out, field);
            push_u64(out, u64::from(*status));
        }
        ("error", Err(f)) => nested(f.error.clone(), out, obj),
        _ => {}
    }
}
