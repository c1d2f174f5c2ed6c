//! Browser tests of the `sluice sandbox` page in real headless Chromium: each test starts the
//! real binary (`sluice sandbox -f <copy of sandbox/filters> --port 0`), reads the address it
//! prints, and runs `tests/browser/sandbox.mjs` (playwright-core driving Debian's chromium, both
//! installed by `scripts/install-deps.sh`) against it. The script pastes lines, checks the
//! events, traces, the grok debugger, config errors in place, reloading on a change on disk,
//! saving, and the live tap; it prints `ok - STEP` per step and `FAILED: STEP: WHY` on the first
//! failed expectation. Screenshots of the main views are kept in `target/sandbox-screenshots/`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the sandbox may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one run of the browser script may take (its own waits time out in 30 s each).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `sluice sandbox`, stopped when dropped.
struct Sandbox {
    child: Child,
    url: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `http://127.0.0.1:PORT` out of the line the sandbox prints when it is ready.
fn address(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(url.trim_end_matches(['/', '.', ',']).to_string())
}

/// Starts `sluice sandbox ARGS --port 0` and waits for its address. Its output goes on being
/// read (and echoed) so that it never blocks on a full pipe.
fn start(args: &[&str]) -> Sandbox {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("sandbox")
        .args(args)
        .args(["--port", "0"])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sluice sandbox starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (found, address_rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("sandbox: {line}");
            if let Some(url) = address(&line) {
                let _ = found.send(url);
            }
        }
    });
    let url = address_rx.recv_timeout(START_TIMEOUT);
    let mut sandbox = Sandbox {
        child,
        url: String::new(),
    };
    match url {
        Ok(url) => sandbox.url = url,
        Err(_) => {
            let status = sandbox.child.try_wait().ok().flatten();
            panic!("sluice sandbox printed no http://127.0.0.1:PORT address (exit: {status:?})");
        }
    }
    sandbox
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of `sandbox/filters` that the page may edit and save.
fn filters_copy(work: &Path) -> PathBuf {
    let filters = work.join("filters");
    copy_dir(&repo().join("sandbox").join("filters"), &filters);
    filters
}

fn screenshots() -> PathBuf {
    let dir = repo().join("target").join("sandbox-screenshots");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `node tests/browser/sandbox.mjs ARGS`, killed after [`BROWSER_TIMEOUT`]; returns its
/// output after asserting that it passed.
fn browser(args: &[&Path], work: &Path) -> String {
    let log = work.join("browser.log");
    let log_file = fs::File::create(&log).unwrap();
    let mut child = Command::new("node")
        .arg(repo().join("tests").join("browser").join("sandbox.mjs"))
        .args(args)
        .env(
            "NODE_PATH",
            repo().join("target").join("npm").join("node_modules"),
        )
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("node runs (scripts/install-deps.sh installs it)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let output = fs::read_to_string(&log).unwrap_or_default();
    println!("{output}");
    match status {
        None => panic!("the browser test ran over {BROWSER_TIMEOUT:?}:\n{output}"),
        Some(status) => assert!(
            status.success(),
            "the browser test failed ({status}); screenshots in {}:\n{output}",
            screenshots().display()
        ),
    }
    output
}

/// Removes the screenshots a test is about to take, so that old ones cannot pass for new.
fn remove_screenshots(names: &[&str]) {
    for name in names {
        let _ = fs::remove_file(screenshots().join(name));
    }
}

fn assert_screenshots(names: &[&str]) {
    for name in names {
        let path = screenshots().join(name);
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot {}", path.display());
    }
}

#[test]
fn the_page_shows_events_traces_grok_explanations_and_config_errors_in_place() {
    let work = tempfile::tempdir().unwrap();
    let filters = filters_copy(work.path());
    let before = fs::read_to_string(filters.join("business.conf")).unwrap();
    let sandbox = start(&["-f", filters.to_str().unwrap()]);
    const SHOTS: [&str; 6] = [
        "events.png",
        "trace.png",
        "grok-debugger.png",
        "config-error.png",
        "conditions.png",
        "dropped.png",
    ];
    remove_screenshots(&SHOTS);
    let shots = screenshots();
    let output = browser(&[Path::new(&sandbox.url), &shots, &filters], work.path());
    for step in [
        "ok - pasted lines give parsed events as JSON trees",
        "ok - each event shows its trace",
        "ok - the grok debugger explains a failure with the longest matching prefix",
        "ok - an unknown option is shown in place, with line and column",
        "ok - a change on disk reloads the file and re-runs",
        "ok - edits are written back only when Save is clicked",
        "ok - a new file on disk gets a tab; conditions, else and drop show in the traces",
    ] {
        assert!(output.contains(step), "missing step {step:?}:\n{output}");
    }
    assert!(output.contains("all browser checks passed"), "{output}");
    assert_screenshots(&SHOTS);
    // The script puts the file back as it found it; only Save wrote to it in between.
    assert_eq!(
        fs::read_to_string(filters.join("business.conf")).unwrap(),
        before
    );
    // The page never touched the repository's own filters.
    assert_eq!(
        fs::read_to_string(repo().join("sandbox/filters/business.conf")).unwrap(),
        before
    );
}

#[test]
fn the_live_tab_follows_a_source_with_a_condition_and_fields() {
    let work = tempfile::tempdir().unwrap();
    let filters = filters_copy(work.path());
    let log = work.path().join("business.log");
    fs::copy(repo().join("sandbox/samples/business.log"), &log).unwrap();
    let follow = format!("file:{}", log.display());
    let sandbox = start(&["-f", filters.to_str().unwrap(), "--follow", &follow]);
    remove_screenshots(&["live.png"]);
    let shots = screenshots();
    let output = browser(
        &[Path::new("--live"), Path::new(&sandbox.url), &shots, &log],
        work.path(),
    );
    assert!(output.contains("all live checks passed"), "{output}");
    assert_screenshots(&["live.png"]);
}

#[test]
fn the_printed_address_is_read_from_the_ready_line() {
    assert_eq!(
        address("sluice sandbox: http://127.0.0.1:40123/ (filters: f)").as_deref(),
        Some("http://127.0.0.1:40123")
    );
    assert_eq!(address("listening"), None);
}
