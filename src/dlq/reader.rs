//! [`DlqReader`]: reads a pipeline's queue back, entry by entry ([`DlqRecord`]), in segment
//! order, from the start or from a [`DlqPosition`], and follows it as the writer appends.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::event::json;
use crate::event::{Event, Map, Text, Timestamp, Value};

use super::{list_segments, queue_dir, segment_path, with_path, DlqError};

/// Where a reader stands: the next byte to read, in segment `segment` (`N.log`). Segment 0,
/// offset 0 (the default) is the start of the queue, whatever its first segment is.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct DlqPosition {
    pub segment: u64,
    pub offset: u64,
}

/// One entry read back.
#[derive(Clone, Debug)]
pub struct DlqRecord {
    /// When the entry was appended.
    pub entry_time: Timestamp,
    pub plugin_type: Text,
    pub plugin_id: Text,
    pub index: Text,
    pub status: u16,
    /// Elasticsearch's per-item error (a map), or the output's text when it was not JSON.
    pub error: Value,
    /// The event as it was written: fields, `@timestamp`, tags and `@metadata`.
    pub event: Event,
}

impl DlqRecord {
    /// Why the event was refused, as one line: `status 400: mapper_parsing_exception: failed to
    /// parse field [x]` (the error's `type` and `reason`; its text or JSON when it has neither).
    pub fn reason(&self) -> String {
        let detail = error_detail(&self.error);
        if detail.is_empty() {
            format!("status {}", self.status)
        } else {
            format!("status {}: {detail}", self.status)
        }
    }
}

fn error_detail(error: &Value) -> String {
    match error {
        Value::Null => String::new(),
        Value::Str(s) => s.to_string(),
        Value::Map(m) if m.is_empty() => String::new(),
        Value::Map(m) => {
            let kind = m.get("type").and_then(Value::as_str);
            let reason = m.get("reason").and_then(Value::as_str);
            match (kind, reason) {
                (Some(kind), Some(reason)) => format!("{kind}: {reason}"),
                (Some(one), None) | (None, Some(one)) => one.to_string(),
                (None, None) => compact_json(error),
            }
        }
        other => compact_json(other),
    }
}

fn compact_json(value: &Value) -> String {
    let mut buf = Vec::new();
    json::write_value(value, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Reads a queue's entries in order. Lines without their newline are never handed on: at the
/// end of the last segment the reader waits for the rest (the writer may be mid-write); at the
/// end of an older segment it skips them (the writer has left that segment for good). Lines that
/// are not entries are logged and skipped.
pub struct DlqReader {
    dir: PathBuf,
    position: DlqPosition,
    /// The segment at `position`, read from `position.offset`; `None` until found.
    file: Option<BufReader<File>>,
    line: Vec<u8>,
    skipped: u64,
}

/// What one read at the current position found.
enum Read {
    /// A whole line, now in `line`; the position is past it.
    Line,
    /// The segment's end so far; `partial` when an unfinished line follows the position.
    End { partial: bool },
}

impl DlqReader {
    /// A reader at the start of the queue of `pipeline_id` under `root`. The queue need not
    /// exist yet: the reader finds nothing until it does.
    pub fn open(root: &Path, pipeline_id: &str) -> Result<DlqReader, DlqError> {
        DlqReader::open_at(root, pipeline_id, DlqPosition::default())
    }

    /// A reader resuming at `position` (a [`DlqReader::position`] from an earlier reader). If its
    /// segment has been deleted, reading resumes at the start of the next one.
    pub fn open_at(
        root: &Path,
        pipeline_id: &str,
        position: DlqPosition,
    ) -> Result<DlqReader, DlqError> {
        Ok(DlqReader {
            dir: queue_dir(root, pipeline_id)?,
            position,
            file: None,
            line: Vec::new(),
            skipped: 0,
        })
    }

    /// The queue's folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Just past the last entry returned (or skipped): where to resume from.
    pub fn position(&self) -> DlqPosition {
        self.position
    }

    /// Lines skipped so far: malformed ones and partial ones left at the end of a segment.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next entry, or `None` when there is none yet (call again later to follow the queue).
    /// After an error the reader starts over from its position at the next call.
    pub fn next_record(&mut self) -> Result<Option<DlqRecord>, DlqError> {
        let result = self.advance();
        if result.is_err() {
            self.file = None;
        }
        result
    }

    fn advance(&mut self) -> Result<Option<DlqRecord>, DlqError> {
        loop {
            if self.file.is_none() && !self.open_segment()? {
                return Ok(None);
            }
            if let Read::End { .. } = self.read_line()? {
                let Some(next) = self.segment_after()? else {
                    return Ok(None);
                };
                // A later segment exists, so the writer has finished this one (it starts a
                // segment only after its last append to the previous one): what this one holds
                // now is final. Read once more, as the writer may have finished a line since.
                if let Read::End { partial } = self.read_line()? {
                    if partial {
                        self.skip_partial();
                    }
                    self.position = DlqPosition {
                        segment: next,
                        offset: 0,
                    };
                    self.file = None;
                    continue;
                }
            }
            if let Some(record) = self.parse_line() {
                return Ok(Some(record));
            }
        }
    }

    /// Opens the segment at the position, or the first one after it; false if there is none.
    fn open_segment(&mut self) -> Result<bool, DlqError> {
        let segments = list_segments(&self.dir)?;
        let Some(&n) = segments.iter().find(|&&n| n >= self.position.segment) else {
            return Ok(false);
        };
        if n != self.position.segment {
            self.position = DlqPosition {
                segment: n,
                offset: 0,
            };
        }
        let path = segment_path(&self.dir, n);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            // Deleted since it was listed (consumed by another reader): look again next time.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(with_path(e, &path).into()),
        };
        file.seek(SeekFrom::Start(self.position.offset))
            .map_err(|e| with_path(e, &path))?;
        self.file = Some(BufReader::with_capacity(64 * 1024, file));
        Ok(true)
    }

    fn segment_after(&self) -> Result<Option<u64>, DlqError> {
        let current = self.position.segment;
        Ok(list_segments(&self.dir)?.into_iter().find(|&n| n > current))
    }

    fn read_line(&mut self) -> Result<Read, DlqError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Read::End { partial: false });
        };
        let path = || segment_path(&self.dir, self.position.segment);
        self.line.clear();
        let n = file
            .read_until(b'\n', &mut self.line)
            .map_err(|e| with_path(e, &path()))?;
        if n > 0 && self.line.last() == Some(&b'\n') {
            self.position.offset += n as u64;
            return Ok(Read::Line);
        }
        if n > 0 {
            // Back to the line's start, so the next read sees it whole (seeking drops the
            // buffer, which only happens at the end of the data).
            file.seek(SeekFrom::Start(self.position.offset))
                .map_err(|e| with_path(e, &path()))?;
        }
        Ok(Read::End { partial: n > 0 })
    }

    fn skip_partial(&mut self) {
        self.skipped += 1;
        tracing::warn!(
            segment = %segment_path(&self.dir, self.position.segment).display(),
            offset = self.position.offset,
            "dead letter queue: skipping a partial line at the end of a finished segment"
        );
    }

    /// The entry in `line`, or `None` (logged) when the line is not one.
    fn parse_line(&mut self) -> Option<DlqRecord> {
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        match parse_record(line) {
            Ok(record) => Some(record),
            Err(reason) => {
                self.skipped += 1;
                tracing::warn!(
                    segment = %segment_path(&self.dir, self.position.segment).display(),
                    end_offset = self.position.offset,
                    error = %reason,
                    "dead letter queue: skipping a line that is not an entry"
                );
                None
            }
        }
    }
}

/// Reads one line of the queue (see the `dlq` module doc for its format).
fn parse_record(line: &[u8]) -> Result<DlqRecord, String> {
    let Value::Map(mut entry) = json::parse_value(line).map_err(|e| e.to_string())? else {
        return Err("not a JSON object".into());
    };
    let entry_time = match entry.get("entry_time") {
        Some(Value::Str(s)) => Timestamp::parse_iso8601(s),
        _ => None,
    }
    .ok_or("no entry_time timestamp")?;
    let Some(Value::Map(mut fields)) = entry.remove("event") else {
        return Err("no event object".into());
    };
    let metadata = match fields.remove("@metadata") {
        Some(Value::Map(m)) => m,
        _ => Map::new(),
    };
    let mut event = Event::from_fields(fields, entry_time);
    *event.metadata_mut() = metadata;
    let status = match entry.get("status") {
        Some(Value::Int(n)) => u16::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    Ok(DlqRecord {
        entry_time,
        plugin_type: take_text(&mut entry, "plugin_type"),
        plugin_id: take_text(&mut entry, "plugin_id"),
        index: take_text(&mut entry, "index"),
        status,
        error: entry.remove("error").unwrap_or(Value::Null),
        event,
    })
}

fn take_text(map: &mut Map, key: &str) -> Text {
    match map.remove(key) {
        Some(Value::Str(s)) => s,
        _ => Text::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(error: Value, status: u16) -> DlqRecord {
        DlqRecord {
            entry_time: Timestamp::from_secs(0),
            plugin_type: Text::new("elasticsearch"),
            plugin_id: Text::new("es"),
            index: Text::new("logs"),
            status,
            error,
            event: Event::new(Timestamp::from_secs(0)),
        }
    }

    #[test]
    fn reason_shows_status_type_and_reason() {
        let error = json::parse_value(
            br#"{"type":"mapper_parsing_exception","reason":"failed to parse field [x]","caused_by":{}}"#,
        )
        .unwrap();
        assert_eq!(
            record(error, 400).reason(),
            "status 400: mapper_parsing_exception: failed to parse field [x]"
        );
        assert_eq!(
            record(Value::from("no such index"), 404).reason(),
            "status 404: no such index"
        );
        assert_eq!(record(Value::Null, 404).reason(), "status 404");
        let odd = json::parse_value(br#"{"code":7}"#).unwrap();
        assert_eq!(record(odd, 400).reason(), r#"status 400: {"code":7}"#);
    }

    #[test]
    fn a_line_is_read_back_with_its_event_and_metadata() {
        let line = br#"{"entry_time":"2026-11-21T05:24:00.123Z","plugin_type":"elasticsearch","plugin_id":"es","index":"logs","status":400,"error":{"type":"t"},"event":{"@timestamp":"2020-01-01T00:00:00.000Z","@version":"1","message":"m","tags":["a"],"@metadata":{"k":"v"}}}"#;
        let r = parse_record(line).unwrap();
        assert_eq!(
            r.entry_time,
            Timestamp::parse_iso8601("2026-11-21T05:24:00.123Z").unwrap()
        );
        assert_eq!(
            (r.plugin_id.as_str(), r.index.as_str(), r.status),
            ("es", "logs", 400)
        );
        assert_eq!(
            r.event.timestamp(),
            Timestamp::parse_iso8601("2020-01-01T00:00:00Z")
        );
        assert_eq!(r.event.message(), Some("m"));
        assert!(r.event.has_tag("a"));
        assert!(r.event.get_field("@metadata").is_none());
        assert_eq!(r.event.metadata().get("k"), Some(&Value::from("v")));
    }

    #[test]
    fn lines_that_are_not_entries_are_errors() {
        for bad in [
            &b"not json"[..],
            b"[1]",
            br#"{"event":{}}"#,
            br#"{"entry_time":"yesterday","event":{}}"#,
            br#"{"entry_time":"2026-11-21T05:24:00Z","event":"x"}"#,
        ] {
            assert!(
                parse_record(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
