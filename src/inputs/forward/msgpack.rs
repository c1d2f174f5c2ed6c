//! MessagePack for the forward input: finding where one value ends in a stream ([`Scanner`])
//! and reading a complete one into event [`Value`]s ([`Reader`]).
//!
//! Hand-written rather than a general msgpack library because the input needs three things
//! such libraries do not give together:
//! - a scan that never allocates what a header declares: every length is checked against the
//!   bytes the frame may still have (`max_message_size`) before anything waits for them, so a
//!   header claiming 4 GiB is an error at once, not an allocation or a stall;
//! - a resumable scan, so a large frame arriving in many reads is scanned once, not once per
//!   read;
//! - strings that share the read buffer: a `log` line longer than [`Text`]'s inline capacity
//!   becomes a slice of the frame's [`Bytes`], never a copy.
//!
//! The [`Reader`] only ever reads frames the scanner found complete, but still checks every
//! bound, so a bug in one cannot make the other panic.

use bytes::Bytes;

use crate::event::{Map, Text, Timestamp, Value, INLINE_CAP};

/// How deep arrays and maps may nest inside a record (deeper frames are refused, so the
/// recursive reader cannot exhaust the stack).
pub const MAX_DEPTH: usize = 64;

/// Maps larger than this are de-duplicated through a hash set rather than by [`Map::insert`]'s
/// linear scan, which would be quadratic in a hostile map with a million keys.
const LINEAR_MAP_MAX: usize = 32;

/// Why a msgpack value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    #[error("invalid msgpack: byte 0x{0:02x} starts no value")]
    BadMarker(u8),
    #[error("a msgpack value declares more than max_message_size ({0} bytes)")]
    TooLarge(usize),
    #[error("msgpack value ends early")]
    Truncated,
    #[error("values nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// A whole value occupies the first `n` bytes.
    Complete(usize),
    /// More bytes are needed; at least `need` more (a hint for how much to read).
    Incomplete { need: usize },
}

/// Finds the end of one msgpack value at the start of a growing buffer, without decoding it.
///
/// The state is a position and a count of values still to skip (an array of `n` adds `n`, a
/// map `2n`), so no stack is needed and a scan that ran out of bytes resumes where it stopped
/// when the buffer has grown. The buffer's prefix must not change between calls; call
/// [`Scanner::reset`] after taking a complete value off the buffer.
#[derive(Debug, Clone)]
pub struct Scanner {
    pos: usize,
    remaining: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            pos: 0,
            remaining: 1,
        }
    }
}

impl Scanner {
    pub fn reset(&mut self) {
        *self = Scanner::default();
    }

    /// Scans `buf` (which starts with the value) onwards from where the last call stopped.
    /// A value longer than `max` bytes, or one whose headers declare more, is an error.
    pub fn scan(&mut self, buf: &[u8], max: usize) -> Result<Scan, MsgpackError> {
        while self.remaining > 0 {
            let Some(head) = peek_head(&buf[self.pos.min(buf.len())..])? else {
                return Ok(Scan::Incomplete { need: 1 });
            };
            let end = (self.pos as u64)
                .saturating_add(head.header as u64)
                .saturating_add(head.payload);
            if end > max as u64 {
                return Err(MsgpackError::TooLarge(max));
            }
            // Every value takes at least one byte: children beyond the frame limit cannot fit.
            let remaining = self.remaining - 1 + head.children;
            if remaining.saturating_add(end) > max as u64 {
                return Err(MsgpackError::TooLarge(max));
            }
            let end = end as usize;
            if end > buf.len() {
                return Ok(Scan::Incomplete {
                    need: end - buf.len(),
                });
            }
            self.pos = end;
            self.remaining = remaining;
        }
        Ok(Scan::Complete(self.pos))
    }
}

/// A value's header: its size, the size of its payload (string, binary, ext data) and how many
/// values follow as its children.
struct Head {
    header: usize,
    payload: u64,
    children: u64,
}

/// Reads the header at the start of `buf`; `None` when `buf` ends inside it.
fn peek_head(buf: &[u8]) -> Result<Option<Head>, MsgpackError> {
    let Some(&marker) = buf.first() else {
        return Ok(None);
    };
    let fixed = |header: usize| Head {
        header,
        payload: 0,
        children: 0,
    };
    // (header size, bytes of the length that follows the marker, what the length counts)
    let (header, len_bytes, kind) = match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => return Ok(Some(fixed(1))),
        0x80..=0x8f => {
            return Ok(Some(Head {
                header: 1,
                payload: 0,
                children: 2 * u64::from(marker & 0x0f),
            }))
        }
        0x90..=0x9f => {
            return Ok(Some(Head {
                header: 1,
                payload: 0,
                children: u64::from(marker & 0x0f),
            }))
        }
        0xa0..=0xbf => {
            return Ok(Some(Head {
                header: 1,
                payload: u64::from(marker & 0x1f),
                children: 0,
            }))
        }
        0xcc | 0xd0 => return Ok(Some(fixed(2))),
        0xcd | 0xd1 => return Ok(Some(fixed(3))),
        0xce | 0xd2 | 0xca => return Ok(Some(fixed(5))),
        0xcf | 0xd3 | 0xcb => return Ok(Some(fixed(9))),
        0xd4 => return Ok(Some(fixed(3))),
        0xd5 => return Ok(Some(fixed(4))),
        0xd6 => return Ok(Some(fixed(6))),
        0xd7 => return Ok(Some(fixed(10))),
        0xd8 => return Ok(Some(fixed(18))),
        0xc4 | 0xd9 => (2, 1, Kind::Payload),
        0xc5 | 0xda => (3, 2, Kind::Payload),
        0xc6 | 0xdb => (5, 4, Kind::Payload),
        // ext: the length, then a type byte.
        0xc7 => (3, 1, Kind::Payload),
        0xc8 => (4, 2, Kind::Payload),
        0xc9 => (6, 4, Kind::Payload),
        0xdc => (3, 2, Kind::Items),
        0xdd => (5, 4, Kind::Items),
        0xde => (3, 2, Kind::Pairs),
        0xdf => (5, 4, Kind::Pairs),
        0xc1 => return Err(MsgpackError::BadMarker(marker)),
    };
    if buf.len() < header {
        return Ok(None);
    }
    let len = be_uint(&buf[1..1 + len_bytes]);
    Ok(Some(match kind {
        Kind::Payload => Head {
            header,
            payload: len,
            children: 0,
        },
        Kind::Items => Head {
            header,
            payload: 0,
            children: len,
        },
        Kind::Pairs => Head {
            header,
            payload: 0,
            children: 2 * len,
        },
    }))
}

enum Kind {
    Payload,
    Items,
    Pairs,
}

fn be_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b))
}

/// One decoded header, with the payload of strings, binaries and exts as a range of the frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Nil,
    Bool(bool),
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    BigUint(u64),
    Float(f64),
    Str(std::ops::Range<usize>),
    Bin(std::ops::Range<usize>),
    Array(usize),
    Map(usize),
    Ext(i8, std::ops::Range<usize>),
}

/// Reads values out of a complete frame (or a payload inside one), sharing its buffer.
pub struct Reader<'a> {
    bytes: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a Bytes) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// A reader starting at `pos` (resuming where an earlier one stopped).
    pub fn at(bytes: &'a Bytes, pos: usize) -> Reader<'a> {
        Reader { bytes, pos }
    }

    /// How far the reader has read.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// True when every byte has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The bytes a range returned in an [`Item`] covers, borrowed.
    pub fn raw(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        let bytes: &'a Bytes = self.bytes;
        bytes.get(range).unwrap_or_default()
    }

    /// The bytes a range returned in an [`Item`] covers, shared.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Bytes {
        self.bytes.slice(range)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let bytes: &'a Bytes = self.bytes;
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Truncated)?;
        let part = bytes.get(self.pos..end).ok_or(MsgpackError::Truncated)?;
        self.pos = end;
        Ok(part)
    }

    fn uint(&mut self, n: usize) -> Result<u64, MsgpackError> {
        Ok(be_uint(self.take(n)?))
    }

    fn range(&mut self, len: u64) -> Result<std::ops::Range<usize>, MsgpackError> {
        let len = usize::try_from(len).map_err(|_| MsgpackError::Truncated)?;
        let start = self.pos;
        self.take(len)?;
        Ok(start..self.pos)
    }

    /// Reads the next header (and skips past a string's, binary's or ext's payload).
    pub fn item(&mut self) -> Result<Item, MsgpackError> {
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x00..=0x7f => Item::Int(i64::from(marker)),
            0xe0..=0xff => Item::Int(i64::from(marker as i8)),
            0x80..=0x8f => Item::Map(usize::from(marker & 0x0f)),
            0x90..=0x9f => Item::Array(usize::from(marker & 0x0f)),
            0xa0..=0xbf => Item::Str(self.range(u64::from(marker & 0x1f))?),
            0xc0 => Item::Nil,
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4..=0xc6 => {
                let len = self.uint(1 << (marker - 0xc4))?;
                Item::Bin(self.range(len)?)
            }
            0xc7..=0xc9 => {
                let len = self.uint(1 << (marker - 0xc7))?;
                let kind = self.take(1)?[0] as i8;
                Item::Ext(kind, self.range(len)?)
            }
            0xca => Item::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Item::Float(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => {
                let n = self.uint(1 << (marker - 0xcc))?;
                i64::try_from(n).map_or(Item::BigUint(n), Item::Int)
            }
            0xd0..=0xd3 => {
                let width = 1usize << (marker - 0xd0);
                let n = self.uint(width)?;
                // Sign-extend from `width` bytes.
                let shift = 64 - 8 * width as u32;
                Item::Int(((n << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => {
                let kind = self.take(1)?[0] as i8;
                Item::Ext(kind, self.range(1 << (marker - 0xd4))?)
            }
            0xd9..=0xdb => {
                let len = self.uint(1 << (marker - 0xd9))?;
                Item::Str(self.range(len)?)
            }
            0xdc | 0xdd => Item::Array(self.count(marker - 0xdc)?),
            0xde | 0xdf => Item::Map(self.count(marker - 0xde)?),
            0xc1 => return Err(MsgpackError::BadMarker(marker)),
        })
    }

    /// An array or map length (16 bits for `wide == 0`, 32 for `wide == 1`).
    fn count(&mut self, wide: u8) -> Result<usize, MsgpackError> {
        let n = self.uint(if wide == 0 { 2 } else { 4 })?;
        usize::try_from(n).map_err(|_| MsgpackError::Truncated)
    }

    /// Skips one whole value.
    pub fn skip(&mut self) -> Result<(), MsgpackError> {
        let mut remaining: usize = 1;
        while remaining > 0 {
            remaining -= 1;
            match self.item()? {
                Item::Array(n) => remaining = remaining.saturating_add(n),
                Item::Map(n) => remaining = remaining.saturating_add(n.saturating_mul(2)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads one whole value.
    #[cfg(test)]
    pub fn value(&mut self) -> Result<Value, MsgpackError> {
        self.value_at(MAX_DEPTH)
    }

    fn value_at(&mut self, depth: usize) -> Result<Value, MsgpackError> {
        let item = self.item()?;
        self.value_of(item, depth)
    }

    /// The value that starts with `item` (whose header was just read).
    pub fn value_of(&mut self, item: Item, depth: usize) -> Result<Value, MsgpackError> {
        Ok(match item {
            Item::Nil => Value::Null,
            Item::Bool(b) => Value::Bool(b),
            Item::Int(n) => Value::Int(n),
            // No wider integer type: the nearest float, as the JSON parser does.
            Item::BigUint(n) => Value::Float(n as f64),
            Item::Float(f) => Value::Float(f),
            Item::Str(range) | Item::Bin(range) => Value::Str(self.text(range)),
            Item::Ext(kind, range) => ext_value(kind, &self.bytes[range]),
            Item::Array(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(self.value_at(depth)?);
                }
                Value::Array(items)
            }
            Item::Map(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                let mut map = Map::with_capacity(n.min(64));
                self.map_into(n, depth, &mut map, |_| true)?;
                Value::Map(map)
            }
        })
    }

    /// Reads `n` key/value pairs into `map`, skipping the keys `keep` refuses. A repeated key
    /// keeps its first place and its last value (as the JSON parser does).
    pub fn map_into(
        &mut self,
        n: usize,
        depth: usize,
        map: &mut Map,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), MsgpackError> {
        if n <= LINEAR_MAP_MAX {
            for _ in 0..n {
                let key = self.key(depth)?;
                if keep(&key) {
                    let value = self.value_at(depth)?;
                    map.insert(key, value);
                } else {
                    self.skip()?;
                }
            }
            return Ok(());
        }
        let mut seen: std::collections::HashMap<Text, usize> = map
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let mut pairs: Vec<(Text, Value)> = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let key = self.key(depth)?;
            if !keep(&key) {
                self.skip()?;
                continue;
            }
            let value = self.value_at(depth)?;
            match seen.get(&key) {
                // Already in `map` (index below its length) or in `pairs` (offset by it).
                Some(&i) if i < map.len() => {
                    map.insert(key, value);
                }
                Some(&i) => pairs[i - map.len()].1 = value,
                None => {
                    seen.insert(key.clone(), map.len() + pairs.len());
                    pairs.push((key, value));
                }
            }
        }
        for (key, value) in pairs {
            map.push_new(key, value);
        }
        Ok(())
    }

    /// A map key as text: strings as they are, anything else as it prints (`1`, `true`).
    /// `depth` is what is left for an array or map used as a key.
    fn key(&mut self, depth: usize) -> Result<Text, MsgpackError> {
        match self.item()? {
            Item::Str(range) | Item::Bin(range) => Ok(self.text(range)),
            Item::Int(n) => Ok(Text::from_string(n.to_string())),
            Item::BigUint(n) => Ok(Text::from_string(n.to_string())),
            Item::Bool(b) => Ok(Text::from_static(if b { "true" } else { "false" })),
            Item::Nil => Ok(Text::from_static("")),
            Item::Float(f) => Ok(Text::from_string(f.to_string())),
            other => {
                // Arrays, maps and exts as keys: read past them; the key is their type name.
                let name = match other {
                    Item::Array(_) => "array",
                    Item::Map(_) => "map",
                    _ => "ext",
                };
                self.value_of(other, depth)?;
                Ok(Text::from_static(name))
            }
        }
    }

    /// The text of a string or binary payload: shared with the frame when it is valid UTF-8
    /// and too long to be inline, otherwise copied (invalid sequences become U+FFFD).
    pub fn text(&self, range: std::ops::Range<usize>) -> Text {
        let raw = self.raw(range.clone());
        // Short strings (keys, most values) are stored inline: copying them straight from the
        // frame saves two reference-count updates on the shared buffer.
        if raw.len() <= INLINE_CAP {
            if let Ok(s) = std::str::from_utf8(raw) {
                return Text::new(s);
            }
        } else if let Ok(text) = Text::from_utf8(self.bytes.slice(range)) {
            return text;
        }
        Text::from_string(String::from_utf8_lossy(raw).into_owned())
    }
}

/// fluentd's EventTime (ext type 0: big-endian u32 seconds, u32 nanoseconds), or msgpack's own
/// timestamp (ext type -1, 4, 8 or 12 bytes); `None` for any other ext.
pub fn ext_time(kind: i8, data: &[u8]) -> Option<Timestamp> {
    let (secs, nanos) = match (kind, data.len()) {
        (0, 8) => (be_uint(&data[..4]) as i64, be_uint(&data[4..])),
        (-1, 4) => (be_uint(data) as i64, 0),
        (-1, 8) => {
            let n = be_uint(data);
            ((n & 0x3_ffff_ffff) as i64, n >> 34)
        }
        (-1, 12) => (be_uint(&data[4..]) as i64, be_uint(&data[..4])),
        _ => return None,
    };
    let nanos = secs
        .checked_mul(1_000_000_000)?
        .checked_add(nanos.min(999_999_999) as i64)?;
    Some(Timestamp::from_nanos(nanos))
}

/// An ext inside a record: times become timestamps; other types have no meaning here and
/// become null.
fn ext_value(kind: i8, data: &[u8]) -> Value {
    ext_time(kind, data).map_or(Value::Null, Value::Timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(buf: &[u8]) -> Result<Scan, MsgpackError> {
        Scanner::default().scan(buf, 1 << 20)
    }

    #[test]
    fn scans_nested_values_and_resumes() {
        // ["t", 1, {"a": [1, 2], "b": "xy"}]
        let frame = b"\x93\xa1t\x01\x82\xa1a\x92\x01\x02\xa1b\xa2xy";
        assert_eq!(scan_all(frame), Ok(Scan::Complete(frame.len())));
        let mut scanner = Scanner::default();
        for cut in 0..frame.len() {
            assert!(matches!(
                scanner.scan(&frame[..cut], 1 << 20),
                Ok(Scan::Incomplete { .. })
            ));
        }
        assert_eq!(
            scanner.scan(frame, 1 << 20),
            Ok(Scan::Complete(frame.len()))
        );
    }

    #[test]
    fn huge_declared_sizes_fail_at_once() {
        // bin32 of 4 GiB, array32 of 4G items, map32 of 4G pairs: nothing follows.
        for frame in [
            &b"\xc6\xff\xff\xff\xff"[..],
            &b"\xdd\xff\xff\xff\xff"[..],
            &b"\xdf\xff\xff\xff\xff"[..],
        ] {
            assert_eq!(
                Scanner::default().scan(frame, 1 << 20),
                Err(MsgpackError::TooLarge(1 << 20))
            );
        }
        assert_eq!(
            scan_all(b"\xc1"),
            Err(MsgpackError::BadMarker(0xc1)),
            "0xc1 is never used"
        );
    }

    #[test]
    fn reads_every_kind_of_value() {
        // [-1, -200, 300, 2^64-1, 1.5, nil, true, bin "\xff", {1: "v"}, ext0 EventTime]
        let bytes = Bytes::from_static(
            b"\x9a\xff\xd1\xff\x38\xcd\x01\x2c\xcf\xff\xff\xff\xff\xff\xff\xff\xff\
              \xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xc0\xc3\xc4\x01\xff\x81\x01\xa1v\
              \xd7\x00\x00\x00\x00\x02\x00\x00\x00\x07",
        );
        let value = Reader::new(&bytes).value().unwrap();
        let Value::Array(items) = value else {
            panic!("{value:?}")
        };
        assert_eq!(items[0], Value::Int(-1));
        assert_eq!(items[1], Value::Int(-200));
        assert_eq!(items[2], Value::Int(300));
        assert_eq!(items[3], Value::Float(u64::MAX as f64));
        assert_eq!(items[4], Value::Float(1.5));
        assert_eq!(items[5], Value::Null);
        assert_eq!(items[6], Value::Bool(true));
        assert_eq!(items[7].as_str(), Some("\u{fffd}"));
        assert_eq!(
            items[8].as_map().unwrap().get("1").unwrap().as_str(),
            Some("v")
        );
        assert_eq!(
            items[9],
            Value::Timestamp(Timestamp::from_nanos(2_000_000_007))
        );
    }

    #[test]
    fn long_strings_share_the_frame() {
        let mut frame = vec![0xd9, 40];
        frame.extend_from_slice(&[b'x'; 40]);
        let bytes = Bytes::from(frame);
        let Value::Str(text) = Reader::new(&bytes).value().unwrap() else {
            panic!()
        };
        assert_eq!(text.as_ptr(), bytes[2..].as_ptr());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut frame = vec![0x91; 10_000];
        frame.push(0x01);
        let bytes = Bytes::from(frame);
        assert_eq!(scan_all(&bytes), Ok(Scan::Complete(bytes.len())));
        assert_eq!(Reader::new(&bytes).value(), Err(MsgpackError::TooDeep));
    }

    #[test]
    fn large_maps_deduplicate_keys() {
        // A 40-pair map whose keys are 0..39 with key 5 repeated at the end.
        let mut frame = vec![0xde, 0, 41];
        for i in 0..40u8 {
            frame.extend_from_slice(&[i, i]);
        }
        frame.extend_from_slice(&[5, 0x7f]);
        let bytes = Bytes::from(frame);
        let value = Reader::new(&bytes).value().unwrap();
        let map = value.as_map().unwrap();
        assert_eq!(map.len(), 40);
        assert_eq!(map.get("5"), Some(&Value::Int(0x7f)));
        assert_eq!(map.keys().nth(5).map(|k| k.as_str()), Some("5"));
    }
}
