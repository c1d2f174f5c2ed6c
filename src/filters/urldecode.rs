//! The `urldecode` filter: decodes `%XX` escapes in one field (`field`, default `message`) or in
//! every top-level field (`all_fields`).
//!
//! As logstash-filter-urldecode does: only runs of `%XX` are decoded (`+` stays a `+`); strings in
//! arrays and hashes are decoded too; other values are left alone. The decoded bytes are read in
//! `charset` and converted to UTF-8 (undecodable bytes become U+FFFD); with the default UTF-8, a
//! result that is not valid UTF-8 is written with Ruby's `inspect` escapes (`\xFF`), as
//! Logstash's `Charset` converter does. The common options always apply; `tag_on_failure`
//! (`_urldecodefailure`) marks events whose field names Logstash cannot set (an invalid field
//! reference met with `all_fields`).
//!
//! [`Urldecode`] is the built filter; [`decode`] the decoding itself.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::config::options::OneOrMany;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};
use crate::filters::common::failure_tags;

use super::Filter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrldecodeOptions {
    #[serde(default = "message")]
    field: String,
    #[serde(default)]
    all_fields: bool,
    #[serde(default)]
    tag_on_failure: Option<OneOrMany<String>>,
    #[serde(default)]
    charset: Option<String>,
}

fn message() -> String {
    "message".to_string()
}

/// The character sets `charset` accepts: how bytes become characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// US-ASCII: bytes above 0x7f are invalid.
    Ascii,
    /// ASCII-8BIT / BINARY: bytes above 0x7f have no character.
    Binary,
    /// Windows-1252.
    Cp1252,
}

impl Charset {
    /// Ruby's names (and aliases) for the supported encodings, case-insensitively.
    pub fn from_name(name: &str) -> Option<Charset> {
        const NAMES: &[(&str, Charset)] = &[
            ("UTF-8", Charset::Utf8),
            ("CP65001", Charset::Utf8),
            ("ISO-8859-1", Charset::Latin1),
            ("ISO8859-1", Charset::Latin1),
            ("US-ASCII", Charset::Ascii),
            ("ASCII", Charset::Ascii),
            ("ANSI_X3.4-1968", Charset::Ascii),
            ("646", Charset::Ascii),
            ("ASCII-8BIT", Charset::Binary),
            ("BINARY", Charset::Binary),
            ("Windows-1252", Charset::Cp1252),
            ("CP1252", Charset::Cp1252),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| *c)
    }
}

/// The built filter.
#[derive(Debug)]
pub struct Urldecode {
    field: FieldPath,
    all_fields: bool,
    charset: Charset,
    tag_on_failure: Vec<Text>,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: UrldecodeOptions = args.options()?;
    let field = FieldPath::parse(&options.field)
        .map_err(|e| args.error("field", format!("urldecode: field: {e}")))?;
    let charset = match options.charset.as_deref() {
        None => Charset::Utf8,
        Some(name) => Charset::from_name(name).ok_or_else(|| {
            args.error(
                "charset",
                format!(
                    "urldecode: charset \"{name}\" is not supported (supported: UTF-8, \
                     ISO-8859-1, US-ASCII, ASCII-8BIT, Windows-1252)"
                ),
            )
        })?,
    };
    Ok(Box::new(Urldecode {
        field,
        all_fields: options.all_fields,
        charset,
        tag_on_failure: failure_tags(options.tag_on_failure, "_urldecodefailure"),
    }))
}

impl Filter for Urldecode {
    fn apply(&self, event: &mut Event) -> bool {
        if self.all_fields {
            self.decode_all(event);
        } else {
            match event.get_mut(&self.field) {
                Some(value) => self.decode_value(value),
                // Logstash sets the missing field to what decoding nil gives: nil.
                None => {
                    event.insert(&self.field, Value::Null);
                }
            }
        }
        // Logstash calls filter_matched whether or not decoding failed.
        true
    }
}

impl Urldecode {
    fn decode_all(&self, event: &mut Event) {
        let mut failed = false;
        for (key, value) in event.fields_mut().iter_mut() {
            // Logstash sets each field back through a field reference; a name that is not a
            // valid one raises, which stops the loop and tags the event.
            if key.contains(['[', ']']) && FieldPath::parse(key).is_err() {
                failed = true;
                break;
            }
            self.decode_value(value);
        }
        if failed {
            for tag in &self.tag_on_failure {
                event.add_tag(tag.clone());
            }
        }
    }

    fn decode_value(&self, value: &mut Value) {
        match value {
            Value::Str(s) => {
                if let Some(decoded) = decode(s, self.charset) {
                    *s = decoded;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.decode_value(v)),
            Value::Map(map) => map.iter_mut().for_each(|(_, v)| self.decode_value(v)),
            _ => {}
        }
    }
}

/// `s` with its `%XX` runs decoded and read in `charset`, or `None` when that changes nothing.
pub fn decode(s: &str, charset: Charset) -> Option<Text> {
    let bytes = s.as_bytes();
    let has_escape = memchr::memchr(b'%', bytes).is_some();
    let needs_conversion = charset != Charset::Utf8 && !s.is_ascii();
    if !has_escape && !needs_conversion {
        return None;
    }
    let unescaped = if has_escape {
        unescape(bytes)
    } else {
        bytes.to_vec()
    };
    let text = match charset {
        Charset::Utf8 => match String::from_utf8(unescaped) {
            Ok(s) => s,
            Err(e) => ruby_inspect(e.as_bytes()),
        },
        other => convert(&unescaped, other),
    };
    (text != s).then(|| Text::from_string(text))
}

/// Replaces every `%XX` (two hex digits) with the byte it encodes; anything else is kept.
fn unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'%', &bytes[i..]) {
        let at = i + at;
        out.extend_from_slice(&bytes[i..at]);
        match (hex(bytes.get(at + 1)), hex(bytes.get(at + 2))) {
            (Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i = at + 3;
            }
            _ => {
                out.push(b'%');
                i = at + 1;
            }
        }
    }
    out.extend_from_slice(&bytes[i..]);
    out
}

fn hex(b: Option<&u8>) -> Option<u8> {
    (*b? as char).to_digit(16).map(|d| d as u8)
}

/// Reads `bytes` in a single-byte `charset`, replacing what it cannot read with U+FFFD.
fn convert(bytes: &[u8], charset: Charset) -> String {
    bytes
        .iter()
        .map(|&b| match charset {
            Charset::Latin1 => char::from(b),
            Charset::Cp1252 => cp1252(b),
            Charset::Ascii | Charset::Binary | Charset::Utf8 => {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            }
        })
        .collect()
}

/// Windows-1252: Latin-1 except for 0x80..=0x9f.
fn cp1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
        0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
    ];
    match b {
        0x80..=0x9f => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)]))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// Ruby's `String#inspect` of a UTF-8 string with invalid bytes, without the quotes: what
/// Logstash stores for text that is not the UTF-8 it was told to expect.
fn ruby_inspect(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            let next = valid[i + c.len_utf8()..].chars().next();
            push_inspected_char(c, next, &mut out);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

fn push_inspected_char(c: char, next: Option<char>, out: &mut String) {
    let escape = match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\u{c}' => "\\f",
        '\u{b}' => "\\v",
        '\u{8}' => "\\b",
        '\u{7}' => "\\a",
        '\u{1b}' => "\\e",
        // `#{`, `#$` and `#@` would interpolate in a Ruby literal.
        '#' if matches!(next, Some('{' | '$' | '@')) => "\\#",
        c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
            let _ = write!(out, "\\u{:04X}", u32::from(c));
            return;
        }
        c => {
            out.push(c);
            return;
        }
    };
    out.push_str(escape);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8(s: &str) -> String {
        decode(s, Charset::Utf8).map_or_else(|| s.to_string(), |t| t.to_string())
    }

    #[test]
    fn decodes_only_percent_escapes() {
        assert_eq!(utf8("a%20b+c"), "a b+c");
        assert_eq!(utf8("%e2%82%AC"), "€");
        assert_eq!(utf8("100%"), "100%");
        assert_eq!(utf8("%zz%2"), "%zz%2");
        assert_eq!(utf8("%2541"), "%41");
        assert!(decode("plain", Charset::Utf8).is_none());
    }

    #[test]
    fn invalid_utf8_is_written_as_ruby_inspect_does() {
        assert_eq!(utf8("a%FFb"), "a\\xFFb");
        assert_eq!(utf8("%22q%22%FF"), "\\\"q\\\"\\xFF");
        assert_eq!(utf8("%01%FF%0A"), "\\u0001\\xFF\\n");
        assert_eq!(utf8("é#{x}%C3"), "é\\#{x}\\xC3");
    }

    #[test]
    fn single_byte_charsets_convert_the_whole_string() {
        assert_eq!(decode("caf%E9", Charset::Latin1).unwrap().as_str(), "café");
        assert_eq!(
            decode("%80%81", Charset::Cp1252).unwrap().as_str(),
            "€\u{fffd}"
        );
        assert_eq!(
            decode("a%E9", Charset::Ascii).unwrap().as_str(),
            "a\u{fffd}"
        );
        // Already-decoded UTF-8 text is reinterpreted byte by byte, as Ruby does.
        assert_eq!(decode("é", Charset::Latin1).unwrap().as_str(), "Ã©");
        assert_eq!(Charset::from_name("iso-8859-1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_name("EBCDIC"), None);
    }
}
