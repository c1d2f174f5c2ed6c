//! The `flume` codec: Kafka messages written by Flume's Kafka sink (`useFlumeEventFormat`) or
//! Kafka channel (`parseAsFlumeEvent`), each the Avro binary encoding of one `AvroFlumeEvent`
//! (`{headers: map<string>, body: bytes}`, no container header, magic byte or schema id).
//!
//! Decoding reads the event by hand without copying: header keys and values are [`Text`]s
//! sharing the message's buffer (short ones inline) and go to `target` (default
//! `[flume][headers]`) as a map; the body, a slice of the message, is decoded by `body_codec`
//! (`plain`: it is the `message`; `json`: as the `json` codec does, every event it yields gets
//! the headers; `charset` applies to the body only, Avro strings being UTF-8). A message that
//! is not exactly one Flume event (truncated, a negative or oversized length, a map block
//! whose byte size is wrong, a header that is not UTF-8, bytes left over after the body,
//! more than [`MAX_HEADERS`] header entries) becomes a plain event tagged
//! `_flumeparsefailure`, its `message` the whole message, so nothing is lost.
//!
//! Encoding writes one `AvroFlumeEvent`: the headers are the entries of the map at `target`
//! (values written as Ruby's `to_s` gives them), the body is the `message` (`plain`) or the
//! event as JSON (`json`).
//!
//! Main items: [`Flume`] (the codec), [`parse_event`] / [`parse_event_at`] (one event out of
//! Avro bytes, for the `flume` input too) and [`write_event`] (Avro bytes of one event).

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::{json, Event, FieldPath, Map, Text, Timestamp, Value};

use super::{ByteWriter, Charset, Codec, Decoder};

/// The tag of an event whose message was not a Flume event.
pub const PARSE_FAILURE_TAG: &str = "_flumeparsefailure";

/// The default `target`.
pub const DEFAULT_TARGET: &str = "[flume][headers]";

/// More headers than this make a message "not a Flume event": real events carry a handful,
/// and [`Map`]'s linear lookups would make a crafted map of many distinct keys quadratic.
pub const MAX_HEADERS: usize = 4096;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    body_codec: BodyCodec,
    #[serde(default = "default_target")]
    target: FieldPath,
    #[serde(default)]
    charset: Charset,
}

fn default_target() -> FieldPath {
    // A constant that parses (the tests build the codec with its defaults).
    FieldPath::parse(DEFAULT_TARGET).expect("valid default target")
}

/// How the body of a Flume event becomes (and is made from) an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum BodyCodec {
    /// The body is the `message`.
    #[default]
    Plain,
    /// The body is a JSON document, decoded as the `json` codec does.
    Json,
}

impl TryFrom<String> for BodyCodec {
    type Error = String;

    fn try_from(name: String) -> Result<BodyCodec, String> {
        match name.as_str() {
            "plain" => Ok(BodyCodec::Plain),
            "json" => Ok(BodyCodec::Json),
            _ => Err(format!(
                "unsupported body_codec \"{name}\" (supported: plain, json)"
            )),
        }
    }
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    Ok(Arc::new(Flume {
        body_codec: options.body_codec,
        target: Arc::new(options.target),
        charset: options.charset,
    }))
}

/// The `flume` codec.
#[derive(Debug)]
pub struct Flume {
    body_codec: BodyCodec,
    target: Arc<FieldPath>,
    charset: Charset,
}

impl Codec for Flume {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(FlumeDecoder {
            body_codec: self.body_codec,
            target: self.target.clone(),
            charset: self.charset,
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        let headers = event.get(&self.target).and_then(Value::as_map);
        write_header_map(headers, buf);
        match self.body_codec {
            BodyCodec::Plain => match event.get_field("message") {
                Some(Value::Str(s)) => write_bytes(s.as_bytes(), buf),
                Some(other) => write_prefixed(buf, |buf| ruby_to_s(other, buf)),
                None => write_long(0, buf),
            },
            BodyCodec::Json => write_prefixed(buf, |buf| json::write_event(event, buf)),
        }
    }
}

struct FlumeDecoder {
    body_codec: BodyCodec,
    target: Arc<FieldPath>,
    charset: Charset,
}

impl Decoder for FlumeDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let (headers, body) = match parse_event(&chunk) {
            Ok(parts) => parts,
            Err(_) => {
                let mut event = Event::from_message(self.charset.text(chunk), now);
                event.add_tag(Text::from_static(PARSE_FAILURE_TAG));
                out.push(event);
                return;
            }
        };
        let body = self.charset.text(body);
        match self.body_codec {
            BodyCodec::Plain => {
                let mut event = Event::from_message(body, now);
                event.insert(&self.target, Value::Map(headers));
                out.push(event);
            }
            BodyCodec::Json => self.decode_json_body(body, headers, now, out),
        }
    }

    fn flush(&mut self, _now: Timestamp, _out: &mut Vec<Event>) {}
}

impl FlumeDecoder {
    /// Every event the JSON body yields gets the headers; a blank body, which yields none,
    /// still gives one event holding the headers so the Flume event is not lost.
    fn decode_json_body(&self, body: Text, headers: Map, now: Timestamp, out: &mut Vec<Event>) {
        let first = out.len();
        super::json::decode_document(body, None, now, out);
        if out.len() == first {
            out.push(Event::new(now));
        }
        let last = out.len() - 1;
        for event in &mut out[first..last] {
            event.insert(&self.target, Value::Map(headers.clone()));
        }
        out[last].insert(&self.target, Value::Map(headers));
    }
}

/// Why bytes are not one Avro-encoded `AvroFlumeEvent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlumeError {
    #[error("truncated Flume event")]
    Truncated,
    #[error("Avro long longer than 10 bytes")]
    LongOverflow,
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("length {0} exceeds the bytes left")]
    TooLong(i64),
    #[error("header map block declares {declared} bytes but holds {actual}")]
    BlockSize { declared: i64, actual: usize },
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("header is not UTF-8")]
    NotUtf8,
    #[error("{0} bytes after the Flume event")]
    TrailingBytes(usize),
}

/// Reads `message` as exactly one `AvroFlumeEvent`: its headers (map of string values) and
/// its body (a slice of `message`). Bytes left after the body make it an error.
pub fn parse_event(message: &Bytes) -> Result<(Map, Bytes), FlumeError> {
    let mut pos = 0;
    let parts = parse_event_at(message, &mut pos)?;
    match message.len() - pos {
        0 => Ok(parts),
        left => Err(FlumeError::TrailingBytes(left)),
    }
}

/// Reads one `AvroFlumeEvent` starting at `*pos` in `buf` and moves `*pos` past it (for a
/// stream or array of events, as Avro RPC's `appendBatch` carries).
pub fn parse_event_at(buf: &Bytes, pos: &mut usize) -> Result<(Map, Bytes), FlumeError> {
    let mut reader = Reader { buf, pos: *pos };
    let headers = reader.header_map()?;
    let body = reader.bytes()?;
    *pos = reader.pos;
    Ok((headers, body))
}

/// A cursor over Avro binary data; every read checks the bytes left, so garbage gives an error.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A zigzag varint long (at most 10 bytes, as Avro's Java decoder allows).
    fn long(&mut self) -> Result<i64, FlumeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self.buf.get(self.pos).ok_or(FlumeError::Truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(FlumeError::LongOverflow)
    }

    /// A length prefix that fits in the bytes left.
    fn len(&mut self) -> Result<usize, FlumeError> {
        let n = self.long()?;
        match usize::try_from(n) {
            Err(_) => Err(FlumeError::NegativeLength(n)),
            Ok(len) if len > self.left() => Err(FlumeError::TooLong(n)),
            Ok(len) => Ok(len),
        }
    }

    /// Avro `bytes`: a slice of the buffer.
    fn bytes(&mut self) -> Result<Bytes, FlumeError> {
        let len = self.len()?;
        let slice = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(slice)
    }

    /// Avro `string`, sharing the buffer.
    fn text(&mut self) -> Result<Text, FlumeError> {
        Text::from_utf8(self.bytes()?).map_err(|_| FlumeError::NotUtf8)
    }

    /// A `map<string>`: blocks of `count` entries (a negative count is followed by the block's
    /// byte size, which must match), ended by a zero count. A repeated key keeps its last value,
    /// as Avro's Java decoder (a `HashMap`) does. At most [`MAX_HEADERS`] entries in all, so
    /// the work per message stays linear in its size.
    fn header_map(&mut self) -> Result<Map, FlumeError> {
        let mut map = Map::new();
        let mut entries = 0;
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(map);
            }
            let declared = if count < 0 { Some(self.long()?) } else { None };
            let count = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
            entries = self.check_count(count, entries)?;
            if map.is_empty() {
                map = Map::with_capacity(count);
            }
            let start = self.pos;
            self.block(count, &mut map)?;
            if let Some(declared) = declared {
                let actual = self.pos - start;
                if usize::try_from(declared) != Ok(actual) {
                    return Err(FlumeError::BlockSize { declared, actual });
                }
            }
        }
    }

    /// Refuses a block count before anything is allocated for it: each entry takes at least
    /// two bytes (two empty strings), and the map at most [`MAX_HEADERS`] entries. Returns the
    /// entries read so far with this block's.
    fn check_count(&self, count: usize, entries: usize) -> Result<usize, FlumeError> {
        let total = entries.saturating_add(count);
        if total > MAX_HEADERS {
            Err(FlumeError::TooManyHeaders)
        } else if count > self.left() / 2 {
            Err(FlumeError::Truncated)
        } else {
            Ok(total)
        }
    }

    fn block(&mut self, count: usize, map: &mut Map) -> Result<(), FlumeError> {
        for _ in 0..count {
            let key = self.text()?;
            let value = self.text()?;
            map.insert(key, Value::Str(value));
        }
        Ok(())
    }
}

/// Appends the Avro encoding of one `AvroFlumeEvent` with these headers and body.
pub fn write_event<'a>(
    headers: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    buf: &mut Vec<u8>,
) {
    if headers.len() > 0 {
        write_long(headers.len() as i64, buf);
        for (key, value) in headers {
            write_bytes(key.as_bytes(), buf);
            write_bytes(value.as_bytes(), buf);
        }
    }
    write_long(0, buf);
    write_bytes(body, buf);
}

/// The header map from the event's `target` map, one block (what Avro's Java encoder writes).
fn write_header_map(headers: Option<&Map>, buf: &mut Vec<u8>) {
    if let Some(headers) = headers.filter(|m| !m.is_empty()) {
        write_long(headers.len() as i64, buf);
        for (key, value) in headers.iter() {
            write_bytes(key.as_bytes(), buf);
            match value {
                Value::Str(s) => write_bytes(s.as_bytes(), buf),
                other => write_prefixed(buf, |buf| ruby_to_s(other, buf)),
            }
        }
    }
    write_long(0, buf);
}

fn ruby_to_s(value: &Value, buf: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write_ruby_string(value, &mut ByteWriter(buf));
}

/// Appends a zigzag varint long.
pub fn write_long(n: i64, buf: &mut Vec<u8>) {
    let (bytes, len) = encode_long(n);
    buf.extend_from_slice(&bytes[..len]);
}

/// A zigzag varint long: its bytes and how many of them are used.
fn encode_long(n: i64) -> ([u8; 10], usize) {
    let mut bytes = [0u8; 10];
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    let mut len = 0;
    while v >= 0x80 {
        bytes[len] = (v as u8) | 0x80;
        v >>= 7;
        len += 1;
    }
    bytes[len] = v as u8;
    (bytes, len + 1)
}

/// Appends Avro `bytes`/`string`: length, then the bytes.
fn write_bytes(bytes: &[u8], buf: &mut Vec<u8>) {
    write_long(bytes.len() as i64, buf);
    buf.extend_from_slice(bytes);
}

/// Appends what `write` writes, preceded by its length, without a scratch buffer: the content
/// is written first, then moved up to make room for the length.
fn write_prefixed(buf: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    write(buf);
    let len = buf.len() - start;
    let (prefix, n) = encode_long(len as i64);
    buf.resize(buf.len() + n, 0);
    buf.copy_within(start..start + len, start + n);
    buf[start..start + n].copy_from_slice(&prefix[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<(Map, Bytes), FlumeError> {
        parse_event(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn reads_the_reference_example() {
        // {host: "a"}, body "hi" (protocols notes, section 3).
        let (headers, body) =
            parse(&[2, 8, b'h', b'o', b's', b't', 2, b'a', 0, 4, b'h', b'i']).expect("valid event");
        assert_eq!(headers.get("host").and_then(Value::as_str), Some("a"));
        assert_eq!(&body[..], b"hi");
    }

    #[test]
    fn longs_round_trip_through_zigzag() {
        for n in [0, 1, -1, 63, -64, 64, 300, -300, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            write_long(n, &mut buf);
            let bytes = Bytes::from(buf);
            let mut reader = Reader {
                buf: &bytes,
                pos: 0,
            };
            assert_eq!(reader.long(), Ok(n));
            assert_eq!(reader.pos, bytes.len());
        }
    }

    #[test]
    fn eleven_byte_long_is_an_error() {
        assert_eq!(parse(&[0xff; 11]), Err(FlumeError::LongOverflow));
    }

    #[test]
    fn prefixed_write_matches_direct_write() {
        for len in [0usize, 1, 63, 64, 200, 20_000] {
            let content = vec![b'x'; len];
            let mut direct = vec![9u8];
            write_bytes(&content, &mut direct);
            let mut prefixed = vec![9u8];
            write_prefixed(&mut prefixed, |buf| buf.extend_from_slice(&content));
            assert_eq!(direct, prefixed, "length {len}");
        }
    }

    #[test]
    fn block_size_must_match() {
        // One block of -1 entries declared 4 bytes: "a" -> "b" takes 4.
        assert!(parse(&[1, 8, 2, b'a', 2, b'b', 0, 0]).is_ok());
        assert_eq!(
            parse(&[1, 10, 2, b'a', 2, b'b', 0, 0]),
            Err(FlumeError::BlockSize {
                declared: 5,
                actual: 4
            })
        );
    }

    /// `blocks` blocks of `count` empty-key, empty-value entries, then an empty body.
    fn empty_entries(blocks: usize, count: usize) -> Vec<u8> {
        let mut buf = Vec::new();
        for _ in 0..blocks {
            write_long(count as i64, &mut buf);
            buf.resize(buf.len() + 2 * count, 0);
        }
        buf.extend_from_slice(&[0, 0]);
        buf
    }

    #[test]
    fn header_entries_are_capped_across_blocks() {
        let (headers, _) = parse(&empty_entries(1, MAX_HEADERS)).expect("at the cap");
        assert_eq!(headers.len(), 1, "a repeated key keeps one entry");
        assert_eq!(
            parse(&empty_entries(1, MAX_HEADERS + 1)),
            Err(FlumeError::TooManyHeaders)
        );
        assert_eq!(
            parse(&empty_entries(2, MAX_HEADERS / 2 + 1)),
            Err(FlumeError::TooManyHeaders)
        );
    }
}
