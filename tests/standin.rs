//! The Elasticsearch stand-in through real HTTP: startup endpoints per version, strict bulk
//! parsing, document semantics, data streams, gzip, `filter_path`, `_count`/`_search`, every
//! fault kind (in-process and over the control endpoints), and the `es-standin` binary.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice::standin::elasticsearch::{
    Config, EsVersion, ItemFault, RequestFault, Scope, StandIn, Times,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTP answer.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection; None when the server closed it unanswered.
async fn try_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Resp> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    if raw.is_empty() {
        return None;
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Some(Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_send(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|| panic!("{method} {path}: connection closed without an answer"))
}

const NDJSON: (&str, &str) = ("Content-Type", "application/x-ndjson");

async fn bulk(es: &StandIn, path: &str, body: &str) -> Resp {
    send(es.addr(), "POST", path, &[NDJSON], body.as_bytes()).await
}

async fn get(es: &StandIn, path: &str) -> Resp {
    send(es.addr(), "GET", path, &[], b"").await
}

async fn start(version: EsVersion) -> StandIn {
    StandIn::start(Config {
        version,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// Statuses of a bulk answer's items, in order.
fn statuses(v: &Value) -> Vec<u64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i.as_object().unwrap().values().next().unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn item(v: &Value, n: usize) -> &Value {
    v["items"][n].as_object().unwrap().values().next().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn startup_endpoints_v8() {
    let es = start(EsVersion::V8).await;
    let root = get(&es, "/").await;
    assert_eq!(root.status, 200);
    assert_eq!(root.header("x-elastic-product"), Some("Elasticsearch"));
    assert_eq!(root.header("content-type"), Some("application/json"));
    let v = root.json();
    assert_eq!(v["version"]["number"], "8.15.0");
    assert_eq!(v["version"]["build_flavor"], "default");
    assert_eq!(v["tagline"], "You know, for Search");
    assert!(v["cluster_uuid"].as_str().is_some_and(|u| u.len() >= 20));
    assert!(
        !root.text().contains(": "),
        "compact JSON expected: {}",
        root.text()
    );

    let head = send(es.addr(), "HEAD", "/", &[], b"").await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("x-elastic-product"), Some("Elasticsearch"));
    assert_eq!(get(&es, "/_cluster/health").await.json()["status"], "green");
    assert_eq!(
        get(&es, "/_license").await.json()["license"]["status"],
        "active"
    );
    let wrong = get(&es, "/_bulk").await;
    assert_eq!(wrong.status, 405);
    assert_eq!(
        wrong.json()["error"],
        "Incorrect HTTP method for uri [/_bulk] and method [GET], allowed: [POST, PUT]"
    );
}

#[tokio::test]
async fn startup_v7_and_product_header_rules() {
    let es = start(EsVersion::V7).await;
    let root = get(&es, "/").await;
    assert_eq!(root.json()["version"]["number"], "7.17.18");
    assert_eq!(
        root.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    assert_eq!(root.header("x-elastic-product"), Some("Elasticsearch"));

    // Before 7.14 Elasticsearch did not send the header; clients check the tagline instead.
    let old = start("7.10.2".parse().unwrap()).await;
    let root = get(&old, "/").await;
    assert_eq!(root.header("x-elastic-product"), None);
    assert_eq!(root.json()["tagline"], "You know, for Search");

    let other = StandIn::start(Config {
        product_header: false,
        ..Config::default()
    })
    .await
    .unwrap();
    let root = get(&other, "/").await;
    assert_eq!(root.header("x-elastic-product"), None);
    assert!(root.json().get("tagline").is_none());
    let health = get(&other, "/_cluster/health").await;
    assert_eq!(health.header("x-elastic-product"), None);
}

#[tokio::test]
async fn index_and_legacy_templates() {
    let es = start(EsVersion::V8).await;
    let json_ct = [("Content-Type", "application/json")];
    assert_eq!(
        send(es.addr(), "HEAD", "/_index_template/logs", &[], b"")
            .await
            .status,
        404
    );
    let missing = get(&es, "/_index_template/logs").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["error"]["type"],
        "resource_not_found_exception"
    );
    let body = br#"{"index_patterns":["logs-*"],"template":{"settings":{"number_of_shards":1}},"priority":100}"#;
    let put = send(es.addr(), "PUT", "/_index_template/logs", &json_ct, body).await;
    assert_eq!(
        (put.status, put.json()),
        (200, json!({"acknowledged": true}))
    );
    assert_eq!(
        send(es.addr(), "HEAD", "/_index_template/logs", &[], b"")
            .await
            .status,
        200
    );
    let got = get(&es, "/_index_template/logs").await.json();
    assert_eq!(got["index_templates"][0]["name"], "logs");
    assert_eq!(got["index_templates"][0]["index_template"]["priority"], 100);
    assert_eq!(es.templates()[0].0, "logs");

    assert_eq!(
        send(es.addr(), "HEAD", "/_template/old", &[], b"")
            .await
            .status,
        404
    );
    let put = send(
        es.addr(),
        "PUT",
        "/_template/old",
        &json_ct,
        br#"{"index_patterns":["old-*"]}"#,
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(
        get(&es, "/_template/old").await.json()["old"]["index_patterns"][0],
        "old-*"
    );
    assert_eq!(es.legacy_templates().len(), 1);
}

#[tokio::test]
async fn bulk_strict_parsing_errors() {
    let es = start(EsVersion::V8).await;
    let r = bulk(&es, "/_bulk", "{\"index\":{\"_index\":\"a\"}}\n{\"x\":1}").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["root_cause"][0]["reason"],
        "The bulk request must be terminated by a newline [\\n]"
    );
    assert_eq!(r.json()["error"]["type"], "illegal_argument_exception");

    let r = bulk(
        &es,
        "/_bulk",
        "{\"index\":{\"_index\":\"a\"}}\n{}\n{\"index\":{\"_index\":\"a\",\"colour\":1}}\n{}\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["reason"],
        "Action/metadata line [3] contains an unknown parameter [colour]"
    );

    let r = bulk(&es, "/_bulk", "{\"index\":{}}\n{}\n").await;
    assert_eq!(
        r.json()["error"]["reason"],
        "Validation Failed: 1: index is missing;"
    );
    assert_eq!(
        es.count("a"),
        0,
        "a request failing as a whole stores nothing"
    );

    let r = send(
        es.addr(),
        "POST",
        "/_bulk",
        &[("Content-Type", "text/plain")],
        b"{}\n",
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(
        r.text(),
        r#"{"error":"Content-Type header [text/plain] is not supported","status":406}"#
    );

    let r = bulk(
        &es,
        "/_bulk?refresh=true&pipelin=p",
        "{\"index\":{\"_index\":\"a\"}}\n{}\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["reason"],
        "request [/_bulk] contains unrecognized parameter: [pipelin] -> did you mean [pipeline]?"
    );

    // \r\n lines, a blank line, and every accepted content type.
    for ct in [
        "application/json",
        "application/x-ndjson",
        "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "application/vnd.elasticsearch+json;compatible-with=7",
        "application/json; charset=UTF-8",
    ] {
        let body = "{\"index\":{\"_index\":\"crlf\"}}\r\n{\"x\":1}\r\n\r\n";
        let r = send(
            es.addr(),
            "POST",
            "/_bulk",
            &[("Content-Type", ct)],
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{ct}: {}", r.text());
    }
    assert_eq!(es.count("crlf"), 5);
    assert_eq!(es.docs("crlf")[0].1, json!({"x": 1}));
}

#[tokio::test]
async fn document_semantics() {
    let es = start(EsVersion::V8).await;
    let body = concat!(
        "{\"create\":{\"_index\":\"d\",\"_id\":\"1\"}}\n{\"n\":1}\n",
        "{\"create\":{\"_index\":\"d\",\"_id\":\"1\"}}\n{\"n\":2}\n",
        "{\"index\":{\"_index\":\"d\",\"_id\":\"1\"}}\n{\"n\":3}\n",
        "{\"delete\":{\"_index\":\"d\",\"_id\":\"nope\"}}\n",
        "{\"update\":{\"_index\":\"d\",\"_id\":\"1\"}}\n{\"doc\":{\"m\":1}}\n",
        "{\"update\":{\"_index\":\"d\",\"_id\":\"1\"}}\n{\"doc\":{\"m\":1}}\n",
        "{\"update\":{\"_index\":\"d\",\"_id\":\"2\"}}\n{\"doc\":{\"m\":2},\"doc_as_upsert\":true}\n",
        "{\"index\":{\"_index\":\"d\"}}\n{\"auto\":true}\n",
        "{\"delete\":{\"_index\":\"d\",\"_id\":\"2\"}}\n",
    );
    let v = bulk(&es, "/_bulk", body).await.json();
    assert_eq!(statuses(&v), [201, 409, 200, 404, 200, 200, 201, 201, 200]);
    assert_eq!(v["errors"], true);
    let conflict = item(&v, 1);
    assert_eq!(
        conflict["error"]["type"],
        "version_conflict_engine_exception"
    );
    assert_eq!(
        conflict["error"]["reason"],
        "[1]: version conflict, document already exists (current version [1])"
    );
    assert!(conflict.get("_type").is_none(), "no _type in 8.x");
    assert_eq!(
        (
            item(&v, 2)["result"].as_str(),
            item(&v, 2)["_version"].as_u64()
        ),
        (Some("updated"), Some(2))
    );
    assert_eq!(item(&v, 3)["result"], "not_found");
    assert_eq!(item(&v, 4)["_version"], 3);
    assert_eq!(item(&v, 5)["result"], "noop");
    let auto_id = item(&v, 7)["_id"].as_str().unwrap();
    assert_eq!(auto_id.len(), 20);
    assert_eq!(item(&v, 8)["result"], "deleted");
    assert_eq!(
        item(&v, 0)["_shards"],
        json!({"total": 2, "successful": 1, "failed": 0})
    );

    assert_eq!(es.doc("d", "1"), Some(json!({"n": 3, "m": 1})));
    assert_eq!(es.doc("d", "2"), None);
    let ids: Vec<String> = es.docs("d").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["1", auto_id]);

    // A not_found delete is not an error.
    let v = bulk(&es, "/d/_bulk", "{\"delete\":{\"_id\":\"gone\"}}\n")
        .await
        .json();
    assert_eq!(
        (v["errors"].as_bool(), statuses(&v)),
        (Some(false), vec![404])
    );
    // Invalid names and require_alias fail per item, with no _id assigned yet.
    let v = bulk(
        &es,
        "/_bulk?require_alias=true",
        "{\"index\":{\"_index\":\"d\"}}\n{}\n",
    )
    .await
    .json();
    assert_eq!(item(&v, 0)["error"]["type"], "index_not_found_exception");
    assert_eq!(item(&v, 0)["_id"], Value::Null);
    let v = bulk(&es, "/_bulk", "{\"index\":{\"_index\":\"Upper\"}}\n{}\n")
        .await
        .json();
    assert_eq!(
        item(&v, 0)["error"]["reason"],
        "Invalid index name [Upper], must be lowercase"
    );
}

#[tokio::test]
async fn seven_has_types_and_mapper_parsing() {
    let es = start(EsVersion::V7).await;
    es.faults()
        .fail_items(ItemFault::MapperParsing, Times::Count(1));
    let v = bulk(&es, "/_bulk", "{\"index\":{\"_index\":\"s\",\"_type\":\"_doc\"}}\n{}\n{\"index\":{\"_index\":\"s\"}}\n{}\n").await.json();
    assert_eq!(item(&v, 0)["error"]["type"], "mapper_parsing_exception");
    assert_eq!(item(&v, 1)["_type"], "_doc");
    assert_eq!(item(&v, 1)["result"], "created");

    let es8 = start(EsVersion::V8).await;
    es8.faults()
        .fail_items(ItemFault::MapperParsing, Times::Count(1));
    let v = bulk(&es8, "/_bulk", "{\"index\":{\"_index\":\"s\"}}\n{}\n")
        .await
        .json();
    assert_eq!(item(&v, 0)["error"]["type"], "document_parsing_exception");
    let v = bulk(
        &es8,
        "/_bulk",
        "{\"index\":{\"_index\":\"s\",\"_type\":\"_doc\"}}\n{}\n",
    )
    .await
    .json();
    assert_eq!(
        v["error"]["reason"],
        "Action/metadata line [1] contains an unknown parameter [_type]"
    );
}

#[tokio::test]
async fn data_streams_take_only_create() {
    let es = start(EsVersion::V8).await;
    let template = br#"{"index_patterns":["logs-*-*"],"data_stream":{},"priority":500}"#;
    let put = send(
        es.addr(),
        "PUT",
        "/_index_template/ds",
        &[("Content-Type", "application/json")],
        template,
    )
    .await;
    assert_eq!(put.status, 200);
    let body = concat!(
        "{\"index\":{\"_index\":\"logs-app-default\"}}\n{\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n",
        "{\"create\":{\"_index\":\"logs-app-default\"}}\n{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"m\":1}\n",
        "{\"create\":{\"_index\":\"logs-app-default\"}}\n{\"m\":2}\n",
    );
    let v = bulk(&es, "/_bulk", body).await.json();
    assert_eq!(statuses(&v), [400, 201, 400]);
    assert_eq!(
        item(&v, 0)["error"]["reason"],
        "only write ops with an op_type of create are allowed in data streams"
    );
    assert_eq!(item(&v, 0)["_id"], Value::Null);
    assert!(item(&v, 1)["_index"]
        .as_str()
        .unwrap()
        .starts_with(".ds-logs-app-default-"));
    assert!(item(&v, 2)["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("@timestamp"));
    assert!(es.is_data_stream("logs-app-default"));
    assert_eq!(es.count("logs-app-default"), 1);
}

#[tokio::test]
async fn gzip_bodies_and_size_limit() {
    let es = StandIn::start(Config {
        max_content_length: 4096,
        ..Config::default()
    })
    .await
    .unwrap();
    let body = "{\"index\":{\"_index\":\"z\"}}\n{\"m\":\"compressed\"}\n".repeat(10);
    let gz = gzip(body.as_bytes());
    let r = send(
        es.addr(),
        "POST",
        "/_bulk",
        &[NDJSON, ("Content-Encoding", "gzip")],
        &gz,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(es.count("z"), 10);
    let rec = es.requests().pop().unwrap();
    assert_eq!(
        (rec.content_encoding.as_deref(), rec.items, rec.body_len),
        (Some("gzip"), 10, body.len())
    );

    // Small compressed, too large uncompressed: 413 with an empty body.
    let big = "{\"index\":{\"_index\":\"z\"}}\n{\"m\":\"aaaaaaaaaaaaaaaa\"}\n".repeat(200);
    let r = send(
        es.addr(),
        "POST",
        "/_bulk",
        &[NDJSON, ("Content-Encoding", "gzip")],
        &gzip(big.as_bytes()),
    )
    .await;
    assert_eq!((r.status, r.body.len()), (413, 0));
    let r = send(es.addr(), "POST", "/_bulk", &[NDJSON], big.as_bytes()).await;
    assert_eq!((r.status, r.body.len()), (413, 0));
    assert_eq!(es.count("z"), 10);

    // Compressed answers for clients that accept them.
    let r = send(es.addr(), "GET", "/", &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert!(plain.contains("You know, for Search"));
}

#[tokio::test]
async fn official_client_with_compression() {
    use elasticsearch::http::headers::HeaderMap;
    use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
    use elasticsearch::http::{Method, Url};
    let es = start(EsVersion::V8).await;
    let pool = SingleNodeConnectionPool::new(Url::parse(&es.url()).unwrap());
    let transport = TransportBuilder::new(pool)
        .request_body_compression(true)
        .disable_proxy()
        .build()
        .unwrap();
    let body = "{\"index\":{\"_index\":\"c\"}}\n{\"via\":\"client\"}\n".to_string();
    let resp = transport
        .send(
            Method::Post,
            "/_bulk",
            HeaderMap::new(),
            None::<&()>,
            Some(body),
            None,
        )
        .await
        .unwrap();
    assert_eq!(resp.status_code().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"], false);
    assert_eq!(es.docs("c")[0].1, json!({"via": "client"}));
    assert_eq!(
        es.requests().last().unwrap().content_encoding.as_deref(),
        Some("gzip")
    );
}

#[tokio::test]
async fn filter_path_on_bulk() {
    let es = start(EsVersion::V8).await;
    es.faults().fail_items(ItemFault::Rejected, Times::Count(1));
    let body = "{\"index\":{\"_index\":\"f\"}}\n{}\n{\"index\":{\"_index\":\"f\"}}\n{}\n";
    let r = bulk(
        &es,
        "/_bulk?filter_path=errors,items.*.error,items.*.status",
        body,
    )
    .await;
    let v = r.json();
    assert_eq!(v["errors"], true);
    assert!(v.get("took").is_none());
    assert_eq!(
        item(&v, 0)["error"]["type"],
        "es_rejected_execution_exception"
    );
    assert_eq!(
        item(&v, 1).as_object().unwrap().len(),
        1,
        "only status: {v}"
    );
    assert!(
        r.text().contains("\"errors\":true"),
        "compact, as Vector's substring check needs"
    );

    let v = bulk(&es, "/_bulk?filter_path=items.*.error", body)
        .await
        .json();
    assert_eq!(v, json!({}), "no errors: nothing left");
    let r = bulk(&es, "/_bulk?filter_path=errors", "{\"index\":{}}\n{}\n").await;
    assert_eq!(
        r.json()["error"]["type"],
        "action_request_validation_exception",
        "errors are never filtered"
    );
    let v = get(&es, "/?filter_path=version.number").await.json();
    assert_eq!(v, json!({"version": {"number": "8.15.0"}}));
}

#[tokio::test]
async fn count_and_search() {
    let es = start(EsVersion::V8).await;
    let body = concat!(
        "{\"index\":{\"_index\":\"q\",\"_id\":\"a\"}}\n{\"host\":{\"name\":\"web\"},\"n\":3,\"message\":\"Disk full\"}\n",
        "{\"index\":{\"_index\":\"q\",\"_id\":\"b\"}}\n{\"host\":{\"name\":\"db\"},\"n\":1,\"message\":\"ok\"}\n",
        "{\"index\":{\"_index\":\"q\",\"_id\":\"c\"}}\n{\"host\":{\"name\":\"web\"},\"n\":2,\"message\":\"fine\"}\n",
    );
    bulk(&es, "/_bulk", body).await;
    let ct = [("Content-Type", "application/json")];
    assert_eq!(get(&es, "/q/_count").await.json()["count"], 3);
    let r = send(
        es.addr(),
        "POST",
        "/q/_count",
        &ct,
        br#"{"query":{"term":{"host.name":"web"}}}"#,
    )
    .await;
    assert_eq!(r.json()["count"], 2);
    let r = send(
        es.addr(),
        "POST",
        "/q/_search",
        &ct,
        br#"{"query":{"match":{"message":"disk"}}}"#,
    )
    .await;
    let v = r.json();
    assert_eq!(v["hits"]["total"], json!({"value": 1, "relation": "eq"}));
    assert_eq!(v["hits"]["hits"][0]["_id"], "a");
    let r = send(
        es.addr(),
        "POST",
        "/q/_search",
        &ct,
        br#"{"size":2,"sort":[{"n":"desc"}]}"#,
    )
    .await;
    let v = r.json();
    let ids: Vec<&str> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(v["hits"]["hits"][0]["sort"], json!([3]));
    assert_eq!(get(&es, "/missing/_count").await.status, 404);
    assert_eq!(get(&es, "/_count").await.json()["count"], 3);

    let es7 = start(EsVersion::V7).await;
    bulk(&es7, "/_bulk", "{\"index\":{\"_index\":\"q\"}}\n{}\n").await;
    let v = get(&es7, "/q/_search?rest_total_hits_as_int=true")
        .await
        .json();
    assert_eq!(
        (
            v["hits"]["total"].as_u64(),
            v["hits"]["hits"][0]["_type"].as_str()
        ),
        (Some(1), Some("_doc"))
    );
}

#[tokio::test]
async fn item_faults_are_not_stored() {
    let es = start(EsVersion::V8).await;
    es.faults().fail_items(ItemFault::Rejected, Times::Count(2));
    es.faults()
        .fail_items_containing("poison", ItemFault::IndexNotFound, Times::Forever);
    let body = concat!(
        "{\"index\":{\"_index\":\"i\"}}\n{\"n\":1}\n",
        "{\"index\":{\"_index\":\"i\"}}\n{\"n\":2}\n",
        "{\"index\":{\"_index\":\"i\"}}\n{\"n\":3,\"tag\":\"poison\"}\n",
        "{\"index\":{\"_index\":\"i\"}}\n{\"n\":4}\n",
    );
    let v = bulk(&es, "/_bulk", body).await.json();
    assert_eq!(statuses(&v), [429, 429, 404, 201]);
    assert_eq!(item(&v, 2)["error"]["type"], "index_not_found_exception");
    assert_eq!(
        es.docs("i")
            .into_iter()
            .map(|(_, s)| s["n"].clone())
            .collect::<Vec<_>>(),
        [json!(4)]
    );
    let v = bulk(
        &es,
        "/_bulk",
        "{\"index\":{\"_index\":\"i\"}}\n{\"tag\":\"poison\"}\n",
    )
    .await
    .json();
    assert_eq!(statuses(&v), [404], "marker rules last forever");

    es.faults().clear();
    for (fault, status, kind) in [
        (
            ItemFault::VersionConflict,
            409,
            "version_conflict_engine_exception",
        ),
        (ItemFault::Unavailable, 503, "unavailable_shards_exception"),
    ] {
        es.faults().fail_items(fault, Times::Count(1));
        let v = bulk(&es, "/_bulk", "{\"create\":{\"_index\":\"i\"}}\n{}\n")
            .await
            .json();
        assert_eq!(
            (statuses(&v)[0], item(&v, 0)["error"]["type"].as_str()),
            (status, Some(kind))
        );
    }
    assert_eq!(es.count("i"), 1);
    assert_eq!(es.faults().pending(), 0);
}

#[tokio::test]
async fn request_faults_hit_only_bulk_requests() {
    let es = start(EsVersion::V8).await;
    let f = es.faults();
    f.fail_requests(RequestFault::Unauthorized, Times::Count(1));
    f.fail_requests(RequestFault::TooLarge, Times::Count(1));
    f.fail_requests(RequestFault::CircuitBreaking, Times::Count(1));
    f.fail_requests(RequestFault::Unavailable, Times::Count(1));
    assert_eq!(
        get(&es, "/").await.status,
        200,
        "HEAD/GET / are not bulk requests"
    );
    let body = "{\"index\":{\"_index\":\"r\"}}\n{}\n";
    let r = bulk(&es, "/_bulk", body).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(r.json()["error"]["type"], "security_exception");
    let r = bulk(&es, "/_bulk", body).await;
    assert_eq!((r.status, r.body.len()), (413, 0));
    let r = bulk(&es, "/_bulk", body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "circuit_breaking_exception");
    assert_eq!(r.json()["error"]["durability"], "TRANSIENT");
    let r = bulk(&es, "/_bulk", body).await;
    assert_eq!(r.status, 503);
    assert_eq!(es.count("r"), 0);
    assert_eq!(bulk(&es, "/_bulk", body).await.status, 200);
    assert_eq!(es.count("r"), 1);
    let recorded: Vec<u16> = es.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, [200, 401, 413, 429, 503, 200]);
}

#[tokio::test]
async fn slow_and_dropped_requests() {
    let es = start(EsVersion::V8).await;
    es.faults()
        .delay(Duration::from_millis(300), Times::Count(1), Scope::All);
    let t = Instant::now();
    assert_eq!(get(&es, "/").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    get(&es, "/").await;
    assert!(t.elapsed() < Duration::from_millis(300), "only once");

    es.faults().drop_connections(Times::Count(1), Scope::Bulk);
    assert_eq!(get(&es, "/").await.status, 200, "not in scope");
    let body = b"{\"index\":{\"_index\":\"x\"}}\n{}\n";
    assert!(try_send(es.addr(), "POST", "/_bulk", &[NDJSON], body)
        .await
        .is_none());
    assert_eq!(es.count("x"), 0);
    assert_eq!(
        send(es.addr(), "POST", "/_bulk", &[NDJSON], body)
            .await
            .status,
        200
    );
    assert_eq!(es.requests().iter().filter(|r| r.status == 0).count(), 1);
}

#[tokio::test]
async fn down_for_refuses_then_comes_back_on_the_same_port() {
    let es = start(EsVersion::V8).await;
    // A keep-alive connection open before the downtime is closed by it.
    let mut idle = TcpStream::connect(es.addr()).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(idle.read(&mut buf).await.unwrap() > 0);

    es.faults().down_for(Duration::from_millis(400));
    assert!(es.faults().is_down());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = TcpStream::connect(es.addr()).await;
    assert!(refused.is_err(), "the listening socket must be closed");
    assert!(
        !matches!(idle.read(&mut buf).await, Ok(n) if n > 0),
        "open connections are closed"
    );

    tokio::time::sleep(Duration::from_millis(450)).await;
    let mut back = None;
    for _ in 0..50 {
        if let Some(r) = try_send(es.addr(), "GET", "/", &[], b"").await {
            back = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(back.expect("listening again").status, 200);
}

#[tokio::test]
async fn control_endpoints_script_faults() {
    let es = start(EsVersion::V8).await;
    let ct = [("Content-Type", "application/json")];
    let script = br#"[{"fault":"item","status":503,"times":1},{"fault":"request","status":429}]"#;
    let r = send(es.addr(), "POST", "/_standin/faults", &ct, script).await;
    assert_eq!(r.json(), json!({"acknowledged": true}));
    let body = "{\"index\":{\"_index\":\"k\"}}\n{}\n";
    assert_eq!(bulk(&es, "/_bulk", body).await.status, 429);
    assert_eq!(statuses(&bulk(&es, "/_bulk", body).await.json()), [503]);
    assert_eq!(statuses(&bulk(&es, "/_bulk", body).await.json()), [201]);

    let bad = send(
        es.addr(),
        "POST",
        "/_standin/faults",
        &ct,
        br#"{"fault":"item","status":418}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    send(
        es.addr(),
        "POST",
        "/_standin/faults",
        &ct,
        br#"{"fault":"item","status":400,"times":"forever"}"#,
    )
    .await;
    assert_eq!(
        send(es.addr(), "DELETE", "/_standin/faults", &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(statuses(&bulk(&es, "/_bulk", body).await.json()), [201]);

    let stats = get(&es, "/_standin/stats").await.json();
    assert_eq!(stats["indices"]["k"], 2);
    assert_eq!(stats["bulk_requests"], 4);
    let listed = get(&es, "/_standin/requests").await.json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        4,
        "control requests are not recorded"
    );
    assert_eq!(listed[0]["status"], 429);
}

#[tokio::test]
async fn count_only_mode_counts() {
    let es = StandIn::start(Config {
        store_sources: false,
        ..Config::default()
    })
    .await
    .unwrap();
    let v = bulk(
        &es,
        "/_bulk",
        &"{\"index\":{\"_index\":\"b\"}}\n{\"m\":1}\n".repeat(5),
    )
    .await
    .json();
    assert_eq!(statuses(&v), [201; 5]);
    assert_eq!((es.count("b"), es.docs("b").len()), (5, 0));
}

#[test]
fn binary_prints_its_address_and_serves() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_es-standin"))
        .args(["--version", "7", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let addr: SocketAddr = line
        .strip_prefix("listening on http://")
        .expect(&line)
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = rt.block_on(send(addr, "GET", "/", &[], b""));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(root.json()["version"]["number"], "7.17.18");
}
