//! The forward protocol's frames (fluentd forward protocol v1) turned into events.
//!
//! A frame is an array whose second item tells its mode:
//! - Message `[tag, time, record, option?]`;
//! - Forward `[tag, [[time, record], ...], option?]`;
//! - PackedForward `[tag, bin|str, option?]`, the string holding `[time, record]` entries
//!   back to back; CompressedPackedForward is the same with option `compressed: "gzip"` and the
//!   string a gzip stream (one or several members, as fluentd appends them).
//!
//! `time` is whole seconds, fluentd's EventTime (ext type 0) or a float; `0` and nil mean "now"
//! (as fluentd's `in_forward`). The option map's `chunk` asks for an acknowledgement, which the
//! caller sends once the events are queued ([`FrameInfo::chunk`]). The same shapes in JSON
//! (a connection whose first byte is `{` or `[`) are read by [`decode_json`].
//!
//! Errors come in two sizes, as in fluentd: an entry whose time or record has the wrong type is
//! skipped and counted ([`FrameInfo::skipped`]); a frame that cannot be read as a whole is a
//! [`FrameError`], after which the connection is closed (a msgpack stream cannot be resynced).
//!
//! msgpack frames are decoded a batch at a time ([`MsgpackFrame`]); JSON frames, a legacy
//! form, at once ([`decode_json`]).
//!
//! Each record's keys become top-level fields, with [`Shape`] deciding where the tag goes and
//! whether `log` becomes `message`. The record's own `@timestamp` is replaced by the entry's
//! time, as Logstash's fluent codec does.

use std::io::Read;

use bytes::Bytes;

use crate::event::{names, Event, FieldPath, Map, Text, Timestamp, Value};

use super::msgpack::{ext_time, Item, MsgpackError, Reader, MAX_DEPTH};

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    #[error("a frame must be an array [tag, entries, option]; got {0}")]
    NotArray(&'static str),
    #[error("a frame has 2 to 4 items; this one has {0}")]
    Arity(usize),
    #[error("the tag must be a string; got {0}")]
    Tag(&'static str),
    #[error("the second item must be a time, an entry array or a packed string; got {0}")]
    Entries(&'static str),
    #[error("a Message frame needs a record")]
    NoRecord,
    #[error("unknown compression {0:?} (only gzip is known)")]
    Compression(String),
    #[error("invalid gzip data: {0}")]
    Gzip(std::io::Error),
    #[error("decompressed entries exceed max_message_size ({0} bytes)")]
    Inflated(usize),
    #[error("invalid JSON frame: {0}")]
    Json(String),
}

/// Where the tag goes.
#[derive(Debug, Clone)]
pub enum TagTarget {
    /// Appended to `tags`, as Logstash's fluent codec does.
    Tags,
    Field(FieldPath),
    Drop,
}

/// How records become events (from the input's options; built once).
#[derive(Debug, Clone)]
pub struct Shape {
    pub tag: TagTarget,
    /// The record key moved to `message` (when the record has no `message` of its own).
    pub log_field: Option<Text>,
    /// Where the client's address goes, if anywhere.
    pub source_field: Option<FieldPath>,
    pub max_message_size: usize,
}

/// What a frame asked of us besides its events.
#[derive(Debug, Default)]
pub struct FrameInfo {
    /// The `chunk` option: the caller answers `{"ack": chunk}` once the events are queued.
    pub chunk: Option<Bytes>,
    /// Entries dropped for a wrong type (time or record).
    pub skipped: usize,
}

/// Per-connection facts events get.
pub struct Origin<'a> {
    pub now: Timestamp,
    pub source: Option<&'a Text>,
}

#[derive(Default)]
struct Options {
    chunk: Option<Bytes>,
    gzip: bool,
}

/// A msgpack frame being decoded a batch at a time: a 16 MiB frame of tiny entries holds
/// millions of them, which must not all become events before the first is sent.
pub struct MsgpackFrame {
    tag: Text,
    /// Where the entries are: the frame itself (Forward) or the packed payload (inflated
    /// when compressed).
    entries: Bytes,
    pos: usize,
    /// Forward: entries left to read; PackedForward: `None` (entries until the payload ends).
    left: Option<usize>,
    /// Forward: items after the entry array (the option, and any extra).
    trailing: usize,
    done: bool,
    info: FrameInfo,
}

impl MsgpackFrame {
    /// Reads the frame's head (tag, mode, and for PackedForward its option). A Message frame is
    /// decoded at once: its event is appended to `out`.
    pub fn open(
        frame: Bytes,
        shape: &Shape,
        origin: &Origin<'_>,
        out: &mut Vec<Event>,
    ) -> Result<MsgpackFrame, FrameError> {
        let mut r = Reader::new(&frame);
        let n = match r.item()? {
            Item::Array(n) => n,
            other => return Err(FrameError::NotArray(item_name(&other))),
        };
        if !(2..=4).contains(&n) {
            return Err(FrameError::Arity(n));
        }
        let tag = match r.item()? {
            Item::Str(range) | Item::Bin(range) => r.text(range),
            other => return Err(FrameError::Tag(item_name(&other))),
        };
        let mut decoding = MsgpackFrame {
            tag,
            entries: Bytes::new(),
            pos: 0,
            left: None,
            trailing: 0,
            done: false,
            info: FrameInfo::default(),
        };
        match r.item()? {
            Item::Array(count) => {
                decoding.left = Some(count);
                decoding.trailing = n - 2;
                decoding.pos = r.pos();
                decoding.entries = frame.clone();
            }
            Item::Str(range) | Item::Bin(range) => {
                let packed = r.slice(range);
                // The option says whether the entries are compressed: read it first.
                let options = if n > 2 {
                    read_options(&mut r)?
                } else {
                    Options::default()
                };
                decoding.info.chunk = options.chunk;
                decoding.entries = if options.gzip {
                    gunzip(&packed, shape.max_message_size)?
                } else {
                    packed
                };
            }
            time @ (Item::Int(_)
            | Item::Float(_)
            | Item::Ext(..)
            | Item::Nil
            | Item::BigUint(_)) => {
                if n < 3 {
                    return Err(FrameError::NoRecord);
                }
                let mut build = Builder {
                    shape,
                    origin,
                    tag: &decoding.tag,
                    info: &mut decoding.info,
                    out,
                };
                build.timed_record(&mut r, time)?;
                decoding.info.chunk = trailing_options(&mut r, n - 3)?;
                decoding.done = true;
            }
            other => return Err(FrameError::Entries(item_name(&other))),
        }
        Ok(decoding)
    }

    /// True once every entry has been decoded.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes entries into `out` until it holds `limit` events or the frame is done. Entries
    /// decoded before an error stay in `out`.
    pub fn decode(
        &mut self,
        shape: &Shape,
        origin: &Origin<'_>,
        out: &mut Vec<Event>,
        limit: usize,
    ) -> Result<(), FrameError> {
        let mut r = Reader::at(&self.entries, self.pos);
        let mut build = Builder {
            shape,
            origin,
            tag: &self.tag,
            info: &mut self.info,
            out,
        };
        let result = loop {
            if self.done || build.out.len() >= limit {
                break Ok(());
            }
            let step = match &mut self.left {
                Some(0) => {
                    // Forward: the option follows the entry array in the frame.
                    self.done = true;
                    trailing_options(&mut r, self.trailing).map(|chunk| build.info.chunk = chunk)
                }
                Some(left) => {
                    *left -= 1;
                    build.entry(&mut r)
                }
                None if r.at_end() => {
                    self.done = true;
                    Ok(())
                }
                None => build.entry(&mut r),
            };
            if step.is_err() {
                break step;
            }
        };
        self.pos = r.pos();
        result
    }

    /// What the frame asked for (its `chunk`) and how many entries it skipped.
    pub fn finish(self) -> FrameInfo {
        self.info
    }
}

/// The `n` frame items after the entries: an option map first, then anything extra.
fn trailing_options(r: &mut Reader<'_>, n: usize) -> Result<Option<Bytes>, FrameError> {
    if n == 0 {
        return Ok(None);
    }
    let chunk = read_options(r)?.chunk;
    skip_rest(r, n - 1)?;
    Ok(chunk)
}

/// Turns entries into events for one frame.
struct Builder<'f, 'o> {
    shape: &'f Shape,
    origin: &'f Origin<'o>,
    tag: &'f Text,
    info: &'f mut FrameInfo,
    out: &'f mut Vec<Event>,
}

impl Builder<'_, '_> {
    /// One `[time, record]` entry; a wrongly typed one is skipped.
    fn entry(&mut self, r: &mut Reader<'_>) -> Result<(), FrameError> {
        let n = match r.item()? {
            Item::Array(n) => n,
            other => {
                r.value_of(other, MAX_DEPTH)?;
                self.info.skipped += 1;
                return Ok(());
            }
        };
        if n < 2 {
            for _ in 0..n {
                r.skip()?;
            }
            self.info.skipped += 1;
            return Ok(());
        }
        let time = r.item()?;
        self.timed_record(r, time)?;
        skip_rest(r, n - 2)
    }

    /// The record after a time whose header was just read.
    fn timed_record(&mut self, r: &mut Reader<'_>, time: Item) -> Result<(), FrameError> {
        let Some(timestamp) = self.time(r, time) else {
            r.skip()?;
            self.info.skipped += 1;
            return Ok(());
        };
        let n = match r.item()? {
            Item::Map(n) => n,
            other => {
                r.value_of(other, MAX_DEPTH)?;
                self.info.skipped += 1;
                return Ok(());
            }
        };
        let mut fields = record_map(n, timestamp);
        r.map_into(n, MAX_DEPTH - 1, &mut fields, |key| key != "@timestamp")?;
        self.out
            .push(finish(fields, self.tag, self.shape, self.origin));
        Ok(())
    }

    fn time(&self, r: &mut Reader<'_>, item: Item) -> Option<Timestamp> {
        match item {
            Item::Ext(kind, range) => ext_time(kind, r.raw(range)),
            other => time_of(&plain_time(other)?, self.origin.now),
        }
    }
}

/// A time that is not an ext, as a value for [`time_of`].
fn plain_time(item: Item) -> Option<Value> {
    match item {
        Item::Nil => Some(Value::Null),
        Item::Int(n) => Some(Value::Int(n)),
        Item::Float(f) => Some(Value::Float(f)),
        _ => None,
    }
}

/// An entry's time: seconds (integer or float); 0 and null mean `now`.
fn time_of(value: &Value, now: Timestamp) -> Option<Timestamp> {
    match *value {
        Value::Null | Value::Int(0) => Some(now),
        Value::Int(secs) => secs.checked_mul(1_000_000_000).map(Timestamp::from_nanos),
        Value::Float(secs) => {
            // Whole seconds and fraction apart: `secs * 1e9` would lose the nanoseconds to
            // the float's 53 bits. The range check also refuses NaN and infinities.
            let whole = secs.floor();
            if whole.is_nan() || whole.abs() >= 9e9 {
                return None;
            }
            let nanos = ((secs - whole) * 1e9).round() as i64;
            Some(Timestamp::from_nanos(whole as i64 * 1_000_000_000 + nanos))
        }
        Value::Timestamp(ts) => Some(ts),
        _ => None,
    }
}

/// A fresh event map for a record of `n` keys: `@timestamp` and `@version` first.
fn record_map(n: usize, timestamp: Timestamp) -> Map {
    let mut fields = Map::with_capacity(n.min(64) + 3);
    fields.push_new(names::TIMESTAMP, Value::Timestamp(timestamp));
    fields.push_new(names::VERSION, Value::Str(Text::from_static("1")));
    fields
}

/// The event for a record's fields: `log` to `message`, then the tag and the source address.
fn finish(mut fields: Map, tag: &Text, shape: &Shape, origin: &Origin<'_>) -> Event {
    if let Some(log) = &shape.log_field {
        if !fields.contains_key("message") {
            fields.rename(log, names::MESSAGE);
        }
    }
    let mut event = Event::from_fields(fields, origin.now);
    match &shape.tag {
        TagTarget::Tags => event.add_tag(tag.clone()),
        TagTarget::Field(path) => {
            event.insert(path, Value::Str(tag.clone()));
        }
        TagTarget::Drop => {}
    }
    if let (Some(path), Some(source)) = (&shape.source_field, origin.source) {
        event.insert(path, Value::Str(source.clone()));
    }
    event
}

fn read_options(r: &mut Reader<'_>) -> Result<Options, FrameError> {
    let mut options = Options::default();
    let n = match r.item()? {
        Item::Map(n) => n,
        // No option map (nil, or something odd): nothing asked for.
        other => {
            r.value_of(other, MAX_DEPTH)?;
            return Ok(options);
        }
    };
    for _ in 0..n {
        let key = match r.item()? {
            Item::Str(range) => r.raw(range),
            other => {
                r.value_of(other, MAX_DEPTH)?;
                r.skip()?;
                continue;
            }
        };
        match (key, r.item()?) {
            (b"chunk", Item::Str(range) | Item::Bin(range)) => options.chunk = Some(r.slice(range)),
            (b"compressed", Item::Str(range)) => match r.raw(range) {
                b"gzip" => options.gzip = true,
                b"text" => options.gzip = false,
                other => {
                    return Err(FrameError::Compression(
                        String::from_utf8_lossy(other).into_owned(),
                    ))
                }
            },
            (_, other) => {
                r.value_of(other, MAX_DEPTH)?;
            }
        }
    }
    Ok(options)
}

fn skip_rest(r: &mut Reader<'_>, n: usize) -> Result<(), FrameError> {
    for _ in 0..n {
        r.skip()?;
    }
    Ok(())
}

/// Inflates a gzip stream of one or more members, refusing more than `max` bytes out (a small
/// frame can inflate to gigabytes).
fn gunzip(data: &[u8], max: usize) -> Result<Bytes, FrameError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max));
    flate2::read::MultiGzDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(FrameError::Gzip)?;
    if out.len() > max {
        return Err(FrameError::Inflated(max));
    }
    Ok(Bytes::from(out))
}

fn item_name(item: &Item) -> &'static str {
    match item {
        Item::Nil => "nil",
        Item::Bool(_) => "a boolean",
        Item::Int(_) | Item::BigUint(_) => "an integer",
        Item::Float(_) => "a float",
        Item::Str(_) => "a string",
        Item::Bin(_) => "a binary",
        Item::Array(_) => "an array",
        Item::Map(_) => "a map",
        Item::Ext(..) => "an ext",
    }
}

/// Decodes one complete JSON frame (same shapes as msgpack; PackedForward cannot be written in
/// JSON). On error `out` is left as it was.
pub fn decode_json(
    frame: &Text,
    shape: &Shape,
    origin: &Origin<'_>,
    out: &mut Vec<Event>,
) -> Result<FrameInfo, FrameError> {
    let value =
        crate::event::json::parse_text(frame).map_err(|e| FrameError::Json(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(FrameError::NotArray(value.type_name()));
    };
    if !(2..=4).contains(&items.len()) {
        return Err(FrameError::Arity(items.len()));
    }
    let mut items = items.into_iter();
    let tag = match items.next() {
        Some(Value::Str(tag)) => tag,
        other => return Err(FrameError::Tag(other.map_or("nothing", |v| v.type_name()))),
    };
    let mut info = FrameInfo::default();
    let mut push = |time: &Value, record: Value, info: &mut FrameInfo| match (
        time_of(time, origin.now),
        record,
    ) {
        (Some(timestamp), Value::Map(record)) => {
            let mut fields = record_map(record.len(), timestamp);
            for (key, value) in record {
                if key != "@timestamp" {
                    fields.insert(key, value);
                }
            }
            out.push(finish(fields, &tag, shape, origin));
        }
        _ => info.skipped += 1,
    };
    match items.next() {
        Some(Value::Array(entries)) => {
            for entry in entries {
                match entry {
                    Value::Array(pair) if pair.len() >= 2 => {
                        let mut pair = pair.into_iter();
                        let time = pair.next().unwrap_or(Value::Null);
                        push(&time, pair.next().unwrap_or(Value::Null), &mut info);
                    }
                    _ => info.skipped += 1,
                }
            }
        }
        Some(time @ (Value::Int(_) | Value::Float(_) | Value::Null)) => {
            let record = items.next().ok_or(FrameError::NoRecord)?;
            push(&time, record, &mut info);
        }
        other => {
            return Err(FrameError::Entries(
                other.map_or("nothing", |v| v.type_name()),
            ))
        }
    }
    if let Some(Value::Map(options)) = items.next() {
        if let Some(Value::Str(chunk)) = options.get("chunk") {
            info.chunk = Some(Bytes::copy_from_slice(chunk.as_bytes()));
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            tag: TagTarget::Tags,
            log_field: Some(Text::from_static("log")),
            source_field: None,
            max_message_size: 1 << 20,
        }
    }

    /// Decodes a whole frame, a few entries at a time; on error, what was decoded before it.
    fn decode_in_steps(frame: &[u8]) -> (Vec<Event>, Result<FrameInfo, FrameError>) {
        let mut out = Vec::new();
        let origin = Origin {
            now: Timestamp::from_secs(7),
            source: None,
        };
        let shape = shape();
        let frame = Bytes::copy_from_slice(frame);
        let mut decoding = match MsgpackFrame::open(frame, &shape, &origin, &mut out) {
            Ok(decoding) => decoding,
            Err(e) => return (out, Err(e)),
        };
        while !decoding.is_done() {
            let limit = out.len() + 2;
            if let Err(e) = decoding.decode(&shape, &origin, &mut out, limit) {
                return (out, Err(e));
            }
        }
        (out, Ok(decoding.finish()))
    }

    fn decode(frame: &[u8]) -> Result<(Vec<Event>, FrameInfo), FrameError> {
        let (out, info) = decode_in_steps(frame);
        Ok((out, info?))
    }

    #[test]
    fn message_mode_with_chunk() {
        // ["app", 1500000000, {"log": "hi", "n": 1}, {"chunk": "c1"}]
        let (events, info) =
            decode(b"\x94\xa3app\xce\x59\x68\x2f\x00\x82\xa3log\xa2hi\xa1n\x01\x81\xa5chunk\xa2c1")
                .unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.get_field("message").and_then(Value::as_str), Some("hi"));
        assert!(e.get_field("log").is_none());
        assert_eq!(e.get_field("n"), Some(&Value::Int(1)));
        assert_eq!(
            e.get_field("@timestamp"),
            Some(&Value::Timestamp(Timestamp::from_secs(1_500_000_000)))
        );
        assert_eq!(
            e.get_field("tags"),
            Some(&Value::Array(vec![Value::Str(Text::new("app"))]))
        );
        assert_eq!(info.chunk.as_deref(), Some(&b"c1"[..]));
    }

    #[test]
    fn wrongly_typed_entries_are_skipped_not_fatal() {
        // ["t", [[1, {"a": 1}], [1, "not a map"], ["bad time", {}], 5, [2, {"a": 2}]]]
        let (events, info) = decode(
            b"\x92\xa1t\x95\x92\x01\x81\xa1a\x01\x92\x01\xa9not a map\x92\xa8bad time\x80\x05\x92\x02\x81\xa1a\x02",
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(info.skipped, 3);
        assert_eq!(events[1].get_field("a"), Some(&Value::Int(2)));
    }

    #[test]
    fn bad_frames() {
        // A PackedForward payload whose second entry ends inside its record: the first entry
        // is kept, then the error.
        let (events, result) =
            decode_in_steps(b"\x92\xa1t\xc4\x0b\x92\x01\x81\xa1a\x01\x92\x01\x81\xa1a");
        assert_eq!(events.len(), 1);
        let err = result.unwrap_err();
        assert!(
            matches!(err, FrameError::Msgpack(MsgpackError::Truncated)),
            "{err}"
        );
        assert!(matches!(
            decode(b"\x81\xa1a\x01"),
            Err(FrameError::NotArray("a map"))
        ));
        assert!(matches!(decode(b"\x92\x01\x90"), Err(FrameError::Tag(_))));
        assert!(matches!(decode(b"\x91\xa1t"), Err(FrameError::Arity(1))));
        assert!(matches!(
            decode(b"\x93\xa1t\xc4\x01\x00\x81\xaacompressed\xa3lz4"),
            Err(FrameError::Compression(_))
        ));
        assert!(matches!(
            decode(b"\x93\xa1t\xc4\x03abc\x81\xaacompressed\xa4gzip"),
            Err(FrameError::Gzip(_))
        ));
    }

    #[test]
    fn zero_time_means_now_and_event_time_keeps_nanos() {
        // ["t", 0, {}] and ["t", EventTime(1, 5), {}]
        let (events, _) = decode(b"\x93\xa1t\x00\x80").unwrap();
        assert_eq!(
            events[0].get_field("@timestamp"),
            Some(&Value::Timestamp(Timestamp::from_secs(7)))
        );
        let (events, _) = decode(b"\x93\xa1t\xd7\x00\x00\x00\x00\x01\x00\x00\x00\x05\x80").unwrap();
        assert_eq!(
            events[0].get_field("@timestamp"),
            Some(&Value::Timestamp(Timestamp::from_nanos(1_000_000_005)))
        );
    }

    #[test]
    fn json_frames() {
        let text = Text::new(r#"["t", [[1, {"log": "a"}], [2, "x"]], {"chunk": "k"}]"#);
        let mut out = Vec::new();
        let origin = Origin {
            now: Timestamp::from_secs(7),
            source: None,
        };
        let info = decode_json(&text, &shape(), &origin, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(info.skipped, 1);
        assert_eq!(info.chunk.as_deref(), Some(&b"k"[..]));
        assert_eq!(
            out[0].get_field("message").and_then(Value::as_str),
            Some("a")
        );
    }
}
