//! The HTTP API of `sluice sandbox`, against the real binary: every call the page makes
//! (files, run with traces, config errors, grok debugger, save, reload on change, tap), and a
//! check that a sandbox result is what `sluice run` indexes into Elasticsearch.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use common::{http_get, http_post, wait_for_value};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// A `sluice sandbox` child; killed when dropped.
struct Sandbox {
    child: Child,
    addr: SocketAddr,
    /// Kept open: the sandbox must not see its stdout closed.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Sandbox {
    fn start(args: &[&str]) -> Sandbox {
        let mut child = Command::new(SLUICE)
            .args(["sandbox", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        let url = first
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        let addr = url.trim().trim_end_matches('/').parse().unwrap();
        Sandbox {
            child,
            addr,
            _stdout: stdout,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = http_get(self.addr, path);
        (status, parse(&body))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, body) = http_post(self.addr, path, &body.to_string());
        (status, parse(&body))
    }

    /// `POST /api/run` of one config text named `test.conf`.
    fn run(&self, config: &str, lines: &[&str]) -> Value {
        let (status, answer) = self.post(
            "/api/run",
            &json!({"files": [{"path": "test.conf", "text": config}], "lines": lines}),
        );
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A copy of sandbox/filters in a temp folder.
fn filters_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("filters");
    copy_dir(Path::new("sandbox/filters"), &root);
    (dir, root)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The single event the first line of `answer` became.
fn only_event(answer: &Value) -> &Value {
    let events = answer["results"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer:#}");
    &events[0]
}

#[test]
fn the_page_and_its_assets_are_served_from_the_binary() {
    let sandbox = Sandbox::start(&[]);
    let (status, html) = http_get(sandbox.addr, "/");
    assert_eq!(status, 200);
    assert!(html.contains("/assets/app.js"), "{html}");
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let (status, body) = http_get(sandbox.addr, asset);
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 100, "{asset} is nearly empty: {body}");
    }
    // Without -f the page gets the built-in example, which nothing may write.
    let (_, files) = sandbox.get("/api/files");
    assert_eq!(files["writable"], false);
    assert_eq!(files["files"][0]["path"], "example.conf");
    let (status, _) = sandbox.post("/api/save", &json!({"files": files["files"]}));
    assert_eq!(status, 403);
}

#[test]
fn files_lists_the_config_files_and_their_test_cases() {
    let (_dir, root) = filters_copy();
    let sandbox = Sandbox::start(&["-f", root.to_str().unwrap()]);
    let (status, files) = sandbox.get("/api/files");
    assert_eq!(status, 200);
    assert_eq!(files["writable"], true);
    let conf = root.join("business.conf").display().to_string();
    assert_eq!(files["files"][0]["path"], conf.as_str());
    assert_eq!(
        files["files"][0]["text"],
        std::fs::read_to_string(&conf).unwrap().as_str()
    );
    let tests = files["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "{files:#}");
    assert_eq!(tests[0]["codec"], "line");
    let first_case = &tests[0]["cases"][0];
    assert!(first_case["input"][0]
        .as_str()
        .unwrap()
        .contains("[checkout]"));
}

#[test]
fn run_traces_conditions_filters_field_changes_and_tags() {
    let sandbox = Sandbox::start(&[]);
    let config = r#"filter {
  grok { match => { "message" => "%{WORD:verb} %{NUMBER:status:int}" } }
  if [status] >= 500 {
    mutate { add_tag => ["server_error"] rename => { "verb" => "method" } }
  } else if [status] >= 400 {
    mutate { add_field => { "class" => "client" } }
  } else {
    drop {}
  }
  mutate { remove_field => ["message"] }
}"#;
    let answer = sandbox.run(config, &["GET 503", "PUT 404", "GET 200"]);
    assert_eq!(answer["ok"], true);

    let server_error = only_event(&answer);
    assert_eq!(server_error["event"]["method"], "GET");
    assert_eq!(server_error["event"]["status"], 503);
    assert_eq!(server_error["event"]["tags"], json!(["server_error"]));
    let trace = server_error["trace"].as_array().unwrap();
    let kinds: Vec<&str> = trace.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["filter", "condition", "filter", "filter"]);
    assert_eq!(trace[0]["name"], "grok");
    assert_eq!(trace[0]["added"], json!({"[verb]": "GET", "[status]": 503}));
    assert_eq!(trace[1]["text"], "[status] >= 500");
    assert_eq!(trace[1]["result"], true);
    assert_eq!(
        (&trace[1]["line"], &trace[1]["col"]),
        (&json!(3), &json!(6))
    );
    assert_eq!(trace[2]["tags_added"], json!(["server_error"]));
    assert_eq!(trace[2]["added"], json!({"[method]": "GET"}));
    assert_eq!(trace[2]["removed"], json!(["[verb]"]));
    assert_eq!(trace[2]["line"], 4);
    assert_eq!(trace[3]["removed"], json!(["[message]"]));

    // The second line: the first condition false, the second true.
    let client = &answer["results"][1]["events"][0];
    let conditions: Vec<(&str, &str, bool)> = client["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "condition")
        .map(|s| {
            let keyword = s["keyword"].as_str().unwrap();
            (
                keyword,
                s["text"].as_str().unwrap(),
                s["result"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        conditions,
        [
            ("if", "[status] >= 500", false),
            ("else if", "[status] >= 400", true)
        ]
    );
    assert_eq!(client["event"]["class"], "client");

    // The third: the else drops it; the trace ends with the drop.
    let third = &answer["results"][2];
    assert_eq!(third["events"], json!([]));
    let dropped = third["dropped"][0]["trace"].as_array().unwrap();
    let last_two: Vec<&str> = dropped[dropped.len() - 2..]
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(last_two, ["else", "filter"]);
    assert_eq!(dropped.last().unwrap()["name"], "drop");
    assert_eq!(dropped.last().unwrap()["dropped"], true);
}

#[test]
fn run_follows_events_a_filter_creates_and_shows_changes_and_metadata() {
    let sandbox = Sandbox::start(&[]);
    let config = r#"filter {
  mutate { replace => { "message" => "a,b" } add_field => { "[@metadata][index]" => "x" } }
  split { field => "message" terminator => "," }
}"#;
    let answer = sandbox.run(config, &["original"]);
    let events = answer["results"][0]["events"].as_array().unwrap();
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["a", "b"]);
    let first = events[0]["trace"].as_array().unwrap();
    assert_eq!(
        first[0]["changed"]["[message]"],
        json!({"from": "original", "to": "a,b"})
    );
    assert_eq!(first[0]["added"]["[@metadata][index]"], "x");
    assert_eq!(first[1]["name"], "split");
    assert_eq!(first[1]["created"], 1);
    assert_eq!(events[1]["trace"][1]["created"], 0);
    // @metadata is shown apart and never in the document.
    assert_eq!(events[0]["metadata"], json!({"index": "x"}));
    assert!(events[0]["event"].get("@metadata").is_none());
}

#[test]
fn config_errors_come_back_located_as_sluice_check_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = "filter {\n  mutate {\n    add_feild => { \"a\" => \"b\" }\n  }\n}\n";
    let path = dir.path().join("bad.conf");
    std::fs::write(&path, config).unwrap();
    let sandbox = Sandbox::start(&[]);
    let path_text = path.display().to_string();
    let (status, answer) = sandbox.post(
        "/api/run",
        &json!({"files": [{"path": path_text, "text": config}], "lines": ["x"]}),
    );
    assert_eq!(status, 200);
    assert_eq!(answer["ok"], false);
    let problem = &answer["diagnostics"][0];
    assert_eq!((&problem["line"], &problem["col"]), (&json!(3), &json!(5)));
    assert_eq!(problem["path"], path_text.as_str());
    assert!(problem["message"].as_str().unwrap().contains("add_feild"));
    let check = Command::new(SLUICE)
        .args(["check", "-f", &path_text])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(
        printed.contains(problem["rendered"].as_str().unwrap()),
        "sluice check printed:\n{printed}\nthe sandbox:\n{}",
        problem["rendered"]
    );

    // A syntax error too.
    let answer = sandbox.run("filter {\n  mutate {\n}\n", &["x"]);
    assert_eq!(answer["ok"], false);
    let problem = &answer["diagnostics"][0];
    assert_eq!(
        (&problem["line"], &problem["col"]),
        (&json!(2), &json!(10)),
        "{answer:#}"
    );
    assert!(problem["message"].as_str().unwrap().contains("unclosed"));
}

#[test]
fn grok_explains_the_match_and_how_far_a_failing_line_got() {
    let sandbox = Sandbox::start(&[]);
    let config = r#"filter {
  mutate { add_field => { "payload" => "%{message}" } }
  grok {
    id => "access"
    match => { "payload" => ["%{IP:client} %{WORD:verb} %{NUMBER:status}", "%{WORD:only}"] }
  }
}"#;
    let files = json!([{"path": "t.conf", "text": config}]);
    let ask = |line: &str| {
        sandbox.post(
            "/api/grok",
            &json!({"files": files, "id": "access", "line": line}),
        )
    };
    let (status, ok) = ask("10.0.0.1 GET 200");
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["reached"], true);
    assert_eq!((&ok["line"], &ok["col"]), (&json!(3), &json!(3)));
    let field = &ok["fields"][0];
    assert_eq!(field["field"], "payload");
    assert_eq!(field["matched"], true);
    assert_eq!(field["winner"], 0);
    let captures: Vec<(&str, &str)> = field["patterns"][0]["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        captures,
        [("client", "10.0.0.1"), ("verb", "GET"), ("status", "200")]
    );

    // The first pattern fails after two of its references; the second one wins.
    let (status, second) = ask("10.0.0.1 GET x200 ??");
    assert_eq!(status, 200, "{second}");
    let field = &second["fields"][0];
    assert_eq!(
        (&field["matched"], &field["winner"]),
        (&json!(true), &json!(1))
    );
    assert_eq!(field["patterns"][0]["matched"], false);
    let prefix = &field["patterns"][0]["prefix"];
    assert_eq!(prefix["next_part"], "%{NUMBER:status}", "{prefix:#}");
    assert_eq!(prefix["matched_text"], "10.0.0.1 GET ");
    assert_eq!(prefix["after"], "x200 ??");

    let (_, failed) = ask("??? !!!");
    let field = &failed["fields"][0];
    assert_eq!(
        (&field["matched"], &field["winner"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(
        field["patterns"][1]["prefix"]["matched_parts"], 0,
        "{failed:#}"
    );

    let (status, missing) = sandbox.post(
        "/api/grok",
        &json!({"files": files, "id": "nope", "line": "x"}),
    );
    assert_eq!(status, 404, "{missing}");
}

#[test]
fn save_writes_only_when_asked_and_disk_changes_raise_the_version() {
    let (_dir, root) = filters_copy();
    let conf = root.join("business.conf");
    let sandbox = Sandbox::start(&["-f", root.to_str().unwrap()]);
    let (_, files) = sandbox.get("/api/files");
    let version = files["version"].as_u64().unwrap();
    let original = std::fs::read_to_string(&conf).unwrap();

    // Running an edited config writes nothing.
    let edited = original.replace("kv {", "kv { add_tag => [\"edited\"] ");
    let path = conf.display().to_string();
    let answer = sandbox.post(
        "/api/run",
        &json!({"files": [{"path": path, "text": edited}], "lines": ["x"]}),
    );
    assert_eq!(answer.0, 200);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), original);

    // Saving does.
    let (status, saved) = sandbox.post(
        "/api/save",
        &json!({"files": [{"path": path, "text": edited}]}),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), edited);
    assert!(saved["version"].as_u64().unwrap() > version);

    // A path outside the workspace is refused.
    let (status, _) = sandbox.post(
        "/api/save",
        &json!({"files": [{"path": "/tmp/elsewhere.conf", "text": "x"}]}),
    );
    assert_eq!(status, 400);

    // An edit on disk is picked up.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .unwrap();
    writeln!(file, "# changed on disk").unwrap();
    drop(file);
    wait_for_value("the file's text in /api/files", true, || {
        let (_, files) = sandbox.get("/api/files");
        files["files"][0]["text"]
            .as_str()
            .unwrap()
            .contains("# changed on disk")
    });
}

#[test]
fn read_only_refuses_to_save() {
    let (_dir, root) = filters_copy();
    let sandbox = Sandbox::start(&["-f", root.to_str().unwrap(), "--read-only"]);
    let (_, files) = sandbox.get("/api/files");
    assert_eq!(files["writable"], false);
    let (status, answer) = sandbox.post("/api/save", &json!({"files": files["files"]}));
    assert_eq!(status, 403, "{answer}");
}

#[test]
fn bad_requests_answer_400_with_a_reason() {
    let sandbox = Sandbox::start(&[]);
    let (status, answer) = sandbox.post("/api/run", &json!({"lines": ["x"]}));
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("files"),
        "{answer}"
    );
    let (status, answer) = sandbox.post(
        "/api/run",
        &json!({"files": [], "lines": ["x"], "codec": "no_such_codec"}),
    );
    assert_eq!(status, 200);
    assert!(answer["results"][0]["error"]
        .as_str()
        .unwrap()
        .contains("no_such_codec"));
    let (_, tap) = sandbox.get("/api/tap");
    assert_eq!(tap["source"], Value::Null);
}

#[test]
fn tap_follows_a_file_through_the_filters_and_reloads_them() {
    let (dir, root) = filters_copy();
    let log = dir.path().join("live.log");
    std::fs::write(&log, "").unwrap();
    let follow = format!("file:{}", log.display());
    let sandbox = Sandbox::start(&["-f", root.to_str().unwrap(), "--follow", &follow]);
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let sample = std::fs::read_to_string("sandbox/samples/business.log").unwrap();
    for line in sample.lines().take(4) {
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    wait_for_value("events seen by the tap", 4, || {
        sandbox.get("/api/tap").1["seen"].as_u64().unwrap()
    });
    let (_, tap) =
        sandbox.get("/api/tap?where=%5Blevel%5D%20%3D%3D%20%22ERROR%22&fields=level,component");
    let events = tap["events"].as_array().unwrap();
    assert!(!events.is_empty(), "{tap:#}");
    for event in events {
        assert_eq!(event["event"]["level"], "ERROR", "{tap:#}");
        let keys: Vec<&String> = event["event"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["component", "level"], "{tap:#}");
    }
    let (status, bad) = sandbox.get("/api/tap?where=%5Blevel%5D%20%3D%3D");
    assert_eq!(status, 400, "{bad}");

    // Filters changed on disk apply to later events.
    let conf = root.join("business.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("kv { source", "kv { add_tag => [\"reloaded\"] source");
    std::fs::write(&conf, text).unwrap();
    wait_for_value("the reloaded filters tagging a new line", true, || {
        writeln!(file, "{}", sample.lines().next().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (_, tap) = sandbox.get("/api/tap?limit=1");
        tap["events"][0]["event"]["tags"] == json!(["reloaded"])
    });
}

#[test]
fn a_sandbox_result_is_what_sluice_run_indexes() {
    let sample = std::fs::read_to_string("sandbox/samples/business.log").unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let sandbox = Sandbox::start(&["-f", "sandbox/filters"]);
    let (_, files) = sandbox.get("/api/files");
    let (_, answer) = sandbox.post(
        "/api/run",
        &json!({"files": files["files"], "lines": lines}),
    );
    let mut from_sandbox: Vec<Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().clone())
        .map(|e| e["event"].clone())
        .collect();

    let es = common::es();
    let pipeline = format!(
        "input {{ stdin {{}} }} output {{ elasticsearch {{ hosts => [\"{}\"] index => \"same\" }} }}",
        es.standin.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let io = dir.path().join("io.conf");
    std::fs::write(&io, pipeline).unwrap();
    let mut run = Command::new(SLUICE)
        .args(["run", "-f", io.to_str().unwrap(), "-f", "sandbox/filters"])
        .args(["--path.data", dir.path().to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    run.stdin
        .take()
        .unwrap()
        .write_all(sample.as_bytes())
        .unwrap();
    assert!(run.wait().unwrap().success());
    let mut indexed: Vec<Value> = es
        .standin
        .docs("same")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(indexed.len(), lines.len());
    // A line the date filter cannot parse keeps the time it was read at, which differs.
    for doc in from_sandbox.iter_mut().chain(indexed.iter_mut()) {
        if doc["tags"] == json!(["_grokparsefailure"]) {
            doc.as_object_mut().unwrap().remove("@timestamp");
        }
    }
    let key = |v: &Value| v["message"].as_str().unwrap_or("").to_string();
    from_sandbox.sort_by_key(key);
    indexed.sort_by_key(key);
    assert_eq!(from_sandbox, indexed);
}
