//! `sluice test`, run as a user runs it: logstash-filter-verifier test files (YAML and JSON)
//! against a config's filters, the diff of a failing case, the closing `N passed, N failed`
//! line and exit status, `--coverage`, bad test files, and every ready-made test under
//! `filters/`.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What a finished `sluice test` left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }
}

fn sluice_test(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("test")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .output()
        .expect("run sluice");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary folder laid out as a filter repository: `pipeline/*.conf` and the test files in
/// `pipeline/tests/`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(config: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pipeline/tests")).unwrap();
        std::fs::write(dir.path().join("pipeline/10-filters.conf"), config).unwrap();
        Repo { dir }
    }

    /// Writes `pipeline/tests/NAME` and returns its path relative to the repo.
    fn test_file(&self, name: &str, text: &str) -> String {
        let relative = format!("pipeline/tests/{name}");
        std::fs::write(self.dir.path().join(&relative), text).unwrap();
        relative
    }

    fn run(&self, args: &[&str]) -> Run {
        sluice_test(self.dir.path(), args)
    }
}

const WEB: &str = r#"
input { beats { port => 5044 } }
filter {
  if [message] =~ /healthz/ {
    drop {}
  } else if [type] == "web" {
    mutate { id => "tag_web" add_tag => ["web"] }
  } else {
    mutate { add_field => { "[log][kind]" => "other" } }
  }
  mutate { lowercase => ["message"] }
}
output { elasticsearch { hosts => ["es:9200"] } }
"#;

#[test]
fn passing_yaml_cases_exit_0_with_the_closing_line() {
    let repo = Repo::new(WEB);
    let file = repo.test_file(
        "web.yml",
        r#"
fields:
  type: web
testcases:
  - description: tagged and lowercased
    input:
      - "GET /Index"
    expected:
      - message: "get /index"
        type: web
        tags: [web]
  - description: health checks are dropped
    input: ["GET /healthz"]
    expected: []
"#,
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!("PASS {file} (2 cases)\n2 passed, 0 failed\n")
    );
}

#[test]
fn a_failing_case_prints_a_plain_unified_diff_and_exits_1() {
    let repo = Repo::new(WEB);
    let file = repo.test_file(
        "web.json",
        r#"{
  "fields": {"type": "web"},
  "testcases": [
    {"input": ["A"], "expected": [{"message": "a", "type": "web", "tags": ["web"]}]},
    {"description": "wrong tag", "input": ["B"],
     "expected": [{"message": "b", "type": "web", "tags": ["api"]}]}
  ]
}"#,
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(1));
    let expected = format!(
        "FAIL {file}: case 2 (wrong tag): event 1 of 1 differs\n\
         --- expected\n\
         +++ actual\n\
         @@ -1,7 +1,7 @@\n \
         {{\n   \
         \"message\": \"b\",\n   \
         \"tags\": [\n\
         -    \"api\"\n\
         +    \"web\"\n   \
         ],\n   \
         \"type\": \"web\"\n \
         }}\n\
         1 passed, 1 failed\n"
    );
    assert_eq!(run.stdout, expected);
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour when not a terminal"
    );
}

#[test]
fn a_wrong_event_count_shows_both_lists() {
    let repo = Repo::new(WEB);
    let file = repo.test_file(
        "count.yml",
        "fields: {type: web}\ntestcases:\n  - input: [GET /healthz, GET /x]\n    expected: []\n",
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .starts_with(&format!("FAIL {file}: case 1: expected 0 events, got 1\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("-[]\n+[\n+  {\n"), "{}", run.stdout);
    assert!(run.stdout.contains("+    \"message\": \"get /x\",\n"));
    assert_eq!(run.last_line(), "0 passed, 1 failed");
}

#[test]
fn json_lines_inputs_fields_and_ignore() {
    let repo = Repo::new(WEB);
    let file = repo.test_file(
        "json.json",
        r#"{
  "codec": "json_lines",
  "fields": {"[service][name]": "shop"},
  "ignore": ["[log][kind]", "request_id"],
  "testcases": [{
    "input": [
      "{\"message\": \"One\", \"request_id\": \"r-1\", \"n\": 2.0}",
      "{\"message\": \"Two\", \"[http][status]\": 200}\n"
    ],
    "expected": [
      {"message": "one", "n": 2, "service": {"name": "shop"}, "log": {}},
      {"message": "two", "http": {"status": 200}, "service": {"name": "shop"}, "log": {}}
    ]
  }]
}"#,
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert_eq!(run.last_line(), "1 passed, 0 failed");
}

#[test]
fn timestamps_are_compared_only_when_expected_lists_them() {
    let repo = Repo::new("filter { }");
    let file = repo.test_file(
        "ts.yml",
        r#"
codec: json_lines
testcases:
  - input: ['{"a": 1}']
    expected:
      - a: 1
  - input: ['{"@timestamp": "2024-05-06T07:08:09.123Z", "a": 1}']
    expected:
      - {"@timestamp": "2024-05-06T07:08:09.123Z", a: 1}
  - input: ['{"@timestamp": "2024-05-06T07:08:09.123Z", "a": 1}']
    expected:
      - {"@timestamp": "2024-05-06T07:08:10.000Z", a: 1}
"#,
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .starts_with(&format!("FAIL {file}: case 3: event 1 of 1 differs\n")),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("-  \"@timestamp\": \"2024-05-06T07:08:10.000Z\",\n+  \"@timestamp\": \"2024-05-06T07:08:09.123Z\",\n"));
    assert_eq!(run.last_line(), "2 passed, 1 failed");
}

#[test]
fn the_older_top_level_form_and_per_case_fields() {
    let repo = Repo::new("filter { mutate { add_field => { \"seen\" => \"%{type}\" } } }");
    let file = repo.test_file(
        "legacy.json",
        r#"{
  "fields": {"type": "a"},
  "input": ["x"],
  "expected": [{"message": "x", "type": "a", "seen": "a"}],
  "testcases": [{"fields": {"type": "b"}, "input": ["y"],
                 "expected": [{"message": "y", "type": "b", "seen": "b"}]}]
}"#,
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert_eq!(run.last_line(), "2 passed, 0 failed");
}

#[test]
fn failure_tags_can_be_expected() {
    let repo =
        Repo::new("filter { if [n] !~ /^\\d+$/ { mutate { add_tag => [\"_not_a_number\"] } } }");
    let file = repo.test_file(
        "tags.yml",
        "codec: json_lines\ntestcases:\n  - input: ['{\"n\": \"12\"}', '{\"n\": \"x\"}']\n    expected:\n      - {n: '12'}\n      - {n: x, tags: [_not_a_number]}\n",
    );
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
}

#[test]
fn folders_are_searched_recursively_and_each_file_finds_its_config() {
    let repo = Repo::new(WEB);
    repo.test_file(
        "b.yml",
        "testcases:\n  - input: [X]\n    expected: [{message: x, log: {kind: other}}]\n",
    );
    std::fs::create_dir_all(repo.dir.path().join("pipeline/tests/deeper")).unwrap();
    repo.test_file(
        "deeper/a.json",
        r#"{"testcases": [{"input": ["Y"], "expected": [{"message": "y", "log": {"kind": "other"}}]}]}"#,
    );
    repo.test_file("notes.txt", "not a test file");
    let run = repo.run(&["pipeline"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "PASS pipeline/tests/b.yml (1 case)\nPASS pipeline/tests/deeper/a.json (1 case)\n2 passed, 0 failed\n"
    );
}

#[test]
fn an_explicit_config_with_f_or_e() {
    let repo = Repo::new("filter { mutate { add_tag => [\"from_folder\"] } }");
    std::fs::write(
        repo.dir.path().join("other.conf"),
        "filter { mutate { add_tag => [\"from_f\"] } }",
    )
    .unwrap();
    let file = repo.test_file(
        "x.yml",
        "testcases:\n  - input: [m]\n    expected: [{message: m, tags: [from_f]}]\n",
    );
    let run = repo.run(&["-f", "other.conf", &file]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let inline = repo.run(&["-e", "filter { mutate { add_tag => [\"from_f\"] } }", &file]);
    assert_eq!(inline.code, Some(0), "{}", inline.stdout);
    let default = repo.run(&[&file]);
    assert_eq!(
        default.code,
        Some(1),
        "the folder's config tags from_folder"
    );
}

#[test]
fn coverage_lists_every_filter_and_arm_and_marks_the_unreached() {
    let repo = Repo::new(WEB);
    let file = repo.test_file(
        "web.yml",
        "fields: {type: web}\ntestcases:\n  - input: [A, B]\n    expected: [{message: a, type: web, tags: [web]}, {message: b, type: web, tags: [web]}]\n",
    );
    let run = repo.run(&["--coverage", &file]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let conf = "pipeline/10-filters.conf";
    let expected = format!(
        "PASS {file} (1 case)\n\
         \n\
         coverage of pipeline: 3 of 7 reached\n  \
         0  {conf}:4   if [message] =~ /healthz/   <- never reached\n  \
         0  {conf}:5     drop (drop-1)   <- never reached\n  \
         2  {conf}:6   else if [type] == \"web\"\n  \
         2  {conf}:7     mutate (tag_web)\n  \
         0  {conf}:8   else   <- never reached\n  \
         0  {conf}:9     mutate (mutate-1)   <- never reached\n  \
         2  {conf}:11  mutate (mutate-2)\n\
         1 passed, 0 failed\n"
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn bad_test_files_are_named_and_count_as_failed() {
    let repo = Repo::new(WEB);
    let typo = repo.test_file("typo.yml", "testcases:\n  - input: [a]\n    expectd: []\n");
    let broken = repo.test_file("broken.json", "{\"testcases\": [");
    let empty = repo.test_file("empty.yml", "fields: {type: web}\n");
    let good = repo.test_file(
        "good.yml",
        "testcases:\n  - input: [A]\n    expected: [{message: a, log: {kind: other}}]\n",
    );
    let wrong_kind = repo.test_file("list.txt", "input: []");
    let run = repo.run(&[&typo, &broken, &empty, &good, &wrong_kind]);
    assert_eq!(run.code, Some(1));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "FAIL {typo}: invalid test file: testcases[0]: unknown field `expectd`"
        )),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("line 3"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(&format!(
            "FAIL {broken}: invalid test file: EOF while parsing"
        )),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        format!("FAIL {empty}: invalid test file: it has no test cases")
    );
    assert_eq!(lines[3], format!("PASS {good} (1 case)"));
    assert_eq!(
        lines[4],
        format!(
            "FAIL {wrong_kind}: invalid test file: not a test file: the name must end in .json, .yaml or .yml"
        )
    );
    assert_eq!(run.last_line(), "1 passed, 4 failed");
}

#[test]
fn a_config_that_does_not_load_fails_its_files() {
    let repo = Repo::new("filter { mutaet { } }");
    let file = repo.test_file("x.yml", "testcases:\n  - input: [a]\n    expected: []\n");
    let run = repo.run(&[&file]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .contains("error: config pipeline does not load:\npipeline/10-filters.conf:1:10: unknown filter plugin \"mutaet\""),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains(&format!("FAIL {file}: not run: its config does not load\n")));
    assert_eq!(run.last_line(), "0 passed, 1 failed");
}

#[test]
fn codecs_and_input_plugins() {
    let repo = Repo::new(
        "input { stdin { id => \"json_in\" codec => json_lines } tcp { id => \"raw\" port => 1 } }
         filter { mutate { add_tag => [\"seen\"] } }",
    );
    let by_input = repo.test_file(
        "by_input.yml",
        "input_plugin: json_in\ntestcases:\n  - input: ['{\"a\": 1}']\n    expected: [{a: 1, tags: [seen]}]\n",
    );
    let unknown = repo.test_file(
        "unknown.yml",
        "input_plugin: nope\ntestcases:\n  - input: [x]\n    expected: []\n",
    );
    let bad_codec = repo.test_file(
        "bad_codec.yml",
        "codec: jsonl\ntestcases:\n  - input: [x]\n    expected: []\n",
    );
    let run = repo.run(&[&by_input, &unknown, &bad_codec]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains(&format!("PASS {by_input} (1 case)")));
    assert!(run.stdout.contains(&format!(
        "FAIL {unknown}: input_plugin \"nope\": no input with that id in pipeline"
    )));
    assert!(
        run.stdout
            .contains(&format!("FAIL {bad_codec}: codec \"jsonl\":"))
            && run.stdout.contains("unknown codec \"jsonl\""),
        "{}",
        run.stdout
    );
    assert_eq!(run.last_line(), "1 passed, 2 failed");
}

#[test]
fn a_missing_path_is_an_error() {
    let repo = Repo::new(WEB);
    let run = repo.run(&["nowhere.yml"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim_end(),
        "sluice: error: test path nowhere.yml does not exist"
    );
}

/// Every test file shipped under `filters/`, against its filter set.
#[test]
fn every_ready_made_filter_set_passes_its_tests() {
    let root = PathBuf::from(ROOT);
    let run = sluice_test(&root, &["filters"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    let passed: usize = run
        .last_line()
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 20, "{}", run.stdout);
}

#[test]
fn test_files_beside_a_filters_folder_use_it_and_without_any_config_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("filters")).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("filters/10.conf"),
        r#"filter { mutate { add_tag => ["seen"] } }"#,
    )
    .unwrap();
    let case = "testcases:\n  - input: [\"a\"]\n    expected: [{\"message\": \"a\", \"tags\": [\"seen\"]}]\n";
    std::fs::write(dir.path().join("tests/a.yml"), case).unwrap();
    let run = sluice_test(dir.path(), &["tests/a.yml"]);
    assert_eq!(
        run.last_line(),
        "1 passed, 0 failed",
        "{}{}",
        run.stdout,
        run.stderr
    );

    let lonely = tempfile::tempdir().unwrap();
    std::fs::write(lonely.path().join("a.yml"), case).unwrap();
    let run = sluice_test(lonely.path(), &["a.yml"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.last_line(), "0 passed, 1 failed");
    assert!(run.stdout.contains("use -f CONFIG"), "{}", run.stdout);
}
