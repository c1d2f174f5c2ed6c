//! [`Offsets`]: which messages of each Kafka partition every output has finished with, from the
//! acknowledgements of the batches sent, and so which offset may be stored for commit.
//!
//! The same idea as the file input's checkpoints, per partition: each batch sent carries an
//! [`AckToken`] from [`Offsets::token`] naming its partition and its last message's offset. A
//! partition's committable offset advances only over batches that were delivered, in the order
//! they were sent; a failed batch stalls the partition until it is assigned again (on restart or
//! rebalance the messages after the last stored offset are read again).
//!
//! Each assignment of a partition is a generation: [`Offsets::assign`] starts one and
//! [`Offsets::revoke`] ends it, dropping the batches still in flight, so acknowledgements that
//! arrive after a revocation move nothing (the partition's new owner reads those messages again).
//! The owned partitions are also where [`Offsets::lag`] comes from.
//!
//! Storing is left to the caller ([`Offsets::acknowledge`] calls it back under the lock, so two
//! acknowledgements settling at once can never store offsets out of order).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::event::{AckStatus, AckToken, Acknowledge};

/// A topic and partition.
pub type Partition = (Arc<str>, i32);

/// Delivered offsets per owned partition, shared by the consumer, its rebalance callbacks and
/// the batches in flight.
pub struct Offsets {
    state: Mutex<State>,
    /// Makes partition keys unique to this input.
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Default)]
struct State {
    partitions: HashMap<Partition, Track>,
    /// Which partition each unacknowledged token belongs to.
    owners: HashMap<u64, Partition>,
    next_token: u64,
}

#[derive(Default)]
struct Track {
    /// Ends with each revocation; tokens are tracked only while the partition is assigned.
    assigned: bool,
    /// Batches sent and not yet committable, in send order.
    queue: VecDeque<Pending>,
    /// A batch failed: nothing more is stored in this assignment.
    stalled: bool,
    /// Consumer lag from the last statistics, -1 when unknown.
    lag: i64,
}

struct Pending {
    token: u64,
    /// The offset of the batch's last message.
    last: i64,
    status: Option<AckStatus>,
}

impl Offsets {
    pub fn new() -> Arc<Offsets> {
        Arc::new(Offsets {
            state: Mutex::new(State::default()),
            hasher: Default::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new assignment of `partition`: its batches are tracked from now on.
    pub fn assign(&self, partition: Partition) {
        let mut state = self.lock();
        let state = &mut *state;
        let track = state.partitions.entry(partition).or_default();
        track.assigned = true;
        track.stalled = false;
        track.lag = -1;
        for pending in track.queue.drain(..) {
            state.owners.remove(&pending.token);
        }
    }

    /// Ends the assignment of `partition`: acknowledgements of its batches in flight will store
    /// nothing (the partition may already belong to another consumer).
    pub fn revoke(&self, partition: &Partition) {
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(track) = state.partitions.remove(partition) {
            for pending in track.queue {
                state.owners.remove(&pending.token);
            }
        }
    }

    /// A token for a batch of `partition`'s messages ending with the one at offset `last`.
    pub fn token(
        self: &Arc<Self>,
        sink: Arc<dyn Acknowledge>,
        partition: &Partition,
        last: i64,
    ) -> AckToken {
        let key = self.key(partition);
        let mut state = self.lock();
        let token = state.next_token;
        state.next_token += 1;
        let state = &mut *state;
        if let Some(track) = state.partitions.get_mut(partition) {
            if track.assigned && !track.stalled {
                track.queue.push_back(Pending {
                    token,
                    last,
                    status: None,
                });
                state.owners.insert(token, partition.clone());
            }
        }
        AckToken::new(sink, token).in_partition(key)
    }

    /// Records the fate of batch `id`; when that makes a longer run of its partition's batches
    /// delivered, calls `store(topic, partition, offset of the last delivered message)`.
    pub fn acknowledge(&self, id: u64, status: AckStatus, store: impl FnOnce(&str, i32, i64)) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(partition) = state.owners.remove(&id) else {
            return;
        };
        let Some(track) = state.partitions.get_mut(&partition) else {
            return;
        };
        if let Some(pending) = track.queue.iter_mut().find(|p| p.token == id) {
            pending.status = Some(status);
        }
        let mut delivered = None;
        while let Some(front) = track.queue.front() {
            match front.status {
                Some(AckStatus::Delivered) => {
                    delivered = Some(front.last);
                    track.queue.pop_front();
                }
                Some(AckStatus::Failed) => {
                    track.stalled = true;
                    for pending in track.queue.drain(..) {
                        state.owners.remove(&pending.token);
                    }
                    break;
                }
                None => break,
            }
        }
        if let Some(last) = delivered {
            store(&partition.0, partition.1, last);
        }
    }

    /// How many batches are sent and not yet settled, over all partitions.
    pub fn in_flight(&self) -> usize {
        self.lock().owners.len()
    }

    /// True when a failed batch stopped `partition`'s offset in its current assignment.
    pub fn is_stalled(&self, partition: &Partition) -> bool {
        self.lock()
            .partitions
            .get(partition)
            .is_some_and(|t| t.stalled)
    }

    /// Records the consumer lag statistics report for `partition`, if this consumer owns it.
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        let mut state = self.lock();
        if let Some(track) = state.partitions.get_mut(&(Arc::from(topic), partition)) {
            track.lag = lag;
        }
    }

    /// Consumer lag of each owned partition (messages behind the high watermark, from the last
    /// statistics; -1 when not yet known), sorted.
    pub fn lag(&self) -> Vec<(Partition, i64)> {
        let state = self.lock();
        let mut lag: Vec<_> = state
            .partitions
            .iter()
            .filter(|(_, t)| t.assigned)
            .map(|(p, t)| (p.clone(), t.lag))
            .collect();
        lag.sort();
        lag
    }

    /// The ordered-partition key of `partition`'s batches.
    pub fn key(&self, partition: &Partition) -> u64 {
        self.hasher.hash_one(partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ignore;
    impl Acknowledge for Ignore {
        fn acknowledge(&self, _: u64, _: AckStatus) {}
    }

    fn part(n: i32) -> Partition {
        (Arc::from("t"), n)
    }

    fn ack(offsets: &Offsets, token: &AckToken, status: AckStatus) -> Option<i64> {
        let mut stored = None;
        offsets.acknowledge(token.id(), status, |_, _, off| stored = Some(off));
        stored
    }

    fn tokens(offsets: &Arc<Offsets>, p: &Partition, lasts: &[i64]) -> Vec<AckToken> {
        lasts
            .iter()
            .map(|&l| offsets.token(Arc::new(Ignore), p, l))
            .collect()
    }

    #[test]
    fn stores_only_over_contiguous_delivered_batches() {
        let offsets = Offsets::new();
        offsets.assign(part(0));
        let t = tokens(&offsets, &part(0), &[4, 9, 14]);
        assert_eq!(ack(&offsets, &t[1], AckStatus::Delivered), None);
        assert_eq!(ack(&offsets, &t[0], AckStatus::Delivered), Some(9));
        assert_eq!(offsets.in_flight(), 1);
        assert_eq!(ack(&offsets, &t[2], AckStatus::Delivered), Some(14));
        assert_eq!(offsets.in_flight(), 0);
    }

    #[test]
    fn a_failed_batch_stalls_its_partition_only() {
        let offsets = Offsets::new();
        offsets.assign(part(0));
        offsets.assign(part(1));
        let a = tokens(&offsets, &part(0), &[4, 9]);
        let b = tokens(&offsets, &part(1), &[2]);
        assert_eq!(ack(&offsets, &a[0], AckStatus::Failed), None);
        assert!(offsets.is_stalled(&part(0)));
        assert_eq!(ack(&offsets, &a[1], AckStatus::Delivered), None);
        let later = tokens(&offsets, &part(0), &[20]);
        assert_eq!(ack(&offsets, &later[0], AckStatus::Delivered), None);
        assert_eq!(ack(&offsets, &b[0], AckStatus::Delivered), Some(2));
        // A new assignment starts clean.
        offsets.assign(part(0));
        let again = tokens(&offsets, &part(0), &[7]);
        assert_eq!(ack(&offsets, &again[0], AckStatus::Delivered), Some(7));
    }

    #[test]
    fn acknowledgements_after_a_revocation_store_nothing() {
        let offsets = Offsets::new();
        offsets.assign(part(3));
        let t = tokens(&offsets, &part(3), &[5]);
        offsets.revoke(&part(3));
        offsets.assign(part(3));
        assert_eq!(ack(&offsets, &t[0], AckStatus::Delivered), None);
        assert_eq!(offsets.in_flight(), 0);
    }

    #[test]
    fn lag_covers_owned_partitions_only() {
        let offsets = Offsets::new();
        offsets.assign(part(0));
        offsets.assign(part(1));
        offsets.set_lag("t", 1, 12);
        offsets.set_lag("t", 2, 99);
        offsets.revoke(&part(0));
        assert_eq!(offsets.lag(), [(part(1), 12)]);
    }
}
