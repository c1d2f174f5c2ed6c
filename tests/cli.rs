//! The `sluice` binary, run as a user runs it: flags, exit codes, messages, events on stdout and
//! in files, the settings file, signals, the bundled configs and the demo.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn sluice(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args).env_remove("RUST_LOG");
    cmd
}

/// What a finished run left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn first_err_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

/// Runs sluice with `input` on stdin (written from a thread, so a full stdout pipe cannot
/// deadlock the test) and collects everything.
fn run(args: &[&str], input: &str) -> Run {
    run_cmd(sluice(args), input)
}

fn run_cmd(mut cmd: Command, input: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        // sluice may exit before reading (e.g. a config error): a broken pipe is fine.
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for sluice");
    writer.join().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Parses JSON lines.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["message"].as_str().expect("message").to_string())
        .collect()
}

fn numbered_lines(n: usize) -> (String, Vec<String>) {
    let lines: Vec<String> = (0..n).map(|i| format!("line-{i:06}")).collect();
    (lines.iter().map(|l| format!("{l}\n")).collect(), lines)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits for `child` to exit, at most `limit`; `None` if it is still running.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills a child a test gave up on, so it does not outlive the test.
fn kill_and_fail(child: &mut Child, why: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{why}");
}

// --- version and usage ------------------------------------------------------------------------

#[test]
fn prints_its_version() {
    let r = run(&["--version"], "");
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stdout, format!("sluice {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["run", "-w", "0", "-e", "input {}"][..],
        &["run", "-f", "a.conf", "-e", "input {}"],
        &["run", "--log.level", "loud", "-e", "input {}"],
        &["frobnicate"],
        &["run"],
    ] {
        let r = run(args, "");
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?} printed no reason");
    }
}

#[test]
fn no_config_names_the_flags_to_use() {
    let r = run(&["run"], "");
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("-f PATH or -e"), "{}", r.stderr);
}

// --- check --------------------------------------------------------------------------------------

#[test]
fn check_accepts_a_valid_config() {
    let r = run(
        &[
            "check",
            "-e",
            "input { stdin {} } filter { mutate { add_tag => [\"x\"] } } output { null {} }",
        ],
        "",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "Configuration OK\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn run_t_is_check() {
    let r = run(&["run", "-t", "-e", "output { null {} }"], "never read");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "Configuration OK\n"),
        "{}",
        r.stderr
    );
    let r = run(
        &[
            "run",
            "--config.test_and_exit",
            "-e",
            "filter { mutaet {} }",
        ],
        "",
    );
    assert_eq!(r.code, Some(1));
}

#[test]
fn check_reports_an_unknown_plugin_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "p.conf",
        "input { stdin {} }\nfilter {\n  mutaet { add_tag => [\"x\"] }\n}\n",
    );
    let r = run(&["check", "-f", path_str(&conf)], "");
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.first_err_line(),
        format!("{}:3:3: unknown filter plugin \"mutaet\"", conf.display())
    );
    assert!(
        r.stderr
            .contains("\n    mutaet { add_tag => [\"x\"] }\n    ^^^^^^\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("help: did you mean \"mutate\"?"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn check_reports_an_unknown_option() {
    let r = run(&["check", "-e", "input { generator { cuont => 3 } }"], "");
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.first_err_line(),
        "<config string>:1:21: generator: unknown option \"cuont\""
    );
    assert!(r.stderr.contains("did you mean \"count\"?"), "{}", r.stderr);
}

#[test]
fn check_reports_a_parse_error() {
    let r = run(
        &["check", "-e", "filter {\n  mutate { add_tag [\"x\"] }\n}"],
        "",
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.first_err_line(),
        "<config string>:2:20: expected \"=>\" after attribute name \"add_tag\", found \"[\""
    );
}

#[test]
fn check_reports_every_problem() {
    let r = run(&["check", "-e", "filter {\n  foo {}\n  bar {}\n}"], "");
    assert_eq!(r.code, Some(1));
    let firsts: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("<config string>:"))
        .collect();
    assert_eq!(
        firsts,
        [
            "<config string>:2:3: unknown filter plugin \"foo\"",
            "<config string>:3:3: unknown filter plugin \"bar\""
        ]
    );
}

#[test]
fn a_folder_error_points_at_the_second_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "10-io.conf",
        "input { stdin {} }\noutput { null {} }\n",
    );
    let second = write(
        dir.path(),
        "20-filters.conf",
        "filter {\n  mutate {}\n  mutaet {}\n}\n",
    );
    write(dir.path(), "README.md", "not a config {");
    let r = run(&["check", "-f", path_str(dir.path())], "");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(
        r.first_err_line(),
        format!("{}:3:3: unknown filter plugin \"mutaet\"", second.display())
    );
}

#[test]
fn a_missing_config_file_is_a_config_error() {
    let r = run(&["check", "-f", "/nonexistent/sluice/p.conf"], "");
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("/nonexistent/sluice/p.conf"),
        "{}",
        r.stderr
    );
}

// --- run ----------------------------------------------------------------------------------------

#[test]
fn generator_events_come_out_as_json_lines() {
    let r = run(
        &[
            "run",
            "-w",
            "1",
            "-e",
            r#"input { generator { lines => ["first", "second"] count => 2 } }
               filter { mutate { add_field => { "team" => "web" } } }
               output { stdout { codec => json_lines } }"#,
        ],
        "",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let events = json_lines(&r.stdout);
    assert_eq!(messages(&events), ["first", "second", "first", "second"]);
    // Each pass over `lines` is one generator sequence number, as in Logstash.
    let sequences: Vec<_> = events.iter().map(|e| e["sequence"].as_u64()).collect();
    assert_eq!(sequences, [Some(0), Some(0), Some(1), Some(1)]);
    for event in &events {
        let mut keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "@timestamp",
                "@version",
                "host",
                "message",
                "sequence",
                "team"
            ]
        );
        assert_eq!(event["@version"], "1");
        assert_eq!(event["team"], "web");
        assert!(!event["host"].as_str().unwrap_or("").is_empty(), "{event}");
        let ts = event["@timestamp"].as_str().expect("@timestamp");
        assert!(
            ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "{ts}"
        );
    }
}

#[test]
fn every_stdin_line_arrives_exactly_once() {
    let (input, lines) = numbered_lines(20_000);
    let r = run(
        &[
            "run",
            "-w",
            "3",
            "-b",
            "7",
            "-e",
            "input { stdin {} } output { null {} stdout { codec => json_lines } }",
        ],
        &input,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(sorted(messages(&json_lines(&r.stdout))), lines);
}

#[test]
fn one_worker_keeps_the_input_order_through_conditionals() {
    let (input, lines) = numbered_lines(5_000);
    let config = r#"
        filter {
          if [message] =~ /[02468]$/ { mutate { add_tag => ["even"] } }
          else if [message] =~ /5$/ { drop {} }
          else { mutate { add_tag => ["odd"] } }
        }
        output { stdout { codec => json_lines } }"#;
    let r = run(&["run", "-w", "1", "-e", config], &input);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let kept: Vec<String> = lines.into_iter().filter(|l| !l.ends_with('5')).collect();
    let events = json_lines(&r.stdout);
    assert_eq!(messages(&events), kept);
    assert_eq!(events[0]["tags"], serde_json::json!(["even"]));
    assert_eq!(events[1]["tags"], serde_json::json!(["odd"]));
}

#[test]
fn a_null_output_swallows_everything() {
    let (input, _) = numbered_lines(5_000);
    let r = run(&["run", "-e", "output { null {} }"], &input);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{}", r.stderr);
}

#[test]
fn every_stdin_line_reaches_the_file_output_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.log");
    let config = format!(
        "input {{ stdin {{}} }} output {{ file {{ path => \"{}\" }} }}",
        out.display()
    );
    let (input, lines) = numbered_lines(20_000);
    let r = run(&["run", "-w", "2", "-e", &config], &input);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(sorted(messages(&json_lines(&written))), lines);
}

#[test]
fn without_input_it_reads_stdin_and_without_output_it_prints_rubydebug() {
    let r = run(
        &["run", "-e", "filter { mutate { add_tag => [\"seen\"] } }"],
        "hello sluice\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("\"message\" => \"hello sluice\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\"seen\""), "{}", r.stdout);
}

#[test]
fn a_config_with_only_an_input_prints_rubydebug() {
    let r = run(
        &[
            "run",
            "-e",
            "input { generator { lines => [\"only input\"] count => 1 } }",
        ],
        "",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("\"message\" => \"only input\""),
        "{}",
        r.stdout
    );
}

#[test]
fn a_config_with_only_an_output_reads_stdin() {
    let r = run(
        &["run", "-e", "output { stdout { codec => json_lines } }"],
        "a\nb\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&json_lines(&r.stdout)), ["a", "b"]);
}

#[test]
fn worker_and_batch_flags_reach_the_pipeline() {
    let r = run(
        &[
            "run",
            "-w",
            "3",
            "-b",
            "2",
            "--pipeline.batch.delay",
            "9",
            "-e",
            "output { stdout { codec => json_lines } }",
        ],
        "x\ny\nz\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("workers=3 batch_size=2 batch_delay_ms=9"),
        "{}",
        r.stderr
    );
    assert_eq!(sorted(messages(&json_lines(&r.stdout))), ["x", "y", "z"]);
}

#[test]
fn log_level_error_silences_info() {
    let r = run(
        &["run", "--log.level", "error", "-e", "output { null {} }"],
        "x\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!r.stderr.contains("starting pipeline"), "{}", r.stderr);
}

#[test]
fn support_escapes_turns_backslash_n_into_a_newline() {
    let config = r#"input { generator { lines => ["a\tb"] count => 1 } }
                    output { stdout { codec => json_lines } }"#;
    let plain = run(&["run", "-e", config], "");
    assert_eq!(
        messages(&json_lines(&plain.stdout)),
        ["a\\tb"],
        "{}",
        plain.stderr
    );
    let escaped = run(&["run", "--config.support_escapes", "-e", config], "");
    assert_eq!(
        messages(&json_lines(&escaped.stdout)),
        ["a\tb"],
        "{}",
        escaped.stderr
    );
}

// --- settings file ------------------------------------------------------------------------------

#[test]
fn the_settings_file_configures_the_run_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.conf",
        "input { generator { lines => [\"from settings\"] count => 1 } }\n\
         output { stdout { codec => json_lines } }\n",
    );
    let settings = write(
        dir.path(),
        "sluice.toml",
        "path.config = \"p.conf\"\n[pipeline]\nworkers = 3\nbatch.size = 9\n",
    );
    // Run from elsewhere: path.config is relative to the settings file.
    let mut cmd = sluice(&["run", "--settings", path_str(&settings), "-b", "4"]);
    cmd.current_dir(std::env::temp_dir());
    let r = run_cmd(cmd, "");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&json_lines(&r.stdout)), ["from settings"]);
    assert!(r.stderr.contains("workers=3 batch_size=4"), "{}", r.stderr);
}

#[test]
fn an_unknown_setting_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let settings = write(
        dir.path(),
        "settings.toml",
        "# tuning\nlog.level = \"warn\"\npipeline.wrkers = 4\n",
    );
    let r = run(
        &[
            "run",
            "--settings",
            path_str(&settings),
            "-e",
            "output { null {} }",
        ],
        "",
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.first_err_line(),
        format!(
            "{}:3:1: unknown setting \"pipeline.wrkers\"",
            settings.display()
        )
    );
    assert!(
        r.stderr.contains("did you mean \"pipeline.workers\"?"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_settings_file_is_an_error() {
    let r = run(
        &[
            "run",
            "--settings",
            "/nonexistent/sluice.toml",
            "-e",
            "output { null {} }",
        ],
        "",
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("/nonexistent/sluice.toml"),
        "{}",
        r.stderr
    );
}

// --- signals ------------------------------------------------------------------------------------

#[test]
fn sigterm_drains_every_line_already_read_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.log");
    let config = format!(
        "input {{ stdin {{}} }} output {{ file {{ path => \"{}\" }} }}",
        out.display()
    );
    // A batch far larger than the input and a long delay: the lines are still in flight when
    // the signal comes, so only a proper drain delivers them.
    let mut child = sluice(&[
        "run",
        "-w",
        "2",
        "-b",
        "50000",
        "--pipeline.batch.delay",
        "60000",
        "-e",
        &config,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (input, lines) = numbered_lines(2_000);
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "TERM");
    let Some(status) = wait_for(&mut child, Duration::from_secs(20)) else {
        kill_and_fail(
            &mut child,
            "sluice did not stop on SIGTERM with stdin still open",
        );
    };
    drop(stdin);
    assert!(status.success(), "{status:?}");
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(sorted(messages(&json_lines(&written))), lines);
}

#[test]
fn sigint_stops_an_endless_generator_with_exit_0() {
    let mut child = sluice(&[
        "run",
        "-e",
        "input { generator { count => 0 } } output { null {} }",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "INT");
    let Some(status) = wait_for(&mut child, Duration::from_secs(20)) else {
        kill_and_fail(&mut child, "sluice did not stop on SIGINT");
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_second_signal_exits_at_once() {
    // stdout is a pipe nobody reads: once it is full the output blocks, so the drain the first
    // signal starts cannot finish.
    let mut child = sluice(&[
        "run",
        "-e",
        "input { generator { count => 0 } } output { stdout { codec => json_lines } }",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "TERM");
    if wait_for(&mut child, Duration::from_millis(1000)).is_some() {
        kill_and_fail(
            &mut child,
            "exited although its output was blocked: events were lost",
        );
    }
    signal(&child, "TERM");
    let Some(status) = wait_for(&mut child, Duration::from_secs(5)) else {
        kill_and_fail(&mut child, "a second SIGTERM did not exit at once");
    };
    assert!(!status.success(), "a forced exit must not report success");
}

// --- bundled configs, filters and the demo ------------------------------------------------------

fn conf_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_config_checks() {
    let files = conf_files("configs");
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let r = run(&["check", "-f", path_str(&file)], "");
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (Some(0), "Configuration OK\n"),
            "{}: {}",
            file.display(),
            r.stderr
        );
    }
}

#[test]
fn every_filter_folder_checks() {
    let folders: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("filters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(folders.len() >= 2, "{folders:?}");
    for folder in folders {
        let r = run(&["check", "-f", path_str(&folder)], "");
        assert_eq!(r.code, Some(0), "{}: {}", folder.display(), r.stderr);
    }
}

#[test]
fn the_stdin_json_lines_config_echoes_lines() {
    let conf = Path::new(ROOT).join("configs/stdin-json-lines.conf");
    let r = run(&["run", "-f", path_str(&conf)], "one\ntwo\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&json_lines(&r.stdout)), ["one", "two"]);
}

#[test]
fn the_file_output_config_writes_one_folder_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let conf = Path::new(ROOT).join("configs/file-output.conf");
    let mut cmd = sluice(&["run", "-f", path_str(&conf)]);
    cmd.env("SLUICE_OUT", dir.path());
    let r = run_cmd(cmd, "alpha\nbeta\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let days: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(days.len(), 1, "{days:?}");
    let events = json_lines(&std::fs::read_to_string(days[0].join("events.log")).unwrap());
    assert_eq!(sorted(messages(&events)), ["alpha", "beta"]);
    // The folder is the events' @timestamp date, as YYYY.MM.dd.
    let ts = events[0]["@timestamp"].as_str().unwrap();
    let day = days[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(day, ts[..10].replace('-', "."));
    assert_eq!(events[0]["pipeline"], "file-output");
}

#[test]
fn the_apache_filters_classify_and_drop() {
    let folder = Path::new(ROOT).join("filters/apache");
    let cmd = sluice(&["run", "-w", "1", "-f", path_str(&folder)]);
    let input = concat!(
        "10.1.2.3 - - [14/Mar/2025:10:00:00 +0000] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n",
        "10.1.2.4 - - [14/Mar/2025:10:00:01 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\"\n",
        "10.1.2.5 - - [14/Mar/2025:10:00:02 +0000] \"GET /missing HTTP/1.1\" 404 0 \"-\" \"Googlebot/2.1\"\n",
        "10.1.2.6 - - [14/Mar/2025:10:00:03 +0000] \"POST /api HTTP/1.1\" 502 90 \"-\" \"curl/8.5.0\"\n",
        "not an access line\n",
    );
    let r = run_cmd(cmd, input);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let events: Vec<&str> = r
        .stdout
        .split("\n}\n")
        .filter(|e| !e.trim().is_empty())
        .collect();
    assert_eq!(events.len(), 4, "{}", r.stdout);
    assert!(!r.stdout.contains("/healthz"), "{}", r.stdout);
    let find = |needle: &str| {
        *events
            .iter()
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no event with {needle}: {}", r.stdout))
    };
    assert!(find("/index.html").contains("\"info\""));
    let missing = find("/missing");
    assert!(
        missing.contains("\"client_error\"") && missing.contains("\"bot\""),
        "{missing}"
    );
    assert!(find("POST /api").contains("\"server_error\""));
    assert!(!find("not an access line").contains("\"apache\""));
}

#[test]
fn the_demo_runs_the_bundled_sample() {
    let r = run(&["demo", "-w", "1"], "");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("\"pipeline\" => \"sluice-demo\"").count(),
        5,
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("/healthz"), "{}", r.stdout);
    assert!(r.stdout.contains("\"auth_failure\""), "{}", r.stdout);
    assert!(r.stdout.contains("\"server_error\""), "{}", r.stdout);
}
