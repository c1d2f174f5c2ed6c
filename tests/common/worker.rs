//! A `sluice run` child process for the reload and release tests: numbered lines in on stdin,
//! events out as JSON lines on stdout, stderr kept as its log; killed on drop.

#![allow(dead_code)] // not every test binary uses every helper

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a worker may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Arc<Mutex<Vec<Value>>>,
    log: Arc<Mutex<String>>,
    /// The field the tests' filters mark events with.
    mark: &'static str,
    /// Lines sent so far (line `n` holds `n`).
    pub sent: u64,
}

impl Worker {
    /// Starts `sluice run ARGS`; its filters mark events in field `mark`.
    pub fn start(args: &[&str], mark: &'static str) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice starts");
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(String::new()));
        let (stdout, seen) = (child.stdout.take().unwrap(), events.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                seen.lock().unwrap().push(event);
            }
        });
        let (stderr, said) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = said.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Worker {
            stdin: child.stdin.take(),
            child,
            events,
            log,
            mark,
            sent: 0,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether some event out so far satisfies `test`.
    pub fn any_event(&self, test: impl Fn(&Value) -> bool) -> bool {
        self.events.lock().unwrap().iter().any(test)
    }

    /// The mark of the last event out.
    pub fn last_mark(&self) -> Option<String> {
        let events = self.events.lock().unwrap();
        Some(events.last()?.get(self.mark)?.as_str()?.to_string())
    }

    pub fn feed(&mut self, lines: u64) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        for _ in 0..lines {
            writeln!(stdin, "{}", self.sent).unwrap();
            self.sent += 1;
        }
        stdin.flush().unwrap();
    }

    /// Sends numbered lines until `done` holds; fails if sluice exits or it takes too long.
    pub fn feed_until(&mut self, what: &str, done: impl Fn(&Worker) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "sluice exited ({status}) waiting for {what}; log:\n{}",
                    self.log()
                );
            }
            self.feed(1);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `lines` more, waits until they are out, and returns their marks.
    pub fn marks_of_next(&mut self, lines: u64) -> Vec<String> {
        let before = self.events.lock().unwrap().len();
        self.feed(lines);
        let deadline = Instant::now() + WAIT;
        while self.events.lock().unwrap().len() < before + lines as usize {
            assert!(
                Instant::now() < deadline,
                "events late; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let events = self.events.lock().unwrap();
        let mark = |e: &Value| e[self.mark].as_str().unwrap_or("").to_string();
        events[before..].iter().map(mark).collect()
    }

    pub fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Closes stdin (the input ends), waits for the exit, and returns the status with every
    /// event written.
    pub fn finish(mut self) -> (ExitStatus, Vec<Value>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader thread may still hold the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let events = self.events.lock().unwrap().clone();
        (status, events)
    }

    /// [`Worker::finish`], checking that it exited 0 and that every line fed came out exactly
    /// once, in order; returns the events.
    pub fn finish_in_order(self) -> Vec<Value> {
        let (log, sent) = (self.log(), self.sent);
        let (status, events) = self.finish();
        assert!(status.success(), "{status}; log:\n{log}");
        let numbers: Vec<u64> = events
            .iter()
            .map(|e| e["message"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(numbers, (0..sent).collect::<Vec<_>>());
        events
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
