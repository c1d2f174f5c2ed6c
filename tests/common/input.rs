//! Running an input in a test: [`Running`] runs one on a runtime of its own with a bounded
//! queue and takes what it sends within deadlines; [`input_config`] writes the config of a
//! test input; small helpers the file-tailing inputs' tests share.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sluice::config::options::EnvLookup;
use sluice::event::{Batch, Event, Value};
use sluice::inputs::{Input, InputContext, InputError, Shutdown};

/// How long a test waits for something that should happen well within it.
#[allow(dead_code)] // not every test binary uses every helper
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long "nothing more arrives" is watched for.
#[allow(dead_code)]
pub const QUIET: Duration = Duration::from_millis(300);

/// Options that make a tailing input (`docker_logs`, `mesos_sandbox`) poll fast, for
/// [`input_config`].
#[allow(dead_code)]
pub const FAST_TAILING: &[(&str, &str)] = &[
    ("stat_interval", r#""20 ms""#),
    ("discover_interval", "1"),
    ("sincedb_write_interval", r#""20 ms""#),
];

/// `input { PLUGIN { OPTIONS DEFAULTS } }`, where each of `defaults` (name, value) is left
/// out when `options` sets it.
#[allow(dead_code)]
pub fn input_config(plugin: &str, options: &str, defaults: &[(&str, &str)]) -> String {
    let mut text = format!("input {{ {plugin} {{ {options}");
    for (name, value) in defaults {
        if !options.contains(name) {
            text.push_str(&format!(" {name} => {value}"));
        }
    }
    text.push_str(" } }");
    text
}

/// A running input and what it sends.
#[allow(dead_code)]
pub struct Running {
    rx: async_channel::Receiver<Batch>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), InputError>>,
    /// Dropped before `rt`, whose drop waits for the input's blocking threads: a test that
    /// fails before stopping its input then fails instead of hanging.
    _stop_on_drop: StopOnDrop,
    rt: tokio::runtime::Runtime,
}

/// Requests the input's shutdown when dropped.
struct StopOnDrop(Shutdown);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.request();
    }
}

#[allow(dead_code)]
impl Running {
    /// Builds `config` (one input; `env` answers its lookups) and runs the input with its
    /// decoration, in batches of `batch_size`, with a queue of `queue` batches.
    pub fn config(config: &str, env: &EnvLookup, batch_size: usize, queue: usize) -> Running {
        let mut plan = super::plan_of(config, env);
        let input = plan.inputs.remove(0);
        let decoration = input.decoration;
        Running::spawn(input.input, queue, |ctx| {
            ctx.with_decoration(decoration).with_batch_size(batch_size)
        })
    }

    /// Runs `input` with a queue of `queue` batches; `setup` adds to its context what the test
    /// needs besides the queue and the shutdown request.
    pub fn spawn(
        input: Box<dyn Input>,
        queue: usize,
        setup: impl FnOnce(InputContext) -> InputContext,
    ) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = async_channel::bounded(queue);
        let shutdown = Shutdown::new();
        let ctx = setup(InputContext::new(tx).with_shutdown(shutdown.clone()));
        let task = rt.spawn(input.run(ctx));
        Running {
            rx,
            _stop_on_drop: StopOnDrop(shutdown.clone()),
            shutdown,
            task,
            rt,
        }
    }

    /// The next batch, if one comes within `wait`.
    pub fn next_batch(&self, wait: Duration) -> Option<Batch> {
        self.rt
            .block_on(async { tokio::time::timeout(wait, self.rx.recv()).await })
            .ok()
            .and_then(Result::ok)
    }

    /// The batches holding exactly the next `n` events (fails on fewer within [`PATIENCE`]).
    /// They are acknowledged when dropped.
    pub fn batches(&self, n: usize) -> Vec<Batch> {
        let deadline = Instant::now() + PATIENCE;
        let mut batches: Vec<Batch> = Vec::new();
        let mut got = 0;
        while got < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(batch) = self.next_batch(left) else {
                let events: Vec<&Event> = batches.iter().flat_map(|b| &b.events).collect();
                panic!("{got} of {n} events arrived: {:?}", messages(events));
            };
            got += batch.len();
            batches.push(batch);
        }
        assert_eq!(got, n, "more events than expected");
        batches
    }

    /// Exactly the next `n` events; their batches are dropped, which acknowledges them.
    pub fn events(&self, n: usize) -> Vec<Event> {
        self.batches(n)
            .into_iter()
            .flat_map(|mut b| std::mem::take(&mut b.events))
            .collect()
    }

    /// The messages of exactly the next `n` events.
    pub fn lines(&self, n: usize) -> Vec<String> {
        messages(&self.events(n))
    }

    /// Fails if a batch comes within [`QUIET`].
    pub fn nothing_more(&self) {
        self.nothing_within(QUIET);
    }

    /// Fails if a batch comes within `wait`.
    pub fn nothing_within(&self, wait: Duration) {
        if let Some(batch) = self.next_batch(wait) {
            panic!("unexpected events: {:?}", messages(&batch.events));
        }
    }

    /// Requests shutdown and returns what was still sent, once the input has returned.
    pub fn stop(self) -> Vec<Event> {
        self.shutdown.request();
        let mut rest = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the input did not stop");
            match self
                .rt
                .block_on(async { tokio::time::timeout(left, self.rx.recv()).await })
            {
                Ok(Ok(mut batch)) => rest.append(&mut batch.events),
                Ok(Err(_)) => break, // every sender is gone: the input has stopped
                Err(_) => panic!("the input did not stop"),
            }
        }
        self.rt.block_on(self.task).unwrap().unwrap();
        rest
    }

    /// Requests shutdown and waits, within `limit`, for the input to return `Ok`; the queue
    /// stays readable. Returns how long the input took. Call it once.
    pub fn shut_down_within(&mut self, limit: Duration) -> Duration {
        let asked = Instant::now();
        self.shutdown.request();
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(limit, &mut self.task).await })
            .unwrap_or_else(|_| panic!("the input did not return within {limit:?} of shutdown"))
            .expect("the input task did not panic");
        assert!(result.is_ok(), "the input failed: {result:?}");
        asked.elapsed()
    }

    /// Requests shutdown; the input must return within `limit`. Returns the queue, with
    /// what it still holds.
    pub fn stop_within(self, limit: Duration) -> async_channel::Receiver<Batch> {
        let asked = Instant::now();
        self.shutdown.request();
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(limit, self.task).await })
            .unwrap_or_else(|_| panic!("the input did not stop within {limit:?} after shutdown"));
        result.unwrap().unwrap();
        assert!(asked.elapsed() < limit);
        self.rx
    }

    /// Waits for the input to end by itself; returns what it sent meanwhile.
    pub fn finished(self) -> Vec<Event> {
        let mut rest = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while let Some(mut batch) =
            self.next_batch(deadline.saturating_duration_since(Instant::now()))
        {
            rest.append(&mut batch.events);
        }
        // The queue closes when the input's senders are gone; the task returns right after.
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(1), self.task).await })
            .expect("the input did not end by itself");
        result.unwrap().unwrap();
        rest
    }
}

/// Asserts that what was due `due` after `started` came then: not sooner, and not only after
/// a slow `stat_interval` (3 s or more), so the watcher woke up for it.
#[allow(dead_code)]
pub fn assert_on_time(started: Instant, due: Duration) {
    let waited = started.elapsed();
    let early = due.saturating_sub(Duration::from_millis(50));
    assert!(waited >= early, "sooner than due ({due:?}): {waited:?}");
    assert!(
        waited < Duration::from_secs(2),
        "not for the stat_interval: {waited:?}"
    );
}

/// The events' messages (`<none>` for an event without one).
#[allow(dead_code)]
pub fn messages<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| e.message().unwrap_or("<none>").to_string())
        .collect()
}

/// The string at a field reference of `e`, if it is one.
#[allow(dead_code)]
pub fn str_at<'e>(e: &'e Event, path: &str) -> Option<&'e str> {
    super::get(e, path).and_then(Value::as_str)
}

/// Appends `text` to the file at `path` (created if needed).
#[allow(dead_code)]
pub fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
