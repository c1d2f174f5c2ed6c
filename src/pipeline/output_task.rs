//! The task that runs one output: takes its batches in order, writes each, lets go of it (which
//! acknowledges it once every output has), and closes the output when its queue ends.
//!
//! Outputs that are blocking sinks ([`crate::outputs::Output::into_blocking`]) run on a thread
//! of their own that takes batches straight from the queue ([`run_blocking`]).
//!
//! A failed or panicking write marks the batch failed and the task carries on, so one bad
//! batch never stalls the workers feeding this queue.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_channel::Receiver;

use crate::outputs::{BlockingSink, Output, OutputBatch, OutputError};

use super::{OutputStats, PipelineStats};

pub(crate) async fn run(
    mut output: Box<dyn Output>,
    queue: Receiver<OutputBatch>,
    stats: Arc<PipelineStats>,
    index: usize,
) {
    let Some(counters) = stats.outputs().get(index) else {
        return;
    };
    while let Ok(batch) = queue.recv().await {
        let result = flatten(CatchUnwind(output.write(&batch)).await);
        finish(batch, result, counters);
    }
    let closed = flatten(CatchUnwind(output.close()).await);
    report_close(closed, counters);
}

/// The same for a blocking sink, on a thread of its own taking batches straight from the
/// queue.
pub(crate) fn run_blocking(
    mut sink: Box<dyn BlockingSink>,
    queue: Receiver<OutputBatch>,
    stats: Arc<PipelineStats>,
    index: usize,
) {
    let Some(counters) = stats.outputs().get(index) else {
        return;
    };
    while let Ok(batch) = queue.recv_blocking() {
        let result = catch_unwind(AssertUnwindSafe(|| sink.write(&batch)))
            .map_err(|panic| panic_message(panic.as_ref()));
        finish(batch, flatten(result), counters);
    }
    let closed = catch_unwind(AssertUnwindSafe(|| sink.close()))
        .map_err(|panic| panic_message(panic.as_ref()));
    report_close(flatten(closed), counters);
}

/// Counts a written batch and lets go of it (acknowledging it once every output has).
fn finish(batch: OutputBatch, result: Result<(), OutputError>, counters: &OutputStats) {
    if result.is_err() {
        batch.mark_failed();
    }
    let errors = counters.record(batch.len(), result.is_ok());
    drop(batch);
    if let Err(e) = result {
        // 1st, 2nd, 4th, 8th... error: a broken destination does not flood the log.
        if errors.is_power_of_two() {
            tracing::error!(output = counters.id(), errors, error = %e, "output write failed");
        }
    }
}

fn report_close(result: Result<(), OutputError>, counters: &OutputStats) {
    if let Err(e) = result {
        tracing::error!(output = counters.id(), error = %e, "output close failed");
    }
}

fn flatten(result: Result<Result<(), OutputError>, String>) -> Result<(), OutputError> {
    result.map_err(OutputError::Other).and_then(|r| r)
}

/// A future whose panic becomes an `Err` with the panic's message. (`async_trait` futures are
/// boxed, hence `Unpin`.)
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic_message(panic.as_ref()))),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("the output panicked: {detail}")
}
