//! Request dispatch: one handler behind axum receives every request, applies the fault script,
//! routes by method and path, checks query parameters and content types as ES's REST layer
//! does, and finishes every answer the same way (product header, content type, `filter_path`,
//! gzip) before recording it.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::faults::RequestFault;
use super::filter_path::FilterPath;
use super::listener::{ConnHandle, StandInListener};
use super::responses::{es_error, illegal_argument, similarity, simple_error, Body, Reply};
use super::store::Kind;
use super::{control, endpoints, lock, BulkSeen, EsVersion, RequestRecord, Shared};

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
pub(super) struct Ctx<'a> {
    pub(super) shared: &'a Shared,
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) headers: &'a HeaderMap,
    pub(super) arrived: Instant,
}

impl Ctx<'_> {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(super) fn version(&self) -> EsVersion {
        self.shared.config.version
    }

    /// A boolean parameter as ES reads it: absent or empty is `default`.
    pub(super) fn bool_param(&self, name: &str, default: bool) -> Result<bool, Reply> {
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
        let reply = control::control(&shared, &parts.method, &path, body).await;
        return finish(reply, None, &parts.headers, &shared);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = Route::parse(&segs);
    let is_bulk = matches!(route, Some(Route::Bulk(_)));
    let fate = shared.faults.request_fate(is_bulk);
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
    let (reply, body) = dispatch(&ctx, route, body, fate.fail).await;
    let status = reply.status;
    record(&ctx, parts.uri.query(), status, reply.items, body.len());
    let filter = ctx.param("filter_path").and_then(FilterPath::parse);
    let pretty = ctx.param("pretty").is_some_and(|v| v != "false");
    let mut response = finish(reply, filter.as_ref(), &parts.headers, &shared);
    if is_bulk {
        report_bulk(&shared, status, body);
    }
    if pretty {
        response = prettify(response).await;
    }
    response
}

/// Hands an answered `_bulk` request to the tap, if one is installed.
fn report_bulk(shared: &Shared, status: u16, body: Bytes) {
    let tap = lock(&shared.tap);
    if let Some(tx) = tap.as_ref() {
        let seen = BulkSeen {
            answered: Instant::now(),
            status,
            body,
        };
        // A dropped receiver only means nobody listens any more.
        let _ = tx.send(seen);
    }
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

/// Answers a request; also returns the decoded body (empty when it was not read).
async fn dispatch(
    ctx: &Ctx<'_>,
    route: Option<Route>,
    body: HttpBody,
    fail: Option<RequestFault>,
) -> (Reply, Bytes) {
    let Some(route) = route else {
        let message = format!(
            "no handler found for uri [{}] and method [{}]",
            ctx.path, ctx.method
        );
        return (simple_error(400, &message), Bytes::new());
    };
    if !route.methods().contains(&ctx.method) {
        let allowed: Vec<&str> = route.methods().iter().map(Method::as_str).collect();
        let message = format!(
            "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
            ctx.path,
            ctx.method,
            allowed.join(", ")
        );
        return (simple_error(405, &message), Bytes::new());
    }
    if let Err(reply) = check_params(ctx, route.params()) {
        return (reply, Bytes::new());
    }
    let body = match read_body(ctx, body).await {
        Ok(body) => body,
        Err(reply) => return (reply, Bytes::new()),
    };
    if let Some(fault) = fail {
        return (endpoints::request_fault(ctx, fault), body);
    }
    if !body.is_empty() {
        if let Err(reply) = check_content_type(ctx) {
            return (reply, body);
        }
    }
    let reply = match route {
        Route::Root => endpoints::root(ctx),
        Route::Bulk(index) => endpoints::bulk(ctx, index.as_deref(), &body),
        Route::Health => endpoints::health(ctx),
        Route::License => endpoints::license(ctx),
        Route::Xpack => endpoints::xpack(ctx),
        Route::Named(kind, name) => endpoints::named(ctx, kind, name.as_deref(), &body),
        Route::Count(target) => endpoints::search_or_count(ctx, target.as_deref(), &body, true),
        Route::Search(target) => endpoints::search_or_count(ctx, target.as_deref(), &body, false),
        Route::Refresh => Reply::ok(json!({"_shards": {"total": 2, "successful": 1, "failed": 0}})),
        Route::Doc(index, id) => endpoints::get_doc(ctx, &index, &id),
        Route::Index(index) => endpoints::index_op(ctx, &index),
    };
    (reply, body)
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
                // ES builds error answers unfiltered (`newErrorBuilder`).
                Some(fp) if v.get("error").is_none() => fp.apply(&v),
                _ => v,
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
