//! The Elasticsearch endpoints other than the dispatch itself: `/`, health, license, `_xpack`,
//! templates and ILM policies, `_bulk`, `_count`/`_search`, `_doc`, index create/delete, and the
//! scripted whole-request failures.

use axum::http::Method;
use serde_json::{json, Value};

use super::bulk;
use super::faults::RequestFault;
use super::filter_path::FilterPath;
use super::responses::{es_error, index_not_found, Body, Reply};
use super::routes::Ctx;
use super::search::{self, Query};
use super::store::{glob, Kind};

/// A scripted whole-request failure.
pub(super) fn request_fault(ctx: &Ctx<'_>, fault: RequestFault) -> Reply {
    match fault {
        RequestFault::Unauthorized => {
            let reason = format!("missing authentication credentials for REST request [{}]", ctx.path);
            let challenge = ["Basic realm=\"security\" charset=\"UTF-8\"", "ApiKey"];
            let mut reply = es_error(401, "security_exception", &reason, json!({"header": {"WWW-Authenticate": challenge}}));
            for c in challenge {
                reply.headers.push(("www-authenticate", c.to_string()));
            }
            reply
        }
        RequestFault::Forbidden => es_error(
            403,
            "security_exception",
            "action [indices:data/write/bulk] is unauthorized for user [standin] with effective roles [viewer], this action is granted by the index privileges [create_doc,create,delete,index,write,all]",
            Value::Null,
        ),
        RequestFault::TooLarge => Reply::empty(413),
        RequestFault::CircuitBreaking => {
            let limit: u64 = 1_020_054_732;
            let wanted = limit + 1024;
            let reason = format!(
                "[parent] Data too large, data for [<http_request>] would be [{wanted}/{wanted}b], which is larger than the limit of [{limit}/{limit}b], real usage: [{limit}/{limit}b], new bytes reserved: [1024/1kb], usages [inflight_requests=1024/1kb, request=0/0b, fielddata=0/0b, eql_sequence=0/0b, model_inference=0/0b]"
            );
            es_error(429, "circuit_breaking_exception", &reason, json!({"bytes_wanted": wanted, "bytes_limit": limit, "durability": "TRANSIENT"}))
        }
        RequestFault::Unavailable => es_error(
            503,
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
            Value::Null,
        ),
    }
}

pub(super) fn bulk(ctx: &Ctx<'_>, index: Option<&str>, body: &[u8]) -> Reply {
    if body.is_empty() {
        return es_error(
            400,
            "parse_exception",
            "request body is required",
            Value::Null,
        );
    }
    let require_alias = match ctx.bool_param("require_alias", false) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let defaults = bulk::Defaults {
        index,
        require_alias,
        version: ctx.version(),
    };
    let items = match bulk::parse(body, &defaults)
        .and_then(|items| bulk::validate(&items).map(|()| items))
    {
        Ok(items) => items,
        Err(reply) => return reply,
    };
    let outcomes = bulk::apply(ctx.shared, &items);
    let took = ctx.arrived.elapsed().as_millis() as u64;
    let filter = ctx.param("filter_path").and_then(FilterPath::parse);
    let text = bulk::write_response(took, &items, &outcomes, ctx.version(), filter.as_ref());
    Reply {
        status: 200,
        body: Body::Text(text),
        headers: Vec::new(),
        items: items.len(),
    }
}

pub(super) fn root(ctx: &Ctx<'_>) -> Reply {
    if ctx.method == Method::HEAD {
        return Reply::empty(200);
    }
    let v = ctx.version();
    let (lucene, wire, index) = if v.major >= 8 {
        ("9.11.1", "7.17.0", "7.0.0")
    } else {
        ("8.11.1", "6.8.0", "6.0.0-beta1")
    };
    let mut body = json!({
        "name": "standin-node-1",
        "cluster_name": "elasticsearch",
        "cluster_uuid": ctx.shared.cluster_uuid,
        "version": {
            "number": v.to_string(),
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2024-01-01T00:00:00.000000000Z",
            "build_snapshot": false,
            "lucene_version": lucene,
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index
        },
        "tagline": "You know, for Search"
    });
    if !ctx.shared.config.product_header {
        if let Value::Object(m) = &mut body {
            m.remove("tagline");
        }
    }
    Reply::ok(body)
}

pub(super) fn health(ctx: &Ctx<'_>) -> Reply {
    let shards = ctx.shared.store().indices.len();
    Reply::ok(json!({
        "cluster_name": "elasticsearch", "status": "green", "timed_out": false,
        "number_of_nodes": 1, "number_of_data_nodes": 1,
        "active_primary_shards": shards, "active_shards": shards,
        "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0,
        "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0
    }))
}

pub(super) fn license(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(json!({"license": {
        "status": "active", "uid": ctx.shared.cluster_uuid, "type": "basic",
        "issue_date": "2024-01-01T00:00:00.000Z", "issue_date_in_millis": 1_704_067_200_000u64,
        "max_nodes": 1000, "max_resource_units": null, "issued_to": "elasticsearch",
        "issuer": "elastic", "start_date_in_millis": -1
    }}))
}

pub(super) fn xpack(ctx: &Ctx<'_>) -> Reply {
    let on = json!({"available": true, "enabled": true});
    Reply::ok(json!({
        "build": {"hash": "0000000000000000000000000000000000000000", "date": "2024-01-01T00:00:00.000000000Z"},
        "license": {"uid": ctx.shared.cluster_uuid, "type": "basic", "mode": "basic", "status": "active"},
        "features": {"ilm": on, "security": on, "monitoring": on}
    }))
}

/// Templates and ILM policies: stored as given.
pub(super) fn named(ctx: &Ctx<'_>, kind: Kind, name: Option<&str>, body: &[u8]) -> Reply {
    let mut store = ctx.shared.store();
    let name = name.unwrap_or("*");
    match ctx.method {
        Method::PUT | Method::POST => {
            let Ok(Value::Object(value)) = serde_json::from_slice::<Value>(body) else {
                return es_error(
                    400,
                    "parse_exception",
                    "request body is required",
                    Value::Null,
                );
            };
            let patterns = value.contains_key("index_patterns") || value.contains_key("template");
            if kind != Kind::IlmPolicy && !patterns {
                return es_error(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: index patterns are missing;",
                    Value::Null,
                );
            }
            store.put_named(kind, name, Value::Object(value));
            Reply::acknowledged()
        }
        Method::DELETE => {
            if store.delete_named(kind, name) {
                Reply::acknowledged()
            } else {
                es_error(
                    404,
                    "resource_not_found_exception",
                    &format!("{} [{name}] missing", kind_name(kind)),
                    Value::Null,
                )
            }
        }
        _ => {
            let found = store.named_matching(kind, name);
            if ctx.method == Method::HEAD {
                return Reply::empty(if found.is_empty() { 404 } else { 200 });
            }
            named_listing(kind, name, found)
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::IndexTemplate => "index_template",
        Kind::LegacyTemplate => "index_template",
        Kind::IlmPolicy => "lifecycle policy",
    }
}

fn named_listing(kind: Kind, name: &str, found: Vec<(&str, &Value)>) -> Reply {
    let wildcard = name.contains('*');
    match kind {
        Kind::IndexTemplate => {
            if found.is_empty() && !wildcard {
                let reason = format!("index template matching [{name}] not found");
                return es_error(404, "resource_not_found_exception", &reason, Value::Null);
            }
            let list: Vec<Value> = found
                .iter()
                .map(|(n, v)| json!({"name": n, "index_template": v}))
                .collect();
            Reply::ok(json!({"index_templates": list}))
        }
        Kind::LegacyTemplate => {
            let map: serde_json::Map<String, Value> = found
                .iter()
                .map(|(n, v)| (n.to_string(), (*v).clone()))
                .collect();
            Reply::json(
                if map.is_empty() && !wildcard {
                    404
                } else {
                    200
                },
                Value::Object(map),
            )
        }
        Kind::IlmPolicy => {
            if found.is_empty() && !wildcard {
                let reason = format!("Lifecycle policy not found: [{name}]");
                return es_error(404, "resource_not_found_exception", &reason, Value::Null);
            }
            let map: serde_json::Map<String, Value> = found
                .iter()
                .map(|(n, v)| {
                    let policy = v.get("policy").cloned().unwrap_or(Value::Null);
                    let entry = json!({"version": 1, "modified_date": "2024-01-01T00:00:00.000Z", "policy": policy});
                    (n.to_string(), entry)
                })
                .collect();
            Reply::ok(Value::Object(map))
        }
    }
}

/// The stored indices a search target names (`a,b`, `logs-*`, `_all`); Err for a missing
/// concrete name.
fn resolve_targets(ctx: &Ctx<'_>, target: Option<&str>) -> Result<Vec<String>, Reply> {
    let store = ctx.shared.store();
    let mut names = Vec::new();
    for part in target.unwrap_or("_all").split(',') {
        if part == "_all" || part.contains('*') {
            let pattern = if part == "_all" { "*" } else { part };
            let mut hits: Vec<String> = store
                .indices
                .keys()
                .filter(|n| glob(pattern, n))
                .cloned()
                .collect();
            hits.sort();
            names.extend(hits);
        } else if store.indices.contains_key(part) {
            names.push(part.to_string());
        } else if ctx.param("ignore_unavailable") != Some("true") {
            return Err(index_not_found(part));
        }
    }
    names.dedup();
    Ok(names)
}

/// A matching document: (index shown, id, source).
type Hit = (String, String, Value);

pub(super) fn search_or_count(
    ctx: &Ctx<'_>,
    target: Option<&str>,
    body: &[u8],
    count: bool,
) -> Reply {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return es_error(
                    400,
                    "parse_exception",
                    &format!("failed to parse search source: {e}"),
                    Value::Null,
                )
            }
        }
    };
    let query = match Query::parse(request.get("query")) {
        Ok(q) => q,
        Err(e) => return es_error(400, "parsing_exception", &e.0, json!({"line": 1, "col": 1})),
    };
    let names = match resolve_targets(ctx, target) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    let shards = json!({"total": names.len().max(1), "successful": names.len().max(1), "skipped": 0, "failed": 0});
    let mut hits = matching(ctx, &names, &query);
    if count {
        return Reply::ok(json!({"count": hits.len(), "_shards": shards}));
    }
    let sort = search::sort_clauses(request.get("sort"));
    sort_hits(&mut hits, &sort);
    let number = |key: &str, default: usize| {
        ctx.param(key)
            .and_then(|v| v.parse().ok())
            .or_else(|| request.get(key).and_then(Value::as_u64).map(|n| n as usize))
            .unwrap_or(default)
    };
    let (from, size) = (number("from", 0), number("size", 10));
    let total = hits.len();
    let shown: Vec<Value> = hits
        .iter()
        .skip(from)
        .take(size)
        .map(|h| hit_json(ctx, h, &sort))
        .collect();
    let max_score = if sort.is_empty() && total > 0 {
        json!(1.0)
    } else {
        Value::Null
    };
    let total = if ctx.param("rest_total_hits_as_int") == Some("true") {
        json!(total)
    } else {
        json!({"value": total, "relation": "eq"})
    };
    Reply::ok(json!({
        "took": ctx.arrived.elapsed().as_millis() as u64, "timed_out": false, "_shards": shards,
        "hits": {"total": total, "max_score": max_score, "hits": shown}
    }))
}

fn matching(ctx: &Ctx<'_>, names: &[String], query: &Query) -> Vec<Hit> {
    let store = ctx.shared.store();
    let mut hits = Vec::new();
    for name in names {
        let Some(index) = store.indices.get(name) else {
            continue;
        };
        let shown = index.backing.clone().unwrap_or_else(|| name.clone());
        let mut docs: Vec<_> = index.docs.iter().collect();
        docs.sort_by_key(|(_, d)| d.seq_no);
        for (id, doc) in docs {
            let source: Value = serde_json::from_slice(&doc.source).unwrap_or(Value::Null);
            if query.matches(&source) {
                hits.push((shown.clone(), id.to_string(), source));
            }
        }
        if !store.store_sources && matches!(query, Query::All) {
            let unstored = (0..index.counted).map(|_| (shown.clone(), String::new(), Value::Null));
            hits.extend(unstored);
        }
    }
    hits
}

fn sort_hits(hits: &mut [Hit], sort: &[(String, bool)]) {
    hits.sort_by(|a, b| {
        for (field, desc) in sort {
            let (x, y) = (search::sort_key(&a.2, field), search::sort_key(&b.2, field));
            let order = match (x, y) {
                (Some(x), Some(y)) => search::compare(x, y).unwrap_or(std::cmp::Ordering::Equal),
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            let order = if *desc { order.reverse() } else { order };
            if order.is_ne() {
                return order;
            }
        }
        std::cmp::Ordering::Equal
    });
}

fn hit_json(ctx: &Ctx<'_>, (index, id, source): &Hit, sort: &[(String, bool)]) -> Value {
    let mut hit = search::one("_index", json!(index));
    let m = hit.as_object_mut().expect("an object");
    if ctx.version().has_types() {
        m.insert("_type".into(), json!("_doc"));
    }
    m.insert("_id".into(), json!(id));
    if sort.is_empty() {
        m.insert("_score".into(), json!(1.0));
        m.insert("_source".into(), source.clone());
    } else {
        m.insert("_score".into(), Value::Null);
        m.insert("_source".into(), source.clone());
        let keys: Vec<Value> = sort
            .iter()
            .map(|(f, _)| search::sort_key(source, f).cloned().unwrap_or(Value::Null))
            .collect();
        m.insert("sort".into(), Value::Array(keys));
    }
    hit
}

pub(super) fn get_doc(ctx: &Ctx<'_>, index: &str, id: &str) -> Reply {
    let store = ctx.shared.store();
    let Some(ix) = store.indices.get(index) else {
        return index_not_found(index);
    };
    let mut found = search::one("_index", json!(ix.backing.as_deref().unwrap_or(index)));
    let m = found.as_object_mut().expect("an object");
    if ctx.version().has_types() {
        m.insert("_type".into(), json!("_doc"));
    }
    m.insert("_id".into(), json!(id));
    let Some(doc) = ix.docs.get(id) else {
        m.insert("found".into(), json!(false));
        return Reply::json(404, found);
    };
    if ctx.method == Method::HEAD {
        return Reply::empty(200);
    }
    m.insert("_version".into(), json!(doc.version));
    m.insert("_seq_no".into(), json!(doc.seq_no));
    m.insert("_primary_term".into(), json!(1));
    m.insert("found".into(), json!(true));
    let source: Value = serde_json::from_slice(&doc.source).unwrap_or(Value::Null);
    m.insert("_source".into(), source);
    Reply::ok(found)
}

pub(super) fn index_op(ctx: &Ctx<'_>, index: &str) -> Reply {
    let mut store = ctx.shared.store();
    match ctx.method {
        Method::HEAD => Reply::empty(if store.indices.contains_key(index) {
            200
        } else {
            404
        }),
        Method::PUT => {
            if store.create_index(index) {
                Reply::ok(
                    json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
                )
            } else {
                let uuid = store
                    .indices
                    .get(index)
                    .map_or("_na_".to_string(), |i| i.uuid.clone());
                es_error(
                    400,
                    "resource_already_exists_exception",
                    &format!("index [{index}/{uuid}] already exists"),
                    json!({"index_uuid": uuid, "index": index}),
                )
            }
        }
        _ => {
            if store.indices.remove(index).is_some() {
                Reply::acknowledged()
            } else {
                index_not_found(index)
            }
        }
    }
}
