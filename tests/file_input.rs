//! The `file` input end to end, on real files in temporary folders: every line arrives exactly
//! once across start positions, appends, new files, rename rotation, copytruncate, restarts
//! from the sincedb, gzip and partial lines in read mode, exclude; acknowledgements drive the
//! sincedb; files that vanish or hold bad bytes never stop it.
//!
//! The inputs run with short `stat_interval`s and are polled with deadlines.

mod common;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::input::{append, assert_on_time, input_config, messages, str_at, Running, PATIENCE};
use sluice::event::{Batch, Value};
use sluice::inputs::file::checkpoint::Checkpoints;
use sluice::inputs::file::reader::{Line, ReadOptions};
use sluice::inputs::file::sincedb::{FileId, Sincedb};
use sluice::inputs::file::watch::{Completion, FileRef, Mode, TailSink, WatchConfig, Watcher};
use sluice::inputs::{InputError, Shutdown};

/// Options every test input gets unless it sets them: fast polling.
const FAST: &[(&str, &str)] = &[("stat_interval", r#""20 ms""#), ("discover_interval", "1")];

/// Runs `input { file { OPTIONS } }`, batches of `batch_size`, a queue of `queue` batches.
fn start_with(options: &str, batch_size: usize, queue: usize) -> Running {
    let config = input_config("file", options, FAST);
    Running::config(&config, &common::no_env, batch_size, queue)
}

fn start(options: &str) -> Running {
    start_with(options, 125, 64)
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

fn expected(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn reads_from_the_beginning_follows_appends_and_waits_for_a_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, "one\ntwo\n").unwrap();
    let input = start(&format!(
        r#"path => "{}/*.log" start_position => "beginning" sincedb_path => "/dev/null""#,
        s(dir.path())
    ));
    let first = input.events(2);
    assert_eq!(messages(&first), ["one", "two"]);
    let e = &first[0];
    assert_eq!(str_at(e, "[log][file][path]"), Some(s(&log)));
    assert!(str_at(e, "[host][name]").is_some_and(|h| !h.is_empty()));
    assert_eq!(str_at(e, "[@metadata][path]"), Some(s(&log)));
    assert!(
        str_at(e, "path").is_none(),
        "ECS mode has no top-level path"
    );

    append(&log, "three\nfour wi");
    assert_eq!(input.lines(1), ["three"]);
    input.nothing_more();
    append(&log, "thout newline yet\n");
    assert_eq!(input.lines(1), ["four without newline yet"]);
    assert!(input.stop().is_empty());
}

#[test]
fn start_at_end_skips_old_lines_but_reads_later_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.log");
    fs::write(&old, numbered("old", 0..50)).unwrap();
    let input = start(&format!(
        r#"path => "{}/*.log" sincedb_path => "/dev/null""#,
        s(dir.path())
    ));
    // Give the first discovery time to happen before appending.
    std::thread::sleep(Duration::from_millis(150));
    append(&old, "appended\n");
    assert_eq!(input.lines(1), ["appended"]);
    let new = dir.path().join("new.log");
    fs::write(&new, "n1\nn2\n").unwrap();
    assert_eq!(input.lines(2), ["n1", "n2"]);
    input.nothing_more();
    input.stop();
}

#[test]
fn legacy_fields_and_decoration_without_ecs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    fs::write(&log, "x\n").unwrap();
    let input = start(&format!(
        r#"path => ["{}"] start_position => beginning sincedb_path => "/dev/null"
           ecs_compatibility => disabled type => "syslog" add_field => {{ "from" => "%{{path}}" }}"#,
        s(&log)
    ));
    let e = &input.events(1)[0];
    assert_eq!(str_at(e, "path"), Some(s(&log)));
    assert!(str_at(e, "host").is_some());
    assert_eq!(str_at(e, "type"), Some("syslog"));
    assert_eq!(str_at(e, "from"), Some(s(&log)), "add_field sees the path");
    input.stop();
}

#[test]
fn exclude_matches_file_names() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("keep.log"), "kept\n").unwrap();
    fs::write(dir.path().join("skip.log"), "skipped\n").unwrap();
    let input = start(&format!(
        r#"path => "{}/*" exclude => ["skip*"] start_position => beginning sincedb_path => "/dev/null""#,
        s(dir.path())
    ));
    assert_eq!(input.lines(1), ["kept"]);
    input.nothing_more();
    input.stop();
}

#[test]
fn rename_rotation_reads_the_old_file_to_its_end_then_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, numbered("a", 0..100)).unwrap();
    let input = start(&format!(
        r#"path => "{}" start_position => beginning sincedb_path => "/dev/null""#,
        s(&log)
    ));
    assert_eq!(input.lines(100), expected("a", 0..100));
    // The logger still holds the old file: it writes there after the rename.
    let mut writer = OpenOptions::new().append(true).open(&log).unwrap();
    fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    writer
        .write_all(numbered("a", 100..150).as_bytes())
        .unwrap();
    fs::write(&log, numbered("b", 0..30)).unwrap();
    writer
        .write_all(numbered("a", 150..160).as_bytes())
        .unwrap();
    drop(writer);
    let mut got = input.lines(90);
    got.sort();
    let mut want = [expected("a", 100..160), expected("b", 0..30)].concat();
    want.sort();
    assert_eq!(got, want);
    append(&log, "b more\n");
    assert_eq!(input.lines(1), ["b more"]);
    input.nothing_more();
    input.stop();
}

#[test]
fn copytruncate_reads_the_file_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, numbered("before", 0..20)).unwrap();
    let input = start(&format!(
        r#"path => "{}" start_position => beginning sincedb_path => "/dev/null""#,
        s(&log)
    ));
    assert_eq!(input.lines(20), expected("before", 0..20));
    fs::copy(&log, dir.path().join("app.log.1")).unwrap();
    let f = OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    std::thread::sleep(Duration::from_millis(100));
    append(&log, "after 0\nafter 1\n");
    assert_eq!(input.lines(2), ["after 0", "after 1"]);
    input.nothing_more();
    input.stop();
}

#[test]
fn a_restart_resumes_from_the_sincedb_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let total = 20_000;
    fs::write(&log, numbered("line", 0..total)).unwrap();
    let sincedb = dir.path().join("sincedb");
    let options = format!(
        r#"path => "{}" start_position => beginning sincedb_path => "{}" file_chunk_size => 4096"#,
        s(&log),
        s(&sincedb)
    );
    // A small queue holds the reader back, so it is mid-file when stopped.
    let input = start_with(&options, 100, 1);
    let mut seen = input.lines(1_000);
    seen.extend(messages(&input.stop()));
    assert!(
        seen.len() < total,
        "the first run read everything ({})",
        seen.len()
    );
    let saved = fs::read_to_string(&sincedb).unwrap();
    let fields: Vec<&str> = saved.split_whitespace().collect();
    assert_eq!(
        fields.len(),
        6,
        "inode major minor position time path: {saved:?}"
    );
    assert_eq!(fields[5], s(&log));
    let offset: usize = fields[3].parse().unwrap();
    let delivered_bytes: usize = seen.iter().map(|l| l.len() + 1).sum();
    assert_eq!(
        offset, delivered_bytes,
        "the position is just after the last delivered line"
    );

    // Lines written while it was down are read too.
    append(&log, &numbered("line", total..total + 10));
    let input = start_with(&options, 100, 4);
    let rest = input.lines(total + 10 - seen.len());
    input.nothing_more();
    input.stop();
    seen.extend(rest);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates across the restart");
    assert_eq!(seen, expected("line", 0..total + 10));
}

#[test]
fn the_sincedb_advances_only_over_acknowledged_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    fs::write(&log, numbered("x", 0..10)).unwrap();
    let sincedb = dir.path().join("sincedb");
    let input = start(&format!(
        r#"path => "{}" start_position => beginning sincedb_path => "{}" sincedb_write_interval => 3600"#,
        s(&log),
        s(&sincedb)
    ));
    // Hold the batches: nothing is delivered yet.
    let deadline = Instant::now() + PATIENCE;
    let mut held = Vec::new();
    while held.iter().map(Batch::len).sum::<usize>() < 10 {
        let left = deadline.saturating_duration_since(Instant::now());
        held.push(input.next_batch(left).expect("the lines arrive"));
    }
    assert!(input.stop().is_empty());
    let before = fs::read_to_string(&sincedb).unwrap_or_default();
    assert!(
        before.split_whitespace().nth(3).is_none_or(|p| p == "0"),
        "saved before delivery: {before:?}"
    );
    drop(held);
    let after = fs::read_to_string(&sincedb).unwrap();
    assert_eq!(after.split_whitespace().nth(3), Some("40"), "{after:?}");
}

fn gzip(path: &Path, text: &str) {
    let mut enc =
        flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
}

#[test]
fn read_mode_reads_gzip_and_a_last_line_without_newline_then_logs_completed_files() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.log");
    let packed = dir.path().join("b.log.gz");
    fs::write(&plain, "p1\np2\nlast without newline").unwrap();
    gzip(&packed, &numbered("gz", 0..1000));
    let done = dir.path().join("completed.txt");
    let state = tempfile::tempdir().unwrap();
    let input = start(&format!(
        r#"path => "{}/*" exclude => "*.txt" mode => read sincedb_path => "{}/db"
           file_completed_action => log file_completed_log_path => "{}""#,
        s(dir.path()),
        s(state.path()),
        s(&done)
    ));
    let mut got = input.lines(1003);
    got.sort();
    let mut want = [
        vec!["p1".to_string(), "p2".into(), "last without newline".into()],
        expected("gz", 0..1000),
    ]
    .concat();
    want.sort();
    assert_eq!(got, want);
    let deadline = Instant::now() + PATIENCE;
    let logged = loop {
        let text = fs::read_to_string(&done).unwrap_or_default();
        if text.lines().count() == 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut logged: Vec<&str> = logged.lines().collect();
    logged.sort();
    assert_eq!(logged, [s(&plain), s(&packed)]);
    assert!(plain.exists() && packed.exists(), "log does not delete");
    input.nothing_more();
    input.stop();

    // Complete files are not read again.
    let again = start(&format!(
        r#"path => "{}/*" exclude => "*.txt" mode => read sincedb_path => "{}/db"
           file_completed_action => log file_completed_log_path => "{}""#,
        s(dir.path()),
        s(state.path()),
        s(&done)
    ));
    again.nothing_more();
    again.stop();
}

#[test]
fn read_mode_deletes_delivered_files_and_exit_after_read_ends_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    fs::write(&a, numbered("a", 0..5)).unwrap();
    let input = start(&format!(
        r#"path => "{}/*.log" mode => read sincedb_path => "/dev/null" exit_after_read => true"#,
        s(dir.path())
    ));
    let mut events = input.events(5);
    events.extend(input.finished());
    assert_eq!(messages(&events), expected("a", 0..5));
    assert!(!a.exists(), "the default action deletes a delivered file");
}

#[test]
fn vanishing_files_and_bad_bytes_do_not_stop_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone.log");
    let bad = dir.path().join("bad.log");
    fs::write(&gone, "g1\n").unwrap();
    fs::write(&bad, b"ok\n\xff\xfe broken \xc3\n").unwrap();
    let input = start(&format!(
        r#"path => "{}/*.log" start_position => beginning sincedb_path => "/dev/null""#,
        s(dir.path())
    ));
    let mut got = input.lines(3);
    got.sort();
    assert_eq!(got, ["\\xFF\\xFE broken \\xC3", "g1", "ok"]);
    fs::remove_file(&gone).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    append(&bad, "still here\n");
    assert_eq!(input.lines(1), ["still here"]);
    fs::write(&gone, "g2\n").unwrap();
    assert_eq!(
        input.lines(1),
        ["g2"],
        "a new file at a deleted one's path is read whole"
    );
    input.stop();
}

#[test]
fn a_shutdown_flushes_lines_a_codec_holds() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace.log");
    fs::write(
        &log,
        "2024-05-01 10:00:00 ERROR failed\n  at a.B.c(B.java:1)\n  at a.B.d(B.java:2)\n",
    )
    .unwrap();
    let input = start(&format!(
        r#"path => "{}" start_position => beginning sincedb_path => "/dev/null"
           codec => multiline {{ pattern => "^\s" what => "previous" }}"#,
        s(&log)
    ));
    input.nothing_more();
    let rest = input.stop();
    assert_eq!(
        messages(&rest),
        ["2024-05-01 10:00:00 ERROR failed\n  at a.B.c(B.java:1)\n  at a.B.d(B.java:2)"]
    );
}

#[test]
fn a_multiline_event_is_released_after_auto_flush_interval_while_tailing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace.log");
    append(
        &log,
        "2024-05-01 10:00:00 ERROR failed\njava.lang.RuntimeException: x\n\tat a.B.c(B.java:1)\n\
         2024-05-01 10:00:01 INFO ok\n",
    );
    // A slow stat_interval: the flush is due sooner, and the watcher wakes up for it.
    let started = Instant::now();
    let input = start(&format!(
        r#"path => "{}" start_position => beginning sincedb_path => "/dev/null"
           stat_interval => 3
           codec => multiline {{ pattern => "^%{{TIMESTAMP_ISO8601}} " negate => true
                                 what => previous auto_flush_interval => 0.2 }}"#,
        s(&log)
    ));
    assert_eq!(
        input.lines(2),
        [
            "2024-05-01 10:00:00 ERROR failed\njava.lang.RuntimeException: x\n\tat a.B.c(B.java:1)",
            "2024-05-01 10:00:01 INFO ok"
        ]
    );
    assert_on_time(started, Duration::from_millis(200));
    input.stop();
}

#[test]
fn max_open_files_and_close_older_take_turns_without_losing_lines() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c"] {
        fs::write(dir.path().join(format!("{name}.log")), numbered(name, 0..3)).unwrap();
    }
    let input = start(&format!(
        r#"path => "{}/*.log" start_position => beginning sincedb_path => "/dev/null"
           max_open_files => 1 close_older => "50 ms""#,
        s(dir.path())
    ));
    let mut got = input.lines(9);
    got.sort();
    assert_eq!(
        got,
        [
            expected("a", 0..3),
            expected("b", 0..3),
            expected("c", 0..3)
        ]
        .concat()
    );
    // A closed file is opened again when it grows.
    append(&dir.path().join("a.log"), "a 3\n");
    assert_eq!(input.lines(1), ["a 3"]);
    input.stop();
}

#[test]
fn ignore_older_starts_old_files_at_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.log");
    fs::write(&old, "ancient\n").unwrap();
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    fs::write(dir.path().join("fresh.log"), "fresh\n").unwrap();
    let input = start(&format!(
        r#"path => "{}/*.log" start_position => beginning sincedb_path => "/dev/null"
           ignore_older => "1 hour""#,
        s(dir.path())
    ));
    assert_eq!(input.lines(1), ["fresh"]);
    append(&old, "new\n");
    assert_eq!(input.lines(1), ["new"]);
    input.stop();
}

/// A sink of one's own, as other inputs built on the tailing machinery use it.
#[derive(Default)]
struct Recorder {
    lines: Vec<(String, u64, bool)>,
    closed: Vec<u64>,
}

impl TailSink for Recorder {
    fn line(&mut self, _file: &FileRef, line: Line) -> Result<(), InputError> {
        let text = String::from_utf8(line.bytes.to_vec()).unwrap();
        self.lines.push((text, line.end, line.split));
        Ok(())
    }

    fn pause(&mut self, _file: &FileRef) -> Result<(), InputError> {
        Ok(())
    }

    fn close(&mut self, _file: &FileRef, end: u64) -> Result<(), InputError> {
        self.closed.push(end);
        Ok(())
    }
}

#[test]
fn the_watcher_drives_any_sink_and_cuts_overlong_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    fs::write(&log, "short\nthis line is too long\nend").unwrap();
    let mut config = WatchConfig::new(vec![s(&log).to_string()]);
    config.mode = Mode::Read;
    config.completion = Completion::default();
    config.read = ReadOptions {
        delimiter: bytes::Bytes::from_static(b"\n"),
        chunk_size: 4,
        max_line: 8,
    };
    let checkpoints = Checkpoints::new(Sincedb::in_memory(), None);
    let mut watcher = Watcher::new(config, checkpoints.clone()).unwrap();
    let mut sink = Recorder::default();
    let shutdown = Shutdown::new();
    watcher.round(&mut sink, &shutdown).unwrap();
    assert_eq!(
        sink.lines,
        [
            ("short".to_string(), 6, false),
            ("this lin".into(), 14, true),
            ("e is too".into(), 22, true),
            (" long".into(), 28, false),
            ("end".into(), 31, false),
        ]
    );
    assert_eq!(sink.closed, [31]);
    // Nothing was delivered through tokens: the file's position is where it started.
    let id = FileId::of(&fs::metadata(&log).unwrap());
    assert_eq!(checkpoints.position(&id), Some(0));
}

#[test]
fn bad_options_are_reported_at_build() {
    let err = common::build_error(
        r#"input { file { path => "relative/*.log" } }"#,
        &common::no_env,
    );
    assert!(err.contains("paths must be absolute"), "{err}");
    let err = common::build_error(
        r#"input { file { path => "/x/*.log" stat_interval => "soon" } }"#,
        &common::no_env,
    );
    assert!(err.contains("stat_interval"), "{err}");
    let err = common::build_error(
        r#"input { file { path => "/x/*.log" mode => read file_completed_action => log } }"#,
        &common::no_env,
    );
    assert!(err.contains("file_completed_log_path"), "{err}");
    let err = common::build_error(
        r#"input { file { path => "/x/*.log" exit_after_read => true } }"#,
        &common::no_env,
    );
    assert!(err.contains("exit_after_read"), "{err}");
}

#[test]
fn the_default_sincedb_lives_under_sincedb_dir() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir: PathBuf = dir.path().join("dbs");
    let log = dir.path().join("a.log");
    fs::write(&log, "x\n").unwrap();
    let db_dir_text = s(&db_dir).to_string();
    let env = move |name: &str| (name == "SINCEDB_DIR").then(|| db_dir_text.clone());
    let options = format!(r#"path => "{}" start_position => beginning"#, s(&log));
    let input = Running::config(&input_config("file", &options, FAST), &env, 125, 4);
    drop(input.next_batch(PATIENCE).expect("the line arrives"));
    input.stop();
    let names: Vec<String> = fs::read_dir(&db_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with(".sincedb_") && names[0].len() == 9 + 32,
        "{names:?}"
    );
}

#[test]
fn line_oriented_codecs_take_each_file_line_as_one_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.json"), "{\"n\":1}\n{\"n\":2}\n").unwrap();
    fs::write(dir.path().join("b.txt"), "plain one\nplain two\n").unwrap();
    let options = |glob: &str, codec: &str| {
        format!(
            r#"path => "{}/{glob}" start_position => "beginning" sincedb_path => "/dev/null"
               codec => {codec}"#,
            s(dir.path())
        )
    };
    let json = start(&options("*.json", "json_lines"));
    let events = json.events(2);
    let numbers: Vec<_> = events
        .iter()
        .map(|e| common::get(e, "n").cloned())
        .collect();
    assert_eq!(numbers, [Some(Value::Int(1)), Some(Value::Int(2))]);
    json.nothing_more();
    assert!(json.stop().is_empty());

    let lines = start(&options("*.txt", "line"));
    assert_eq!(lines.lines(2), ["plain one", "plain two"]);
    lines.nothing_more();
    assert!(lines.stop().is_empty());
}

#[test]
fn the_default_sincedb_lives_under_path_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    fs::write(dir.path().join("a.log"), "one\n").unwrap();
    let text = format!(
        r#"input {{ file {{ path => "{}/*.log" start_position => "beginning" }} }}"#,
        s(dir.path())
    );
    let sources = sluice::config::SourceMap::single("t.conf", &text);
    let ast = sluice::config::parse(&sources, Default::default()).unwrap();
    let settings = sluice::plan::BuildSettings {
        data_path: Some(data.clone()),
        ..Default::default()
    };
    let mut plan = sluice::plan::build_with(&ast, &common::no_env, settings)
        .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
    let input = common::input::Running::spawn(plan.inputs.remove(0).input, 64, |ctx| ctx);
    assert_eq!(input.lines(1), ["one"]);
    input.stop();
    let folder = data.join("plugins/inputs/file");
    let written: Vec<_> = fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        written.iter().any(|n| n.starts_with(".sincedb_")),
        "{written:?}"
    );
}
