//! The dead letter queue (DLQ): where outputs put events their destination refused for good
//! (Elasticsearch's per-item 400 mapping errors, 404 missing index), so they are neither lost
//! nor retried forever; the `dead_letter_queue` input reads them back for reprocessing. As in
//! Logstash (`dead_letter_queue.enable`, `path.dead_letter_queue`), each pipeline has a queue
//! folder of its own, `<root>/<pipeline_id>/`.
//!
//! - [`DeadLetterQueue`] (`writer`): appends batches of [`DlqEntry`]s; shared as an `Arc` by
//!   every output of a pipeline.
//! - [`DlqReader`] (`reader`): reads the entries back in order as [`DlqRecord`]s, from the start
//!   or from a [`DlqPosition`], following the queue as it grows.
//!
//! # Format
//!
//! Unlike Logstash's binary segments, the queue is plain **JSON lines** that `jq` or `grep` can
//! read. One entry per line, keys in this order:
//!
//! ```text
//! {"entry_time":"2026-11-21T05:24:00.000Z","plugin_type":"elasticsearch","plugin_id":"es_out",
//!  "index":"logs-2026.11.21","status":400,"error":{"type":"mapper_parsing_exception",...},
//!  "event":{"@timestamp":"...","@version":"1","message":"...","tags":[...],"@metadata":{...}}}
//! ```
//!
//! (one line in the file). `entry_time` is when the entry was appended (RFC3339, milliseconds,
//! UTC). `error` is Elasticsearch's per-item `error` object as a JSON value, or a JSON string
//! when the output's text was not JSON. `event` is the event as sluice's JSON writers write it,
//! followed by `"@metadata"` when the event has metadata (so the reader restores it).
//!
//! # Files and durability
//!
//! Entries go into segment files `1.log`, `2.log`, ...: a new segment is started when the current
//! one would grow past the segment size ([`DEFAULT_SEGMENT_BYTES`]), so a reader can delete the
//! segments it has finished with. A batch is never split across segments. Each
//! [`DeadLetterQueue::append`] writes the whole batch with one `write` and then `fdatasync`s
//! once; if the write fails, the segment is cut back to where it was, so a batch is either all
//! there or not at all. The queue's total size is capped ([`DeadLetterQueue::open`]'s
//! `max_bytes`): a batch that does not fit is refused with [`DlqError::Full`].
//!
//! A crash in the middle of a write can leave a partial last line. The writer repairs it when it
//! opens the queue: it cuts the last segment back to the end of its last complete line and goes
//! on appending there (that line was never reported written, so nothing acknowledged is lost).
//! Readers never hand on a line without its newline: at the end of the last segment they wait for
//! the rest of it, and a partial line at the end of an older segment (which the writer has left
//! for good) is skipped with a warning.
//!
//! One writer per queue: [`DeadLetterQueue::open`] takes an exclusive lock on `.lock` in the
//! queue folder ([`DlqError::Locked`] if another writer, in this process or another, holds it).
//! Readers take no lock.

mod reader;
mod writer;

use std::io;
use std::path::{Path, PathBuf};

use crate::event::json;
use crate::event::{Event, Timestamp};

pub use reader::{DlqPosition, DlqReader, DlqRecord};
pub use writer::DeadLetterQueue;

/// Logstash's `dead_letter_queue.max_bytes` default (1024mb).
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// The size past which the writer starts a new segment.
pub const DEFAULT_SEGMENT_BYTES: u64 = 10 * 1024 * 1024;

/// Why the queue could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// A file system error; the message names the file.
    #[error("dead letter queue: {0}")]
    Io(#[from] io::Error),
    /// Appending the batch would take the queue past `max_bytes`; nothing was written.
    #[error("dead letter queue is full: {size} bytes used, the batch needs {needed} more, the limit is {max_bytes}")]
    Full {
        max_bytes: u64,
        size: u64,
        needed: u64,
    },
    /// Another writer (this process or another) has the queue open.
    #[error("dead letter queue {0} is already open for writing by another writer")]
    Locked(PathBuf),
    /// The pipeline id cannot name a folder (empty, `.`, `..`, or holding `/` or NUL).
    #[error("dead letter queue: pipeline id {0:?} cannot be used as a folder name")]
    InvalidPipelineId(String),
}

/// One event for the queue, with why it is there. Built by an output for each refused event.
#[derive(Clone, Copy, Debug)]
pub struct DlqEntry<'a> {
    pub event: &'a Event,
    /// The plugin that refused it (`"elasticsearch"`).
    pub plugin_type: &'a str,
    pub plugin_id: &'a str,
    /// The index the event was meant for.
    pub index: &'a str,
    /// The per-item HTTP status.
    pub status: u16,
    /// Elasticsearch's per-item `error` object as raw JSON text (written as a JSON value when it
    /// parses, else as a JSON string).
    pub error: &'a str,
}

impl DlqEntry<'_> {
    /// Appends the entry as one JSON line (see the module doc), newline included.
    pub fn write_line(&self, entry_time: Timestamp, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"{\"entry_time\":\"");
        entry_time.write_iso8601(buf);
        buf.extend_from_slice(b"\",\"plugin_type\":");
        json::write_str(self.plugin_type, buf);
        buf.extend_from_slice(b",\"plugin_id\":");
        json::write_str(self.plugin_id, buf);
        buf.extend_from_slice(b",\"index\":");
        json::write_str(self.index, buf);
        buf.extend_from_slice(b",\"status\":");
        buf.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        buf.extend_from_slice(b",\"error\":");
        write_error(self.error, buf);
        buf.extend_from_slice(b",\"event\":");
        write_event_with_metadata(self.event, buf);
        buf.extend_from_slice(b"}\n");
    }
}

/// The error text as a JSON value when it is one, else as a string. Re-written rather than copied
/// so that pretty-printed JSON (newlines) cannot break the one-entry-per-line format.
fn write_error(error: &str, buf: &mut Vec<u8>) {
    match json::parse_value(error.as_bytes()) {
        Ok(value) => json::write_value(&value, buf),
        Err(_) => json::write_str(error, buf),
    }
}

/// The event as `json::write_event` writes it, plus `"@metadata"` when it has any.
fn write_event_with_metadata(event: &Event, buf: &mut Vec<u8>) {
    json::write_event(event, buf);
    if event.metadata().is_empty() {
        return;
    }
    buf.pop(); // the closing brace
    if buf.last() != Some(&b'{') {
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"@metadata\":");
    json::write_map(event.metadata(), buf);
    buf.push(b'}');
}

/// `<root>/<pipeline_id>`, refusing ids that would name another folder.
pub fn queue_dir(root: &Path, pipeline_id: &str) -> Result<PathBuf, DlqError> {
    let bad = pipeline_id.is_empty()
        || pipeline_id == "."
        || pipeline_id == ".."
        || pipeline_id.contains(['/', '\0']);
    if bad {
        return Err(DlqError::InvalidPipelineId(pipeline_id.to_string()));
    }
    Ok(root.join(pipeline_id))
}

/// The path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n}.log"))
}

/// The segment numbers in `dir`, ascending; none if `dir` does not exist.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, DlqError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(with_path(e, dir).into()),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        if let Some(n) = segment_number(&entry.file_name().to_string_lossy()) {
            segments.push(n);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// `7` for `7.log`; `None` for any other name (the lock file, a sincedb, editor backups).
fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Deletes every segment numbered below `segment` (ones a reader has finished with); returns
/// how many it deleted. A segment already gone is not an error.
pub fn remove_segments_before(dir: &Path, segment: u64) -> Result<usize, DlqError> {
    let mut removed = 0;
    for n in list_segments(dir)?.into_iter().take_while(|&n| n < segment) {
        let path = segment_path(dir, n);
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(e, &path).into()),
        }
    }
    Ok(removed)
}

/// The bytes held by `dir`'s segments.
fn queue_size(dir: &Path) -> Result<u64, DlqError> {
    let mut total = 0;
    for n in list_segments(dir)? {
        let path = segment_path(dir, n);
        match std::fs::metadata(&path) {
            Ok(meta) => total += meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(e, &path).into()),
        }
    }
    Ok(total)
}

/// `e` with the path it concerns in its message, keeping its kind.
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Text, Value};

    fn entry_line(event: &Event, error: &str) -> String {
        let entry = DlqEntry {
            event,
            plugin_type: "elasticsearch",
            plugin_id: "es \"out\"",
            index: "logs",
            status: 400,
            error,
        };
        let mut buf = Vec::new();
        entry.write_line(Timestamp::from_millis(1_500), &mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_line_has_its_keys_in_order_and_the_event_with_its_metadata() {
        let mut event = Event::from_message(Text::new("hi"), Timestamp::from_secs(0));
        event
            .metadata_mut()
            .insert(Text::new("target"), Value::from("x"));
        let line = entry_line(&event, r#"{"type":"t","reason":"r"}"#);
        assert_eq!(
            line,
            concat!(
                r#"{"entry_time":"1970-01-01T00:00:01.500Z","plugin_type":"elasticsearch","#,
                r#""plugin_id":"es \"out\"","index":"logs","status":400,"#,
                r#""error":{"type":"t","reason":"r"},"event":{"@timestamp":"1970-01-01T00:00:00.000Z","#,
                r#""@version":"1","message":"hi","@metadata":{"target":"x"}}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn a_pretty_printed_error_stays_on_one_line_and_text_becomes_a_string() {
        let event = Event::new(Timestamp::from_secs(0));
        let line = entry_line(&event, "{\n  \"type\": \"t\"\n}");
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.contains(r#""error":{"type":"t"}"#), "{line}");
        let line = entry_line(&event, "no such index\n[x]");
        assert!(line.contains(r#""error":"no such index\n[x]""#), "{line}");
    }

    #[test]
    fn segment_names_are_numbers_dot_log() {
        assert_eq!(segment_number("12.log"), Some(12));
        assert_eq!(segment_number(".log"), None);
        assert_eq!(segment_number("1.log.tmp"), None);
        assert_eq!(segment_number(".sincedb"), None);
        assert_eq!(segment_number("-1.log"), None);
    }

    #[test]
    fn pipeline_ids_that_leave_the_root_are_refused() {
        let root = Path::new("/q");
        assert_eq!(queue_dir(root, "main").unwrap(), Path::new("/q/main"));
        for bad in ["", ".", "..", "a/b"] {
            assert!(matches!(
                queue_dir(root, bad),
                Err(DlqError::InvalidPipelineId(_))
            ));
        }
    }
}
