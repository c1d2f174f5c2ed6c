//! The `rubydebug` codec: events printed the way Logstash prints them with the Ruby
//! `amazing_print` library (1.x defaults: 4-space indent, array indices, no colours):
//!
//! ```text
//! {
//!        "message" => "hello",
//!     "@timestamp" => 2026-11-21T05:24:00.000Z,
//!           "tags" => [
//!         [0] "a"
//!     ],
//!           "host" => {
//!         "name" => "web-1"
//!     }
//! }
//! ```
//!
//! Keys are right-aligned on the widest key of their hash; strings are Ruby-`inspect`ed
//! (quoted and escaped); timestamps are bare; `nil` for null. `metadata => true` adds
//! `@metadata` as a last key when the event has any. Decoding is not something Logstash's
//! rubydebug does; here its decoder reads each chunk as `plain` would.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_float;
use crate::event::{Event, Map, Text, Timestamp, Value};

use super::{ByteWriter, Charset, Codec, Decoder};

/// amazing_print's indent.
const INDENT: usize = 4;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Options {
    metadata: bool,
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    Ok(Arc::new(RubyDebug {
        metadata: options.metadata,
    }))
}

/// The `rubydebug` codec.
#[derive(Debug, Default)]
pub struct RubyDebug {
    /// Show `@metadata`.
    pub metadata: bool,
}

impl Codec for RubyDebug {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(ChunkDecoder)
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        let show_metadata = self.metadata && !event.metadata().is_empty();
        let entries = || {
            let fields = event.fields().iter().map(|(k, v)| (k, Node::Value(v)));
            let metadata = show_metadata.then(|| (&METADATA, Node::Map(event.metadata())));
            fields.chain(metadata)
        };
        write_hash(entries, INDENT, buf);
        buf.push(b'\n');
    }
}

static METADATA: Text = Text::from_static("@metadata");

/// A chunk is one event (there is no rubydebug parser, in Logstash either).
struct ChunkDecoder;

impl Decoder for ChunkDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        out.push(Event::from_message(Charset::Utf8.text(chunk), now));
    }

    fn flush(&mut self, _now: Timestamp, _out: &mut Vec<Event>) {}
}

/// What a hash entry holds: a value, or a map that is not wrapped in a [`Value`] (metadata).
#[derive(Clone, Copy)]
enum Node<'a> {
    Value(&'a Value),
    Map(&'a Map),
}

/// A hash whose contents are formatted at `indent` (amazing_print's current indentation);
/// `entries` is called twice: once to measure the keys, once to write.
fn write_hash<'a, I>(entries: impl Fn() -> I, indent: usize, buf: &mut Vec<u8>)
where
    I: Iterator<Item = (&'a Text, Node<'a>)>,
{
    let Some(widest) = entries().map(|(k, _)| inspected_width(k)).max() else {
        buf.extend_from_slice(b"{}");
        return;
    };
    let width = widest + indent;
    buf.extend_from_slice(b"{\n");
    for (i, (key, node)) in entries().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b",\n");
        }
        pad(width - inspected_width(key), buf);
        write_quoted(key, buf);
        buf.extend_from_slice(b" => ");
        write_node(node, indent + INDENT, buf);
    }
    buf.push(b'\n');
    pad(indent - INDENT, buf);
    buf.push(b'}');
}

fn write_array(items: &[Value], indent: usize, buf: &mut Vec<u8>) {
    if items.is_empty() {
        buf.extend_from_slice(b"[]");
        return;
    }
    let width = decimal_digits(items.len() - 1);
    buf.extend_from_slice(b"[\n");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b",\n");
        }
        pad(indent, buf);
        buf.push(b'[');
        pad(width - decimal_digits(i), buf);
        buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        buf.extend_from_slice(b"] ");
        write_value(item, indent + INDENT, buf);
    }
    buf.push(b'\n');
    pad(indent - INDENT, buf);
    buf.push(b']');
}

fn write_node(node: Node<'_>, indent: usize, buf: &mut Vec<u8>) {
    match node {
        Node::Value(v) => write_value(v, indent, buf),
        Node::Map(m) => write_map(m, indent, buf),
    }
}

fn write_map(map: &Map, indent: usize, buf: &mut Vec<u8>) {
    write_hash(|| map.iter().map(|(k, v)| (k, Node::Value(v))), indent, buf);
}

fn write_value(value: &Value, indent: usize, buf: &mut Vec<u8>) {
    match value {
        Value::Null => buf.extend_from_slice(b"nil"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(n) => buf.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Float(f) => {
            // Writing to a Vec cannot fail.
            let _ = write_ruby_float(*f, &mut ByteWriter(buf));
        }
        Value::Str(s) => write_quoted(s, buf),
        Value::Timestamp(t) => t.write_iso8601(buf),
        Value::Array(items) => write_array(items, indent, buf),
        Value::Map(map) => write_map(map, indent, buf),
    }
}

fn pad(n: usize, buf: &mut Vec<u8>) {
    buf.resize(buf.len() + n, b' ');
}

fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

fn write_quoted(s: &str, buf: &mut Vec<u8>) {
    buf.push(b'"');
    write_inspected(s.as_bytes(), buf);
    buf.push(b'"');
}

/// The width in characters of `s` as Ruby's `inspect` writes it, quotes included.
fn inspected_width(s: &str) -> usize {
    let mut counter = CharCounter(0);
    inspect_into(s.as_bytes(), &mut counter);
    counter.0 + 2
}

/// Writes `bytes` as Ruby's `String#inspect` does for a UTF-8 string, without the quotes:
/// `"` and `\` escaped, `#{`/`#$`/`#@` escaped, control characters as `\n`, `\e`, `\u0001`,
/// invalid bytes as `\xFF`, everything else as it is.
pub(crate) fn write_inspected(bytes: &[u8], buf: &mut Vec<u8>) {
    inspect_into(bytes, buf);
}

/// Where [`inspect_into`] puts its output: bytes, or a count of characters.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Counts characters (the escapes are ASCII; copied text may be multi-byte).
struct CharCounter(usize);

impl Sink for CharCounter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count();
    }
}

fn inspect_into(bytes: &[u8], out: &mut impl Sink) {
    for chunk in bytes.utf8_chunks() {
        inspect_str(chunk.valid(), out);
        for &b in chunk.invalid() {
            out.put(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn inspect_str(s: &str, out: &mut impl Sink) {
    let mut copied = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let mut unicode = [0u8; 10];
        let escape: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '#' if matches!(next, Some('{' | '$' | '@')) => b"\\#",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            '\x0C' => b"\\f",
            '\x0B' => b"\\v",
            '\x08' => b"\\b",
            '\x07' => b"\\a",
            '\x1B' => b"\\e",
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                unicode_escape(c, &mut unicode)
            }
            _ => continue,
        };
        out.put(&s.as_bytes()[copied..i]);
        out.put(escape);
        copied = i + c.len_utf8();
    }
    out.put(&s.as_bytes()[copied..]);
}

/// `\u001F`: four uppercase hex digits (every character escaped this way is below U+10000).
fn unicode_escape(c: char, buf: &mut [u8; 10]) -> &[u8] {
    let n = c as u32;
    buf[..2].copy_from_slice(b"\\u");
    for (k, shift) in [12, 8, 4, 0].into_iter().enumerate() {
        buf[2 + k] = HEX[((n >> shift) & 15) as usize];
    }
    &buf[..6]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspected(s: &[u8]) -> String {
        let mut buf = Vec::new();
        write_inspected(s, &mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn inspect_escapes_like_ruby() {
        assert_eq!(inspected(b"plain"), "plain");
        assert_eq!(inspected(b"a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(inspected(b"#{x} #$y #@z #a"), "\\#{x} \\#$y \\#@z #a");
        assert_eq!(
            inspected(b"\t\r\n\x1b\x01\x7f"),
            "\\t\\r\\n\\e\\u0001\\u007F"
        );
        assert_eq!(inspected("é\u{2028}".as_bytes()), "é\\u2028");
        assert_eq!(inspected(b"\xff\xfe"), "\\xFF\\xFE");
    }

    #[test]
    fn widths_count_characters_of_the_inspected_form() {
        assert_eq!(inspected_width("message"), 9);
        assert_eq!(inspected_width("é"), 3);
        assert_eq!(inspected_width("a\"b"), 6);
    }

    #[test]
    fn array_indices_are_right_aligned() {
        let items: Vec<Value> = (0..11).map(Value::Int).collect();
        let mut buf = Vec::new();
        write_array(&items, 8, &mut buf);
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("[\n        [ 0] 0,\n"), "{text}");
        assert!(text.ends_with("        [10] 10\n    ]"), "{text}");
    }
}
