//! Filter releases pulled from git, with a real `sluice run` process and real repositories
//! the tests create: successive tags switched to in version order while events flow, a broken
//! tag and a tag whose tests fail refused, a repository that vanishes, a start with no usable
//! release, and credentials kept out of what the process prints.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use common::worker::Worker;

// ---------------------------------------------------------------------------------------------
// A filter repository

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "release bot")
        .env("GIT_AUTHOR_EMAIL", "bot@example.com")
        .env("GIT_COMMITTER_NAME", "release bot")
        .env("GIT_COMMITTER_EMAIL", "bot@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository with the filters in `filters/` and their tests in `filters/tests/`.
struct Repo {
    dir: PathBuf,
}

impl Repo {
    fn new(dir: PathBuf) -> Repo {
        std::fs::create_dir_all(dir.join("filters")).unwrap();
        git(&dir, &["init", "--quiet", "--initial-branch=main"]);
        Repo { dir }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Commits `conf` as the filters (and `test` as their test file, or none) and tags it.
    fn release(&self, tag: &str, conf: &str, test: Option<&str>) {
        let filters = self.dir.join("filters");
        std::fs::write(filters.join("main.conf"), conf).unwrap();
        let tests = filters.join("tests");
        let _ = std::fs::remove_dir_all(&tests);
        if let Some(test) = test {
            std::fs::create_dir_all(&tests).unwrap();
            std::fs::write(tests.join("release.yml"), test).unwrap();
        }
        git(&self.dir, &["add", "--all"]);
        git(
            &self.dir,
            &["commit", "--quiet", "--allow-empty", "-m", tag],
        );
        // Annotated and lightweight tags both count.
        if tag.ends_with('2') {
            git(&self.dir, &["tag", "-a", tag, "-m", tag]);
        } else {
            git(&self.dir, &["tag", tag]);
        }
    }
}

/// Filters that mark every event with `release => MARK`.
fn marking(mark: &str) -> String {
    format!("filter {{\n  mutate {{ add_field => {{ \"release\" => \"{mark}\" }} }}\n}}\n")
}

/// A test file expecting the mark `mark`.
fn expecting(mark: &str) -> String {
    format!(
        "testcases:\n  - input: [\"x\"]\n    expected:\n      - message: x\n        release: \"{mark}\"\n"
    )
}

// ---------------------------------------------------------------------------------------------
// A sluice worker process

const IO_CONFIG: &str = "input { stdin {} } output { stdout { codec => json_lines } }";

/// Where the node API of a worker whose log is `log` listens.
fn node_api_address(log: &str) -> std::net::SocketAddr {
    let at = log
        .find("node API listening on http://")
        .expect("the API's address is logged");
    let rest = &log[at + "node API listening on http://".len()..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    rest[..end].trim_end_matches('/').parse().unwrap()
}

/// `sluice run` to completion with no stdin; (status, stderr).
fn run_to_end(args: &[&str]) -> (ExitStatus, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("sluice runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// A worker taking its filters from the release tags `release-*` of `url`, polling every
/// `poll`, ordered, with `extra` flags.
fn release_worker(url: &str, poll: &str, data: &Path, extra: &[&str]) -> Worker {
    let mut args = vec![
        "-e",
        IO_CONFIG,
        "--filters.repo",
        url,
        "--filters.ref",
        "release-*",
        "--filters.path",
        "filters",
        "--filters.poll_interval",
        poll,
        "--path.data",
        data.to_str().unwrap(),
        "--pipeline.ordered",
        "true",
        "--http.port",
        "0",
    ];
    args.extend_from_slice(extra);
    Worker::start(&args, "release")
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn releases_switch_in_version_order_refusing_broken_ones_and_surviving_a_lost_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path().join("filters-repo"));
    repo.release("release-1", &marking("1"), Some(&expecting("1")));
    // Tags the glob does not match are never used.
    repo.release("v99", &marking("99"), None);
    let data = tmp.path().join("data");
    let url = repo.url();
    let mut worker = release_worker(&url, "150ms", &data, &["-w", "2"]);
    worker.feed_until("release-1's filters", |w| {
        w.last_mark().as_deref() == Some("1")
    });

    // An annotated tag, with tests that pass.
    repo.release("release-2", &marking("2"), Some(&expecting("2")));
    worker.feed_until("release-2's filters", |w| {
        w.last_mark().as_deref() == Some("2")
    });
    assert!(
        worker
            .log()
            .contains("switched filters to release release-2"),
        "{}",
        worker.log()
    );

    // A release whose filters do not build is refused with file:line:col.
    repo.release(
        "release-3",
        "filter {\n  mutate { add_tagz => [\"x\"] }\n}\n",
        None,
    );
    worker.feed_until("release-3 refused", |w| {
        w.log().contains("release release-3")
    });
    let log = worker.log();
    assert!(
        log.contains("refused, release release-2 keeps running"),
        "{log}"
    );
    // Files are named as they are in the repository.
    assert!(log.contains("\nfilters/main.conf:2:12: "), "{log}");
    assert!(log.contains("add_tagz"), "{log}");
    assert!(worker.marks_of_next(50).iter().all(|m| m == "2"));

    // A release whose own tests fail is refused with the failing case.
    repo.release("release-4", &marking("4"), Some(&expecting("four")));
    worker.feed_until("release-4 refused", |w| {
        w.log().contains("release release-4")
    });
    let log = worker.log();
    assert!(log.contains("sluice test failed"), "{log}");
    assert!(
        log.contains("FAIL filters/tests/release.yml: case 1"),
        "{log}"
    );
    assert!(worker.marks_of_next(50).iter().all(|m| m == "2"));
    // Refused once, not again at every poll.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count_lines(&worker.log(), "release release-4 ("), 1);

    // release-10 outranks release-4 and release-3 (versions, not names).
    repo.release("release-10", &marking("10"), Some(&expecting("10")));
    worker.feed_until("release-10's filters", |w| {
        w.last_mark().as_deref() == Some("10")
    });

    // The node API names the release and counts the reloads and refusals.
    let api = node_api_address(&worker.log());
    let (status, root) = common::http_get(api, "/");
    assert_eq!(status, 200);
    let root: serde_json::Value = serde_json::from_str(&root).unwrap();
    assert_eq!(root["release"], "release-10", "{root}");
    let (_, stats) = common::http_get(api, "/_node/stats");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let reloads = &stats["pipelines"]["main"]["reloads"];
    assert_eq!(reloads["successes"], 2, "{stats}");
    assert_eq!(reloads["failures"], 2, "{stats}");
    let last_error = reloads["last_error"]["message"].as_str().unwrap();
    assert!(last_error.contains("release-4"), "{stats}");

    // The repository vanishes: the failed fetch is logged, release-10 keeps running.
    std::fs::remove_dir_all(&repo.dir).unwrap();
    worker.feed_until("a failed fetch", |w| {
        w.log().contains("release-10 keeps running")
    });
    assert!(
        worker.log().contains("git fetch failed"),
        "{}",
        worker.log()
    );
    assert!(worker.marks_of_next(50).iter().all(|m| m == "10"));

    // Every line came out exactly once, in order, marked 1 then 2 then 10.
    let events = worker.finish_in_order();
    let mut marks: Vec<&str> = events
        .iter()
        .map(|e| e["release"].as_str().unwrap())
        .collect();
    marks.dedup();
    assert_eq!(marks, ["1", "2", "10"]);
    // Only the running release is left checked out.
    let left: Vec<String> = std::fs::read_dir(data.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "repo.git")
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("release-10-"), "{left:?}");
}

#[test]
fn a_start_without_a_usable_release_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path().join("filters-repo"));
    repo.release(
        "release-1",
        "filter {\n  mutate { add_tagz => [\"x\"] }\n}\n",
        None,
    );
    let data = tmp.path().join("data");
    let url = repo.url();
    let args = |git_ref: &'static str| {
        vec![
            "-e".to_string(),
            IO_CONFIG.to_string(),
            "--filters.repo".into(),
            url.clone(),
            "--filters.ref".into(),
            git_ref.into(),
            "--filters.path".into(),
            "filters".into(),
            "--path.data".into(),
            data.display().to_string(),
            "--http.port".into(),
            "0".into(),
        ]
    };
    let run = |git_ref| {
        let args = args(git_ref);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_to_end(&args)
    };
    let (status, stderr) = run("release-*");
    assert!(!status.success());
    assert!(
        stderr.contains("no release matching filters.ref"),
        "{stderr}"
    );
    assert!(stderr.contains("filters/main.conf:2:12"), "{stderr}");

    let (status, stderr) = run("v*");
    assert!(!status.success());
    assert!(stderr.contains("no tag or branch matches"), "{stderr}");

    // A fixed branch works, and a good commit on it is used.
    repo.release("unused", &marking("main"), None);
    let (status, stderr) = run("main");
    assert!(status.success(), "{stderr}");
}

#[test]
fn a_filter_section_in_the_local_config_is_refused_with_a_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path().join("filters-repo"));
    repo.release("release-1", &marking("1"), None);
    let url = repo.url();
    let data = tmp.path().join("data");
    let (status, stderr) = run_to_end(&[
        "-e",
        "input { stdin {} }\nfilter { mutate { add_tag => [\"local\"] } }\noutput { stdout {} }",
        "--filters.repo",
        &url,
        "--filters.ref",
        "release-*",
        "--filters.path",
        "filters",
        "--path.data",
        data.to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains(":2:1"), "{stderr}");
    assert!(
        stderr.contains("the filters come from the repository"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_the_repo_url_never_reach_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Nothing listens on port 1: the fetch fails at once, with git quoting the URL.
    let (status, stderr) = run_to_end(&[
        "-e",
        IO_CONFIG,
        "--filters.repo",
        "https://deploy:s3cret-t0ken@127.0.0.1:1/team/filters.git",
        "--filters.ref",
        "release-*",
        "--path.data",
        data.to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        stderr.contains("https://***@127.0.0.1:1/team/filters.git"),
        "{stderr}"
    );
    // Nor in what git keeps on disk.
    let config = std::fs::read_to_string(data.join("releases/repo.git/config")).unwrap();
    assert!(!config.contains("s3cret"), "{config}");
}

#[test]
fn canaries_are_compared_on_live_events_then_refused_or_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path().join("filters-repo"));
    repo.release("release-1", &marking("1"), None);
    let settings = tmp.path().join("sluice.toml");
    std::fs::write(
        &settings,
        "filters.canary_ref = \"canary-*\"\nfilters.canary_percent = 100.0\n\
         filters.canary_budget = 20.0\nfilters.canary_duration = \"1s\"\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let url = repo.url();
    let mut worker = release_worker(
        &url,
        "100ms",
        &data,
        &["--settings", settings.to_str().unwrap()],
    );
    worker.feed_until("release-1's filters", |w| {
        w.last_mark().as_deref() == Some("1")
    });

    // A canary whose grok pattern fails on every event: compared, refused, never live.
    let failing = format!(
        "{}filter {{ grok {{ match => {{ \"message\" => \"^x%{{WORD:w}}\" }} }} }}\n",
        marking("1")
    );
    repo.release("canary-1", &failing, None);
    worker.feed_until("the canary's trial", |w| {
        w.log().contains("canary release canary-1 on trial")
    });
    worker.feed_until("the canary's refusal", |w| {
        w.log().contains("release canary-1 (")
    });
    let log = worker.log();
    assert!(log.contains("100.00% > budget 20%"), "{log}");
    assert!(log.contains("with new failure tags"), "{log}");
    assert!(log.contains("_grokparsefailure"), "{log}");
    assert!(log.contains("release release-1 keeps running"), "{log}");

    // A canary that changes one event in ten (messages ending in 5): within the budget.
    let close = format!(
        "{}filter {{ if [message] =~ /5$/ {{ mutate {{ add_field => {{ \"canary\" => \"yes\" }} }} }} }}\n",
        marking("1")
    );
    repo.release("canary-2", &close, None);
    worker.feed_until("the promoted canary's filters", |w| {
        w.any_event(|e| e.get("canary").is_some())
    });
    let log = worker.log();
    assert!(log.contains("canary release canary-2 promoted"), "{log}");
    assert!(
        log.contains("switched filters to release canary-2"),
        "{log}"
    );

    let events = worker.finish_in_order();
    // The canaries' copies went nowhere: no live event failed the refused grok.
    assert!(events.iter().all(|e| e.get("tags").is_none()));
    // Before the promotion no event has the canary's field, after it those ending in 5 do.
    let first = events
        .iter()
        .position(|e| e.get("canary").is_some())
        .unwrap();
    assert!(events[..first].iter().all(|e| e.get("canary").is_none()));
    for e in &events[first..] {
        let ends_in_5 = e["message"].as_str().unwrap().ends_with('5');
        assert_eq!(e.get("canary").is_some(), ends_in_5, "{e}");
    }
}
