//! Filter workers: plain OS threads that take input batches from the queue, gather them up to
//! the batch size, run the filters, route the result and hand one shared batch to every output
//! that gets some of it.
//!
//! Workers filter side by side, so two batches can reach the outputs in the other order. When
//! the pipeline is ordered (`pipeline.ordered`; by default whenever an input reads ordered
//! partitions such as Kafka's), a [`Sequencer`] numbers batches as they are gathered and hands
//! them to the outputs in that order: filtering stays parallel, only the hand-off waits.
//!
//! The filters live in a [`FilterSlot`] that a reload can refill while the workers run: each
//! worker reads it once when it starts a batch, so a batch is filtered by one graph from start
//! to end, and a swap never touches the queues (nothing is lost or filtered twice). The slot
//! may also hold a [`BatchTap`] that sees each batch before the filters (canary releases).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, TryRecvError};

use crate::event::{AckToken, Acknowledge, Batch};
use crate::outputs::OutputBatch;
use crate::plan::{FilterGraph, OutputGraph};

use super::{BatchTap, PipelineStats};

/// What every worker shares (read-only).
pub(crate) struct WorkerShared {
    pub filters: Arc<FilterSlot>,
    pub routes: OutputGraph,
    pub stats: Arc<PipelineStats>,
    pub batch_size: usize,
    pub batch_delay: Duration,
    /// Present when batches must reach the outputs in the order they left the input queue.
    pub order: Option<Sequencer>,
}

/// One worker's life: until the input queue is closed and empty.
pub(crate) fn run(
    shared: &WorkerShared,
    input: Receiver<Batch>,
    outputs: Vec<Sender<OutputBatch>>,
) {
    let next = || gather(&input, shared.batch_size, shared.batch_delay);
    match &shared.order {
        None => {
            while let Some(batch) = next() {
                shared.stats.add_in(batch.len());
                let active = shared.filters.current();
                hand_off(process(shared, &active, batch, outputs.len()), &outputs);
            }
        }
        Some(order) => {
            // The graph is taken with the batch's number, so a swap is a clean cut in the
            // order the outputs see: every batch before it old, every batch after it new.
            let next = || next().map(|batch| (shared.filters.current(), batch));
            while let Some((turn, (active, batch))) = order.take(next) {
                shared.stats.add_in(batch.len());
                let filtered = process(shared, &active, batch, outputs.len());
                order.in_turn(turn, || hand_off(filtered, &outputs));
            }
        }
    }
}

/// The filter graph the workers run, and the tap that sees each batch before it, both
/// replaceable while they run. Read once per batch (one uncontended read lock and `Arc`
/// clones), never per event.
pub(crate) struct FilterSlot {
    current: RwLock<Active>,
    /// How many times the graph was replaced.
    generation: AtomicU64,
}

/// What a batch starting now runs with.
#[derive(Clone)]
pub(crate) struct Active {
    pub graph: Arc<FilterGraph>,
    pub tap: Option<Arc<dyn BatchTap>>,
}

impl FilterSlot {
    pub fn new(graph: FilterGraph) -> FilterSlot {
        FilterSlot {
            current: RwLock::new(Active {
                graph: Arc::new(graph),
                tap: None,
            }),
            generation: AtomicU64::new(0),
        }
    }

    /// The graph (and tap) a batch starting now runs with.
    pub fn current(&self) -> Active {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `graph` in place for every batch started from now on; batches already started
    /// finish with the graph they took, which is dropped after the last of them. Returns the
    /// new generation.
    pub fn replace(&self, graph: FilterGraph) -> u64 {
        let old = {
            let mut current = self.write();
            std::mem::replace(&mut current.graph, Arc::new(graph))
        };
        // Dropped outside the lock: a graph may take a while to drop (caches, files).
        drop(old);
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Sets (or, with `None`, removes) the tap that sees every batch before the filters.
    pub fn set_tap(&self, tap: Option<Arc<dyn BatchTap>>) {
        let old = std::mem::replace(&mut self.write().tap, tap);
        drop(old);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Active> {
        self.current.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Numbers batches as workers take them, and lets each be handed to the outputs only after
/// every batch numbered before it. One lock per batch, none per event.
#[derive(Default)]
pub(crate) struct Sequencer {
    /// The number the next batch taken gets; held while a worker gathers.
    taking: Mutex<u64>,
    /// The number of the batch whose turn it is to be handed off.
    turn: Mutex<u64>,
    turn_moved: Condvar,
}

impl Sequencer {
    /// Takes the next batch with `gather` and numbers it (`None` once `gather` has none).
    fn take<T>(&self, gather: impl FnOnce() -> Option<T>) -> Option<(u64, T)> {
        let mut next = lock(&self.taking);
        let taken = gather()?;
        let turn = *next;
        *next += 1;
        Some((turn, taken))
    }

    /// Waits for `turn`, runs `hand_off`, then gives the turn to the next batch.
    fn in_turn(&self, turn: u64, hand_off: impl FnOnce()) {
        let mut current = lock(&self.turn);
        while *current != turn {
            current = self
                .turn_moved
                .wait(current)
                .unwrap_or_else(PoisonError::into_inner);
        }
        hand_off();
        *current += 1;
        drop(current);
        self.turn_moved.notify_all();
    }
}

/// A lock whose holder panicked is still good: the numbers it guards are always consistent.
fn lock(mutex: &Mutex<u64>) -> MutexGuard<'_, u64> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The next batch: what arrives first, topped up with whatever else arrives within `delay`
/// until it holds `size` events. `None` once the queue is closed and empty.
fn gather(input: &Receiver<Batch>, size: usize, delay: Duration) -> Option<Batch> {
    let mut batch = input.recv_blocking().ok()?;
    let mut deadline = None;
    while batch.len() < size {
        let more = match input.try_recv() {
            Ok(more) => more,
            Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Empty) => {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + delay);
                match recv_until(input, deadline) {
                    Some(more) => more,
                    None => break,
                }
            }
        };
        batch.append(more);
    }
    Some(batch)
}

/// A filtered batch and the events each output gets (`None`: all of them; empty: none).
struct Filtered {
    batch: Arc<Batch>,
    routes: Vec<Option<Arc<[u32]>>>,
}

/// Filters and routes the batch; `None` when nothing is left for the outputs. A panic in a
/// filter or condition costs the batch (acknowledged as failed), not the worker.
fn process(
    shared: &WorkerShared,
    active: &Active,
    mut batch: Batch,
    outputs: usize,
) -> Option<Filtered> {
    if let Some(tap) = &active.tap {
        // The tap only reads the batch; its failure must not cost the events.
        if catch_unwind(AssertUnwindSafe(|| tap.inspect(&batch.events))).is_err() {
            tracing::error!("a batch tap (canary comparison) panicked; the batch goes on");
        }
    }
    let routed = catch_unwind(AssertUnwindSafe(|| {
        active.graph.process(&mut batch.events);
        shared.routes.route(&batch.events, outputs)
    }));
    let Ok(routes) = routed else {
        tracing::error!(
            events = batch.len(),
            "a filter panicked: the batch is dropped and acknowledged as failed"
        );
        shared.stats.add_worker_panic(batch.len());
        batch.mark_failed();
        return None;
    };
    shared.stats.add_filtered(batch.len());
    if batch.is_empty() {
        return None;
    }
    let stats: Arc<dyn Acknowledge> = shared.stats.clone();
    batch.acks.push(AckToken::new(stats, batch.len() as u64));
    Some(Filtered {
        batch: Arc::new(batch),
        routes,
    })
}

/// Hands one shared batch to every output that gets some of it.
fn hand_off(filtered: Option<Filtered>, outputs: &[Sender<OutputBatch>]) {
    let Some(Filtered { batch, routes }) = filtered else {
        return;
    };
    for (queue, selection) in outputs.iter().zip(routes) {
        if selection.as_ref().is_some_and(|s| s.is_empty()) {
            continue;
        }
        if queue
            .send_blocking(OutputBatch::new(batch.clone(), selection))
            .is_err()
        {
            // The output is gone; its share of the batch is not delivered.
            batch.mark_failed();
        }
    }
}

/// Waits for a batch until `deadline`. async-channel offers no timed blocking receive, so the
/// receive future is polled here with a waker that unparks this thread.
fn recv_until(input: &Receiver<Batch>, deadline: Instant) -> Option<Batch> {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut recv = pin!(input.recv());
    loop {
        if let Poll::Ready(result) = recv.as_mut().poll(&mut cx) {
            return result.ok();
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequencer_hands_off_in_the_order_batches_were_taken() {
        let order = Sequencer::default();
        let source = Mutex::new(0..400u64);
        let handed = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for worker in 0..4u64 {
                let (order, source, handed) = (&order, &source, &handed);
                scope.spawn(move || {
                    let next = || source.lock().unwrap().next();
                    while let Some((turn, n)) = order.take(next) {
                        // Later batches often finish filtering first.
                        std::thread::sleep(Duration::from_micros((n * 7 + worker * 13) % 300));
                        order.in_turn(turn, || handed.lock().unwrap().push(n));
                    }
                });
            }
        });
        let handed = handed.into_inner().unwrap();
        assert_eq!(handed, (0..400).collect::<Vec<_>>());
    }
    use crate::event::{Event, Timestamp};

    #[test]
    fn a_slot_hands_out_the_graph_in_place_when_asked() {
        let slot = FilterSlot::new(FilterGraph::default());
        let before = slot.current().graph;
        assert_eq!(slot.generation(), 0);
        assert_eq!(slot.replace(FilterGraph::default()), 1);
        let after = slot.current().graph;
        assert!(!Arc::ptr_eq(&before, &after));
        assert!(Arc::ptr_eq(&after, &slot.current().graph));
        assert_eq!(slot.generation(), 1);
    }

    fn batch_of(n: usize) -> Batch {
        Batch::new(
            (0..n)
                .map(|_| Event::new(Timestamp::from_secs(0)))
                .collect(),
        )
    }

    #[test]
    fn gather_tops_up_to_the_batch_size_without_waiting_when_full() {
        let (tx, rx) = async_channel::bounded(8);
        for _ in 0..3 {
            tx.send_blocking(batch_of(2)).unwrap();
        }
        let started = Instant::now();
        let batch = gather(&rx, 4, Duration::from_secs(10)).unwrap();
        assert_eq!(batch.len(), 4);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(rx.len(), 1);
    }

    #[test]
    fn gather_waits_at_most_the_delay_for_more() {
        let (tx, rx) = async_channel::bounded(8);
        tx.send_blocking(batch_of(1)).unwrap();
        let started = Instant::now();
        let batch = gather(&rx, 100, Duration::from_millis(30)).unwrap();
        let waited = started.elapsed();
        assert_eq!(batch.len(), 1);
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[test]
    fn gather_takes_a_batch_that_arrives_while_waiting() {
        let (tx, rx) = async_channel::bounded(8);
        tx.send_blocking(batch_of(1)).unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send_blocking(batch_of(3)).unwrap();
        });
        let batch = gather(&rx, 4, Duration::from_secs(10)).unwrap();
        assert_eq!(batch.len(), 4);
        sender.join().unwrap();
        assert!(gather(&rx, 4, Duration::from_millis(1)).is_none());
    }
}
