//! Request dispatch: one handler behind axum receives every request, applies the fault script,
//! routes by method and path, checks query parameters and content types as ES's REST layer
//! does, and finishes every answer the same way (product header, content type, `filter_path`,
//! gzip) before recording it.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::bulk;
use super::faults::{FaultSpecs, RequestFault};
use super::filter_path::FilterPath;
use super::listener::{ConnHandle, StandInListener};
use super::responses::{
    es_error, illegal_argument, index_not_found, similarity, simple_error, Body, Reply,
};
use super::search::{self, Query};
use super::store::{glob, Kind};
use super::{lock, EsVersion, RequestRecord, Shared};

/// Serves until `stop` fires (or its sender is dropped).
pub(super) async fn serve(
    listener: StandInListener,
    shared: Arc<Shared>,
    stop: oneshot::Receiver<()>,
) {
    let app = Router::new().fallback(handle).with_state(shared);
    let make = app.into_make_service_with_connect_info::<ConnHandle>();
    let stopped = async {
        // Either a stop or a dropped handle means the same.
        let _ = stop.await;
    };
    // Serving a custom listener cannot fail; accept errors are retried inside it.
    let _ = axum::serve(listener, make)
        .with_graceful_shutdown(stopped)
        .await;
}

/// Query parameters every endpoint takes.
const COMMON_PARAMS: &[&str] = &["pretty", "human", "error_trace", "filter_path"];
const BULK_PARAMS: &[&str] = &[
    "pipeline",
    "refresh",
    "routing",
    "timeout",
    "require_alias",
    "require_data_stream",
    "wait_for_active_shards",
    "_source",
    "_source_includes",
    "_source_excludes",
    "list_executed_pipelines",
    "type",
];
const SEARCH_PARAMS: &[&str] = &[
    "size",
    "from",
    "q",
    "sort",
    "track_total_hits",
    "rest_total_hits_as_int",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "timeout",
    "_source",
    "routing",
    "preference",
    "request_cache",
    "search_type",
    "typed_keys",
    "seq_no_primary_term",
    "version",
    "min_score",
    "terminate_after",
];
const HEALTH_PARAMS: &[&str] = &[
    "wait_for_status",
    "timeout",
    "level",
    "local",
    "master_timeout",
    "wait_for_nodes",
    "wait_for_active_shards",
    "wait_for_events",
    "wait_for_no_relocating_shards",
    "wait_for_no_initializing_shards",
    "expand_wildcards",
];
const ADMIN_PARAMS: &[&str] = &[
    "master_timeout",
    "timeout",
    "create",
    "cause",
    "flat_settings",
    "local",
    "include_defaults",
    "wait_for_active_shards",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "accept_enterprise",
    "categories",
];
const DOC_PARAMS: &[&str] = &[
    "_source",
    "_source_includes",
    "_source_excludes",
    "routing",
    "preference",
    "realtime",
    "refresh",
    "stored_fields",
    "version",
    "version_type",
];

/// What a request asks for.
enum Route {
    Root,
    Bulk(Option<String>),
    Health,
    License,
    Xpack,
    Named(Kind, Option<String>),
    Count(Option<String>),
    Search(Option<String>),
    Refresh,
    Doc(String, String),
    Index(String),
}

impl Route {
    fn parse(segs: &[&str]) -> Option<Route> {
        let name = |s: &str| s.to_string();
        Some(match segs {
            [] => Route::Root,
            ["_bulk"] => Route::Bulk(None),
            [ix, "_bulk"] => Route::Bulk(Some(name(ix))),
            ["_cluster", "health"] | ["_cluster", "health", _] => Route::Health,
            ["_license"] => Route::License,
            ["_xpack"] => Route::Xpack,
            ["_index_template"] => Route::Named(Kind::IndexTemplate, None),
            ["_index_template", n] => Route::Named(Kind::IndexTemplate, Some(name(n))),
            ["_template"] => Route::Named(Kind::LegacyTemplate, None),
            ["_template", n] => Route::Named(Kind::LegacyTemplate, Some(name(n))),
            ["_ilm", "policy"] => Route::Named(Kind::IlmPolicy, None),
            ["_ilm", "policy", n] => Route::Named(Kind::IlmPolicy, Some(name(n))),
            ["_count"] => Route::Count(None),
            [ix, "_count"] => Route::Count(Some(name(ix))),
            ["_search"] => Route::Search(None),
            [ix, "_search"] => Route::Search(Some(name(ix))),
            ["_refresh"] | [_, "_refresh"] => Route::Refresh,
            [ix, "_doc", id] => Route::Doc(name(ix), name(id)),
            [ix] if !ix.starts_with('_') => Route::Index(name(ix)),
            _ => return None,
        })
    }

    fn methods(&self) -> &'static [Method] {
        const GET_HEAD: &[Method] = &[Method::GET, Method::HEAD];
        match self {
            Route::Root => GET_HEAD,
            Route::Bulk(_) => &[Method::POST, Method::PUT],
            Route::Health | Route::License | Route::Xpack => &[Method::GET],
            Route::Named(_, None) => &[Method::GET],
            Route::Named(Kind::IlmPolicy, Some(_)) => &[Method::GET, Method::PUT, Method::DELETE],
            Route::Named(_, Some(_)) => &[
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::POST,
                Method::DELETE,
            ],
            Route::Count(_) | Route::Search(_) | Route::Refresh => &[Method::GET, Method::POST],
            Route::Doc(..) => GET_HEAD,
            Route::Index(_) => &[Method::HEAD, Method::PUT, Method::DELETE],
        }
    }

    fn params(&self) -> &'static [&'static str] {
        match self {
            Route::Root => &[],
            Route::Bulk(_) => BULK_PARAMS,
            Route::Health => HEALTH_PARAMS,
            Route::Count(_) | Route::Search(_) => SEARCH_PARAMS,
            Route::Doc(..) => DOC_PARAMS,
            _ => ADMIN_PARAMS,
        }
    }
}

/// One request being answered.
struct Ctx<'a> {
    shared: &'a Shared,
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    headers: &'a HeaderMap,
    arrived: Instant,
}

impl Ctx<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn version(&self) -> EsVersion {
        self.shared.config.version
    }

    /// A boolean parameter as ES reads it: absent or empty is `default`.
    fn bool_param(&self, name: &str, default: bool) -> Result<bool, Reply> {
        match self.param(name) {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(illegal_argument(&format!(
                "Failed to parse value [{v}] as only [true] or [false] are allowed."
            ))),
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    request: Request,
) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    if path == "/_standin" || path.starts_with("/_standin/") {
        let reply = control(&shared, &parts.method, &path, body).await;
        return finish(reply, None, &parts.headers, &shared);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = Route::parse(&segs);
    let fate = shared
        .faults
        .request_fate(matches!(route, Some(Route::Bulk(_))));
    if let Some(delay) = fate.delay {
        tokio::time::sleep(delay).await;
    }
    let ctx = Ctx {
        shared: &shared,
        method: parts.method.clone(),
        params: parse_query(parts.uri.query()),
        path,
        headers: &parts.headers,
        arrived,
    };
    if fate.drop || shared.faults.is_down() {
        conn.0.kill();
        record(&ctx, parts.uri.query(), 0, 0, 0);
        return Response::new(HttpBody::empty());
    }
    let (reply, body_len) = dispatch(&ctx, route, body, fate.fail).await;
    record(&ctx, parts.uri.query(), reply.status, reply.items, body_len);
    let filter = ctx.param("filter_path").and_then(FilterPath::parse);
    let pretty = ctx.param("pretty").is_some_and(|v| v != "false");
    let mut response = finish(reply, filter.as_ref(), &parts.headers, &shared);
    if pretty {
        response = prettify(response).await;
    }
    response
}

fn record(ctx: &Ctx<'_>, query: Option<&str>, status: u16, items: usize, body_len: usize) {
    let text = |name| ctx.header(name).map(str::to_string);
    let rec = RequestRecord {
        method: ctx.method.to_string(),
        path: ctx.path.clone(),
        query: query.map(str::to_string),
        content_type: text(header::CONTENT_TYPE),
        content_encoding: text(header::CONTENT_ENCODING),
        headers: ctx
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_len,
        items,
        status,
        arrived: ctx.arrived,
    };
    lock(&ctx.shared.requests).push(rec);
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Answers a request; also returns the decoded body's length.
async fn dispatch(
    ctx: &Ctx<'_>,
    route: Option<Route>,
    body: HttpBody,
    fail: Option<RequestFault>,
) -> (Reply, usize) {
    let Some(route) = route else {
        let message = format!(
            "no handler found for uri [{}] and method [{}]",
            ctx.path, ctx.method
        );
        return (simple_error(400, &message), 0);
    };
    if !route.methods().contains(&ctx.method) {
        let allowed: Vec<&str> = route.methods().iter().map(Method::as_str).collect();
        let message = format!(
            "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
            ctx.path,
            ctx.method,
            allowed.join(", ")
        );
        return (simple_error(405, &message), 0);
    }
    if let Err(reply) = check_params(ctx, route.params()) {
        return (reply, 0);
    }
    let body = match read_body(ctx, body).await {
        Ok(body) => body,
        Err(reply) => return (reply, 0),
    };
    let len = body.len();
    if let Some(fault) = fail {
        return (request_fault(ctx, fault), len);
    }
    if !body.is_empty() {
        if let Err(reply) = check_content_type(ctx) {
            return (reply, len);
        }
    }
    let reply = match route {
        Route::Root => root(ctx),
        Route::Bulk(index) => bulk(ctx, index.as_deref(), &body),
        Route::Health => health(ctx),
        Route::License => license(ctx),
        Route::Xpack => xpack(ctx),
        Route::Named(kind, name) => named(ctx, kind, name.as_deref(), &body),
        Route::Count(target) => search_or_count(ctx, target.as_deref(), &body, true),
        Route::Search(target) => search_or_count(ctx, target.as_deref(), &body, false),
        Route::Refresh => Reply::ok(json!({"_shards": {"total": 2, "successful": 1, "failed": 0}})),
        Route::Doc(index, id) => get_doc(ctx, &index, &id),
        Route::Index(index) => index_op(ctx, &index),
    };
    (reply, len)
}

/// ES's `BaseRestHandler` check: every parameter must be consumed, with suggestions.
fn check_params(ctx: &Ctx<'_>, allowed: &[&str]) -> Result<(), Reply> {
    let known = |k: &str| COMMON_PARAMS.contains(&k) || allowed.contains(&k);
    let mut unknown: Vec<&str> = ctx
        .params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !known(k))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(());
    }
    let described: Vec<String> = unknown
        .iter()
        .map(|p| {
            let mut candidates: Vec<(f32, &str)> = allowed
                .iter()
                .chain(COMMON_PARAMS)
                .map(|c| (similarity(p, c), *c))
                .filter(|(s, _)| *s > 0.5)
                .collect();
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            match candidates.as_slice() {
                [] => format!("[{p}]"),
                [(_, one)] => format!("[{p}] -> did you mean [{one}]?"),
                many => {
                    let names: Vec<&str> = many.iter().map(|(_, c)| *c).collect();
                    format!("[{p}] -> did you mean any of [{}]?", names.join(", "))
                }
            }
        })
        .collect();
    let plural = if unknown.len() > 1 { "s" } else { "" };
    Err(illegal_argument(&format!(
        "request [{}] contains unrecognized parameter{plural}: {}",
        ctx.path,
        described.join(", ")
    )))
}

/// Reads and decodes the body within `http.max_content_length`.
async fn read_body(ctx: &Ctx<'_>, body: HttpBody) -> Result<Bytes, Reply> {
    let max = ctx.shared.config.max_content_length;
    let encoding = ctx
        .header(header::CONTENT_ENCODING)
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let declared = ctx
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<usize>().ok());
    let identity = encoding.is_empty() || encoding == "identity";
    if identity && declared.is_some_and(|n| n > max) {
        let expects = ctx
            .header(header::EXPECT)
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        return Err(Reply::empty(if expects { 417 } else { 413 }));
    }
    let raw = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| Reply::empty(413))?;
    let gzip = match encoding.as_str() {
        "gzip" | "x-gzip" => true,
        "deflate" | "x-deflate" => false,
        // Netty passes other encodings through undecoded; so does the stand-in.
        _ => return Ok(raw),
    };
    let decoder: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(&raw[..]))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(&raw[..]))
    };
    let mut out = Vec::with_capacity(raw.len() * 4);
    let read = decoder.take(max as u64 + 1).read_to_end(&mut out);
    match read {
        Ok(n) if n > max => Err(Reply::empty(413)),
        Ok(_) => Ok(Bytes::from(out)),
        Err(e) => Err(es_error(
            400,
            "parse_exception",
            &format!("cannot decompress the request body: {e}"),
            Value::Null,
        )),
    }
}

/// The request's content type, checked as ES's `RestController` does.
fn check_content_type(ctx: &Ctx<'_>) -> Result<(), Reply> {
    let Some(raw) = ctx.header(header::CONTENT_TYPE) else {
        return Err(simple_error(406, "Content-Type header is missing"));
    };
    let unsupported = || {
        simple_error(
            406,
            &format!("Content-Type header [{raw}] is not supported"),
        )
    };
    let mut parts = raw.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    let vnd = match media.as_str() {
        "application/json" | "application/x-ndjson" => false,
        "application/vnd.elasticsearch+json" | "application/vnd.elasticsearch+x-ndjson" => true,
        _ => return Err(unsupported()),
    };
    for param in parts.filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').ok_or_else(unsupported)?;
        match (k.trim().to_ascii_lowercase().as_str(), v.trim()) {
            ("charset", v) if v.eq_ignore_ascii_case("utf-8") => {}
            ("compatible-with", v) if vnd => {
                let major = ctx.version().major.to_string();
                let previous = (ctx.version().major - 1).to_string();
                if v != major && !(ctx.version().major >= 8 && v == previous) {
                    return Err(compatibility_error(ctx, raw));
                }
            }
            _ => return Err(unsupported()),
        }
    }
    Ok(())
}

fn compatibility_error(ctx: &Ctx<'_>, content_type: &str) -> Reply {
    let accept = ctx.header(header::ACCEPT).unwrap_or("null");
    let cause = format!(
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept={accept}, Content-Type={content_type}"
    );
    es_error(
        400,
        "media_type_header_exception",
        "Invalid media-type value on headers [Content-Type, Accept]",
        json!({"caused_by": {"type": "status_exception", "reason": cause}}),
    )
}

/// A scripted whole-request failure.
fn request_fault(ctx: &Ctx<'_>, fault: RequestFault) -> Reply {
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

fn bulk(ctx: &Ctx<'_>, index: Option<&str>, body: &[u8]) -> Reply {
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

fn root(ctx: &Ctx<'_>) -> Reply {
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

fn health(ctx: &Ctx<'_>) -> Reply {
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

fn license(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(json!({"license": {
        "status": "active", "uid": ctx.shared.cluster_uuid, "type": "basic",
        "issue_date": "2024-01-01T00:00:00.000Z", "issue_date_in_millis": 1_704_067_200_000u64,
        "max_nodes": 1000, "max_resource_units": null, "issued_to": "elasticsearch",
        "issuer": "elastic", "start_date_in_millis": -1
    }}))
}

fn xpack(ctx: &Ctx<'_>) -> Reply {
    let on = json!({"available": true, "enabled": true});
    Reply::ok(json!({
        "build": {"hash": "0000000000000000000000000000000000000000", "date": "2024-01-01T00:00:00.000000000Z"},
        "license": {"uid": ctx.shared.cluster_uuid, "type": "basic", "mode": "basic", "status": "active"},
        "features": {"ilm": on, "security": on, "monitoring": on}
    }))
}

/// Templates and ILM policies: stored as given.
fn named(ctx: &Ctx<'_>, kind: Kind, name: Option<&str>, body: &[u8]) -> Reply {
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

fn search_or_count(ctx: &Ctx<'_>, target: Option<&str>, body: &[u8], count: bool) -> Reply {
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

fn get_doc(ctx: &Ctx<'_>, index: &str, id: &str) -> Reply {
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

fn index_op(ctx: &Ctx<'_>, index: &str) -> Reply {
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

/// The common finish: headers, `filter_path`, gzip.
fn finish(
    reply: Reply,
    filter: Option<&FilterPath>,
    request: &HeaderMap,
    shared: &Shared,
) -> Response {
    let version = shared.config.version;
    let has_body = !matches!(reply.body, Body::Empty);
    let bytes: Option<Vec<u8>> = match reply.body {
        Body::Json(v) => {
            let v = match filter {
                Some(fp) => fp.apply(&v),
                None => v,
            };
            Some(serde_json::to_vec(&v).expect("a Value serializes"))
        }
        Body::Text(s) => Some(s.into_bytes()),
        Body::Empty => None,
    };
    let gzip = bytes.is_some()
        && request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = match bytes {
        Some(b) if gzip => Response::new(HttpBody::from(gzip_bytes(&b))),
        Some(b) => Response::new(HttpBody::from(b)),
        None => Response::new(HttpBody::empty()),
    };
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if shared.config.product_header && version.sends_product_header() {
        headers.insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    if has_body {
        headers.insert(header::CONTENT_TYPE, content_type(request, version));
    }
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(name, v);
        }
    }
    response
}

/// `application/json` (7.x adds `; charset=UTF-8`), or the compatible-with type asked for.
fn content_type(request: &HeaderMap, version: EsVersion) -> HeaderValue {
    let asked = [header::ACCEPT, header::CONTENT_TYPE]
        .iter()
        .filter_map(|h| request.get(h).and_then(|v| v.to_str().ok()))
        .find(|v| v.contains("vnd.elasticsearch"));
    if let Some(asked) = asked {
        let major = asked.rsplit('=').next().unwrap_or("").trim();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "application/vnd.elasticsearch+json;compatible-with={major}"
        )) {
            return v;
        }
    }
    if version.major >= 8 {
        HeaderValue::from_static("application/json")
    } else {
        HeaderValue::from_static("application/json; charset=UTF-8")
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    // Level 3: ES's `http.compression_level` default.
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 32),
        flate2::Compression::new(3),
    );
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// `?pretty`: re-indents a JSON answer (ES writes `"key" : value`; serde writes `"key": value`).
async fn prettify(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if parts.headers.contains_key(header::CONTENT_ENCODING) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, HttpBody::empty());
    };
    let pretty = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| serde_json::to_vec_pretty(&v).ok())
        .map(|mut b| {
            b.push(b'\n');
            b
        })
        .unwrap_or_else(|| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, HttpBody::from(pretty))
}

/// `/_standin/...`: the fault script and the store over HTTP.
async fn control(shared: &Shared, method: &Method, path: &str, body: HttpBody) -> Reply {
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
