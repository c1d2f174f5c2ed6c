//! [`DeadLetterQueue`]: the writing side of a pipeline's queue (format and guarantees in the
//! module doc of `dlq`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::event::Timestamp;

use super::{
    list_segments, queue_dir, queue_size, segment_path, with_path, DlqEntry, DlqError,
    DEFAULT_SEGMENT_BYTES,
};

/// The file whose lock marks the queue as having a writer.
const LOCK_FILE: &str = ".lock";

/// A pipeline's dead letter queue, open for appending. `Send + Sync`: share it as an `Arc`.
#[derive(Debug)]
pub struct DeadLetterQueue {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Held (and locked) while the queue is open.
    _lock: File,
    /// Appends take turns: one lock per batch, not per event.
    state: Mutex<Segment>,
}

/// The segment being appended to.
#[derive(Debug)]
struct Segment {
    file: File,
    number: u64,
    len: u64,
    /// All segments' bytes as last known; re-counted from the files before refusing a batch,
    /// since a reader may have deleted segments since.
    queue_bytes: u64,
}

impl DeadLetterQueue {
    /// Opens (creating folders) the queue of pipeline `pipeline_id` under `dir`
    /// (`dir/pipeline_id/`), appending to the last segment (cut back to its last complete line)
    /// or to a new `1.log`. Segments rotate at [`DEFAULT_SEGMENT_BYTES`].
    pub fn open(
        dir: &Path,
        pipeline_id: &str,
        max_bytes: u64,
    ) -> Result<DeadLetterQueue, DlqError> {
        DeadLetterQueue::open_with_segment_bytes(dir, pipeline_id, max_bytes, DEFAULT_SEGMENT_BYTES)
    }

    /// [`DeadLetterQueue::open`] with segments rotated at `segment_bytes`.
    pub fn open_with_segment_bytes(
        dir: &Path,
        pipeline_id: &str,
        max_bytes: u64,
        segment_bytes: u64,
    ) -> Result<DeadLetterQueue, DlqError> {
        let dir = queue_dir(dir, pipeline_id)?;
        std::fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        let lock = lock(&dir)?;
        let segment = Segment::open_last(&dir)?;
        Ok(DeadLetterQueue {
            dir,
            max_bytes,
            segment_bytes: segment_bytes.max(1),
            _lock: lock,
            state: Mutex::new(segment),
        })
    }

    /// Appends every entry as one JSON line each, then fsyncs once. All or error: on error
    /// nothing of the batch remains in the queue. A batch that would take the queue past
    /// `max_bytes` is refused with [`DlqError::Full`] (the caller decides, counts and logs).
    pub fn append(&self, entries: &[DlqEntry<'_>]) -> Result<(), DlqError> {
        if entries.is_empty() {
            return Ok(());
        }
        // Serialised before taking the lock, so concurrent callers only wait for the disk.
        let now = Timestamp::now();
        let mut lines = Vec::with_capacity(512 * entries.len());
        for entry in entries {
            entry.write_line(now, &mut lines);
        }
        // A panic while appending leaves the segment consistent (a failed write is cut back
        // before returning), so a poisoned lock is still usable.
        let mut segment = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        segment.append(self, &lines)?;
        drop(segment);
        let dlq_events = &crate::metrics::process::counters().dlq_events;
        crate::metrics::process::add(dlq_events, entries.len() as u64);
        Ok(())
    }

    /// The queue's folder (`dir/pipeline_id`).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The bytes the queue's segments hold, as this writer last counted them.
    pub fn size(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue_bytes
    }
}

fn lock(dir: &Path) -> Result<File, DlqError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| with_path(e, &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DlqError::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(with_path(e, &path).into()),
    }
}

impl Segment {
    /// The last segment, repaired, or a new first one.
    fn open_last(dir: &Path) -> Result<Segment, DlqError> {
        let number = list_segments(dir)?.last().copied().unwrap_or(1);
        let path = segment_path(dir, number);
        let file = open_append(&path)?;
        let len = repair_tail(&file).map_err(|e| with_path(e, &path))?;
        Ok(Segment {
            file,
            number,
            len,
            queue_bytes: queue_size(dir)?,
        })
    }

    fn append(&mut self, queue: &DeadLetterQueue, lines: &[u8]) -> Result<(), DlqError> {
        let needed = lines.len() as u64;
        if self.queue_bytes + needed > queue.max_bytes {
            self.queue_bytes = queue_size(&queue.dir)?;
            if self.queue_bytes + needed > queue.max_bytes {
                return Err(DlqError::Full {
                    max_bytes: queue.max_bytes,
                    size: self.queue_bytes,
                    needed,
                });
            }
        }
        if self.len > 0 && self.len + needed > queue.segment_bytes {
            self.rotate(&queue.dir)?;
        }
        if let Err(e) = self.write(lines) {
            // Best effort: a failed write must not leave half a batch for readers to find.
            let _ = self.file.set_len(self.len);
            return Err(with_path(e, &segment_path(&queue.dir, self.number)).into());
        }
        self.len += needed;
        self.queue_bytes += needed;
        Ok(())
    }

    fn write(&mut self, lines: &[u8]) -> io::Result<()> {
        self.file.write_all(lines)?;
        self.file.sync_data()
    }

    /// Starts the next segment. The previous one is complete (every append was synced), which
    /// is what tells readers that a partial line left in it will never be finished.
    fn rotate(&mut self, dir: &Path) -> Result<(), DlqError> {
        let number = self.number + 1;
        let path = segment_path(dir, number);
        let file = open_append(&path)?;
        // The new file's name must survive a crash too, or its synced entries would vanish.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| with_path(e, dir))?;
        *self = Segment {
            file,
            number,
            len: 0,
            queue_bytes: self.queue_bytes,
        };
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, DlqError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| with_path(e, path).into())
}

/// Cuts `file` back to the end of its last complete line (a crash mid-write leaves a partial
/// one) and returns its length.
fn repair_tail(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let complete = complete_len(file, len)?;
    if complete < len {
        tracing::warn!(
            dropped_bytes = len - complete,
            "dead letter queue: cutting a partial last line left by an interrupted write"
        );
        file.set_len(complete)?;
        file.sync_data()?;
    }
    Ok(complete)
}

/// The length of `file`'s first `len` bytes up to and including the last newline, found by
/// reading backwards.
fn complete_len(mut file: &File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Text};

    fn entry(event: &Event) -> DlqEntry<'_> {
        DlqEntry {
            event,
            plugin_type: "elasticsearch",
            plugin_id: "es",
            index: "logs",
            status: 400,
            error: "{}",
        }
    }

    #[test]
    fn complete_len_finds_the_last_newline_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut text = vec![b'a'; 100];
        text.push(b'\n');
        text.extend(std::iter::repeat_n(b'b', 200_000));
        std::fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(complete_len(&file, text.len() as u64).unwrap(), 101);
        std::fs::write(&path, b"no newline").unwrap();
        assert_eq!(complete_len(&File::open(&path).unwrap(), 10).unwrap(), 0);
    }

    #[test]
    fn a_second_writer_on_the_same_queue_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let first = DeadLetterQueue::open(dir.path(), "main", 1 << 20).unwrap();
        assert!(matches!(
            DeadLetterQueue::open(dir.path(), "main", 1 << 20),
            Err(DlqError::Locked(_))
        ));
        drop(first);
        DeadLetterQueue::open(dir.path(), "main", 1 << 20).unwrap();
    }

    #[test]
    fn size_counts_the_bytes_appended() {
        let dir = tempfile::tempdir().unwrap();
        let queue = DeadLetterQueue::open(dir.path(), "main", 1 << 20).unwrap();
        let event = Event::from_message(Text::new("x"), Timestamp::from_secs(0));
        queue.append(&[entry(&event), entry(&event)]).unwrap();
        let on_disk = std::fs::metadata(segment_path(queue.path(), 1))
            .unwrap()
            .len();
        assert!(on_disk > 0);
        assert_eq!(queue.size(), on_disk);
    }
}
