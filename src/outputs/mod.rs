//! Outputs: where events go. An output runs as a tokio task taking [`OutputBatch`]es from its
//! queue. It holds each batch until it has finished with it; dropping the last handle on a batch
//! acknowledges it to the inputs (see [`crate::event::AckToken`]). One file per plugin, named
//! after its Logstash name.
//!
//! Outputs whose writes block (a terminal, a pipe, a disk) implement [`BlockingSink`] and run
//! wrapped in [`Threaded`], on a thread of their own, so a slow destination stalls its own queue
//! (and, through it, the inputs) but never the async runtime.

pub mod elasticsearch;
pub mod file;
pub mod kafka;
pub mod null;
pub mod stdout;

use std::sync::Arc;
use std::thread::JoinHandle;

use crate::event::{Batch, Event};

/// Why an output could not write.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A filtered batch as one output sees it: shared with the other outputs, narrowed to the events
/// routed to this output when outputs sit inside conditionals.
#[derive(Clone, Debug)]
pub struct OutputBatch {
    batch: Arc<Batch>,
    /// Indices into `batch.events`; `None` means all of them.
    selection: Option<Arc<[u32]>>,
}

impl OutputBatch {
    pub fn new(batch: Arc<Batch>, selection: Option<Arc<[u32]>>) -> OutputBatch {
        OutputBatch { batch, selection }
    }

    /// The events this output must handle, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> + '_ {
        let all = self.selection.is_none().then(|| self.batch.events.iter());
        let some = self
            .selection
            .as_deref()
            .map(|sel| sel.iter().map(|&i| &self.batch.events[i as usize]));
        all.into_iter().flatten().chain(some.into_iter().flatten())
    }

    /// The `i`th event of [`OutputBatch::events`].
    pub fn get(&self, i: usize) -> Option<&Event> {
        match &self.selection {
            None => self.batch.events.get(i),
            Some(sel) => sel.get(i).and_then(|&j| self.batch.events.get(j as usize)),
        }
    }

    pub fn len(&self) -> usize {
        self.selection
            .as_ref()
            .map_or(self.batch.events.len(), |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ordered input partitions the events come from (see [`crate::event::AckToken::in_partition`]);
    /// an output that sends several requests at once must not send two holding the same
    /// partition. Usually none or one.
    pub fn partitions(&self) -> impl Iterator<Item = u64> + '_ {
        self.batch.acks.iter().filter_map(|ack| ack.partition())
    }

    /// Marks the underlying batch as not delivered (see [`Batch::mark_failed`]).
    pub fn mark_failed(&self) {
        self.batch.mark_failed();
    }
}

/// An output plugin instance.
#[async_trait::async_trait]
pub trait Output: Send {
    /// Prepares the output before the pipeline starts (connects, checks the destination). An
    /// error stops the pipeline from starting, with the error's message.
    async fn start(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    /// Writes one batch; returns when the events are handed to the destination.
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError>;

    /// Flushes and closes, at shutdown after the last batch.
    async fn close(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    /// Takes out the blocking sink inside, for outputs that are one (see [`Threaded`]): the
    /// pipeline then runs it on a thread that takes batches straight from the output's queue,
    /// saving two thread hand-overs per batch. The output is spent afterwards.
    fn take_blocking(&mut self) -> Option<Box<dyn BlockingSink>> {
        None
    }
}

/// An output whose writes block. Runs on its own thread inside [`Threaded`].
pub trait BlockingSink: Send + 'static {
    /// Writes one batch; returns when the bytes are handed to the destination.
    fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError>;

    /// Flushes and closes, after the last batch.
    fn close(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Runs a [`BlockingSink`] on a thread of its own (started at the first write), handing it one
/// batch at a time. The thread drops its handle on a batch before reporting the write done, so
/// a batch is acknowledged as soon as every output has written it.
pub struct Threaded<S> {
    name: String,
    state: ThreadState<S>,
}

enum ThreadState<S> {
    NotStarted(S),
    Running(Worker),
    /// Between states, or after the thread is gone.
    Gone,
}

struct Worker {
    jobs: async_channel::Sender<Job>,
    replies: async_channel::Receiver<Result<(), OutputError>>,
    thread: JoinHandle<()>,
}

enum Job {
    Write(OutputBatch),
    Close,
}

impl<S: BlockingSink> Threaded<S> {
    /// `name` names the thread (`sluice-NAME`).
    pub fn new(name: &str, sink: S) -> Threaded<S> {
        Threaded {
            name: name.to_string(),
            state: ThreadState::NotStarted(sink),
        }
    }

    fn worker(&mut self) -> Result<&Worker, OutputError> {
        if let ThreadState::NotStarted(_) = self.state {
            let ThreadState::NotStarted(sink) =
                std::mem::replace(&mut self.state, ThreadState::Gone)
            else {
                unreachable!("checked just above");
            };
            self.state = ThreadState::Running(spawn_worker(&self.name, sink)?);
        }
        match &self.state {
            ThreadState::Running(worker) => Ok(worker),
            _ => Err(gone(&self.name)),
        }
    }

    async fn call(&mut self, job: Job) -> Result<(), OutputError> {
        let name = self.name.clone();
        let worker = self.worker()?;
        worker.jobs.send(job).await.map_err(|_| gone(&name))?;
        worker.replies.recv().await.map_err(|_| gone(&name))?
    }
}

fn gone(name: &str) -> OutputError {
    OutputError::Other(format!("the {name} writer thread is gone (it panicked)"))
}

fn spawn_worker<S: BlockingSink>(name: &str, mut sink: S) -> Result<Worker, OutputError> {
    let (jobs, job_rx) = async_channel::bounded::<Job>(1);
    let (reply_tx, replies) = async_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name(format!("sluice-{name}"))
        .spawn(move || {
            while let Ok(job) = job_rx.recv_blocking() {
                let (result, last) = match job {
                    Job::Write(batch) => (sink.write(&batch), false),
                    Job::Close => (sink.close(), true),
                };
                if reply_tx.send_blocking(result).is_err() || last {
                    return;
                }
            }
        })?;
    Ok(Worker {
        jobs,
        replies,
        thread,
    })
}

#[async_trait::async_trait]
impl<S: BlockingSink> Output for Threaded<S> {
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        self.call(Job::Write(batch.clone())).await
    }

    fn take_blocking(&mut self) -> Option<Box<dyn BlockingSink>> {
        match std::mem::replace(&mut self.state, ThreadState::Gone) {
            ThreadState::NotStarted(sink) => Some(Box::new(sink)),
            state => {
                self.state = state;
                None
            }
        }
    }

    async fn close(&mut self) -> Result<(), OutputError> {
        match std::mem::replace(&mut self.state, ThreadState::Gone) {
            ThreadState::NotStarted(mut sink) => sink.close(),
            ThreadState::Running(worker) => {
                self.state = ThreadState::Running(worker);
                let result = self.call(Job::Close).await;
                if let ThreadState::Running(worker) =
                    std::mem::replace(&mut self.state, ThreadState::Gone)
                {
                    // The thread returns right after replying to `Close`.
                    let _ = worker.thread.join();
                }
                result
            }
            ThreadState::Gone => Ok(()),
        }
    }
}
