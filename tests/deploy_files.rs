//! The deployment files: the Marathon app definitions under `docker/marathon/`, the role
//! pipelines and settings file under `configs/`, the image's entrypoint `docker/entrypoint.sh`
//! and `docker/Dockerfile`.
//!
//! Nothing here needs Docker or Marathon: the JSON is checked for the fields a scheduler acts on
//! and against the entrypoint and pipelines it drives; every pipeline goes through `sluice
//! check`; the entrypoint runs under bash with a fake `sluice` (a script printing its arguments
//! and process id) in place of the real one; the Dockerfile is read line by line for its stages
//! and the files it copies. Every role also runs for real through the entrypoint with the real
//! binary, each stopped with SIGTERM as Marathon stops it: flume-kafka (librdkafka's mock
//! cluster to the Elasticsearch stand-in, answering `/health`), syslog-receiver (UDP and TCP),
//! container-logs (a Docker json-file log and a Mesos sandbox), kafka-forwarder (one mock
//! cluster to another), and a role whose filters come from a release tag of a git repository.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{es, Es};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The roles: one pipeline in `configs/` and one app in `docker/marathon/` each.
const ROLES: &[&str] = &[
    "syslog-receiver",
    "flume-kafka",
    "container-logs",
    "kafka-forwarder",
];

fn root(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn files_with_extension(folder: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// --- sluice check --------------------------------------------------------------------------------

/// `sluice check ARGS` with an empty environment plus `env`.
fn sluice_check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("check")
        .args(args)
        .env_clear()
        .envs(env.iter().copied());
    cmd.output().unwrap()
}

fn assert_checks(args: &[&str], env: &[(&str, &str)]) {
    let output = sluice_check(args, env);
    let (stdout, stderr) = text(&output);
    assert_eq!(
        (output.status.code(), stdout.as_str()),
        (Some(0), "Configuration OK\n"),
        "sluice check {args:?} with {env:?}: {stderr}"
    );
}

#[test]
fn every_pipeline_in_configs_checks_without_any_environment() {
    let files = files_with_extension("configs", "conf");
    for role in ROLES {
        assert!(
            files.contains(&root(&format!("configs/{role}.conf"))),
            "{role}"
        );
    }
    for file in &files {
        assert_checks(&["-f", file.to_str().unwrap()], &[]);
    }
}

#[test]
fn the_settings_file_is_accepted_with_the_worker_pipeline() {
    assert_checks(
        &[
            "--settings",
            &root("configs/sluice.toml").display().to_string(),
            "-f",
            &root("configs/flume-kafka.conf").display().to_string(),
        ],
        &[],
    );
}

/// Each role reads its endpoints from the environment: a bad value makes the check fail at the
/// option, which proves the pipeline reads that variable.
#[test]
fn the_role_pipelines_take_their_settings_from_the_environment() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("syslog-receiver", "SYSLOG_PORT", "not-a-port", "port"),
        ("syslog-receiver", "ES_HOSTS", "ftp://es", "ftp://es"),
        ("flume-kafka", "ES_HOSTS", "ftp://es", "ftp://es"),
        ("flume-kafka", "KAFKA_THREADS", "0", "consumer_threads"),
        ("container-logs", "ES_HOSTS", "ftp://es", "ftp://es"),
        ("container-logs", "LOGS_START_POSITION", "middle", "middle"),
        ("kafka-forwarder", "KAFKA_THREADS", "0", "consumer_threads"),
        (
            "kafka-forwarder",
            "KAFKA_OUTPUT_COMPRESSION",
            "bogus",
            "bogus",
        ),
    ];
    for (role, name, value, expected) in cases {
        let conf = root(&format!("configs/{role}.conf"));
        let output = sluice_check(&["-f", conf.to_str().unwrap()], &[(name, value)]);
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{role} {name}={value}");
        assert!(
            stderr.contains(&format!("{role}.conf:")) && stderr.contains(expected),
            "{role} {name}={value}: {stderr}"
        );
    }
}

/// Inputs and outputs only: the filter section is released from the filter repository.
#[test]
fn the_role_pipelines_leave_the_filters_to_the_release_repository() {
    for role in ROLES {
        let conf = read(&format!("configs/{role}.conf"));
        let filter_sections = conf
            .lines()
            .filter(|line| line.trim_start().starts_with("filter"))
            .count();
        assert_eq!(filter_sections, 0, "{role} has a filter section");
        assert!(
            conf.contains("input {") && conf.contains("output {"),
            "{role}"
        );
    }
    let flume = read("configs/flume-kafka.conf");
    assert!(flume.contains("codec => flume {}"), "flume-kafka");
    assert!(
        flume.contains(r#"decorate_events => "basic""#),
        "flume-kafka"
    );
    assert!(
        flume.contains(
            "%{[@metadata][kafka][topic]}-%{[@metadata][kafka][partition]}-%{[@metadata][kafka][offset]}"
        ),
        "flume-kafka: the document id names the Kafka message"
    );
}

// --- the entrypoint ------------------------------------------------------------------------------

const ENTRYPOINT: &str = "docker/entrypoint.sh";

/// A stand-in for `sluice`: prints its process id, then each argument on a line of its own.
const FAKE_SLUICE: &str = "#!/bin/sh\necho \"pid=$$\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\n";

/// What the fake sluice was started with.
struct Started {
    pid: u32,
    args: Vec<String>,
}

impl Started {
    /// The value after `flag`, if the flag was given.
    fn flag(&self, flag: &str) -> Option<&str> {
        let at = self.args.iter().position(|a| a == flag)?;
        self.args.get(at + 1).map(String::as_str)
    }

    fn settings(&self) -> String {
        std::fs::read_to_string(self.flag("--settings").expect("--settings")).unwrap()
    }
}

struct Entrypoint {
    dir: tempfile::TempDir,
    fake: PathBuf,
}

impl Entrypoint {
    fn new() -> Entrypoint {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake-sluice");
        std::fs::write(&fake, FAKE_SLUICE).unwrap();
        make_executable(&fake);
        Entrypoint { dir, fake }
    }

    /// The entrypoint with `env` on top of what the image sets, and `args`.
    fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(root(ENTRYPOINT))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", self.dir.path())
            .env("SLUICE_BIN", &self.fake)
            .env("SLUICE_CONFIG_DIR", root("configs"))
            .env("SLUICE_SETTINGS", root("configs/sluice.toml"))
            .env("SLUICE_PATH_DATA", "/var/lib/sluice")
            .env("HTTP_HOST", "0.0.0.0")
            .env("HTTP_PORT", "9600")
            .envs(env.iter().copied());
        cmd
    }

    /// Runs it and returns what the fake sluice received, failing the test if it did not start.
    fn start(&self, env: &[(&str, &str)], args: &[&str]) -> Started {
        let child = self
            .command(env, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let shell_pid = child.id();
        let output = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{env:?}: {stderr}");
        let mut lines = stdout.lines();
        let pid = lines
            .next()
            .and_then(|l| l.strip_prefix("pid="))
            .unwrap_or_else(|| panic!("no pid line: {stdout}"))
            .parse()
            .unwrap();
        let args = lines
            .map(|l| l.strip_prefix("arg=").unwrap().to_string())
            .collect();
        // exec: sluice is the very process the scheduler started (its SIGTERM reaches sluice).
        assert_eq!(pid, shell_pid, "the entrypoint must exec sluice");
        Started { pid, args }
    }

    /// Runs it expecting a refusal: exit 64, nothing started, `expected` in the message.
    fn refuses(&self, env: &[(&str, &str)], expected: &str) {
        let output = self.command(env, &[]).output().unwrap();
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(64), "{env:?}: {stdout} {stderr}");
        assert!(!stdout.contains("arg="), "{env:?} started sluice: {stdout}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The worker environment of the flume-kafka role.
const WORKER_ENV: &[(&str, &str)] = &[
    ("SLUICE_ROLE", "flume-kafka"),
    ("ES_HOSTS", "http://es:9200"),
    ("KAFKA_BROKERS", "k1:9092,k2:9092"),
    ("KAFKA_TOPICS", "logs"),
    ("KAFKA_GROUP", "workers"),
];

#[test]
fn the_entrypoint_is_valid_bash() {
    let output = Command::new("bash")
        .arg("-n")
        .arg(root(ENTRYPOINT))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
}

#[test]
fn the_entrypoint_maps_each_variable_to_its_flag() {
    let entrypoint = Entrypoint::new();
    let mut env = WORKER_ENV.to_vec();
    env.extend([
        ("SLUICE_WORKERS", "3"),
        ("HTTP_PORT", "9700"),
        ("SHUTDOWN_TIMEOUT", "45s"),
        ("FILTERS_REPO", "https://git.example/filters.git"),
        ("FILTERS_REF", "release-*"),
        ("FILTERS_PATH", "flume"),
        ("FILTERS_POLL_INTERVAL", "10s"),
    ]);
    let started = entrypoint.start(&env, &[]);
    assert_eq!(started.args[0], "run");
    let conf = root("configs/flume-kafka.conf").display().to_string();
    let expected = [
        ("--path.config", conf.as_str()),
        ("--path.data", "/var/lib/sluice"),
        ("--pipeline.workers", "3"),
        ("--http.host", "0.0.0.0"),
        ("--http.port", "9700"),
        ("--shutdown.timeout", "45s"),
        ("--filters.repo", "https://git.example/filters.git"),
        ("--filters.ref", "release-*"),
        ("--filters.path", "flume"),
        ("--filters.poll_interval", "10s"),
    ];
    for (flag, value) in expected {
        assert_eq!(
            started.flag(flag),
            Some(value),
            "{flag}: {:?}",
            started.args
        );
    }
    // Without STATSD_* the base settings file is passed as it is.
    let settings = root("configs/sluice.toml").display().to_string();
    assert_eq!(started.flag("--settings"), Some(settings.as_str()));
    assert!(started.pid > 0);
}

#[test]
fn unset_and_empty_variables_add_no_flags() {
    let entrypoint = Entrypoint::new();
    let mut env = WORKER_ENV.to_vec();
    env.extend([("FILTERS_REPO", ""), ("SLUICE_WORKERS", "")]);
    let started = entrypoint.start(&env, &[]);
    for flag in [
        "--filters.repo",
        "--filters.ref",
        "--pipeline.workers",
        "--shutdown.timeout",
    ] {
        assert_eq!(started.flag(flag), None, "{flag}: {:?}", started.args);
    }
}

#[test]
fn statsd_variables_become_settings_the_worker_accepts() {
    let entrypoint = Entrypoint::new();
    let mut env = WORKER_ENV.to_vec();
    env.extend([
        ("STATSD_HOST", "statsd.example"),
        ("STATSD_PORT", "8125"),
        ("STATSD_PREFIX", "logs\"x"),
        ("STATSD_TAGS", "false"),
        ("STATSD_FLUSH_INTERVAL", "2s"),
    ]);
    let started = entrypoint.start(&env, &[]);
    let path = started.flag("--settings").unwrap().to_string();
    assert!(
        Path::new(&path).starts_with(entrypoint.dir.path()),
        "{path}"
    );
    let settings = started.settings();
    let parsed = sluice::settings::Settings::from_toml(&path, &settings).unwrap();
    let statsd = &parsed.metrics.statsd;
    assert_eq!(statsd.host.as_deref(), Some("statsd.example"));
    assert_eq!(statsd.port, Some(8125));
    assert_eq!(statsd.prefix.as_deref(), Some("logs\"x"));
    assert_eq!(statsd.tags, Some(false));
    assert_eq!(
        statsd.flush_interval.map(|d| d.0),
        Some(Duration::from_secs(2))
    );
    // The base file's settings come along.
    assert_eq!(parsed.http.host.as_deref(), Some("0.0.0.0"));
    assert_eq!(parsed.dead_letter_queue.enable, Some(true));
    // And sluice itself takes the written file with the role's pipeline.
    assert_checks(
        &[
            "--settings",
            &path,
            "-f",
            &root("configs/flume-kafka.conf").display().to_string(),
        ],
        &[],
    );
}

#[test]
fn extra_arguments_are_appended_and_subcommands_run_as_given() {
    let entrypoint = Entrypoint::new();
    let started = entrypoint.start(WORKER_ENV, &["--log.level", "debug"]);
    let n = started.args.len();
    assert_eq!(started.args[n - 2..], ["--log.level", "debug"]);
    assert_eq!(started.args[0], "run");

    let started = entrypoint.start(&[], &["check", "-f", "x.conf"]);
    assert_eq!(started.args, ["check", "-f", "x.conf"]);
}

#[test]
fn every_role_starts_with_its_own_pipeline() {
    let entrypoint = Entrypoint::new();
    let role_env = |role: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("SLUICE_ROLE", role),
            ("ES_HOSTS", "http://es:9200"),
            ("KAFKA_BROKERS", "k:9092"),
            ("KAFKA_TOPICS", "logs"),
            ("KAFKA_GROUP", "g"),
            ("KAFKA_OUTPUT_BROKERS", "far:9092"),
        ]
    };
    for role in ROLES {
        let started = entrypoint.start(&role_env(role), &[]);
        let conf = root(&format!("configs/{role}.conf")).display().to_string();
        assert_eq!(started.flag("--path.config"), Some(conf.as_str()), "{role}");
    }
}

#[test]
fn the_entrypoint_refuses_what_would_start_a_broken_worker() {
    let entrypoint = Entrypoint::new();
    entrypoint.refuses(&[], "set SLUICE_ROLE");
    entrypoint.refuses(&[("SLUICE_ROLE", "nope")], "no pipeline");
    entrypoint.refuses(&[("SLUICE_ROLE", "../x")], "not a role name");
    entrypoint.refuses(
        &[
            ("SLUICE_ROLE", "flume-kafka"),
            ("ES_HOSTS", "http://es:9200"),
        ],
        "needs KAFKA_BROKERS KAFKA_TOPICS KAFKA_GROUP",
    );
    entrypoint.refuses(
        &[("SLUICE_ROLE", "kafka-forwarder")],
        "KAFKA_OUTPUT_BROKERS",
    );
    let with = |extra: (&'static str, &'static str)| {
        let mut env = WORKER_ENV.to_vec();
        env.push(extra);
        env
    };
    entrypoint.refuses(&with(("KAFKA_TOPICS", "a,b")), "KAFKA_TOPICS holds a list");
    entrypoint.refuses(
        &with(("ES_HOSTS", "http://a:9200 http://b:9200")),
        "ES_HOSTS holds a list",
    );
    entrypoint.refuses(&with(("STATSD_PORT", "70000")), "STATSD_PORT");
    entrypoint.refuses(&with(("STATSD_TAGS", "yes")), "STATSD_TAGS");
    entrypoint.refuses(
        &with(("SLUICE_SETTINGS", "/nonexistent.toml")),
        "/nonexistent.toml",
    );

    // A base settings file that configures metrics itself collides with STATSD_*.
    let own = entrypoint.dir.path().join("own.toml");
    std::fs::write(&own, "[metrics.statsd]\nhost = \"a\"\n").unwrap();
    let mut env = with(("STATSD_HOST", "statsd"));
    env.push(("SLUICE_SETTINGS", own.to_str().unwrap()));
    entrypoint.refuses(&env, "set statsd in one place only");

    // SLUICE_REQUIRE_ENV=false lets a role start on its pipeline's defaults.
    let started = entrypoint.start(
        &[
            ("SLUICE_ROLE", "flume-kafka"),
            ("SLUICE_REQUIRE_ENV", "false"),
        ],
        &[],
    );
    assert_eq!(started.args[0], "run");
}

// --- Marathon ------------------------------------------------------------------------------------

/// `readonly ROLE_VARS_flume_kafka="A B"` lines of the entrypoint: the variables each role
/// must have.
fn role_vars() -> BTreeMap<String, Vec<String>> {
    read(ENTRYPOINT)
        .lines()
        .filter_map(|line| line.strip_prefix("readonly ROLE_VARS_"))
        .map(|rest| {
            let (name, value) = rest.split_once('=').unwrap();
            let names = value.trim_matches('"').split_whitespace();
            (name.replace('_', "-"), names.map(String::from).collect())
        })
        .collect()
}

/// The `KNOWN_VARS` list of the entrypoint.
fn known_vars() -> BTreeSet<String> {
    let script = read(ENTRYPOINT);
    let start = script.find("readonly KNOWN_VARS=\"").unwrap() + "readonly KNOWN_VARS=\"".len();
    let end = start + script[start..].find('"').unwrap();
    script[start..end]
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The `${NAME` references of a pipeline.
fn pipeline_vars(conf: &str) -> BTreeSet<String> {
    conf.split("${")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn apps() -> Vec<(String, Value)> {
    let files = files_with_extension("docker/marathon", "json");
    assert_eq!(files.len(), ROLES.len(), "{files:?}");
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let app: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), app)
        })
        .collect()
}

fn env_of(app: &Value) -> BTreeMap<String, String> {
    app["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("env values are strings").into(),
            )
        })
        .collect()
}

fn port_mappings(app: &Value) -> &Vec<Value> {
    app["container"]["portMappings"]
        .as_array()
        .expect("portMappings")
}

#[test]
fn every_app_is_a_complete_marathon_definition() {
    let required = role_vars();
    let known = known_vars();
    let script = read(ENTRYPOINT);
    let mut roles = BTreeSet::new();
    for (file, app) in apps() {
        let env = env_of(&app);
        let role = env["SLUICE_ROLE"].clone();
        let conf = read(&format!("configs/{role}.conf"));
        assert!(file.ends_with(&format!("/{role}.json")), "{file}: {role}");
        roles.insert(role.clone());

        assert!(app["id"].as_str().unwrap().starts_with('/'), "{file}");
        assert!(app["instances"].as_u64().unwrap() >= 1, "{file}");
        assert!(app["cpus"].as_f64().unwrap() > 0.0, "{file}");
        assert!(app["mem"].as_f64().unwrap() >= 128.0, "{file}");
        assert_eq!(app["container"]["type"], "DOCKER", "{file}");
        assert!(app["container"]["docker"]["image"].is_string(), "{file}");

        // The image's entrypoint does the work: a `cmd` would replace it, args are flags.
        assert!(app.get("cmd").is_none(), "{file}");
        if let Some(args) = app.get("args") {
            let args = args.as_array().unwrap();
            assert!(
                args.first()
                    .is_none_or(|a| a.as_str().unwrap().starts_with("--")),
                "{file}"
            );
        }

        // Every variable is one the entrypoint or the role's pipeline reads, and the role's
        // essential ones are there.
        let in_pipeline = pipeline_vars(&conf);
        for name in env.keys() {
            let read_by_script =
                script.contains(&format!("${{{name}-")) || script.contains(&format!("${{{name}:-"));
            assert!(
                read_by_script || in_pipeline.contains(name),
                "{file}: nothing reads {name}"
            );
            assert!(known.contains(name), "{file}: {name} not in KNOWN_VARS");
        }
        for name in &required[&role] {
            assert!(env.contains_key(name), "{file}: {role} needs {name}");
        }

        check_health(&file, &app, &env);
        check_shutdown(&file, &app, &env);
    }
    assert_eq!(
        roles,
        ROLES.iter().map(|r| r.to_string()).collect::<BTreeSet<_>>()
    );
}

/// `/health` on the node API's port, with a grace period for the start (filter release fetch).
fn check_health(file: &str, app: &Value, env: &BTreeMap<String, String>) {
    let checks = app["healthChecks"].as_array().expect("healthChecks");
    assert_eq!(checks.len(), 1, "{file}");
    let check = &checks[0];
    assert_eq!(check["path"], "/health", "{file}");
    let protocol = check["protocol"].as_str().unwrap();
    assert!(["HTTP", "MESOS_HTTP"].contains(&protocol), "{file}");
    let api = &port_mappings(app)[check["portIndex"].as_u64().unwrap() as usize];
    assert_eq!(api["name"], "api", "{file}");
    assert_eq!(
        api["containerPort"].as_u64().unwrap().to_string(),
        env["HTTP_PORT"],
        "{file}: the health check must hit the node API"
    );
    assert!(
        check["gracePeriodSeconds"].as_u64().unwrap() >= 30,
        "{file}"
    );
    let interval = check["intervalSeconds"].as_u64().unwrap();
    let timeout = check["timeoutSeconds"].as_u64().unwrap();
    assert!(timeout > 0 && timeout < interval, "{file}");
    assert!(
        check["maxConsecutiveFailures"].as_u64().unwrap() >= 2,
        "{file}"
    );
    let capacity = app["upgradeStrategy"]["minimumHealthCapacity"]
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&capacity), "{file}");
}

/// SIGTERM, then SIGKILL after `taskKillGracePeriodSeconds`: sluice must give up draining (and
/// exit by itself) before that.
fn check_shutdown(file: &str, app: &Value, env: &BTreeMap<String, String>) {
    let grace = app["taskKillGracePeriodSeconds"].as_u64().expect("grace");
    let timeout = sluice::config::duration::parse_duration(&env["SHUTDOWN_TIMEOUT"]).unwrap();
    assert!(
        timeout.as_secs() + 5 <= grace,
        "{file}: SHUTDOWN_TIMEOUT {timeout:?} must end before the kill grace of {grace}s"
    );
}

fn app(role: &str) -> Value {
    apps()
        .into_iter()
        .find(|(file, _)| file.ends_with(&format!("/{role}.json")))
        .unwrap()
        .1
}

#[test]
fn the_syslog_receiver_listens_on_tcp_and_udp() {
    let app = app("syslog-receiver");
    let env = env_of(&app);
    assert!(app["instances"].as_u64().unwrap() >= 2);
    let syslog = port_mappings(&app)
        .iter()
        .find(|m| m["name"] == "syslog")
        .expect("a syslog port");
    assert_eq!(
        syslog["containerPort"].as_u64().unwrap().to_string(),
        env["SYSLOG_PORT"]
    );
    let protocols: BTreeSet<&str> = syslog["protocol"].as_str().unwrap().split(',').collect();
    assert_eq!(protocols, BTreeSet::from(["tcp", "udp"]));
}

#[test]
fn the_kafka_workers_scale_by_instances_behind_the_api_port_only() {
    for role in ["flume-kafka", "kafka-forwarder"] {
        let app = app(role);
        let names: Vec<&Value> = port_mappings(&app).iter().map(|m| &m["name"]).collect();
        assert_eq!(names, ["api"], "{role}");
        assert!(app.get("constraints").is_none(), "{role}: any host will do");
        assert!(!env_of(&app)["KAFKA_GROUP"].is_empty(), "{role}");
    }
}

#[test]
fn the_collector_runs_once_per_host_with_the_log_folders_read_only() {
    let app = app("container-logs");
    let env = env_of(&app);
    assert_eq!(
        app["constraints"],
        serde_json::json!([["hostname", "UNIQUE"]])
    );
    let volumes = app["container"]["volumes"].as_array().unwrap();
    let mount = |container_path: &str| {
        volumes
            .iter()
            .find(|v| v["containerPath"] == container_path)
            .unwrap_or_else(|| panic!("no volume at {container_path}"))
    };
    for var in ["DOCKER_CONTAINERS_DIR", "MESOS_WORK_DIR"] {
        let volume = mount(&env[var]);
        assert_eq!(volume["mode"], "RO", "{var}");
        assert!(
            volume["hostPath"].as_str().unwrap().starts_with('/'),
            "{var}"
        );
    }
    assert_eq!(
        mount(&env["DOCKER_CONTAINERS_DIR"])["hostPath"],
        "/var/lib/docker/containers"
    );
    // Read positions survive a restart: path.data is on the host.
    assert_eq!(mount("/var/lib/sluice")["mode"], "RW");
}

// --- the Dockerfile ------------------------------------------------------------------------------

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile_instructions() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("docker/Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
}

#[test]
fn the_dockerfile_stages_and_sources_are_consistent() {
    let mut stages: Vec<String> = Vec::new();
    let mut copied = Vec::new();
    let mut entrypoint = None;
    for instruction in dockerfile_instructions() {
        let words: Vec<&str> = instruction.split_whitespace().collect();
        match words[0].to_ascii_uppercase().as_str() {
            "FROM" => {
                let at = words.iter().position(|w| w.eq_ignore_ascii_case("AS"));
                let name = at.map(|i| words[i + 1].to_string()).expect("named stage");
                assert!(!stages.contains(&name), "stage {name} twice");
                stages.push(name);
            }
            "COPY" => {
                let from = words
                    .iter()
                    .find_map(|w| w.strip_prefix("--from="))
                    .map(String::from);
                let operands: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (dest, sources) = operands.split_last().unwrap();
                match from {
                    Some(stage) => assert!(
                        stages[..stages.len() - 1].contains(&stage),
                        "COPY --from={stage}: no earlier stage of that name ({stages:?})"
                    ),
                    None => {
                        for source in sources {
                            assert!(root(source).exists(), "COPY {source}: not in the repo");
                            copied.push(source.to_string());
                        }
                    }
                }
                assert!(
                    dest.starts_with('/') || dest.starts_with('.'),
                    "{instruction}"
                );
            }
            "ENTRYPOINT" => entrypoint = Some(instruction.clone()),
            _ => {}
        }
    }
    assert_eq!(stages, ["build", "runtime"]);
    for role in ROLES {
        let conf = format!("configs/{role}.conf");
        assert!(copied.contains(&conf), "{conf} is not in the image");
    }
    for needed in [
        "docker/entrypoint.sh",
        "configs/sluice.toml",
        "Cargo.lock",
        "src",
    ] {
        assert!(copied.iter().any(|c| c == needed), "{needed} is not copied");
    }
    let entrypoint = entrypoint.expect("ENTRYPOINT");
    assert!(entrypoint.contains("sluice-entrypoint"), "{entrypoint}");
    let dockerfile = read("docker/Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked --bin sluice"));
    assert!(dockerfile
        .contains("COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/sluice-entrypoint"));
}

// --- the roles, run -----------------------------------------------------------------------------

/// How long a role may take to deliver what it was given (a first Kafka group join included).
const PATIENCE: Duration = Duration::from_secs(60);

impl Es {
    /// Every document of the indices named `prefix-...`: (index, id, source).
    fn docs(&self, prefix: &str) -> Vec<(String, String, Value)> {
        let indices = self.standin.indices();
        let ours = indices
            .iter()
            .filter(|i| i.starts_with(&format!("{prefix}-")));
        ours.flat_map(|index| {
            let docs = self.standin.docs(index);
            docs.into_iter().map(|(id, doc)| (index.clone(), id, doc))
        })
        .collect()
    }

    /// Waits until `prefix-*` holds `n` documents, then returns them.
    fn wait_for(&self, prefix: &str, n: usize, role: &mut Role) -> Vec<(String, String, Value)> {
        let due = std::time::Instant::now() + PATIENCE;
        loop {
            let docs = self.docs(prefix);
            if docs.len() >= n {
                return docs;
            }
            if std::time::Instant::now() > due || role.exited() {
                let log = role.stop_and_log();
                panic!(
                    "{} of {n} documents in {prefix}-*; sluice said:\n{log}",
                    docs.len()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A role started through the entrypoint with the real sluice binary.
struct Role {
    child: std::process::Child,
    log: PathBuf,
    api_port: String,
    _dir: tempfile::TempDir,
}

impl Role {
    fn start(env: &[(&str, &str)]) -> Role {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sluice.log");
        let data = dir.path().join("data");
        let api_port = free_port().to_string();
        let child = Command::new("bash")
            .arg(root(ENTRYPOINT))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", dir.path())
            .env("SLUICE_BIN", env!("CARGO_BIN_EXE_sluice"))
            .env("SLUICE_CONFIG_DIR", root("configs"))
            .env("SLUICE_SETTINGS", root("configs/sluice.toml"))
            .env("SLUICE_PATH_DATA", &data)
            .env("SLUICE_WORKERS", "1")
            .env("HTTP_HOST", "127.0.0.1")
            .env("HTTP_PORT", &api_port)
            .env("SHUTDOWN_TIMEOUT", "20s")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        Role {
            child,
            log,
            api_port,
            _dir: dir,
        }
    }

    /// `GET /health` on the node API, where Marathon's health check goes: the whole answer.
    fn health(&self) -> String {
        use std::io::{Read, Write};
        let port: u16 = self.api_port.parse().unwrap();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// `path.data` of this run.
    fn data(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    fn output(&self) -> String {
        let stdout = std::fs::read_to_string(&self.log).unwrap_or_default();
        let stderr =
            std::fs::read_to_string(self.log.with_file_name("stderr.log")).unwrap_or_default();
        format!("{stdout}{stderr}")
    }

    fn stop_and_log(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output()
    }

    /// SIGTERM, as Marathon stops a task: sluice (the entrypoint's exec) drains and exits 0.
    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let due = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < due {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}: {}", self.output());
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = self.stop_and_log();
        panic!("no exit within 30 s of SIGTERM:\n{log}");
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The flume-kafka role as Marathon runs it: Flume events from Kafka to Elasticsearch, each
/// document named after its Kafka message, with Flume's headers.
#[test]
fn the_flume_kafka_role_indexes_flume_events_by_their_kafka_position() {
    use sluice::standin::kafka::{Message, MockKafka};
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("flume-logs", 2).unwrap();
    let messages = (0..40).map(|i| {
        let mut avro = Vec::new();
        let headers = [("host", "web-1"), ("app", "shop")];
        let body = format!("line {i}");
        sluice::codecs::flume::write_event(headers.into_iter(), body.as_bytes(), &mut avro);
        Message::new(avro).with_partition(i % 2)
    });
    assert_eq!(kafka.produce("flume-logs", messages).unwrap(), 40);
    let es = es();
    let servers = kafka.bootstrap_servers();
    let url = es.standin.url();
    let mut role = Role::start(&[
        ("SLUICE_ROLE", "flume-kafka"),
        ("KAFKA_BROKERS", &servers),
        ("KAFKA_TOPICS", "flume-logs"),
        ("KAFKA_GROUP", "deploy-files"),
        ("ES_HOSTS", &url),
    ]);
    let docs = es.wait_for("flume", 40, &mut role);
    let health = role.health();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("green"), "{health}");
    role.terminate();

    let ids: BTreeSet<&str> = docs.iter().map(|(_, id, _)| id.as_str()).collect();
    let expected: BTreeSet<String> = (0..2)
        .flat_map(|p| (0..20).map(move |o| format!("flume-logs-{p}-{o}")))
        .collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
    let messages: BTreeSet<&str> = docs
        .iter()
        .map(|(_, _, doc)| doc["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 40);
    assert!(messages.contains("line 39"));
    let (_, _, doc) = &docs[0];
    assert_eq!(doc["flume"]["headers"]["app"], "shop", "{doc}");
}

/// The syslog-receiver role: syslog lines over UDP and TCP on SYSLOG_PORT to Elasticsearch.
#[test]
fn the_syslog_receiver_role_indexes_lines_from_udp_and_tcp() {
    use std::io::Write;
    let es = es();
    let url = es.standin.url();
    let port = free_port();
    let port_text = port.to_string();
    let mut role = Role::start(&[
        ("SLUICE_ROLE", "syslog-receiver"),
        ("SYSLOG_PORT", &port_text),
        ("ES_HOSTS", &url),
    ]);
    let line = |n: usize| format!("<34>Oct 11 22:14:15 mymachine su[42]: line {n}");
    // Until the receiver listens, UDP datagrams vanish: send over TCP first, retrying the connect.
    let due = std::time::Instant::now() + PATIENCE;
    let mut tcp = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) if std::time::Instant::now() > due => {
                panic!("{e}: {}", role.stop_and_log())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    writeln!(tcp, "{}", line(0)).unwrap();
    drop(tcp);
    es.wait_for("syslog", 1, &mut role);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(line(1).as_bytes(), ("127.0.0.1", port))
        .unwrap();
    let docs = es.wait_for("syslog", 2, &mut role);
    role.terminate();

    let mut messages: Vec<&str> = docs
        .iter()
        .map(|(_, _, doc)| doc["message"].as_str().unwrap())
        .collect();
    messages.sort();
    assert_eq!(messages, ["line 0", "line 1"], "{docs:?}");
    assert_eq!(docs[0].2["process"]["name"], "su", "{docs:?}");
}

/// The kafka-forwarder role: Flume events from one cluster to the other, byte for byte, under
/// the prefixed topic name.
#[test]
fn the_kafka_forwarder_role_copies_flume_events_to_the_far_cluster() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message as _;
    use sluice::standin::kafka::{Message, MockKafka};
    let near = MockKafka::new().unwrap();
    near.create_topic("flume-logs", 2).unwrap();
    let far = MockKafka::new().unwrap();
    far.create_topic("dc1.flume-logs", 1).unwrap();
    let sent: BTreeSet<Vec<u8>> = (0..20)
        .map(|i| {
            let mut avro = Vec::new();
            let host = format!("web-{i}");
            let headers = [("host", host.as_str()), ("timestamp", "1700000000000")];
            let body = format!("line {i}");
            sluice::codecs::flume::write_event(headers.into_iter(), body.as_bytes(), &mut avro);
            avro
        })
        .collect();
    let messages = sent.iter().enumerate();
    let messages = messages.map(|(i, m)| Message::new(m.clone()).with_partition(i as i32 % 2));
    assert_eq!(near.produce("flume-logs", messages).unwrap(), 20);
    let (near_servers, far_servers) = (near.bootstrap_servers(), far.bootstrap_servers());
    let mut role = Role::start(&[
        ("SLUICE_ROLE", "kafka-forwarder"),
        ("KAFKA_BROKERS", &near_servers),
        ("KAFKA_TOPICS", "flume-logs"),
        ("KAFKA_GROUP", "deploy-files-forwarder"),
        ("KAFKA_OUTPUT_BROKERS", &far_servers),
        ("KAFKA_OUTPUT_TOPIC_PREFIX", "dc1."),
    ]);

    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &far_servers)
        .set("group.id", "deploy-files-reader")
        .create()
        .unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    partitions
        .add_partition_offset("dc1.flume-logs", 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let due = std::time::Instant::now() + PATIENCE;
    let mut received = BTreeSet::new();
    while received.len() < sent.len() {
        if std::time::Instant::now() > due || role.exited() {
            let log = role.stop_and_log();
            panic!(
                "{} of {} forwarded; sluice said:\n{log}",
                received.len(),
                sent.len()
            );
        }
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            received.insert(message.payload().unwrap_or_default().to_vec());
        }
    }
    role.terminate();
    assert_eq!(received, sent);
}

/// The container-logs role: a Docker container's json-file log and a Mesos task's stdout, with
/// the container's and task's identity, and read positions kept under path.data.
#[test]
fn the_container_logs_role_collects_docker_and_mesos_task_logs() {
    let host = tempfile::tempdir().unwrap();
    let id = "c0ffee";
    let docker = host.path().join("containers");
    let container = docker.join(id);
    std::fs::create_dir_all(&container).unwrap();
    let config = serde_json::json!({
        "ID": id,
        "Name": "/shop-web",
        "Image": "sha256:0123",
        "LogPath": container.join(format!("{id}-json.log")),
        "Config": { "Image": "shop-web:1.0", "Env": ["MARATHON_APP_ID=/shop/web"], "Labels": {} },
    });
    std::fs::write(container.join("config.v2.json"), config.to_string()).unwrap();
    let docker_lines: String = (0..3)
        .map(|i| {
            let record = serde_json::json!({
                "log": format!("docker line {i}\n"),
                "stream": "stdout",
                "time": format!("2026-11-21T10:00:0{i}.000000001Z"),
            });
            format!("{record}\n")
        })
        .collect();
    std::fs::write(container.join(format!("{id}-json.log")), docker_lines).unwrap();
    let mesos = host.path().join("mesos");
    let run = mesos.join("slaves/S1/frameworks/F1/executors/shop.task-1/runs/R1");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("stdout"), "mesos line 0\nmesos line 1\n").unwrap();

    let es = es();
    let url = es.standin.url();
    let (docker_dir, mesos_dir) = (docker.display().to_string(), mesos.display().to_string());
    let mut role = Role::start(&[
        ("SLUICE_ROLE", "container-logs"),
        ("DOCKER_CONTAINERS_DIR", &docker_dir),
        ("MESOS_WORK_DIR", &mesos_dir),
        ("LOGS_START_POSITION", "beginning"),
        ("ES_HOSTS", &url),
    ]);
    let docs = es.wait_for("containers", 5, &mut role);
    role.terminate();

    let by_message: BTreeMap<&str, &Value> = docs
        .iter()
        .map(|(_, _, doc)| (doc["message"].as_str().unwrap(), doc))
        .collect();
    let messages: Vec<&str> = by_message.keys().copied().collect();
    assert_eq!(
        messages,
        [
            "docker line 0",
            "docker line 1",
            "docker line 2",
            "mesos line 0",
            "mesos line 1"
        ]
    );
    let docker_doc = by_message["docker line 1"];
    assert_eq!(docker_doc["container"]["name"], "shop-web", "{docker_doc}");
    assert_eq!(docker_doc["MARATHON_APP_ID"], "/shop/web", "{docker_doc}");
    let mesos_doc = by_message["mesos line 0"];
    assert_eq!(mesos_doc["MESOS_TASK_ID"], "shop.task-1", "{mesos_doc}");
    // Read positions are kept under path.data (a host volume in the Marathon app).
    let kept: Vec<PathBuf> = walk(&role.data());
    for input in ["docker_logs", "mesos_sandbox"] {
        let sincedb = format!("plugins/inputs/{input}/.sincedb_");
        assert!(
            kept.iter().any(|p| p.to_string_lossy().contains(&sincedb)),
            "{input}: {kept:?}"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            let mut below = walk(&path);
            below.push(path);
            below
        })
        .collect()
}

/// Runs git in `dir`, failing the test on an error.
fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", text(&output).1);
}

/// A role with FILTERS_REPO/REF/PATH: its inputs and outputs from the role pipeline, its filter
/// section from the newest release tag of the repository.
#[test]
fn a_role_runs_the_filters_of_the_newest_release() {
    let repo = tempfile::tempdir().unwrap();
    let filters = repo.path().join("syslog");
    std::fs::create_dir_all(&filters).unwrap();
    git(repo.path(), &["init", "-q"]);
    for release in ["release-1", "release-2"] {
        let conf = format!("filter {{ mutate {{ add_tag => [\"{release}\"] }} }}\n");
        std::fs::write(filters.join("10-tag.conf"), conf).unwrap();
        git(repo.path(), &["add", "."]);
        git(repo.path(), &["commit", "-q", "-m", release]);
        git(repo.path(), &["tag", release]);
    }
    let url = format!("file://{}", repo.path().display());

    let es = es();
    let es_url = es.standin.url();
    let port = free_port().to_string();
    let mut role = Role::start(&[
        ("SLUICE_ROLE", "syslog-receiver"),
        ("SYSLOG_PORT", &port),
        ("ES_HOSTS", &es_url),
        ("FILTERS_REPO", &url),
        ("FILTERS_REF", "release-*"),
        ("FILTERS_PATH", "syslog"),
    ]);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let due = std::time::Instant::now() + PATIENCE;
    // UDP datagrams sent before the receiver listens are lost: repeat until one arrives.
    let docs = loop {
        let line = "<34>Oct 11 22:14:15 mymachine su[42]: released";
        udp.send_to(line.as_bytes(), ("127.0.0.1", port.parse::<u16>().unwrap()))
            .unwrap();
        let docs = es.docs("syslog");
        if !docs.is_empty() {
            break docs;
        }
        if std::time::Instant::now() > due || role.exited() {
            panic!("nothing indexed: {}", role.stop_and_log());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    role.terminate();
    let tags = &docs[0].2["tags"];
    assert_eq!(tags, &serde_json::json!(["release-2"]), "{:?}", docs[0]);
}
