//! Helpers shared by the integration tests.

pub mod input;
pub mod kafka;
pub mod worker;

use sluice::config::options::EnvLookup;
use sluice::config::{parse, ParseOptions, SourceMap};
use sluice::plan::{self, Plan};

/// Parses and builds `text` (named `test.conf`); `Err` holds the rendered diagnostics.
pub fn build_plan(text: &str, env: &EnvLookup) -> Result<Plan, String> {
    let sources = SourceMap::single("test.conf", text);
    let ast = parse(&sources, ParseOptions::default()).map_err(|d| d.render(&sources))?;
    plan::build(&ast, env).map_err(|d| d.render(&sources))
}

/// Like [`build_plan`] for a config that must build.
#[allow(dead_code)] // not every test binary uses every helper
pub fn plan_of(text: &str, env: &EnvLookup) -> Plan {
    build_plan(text, env).unwrap_or_else(|d| panic!("config did not build:\n{d}"))
}

/// The rendered diagnostics of a config that must not build.
#[allow(dead_code)]
pub fn build_error(text: &str, env: &EnvLookup) -> String {
    match build_plan(text, env) {
        Ok(_) => panic!("config should not build:\n{text}"),
        Err(d) => d,
    }
}

/// `${VAR}` lookups that find nothing.
#[allow(dead_code)]
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// The filter graph of `filter { FILTERS }`.
#[allow(dead_code)]
pub fn graph(filters: &str) -> sluice::plan::FilterGraph {
    plan_of(&format!("filter {{\n{filters}\n}}"), &no_env).filters
}

/// The rendered diagnostics of a filter section that must not build.
#[allow(dead_code)]
pub fn filter_build_error(filters: &str) -> String {
    build_error(&format!("filter {{\n{filters}\n}}"), &no_env)
}

/// Parses JSON text into a value (test input).
#[allow(dead_code)]
pub fn json(text: &str) -> sluice::event::Value {
    sluice::event::json::parse_value(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The value at a field reference (`[a][b]` or a bare name) of `e`.
#[allow(dead_code)]
pub fn get<'e>(e: &'e sluice::event::Event, path: &str) -> Option<&'e sluice::event::Value> {
    e.get(&sluice::event::FieldPath::parse(path).unwrap())
}

/// The event's tags as strings (none: empty).
#[allow(dead_code)]
pub fn tags(e: &sluice::event::Event) -> Vec<String> {
    match e.get_field("tags") {
        Some(sluice::event::Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().unwrap_or("?").to_string())
            .collect(),
        None => Vec::new(),
        Some(other) => panic!("tags is {other:?}"),
    }
}

/// An event holding one field, stamped at second 0 (so a changed `@timestamp` shows).
#[allow(dead_code)]
pub fn event_with(field: &str, value: sluice::event::Value) -> sluice::event::Event {
    let mut map = sluice::event::Map::new();
    map.insert(sluice::event::Text::new(field), value);
    sluice::event::Event::from_fields(map, sluice::event::Timestamp::from_secs(0))
}

/// Runs one event through `filter { FILTERS }`; it must survive.
#[allow(dead_code)]
pub fn run_event(filters: &str, e: sluice::event::Event) -> sluice::event::Event {
    let mut batch = vec![e];
    graph(filters).process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was lost");
    batch.pop().unwrap()
}

/// Polls `current` until it equals `expected`, for up to [`input::PATIENCE`]; fails with the
/// last value seen and `what` it is.
#[allow(dead_code)]
pub fn wait_for_value<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: T,
    mut current: impl FnMut() -> T,
) {
    let deadline = std::time::Instant::now() + input::PATIENCE;
    loop {
        let now = current();
        if now == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {now:?}, expected {expected:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A plain HTTP/1.1 GET: status and body.
#[allow(dead_code)]
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, None)
}

/// A plain HTTP/1.1 POST of a JSON body: status and body.
#[allow(dead_code)]
pub fn http_post(addr: std::net::SocketAddr, path: &str, json: &str) -> (u16, String) {
    http_request(addr, "POST", path, Some(json))
}

fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let body = json.unwrap_or("");
    let content_type = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{content_type}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, dechunk(head, body))
}

/// The body of a `Transfer-Encoding: chunked` answer, joined; other bodies as they are.
fn dechunk(head: &str, body: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The Elasticsearch stand-in on a runtime of its own, so a pipeline (which runs its own, or a
/// child process) can talk to it.
#[allow(dead_code)]
pub struct Es {
    pub standin: sluice::standin::elasticsearch::StandIn,
    _runtime: tokio::runtime::Runtime,
}

/// A default stand-in, started.
#[allow(dead_code)]
pub fn es() -> Es {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = sluice::standin::elasticsearch::Config::default();
    let standin = runtime
        .block_on(sluice::standin::elasticsearch::StandIn::start(config))
        .unwrap();
    Es {
        standin,
        _runtime: runtime,
    }
}
