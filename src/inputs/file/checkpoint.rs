//! [`Checkpoints`]: which part of each file has been delivered, from the acknowledgements of
//! the batches sent, saved to the [`Sincedb`].
//!
//! Delivery is at-least-once: every batch sent carries an [`AckToken`] from
//! [`Checkpoints::token`] naming the file and the offset just past its last line. A file's
//! position advances only over batches that every output has finished with, and only in the
//! order they were sent, so a restart resumes after the last line known to be delivered. A batch
//! that fails stalls that file's position until the file is started again (the lines after it
//! are read again on the next run). Tokens also put each file's batches in an ordered partition,
//! so outputs deliver a file's lines in order.
//!
//! Each tracked file has a generation: [`Checkpoints::start`] begins a new one (first contact,
//! or the file was truncated and is read again from 0), and acknowledgements of batches from an
//! older generation no longer move the position.
//!
//! The sincedb is saved by [`Checkpoints::persist`] (the reader calls it every
//! `sincedb_write_interval`) and a last time when the `Checkpoints` is dropped, which happens
//! when the reader has stopped and the last batch in flight has been acknowledged.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::event::{AckStatus, AckToken, Acknowledge};

use super::sincedb::{unix_now, Entry, FileId, Sincedb};

/// Delivered positions per file, shared by the reader and the batches in flight.
pub struct Checkpoints {
    state: Mutex<State>,
    /// Serialises writes of the sincedb file (taken after the state is released).
    write: Mutex<()>,
    /// Makes partition keys unique to this input.
    hasher: std::collections::hash_map::RandomState,
}

struct State {
    sincedb: Sincedb,
    files: HashMap<FileId, Track>,
    /// Which file each unacknowledged token belongs to.
    owners: HashMap<u64, FileId>,
    next_token: u64,
    dirty: bool,
    /// `sincedb_clean_after` in seconds.
    clean_after: Option<f64>,
}

#[derive(Default)]
struct Track {
    generation: u64,
    /// Batches not yet acknowledged or not yet committable, in send order.
    queue: VecDeque<Pending>,
    /// A batch failed: the position stays where it was for this generation.
    stalled: bool,
}

struct Pending {
    token: u64,
    end: u64,
    status: Option<AckStatus>,
}

impl Checkpoints {
    /// Tracks positions starting from `sincedb`'s; entries idle longer than `clean_after` are
    /// dropped when saving.
    pub fn new(sincedb: Sincedb, clean_after: Option<Duration>) -> Arc<Checkpoints> {
        Arc::new(Checkpoints {
            state: Mutex::new(State {
                sincedb,
                files: HashMap::new(),
                owners: HashMap::new(),
                next_token: 0,
                dirty: false,
                clean_after: clean_after.map(|d| d.as_secs_f64()),
            }),
            write: Mutex::new(()),
            hasher: Default::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The delivered position of `id`, if the sincedb knows the file.
    pub fn position(&self, id: &FileId) -> Option<u64> {
        self.lock().sincedb.get(id).map(|e| e.position)
    }

    /// Starts a new generation of `id` at `position` (saved at once: a file first seen at its
    /// end, or truncated, must not be read from an older position after a restart). Returns
    /// the generation to pass to [`Checkpoints::token`].
    pub fn start(&self, id: FileId, path: &str, position: u64) -> u64 {
        let mut state = self.lock();
        let state = &mut *state;
        let track = state.files.entry(id).or_default();
        track.generation += 1;
        track.stalled = false;
        for pending in track.queue.drain(..) {
            state.owners.remove(&pending.token);
        }
        let generation = track.generation;
        state.commit(id, position, Some(path));
        generation
    }

    /// A token for a batch of `id`'s lines ending at `end` (the offset after its last line).
    pub fn token(self: &Arc<Self>, id: FileId, generation: u64, end: u64) -> AckToken {
        let mut state = self.lock();
        let token = state.next_token;
        state.next_token += 1;
        let state = &mut *state;
        if let Some(track) = state.files.get_mut(&id) {
            if track.generation == generation && !track.stalled {
                track.queue.push_back(Pending {
                    token,
                    end,
                    status: None,
                });
                state.owners.insert(token, id);
            }
        }
        let sink: Arc<dyn Acknowledge> = self.clone();
        AckToken::new(sink, token).in_partition(self.partition(&id))
    }

    /// Records progress that delivers nothing (lines a codec held back, the end of a gzip
    /// file): `id`'s position moves to `end` once every batch sent before is delivered.
    pub fn advance(&self, id: FileId, generation: u64, end: u64) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(track) = state.files.get_mut(&id) else {
            return;
        };
        if track.generation != generation || track.stalled {
            return;
        }
        track.queue.push_back(Pending {
            token: u64::MAX,
            end,
            status: Some(AckStatus::Delivered),
        });
        state.settle(id);
    }

    /// Stops tracking `id` and drops its sincedb entry (the file is gone: a new file that
    /// reuses its inode must be read from the start).
    pub fn forget(&self, id: &FileId) {
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(track) = state.files.remove(id) {
            for pending in track.queue {
                state.owners.remove(&pending.token);
            }
        }
        if state.sincedb.remove(id).is_some() {
            state.dirty = true;
        }
    }

    /// Records the path `id` is now seen at.
    pub fn set_path(&self, id: &FileId, path: &str) {
        let mut state = self.lock();
        if let Some(entry) = state.sincedb.get_mut(id) {
            if entry.path.as_deref() != Some(path) {
                entry.path = Some(path.to_string());
                state.dirty = true;
            }
        }
    }

    /// The partition key of `id`'s batches.
    pub fn partition(&self, id: &FileId) -> u64 {
        self.hasher.hash_one(id)
    }

    /// Saves the sincedb if anything changed since the last save.
    pub fn persist(&self) -> io::Result<()> {
        let _writing = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(());
            }
            state.expire();
            state.dirty = false;
            state
                .sincedb
                .path()
                .map(|p| (p.to_path_buf(), state.sincedb.serialize()))
        };
        match snapshot {
            Some((path, text)) => super::sincedb::write_atomic(&path, text.as_bytes())
                .inspect_err(|_| self.lock().dirty = true),
            None => Ok(()),
        }
    }
}

impl State {
    fn commit(&mut self, id: FileId, position: u64, path: Option<&str>) {
        let now = unix_now();
        match self.sincedb.get_mut(&id) {
            Some(entry) => {
                entry.position = position;
                entry.last_active = now;
                if let Some(p) = path {
                    entry.path = Some(p.to_string());
                }
            }
            None => self.sincedb.set(
                id,
                Entry {
                    position,
                    last_active: now,
                    path: path.map(str::to_string),
                },
            ),
        }
        self.dirty = true;
    }

    /// Commits the delivered head of `id`'s queue; a failed batch stalls the file.
    fn settle(&mut self, id: FileId) {
        let Some(track) = self.files.get_mut(&id) else {
            return;
        };
        let mut end = None;
        while let Some(front) = track.queue.front() {
            match front.status {
                Some(AckStatus::Delivered) => {
                    end = Some(front.end);
                    track.queue.pop_front();
                }
                Some(AckStatus::Failed) => {
                    tracing::warn!(
                        inode = id.inode,
                        "file: a batch was not delivered; this file's position stays before it \
                         (its lines are read again on restart)"
                    );
                    track.stalled = true;
                    for pending in track.queue.drain(..) {
                        self.owners.remove(&pending.token);
                    }
                    break;
                }
                None => break,
            }
        }
        if let Some(end) = end {
            self.commit(id, end, None);
        }
    }

    /// Drops idle entries of files no longer tracked.
    fn expire(&mut self) {
        let Some(clean_after) = self.clean_after else {
            return;
        };
        let oldest = unix_now() - clean_after;
        let stale: Vec<FileId> = self
            .sincedb
            .entries()
            .filter(|(id, e)| e.last_active < oldest && !self.files.contains_key(id))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.sincedb.remove(&id);
        }
    }
}

impl Acknowledge for Checkpoints {
    fn acknowledge(&self, token: u64, status: AckStatus) {
        let mut state = self.lock();
        let Some(id) = state.owners.remove(&token) else {
            return;
        };
        if let Some(track) = state.files.get_mut(&id) {
            if let Some(p) = track.queue.iter_mut().find(|p| p.token == token) {
                p.status = Some(status);
            }
        }
        state.settle(id);
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        if let Err(e) = self.persist() {
            tracing::warn!(error = %e, "file: cannot save the sincedb");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: FileId = FileId {
        inode: 1,
        major: 0,
        minor: 1,
    };

    #[test]
    fn position_follows_the_delivered_prefix_in_send_order() {
        let cp = Checkpoints::new(Sincedb::in_memory(), None);
        let g = cp.start(A, "/a", 0);
        let t1 = cp.token(A, g, 10);
        let t2 = cp.token(A, g, 20);
        cp.advance(A, g, 25);
        drop(t2);
        assert_eq!(cp.position(&A), Some(0), "t1 is still in flight");
        drop(t1);
        assert_eq!(cp.position(&A), Some(25));
    }

    #[test]
    fn a_failed_batch_stalls_the_file_and_a_new_generation_ignores_old_tokens() {
        let cp = Checkpoints::new(Sincedb::in_memory(), None);
        let g = cp.start(A, "/a", 5);
        let mut t1 = cp.token(A, g, 10);
        let t2 = cp.token(A, g, 20);
        t1.fail();
        drop(t1);
        drop(t2);
        assert_eq!(cp.position(&A), Some(5));
        let g2 = cp.start(A, "/a", 0);
        let old = cp.token(A, g, 99);
        drop(old);
        assert_eq!(cp.position(&A), Some(0));
        drop(cp.token(A, g2, 3));
        assert_eq!(cp.position(&A), Some(3));
    }

    #[test]
    fn dropping_the_last_reference_saves_the_sincedb() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let cp = Checkpoints::new(Sincedb::open(&path).unwrap(), None);
        let g = cp.start(A, "/a", 0);
        let token = cp.token(A, g, 42);
        drop(cp);
        assert!(
            !path.exists(),
            "nothing is saved while a batch is in flight"
        );
        drop(token);
        let db = Sincedb::open(&path).unwrap();
        assert_eq!(db.get(&A).map(|e| e.position), Some(42));
    }
}
