//! [`Batch`]: the unit that moves between pipeline stages, and [`AckToken`]: how an input learns
//! that the events it sent have been delivered.
//!
//! An input that needs delivery guarantees (Kafka commits offsets only below delivered events)
//! attaches an [`AckToken`] to each batch it sends. Tokens ride along through the filter workers
//! (which may merge several input batches into one) to the outputs. Every output holds the batch
//! until it has finished with it (indexed, written, or dead-lettered); when the last one lets go,
//! the batch is dropped and each token reports [`AckStatus::Delivered`] to its input, or
//! [`AckStatus::Failed`] if an output called [`Batch::mark_failed`] or the batch was dropped
//! while unwinding from a panic.
//!
//! Each batch remembers when it arrived (one `Instant` per input batch; merged batches keep the
//! earliest) and each token when it was made, so a sink can measure latencies
//! ([`Acknowledge::acknowledge_timed`]: the pipeline's `latency.end_to_end` and `latency.output`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::Event;

/// What happened to a batch's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckStatus {
    /// Every output finished every event (delivered, dropped by a filter, or dead-lettered).
    Delivered,
    /// Some event was not delivered; the input must not commit past it.
    Failed,
}

/// Receives the fate of an input's batches. Implemented by inputs that commit progress.
pub trait Acknowledge: Send + Sync {
    /// Called exactly once per token, from whichever thread dropped the batch.
    fn acknowledge(&self, id: u64, status: AckStatus);

    /// [`Acknowledge::acknowledge`] with when the token was made and when the (earliest part
    /// of the) batch it rode in arrived (`None` for a token dropped outside a batch); sinks that
    /// measure latency override it. Called instead of `acknowledge`.
    fn acknowledge_timed(
        &self,
        id: u64,
        status: AckStatus,
        token_made: Instant,
        batch_arrived: Option<Instant>,
    ) {
        let _ = (token_made, batch_arrived);
        self.acknowledge(id, status);
    }
}

/// One input batch's claim ticket. Reports to its input exactly once, when dropped.
pub struct AckToken {
    sink: Arc<dyn Acknowledge>,
    id: u64,
    partition: Option<u64>,
    failed: bool,
    made: Instant,
    batch_arrived: Option<Instant>,
}

impl AckToken {
    /// A token that reports `id` to `sink`; `id` means whatever the input wants (e.g. an index
    /// into its table of Kafka offset ranges).
    pub fn new(sink: Arc<dyn Acknowledge>, id: u64) -> AckToken {
        AckToken {
            sink,
            id,
            partition: None,
            failed: false,
            made: Instant::now(),
            batch_arrived: None,
        }
    }

    /// Declares that the batch's events come from one ordered partition of the input (a Kafka
    /// partition, a file): outputs then deliver batches of the same partition one after the
    /// other, never two at once, so they arrive in input order. `key` only needs to be unique
    /// among the input's partitions and stable while the pipeline runs; inputs should mix in
    /// something of their own (e.g. a hash of the topic) so two inputs rarely share keys.
    pub fn in_partition(mut self, key: u64) -> AckToken {
        self.partition = Some(key);
        self
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The ordered partition the batch's events come from, if the input keeps order.
    pub fn partition(&self) -> Option<u64> {
        self.partition
    }

    /// Makes this token report [`AckStatus::Failed`].
    pub fn fail(&mut self) {
        self.failed = true;
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        let status = if self.failed || std::thread::panicking() {
            AckStatus::Failed
        } else {
            AckStatus::Delivered
        };
        self.sink
            .acknowledge_timed(self.id, status, self.made, self.batch_arrived);
    }
}

impl std::fmt::Debug for AckToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckToken")
            .field("id", &self.id)
            .field("partition", &self.partition)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Events moving together between stages, with the tokens of the input batches they came from.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<Event>,
    pub acks: Vec<AckToken>,
    failed: AtomicBool,
    arrived: Instant,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new(Vec::new())
    }
}

impl Batch {
    pub fn new(events: Vec<Event>) -> Batch {
        Batch {
            events,
            acks: Vec::new(),
            failed: AtomicBool::new(false),
            arrived: Instant::now(),
        }
    }

    pub fn with_ack(events: Vec<Event>, ack: AckToken) -> Batch {
        Batch {
            events,
            acks: vec![ack],
            failed: AtomicBool::new(false),
            arrived: Instant::now(),
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Moves `other`'s events and tokens into `self`.
    pub fn append(&mut self, mut other: Batch) {
        self.events.append(&mut other.events);
        self.acks.append(&mut other.acks);
        self.arrived = self.arrived.min(other.arrived);
        if other.failed.load(Ordering::Relaxed) {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Records that an output could not deliver some of this batch's events; usable through the
    /// `Arc` the outputs share.
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// When the batch (its earliest merged part) was made by its input.
    pub fn arrived(&self) -> Instant {
        self.arrived
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        let failed = self.failed.load(Ordering::Relaxed);
        for ack in &mut self.acks {
            ack.batch_arrived = Some(self.arrived);
            if failed {
                ack.fail();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(u64, AckStatus)>>);
    impl Acknowledge for Recorder {
        fn acknowledge(&self, id: u64, status: AckStatus) {
            self.0.lock().unwrap().push((id, status));
        }
    }

    #[test]
    fn tokens_report_when_the_last_holder_drops_the_batch() {
        let rec = Arc::new(Recorder::default());
        let mut a = Batch::with_ack(vec![], AckToken::new(rec.clone(), 1));
        a.append(Batch::with_ack(vec![], AckToken::new(rec.clone(), 2)));
        let shared = Arc::new(a);
        let second = shared.clone();
        drop(shared);
        assert!(rec.0.lock().unwrap().is_empty());
        drop(second);
        let got = rec.0.lock().unwrap().clone();
        assert_eq!(got, [(1, AckStatus::Delivered), (2, AckStatus::Delivered)]);
    }

    #[derive(Default)]
    struct Timed(Mutex<Vec<(Instant, Option<Instant>)>>);
    impl Acknowledge for Timed {
        fn acknowledge(&self, _: u64, _: AckStatus) {
            unreachable!("acknowledge_timed is overridden");
        }
        fn acknowledge_timed(&self, _: u64, _: AckStatus, made: Instant, arrived: Option<Instant>) {
            self.0.lock().unwrap().push((made, arrived));
        }
    }

    #[test]
    fn tokens_learn_when_the_earliest_merged_batch_arrived() {
        let rec = Arc::new(Timed::default());
        let first = Batch::new(vec![]);
        let arrived = first.arrived();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let mut second = Batch::new(vec![]);
        second.acks.push(AckToken::new(rec.clone(), 1));
        second.append(first);
        assert_eq!(second.arrived(), arrived);
        let made = second.acks[0].made;
        drop(second);
        let got = rec.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0], (made, Some(arrived)));
    }

    #[test]
    fn a_failed_batch_fails_every_token() {
        let rec = Arc::new(Recorder::default());
        let b = Arc::new(Batch::with_ack(vec![], AckToken::new(rec.clone(), 7)));
        b.mark_failed();
        drop(b);
        assert_eq!(*rec.0.lock().unwrap(), [(7, AckStatus::Failed)]);
    }
}
